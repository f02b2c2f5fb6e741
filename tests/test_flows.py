"""Flows as declared records: a kind starts only in its start states, moves only along its declared
transitions, and lives as long as its kind's lifetime says (webapp.accounts.flows)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from webapp.accounts import flows
from webapp.accounts.flows import FLOWS, FlowError, FlowKind, State
from webapp.accounts.tables import Flow

pytestmark = pytest.mark.usefixtures("database")


def test_every_kind_is_declared_with_a_lifetime():
    assert set(FLOWS) == set(FlowKind)
    assert all(timedelta(0) < spec.lifetime <= timedelta(minutes=30) for spec in FLOWS.values())
    assert FLOWS[FlowKind.FACE_SCAN].lifetime == timedelta(minutes=3)


async def test_a_flow_starts_only_in_a_start_state(rt):
    with pytest.raises(FlowError):
        await flows.start_flow(rt, FlowKind.RECOVER, State.DONE, 1)
    assert await Flow.count() == 0


async def test_a_flow_moves_only_along_its_declared_transitions(rt):
    flow, cookie = await flows.start_flow(rt, FlowKind.ACTIVATE, State.IDENTIFIED, None, subject="x")
    row = await Flow.select().first()
    assert row["expires_at"] == rt.clock.now() + timedelta(minutes=15) and cookie.max_age == 15 * 60
    await flows.advance(flow, State.IDENTIFIED, scan=7)  # the same state: remembers more
    with pytest.raises(FlowError):
        await flows.advance(flow, State.PHONE_VERIFIED)  # not before the face matched
    with pytest.raises(FlowError):
        await flows.claim(flow, State.IDENTIFIED, State.DONE)
    await flows.advance(flow, State.FACE_VERIFIED)
    await flows.advance(flow, State.PHONE_VERIFIED)
    assert await flows.claim(flow, State.PHONE_VERIFIED, State.DONE)
    assert not await flows.claim(flow, State.PHONE_VERIFIED, State.DONE)  # once
    stored = await Flow.select(Flow.state, Flow.data).first()
    assert stored["state"] == "done" and json.loads(stored["data"]) == {"subject": "x", "scan": 7}
