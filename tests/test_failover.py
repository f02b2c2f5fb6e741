"""A standby that takes over (issue 17, item 4): two app processes on a multi-host connection string serve
registrations (an SMS code, then the account) from concurrent clients; the primary is killed mid-load and
the standby promoted. Meanwhile the service answers 503 with Retry-After, never a 500; it reconnects by
itself; and every registration and SMS send it acknowledged is on the new primary (synchronous commit).

Runs in the PostgreSQL pass of the suite, on a primary and standby of its own (tests/support/replication.py).
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import asyncpg
import httpx
import pytest

from tests import factories
from tests.conftest import ENGINE, TEST_KEY
from tests.support.replication import ReplicatedPostgres
from tests.support.server import WEBAPP, AppServer
from tests.support.web import TOKEN
from webapp.crypto import Keyring

CLIENTS = 8
BEFORE_KILL, DOWN, AFTER_PROMOTION = 3.0, 2.0, 8.0  # seconds of load in each phase
LIMITS = {  # the per-address limits sized for one address sending a whole load, as in the E2E suite
    "WEBAPP_SMS_PER_IP_HOUR": "100000",
    "WEBAPP_LOOKUP_PER_IP_HOUR": "100000",
    "WEBAPP_LOGIN_PER_IP_MINUTE": "100000",
}


@dataclass
class Tally:
    sms_acknowledged: list[str] = field(default_factory=list)  # phones
    registered: list[str] = field(default_factory=list)  # phones
    unavailable: int = 0  # 503s, each with Retry-After
    unexpected: list[str] = field(default_factory=list)
    first_success_after_promotion: float | None = None


def answer_ok(tally: Tally, answer: httpx.Response, promoted_at: list[float]) -> bool:
    """True for a success; a 503 must name when to retry; anything else 5xx is unexpected."""
    if answer.status_code == 503:
        tally.unavailable += 1
        if not answer.headers.get("retry-after"):
            tally.unexpected.append("503 without Retry-After")
        return False
    if answer.status_code >= 500:
        tally.unexpected.append(f"{answer.status_code} on {answer.request.url.path}")
        return False
    return True


def keep_cookies(jar: dict[str, str], answer: httpx.Response) -> str:
    """The Cookie header a browser would send next: httpx keeps no Secure cookie over plain http, and the
    app's cookies (CSRF, the registration's flow) are all Secure outside dev."""
    for header in answer.headers.get_list("set-cookie"):
        name, _, value = header.split(";")[0].partition("=")
        jar[name.strip()] = value
    return "; ".join(f"{name}={value}" for name, value in jar.items() if value)


async def register_one(
    url: str, person, phone: str, smtp_sink, tally: Tally, promoted_at: list[float]
) -> None:
    """注册 as the page does it: the form, 获取验证码, then the account. Each acknowledgement counted."""
    jar: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        page = await client.get("/register")
        if not answer_ok(tally, page, promoted_at):
            return
        token = TOKEN.search(page.text).group(1)
        htmx = {"hx-request": "true", "x-csrftoken": token, "cookie": keep_cookies(jar, page)}
        sent = await client.post("/register/sms", data={"phone": phone}, headers=htmx)
        if not answer_ok(tally, sent, promoted_at) or "验证码已发送" not in sent.text:
            return
        tally.sms_acknowledged.append(phone)
        code = await asyncio.to_thread(smtp_sink.code_for, phone)
        htmx["cookie"] = keep_cookies(jar, sent)
        form = factories.registration_form(person, phone, code)
        done = await client.post("/register", data=form, headers=htmx)
        if (
            answer_ok(tally, done, promoted_at)
            and done.headers.get("hx-redirect") == "/account?done=registered"
        ):
            tally.registered.append(phone)
            if promoted_at and tally.first_success_after_promotion is None:
                tally.first_success_after_promotion = time.monotonic() - promoted_at[0]


@pytest.fixture
def replicated():
    cluster = ReplicatedPostgres().start()
    yield cluster
    cluster.stop()


@pytest.mark.postgres_pass
@pytest.mark.skipif(ENGINE != "postgres", reason="PostgreSQL replication: the PostgreSQL pass runs it")
async def test_the_standby_takes_over_and_nothing_acknowledged_is_lost(replicated, smtp_sink, tmp_path):
    admin = await asyncpg.connect(replicated.primary_url("postgres"))
    await admin.execute("CREATE DATABASE webapp")
    await admin.close()
    people = [factories.person("故障转移", date(1988, 1, 1) + timedelta(days=n)) for n in range(400)]
    csv = tmp_path / "citizens.csv"
    csv.write_text(
        "name,id_number,valid_from,valid_to\n"
        + "".join(f"{p.name},{p.id_number},{p.valid_from},{p.valid_to}\n" for p in people),
        encoding="utf-8",
    )
    settings = {
        "WEBAPP_DATABASE_URL": replicated.url("webapp"),
        "WEBAPP_SMTP_PORT": str(smtp_sink.port),
        **LIMITS,
    }
    for n in (1, 2):
        (tmp_path / f"app{n}").mkdir()
    servers = [AppServer(tmp_path / f"app{n}", TEST_KEY, **settings) for n in (1, 2)]
    servers[0].start()
    subprocess.run(
        [WEBAPP, "authority", "import", str(csv)], env=servers[0].env, check=True, capture_output=True
    )
    servers[1].start()
    tally, promoted_at = Tally(), []
    queue = iter(people)
    phones = (factories.phone() for _ in itertools.count())

    async def client_loop(index: int, until: float) -> None:
        while time.monotonic() < until:
            person = next(queue, None)
            if person is None:
                return
            try:
                await register_one(
                    servers[index % 2].url, person, next(phones), smtp_sink, tally, promoted_at
                )
            except httpx.TransportError as error:  # the app process itself never goes away
                tally.unexpected.append(f"transport: {type(error).__name__}")

    try:
        started = time.monotonic()
        end = started + BEFORE_KILL + DOWN + AFTER_PROMOTION
        load = [asyncio.create_task(client_loop(n, end)) for n in range(CLIENTS)]
        await asyncio.sleep(BEFORE_KILL)
        registered_before_kill = len(tally.registered)
        await asyncio.to_thread(replicated.stop_primary, "immediate")  # a crash
        await asyncio.sleep(DOWN)
        await asyncio.to_thread(replicated.promote_standby)
        promoted_at.append(time.monotonic())
        await asyncio.gather(*load)
    finally:
        for server in servers:
            server.stop()

    report = (
        f"failover: {registered_before_kill} registrations before the kill; in all "
        f"{len(tally.registered)} registrations and {len(tally.sms_acknowledged)} SMS sends acknowledged, "
        f"{tally.unavailable} answers 503 with Retry-After; writes again "
        f"{tally.first_success_after_promotion} s after the promotion"
    )
    print(report)
    assert tally.unexpected == [], report
    assert registered_before_kill > 0 and tally.unavailable > 0, report  # the load ran through the outage
    assert tally.first_success_after_promotion is not None, report  # it came back by itself

    keyring = Keyring(TEST_KEY)
    promoted = await asyncpg.connect(replicated.standby_url("webapp"))
    try:
        assert not await promoted.fetchval("SELECT pg_is_in_recovery()")
        accounts = {row["phone_index"] for row in await promoted.fetch("SELECT phone_index FROM account")}
        codes = {row["phone_index"] for row in await promoted.fetch("SELECT phone_index FROM sms_code")}
    finally:
        await promoted.close()
    lost_accounts = [p for p in tally.registered if keyring.blind_index("phone", p) not in accounts]
    lost_codes = [p for p in tally.sms_acknowledged if keyring.blind_index("phone", p) not in codes]
    assert lost_accounts == [] and lost_codes == [], report


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
        asyncpg.exceptions.TargetServerAttributeNotMatched("none of the hosts is read-write"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_what_a_failover_raises_is_answered_503(error):
    """The errors a request can meet while the primary stops or the standby is not yet promoted (a stop
    with clients mid-query, a server starting up, a connection that landed on the standby)."""
    from webapp import db

    wrapped = RuntimeError("a query failed")
    wrapped.__cause__ = error
    assert db.is_unavailable(error) and db.is_unavailable(wrapped)


def test_a_bad_query_is_not_unavailability():
    from webapp import db

    assert not db.is_unavailable(asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'))
