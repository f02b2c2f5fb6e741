"""Screens 4 and 5 (激活账号): reached by logging in to an unactivated account with any password, or from
any failed login (FAQ 3), which carries what was typed as 手机号/身份证号 over. An active account that
follows the same steps sets a new password at step 2 (FAQ 3 for everyone).

The way without the phone on record: /activate/face (姓名 + 身份证号, a face scan matched by the authority,
then a new phone proved by SMS) joins the same flow at step 2."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.plugins.htmx import HTMXRequest

from webapp import flows
from webapp.accounts import forms, sessions
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
from webapp.accounts.recovery import reset_password
from webapp.accounts.registration import send_code_to_new_phone
from webapp.accounts.routes import Form, session_cookie
from webapp.accounts.tables import Account
from webapp.faceflows.service import identifier_key
from webapp.i18n import N_, _
from webapp.sms.codes import (
    CHECK_MESSAGES,
    SENT_IF_MATCHING,
    CodeCheck,
    Purpose,
    next_send_at,
    send_outcome,
)
from webapp.web import origin_of, redirect, render, runtime_of

KIND = "activate"
BY_FACE = "face"  # the flow's ``via`` when the face stood in for the phone on record
FACE_EXPIRED = N_("操作已过期，请重新核验身份")
PHONE_EXPIRED = N_("操作已过期，请重新验证手机号")


async def _step1(request: Request, data: dict, errors: dict[str, str], partial: str, notice: str = "", **kw):
    retarget = None
    if partial == "partials/sms_group.html" and "id_number" in errors:
        partial, retarget = "partials/activate_step.html", "#activate"  # the error belongs to a field outside
    return await _phone_step(request, 1, data, errors, partial, notice, retarget=retarget, **kw)


async def _phone_step(
    request: Request, step, data: dict, errors: dict[str, str], partial: str, notice: str = "", via="", **kw
):
    """A step of the form with the SMS group: 1 (the phone on record), or by face "identify", "scan" and
    "new_phone" (a new number)."""
    rt = runtime_of(request)
    phone = forms.read_phone(data, {})
    return render(
        request,
        "activate.html",
        partial,
        step=step,
        via=via,
        form={name: forms.text(data, name) for name in ("name", "id_number", "phone", "code")},
        errors=forms.translated(errors),
        retry_at=await _retry_at(rt, step, data, phone),
        notice=notice,
        sms_url="/activate/face/sms" if via else "/activate/sms",
        form_id="activate-form",
        phone_label=_("新手机号") if via else _("手机号"),
        code_label=_("手机验证码"),
        sms_label=_("发送验证码"),
        **kw,
    )


def _step2(
    request: Request, data: dict, errors: dict[str, str], via: str = "", cookies=None, reset: bool = False
):
    """Username and password; or, for an account already active (``reset``), a new password."""
    return render(
        request,
        "activate.html",
        "partials/activate_step.html",
        step=2,
        via=via,
        reset=reset,
        form={"username": forms.text(data, "username", 20)},
        errors=forms.translated(errors),
        username_hint=_(USERNAME_HINT),
        cookies=cookies,
    )


@get("/activate")
async def activate_page(request: HTMXRequest) -> Response:
    flow = await flows.load_flow(runtime_of(request), request, KIND)
    if flow and flow.state == "phone_verified":
        return _step2(request, {}, {}, flow.data.get("via", ""), reset=flow.data.get("reset", False))
    return await _step1(request, {}, {}, "partials/activate_step.html")


@post("/activate/from-login")
async def activate_from_login(request: HTMXRequest, data: Form) -> Response:
    """The way every failed login offers (FAQ 3): step 1 with what was typed as 手机号/身份证号 filled in,
    and why the person is here. Nothing is looked up: the answer is the same for any identifier."""
    from webapp.identity.rules import IdentityError, validate_id_number

    identifier = forms.text(data, "identifier", 40).strip()
    carried: dict[str, str] = {}
    try:
        carried["id_number"] = validate_id_number(identifier, runtime_of(request).clock.today())
    except IdentityError:
        if forms.read_phone({"phone": identifier}, {}):
            carried["phone"] = identifier
    return await _step1(request, carried, {}, "partials/activate_step.html", from_login=True)


async def _retry_at(rt, step, data: dict, phone: str | None):
    """The countdown of 发送验证码. Step 1 (the phone on record) counts down alike whether or not the ID
    number and phone belong to an unactivated account; a new number (activation by face) is its own."""
    if not phone:
        return None
    if step != 1:
        return await next_send_at(rt, phone)
    id_number, _phone = _read_step1(rt, data, {})
    return await next_send_at(rt, phone, await sms_shadow(rt, id_number, phone)) if id_number else None


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
        account, check = await check_activation_code(rt, id_number, phone, code, origin_of(request))
        if account is not None:
            reset = account["state"] == "active"
            _flow, cookie = await flows.start_flow(rt, KIND, "phone_verified", account["id"], reset=reset)
            return _step2(request, {}, {}, cookies=[cookie], reset=reset)
        # A code that matched but not for an account of these (or a disabled one) reads as a wrong code.
        errors["code"] = CHECK_MESSAGES[CodeCheck.WRONG if check is CodeCheck.OK else check]
    return await _step1(request, data, errors, "partials/activate_step.html")


@post("/activate/account")
async def activate_account(request: HTMXRequest, data: Form) -> Response:
    """确定: username and password; the account becomes active and the person is logged in."""
    rt = runtime_of(request)
    flow = await flows.load_flow(rt, request, KIND)
    if flow is None or flow.state != "phone_verified":
        return await _step1(request, {}, {"form": PHONE_EXPIRED}, "partials/activate_step.html")
    if flow.data.get("reset"):
        return await _reset_password(request, flow, data)
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
            cookies = [done, session_cookie(request, token)]
            return redirect(request, "/account?done=activated", cookies=cookies)
        errors["username"] = problem
    return _step2(request, data, errors, flow.data.get("via", ""))


async def _reset_password(request: Request, flow, data: dict) -> Response:
    """An active account's holder, proved by the phone on record: a new password, as 忘记密码 sets it
    (sessions end, this address's lock lifts), then 登录 with it."""
    rt = runtime_of(request)
    errors: dict[str, str] = {}
    row = await Account.select(Account.username).where(Account.id == flow.account_id).first()
    password = forms.read_new_password(data, errors, row["username"])
    if errors:
        return _step2(request, data, errors, flow.data.get("via", ""), reset=True)
    if not await flows.claim(flow, "phone_verified", "done"):  # single use, even under parallel submissions
        return await _step1(request, {}, {"form": PHONE_EXPIRED}, "partials/activate_step.html")
    await reset_password(rt, flow.account_id, password, origin_of(request))
    done = await flows.finish(rt, flow)
    return redirect(request, "/login?reset=1", cookies=[done, session_cookie(request, None)])


# ---------------------------------------------------------------- the phone on record no longer works


async def _face_step(
    request: Request, step: str, data: dict, errors: dict[str, str], partial: str = "", notice: str = "", **kw
):
    return await _phone_step(
        request, step, data, errors, partial or "partials/activate_step.html", notice, BY_FACE, **kw
    )


async def _face_verified(request: Request):
    flow = await flows.load_flow(runtime_of(request), request, KIND)
    return flow if flow and flow.state == "face_verified" else None


@get("/activate/face")
async def activate_face_page(request: HTMXRequest) -> Response:
    if await _face_verified(request):
        return await _face_step(request, "new_phone", {}, {})
    return await _face_step(request, "identify", {}, {})


@post("/activate/face")
async def activate_face_identify(request: HTMXRequest, data: Form) -> Response:
    """姓名 and 身份证号, then the scan: the same answer whether or not they name an unactivated account."""
    rt = runtime_of(request)
    errors: dict[str, str] = {}
    name, id_number = forms.read_identity(data, rt.clock.today(), errors)
    if errors:
        return await _face_step(request, "identify", data, errors)
    account = await find_unactivated(rt, name, id_number)
    _flow, cookie = await flows.start_flow(
        rt,
        KIND,
        "identified",
        account["id"] if account else None,
        via=BY_FACE,
        subject=identifier_key(rt, id_number),
    )
    return await _face_step(request, "scan", data, {}, cookies=[cookie])


@post("/activate/face/sms")
async def activate_face_sms(request: HTMXRequest, data: Form) -> Response:
    """发送验证码 to the new phone, once the face has matched."""
    rt = runtime_of(request)
    if not await _face_verified(request):
        return await _face_step(request, "identify", {}, {"form": FACE_EXPIRED}, retarget="#activate")
    errors: dict[str, str] = {}
    notice = ""
    phone = forms.read_phone(data, errors)
    if phone:
        errors, notice = await send_code_to_new_phone(rt, phone, Purpose.ACTIVATE, origin_of(request))
    return await _face_step(request, "new_phone", data, errors, "partials/sms_group.html", notice)


@post("/activate/face/phone")
async def activate_face_phone(request: HTMXRequest, data: Form) -> Response:
    """下一步: the new phone replaces the one on record, and the flow moves to step 2."""
    rt = runtime_of(request)
    flow = await _face_verified(request)
    if flow is None:
        return await _face_step(request, "identify", {}, {"form": FACE_EXPIRED})
    errors: dict[str, str] = {}
    phone = forms.read_phone(data, errors)
    code = forms.read_code(data, errors)
    if not errors:
        errors = await bind_new_phone(rt, flow.account_id, phone, code, origin_of(request))
        if not errors:
            await flows.advance(flow, "phone_verified")
            return _step2(request, {}, {}, BY_FACE)
    return await _face_step(request, "new_phone", data, errors)


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
