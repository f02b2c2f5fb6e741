"""The screens as people use them (issue 13): dates in one format, a long wait as a clock time, focus that
stays where the person went, and the signed-in sections' navigation on wide screens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from e2e.conftest import screenshot
from e2e.pages import AccountPage, BusinessPage, ChangePasswordPage, LevelPage, RegisterPage
from e2e.test_accounts import PASSWORD, register

BEIJING = ZoneInfo("Asia/Shanghai")


def test_dates_are_typed_or_picked_in_one_format(page, citizen):
    form = RegisterPage(page).open()
    form.field("姓名").fill(citizen.name)
    form.field("身份证号").fill(citizen.id_number)
    start = form.field("有效期开始日期")
    expect(start).to_have_attribute("placeholder", "年-月-日，如2018-06-01")
    start.fill(citizen.valid_from.replace("-", "."))  # as the card prints it
    form.period(citizen.period_label).check()
    expect(form.valid_to).to_have_text(citizen.valid_to)  # and shown as 2038-06-01

    start.fill("")
    picker = form.date_picker
    expect(picker).to_be_visible()
    native = form.native_date("valid_from")
    expect(native).to_have_attribute("lang", "zh-CN")
    # The browser's own calendar cannot be driven headless; its choice arrives as a change of the
    # hidden date input, which is what the button's picker writes.
    native.evaluate(
        "(input, day) => { input.value = day; input.dispatchEvent(new Event('change', { bubbles: true })); }",
        citizen.valid_from,
    )
    expect(start).to_have_value(citizen.valid_from)
    expect(start).to_be_focused()
    expect(form.valid_to).to_have_text(citizen.valid_to)
    screenshot(page, "02-register-dates")


def test_a_wait_over_a_minute_shows_when_it_ends(page, citizen):
    # The browser's clock an hour behind the server's: the 60-second wait the server sets reads, here,
    # as an hour and a minute, the length of an exhausted hourly quota.
    page.clock.install(time=datetime.now(UTC) - timedelta(hours=1))
    form = RegisterPage(page).open()
    form.request_code(citizen.phone)
    button = form.sms_button
    expect(button).to_have_text(re.compile(r"^(\d{4}-\d{2}-\d{2} )?\d{2}:\d{2}后重新获取$"))
    ends = datetime.fromtimestamp(int(button.get_attribute("data-retry-at")) / 1000, UTC).astimezone(BEIJING)
    browser_now = datetime.fromtimestamp(page.evaluate("Date.now()") / 1000, UTC).astimezone(BEIJING)
    day = "" if ends.date() == browser_now.date() else ends.strftime("%Y-%m-%d ")
    expect(button).to_have_text(f"{day}{ends:%H:%M}后重新获取")
    expect(button).to_be_disabled()
    screenshot(page, "02-register-long-wait")


def test_an_answer_does_not_take_the_focus_from_the_next_field(page, citizen):
    form = RegisterPage(page).open()
    form.field("手机号").fill(citizen.phone)
    # 获取验证码, and straight on to 密码 before the answer is back, as a quick typist does.
    page.evaluate(
        "() => { document.querySelector('.sms-button').click();"
        " document.getElementById('input-password').focus(); }"
    )
    expect(form.code_sent).to_be_visible()
    expect(form.sms_button).to_have_attribute("data-counting", "1")  # the swap has settled
    expect(form.field("密码")).to_be_focused()
    page.keyboard.type("Spring-rain-26")
    expect(form.field("密码")).to_have_value("Spring-rain-26")
    expect(form.field("验证码")).to_have_value("")


def test_signed_in_sections_have_navigation_on_wide_screens(page, size, citizen, smtp_sink):
    register(page, citizen, smtp_sink)
    account = AccountPage(page)
    side = account.side
    if size == "phone":
        expect(side).to_be_hidden()  # the phone keeps its layout: one column, 返回 on every screen
        expect(account.link("返回")).to_have_count(0)  # 账号管理 is the top
        account.go("实名等级")
        expect(LevelPage(page).link("返回")).to_be_visible()
        return
    expect(side).to_be_visible()
    expect(side.get_by_text("*" * (len(citizen.name) - 1) + citizen.name[-1])).to_be_visible()
    expect(side.get_by_text("三级实名")).to_be_visible()
    sections = account.sections
    expect(sections.get_by_role("link", name="账号管理")).to_have_attribute("aria-current", "page")
    sections.get_by_role("link", name="实名等级").click()
    expect(page).to_have_url("/level")
    expect(sections.get_by_role("link", name="实名等级")).to_have_attribute("aria-current", "page")
    expect(LevelPage(page).link("返回")).to_be_hidden()  # the navigation is the way back
    sections.get_by_role("link", name="工商注册").click()
    expect(BusinessPage(page).heading()).to_be_visible()
    expect(side.get_by_text("三级实名")).to_be_visible()  # always in view
    ChangePasswordPage(page).open()  # a short form stays a centred card, without the navigation
    expect(side).to_have_count(0)
    page.go_back()
    side.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url("/login")


def test_a_wrong_code_keeps_everything_else(page, citizen, smtp_sink):
    form = RegisterPage(page).open()
    form.fill_identity(citizen)
    form.request_code(citizen.phone)
    expect(form.code_sent).to_be_visible()
    code = smtp_sink.code_for(citizen.phone)
    form.finish(f"{(int(code) + 1) % 1_000_000:06d}", PASSWORD)
    expect(form.error_for("code")).to_have_text("验证码不正确")
    expect(form.field("验证码")).to_be_focused()
    for label, value in (("姓名", citizen.name), ("身份证号", citizen.id_number), ("手机号", citizen.phone)):
        expect(form.field(label)).to_have_value(value)
    # The passwords are never sent back by the server; the page keeps its own copy for the same form.
    expect(form.field("密码")).to_have_value(PASSWORD)
    expect(form.field("确认密码")).to_have_value(PASSWORD)
    screenshot(page, "02-register-wrong-code")
    form.field("验证码").fill(code)
    form.press("注册")
    expect(page).to_have_url("/account?done=registered")
