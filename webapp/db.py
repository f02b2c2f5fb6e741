"""The database engine: SQLite (embedded default, WAL) or PostgreSQL, bound to every table at start."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.querystring import QueryString
from piccolo.table import Table

from webapp.loops import PerLoop
from webapp.settings import Settings

SQLITE_BUSY_TIMEOUT_SECONDS = 30
RETRY_AFTER_SECONDS = 5
READER_BUSY_TIMEOUT_MS = 1000  # a WAL reader waits only in rare moments (recovery): never long, on the loop
READ_ONLY_STATEMENTS = ("SELECT", "EXPLAIN")
WRITER_THREAD_NAME = "sqlite-writer"
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
        try:  # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that meets the lock
            async with asyncio.timeout(self.timeout_seconds):
                await self._lock.get().acquire()
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


class SQLiteWriter:
    """This loop's one writing connection, on a thread of its own: a write may wait for SQLite's lock
    (another process holds it) without stopping the loop. Every write and every transaction runs here, one
    hop per statement."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]):
        self._connect = connect
        self._connection: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=WRITER_THREAD_NAME)

    def _run(self, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        if self._connection is None:
            self._connection = self._connect()
        return _fetch_all(self._connection, sql, args)

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._run, sql, args)

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()  # an open transaction is rolled back
            self._connection = None

    async def discard(self) -> None:
        """Close the connection (the next statement opens another): after a COMMIT or ROLLBACK that failed,
        the transaction may still be open on it."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_connection)

    def close(self) -> None:
        self._thread.submit(self._close_connection)
        self._thread.shutdown(wait=True)


class SQLiteWriteTransaction(SQLiteTransaction):
    """A transaction on this loop's writer, after waiting for its turn at the gate (the writer holds one
    transaction at a time, so deferred ones queue too)."""

    engine: PooledSQLiteEngine

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        await self.engine.write_gate.acquire()
        try:
            self.connection = self.engine.writer()
            await self.begin()
        except BaseException:
            self.engine.write_gate.release()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def begin(self) -> None:
        await self.connection.execute(f"BEGIN {self.transaction_type.value}")

    async def commit(self) -> None:
        await self.connection.execute("COMMIT")
        self._committed = True

    async def rollback(self) -> None:
        await self.connection.execute("ROLLBACK")
        self._rolled_back = True

    async def __aexit__(
        self,
        exception_type: type[BaseException] | None,
        exception: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if self._parent is not None:
            return exception is None
        writer: SQLiteWriter = self.connection
        try:
            if exception is not None:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        except BaseException:
            await writer.discard()
            raise
        finally:
            self.engine.current_transaction.reset(self.context)
            self.engine.write_gate.release()
        return exception is None


class PooledSQLiteEngine(SQLiteEngine):
    """SQLite on long-lived connections, their pragmas set once.

    Reads outside a transaction run at once on this thread's read-only connection: a read by key takes a
    few microseconds, less than handing it to another thread would (WAL readers never wait for the writer).
    Writes and transactions run on this loop's :class:`SQLiteWriter`, queued at one :class:`WriteGate`.
    """

    def __init__(self, path: str, timeout: float = SQLITE_BUSY_TIMEOUT_SECONDS):
        if sqlite3.sqlite_version_info < (3, 35):
            raise RuntimeError(f"SQLite 3.35 or later is needed (RETURNING), not {sqlite3.sqlite_version}")
        super().__init__(path=path, timeout=timeout, check_same_thread=False)
        self.write_gate = WriteGate(timeout)
        self._readers = threading.local()
        self._open_readers: list[sqlite3.Connection] = []
        self._writers: PerLoop[SQLiteWriter] = PerLoop(lambda: SQLiteWriter(self._connect))
        self._open_writers: list[SQLiteWriter] = []
        self._lock = threading.Lock()

    def _connect(self, read_only: bool = False) -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(**self.connection_kwargs)
        connection.row_factory = dict_factory
        connection.execute("PRAGMA foreign_keys = 1")
        connection.execute("PRAGMA secure_delete = 1")  # deleted content is overwritten (注销账号)
        if read_only:
            connection.execute("PRAGMA query_only = 1")
            connection.execute(f"PRAGMA busy_timeout = {READER_BUSY_TIMEOUT_MS}")
        return connection

    def _reader(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._readers, "connection", None)
        if connection is None:
            connection = self._readers.connection = self._connect(read_only=True)
            with self._lock:
                self._open_readers.append(connection)
        return connection

    def writer(self) -> SQLiteWriter:
        writer = self._writers.get()
        with self._lock:
            if writer not in self._open_writers:
                self._open_writers.append(writer)
        return writer

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        return SQLiteWriteTransaction(self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def get_connection(self) -> Any:  # Piccolo's batch() asks for one: there is no aiosqlite here
        raise NotImplementedError("PooledSQLiteEngine has no per-call connections")

    async def run_querystring(  # Piccolo's own returns are untyped: Any
        self, querystring: QueryString, in_pool: bool = False
    ) -> Any:
        sql, args = querystring.compile_string(engine_type=self.engine_type)
        return await self._run(sql, args)

    async def ping(self) -> None:
        await self._run("SELECT 1", ())

    async def run_ddl(self, ddl: str, in_pool: bool = False) -> Any:  # Piccolo's own is untyped
        return await self._run(ddl, [])

    async def _run(self, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        if transaction := self.current_transaction.get():
            connection: SQLiteWriter = transaction.connection
            return await connection.execute(sql, args)
        if _reads_only(sql):
            return _fetch_all(self._reader(), sql, args)
        async with self.write_gate.turn():
            return await self.writer().execute(sql, args)

    def close(self) -> None:
        """Close every connection opened so far; the next query opens new ones."""
        with self._lock:
            readers, self._open_readers = self._open_readers, []
            writers, self._open_writers = self._open_writers, []
            self._readers = threading.local()
            self._writers = PerLoop(lambda: SQLiteWriter(self._connect))
        for reader in readers:
            reader.close()
        for writer in writers:
            writer.close()


def connection_counts() -> dict[str, int]:
    """This process's database connections, for /metrics."""
    current = engine()
    if isinstance(current, PooledSQLiteEngine):
        return {"open": len(current._open_readers) + len(current._open_writers)}
    pool = getattr(current, "pool", None)
    if pool is None:
        return {"in_use": 0, "idle": 0}
    return {"in_use": pool.get_size() - pool.get_idle_size(), "idle": pool.get_idle_size()}


async def truncate_write_ahead_log() -> bool:
    """SQLite: copy the write-ahead log into the database file and truncate it to nothing, so that what was
    overwritten (an erased account) survives in neither file. True when done; False when a reader kept it
    from completing (the next erasure or SQLite's own checkpoints finish it). PostgreSQL: nothing to do
    here (its WAL segments are recycled by its checkpoints)."""
    current = engine()
    if not isinstance(current, PooledSQLiteEngine):
        return True
    async with current.write_gate.turn():
        rows = await current.writer().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return not rows[0]["busy"]


def _fetch_all(connection: sqlite3.Connection, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    cursor = connection.execute(sql, args)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def _reads_only(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(READ_ONLY_STATEMENTS)


def make_engine(database_url: str) -> Engine[Any]:
    if database_url.startswith("sqlite:"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return PooledSQLiteEngine(path=str(path))
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
    if isinstance(_bound, PooledSQLiteEngine) and _bound is not engine:
        _bound.close()  # what it opened would otherwise stay open, unused
    _bound = engine
    for table in tables:
        table._meta.db = engine


def engine() -> Engine[Any]:
    """The bound engine; before any, the one ``WEBAPP_DATABASE_URL`` names (as Piccolo's own tools see)."""
    global _bound
    if _bound is None:
        _bound = make_engine(os.environ.get("WEBAPP_DATABASE_URL", Settings.database_url))
    return _bound


async def ensure_pool(size: int = Settings.database_pool_size) -> None:
    """PostgreSQL: a connection pool per process. A database that is down at start does not stop the
    service from starting (it answers 503 until the database is back)."""
    current = engine()
    if isinstance(current, PostgresEngine) and current.pool is None:
        try:
            await current.start_connection_pool(min_size=1, max_size=size, reset=_nothing_to_reset)
        except (OSError, asyncpg.PostgresError) as error:
            log.warning("database connection pool not started: %s", type(error).__name__)


async def ping() -> None:
    """One ``SELECT 1`` (the health check): raises when the database cannot answer."""
    current = engine()
    if isinstance(current, PooledSQLiteEngine):
        await current.ping()
    else:
        await current.run_querystring(QueryString("SELECT 1"))


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """What a released connection needs: asyncpg still rolls back an open transaction first. The app
    leaves nothing else on a connection (advisory locks are transaction-scoped; no SET, LISTEN or cursor),
    so the default reset query would be one more round trip after every query, for nothing."""


async def close_pool(grace_seconds: float = 5.0) -> None:
    """Close the connections at shutdown; PostgreSQL's still out after the grace time are cut."""
    current = engine()
    if isinstance(current, PooledSQLiteEngine):
        current.close()
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
    asyncpg.exceptions.PostgresConnectionError,  # class 08: the connection failed or was refused
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutting down, starting up, cancelled
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    # during a failover: a connection still on the old primary's successor before its promotion, or no
    # server of a multi-host URL taking writes yet (target_session_attrs=read-write)
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.TargetServerAttributeNotMatched,
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
