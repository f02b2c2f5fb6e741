"""Screen 2 (注册) and its inline endpoints; screens 3 (用户协议) and 16 (常见问题)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.plugins.htmx import HTMXRequest

from webapp import limits
from webapp.accounts import forms, sessions
from webapp.accounts.registration import (
    ALREADY_REGISTERED,
    PHONE_TAKEN,
    Registration,
    is_registered,
    lookup_limit,
    phone_in_use,
    register,
)
from webapp.accounts.routes import Form, session_cookie
from webapp.clock import clock_time
from webapp.i18n import _
from webapp.identity.rules import ValidityPeriod
from webapp.sms.codes import Purpose, next_send_at, send_code, send_outcome
from webapp.web import came_from, origin_of, redirect, render, runtime_of

KEPT_FIELDS = ("name", "id_number", "valid_from", "period", "phone", "code")


def _values(data: dict) -> dict[str, str]:
    """What the person typed, to show again (never the passwords)."""
    return {name: forms.text(data, name) for name in KEPT_FIELDS}


async def _page(request: Request, data: dict, errors: dict[str, str], partial: str | None = None, **extra):
    rt = runtime_of(request)
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
        already_registered=errors.get("id_number") == ALREADY_REGISTERED,  # with 去登录 and 忘记密码
        periods=[(p.value, _(p.label)) for p in ValidityPeriod],
        valid_to=validity.valid_to,
        long_term=validity.period is ValidityPeriod.LONG_TERM,
        retry_at=await next_send_at(rt, phone) if phone else None,
        sms_url="/register/sms",
        form_id="register-form",
        **extra,
    )


@get("/register")
async def register_page(request: HTMXRequest) -> Response:
    return await _page(request, {"period": ""}, {})


@post("/register")
async def register_submit(request: HTMXRequest, data: Form) -> Response:
    rt = runtime_of(request)
    today = rt.clock.today()
    errors: dict[str, str] = {}
    name, id_number = forms.read_identity(data, today, errors)
    validity = forms.read_validity(data, id_number, today, errors)
    phone = forms.read_phone(data, errors)
    code = forms.read_code(data, errors)
    password = forms.read_new_password(data, errors, id_number, phone)
    if not errors:
        account_id, errors = await register(
            rt,
            Registration(name, id_number, validity.valid_from, validity.valid_to, phone, code, password),
            origin_of(request),
        )
        if account_id is not None:
            token = await sessions.start_session(rt, account_id, origin_of(request))
            return redirect(request, "/account?done=registered", cookies=[session_cookie(request, token)])
    return await _page(request, data, errors, "partials/register_form.html")


@post("/register/sms")
async def register_sms(request: HTMXRequest, data: Form) -> Response:
    """获取验证码. With htmx only the phone and code fields change; without, the whole page."""
    rt = runtime_of(request)
    errors: dict[str, str] = {}
    notice = ""
    phone = forms.read_phone(data, errors)
    if phone:
        if await phone_in_use(rt, phone):
            errors["phone"] = PHONE_TAKEN
        else:
            result = await send_code(rt, phone, Purpose.REGISTER, origin_of(request))
            refusal, notice = send_outcome(result, phone, rt.clock.now())
            errors.update(refusal)
    return await _page(request, data, errors, "partials/sms_group.html", notice=notice)


@post("/register/check")
async def register_check(request: HTMXRequest, data: Form) -> Response:
    """Leaving the 身份证号 field: 账号已注册，请直接登录 when name and ID number match an account."""
    rt = runtime_of(request)
    errors: dict[str, str] = {}
    name, id_number = forms.read_identity(data, rt.clock.today(), errors)
    if forms.text(data, "id_number").strip() == "":
        errors.pop("id_number", None)
    if name and id_number:
        now = rt.clock.now()
        decision = await limits.take([lookup_limit(rt, origin_of(request).ip)], now)
        if not decision.allowed:
            errors["id_number"] = _("查询过于频繁，请于{time}后再试", time=clock_time(decision.retry_at, now))
        elif await is_registered(rt, name, id_number):
            errors["id_number"] = ALREADY_REGISTERED
    errors.pop("name", None)
    return await _page(request, data, errors, "partials/id_check.html")


@post("/register/validity")
async def register_validity(request: HTMXRequest, data: Form) -> Response:
    """The computed end date, shown as soon as the start date and the period are chosen, with what is
    wrong about them (expired card, period that does not fit the age)."""
    rt = runtime_of(request)
    errors: dict[str, str] = {}
    _name, id_number = forms.read_identity(data, rt.clock.today(), {})
    forms.read_validity(data, id_number, rt.clock.today(), errors)
    chosen = forms.text(data, "valid_from") and forms.text(data, "period")
    message = next((errors[f] for f in ("valid_from", "period") if f in errors), "") if chosen else ""
    return await _page(
        request, data, {}, "partials/validity_result.html", check_message=_(message) if message else ""
    )


@get("/agreement")
async def agreement(request: HTMXRequest) -> Response:
    return render(request, "agreement.html", back=came_from(request, "/register"))


@get("/faq")
async def faq(request: HTMXRequest) -> Response:
    return render(
        request, "faq.html", settings=runtime_of(request).settings, back=came_from(request, "/login")
    )


ROUTES = [register_page, register_submit, register_sms, register_check, register_validity, agreement, faq]
