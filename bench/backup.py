"""`webapp backup` and `webapp restore` on a database of some size — run ``python bench/backup.py [--rows N]``
from the project root.

For SQLite and for PostgreSQL (a throwaway cluster) it fills a migrated database with N audit events and N
rate events (the two largest tables of a running service), then prints: the time of a backup with nothing
else running; the time of a backup while a writer commits two-row transactions as fast as it can, and that
writer's commits per second before and during the backup (what the backup costs the service's writes); the
backup file's size; and the time of a restore into an empty database. One run; figures, no budgets.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _root  # noqa: F401 (first: the project root on the import path, bench/ off it)
import asyncpg

from tests.support.pgcluster import ThrowawayPostgres
from tests.support.writers import PairWriter

WEBAPP = str(Path(sys.executable).parent / "webapp")
KEY = "bench-master-key-0123456789abcdefghijklmnopqrstuvwxyz"
AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def cli(url: str, *args: str) -> float:
    env = {**os.environ, "WEBAPP_DATABASE_URL": url, "WEBAPP_SECRET_KEY": KEY, "WEBAPP_ENV": "production"}
    start = time.perf_counter()
    done = subprocess.run([WEBAPP, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"webapp {' '.join(args)} failed: {done.stderr}")
    return time.perf_counter() - start


def fill_sqlite(url: str, rows: int) -> None:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    with connection:
        connection.executemany(
            "INSERT INTO audit_event (at, event, account_id, ip, user_agent, detail) "
            "VALUES ('2026-03-02 01:00:00+00:00', 'login', ?, '203.0.113.9', ?, '{\"via\": \"password\"}')",
            ((n, AGENT) for n in range(rows)),
        )
        connection.executemany(
            "INSERT INTO rate_event (key, at) VALUES (?, '2026-03-02 01:00:00+00:00')",
            ((f"{n:064x}",) for n in range(rows)),
        )
    connection.close()


async def fill_postgres(url: str, rows: int) -> None:
    connection = await asyncpg.connect(url)
    await connection.execute(
        "INSERT INTO audit_event (at, event, account_id, ip, user_agent, detail) "
        "SELECT now(), 'login', n, '203.0.113.9', "
        "'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148', "
        '\'{"via": "password"}\' FROM generate_series(1, $1) AS n',
        rows,
    )
    await connection.execute(
        "INSERT INTO rate_event (key, at) SELECT md5(n::text) || md5(n::text), now() "
        "FROM generate_series(1, $1) AS n",
        rows,
    )
    await connection.close()


def measure(engine: str, url: str, empty_url: str, folder: Path) -> None:
    backup = folder / f"{engine}.backup"
    idle = cli(url, "backup", str(backup))
    writer = PairWriter(url)
    writer.start()
    time.sleep(2.0)
    counted, at = writer.committed, time.perf_counter()
    time.sleep(2.0)
    rate_before = (writer.committed - counted) / (time.perf_counter() - at)
    counted, at = writer.committed, time.perf_counter()
    busy = cli(url, "backup", str(backup))
    rate_during = (writer.committed - counted) / (time.perf_counter() - at)
    writer.halt.set()
    writer.join(30)
    restore = cli(empty_url, "restore", str(backup))
    print(
        f"{engine:10s}  backup idle {idle:5.2f} s, busy {busy:5.2f} s  "
        f"file {backup.stat().st_size / 1e6:6.1f} MB  "
        f"writer {rate_before:6.0f} commits/s before, {rate_during:6.0f} during (the CLI's start included)  "
        f"restore {restore:5.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    rows = parser.parse_args().rows
    start_alone = cli("sqlite:///unused", "--help")
    print(
        f"{rows} audit events and {rows} rate events; the times include the `webapp` command's start "
        f"({start_alone:.2f} s for `webapp --help` alone)"
    )
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        url = f"sqlite:///{folder / 'live.sqlite3'}"
        cli(url, "migrate")
        fill_sqlite(url, rows)
        measure("SQLite", url, f"sqlite:///{folder / 'restored.sqlite3'}", folder)

        cluster = ThrowawayPostgres().start()
        try:

            async def create() -> None:
                connection = await asyncpg.connect(cluster.url())
                await connection.execute("CREATE DATABASE live")
                await connection.execute("CREATE DATABASE restored")
                await connection.close()

            asyncio.run(create())
            cli(cluster.url("live"), "migrate")
            asyncio.run(fill_postgres(cluster.url("live"), rows))
            measure("PostgreSQL", cluster.url("live"), cluster.url("restored"), folder)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
