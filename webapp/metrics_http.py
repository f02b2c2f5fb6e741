"""``/metrics``, and the layer that counts and times every request (see :mod:`webapp.metrics`) and gives it
the id its log lines carry (:mod:`webapp.logs`)."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, get
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from webapp.crypto import constant_time_equal
from webapp.csrf import NOT_A_PAGE
from webapp.db import connection_counts
from webapp.logs import REQUEST_ID, request_id_from
from webapp.metrics import DATABASE_CONNECTIONS, REQUEST_SECONDS, REQUESTS, exposition
from webapp.web import runtime_of


def route_of(scope: Scope) -> str:
    """The route's template (/business/filings/{ref}), never the raw path, which may carry anything."""
    return str(scope.get("path_template") or "unmatched")


TEXT_FORMAT = "text/plain; version=0.0.4"  # what every Prometheus reads (Litestar adds the charset)
STARTED = "metrics_started"  # in the scope's state: when the request reached the app
REQUEST_ID_KEY = "request_id"  # and the id its log lines carry


class RequestMiddleware:
    """The outermost layer of every route: notes when the request came in (for :func:`count_response`)
    and gives it its id, which every log line written meanwhile carries and the answer sends back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})
        state[STARTED] = time.perf_counter()
        given = next((value for name, value in scope.get("headers", ()) if name == b"x-request-id"), b"")
        state[REQUEST_ID_KEY] = request_id = request_id_from(given.decode("latin-1"))
        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST_ID.reset(token)


async def count_response(message: Message, scope: Scope) -> None:
    """A before_send hook: it sees every answer, also those the exception handlers make (a guard's 303, an
    error page) and the 404 of a path no route matches."""
    if message["type"] != "http.response.start":
        return
    state = scope.get("state", {})
    if REQUEST_ID_KEY in state:
        message["headers"] = [*message.get("headers", []), (b"x-request-id", state[REQUEST_ID_KEY].encode())]
    route, method = route_of(scope), scope.get("method", "")
    REQUESTS.labels(route, method, str(message["status"])).inc()
    started = state.get(STARTED)
    if started is not None:
        REQUEST_SECONDS.labels(route, method).observe(time.perf_counter() - started)


@get("/metrics", opt={NOT_A_PAGE: True}, include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """404 unless a token is configured (nothing tells that the route exists); 401 without the token."""
    token = runtime_of(request).settings.metrics_token
    if not token:
        return Response(b"Not Found", status_code=404, media_type="text/plain")
    offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not constant_time_equal(offered, token):
        return Response(
            b"Unauthorized", status_code=401, media_type="text/plain", headers={"www-authenticate": "Bearer"}
        )
    for state, count in connection_counts().items():
        DATABASE_CONNECTIONS.labels(state).set(count)
    return Response(exposition(), media_type=TEXT_FORMAT, headers={"cache-control": "no-store"})
