"""Dev-only pages (mounted only with WEBAPP_ENV=dev): the SMS outbox of the console channel, and a face
scan that matches nobody and shows its own figures, to check the thresholds with a real webcam."""

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


@get("/dev/face", include_in_schema=False)
async def face_calibration(request: HTMXRequest) -> Template:
    return Template(
        template_name="face_scan.html",
        context={
            "purpose": "calibrate",
            "title": "人脸检测标定（开发）",
            "back": "/login",
            "consent_needed": True,
            "next": "",
            "intro": "Dev only: one scan, matched against nobody; its figures appear below.",
            "show_figures": True,
        },
    )


ROUTES = [outbox, face_calibration]
