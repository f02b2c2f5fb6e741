"""CSRF tokens: one signed secret per browser, masked anew in every page (BREACH), any mask accepted."""

from __future__ import annotations

import pytest

from tests.support.web import TOKEN, post_form
from webapp.csrf import mask

pytestmark = pytest.mark.usefixtures("database")
COOKIE = "__Host-csrftoken"
REFUSED = "请求已失效，请刷新页面后重试"


async def page_token(client) -> str:
    return TOKEN.search((await client.get("/login")).text).group(1)


WRONG = {"identifier": "13800138000", "password": "Wrong-pass-1"}


async def login_with(client, token: str):
    return await post_form(client, "/login", WRONG, token=token)


def flipped(token: str, at: int) -> str:
    return token[:at] + ("0" if token[at] != "0" else "1") + token[at + 1 :]


async def test_every_page_masks_the_secret_anew_and_every_mask_is_accepted(client):
    first = await client.get("/login")
    set_cookie = first.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=")
    attributes = {part.strip() for part in set_cookie.split(";")}
    assert {"Path=/", "HttpOnly", "SameSite=Lax", "Secure"} <= attributes
    secret = client.cookies[COOKIE]
    tokens = [TOKEN.search(first.text).group(1)] + [await page_token(client) for _ in range(3)]
    assert len(set(tokens)) == 4 and secret not in tokens and all(secret not in t for t in tokens)
    header = first.text.split('"x-csrftoken": "')[1].split('"')[0]
    assert header == tokens[0]  # the htmx header and the form of one page: one token per response
    second = await client.get("/login")
    assert "set-cookie" not in second.headers and client.cookies[COOKIE] == secret  # kept, not replaced
    for token in tokens:
        answer = await login_with(client, token)
        assert answer.status_code == 200 and "账号或密码错误" in answer.text
    htmx = await post_form(client, "/login", WRONG, htmx=True, token=tokens[1])
    assert htmx.status_code == 200


async def test_a_token_not_made_from_this_browsers_secret_is_refused(app, client):
    import httpx

    token = await page_token(client)
    forgeries = (flipped(token, 10), flipped(token, len(token) - 1), token[:-2], "zz" + token[2:], "", "00")
    for forged in forgeries:
        answer = (
            await login_with(client, forged)
            if forged
            else await client.post(
                "/login", data={"identifier": "x", "password": "y"}, follow_redirects=False
            )
        )
        assert answer.status_code == 403 and REFUSED in answer.text, forged
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.10", 50000)), base_url="https://testserver"
    ) as other_browser:
        theirs = await page_token(other_browser)
    assert (await login_with(client, theirs)).status_code == 403  # another browser's token, this cookie
    client.cookies.clear()
    assert (await login_with(client, token)).status_code == 403  # no cookie at all


async def test_a_page_from_before_masking_still_posts(client):
    """Its token was the cookie's value itself."""
    await client.get("/login")
    answer = await login_with(client, client.cookies[COOKIE])
    assert answer.status_code == 200 and "账号或密码错误" in answer.text


async def test_a_cookie_with_a_wrong_signature_is_replaced(client):
    await client.get("/login")
    forged = flipped(client.cookies[COOKIE], 70)  # in the signature half
    client.cookies.clear()
    client.cookies.set(COOKIE, forged, domain="testserver.local", path="/")
    assert (await login_with(client, mask(forged))).status_code == 403  # a token made from it, refused
    page = await client.get("/login")
    assert page.headers["set-cookie"].startswith(f"{COOKIE}=")
    [kept] = [cookie.value for cookie in client.cookies.jar if cookie.name == COOKIE]
    assert kept != forged
    assert (await login_with(client, TOKEN.search(page.text).group(1))).status_code == 200
