"""Screens 6, 7, 8, 11, 12, activation by face, and the face scan component (17).

The person is an injected camera (e2e/camera.py): obama-4-480p.jpg on a 3-D head that follows the page's
instructions and is lit by the colour on screen — which is exactly the adaptive real-time attacker the
check cannot stop (SECURITY.md), standing in for a person because CI has no face. The refusals are the
same renderer with another person's photo, and Chromium's fake camera playing pre-recorded clips (the old
2-D warps of one photo, two faces). The citizen's registry photo is obama-3.jpg."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from e2e.camera import InjectedCamera
from e2e.conftest import FACES, new_context, screenshot
from e2e.pages import (
    AccountPage,
    FaceLoginPage,
    FaceScan,
    LevelPage,
    LevelUpgradePage,
    LoginPage,
    ResetPasswordPage,
)
from e2e.test_accounts import PASSWORD, register
from tests.support.performers import PERSON

OBAMA = {"photo": PERSON, "live": True}  # the injected camera: a rendered head, lit by the screen
STRANGER = {"photo": "collins-1.png", "live": True}  # the same renderer with another person's photo
WARPED = {"photo": "obama-2.jpg"}  # Chromium's fake camera playing the old 2-D warps of one photo
TWO_FACES = {"photo": "obama-2.jpg", "second_face": "biden-1.jpg"}
REFUSALS = [(STRANGER, "人脸核验未通过"), (WARPED, "未能确认为本人实时操作"), (TWO_FACES, "检测到多张人脸")]
REFUSAL_IDS = ["other-person", "warped-photo", "two-faces"]


def camera_page(camera_browsers, server, size: str, clip: dict):
    """A page whose camera is the injected renderer (``live``) or one of Chromium's fake-camera clips."""
    options = dict(clip)
    live = options.pop("live", False)
    photo = options.pop("photo")
    browser = camera_browsers(None if live else photo, **options)
    context = new_context(browser, size, server.url)
    context.set_default_timeout(15_000)
    if live:
        InjectedCamera(FACES / photo).install(context)
    return context.new_page()


def test_first_login_guide_to_level_4(camera_browsers, server, size, photo_citizen, smtp_sink):
    page = camera_page(camera_browsers, server, size, OBAMA)
    register(page, photo_citizen, smtp_sink)
    account = AccountPage(page)
    expect(account.heading("提升为四级实名")).to_be_visible()
    screenshot(page, "12-first-login-guide")
    upgrade = account.upgrade_now()
    expect(upgrade.text("人脸信息处理告知书").first).to_be_visible()
    screenshot(page, "17-face-scan-consent")
    assert upgrade.scan.run(expect_redirect=True, live_screenshot="17-face-scan-live") == "已提升为四级实名"
    expect(page).to_have_url("/account")
    expect(account.level("四级实名")).to_be_visible()
    account.go("实名等级")
    screenshot(page, "11-level")
    level = LevelPage(page)
    level.withdraw()  # asks first, saying what goes with it
    expect(level.text("人脸特征值立即删除")).to_be_visible()
    screenshot(page, "11-level-withdraw-confirm")
    level.confirm_withdraw()
    expect(level.text("已撤回人脸授权，账号恢复为三级实名")).to_be_visible()
    page.context.close()


@pytest.mark.parametrize(("clip", "message"), REFUSALS, ids=REFUSAL_IDS)
def test_level_4_refusals(camera_browsers, server, photo_citizen, smtp_sink, clip, message):
    page = camera_page(camera_browsers, server, "phone", clip)
    register(page, photo_citizen, smtp_sink)
    level = LevelPage(page).open()
    scan = level.upgrade()
    assert message in scan.run(expect_redirect=False)
    expect(scan.status).to_contain_text(message)
    screenshot(page, f"17-face-refused-{REFUSAL_IDS[REFUSALS.index((clip, message))]}")
    level.open()
    expect(level.level("三级实名").first).to_be_visible()
    page.context.close()


@pytest.fixture
def level4_citizen(camera_browsers, server, photo_citizen, smtp_sink):
    page = camera_page(camera_browsers, server, "phone", OBAMA)
    register(page, photo_citizen, smtp_sink)
    assert LevelUpgradePage(page).open().scan.run(expect_redirect=True) == "已提升为四级实名"
    page.context.close()
    return photo_citizen


def test_face_login(camera_browsers, server, size, level4_citizen):
    page = camera_page(camera_browsers, server, size, OBAMA)
    face_login = LoginPage(page).open().with_face()
    expect(face_login.heading()).to_be_visible()
    scan = face_login.identify(level4_citizen.id_number)
    screenshot(page, "06-face-login")
    assert scan.run(expect_redirect=True) == "登录成功"
    expect(page).to_have_url("/account")
    page.context.close()


@pytest.mark.parametrize(("clip", "message"), REFUSALS, ids=REFUSAL_IDS)
def test_face_login_refusals(camera_browsers, server, level4_citizen, clip, message):
    page = camera_page(camera_browsers, server, "phone", clip)
    scan = FaceLoginPage(page).open().identify(level4_citizen.phone)
    assert message in scan.run(expect_redirect=False)
    AccountPage(page).open()
    expect(page).to_have_url("/login?next=/account")
    page.context.close()


def forgot_password(page, citizen) -> FaceScan:
    recover = LoginPage(page).open().forgot_password()
    expect(recover.heading()).to_be_visible()
    recover.identify(citizen.name, citizen.id_number)
    screenshot(page, "07-forgot-password")
    return recover.scan_face()


def test_forgot_password_by_face(camera_browsers, server, size, level4_citizen):
    page = camera_page(camera_browsers, server, size, OBAMA)
    assert forgot_password(page, level4_citizen).run(expect_redirect=True) == "身份核验通过"
    reset = ResetPasswordPage(page)
    expect(reset.text("您正在重置密码的账户为")).to_be_visible()
    expect(reset.text(level4_citizen.id_number[:4] + "-XXXXXXXX", exact=False)).to_be_visible()
    screenshot(page, "08-reset-password")
    new_password = f"Reset-{size[:4]}-26"
    reset.choose_password(new_password)
    login = LoginPage(page)
    expect(login.text("密码已重置，请使用新密码登录")).to_be_visible()
    login.log_in(level4_citizen.phone, new_password)
    expect(page).to_have_url("/account")
    page.context.close()


@pytest.mark.parametrize(("clip", "message"), REFUSALS, ids=REFUSAL_IDS)
def test_forgot_password_refusals(camera_browsers, server, level4_citizen, clip, message):
    page = camera_page(camera_browsers, server, "phone", clip)
    assert message in forgot_password(page, level4_citizen).run(expect_redirect=False)
    LoginPage(page).open().log_in(level4_citizen.phone, PASSWORD)  # the password is unchanged
    expect(page).to_have_url("/account")
    page.context.close()


def test_activation_by_face_when_the_phone_on_record_no_longer_works(
    camera_browsers, server, size, photo_citizen, unactivated, smtp_sink
):
    page = camera_page(camera_browsers, server, size, OBAMA)
    activate = LoginPage(page).open().into_activation(unactivated.id_number).with_face()
    expect(activate.heading()).to_be_visible()
    expect(activate.text("第1步，共3步")).to_be_visible()
    activate.identify(unactivated.name, unactivated.id_number)
    screenshot(page, "04-activate-face")
    assert activate.scan_face().run(expect_redirect=True) == "身份核验通过"
    expect(activate.text("人脸核验已通过，请绑定新的手机号。")).to_be_visible()
    new_phone = "139" + unactivated.phone[3:]
    activate.bind_phone(new_phone)
    expect(activate.code_sent).to_be_visible()
    activate.field("手机验证码").fill(smtp_sink.code_for(new_phone))
    screenshot(page, "04-activate-face-new-phone")
    activate.press("下一步")
    expect(activate.text("第3步，共3步")).to_be_visible()
    activate.choose_credentials("face_" + unactivated.phone[-6:] + size[0], PASSWORD)
    expect(page).to_have_url("/account?done=activated")
    [notice] = smtp_sink.to(unactivated.phone)  # the number on record got a notice, not a code
    assert "人脸识别" in notice.text
    AccountPage(page).log_out()
    login = LoginPage(page).open()
    login.log_in(new_phone, PASSWORD)
    expect(page).to_have_url("/account")
    page.context.close()


def test_no_camera_says_so_and_offers_other_ways(browser, server, level4_citizen):
    """Chromium without the fake camera: getUserMedia fails; the component says so; no upload field."""
    context = new_context(browser, "phone", server.url)
    page = context.new_page()
    scan = forgot_password(page, level4_citizen)
    scan.consent.check()
    scan.start.click()
    expect(scan.status).to_contain_text("无法使用摄像头")
    expect(scan.link("使用手机验证码")).to_be_visible()
    assert page.locator("input[type=file]").count() == 0
    context.close()
