"""Who is signed in, for the web layer: the session and known-device cookies, the guard every signed-in
route has, and the ``account`` dependency it provides.

A signed-in route is declared by putting it in :func:`signed_in_router`; its handler then asks for
``account`` (the row) and never checks for itself. Without a session the guard answers
with the way to 登录, which comes back to the page (``opt={"back_to": ...}`` names another).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, Router
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.types import ControllerRouterHandler

from webapp.accounts import guard, sessions
from webapp.accounts.records import AccountRecord
from webapp.audit import Origin
from webapp.runtime import Runtime
from webapp.web import OriginDep, redirect, runtime_of

SIGNED_IN = "signed_in_account"  # where the guard leaves the account, in the connection's state
SESSION = "signed_in_session"  # and the session's id
CONSENT_PAGE = "consent_page"  # a route handler's opt: reached by a session held at /consent
DELETION_PAGE = "deletion_page"  # reached by a session of an account whose 注销账号 is under way


DELETION_HOLD = "/account/deletion"  # 撤销注销
AccountDep = NamedDependency[AccountRecord]  # the ``account`` of a signed-in route


class SignInRequired(NotAuthorizedException):
    """No live session: the answer is the way to 登录 (see :func:`to_sign_in`), never an error page."""

    def __init__(self, back_to: str) -> None:
        super().__init__(detail="sign-in required")
        self.back_to = back_to


class ConsentRequired(NotAuthorizedException):
    """A session held until the account accepts raised document versions (see :func:`to_consent`)."""

    def __init__(self, back_to: str) -> None:
        super().__init__(detail="consent required")
        self.back_to = back_to


class DeletionPending(NotAuthorizedException):
    """The account asked to be deleted: until it is, signing in reaches only the page that offers to
    cancel (see :func:`to_deletion`)."""

    def __init__(self) -> None:
        super().__init__(detail="deletion pending")


def session_cookie(rt: Runtime, token: str | None) -> Cookie:
    """The session token, or (``None``) the cookie's removal."""
    return Cookie(
        key=sessions.cookie_name(rt),
        value=token or "",
        path="/",
        httponly=True,
        secure=not rt.settings.dev,
        samesite="lax",
        max_age=rt.settings.session_absolute_hours * 3600 if token else 0,
    )


def device_cookie(rt: Runtime, account_id: int) -> Cookie:
    """Marks this browser as a known device of the account: its wrong passwords are counted apart from
    a stranger's, so a stranger's guesses do not lock the owner out here."""
    return Cookie(
        key=guard.device_cookie_name(rt),
        value=guard.device_cookie_value(rt, account_id),
        path="/",
        httponly=True,
        secure=not rt.settings.dev,
        samesite="lax",
        max_age=guard.DEVICE_COOKIE_DAYS * 86400,
    )


def session_token(rt: Runtime, connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    return connection.cookies.get(sessions.cookie_name(rt))


def device_of(rt: Runtime, connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    return connection.cookies.get(guard.device_cookie_name(rt))


async def current_session(connection: ASGIConnection[Any, Any, Any, Any]) -> sessions.ActiveSession | None:
    rt = runtime_of(connection)
    return await sessions.load_session(rt, session_token(rt, connection))


async def signed_in_session(connection: ASGIConnection[Any, Any, Any, Any]) -> sessions.SignedIn | None:
    """The live session and its account (one query: the session joined to its account)."""
    rt = runtime_of(connection)
    return await sessions.load_signed_in(rt, session_token(rt, connection))


async def signed_in_account(connection: ASGIConnection[Any, Any, Any, Any]) -> AccountRecord | None:
    """The session's account, for the face scan, whose endpoints are not pages: none while the session is
    held at /consent or the account's deletion is under way."""
    signed_in = await signed_in_session(connection)
    if signed_in is None or signed_in.consent_due or signed_in.account.deletion_due_at is not None:
        return None
    return signed_in.account


async def renew_session(
    rt: Runtime, request: Request[Any, Any, Any], account_id: int, origin: Origin
) -> Cookie:
    """A new session token at sign-in and at every level change; the one it replaces stops working."""
    token = await sessions.start_session(rt, account_id, origin, replacing=session_token(rt, request))
    return session_cookie(rt, token)


async def requires_sign_in(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The guard of every signed-in route. An account whose deletion is under way reaches only the routes
    marked ``deletion_page`` (撤销注销); a session held until raised document versions are accepted only
    those marked ``consent_page`` (同意更新后的协议)."""
    signed_in = await signed_in_session(connection)
    if signed_in is None:
        raise SignInRequired(handler.opt.get("back_to") or connection.url.path)
    if signed_in.account.deletion_due_at is not None and not handler.opt.get(DELETION_PAGE):
        raise DeletionPending()
    if signed_in.consent_due and not handler.opt.get(CONSENT_PAGE):
        raise ConsentRequired(handler.opt.get("back_to") or connection.url.path)
    connection.state[SIGNED_IN] = signed_in.account
    connection.state[SESSION] = signed_in.session_id


def to_sign_in(request: Request[Any, Any, Any], refusal: SignInRequired) -> Response[Any]:
    """The exception handler of :class:`SignInRequired`: to 登录, and back here after it."""
    return redirect(request, "/login?next=" + quote(refusal.back_to, safe="/"))


def to_consent(request: Request[Any, Any, Any], refusal: ConsentRequired) -> Response[Any]:
    """The exception handler of :class:`ConsentRequired`: to /consent, and back here after it."""
    return redirect(request, "/consent?next=" + quote(refusal.back_to, safe="/"))


def to_deletion(request: Request[Any, Any, Any], _refusal: DeletionPending) -> Response[Any]:
    """The exception handler of :class:`DeletionPending`: to the page that offers to cancel."""
    return redirect(request, DELETION_HOLD)


def session_id_of(request: Request[Any, Any, Any]) -> int:
    """The guarded request's session (set by :func:`requires_sign_in`)."""
    session_id: int = request.state[SESSION]
    return session_id


def provide_account(request: Request[Any, Any, Any], origin: OriginDep) -> AccountRecord:
    """The guard's account. It asks for ``origin`` (which asks for ``rt``) without using it, so that
    Litestar resolves the three one after another: dependencies of the same depth are resolved in an anyio
    task group, which cost a signed-in page a quarter of its rate (litestar#4563)."""
    del origin
    account: AccountRecord = request.state[SIGNED_IN]
    return account


def signed_in_router(*handlers: ControllerRouterHandler) -> Router:
    """The routes of a domain that need a session: guarded, with ``account``."""
    return Router(
        path="/",
        route_handlers=list(handlers),
        guards=[requires_sign_in],
        dependencies={"account": Provide(provide_account, sync_to_thread=False)},
    )
