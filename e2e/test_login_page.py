"""Screen 1 (登录): renders at phone and desktop size, with and without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from e2e.conftest import new_context, screenshot
from e2e.pages import AccountPage, LoginPage
from tests.support.server import AppServer

DEMO_PHONE, DEMO_PASSWORD = "13800138001", "Shiming@2026"


def test_login_page_shows_the_guide_words(page):
    login = LoginPage(page).open()
    for words in ("工商注册身份验证", "新用户注册 >", "忘记密码 >"):
        expect(login.text(words, exact=True).first).to_be_visible()
    expect(login.identifier).to_have_attribute("placeholder", "请输入手机号")
    expect(login.password).to_have_attribute("placeholder", "请输入密码")
    screenshot(page, "01-login")


def test_wrong_password_shows_the_error_next_to_the_field_through_htmx(page, htmx, server):
    login = LoginPage(page).open()
    login.log_in(DEMO_PHONE, "Wrong-password-1")
    expect(login.error_for("password")).to_have_text("账号或密码错误")
    expect(login.password).to_have_attribute("aria-invalid", "true")
    expect(login.identifier).to_have_value(DEMO_PHONE)  # nothing typed is lost
    screenshot(page, "01-login-error")
    assert [(method, url.removeprefix(server.url)) for method, url, _ in htmx.requests] == [
        ("POST", "/login")
    ]


def test_a_refusal_reaches_the_person_with_javascript_on(page, citizen):
    """htmx does not swap 4xx/5xx answers by default: a refused request (here a 403, the page's token
    forged) must still say why, above the form, with what was typed kept; the next request clears it.
    (A phone with no account: a wrong password for it is answered alike, and locks nobody's account.)"""
    login = LoginPage(page).open()
    good = page.evaluate("document.body.getAttribute('hx-headers')")
    page.evaluate("""document.body.setAttribute('hx-headers', '{"x-csrftoken": "forged"}')""")
    login.identifier.fill(citizen.phone)
    login.password.fill("Wrong-password-1")
    with page.expect_response(lambda r: r.request.method == "POST" and r.status == 403):
        login.submit.click()
    alert = login.alert
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("请求已失效，请刷新页面后重试")
    expect(login.identifier).to_have_value(citizen.phone)
    screenshot(page, "01-login-refused")
    page.evaluate("value => document.body.setAttribute('hx-headers', value)", good)
    login.log_in(citizen.phone, "Wrong-password-2")
    expect(login.error_for("password")).to_have_text("账号或密码错误")
    expect(alert).to_be_hidden()


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory, smtp_sink):
    """A server of its own whose per-address login limit is 2 a minute, so a real 429 comes quickly
    without throttling the suite's shared server."""
    running = AppServer(
        tmp_path_factory.mktemp("e2e-tight"),
        "e2e-tight-master-key-0123456789abcdefghijklmnopqrstuvwxyz",
        WEBAPP_SMTP_PORT=str(smtp_sink.port),
        WEBAPP_LOGIN_PER_IP_MINUTE="2",
    ).start()
    yield running
    running.stop()


def test_a_throttled_login_says_so_with_javascript_on(browser, tight_server, size):
    """The 429 of the per-address limit, answered to htmx: the person reads the wait under 密码."""
    context = new_context(browser, size, tight_server.url)
    page = context.new_page()
    login = LoginPage(page).open()
    statuses = []
    for attempt in range(4):
        login.identifier.fill(DEMO_PHONE)
        login.password.fill(f"Wrong-password-{attempt}")
        with page.expect_response(lambda r: r.request.method == "POST" and "/login" in r.url) as answer:
            login.submit.click()
        statuses.append(answer.value.status)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, statuses
    expect(login.error_for("password")).to_contain_text("操作过于频繁")
    expect(login.identifier).to_have_value(DEMO_PHONE)
    screenshot(page, "01-login-throttled")
    context.close()


def test_a_submit_shows_it_is_working_and_a_double_tap_sends_once(page, htmx, citizen):
    login = LoginPage(page).open()
    login.identifier.fill(citizen.phone)
    login.password.fill("Wrong-password-3")
    form = login.form
    with page.expect_response(lambda r: r.request.method == "POST" and "/login" in r.url):
        login.submit.dblclick()
        expect(form).to_have_attribute("aria-busy", "true")  # while the password is checked
        expect(login.submit).to_be_disabled()
    expect(login.error_for("password")).to_have_text("账号或密码错误")
    expect(login.form).not_to_have_attribute("aria-busy", "true")
    expect(login.submit).to_be_enabled()
    page.wait_for_timeout(300)  # a second request would have been sent by now
    assert [method for method, _url, _ in htmx.requests] == ["POST"]


def test_demo_login_reaches_the_account_page(page):
    LoginPage(page).open().log_in(DEMO_PHONE, DEMO_PASSWORD)
    expect(page).to_have_url("/account")
    account = AccountPage(page)
    expect(account.heading()).to_be_visible()
    expect(account.text("138****8001")).to_be_visible()


def test_login_works_without_javascript(browser, server, size):
    context = new_context(browser, size, server.url, javascript=False)
    page = context.new_page()
    login = LoginPage(page).open()
    login.log_in(DEMO_PHONE, "Wrong-password-2")
    expect(login.error_for("password")).to_have_text("账号或密码错误")
    login.log_in(DEMO_PHONE, DEMO_PASSWORD)
    expect(page).to_have_url("/account")
    context.close()
