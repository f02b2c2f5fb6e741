"""Screens 11 (实名等级, 四级实名) and 12 (首次登录引导): level 4 by a face scan, and its withdrawal."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.types import ControllerRouterHandler

from webapp.accounts.auth import AccountDep, renew_session, signed_in_router
from webapp.accounts.level import raise_to_level_4, withdraw_consent
from webapp.accounts.outcomes import Level4Offer
from webapp.accounts.records import AccountRecord
from webapp.accounts.tables import Account
from webapp.accounts.views import account_view, section_nav
from webapp.faceflows.purposes import FacePurpose, Passed, json_answer
from webapp.i18n import N_, _
from webapp.web import OriginDep, RuntimeDep, redirect, render, safe_next

NOTICES = {"4": N_("已提升为四级实名"), "withdrawn": N_("已撤回人脸授权，账号恢复为三级实名")}


@get("/level")
async def level_page(
    request: HTMXRequest, rt: RuntimeDep, account: AccountDep, done: FromQuery[str] = ""
) -> Response[Any]:
    return render(
        request,
        "level.html",
        account=account_view(rt, account),
        notice=_(NOTICES[done]) if done in NOTICES else "",
        nav=section_nav(rt, account, "level"),
    )


@get("/level/upgrade")
async def upgrade_page(
    request: HTMXRequest,
    account: AccountDep,
    next: FromQuery[str] = "",  # noqa: A002
) -> Response[Any]:
    if account.level >= 4:
        return redirect(request, safe_next(next, "/level"))
    return render(
        request,
        "face_scan.html",
        purpose="upgrade",
        title=_("四级实名"),
        back="/level",
        consent_needed=account.face_consent_at is None,
        next=safe_next(next, ""),
        intro=_("请本人正对摄像头，按提示完成动作，系统将与权威部门的身份证照片比对。"),
    )


async def upgrade_passed(passed: Passed) -> Response[Any]:
    """The account keeps the scan's template; a new session token for the new level."""
    rt, account_id = passed.rt, passed.account.id
    await raise_to_level_4(rt, account_id, passed.check, passed.origin)
    cookie = await renew_session(rt, passed.request, account_id, passed.origin)
    response = json_answer(True, _("已提升为四级实名"), passed.next_path or "/level?done=4")
    response.set_cookie(cookie)
    return response


def already_level_4(account: AccountRecord) -> str:
    return _("已是四级实名") if account.level >= 4 else ""


@get("/level/withdraw")
async def withdraw_page(request: HTMXRequest, account: AccountDep) -> Response[Any]:
    """撤回人脸授权 asks first: what goes with the consent, then 确认撤回 or 取消."""
    if account.level < 4:
        return redirect(request, "/level")
    return render(request, "level_withdraw.html")


@post("/level/withdraw")
async def withdraw(
    request: HTMXRequest, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    await withdraw_consent(rt, account.id, origin)
    cookie = await renew_session(rt, request, account.id, origin)
    return redirect(request, "/level?done=withdrawn", cookies=[cookie])


@post("/level/offer/dismiss")
async def dismiss_offer(request: HTMXRequest, account: AccountDep) -> Response[Any]:
    """暂不: the first-login guide stops appearing."""
    await Account.update({Account.level4_offer: Level4Offer.DISMISSED}).where(Account.id == account.id)
    return redirect(request, "/account")


FACE_PURPOSES = [FacePurpose("upgrade", upgrade_passed, signed_in=True, refusal=already_level_4)]
ROUTES: list[ControllerRouterHandler] = [
    signed_in_router(level_page, upgrade_page, withdraw_page, withdraw, dismiss_offer)
]
