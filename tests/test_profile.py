"""Screens 9 (账号管理), 10 (修改手机号), 14 (修改密码), 15 (退出登录)."""

from __future__ import annotations

import pytest

from tests import factories
from tests.support.web import csrf_token, field_error, post_form
from webapp.accounts import sessions
from webapp.accounts.tables import Account, UserSession
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")


async def logged_in(rt, client):
    account_id, record, phone = await factories.account(rt, "钱多多")
    token = await csrf_token(client)
    await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD}, token=token)
    return account_id, record, phone, token


async def test_account_page_shows_masked_identity_and_links(rt, client):
    _id, record, phone, _token = await logged_in(rt, client)
    page = (await client.get("/account")).text
    assert (
        "**多" in page
        and f"{record.id_number[:4]}-XXXXXXXX" in page
        and f"{phone[:3]}****{phone[-4:]}" in page
    )
    assert record.id_number not in page and phone not in page
    for link in ('href="/account/phone"', 'href="/account/password"', 'action="/logout"'):
        assert link in page


async def test_change_phone_needs_the_password_then_a_code_sent_to_the_new_number(rt, client, smtp_sink):
    account_id, _record, old_phone, token = await logged_in(rt, client)
    new_phone = factories.phone()
    early = await post_form(client, "/account/phone/sms", {"phone": new_phone}, htmx=True, token=token)
    assert field_error(early.text, "password") == "操作已过期，请重新输入密码"
    wrong = await post_form(
        client, "/account/phone/password", {"password": "Nope-nope-1"}, htmx=True, token=token
    )
    assert field_error(wrong.text, "password") == "账号或密码错误"
    step2 = await post_form(
        client, "/account/phone/password", {"password": factories.PASSWORD}, htmx=True, token=token
    )
    assert "新手机号" in step2.text and "短信验证码" in step2.text
    await post_form(client, "/account/phone/sms", {"phone": new_phone}, htmx=True, token=token)
    done = await post_form(
        client,
        "/account/phone",
        {"phone": new_phone, "code": smtp_sink.code_for(new_phone)},
        htmx=True,
        token=token,
    )
    assert done.headers["hx-redirect"] == "/account?done=phone"
    row = await Account.select().where(Account.id == account_id).first()
    assert row["phone_index"] == rt.phone_index(new_phone)
    new_device, notice = smtp_sink.to(old_phone)  # the sign-in from this new browser, then the change
    assert "新设备" in new_device.text
    assert f"{new_phone[:3]}****{new_phone[-4:]}" in notice.text and "如非本人操作" in notice.text
    assert await AuditEvent.count().where(AuditEvent.event == "phone_changed") == 1


async def test_a_taken_number_is_refused(rt, client, smtp_sink):
    _other, _r, taken = await factories.account(rt, "孙悟空")
    _id, _record, _phone, token = await logged_in(rt, client)
    await post_form(
        client, "/account/phone/password", {"password": factories.PASSWORD}, htmx=True, token=token
    )
    response = await post_form(client, "/account/phone/sms", {"phone": taken}, htmx=True, token=token)
    assert field_error(response.text, "phone") == "该手机号已被其他账号使用"
    assert smtp_sink.to(taken) == []


async def test_change_password_ends_the_other_sessions(rt, client):
    account_id, _record, phone, token = await logged_in(rt, client)
    other_device = await sessions.start_session(rt, account_id, factories.ORIGIN)
    same = await post_form(
        client,
        "/account/password",
        {"old_password": factories.PASSWORD, "password": factories.PASSWORD, "password2": factories.PASSWORD},
        token=token,
    )
    assert field_error(same.text, "password") == "新密码不能与旧密码相同"
    wrong_old = await post_form(
        client,
        "/account/password",
        {"old_password": "Bad-old-pass-1", "password": "Brand-new-22", "password2": "Brand-new-22"},
        token=token,
    )
    assert field_error(wrong_old.text, "old_password") == "账号或密码错误"
    done = await post_form(
        client,
        "/account/password",
        {"old_password": factories.PASSWORD, "password": "Brand-new-22", "password2": "Brand-new-22"},
        token=token,
    )
    assert done.headers["location"] == "/account?done=password"
    assert await sessions.load_session(rt, other_device) is None
    assert await UserSession.count() == 1
    assert "密码已修改" in (await client.get("/account?done=password")).text
    await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    relogin = await post_form(
        client, "/login", {"identifier": phone, "password": "Brand-new-22"}, token=token
    )
    assert relogin.headers["location"] == "/account"


async def test_profile_screens_need_a_session(client):
    for path in ("/account", "/account/phone", "/account/password"):
        response = await client.get(path, follow_redirects=False)
        assert response.headers["location"] == f"/login?next={path}"
