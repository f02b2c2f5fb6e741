"""The database engine: SQLite (embedded default, WAL) or PostgreSQL, bound to every table at start."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType
from piccolo.querystring import QueryString
from piccolo.table import Table

from webapp.loops import PerLoop
from webapp.settings import Settings

SQLITE_BUSY_TIMEOUT_SECONDS = 30
RETRY_AFTER_SECONDS = 5
READ_ONLY_STATEMENTS = ("SELECT", "PRAGMA", "EXPLAIN")
log = logging.getLogger(__name__)


class WriteGate:
    """One FIFO queue of this process's SQLite writers, per event loop.

    SQLite has one writer at a time, and its busy handler retries by sleeping, not in arrival order: under
    load (Argon2 saturating the cores) an unlucky writer could wait out the whole busy timeout while later
    ones got through. Queueing the writers here first gives each its turn in order; SQLite's own busy
    timeout is then only met by writers in other processes.
    """

    def __init__(self, timeout_seconds: float):
        self.timeout_seconds = timeout_seconds
        self._lock = PerLoop(asyncio.Lock)

    async def acquire(self) -> None:
        try:
            await asyncio.wait_for(self._lock.get().acquire(), self.timeout_seconds)
        except TimeoutError as error:
            raise DatabaseBusy("no write turn within the busy timeout") from error

    def release(self) -> None:
        self._lock.get().release()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()


class GatedTransaction(SQLiteTransaction):
    """A write transaction (IMMEDIATE or EXCLUSIVE) that waits for its turn at the gate first."""

    engine: GatedSQLiteEngine

    def __init__(
        self,
        engine: GatedSQLiteEngine,
        transaction_type: TransactionType = TransactionType.deferred,
        allow_nested: bool = True,
    ):
        super().__init__(engine, transaction_type=transaction_type, allow_nested=allow_nested)
        self._holds_turn = False

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is None and self.transaction_type is not TransactionType.deferred:
            await self.engine.write_gate.acquire()
            self._holds_turn = True
        try:
            return await super().__aenter__()
        except BaseException:  # e.g. BEGIN refused after the busy timeout: Piccolo leaves the connection
            connection = getattr(self, "connection", None)  # open, and its thread would outlive the loop
            if connection is not None:
                await connection.close()
            self._leave_gate()
            raise

    async def __aexit__(
        self,
        exception_type: type[BaseException] | None,
        exception: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        try:
            return await super().__aexit__(exception_type, exception, traceback)
        finally:
            self._leave_gate()

    def _leave_gate(self) -> None:
        if self._holds_turn:
            self._holds_turn = False
            self.engine.write_gate.release()


class GatedSQLiteEngine(SQLiteEngine):
    """SQLite whose writers in this process queue at one :class:`WriteGate`: write transactions, and
    single writing statements outside a transaction (audit rows, session inserts)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.write_gate = WriteGate(SQLITE_BUSY_TIMEOUT_SECONDS)

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        return GatedTransaction(self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def run_querystring(  # Piccolo's own returns are untyped: Any
        self, querystring: QueryString, in_pool: bool = False
    ) -> Any:
        sql, _ = querystring.compile_string(engine_type=self.engine_type)
        if self.current_transaction.get() or _reads_only(sql):
            return await super().run_querystring(querystring, in_pool)
        async with self.write_gate.turn():
            return await super().run_querystring(querystring, in_pool)

    async def run_ddl(self, ddl: str, in_pool: bool = False) -> Any:  # Piccolo's own is untyped
        if self.current_transaction.get():
            return await super().run_ddl(ddl, in_pool)
        async with self.write_gate.turn():
            return await super().run_ddl(ddl, in_pool)


def _reads_only(sql: str) -> bool:
    return sql.lstrip().upper().startswith(READ_ONLY_STATEMENTS)


def make_engine(database_url: str) -> Engine[Any]:
    if database_url.startswith("sqlite:"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return GatedSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    parts = urlsplit(database_url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError("unsupported database URL scheme")
    return PostgresEngine(config={"dsn": database_url}, log_queries=False)


def _prepare_sqlite_file(path: Path) -> None:
    """WAL lets readers run beside the one writer; the setting is stored in the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


_bound: Engine[Any] | None = None


def bind(engine: Engine[Any], tables: Sequence[type[Table]]) -> None:
    """Point these tables (``webapp.piccolo_app.bind`` hands in all of them) at this engine."""
    global _bound
    if isinstance(engine, SQLiteEngine):
        _prepare_sqlite_file(Path(engine.path))
    _bound = engine
    for table in tables:
        table._meta.db = engine


def engine() -> Engine[Any]:
    """The bound engine; before any, the one ``WEBAPP_DATABASE_URL`` names (as Piccolo's own tools see)."""
    global _bound
    if _bound is None:
        _bound = make_engine(os.environ.get("WEBAPP_DATABASE_URL", Settings.database_url))
    return _bound


async def ensure_pool() -> None:
    """PostgreSQL: a connection pool per process. A database that is down at start does not stop the
    service from starting (it answers 503 until the database is back)."""
    current = engine()
    if isinstance(current, PostgresEngine) and current.pool is None:
        try:
            await current.start_connection_pool(min_size=1, max_size=10)
        except (OSError, asyncpg.PostgresError) as error:
            log.warning("database connection pool not started: %s", type(error).__name__)


async def close_pool(grace_seconds: float = 5.0) -> None:
    """Close the pool at shutdown; connections still out after the grace time are cut."""
    current = engine()
    if isinstance(current, PostgresEngine) and current.pool is not None:
        pool = current.pool
        try:
            await asyncio.wait_for(pool.close(), grace_seconds)
        except TimeoutError:
            log.warning("database connections still in use at shutdown: terminated")
            pool.terminate()
        current.pool = None


def is_sqlite() -> bool:
    return isinstance(engine(), SQLiteEngine)


@contextlib.asynccontextmanager
async def write_transaction(*lock_keys: str) -> AsyncIterator[None]:
    """A transaction for read-check-write sequences.

    SQLite: BEGIN IMMEDIATE takes the single write lock up front, so two checks can never interleave.
    PostgreSQL: transaction-scoped advisory locks on ``lock_keys`` serialise the writers of one subject
    (one phone, one ID number) across every app process, while others proceed in parallel.
    """
    current = engine()
    if isinstance(current, SQLiteEngine):
        async with current.transaction(transaction_type=TransactionType.immediate):
            yield
        return
    async with current.transaction():
        for key in sorted(set(lock_keys)):
            await current.run_querystring(QueryString("SELECT pg_advisory_xact_lock({})", _lock_number(key)))
        yield


def _lock_number(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class DatabaseBusy(RuntimeError):
    """No write turn within the busy timeout: the service answers 503 with Retry-After."""


UNAVAILABLE = (
    ConnectionError,
    DatabaseBusy,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
)


def is_unavailable(exc: BaseException) -> bool:
    """The database is unreachable, refusing connections, or too busy to take a write in time (not: a bad
    query of ours). Such a request gets 503 with Retry-After."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, UNAVAILABLE):
            return True
        if isinstance(seen, sqlite3.OperationalError) and "database is locked" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
