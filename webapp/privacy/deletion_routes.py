"""注销账号, reached from 账号管理: the consequences, a fresh check, the request; then, while the cooling-off
lasts, 账号注销中 (the only page a sign-in reaches) offers to cancel."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.plugins.htmx import HTMXRequest
from litestar.types import ControllerRouterHandler

from webapp.accounts import flows
from webapp.accounts.auth import DELETION_HOLD, DELETION_PAGE, AccountDep, session_cookie, signed_in_router
from webapp.accounts.flows import FlowKind
from webapp.accounts.records import AccountRecord
from webapp.accounts.views import section_nav
from webapp.business.rules import ROLES
from webapp.business.service import pending_for
from webapp.clock import local_time
from webapp.i18n import N_
from webapp.privacy.deletion import cancel_deletion, request_deletion
from webapp.privacy.recheck import fresh_check, passed_check
from webapp.runtime import Runtime
from webapp.web import OriginDep, RuntimeDep, redirect, render

PAGE = "/account/delete"


async def _page(
    request: HTMXRequest,
    rt: Runtime,
    account: AccountRecord,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    checked = await passed_check(request, rt, account, FlowKind.DELETION) is not None
    return render(
        request,
        "delete_account.html",
        status_code=status_code,
        days=rt.settings.deletion_cooling_off_days,
        pending=await pending_for(rt, account),
        roles=ROLES,
        checked=checked,
        errors=errors or {},
        face=account.level >= 4,
        nav=section_nav(rt, account, "account"),
    )


@get(PAGE)
async def deletion_page(request: HTMXRequest, rt: RuntimeDep, account: AccountDep) -> Response[Any]:
    return await _page(request, rt, account)


@post(PAGE)
async def deletion_request(
    request: HTMXRequest, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    """确认注销账号: only after this browser's passed check, which it uses up."""
    check = await passed_check(request, rt, account, FlowKind.DELETION)
    if check is None:
        return redirect(request, PAGE)
    requested = await request_deletion(rt, account, origin)
    if requested.due_at is None:  # a filing arrived meanwhile: the page lists it
        return await _page(request, rt, account, status_code=409)
    cleared = await flows.finish(rt, check)
    return render(
        request,
        "deletion_requested.html",
        due=local_time(requested.due_at),
        cookies=[cleared, session_cookie(rt, None)],
    )


@get(DELETION_HOLD, opt={DELETION_PAGE: True})
async def deletion_hold(request: HTMXRequest, account: AccountDep) -> Response[Any]:
    """账号注销中: where a sign-in lands while the cooling-off lasts."""
    if account.deletion_due_at is None:
        return redirect(request, "/account")
    return render(request, "deletion_pending.html", due=local_time(account.deletion_due_at))


@post(f"{DELETION_HOLD}/cancel", opt={DELETION_PAGE: True})
async def deletion_cancel(
    request: HTMXRequest, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    await cancel_deletion(rt, account, origin)
    return redirect(request, "/account")


CHECK = fresh_check(
    PAGE,
    FlowKind.DELETION,
    N_("注销账号"),
    N_("请本人正对摄像头，按提示完成动作，核验通过后即可申请注销账号。"),
    _page,
)
FACE_PURPOSES = [CHECK.face_purpose]
ROUTES: list[ControllerRouterHandler] = [
    signed_in_router(deletion_page, *CHECK.routes, deletion_request, deletion_hold, deletion_cancel),
]
