"""Screen 13 (工商注册): 是否办理工商登记注册 with its end date, the 提升实名等级 dialog at level 3, and
the filings that name the signed-in person. Thin handlers; the rules live in webapp.business.service.

The 确认 / 拒绝 buttons of a filing are links to the face-scan page ``/business/filings/{ref}/decide``,
which calls :func:`webapp.business.service.decide`.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.types import ControllerRouterHandler

from webapp.accounts import flows, forms
from webapp.accounts.auth import AccountDep, signed_in_router
from webapp.accounts.flows import FlowKind, State
from webapp.accounts.records import AccountRecord, load_account
from webapp.accounts.views import section_nav
from webapp.audit import Origin
from webapp.business.rules import default_business_until, latest_business_until
from webapp.business.service import (
    REFUSAL_MESSAGES,
    FaceEvidence,
    Refusal,
    business_refusal,
    decide,
    filing_detail_for_account,
    filings_for_account,
    set_business_registration,
)
from webapp.faceflows.purposes import FacePurpose, Passed, json_answer
from webapp.i18n import N_, _
from webapp.runtime import Runtime
from webapp.web import Form, OriginDep, RuntimeDep, redirect, render

BACK_TO_BUSINESS = {"back_to": "/business"}  # a form posted after the session ended comes back here
RESUME_PATH = "/business?resume=1"
UPGRADE_PATH = "/level/upgrade?next=" + quote(RESUME_PATH, safe="/")

SWITCH_ERRORS = {
    Refusal.UNTIL_IN_PAST: "until",
    Refusal.UNTIL_TOO_FAR: "until",
}
HIDDEN_REASONS = {
    Refusal.NEEDS_LEVEL_4: N_("提升为四级实名并选择“是”后，这里会列出需要您确认的工商登记申请。"),
    Refusal.BUSINESS_OFF: N_("选择“是”后，这里会列出需要您确认的工商登记申请。"),
    Refusal.BUSINESS_EXPIRED: N_("工商登记注册已到期，请重新选择“是”并设置截止日期。"),
}
DONE_NOTICES = {"on": N_("已选择办理工商登记注册"), "off": N_("已选择不办理工商登记注册")}


def _choice_and_until(rt: Runtime, account: AccountRecord) -> tuple[str, str]:
    """What the form shows: the stored choice while it holds, else 否 with the default end date."""
    today = rt.clock.today()
    until = account.business_until
    if account.business_registration and until is not None and until >= today:
        return "yes", until.isoformat()
    return "no", default_business_until(today).isoformat()


async def _page(
    request: HTMXRequest,
    rt: Runtime,
    account: AccountRecord,
    *,
    choice: str | None = None,
    until: str | None = None,
    errors: dict[str, str] | None = None,
    dialog: bool = False,
    notice: str = "",
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
) -> Response[Any]:
    today = rt.clock.today()
    stored_choice, stored_until = _choice_and_until(rt, account)
    refusal = business_refusal(account, today)
    expired = (
        account.business_registration
        and account.business_until is not None
        and account.business_until < today
    )
    return render(
        request,
        "business.html",
        "partials/business_step.html",
        status_code=status_code,
        cookies=cookies,
        level=account.level,
        choice=choice or stored_choice,
        until=until if until is not None else stored_until,
        min_until=today.isoformat(),
        max_until=latest_business_until(today).isoformat(),
        errors=errors or {},
        dialog=dialog,
        notice=notice,
        expired_on=account.business_until.isoformat() if expired and account.business_until else "",
        filings=await filings_for_account(rt, account) if refusal is None else [],
        hidden_reason=_(HIDDEN_REASONS.get(refusal, REFUSAL_MESSAGES.get(refusal, ""))) if refusal else "",
        upgrade_url=UPGRADE_PATH,
        nav=section_nav(rt, account, "business"),
    )


@get("/business", include_in_schema=False, opt=BACK_TO_BUSINESS)
async def business_page(
    request: HTMXRequest,
    rt: RuntimeDep,
    origin: OriginDep,
    account: AccountDep,
    done: FromQuery[str] = "",
    resume: FromQuery[str] = "",
) -> Response[Any]:
    if resume:
        return await _resume(request, rt, origin, account)
    notice = _(DONE_NOTICES[done]) if done in DONE_NOTICES else ""
    return await _page(request, rt, account, notice=notice)


async def _resume(request: HTMXRequest, rt: Runtime, origin: Origin, account: AccountRecord) -> Response[Any]:
    """Back from the level-4 face scan: the 是 chosen before it is saved now (once)."""
    flow = await flows.load_flow(rt, request, FlowKind.BUSINESS_SWITCH)
    if (
        flow is None
        or flow.account_id != account.id
        or not await flows.claim(flow, State.AWAITING_LEVEL4, State.DONE)
    ):
        return await _page(request, rt, account)
    done = await flows.finish(rt, flow)
    until = forms.parse_date(str(flow.data.get("until", "")))
    result = await set_business_registration(rt, account.id, True, until, origin)
    account = await load_account(account.id) or account
    if result.ok:
        return await _page(request, rt, account, notice=_(DONE_NOTICES["on"]), cookies=[done])
    if result.refusal is None or result.refusal is Refusal.NEEDS_LEVEL_4:  # came back without the upgrade
        return await _page(request, rt, account, cookies=[done])
    errors = {SWITCH_ERRORS.get(result.refusal, "business"): _(REFUSAL_MESSAGES[result.refusal])}
    return await _page(
        request,
        rt,
        account,
        choice="yes",
        until=until.isoformat() if until else "",
        errors=errors,
        cookies=[done],
    )


def _read_switch(data: dict[str, Any], errors: dict[str, str]) -> tuple[bool | None, date | None, str]:
    choice = forms.text(data, "business", 8)
    raw_until = forms.text(data, "until", 16)
    if choice not in {"yes", "no"}:
        errors["business"] = _("请选择是否办理工商登记注册")
        return None, None, raw_until
    until = None
    if choice == "yes":
        until = forms.parse_date(raw_until) if raw_until.strip() else None
        if raw_until.strip() and until is None:
            errors["until"] = _("请输入正确的截止日期")
    return choice == "yes", until, raw_until


@post("/business/switch", include_in_schema=False, opt=BACK_TO_BUSINESS)
async def business_switch(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    errors: dict[str, str] = {}
    enabled, until, raw_until = _read_switch(data, errors)
    choice = {True: "yes", False: "no"}.get(enabled, "") if enabled is not None else ""
    if errors or enabled is None:
        return await _page(request, rt, account, choice=choice, until=raw_until, errors=errors)
    result = await set_business_registration(rt, account.id, enabled, until, origin)
    shown_until = result.until.isoformat() if result.until else raw_until
    if result.refusal is Refusal.NEEDS_LEVEL_4:
        return await _page(request, rt, account, choice="yes", until=shown_until, dialog=True)
    if result.refusal is not None:
        errors[SWITCH_ERRORS.get(result.refusal, "business")] = _(REFUSAL_MESSAGES[result.refusal])
        return await _page(request, rt, account, choice=choice, until=shown_until, errors=errors)
    return redirect(request, f"/business?done={'on' if enabled else 'off'}")


@post("/business/upgrade", include_in_schema=False, opt=BACK_TO_BUSINESS)
async def business_upgrade(
    request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep, account: AccountDep
) -> Response[Any]:
    """确定 in the 提升实名等级 dialog: keep the 是 and its end date, then go to the level-4 face scan,
    which comes back to /business?resume=1. (取消 is a plain link back: nothing is kept.)"""
    errors: dict[str, str] = {}
    _enabled, until, raw_until = _read_switch({**data, "business": "yes"}, errors)
    if errors:
        return await _page(request, rt, account, choice="yes", until=raw_until, errors=errors)
    if account.level >= 4:  # upgraded meanwhile (another tab): save right away
        result = await set_business_registration(rt, account.id, True, until, origin)
        if result.refusal is None:
            return redirect(request, "/business?done=on")
        errors[SWITCH_ERRORS.get(result.refusal, "business")] = _(REFUSAL_MESSAGES[result.refusal])
        return await _page(request, rt, account, choice="yes", until=raw_until, errors=errors)
    _flow, cookie = await flows.start_flow(
        rt,
        FlowKind.BUSINESS_SWITCH,
        State.AWAITING_LEVEL4,
        account.id,
        until=until.isoformat() if until else "",
    )
    return redirect(request, UPGRADE_PATH, cookies=[cookie])


@get("/business/filings/{ref:str}", include_in_schema=False)
async def filing_page(
    request: HTMXRequest, ref: FromPath[str], rt: RuntimeDep, account: AccountDep
) -> Response[Any]:
    if business_refusal(account, rt.clock.today()) is not None:
        return redirect(request, "/business")
    detail = await filing_detail_for_account(rt, account, ref)
    if detail is None:
        raise NotFoundException()
    return render(
        request,
        "filing.html",
        "partials/filing_step.html",
        filing=detail,
        confirm_url=f"/business/filings/{quote(detail.reference)}/decide?decision=confirm",
        decline_url=f"/business/filings/{quote(detail.reference)}/decide?decision=decline",
        nav=section_nav(rt, account, "business"),
    )


@get("/business/filings/{reference:str}/decide", include_in_schema=False)
async def decide_page(
    request: HTMXRequest,
    reference: FromPath[str],
    rt: RuntimeDep,
    account: AccountDep,
    decision: FromQuery[str] = "confirm",
) -> Response[Any]:
    """确认 or 拒绝 a filing: each needs a fresh face scan against the account's own template."""
    detail = await filing_detail_for_account(rt, account, reference)
    if detail is None or decision not in {"confirm", "decline"} or not detail.needs_action:
        return redirect(request, "/business")
    _flow, cookie = await flows.start_flow(
        rt,
        FlowKind.FILING_DECISION,
        State.IDENTIFIED,
        account.id,
        reference=reference,
        decision=decision,
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


async def decision_passed(passed: Passed) -> Response[Any]:
    """The scan matched: the decision is made, with the scan's figures as its evidence."""
    assert passed.flow is not None  # the purpose needs its flow
    rt, flow = passed.rt, passed.flow
    reference, decision = flow.data["reference"], flow.data["decision"]
    await flows.finish(rt, flow)
    evidence = FaceEvidence(passed.distance, passed.check.figures)
    result = await decide(rt, passed.account.id, reference, decision, evidence, passed.origin)
    if result.refusal is not None:
        return json_answer(False, _(REFUSAL_MESSAGES[result.refusal]))
    done = _("已确认") if decision == "confirm" else _("已拒绝")
    return json_answer(True, done, f"/business/filings/{reference}")


FACE_PURPOSES = [FacePurpose("filing", decision_passed, flow_kind=FlowKind.FILING_DECISION, signed_in=True)]
ROUTES: list[ControllerRouterHandler] = [
    signed_in_router(business_page, business_switch, business_upgrade, filing_page, decide_page)
]
