"""HTTP throughput benchmark — run ``python bench/http.py`` from the project root.

It starts its own server (tests/support/server.py: ``webapp serve`` on 127.0.0.1, a free port, a
throwaway SQLite database, migrated and seeded with the demo; production settings; the per-address login
limit raised so the benchmark is not refused) and sends traffic to nothing else. Every phase is bounded in
time and in request count, and the server is stopped at the end. From this one run it prints:

1. ``GET /login`` (a full page: template, CSRF token, gzip) against the bare route of the same server,
   ``GET /manifest.webmanifest`` (a file read through the same middleware stack: no template, no database),
   with N concurrent keep-alive clients; ``GET /healthz`` (one ``SELECT 1``) is printed for context;
2. one verification of argon2-cffi's default ``PasswordHasher`` (the one webapp.accounts.passwords uses),
   the limit it implies, cores ÷ one verification, and the measured throughput of bare verifications in
   parallel on every core (design §9: Argon2 is memory-bound, so that is the real ceiling);
3. the login POST throughput — wrong passwords for varied unknown identifiers (each still costs one
   verification: unknown accounts are checked against a dummy hash; no per-account lock applies) — as a
   ratio to both limits.

The client is a few lines of asyncio speaking HTTP/1.1 over keep-alive connections, so on a small machine
it takes little of the CPU the server needs. Ratios matter here, not the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import _root  # noqa: F401 (first: the project root on the import path, bench/ off it)

from tests.support.server import AppServer

HOST = "127.0.0.1"  # the only address this benchmark ever talks to
MAX_REQUESTS = 200_000  # per phase, whatever the duration


def request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {HOST}",
        "Accept-Encoding: gzip",
        "User-Agent: bench/http.py",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, list[str]], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"][0]))
    elif "chunked" in headers.get("transfer-encoding", [""])[0]:
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")
        body = b"".join(chunks)
    else:
        body = b""
    return int(status_line.split()[1]), headers, body


async def one_request(port: int, raw: bytes) -> tuple[int, dict[str, list[str]], bytes]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(raw)
        await writer.drain()
        return await read_response(reader)
    finally:
        writer.close()


async def load(
    port: int, make_request, clients: int, seconds: float, warmup: float = 1.0
) -> tuple[float, dict]:
    """Requests per second of ``clients`` keep-alive connections, each sending one request at a time, over
    ``seconds`` after a warm-up. Returns (rate, status counts)."""
    statuses: dict[int, int] = {}
    counted = 0
    started = time.monotonic()
    measure_from = started + warmup
    stop_at = measure_from + seconds
    sent = itertools.count()

    async def client() -> None:
        nonlocal counted
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while (now := time.monotonic()) < stop_at and next(sent) < MAX_REQUESTS:
                writer.write(make_request())
                await writer.drain()
                status, _, _ = await read_response(reader)
                if time.monotonic() >= measure_from and now >= measure_from:
                    counted += 1
                    statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = min(time.monotonic(), stop_at) - measure_from
    return counted / elapsed, statuses


# --- Argon2 -----------------------------------------------------------------------------------------


def one_verification_seconds(runs: int) -> float:
    from argon2 import PasswordHasher
    from argon2.exceptions import VerificationError

    hasher = PasswordHasher()
    stored = hasher.hash("Bench-password-1")
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        with contextlib.suppress(VerificationError):
            hasher.verify(stored, "Wrong-password-2")
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])  # the first pays for allocation


def _verify_for(seconds: float) -> int:
    from argon2 import PasswordHasher
    from argon2.exceptions import VerificationError

    hasher = PasswordHasher()
    stored = hasher.hash("Bench-password-1")
    done = 0
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at and done < 10_000:
        with contextlib.suppress(VerificationError):
            hasher.verify(stored, "Wrong-password-2")
        done += 1
    return done


def parallel_verifications_per_second(processes: int, seconds: float) -> float:
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_verify_for, [0.2] * processes))  # start the processes and warm them
        start = time.monotonic()
        done = sum(pool.map(_verify_for, [seconds] * processes))
        return done / (time.monotonic() - start)


# --- main ---------------------------------------------------------------------------------------------


def csrf_pair(port: int) -> tuple[str, str]:
    """(cookie header value, token) from one GET /login: a real page's CSRF cookie and token."""
    status, headers, _ = asyncio.run(
        one_request(port, request("GET", "/login", {"Accept-Encoding": "identity"}))
    )
    assert status == 200, status
    cookie = next(c.split(";")[0] for c in headers["set-cookie"] if "csrftoken=" in c)
    return cookie, cookie.split("=", 1)[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections for the GETs")
    parser.add_argument("--login-clients", type=int, default=8, help="concurrent connections for login POSTs")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time of each phase in a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each ratio is taken within a round")
    args = parser.parse_args()
    if not (
        1 <= args.clients <= 256
        and 1 <= args.login_clients <= 64
        and 1 <= args.seconds <= 30
        and 1 <= args.rounds <= 10
    ):
        parser.error("clients 1-256, login clients 1-64, seconds 1-30, rounds 1-10")
    cores = os.cpu_count() or 1

    folder = Path(tempfile.mkdtemp(prefix="bench-http-"))
    server = AppServer(
        folder,
        "bench-master-key-0123456789abcdefghijklmnopqrstuvwxyz",
        WEBAPP_LOGIN_PER_IP_MINUTE="1000000",  # every request comes from 127.0.0.1
        WEBAPP_LOG_LEVEL="WARNING",
    ).start()
    try:
        port = server.port
        print(f"server: webapp serve (1 worker) on {HOST}:{port}, throwaway SQLite")
        print(f"{cores} cores; each ratio is taken within one round, {args.rounds} rounds, median shown")
        print(f"\nGETs: {args.clients} concurrent keep-alive clients, {args.seconds:.0f} s a phase, gzip")
        paths = ("/manifest.webmanifest", "/login", "/healthz")
        page_ratios, health_ratios = [], []
        for round_number in range(1, args.rounds + 1):
            rates = {}
            for path in paths:
                raw = request("GET", path)
                rate, statuses = asyncio.run(load(port, lambda raw=raw: raw, args.clients, args.seconds))
                assert set(statuses) == {200}, f"{path}: {statuses}"
                rates[path] = rate
            page_ratios.append(rates["/login"] / rates["/manifest.webmanifest"])
            health_ratios.append(rates["/healthz"] / rates["/manifest.webmanifest"])
            print(
                f"  round {round_number}: "
                + ", ".join(f"GET {p} {rates[p]:.0f} req/s" for p in paths)
                + f"  → /login ÷ bare {page_ratios[-1]:.2f}"
            )
        print(
            f"GET /login ÷ bare route (GET /manifest.webmanifest) = {statistics.median(page_ratios):.2f}"
            f"   [GET /healthz, one SELECT 1: {statistics.median(health_ratios):.2f}]"
        )

        cookie, token = csrf_pair(port)
        numbers = itertools.count(1)

        def login_request() -> bytes:
            identifier = f"139{next(numbers):08d}"  # unknown phone numbers: no account, so no lock
            body = (
                f"identifier={identifier}&password=Wrong-pass-{identifier[-4:]}&_csrf_token={token}".encode()
            )
            headers = {"Cookie": cookie, "X-CSRFToken": token, "HX-Request": "true"}
            return request("POST", "/login", headers, body)

        status, headers, body = asyncio.run(one_request(port, login_request()))
        if headers.get("content-encoding") == ["gzip"]:
            body = gzip.decompress(body)
        assert status == 200 and "账号或密码错误" in body.decode(), (status, body[:300])

        print("\nArgon2: argon2-cffi's default PasswordHasher, as webapp.accounts.passwords uses")
        print(
            f"POST /login: wrong passwords for unknown identifiers, {args.login_clients} concurrent clients, "
            f"{args.seconds:.0f} s a phase"
        )
        limit_ratios, parallel_ratios, ones, limits, parallels, logins = [], [], [], [], [], []
        for round_number in range(1, args.rounds + 1):
            one = one_verification_seconds(runs=7)
            limit = cores / one
            parallel = parallel_verifications_per_second(cores, args.seconds)
            rate, statuses = asyncio.run(load(port, login_request, args.login_clients, args.seconds))
            assert set(statuses) == {200}, f"login: {statuses}"
            ones.append(one), limits.append(limit), parallels.append(parallel), logins.append(rate)
            limit_ratios.append(rate / limit)
            parallel_ratios.append(rate / parallel)
            print(
                f"  round {round_number}: one verification {one * 1000:.0f} ms, limit {cores} ÷ {one:.3f} s"
                f" = {limit:.1f}/s; in parallel {parallel:.1f}/s; POST /login {rate:.1f} req/s"
            )
        median = statistics.median
        print(f"one Argon2 verification: {median(ones) * 1000:.0f} ms")
        print(f"Argon2 limit = cores ÷ one verification = {median(limits):.1f}/s")
        print(f"Argon2 measured on {cores} processes in parallel = {median(parallels):.1f}/s")
        print(f"POST /login throughput = {median(logins):.1f} req/s")
        print(f"POST /login ÷ Argon2 limit (cores ÷ one verification) = {median(limit_ratios):.2f}")
        print(f"POST /login ÷ measured parallel Argon2 throughput = {median(parallel_ratios):.2f}")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
