"""Screen 2 (注册) and its inline endpoints; screens 3 (用户协议) and 16 (常见问题)."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Response, get, post
from litestar.plugins.htmx import HTMXRequest

from webapp import limits
from webapp.accounts import flows, forms, sessions
from webapp.accounts.auth import device_cookie, session_cookie
from webapp.accounts.flows import FlowKind, State
from webapp.accounts.outcomes import MESSAGES, Refusal
from webapp.accounts.registration import (
    Registration,
    is_registered,
    lookup_limit,
    register,
    send_code_to_new_phone,
)
from webapp.accounts.views import code_sent
from webapp.clock import clock_time
from webapp.i18n import _
from webapp.identity.rules import ValidityPeriod
from webapp.runtime import Runtime
from webapp.sms.codes import Purpose, next_send_at
from webapp.sms.group import PARTIAL as SMS_GROUP
from webapp.sms.group import SmsGroup
from webapp.web import Form, OriginDep, RuntimeDep, came_from, redirect, render

KEPT_FIELDS = ("name", "id_number", "valid_from", "period", "phone", "code")
SMS = SmsGroup("/register/sms", "register-form", "partials/register_step.html", "#register")


def _phone_key(rt: Runtime, phone: str) -> str:
    """The registration flow remembers which phone its code went to, as a keyed hash."""
    return rt.keyring.keyed_hash("register-phone", phone)


def _values(data: dict[str, Any]) -> dict[str, str]:
    """What the person typed, to show again (never the passwords)."""
    return {name: forms.text(data, name) for name in KEPT_FIELDS}


async def _page(
    request: HTMXRequest,
    rt: Runtime,
    data: dict[str, Any],
    errors: dict[str, str],
    partial: str | None = None,
    notice: str = "",
    **extra: Any,
) -> Response[Any]:
    values = _values(data)
    errors = dict(errors)
    validity = forms.read_validity(data, None, rt.clock.today(), {})
    phone = forms.read_phone(data, {})
    return render(
        request,
        "register.html",
        partial,
        form=values,
        errors=forms.translated(errors),
        already_registered=errors.get("id_number")
        == MESSAGES[Refusal.ALREADY_REGISTERED],  # 去登录, 忘记密码
        periods=[(p.value, _(p.label)) for p in ValidityPeriod],
        valid_to=validity.valid_to,
        long_term=validity.period is ValidityPeriod.LONG_TERM,
        **SMS.context(await next_send_at(rt, phone) if phone else None, notice),
        **extra,
    )


@get("/register")
async def register_page(request: HTMXRequest, rt: RuntimeDep) -> Response[Any]:
    return await _page(request, rt, {"period": ""}, {})


def _read_registration(data: dict[str, Any], today: date, errors: dict[str, str]) -> Registration | None:
    """The form, each field read by its own rule; None when any is wrong (``errors`` says which)."""
    name, id_number = forms.read_identity(data, today, errors)
    validity = forms.read_validity(data, id_number, today, errors)
    phone = forms.read_phone(data, errors)
    code = forms.read_code(data, errors)
    password = forms.read_new_password(data, errors, id_number, phone)
    if errors or not (name and id_number and validity.valid_from and phone and code and password):
        return None
    return Registration(name, id_number, validity.valid_from, validity.valid_to, phone, code, password)


@post("/register")
async def register_submit(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep
) -> Response[Any]:
    errors: dict[str, str] = {}
    form = _read_registration(data, rt.clock.today(), errors)
    flow = await flows.load_in(rt, request, FlowKind.REGISTER, State.CODE_SENT)
    if form is not None and (flow is None or flow.data.get("phone") != _phone_key(rt, form.phone)):
        errors["code"] = MESSAGES[Refusal.CODE_MISSING]  # no code was asked for in this browser
    elif form is not None and flow is not None:
        registered = await register(rt, form, origin)
        errors = registered.errors()
        if registered.value is not None:
            token = await sessions.start_session(rt, registered.value, origin)
            cookies = [
                session_cookie(rt, token),
                device_cookie(rt, registered.value),  # this browser is known: no new-device notice
                await flows.finish(rt, flow),
            ]
            return redirect(request, "/account?done=registered", cookies=cookies)
    return await _page(request, rt, data, errors, SMS.step_partial)


@post("/register/sms")
async def register_sms(request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep) -> Response[Any]:
    """获取验证码. With htmx only the phone and code fields change; without, the whole page. A code sent
    starts the registration's flow in this browser."""
    errors: dict[str, str] = {}
    notice = ""
    cookies = []
    phone = forms.read_phone(data, errors)
    if phone:
        sent = await send_code_to_new_phone(rt, phone, Purpose.REGISTER, origin)
        errors, notice = code_sent(sent, phone, rt.clock.now())
        if sent.value is not None and sent.value.sent:
            key = _phone_key(rt, phone)
            _flow, cookie = await flows.start_flow(rt, FlowKind.REGISTER, State.CODE_SENT, phone=key)
            cookies.append(cookie)
    return await _page(request, rt, data, errors, SMS_GROUP, notice, cookies=cookies)


@post("/register/check")
async def register_check(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep
) -> Response[Any]:
    """Leaving the 身份证号 field: 账号已注册，请直接登录 when name and ID number match an account."""
    errors: dict[str, str] = {}
    name, id_number = forms.read_identity(data, rt.clock.today(), errors)
    if forms.text(data, "id_number").strip() == "":
        errors.pop("id_number", None)
    if name and id_number:
        now = rt.clock.now()
        decision = await limits.take([lookup_limit(rt, origin.ip)], now)
        if not decision.allowed and decision.retry_at is not None:
            errors["id_number"] = _("查询过于频繁，请于{time}后再试", time=clock_time(decision.retry_at, now))
        elif await is_registered(rt, name, id_number):
            errors["id_number"] = MESSAGES[Refusal.ALREADY_REGISTERED]
    errors.pop("name", None)
    return await _page(request, rt, data, errors, "partials/id_check.html")


@post("/register/validity")
async def register_validity(request: HTMXRequest, data: Form, rt: RuntimeDep) -> Response[Any]:
    """The computed end date, shown as soon as the start date and the period are chosen, with what is
    wrong about them (expired card, period that does not fit the age)."""
    errors: dict[str, str] = {}
    _name, id_number = forms.read_identity(data, rt.clock.today(), {})
    forms.read_validity(data, id_number, rt.clock.today(), errors)
    chosen = forms.text(data, "valid_from") and forms.text(data, "period")
    message = next((errors[f] for f in ("valid_from", "period") if f in errors), "") if chosen else ""
    return await _page(
        request, rt, data, {}, "partials/validity_result.html", check_message=_(message) if message else ""
    )


@get("/agreement")
async def agreement(request: HTMXRequest) -> Response[Any]:
    return render(request, "agreement.html", back=came_from(request, "/register"))


@get("/faq")
async def faq(request: HTMXRequest, rt: RuntimeDep) -> Response[Any]:
    return render(request, "faq.html", settings=rt.settings, back=came_from(request, "/login"))


ROUTES = [register_page, register_submit, register_sms, register_check, register_validity, agreement, faq]
