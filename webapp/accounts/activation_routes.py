"""Screens 4 and 5 (激活账号): reached by logging in to an unactivated account with any password."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.plugins.htmx import HTMXRequest

from webapp import flows
from webapp.accounts import forms, sessions
from webapp.accounts.activation import (
    USERNAME_HINT,
    activate,
    check_activation_code,
    send_activation_code,
    validate_username,
)
from webapp.accounts.routes import Form, session_cookie
from webapp.i18n import N_, _
from webapp.sms.codes import CHECK_MESSAGES, SENT_IF_MATCHING, CodeCheck, next_send_at, send_outcome
from webapp.web import origin_of, redirect, render, runtime_of

KIND = "activate"


async def _step1(request: Request, data: dict, errors: dict[str, str], partial: str, notice: str = ""):
    rt = runtime_of(request)
    phone = forms.read_phone(data, {})
    retarget = None
    if partial == "partials/sms_group.html" and "id_number" in errors:
        partial, retarget = "partials/activate_step.html", "#activate"  # the error belongs to a field outside
    return render(
        request,
        "activate.html",
        partial,
        retarget=retarget,
        step=1,
        form={name: forms.text(data, name) for name in ("id_number", "phone", "code")},
        errors=forms.translated(errors),
        retry_at=await next_send_at(rt, phone) if phone else None,
        notice=notice,
        sms_url="/activate/sms",
        form_id="activate-form",
        code_label=_("手机验证码"),
        sms_label=_("发送验证码"),
    )


def _step2(request: Request, data: dict, errors: dict[str, str], cookies=None):
    return render(
        request,
        "activate.html",
        "partials/activate_step.html",
        step=2,
        form={"username": forms.text(data, "username", 20)},
        errors=forms.translated(errors),
        username_hint=_(USERNAME_HINT),
        cookies=cookies,
    )


@get("/activate")
async def activate_page(request: HTMXRequest) -> Response:
    flow = await flows.load_flow(runtime_of(request), request, KIND)
    if flow and flow.state == "phone_verified":
        return _step2(request, {}, {})
    return await _step1(request, {}, {}, "partials/activate_step.html")


def _read_step1(rt, data: dict, errors: dict[str, str]) -> tuple[str | None, str | None]:
    from webapp.identity.rules import IdentityError, validate_id_number

    try:
        id_number = validate_id_number(forms.text(data, "id_number", 40), rt.clock.today())
    except IdentityError as error:
        errors["id_number"] = error.message
        id_number = None
    return id_number, forms.read_phone(data, errors)


@post("/activate/sms")
async def activate_sms(request: HTMXRequest, data: Form) -> Response:
    """发送验证码: the same answer whether or not the ID number and phone belong to an unactivated account."""
    rt = runtime_of(request)
    errors: dict[str, str] = {}
    id_number, phone = _read_step1(rt, data, errors)
    notice = ""
    if id_number and phone:
        result = await send_activation_code(rt, id_number, phone, origin_of(request))
        refusal, notice = send_outcome(result, phone, rt.clock.now(), SENT_IF_MATCHING)
        errors.update(refusal)
    return await _step1(request, data, errors, "partials/sms_group.html", notice)


@post("/activate")
async def activate_verify(request: HTMXRequest, data: Form) -> Response:
    """下一步: the code proves the phone on record; the flow moves to step 2."""
    rt = runtime_of(request)
    errors: dict[str, str] = {}
    id_number, phone = _read_step1(rt, data, errors)
    code = forms.read_code(data, errors)
    if not errors:
        account_id, check = await check_activation_code(rt, id_number, phone, code, origin_of(request))
        if account_id is not None:
            _flow, cookie = await flows.start_flow(rt, KIND, "phone_verified", account_id)
            return _step2(request, {}, {}, cookies=[cookie])
        # A code that matched but not for an unactivated account reads as a wrong code.
        errors["code"] = CHECK_MESSAGES[CodeCheck.WRONG if check is CodeCheck.OK else check]
    return await _step1(request, data, errors, "partials/activate_step.html")


@post("/activate/account")
async def activate_account(request: HTMXRequest, data: Form) -> Response:
    """确定: username and password; the account becomes active and the person is logged in."""
    rt = runtime_of(request)
    flow = await flows.load_flow(rt, request, KIND)
    if flow is None or flow.state != "phone_verified":
        return await _step1(
            request, {}, {"form": N_("操作已过期，请重新验证手机号")}, "partials/activate_step.html"
        )
    errors: dict[str, str] = {}
    username = None
    try:
        username = validate_username(forms.text(data, "username", 40))
    except ValueError as error:
        errors["username"] = str(error)
    password = forms.read_new_password(data, errors, username)
    if not errors:
        problem = await activate(rt, flow.account_id, username, password, origin_of(request))
        if problem is None:
            done = await flows.finish(rt, flow)
            token = await sessions.start_session(rt, flow.account_id, origin_of(request))
            return redirect(request, "/account", cookies=[done, session_cookie(request, token)])
        errors["username"] = problem
    return _step2(request, data, errors)


ROUTES = [activate_page, activate_sms, activate_verify, activate_account]
