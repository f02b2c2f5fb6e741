"""Screens 10 (修改手机号) and 14 (修改密码), reached from 账号管理."""

from __future__ import annotations

import contextlib

from litestar import Request, Response, get, post
from litestar.plugins.htmx import HTMXRequest

from webapp import flows
from webapp.accounts import forms, guard, sessions
from webapp.accounts.registration import move_to_new_phone, send_code_to_new_phone
from webapp.accounts.routes import Form, login_error, signed_in
from webapp.accounts.service import LoginOutcome, change_password, password_attempt
from webapp.accounts.tables import Account
from webapp.i18n import N_, _
from webapp.sms.codes import Purpose, next_send_at
from webapp.sms.phone import mask_phone
from webapp.web import origin_of, redirect, render, runtime_of

PHONE_FLOW = "change_phone"
PHONE_CHANGED_NOTICE = N_(
    "【工商注册身份验证】您账号绑定的手机号已变更为{phone}。如非本人操作，请立即修改密码并联系客服。"
)


async def _phone_page(
    request: Request, step: int, data: dict, errors: dict, partial: str, notice: str = "", **kw
):
    rt = runtime_of(request)
    phone = forms.read_phone(data, {})
    return render(
        request,
        "change_phone.html",
        partial,
        step=step,
        form={"phone": forms.text(data, "phone"), "code": forms.text(data, "code")},
        errors=forms.translated(errors),
        retry_at=await next_send_at(rt, phone) if phone and step == 2 else None,
        notice=notice,
        sms_url="/account/phone/sms",
        form_id="phone-form",
        phone_label=_("新手机号"),
        code_label=_("短信验证码"),
        **kw,
    )


@get("/account/phone")
async def phone_page(request: HTMXRequest) -> Response:
    active, away = await signed_in(request)
    if away:
        return away
    step = 1 if await _phone_flow(request, active.account_id) is None else 2
    return await _phone_page(request, step, {}, {}, "partials/change_phone_step.html")


@post("/account/phone/password")
async def phone_password(request: HTMXRequest, data: Form) -> Response:
    """Step 1: the password again, before the number that receives codes can change."""
    rt = runtime_of(request)
    active, away = await signed_in(request)
    if away:
        return away
    account = await Account.select().where(Account.id == active.account_id).first()
    result = await password_attempt(
        rt,
        account,
        forms.text(data, "password", 128),
        origin_of(request),
        "change_phone",
        device_cookie=request.cookies.get(guard.device_cookie_name(rt)),
    )
    if result.outcome is not LoginOutcome.OK:
        return await _phone_page(
            request, 1, {}, login_error(result, rt.clock.now()), "partials/change_phone_step.html"
        )
    _flow, cookie = await flows.start_flow(rt, PHONE_FLOW, "password_ok", active.account_id, minutes=10)
    return await _phone_page(request, 2, {}, {}, "partials/change_phone_step.html", cookies=[cookie])


async def _password_again(request: Request) -> Response:
    """Step 2 without a live step-1 flow (expired, or never there): back to the password."""
    return await _phone_page(
        request, 1, {}, {"password": N_("操作已过期，请重新输入密码")}, "partials/change_phone_step.html"
    )


async def _phone_flow(request: Request, account_id: int):
    flow = await flows.load_flow(runtime_of(request), request, PHONE_FLOW)
    return flow if flow and flow.account_id == account_id and flow.state == "password_ok" else None


@post("/account/phone/sms")
async def phone_sms(request: HTMXRequest, data: Form) -> Response:
    rt = runtime_of(request)
    active, away = await signed_in(request)
    if away:
        return away
    if await _phone_flow(request, active.account_id) is None:
        return await _password_again(request)
    errors: dict[str, str] = {}
    notice = ""
    phone = forms.read_phone(data, errors)
    if phone:
        errors, notice = await send_code_to_new_phone(rt, phone, Purpose.CHANGE_PHONE, origin_of(request))
    return await _phone_page(request, 2, data, errors, "partials/sms_group.html", notice)


@post("/account/phone")
async def phone_submit(request: HTMXRequest, data: Form) -> Response:
    rt = runtime_of(request)
    active, away = await signed_in(request)
    if away:
        return away
    flow = await _phone_flow(request, active.account_id)
    if flow is None:
        return await _password_again(request)
    errors: dict[str, str] = {}
    phone = forms.read_phone(data, errors)
    code = forms.read_code(data, errors)
    if not errors:
        errors, old_phone = await move_to_new_phone(
            rt, active.account_id, phone, code, Purpose.CHANGE_PHONE, origin_of(request)
        )
        if old_phone is not None:
            await _notify_old_phone(rt, old_phone, phone)
            done = await flows.finish(rt, flow)
            return redirect(request, "/account?done=phone", cookies=[done])
    return await _phone_page(request, 2, data, errors, "partials/change_phone_step.html")


async def _notify_old_phone(rt, old_phone: str, new_phone: str) -> None:
    """A notice, not a code: it uses no quota, and a failed delivery does not undo the change."""
    from webapp.sms.channels import DeliveryError

    with contextlib.suppress(DeliveryError):  # logged by the channel; the audit log has the change itself
        await rt.sms_channel.deliver(old_phone, _(PHONE_CHANGED_NOTICE, phone=mask_phone(new_phone)))


@get("/account/password")
async def password_page(request: HTMXRequest) -> Response:
    active, away = await signed_in(request)
    if away:
        return away
    return render(request, "change_password.html", "partials/change_password_form.html", errors={})


@post("/account/password")
async def password_submit(request: HTMXRequest, data: Form) -> Response:
    rt = runtime_of(request)
    active, away = await signed_in(request)
    if away:
        return away
    errors: dict[str, str] = {}
    old = forms.text(data, "old_password", 128)
    if not old:
        errors["old_password"] = N_("请输入旧密码")
    account = await Account.select(Account.username).where(Account.id == active.account_id).first()
    new = forms.read_new_password(data, errors, account["username"])
    if not errors:
        token = request.cookies.get(sessions.cookie_name(rt))
        result, problem = await change_password(
            rt,
            active.account_id,
            old,
            new,
            origin_of(request),
            token,
            request.cookies.get(guard.device_cookie_name(rt)),
        )
        if result.outcome is not LoginOutcome.OK:
            errors["old_password"] = login_error(result, rt.clock.now())["password"]
        elif problem:
            errors["password"] = problem
        else:
            return redirect(request, "/account?done=password")
    return render(
        request, "change_password.html", "partials/change_password_form.html", errors=forms.translated(errors)
    )


ROUTES = [phone_page, phone_password, phone_sms, phone_submit, password_page, password_submit]
