"""Multi-step flows (registration, activation, password recovery, face scans, ...) as records with a
declared kind, states, transitions and lifetime, in the manner of Ory Kratos.

The browser holds a random token in an HttpOnly cookie per kind of flow; the database holds its keyed
hash. Each step reads the flow, checks its state, and moves it on; the page is drawn from the state.
A flow starts only in one of its kind's start states and moves only along its declared transitions
(or stays, to remember more); anything else is a bug and raises :class:`FlowError`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie

from webapp.accounts.tables import Flow
from webapp.runtime import Runtime


class FlowKind(StrEnum):
    REGISTER = "register"  # 注册: a code sent to the new phone from this browser, then the account
    ACTIVATE = "activate"  # 激活账号: by the phone on record, or by face and a new phone
    RECOVER = "recover"  # 忘记密码: by face or by the phone on record, then a new password
    FACE_LOGIN = "face_login"  # 人脸登录: the identifier, then a scan
    CHANGE_PHONE = "change_phone"  # 修改手机号: the password again, then the new phone
    BUSINESS_SWITCH = "business_switch"  # 是 chosen at level 3, applied after the level-4 scan
    FILING_DECISION = "filing_decision"  # 确认/拒绝 a filing, then a scan
    FACE_SCAN = "face"  # one issued, streaming or passed face scan
    PERSONAL_DATA = "personal_data"  # 个人信息副本: a fresh password or face check, then the copy
    DELETION = "deletion"  # 注销账号: a fresh password or face check, then the request


class State(StrEnum):
    CODE_SENT = "code_sent"
    IDENTIFIED = "identified"
    FACE_VERIFIED = "face_verified"
    PHONE_VERIFIED = "phone_verified"
    VERIFIED = "verified"
    PASSWORD_OK = "password_ok"  # noqa: S105  (a state's name, not a password)
    AWAITING_LEVEL4 = "awaiting_level4"
    ISSUED = "issued"
    STREAMING = "streaming"
    PASSED = "passed"
    DONE = "done"  # claimed by the step that ends the flow, before it is deleted


@dataclass(frozen=True)
class FlowSpec:
    lifetime: timedelta
    starts: frozenset[State]
    moves: frozenset[tuple[State, State]] = frozenset()


def _spec(minutes: int, starts: set[State], *path: tuple[State, State]) -> FlowSpec:
    return FlowSpec(timedelta(minutes=minutes), frozenset(starts), frozenset(path))


S = State
FLOWS: dict[FlowKind, FlowSpec] = {
    FlowKind.REGISTER: _spec(15, {S.CODE_SENT}, (S.CODE_SENT, S.DONE)),
    FlowKind.ACTIVATE: _spec(
        15,
        {S.IDENTIFIED, S.PHONE_VERIFIED},
        (S.IDENTIFIED, S.FACE_VERIFIED),
        (S.FACE_VERIFIED, S.PHONE_VERIFIED),
        (S.PHONE_VERIFIED, S.DONE),
    ),
    FlowKind.RECOVER: _spec(15, {S.IDENTIFIED, S.VERIFIED}, (S.IDENTIFIED, S.VERIFIED), (S.VERIFIED, S.DONE)),
    FlowKind.FACE_LOGIN: _spec(15, {S.IDENTIFIED}),
    FlowKind.CHANGE_PHONE: _spec(10, {S.PASSWORD_OK}),
    FlowKind.BUSINESS_SWITCH: _spec(30, {S.AWAITING_LEVEL4}, (S.AWAITING_LEVEL4, S.DONE)),
    FlowKind.FILING_DECISION: _spec(10, {S.IDENTIFIED}),
    FlowKind.PERSONAL_DATA: _spec(10, {S.VERIFIED}),
    FlowKind.DELETION: _spec(10, {S.VERIFIED}),
    FlowKind.FACE_SCAN: _spec(
        3, {S.ISSUED}, (S.ISSUED, S.STREAMING), (S.STREAMING, S.PASSED), (S.PASSED, S.DONE)
    ),
}


class FlowError(RuntimeError):
    """A start or a move the flow's kind does not declare."""


@dataclass
class ActiveFlow:
    id: int
    kind: FlowKind
    state: State
    account_id: int | None
    data: dict[str, Any]


def _check_move(flow: ActiveFlow, to_state: State) -> None:
    if to_state != flow.state and (flow.state, to_state) not in FLOWS[flow.kind].moves:
        raise FlowError(f"{flow.kind}: no move from {flow.state} to {to_state}")


def cookie_name(rt: Runtime, kind: FlowKind) -> str:
    return f"flow_{kind}" if rt.settings.dev else f"__Host-flow_{kind}"


def _hash(rt: Runtime, token: str) -> str:
    return rt.keyring.keyed_hash("flow", token)


async def start_flow(
    rt: Runtime, kind: FlowKind, state: State, account_id: int | None = None, **data: Any
) -> tuple[ActiveFlow, Cookie]:
    """A new flow of ``kind`` in one of its start states, for its declared lifetime, and its cookie."""
    spec = FLOWS[kind]
    if state not in spec.starts:
        raise FlowError(f"{kind} does not start in {state}")
    token = secrets.token_urlsafe(32)
    now = rt.clock.now()
    rows = await Flow.insert(
        Flow(
            token_hash=_hash(rt, token),
            kind=kind,
            state=state,
            account=account_id,
            data=json.dumps(data),
            created_at=now,
            expires_at=now + spec.lifetime,
        )
    ).returning(Flow.id)
    cookie = Cookie(
        key=cookie_name(rt, kind),
        value=token,
        path="/",
        httponly=True,
        secure=not rt.settings.dev,
        samesite="lax",
        max_age=int(spec.lifetime.total_seconds()),
    )
    return ActiveFlow(rows[0]["id"], kind, state, account_id, data), cookie


async def load_flow(
    rt: Runtime, connection: ASGIConnection[Any, Any, Any, Any], kind: FlowKind
) -> ActiveFlow | None:
    token = connection.cookies.get(cookie_name(rt, kind))
    if not token or len(token) > 100:
        return None
    row = (
        await Flow.select()
        .where(
            (Flow.token_hash == _hash(rt, token)) & (Flow.kind == kind) & (Flow.expires_at > rt.clock.now())
        )
        .first()
    )
    if row is None:
        return None
    return ActiveFlow(row["id"], kind, State(row["state"]), row["account"], json.loads(row["data"]))


async def load_in(
    rt: Runtime, connection: ASGIConnection[Any, Any, Any, Any], kind: FlowKind, state: State
) -> ActiveFlow | None:
    """The browser's flow of ``kind`` if it is in ``state``."""
    flow = await load_flow(rt, connection, kind)
    return flow if flow is not None and flow.state == state else None


async def advance(flow: ActiveFlow, state: State, **data: Any) -> ActiveFlow:
    """Move the flow on (or, to the same state, remember more)."""
    _check_move(flow, state)
    flow.data.update(data)
    await Flow.update({Flow.state: state, Flow.data: json.dumps(flow.data)}).where(Flow.id == flow.id)
    flow.state = state
    return flow


async def finish(rt: Runtime, flow: ActiveFlow) -> Cookie:
    """Single use: the record is deleted and the cookie cleared."""
    await Flow.delete().where(Flow.id == flow.id)
    return Cookie(key=cookie_name(rt, flow.kind), value="", path="/", max_age=0, secure=not rt.settings.dev)


async def claim(flow: ActiveFlow, from_state: State, to_state: State) -> bool:
    """Move the flow on only if it is still in from_state: of two parallel submissions, one wins."""
    _check_move(ActiveFlow(flow.id, flow.kind, from_state, flow.account_id, flow.data), to_state)
    rows = (
        await Flow.update({Flow.state: to_state})
        .where((Flow.id == flow.id) & (Flow.state == from_state))
        .returning(Flow.id)
    )
    if rows:
        flow.state = to_state
    return bool(rows)


async def purge(rt: Runtime) -> int:
    deleted = await Flow.delete().where(Flow.expires_at < rt.clock.now()).returning(Flow.id)
    return len(deleted)
