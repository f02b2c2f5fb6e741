"""A fresh check of the signed-in person before something grave (个人信息副本, 注销账号): the login password
again, or at level 4 a face scan. A passed check is a flow in this browser, valid for its kind's lifetime
(FLOWS: 10 minutes). :func:`fresh_check` makes a page's two ways to pass it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.handlers import HTTPRouteHandler
from litestar.plugins.htmx import HTMXRequest

from webapp import audit
from webapp.accounts import flows, forms
from webapp.accounts.auth import AccountDep, device_of
from webapp.accounts.flows import FlowKind, State
from webapp.accounts.records import AccountRecord
from webapp.accounts.service import password_attempt
from webapp.accounts.views import login_error
from webapp.faceflows.purposes import FacePurpose, Passed, json_answer
from webapp.i18n import N_, _
from webapp.runtime import Runtime
from webapp.web import Form, OriginDep, RuntimeDep, redirect, render

# The page again, with the password form's errors and status
Redraw = Callable[[HTMXRequest, Runtime, AccountRecord, dict[str, str], int], Awaitable[Response[Any]]]


@dataclass(frozen=True)
class FreshCheck:
    routes: list[HTTPRouteHandler]  # POST {page}/password, GET {page}/face: signed-in routes
    face_purpose: FacePurpose


def fresh_check(page: str, kind: FlowKind, title: str, intro: str, redraw: Redraw) -> FreshCheck:
    """The two ways to pass ``kind``'s check before ``page``, each leading back to it: the password
    (``redraw`` shows its errors) and, at level 4, a face scan under ``title`` and ``intro`` (msgids,
    translated per request); the face purpose is named after the kind."""

    @post(f"{page}/password")
    async def by_password(
        request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep, account: AccountDep
    ) -> Response[Any]:
        errors, status, cookie = await check_password(request, rt, account, data, origin, kind)
        if cookie is None:
            return await redraw(request, rt, account, errors, status)
        return redirect(request, page, cookies=[cookie])

    @get(f"{page}/face")
    async def by_face(request: HTMXRequest, account: AccountDep) -> Response[Any]:
        if account.level < 4:
            return redirect(request, page)
        return render(
            request,
            "face_scan.html",
            purpose=str(kind),
            title=_(title),
            back=page,
            consent_needed=account.face_consent_at is None,
            next="",
            intro=_(intro),
        )

    purpose = FacePurpose(str(kind), face_passed(kind, page), signed_in=True, refusal=needs_a_face_on_record)
    return FreshCheck([by_password, by_face], purpose)


async def passed_check(
    request: HTMXRequest, rt: Runtime, account: AccountRecord, kind: FlowKind
) -> flows.ActiveFlow | None:
    """This browser's passed check of ``kind`` for this account, within its lifetime."""
    flow = await flows.load_in(rt, request, kind, State.VERIFIED)
    return flow if flow is not None and flow.account_id == account.id else None


async def check_password(
    request: HTMXRequest,
    rt: Runtime,
    account: AccountRecord,
    data: dict[str, Any],
    origin: audit.Origin,
    kind: FlowKind,
) -> tuple[dict[str, str], int, Cookie | None]:
    """The password again, counted like a login: the form's errors and status, or the passed check's
    cookie."""
    password = forms.text(data, "password", 128)
    if not password:
        return forms.translated({"password": N_("请输入密码")}), 200, None
    device = device_of(rt, request)
    result = await password_attempt(rt, account, password, origin, str(kind), device_cookie=device)
    if not result.ok:
        errors = login_error(result, rt.clock.now())
        return errors, 429 if errors.pop("throttled", "") else 200, None
    _flow, cookie = await flows.start_flow(rt, kind, State.VERIFIED, account.id)
    return {}, 200, cookie


def face_passed(kind: FlowKind, page: str) -> Callable[[Passed], Awaitable[Response[Any]]]:
    """A face purpose's success: the passed check, then back to ``page``."""

    async def passed(scan: Passed) -> Response[Any]:
        _flow, cookie = await flows.start_flow(scan.rt, kind, State.VERIFIED, scan.account.id)
        response = json_answer(True, _("核验通过"), page)
        response.set_cookie(cookie)
        return response

    return passed


def needs_a_face_on_record(account: AccountRecord) -> str:
    return "" if account.level >= 4 else _("四级实名用户才可使用人脸验证，请使用密码验证")
