"""我的设备 and 账号动态 (issue 16): the account's sessions, which it may end, and its own security events."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager

import httpx
import pytest

from tests import factories
from tests.support.web import csrf_token, post_form
from webapp.accounts.activity import PER_PAGE
from webapp.accounts.devices import describe_device
from webapp.accounts.tables import UserSession
from webapp.i18n import current_locale
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")

PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.44(0x18002c2d) NetType/WIFI Language/zh_CN"
)
DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36"
)
ENTRY = re.compile(r'<li class="entry( entry--current)?">.*?</li>', re.S)


@asynccontextmanager
async def browser(app, user_agent: str, address: str = "198.51.100.7"):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 50000)),
        base_url="https://testserver",
        follow_redirects=True,
        headers={"user-agent": user_agent},
    ) as client:
        yield client


async def submit(client, path: str, data: dict, token: str | None = None) -> httpx.Response:
    """A plain form's POST, and the page its redirect leads to."""
    answer = await post_form(client, path, data, token=token)
    return await client.get(answer.headers["location"]) if answer.status_code == 303 else answer


async def sign_in(client, phone: str, password: str = factories.PASSWORD) -> None:
    answer = await submit(client, "/login", {"identifier": phone, "password": password})
    assert answer.url.path == "/account", answer.url


async def signed_in(client) -> bool:
    answer = await client.get("/account", follow_redirects=False)
    return answer.status_code == 200


def entries(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", match.group(0)) for match in ENTRY.finditer(html)]


def test_a_device_is_named_in_words():
    current_locale.set("zh-CN")
    assert describe_device(PHONE_UA) == "微信 · iPhone"
    assert describe_device(DESKTOP_UA) == "Chrome · Windows"
    edge = DESKTOP_UA + " Edg/120.0.2210.91"
    assert describe_device(edge) == "Edge · Windows"
    huawei = "Mozilla/5.0 (Linux; Android 12; HarmonyOS; NOH-AN00) HuaweiBrowser/14.0 Chrome/99"
    assert describe_device(huawei) == "华为浏览器 · HarmonyOS"
    safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Version/17.1 Safari/605.1.15"
    assert describe_device(safari) == "Safari · macOS"
    assert describe_device("curl/8.4.0") == "未知浏览器 · 未知系统"
    current_locale.set("en")
    assert describe_device(PHONE_UA) == "WeChat · iPhone"
    current_locale.set("zh-CN")


async def test_two_devices_are_listed_and_ending_the_other_signs_it_out(rt, app, clock):
    clock.set_shanghai(2026, 3, 2, 9, 30)
    account_id, _record, phone = await factories.account(rt)
    async with browser(app, PHONE_UA, "198.51.100.7") as phone_browser:
        await sign_in(phone_browser, phone)
        clock.advance(minutes=20)
        async with browser(app, DESKTOP_UA, "203.0.113.50") as desktop:
            await sign_in(desktop, phone)
            page = await desktop.get("/account/devices")
            listed = entries(page.text)
            assert len(listed) == 2
            assert "Chrome · Windows" in listed[0] and "entry--current" in listed[0] and "本设备" in listed[0]
            assert "203.0.113.50" in listed[0] and "2026-03-02 09:50" in listed[0]
            assert "微信 · iPhone" in listed[1] and "entry--current" not in listed[1]
            assert "本设备" not in listed[1]
            assert "198.51.100.7" in listed[1] and "2026-03-02 09:30" in listed[1]
            assert "/end" not in listed[0]  # this browser's own session ends by 退出登录
            seen_from_phone = entries((await phone_browser.get("/account/devices")).text)
            assert "微信 · iPhone" in seen_from_phone[0] and "本设备" in seen_from_phone[0]  # its own first
            other = re.search(r'action="/account/devices/(\d+)/end"', listed[1])
            assert other is not None

            ended = await submit(desktop, f"/account/devices/{other.group(1)}/end", {})
            assert ended.url.path == "/account/devices" and "已退出该设备上的登录" in ended.text
            assert len(entries(ended.text)) == 1
            assert not await signed_in(phone_browser)  # its very next request
            assert await signed_in(desktop)
    events = await AuditEvent.select(AuditEvent.event, AuditEvent.detail).where(
        AuditEvent.account_id == account_id
    )
    assert [e["event"] for e in events].count("session_ended") == 1


async def test_end_all_others_keeps_this_one(rt, app):
    _account_id, _record, phone = await factories.account(rt)
    async with (
        browser(app, PHONE_UA) as first,
        browser(app, DESKTOP_UA) as second,
        browser(app, DESKTOP_UA) as third,
    ):
        for client in (first, second, third):
            await sign_in(client, phone)
        page = await submit(third, "/account/devices/end-others", {})
        assert "已退出其他所有设备上的登录" in page.text and "没有其他设备登录您的账号" in page.text
        assert [await signed_in(c) for c in (first, second, third)] == [False, False, True]


async def test_another_accounts_session_cannot_be_ended(rt, app):
    _mine, _record, my_phone = await factories.account(rt, name="张三")
    theirs, _record, their_phone = await factories.account(rt, name="李四")
    async with browser(app, DESKTOP_UA) as me, browser(app, PHONE_UA) as them:
        await sign_in(me, my_phone)
        await sign_in(them, their_phone)
        their_session = await UserSession.select(UserSession.id).where(UserSession.account == theirs).first()
        assert their_session is not None
        await submit(me, f"/account/devices/{their_session['id']}/end", {})
        assert await signed_in(them)
        assert "李四" not in (await me.get("/account/devices")).text


async def test_the_devices_page_needs_a_session(client):
    answer = await client.get("/account/devices", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/account/devices"
    token = await csrf_token(client)
    refused = await submit(client, "/account/devices/end-others", {}, token=token)
    assert refused.url.path == "/login"


async def test_activity_tells_the_accounts_own_story_newest_first(rt, app, clock):
    clock.set_shanghai(2026, 3, 2, 10, 0)
    account_id, _record, phone = await factories.account(rt, name="张三")
    _other, _record, other_phone = await factories.account(rt, name="李四")
    async with browser(app, PHONE_UA) as client, browser(app, DESKTOP_UA) as stranger:
        wrong = await submit(client, "/login", {"identifier": phone, "password": "Wrong-pass-1"})
        assert wrong.url.path == "/login"
        clock.advance(minutes=1)
        await sign_in(client, phone)
        await sign_in(stranger, other_phone)
        clock.advance(minutes=1)
        token = await csrf_token(client, "/account/password")
        changed = await submit(
            client,
            "/account/password",
            {"old_password": factories.PASSWORD, "password": "Changed-pass-2", "password2": "Changed-pass-2"},
            token=token,
        )
        assert changed.url.path == "/account", changed.text[:300]
        page = await client.get("/account/activity")
    listed = entries(page.text)
    words = [re.search(r'entry__title">([^<]+)<', item).group(1) for item in listed]  # type: ignore[union-attr]
    assert words == [
        "发送安全提醒短信",  # 您的登录密码已修改
        "修改密码",
        "验证登录密码",
        "发送安全提醒短信",  # a sign-in from a new device
        "登录成功",
        "登录未成功：密码错误",
        "同意《个人信息保护政策》",  # 注册即视为同意
        "同意《用户协议》",
        "注册账号",
    ], words
    assert all("微信 · iPhone" in item for item in listed[:6])
    assert "2026-03-02 10:00" in listed[5] and "2026-03-02 10:02" in listed[0]
    assert "Chrome · Windows" not in page.text  # the other account's sign-in is not here


async def test_activity_is_paged(rt, app, clock):
    clock.set_shanghai(2026, 3, 2, 10, 0)
    account_id, _record, phone = await factories.account(rt)
    from webapp import audit

    for n in range(PER_PAGE + 5):
        clock.advance(minutes=1)
        await audit.record("logout", clock.now(), audit.Origin("192.0.2.1", DESKTOP_UA), account_id, n=n)
    async with browser(app, PHONE_UA) as client:
        await sign_in(client, phone)  # and login_ok, newest; account_created is the oldest
        first = await client.get("/account/activity")
        assert len(entries(first.text)) == PER_PAGE
        assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
        second = await client.get("/account/activity?page=2")
        assert len(entries(second.text)) == 10  # 25, login_ok and its new-device notice, 2 consents, created
        assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
        assert "第2页" in second.text
        beyond = await client.get("/account/activity?page=99")
        assert beyond.status_code == 200 and entries(beyond.text) == []
        nonsense = await client.get("/account/activity?page=abc")
        assert nonsense.status_code == 400
