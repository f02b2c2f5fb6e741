"""The screens as people use them (issue 13), without JavaScript: dates as people write them and shown in
one format, waits over a minute as a clock time, the signed-in sections' navigation, and a 返回 that goes
back where the person came from."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from tests import factories
from tests.support.business import set_level
from tests.support.web import csrf_token, field_error, post_form
from webapp.accounts.forms import parse_date
from webapp.accounts.outcomes import Refusal
from webapp.accounts.service import LoginResult
from webapp.accounts.views import login_error
from webapp.clock import clock_time
from webapp.sms.codes import wait_message

pytestmark = pytest.mark.usefixtures("database")


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("2019-02-06", date(2019, 2, 6)),
        ("2019.02.06", date(2019, 2, 6)),  # as the ID card prints it
        ("2019/2/6", date(2019, 2, 6)),
        ("2019年2月6日", date(2019, 2, 6)),
        ("20190206", date(2019, 2, 6)),
        ("２０１９－０２－０６", date(2019, 2, 6)),  # full-width, from a Chinese keyboard
        (" 2019 . 02 . 06 ", date(2019, 2, 6)),
        ("2019-02-30", None),
        ("2019-02-06junk", None),
        ("06/02/2019", None),  # day and month order is not guessed
        ("", None),
    ],
)
def test_dates_are_read_as_people_write_them(typed, read):
    assert parse_date(typed) == read


async def test_the_validity_takes_the_card_s_own_format_and_answers_in_one_format(client):
    token = await csrf_token(client)
    answer = await post_form(
        client,
        "/register/validity",
        {"valid_from": "2018.06.01", "period": "20y", "id_number": factories.id_number()},
        htmx=True,
        token=token,
    )
    assert '<strong id="valid-to">2038-06-01</strong>' in answer.text
    page = (await client.get("/register")).text
    assert re.search(r'id="input-valid_from" name="valid_from" type="text"[^>]*placeholder="年-月-日', page)
    assert 'data-date-picker="选择日期"' in page and 'type="date"' not in page


def test_a_wait_over_a_minute_is_named_by_the_time_it_ends():
    now = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)  # 08:30 in Beijing
    assert wait_message(now + timedelta(seconds=60), now) == "发送过于频繁，请60秒后再获取验证码"
    assert wait_message(now + timedelta(seconds=61), now) == "短信发送次数已达上限，请于08:31后再试"
    late = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)  # 23:30 in Beijing: the wait ends tomorrow
    assert clock_time(late + timedelta(hours=1), late) == "2026-03-02 00:30"
    throttled = LoginResult(Refusal.THROTTLED, until=now + timedelta(minutes=5))
    assert login_error(throttled, now)["password"] == "操作过于频繁，请于08:35后再试"
    short = LoginResult(Refusal.THROTTLED, until=now + timedelta(seconds=42))
    assert login_error(short, now)["password"] == "操作过于频繁，请42秒后再试"


async def test_the_signed_in_sections_carry_their_navigation(rt, client):
    account_id, _record, phone = await factories.account(rt, "钱多多")
    await set_level(account_id, 4)
    token = await csrf_token(client)
    await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD}, token=token)
    for path, current in (("/account", "账号管理"), ("/level", "实名等级"), ("/business", "工商注册")):
        page = (await client.get(path)).text
        assert '<aside class="side-nav" aria-label="账号">' in page, path
        assert re.search(r'aria-current="page">' + current + "</a>", page), path
        assert len(re.findall(r'aria-current="page"', page)) == 1, path
        assert "**多" in page and "四级实名" in page
    short = (await client.get("/account/password")).text
    assert "side-nav" not in short and 'class="shell"' in short  # a short form stays a centred card
    assert "side-nav" not in (await client.get("/login", follow_redirects=False)).text


@pytest.mark.parametrize(
    ("referer", "back"),
    [
        ("http://testserver/login", "/login"),
        ("http://testserver/activate?step=2", "/activate?step=2"),
        ("https://elsewhere.example/login", "/register"),  # another site: not followed
        ("http://testserver/agreement", "/register"),  # itself
        ("", "/register"),
    ],
)
async def test_back_from_the_agreement_goes_where_the_person_came_from(client, referer, back):
    page = (await client.get("/agreement", headers={"referer": referer} if referer else {})).text
    assert f'<a class="step-header__back" href="{back}">' in page


async def test_a_date_that_cannot_be_read_says_the_format(client):
    token = await csrf_token(client)
    answer = await post_form(client, "/register", {"valid_from": "06012018", "period": "20y"}, token=token)
    assert field_error(answer.text, "valid_from") == "请按2018-06-01的格式输入日期"
    assert 'value="06012018"' in answer.text  # what was typed stays, to be corrected


async def test_a_refusal_never_sends_a_password_back(client):
    token = await csrf_token(client)
    secret = "Spring-rain-26"
    answer = await post_form(
        client,
        "/register",
        {"name": "王小明", "code": "000000", "password": secret, "password2": secret},
        htmx=True,
        token=token,
    )
    assert field_error(answer.text, "phone") and secret not in answer.text  # app.js puts it back, in the page
