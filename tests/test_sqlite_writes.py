"""SQLite's one writer under load: this process's writers queue in arrival order, a write that gets no
turn in time is a 503 with Retry-After (never a 500), and Argon2 runs at most once per core."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests import factories
from tests.conftest import ENGINE
from tests.support.web import post_form
from tests.test_business_api import api_key, body, post_filing  # noqa: F401 (api_key is a fixture)
from webapp import audit, db
from webapp.accounts import passwords
from webapp.db import write_transaction
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")
sqlite_only = pytest.mark.skipif(ENGINE != "sqlite", reason="the write gate is SQLite's")


async def _note_audit(kind: str) -> None:
    await audit.record(kind, datetime.now(UTC), factories.ORIGIN)


@contextlib.asynccontextmanager
async def writer_holding_the_gate():
    """A write transaction held open by another task (so it does not share this task's context)."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with write_transaction():
            await _note_audit("holder")
            entered.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await entered.wait()
    try:
        yield
    finally:
        release.set()
        await holder


async def _queued(coroutine) -> asyncio.Task:
    """Start a writer and let it reach the queue before the next one starts."""
    task = asyncio.create_task(coroutine)
    await asyncio.sleep(0.05)
    assert not task.done()
    return task


@sqlite_only
async def test_writers_take_their_turns_in_arrival_order():
    async def transaction_writer(kind: str) -> None:
        async with write_transaction():
            await _note_audit(kind)

    async with writer_holding_the_gate():
        waiting = [
            await _queued(transaction_writer("first")),
            await _queued(_note_audit("second, outside a transaction")),
            await _queued(transaction_writer("third")),
        ]
        assert await AuditEvent.count() == 0  # nothing committed: the holder is open, the rest wait
    await asyncio.gather(*waiting)
    rows = await AuditEvent.select(AuditEvent.event).order_by(AuditEvent.id)
    assert [row["event"] for row in rows] == ["holder", "first", "second, outside a transaction", "third"]


@sqlite_only
async def test_reads_do_not_wait_for_the_writer():
    async with writer_holding_the_gate():
        assert await asyncio.wait_for(AuditEvent.count(), 5) == 0  # WAL: the holder's row is not committed


@sqlite_only
async def test_long_lived_connections_see_every_commit_and_their_own_transaction(database):
    """Reads run on a kept connection: they must never see an old snapshot, and a transaction reads what
    it wrote before it commits."""
    assert await AuditEvent.count() == 0  # the reader connection is open from here on
    other_process = sqlite3.connect(Path(database.removeprefix("sqlite:///")), isolation_level=None)
    try:
        other_process.execute(
            "INSERT INTO audit_event (at, event, account_id, ip, user_agent, detail)"
            " VALUES (?, ?, NULL, '', '', '{}')",
            (datetime.now(UTC).isoformat(), "written elsewhere"),
        )
    finally:
        other_process.close()
    assert await AuditEvent.count() == 1
    async with write_transaction():
        await _note_audit("inside")
        assert await AuditEvent.count() == 2  # on the writer: its own uncommitted row
    assert await AuditEvent.count() == 2


@sqlite_only
async def test_a_commit_that_fails_leaves_the_writer_clean():
    """COMMIT refused (a foreign key checked at commit) leaves the transaction open on the connection: the
    writer must not carry it into the next write."""
    with pytest.raises(sqlite3.IntegrityError):
        async with write_transaction():
            await AuditEvent.raw("PRAGMA defer_foreign_keys = ON")
            await AuditEvent.raw(
                "INSERT INTO user_session (token_hash, account, created_at, last_seen_at, expires_at, ip,"
                " user_agent) VALUES ('x', 999999, '2026-01-01', '2026-01-01', '2026-01-01', '', '')"
            )
    await _note_audit("after the failed commit")
    assert await AuditEvent.count() == 1  # committed, seen by a reader


@sqlite_only
async def test_the_connection_reads_run_on_cannot_write():
    await AuditEvent.count()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.engine()._reader().execute("DELETE FROM audit_event")


@sqlite_only
async def test_no_write_turn_in_time_is_a_503_page_with_retry_after(client, monkeypatch):
    monkeypatch.setattr(db.engine().write_gate, "timeout_seconds", 0.2)
    async with writer_holding_the_gate():
        response = await post_form(client, "/login", {"identifier": "13800138000", "password": "Whatever-1"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "服务暂时不可用，请稍后再试" in response.text and "<html" in response.text
    async with writer_holding_the_gate():  # with JavaScript: the alert above the form, the form kept
        response = await post_form(
            client, "/login", {"identifier": "13800138000", "password": "Whatever-1"}, htmx=True
        )
    assert response.status_code == 503 and response.headers["hx-retarget"] == "#page-alert"
    assert "服务暂时不可用，请稍后再试" in response.text and "<html" not in response.text


@sqlite_only
async def test_no_write_turn_in_time_is_a_503_json_answer_on_the_api(rt, client, api_key, monkeypatch):  # noqa: F811
    person = await factories.citizen(rt, "排队")
    monkeypatch.setattr(db.engine().write_gate, "timeout_seconds", 0.2)
    async with writer_holding_the_gate():
        response = await post_filing(client, api_key, body((person, "legal_representative")))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"] == "unavailable"


@sqlite_only
async def test_a_write_lock_held_by_another_process_is_a_503_after_the_busy_timeout(
    client, database, monkeypatch
):
    monkeypatch.setitem(db.engine().connection_kwargs, "timeout", 0.2)
    db.engine().close()  # the next write opens its connection with the short timeout
    other_process = sqlite3.connect(Path(database.removeprefix("sqlite:///")), isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        response = await post_form(client, "/login", {"identifier": "13800138000", "password": "Whatever-1"})
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "服务暂时不可用，请稍后再试" in response.text
    # The writer stays usable once the other process lets go.
    await _note_audit("after the lock")
    assert await AuditEvent.count() == 1


async def test_argon2_runs_at_most_once_per_core(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    running, most = 0, 0
    guard = threading.Lock()

    class CountingHasher:
        def verify(self, stored_hash: str, password: str) -> bool:
            nonlocal running, most
            with guard:
                running += 1
                most = max(most, running)
            time.sleep(0.05)
            with guard:
                running -= 1
            return True

        def check_needs_rehash(self, stored_hash: str) -> bool:
            return False

    monkeypatch.setattr(passwords, "HASHER", CountingHasher())
    answers = await asyncio.gather(
        *(passwords.verify_password("stored", "Secret-123") for _ in range(4 * cores))
    )
    assert answers == [(True, False)] * (4 * cores)
    assert most == cores
