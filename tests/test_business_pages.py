"""Screen 13 (工商注册): the 是/否 switch with its end date, the 提升实名等级 dialog, the filings list and
a filing's detail page; without JavaScript (full pages) and with htmx (partials)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.support.business import new_filing, set_level
from tests.support.web import csrf_token, field_error, post_form
from webapp.accounts.tables import Account
from webapp.business.service import set_business_registration

pytestmark = pytest.mark.usefixtures("database")
UPGRADE = "/level/upgrade?next=/business%3Fresume%3D1"


async def signed_in(rt, client, name="钱多多", level=3):
    """Logged in through the login form, as a browser would."""
    account_id, record, phone = await factories.account(rt, name)
    await set_level(account_id, level)
    token = await csrf_token(client)
    await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD}, token=token)
    return account_id, record, token


async def account_row(account_id):
    return await Account.select().where(Account.id == account_id).first()


async def test_signed_out_goes_to_login_and_back(client):
    page = await client.get("/business", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=/business")
    detail = await client.get("/business/filings/F2026030200001", follow_redirects=False)
    assert detail.headers["location"] == "/login?next=/business/filings/F2026030200001"


async def test_the_page_asks_the_question_with_an_end_date(rt, client):
    await signed_in(rt, client)
    page = (await client.get("/business")).text
    assert "是否办理工商登记注册" in page and ">是<" in page and ">否<" in page
    assert 'name="until"' in page and 'value="2026-05-31"' in page  # default: 90 days ahead
    assert 'min="2026-03-02"' in page and 'max="2027-03-02"' in page
    assert "提升实名等级" not in page  # no dialog until 是 is chosen
    assert "提升为四级实名并选择“是”后" in page
    # At level 3, choosing 是 asks the server at once (with JavaScript), which answers with the dialog.
    assert re.search(r'value="yes"[^>]*hx-post="/business/switch" hx-trigger="change"', page)


@pytest.mark.parametrize("htmx", [False, True])
async def test_yes_at_level_3_opens_the_upgrade_dialog_and_cancel_changes_nothing(rt, client, htmx):
    account_id, _record, token = await signed_in(rt, client)
    answer = await post_form(
        client, "/business/switch", {"business": "yes", "until": "2026-04-30"}, htmx=htmx, token=token
    )
    assert answer.status_code == 200
    html = answer.text
    assert 'role="dialog"' in html and "提升实名等级" in html
    assert "确定" in html and 'href="/business">取消</a>' in html
    assert 'action="/business/upgrade"' in html and 'name="until" value="2026-04-30"' in html
    assert ("<html" in html) is not htmx  # htmx gets the section only
    row = await account_row(account_id)
    assert (row["business_registration"], row["business_until"]) == (False, None)
    cancelled = (await client.get("/business")).text
    assert 'role="dialog"' not in cancelled


async def test_confirm_goes_to_the_face_scan_and_resume_saves_the_choice(rt, client):
    account_id, _record, token = await signed_in(rt, client)
    confirm = await post_form(client, "/business/upgrade", {"until": "2026-04-30"}, token=token)
    assert (confirm.status_code, confirm.headers["location"]) == (303, UPGRADE)
    back_too_early = await client.get("/business?resume=1")  # no upgrade happened: nothing saved
    assert (await account_row(account_id))["business_registration"] is False
    assert "已选择办理工商登记注册" not in back_too_early.text

    confirm = await post_form(client, "/business/upgrade", {"until": "2026-04-30"}, token=token)
    await set_level(account_id, 4)  # what the level-4 face scan does
    resumed = await client.get("/business?resume=1")
    assert "已选择办理工商登记注册" in resumed.text
    row = await account_row(account_id)
    assert (row["business_registration"], row["business_until"]) == (True, date(2026, 4, 30))
    assert 'value="yes" checked' in resumed.text
    await set_business_registration(rt, account_id, False, None, factories.ORIGIN)
    again = await client.get("/business?resume=1")  # single use
    assert "已选择办理工商登记注册" not in again.text
    assert (await account_row(account_id))["business_registration"] is False


async def test_signed_out_upgrade_needs_login(client):
    token = await csrf_token(client)
    answer = await post_form(client, "/business/upgrade", {"until": "2026-04-30"}, token=token)
    assert answer.headers["location"] == "/login?next=/business"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"until": "2026-04-30"}, "business", "请选择是否办理工商登记注册"),
        ({"business": "yes", "until": "2026-02-30"}, "until", "请输入正确的截止日期"),
        ({"business": "yes", "until": "2026-03-01"}, "until", "截止日期不能早于今天"),
        ({"business": "yes", "until": "2027-03-03"}, "until", "截止日期最长为一年"),
    ],
)
async def test_switch_errors_appear_next_to_the_field(rt, client, data, field, message):
    account_id, _record, token = await signed_in(rt, client, level=4)
    answer = await post_form(client, "/business/switch", data, htmx=True, token=token)
    assert field_error(answer.text, field) == message
    assert (await account_row(account_id))["business_registration"] is False


async def test_level_4_sees_the_filings_that_name_them_and_a_filing_in_detail(rt, client):
    account_id, record, token = await signed_in(rt, client, name="令狐冲", level=4)
    assert 'hx-trigger="change"' not in (await client.get("/business")).text  # level 4: 确定 decides
    partner = factories.person("任盈盈")
    reference = await new_filing(
        rt, (record, "legal_representative"), (partner, "shareholder"), company="华山示例有限公司"
    )
    stranger = await new_filing(rt, (partner, "director"), company="黑木崖示例有限公司")
    saved = await post_form(
        client, "/business/switch", {"business": "yes", "until": "2026-06-01"}, token=token
    )
    assert (saved.status_code, saved.headers["location"]) == (303, "/business?done=on")
    page = (await client.get("/business?done=on")).text
    assert "已选择办理工商登记注册" in page and 'value="yes" checked' in page and 'value="2026-06-01"' in page
    assert f'href="/business/filings/{reference}"' in page and "华山示例有限公司" in page
    assert "法定代表人" in page and "待您确认" in page and "黑木崖示例有限公司" not in page

    detail = (await client.get(f"/business/filings/{reference}")).text
    for text in (
        "华山示例有限公司",
        "设立",
        reference,
        "法定代表人",
        "股东",
        "**冲",
        "**盈",
        "本人",
        "待确认",
    ):
        assert text in detail, text
    assert record.name not in detail and record.id_number not in detail and partner.id_number not in detail
    assert f'href="/business/filings/{reference}/decide?decision=confirm">确认</a>' in detail
    assert f'href="/business/filings/{reference}/decide?decision=decline">拒绝</a>' in detail
    partial = await client.get(f"/business/filings/{reference}", headers={"hx-request": "true"})
    assert "<html" not in partial.text and 'id="filing"' in partial.text

    assert (await client.get(f"/business/filings/{stranger}")).status_code == 404
    assert (await client.get("/business/filings/F2099010100001")).status_code == 404

    off = await post_form(client, "/business/switch", {"business": "no"}, htmx=True, token=token)
    assert off.headers["hx-redirect"] == "/business?done=off"
    page = (await client.get("/business?done=off")).text
    assert "已选择不办理工商登记注册" in page and "华山示例有限公司" not in page
    hidden = await client.get(f"/business/filings/{reference}", follow_redirects=False)
    assert (hidden.status_code, hidden.headers["location"]) == (303, "/business")


async def test_past_the_end_date_the_page_says_so(rt, client, clock):
    account_id, _record, phone = await factories.account(rt, "岳不群")
    await set_level(account_id, 4)
    await set_business_registration(rt, account_id, True, date(2026, 3, 5), factories.ORIGIN)
    clock.advance(days=4)
    token = await csrf_token(client)
    await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD}, token=token)
    page = (await client.get("/business")).text
    assert "工商登记注册已于2026-03-05到期" in page
    assert 'value="no" checked' in page and "工商登记注册已到期，请重新选择“是”并设置截止日期。" in page


ODD = st.one_of(st.text(max_size=40), st.sampled_from(["", "\x00", "yes", "no", "2026-02-30", "9" * 500]))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_hostile_switch_input_never_fails(rt, client, data):
    if not hasattr(rt, "_business_token"):
        _id, _record, rt._business_token = await signed_in(rt, client)
        page = await client.get("/business", follow_redirects=False)
        assert (
            page.status_code == 200 and 'id="business-form"' in page.text
        )  # signed in: the forms are reached
    for path in ("/business/switch", "/business/upgrade"):
        values = data.draw(st.fixed_dictionaries({}, optional={"business": ODD, "until": ODD}), label=path)
        for htmx in (False, True):
            answer = await post_form(client, path, values, htmx=htmx, token=rt._business_token)
            assert answer.status_code < 500, (path, values)
