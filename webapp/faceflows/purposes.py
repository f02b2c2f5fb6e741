"""What a face scan is for. Each domain declares its purposes next to its own screens (a list named
``FACE_PURPOSES`` in its route module, collected by the app factory): who may scan, which flow the scan
belongs to, and what a passed scan does. The scan itself (:mod:`webapp.faceflows.stream`) knows no
purpose by name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie

from webapp.accounts import flows
from webapp.accounts.auth import signed_in_account
from webapp.accounts.flows import FlowKind, State
from webapp.accounts.records import AccountRecord, load_account
from webapp.audit import Origin
from webapp.face.check import FaceCheck
from webapp.faceflows import service
from webapp.i18n import _
from webapp.runtime import Runtime
from webapp.web import runtime_of


@dataclass(frozen=True)
class Passed:
    """A passed scan, handed to its purpose's success."""

    request: Request[Any, Any, Any]
    rt: Runtime
    origin: Origin
    account: AccountRecord
    check: FaceCheck
    flow: flows.ActiveFlow | None  # the flow the scan belongs to (None for a purpose without one)
    next_path: str
    distance: float | None


@dataclass(frozen=True)
class FacePurpose:
    """``flow_kind``: the flow, in state ``identified``, that a scan must belong to (None: the scan
    needs none). ``signed_in``: the subject is the session's account (and the flow's, when there is
    one); else the flow's account, or the identifier's keyed hash when it names nobody. ``refusal``
    may refuse a signed-in account (an upgrade of a level-4 account). ``notice``: what the phone on
    record hears after a signed-out success. ``matched``: False only for the dev calibration, which
    measures liveness and matches nobody. Consent is asked at every signed-out scan and once (then
    recorded) for a signed-in account."""

    name: str
    succeed: Callable[[Passed], Awaitable[Response[Any]]]
    flow_kind: FlowKind | None = None
    signed_in: bool = False
    refusal: Callable[[AccountRecord], str] = lambda account: ""
    notice: str = ""
    matched: bool = True
    dev_only: bool = False


def registry(purposes: Iterable[FacePurpose]) -> dict[str, FacePurpose]:
    table: dict[str, FacePurpose] = {}
    for purpose in purposes:
        if purpose.name in table:
            raise ValueError(f"face purpose {purpose.name} declared twice")
        table[purpose.name] = purpose
    return table


def purposes_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Mapping[str, FacePurpose]:
    table: Mapping[str, FacePurpose] = connection.app.state.face_purposes
    return table


@dataclass(frozen=True)
class Subject:
    """Whom a scan for a purpose matches (``account``, None for an identifier that names nobody), the
    flow that names them, the key their attempts count under, or why no scan is possible."""

    purpose: FacePurpose | None = None
    account: AccountRecord | None = None
    flow: flows.ActiveFlow | None = None
    key: str = ""
    error: str = ""

    def current_scan(self, scan_id: int) -> bool:
        """One open scan per flow: only the flow's latest scan may stream."""
        return self.flow is None or self.flow.data.get("scan") == scan_id


async def subject_of(connection: ASGIConnection[Any, Any, Any, Any], name: str) -> Subject:
    rt = runtime_of(connection)
    purpose = purposes_of(connection).get(name)
    if purpose is None or (purpose.dev_only and not rt.settings.dev):
        return Subject(error=_("请求无法处理"))
    flow = None
    if purpose.flow_kind is not None:
        flow = await flows.load_flow(rt, connection, purpose.flow_kind)
        if flow is None or flow.state != State.IDENTIFIED:
            return Subject(error=_("操作已过期，请重新开始"))
    if purpose.signed_in:
        account = await signed_in_account(connection)
        if account is None or (flow is not None and account.id != flow.account_id):
            return Subject(error=_("登录已失效，请重新登录"))
        refusal = purpose.refusal(account)
        if refusal:
            return Subject(error=refusal)
        return Subject(purpose, account, flow, service.subject_key(rt, account.id))
    if flow is None:  # nobody to match (the dev calibration)
        return Subject(purpose, None, None, service.identifier_key(rt, purpose.name))
    account = await load_account(flow.account_id) if flow.account_id else None
    key = service.subject_key(rt, account.id) if account else flow.data["subject"]
    return Subject(purpose, account, flow, key)


async def identified_for_scan(
    rt: Runtime, kind: FlowKind, account: AccountRecord | None, identifier: str, **data: Any
) -> Cookie:
    """The flow a signed-out scan belongs to, started alike whether or not ``identifier`` names an
    account: a scan for nobody counts its attempts under the identifier's keyed hash and fails like a
    face that does not match."""
    _flow, cookie = await flows.start_flow(
        rt, kind, State.IDENTIFIED, account.id if account else None,
        subject=service.identifier_key(rt, identifier), **data,
    )  # fmt: skip
    return cookie


def json_answer(
    ok: bool, message: str = "", redirect_to: str = "", status: int = 200, **extra: Any
) -> Response[Any]:
    return Response({"ok": ok, "message": message, "redirect": redirect_to, **extra}, status_code=status)
