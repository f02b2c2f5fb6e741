"""Compression levels for pages made per request — run ``python bench/compression.py`` from the project root.

It renders the signed-out pages in process (the app on a throwaway SQLite database, migrated; no server)
and, for each page and each candidate encoder, prints the time of one compression (median of many) and
the bytes it gives, as ratios to gzip level 6 (what the app used before). ``webapp/compression.py`` takes
its levels from this: the cheapest level of each encoder whose bytes stay within 15 % of gzip 6's.
"""

from __future__ import annotations

import asyncio
import gzip
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _root  # noqa: F401 (first: the project root on the import path, bench/ off it)
import brotli
from litestar.testing import AsyncTestClient

from webapp import piccolo_conf
from webapp.app import create_app
from webapp.cli import run_migrations
from webapp.db import close_pool, make_engine
from webapp.settings import Settings

PAGES = ("/login", "/register", "/recover", "/faq", "/agreement")


def gzip_at(level: int) -> Callable[[bytes], bytes]:
    return lambda body: gzip.compress(body, level, mtime=0)


def brotli_at(quality: int) -> Callable[[bytes], bytes]:
    return lambda body: brotli.compress(body, quality=quality, mode=brotli.MODE_TEXT)


ENCODERS = {
    **{f"gzip {level}": gzip_at(level) for level in (1, 4, 6, 9)},
    **{f"br {quality}": brotli_at(quality) for quality in (0, 1, 2, 4, 5)},
}
REFERENCE = "gzip 6"


def seconds_per_call(encode: Callable[[bytes], bytes], body: bytes, runs: int = 400) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        encode(body)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def pages(folder: Path) -> dict[str, bytes]:
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    piccolo_conf.bind(make_engine(url))
    await run_migrations()
    await close_pool()
    key = "bench-key-0123456789abcdefghijklmnopqrstuvwxyz"
    settings = Settings(database_url=url, secret_key=key).validate()
    bodies = {}
    async with AsyncTestClient(app=create_app(settings)) as client:
        for path in PAGES:
            response = await client.get(path, headers={"accept-encoding": "identity"})
            assert response.status_code == 200, (path, response.status_code)
            bodies[path] = response.content
    return bodies


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-compression-") as folder:
        bodies = asyncio.run(pages(Path(folder)))
    print(f"{'page':<11} {'bytes':>6}  " + "  ".join(f"{name:>14}" for name in ENCODERS))
    totals = {name: [0.0, 0] for name in ENCODERS}
    for path, body in bodies.items():
        cells = []
        for name, encode in ENCODERS.items():
            took, size = seconds_per_call(encode, body), len(encode(body))
            totals[name][0] += took
            totals[name][1] += size
            cells.append(f"{took * 1e6:5.0f}µs {size:6d}B")
        print(f"{path:<11} {len(body):>6}  " + "  ".join(cells))
    reference_time, reference_size = totals[REFERENCE]
    print(f"\nall pages, as ratios to {REFERENCE} (time, bytes):")
    for name, (took, size) in totals.items():
        print(f"  {name:<7} time {took / reference_time:4.2f}×  bytes {size / reference_size:4.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
