"""Registry benchmark — run ``python bench/registry.py`` from the project root (the venv's python).

For each engine (a throwaway SQLite file, then a throwaway PostgreSQL 15 cluster, tests/support/pgcluster.py):

1. writes a CSV of ``--rows`` (1,000,000) registry rows to a temp file: valid ID numbers (GB 11643 check
   digits, four regions, birth dates from 1960), Chinese names, start dates, a 长期 card in ten;
2. ``webapp migrate``, then ``webapp authority import FILE`` as a subprocess (stderr not a terminal: no bar),
   timed from the command line, its peak memory the child's own ru_maxrss (``os.wait4``);
3. the same command again on the unchanged file: every row checked and compared, nothing written;
4. a second database holding the first 1,000 rows of the file, imported the same way;
5. the registration check — ``LocalAuthority.verify_elements``, the call 注册 and 激活账号 make for the
   local authority — for random rows of the file, in this process, against the 1,000-row and the
   1,000,000-row registries in alternating blocks (so both see the same machine), and its p50 in each.

It prints the figures and the budgets of issue 17, each PASS or FAIL: the import ≤ 300 s, its peak memory
≤ 200 MB, the check's p50 against 1,000,000 rows within 1.2 × of its p50 against 1,000. A command that
fails is an error (exit status 1); a budget not met is a measurement (exit status 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import _root  # noqa: F401 (first: the project root on the import path, bench/ off it)
from piccolo.engine.postgres import PostgresEngine
from stdnum.iso7064 import mod_11_2

from tests.support.pgcluster import ThrowawayPostgres

WEBAPP = str(Path(sys.executable).parent / "webapp")
SECRET_KEY = "registry-bench-master-key-0123456789abcdefghijklmnopqrstuvwxyz"
REGIONS = ("110105", "310101", "440305", "510104")
SURNAMES, GIVEN, SECOND = "赵钱孙李周吴郑王冯陈", "伟芳娜敏静丽强磊军洋", "明华平刚英"
SMALL_REGISTRY = 1_000
IMPORT_BUDGET_SECONDS = 300
MEMORY_BUDGET_MB = 200
CHECK_RATIO_BUDGET = 1.2
ENGINES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass(frozen=True)
class Row:
    name: str
    id_number: str
    valid_from: date
    valid_to: date | None


def row(i: int) -> Row:
    """The i-th row of the file: i ↦ (region, birth day, sequence number) is one-to-one."""
    birth = date(1960, 1, 1) + timedelta(days=i // 4000)
    body = f"{REGIONS[i % 4]}{birth:%Y%m%d}{i // 4 % 1000:03d}"
    valid_from = date(2015, 1, 1) + timedelta(days=i % 2000)
    valid_to = None if i % 10 == 0 else valid_from.replace(year=valid_from.year + 20)
    name = SURNAMES[i % 10] + GIVEN[i // 10 % 10] + SECOND[i // 100 % 5]
    return Row(name, body + mod_11_2.calc_check_digit(body), valid_from, valid_to)


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("name,id_number,valid_from,valid_to\n")
        for i in range(rows):
            r = row(i)
            out.write(f"{r.name},{r.id_number},{r.valid_from},{r.valid_to or '长期'}\n")


@dataclass
class Run:
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str


def webapp(database_url: str, *args: str) -> Run:
    """One ``webapp`` command in a child process: its wall time and its own peak resident memory."""
    env = {
        **os.environ,
        "WEBAPP_ENV": "production",
        "WEBAPP_SECRET_KEY": SECRET_KEY,
        "WEBAPP_DATABASE_URL": database_url,
        "WEBAPP_LOG_LEVEL": "WARNING",
    }
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        child = subprocess.Popen([WEBAPP, *args], env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = Run(seconds, usage.ru_maxrss / 1024, out.read(), err.read())
    if child.returncode != 0:
        raise RuntimeError(f"webapp {' '.join(args)} exited {child.returncode}:\n{done.stdout}{done.stderr}")
    return done


def imported(run: Run, expected: str) -> None:
    if expected not in run.stdout:
        raise RuntimeError(f"expected {expected!r}, the import printed:\n{run.stdout}{run.stderr}")


async def check_latencies(urls: dict[str, str], rows: dict[str, int], calls: int, block: int) -> dict:
    """p50 of verify_elements (seconds) against each registry, the registries taking turns every block."""
    from webapp import db
    from webapp.identity.local_authority import LocalAuthority
    from webapp.identity.tables import Citizen
    from webapp.runtime import build_runtime
    from webapp.settings import Settings

    engines = {label: db.make_engine(url) for label, url in urls.items()}
    for engine in engines.values():
        if isinstance(engine, PostgresEngine):
            await engine.start_connection_pool(min_size=1, max_size=1)
    settings = Settings(env="production", database_url=next(iter(urls.values())), secret_key=SECRET_KEY)
    authority = build_runtime(settings.validate()).authority
    assert isinstance(authority, LocalAuthority)
    rng = random.Random(17)
    times: dict[str, list[float]] = {label: [] for label in urls}
    try:
        for _ in range(calls // block):
            for label, engine in engines.items():
                Citizen._meta.db = engine
                for _ in range(block):
                    r = row(rng.randrange(rows[label]))
                    started = time.perf_counter()
                    result = await authority.verify_elements(r.name, r.id_number, r.valid_from, r.valid_to)
                    times[label].append(time.perf_counter() - started)
                    if not result.match:
                        raise RuntimeError(
                            f"the registry did not confirm a row of the file ({result.reason})"
                        )
    finally:
        for engine in engines.values():
            if isinstance(engine, db.PooledSQLiteEngine):
                engine.close()
            elif isinstance(engine, PostgresEngine):
                await engine.close_connection_pool()
    return {label: statistics.median(values) for label, values in times.items()}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bench_engine(engine: str, folder: Path, csv_big: Path, csv_small: Path, args, stack) -> list[str]:
    """The figures of one engine, printed as they come; returns its budget lines."""
    name = ENGINES[engine]
    if engine == "postgres":
        cluster = ThrowawayPostgres()
        stack.callback(cluster.stop)
        cluster.start()
        subprocess.run(
            [
                str(cluster.bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(cluster.port),
                "-U",
                cluster.user,
                "small",
            ],
            check=True,
            capture_output=True,
        )
        big_url, small_url = cluster.url(), cluster.url("small")
        where = f"throwaway PostgreSQL 15 cluster at {big_url}"
    else:
        big_url, small_url = f"sqlite:///{folder / 'big.sqlite3'}", f"sqlite:///{folder / 'small.sqlite3'}"
        where = f"throwaway SQLite files in {folder}"
    print(f"\n{name}: {where}")
    for url in (big_url, small_url):
        webapp(url, "migrate")

    first = webapp(big_url, "authority", "import", str(csv_big))
    imported(first, f"registry: {args.rows} added, 0 updated, 0 unchanged")
    print(
        f"  import of {args.rows:,} rows: {first.seconds:.1f} s, {args.rows / first.seconds:,.0f} rows/s, "
        f"peak {first.peak_mb:.0f} MB ({first.stderr.strip()})"
    )
    again = webapp(big_url, "authority", "import", str(csv_big))
    imported(again, f"registry: 0 added, 0 updated, {args.rows} unchanged")
    print(
        f"  the same file again, unchanged: {again.seconds:.1f} s ({again.seconds / first.seconds:.2f} × "
        f"the import), peak {again.peak_mb:.0f} MB ({again.stderr.strip()})"
    )
    small = webapp(small_url, "authority", "import", str(csv_small))
    imported(small, f"registry: {SMALL_REGISTRY} added")
    print(f"  import of {SMALL_REGISTRY:,} rows: {small.seconds:.1f} s, peak {small.peak_mb:.0f} MB")

    p50 = asyncio.run(
        check_latencies(
            {"small": small_url, "big": big_url},
            {"small": SMALL_REGISTRY, "big": args.rows},
            args.checks,
            250,
        )
    )
    ratio = p50["big"] / p50["small"]
    print(
        f"  registration check (verify_elements), {args.checks:,} calls per registry: p50 "
        f"{p50['small'] * 1000:.3f} ms against {SMALL_REGISTRY:,} rows, {p50['big'] * 1000:.3f} ms against "
        f"{args.rows:,}: {ratio:.2f} ×"
    )
    return [
        f"  {verdict(first.seconds <= IMPORT_BUDGET_SECONDS)}  {name}: {args.rows:,} rows imported in "
        f"{first.seconds:.1f} s (≤ {IMPORT_BUDGET_SECONDS} s)",
        f"  {verdict(first.peak_mb <= MEMORY_BUDGET_MB)}  {name}: peak memory of the import "
        f"{first.peak_mb:.0f} MB (≤ {MEMORY_BUDGET_MB} MB)",
        f"  {verdict(ratio <= CHECK_RATIO_BUDGET)}  {name}: registration check p50 against {args.rows:,} "
        f"rows {ratio:.2f} × its p50 against {SMALL_REGISTRY:,} (≤ {CHECK_RATIO_BUDGET} ×)",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="registry rows in the big file")
    parser.add_argument("--checks", type=int, default=5_000, help="registration checks against each registry")
    parser.add_argument("--engines", default="sqlite,postgres", help="sqlite, postgres or both")
    args = parser.parse_args()
    engines = [e for e in ENGINES if e in args.engines.split(",")]
    if args.rows < SMALL_REGISTRY or args.checks < 250 or not engines:
        parser.error(f"rows ≥ {SMALL_REGISTRY}, checks ≥ 250, engines sqlite,postgres")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    with contextlib.ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix="bench-registry-"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        csv_big, csv_small = folder / "registry.csv", folder / "registry-1000.csv"
        started = time.monotonic()
        write_csv(csv_big, args.rows)
        write_csv(csv_small, SMALL_REGISTRY)
        print(
            f"registry bench: {args.rows:,} rows, {csv_big.stat().st_size / 1e6:.1f} MB of CSV written in "
            f"{time.monotonic() - started:.1f} s; {os.cpu_count()} cores; `webapp authority import` run as "
            "a subprocess"
        )
        budgets: list[str] = []
        try:
            for engine in engines:
                budgets += bench_engine(engine, folder, csv_big, csv_small, args, stack)
        except RuntimeError as error:
            print(f"\nBENCH ERROR: {error}", file=sys.stderr)
            return 1
    print("\nbudgets (issue 17):")
    print("\n".join(budgets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
