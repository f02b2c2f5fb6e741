"""The database engine: SQLite (embedded default, WAL) or PostgreSQL, bound to every table at start."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString

SQLITE_BUSY_TIMEOUT_SECONDS = 30
log = logging.getLogger(__name__)


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite:"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return SQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    parts = urlsplit(database_url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError("unsupported database URL scheme")
    return PostgresEngine(config={"dsn": database_url}, log_queries=False)


def _prepare_sqlite_file(path: Path) -> None:
    """WAL lets readers run beside the one writer; the setting is stored in the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def bind(engine: Engine) -> None:
    """Point every table, and Piccolo's migration runner, at this engine."""
    from webapp import piccolo_conf
    from webapp.piccolo_app import APP_CONFIG

    if isinstance(engine, SQLiteEngine):
        _prepare_sqlite_file(Path(engine.path))
    piccolo_conf.DB = engine
    for table in APP_CONFIG.table_classes:
        table._meta.db = engine


def engine() -> Engine:
    from webapp import piccolo_conf

    return piccolo_conf.DB


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
