"""Dev-only pages (mounted only with WEBAPP_ENV=dev): the SMS outbox of the console channel."""

from __future__ import annotations

from litestar import get
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from webapp.web import runtime_of


@get("/dev/outbox", include_in_schema=False)
async def outbox(request: HTMXRequest) -> Template:
    channel = runtime_of(request).sms_channel
    return Template(
        template_name="dev/outbox.html", context={"messages": list(getattr(channel, "outbox", []))}
    )


ROUTES = [outbox]
