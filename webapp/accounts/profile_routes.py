"""Screens 10 (修改手机号) and 14 (修改密码), reached from 账号管理."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.plugins.htmx import HTMXRequest
from litestar.types import ControllerRouterHandler

from webapp.accounts import flows, forms
from webapp.accounts.auth import AccountDep, device_of, session_token, signed_in_router
from webapp.accounts.flows import FlowKind, State
from webapp.accounts.outcomes import Refusal
from webapp.accounts.registration import move_to_new_phone, send_code_to_new_phone
from webapp.accounts.service import change_password, password_attempt
from webapp.accounts.views import code_sent, login_error
from webapp.i18n import N_
from webapp.runtime import Runtime
from webapp.sms.codes import Purpose, next_send_at
from webapp.sms.group import PARTIAL as SMS_GROUP
from webapp.sms.group import SmsGroup
from webapp.sms.notices import Notice, send_notice
from webapp.sms.phone import mask_phone
from webapp.web import Form, OriginDep, RuntimeDep, Steps, redirect, render

STEP = "partials/change_phone_step.html"
STEPS = Steps((1, 2))  # the password again, then the new phone
SMS = SmsGroup(
    "/account/phone/sms",
    "phone-form",
    STEP,
    "#change-phone",
    phone_label=N_("新手机号"),
    code_label=N_("短信验证码"),
)


async def _phone_page(
    request: HTMXRequest,
    rt: Runtime,
    step: int,
    data: dict[str, Any],
    errors: dict[str, str],
    partial: str = STEP,
    notice: str = "",
    **kw: Any,
) -> Response[Any]:
    phone = forms.read_phone(data, {})
    return render(
        request,
        "change_phone.html",
        partial,
        step=step,
        progress=STEPS.progress(step),
        form={"phone": forms.text(data, "phone"), "code": forms.text(data, "code")},
        errors=forms.translated(errors),
        **SMS.context(await next_send_at(rt, phone) if phone and step == 2 else None, notice),
        **kw,
    )


@get("/account/phone")
async def phone_page(request: HTMXRequest, rt: RuntimeDep, account: AccountDep) -> Response[Any]:
    step = 1 if await _phone_flow(request, rt, account.id) is None else 2
    return await _phone_page(request, rt, step, {}, {})


@post("/account/phone/password")
async def phone_password(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    """Step 1: the password again, before the number that receives codes can change."""
    result = await password_attempt(
        rt,
        account,
        forms.text(data, "password", 128),
        origin,
        "change_phone",
        device_cookie=device_of(rt, request),
    )
    if not result.ok:
        return await _phone_page(request, rt, 1, {}, login_error(result, rt.clock.now()))
    _flow, cookie = await flows.start_flow(rt, FlowKind.CHANGE_PHONE, State.PASSWORD_OK, account.id)
    return await _phone_page(request, rt, 2, {}, {}, cookies=[cookie])


async def _password_again(request: HTMXRequest, rt: Runtime) -> Response[Any]:
    """Step 2 without a live step-1 flow (expired, or never there): back to the password."""
    return await _phone_page(request, rt, 1, {}, {"password": N_("操作已过期，请重新输入密码")})


async def _phone_flow(request: HTMXRequest, rt: Runtime, account_id: int) -> flows.ActiveFlow | None:
    flow = await flows.load_in(rt, request, FlowKind.CHANGE_PHONE, State.PASSWORD_OK)
    return flow if flow and flow.account_id == account_id else None


@post("/account/phone/sms")
async def phone_sms(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    if await _phone_flow(request, rt, account.id) is None:
        return await _password_again(request, rt)
    errors: dict[str, str] = {}
    notice = ""
    phone = forms.read_phone(data, errors)
    if phone:
        sent = await send_code_to_new_phone(rt, phone, Purpose.CHANGE_PHONE, origin)
        errors, notice = code_sent(sent, phone, rt.clock.now())
    return await _phone_page(request, rt, 2, data, errors, SMS_GROUP, notice)


@post("/account/phone")
async def phone_submit(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    flow = await _phone_flow(request, rt, account.id)
    if flow is None:
        return await _password_again(request, rt)
    errors: dict[str, str] = {}
    phone = forms.read_phone(data, errors)
    code = forms.read_code(data, errors)
    if not errors and phone and code:
        moved = await move_to_new_phone(rt, account.id, phone, code, Purpose.CHANGE_PHONE, origin)
        errors = moved.errors()
        if moved.value is not None:
            await send_notice(
                rt, account.id, Notice.PHONE_CHANGED, origin, to_phone=moved.value, phone=mask_phone(phone)
            )
            done = await flows.finish(rt, flow)
            return redirect(request, "/account?done=phone", cookies=[done])
    return await _phone_page(request, rt, 2, data, errors)


@get("/account/password")
async def password_page(request: HTMXRequest) -> Response[Any]:
    return render(request, "change_password.html", "partials/change_password_step.html", errors={})


@post("/account/password")
async def password_submit(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    errors: dict[str, str] = {}
    old = forms.text(data, "old_password", 128)
    if not old:
        errors["old_password"] = N_("请输入旧密码")
    new = forms.read_new_password(data, errors, account.username)
    if not errors and new:
        changed = await change_password(
            rt, account.id, old, new, origin, session_token(rt, request), device_of(rt, request)
        )
        if changed.ok:
            return redirect(request, "/account?done=password")
        if changed.refusal is Refusal.SAME_PASSWORD:
            errors.update(changed.errors())
        else:  # the old password, refused as a login would be
            errors["old_password"] = login_error(changed, rt.clock.now())["password"]
    return render(
        request, "change_password.html", "partials/change_password_step.html", errors=forms.translated(errors)
    )


ROUTES: list[ControllerRouterHandler] = [
    signed_in_router(phone_page, phone_password, phone_sms, phone_submit, password_page, password_submit)
]
