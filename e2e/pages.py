"""Page objects: what a person sees and does on each screen, in the guide's words."""

from __future__ import annotations

from playwright.sync_api import Page, expect


class LoginPage:
    def __init__(self, page: Page):
        self.page = page
        self.identifier = page.get_by_label("手机号/身份证号")
        self.password = page.get_by_label("密码", exact=True)
        self.submit = page.get_by_role("button", name="登录")

    def open(self) -> LoginPage:
        self.page.goto(self.page.base + "/login")
        expect(self.page).to_have_title("工商注册身份验证")
        return self

    def log_in(self, identifier: str, password: str) -> None:
        self.identifier.fill(identifier)
        self.password.fill(password)
        self.submit.click()

    def error_for(self, field: str):
        return self.page.locator(f"#error-{field}")
