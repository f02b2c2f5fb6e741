"""Screens 4–5 (激活账号) and the guide's FAQ 3 story."""

from __future__ import annotations

import pytest

from tests import factories
from tests.support.web import csrf_token, field_error, post_form
from webapp.accounts.service import NewAccount, create_account
from webapp.accounts.tables import Account
from webapp.privacy import consents
from webapp.sms.tables import SmsCode

pytestmark = pytest.mark.usefixtures("database")


async def imported_account(rt):
    record = await factories.citizen(rt, "郑爽朗")
    phone = factories.phone()
    new = NewAccount(record.name, record.id_number, record.valid_from, record.valid_to, phone, None, "河南")
    return await create_account(rt, new, factories.ORIGIN), record, phone


async def phone_verified(client, token: str, id_number: str, phone: str, smtp_sink):
    """激活账号 step 1 by SMS: the code sent to the phone, then 下一步 with it; the answer to 下一步."""
    sent = await post_form(
        client, "/activate/sms", {"id_number": id_number, "phone": phone}, htmx=True, token=token
    )
    assert "如信息无误，验证码已发送至" in sent.text and smtp_sink.to(phone)
    return await post_form(
        client,
        "/activate",
        {"id_number": id_number, "phone": phone, "code": smtp_sink.code_for(phone)},
        htmx=True,
        token=token,
    )


async def test_faq_3_story_register_then_login_with_any_password_then_activate(rt, client, smtp_sink):
    account_id, record, phone = await imported_account(rt)
    token = await csrf_token(client, "/register")
    check = await post_form(
        client,
        "/register/check",
        {"name": record.name, "id_number": record.id_number},
        htmx=True,
        token=token,
    )
    assert field_error(check.text, "id_number") == "账号已注册，请直接登录 去登录 忘记密码"

    login = await post_form(
        client, "/login", {"identifier": record.id_number, "password": "anything"}, token=token
    )
    # The answer of every failed login (tests/test_security_checks.py), with the way into 激活账号.
    assert login.status_code == 200 and field_error(login.text, "password") == "账号或密码错误"
    assert 'action="/activate/from-login"' in login.text
    assert f'name="identifier" value="{record.id_number}"' in login.text
    # The jump carries the identifier over and says why the person is here.
    page = await post_form(client, "/activate/from-login", {"identifier": record.id_number}, token=token)
    assert "激活账号" in page.text and "第1步，共2步" in page.text and "登录未成功" in page.text
    assert f'value="{record.id_number}"' in page.text

    step2 = await phone_verified(client, token, record.id_number, phone, smtp_sink)
    assert "6-20位字符，第一位必须为字母，支持数字、下划线" in step2.text
    assert "8-16位数字/字母/符号两种以上" in step2.text and "请确认密码" in step2.text

    bad = await post_form(
        client,
        "/activate/account",
        {"username": "1abc", "password": "New-pass-77", "password2": "New-pass-77"},
        htmx=True,
        token=token,
    )
    assert field_error(bad.text, "username") == "6-20位字符，第一位必须为字母，支持数字、下划线"
    done = await post_form(
        client,
        "/activate/account",
        {"username": "zheng_sl", "password": "New-pass-77", "password2": "New-pass-77"},
        htmx=True,
        token=token,
    )
    assert done.headers["hx-redirect"] == "/account?done=activated"
    account = await Account.select().where(Account.id == account_id).first()
    assert account["state"] == "active" and account["username"] == "zheng_sl"
    assert {a.document for a in await consents.acceptances(account_id)} == set(
        consents.SIGN_UP
    )  # 激活即视为同意
    assert (await client.get("/account", follow_redirects=False)).status_code == 200  # not held at /consent

    await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    for identifier in ("zheng_sl", phone, record.id_number):
        again = await post_form(
            client, "/login", {"identifier": identifier, "password": "New-pass-77"}, token=token
        )
        assert again.headers["location"] == "/account", identifier
        await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)


async def test_step_1_answers_alike_for_unknown_ids_and_wrong_phones(rt, client, smtp_sink):
    _id, record, phone = await imported_account(rt)
    unknown = factories.id_number()
    other_phone = factories.phone()
    answers = []
    for id_number, mobile in ((record.id_number, other_phone), (unknown, factories.phone())):
        sent = await post_form(client, "/activate/sms", {"id_number": id_number, "phone": mobile}, htmx=True)
        answers.append(sent.text.replace(mobile[-4:], "####"))
        wrong = await post_form(
            client, "/activate", {"id_number": id_number, "phone": mobile, "code": "123456"}, htmx=True
        )
        answers.append(field_error(wrong.text, "code"))
        assert smtp_sink.to(mobile) == []
    assert answers[0] == answers[2] and answers[1] == answers[3] == "验证码不正确"
    assert await SmsCode.count() == 2  # the same work: a code made and stored, never sent


async def test_faq_3_on_an_active_account_ends_with_a_new_password_not_a_lock(rt, client, smtp_sink):
    """The guide's FAQ 3 followed by someone whose account is active (they forgot the password): the same
    steps, proved by the phone on record, end with a new password; the lock their tries earned lifts."""
    from webapp.accounts import sessions

    account_id, record, phone = await factories.account(rt, "钱多多")
    other = await sessions.start_session(rt, account_id, factories.ORIGIN)
    token = await csrf_token(client)
    for attempt in range(5):
        response = await post_form(
            client, "/login", {"identifier": phone, "password": f"Not-the-one-{attempt}"}, token=token
        )
    assert "账号已锁定" in field_error(response.text, "password")
    assert 'action="/activate/from-login"' in response.text  # every failed login offers the way
    page = await post_form(client, "/activate/from-login", {"identifier": phone}, token=token)
    assert f'value="{phone}"' in page.text  # a phone typed at 登录 lands in 手机号
    step2 = await phone_verified(client, token, record.id_number, phone, smtp_sink)
    assert "该账号已激活，无需再次激活" in step2.text and 'name="username"' not in step2.text
    done = await post_form(
        client,
        "/activate/account",
        {"password": "Fresh-pass-31", "password2": "Fresh-pass-31"},
        htmx=True,
        token=token,
    )
    assert done.headers["hx-redirect"] == "/login?reset=1"
    assert await sessions.load_session(rt, other) is None
    again = await post_form(client, "/login", {"identifier": phone, "password": "Fresh-pass-31"}, token=token)
    assert again.headers["location"] == "/account"  # the lock lifted, the new password in
    row = await Account.select(Account.state, Account.username).where(Account.id == account_id).first()
    assert row["state"] == "active"


async def test_step_2_without_a_verified_phone_has_expired(rt, client):
    assert (await client.get("/activate")).status_code == 200
    step2 = await post_form(
        client,
        "/activate/account",
        {"username": "someone_1", "password": "New-pass-77", "password2": "New-pass-77"},
    )
    assert "操作已过期，请重新验证手机号" in step2.text
