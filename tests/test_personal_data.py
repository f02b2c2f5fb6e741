"""个人信息副本 (issue 16, item 3): after a fresh password check, everything held about the person as a page
and as JSON (docs/personal-data.md); the face template listed as held, never exported."""

from __future__ import annotations

import base64
import json

import pytest

from tests import factories
from tests.support.business import new_filing, set_level
from tests.support.web import field_error, post_form
from webapp.accounts.tables import Account
from webapp.privacy import consents
from webapp.privacy.copy import SCHEMA
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")

TOP_LEVEL = {
    "schema",
    "generated_at",
    "account",
    "identity",
    "phone",
    "consents",
    "face",
    "filings",
    "sessions",
    "activity",
}


async def sign_in(client, phone: str) -> None:
    answer = await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD})
    assert answer.status_code == 303 and answer.headers["location"] == "/account"


async def check_password(client, password: str = factories.PASSWORD):
    return await post_form(client, "/account/data/password", {"password": password})


async def test_the_copy_needs_a_fresh_password_check(rt, client, clock):
    _id, record, phone = await factories.account(rt)
    await sign_in(client, phone)
    page = await client.get("/account/data")
    assert 'name="password"' in page.text and record.id_number not in page.text
    refused = await client.get("/account/data/copy.json", follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/account/data"

    wrong = await check_password(client, "Wrong-pass-9")
    assert wrong.status_code == 200 and field_error(wrong.text, "password") == "账号或密码错误"
    empty = await check_password(client, "")
    assert field_error(empty.text, "password") == "请输入密码"

    passed = await check_password(client)
    assert passed.status_code == 303 and passed.headers["location"] == "/account/data"
    shown = await client.get("/account/data")
    assert record.name in shown.text and record.id_number in shown.text and phone in shown.text
    assert shown.headers["cache-control"] == "no-store"

    clock.advance(minutes=11)  # the check lasts 10 minutes
    expired = await client.get("/account/data/copy.json", follow_redirects=False)
    assert expired.status_code == 303 and expired.headers["location"] == "/account/data"


async def test_the_json_holds_what_was_registered_and_no_face_template(rt, client, clock):
    clock.set_shanghai(2026, 3, 2, 9, 0)
    account_id, record, phone = await factories.account(rt, name="王小明")
    other = factories.person("孙小美")
    reference = await new_filing(rt, (record, "legal_representative"), (other, "shareholder"))
    template = bytes(range(256)) * 2  # stands for an encrypted face template: none of it may appear
    await set_level(account_id, 4)
    await Account.update({Account.face_template: template}).where(Account.id == account_id)
    await sign_in(client, phone)
    await check_password(client)
    answer = await client.get("/account/data/copy.json")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    assert answer.headers["content-disposition"] == 'attachment; filename="personal-data-20260302.json"'
    assert answer.headers["cache-control"] == "no-store"
    copy = json.loads(answer.content)

    assert set(copy) == TOP_LEVEL and copy["schema"] == SCHEMA
    assert copy["identity"] == {
        "name": "王小明",
        "id_number": record.id_number,
        "valid_from": record.valid_from.isoformat(),
        "valid_to": record.valid_to.isoformat() if record.valid_to else None,
        "long_term": record.valid_to is None,
        "source_province": "",
    }
    assert copy["phone"] == phone
    assert copy["account"]["level"] == 4 and copy["account"]["state"] == "active"
    assert copy["account"]["created_at"] == "2026-03-02T01:00:00+00:00"
    assert copy["face"] == {"template_held": True, "template_exported": False, "consent_given_at": None}
    assert sorted(copy["consents"], key=lambda c: c["document"]) == [
        {
            "document": key,
            "version": consents.DOCUMENTS[key].version,
            "accepted_at": "2026-03-02T01:00:00+00:00",
        }
        for key in ("privacy_policy", "user_agreement")
    ]
    [filing] = copy["filings"]
    assert filing["reference"] == reference and filing["role"] == "legal_representative"
    assert filing["my_decision"] == "pending" and filing["decided_at"] is None
    assert "孙小美" not in answer.text  # the other person on the filing is theirs, not this person's
    [session] = copy["sessions"]
    assert session["ip"] == "203.0.113.9"
    events = [event["event"] for event in copy["activity"]]
    assert events[-1] == "account_created" and "login_ok" in events and "password_confirmed" in events
    b64 = base64.b64encode
    encodings = (template.hex(), b64(template).decode(), b64(template[:60]).decode())
    assert not any(encoded in answer.text for encoded in encodings)
    downloaded = await AuditEvent.count().where(
        (AuditEvent.account_id == account_id) & (AuditEvent.event == "personal_data_downloaded")
    )
    assert downloaded == 1


async def test_another_browser_of_the_same_account_is_asked_again(rt, app, client):
    import httpx

    _id, _record, phone = await factories.account(rt)
    await sign_in(client, phone)
    await check_password(client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("198.51.100.3", 1)), base_url="https://testserver"
    ) as other:
        await sign_in(other, phone)
        asked = await other.get("/account/data/copy.json", follow_redirects=False)
        assert asked.status_code == 303 and asked.headers["location"] == "/account/data"


async def test_the_face_way_is_for_level_4(rt, client):
    account_id, _record, phone = await factories.account(rt)
    await sign_in(client, phone)
    at_level_3 = await client.get("/account/data")
    assert "/account/data/face" not in at_level_3.text
    sent_back = await client.get("/account/data/face", follow_redirects=False)
    assert sent_back.headers["location"] == "/account/data"
    await set_level(account_id, 4)
    at_level_4 = await client.get("/account/data")
    assert 'href="/account/data/face"' in at_level_4.text
    scan = await client.get("/account/data/face")
    assert scan.status_code == 200 and 'data-purpose="personal_data"' in scan.text
