"""Screens 1 (登录), 6 (人脸登录) and 9 (账号管理), and 退出登录. Thin handlers; the rules live in
webapp.accounts.service."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.types import ControllerRouterHandler

from webapp import audit
from webapp.accounts import flows, forms, sessions
from webapp.accounts.auth import (
    AccountDep,
    current_session,
    device_cookie,
    device_of,
    renew_session,
    session_cookie,
    session_token,
    signed_in_router,
)
from webapp.accounts.flows import FlowKind
from webapp.accounts.outcomes import AccountState, Level4Offer, Refusal
from webapp.accounts.service import find_by_identifier, login
from webapp.accounts.views import account_view, login_error, section_nav
from webapp.faceflows.purposes import FacePurpose, Passed, identified_for_scan, json_answer
from webapp.i18n import N_, _
from webapp.web import Form, OriginDep, RuntimeDep, redirect, render, safe_next


@get("/login")
async def login_page(
    request: HTMXRequest,
    next: FromQuery[str] = "",  # noqa: A002
    reset: FromQuery[str] = "",
) -> Response[Any]:
    if await current_session(request):
        return redirect(request, safe_next(next))
    notice = _("密码已重置，请使用新密码登录") if reset else ""
    return render(
        request,
        "login.html",
        "partials/login_step.html",
        form={},
        errors={},
        next=safe_next(next, ""),
        notice=notice,
        offer_activation=False,
    )


@post("/login")
async def login_submit(request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep) -> Response[Any]:
    identifier = forms.text(data, "identifier")
    password = forms.text(data, "password", 128)
    target = safe_next(forms.text(data, "next", 512))
    errors: dict[str, str] = {}
    if not identifier.strip():
        errors["identifier"] = _("请输入手机号或身份证号")
    if not password:
        errors["password"] = _("请输入密码")
    if not errors:
        result = await login(rt, identifier, password, origin, device_of(rt, request))
        if result.value is not None:
            cookies = [
                await renew_session(rt, request, result.value, origin),
                device_cookie(rt, result.value),
            ]
            return redirect(request, target, cookies=cookies)
        if result.refusal is Refusal.UNACTIVATED:
            return redirect(request, "/activate")
        errors.update(login_error(result, rt.clock.now()))
    status = 429 if "throttled" in errors else 200
    errors.pop("throttled", None)
    return render(
        request,
        "login.html",
        "partials/login_step.html",
        notice="",
        status_code=status,
        form={"identifier": identifier},
        errors=errors,
        next=target if target != "/account" else "",
        offer_activation="password" in errors,  # to everyone: FAQ 3's way, without telling who needs it
    )


@post("/logout")
async def logout(request: HTMXRequest, rt: RuntimeDep, origin: OriginDep) -> Response[Any]:
    token = session_token(rt, request)
    active = await sessions.load_session(rt, token)
    if active is not None and token is not None:
        await sessions.end_session(rt, token)
        await audit.record("logout", rt.clock.now(), origin, active.account_id)
    return redirect(request, "/login", cookies=[session_cookie(rt, None)])


# ---------------------------------------------------------------- 人脸登录


@get("/login/face")
async def face_login_page(request: HTMXRequest) -> Response[Any]:
    return render(request, "login_face.html", "partials/login_face_step.html", step=1, form={}, errors={})


@post("/login/face")
async def face_login_identify(request: HTMXRequest, data: Form, rt: RuntimeDep) -> Response[Any]:
    """Step 1: the identifier. Whoever it names (or nobody), the next step is the same scan."""
    identifier = forms.text(data, "identifier", 41)
    if (
        not identifier.strip() or len(identifier) > 40
    ):  # no identifier is that long; saying so reveals nothing
        return render(
            request,
            "login_face.html",
            "partials/login_face_step.html",
            step=1,
            form={},
            errors={"identifier": _("请输入手机号或身份证号")},
        )
    account = await find_by_identifier(rt, identifier)
    usable = account if account and account.level >= 4 and account.state == AccountState.ACTIVE else None
    cookie = await identified_for_scan(rt, FlowKind.FACE_LOGIN, usable, identifier)
    return render(
        request,
        "login_face.html",
        "partials/login_face_step.html",
        step=2,
        form={},
        errors={},
        cookies=[cookie],
        purpose="login",
        consent_needed=True,
        back="/login/face",
    )


async def face_login_passed(passed: Passed) -> Response[Any]:
    rt, account_id = passed.rt, passed.account.id
    if passed.flow is not None:
        await flows.finish(rt, passed.flow)
    cookie = await renew_session(rt, passed.request, account_id, passed.origin)
    await audit.record("login_ok", rt.clock.now(), passed.origin, account_id, method="face")
    response = json_answer(True, _("登录成功"), "/account")
    response.set_cookie(cookie)
    return response


# ---------------------------------------------------------------- 账号管理


DONE_NOTICES = {
    "registered": N_("注册成功，已登录"),
    "activated": N_("账号已激活，已登录"),
    "phone": N_("手机号已修改"),
    "password": N_("密码已修改，其他设备上的登录已退出"),
}


@get("/account")
async def account_page(
    request: HTMXRequest, rt: RuntimeDep, account: AccountDep, done: FromQuery[str] = ""
) -> Response[Any]:
    notice = _(DONE_NOTICES[done]) if done in DONE_NOTICES else ""
    offer = (
        account.level < 4 and account.level4_offer == Level4Offer.PENDING
    )  # 首次登录引导, until taken or dismissed
    return render(
        request,
        "account.html",
        account=account_view(rt, account),
        notice=notice,
        offer_level4=offer,
        nav=section_nav(rt, account, "account"),
    )


FACE_PURPOSES = [
    FacePurpose(
        "login",
        face_login_passed,
        flow_kind=FlowKind.FACE_LOGIN,
        notice=N_("【工商注册身份验证】您的账号刚刚通过人脸识别登录。如非本人操作，请立即修改密码。"),
    )
]
ROUTES: list[ControllerRouterHandler] = [
    login_page,
    login_submit,
    logout,
    face_login_page,
    face_login_identify,
    signed_in_router(account_page),
]
