"""我的设备 and 账号动态 (issue 16) at phone and desktop size: two devices, the other signed out from
the first; the story of both in the account's activity."""

from __future__ import annotations

import json
import re
import sqlite3

from playwright.sync_api import expect

from e2e.conftest import new_context, screenshot
from e2e.pages import (
    AccountPage,
    ActivityPage,
    ConsentPage,
    DevicesPage,
    LoginPage,
    PersonalDataPage,
    PrivacyPage,
)
from e2e.test_accessibility import Audit
from e2e.test_accounts import PASSWORD, register

WECHAT_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.44(0x18002c2d) NetType/WIFI Language/zh_CN"
)


def test_see_two_devices_and_sign_the_other_out(page, browser, server, size, citizen, smtp_sink):
    register(page, citizen, smtp_sink)
    other_context = new_context(browser, size, server.url, user_agent=WECHAT_ON_IPHONE)
    other = other_context.new_page()
    LoginPage(other).open().log_in(citizen.phone, PASSWORD)
    expect(other).to_have_url("/account")

    AccountPage(page).go("我的设备")
    devices = DevicesPage(page)
    expect(devices.heading()).to_be_visible()
    expect(devices.devices).to_have_count(2)
    expect(devices.this_device).to_contain_text("Chrome · Linux")  # Playwright's headless Chromium
    expect(devices.device("微信 · iPhone")).to_be_visible()
    expect(devices.device("微信 · iPhone")).not_to_contain_text("本设备")
    screenshot(page, "21-devices")

    devices.sign_out("微信 · iPhone")
    expect(page.get_by_role("status").filter(has_text="已退出该设备上的登录")).to_be_visible()
    expect(devices.devices).to_have_count(1)
    expect(devices.text("没有其他设备登录您的账号。")).to_be_visible()
    other.goto("/account")
    expect(other).to_have_url("/login?next=/account")  # its very next request
    other_context.close()

    AccountPage(page).open().go("账号动态")
    activity = ActivityPage(page)
    expect(activity.heading()).to_be_visible()
    expect(activity.events.first).to_contain_text("退出其他设备上的登录")
    titles = activity.titles()
    assert titles[0] == "退出其他设备上的登录" and titles[-1] == "注册账号", titles
    assert "登录成功" in titles, titles
    expect(activity.events.filter(has_text="登录成功").first).to_contain_text("微信 · iPhone")
    screenshot(page, "22-activity")


def test_devices_without_javascript(browser, server, size, citizen, smtp_sink, page):
    register(page, citizen, smtp_sink)  # the first device, with JavaScript
    context = new_context(browser, size, server.url, javascript=False)
    plain = context.new_page()
    LoginPage(plain).open().log_in(citizen.phone, PASSWORD)
    expect(plain).to_have_url("/account")
    devices = DevicesPage(plain).open()
    expect(devices.devices).to_have_count(2)
    devices.sign_out_all_others()
    expect(plain).to_have_url("/account/devices?done=ended_others")
    expect(devices.devices).to_have_count(1)
    page.goto("/account")
    expect(page).to_have_url("/login?next=/account")
    context.close()


def test_download_the_copy_of_my_data(page, citizen, smtp_sink):
    register(page, citizen, smtp_sink)
    AccountPage(page).go("个人信息副本")
    copy = PersonalDataPage(page)
    expect(copy.heading()).to_be_visible()
    expect(copy.text(citizen.id_number)).to_have_count(0)  # nothing before the password again
    screenshot(page, "23-personal-data-check")
    copy.verify("Not-the-password-1")
    expect(copy.error_for("password")).to_have_text("账号或密码错误")
    copy.verify(PASSWORD)
    expect(copy.main.get_by_text(citizen.id_number, exact=True)).to_be_visible()
    expect(copy.main.get_by_text(citizen.phone, exact=True)).to_be_visible()
    screenshot(page, "23-personal-data")

    name, body = copy.download()
    assert re.fullmatch(r"personal-data-\d{8}\.json", name), name
    data = json.loads(body)
    assert data["schema"] == "shiming.personal-data/1"
    assert data["identity"]["name"] == citizen.name
    assert data["identity"]["id_number"] == citizen.id_number
    assert data["identity"]["valid_from"] == citizen.valid_from
    assert data["identity"]["valid_to"] == (None if citizen.valid_to == "长期" else citizen.valid_to)
    assert data["phone"] == citizen.phone
    assert data["account"]["level"] == 3 and data["account"]["state"] == "active"
    assert data["face"] == {"template_held": False, "template_exported": False, "consent_given_at": None}
    assert {c["document"] for c in data["consents"]} == {"user_agreement", "privacy_policy"}
    assert all(c["version"] and c["accepted_at"] for c in data["consents"])
    assert data["filings"] == [] and len(data["sessions"]) == 1
    events = [event["event"] for event in data["activity"]]
    assert events[-1] == "account_created" and "password_confirmed" in events, events


def test_an_account_from_before_consents_were_recorded_accepts_at_sign_in(
    page, server, size, citizen, smtp_sink
):
    register(page, citizen, smtp_sink)
    AccountPage(page).log_out()
    with sqlite3.connect(server.database) as db:  # as every account the migration that added consents found
        db.execute("DELETE FROM consent WHERE account = (SELECT max(id) FROM account)")
    LoginPage(page).open().log_in(citizen.phone, PASSWORD)
    consent = ConsentPage(page)
    expect(page).to_have_url("/consent?next=/account")
    expect(consent.heading()).to_be_visible()
    expect(consent.link("《用户协议》")).to_be_visible()
    expect(consent.link("《个人信息保护政策》")).to_be_visible()
    screenshot(page, "24-consent")
    audit = Audit(page, size)
    audit("consent")
    page.goto("/level")  # nothing else until it is answered
    expect(page).to_have_url("/consent?next=/level")
    consent.accept()
    expect(page).to_have_url("/level")
    AccountPage(page).open()
    expect(AccountPage(page).heading()).to_be_visible()
    PrivacyPage(page).open()
    expect(PrivacyPage(page).heading()).to_be_visible()
    audit("privacy policy")
    audit.assert_clean()
