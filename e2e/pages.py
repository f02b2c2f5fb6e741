"""Page objects: what a person sees and does on each screen, in the guide's words."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.conftest import screenshot


class Screen:
    path = "/"

    def __init__(self, page: Page):
        self.page = page

    def open(self):
        self.page.goto(self.page.base + self.path)
        return self

    def field(self, label: str):
        return self.page.get_by_label(label, exact=True)

    def error_for(self, name: str):
        return self.page.locator(f"#error-{name}")

    def press(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    def heading(self, text: str):
        return self.page.get_by_role("heading", name=text, exact=True)


class LoginPage(Screen):
    path = "/login"

    def __init__(self, page: Page):
        super().__init__(page)
        self.identifier = self.field("手机号/身份证号")
        self.password = self.field("密码")
        self.submit = page.get_by_role("button", name="登录", exact=True)

    def open(self) -> LoginPage:
        super().open()
        expect(self.page).to_have_title("工商注册身份验证")
        return self

    def log_in(self, identifier: str, password: str) -> None:
        """Waits for the answer, so the next step never types into a form that is about to be replaced."""
        self.identifier.fill(identifier)
        self.password.fill(password)
        with self.page.expect_response(lambda r: r.request.method == "POST" and "/login" in r.url):
            self.submit.click()

    def into_activation(self, identifier: str) -> None:
        """The guide's FAQ 3: any password, then the way into 激活账号 that every failed login offers,
        which carries the identifier over and says why."""
        self.log_in(identifier, "any-password")
        expect(self.page.locator("#error-password")).to_have_text("账号或密码错误")
        screenshot(self.page, "03-login-failed-offers-activation")
        self.page.get_by_role("button", name="激活账号").click()
        expect(self.page).to_have_url(re.compile(r"/activate/from-login$"))
        expect(self.page.get_by_text("登录未成功")).to_be_visible()


class RegisterPage(Screen):
    path = "/register"

    def fill_identity(self, citizen) -> None:
        self.field("姓名").fill(citizen.name)
        self.field("身份证号").fill(citizen.id_number)
        self.field("有效期开始日期").fill(citizen.valid_from)
        self.page.get_by_role("radio", name=citizen.period_label, exact=True).check()

    def request_code(self, phone: str) -> None:
        self.field("手机号").fill(phone)
        self.press("获取验证码")

    def finish(self, code: str, password: str) -> None:
        self.field("验证码").fill(code)
        self.field("密码").fill(password)
        self.field("确认密码").fill(password)
        self.press("注册")


class ActivatePage(Screen):
    path = "/activate"

    def verify_phone(self, id_number: str, phone: str, sms) -> None:
        self.field("身份证号").fill(id_number)
        self.field("手机号").fill(phone)
        self.press("发送验证码")
        expect(self.page.get_by_text("如信息无误，验证码已发送至")).to_be_visible()
        self.field("手机验证码").fill(sms.code_for(phone))
        self.press("下一步")

    def choose_credentials(self, username: str, password: str) -> None:
        self.field("用户名").fill(username)
        self.field("密码").fill(password)
        self.field("确认密码").fill(password)
        self.press("确定")


class RecoverPage(Screen):
    """忘记密码 by SMS: the one way for people without face data."""

    path = "/recover?method=sms"

    def choose_password(self, password: str) -> None:
        self.field("新密码").fill(password)
        self.field("确认密码").fill(password)
        self.press("下一步")


class AccountPage(Screen):
    path = "/account"

    def go(self, link: str) -> None:
        self.page.get_by_role("link", name=link).first.click()

    def log_out(self) -> None:
        self.press("退出登录")


class FaceScan(Screen):
    """The face scan component (17), inside the level, face login and forgot-password screens."""

    def run(self, expect_redirect: bool, live_screenshot: str = "") -> str:
        """Consent, 开始扫描, the stream, then the answer (the refusal of the start, or the decision)."""
        start = self.page.get_by_role("button", name="开始扫描")
        expect(start).to_be_visible()  # the component is set up (it may have just been swapped in)
        consent = self.page.get_by_label("我已阅读并同意《人脸信息处理告知书》")
        if consent.count():
            consent.check()
        with self.page.expect_response(lambda r: "/face/scan/start" in r.url, timeout=15_000) as started:
            start.click()
            # A moment to get ready: the preview shows and the prompt counts down before the scan starts.
            expect(self.page.locator(".face-scan__prompt")).to_contain_text("秒后开始")
        if not started.value.json()["ok"]:
            return started.value.json()["message"]
        root = self.page.locator("[data-face-scan]")
        if live_screenshot:  # mid-scan: the screen around the circle lit by the server's colour
            expect(root).to_have_attribute("data-step", "approach", timeout=15_000)
            screenshot(self.page, live_screenshot)
        expect(root).to_have_class(re.compile(r"face-scan--(passed|failed)"), timeout=40_000)
        message = self.page.locator(".face-scan__status").inner_text()
        if expect_redirect and "face-scan--passed" in (root.get_attribute("class") or ""):
            # The page goes on (sometimes to the same URL, the next step): the passed scan is gone.
            self.page.wait_for_function("() => !document.querySelector('.face-scan--passed')", timeout=10_000)
            self.page.wait_for_load_state()
        return message
