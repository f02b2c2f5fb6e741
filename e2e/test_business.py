"""Screen 13 (工商注册): the guide's chapter 七, 方式一 and 方式二, with Chromium's fake camera."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from e2e.conftest import screenshot
from e2e.pages import AccountPage, BusinessPage, FilingPage
from e2e.test_accounts import register
from e2e.test_face import OBAMA, camera_page


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


def confirm_filing(page, server, api_key, reference: str) -> None:
    BusinessPage(page).open_pending_filing()
    filing = FilingPage(page, reference)
    expect(page).to_have_url(filing.path)
    screenshot(page, "13-filing")
    assert filing.confirm().run(expect_redirect=True) == "已确认"
    expect(filing.text("已确认").first).to_be_visible()
    assert status_of(server, api_key, reference) == "confirmed"


def test_way_one_first_login_guide_then_yes_then_confirm(
    camera_browsers, server, size, photo_citizen, smtp_sink, api_key
):
    reference = file_filing(server, api_key, photo_citizen, f"方式一示例{size}有限公司")
    page = camera_page(camera_browsers, server, size, OBAMA)
    register(page, photo_citizen, smtp_sink)
    account = AccountPage(page)
    assert account.upgrade_now().scan.run(expect_redirect=True) == "已提升为四级实名"
    account.go("工商注册")
    business = BusinessPage(page)
    business.choose_yes()
    expect(business.pending.first).to_be_visible()
    screenshot(page, "13-business")
    confirm_filing(page, server, api_key, reference)
    page.context.close()


def test_way_two_yes_at_level_3_opens_the_dialog(
    camera_browsers, server, size, photo_citizen, smtp_sink, api_key
):
    reference = file_filing(server, api_key, photo_citizen, f"方式二示例{size}有限公司")
    page = camera_page(camera_browsers, server, size, OBAMA)
    register(page, photo_citizen, smtp_sink)
    business = BusinessPage(page).open()
    business.yes.check()  # choosing 是 at level 3 opens the dialog at once, as the guide says
    expect(business.upgrade_dialog).to_be_visible()
    screenshot(page, "13-upgrade-dialog")
    business.cancel_upgrade()  # 取消 leaves everything as it was
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(business.yes).not_to_be_checked()
    business.yes.check()
    assert business.agree_to_upgrade().run(expect_redirect=True) == "已提升为四级实名"
    expect(page).to_have_url("/business?resume=1")
    expect(business.pending.first).to_be_visible()
    confirm_filing(page, server, api_key, reference)
    page.context.close()


def test_a_level_3_person_cannot_confirm(page, size, citizen, smtp_sink, server, api_key):
    reference = file_filing(server, api_key, citizen, f"三级示例{size}有限公司")
    register(page, citizen, smtp_sink)
    filing = FilingPage(page, reference).open()
    expect(filing.confirm_link).to_have_count(0)
    filing.decide("confirm")
    expect(page).to_have_url("/business")
    started = page.request.post("/face/scan/start", form={"purpose": "filing"})
    assert started.status == 403 or started.json()["ok"] is False  # no CSRF token, and no flow either
    assert status_of(server, api_key, reference) == "pending"
