"""我的设备 and 账号动态, reached from 账号管理: the account's sessions, which it may end, and its own
security events."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.types import ControllerRouterHandler

from webapp import audit
from webapp.accounts import sessions
from webapp.accounts.activity import activity
from webapp.accounts.auth import AccountDep, session_token, signed_in_router
from webapp.accounts.devices import describe_device
from webapp.accounts.views import section_nav
from webapp.i18n import N_, _
from webapp.web import OriginDep, RuntimeDep, redirect, render

DONE_NOTICES = {
    "ended": N_("已退出该设备上的登录"),
    "ended_others": N_("已退出其他所有设备上的登录"),
}


@get("/account/devices")
async def devices_page(
    request: HTMXRequest, rt: RuntimeDep, account: AccountDep, done: FromQuery[str] = ""
) -> Response[Any]:
    listed = await sessions.devices(rt, account.id, session_token(rt, request))
    return render(
        request,
        "devices.html",
        devices=[(device, describe_device(device.user_agent)) for device in listed],
        others=sum(1 for device in listed if not device.current),
        notice=_(DONE_NOTICES[done]) if done in DONE_NOTICES else "",
        nav=section_nav(rt, account, "account"),
    )


@post("/account/devices/{session_id:int}/end")
async def end_device(
    request: HTMXRequest, rt: RuntimeDep, origin: OriginDep, account: AccountDep, session_id: FromPath[int]
) -> Response[Any]:
    """Ends one other session of this account (its next request is signed out, on every process: the
    session lives in the database only). This browser's own is ended by 退出登录."""
    if await sessions.end_other_session(rt, account.id, session_id, session_token(rt, request)):
        await audit.record("session_ended", rt.clock.now(), origin, account.id, sessions=1)
    return redirect(request, "/account/devices?done=ended")


@post("/account/devices/end-others")
async def end_other_devices(
    request: HTMXRequest, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    ended = await sessions.end_all_sessions(rt, account.id, keep_token=session_token(rt, request))
    if ended:
        await audit.record("session_ended", rt.clock.now(), origin, account.id, sessions=ended)
    return redirect(request, "/account/devices?done=ended_others")


@get("/account/activity")
async def activity_page(
    request: HTMXRequest, rt: RuntimeDep, account: AccountDep, page: FromQuery[int] = 1
) -> Response[Any]:
    return render(
        request,
        "activity.html",
        activity=await activity(account.id, page),
        nav=section_nav(rt, account, "account"),
    )


ROUTES: list[ControllerRouterHandler] = [
    signed_in_router(devices_page, end_device, end_other_devices, activity_page),
]
