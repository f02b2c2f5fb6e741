"""Consent records and versions (issue 16, item 5): 用户协议 and 个人信息保护政策 accepted at 注册 and
激活账号, the face notice at face consent; a raised version holds every account's next sign-in at /consent
until it is accepted (and recorded)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from tests import factories
from tests.support.web import csrf_token, post_form
from webapp.accounts.level import record_consent
from webapp.privacy import consents
from webapp.privacy.tables import Consent
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")


async def recorded(account_id: int) -> set[tuple[str, str]]:
    rows = await Consent.select(Consent.document, Consent.version).where(Consent.account == account_id)
    return {(row["document"], row["version"]) for row in rows}


async def sign_in(client, phone: str) -> httpx.Response:
    answer = await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD})
    assert answer.status_code == 303
    return answer


def raise_version(monkeypatch, key: str, version: str) -> None:
    """What publishing a new text does: the document's version in force changes."""
    documents = dict(consents.DOCUMENTS)
    documents[key] = dataclasses.replace(documents[key], version=version)
    monkeypatch.setattr(consents, "DOCUMENTS", documents)


async def test_registering_accepts_the_current_versions(rt):
    account_id, _record, _phone = await factories.account(rt)
    assert await recorded(account_id) == {
        ("user_agreement", consents.DOCUMENTS["user_agreement"].version),
        ("privacy_policy", consents.DOCUMENTS["privacy_policy"].version),
    }
    events = await AuditEvent.count().where(
        (AuditEvent.account_id == account_id) & (AuditEvent.event == "consent_given")
    )
    assert events == 2 and await consents.outstanding(account_id) == []


async def test_face_consent_records_the_notice_version(rt):
    account_id, _record, _phone = await factories.account(rt)
    await record_consent(rt, account_id, factories.ORIGIN)
    assert ("face_data_notice", consents.DOCUMENTS["face_data_notice"].version) in await recorded(account_id)


async def test_a_new_version_holds_the_next_sign_in_until_accepted(rt, app, client, monkeypatch):
    account_id, _record, phone = await factories.account(rt)
    raise_version(monkeypatch, "user_agreement", "2027-01-01")
    await sign_in(client, phone)
    for path in ("/account", "/level", "/business", "/account/data"):
        held = await client.get(path, follow_redirects=False)
        assert held.status_code == 303 and held.headers["location"] == f"/consent?next={path}", path
    htmx = await client.get("/account", headers={"hx-request": "true"}, follow_redirects=False)
    assert htmx.headers["hx-redirect"] == "/consent?next=/account"
    page = await client.get("/consent?next=/account")
    assert page.status_code == 200 and "《用户协议》" in page.text and "2027-01-01" in page.text
    assert "个人信息保护政策" not in page.text.split("<main")[1].split("</main>")[0]  # not raised
    token = await csrf_token(client, "/consent?next=/account")
    accepted = await post_form(client, "/consent", {"next": "/account"}, token=token)
    assert accepted.status_code == 303 and accepted.headers["location"] == "/account"
    assert ("user_agreement", "2027-01-01") in await recorded(account_id)
    assert (await client.get("/account", follow_redirects=False)).status_code == 200


async def test_another_device_held_meanwhile_goes_on_once_accepted_elsewhere(rt, app, client, monkeypatch):
    _account_id, _record, phone = await factories.account(rt)
    raise_version(monkeypatch, "privacy_policy", "2027-02-01")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("198.51.100.8", 1)), base_url="https://testserver"
    ) as other:
        await sign_in(client, phone)
        await sign_in(other, phone)
        token = await csrf_token(client, "/consent")
        await post_form(client, "/consent", {"next": "/account"}, token=token)
        held = await other.get("/account", follow_redirects=False)
        assert held.headers["location"] == "/consent?next=/account"
        released = await other.get("/consent?next=/account", follow_redirects=False)
        assert released.status_code == 303 and released.headers["location"] == "/account"
        assert (await other.get("/account", follow_redirects=False)).status_code == 200


async def test_declining_signs_out_and_asks_again(rt, app, client, monkeypatch):
    account_id, _record, phone = await factories.account(rt)
    raise_version(monkeypatch, "user_agreement", "2027-01-01")
    await sign_in(client, phone)
    page = await client.get("/consent")
    assert "不同意，退出登录" in page.text
    token = await csrf_token(client, "/consent")
    await post_form(client, "/logout", {}, token=token)
    assert (await client.get("/account", follow_redirects=False)).headers["location"].startswith("/login")
    assert ("user_agreement", "2027-01-01") not in await recorded(account_id)
    await sign_in(client, phone)
    assert (await client.get("/account", follow_redirects=False)).headers[
        "location"
    ] == "/consent?next=/account"


async def test_an_account_from_before_consents_were_recorded_is_asked(rt, client):
    account_id, _record, phone = await factories.account(rt)
    await Consent.delete().where(Consent.account == account_id)  # as every account the migration found
    await sign_in(client, phone)
    page = await client.get("/account")
    assert page.url.path == "/consent" and "《用户协议》" in page.text and "《个人信息保护政策》" in page.text


async def test_the_privacy_policy_is_a_page_for_everyone(client):
    page = await client.get("/privacy")
    assert page.status_code == 200 and "个人信息保护政策" in page.text and "您的权利" in page.text
    english = await client.get("/privacy", headers={"accept-language": "en"})
    assert "Privacy Policy" in english.text
