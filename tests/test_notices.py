"""Security notices by SMS (issue 16, item 6): password changed or reset, phone changed (to the old
number), a sign-in from a device not seen before. No code, a limit of their own, each audited."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests import factories
from tests.conftest import runtime_with
from tests.support.pgcluster import free_port
from tests.support.web import csrf_token, post_form
from webapp.accounts.service import change_password
from webapp.sms.codes import Purpose, send_code
from webapp.sms.notices import NOTICES_PER_HOUR, Notice, send_notice
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36"


async def notices_of(account_id: int) -> list[dict]:
    rows = (
        await AuditEvent.select(AuditEvent.detail)
        .where((AuditEvent.account_id == account_id) & (AuditEvent.event == "security_notice"))
        .order_by(AuditEvent.id)
    )
    return [json.loads(row["detail"]) for row in rows]


def browser(app, address: str = "198.51.100.20") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 50000)),
        base_url="https://testserver",
        headers={"user-agent": CHROME},
    )


async def log_in(client, phone: str) -> None:
    answer = await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD})
    assert answer.status_code == 303 and answer.headers["location"] == "/account"


async def test_a_sign_in_from_a_new_device_is_told_once(rt, app, smtp_sink, clock):
    clock.set_shanghai(2026, 3, 2, 21, 5)
    account_id, _record, phone = await factories.account(rt)
    async with browser(app) as first:
        await log_in(first, phone)
        [notice] = smtp_sink.to(phone)
        assert "2026-03-02 21:05" in notice.text and "新设备（Chrome · Windows）" in notice.text
        assert "如非本人操作" in notice.text and not re.search(r"\d{6}", notice.text)  # no code in it
        await post_form(first, "/logout", {}, token=await csrf_token(first, "/account"))
        await log_in(first, phone)
        assert len(smtp_sink.to(phone)) == 1  # the same browser again: no notice
    async with browser(app, "203.0.113.77") as second:
        await log_in(second, phone)
        assert len(smtp_sink.to(phone)) == 2
    assert [n["kind"] for n in await notices_of(account_id)] == ["new_device", "new_device"]
    assert all(n["sent"] for n in await notices_of(account_id))


async def test_the_browser_that_registered_is_known(rt, app, smtp_sink):
    record = await factories.citizen(rt, "林小雨")
    phone = factories.phone()
    async with browser(app) as client:
        token = await csrf_token(client, "/register")
        await post_form(client, "/register/sms", {"phone": phone}, htmx=True, token=token)
        form = factories.registration_form(record, phone, smtp_sink.code_for(phone), factories.PASSWORD)
        registered = await post_form(client, "/register", form, token=token)
        assert registered.headers["location"] == "/account?done=registered"
        await post_form(client, "/logout", {}, token=await csrf_token(client, "/account"))
        await log_in(client, phone)
    assert len(smtp_sink.to(phone)) == 1  # the code only: no new-device notice


async def test_a_password_change_and_a_reset_are_told(rt, smtp_sink):
    account_id, _record, phone = await factories.account(rt)
    changed = await change_password(
        rt, account_id, factories.PASSWORD, "Another-pass-7", factories.ORIGIN, None, None
    )
    assert changed.ok
    [notice] = smtp_sink.to(phone)
    assert "您的登录密码已修改" in notice.text
    from webapp.accounts.recovery import reset_password

    await reset_password(rt, account_id, "Third-pass-88", factories.ORIGIN)
    assert "您的登录密码已重置" in smtp_sink.to(phone)[-1].text
    assert [n["kind"] for n in await notices_of(account_id)] == ["password_changed", "password_reset"]


async def test_notices_have_their_own_limit_and_leave_the_code_quota_alone(rt, smtp_sink):
    account_id, _record, phone = await factories.account(rt)
    sent = [
        await send_notice(rt, account_id, Notice.PASSWORD_CHANGED, factories.ORIGIN)
        for _ in range(NOTICES_PER_HOUR + 2)
    ]
    assert sent == [True] * NOTICES_PER_HOUR + [False, False]
    assert len(smtp_sink.to(phone)) == NOTICES_PER_HOUR
    audited = await notices_of(account_id)
    assert [n["reason"] for n in audited[-2:]] == ["limit", "limit"] and not audited[-1]["sent"]
    code = await send_code(rt, phone, Purpose.CHANGE_PHONE, factories.ORIGIN)
    assert code.sent  # the person's own code still goes out


async def test_a_notice_that_cannot_be_delivered_changes_nothing(rt, smtp_sink):
    account_id, _record, phone = await factories.account(rt)
    down = runtime_with(rt, smtp_port=free_port())  # nothing listens there
    changed = await change_password(
        down, account_id, factories.PASSWORD, "Another-pass-7", factories.ORIGIN, None, None
    )
    assert changed.ok and smtp_sink.to(phone) == []
    [audited] = await notices_of(account_id)
    assert audited == {"kind": "password_changed", "reason": "delivery", "sent": False}
