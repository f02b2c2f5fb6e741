"""/metrics (issue 17, item 3): Prometheus text, readable only with the token; a story's requests, sign-ins
and locks counted; no personal data in any label; several workers summed."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import factories
from tests.conftest import runtime_with
from tests.support.server import AppServer
from tests.support.web import post_form
from webapp.sms.codes import Purpose, send_code

pytestmark = pytest.mark.usefixtures("database")
TOKEN = "metrics-reader-token-0123456789"
HEALTHZ_OK = {"route": "/healthz", "method": "GET", "status": "200"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition: (name, sorted labels) → value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(scraped, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def metered(rt):
    from webapp.app import create_app

    app = create_app(runtime=runtime_with(rt, metrics_token=TOKEN))
    for hook in app.on_startup:
        await hook()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 50000)),
        base_url="https://testserver",
        follow_redirects=False,
    ) as client:
        yield client
    for hook in app.on_shutdown:
        await hook()


async def scrape(client) -> dict:
    answer = await client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(answer.text)


async def test_metrics_are_not_public(client, metered):
    assert (await client.get("/metrics")).status_code == 404  # no token configured: nothing there
    assert (await metered.get("/metrics")).status_code == 401
    wrong = await metered.get("/metrics", headers={"authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert (await metered.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})).status_code == 200


async def test_a_story_is_counted_and_names_no_one(rt, metered):
    _id, record, phone = await factories.account(rt, "钱多多")
    before = await scrape(metered)
    assert (await send_code(rt, phone, Purpose.RESET_PASSWORD, factories.ORIGIN)).sent
    refused = await post_form(metered, "/login", {"identifier": phone, "password": "Wrong-pass-1"})
    assert refused.status_code == 200
    signed_in = await post_form(metered, "/login", {"identifier": phone, "password": factories.PASSWORD})
    assert signed_in.status_code == 303
    assert (await metered.get("/account")).status_code == 200
    await metered.post("/logout", headers={"x-csrftoken": "none"})  # refused by CSRF: a 403, counted
    for _ in range(3):
        assert (await metered.get("/business/filings/F1")).status_code == 303  # signed out: to 登录
    assert (await metered.get("/no-such-page")).status_code == 404
    text = (await metered.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})).text
    after = samples(text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("shiming_sms_total", channel="smtp", kind="code", outcome="sent") == 1
    assert grew("shiming_logins_total", method="password", outcome="refused") == 1
    assert grew("shiming_logins_total", method="password", outcome="ok") == 1
    assert grew("shiming_http_requests_total", route="/login", method="POST", status="200") == 1
    assert grew("shiming_http_requests_total", route="/login", method="POST", status="303") == 1
    assert grew("shiming_http_requests_total", route="/account", method="GET", status="200") == 1
    assert grew("shiming_http_requests_total", route="/logout", method="POST", status="403") == 1
    filing_page = {"route": "/business/filings/{ref}", "method": "GET", "status": "303"}
    assert grew("shiming_http_requests_total", **filing_page) == 3
    assert grew("shiming_http_request_seconds_count", route="/account", method="GET") == 1
    assert grew("shiming_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert (
        value(after, "shiming_database_connections", state="open") >= 1
        or value(after, "shiming_database_connections", state="idle") >= 1
    )
    for personal in (phone, record.id_number, record.name, "F1"):
        assert personal not in text  # a route's template, never its path; never a person


async def test_locks_are_counted(rt, metered):
    _id, _record, phone = await factories.account(rt)
    before = await scrape(metered)
    for _ in range(rt.settings.login_max_failures):
        await post_form(metered, "/login", {"identifier": phone, "password": "Wrong-pass-1"})
    after = await scrape(metered)
    assert value(after, "shiming_account_locks_total") - value(before, "shiming_account_locks_total") == 1


def test_several_workers_are_summed(database, tmp_path):
    """``webapp serve --workers 2``: whichever worker answers, a scrape counts every worker's requests."""
    if not database.startswith("postgres"):
        pytest.skip("several workers serve PostgreSQL only (the PostgreSQL run of the suite runs this)")
    key = "metrics-test-key-0123456789abcdefghijklmnop"
    server = AppServer(tmp_path, key, workers=2, WEBAPP_METRICS_TOKEN=TOKEN, WEBAPP_DATABASE_URL=database)
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            for _ in range(40):  # new connections: the kernel spreads them over both workers
                assert httpx.get(server.url + "/healthz").status_code == 200
            counts = []
            for _ in range(6):
                scraped = samples(client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"}).text)
                counts.append(value(scraped, "shiming_http_requests_total", **HEALTHZ_OK))
        assert counts == [41] * 6  # and the start-up probe's one answered /healthz
    finally:
        server.stop()
