"""Web plumbing shared by every domain: the dependencies every handler may ask for (``rt``, the runtime;
``origin``, who is calling), the form body type, page-or-partial rendering, redirects, locale and
security-header middleware. Route modules import from here and from their own domain's services, never
from another route module."""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType, ScopeType
from litestar.params import Body
from litestar.plugins.htmx import HTMXRequest, HTMXTemplate
from litestar.response import Template
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from webapp.audit import Origin
from webapp.compression import ENCODERS, chosen_encoding, compressing
from webapp.csrf import NOT_A_PAGE
from webapp.i18n import _, current_locale, negotiate
from webapp.runtime import Runtime

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "x-frame-options": "DENY",
}


Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def runtime_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Runtime:
    """For plumbing only (guards, middleware); handlers ask for ``rt``."""
    runtime: Runtime = connection.app.state.runtime
    return runtime


RuntimeDep = NamedDependency[Runtime]  # the ``rt`` every handler may ask for
OriginDep = NamedDependency[Origin]  # the ``origin``: the caller's address and user agent


def provide_origin(request: Request[Any, Any, Any], rt: RuntimeDep) -> Origin:
    """Asks for ``rt`` (see :func:`webapp.accounts.auth.provide_account`)."""
    del rt
    return origin_of(request)


def dependencies(runtime: Runtime) -> dict[str, Provide]:
    """The app's dependencies: ``rt`` is its runtime, given by a provider without parameters (Litestar
    parses and checks a provider's parameters at every request), and ``origin``."""

    def provide_runtime() -> Runtime:
        return runtime

    return {
        "rt": Provide(provide_runtime, sync_to_thread=False),
        "origin": Provide(provide_origin, sync_to_thread=False),
    }


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The peer address, or the X-Forwarded-For hop just before our trusted proxies."""
    peer = connection.client.host if connection.client else ""
    networks = runtime_of(connection).settings.trusted_proxy_networks
    if not networks:
        return peer

    def trusted(address: str) -> bool:
        try:
            return any(ip_address(address) in network for network in networks)
        except ValueError:
            return False

    if not trusted(peer):
        return peer
    hops = [h.strip() for h in connection.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            try:
                return str(ip_address(hop))
            except ValueError:
                return peer
    return peer


def origin_of(request: ASGIConnection[Any, Any, Any, Any]) -> Origin:
    return Origin(ip=client_ip(request), user_agent=request.headers.get("user-agent", "")[:300])


@dataclass(frozen=True)
class Steps:
    """The steps of a multi-step screen in order, each a name or a tuple of names that count as one
    step: the header's 第n步，共m步 is drawn from here, never counted in a template."""

    order: tuple[str | int | tuple[str | int, ...], ...]

    def progress(self, step: str | int) -> str:
        for number, names in enumerate(self.order, start=1):
            if step == names or (isinstance(names, tuple) and step in names):
                return _("第{n}步，共{total}步", n=number, total=len(self.order))
        raise ValueError(f"no step {step!r} in {self.order}")


def wants_partial(request: Request[Any, Any, Any]) -> bool:
    """htmx swaps only the step; a plain request (no JavaScript, reload, bookmark) gets the whole page."""
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(
    request: HTMXRequest,
    page: str,
    partial: str | None = None,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
    retarget: str | None = None,
    **context: Any,
) -> Template:
    """The same URL serves the full page or, for htmx, the partial (into another target when given)."""
    if partial and wants_partial(request):
        return HTMXTemplate(
            template_name=partial,
            context=context,
            status_code=status_code,
            cookies=cookies or [],
            re_target=retarget,
            re_swap="outerHTML" if retarget else None,
        )
    return Template(template_name=page, context=context, status_code=status_code, cookies=cookies or [])


class PageMiddleware:
    """Per request, the language it is answered in; per response, its compression (the client's choice of
    :data:`webapp.compression.ENCODERS`). One ASGI layer, not two: each layer is a coroutine and a
    Request more on every request, and a health probe is little else."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["route_handler"].opt.get(NOT_A_PAGE):
            await self.app(scope, receive, send)  # assets come compressed; a probe reads no words
            return
        request: Request[Any, Any, Any] = Request(scope)
        set_locale(request)
        encoding = chosen_encoding(request.headers.get("accept-encoding"), ENCODERS)
        await self.app(scope, receive, compressing(send, encoding) if encoding else send)


def set_locale(request: Request[Any, Any, Any]) -> None:
    current_locale.set(negotiate(request.cookies.get("lang"), request.headers.get("accept-language")))


def security_headers_hook(hsts: bool) -> Callable[[Message, Scope], Awaitable[None]]:
    """A before_send hook rather than a middleware, so it also covers 404s raised before routing."""
    headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            message["headers"] = [
                *message.get("headers", []),
                *((k, v) for k, v in headers if k not in present),
            ]

    return add_headers


def safe_next(target: str | None, default: str = "/account") -> str:
    """Only local absolute paths: never another host (//evil.example, /\\evil.example, https://...).
    Other characters than ASCII are percent-encoded: the path goes into a Location header, which
    carries Latin-1 only (an ideographic space in ``next`` was a 500 after the session was written)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "://" in target:
        return default
    if any(ch == "\\" or ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in target):
        return default
    return quote(target, safe="/?&=%#:@!$'()*+,;~-._")


def came_from(request: Request[Any, Any, Any], default: str) -> str:
    """The page of this site a link was followed from (its Referer), for a 返回 that goes back there."""
    source = urlsplit(request.headers.get("referer", ""))
    if source.netloc != request.headers.get("host", "") or source.path == request.url.path:
        return default
    return safe_next(source.path + (f"?{source.query}" if source.query else ""), default)


def redirect(
    request: Request[Any, Any, Any], location: str, cookies: list[Cookie] | None = None
) -> Response[Any]:
    """A 303 for plain forms; for htmx, HX-Redirect so the whole page changes, not a swapped fragment."""
    if getattr(request, "htmx", None):
        return Response(
            b"",
            status_code=200,
            headers={"hx-redirect": location},
            cookies=cookies or [],
            media_type="text/plain",
        )
    return Response(
        b"", status_code=303, headers={"location": location}, cookies=cookies or [], media_type="text/plain"
    )
