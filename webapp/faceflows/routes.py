"""Screens 6 (人脸登录), 7–8 (忘记密码, 重置密码), 11 (实名等级 / 四级实名), 12 (首次登录引导)
and the two endpoints of the face scan component (17)."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest

from webapp import audit, flows
from webapp.accounts import forms, sessions
from webapp.accounts.recovery import (
    check_recovery_code,
    find_for_recovery,
    reset_password,
    send_recovery_code,
    sms_shadow,
)
from webapp.accounts.routes import Form, session_cookie, signed_in_account
from webapp.accounts.service import find_by_identifier
from webapp.accounts.tables import Account
from webapp.accounts.views import account_view, mask_id_number, section_nav
from webapp.faceflows import service
from webapp.i18n import N_, _
from webapp.sms.codes import CHECK_MESSAGES, SENT_IF_MATCHING, next_send_at, send_outcome
from webapp.web import origin_of, redirect, render, runtime_of, safe_next

LOGIN = "face_login"
RECOVER = "recover"
FILING = "filing_decision"
ACTIVATE = "activate"  # activation by face, when the phone on record no longer works
CALIBRATE = "calibrate"  # dev only (/dev/face): the figures of one's own scan
SIGNED_OUT_PURPOSES = {"login", "recover", "activate", CALIBRATE}


# ---------------------------------------------------------------- 实名等级, 四级实名, 首次登录引导


@get("/level")
async def level_page(request: HTMXRequest, done: FromQuery[str] = "") -> Response:
    account, away = await signed_in_account(request)
    if away:
        return away
    notices = {"4": N_("已提升为四级实名"), "withdrawn": N_("已撤回人脸授权，账号恢复为三级实名")}
    return render(
        request,
        "level.html",
        account=account_view(runtime_of(request), account),
        notice=_(notices[done]) if done in notices else "",
        nav=section_nav(runtime_of(request), account, "level"),
    )


@get("/level/upgrade")
async def upgrade_page(request: HTMXRequest, next: FromQuery[str] = "") -> Response:  # noqa: A002
    account, away = await signed_in_account(request)
    if away:
        return away
    if account["level"] >= 4:
        return redirect(request, safe_next(next, "/level"))
    return render(
        request,
        "face_scan.html",
        purpose="upgrade",
        title=_("四级实名"),
        back="/level",
        consent_needed=account["face_consent_at"] is None,
        next=safe_next(next, ""),
        intro=_("请本人正对摄像头，按提示完成动作，系统将与权威部门的身份证照片比对。"),
    )


@get("/level/withdraw")
async def withdraw_page(request: HTMXRequest) -> Response:
    """撤回人脸授权 asks first: what goes with the consent, then 确认撤回 or 取消."""
    account, away = await signed_in_account(request)
    if away:
        return away
    if account["level"] < 4:
        return redirect(request, "/level")
    return render(request, "level_withdraw.html")


@post("/level/withdraw")
async def withdraw(request: HTMXRequest) -> Response:
    account, away = await signed_in_account(request)
    if away:
        return away
    rt = runtime_of(request)
    await service.withdraw_consent(rt, account["id"], origin_of(request))
    token = await _renew_session(request, account["id"])
    return redirect(request, "/level?done=withdrawn", cookies=[session_cookie(request, token)])


@post("/level/offer/dismiss")
async def dismiss_offer(request: HTMXRequest) -> Response:
    """暂不: the first-login guide stops appearing."""
    account, away = await signed_in_account(request)
    if away:
        return away
    await Account.update({Account.level4_offer: "dismissed"}).where(Account.id == account["id"])
    return redirect(request, "/account")


async def _renew_session(request: Request, account_id: int) -> str:
    """A new session token at every level change."""
    rt = runtime_of(request)
    return await sessions.start_session(
        rt, account_id, origin_of(request), replacing=request.cookies.get(sessions.cookie_name(rt))
    )


# ---------------------------------------------------------------- 人脸登录


@get("/login/face")
async def face_login_page(request: HTMXRequest) -> Response:
    return render(request, "login_face.html", "partials/login_face_step.html", step=1, form={}, errors={})


@post("/login/face")
async def face_login_identify(request: HTMXRequest, data: Form) -> Response:
    """Step 1: the identifier. Whoever it names (or nobody), the next step is the same scan."""
    rt = runtime_of(request)
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
    usable = account if account and account["level"] >= 4 and account["state"] == "active" else None
    _flow, cookie = await flows.start_flow(
        rt,
        LOGIN,
        "identified",
        usable["id"] if usable else None,
        subject=service.identifier_key(rt, identifier),
    )
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


# ---------------------------------------------------------------- 忘记密码, 重置密码


RECOVER_STEP = "partials/recover_step.html"
SMS_GROUP = "partials/sms_group.html"


def _recover_page(
    request: Request,
    step: str,
    data: dict | None = None,
    errors: dict | None = None,
    partial: str = RECOVER_STEP,
    **extra,
):
    data = data or {}
    retarget = None
    if partial == SMS_GROUP and {"name", "id_number"} & set(errors or {}):
        partial, retarget = RECOVER_STEP, "#recover"  # the error belongs to a field outside the group
    return render(
        request,
        "recover.html",
        partial,
        retarget=retarget,
        step=step,
        form={name: forms.text(data, name) for name in ("name", "id_number", "phone", "code")},
        errors=forms.translated(errors or {}),
        **extra,
    )


@get("/recover")
async def recover_page(request: HTMXRequest, method: FromQuery[str] = "face") -> Response:
    rt = runtime_of(request)
    flow = await flows.load_flow(rt, request, RECOVER)
    if flow and flow.state == "verified":
        return await _reset_step(request, flow.account_id)
    if method == "sms":
        return await _recover_sms_step(request, {}, {})
    return _recover_page(request, "identify")


async def _recover_sms_step(
    request: Request, data: dict, errors: dict[str, str], notice: str = "", partial: str = RECOVER_STEP
):
    """The way without a face: 姓名, 身份证号, the phone on record and its code. 获取验证码 answers htmx
    with the SMS group alone (``partial``)."""
    rt = runtime_of(request)
    name, id_number = _read_identity(rt, data, {})
    phone = forms.read_phone(data, {})
    holder_known = name and id_number and phone
    return _recover_page(
        request,
        "sms",
        data,
        errors,
        partial,
        notice=notice,
        phone_label=_("账号绑定的手机号"),
        sms_url="/recover/sms",
        form_id="recover-form",
        retry_at=await next_send_at(rt, phone, await sms_shadow(rt, name, id_number, phone))
        if holder_known
        else None,
    )


def _read_identity(rt, data: dict, errors: dict) -> tuple[str | None, str | None]:
    return forms.read_identity(data, rt.clock.today(), errors)


@post("/recover")
async def recover_identify(request: HTMXRequest, data: Form) -> Response:
    """Step 1 (face): 姓名 and 身份证号, then 扫描人脸. The same answer whether or not they match."""
    rt = runtime_of(request)
    errors: dict[str, str] = {}
    name, id_number = _read_identity(rt, data, errors)
    if errors:
        return _recover_page(request, "identify", data, errors)
    account = await find_for_recovery(rt, name, id_number)
    _flow, cookie = await flows.start_flow(
        rt,
        RECOVER,
        "identified",
        account["id"] if account else None,
        subject=service.identifier_key(rt, id_number),
    )
    return _recover_page(
        request, "scan", data, cookies=[cookie], purpose="recover", consent_needed=True, back="/recover"
    )


@post("/recover/sms")
async def recover_sms(request: HTMXRequest, data: Form) -> Response:
    """The way without a face: a code to the phone on record (same answer whether or not it matches)."""
    rt = runtime_of(request)
    errors: dict[str, str] = {}
    name, id_number = _read_identity(rt, data, errors)
    phone = forms.read_phone(data, errors)
    notice = ""
    if not errors:
        result = await send_recovery_code(rt, name, id_number, phone, origin_of(request))
        refusal, notice = send_outcome(result, phone, rt.clock.now(), SENT_IF_MATCHING)
        errors.update(refusal)
    return await _recover_sms_step(request, data, errors, notice, SMS_GROUP)


@post("/recover/code")
async def recover_code(request: HTMXRequest, data: Form) -> Response:
    rt = runtime_of(request)
    errors: dict[str, str] = {}
    name, id_number = _read_identity(rt, data, errors)
    phone = forms.read_phone(data, errors)
    code = forms.read_code(data, errors)
    if not errors:
        account, check = await check_recovery_code(rt, name, id_number, phone, code, origin_of(request))
        if account is not None:
            flow, cookie = await flows.start_flow(rt, RECOVER, "verified", account["id"])
            return await _reset_step(request, account["id"], cookies=[cookie])
        errors["code"] = CHECK_MESSAGES[check]
    return await _recover_sms_step(request, data, errors)


async def _reset_step(request: Request, account_id: int, errors: dict | None = None, cookies=None):
    rt = runtime_of(request)
    row = await Account.select(Account.id_number).where(Account.id == account_id).first()
    masked = mask_id_number(rt.keyring.decrypt_text(row["id_number"], "account.id_number"))
    return render(
        request,
        "recover.html",
        "partials/recover_step.html",
        step="reset",
        masked=masked,
        form={},
        errors=forms.translated(errors or {}),
        cookies=cookies,
    )


@post("/recover/reset")
async def recover_reset(request: HTMXRequest, data: Form) -> Response:
    """Step 2: 新密码, 确认, 下一步. Every session ends, the lock is cleared."""
    rt = runtime_of(request)
    flow = await flows.load_flow(rt, request, RECOVER)
    if flow is None or flow.state != "verified":
        return _recover_page(request, "identify", {}, {"form": N_("操作已过期，请重新核验身份")})
    errors: dict[str, str] = {}
    row = await Account.select(Account.username).where(Account.id == flow.account_id).first()
    password = forms.read_new_password(data, errors, row["username"])
    if errors:
        return await _reset_step(request, flow.account_id, errors)
    if not await flows.claim(flow, "verified", "done"):  # single use, even under parallel submissions
        return _recover_page(request, "identify", {}, {"form": N_("操作已过期，请重新核验身份")})
    await reset_password(rt, flow.account_id, password, origin_of(request))
    done = await flows.finish(rt, flow)
    return redirect(request, "/login?reset=1", cookies=[done, session_cookie(request, None)])


# ---------------------------------------------------------------- confirming a business filing


@get("/business/filings/{reference:str}/decide")
async def decide_page(
    request: HTMXRequest, reference: FromPath[str], decision: FromQuery[str] = "confirm"
) -> Response:
    """确认 or 拒绝 a filing: each needs a fresh face scan against the account's own template."""
    from webapp.business.service import filing_detail_for_account

    account, away = await signed_in_account(request)
    if away:
        return away
    rt = runtime_of(request)
    detail = await filing_detail_for_account(rt, account["id"], reference)
    if detail is None or decision not in {"confirm", "decline"} or not detail.needs_action:
        return redirect(request, "/business")
    _flow, cookie = await flows.start_flow(
        rt, FILING, "identified", account["id"], minutes=10, reference=reference, decision=decision
    )
    title = _("确认工商登记事项") if decision == "confirm" else _("拒绝工商登记事项")
    intro = _(
        "{company}（{kind}）：请扫描人脸确认是本人操作。",
        company=detail.company_name,
        kind=_(detail.kind_label),
    )
    return render(
        request,
        "face_scan.html",
        purpose="filing",
        title=title,
        back=f"/business/filings/{reference}",
        consent_needed=False,
        next="",
        intro=intro,
        cookies=[cookie],
    )


# ---------------------------------------------------------------- who a scan is for


@dataclass(frozen=True)
class Subject:
    """Whom a scan for a purpose matches (``account``, None for an identifier that names nobody), the
    flow that names them, the key their attempts count under, or why no scan is possible."""

    account: dict | None = None
    flow: flows.ActiveFlow | None = None
    key: str = ""
    error: str = ""

    def current_scan(self, scan_id: int) -> bool:
        """One open scan per flow: only the flow's latest scan may stream."""
        return self.flow is None or self.flow.data.get("scan") == scan_id


async def subject_of(connection: ASGIConnection, purpose: str) -> Subject:
    rt = runtime_of(connection)
    if purpose == CALIBRATE:  # dev only: anyone, matched against nobody
        if not rt.settings.dev:
            return Subject(error=_("请求无法处理"))
        return Subject(None, None, service.identifier_key(rt, "calibrate"))
    if purpose == "upgrade":
        account = await _session_account(connection)
        if account is None:
            return Subject(error=_("登录已失效，请重新登录"))
        if account["level"] >= 4:
            return Subject(error=_("已是四级实名"))
        return Subject(account, None, service.subject_key(rt, account["id"]))
    kind = {"login": LOGIN, "recover": RECOVER, "filing": FILING, "activate": ACTIVATE}.get(purpose)
    if kind is None:
        return Subject(error=_("请求无法处理"))
    flow = await flows.load_flow(rt, connection, kind)
    if flow is None or flow.state != "identified":
        return Subject(error=_("操作已过期，请重新开始"))
    if purpose == "filing":  # signed in, and the flow is this session's account's
        account = await _session_account(connection)
        if account is None or account["id"] != flow.account_id:
            return Subject(error=_("登录已失效，请重新登录"))
        return Subject(account, flow, service.subject_key(rt, account["id"]))
    account = await Account.select().where(Account.id == flow.account_id).first() if flow.account_id else None
    key = service.subject_key(rt, account["id"]) if account else flow.data["subject"]
    return Subject(account, flow, key)


async def _session_account(connection: ASGIConnection) -> dict | None:
    rt = runtime_of(connection)
    active = await sessions.load_session(rt, connection.cookies.get(sessions.cookie_name(rt)))
    if active is None:
        return None
    return await Account.select().where(Account.id == active.account_id).first()


def json_answer(ok: bool, message: str = "", redirect_to: str = "", status: int = 200, **extra) -> Response:
    return Response({"ok": ok, "message": message, "redirect": redirect_to, **extra}, status_code=status)


async def succeed(
    request: Request,
    purpose: str,
    account: dict,
    check,
    context_flow,
    next_path: str,
    outcome_distance: float,
) -> Response:
    rt = runtime_of(request)
    origin = origin_of(request)
    if purpose == "upgrade":
        await service.raise_to_level_4(rt, account["id"], check, origin)
        token = await _renew_session(request, account["id"])
        target = next_path or "/level?done=4"
        response = json_answer(True, _("已提升为四级实名"), target)
        response.set_cookie(session_cookie(request, token))
        return response
    if purpose in service.NOTICES:  # signed out: the phone on record hears of it
        await service.notify_phone_on_record(rt, account["id"], purpose)
    if purpose == "login":
        await flows.finish(rt, context_flow)
        token = await _renew_session(request, account["id"])
        await audit.record("login_ok", rt.clock.now(), origin, account["id"], method="face")
        response = json_answer(True, _("登录成功"), "/account")
        response.set_cookie(session_cookie(request, token))
        return response
    if purpose == "filing":
        return await _decide_filing(request, account, outcome_distance, check, context_flow)
    if purpose == "activate":
        await flows.advance(context_flow, "face_verified")
        await audit.record("activation_face_verified", rt.clock.now(), origin, account["id"])
        return json_answer(True, _("身份核验通过"), "/activate/face")
    await flows.advance(context_flow, "verified")
    await audit.record("recovery_verified", rt.clock.now(), origin, account["id"], method="face")
    return json_answer(True, _("身份核验通过"), "/recover")


async def _decide_filing(request: Request, account: dict, distance: float, check, flow) -> Response:
    from webapp.business.service import REFUSAL_MESSAGES, FaceEvidence, decide

    rt = runtime_of(request)
    reference, decision = flow.data["reference"], flow.data["decision"]
    await flows.finish(rt, flow)
    result = await decide(
        rt, account["id"], reference, decision, FaceEvidence(distance, check.figures), origin_of(request)
    )
    if not result.ok:
        return json_answer(False, _(REFUSAL_MESSAGES[result.refusal]))
    done = _("已确认") if decision == "confirm" else _("已拒绝")
    return json_answer(True, done, f"/business/filings/{reference}")


ROUTES = [
    level_page,
    upgrade_page,
    withdraw_page,
    withdraw,
    dismiss_offer,
    face_login_page,
    face_login_identify,
    recover_page,
    recover_identify,
    recover_sms,
    recover_code,
    recover_reset,
    decide_page,
]
