"""Screen 13 (工商注册): the guide's chapter 七, 方式一 and 方式二, with Chromium's fake camera."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from e2e.conftest import screenshot
from e2e.pages import AccountPage, FaceScan
from e2e.test_accounts import register
from e2e.test_face import OBAMA, camera_page


@pytest.fixture(scope="session")
def api_key(server) -> str:
    return server.cli("apikey", "create", "e2e-registration-system").strip().splitlines()[-1]


def file_filing(server, api_key: str, citizen, company: str) -> str:
    response = httpx.post(
        server.url + "/api/v1/filings",
        json={
            "company_name": company,
            "kind": "establish",
            "persons": [
                {"name": citizen.name, "id_number": citizen.id_number, "role": "legal_representative"}
            ],
        },
        headers={"authorization": f"Bearer {api_key}", "idempotency-key": f"e2e-{citizen.id_number}"},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def status_of(server, api_key: str, reference: str) -> str:
    response = httpx.get(
        server.url + f"/api/v1/filings/{reference}", headers={"authorization": f"Bearer {api_key}"}
    )
    return response.json()["status"]


def choose_yes(page) -> None:
    until = page.get_by_label("截止日期", exact=True)
    expect(until).to_be_hidden()  # 截止日期 belongs to 是
    page.get_by_role("radio", name="是", exact=True).check()
    expect(until).to_be_visible()
    page.get_by_role("button", name="确定", exact=True).click()


def confirm_filing(page, server, api_key, reference: str) -> None:
    page.get_by_role("row").filter(has_text="待您确认").get_by_role("link").first.click()
    expect(page).to_have_url(server.url + f"/business/filings/{reference}")
    screenshot(page, "13-filing")
    page.get_by_role("link", name="确认", exact=True).click()
    assert FaceScan(page).run(expect_redirect=True) == "已确认"
    expect(page.get_by_text("已确认").first).to_be_visible()
    assert status_of(server, api_key, reference) == "confirmed"


def test_way_one_first_login_guide_then_yes_then_confirm(
    camera_browsers, server, size, photo_citizen, smtp_sink, api_key
):
    reference = file_filing(server, api_key, photo_citizen, f"方式一示例{size}有限公司")
    page = camera_page(camera_browsers, server, size, OBAMA)
    register(page, photo_citizen, smtp_sink)
    page.get_by_role("link", name="立即提升").click()
    assert FaceScan(page).run(expect_redirect=True) == "已提升为四级实名"
    AccountPage(page).go("工商注册")
    choose_yes(page)
    expect(page.get_by_text("待您确认").first).to_be_visible()
    screenshot(page, "13-business")
    confirm_filing(page, server, api_key, reference)
    page.context.close()


def test_way_two_yes_at_level_3_opens_the_dialog(
    camera_browsers, server, size, photo_citizen, smtp_sink, api_key
):
    reference = file_filing(server, api_key, photo_citizen, f"方式二示例{size}有限公司")
    page = camera_page(camera_browsers, server, size, OBAMA)
    register(page, photo_citizen, smtp_sink)
    page.goto(server.url + "/business")
    yes = page.get_by_role("radio", name="是", exact=True)
    yes.check()  # choosing 是 at level 3 opens the dialog at once, as the guide says
    dialog = page.get_by_role("dialog", name="提升实名等级")
    expect(dialog).to_be_visible()
    screenshot(page, "13-upgrade-dialog")
    dialog.get_by_role("link", name="取消").click()  # 取消 leaves everything as it was
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(yes).not_to_be_checked()
    yes.check()
    page.get_by_role("dialog").get_by_role("button", name="确定").click()
    assert FaceScan(page).run(expect_redirect=True) == "已提升为四级实名"
    expect(page).to_have_url(server.url + "/business?resume=1")
    expect(page.get_by_text("待您确认").first).to_be_visible()
    confirm_filing(page, server, api_key, reference)
    page.context.close()


def test_a_level_3_person_cannot_confirm(page, citizen, smtp_sink, server, api_key):
    reference = file_filing(server, api_key, citizen, f"三级示例{page.size}有限公司")
    register(page, citizen, smtp_sink)
    page.goto(server.url + f"/business/filings/{reference}")
    expect(page.get_by_role("link", name="确认", exact=True)).to_have_count(0)
    page.goto(server.url + f"/business/filings/{reference}/decide?decision=confirm")
    expect(page).to_have_url(server.url + "/business")
    started = page.request.post(server.url + "/face/scan/start", form={"purpose": "filing"})
    assert started.status == 403 or started.json()["ok"] is False  # no CSRF token, and no flow either
    assert status_of(server, api_key, reference) == "pending"
