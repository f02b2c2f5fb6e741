"""`webapp backup FILE` and `webapp restore FILE`, while the service runs.

SQLite: the online backup API copies one consistent snapshot (in WAL mode writers go on meanwhile) into a
temporary name beside FILE, marked with this app's ``application_id``; only a finished copy is renamed to
FILE, so a half-written backup never looks complete. PostgreSQL: ``pg_dump`` in custom format, from a
snapshot exported by a transaction that also reads what the summary reports, so both describe the same
instant. A restore replaces the whole database in one step (SQLite: the backup API into the live file;
PostgreSQL: one transaction that drops the schema and replays the dump) and refuses a database holding data
unless forced. Neither ever prints a key: keys are named by their id (``Keyring.role_of``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from webapp.crypto import KEY_ID_BYTES, Keyring
from webapp.rekey import PROTECTED_TABLES

SQLITE_HEADER = b"SQLite format 3\x00"
PG_DUMP_HEADER = b"PGDMP"
APPLICATION_ID = 0x5348494D  # "SHIM" in PRAGMA application_id: a SQLite file written by `webapp backup`
MIGRATION_TABLE = "migration"
APP_NAME = "webapp"
BUSY_TIMEOUT_SECONDS = 30
NOT_MIGRATED = "it has no migration table: it is not this app's database (or `webapp migrate` never ran)"


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message tells the operator what to do."""


@dataclass(frozen=True)
class Summary:
    """What a backup holds: enough to check a restore, and the keys its encrypted fields need."""

    migrations: tuple[str, ...]
    rows: dict[str, int]
    key_ids: frozenset[bytes]

    def lines(self, keyring: Keyring) -> list[str]:
        counts = ", ".join(f"{table} {count}" for table, count in sorted(self.rows.items()) if count)
        last = self.migrations[-1] if self.migrations else "none"
        return [
            f"migrations applied: {len(self.migrations)} (the last {last})",
            f"rows: {counts or 'none'}",
            *_key_lines(self.key_ids, keyring),
        ]


def _key_lines(key_ids: frozenset[bytes], keyring: Keyring) -> list[str]:
    """Names the master keys the encrypted fields were written with, by id, and where each is set now."""
    if not key_ids:
        return ["encrypted fields: none"]
    lines = ["keys its encrypted fields need, by key id (derived from a key; never the key itself):"]
    for key_id in sorted(key_ids):
        role = keyring.role_of(key_id)
        where = f"set here as {role}" if role else "NOT set here: put it in WEBAPP_OLD_SECRET_KEYS"
        lines.append(f"  key {key_id.hex()} ({where})")
    lines.append(
        "  blind indexes and sign-in tokens are under the key that was WEBAPP_SECRET_KEY at the time: "
        "restore with the same WEBAPP_SECRET_KEY"
    )
    return lines


def _encrypted_columns() -> Iterator[tuple[str, str]]:
    for protected in PROTECTED_TABLES:
        for column in protected.encrypted:
            yield protected.table._meta.tablename, column._meta.db_column_name


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _summary_queries(tables: list[str]) -> dict[str, str]:
    """The queries a summary is made of, named, in SQL both engines read alike."""
    if MIGRATION_TABLE not in tables:
        raise BackupError(NOT_MIGRATED)
    queries = {"migrations": f"SELECT name FROM {MIGRATION_TABLE} WHERE app_name = '{APP_NAME}' ORDER BY id"}
    for table in tables:
        if table != MIGRATION_TABLE:
            queries[f"rows:{table}"] = f"SELECT count(*) FROM {_quoted(table)}"
    for table, column in _encrypted_columns():
        if table in tables:
            queries[f"keys:{table}.{column}"] = (
                f"SELECT DISTINCT substr({_quoted(column)}, 1, {KEY_ID_BYTES}) FROM {_quoted(table)} "
                f"WHERE {_quoted(column)} IS NOT NULL"
            )
    return queries


def _summary_of(results: dict[str, list[tuple[Any, ...]]]) -> Summary:
    return Summary(
        migrations=tuple(name for (name,) in results["migrations"]),
        rows={
            name.removeprefix("rows:"): rows[0][0]
            for name, rows in results.items()
            if name.startswith("rows:")
        },
        key_ids=frozenset(
            bytes(prefix) for name, rows in results.items() if name.startswith("keys:") for (prefix,) in rows
        ),
    )


# SQLite


def _sqlite_uri(path: Path, mode: str) -> str:
    return f"{path.resolve().as_uri()}?mode={mode}"


def _sqlite_summary(connection: sqlite3.Connection) -> Summary:
    queries = _summary_queries(_sqlite_tables(connection))
    return _summary_of({name: connection.execute(sql).fetchall() for name, sql in queries.items()})


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    return [
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]


def check_target(target: Path, database: Path | None = None) -> None:
    """A backup goes into an existing folder, never onto the live database or its WAL files."""
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    if database is not None and target.resolve() in {
        database.resolve().with_name(database.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")
    }:
        raise BackupError(f"{target} is the database itself: name another file")


def backup_sqlite(database: Path, target: Path) -> Summary:
    if not database.exists():
        raise BackupError(f"there is no database at {database} (WEBAPP_DATABASE_URL)")
    check_target(target, database)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        with (
            contextlib.closing(
                sqlite3.connect(_sqlite_uri(database, "ro"), uri=True, timeout=BUSY_TIMEOUT_SECONDS)
            ) as live,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            live.backup(copy)  # all pages in one step: one read transaction, so one consistent snapshot
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
            copy.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            try:
                summary = _sqlite_summary(copy)
            except BackupError as error:
                raise BackupError(f"{database}: {error}") from None
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return summary


def restore_sqlite(backup: Path, database: Path, force: bool) -> Summary:
    with contextlib.closing(sqlite3.connect(_sqlite_uri(backup, "ro"), uri=True)) as source:
        try:
            summary = _checked_sqlite_backup(source, backup)
        except sqlite3.DatabaseError as error:  # too damaged to be read at all
            raise BackupError(f"{backup} is damaged ({error}): nothing was restored") from None
        database.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(database, timeout=BUSY_TIMEOUT_SECONDS)) as live:
            _refuse_data_unless_forced(_sqlite_tables_with_rows(live), database, force)
            source.backup(live)  # under SQLite's write lock: running processes see the old or the new
            live.execute("PRAGMA application_id = 0")  # the mark belongs to backup files
            live.execute("PRAGMA journal_mode = WAL")
            live.commit()
    return summary


def _checked_sqlite_backup(source: sqlite3.Connection, backup: Path) -> Summary:
    """The summary of a SQLite file that is this app's backup and whole; refuses anything else."""
    (application_id,) = source.execute("PRAGMA application_id").fetchone()
    if application_id != APPLICATION_ID:
        raise BackupError(
            f"{backup} is a SQLite database, but not a backup written by `webapp backup` (it lacks this "
            "app's mark, PRAGMA application_id): nothing was restored"
        )
    (check,) = source.execute("PRAGMA quick_check").fetchone()
    if check != "ok":
        raise BackupError(f"{backup} is damaged (SQLite's quick_check: {check}): nothing was restored")
    try:
        return _sqlite_summary(source)
    except BackupError as error:
        raise BackupError(f"{backup}: {error}") from None


def _sqlite_tables_with_rows(connection: sqlite3.Connection) -> list[str]:
    return [
        table
        for table in _sqlite_tables(connection)
        if table != MIGRATION_TABLE
        if connection.execute(f"SELECT EXISTS (SELECT 1 FROM {_quoted(table)})").fetchone()[0]
    ]


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _refuse_data_unless_forced(tables: list[str], where: str | Path, force: bool) -> None:
    if tables and not force:
        raise BackupError(
            f"the database at {where} holds data (tables {', '.join(tables)}): a restore replaces all of "
            "it. Run again with --force to replace it (take a backup of it first); nothing was restored"
        )


# PostgreSQL


def postgres_tool(name: str) -> Path:
    """pg_dump / pg_restore / psql: from ``pg_config --bindir``, else on PATH, else Debian's folders."""
    try:
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if (Path(bindir) / name).exists():
            return Path(bindir) / name
    except (OSError, subprocess.CalledProcessError):
        pass
    if found := shutil.which(name):
        return Path(found)
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return candidate
    raise BackupError(f"{name} not found (neither via pg_config nor on PATH): install PostgreSQL's client")


def _libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and an environment with the password in PGPASSWORD: a password on a
    command line is visible to every user of the machine."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        parts = parts._replace(netloc=f"{user}{host}{port}")
    return urlunsplit(parts._replace(scheme="postgresql")), env


def _run_tool(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()}")
    return done.stdout


async def _postgres_summary(connection: asyncpg.Connection) -> Summary:
    queries = _summary_queries(await _postgres_tables(connection))
    return _summary_of(
        {name: [tuple(row) for row in await connection.fetch(sql)] for name, sql in queries.items()}
    )


async def _postgres_tables(connection: asyncpg.Connection) -> list[str]:
    return [
        row["tablename"]
        for row in await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    ]


async def backup_postgres(url: str, target: Path) -> Summary:
    check_target(target)
    pg_dump = postgres_tool("pg_dump")
    address, env = _libpq_target(url)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
            try:
                summary = await _postgres_summary(connection)
            except BackupError as error:
                raise BackupError(f"the database of WEBAPP_DATABASE_URL: {error}") from None
            # pg_dump reads the very snapshot the summary was read in (valid while this transaction lasts)
            _run_tool(
                [str(pg_dump), "--format=custom", f"--snapshot={snapshot}", f"--file={partial}", address],
                env,
            )
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    finally:
        await connection.close()
        partial.unlink(missing_ok=True)
    return summary


def check_postgres_backup(backup: Path) -> None:
    """A pg_dump archive of this app: its table of contents lists the migration and account tables."""
    try:
        contents = _run_tool([str(postgres_tool("pg_restore")), "--list", str(backup)], dict(os.environ))
    except BackupError as error:
        raise BackupError(f"{backup} cannot be read ({error}): nothing was restored") from None
    tables = {
        fields[fields.index("TABLE") + 2]
        for line in contents.splitlines()
        if not line.startswith(";")
        if "TABLE" in (fields := line.split())
        if len(fields) > fields.index("TABLE") + 2
    }
    if not {MIGRATION_TABLE, "account", "audit_event"} <= tables:
        raise BackupError(
            f"{backup} is a pg_dump archive, but not of this app's database (no migration, account and "
            "audit_event tables in it): nothing was restored"
        )


async def restore_postgres(backup: Path, url: str, force: bool) -> Summary:
    check_postgres_backup(backup)
    connection = await asyncpg.connect(url)
    try:
        _refuse_data_unless_forced(await _postgres_tables_with_rows(connection), "WEBAPP_DATABASE_URL", force)
    finally:
        await connection.close()
    _replay_in_one_transaction(backup, url)
    connection = await asyncpg.connect(url)
    try:
        return await _postgres_summary(connection)
    finally:
        await connection.close()


async def _postgres_tables_with_rows(connection: asyncpg.Connection) -> list[str]:
    return [
        table
        for table in await _postgres_tables(connection)
        if table != MIGRATION_TABLE
        if await connection.fetchval(f"SELECT EXISTS (SELECT 1 FROM {_quoted(table)})")
    ]


def _replay_in_one_transaction(backup: Path, url: str) -> None:
    """Drop the public schema and replay the dump in one transaction: on any error nothing has changed.

    pg_restore writes the dump as SQL into psql; COMMIT is sent only when pg_restore has read the whole
    archive without error (psql ends an unfinished transaction by rolling it back)."""
    address, env = _libpq_target(url)
    restore_command = [str(postgres_tool("pg_restore")), "--no-owner", "--no-privileges", "--file=-"]
    restore_command.append(str(backup))
    psql_command = [str(postgres_tool("psql")), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", address]
    with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as psql_errors:
        psql = subprocess.Popen(
            psql_command, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_errors
        )
        assert psql.stdin is not None
        reader = subprocess.Popen(restore_command, env=env, stdout=subprocess.PIPE, stderr=restore_errors)
        assert reader.stdout is not None
        try:
            psql.stdin.write(b"BEGIN;\nDROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n")
            shutil.copyfileobj(reader.stdout, psql.stdin)
            if reader.wait() == 0:
                psql.stdin.write(b"COMMIT;\n")
            psql.stdin.close()
        except BrokenPipeError:  # psql stopped at an error: it says which below
            reader.kill()
            reader.wait()
        psql.wait()
        if reader.returncode != 0:
            raise BackupError(f"pg_restore failed, nothing was restored: {_text(restore_errors)}")
        if psql.returncode != 0:
            raise BackupError(f"the restore failed, nothing was restored: {_text(psql_errors)}")


def _text(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode(errors="replace").strip()


# Both


def backup_kind(path: Path) -> str:
    """``sqlite`` or ``postgres`` from the file's first bytes; refuses anything else."""
    if not path.is_file():
        raise BackupError(f"there is no file {path}")
    with path.open("rb") as file:
        head = file.read(len(SQLITE_HEADER))
    if head.startswith(SQLITE_HEADER):
        return "sqlite"
    if head.startswith(PG_DUMP_HEADER):
        return "postgres"
    raise BackupError(
        f"{path} is not a backup of this app: neither a SQLite backup written by `webapp backup` nor a "
        "pg_dump custom-format archive; nothing was restored"
    )


ENGINE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def refuse_other_engine(path: Path, kind: str, engine: str) -> None:
    if kind != engine:
        raise BackupError(
            f"{path} is a {ENGINE_NAMES[kind]} backup, but WEBAPP_DATABASE_URL names a "
            f"{ENGINE_NAMES[engine]} database: restore it into {ENGINE_NAMES[kind]}; nothing was restored"
        )
