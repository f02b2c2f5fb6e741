"""Accessibility at phone and desktop size: axe-core finds nothing on any screen; touch targets are at least
44 px; login works with the keyboard alone; after an htmx swap focus lands on the first error or the new
heading, and the live region says so.

axe-core is the copy bundled in axe-playwright-python (no network: test_pwa.py runs it offline too). The rules
run are those tagged WCAG 2.0 A and AA, plus WCAG 2.1 A/AA, 2.2 AA and axe's best practices (landmarks,
regions, heading order), which the screens pass as well."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from e2e.pages import (
    AccountPage,
    ActivateByFacePage,
    ActivityPage,
    AgreementPage,
    BusinessPage,
    ChangePasswordPage,
    ChangePhonePage,
    DevicesPage,
    ErrorPage,
    FaceLoginPage,
    FaqPage,
    LevelPage,
    LevelUpgradePage,
    LoginPage,
    OfflinePage,
    PersonalDataPage,
    RecoverBySmsPage,
    RecoverPage,
    RegisterPage,
)
from e2e.test_accounts import PASSWORD, register

AXE = Axe()
AXE_RULES = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
DEMO_PHONE, DEMO_PASSWORD = "13800138001", "Shiming@2026"
MIN_TARGET = 44


class Audit:
    """Runs axe on each screen and keeps what it finds, so one failure lists every screen's violations."""

    def __init__(self, page, size: str):
        self.page = page
        self.size = size
        self.found: dict[str, list[str]] = {}
        self.screens: list[str] = []

    def __call__(self, screen: str) -> None:
        self.page.wait_for_load_state("load")
        self.screens.append(screen)
        results = AXE.run(self.page, options=AXE_RULES).response
        for violation in results["violations"]:
            for node in violation["nodes"]:
                self.found.setdefault(screen, []).append(
                    f"{violation['id']} ({violation['impact']}): {violation['help']}\n"
                    f"      at {' '.join(map(str, node['target']))}: {node['html'][:160]}\n"
                    f"      {node.get('failureSummary', '').replace(chr(10), ' ')[:400]}"
                )

    def assert_clean(self) -> None:
        assert self.screens
        report = "\n".join(
            f"[{self.size}] {screen}:\n    " + "\n    ".join(lines) for screen, lines in self.found.items()
        )
        assert not self.found, f"axe found violations on {len(self.found)} screen(s):\n{report}"


@pytest.fixture
def audit(page, size):
    return Audit(page, size)


def test_signed_out_screens(page, audit):
    login = LoginPage(page).open()
    audit("login")
    login.log_in("13900000001", "Wrong-pass-1")  # unknown account: the same answer, no lock anywhere
    expect(login.error_for("password")).to_be_visible()
    audit("login with a field error")

    form = RegisterPage(page).open()
    audit("register")
    form.press("注册")
    expect(form.error_for("name")).to_be_visible()
    audit("register with errors")

    AgreementPage(page).open()
    audit("agreement")
    FaqPage(page).open()
    audit("FAQ")
    FaceLoginPage(page).open()
    audit("face login step 1")
    RecoverPage(page).open()
    audit("forgot password: identify")
    RecoverBySmsPage(page).open()
    audit("forgot password: SMS way")
    ActivateByFacePage(page).open()
    audit("activation by face: identify")
    error = ErrorPage(page).open()
    expect(error.heading()).to_be_visible()
    audit("error page (404)")
    OfflinePage(page).open()
    audit("offline page")

    agreement = RegisterPage(page).open().open_agreement()
    expect(agreement.dialog).to_be_visible()
    audit("register with 用户协议 open over it")

    page.goto("/lang/en?next=/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    audit("login (English)")
    form = RegisterPage(page).open()
    audit("register (English)")
    form.press("Register")
    expect(form.error_for("name")).to_be_visible()
    audit("register with errors (English)")
    audit.assert_clean()


def test_activation_steps(page, audit, unactivated, smtp_sink):
    activate = LoginPage(page).open().into_activation(unactivated.id_number)
    audit("activation step 1")
    activate.verify_phone(unactivated.id_number, unactivated.phone, smtp_sink)
    expect(activate.field("用户名")).to_be_visible()
    audit("activation step 2")
    audit.assert_clean()


def test_signed_in_screens(page, audit, citizen, smtp_sink):
    register(page, citizen, smtp_sink)
    audit("account page (with the level 4 guide)")
    AccountPage(page).go("手机号")
    change_phone = ChangePhonePage(page)
    expect(change_phone.heading()).to_be_visible()
    audit("change phone step 1")
    change_phone.confirm_password(PASSWORD)
    expect(change_phone.field("新手机号")).to_be_visible()
    audit("change phone step 2")
    change_password = ChangePasswordPage(page).open()
    audit("change password")
    change_password.submit()
    expect(change_password.error_for("old_password")).to_be_visible()
    audit("change password with errors")
    LevelPage(page).open()
    audit("level page")
    BusinessPage(page).open()
    audit("business page")
    DevicesPage(page).open()
    audit("my devices")
    ActivityPage(page).open()
    audit("account activity")
    personal_data = PersonalDataPage(page).open()
    audit("copy of my data: the password again")
    personal_data.verify(PASSWORD)
    expect(personal_data.link("下载副本（JSON）")).to_be_visible()
    audit("copy of my data")
    upgrade = LevelUpgradePage(page).open()
    expect(upgrade.scan.consent).to_be_visible()
    audit("face scan component (consent)")
    audit.assert_clean()


SMALL_TARGETS = """(minimum) => {
    const controls = document.querySelectorAll(
        "main a[href], main button, main input:not([type=hidden]), main select, main textarea, "
        + "main summary");
    const small = [];
    for (const control of controls) {
        if (!control.getClientRects().length || getComputedStyle(control).visibility === "hidden") continue;
        // a radio or checkbox is tapped through the label around it
        const tapped = ["radio", "checkbox"].includes(control.type) && control.closest("label");
        const target = tapped || control;
        const box = target.getBoundingClientRect();
        if (box.height < minimum || box.width < minimum) {
            const size = `${box.width.toFixed(0)}x${box.height.toFixed(0)}`;
            small.push(`${control.outerHTML.slice(0, 120)} is ${size}`);
        }
    }
    return small;
}"""


def small_targets(page) -> list[str]:
    page.wait_for_load_state("load")
    return page.evaluate(SMALL_TARGETS, MIN_TARGET)


@pytest.mark.parametrize("size", ["phone"])
def test_touch_targets_are_at_least_44px_on_a_phone(page, citizen, smtp_sink):
    found: dict[str, list[str]] = {}

    def measure(screen: str) -> None:
        if small := small_targets(page):
            found[screen] = small

    for screen in (
        LoginPage,
        RegisterPage,
        AgreementPage,
        FaqPage,
        FaceLoginPage,
        RecoverPage,
        RecoverBySmsPage,
        ActivateByFacePage,
        ErrorPage,
        OfflinePage,
    ):
        screen(page).open()
        measure(screen.path)
    form = RegisterPage(page).open()
    form.press("注册")
    expect(form.error_for("name")).to_be_visible()
    measure("/register with errors")

    register(page, citizen, smtp_sink)
    for screen in (
        AccountPage,
        ChangePhonePage,
        ChangePasswordPage,
        LevelPage,
        LevelUpgradePage,
        DevicesPage,
        ActivityPage,
        PersonalDataPage,
    ):
        screen(page).open()
        measure(screen.path)
    AccountPage(page).open().log_out()
    form = RegisterPage(page).open()  # the inline 账号已注册 error carries a 去登录 link
    form.check_id(citizen.name, citizen.id_number)
    expect(form.error_for("id_number")).to_contain_text("账号已注册")
    measure("/register, ID already registered")
    report = "\n".join(f"{screen}:\n    " + "\n    ".join(lines) for screen, lines in found.items())
    assert not found, f"touch targets under {MIN_TARGET}px:\n{report}"


def focused(page) -> str:
    return page.evaluate("document.activeElement.id || document.activeElement.tagName")


def live_text(page) -> str:
    page.wait_for_function("() => document.getElementById('live').textContent !== ''")
    return page.locator("#live").text_content()


def test_keyboard_only_login(page):
    """Tab and Enter only: skip link, the two fields, Enter submits; a wrong password leaves focus on the
    password field with the error announced; then the right one logs in."""
    login = LoginPage(page).open()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="跳到主要内容")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # the skip link shows itself when focused
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focused(page) == "input-identifier"
    page.keyboard.type(DEMO_PHONE)
    page.keyboard.press("Tab")
    assert focused(page) == "input-password"
    page.keyboard.type("Not-the-password-9")
    with page.expect_response(lambda r: r.request.method == "POST" and "/login" in r.url):
        page.keyboard.press("Enter")
    expect(login.error_for("password")).to_have_text("账号或密码错误")
    page.wait_for_function("() => document.activeElement.id === 'input-password'")  # focus on the first error
    assert "账号或密码错误" in live_text(page)
    described = login.password.get_attribute("aria-describedby").split()
    assert "error-password" in described
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url("/account")
    expect(AccountPage(page).heading()).to_be_visible()


def test_focus_and_announcements_follow_htmx_swaps(page, citizen, smtp_sink):
    """A new step: focus on its heading, announced. A sent code: the notice is a status message, and the
    countdown is not a live region (it would be read out every second)."""
    form = RegisterPage(page).open()
    form.fill_identity(citizen)
    form.request_code(citizen.phone)
    notice = page.locator("#hint-code")  # the code field's hint, a status message tied to the field
    expect(notice).to_contain_text("验证码已发送至")
    expect(notice).to_have_attribute("role", "status")
    assert "hint-code" in form.field("验证码").get_attribute("aria-describedby").split()
    expect(form.code_sent).to_have_count(1)  # said in one place, not copied into #live
    button = form.sms_button
    expect(button).to_be_disabled()
    assert button.get_attribute("aria-live") is None  # the ticking label is not a live region
    assert not page.locator(".sms-button[aria-live], [aria-live] .sms-button").count()

    # the inline check's error is tied to its field when it appears
    form.field("身份证号").fill("110105197001011234")
    form.field("手机号").focus()
    expect(form.error_for("id_number")).to_be_visible()
    id_input = form.field("身份证号")
    expect(id_input).to_have_attribute("aria-invalid", "true")
    assert "error-id_number" in id_input.get_attribute("aria-describedby").split()
    id_input.fill(citizen.id_number)
    form.field("手机号").focus()
    expect(form.error_for("id_number")).to_be_hidden()
    expect(id_input).not_to_have_attribute("aria-invalid", "true")

    form.finish(smtp_sink.code_for(citizen.phone), PASSWORD)
    expect(page).to_have_url("/account?done=registered")
    AccountPage(page).go("手机号")
    change_phone = ChangePhonePage(page)
    change_phone.confirm_password(PASSWORD)
    expect(change_phone.field("新手机号")).to_be_visible()
    page.wait_for_function("() => document.activeElement.id === 'step-title'")
    assert "修改手机号" in live_text(page)


def test_keyboard_only_registration(page, citizen, smtp_sink):
    """Registration with the keyboard alone: Tab from field to field, arrow keys for the period, Enter on
    获取验证码 (focus then waits in the code field) and Enter to register."""
    RegisterPage(page).open()

    def tab_to(check) -> None:
        for _ in range(30):
            if check():
                return
            page.keyboard.press("Tab")
        raise AssertionError(f"never reached: focus is on {focused(page)}")

    tab_to(lambda: focused(page) == "input-name")
    page.keyboard.type(citizen.name)
    page.keyboard.press("Tab")
    assert focused(page) == "input-id_number"
    page.keyboard.type(citizen.id_number)
    page.keyboard.press("Tab")
    assert focused(page) == "input-valid_from"
    page.keyboard.type(citizen.valid_from)  # typed in the one format every screen shows
    tab_to(lambda: page.evaluate("document.activeElement.type") == "radio")
    for _ in range(4):
        if page.evaluate("document.activeElement.value") == "20y":
            break
        page.keyboard.press("ArrowRight")
    tab_to(lambda: focused(page) == "input-phone")
    page.keyboard.type(citizen.phone)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    with page.expect_response(lambda r: "/register/sms" in r.url):
        page.keyboard.press("Enter")  # 获取验证码
    page.wait_for_function("() => document.activeElement.id === 'input-code'")
    page.keyboard.type(smtp_sink.code_for(citizen.phone))
    for field_id in ("input-password", "input-password2"):
        tab_to(lambda field_id=field_id: focused(page) == field_id)
        page.keyboard.type("Keys-only-2026")
    page.keyboard.press("Enter")  # 注册, not 获取验证码
    expect(page).to_have_url("/account?done=registered")
