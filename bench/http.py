"""HTTP throughput benchmark — run ``python bench/http.py`` from the project root.

It measures the app against a bare Litestar app served the same way, on SQLite and on PostgreSQL. It starts
its own servers and sends traffic to nothing else (127.0.0.1, free ports), and stops them all at the end:

- the bare app (bench/bare_app.py: ``Litestar([hello])``, one ``GET /`` answering the text "hello"), run as
  ``python -m uvicorn bare_app:app`` with the server settings of ``webapp serve`` (uvloop, httptools, no
  access log, log level warning, no server header, no proxy headers, its WebSocket message limit, 1 worker);
  the file is copied to a throwaway folder, the process's working directory and only PYTHONPATH entry
  (bench/ itself cannot be: bench/http.py would shadow the standard library's ``http``);
- the app (tests/support/server.py: ``webapp serve``, 1 worker, production settings, migrated and seeded with
  the demo, the per-address login limit raised) on a throwaway SQLite database, then on a throwaway
  PostgreSQL 15 cluster (tests/support/pgcluster.py, passed as WEBAPP_DATABASE_URL as bench/load.py does).

Each is driven by Debian's ``wrk`` (``wrk -t1 -c<connections> -d<seconds>s --latency``, installed with apt-get
when missing), one route at a time, every request with ``Accept-Encoding: gzip, br`` and the cookies a
returning browser has: the CSRF cookie of a first GET /login, and for /account also the session cookie of the
demo account, signed in once with POST /login. The routes:

1. ``GET /login`` (a full page: template, CSRF token, compression);
2. ``GET /account`` signed in (the session and the account read from the database, a full page);
3. ``GET /healthz`` (one ``SELECT 1``);
4. the stylesheet at its fingerprinted URL from the login page (``/static/css/app.css?v=…``: held in memory,
   precompressed);
5. for context, ``GET /login`` on a first visit (no cookie at all: a new CSRF cookie every time).

The bare route is sent the same headers. Every route is warmed for 1 s; then in each of ``--rounds`` rounds
the bare route and every route of every server run for ``--seconds`` each, and each ratio (app route ÷ bare
route, PostgreSQL ÷ SQLite) is taken within one round. It prints every phase, a table of the medians over
rounds, and the budgets, each PASS or FAIL: on SQLite GET /login ≥ 0.50 × bare, GET /account ≥ 0.25 ×,
GET /healthz ≥ 0.50 ×; on PostgreSQL routes 1-4 within 1.5 × of SQLite (PostgreSQL ÷ SQLite ≥ 1 ÷ 1.5).
wrk counts a 3xx as a success, so each route is also requested once with the same headers before and after
every phase and must answer 200 with the right content. Any other answer, any non-2xx/3xx answer or socket
error wrk reports, or a server that exits is an error: exit status 1. A budget not met is a measurement:
exit status 0.

With ``--argon2``, against the first server of ``--engines`` (SQLite unless only PostgreSQL), it also prints:

1. one verification of argon2-cffi's default ``PasswordHasher`` (the one webapp.accounts.passwords uses),
   the limit it implies, cores ÷ one verification, and the measured throughput of bare verifications in
   parallel on every core (design §9: Argon2 is memory-bound, so that is the real ceiling);
2. the login POST throughput — wrong passwords for varied unknown identifiers (each still costs one
   verification: unknown accounts are checked against a dummy hash; no per-account lock applies) — as a
   ratio to both limits. Its client is a few lines of asyncio speaking HTTP/1.1 over keep-alive connections.

wrk takes one core and each server one more: on a small machine, anything else running skews the figures.
Ratios matter here, not the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import _root  # noqa: F401 (first: the project root on the import path, bench/ off it)
import httpx

from tests.support.pgcluster import ThrowawayPostgres, free_port
from tests.support.server import AppServer, stop_process

HOST = "127.0.0.1"  # the only address this benchmark ever talks to
MAX_REQUESTS = 200_000  # per phase of the Argon2 section, whatever the duration
ENCODINGS = "gzip, br"
DEMO_PHONE, DEMO_PASSWORD = "13800138001", "Shiming@2026"
TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')
STYLESHEET = re.compile(r"/static/css/app\.css\?v=[0-9a-f]+")
WARMUP_SECONDS = 1
ENGINES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
SQLITE_BUDGETS = {"GET /login": 0.50, "GET /account": 0.25, "GET /healthz": 0.50}  # × bare, on SQLite
POSTGRES_WITHIN = 1.5  # PostgreSQL req/s ≥ SQLite req/s ÷ this, on every route but the first visit


class BenchError(Exception):
    """Something that makes the figures meaningless: a wrong answer, a socket error, a server that died."""


# --- the Argon2 section's client (asyncio, HTTP/1.1 keep-alive) -------------------------------------


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


# --- servers --------------------------------------------------------------------------------------------


class BareServer:
    """An app of bench/bare_app.py under uvicorn, with the server settings of ``webapp serve``
    (webapp/cli.py)."""

    def __init__(self, folder: Path, app: str = "app", probe_path: str = "/"):
        folder.mkdir(parents=True)
        self.app = app
        self.probe_path = probe_path
        shutil.copy(Path(__file__).with_name("bare_app.py"), folder / "bare_app.py")
        self.folder = folder
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = folder / "server.log"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        from webapp.face.check import MAX_FRAME_BYTES  # as webapp serve has it

        return [
            sys.executable,
            "-m",
            "uvicorn",
            f"bare_app:{self.app}",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--no-proxy-headers",
            "--no-server-header",
            "--ws-max-size",
            str(MAX_FRAME_BYTES + 64),
        ]

    def start(self) -> BareServer:
        env = {**os.environ, "PYTHONPATH": str(self.folder)}
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + self.probe_path, timeout=1).status_code == 200:
                    return self
            time.sleep(0.2)
        raise BenchError(f"bare_app:{self.app} did not start:\n" + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class Route:
    label: str  # GET /login, …: the key of the budgets
    path: str
    cookie: str  # the Cookie header, "" for none
    check: Callable[[httpx.Response], bool]  # the answer is the page it should be
    detail: str = ""

    def headers(self) -> dict[str, str]:
        return {"Accept-Encoding": ENCODINGS, **({"Cookie": self.cookie} if self.cookie else {})}


@dataclass
class Target:
    name: str  # bare, SQLite, PostgreSQL
    url: str
    process: subprocess.Popen
    routes: list[Route]


def cookie_pairs(answer: httpx.Response) -> dict[str, str]:
    # The __Host- cookies are Secure: httpx keeps them off plain http, so they are read and sent by hand.
    pairs = (header.split(";")[0].partition("=") for header in answer.headers.get_list("set-cookie"))
    return {name.strip(): value.strip() for name, _, value in pairs}


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def fetch(url: str, route: Route) -> httpx.Response:
    return httpx.get(url + route.path, headers=route.headers(), timeout=30)


def probe(target: Target, route: Route) -> httpx.Response:
    """One request with the headers wrk sends: it must answer 200 with the right content."""
    if target.process.poll() is not None:
        raise BenchError(f"{target.name}: the server exited with {target.process.returncode}")
    try:
        answer = fetch(target.url, route)
    except httpx.HTTPError as error:
        raise BenchError(f"{target.name} {route.label}: {type(error).__name__}: {error}") from error
    if answer.status_code != 200 or not route.check(answer):
        raise BenchError(
            f"{target.name} {route.label} ({route.path}) answered {answer.status_code}, "
            f"location {answer.headers.get('location')!r}: {answer.text[:300]!r}"
        )
    return answer


def app_routes(name: str, url: str) -> list[Route]:
    """Signs in once and returns the routes with the cookies a returning browser has."""
    first = httpx.get(url + "/login", headers={"Accept-Encoding": ENCODINGS}, timeout=30)
    if first.status_code != 200:
        raise BenchError(f"{name}: first GET /login answered {first.status_code}")
    csrf = cookie_pairs(first)
    token = TOKEN.search(first.text)
    stylesheet = STYLESHEET.search(first.text)
    if not (token and len(csrf) == 1 and stylesheet):
        raise BenchError(f"{name}: the login page has no CSRF token, one cookie or stylesheet: {csrf}")
    signed_in = httpx.post(
        url + "/login",
        data={"identifier": DEMO_PHONE, "password": DEMO_PASSWORD, "_csrf_token": token.group(1)},
        headers={"Cookie": cookie_header(csrf), "Accept-Encoding": ENCODINGS},
        timeout=30,
    )
    session = {k: v for k, v in cookie_pairs(signed_in).items() if k not in csrf}
    if signed_in.status_code not in (200, 303) or not session:
        raise BenchError(
            f"{name}: signing in answered {signed_in.status_code} with cookies "
            f"{list(cookie_pairs(signed_in))}: {signed_in.text[:300]!r}"
        )
    if signed_in.status_code == 303 and signed_in.headers.get("location") != "/account":
        raise BenchError(f"{name}: signing in led to {signed_in.headers.get('location')}, not /account")
    browser = {**csrf, **{k: v for k, v in cookie_pairs(signed_in).items() if k in csrf}}  # if it rotated
    returning, account = cookie_header(browser), cookie_header({**browser, **session})
    return [
        Route("GET /login", "/login", returning, lambda a: "_csrf_token" in a.text),
        Route("GET /account", "/account", account, lambda a: "账号管理" in a.text, "signed in"),
        Route("GET /healthz", "/healthz", returning, lambda a: a.json().get("database") == "ok"),
        Route(
            "GET /static/css/app.css",
            stylesheet.group(0),
            returning,
            lambda a: a.headers.get("content-type", "").startswith("text/css"),
            "?v=…",
        ),
        Route(
            "GET /login first visit",
            "/login",
            "",
            lambda a: "csrftoken=" in a.headers.get("set-cookie", ""),
            "no cookie",
        ),
    ]


def reference_routes(url: str) -> list[Route]:
    first = httpx.get(url + "/page/protected", headers={"Accept-Encoding": ENCODINGS}, timeout=30)
    cookie = cookie_header(cookie_pairs(first))
    if first.status_code != 200 or "csrftoken=" not in cookie:
        raise BenchError(f"reference: GET /page/protected answered {first.status_code}, cookies {cookie!r}")
    return [
        Route("Jinja form, 40 fields", "/page", cookie, lambda a: "第40项" in a.text),
        Route(
            "+ its CSRF, brotli 1",
            "/page/protected",
            cookie,
            lambda a: "_csrf_token" in a.text and a.headers.get("content-encoding") == "br",
        ),
    ]


# --- wrk ------------------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is not on PATH: installing Debian's wrk", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, env=env, timeout=600).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, timeout=600, check=True)
        subprocess.run(install, env=env, timeout=600, check=True)
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is still not on PATH after apt-get install wrk")
    return found


@dataclass
class Phase:
    rate: float  # requests per second
    requests: int
    p50_ms: float
    p99_ms: float


LATENCY_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(wrk: str, url: str, route: Route, seconds: int, connections: int) -> Phase:
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in route.headers().items():
        command += ["-H", f"{name}: {value}"]
    command.append(url + route.path)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"wrk on {route.label} did not finish in {seconds + 30} s") from error
    out = done.stdout
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    count = re.search(r"^\s*(\d+) requests in ", out, re.M)
    latency = {
        int(m[1]): float(m[2]) * LATENCY_UNITS[m[3]]
        for m in re.finditer(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    }
    if done.returncode != 0 or not (rate and count and 50 in latency and 99 in latency):
        raise BenchError(f"wrk on {route.label} failed ({done.returncode}):\n{out}\n{done.stderr}")
    wrong = re.search(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", out, re.M)
    sockets = re.search(r"^\s*Socket errors: (.*)$", out, re.M)
    if wrong or sockets:
        raise BenchError(f"wrk on {route.label} ({url + route.path}) saw errors:\n{out}")
    return Phase(float(rate[1]), int(count[1]), latency[50], latency[99])


def measure(wrk: str, target: Target, route: Route, seconds: int, connections: int) -> Phase:
    probe(target, route)
    phase = run_wrk(wrk, target.url, route, seconds, connections)
    probe(target, route)
    return phase


# --- main -----------------------------------------------------------------------------------------------


def describe(answer: httpx.Response) -> str:
    encoding = answer.headers.get("content-encoding", "identity")
    size = answer.headers.get("content-length", "chunked")
    return f"{answer.status_code}, {answer.headers.get('content-type', '?')}, {encoding}, {size} bytes"


def phase_line(target: Target, route: Route, phase: Phase) -> str:
    return (
        f"  {target.name:<10} {route.label:<26} {phase.rate:>8.0f} req/s   "
        f"p50 {phase.p50_ms:6.1f} ms   p99 {phase.p99_ms:6.1f} ms"
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="measured time of each phase in a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each ratio is taken within a round")
    parser.add_argument("--connections", type=int, default=32, help="wrk's concurrent keep-alive connections")
    parser.add_argument(
        "--engines", default="sqlite,postgres", help="sqlite, postgres or both (comma-separated)"
    )
    parser.add_argument("--argon2", action="store_true", help="also the Argon2 and POST /login section")
    parser.add_argument("--login-clients", type=int, default=8, help="concurrent connections for login POSTs")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not (
        1 <= args.seconds <= 30
        and 1 <= args.rounds <= 10
        and 1 <= args.connections <= 256
        and 1 <= args.login_clients <= 64
        and engines
        and set(engines) <= set(ENGINES)
    ):
        parser.error(
            "seconds 1-30, rounds 1-10, connections 1-256, login clients 1-64, engines sqlite,postgres"
        )
    args.engines = [e for e in ENGINES if e in engines]
    return args


def main() -> int:
    args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    try:
        with contextlib.ExitStack() as stack:
            return bench(args, stack)
    except BenchError as error:
        print(f"\nBENCH ERROR: {error}", file=sys.stderr)
        return 1


def bench(args: argparse.Namespace, stack: contextlib.ExitStack) -> int:
    wrk = ensure_wrk()
    cores = os.cpu_count() or 1
    folder = Path(tempfile.mkdtemp(prefix="bench-http-"))
    stack.callback(shutil.rmtree, folder, ignore_errors=True)

    bare = BareServer(folder / "bare")
    stack.callback(bare.stop)
    bare.start()
    reference = BareServer(folder / "reference", "reference", "/page")
    stack.callback(reference.stop)
    reference.start()
    servers: dict[str, AppServer] = {}
    where = {}
    for engine in args.engines:
        database = {}
        if engine == "postgres":
            postgres = ThrowawayPostgres()
            stack.callback(postgres.stop)  # stops the cluster and deletes it, also after a failed start
            postgres.start()
            database = {"WEBAPP_DATABASE_URL": postgres.url()}
            where[engine] = f"throwaway PostgreSQL 15 cluster at {postgres.url()}"
        (folder / engine).mkdir()
        server = AppServer(
            folder / engine,
            "bench-master-key-0123456789abcdefghijklmnopqrstuvwxyz",
            WEBAPP_LOGIN_PER_IP_MINUTE="1000000",  # every request comes from 127.0.0.1
            WEBAPP_LOG_LEVEL="WARNING",
            **database,
        )
        stack.callback(server.stop)
        server.start()
        servers[engine] = server
        where.setdefault(engine, f"throwaway SQLite {server.database}")

    print(f"bare: python -m uvicorn bare_app:app (bench/bare_app.py) on {bare.url}, as webapp serve runs")
    print(f"reference: python -m uvicorn bare_app:reference on {reference.url}, the same way")
    for engine, server in servers.items():
        print(f"{ENGINES[engine]}: webapp serve (1 worker) on {server.url}, {where[engine]}")
    print(
        f"wrk -t1 -c{args.connections} -d{args.seconds}s --latency, Accept-Encoding: {ENCODINGS}; "
        f"{cores} cores; {args.rounds} round(s), each ratio taken within a round, median shown"
    )

    targets = {}
    for engine, server in servers.items():
        assert server.process is not None
        targets[engine] = Target(ENGINES[engine], server.url, server.process, app_routes(engine, server.url))
    returning = targets[args.engines[0]].routes[0].cookie  # the bare route is sent the same headers
    assert bare.process is not None
    hello = Route("GET /", "/", returning, lambda a: a.text == "hello")
    bare_target = Target("bare", bare.url, bare.process, [hello])
    assert reference.process is not None
    reference_target = Target("reference", reference.url, reference.process, reference_routes(reference.url))

    print("\nroutes, as answered to one request with wrk's headers (status, type, encoding, size):")
    everything = [bare_target, reference_target, *targets.values()]
    for target in everything:
        for route in target.routes:
            answer = probe(target, route)
            label = f"{route.label} ({route.detail})" if route.detail else route.label
            print(f"  {target.name:<10} {label:<42} {describe(answer)}")

    print(f"\nwarm-up: {WARMUP_SECONDS} s on every route")
    for target in everything:
        for route in target.routes:
            measure(wrk, target, route, WARMUP_SECONDS, args.connections)

    rates: dict[tuple[str, str], list[float]] = {}  # (target, route) → req/s per round
    ratios: dict[tuple[str, str], list[float]] = {}  # (target, route) → ÷ bare per round
    versus: dict[str, list[float]] = {}  # route → PostgreSQL ÷ SQLite per round
    for round_number in range(1, args.rounds + 1):
        print(f"\nround {round_number}/{args.rounds}")
        bare_phase = measure(wrk, bare_target, hello, args.seconds, args.connections)
        rates.setdefault(("bare", hello.label), []).append(bare_phase.rate)
        print(phase_line(bare_target, hello, bare_phase))
        this_round: dict[tuple[str, str], float] = {}
        for target in [reference_target, *targets.values()]:
            for route in target.routes:
                phase = measure(wrk, target, route, args.seconds, args.connections)
                key = (target.name, route.label)
                this_round[key] = phase.rate
                rates.setdefault(key, []).append(phase.rate)
                ratios.setdefault(key, []).append(phase.rate / bare_phase.rate)
                print(phase_line(target, route, phase) + f"   ÷ bare {phase.rate / bare_phase.rate:.2f}")
        if len(targets) == 2:
            for route in targets["sqlite"].routes:
                pg, lite = this_round[("PostgreSQL", route.label)], this_round[("SQLite", route.label)]
                versus.setdefault(route.label, []).append(pg / lite)

    median = statistics.median
    labels = [route.label for route in next(iter(targets.values())).routes]
    print(f"\nmedians over {args.rounds} round(s), {args.connections} connections, {args.seconds} s a phase")
    header = (
        f"{'route':<26} | {'SQLite req/s':>12} | {'÷ bare':>6} | {'PostgreSQL req/s':>16} | {'÷ bare':>6} | "
        f"{'PG ÷ SQLite':>11}"
    )
    print(header)
    print("-" * len(header))

    def cells(name: str, label: str, width: int) -> str:
        if (name, label) not in rates:
            return f"{'—':>{width}} | {'—':>6}"
        ratio = median(ratios[(name, label)]) if (name, label) in ratios else 1.0
        return f"{median(rates[(name, label)]):>{width}.0f} | {ratio:>6.2f}"

    bare_rate = median(rates[("bare", hello.label)])
    bare_cells = [
        f"{bare_rate:>{w}.0f} | {1:>6.2f}" if e in targets else f"{'—':>{w}} | {'—':>6}"
        for e, w in (("sqlite", 12), ("postgres", 16))
    ]
    print(f"{'bare Litestar GET /':<26} | {' | '.join(bare_cells)} |")
    for label in labels:
        pg_vs = f"{median(versus[label]):>11.2f}" if label in versus else f"{'—':>11}"
        print(f"{label:<26} | {cells('SQLite', label, 12)} | {cells('PostgreSQL', label, 16)} | {pg_vs}")
    print("\nfor context, bare Litestar serving a form page (bench/bare_app.py's reference app):")
    for route in reference_target.routes:
        print(f"  {route.label:<44} {cells('reference', route.label, 8)} × bare")

    print("\nbudgets:")
    if "sqlite" in targets:
        for label, floor in SQLITE_BUDGETS.items():
            ratio = median(ratios[("SQLite", label)])
            print(f"  SQLite {label} ≥ {floor:.2f} × bare: {ratio:.2f}  {verdict(ratio >= floor)}")
    else:
        print("  SQLite ÷ bare: not measured (--engines without sqlite)")
    if len(targets) == 2:
        for label in labels[:4]:  # the first visit is for context
            ratio = median(versus[label])
            print(
                f"  PostgreSQL {label} within {POSTGRES_WITHIN} × of SQLite (PG ÷ SQLite ≥ "
                f"{1 / POSTGRES_WITHIN:.2f}): {ratio:.2f}  {verdict(ratio >= 1 / POSTGRES_WITHIN)}"
            )
    else:
        print("  PostgreSQL ÷ SQLite: not measured (--engines without both)")

    if args.argon2:
        argon2_section(servers[args.engines[0]].port, args, cores)
    return 0


def argon2_section(port: int, args: argparse.Namespace, cores: int) -> None:
    """POST /login against Argon2 alone, as this benchmark printed it before it measured against wrk."""
    print()
    cookie, token = csrf_pair(port)
    numbers = itertools.count(1)

    def login_request() -> bytes:
        identifier = f"139{next(numbers):08d}"  # unknown phone numbers: no account, so no lock
        body = f"identifier={identifier}&password=Wrong-pass-{identifier[-4:]}&_csrf_token={token}".encode()
        headers = {"Cookie": cookie, "X-CSRFToken": token, "HX-Request": "true"}
        return request("POST", "/login", headers, body)

    status, headers, body = asyncio.run(one_request(port, login_request()))
    if headers.get("content-encoding") == ["gzip"]:
        body = gzip.decompress(body)
    assert status == 200 and "账号或密码错误" in body.decode(), (status, body[:300])

    print("Argon2: argon2-cffi's default PasswordHasher, as webapp.accounts.passwords uses")
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


def csrf_pair(port: int) -> tuple[str, str]:
    """(cookie header value, token) from one GET /login: a real page's CSRF cookie and token."""
    status, headers, _ = asyncio.run(
        one_request(port, request("GET", "/login", {"Accept-Encoding": "identity"}))
    )
    assert status == 200, status
    cookie = next(c.split(";")[0] for c in headers["set-cookie"] if "csrftoken=" in c)
    return cookie, cookie.split("=", 1)[1]


if __name__ == "__main__":
    sys.exit(main())
