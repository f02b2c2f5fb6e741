"""Screens 7 and 8 (忘记密码, 重置密码): the holder proves who they are by a face scan or by the phone on
record, then sets a new password."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest

from webapp import audit
from webapp.accounts import flows, forms
from webapp.accounts.auth import session_cookie
from webapp.accounts.flows import FlowKind, State
from webapp.accounts.records import AccountRecord, load_account
from webapp.accounts.recovery import (
    check_recovery_code,
    find_for_recovery,
    reset_password,
    send_recovery_code,
    sms_shadow,
)
from webapp.accounts.views import mask_id_number
from webapp.faceflows.purposes import FacePurpose, Passed, identified_for_scan, json_answer
from webapp.i18n import N_, _
from webapp.runtime import Runtime
from webapp.sms.codes import SENT_IF_MATCHING, next_send_at, send_outcome
from webapp.sms.group import SmsGroup
from webapp.web import Form, OriginDep, RuntimeDep, Steps, redirect, render

STEP = "partials/recover_step.html"
STEPS = Steps((("identify", "scan", "sms"), "reset"))  # who you are (by face or by SMS), a new password
EXPIRED = N_("操作已过期，请重新核验身份")
SMS = SmsGroup(
    "/recover/sms",
    "recover-form",
    STEP,
    "#recover",
    outside=("name", "id_number"),
    phone_label=N_("账号绑定的手机号"),
)


def _page(
    request: HTMXRequest,
    step: str,
    data: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    partial: str = STEP,
    retarget: str | None = None,
    **extra: Any,
) -> Response[Any]:
    data = data or {}
    return render(
        request,
        "recover.html",
        partial,
        retarget=retarget,
        step=step,
        progress=STEPS.progress(step),
        form={name: forms.text(data, name) for name in ("name", "id_number", "phone", "code")},
        errors=forms.translated(errors or {}),
        **extra,
    )


@get("/recover")
async def recover_page(
    request: HTMXRequest, rt: RuntimeDep, method: FromQuery[str] = "face"
) -> Response[Any]:
    flow = await flows.load_in(rt, request, FlowKind.RECOVER, State.VERIFIED)
    account = await load_account(flow.account_id) if flow and flow.account_id else None
    if account is not None:
        return await _reset_step(request, rt, account)
    if method == "sms":
        return await _sms_step(request, rt, {}, {})
    return _page(request, "identify")


async def _sms_step(
    request: HTMXRequest,
    rt: Runtime,
    data: dict[str, Any],
    errors: dict[str, str],
    notice: str = "",
    group: bool = False,
) -> Response[Any]:
    """The way without a face: 姓名, 身份证号, the phone on record and its code; ``group``: the answer
    to 获取验证码."""
    name, id_number = forms.read_identity(data, rt.clock.today(), {})
    phone = forms.read_phone(data, {})
    retry_at = None
    if name and id_number and phone:
        retry_at = await next_send_at(rt, phone, await sms_shadow(rt, name, id_number, phone))
    partial, retarget = SMS.answer(errors) if group else (STEP, None)
    return _page(request, "sms", data, errors, partial, retarget, **SMS.context(retry_at, notice))


@post("/recover")
async def recover_identify(request: HTMXRequest, data: Form, rt: RuntimeDep) -> Response[Any]:
    """Step 1 (face): 姓名 and 身份证号, then 扫描人脸. The same answer whether or not they match."""
    errors: dict[str, str] = {}
    name, id_number = forms.read_identity(data, rt.clock.today(), errors)
    if errors or name is None or id_number is None:
        return _page(request, "identify", data, errors)
    account = await find_for_recovery(rt, name, id_number)
    cookie = await identified_for_scan(rt, FlowKind.RECOVER, account, id_number)
    return _page(
        request, "scan", data, cookies=[cookie], purpose="recover", consent_needed=True, back="/recover"
    )


async def recover_passed(passed: Passed) -> Response[Any]:
    if passed.flow is not None:
        await flows.advance(passed.flow, State.VERIFIED)
    await audit.record(
        "recovery_verified", passed.rt.clock.now(), passed.origin, passed.account.id, method="face"
    )
    return json_answer(True, _("身份核验通过"), "/recover")


@post("/recover/sms")
async def recover_sms(request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep) -> Response[Any]:
    """The way without a face: a code to the phone on record (same answer whether or not it matches)."""
    errors: dict[str, str] = {}
    name, id_number = forms.read_identity(data, rt.clock.today(), errors)
    phone = forms.read_phone(data, errors)
    notice = ""
    if not errors and name and id_number and phone:
        result = await send_recovery_code(rt, name, id_number, phone, origin)
        refusal, notice = send_outcome(result, phone, rt.clock.now(), SENT_IF_MATCHING)
        errors.update(refusal)
    return await _sms_step(request, rt, data, errors, notice, group=True)


@post("/recover/code")
async def recover_code(request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep) -> Response[Any]:
    errors: dict[str, str] = {}
    name, id_number = forms.read_identity(data, rt.clock.today(), errors)
    phone = forms.read_phone(data, errors)
    code = forms.read_code(data, errors)
    if not errors and name and id_number and phone and code:
        checked = await check_recovery_code(rt, name, id_number, phone, code, origin)
        if checked.value is not None:
            account = checked.value
            _flow, cookie = await flows.start_flow(rt, FlowKind.RECOVER, State.VERIFIED, account.id)
            return await _reset_step(request, rt, account, cookies=[cookie])
        errors.update(checked.errors())
    return await _sms_step(request, rt, data, errors)


async def _reset_step(
    request: HTMXRequest,
    rt: Runtime,
    account: AccountRecord,
    errors: dict[str, str] | None = None,
    cookies: list[Cookie] | None = None,
) -> Response[Any]:
    masked = mask_id_number(rt.keyring.decrypt_text(account.id_number, "account.id_number"))
    return render(
        request,
        "recover.html",
        STEP,
        step="reset",
        progress=STEPS.progress("reset"),
        masked=masked,
        form={},
        errors=forms.translated(errors or {}),
        cookies=cookies,
    )


@post("/recover/reset")
async def recover_reset(request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep) -> Response[Any]:
    """Step 2: 新密码, 确认, 下一步. Every session ends, the lock is cleared."""
    flow = await flows.load_in(rt, request, FlowKind.RECOVER, State.VERIFIED)
    account = await load_account(flow.account_id) if flow and flow.account_id else None
    if flow is None or account is None:
        return _page(request, "identify", {}, {"form": EXPIRED})
    errors: dict[str, str] = {}
    password = forms.read_new_password(data, errors, account.username)
    if errors or password is None:
        return await _reset_step(request, rt, account, errors)
    if not await flows.claim(flow, State.VERIFIED, State.DONE):  # single use, even under parallel submissions
        return _page(request, "identify", {}, {"form": EXPIRED})
    await reset_password(rt, account.id, password, origin)
    done = await flows.finish(rt, flow)
    return redirect(request, "/login?reset=1", cookies=[done, session_cookie(rt, None)])


FACE_PURPOSES = [
    FacePurpose(
        "recover",
        recover_passed,
        flow_kind=FlowKind.RECOVER,
        notice=N_(
            "【工商注册身份验证】您的账号刚刚通过人脸识别验证身份以重置密码。如非本人操作，请立即联系客服。"
        ),
    )
]
ROUTES = [recover_page, recover_identify, recover_sms, recover_code, recover_reset]
