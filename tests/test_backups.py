"""`webapp backup` and `webapp restore` as real subprocesses, on the engine under test, while writes go on."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests import factories
from tests.conftest import ENGINE, TEST_KEY, runtime_with
from tests.support.writers import PairWriter, fetch
from webapp.accounts.tables import Account
from webapp.backup import SQLITE_HEADER, _libpq_target
from webapp.crypto import MasterKey
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")
WEBAPP = str(Path(sys.executable).parent / "webapp")
OLD_KEY = "an-old-master-key-0123456789abcdefghijklmnopqrstuv"


def run_cli(database: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "WEBAPP_DATABASE_URL": database,
        "WEBAPP_SECRET_KEY": TEST_KEY,
        "WEBAPP_ENV": "production",
        **env,
    }
    return subprocess.run([WEBAPP, *args], env=environment, capture_output=True, text=True, timeout=180)


def line_of(output: str, prefix: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith(prefix)]
    return line


@pytest.fixture
async def empty_database(postgres, tmp_path):
    """A second database, not even migrated: where a backup is restored to."""
    if ENGINE == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'webapp.sqlite3'}"
        return
    name = f"webapp_restored_{os.getpid()}_{tmp_path.name}"[:60]
    connection = await asyncpg.connect(postgres)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    yield postgres.rsplit("/", 1)[0] + "/" + name
    connection = await asyncpg.connect(postgres)
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.close()


async def probes(url: str) -> tuple[set[int], set[int]]:
    rates = await fetch(url, "SELECT key FROM rate_event WHERE key LIKE 'probe-%'")
    audits = await fetch(url, "SELECT user_agent FROM audit_event WHERE event = 'probe'")
    return {int(key.split("-")[1]) for (key,) in rates}, {int(agent.split("-")[1]) for (agent,) in audits}


async def test_a_backup_taken_while_writes_go_on_restores_complete_up_to_one_commit(
    rt, database, empty_database, tmp_path
):
    await factories.account(rt)
    writer = PairWriter(database, keep_commits_in_wal=True)
    writer.start()
    try:
        while writer.committed < 50 and writer.is_alive():
            await asyncio.sleep(0.01)
        before = writer.committed
        backup = run_cli(database, "backup", str(tmp_path / "shiming.backup"))
        after = writer.committed
    finally:
        writer.halt.set()
        writer.join(30)
    assert writer.error is None, writer.error
    assert backup.returncode == 0, backup.stderr
    assert after > before  # the writer went on while the backup ran
    assert not list(tmp_path.glob(".shiming.backup.partial-*"))

    restore = run_cli(empty_database, "restore", str(tmp_path / "shiming.backup"))
    assert restore.returncode == 0, restore.stderr
    if ENGINE == "sqlite":  # the restored file is a live database again: WAL, without the backup's mark
        assert await fetch(empty_database, "PRAGMA journal_mode") == [("wal",)]
        assert await fetch(empty_database, "PRAGMA application_id") == [(0,)]
    rates, audits = await probes(empty_database)
    assert rates == audits  # no transaction copied in half
    assert rates == set(range(1, len(rates) + 1))  # no commit missing before the last one copied
    assert before <= len(rates) <= after + 1  # the last copied commit happened while the backup ran
    # the summary the backup printed describes the very snapshot it copied, and the restore finds it again
    assert line_of(restore.stdout, "rows:") == line_of(backup.stdout, "rows:")
    assert re.search(rf"\brate_event {len(rates)}\b", line_of(backup.stdout, "rows:"))
    migrations = "SELECT name, app_name FROM migration ORDER BY id"
    assert await fetch(empty_database, migrations) == await fetch(database, migrations)
    assert line_of(restore.stdout, "migrations applied:") == line_of(backup.stdout, "migrations applied:")
    assert run_cli(empty_database, "migrate").stdout.count("No migrations need to be run")

    accounts = "SELECT id, phone_index, phone, password_hash FROM account ORDER BY id"
    assert await fetch(empty_database, accounts) == await fetch(database, accounts)


async def test_restore_refuses_a_database_holding_data_unless_forced(rt, database, tmp_path):
    await factories.account(rt, "张三")
    assert run_cli(database, "backup", str(tmp_path / "one.backup")).returncode == 0
    await factories.account(rt, "李四")  # made after the backup

    refused = run_cli(database, "restore", str(tmp_path / "one.backup"))
    assert refused.returncode == 2
    assert "holds data" in refused.stderr and "--force" in refused.stderr
    assert "nothing was restored" in refused.stderr
    assert await Account.count() == 2

    forced = run_cli(database, "restore", "--force", str(tmp_path / "one.backup"))
    assert forced.returncode == 0, forced.stderr
    assert await fetch(database, "SELECT count(*) FROM account") == [(1,)]


async def test_a_migrated_database_without_data_takes_a_restore_without_force(
    rt, database, empty_database, tmp_path
):
    await factories.account(rt)
    assert run_cli(database, "backup", str(tmp_path / "one.backup")).returncode == 0
    assert run_cli(empty_database, "migrate").returncode == 0  # the migration table alone is not data
    done = run_cli(empty_database, "restore", str(tmp_path / "one.backup"))
    assert done.returncode == 0, done.stderr
    assert await fetch(empty_database, "SELECT count(*) FROM account") == [(1,)]


def test_restore_refuses_a_file_that_is_no_backup_of_this_app(database, tmp_path, repo_root):
    readme = run_cli(database, "restore", str(repo_root / "README.md"))
    assert readme.returncode == 2
    assert "is not a backup of this app" in readme.stderr and "nothing was restored" in readme.stderr

    missing = run_cli(database, "restore", str(tmp_path / "nowhere.backup"))
    assert missing.returncode == 2 and "there is no file" in missing.stderr

    other_app = tmp_path / "other.sqlite3"
    with sqlite3.connect(other_app) as connection:
        connection.execute("CREATE TABLE note (text TEXT)")
    done = run_cli(database, "restore", str(other_app))
    assert done.returncode == 2
    if ENGINE == "sqlite":
        assert "not a backup written by `webapp backup`" in done.stderr
    else:
        assert "is a SQLite backup, but WEBAPP_DATABASE_URL names a PostgreSQL database" in done.stderr


def test_restore_refuses_a_backup_of_the_other_engine(database, tmp_path, postgres):
    if ENGINE == "sqlite":
        fake_dump = tmp_path / "from-postgres.backup"
        fake_dump.write_bytes(b"PGDMP\x01\x0e\x00" + bytes(200))
        done = run_cli(database, "restore", str(fake_dump))
        assert done.returncode == 2
        assert "is a PostgreSQL backup, but WEBAPP_DATABASE_URL names a SQLite database" in done.stderr
        return
    sqlite_backup = tmp_path / "from-sqlite.backup"
    sqlite_backup.write_bytes(SQLITE_HEADER + bytes(200))
    done = run_cli(database, "restore", str(sqlite_backup))
    assert "is a SQLite backup, but WEBAPP_DATABASE_URL names a PostgreSQL database" in done.stderr
    # a pg_dump archive of some other database is refused before anything is dropped
    other = run_cli(postgres, "backup", str(tmp_path / "postgres.backup"))
    assert other.returncode == 2 and "no migration table" in other.stderr
    subprocess.run(
        ["pg_dump", "--format=custom", "--file", str(tmp_path / "other.dump"), postgres], check=True
    )
    done = run_cli(database, "restore", "--force", str(tmp_path / "other.dump"))
    assert done.returncode == 2 and "not of this app's database" in done.stderr


async def test_backup_and_restore_name_the_keys_by_id_and_never_show_one(
    rt, database, empty_database, tmp_path
):
    await factories.account(runtime_with(rt, secret_key=OLD_KEY), "张三")  # fields under the old key
    await factories.account(rt, "李四")  # under the current one
    backup = run_cli(database, "backup", str(tmp_path / "keys.backup"), WEBAPP_OLD_SECRET_KEYS=OLD_KEY)
    assert backup.returncode == 0, backup.stderr
    old_id, current_id = MasterKey(OLD_KEY).key_id.hex(), MasterKey(TEST_KEY).key_id.hex()
    assert f"key {current_id} (set here as WEBAPP_SECRET_KEY)" in backup.stdout
    assert f"key {old_id} (set here as WEBAPP_OLD_SECRET_KEYS, key 1)" in backup.stdout

    restore = run_cli(empty_database, "restore", str(tmp_path / "keys.backup"))  # the old key not given
    assert restore.returncode == 0, restore.stderr
    assert f"key {old_id} (NOT set here: put it in WEBAPP_OLD_SECRET_KEYS)" in restore.stdout
    for output in (backup.stdout + backup.stderr, restore.stdout + restore.stderr):
        assert OLD_KEY not in output and TEST_KEY not in output


async def test_a_failed_backup_leaves_no_file_that_looks_complete(database, empty_database, tmp_path):
    target = tmp_path / "never.backup"
    if ENGINE == "sqlite":  # an existing SQLite file that was never migrated: copied, then found wanting
        Path(empty_database.removeprefix("sqlite:///")).parent.mkdir()
        sqlite3.connect(empty_database.removeprefix("sqlite:///")).close()
    done = run_cli(empty_database, "backup", str(target))
    assert done.returncode == 2
    assert "no migration table" in done.stderr
    assert sorted(path.name for path in tmp_path.iterdir() if "backup" in path.name) == []


def test_a_backup_never_lands_on_the_live_database_nor_in_a_missing_folder(database, tmp_path):
    missing = run_cli(database, "backup", str(tmp_path / "no-such-folder" / "x.backup"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    if ENGINE == "sqlite":
        live = database.removeprefix("sqlite:///")
        for name in (live, live + "-wal"):
            done = run_cli(database, "backup", name)
            assert done.returncode == 2 and "is the database itself" in done.stderr
        assert sqlite3.connect(live).execute("SELECT count(*) FROM migration").fetchone()[0] > 0


@pytest.mark.parametrize("kept", [1 / 3, 2 / 3, 0.95])
async def test_a_damaged_backup_changes_nothing(rt, database, tmp_path, kept):
    await factories.account(rt, "张三")
    await AuditEvent.insert(*(AuditEvent(event="probe", user_agent=f"probe-{n}") for n in range(3000)))
    assert run_cli(database, "backup", str(tmp_path / "whole.backup")).returncode == 0
    await factories.account(rt, "李四")
    whole = (tmp_path / "whole.backup").read_bytes()
    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(whole[: int(len(whole) * kept)])  # the end lost: SQLite's last pages, pg_dump's data
    done = run_cli(database, "restore", "--force", str(damaged))
    assert done.returncode == 2
    assert "nothing was restored" in done.stderr
    assert "Traceback" not in done.stderr
    assert await fetch(database, "SELECT count(*) FROM account") == [(2,)]  # as before, not the backup's 1
    assert len(await fetch(database, "SELECT name FROM migration")) > 0


def test_the_postgres_password_goes_to_the_environment_not_the_command_line():
    address, env = _libpq_target("postgresql://shiming:s%40cret@db.internal:5433/shiming")
    assert address == "postgresql://shiming@db.internal:5433/shiming"
    assert env["PGPASSWORD"] == "s@cret"
    assert re.search("s.cret", address) is None
