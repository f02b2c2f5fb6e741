"""Screens 2–5, 9, 10, 14, 15 and 16 at phone and desktop size, driving the real server."""

from __future__ import annotations

from playwright.sync_api import expect

from e2e.conftest import new_context, screenshot
from e2e.pages import (
    AccountPage,
    AgreementPage,
    ChangePasswordPage,
    ChangePhonePage,
    FaqPage,
    LoginPage,
    RegisterPage,
)

PASSWORD = "Spring-rain-26"


def register(page, citizen, smtp_sink) -> None:
    form = RegisterPage(page).open()
    form.fill_identity(citizen)
    expect(form.valid_to).to_have_text(citizen.valid_to)
    form.request_code(citizen.phone)
    expect(form.code_sent).to_be_visible()
    expect(form.sms_button).to_be_disabled()
    form.finish(smtp_sink.code_for(citizen.phone), PASSWORD)
    expect(page).to_have_url("/account?done=registered")


def test_register_then_account_page(page, citizen, smtp_sink):
    form = RegisterPage(page).open()
    form.fill_identity(citizen)
    form.request_code(citizen.phone)
    expect(form.sms_button).to_contain_text("秒后重新获取")
    screenshot(page, "02-register")
    page.reload()  # the countdown comes from the server's next-allowed time
    form.field("手机号").fill(citizen.phone)
    form.fill_identity(citizen)
    form.finish(smtp_sink.code_for(citizen.phone), PASSWORD, confirmation="Different-22")
    expect(form.error_for("password2")).to_have_text("两次输入的密码不一致")
    expect(form.field("姓名")).to_have_value(citizen.name)  # nothing typed is lost
    screenshot(page, "02-register-error")
    form.field("密码").fill(PASSWORD)
    form.field("确认密码").fill(PASSWORD)
    expect(form.error_for("password2")).to_be_hidden()  # the error goes once its field is changed
    expect(form.field("确认密码")).not_to_have_attribute("aria-invalid", "true")
    form.press("注册")
    expect(page).to_have_url("/account?done=registered")
    account = AccountPage(page)
    expect(page.get_by_role("status").filter(has_text="注册成功，已登录")).to_be_visible()
    expect(account.heading()).to_be_visible()
    expect(account.level("三级实名")).to_be_visible()
    expect(account.phone(citizen.phone)).to_be_visible()
    screenshot(page, "09-account")


def test_register_without_javascript(browser, server, size, citizen, smtp_sink):
    context = new_context(browser, size, server.url, javascript=False)
    page = context.new_page()
    form = RegisterPage(page).open()
    form.fill_identity(citizen)
    form.request_code(citizen.phone)
    expect(form.code_sent).to_be_visible()
    expect(form.field("姓名")).to_have_value(citizen.name)
    form.finish(smtp_sink.code_for(citizen.phone), PASSWORD)
    expect(page).to_have_url("/account?done=registered")
    context.close()


def test_an_existing_id_is_told_to_log_in(page, citizen, smtp_sink):
    register(page, citizen, smtp_sink)
    AccountPage(page).log_out()
    form = RegisterPage(page).open()
    form.check_id(citizen.name, citizen.id_number)  # leaving the field asks the server
    expect(form.error_for("id_number")).to_contain_text("账号已注册，请直接登录")
    screenshot(page, "02-register-already")
    form.log_in_instead()
    expect(page).to_have_url("/login")


def test_faq_3_story_activation(page, unactivated, smtp_sink):
    """Register an imported ID → 账号已注册 → log in with any password → activation → logged in."""
    form = RegisterPage(page).open()
    form.check_id(unactivated.name, unactivated.id_number)
    expect(form.error_for("id_number")).to_contain_text("账号已注册，请直接登录")
    form.log_in_instead()
    activate = LoginPage(page).into_activation(unactivated.id_number)
    expect(activate.heading()).to_be_visible()
    expect(activate.field("身份证号")).to_have_value(unactivated.id_number)  # carried over from 登录
    screenshot(page, "04-activate-step1")
    activate.verify_phone(unactivated.id_number, unactivated.phone, smtp_sink)
    hints = {
        "用户名": "6-20位字符，第一位必须为字母，支持数字、下划线",
        "密码": "8-16位数字/字母/符号两种以上",
        "确认密码": "请确认密码",
    }
    for label, hint in hints.items():  # the guide's hints, exactly
        expect(activate.field(label)).to_have_attribute("placeholder", hint)
    screenshot(page, "05-activate-step2")
    username = "user_" + unactivated.phone[-6:]
    activate.choose_credentials(username, PASSWORD)
    expect(page).to_have_url("/account?done=activated")
    account = AccountPage(page)
    expect(account.text("账号已激活，已登录")).to_be_visible()
    account.log_out()
    LoginPage(page).log_in(username, PASSWORD)
    expect(page).to_have_url("/account")


def test_faq_3_on_an_active_account_ends_with_a_new_password(page, citizen, smtp_sink):
    """FAQ 3 followed by someone whose account is active (registered, password forgotten): 登录 with any
    password → 激活账号 → the phone on record → a new password, and signed in with it."""
    register(page, citizen, smtp_sink)
    AccountPage(page).log_out()
    activate = LoginPage(page).into_activation(citizen.phone)
    expect(activate.field("手机号")).to_have_value(citizen.phone)  # the phone typed at 登录
    screenshot(page, "04-activate-from-login")
    activate.request_code(citizen.id_number, citizen.phone)
    expect(activate.error_for("code")).to_contain_text("发送过于频繁")  # the registration code a moment ago
    button = activate.button("发送验证码")
    expect(button).to_be_enabled(timeout=70_000)
    button.click()
    expect(activate.code_sent_if_known).to_be_visible()
    activate.enter_code(smtp_sink.code_for(citizen.phone))
    expect(activate.text("该账号已激活，无需再次激活")).to_be_visible()
    screenshot(page, "05-activate-active-account-new-password")
    activate.choose_new_password("Winter-snow-29")
    expect(page).to_have_url("/login?reset=1")
    LoginPage(page).log_in(citizen.phone, "Winter-snow-29")
    expect(page).to_have_url("/account")


def test_lock_after_five_wrong_passwords(page, citizen, smtp_sink):
    register(page, citizen, smtp_sink)
    AccountPage(page).log_out()
    login = LoginPage(page).open()
    for attempt in range(4):
        login.log_in(citizen.phone, f"Wrong-pass-{attempt}")
        expect(login.error_for("password")).to_have_text("账号或密码错误")
    login.log_in(citizen.phone, "Wrong-pass-5")
    expect(login.error_for("password")).to_contain_text("密码错误次数过多，账号已锁定，请于")
    login.log_in(citizen.phone, PASSWORD)
    expect(login.error_for("password")).to_contain_text("账号已锁定")
    screenshot(page, "01-login-locked")


def test_forgot_password_by_sms(page, citizen, smtp_sink):
    """忘记密码 → 使用手机验证码 → 获取验证码 → 下一步 → 重置密码: each step drawn once, then signed in."""
    register(page, citizen, smtp_sink)
    AccountPage(page).log_out()
    recover = LoginPage(page).open().forgot_password().by_sms()
    recover.request_code(citizen.name, citizen.id_number, citizen.phone)
    # The phone had its registration code a moment ago: one code a minute, so the button counts down.
    expect(recover.error_for("code")).to_contain_text("发送过于频繁")
    expect(page.locator("form")).to_have_count(1)  # the step, drawn once
    button = recover.button("获取验证码")
    expect(button).to_be_enabled(timeout=70_000)
    button.click()
    expect(recover.code_sent_if_known).to_be_visible()
    expect(page.locator("form")).to_have_count(1)
    expect(recover.field("账号绑定的手机号")).to_have_value(citizen.phone)  # the group keeps its words
    expect(recover.heading()).to_have_count(1)
    expect(recover.field("姓名")).to_have_count(1)
    expect(recover.button("下一步")).to_have_count(1)
    screenshot(page, "07-forgot-password-sms")
    reset = recover.enter_code(smtp_sink.code_for(citizen.phone))
    expect(reset.heading()).to_be_visible()
    expect(recover.heading()).to_have_count(0)
    expect(reset.button("下一步")).to_have_count(1)
    screenshot(page, "08-reset-password-after-sms")
    reset.choose_password("Summer-sun-28")
    expect(page).to_have_url("/login?reset=1")
    LoginPage(page).log_in(citizen.phone, "Summer-sun-28")
    expect(page).to_have_url("/account")


def test_change_phone_and_password_then_log_out(page, citizen, smtp_sink):
    register(page, citizen, smtp_sink)
    account = AccountPage(page)
    account.go("手机号")
    change_phone = ChangePhonePage(page)
    expect(change_phone.heading()).to_be_visible()
    change_phone.confirm_password(PASSWORD)
    new_phone = "135" + citizen.phone[3:]
    change_phone.request_code(new_phone)
    change_phone.enter_code(smtp_sink.code_for(new_phone))
    screenshot(page, "10-change-phone")
    change_phone.submit()
    expect(account.text("手机号已修改")).to_be_visible()
    expect(account.phone(new_phone)).to_be_visible()
    assert any("如非本人操作" in m.text for m in smtp_sink.to(citizen.phone))

    account.go("修改密码")
    change_password = ChangePasswordPage(page)
    expect(change_password.heading()).to_be_visible()
    change_password.fill(PASSWORD, "Autumn-wind-27")
    screenshot(page, "14-change-password")
    change_password.submit()
    expect(account.text("密码已修改")).to_be_visible()
    account.log_out()
    expect(page).to_have_url("/login")
    screenshot(page, "15-logged-out")
    account.open()
    expect(page).to_have_url("/login?next=/account")
    LoginPage(page).log_in(new_phone, "Autumn-wind-27")
    expect(page).to_have_url("/account")


def test_agreement_opens_over_the_filled_form_and_faq(page, citizen):
    form = RegisterPage(page).open()
    form.field("姓名").fill(citizen.name)
    form.field("身份证号").fill(citizen.id_number)
    agreement = form.open_agreement()
    expect(agreement.dialog).to_be_visible()
    expect(agreement.text("一、服务内容")).to_be_visible()
    expect(page).to_have_url("/register")  # in place: the page under it is the form
    screenshot(page, "03-agreement", full_page=False)
    agreement.back_to_register()
    expect(agreement.dialog).to_be_hidden()
    expect(form.field("姓名")).to_have_value(citizen.name)  # what was typed is still there
    expect(form.field("身份证号")).to_have_value(citizen.id_number)
    form.footer.get_by_role("link", name="用户协议").click()  # the footer's opens it too
    expect(agreement.dialog).to_be_visible()
    agreement.dismiss()
    expect(agreement.dialog).to_be_hidden()

    login = LoginPage(page).open()  # elsewhere the footer's link is the agreement's own page, with 返回
    login.footer.get_by_role("link", name="用户协议").click()
    expect(page).to_have_url("/agreement")
    screenshot(page, "03-agreement-page")
    AgreementPage(page).back()
    expect(page).to_have_url("/login")
    login.footer.get_by_role("link", name="常见问题").click()
    expect(FaqPage(page).text("1 小时支持发送3条")).to_be_visible()
    screenshot(page, "16-faq")


def test_agreement_without_javascript(browser, server, size):
    context = new_context(browser, size, server.url, javascript=False)
    page = context.new_page()
    RegisterPage(page).open().open_agreement()
    expect(page).to_have_url("/agreement")
    agreement = AgreementPage(page)
    expect(agreement.heading()).to_be_visible()
    agreement.back()
    expect(page).to_have_url("/register")
    context.close()
