"""Multi-step flows (activation, password recovery, face scans) as records with a state and an expiry.

The browser holds a random token in an HttpOnly cookie per kind of flow; the database holds its keyed
hash. Each step reads the flow, checks its state, and moves it on; the page is drawn from the state.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie

from webapp.accounts.tables import Flow
from webapp.runtime import Runtime

FLOW_MINUTES = 15


@dataclass
class ActiveFlow:
    id: int
    kind: str
    state: str
    account_id: int | None
    data: dict[str, Any]


def cookie_name(rt: Runtime, kind: str) -> str:
    return f"flow_{kind}" if rt.settings.dev else f"__Host-flow_{kind}"


def _hash(rt: Runtime, token: str) -> str:
    return rt.keyring.keyed_hash("flow", token)


async def start_flow(
    rt: Runtime,
    kind: str,
    state: str,
    account_id: int | None = None,
    minutes: int = FLOW_MINUTES,
    **data: Any,
) -> tuple[ActiveFlow, Cookie]:
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
            expires_at=now + timedelta(minutes=minutes),
        )
    ).returning(Flow.id)
    cookie = Cookie(
        key=cookie_name(rt, kind),
        value=token,
        path="/",
        httponly=True,
        secure=not rt.settings.dev,
        samesite="lax",
        max_age=minutes * 60,
    )
    return ActiveFlow(rows[0]["id"], kind, state, account_id, data), cookie


async def load_flow(rt: Runtime, request: Request, kind: str) -> ActiveFlow | None:
    token = request.cookies.get(cookie_name(rt, kind))
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
    return ActiveFlow(row["id"], row["kind"], row["state"], row["account"], json.loads(row["data"]))


async def advance(flow: ActiveFlow, state: str, **data: Any) -> ActiveFlow:
    flow.data.update(data)
    await Flow.update({Flow.state: state, Flow.data: json.dumps(flow.data)}).where(Flow.id == flow.id)
    flow.state = state
    return flow


async def finish(rt: Runtime, flow: ActiveFlow) -> Cookie:
    """Single use: the record is deleted and the cookie cleared."""
    await Flow.delete().where(Flow.id == flow.id)
    return Cookie(key=cookie_name(rt, flow.kind), value="", path="/", max_age=0, secure=not rt.settings.dev)


async def claim(flow: ActiveFlow, from_state: str, to_state: str) -> bool:
    """Move the flow on only if it is still in from_state: of two parallel submissions, one wins."""
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
