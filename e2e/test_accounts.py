"""Screens 2–5, 9, 10, 14, 15 and 16 at phone and desktop size, driving the real server."""

from __future__ import annotations

from playwright.sync_api import expect

from e2e.conftest import new_context, screenshot
from e2e.pages import AccountPage, ActivatePage, LoginPage, RecoverPage, RegisterPage

PASSWORD = "Spring-rain-26"


def register(page, citizen, smtp_sink) -> None:
    form = RegisterPage(page).open()
    form.fill_identity(citizen)
    expect(page.locator("#valid-to")).to_have_text(citizen.valid_to)
    form.request_code(citizen.phone)
    expect(page.get_by_text("验证码已发送至")).to_be_visible()
    expect(page.locator(".sms-button")).to_be_disabled()
    form.finish(smtp_sink.code_for(citizen.phone), PASSWORD)
    expect(page).to_have_url(page.base + "/account?done=registered")


def test_register_then_account_page(page, citizen, smtp_sink):
    form = RegisterPage(page).open()
    form.fill_identity(citizen)
    form.request_code(citizen.phone)
    expect(page.locator(".sms-button")).to_contain_text("秒后重新获取")
    screenshot(page, "02-register")
    page.reload()  # the countdown comes from the server's next-allowed time
    RegisterPage(page).field("手机号").fill(citizen.phone)
    form.fill_identity(citizen)
    form.field("验证码").fill(smtp_sink.code_for(citizen.phone))
    form.field("密码").fill(PASSWORD)
    form.field("确认密码").fill("Different-22")
    form.press("注册")
    expect(form.error_for("password2")).to_have_text("两次输入的密码不一致")
    expect(form.field("姓名")).to_have_value(citizen.name)  # nothing typed is lost
    screenshot(page, "02-register-error")
    form.field("密码").fill(PASSWORD)
    form.field("确认密码").fill(PASSWORD)
    expect(form.error_for("password2")).to_be_hidden()  # the error goes once its field is changed
    expect(form.field("确认密码")).not_to_have_attribute("aria-invalid", "true")
    form.press("注册")
    expect(page).to_have_url(page.base + "/account?done=registered")
    expect(page.get_by_role("status").filter(has_text="注册成功，已登录")).to_be_visible()
    expect(AccountPage(page).heading("账号管理")).to_be_visible()
    expect(page.get_by_role("main").get_by_text("三级实名", exact=True)).to_be_visible()
    expect(page.get_by_text(citizen.phone[:3] + "****" + citizen.phone[-4:])).to_be_visible()
    screenshot(page, "09-account")


def test_register_without_javascript(browser, server, size, citizen, smtp_sink):
    context = new_context(browser, size, javascript=False)
    page = context.new_page()
    page.base, page.size = server.url, size
    form = RegisterPage(page).open()
    form.fill_identity(citizen)
    form.request_code(citizen.phone)
    expect(page.get_by_text("验证码已发送至")).to_be_visible()
    expect(form.field("姓名")).to_have_value(citizen.name)
    form.finish(smtp_sink.code_for(citizen.phone), PASSWORD)
    expect(page).to_have_url(server.url + "/account?done=registered")
    context.close()


def test_an_existing_id_is_told_to_log_in(page, citizen, smtp_sink):
    register(page, citizen, smtp_sink)
    AccountPage(page).log_out()
    form = RegisterPage(page).open()
    form.field("姓名").fill(citizen.name)
    form.field("身份证号").fill(citizen.id_number)
    form.field("有效期开始日期").focus()  # leaving the field asks the server
    expect(form.error_for("id_number")).to_contain_text("账号已注册，请直接登录")
    screenshot(page, "02-register-already")
    page.get_by_role("link", name="去登录").click()
    expect(page).to_have_url(page.base + "/login")


def test_faq_3_story_activation(page, unactivated, smtp_sink):
    """Register an imported ID → 账号已注册 → log in with any password → activation → logged in."""
    form = RegisterPage(page).open()
    form.field("姓名").fill(unactivated.name)
    form.field("身份证号").fill(unactivated.id_number)
    form.field("有效期开始日期").focus()
    expect(form.error_for("id_number")).to_contain_text("账号已注册，请直接登录")
    page.get_by_role("link", name="去登录").click()
    LoginPage(page).into_activation(unactivated.id_number)
    activate = ActivatePage(page)
    expect(activate.heading("激活账号")).to_be_visible()
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
    expect(page).to_have_url(page.base + "/account?done=activated")
    expect(page.get_by_text("账号已激活，已登录")).to_be_visible()
    AccountPage(page).log_out()
    LoginPage(page).log_in(username, PASSWORD)
    expect(page).to_have_url(page.base + "/account")


def test_faq_3_on_an_active_account_ends_with_a_new_password(page, citizen, smtp_sink):
    """FAQ 3 followed by someone whose account is active (registered, password forgotten): 登录 with any
    password → 激活账号 → the phone on record → a new password, and signed in with it."""
    register(page, citizen, smtp_sink)
    AccountPage(page).log_out()
    LoginPage(page).into_activation(citizen.phone)
    activate = ActivatePage(page)
    expect(activate.field("手机号")).to_have_value(citizen.phone)  # the phone typed at 登录
    screenshot(page, "04-activate-from-login")
    activate.field("身份证号").fill(citizen.id_number)
    activate.press("发送验证码")
    expect(activate.error_for("code")).to_contain_text("发送过于频繁")  # the registration code a moment ago
    button = page.get_by_role("button", name="发送验证码", exact=True)
    expect(button).to_be_enabled(timeout=70_000)
    button.click()
    expect(page.get_by_text("如信息无误，验证码已发送至")).to_be_visible()
    activate.field("手机验证码").fill(smtp_sink.code_for(citizen.phone))
    activate.press("下一步")
    expect(page.get_by_text("该账号已激活，无需再次激活")).to_be_visible()
    screenshot(page, "05-activate-active-account-new-password")
    activate.field("新密码").fill("Winter-snow-29")
    activate.field("确认密码").fill("Winter-snow-29")
    activate.press("确定")
    expect(page).to_have_url(page.base + "/login?reset=1")
    LoginPage(page).log_in(citizen.phone, "Winter-snow-29")
    expect(page).to_have_url(page.base + "/account")


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
    LoginPage(page).open()
    page.get_by_role("link", name="忘记密码").click()
    page.get_by_role("link", name="使用手机验证码").click()
    recover = RecoverPage(page)
    recover.field("姓名").fill(citizen.name)
    recover.field("身份证号").fill(citizen.id_number)
    recover.field("账号绑定的手机号").fill(citizen.phone)
    recover.press("获取验证码")
    # The phone had its registration code a moment ago: one code a minute, so the button counts down.
    expect(recover.error_for("code")).to_contain_text("发送过于频繁")
    expect(page.locator("form")).to_have_count(1)  # the step, drawn once
    button = page.get_by_role("button", name="获取验证码", exact=True)
    expect(button).to_be_enabled(timeout=70_000)
    button.click()
    expect(page.get_by_text("如信息无误，验证码已发送至")).to_be_visible()
    expect(page.locator("form")).to_have_count(1)
    expect(recover.field("账号绑定的手机号")).to_have_value(citizen.phone)  # the group keeps its words
    expect(recover.heading("忘记密码")).to_have_count(1)
    expect(page.get_by_label("姓名", exact=True)).to_have_count(1)
    expect(page.get_by_role("button", name="下一步", exact=True)).to_have_count(1)
    screenshot(page, "07-forgot-password-sms")
    recover.field("验证码").fill(smtp_sink.code_for(citizen.phone))
    recover.press("下一步")
    expect(recover.heading("重置密码")).to_be_visible()
    expect(recover.heading("忘记密码")).to_have_count(0)
    expect(page.get_by_role("button", name="下一步", exact=True)).to_have_count(1)
    screenshot(page, "08-reset-password-after-sms")
    recover.choose_password("Summer-sun-28")
    expect(page).to_have_url(page.base + "/login?reset=1")
    LoginPage(page).log_in(citizen.phone, "Summer-sun-28")
    expect(page).to_have_url(page.base + "/account")


def test_change_phone_and_password_then_log_out(page, citizen, smtp_sink):
    register(page, citizen, smtp_sink)
    account = AccountPage(page)
    account.go("手机号")
    expect(account.heading("修改手机号")).to_be_visible()
    account.field("登录密码").fill(PASSWORD)
    account.press("下一步")
    new_phone = "135" + citizen.phone[3:]
    account.field("新手机号").fill(new_phone)
    account.press("获取验证码")
    account.field("短信验证码").fill(smtp_sink.code_for(new_phone))
    screenshot(page, "10-change-phone")
    account.press("确定")
    expect(page.get_by_text("手机号已修改")).to_be_visible()
    expect(page.get_by_text(new_phone[:3] + "****" + new_phone[-4:])).to_be_visible()
    assert any("如非本人操作" in m.text for m in smtp_sink.to(citizen.phone))

    account.go("修改密码")
    expect(account.heading("修改密码")).to_be_visible()
    account.field("旧密码").fill(PASSWORD)
    account.field("新密码").fill("Autumn-wind-27")
    account.field("确认新密码").fill("Autumn-wind-27")
    screenshot(page, "14-change-password")
    account.press("确定")
    expect(page.get_by_text("密码已修改")).to_be_visible()
    account.log_out()
    expect(page).to_have_url(page.base + "/login")
    screenshot(page, "15-logged-out")
    page.goto(page.base + "/account")
    expect(page).to_have_url(page.base + "/login?next=/account")
    LoginPage(page).log_in(new_phone, "Autumn-wind-27")
    expect(page).to_have_url(page.base + "/account")


def test_agreement_opens_over_the_filled_form_and_faq(page, citizen):
    form = RegisterPage(page).open()
    form.field("姓名").fill(citizen.name)
    form.field("身份证号").fill(citizen.id_number)
    page.get_by_role("link", name="《用户协议》").click()
    agreement = page.get_by_role("dialog", name="用户协议")
    expect(agreement).to_be_visible()
    expect(agreement.get_by_text("一、服务内容")).to_be_visible()
    expect(page).to_have_url(page.base + "/register")  # in place: the page under it is the form
    screenshot(page, "03-agreement", full_page=False)
    agreement.get_by_role("button", name="返回注册").click()
    expect(agreement).to_be_hidden()
    expect(form.field("姓名")).to_have_value(citizen.name)  # what was typed is still there
    expect(form.field("身份证号")).to_have_value(citizen.id_number)
    page.get_by_role("contentinfo").get_by_role("link", name="用户协议").click()  # the footer's opens it too
    expect(agreement).to_be_visible()
    page.keyboard.press("Escape")
    expect(agreement).to_be_hidden()

    page.goto(page.base + "/login")  # elsewhere the footer's link is the agreement's own page, with 返回
    page.get_by_role("contentinfo").get_by_role("link", name="用户协议").click()
    expect(page).to_have_url(page.base + "/agreement")
    screenshot(page, "03-agreement-page")
    page.get_by_role("link", name="返回").click()
    expect(page).to_have_url(page.base + "/login")
    page.get_by_role("contentinfo").get_by_role("link", name="常见问题").click()
    expect(page.get_by_text("1 小时支持发送3条")).to_be_visible()
    screenshot(page, "16-faq")


def test_agreement_without_javascript(browser, server, size):
    context = new_context(browser, size, javascript=False)
    page = context.new_page()
    page.base, page.size = server.url, size
    RegisterPage(page).open()
    page.get_by_role("link", name="《用户协议》").click()
    expect(page).to_have_url(page.base + "/agreement")
    expect(page.get_by_role("heading", name="用户协议")).to_be_visible()
    page.get_by_role("link", name="返回").click()
    expect(page).to_have_url(page.base + "/register")
    context.close()
