"""Password login (screen 1), its lock, and sessions (design §3)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests import factories
from tests.support.web import csrf_token, field_error, post_form
from webapp.accounts import passwords, sessions
from webapp.accounts.outcomes import Refusal
from webapp.accounts.service import login
from webapp.accounts.tables import UserSession
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")


async def test_five_wrong_passwords_lock_until_the_time_shown(rt, client, clock):
    clock.set_shanghai(2026, 3, 2, 10, 0)
    _id, record, phone = await factories.account(rt)
    token = await csrf_token(client)
    for attempt in range(4):
        wrong = await post_form(
            client, "/login", {"identifier": phone, "password": f"Wrong-{attempt}-pw"}, token=token
        )
        assert field_error(wrong.text, "password") == "账号或密码错误"
    locked = await post_form(client, "/login", {"identifier": phone, "password": "Wrong-5-pw"}, token=token)
    assert field_error(locked.text, "password") == "密码错误次数过多，账号已锁定，请于10:15后再试"
    right = await post_form(
        client, "/login", {"identifier": phone, "password": factories.PASSWORD}, token=token
    )
    assert field_error(right.text, "password") == "密码错误次数过多，账号已锁定，请于10:15后再试"
    clock.advance(minutes=15)
    opened = await post_form(
        client, "/login", {"identifier": phone, "password": factories.PASSWORD}, token=token
    )
    assert opened.status_code == 303 and opened.headers["location"] == "/account"
    events = [row["event"] for row in await AuditEvent.select(AuditEvent.event).order_by(AuditEvent.id)]
    assert (
        events.count("login_failed") == 5
        and events.count("account_locked") == 1
        and events[-2:] == ["login_ok", "security_notice"]  # a sign-in from a browser not seen before
    )


@pytest.fixture
def verified(monkeypatch) -> list[str]:
    """The stored hashes Argon2 verified against, in order (the real hasher does the work)."""
    calls: list[str] = []
    real = passwords.HASHER

    class CountingHasher:
        def verify(self, stored, password):
            calls.append(stored)
            return real.verify(stored, password)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(passwords, "HASHER", CountingHasher())
    return calls


async def test_twenty_wrong_passwords_and_the_right_one_at_once_verify_at_most_five(rt, client, verified):
    """The attacker's race: all 20 guesses were verified, the account locked four times, and the right
    password then signed in and cleared the lock. Each attempt is now reserved before Argon2 runs."""
    _id, _record, phone = await factories.account(rt)
    token = await csrf_token(client)
    guesses = [f"Wrong-{k}-pw" for k in range(20)] + [factories.PASSWORD]
    answers = await asyncio.gather(
        *(post_form(client, "/login", {"identifier": phone, "password": g}, token=token) for g in guesses)
    )
    assert len(verified) <= 5, len(verified)
    assert all(answer.status_code == 200 for answer in answers)  # nobody signed in
    locked = "密码错误次数过多，账号已锁定"
    assert locked in field_error(answers[-1].text, "password")
    right = await post_form(
        client, "/login", {"identifier": phone, "password": factories.PASSWORD}, token=token
    )
    assert locked in field_error(right.text, "password") and await UserSession.count() == 0
    events = [row["event"] for row in await AuditEvent.select(AuditEvent.event)]
    assert events.count("account_locked") == 1 and "login_ok" not in events


async def test_unknown_accounts_cost_one_argon2_verification_too(rt, verified):
    await factories.account(rt)
    unknown = await login(rt, "13000000000", "Whatever-pass-1", factories.ORIGIN)
    assert unknown.refusal is Refusal.WRONG_PASSWORD and len(verified) == 1


async def test_every_identifier_logs_in_and_each_login_gets_a_new_token(rt, client):
    _id, record, phone = await factories.account(rt)
    token = await csrf_token(client)
    cookies = []
    for identifier in (phone, record.id_number, record.id_number.lower()):
        response = await post_form(
            client, "/login", {"identifier": identifier, "password": factories.PASSWORD}, token=token
        )
        assert response.headers["location"] == "/account", identifier
        cookies.append(response.cookies["__Host-sid"])
    assert len(set(cookies)) == 3
    assert await UserSession.count() == 1  # each login replaced the session it came with


async def test_session_cookie_flags(rt, client):
    _id, _record, phone = await factories.account(rt)
    response = await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD})
    header = response.headers["set-cookie"]
    assert header.startswith("__Host-sid=") and "HttpOnly" in header and "Secure" in header
    assert "SameSite=lax" in header and "Path=/" in header


async def test_a_planted_session_cookie_never_becomes_a_session(rt, client):
    _id, _record, phone = await factories.account(rt)
    client.cookies.set("__Host-sid", "attacker-chosen-value", domain="testserver")
    response = await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD})
    assert response.cookies["__Host-sid"] != "attacker-chosen-value"
    assert await sessions.load_session(rt, "attacker-chosen-value") is None


async def test_idle_and_absolute_expiry(rt, clock):
    account_id, _record, _phone = await factories.account(rt)
    token = await sessions.start_session(rt, account_id, factories.ORIGIN)
    for _ in range(24):  # active every 29 minutes: the idle limit slides
        clock.advance(minutes=29)
        assert await sessions.load_session(rt, token) is not None
    clock.advance(minutes=29)  # 12 h 05 min after login
    assert await sessions.load_session(rt, token) is None
    token = await sessions.start_session(rt, account_id, factories.ORIGIN)
    clock.advance(minutes=30)
    assert await sessions.load_session(rt, token) is None


async def test_logout_deletes_the_session_server_side(rt, client):
    _id, _record, phone = await factories.account(rt)
    token = await csrf_token(client)
    await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD}, token=token)
    assert (await client.get("/account", follow_redirects=False)).status_code == 200
    out = await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert out.headers["location"] == "/login"
    assert await UserSession.count() == 0
    assert (await client.get("/account", follow_redirects=False)).headers[
        "location"
    ] == "/login?next=/account"


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/account", "/account"),
        ("//evil.example/x", "/account"),
        ("https://evil.example", "/account"),
        ("/\\evil.example", "/account"),
        ("/faq", "/faq"),
        ("javascript:alert(1)", "/account"),
        ("/\u3000/x", "/account"),  # an ideographic space: whitespace is no part of a path we link to
        ("/\u2028x", "/account"),
        ("/faq?q=帮助", "/faq?q=%E5%B8%AE%E5%8A%A9"),  # a header carries Latin-1 only
    ],
)
async def test_next_only_goes_to_local_paths(rt, client, target, landing):
    _id, _record, phone = await factories.account(rt)
    response = await post_form(
        client, "/login", {"identifier": phone, "password": factories.PASSWORD, "next": target}
    )
    assert response.status_code == 303 and response.headers["location"] == landing
    assert (await client.get("/account", follow_redirects=False)).status_code == 200  # signed in


@pytest.mark.parametrize("target", ["/帮助", "/\u3000/x", "/faq?q=é"])
async def test_choosing_a_language_with_any_next_redirects(client, target):
    response = await client.get("/lang/en", params={"next": target}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].isascii()
    assert response.cookies.get("lang") == "en"


async def test_login_is_limited_per_ip(rt, client):
    from tests.conftest import runtime_with

    tight = runtime_with(rt, login_per_ip_minute=3)
    for _ in range(3):
        assert (
            await login(tight, "13000000001", "x-Wrong-pass", factories.ORIGIN)
        ).refusal is Refusal.WRONG_PASSWORD
    throttled = await login(tight, "13000000001", "x-Wrong-pass", factories.ORIGIN)
    assert throttled.refusal is Refusal.THROTTLED
    assert throttled.until == rt.clock.now() + timedelta(seconds=60)


async def test_a_lock_set_while_the_right_password_was_being_checked_stands(rt):
    """The right password's Argon2 is slow; four wrong ones reserved after it lock the source meanwhile.
    Settling after them, the right one must not sign in (nor clear the count)."""
    from webapp.accounts import guard

    now = rt.clock.now()
    right = await guard.reserve(rt, "account:1", "ip:203.0.113.9", now)
    for _ in range(4):
        wrong = await guard.reserve(rt, "account:1", "ip:203.0.113.9", now)
        verdict = await guard.settle(rt, wrong, False, now)
    assert verdict.newly_locked
    assert (await guard.settle(rt, right, True, now)).locked_until == verdict.locked_until
