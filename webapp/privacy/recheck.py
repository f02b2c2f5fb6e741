"""A fresh check of the signed-in person before something grave (个人信息副本, 注销账号): the login password
again, or at level 4 a face scan. A passed check is a flow in this browser, valid for its kind's lifetime
(FLOWS: 10 minutes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Response
from litestar.datastructures import Cookie
from litestar.plugins.htmx import HTMXRequest

from webapp import audit
from webapp.accounts import flows, forms
from webapp.accounts.auth import device_of
from webapp.accounts.flows import FlowKind, State
from webapp.accounts.records import AccountRecord
from webapp.accounts.service import password_attempt
from webapp.accounts.views import login_error
from webapp.faceflows.purposes import Passed, json_answer
from webapp.i18n import N_, _
from webapp.runtime import Runtime


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
