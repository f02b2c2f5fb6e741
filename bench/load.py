"""Load benchmark — run ``python bench/load.py`` from the project root (the venv's python).

It starts ``webapp serve`` on 127.0.0.1 with a throwaway SQLite database, or with ``--database postgres``
a throwaway PostgreSQL 15 cluster (``webapp migrate`` and ``webapp demo`` first, as e2e/conftest.py
does) and a real SMTP sink (aiosmtpd, as the tests use), then drives mixed traffic from ``--users``
concurrent users (httpx async clients, one per user, each with its own CSRF cookie and token) for
``--seconds``:

- page views: GET /login, /register, /faq;
- logins: the demo account 13800138001 / Shiming@2026, and wrong passwords on unknown identifiers
  (never on the demo account, so it is never locked);
- SMS sends: POST /register/sms (as htmx does) with fresh phone numbers.

Every request goes to 127.0.0.1 only; the run is bounded in time (``--seconds``, each request's
timeout, a hard stop) and in count (``--max-requests``), and the server is stopped at the end.

It prints the throughput, p50/p95/p99 latency per kind and overall, and the errors split into
expected refusals (a rate limit answering as designed) and unexpected ones (any 5xx, a transport
error, or a wrong answer). The exit status is 1 when there was any unexpected error.

All traffic comes from one address, so the server's per-address limits on logins and SMS sends are
raised for the run through its environment (values, not switches: the limits still apply); the
per-phone and per-account limits stay at their defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import _root  # noqa: F401 (first: the project root on the import path, bench/ off it)
import httpx

from tests.support.pgcluster import ThrowawayPostgres
from tests.support.server import AppServer
from tests.support.smtp_sink import SmtpSink

DEMO_PHONE, DEMO_PASSWORD = "13800138001", "Shiming@2026"
TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')
PAGES = ("/login", "/register", "/faq")
MIX = {"page": 45, "login_ok": 15, "login_wrong": 20, "sms": 20}  # relative weights
KIND_LABELS = {
    "page": "page view (GET /login, /register, /faq)",
    "login_ok": "login, demo account",
    "login_wrong": "login, wrong password, unknown identifier",
    "sms": "SMS send (POST /register/sms)",
}
LIMIT_REFUSALS = ("操作过于频繁", "发送过于频繁", "短信发送次数已达上限", "账号已锁定")


@dataclass
class Outcome:
    kind: str
    seconds: float
    verdict: str  # ok | limited | unexpected
    detail: str = ""


@dataclass
class Results:
    outcomes: list[Outcome] = field(default_factory=list)
    sms_said_sent: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


class Server(AppServer):
    """The app server of tests/support/server.py, with the bench's limits and a summary of its log."""

    def __init__(
        self,
        folder: Path,
        smtp_port: int,
        workers: int,
        login_limit: int,
        sms_limit: int,
        database_url: str | None = None,
    ):
        self.limits = {
            "WEBAPP_LOGIN_PER_IP_MINUTE": str(login_limit),
            "WEBAPP_SMS_PER_IP_HOUR": str(sms_limit),
        }
        database = {"WEBAPP_DATABASE_URL": database_url} if database_url else {}
        super().__init__(
            folder,
            "load-bench-master-key-0123456789abcdefghijklmnopqrstuvwxyz",
            workers=workers,
            WEBAPP_SMTP_HOST="127.0.0.1",
            WEBAPP_SMTP_PORT=str(smtp_port),
            WEBAPP_LOG_LEVEL="WARNING",
            **self.limits,
            **database,
        )

    def log_problems(self) -> tuple[Counter, list[str]]:
        """The server log's errors and warnings, summarised (message | last project frame | exception),
        with the first traceback in full."""
        summary: Counter = Counter()
        first: list[str] = []
        current: list[str] | None = None

        def close(record: list[str] | None) -> None:
            if not record:
                return
            parts = record[0].split(" - ", 4)  # LEVEL - time - logger - module - message
            headline = f"{parts[0]} {parts[-1]}" if len(parts) == 5 else record[0]
            frames = [line.strip() for line in record if 'File "' in line and "/webapp/" in line]
            where = ""
            if frames:
                where = re.sub(r'^File ".*?(webapp/[^"]+)", line (\d+), in (\w+)', r"\1:\2 \3", frames[-1])
            ending = [line for line in record[1:] if line and not line.startswith((" ", "Traceback"))]
            summary[" | ".join(part for part in (headline, where, ending[-1] if ending else "") if part)] += 1
            if not first and len(record) > 1:
                first.extend(record)

        level = re.compile(r"^(ERROR|WARNING|CRITICAL)( - |:)")
        exception = re.compile(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b")
        for line in self.log_path.read_text(errors="replace").splitlines():
            if level.match(line):
                close(current)
                current = [line]
            elif current is not None and (line.startswith((" ", "Traceback")) or exception.match(line)):
                current.append(line)
            else:
                close(current)
                current = None
        close(current)
        return summary, first


class User:
    """One simulated browser: its own connection pool, CSRF cookie and token."""

    def __init__(self, url: str, timeout: float, phones, rng: random.Random):
        self.client = httpx.AsyncClient(base_url=url, timeout=timeout)
        self.phones, self.rng = phones, rng
        self.cookie = ""
        self.token = ""

    async def open(self) -> None:
        page = await self.client.get("/login")
        page.raise_for_status()
        # The __Host- cookie is Secure: httpx keeps it off plain http, so it is sent by hand.
        self.cookie = page.headers["set-cookie"].split(";")[0]
        self.token = TOKEN.search(page.text).group(1)

    async def close(self) -> None:
        await self.client.aclose()

    async def act(self, kind: str, results: Results) -> None:
        started = time.perf_counter()
        try:
            verdict, detail = await getattr(self, kind)(results)
        except httpx.HTTPError as error:
            verdict, detail = "unexpected", f"transport error: {type(error).__name__}: {error}"
        results.add(Outcome(kind, time.perf_counter() - started, verdict, detail))

    def _post_headers(self, htmx: bool = False) -> dict[str, str]:
        headers = {"cookie": self.cookie}
        if htmx:
            headers.update({"hx-request": "true", "x-csrftoken": self.token})
        return headers

    async def page(self, _results: Results) -> tuple[str, str]:
        path = self.rng.choice(PAGES)
        answer = await self.client.get(path, headers={"cookie": self.cookie})
        if answer.status_code == 200 and "<html" in answer.text:
            return "ok", ""
        return "unexpected", f"GET {path} → {answer.status_code}"

    async def _login(self, identifier: str, password: str) -> httpx.Response:
        return await self.client.post(
            "/login",
            data={"identifier": identifier, "password": password, "_csrf_token": self.token},
            headers=self._post_headers(),
        )

    async def login_ok(self, _results: Results) -> tuple[str, str]:
        answer = await self._login(DEMO_PHONE, DEMO_PASSWORD)
        signed_in = "__Host-sid=" in answer.headers.get("set-cookie", "")
        if answer.status_code == 303 and answer.headers.get("location") == "/account" and signed_in:
            return "ok", ""
        return _refusal_or_unexpected(answer, "login (demo account)")

    async def login_wrong(self, _results: Results) -> tuple[str, str]:
        unknown = f"139{self.rng.randrange(10**8):08d}"
        answer = await self._login(unknown, "Wrong-pass-1")
        if answer.status_code == 200 and "账号或密码错误" in answer.text:
            return "ok", ""
        return _refusal_or_unexpected(answer, "login (wrong password)")

    async def sms(self, results: Results) -> tuple[str, str]:
        phone = next(self.phones)
        answer = await self.client.post(
            "/register/sms", data={"phone": phone}, headers=self._post_headers(htmx=True)
        )
        if answer.status_code == 200 and "验证码已发送至" in answer.text:
            results.sms_said_sent.append(phone)
            return "ok", ""
        return _refusal_or_unexpected(answer, "SMS send")


def _refusal_or_unexpected(answer: httpx.Response, what: str) -> tuple[str, str]:
    if answer.status_code < 500 and any(words in answer.text for words in LIMIT_REFUSALS):
        return "limited", f"{what} → {answer.status_code} (limit)"
    snippet = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.text))[-160:]
    return "unexpected", f"{what} → {answer.status_code}: {snippet}"


async def drive(url: str, args: argparse.Namespace) -> tuple[Results, float]:
    results = Results()
    base = random.Random(args.seed)
    phones = (f"135{n:08d}" for n in itertools.count(base.randrange(10**7)))  # never the demo numbers
    kinds, weights = zip(*MIX.items(), strict=True)
    users = [User(url, args.timeout, phones, random.Random(base.random())) for _ in range(args.users)]
    await asyncio.gather(*(user.open() for user in users))
    budget = itertools.count()
    started = time.perf_counter()
    deadline = started + args.seconds

    async def run(user: User) -> None:
        while time.perf_counter() < deadline and next(budget) < args.max_requests:
            await user.act(user.rng.choices(kinds, weights)[0], results)
            if args.think_ms > 0:  # a pause between a user's requests (exponential, this mean)
                await asyncio.sleep(
                    min(user.rng.expovariate(1000 / args.think_ms), 10 * args.think_ms / 1000)
                )

    try:
        await asyncio.wait_for(
            asyncio.gather(*(run(user) for user in users)), timeout=args.seconds + args.timeout + 30
        )
    finally:
        elapsed = time.perf_counter() - started
        await asyncio.gather(*(user.close() for user in users), return_exceptions=True)
    return results, elapsed


def percentile_row(label: str, outcomes: list[Outcome], elapsed: float) -> str:
    times = sorted(o.seconds * 1000 for o in outcomes)
    if len(times) >= 2:
        cuts = statistics.quantiles(times, n=100, method="inclusive")
        p50, p95, p99 = cuts[49], cuts[94], cuts[98]
    else:
        p50 = p95 = p99 = times[0] if times else 0.0
    verdicts = Counter(o.verdict for o in outcomes)
    return (
        f"{label:<44}{len(outcomes):>8}{len(outcomes) / elapsed:>9.1f}"
        f"{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{(times[-1] if times else 0):>9.1f}"
        f"{verdicts['ok']:>8}{verdicts['limited']:>9}{verdicts['unexpected']:>12}"
    )


def report(results: Results, elapsed: float, sink: SmtpSink) -> int:
    header = (
        f"{'kind':<44}{'requests':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'ok':>8}{'limited':>9}{'unexpected':>12}"
    )
    print(header)
    print("-" * len(header))
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in results.outcomes:
        by_kind[outcome.kind].append(outcome)
    for kind in MIX:
        print(percentile_row(KIND_LABELS[kind], by_kind[kind], elapsed))
    print(percentile_row("overall", results.outcomes, elapsed))
    print()

    # Every "sent" answer must have reached the SMTP sink (deliveries are awaited before answering).
    deadline = time.monotonic() + 10
    said = set(results.sms_said_sent)
    while time.monotonic() < deadline:
        with sink.lock:
            delivered = {m.recipient.split("@")[0] for m in sink.messages}
        if said <= delivered:
            break
        time.sleep(0.2)
    missing = said - delivered
    print(f"SMS: {len(said)} answered as sent, {len(said & delivered)} reached the SMTP sink")

    unexpected = [o for o in results.outcomes if o.verdict == "unexpected"]
    limited = [o for o in results.outcomes if o.verdict == "limited"]
    print(f"errors: {len(limited)} expected limit refusals, {len(unexpected) + len(missing)} unexpected")
    if limited:
        for detail, count in Counter(o.detail for o in limited).most_common(5):
            print(f"  limit refusal ×{count}: {detail}")
    if unexpected or missing:
        for detail, count in Counter(o.detail for o in unexpected).most_common(10):
            print(f"  UNEXPECTED ×{count}: {detail}")
        if missing:
            print(f"  UNEXPECTED: {len(missing)} SMS answered as sent never reached the sink")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to drive traffic")
    parser.add_argument("--users", type=int, default=50, help="concurrent users (at least 50 by default)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (1 on SQLite)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="hard cap on requests")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request fails")
    parser.add_argument(
        "--think-ms", type=float, default=0.0, help="mean pause between a user's requests (0: none)"
    )
    parser.add_argument("--login-per-ip-minute", type=int, default=100_000)
    parser.add_argument("--sms-per-ip-hour", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="a throwaway SQLite file (the embedded default) or a throwaway PostgreSQL 15 cluster",
    )
    args = parser.parse_args(argv)

    sink = SmtpSink().start()
    postgres = ThrowawayPostgres().start() if args.database == "postgres" else None
    try:
        with tempfile.TemporaryDirectory(prefix="shiming-load-") as folder:
            server = Server(
                Path(folder),
                sink.port,
                args.workers,
                args.login_per_ip_minute,
                args.sms_per_ip_hour,
                postgres.url() if postgres else None,
            )
            where = (
                f"throwaway PostgreSQL at {postgres.url()}"
                if postgres
                else f"throwaway SQLite {server.database}"
            )
            print(
                f"Shiming load bench: webapp serve ({args.workers} worker(s)) at {server.url}, "
                f"{where}, aiosmtpd sink at 127.0.0.1:{sink.port}"
            )
            server.start()
            try:
                limits = ", ".join(f"{k}={v}" for k, v in server.limits.items())
                print(
                    "per-IP limits raised for the bench (all traffic comes from 127.0.0.1; per-phone "
                    f"and per-account limits at their defaults): {limits}"
                )
                mix = ", ".join(f"{kind} {weight}%" for kind, weight in MIX.items())
                pause = f", mean think time {args.think_ms:g} ms" if args.think_ms > 0 else ", no think time"
                print(f"{args.seconds:g} s, {args.users} concurrent users{pause}, mix: {mix}\n")
                results, elapsed = asyncio.run(drive(server.url, args))
                print(f"measured over {elapsed:.1f} s\n")
                status = report(results, elapsed, sink)
                if server.process.poll() is not None:
                    print(f"UNEXPECTED: the server exited with {server.process.returncode}")
                    status = 1
                problems, example = server.log_problems()
                print(f"server log: {sum(problems.values())} errors/warnings")
                for problem, count in problems.most_common(10):
                    print(f"  ×{count}: {problem[:300]}")
                if example:
                    print(
                        "  the first one in full:\n    " + "\n    ".join(line[:200] for line in example[-12:])
                    )
            finally:
                server.stop()
    finally:
        sink.stop()
        if postgres:
            postgres.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
