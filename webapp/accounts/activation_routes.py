"""Screens 4 and 5 (激活账号): reached by logging in to an unactivated account with any password, or from
any failed login (FAQ 3), which carries what was typed as 手机号/身份证号 over. An active account that
follows the same steps sets a new password at step 2 (FAQ 3 for everyone).

The way without the phone on record: /activate/face (姓名 + 身份证号, a face scan matched by the authority,
then a new phone proved by SMS) joins the same flow at step 2."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.plugins.htmx import HTMXRequest

from webapp import audit
from webapp.accounts import flows, forms, sessions
from webapp.accounts.activation import (
    USERNAME_HINT,
    activate,
    bind_new_phone,
    check_activation_code,
    find_unactivated,
    send_activation_code,
    sms_shadow,
    validate_username,
)
from webapp.accounts.auth import device_cookie, session_cookie
from webapp.accounts.flows import FlowKind, State
from webapp.accounts.outcomes import MESSAGES
from webapp.accounts.records import load_account
from webapp.accounts.recovery import reset_password
from webapp.accounts.registration import send_code_to_new_phone
from webapp.accounts.views import code_sent
from webapp.audit import Origin
from webapp.faceflows.purposes import FacePurpose, Passed, identified_for_scan, json_answer
from webapp.i18n import N_, _
from webapp.runtime import Runtime
from webapp.sms.codes import (
    SENT_IF_MATCHING,
    Purpose,
    next_send_at,
    send_outcome,
)
from webapp.sms.group import SmsGroup
from webapp.web import Form, OriginDep, RuntimeDep, Steps, redirect, render

BY_FACE = "face"  # the flow's ``via`` when the face stood in for the phone on record
FACE_EXPIRED = N_("操作已过期，请重新核验身份")
PHONE_EXPIRED = N_("操作已过期，请重新验证手机号")
STEP = "partials/activate_step.html"
BY_PHONE_STEPS = Steps((1, 2))
BY_FACE_STEPS = Steps((("identify", "scan"), "new_phone", 2))
SMS_BY_PHONE = SmsGroup(
    "/activate/sms", "activate-form", STEP, "#activate", outside=("id_number",),
    code_label=N_("手机验证码"), sms_label=N_("发送验证码"),
)  # fmt: skip
SMS_BY_FACE = SmsGroup(
    "/activate/face/sms", "activate-form", STEP, "#activate",
    phone_label=N_("新手机号"), code_label=N_("手机验证码"), sms_label=N_("发送验证码"),
)  # fmt: skip


async def _step1(
    request: HTMXRequest,
    rt: Runtime,
    data: dict[str, Any],
    errors: dict[str, str],
    notice: str = "",
    group: bool = False,
    **kw: Any,
) -> Response[Any]:
    partial, retarget = SMS_BY_PHONE.answer(errors) if group else (STEP, None)
    return await _phone_step(request, rt, 1, data, errors, partial, notice, retarget=retarget, **kw)


async def _phone_step(
    request: HTMXRequest,
    rt: Runtime,
    step: int | str,
    data: dict[str, Any],
    errors: dict[str, str],
    partial: str,
    notice: str = "",
    via: str = "",
    **kw: Any,
) -> Response[Any]:
    """A step of the form with the SMS group: 1 (the phone on record), or by face "identify", "scan" and
    "new_phone" (a new number)."""
    phone = forms.read_phone(data, {})
    sms = SMS_BY_FACE if via else SMS_BY_PHONE
    return render(
        request,
        "activate.html",
        partial,
        step=step,
        progress=(BY_FACE_STEPS if via else BY_PHONE_STEPS).progress(step),
        via=via,
        form={name: forms.text(data, name) for name in ("name", "id_number", "phone", "code")},
        errors=forms.translated(errors),
        **sms.context(await _retry_at(rt, step, data, phone), notice),
        **kw,
    )


def _step2(
    request: HTMXRequest,
    data: dict[str, Any],
    errors: dict[str, str],
    via: str = "",
    cookies: list[Cookie] | None = None,
    reset: bool = False,
) -> Response[Any]:
    """Username and password; or, for an account already active (``reset``), a new password."""
    return render(
        request,
        "activate.html",
        "partials/activate_step.html",
        step=2,
        progress=(BY_FACE_STEPS if via else BY_PHONE_STEPS).progress(2),
        via=via,
        reset=reset,
        form={"username": forms.text(data, "username", 20)},
        errors=forms.translated(errors),
        username_hint=_(USERNAME_HINT),
        cookies=cookies,
    )


@get("/activate")
async def activate_page(request: HTMXRequest, rt: RuntimeDep) -> Response[Any]:
    flow = await flows.load_flow(rt, request, FlowKind.ACTIVATE)
    if flow and flow.state == State.PHONE_VERIFIED:
        return _step2(request, {}, {}, flow.data.get("via", ""), reset=flow.data.get("reset", False))
    return await _step1(request, rt, {}, {})


@post("/activate/from-login")
async def activate_from_login(request: HTMXRequest, data: Form, rt: RuntimeDep) -> Response[Any]:
    """The way every failed login offers (FAQ 3): step 1 with what was typed as 手机号/身份证号 filled in,
    and why the person is here. Nothing is looked up: the answer is the same for any identifier."""
    from webapp.identity.rules import IdentityError, validate_id_number

    identifier = forms.text(data, "identifier", 40).strip()
    carried: dict[str, str] = {}
    try:
        carried["id_number"] = validate_id_number(identifier, rt.clock.today())
    except IdentityError:
        if forms.read_phone({"phone": identifier}, {}):
            carried["phone"] = identifier
    return await _step1(request, rt, carried, {}, from_login=True)


async def _retry_at(rt: Runtime, step: int | str, data: dict[str, Any], phone: str | None) -> datetime | None:
    """The countdown of 发送验证码. Step 1 (the phone on record) counts down alike whether or not the ID
    number and phone belong to an unactivated account; a new number (activation by face) is its own."""
    if not phone:
        return None
    if step != 1:
        return await next_send_at(rt, phone)
    id_number, _phone = _read_step1(rt, data, {})
    return await next_send_at(rt, phone, await sms_shadow(rt, id_number, phone)) if id_number else None


def _read_step1(rt: Runtime, data: dict[str, Any], errors: dict[str, str]) -> tuple[str | None, str | None]:
    from webapp.identity.rules import IdentityError, validate_id_number

    try:
        id_number = validate_id_number(forms.text(data, "id_number", 40), rt.clock.today())
    except IdentityError as error:
        errors["id_number"] = error.message
        id_number = None
    return id_number, forms.read_phone(data, errors)


@post("/activate/sms")
async def activate_sms(request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep) -> Response[Any]:
    """发送验证码: the same answer whether or not the ID number and phone belong to an unactivated account."""
    errors: dict[str, str] = {}
    id_number, phone = _read_step1(rt, data, errors)
    notice = ""
    if id_number and phone:
        result = await send_activation_code(rt, id_number, phone, origin)
        refusal, notice = send_outcome(result, phone, rt.clock.now(), SENT_IF_MATCHING)
        errors.update(refusal)
    return await _step1(request, rt, data, errors, notice, group=True)


@post("/activate")
async def activate_verify(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep
) -> Response[Any]:
    """下一步: the code proves the phone on record; the flow moves to step 2."""
    errors: dict[str, str] = {}
    id_number, phone = _read_step1(rt, data, errors)
    code = forms.read_code(data, errors)
    if not errors and id_number and phone and code:
        checked = await check_activation_code(rt, id_number, phone, code, origin)
        if checked.value is not None:
            holder = checked.value
            _flow, cookie = await flows.start_flow(
                rt, FlowKind.ACTIVATE, State.PHONE_VERIFIED, holder.account_id, reset=holder.active
            )
            return _step2(request, {}, {}, cookies=[cookie], reset=holder.active)
        errors.update(checked.errors())
    return await _step1(request, rt, data, errors)


@post("/activate/account")
async def activate_account(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep
) -> Response[Any]:
    """确定: username and password; the account becomes active and the person is logged in."""
    flow = await flows.load_in(rt, request, FlowKind.ACTIVATE, State.PHONE_VERIFIED)
    if flow is None or flow.account_id is None:
        return await _step1(request, rt, {}, {"form": PHONE_EXPIRED})
    if flow.data.get("reset"):
        return await _reset_password(request, rt, origin, flow, data)
    errors: dict[str, str] = {}
    username = None
    try:
        username = validate_username(forms.text(data, "username", 40))
    except ValueError as error:
        errors["username"] = str(error)
    password = forms.read_new_password(data, errors, username)
    if not errors and username and password:
        activated = await activate(rt, flow.account_id, username, password, origin)
        if activated.refusal is None:
            done = await flows.finish(rt, flow)
            token = await sessions.start_session(rt, flow.account_id, origin)
            cookies = [done, session_cookie(rt, token), device_cookie(rt, flow.account_id)]
            return redirect(request, "/account?done=activated", cookies=cookies)
        errors["username"] = MESSAGES[activated.refusal]  # taken, or activated meanwhile
    return _step2(request, data, errors, flow.data.get("via", ""))


async def _reset_password(
    request: HTMXRequest, rt: Runtime, origin: Origin, flow: flows.ActiveFlow, data: dict[str, Any]
) -> Response[Any]:
    """An active account's holder, proved by the phone on record: a new password, as 忘记密码 sets it
    (sessions end, this address's lock lifts), then 登录 with it."""
    account = await load_account(flow.account_id) if flow.account_id else None
    if account is None:
        return await _step1(request, rt, {}, {"form": PHONE_EXPIRED})
    errors: dict[str, str] = {}
    password = forms.read_new_password(data, errors, account.username)
    if errors or password is None:
        return _step2(request, data, errors, flow.data.get("via", ""), reset=True)
    if not await flows.claim(flow, State.PHONE_VERIFIED, State.DONE):  # once, even in parallel
        return await _step1(request, rt, {}, {"form": PHONE_EXPIRED})
    await reset_password(rt, account.id, password, origin)
    done = await flows.finish(rt, flow)
    return redirect(request, "/login?reset=1", cookies=[done, session_cookie(rt, None)])


# ---------------------------------------------------------------- the phone on record no longer works


async def _face_step(
    request: HTMXRequest,
    rt: Runtime,
    step: str,
    data: dict[str, Any],
    errors: dict[str, str],
    partial: str = STEP,
    notice: str = "",
    **kw: Any,
) -> Response[Any]:
    return await _phone_step(request, rt, step, data, errors, partial, notice, BY_FACE, **kw)


async def _face_verified(request: HTMXRequest, rt: Runtime) -> flows.ActiveFlow | None:
    flow = await flows.load_in(rt, request, FlowKind.ACTIVATE, State.FACE_VERIFIED)
    return flow if flow and flow.account_id is not None else None


@get("/activate/face")
async def activate_face_page(request: HTMXRequest, rt: RuntimeDep) -> Response[Any]:
    if await _face_verified(request, rt):
        return await _face_step(request, rt, "new_phone", {}, {})
    return await _face_step(request, rt, "identify", {}, {})


@post("/activate/face")
async def activate_face_identify(request: HTMXRequest, data: Form, rt: RuntimeDep) -> Response[Any]:
    """姓名 and 身份证号, then the scan: the same answer whether or not they name an unactivated account."""
    errors: dict[str, str] = {}
    name, id_number = forms.read_identity(data, rt.clock.today(), errors)
    if errors or name is None or id_number is None:
        return await _face_step(request, rt, "identify", data, errors)
    account = await find_unactivated(rt, name, id_number)
    cookie = await identified_for_scan(rt, FlowKind.ACTIVATE, account, id_number, via=BY_FACE)
    return await _face_step(request, rt, "scan", data, {}, cookies=[cookie])


async def activate_passed(passed: Passed) -> Response[Any]:
    if passed.flow is not None:
        await flows.advance(passed.flow, State.FACE_VERIFIED)
    await audit.record("activation_face_verified", passed.rt.clock.now(), passed.origin, passed.account.id)
    return json_answer(True, _("身份核验通过"), "/activate/face")


@post("/activate/face/sms")
async def activate_face_sms(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep
) -> Response[Any]:
    """发送验证码 to the new phone, once the face has matched."""
    if not await _face_verified(request, rt):
        return await _face_step(request, rt, "identify", {}, {"form": FACE_EXPIRED}, retarget="#activate")
    errors: dict[str, str] = {}
    notice = ""
    phone = forms.read_phone(data, errors)
    if phone:
        sent = await send_code_to_new_phone(rt, phone, Purpose.ACTIVATE, origin)
        errors, notice = code_sent(sent, phone, rt.clock.now())
    partial, retarget = SMS_BY_FACE.answer(errors)
    return await _face_step(request, rt, "new_phone", data, errors, partial, notice, retarget=retarget)


@post("/activate/face/phone")
async def activate_face_phone(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep
) -> Response[Any]:
    """下一步: the new phone replaces the one on record, and the flow moves to step 2."""
    flow = await _face_verified(request, rt)
    if flow is None or flow.account_id is None:
        return await _face_step(request, rt, "identify", {}, {"form": FACE_EXPIRED})
    errors: dict[str, str] = {}
    phone = forms.read_phone(data, errors)
    code = forms.read_code(data, errors)
    if not errors and phone and code:
        bound = await bind_new_phone(rt, flow.account_id, phone, code, origin)
        errors = bound.errors()
        if bound.ok:
            await flows.advance(flow, State.PHONE_VERIFIED)
            return _step2(request, {}, {}, BY_FACE)
    return await _face_step(request, rt, "new_phone", data, errors)


FACE_PURPOSES = [
    FacePurpose(
        "activate",
        activate_passed,
        flow_kind=FlowKind.ACTIVATE,
        notice=N_(
            "【工商注册身份验证】您的账号刚刚通过人脸识别验证身份以激活并更换手机号。如非本人操作，请立即联系客服。"
        ),
    )
]
ROUTES = [
    activate_page,
    activate_from_login,
    activate_sms,
    activate_verify,
    activate_account,
    activate_face_page,
    activate_face_identify,
    activate_face_sms,
    activate_face_phone,
]
