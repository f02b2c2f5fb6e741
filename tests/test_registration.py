"""Screen 2 (注册) through the app: four elements checked with the authority, SMS code, account, session."""

from __future__ import annotations

import pytest

from tests import factories
from tests.support.web import csrf_token, field_error, post_form
from webapp.accounts.tables import Account, UserSession

pytestmark = pytest.mark.usefixtures("database")


async def test_register_logs_the_person_in_at_level_3(rt, client, smtp_sink):
    record = await factories.citizen(rt, "林小雨")
    phone = factories.phone()
    token = await csrf_token(client, "/register")
    sent = await post_form(client, "/register/sms", {"phone": phone}, htmx=True, token=token)
    assert sent.status_code == 200 and "验证码已发送至" in sent.text and "data-retry-at" in sent.text
    response = await post_form(
        client,
        "/register",
        factories.registration_form(record, phone, smtp_sink.code_for(phone)),
        token=token,
    )
    assert response.status_code == 303 and response.headers["location"] == "/account?done=registered"
    [account] = await Account.select()
    assert account["state"] == "active" and account["level"] == 3
    assert await UserSession.count() == 1
    page = await client.get("/account")
    assert page.status_code == 200 and "**雨" in page.text and "三级实名" in page.text


async def test_errors_stay_next_to_their_fields_and_values_are_kept(client):
    response = await post_form(
        client,
        "/register",
        {
            "name": "<script>alert(1)</script>",
            "id_number": "110105199005171230",
            "valid_from": "",
            "period": "",
            "phone": "12345",
            "code": "",
            "password": "short",
            "password2": "x",
        },
    )
    assert response.status_code == 200
    html = response.text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert field_error(html, "name") != ""
    assert field_error(html, "id_number") == "身份证号校验位不正确"
    assert field_error(html, "valid_from") == "请输入身份证有效期开始日期"
    assert field_error(html, "period") == "请选择有效期限"
    assert field_error(html, "phone") == "请输入正确的11位手机号"
    assert field_error(html, "code") == "请输入验证码"
    assert field_error(html, "password") == "密码长度为8-16位"
    assert 'value="12345"' in html


async def test_authority_mismatch_explains_recently_renewed_cards(rt, client, smtp_sink):
    record = await factories.citizen(rt, "林小雨")
    phone = factories.phone()
    await post_form(client, "/register/sms", {"phone": phone}, htmx=True)
    data = factories.registration_form(record, phone, smtp_sink.code_for(phone))
    data["name"] = "林小云"
    response = await post_form(client, "/register", data, htmx=True)
    assert "最近换领或申请的身份证有可能核验不过" in response.text
    assert await Account.count() == 0
    data["name"] = record.name  # the code was not spent by the refusal
    response = await post_form(client, "/register", data, htmx=True)
    assert response.headers["hx-redirect"] == "/account?done=registered"


async def test_an_id_with_an_account_is_told_to_log_in(rt, client, smtp_sink):
    _account_id, record, _phone = await factories.account(rt, "周一鸣")
    check = await post_form(
        client, "/register/check", {"name": record.name, "id_number": record.id_number}, htmx=True
    )
    assert field_error(check.text, "id_number") == "账号已注册，请直接登录 去登录 忘记密码"
    assert 'href="/login"' in check.text
    other_name = await post_form(
        client, "/register/check", {"name": "周二鸣", "id_number": record.id_number}, htmx=True
    )
    assert field_error(other_name.text, "id_number") == ""  # name and ID must match together
    phone = factories.phone()
    await post_form(client, "/register/sms", {"phone": phone}, htmx=True)
    response = await post_form(
        client, "/register", factories.registration_form(record, phone, smtp_sink.code_for(phone)), htmx=True
    )
    assert field_error(response.text, "id_number") == "账号已注册，请直接登录 去登录 忘记密码"


async def test_period_must_fit_the_age_and_end_date_is_computed(rt, client):
    record = factories.person("王小明")
    data = {"name": record.name, "id_number": record.id_number, "valid_from": "2018-06-01", "period": "10y"}
    response = await post_form(client, "/register/validity", data, htmx=True)
    assert "2028-06-01" in response.text
    assert 'id="validity-message">按有效期开始日期时的年龄，有效期应为20年</p>' in response.text
    assert 'name="period"' not in response.text  # the inputs are never swapped
    data["period"] = "20y"
    response = await post_form(client, "/register/validity", data, htmx=True)
    assert "2038-06-01" in response.text and "validity-message" not in response.text


async def test_sms_countdown_is_server_driven(rt, client, smtp_sink):
    phone = factories.phone()
    first = await post_form(client, "/register/sms", {"phone": phone}, htmx=True)
    expected = int((rt.clock.now().timestamp() + 60) * 1000)
    assert f'data-retry-at="{expected}"' in first.text
    second = await post_form(client, "/register/sms", {"phone": phone}, htmx=True)
    assert field_error(second.text, "code") == "发送过于频繁，请60秒后再获取验证码"
    assert f'data-retry-at="{expected}"' in second.text
    assert len(smtp_sink.to(phone)) == 1


async def test_phone_of_another_account_cannot_get_a_register_code(rt, client, smtp_sink):
    _id, _record, phone = await factories.account(rt)
    response = await post_form(client, "/register/sms", {"phone": phone}, htmx=True)
    assert field_error(response.text, "phone") == "该手机号已被其他账号使用"
    assert smtp_sink.to(phone) == []


async def test_pages_render_without_javascript(client):
    for path, words in (
        ("/register", "注册即视为同意"),
        ("/agreement", "用户协议"),
        ("/faq", "1 小时支持发送3条"),
    ):
        response = await client.get(path)
        assert response.status_code == 200 and words in response.text


async def test_registration_is_a_flow_of_the_browser_that_asked_for_the_code(rt, app, client, smtp_sink):
    """The code proves the phone to the browser that asked for it: the same code typed in another browser
    (no registration flow there), or for another number than the one it went to, registers nobody."""
    import httpx

    record = await factories.citizen(rt, "流程")
    phone = factories.phone()
    token = await csrf_token(client, "/register")
    await post_form(client, "/register/sms", {"phone": phone}, htmx=True, token=token)
    flow_cookies = [name for name in client.cookies if name.endswith("flow_register")]
    assert flow_cookies == ["__Host-flow_register"]
    form = factories.registration_form(record, phone, smtp_sink.code_for(phone))
    another_browser = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
    async with httpx.AsyncClient(transport=another_browser, base_url="https://testserver") as elsewhere:
        other_token = await csrf_token(elsewhere, "/register")
        refused = await post_form(elsewhere, "/register", form, token=other_token)
        assert refused.status_code == 200 and field_error(refused.text, "code") == "验证码已失效，请重新获取"
        assert await Account.count() == 0
    other_number = await post_form(client, "/register", {**form, "phone": factories.phone()}, token=token)
    assert field_error(other_number.text, "code") == "验证码已失效，请重新获取" and await Account.count() == 0
    registered = await post_form(client, "/register", form, token=token)
    assert registered.status_code == 303 and await Account.count() == 1
    assert "__Host-flow_register" not in client.cookies  # the flow ended with the registration
