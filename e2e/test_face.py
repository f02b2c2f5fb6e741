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
from e2e.conftest import FACES, SIZES, screenshot
from e2e.pages import AccountPage, ActivatePage, FaceScan, LoginPage
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
    context = browser.new_context(
        viewport=SIZES[size],
        is_mobile=size == "phone",
        has_touch=size == "phone",
        locale="zh-CN",
        device_scale_factor=1,
    )
    context.set_default_timeout(15_000)
    if live:
        InjectedCamera(FACES / photo).install(context)
    page = context.new_page()
    page.base, page.size = server.url, size
    return page


def test_first_login_guide_to_level_4(camera_browsers, server, size, photo_citizen, smtp_sink):
    page = camera_page(camera_browsers, server, size, OBAMA)
    register(page, photo_citizen, smtp_sink)
    expect(page.get_by_role("heading", name="提升为四级实名")).to_be_visible()
    screenshot(page, "12-first-login-guide")
    page.get_by_role("link", name="立即提升").click()
    expect(page.get_by_text("人脸信息处理告知书").first).to_be_visible()
    screenshot(page, "17-face-scan-consent")
    assert FaceScan(page).run(expect_redirect=True, live_screenshot="17-face-scan-live") == "已提升为四级实名"
    expect(page).to_have_url(server.url + "/account")
    expect(page.get_by_role("main").get_by_text("四级实名", exact=True)).to_be_visible()
    AccountPage(page).go("实名等级")
    screenshot(page, "11-level")
    page.get_by_role("link", name="撤回人脸授权").click()  # asks first, saying what goes with it
    expect(page.get_by_text("人脸特征值立即删除")).to_be_visible()
    screenshot(page, "11-level-withdraw-confirm")
    page.get_by_role("button", name="确认撤回").click()
    expect(page.get_by_text("已撤回人脸授权，账号恢复为三级实名")).to_be_visible()
    page.context.close()


@pytest.mark.parametrize(("clip", "message"), REFUSALS, ids=REFUSAL_IDS)
def test_level_4_refusals(camera_browsers, server, photo_citizen, smtp_sink, clip, message):
    page = camera_page(camera_browsers, server, "phone", clip)
    register(page, photo_citizen, smtp_sink)
    page.goto(server.url + "/level")
    page.get_by_role("link", name="四级实名").click()
    assert message in FaceScan(page).run(expect_redirect=False)
    expect(page.locator(".face-scan__status")).to_contain_text(message)
    screenshot(page, f"17-face-refused-{REFUSAL_IDS[REFUSALS.index((clip, message))]}")
    page.goto(server.url + "/level")
    expect(page.get_by_role("main").get_by_text("三级实名").first).to_be_visible()
    page.context.close()


@pytest.fixture
def level4_citizen(camera_browsers, server, photo_citizen, smtp_sink):
    page = camera_page(camera_browsers, server, "phone", OBAMA)
    register(page, photo_citizen, smtp_sink)
    page.goto(server.url + "/level/upgrade")
    assert FaceScan(page).run(expect_redirect=True) == "已提升为四级实名"
    page.context.close()
    return photo_citizen


def test_face_login(camera_browsers, server, size, level4_citizen):
    page = camera_page(camera_browsers, server, size, OBAMA)
    LoginPage(page).open()
    page.get_by_role("link", name="人脸").click()
    expect(page.get_by_role("heading", name="人脸登录")).to_be_visible()
    page.get_by_label("手机号/身份证号").fill(level4_citizen.id_number)
    page.get_by_role("button", name="下一步").click()
    screenshot(page, "06-face-login")
    assert FaceScan(page).run(expect_redirect=True) == "登录成功"
    expect(page).to_have_url(server.url + "/account")
    page.context.close()


@pytest.mark.parametrize(("clip", "message"), REFUSALS, ids=REFUSAL_IDS)
def test_face_login_refusals(camera_browsers, server, level4_citizen, clip, message):
    page = camera_page(camera_browsers, server, "phone", clip)
    page.goto(server.url + "/login/face")
    page.get_by_label("手机号/身份证号").fill(level4_citizen.phone)
    page.get_by_role("button", name="下一步").click()
    assert message in FaceScan(page).run(expect_redirect=False)
    page.goto(server.url + "/account")
    expect(page).to_have_url(server.url + "/login?next=/account")
    page.context.close()


def forgot_password(page, citizen) -> None:
    LoginPage(page).open()
    page.get_by_role("link", name="忘记密码 >").click()
    expect(page.get_by_role("heading", name="忘记密码")).to_be_visible()
    page.get_by_label("姓名", exact=True).fill(citizen.name)
    page.get_by_label("身份证号", exact=True).fill(citizen.id_number)
    screenshot(page, "07-forgot-password")
    page.get_by_role("button", name="扫描人脸").click()


def test_forgot_password_by_face(camera_browsers, server, size, level4_citizen):
    page = camera_page(camera_browsers, server, size, OBAMA)
    forgot_password(page, level4_citizen)
    assert FaceScan(page).run(expect_redirect=True) == "身份核验通过"
    expect(page.get_by_text("您正在重置密码的账户为")).to_be_visible()
    expect(page.get_by_text(level4_citizen.id_number[:4] + "-XXXXXXXX", exact=False)).to_be_visible()
    screenshot(page, "08-reset-password")
    new_password = f"Reset-{size[:4]}-26"
    page.get_by_label("新密码").fill(new_password)
    page.get_by_label("确认密码").fill(new_password)
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_text("密码已重置，请使用新密码登录")).to_be_visible()
    LoginPage(page).log_in(level4_citizen.phone, new_password)
    expect(page).to_have_url(server.url + "/account")
    page.context.close()


@pytest.mark.parametrize(("clip", "message"), REFUSALS, ids=REFUSAL_IDS)
def test_forgot_password_refusals(camera_browsers, server, level4_citizen, clip, message):
    page = camera_page(camera_browsers, server, "phone", clip)
    forgot_password(page, level4_citizen)
    assert message in FaceScan(page).run(expect_redirect=False)
    page.goto(server.url + "/login")
    LoginPage(page).log_in(level4_citizen.phone, PASSWORD)  # the password is unchanged
    expect(page).to_have_url(server.url + "/account")
    page.context.close()


def test_activation_by_face_when_the_phone_on_record_no_longer_works(
    camera_browsers, server, size, photo_citizen, unactivated, smtp_sink
):
    page = camera_page(camera_browsers, server, size, OBAMA)
    LoginPage(page).open()
    LoginPage(page).into_activation(unactivated.id_number)
    page.get_by_role("link", name="原手机号已停用？使用人脸识别激活").click()
    activate = ActivatePage(page)
    expect(activate.heading("激活账号")).to_be_visible()
    expect(page.get_by_text("第1步，共3步")).to_be_visible()
    activate.field("姓名").fill(unactivated.name)
    activate.field("身份证号").fill(unactivated.id_number)
    screenshot(page, "04-activate-face")
    activate.press("扫描人脸")
    assert FaceScan(page).run(expect_redirect=True) == "身份核验通过"
    expect(page.get_by_text("人脸核验已通过，请绑定新的手机号。")).to_be_visible()
    new_phone = "139" + unactivated.phone[3:]
    activate.field("新手机号").fill(new_phone)
    activate.press("发送验证码")
    expect(page.get_by_text("验证码已发送至")).to_be_visible()
    activate.field("手机验证码").fill(smtp_sink.code_for(new_phone))
    screenshot(page, "04-activate-face-new-phone")
    activate.press("下一步")
    expect(page.get_by_text("第3步，共3步")).to_be_visible()
    activate.choose_credentials("face_" + unactivated.phone[-6:] + size[0], PASSWORD)
    expect(page).to_have_url(server.url + "/account?done=activated")
    [notice] = smtp_sink.to(unactivated.phone)  # the number on record got a notice, not a code
    assert "人脸识别" in notice.text
    AccountPage(page).log_out()
    LoginPage(page).open()
    LoginPage(page).log_in(new_phone, PASSWORD)
    expect(page).to_have_url(server.url + "/account")
    page.context.close()


def test_no_camera_says_so_and_offers_other_ways(browser, server, level4_citizen):
    """Chromium without the fake camera: getUserMedia fails; the component says so; no upload field."""
    context = browser.new_context(viewport=SIZES["phone"], locale="zh-CN")
    page = context.new_page()
    page.base, page.size = server.url, "phone"
    forgot_password(page, level4_citizen)
    page.get_by_label("我已阅读并同意《人脸信息处理告知书》").check()
    page.get_by_role("button", name="开始扫描").click()
    expect(page.locator(".face-scan__status")).to_contain_text("无法使用摄像头")
    expect(page.get_by_role("link", name="使用手机验证码")).to_be_visible()
    assert page.locator("input[type=file]").count() == 0
    context.close()
