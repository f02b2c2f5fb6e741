"""/metrics scraped around an E2E story (issue 17, item 3): the story's sign-ups, sign-ins and answers show
in the counts, and nothing of the person does."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect
from prometheus_client.parser import text_string_to_metric_families

from e2e.conftest import METRICS_TOKEN
from e2e.pages import AccountPage, LoginPage
from e2e.test_accounts import PASSWORD, register


def scrape(server) -> tuple[dict, str]:
    answer = httpx.get(server.url + "/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found, answer.text


def grown(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_the_story_shows_in_the_metrics(page, server, citizen, smtp_sink):
    before, _text = scrape(server)
    register(page, citizen, smtp_sink)
    AccountPage(page).log_out()
    login = LoginPage(page).open()
    login.log_in(citizen.phone, "Not-the-password-1")
    expect(login.error_for("password")).to_have_text("账号或密码错误")
    login.log_in(citizen.phone, PASSWORD)
    expect(page).to_have_url("/account")
    after, text = scrape(server)

    assert grown(before, after, "shiming_sms_total", channel="smtp", kind="code", outcome="sent") == 1
    assert grown(before, after, "shiming_logins_total", method="password", outcome="refused") == 1
    assert grown(before, after, "shiming_logins_total", method="password", outcome="ok") == 1
    assert (
        grown(before, after, "shiming_http_requests_total", route="/register", method="POST", status="200")
        >= 1
    )
    assert (
        grown(before, after, "shiming_http_requests_total", route="/logout", method="POST", status="303") == 1
    )
    assert grown(before, after, "shiming_http_request_seconds_count", route="/account", method="GET") >= 2
    for personal in (citizen.phone, citizen.id_number, citizen.name):
        assert personal not in text
