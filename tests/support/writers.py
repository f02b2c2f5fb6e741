"""Writing to a database from outside the app while something else (a backup) reads it."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading

import asyncpg


async def fetch(url: str, sql: str) -> list[tuple]:
    """The rows of one query, on a connection of its own (SQLite file or PostgreSQL URL)."""
    if url.startswith("sqlite:"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            return connection.execute(sql).fetchall()
    connection = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await connection.fetch(sql)]
    finally:
        await connection.close()


class PairWriter(threading.Thread):
    """Commits, as fast as it can, transaction n holding two rows: rate_event ``probe-n`` and an audit
    event whose user agent is ``probe-n``. A consistent copy holds both rows of each n, for n = 1..N."""

    def __init__(self, url: str, keep_commits_in_wal: bool = False):
        """keep_commits_in_wal (SQLite): never checkpoint, as a busy service may not for a while, so a copy
        of the database file alone would miss every commit."""
        super().__init__(daemon=True)
        self.url = url
        self.keep_commits_in_wal = keep_commits_in_wal
        self.committed = 0
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            if self.url.startswith("sqlite:"):
                self._sqlite()
            else:
                asyncio.run(self._postgres())
        except BaseException as error:
            self.error = error

    def _sqlite(self) -> None:
        connection = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=30)
        if self.keep_commits_in_wal:
            connection.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            while not self.halt.is_set():
                n = self.committed + 1
                with connection:
                    connection.execute(
                        "INSERT INTO rate_event (key, at) VALUES (?, '2026-03-02 01:00:00+00:00')",
                        (f"probe-{n}",),
                    )
                    connection.execute(
                        "INSERT INTO audit_event (at, event, account_id, ip, user_agent, detail) "
                        "VALUES ('2026-03-02 01:00:00+00:00', 'probe', NULL, '', ?, '{}')",
                        (f"probe-{n}",),
                    )
                self.committed = n
        finally:
            connection.close()

    async def _postgres(self) -> None:
        connection = await asyncpg.connect(self.url)
        try:
            while not self.halt.is_set():
                n = self.committed + 1
                async with connection.transaction():
                    await connection.execute(
                        "INSERT INTO rate_event (key, at) VALUES ($1, now())", f"probe-{n}"
                    )
                    await connection.execute(
                        "INSERT INTO audit_event (at, event, account_id, ip, user_agent, detail) "
                        "VALUES (now(), 'probe', NULL, '', $1, '{}')",
                        f"probe-{n}",
                    )
                self.committed = n
        finally:
            await connection.close()
