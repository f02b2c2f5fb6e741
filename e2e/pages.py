"""Page objects: what a person sees and does on each screen, in the guide's words.

Every context the tests make has the server as its ``base_url`` (conftest.new_context), so a screen opens by
its path alone, and a path given to ``to_have_url`` is compared as the server's address."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.conftest import screenshot


class Screen:
    """A screen: its path, its heading (``title``), and the ways to reach what is on it by its words."""

    path = "/"
    title = ""

    def __init__(self, page: Page):
        self.page = page

    def open(self):
        self.page.goto(self.path)
        return self

    @property
    def main(self):
        """The screen's own content: on a wide screen the side navigation repeats some of its words."""
        return self.page.get_by_role("main")

    @property
    def footer(self):
        return self.page.get_by_role("contentinfo")

    @property
    def alert(self):
        """The page's alert above the form: why a request was refused."""
        return self.page.locator("#page-alert")

    def field(self, label: str):
        return self.page.get_by_label(label, exact=True)

    def error_for(self, name: str):
        return self.page.locator(f"#error-{name}")

    def button(self, name: str, exact: bool = True):
        return self.page.get_by_role("button", name=name, exact=exact)

    def press(self, name: str, exact: bool = True) -> None:
        self.button(name, exact).click()

    def link(self, name: str, exact: bool = False):
        return self.page.get_by_role("link", name=name, exact=exact)

    def follow(self, name: str, exact: bool = False) -> None:
        self.link(name, exact).click()

    def heading(self, text: str = ""):
        return self.page.get_by_role("heading", name=text or self.title, exact=True)

    def text(self, words: str, exact: bool | None = None):
        return self.page.get_by_text(words, exact=exact)

    def back(self) -> None:
        """返回, the link every sub-screen's header carries on a phone."""
        self.follow("返回")


class SmsGroup:
    """The phone, 获取验证码 (or 发送验证码) and the code, on 注册, 激活账号 and 忘记密码."""

    @property
    def sms_button(self):
        return self.page.locator(".sms-button")

    @property
    def code_sent(self):
        """The notice under the code field once a code has gone out."""
        return self.page.get_by_text("验证码已发送至")

    @property
    def code_sent_if_known(self):
        """The notice of the screens that do not say whether the phone matches an account."""
        return self.page.get_by_text("如信息无误，验证码已发送至")


class LoginPage(Screen):
    """登录 (screen 1)."""

    path = "/login"

    def __init__(self, page: Page):
        super().__init__(page)
        self.identifier = self.field("手机号/身份证号")
        self.password = self.field("密码")
        self.submit = self.button("登录")
        self.form = page.locator("form[action='/login']")

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

    def into_activation(self, identifier: str) -> ActivatePage:
        """The guide's FAQ 3: any password, then the way into 激活账号 that every failed login offers,
        which carries the identifier over and says why."""
        self.log_in(identifier, "any-password")
        expect(self.error_for("password")).to_have_text("账号或密码错误")
        screenshot(self.page, "03-login-failed-offers-activation")
        self.press("激活账号", exact=False)  # 激活账号 >
        expect(self.page).to_have_url(re.compile(r"/activate/from-login$"))
        expect(self.text("登录未成功")).to_be_visible()
        return ActivatePage(self.page)

    def forgot_password(self) -> RecoverPage:
        self.follow("忘记密码")  # 忘记密码 >
        return RecoverPage(self.page)

    def with_face(self) -> FaceLoginPage:
        self.follow("人脸")
        return FaceLoginPage(self.page)


class FaceLoginPage(Screen):
    """人脸登录 (screen 6): the identifier, 下一步, then the face scan."""

    path = "/login/face"
    title = "人脸登录"

    def __init__(self, page: Page):
        super().__init__(page)
        self.identifier = self.field("手机号/身份证号")
        self.scan = FaceScan(page)

    def identify(self, identifier: str) -> FaceScan:
        self.identifier.fill(identifier)
        self.press("下一步")
        return self.scan


class AgreementDialog:
    """用户协议 over the register form, opened in place by its links."""

    def __init__(self, page: Page):
        self.page = page
        self.dialog = page.get_by_role("dialog", name="用户协议")

    def text(self, words: str):
        return self.dialog.get_by_text(words)

    def back_to_register(self) -> None:
        self.dialog.get_by_role("button", name="返回注册").click()

    def dismiss(self) -> None:
        self.page.keyboard.press("Escape")


class RegisterPage(SmsGroup, Screen):
    """注册 (screen 2), with 用户协议 over it."""

    path = "/register"

    def __init__(self, page: Page):
        super().__init__(page)
        self.agreement = AgreementDialog(page)
        self.valid_to = page.locator("#valid-to")

    def fill_identity(self, citizen) -> None:
        self.field("姓名").fill(citizen.name)
        self.field("身份证号").fill(citizen.id_number)
        self.field("有效期开始日期").fill(citizen.valid_from)
        self.period(citizen.period_label).check()

    def period(self, label: str):
        return self.page.get_by_role("radio", name=label, exact=True)

    def check_id(self, name: str, id_number: str) -> None:
        """姓名 and 身份证号, then on to the next field: leaving it asks the server about the ID."""
        self.field("姓名").fill(name)
        self.field("身份证号").fill(id_number)
        self.field("有效期开始日期").focus()

    def request_code(self, phone: str) -> None:
        self.field("手机号").fill(phone)
        self.press("获取验证码")

    def finish(self, code: str, password: str, confirmation: str = "") -> None:
        self.field("验证码").fill(code)
        self.field("密码").fill(password)
        self.field("确认密码").fill(confirmation or password)
        self.press("注册")

    @property
    def date_picker(self):
        return self.button("选择日期")

    def native_date(self, name: str):
        """The hidden date input behind a date field's 选择日期 button."""
        return self.page.locator(f"#field-{name} .date-picker__native")

    def open_agreement(self) -> AgreementDialog:
        self.follow("《用户协议》")
        return self.agreement

    def log_in_instead(self) -> None:
        """去登录, the way out of 账号已注册."""
        self.follow("去登录")


class ActivatePage(SmsGroup, Screen):
    """激活账号 (screens 4 and 5): the ID and the phone on record, then a username and password (or, for an
    active account, a new password)."""

    path = "/activate"
    title = "激活账号"

    def request_code(self, id_number: str, phone: str) -> None:
        self.field("身份证号").fill(id_number)
        self.field("手机号").fill(phone)
        self.press("发送验证码")

    def verify_phone(self, id_number: str, phone: str, sms) -> None:
        self.request_code(id_number, phone)
        expect(self.code_sent_if_known).to_be_visible()
        self.enter_code(sms.code_for(phone))

    def enter_code(self, code: str) -> None:
        self.field("手机验证码").fill(code)
        self.press("下一步")

    def choose_credentials(self, username: str, password: str) -> None:
        self.field("用户名").fill(username)
        self.field("密码").fill(password)
        self.field("确认密码").fill(password)
        self.press("确定")

    def choose_new_password(self, password: str) -> None:
        """The active account's last step: 新密码 and 确认密码."""
        self.field("新密码").fill(password)
        self.field("确认密码").fill(password)
        self.press("确定")

    def with_face(self) -> ActivateByFacePage:
        self.follow("原手机号已停用？使用人脸识别激活")
        return ActivateByFacePage(self.page)


class ActivateByFacePage(ActivatePage):
    """激活账号 when the phone on record no longer works: 姓名 and 身份证号, the face, a new phone, then the
    username and password."""

    path = "/activate/face"

    def identify(self, name: str, id_number: str) -> None:
        self.field("姓名").fill(name)
        self.field("身份证号").fill(id_number)

    def scan_face(self) -> FaceScan:
        self.press("扫描人脸")
        return FaceScan(self.page)

    def bind_phone(self, phone: str) -> None:
        self.field("新手机号").fill(phone)
        self.press("发送验证码")


class RecoverPage(Screen):
    """忘记密码 (screen 7): 姓名 and 身份证号, then 扫描人脸, or the other way, 使用手机验证码."""

    path = "/recover"
    title = "忘记密码"

    def identify(self, name: str, id_number: str) -> None:
        self.field("姓名").fill(name)
        self.field("身份证号").fill(id_number)

    def scan_face(self) -> FaceScan:
        self.press("扫描人脸")
        return FaceScan(self.page)

    def by_sms(self) -> RecoverBySmsPage:
        self.follow("使用手机验证码")
        return RecoverBySmsPage(self.page)


class RecoverBySmsPage(SmsGroup, RecoverPage):
    """忘记密码 by SMS: the one way for people without face data."""

    path = "/recover?method=sms"

    def request_code(self, name: str, id_number: str, phone: str) -> None:
        self.identify(name, id_number)
        self.field("账号绑定的手机号").fill(phone)
        self.press("获取验证码")

    def enter_code(self, code: str) -> ResetPasswordPage:
        self.field("验证码").fill(code)
        self.press("下一步")
        return ResetPasswordPage(self.page)


class ResetPasswordPage(Screen):
    """重置密码 (screen 8), after the face or the SMS code: at 忘记密码's address once verified."""

    path = "/recover"
    title = "重置密码"

    def choose_password(self, password: str) -> None:
        self.field("新密码").fill(password)
        self.field("确认密码").fill(password)
        self.press("下一步")


class AccountPage(Screen):
    """账号管理 (screen 9), with the first-login guide to level 4."""

    path = "/account"
    title = "账号管理"

    def go(self, link: str) -> None:
        """A section: the link on the page (a wide screen's side navigation repeats it)."""
        self.link(link).first.click()

    def log_out(self) -> None:
        self.press("退出登录")

    def level(self, name: str):
        return self.main.get_by_text(name, exact=True)

    @staticmethod
    def masked(phone: str) -> str:
        return phone[:3] + "****" + phone[-4:]

    def phone(self, phone: str):
        """The phone on record, as the page shows it: 138****8001."""
        return self.text(self.masked(phone))

    @property
    def side(self):
        """The signed-in sections' navigation, on wide screens."""
        return self.page.get_by_role("complementary", name="账号")

    @property
    def sections(self):
        return self.side.get_by_role("navigation", name="栏目")

    def upgrade_now(self) -> LevelUpgradePage:
        """立即提升, the first-login guide's way to level 4."""
        self.follow("立即提升")
        return LevelUpgradePage(self.page)


class LevelPage(Screen):
    """实名等级 (screen 11)."""

    path = "/level"
    title = "实名等级"

    def level(self, name: str):
        return self.main.get_by_text(name)

    def upgrade(self) -> FaceScan:
        self.follow("四级实名")
        return FaceScan(self.page)

    def withdraw(self) -> None:
        """撤回人脸授权 asks first, saying what goes with it; 确认撤回 does it."""
        self.follow("撤回人脸授权")

    def confirm_withdraw(self) -> None:
        self.press("确认撤回")


class LevelUpgradePage(Screen):
    """提升为四级实名: the face scan with its consent notice."""

    path = "/level/upgrade"

    def __init__(self, page: Page):
        super().__init__(page)
        self.scan = FaceScan(page)


class BusinessPage(Screen):
    """工商注册 (screen 13): 是否办理工商登记注册 with its 截止日期, and the filings that name the person."""

    path = "/business"
    title = "工商注册"

    def __init__(self, page: Page):
        super().__init__(page)
        self.yes = page.get_by_role("radio", name="是", exact=True)
        self.until = self.field("截止日期")
        self.upgrade_dialog = page.get_by_role("dialog", name="提升实名等级")

    def choose_yes(self) -> None:
        expect(self.until).to_be_hidden()  # 截止日期 belongs to 是
        self.yes.check()
        expect(self.until).to_be_visible()
        self.press("确定")

    def cancel_upgrade(self) -> None:
        self.upgrade_dialog.get_by_role("link", name="取消").click()

    def agree_to_upgrade(self) -> FaceScan:
        self.page.get_by_role("dialog").get_by_role("button", name="确定").click()
        return FaceScan(self.page)

    @property
    def pending(self):
        """待您确认, on every filing that waits for the person."""
        return self.text("待您确认")

    def open_pending_filing(self) -> None:
        self.page.get_by_role("row").filter(has_text="待您确认").get_by_role("link").first.click()


class FilingPage(Screen):
    """A filing in detail, with 确认 for someone at level 4."""

    def __init__(self, page: Page, reference: str):
        super().__init__(page)
        self.reference = reference
        self.path = f"/business/filings/{reference}"
        self.confirm_link = self.link("确认", exact=True)

    def confirm(self) -> FaceScan:
        self.confirm_link.click()
        return FaceScan(self.page)

    def decide(self, decision: str) -> None:
        """The decision's address typed by hand, as someone might without the link."""
        self.page.goto(f"{self.path}/decide?decision={decision}")


class ChangePhonePage(SmsGroup, Screen):
    """修改手机号 (screen 10): the login password, then the new phone and its code."""

    path = "/account/phone"
    title = "修改手机号"

    def confirm_password(self, password: str) -> None:
        self.field("登录密码").fill(password)
        self.press("下一步")

    def request_code(self, phone: str) -> None:
        """Waits for the answer, which redraws the code field: what is typed next must not be swapped away."""
        self.field("新手机号").fill(phone)
        self.press("获取验证码")
        self.code_sent.wait_for()

    def enter_code(self, code: str) -> None:
        self.field("短信验证码").fill(code)

    def submit(self) -> None:
        self.press("确定")


class ChangePasswordPage(Screen):
    """修改密码 (screen 14)."""

    path = "/account/password"
    title = "修改密码"

    def fill(self, old: str, new: str) -> None:
        self.field("旧密码").fill(old)
        self.field("新密码").fill(new)
        self.field("确认新密码").fill(new)

    def submit(self) -> None:
        self.press("确定")


class DevicesPage(Screen):
    """我的设备: the account's signed-in devices; any other may be signed out."""

    path = "/account/devices"
    title = "我的设备"

    @property
    def devices(self):
        return self.main.get_by_role("list", name="已登录的设备").get_by_role("listitem")

    def device(self, words: str):
        return self.devices.filter(has_text=words)

    @property
    def this_device(self):
        return self.devices.filter(has_text="本设备")

    def sign_out(self, words: str) -> None:
        self.device(words).get_by_role("button", name=f"退出{words}上的登录").click()

    def sign_out_all_others(self) -> None:
        self.press("退出其他所有设备")


class ActivityPage(Screen):
    """账号动态: the account's own security events, newest first."""

    path = "/account/activity"
    title = "账号动态"

    @property
    def events(self):
        return self.main.get_by_role("list", name="账号动态").get_by_role("listitem")

    def titles(self) -> list[str]:
        return [title.strip() for title in self.events.locator(".entry__title").all_inner_texts()]


class PersonalDataPage(Screen):
    """个人信息副本: the password again, then the copy as a page and its JSON download."""

    path = "/account/data"
    title = "个人信息副本"

    def verify(self, password: str) -> None:
        self.field("登录密码").fill(password)
        self.press("验证并查看")

    def download(self):
        """The JSON copy, as the browser saves it: its suggested name and its bytes."""
        with self.page.expect_download() as started:
            self.link("下载副本（JSON）").click()
        download = started.value
        return download.suggested_filename, open(download.path(), "rb").read()


class DeleteAccountPage(Screen):
    """注销账号: the consequences, the password again, then 确认注销账号."""

    path = "/account/delete"
    title = "注销账号"

    @property
    def consequences(self):
        return self.main.locator(".consequences li")

    def verify(self, password: str) -> None:
        self.field("登录密码").fill(password)
        self.press("验证身份")

    def confirm(self) -> None:
        self.press("确认注销账号")


class DeletionPendingPage(Screen):
    """账号注销中: the only page a sign-in reaches while the cooling-off lasts."""

    path = "/account/deletion"
    title = "账号注销中"

    def cancel(self) -> None:
        self.press("撤销注销")


class ConsentPage(Screen):
    """同意更新后的协议: where a sign-in waits until raised document versions are accepted."""

    path = "/consent"
    title = "同意更新后的协议"

    def accept(self) -> None:
        self.press("同意并继续")

    def decline(self) -> None:
        self.press("不同意，退出登录")


class PrivacyPage(Screen):
    """个人信息保护政策."""

    path = "/privacy"
    title = "个人信息保护政策"


class FaqPage(Screen):
    """常见问题 (screen 16)."""

    path = "/faq"
    title = "常见问题"


class AgreementPage(Screen):
    """用户协议 as a page of its own (without JavaScript, or from the footer outside 注册), with 返回."""

    path = "/agreement"
    title = "用户协议"


class OfflinePage(Screen):
    """网络未连接: what the service worker shows when a page cannot be fetched."""

    path = "/offline"
    title = "网络未连接"

    @property
    def app_bar(self):
        return self.page.locator(".app-bar")


class ErrorPage(Screen):
    """The error page: the error as its heading, its code, and 返回登录. ``path`` is an address that does not
    exist."""

    path = "/no-such-page"
    title = "页面不存在"


class FaceScan(Screen):
    """The face scan component (17), inside the level, face login and forgot-password screens."""

    @property
    def consent(self):
        return self.page.get_by_label("我已阅读并同意《人脸信息处理告知书》")

    @property
    def start(self):
        return self.button("开始扫描")

    @property
    def status(self):
        return self.page.locator(".face-scan__status")

    def run(self, expect_redirect: bool, live_screenshot: str = "") -> str:
        """Consent, 开始扫描, the stream, then the answer (the refusal of the start, or the decision)."""
        start = self.start
        expect(start).to_be_visible()  # the component is set up (it may have just been swapped in)
        consent = self.consent
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
        message = self.status.inner_text()
        if expect_redirect and "face-scan--passed" in (root.get_attribute("class") or ""):
            # The page goes on (sometimes to the same URL, the next step): the passed scan is gone.
            self.page.wait_for_function("() => !document.querySelector('.face-scan--passed')", timeout=10_000)
            self.page.wait_for_load_state()
        return message
