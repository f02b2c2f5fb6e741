"""Issue 7, reliability and security campaign: SECURITY.md's promises checked across the whole app.

Every check enumerates what it covers from the app itself where it can (its routes), so a route added
later is covered, or makes a test fail until it is. On both engines (WEBAPP_TEST_DB=sqlite|postgres).

- CSRF on every state-changing route; the /api/v1 exemption anchored to the start of the path.
- Security headers and a CSP-clean page (no inline script, style or handler) on every HTML page.
- Cookie flags in production: __Host- names, HttpOnly, Secure, SameSite=Lax, Path=/.
- Bodies: 50 MB posts refused with bounded memory; hostile face frames refused without decoding.
- Unicode normalisation of ID numbers; over-long values on every form give field errors, never a 5xx.
- Enumeration: activation step 1 and 忘记密码 answer byte for byte alike and do the same work.
- Per-IP limits, and X-Forwarded-For believed only from WEBAPP_TRUSTED_PROXIES.
- The audit trail of a scripted story: the exact events, with address and user agent, no PII.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from litestar import post
from PIL import Image

from tests import factories
from tests.conftest import runtime_with
from tests.support.business import new_filing
from tests.support.business import register as register_at_level
from tests.support.web import csrf_token, field_error, post_form, without_csrf_token
from webapp.accounts.tables import Account, Flow
from webapp.app import CSRF_EXEMPT_PATHS, create_app
from webapp.clock import SHANGHAI
from webapp.csrf import CSRFMiddleware
from webapp.face.pool import FacePool
from webapp.runtime import build_runtime
from webapp.sms.tables import SmsCode
from webapp.tables import AuditEvent, RateEvent
from webapp.web import CSP

pytestmark = pytest.mark.usefixtures("database")

PEER = "203.0.113.9"  # the address the ASGI transport reports as the client (as the `client` fixture)
MB = 1024 * 1024
LONG = "9" * 10_000
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_REFUSED = "请求已失效，请刷新页面后重试"


@contextlib.asynccontextmanager
async def app_client(
    rt, peer: str = PEER, **client_options
) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    """(app, client) like the ``client`` fixture, for a runtime of the test's choosing."""
    app = create_app(runtime=rt)
    for hook in app.on_startup:
        await hook()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(peer, 50000)),
            base_url="https://testserver",
            follow_redirects=True,
            **client_options,
        ) as test_client:
            yield app, test_client
    finally:
        for hook in app.on_shutdown:
            await hook()


async def sign_in(rt, client, name: str = "钱多多", password: str = factories.PASSWORD):
    account_id, record, phone = await factories.account(rt, name)
    token = await csrf_token(client)
    answer = await post_form(client, "/login", {"identifier": phone, "password": password}, token=token)
    assert answer.status_code == 303, answer.text[-500:]
    return account_id, record, phone, token


def concrete(path: str) -> str:
    """A route path with every parameter filled in."""
    return re.sub(r"\{\w+:\w+\}", "F2026030200001", re.sub(r"\{\w+:int\}", "1", path))


def template_pattern(path: str) -> re.Pattern:
    pattern = re.sub(r"\{\w+:path\}", "§PATH§", path)
    pattern = re.sub(r"\{\w+:\w+\}", "§ONE§", pattern)
    return re.compile(re.escape(pattern).replace("§PATH§", ".+").replace("§ONE§", "[^/]+") + r"$")


# =========================================================================================== CSRF


def state_changing_routes(app) -> list[tuple[str, str]]:
    """(method, concrete path) of every POST/PUT/PATCH/DELETE handler outside /api/v1."""
    found = []
    for route in app.routes:
        if route.path.startswith("/api/v1"):
            continue
        for method in sorted(STATE_CHANGING & set(route.methods)):
            found.append((method, concrete(route.path)))
    return found


async def test_every_state_changing_route_refuses_a_missing_or_forged_csrf_token(rt):
    async with app_client(rt) as (app, browser), app_client(rt) as (_app, other_browser):
        routes = state_changing_routes(app)
        assert len(routes) >= 20, routes
        assert {
            ("POST", "/login"),
            ("POST", "/logout"),
            ("POST", "/register"),
            ("POST", "/register/sms"),
            ("POST", "/account/password"),
            ("POST", "/account/phone"),
            ("POST", "/recover/reset"),
            ("POST", "/face/scan/start"),
            ("POST", "/face/scan/finish"),
            ("POST", "/business/switch"),
            ("POST", "/level/withdraw"),
        } <= set(routes)

        account_id, _record, phone, token = await sign_in(rt, browser)  # a victim who is signed in
        before = await Account.select().where(Account.id == account_id).first()
        stranger_token = await csrf_token(other_browser)  # valid, but for another browser's cookie
        assert stranger_token != token
        assert browser.cookies.get("__Host-csrftoken") and browser.cookies.get("__Host-sid")

        async def refused(method, path, **request) -> None:
            answer = await browser.request(method, path, follow_redirects=False, **request)
            assert answer.status_code == 403, (method, path, request.get("headers"), answer.status_code)
            assert CSRF_REFUSED in answer.text, (method, path)

        for method, path in routes:
            fields = {"phone": "13900000000", "password": "Forged-pass-1", "business": "no"}
            await refused(method, path, data=fields)  # no token at all
            await refused(method, path, data=fields, headers={"x-csrftoken": "forged"})
            await refused(method, path, data=fields, headers={"x-csrftoken": "forged", "hx-request": "true"})
            await refused(method, path, data={**fields, "_csrf_token": "forged"})
            await refused(method, path, data=fields, headers={"x-csrftoken": stranger_token})
            await refused(method, path, data={**fields, "_csrf_token": stranger_token})
            await refused(
                method,
                path,
                files={"frames": ("f.jpg", b"\xff\xd8\xff", "image/jpeg")},
                data={"_csrf_token": "forged"},
            )
            # The victim's own token and session, but no CSRF cookie (a token learnt elsewhere): refused.
            request = browser.build_request(method, path, data=fields, headers={"x-csrftoken": token})
            request.headers["cookie"] = f"__Host-sid={browser.cookies['__Host-sid']}"
            without_cookie = await browser.send(request, follow_redirects=False)
            assert without_cookie.status_code == 403, (method, path)

        # None of it took effect: still signed in, same phone, same password, same level.
        assert (await browser.get("/account", follow_redirects=False)).status_code == 200
        after = await Account.select().where(Account.id == account_id).first()
        assert after == before
        # The control: with the token the same request goes through.
        out = await browser.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/login"


async def test_the_api_exemption_is_anchored_to_the_start_of_the_path(rt):
    async with app_client(rt) as (app, browser):
        csrf = CSRFMiddleware(app, key="k" * 32, cookie_name="c", secure=True, exempt_paths=CSRF_EXEMPT_PATHS)

        def exempt(path: str) -> bool:
            return csrf._exempt({"type": "http", "path": path, "raw_path": path.encode()})

        assert exempt("/api/v1/filings") and exempt("/api/v1/filings/F2026030200001")
        for path in (
            "/login/api/v1/",
            "/x/api/v1/filings",
            "//api/v1/filings",
            "/static/api/v1/x",
            "/business/filings/api/v1/decide",
            "/API/V1/filings",
            "/api/v10/filings",
            "/api/v1",
            " /api/v1/filings",
            "/\n/api/v1/filings",
        ):
            assert not exempt(path), path

        # Over HTTP, with a state-changing route whose path contains /api/v1 but does not start with it.
        @post("/probe/api/v1/filings", include_in_schema=False, status_code=200)
        async def probe() -> str:
            return "reached"

        app.register(probe)
        refused = await browser.post("/probe/api/v1/filings", data={"a": "1"}, follow_redirects=False)
        assert refused.status_code == 403 and CSRF_REFUSED in refused.text
        token = await csrf_token(browser)
        allowed = await browser.post("/probe/api/v1/filings", data={"_csrf_token": token})
        assert allowed.status_code == 200 and allowed.text == "reached"
        # A query string naming /api/v1 is not the path either.
        sneaky = await browser.post("/login?next=/api/v1/filings", data={"identifier": "x", "password": "y"})
        assert sneaky.status_code == 403
        # The API itself is exempt from CSRF because it ignores cookies: a browser's cookies get a 401.
        await sign_in(rt, browser)
        api = await browser.post("/api/v1/filings", json={}, headers={"x-csrftoken": "forged"})
        assert api.status_code == 401 and api.json()["error"] == "unauthorized"


# ================================================================================ headers, pages

SIGNED_OUT_PAGES = [
    "/",
    "/login",
    "/login?next=/account&reset=1",
    "/register",
    "/agreement",
    "/privacy",
    "/faq",
    "/activate",
    "/activate/face",
    "/recover",
    "/recover?method=sms",
    "/login/face",
    "/offline",
    "/lang/en?next=/faq",
    "/lang/zh?next=/login",
    "/no-such-page",  # 404
    "/dev/outbox",  # 404 in production
    "/lang/xx",  # 404
    "/static/no-such-file.css",  # 404
    "/metrics",  # 404 with no token configured
    "/logout",  # 405: an error page
    "/account",  # signed out: a redirect to the login page
]
SIGNED_IN_PAGES = [
    "/account",
    "/account?done=password",
    "/account/phone",
    "/account/password",
    "/level",
    "/level?done=4",
    "/level/upgrade",
    "/level/withdraw",
    "/business",
    "/business?done=on",
    "/business/filings/F2026030200001",
    "/business/filings/F2026030200001/decide?decision=confirm",
    "/account/devices",
    "/account/devices?done=ended_others",
    "/account/activity",
    "/account/activity?page=2",
    "/account/data",  # before the password again
    "/account/data/face",
    "/consent",  # nothing due: on to /account (tests/test_consents.py draws it when something is)
    "/account/delete",  # before the password again
    "/account/delete/face",
    "/account/deletion",  # nothing under way: on to /account (tests/test_deletion.py draws it when it is)
]
NOT_HTML = {
    "/healthz",
    "/metrics",
    "/sw.js",
    "/manifest.webmanifest",
    "/static/{relative:path}",
    "/account/data/copy.json",
}
REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}

INLINE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)
CSP_BREAKERS = {
    "a style attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I),
    "a <style> element": re.compile(r"<style\b", re.I),
    "an inline event handler": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I),
    "an htmx hx-on handler": re.compile(r"<[a-z][^>]*\s(?:data-)?hx-on", re.I),
    "a javascript: URL": re.compile(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.I),
    "htmx eval (js: values)": re.compile(r"""hx-(?:vals|vars)\s*=\s*["']\s*(?:js|javascript):""", re.I),
}


def check_headers(response: httpx.Response, production: bool = True) -> None:
    where = f"{response.request.method} {response.request.url.raw_path.decode()} → {response.status_code}"
    headers = response.headers
    assert headers.get("content-security-policy") == CSP, where
    assert "frame-ancestors 'none'" in headers["content-security-policy"], where
    assert headers.get("permissions-policy", "").startswith("camera=(self)"), where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") in REFERRER_POLICIES, where
    assert headers.get("x-frame-options") == "DENY", where
    hsts = headers.get("strict-transport-security")
    if production:
        assert hsts and int(re.match(r"max-age=(\d+)", hsts).group(1)) >= 31_536_000, where
    else:
        assert hsts is None, where


def check_html(response: httpx.Response) -> None:
    """Nothing the CSP would block: it would break the page silently in a browser."""
    if not response.headers.get("content-type", "").startswith("text/html"):
        return
    where = f"{response.request.method} {response.request.url.raw_path.decode()}"
    html = response.text
    for attributes, body in INLINE_SCRIPT.findall(html):
        assert "src=" in attributes and not body.strip(), f"{where}: an inline <script>: {body[:200]!r}"
    for what, pattern in CSP_BREAKERS.items():
        match = pattern.search(html)
        assert match is None, f"{where}: {what}: {html[max(0, match.start() - 80) : match.end() + 80]!r}"


async def visit(client: httpx.AsyncClient, path: str, production: bool = True) -> list[httpx.Response]:
    """The page as a full page and as an htmx request, every hop of any redirect checked."""
    seen = []
    for headers in ({}, {"hx-request": "true"}):
        response = await client.get(path, headers=headers)
        for hop in [*response.history, response]:
            check_headers(hop, production)
            check_html(hop)
            seen.append(hop)
        assert response.status_code < 500, (path, response.status_code)
    return seen


async def test_every_page_sends_the_security_headers_and_nothing_the_csp_blocks(rt, client, clock):
    assert "页面不存在" in (await client.get("/no-such-page")).text  # before /lang/en switches to English
    visited: list[str] = []
    for path in SIGNED_OUT_PAGES:
        await visit(client, path)
        visited.append(path.split("?")[0])
    statuses = {
        path: (await client.get(path, follow_redirects=False)).status_code for path in SIGNED_OUT_PAGES
    }
    assert statuses["/no-such-page"] == statuses["/dev/outbox"] == statuses["/lang/xx"] == 404
    assert statuses["/logout"] == 405 and statuses["/account"] == 303

    # Pages answered to form posts (partials and full pages), with errors showing.
    token = await csrf_token(client)
    posts = [
        ("/login", {"identifier": "13000000001", "password": "Wrong-pass-1"}),
        ("/register", {"name": "<b>x</b>", "id_number": "1"}),
        ("/register/sms", {"phone": "12"}),
        ("/register/check", {"name": "张三", "id_number": "1"}),
        ("/register/validity", {"valid_from": "2018-06-01", "period": "20y", "id_number": "1"}),
        ("/activate/sms", {"id_number": "1", "phone": "2"}),
        ("/activate", {"id_number": "1", "phone": "2", "code": ""}),
        ("/activate/account", {"username": "x"}),
        ("/login/face", {"identifier": "13000000001"}),
        ("/recover", {"name": "张三", "id_number": "1"}),
        ("/recover/sms", {"name": "张三", "id_number": "1", "phone": "2"}),
        ("/recover/code", {"name": "张三", "id_number": "1", "phone": "2", "code": "1"}),
        ("/recover/reset", {"password": "x"}),
    ]
    for path, data in posts:
        for htmx in (False, True):
            response = await post_form(client, path, data, htmx=htmx, token=token)
            check_headers(response)
            check_html(response)
    forged = await client.post("/login", data={"_csrf_token": "forged"})  # the 403 error page
    check_headers(forged)
    check_html(forged)

    await sign_in(rt, client)
    for path in SIGNED_IN_PAGES:
        await visit(client, path)
        visited.append(path.split("?")[0])
    await post_form(client, "/account/data/password", {"password": factories.PASSWORD}, token=token)
    await visit(client, "/account/data")  # the copy itself
    copy = await client.get("/account/data/copy.json")
    assert copy.status_code == 200 and copy.headers["content-type"].startswith("application/json")
    check_headers(copy)
    for path, data in [
        ("/account/password", {"old_password": "Wrong-pass-1", "password": "x", "password2": "y"}),
        ("/account/data/password", {"password": "Wrong-pass-1"}),
        ("/account/phone/password", {"password": "Wrong-pass-1"}),
        ("/business/switch", {"business": "yes", "until": "2026-04-01"}),  # level 3: the dialog
    ]:
        for htmx in (False, True):
            response = await post_form(client, path, data, htmx=htmx, token=token)
            check_headers(response)
            check_html(response)
    # Level 4 with 是 chosen and a filing to confirm: the filing list, the filing, its face scan.
    await post_form(client, "/logout", {}, token=token)
    person = factories.person("卫四级")
    await register_at_level(rt, person, level=4, business=True)
    reference = await new_filing(rt, (person, "legal_representative"))
    signed_in = await post_form(
        client, "/login", {"identifier": person.id_number, "password": factories.PASSWORD}, token=token
    )
    assert signed_in.status_code == 303
    for path in (
        "/account",
        "/level",
        "/level/withdraw",
        "/business",
        f"/business/filings/{reference}",
        f"/business/filings/{reference}/decide?decision=confirm",
        f"/business/filings/{reference}/decide?decision=decline",
    ):
        seen = await visit(client, path)
        assert seen[0].status_code == 200, (path, seen[0].status_code)
    assert "上海示例贸易有限公司" in (await client.get(f"/business/filings/{reference}")).text

    for path in ("/healthz", "/sw.js", "/manifest.webmanifest", "/api/v1/filings", "/api/v1/schema"):
        check_headers(await client.get(path))

    # Every GET route of the app that draws a page was visited above (a new page must be added).
    app = create_app(runtime=rt)
    for route in app.routes:
        if "GET" not in route.methods or route.path.startswith("/api/v1") or route.path in NOT_HTML:
            continue
        pattern = template_pattern(route.path)
        assert any(pattern.match(path) for path in visited), f"page {route.path} is not checked"


async def test_hsts_in_production_only(rt):
    dev = build_runtime(replace(rt.settings, env="dev", sms_channel="console"), rt.clock)
    async with app_client(dev) as (_app, browser):
        for path in ("/login", "/register", "/no-such-page"):
            await visit(browser, path, production=False)


# ======================================================================================= cookies


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    first, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    parsed = {}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        parsed[key.strip().lower()] = val.strip()
    return name, value.strip('"'), parsed


async def test_cookies_in_production_are_host_only_httponly_secure_lax(rt, smtp_sink):
    cookies: list[str] = []

    async def collect(response: httpx.Response) -> None:
        cookies.extend(response.headers.get_list("set-cookie"))

    async with app_client(rt, event_hooks={"response": [collect]}) as (_app, browser):
        token = await csrf_token(browser)  # __Host-csrftoken
        # 激活账号: the activation flow, then the session.
        _id, imported, imported_phone = await factories.account(rt, "孙激活", password=None)
        await post_form(browser, "/activate/sms", {"id_number": imported.id_number, "phone": imported_phone})
        code = smtp_sink.code_for(imported_phone)
        step2 = await post_form(
            browser, "/activate", {"id_number": imported.id_number, "phone": imported_phone, "code": code}
        )
        assert "用户名" in step2.text, step2.text[-800:]
        done = await post_form(
            browser,
            "/activate/account",
            {"username": "sun_jihuo", "password": "Activate-me-7", "password2": "Activate-me-7"},
            token=token,
        )
        assert done.status_code == 303, done.text[-800:]
        await post_form(browser, "/logout", {}, token=token)
        # 人脸登录 and 忘记密码 flows (signed out), with the face-scan challenge flow.
        await post_form(browser, "/login/face", {"identifier": imported_phone}, token=token)
        start = await browser.post(
            "/face/scan/start", data={"purpose": "login", "consent": "yes"}, headers={"x-csrftoken": token}
        )
        assert start.json()["ok"], start.text
        await post_form(browser, "/recover", {"name": imported.name, "id_number": imported.id_number})
        # Signed in: 修改手机号 and the business flow.
        await sign_in(rt, browser, "周改号")
        await post_form(browser, "/account/phone/password", {"password": factories.PASSWORD}, token=token)
        await post_form(browser, "/business/upgrade", {"until": ""}, token=token)
        await post_form(browser, "/logout", {}, token=token)

    parsed = [parse_set_cookie(header) for header in cookies]
    names = {name for name, _value, _attrs in parsed}
    assert {
        "__Host-csrftoken",
        "__Host-sid",
        "__Host-flow_activate",
        "__Host-flow_face_login",
        "__Host-flow_face",
        "__Host-flow_recover",
        "__Host-flow_change_phone",
        "__Host-flow_business_switch",
    } <= names, names
    for name, value, attributes in parsed:
        assert name.startswith("__Host-"), name
        # What any __Host- cookie needs for a browser to take it (a deletion too: else it is ignored and
        # the cookie stays): Secure, Path=/ and no Domain.
        assert "secure" in attributes and attributes.get("path") == "/", (name, attributes)
        assert "domain" not in attributes, (name, attributes)
        deletion = value == "" or attributes.get("max-age") == "0"
        if not deletion:
            assert "httponly" in attributes, (name, attributes)
            assert attributes.get("samesite", "").lower() == "lax", (name, attributes)


# ======================================================================================== bodies


def _status_kib(pid: int | str, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@contextlib.contextmanager
def peak_memory_growth(pid: int | str = "self"):
    """Growth of the peak resident size (MB) over the block: the peak is reset first (clear_refs 5), so
    a transient 50 MB buffer shows even if it is freed before the block ends."""
    before = _status_kib(pid, "VmRSS")
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        field = "VmHWM"
    except OSError:  # no permission to reset the peak: the current size is the best we have
        field = "VmRSS"
    result: dict[str, float] = {}
    yield result
    result["mb"] = (_status_kib(pid, field) - before) / 1024


class Stream:
    """A request body of ``total`` bytes produced on demand; counts what the server pulled."""

    def __init__(self, total: int, head: bytes = b"", tail: bytes = b"", chunk: int = 256 * 1024):
        self.total, self.head, self.tail, self.pulled = total, head, tail, 0
        self.block = b"a" * chunk

    async def __aiter__(self):
        self.pulled += len(self.head)
        yield self.head
        remaining = self.total - len(self.head) - len(self.tail)
        while remaining > 0:
            piece = self.block if remaining >= len(self.block) else self.block[:remaining]
            remaining -= len(piece)
            self.pulled += len(piece)
            yield piece
        self.pulled += len(self.tail)
        yield self.tail


async def test_a_50_mb_login_post_is_refused_with_bounded_memory(client):
    token = await csrf_token(client)
    for announce in (False, True):  # chunked, and with an honest Content-Length
        body = Stream(50 * MB, head=b"identifier=13000000001&password=")
        headers = {"x-csrftoken": token, "content-type": "application/x-www-form-urlencoded"}
        if announce:
            headers["content-length"] = str(50 * MB)
        with peak_memory_growth() as growth:
            answer = await client.post("/login", content=body, headers=headers)
        assert answer.status_code == 413, answer.status_code
        assert "提交的内容过大" in answer.text
        check_headers(answer)
        assert body.pulled <= 3 * MB, f"the server read {body.pulled} bytes before refusing"
        assert growth["mb"] < 30, f"peak memory grew by {growth['mb']:.1f} MB"


async def test_50_mb_of_frames_posted_outside_the_stream_are_refused_with_bounded_memory(rt, client):
    """Frames reach the server only inside a scan's stream: the old burst endpoint is gone, and a 50 MB
    post to it is answered without reading it."""
    _id, _record, _phone, token = await sign_in(rt, client)
    start = await client.post(
        "/face/scan/start", data={"purpose": "upgrade", "consent": "yes"}, headers={"x-csrftoken": token}
    )
    assert start.json()["ok"], start.text
    boundary = "----shiming-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="frames"; filename="f0.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + b"\xff\xd8\xff\xe0"
    body = Stream(50 * MB, head=head, tail=f"\r\n--{boundary}--\r\n".encode())
    with peak_memory_growth() as growth:
        answer = await client.post(
            "/face/scan/check",
            content=body,
            headers={
                "x-csrftoken": token,
                "accept": "application/json",
                "content-type": f"multipart/form-data; boundary={boundary}",
            },
        )
    assert answer.status_code in (404, 405, 413), answer.status_code
    assert body.pulled <= 3 * MB, f"the server read {body.pulled} bytes before refusing"
    assert growth["mb"] < 30, f"peak memory grew by {growth['mb']:.1f} MB"


def png_claiming(width: int, height: int) -> bytes:
    """A few-hundred-byte PNG whose header claims width×height (CRC fixed; the pixel data is 8×8)."""
    out = io.BytesIO()
    Image.new("L", (8, 8)).save(out, "PNG")
    data = bytearray(out.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def truncated_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 90, 60)).save(out, "JPEG", quality=85)
    whole = out.getvalue()
    return whole[: len(whole) // 2]


@pytest.fixture(scope="module")
def one_worker():
    pool = FacePool(workers=1)
    yield pool
    pool.close()


async def test_hostile_face_frames_are_refused_without_decoding_them(rt, one_worker):
    from tests.support.stream import run_scan

    rt._face_pool = one_worker  # handed in: the app's shutdown leaves it running for the next test
    try:
        await one_worker.start()
        [worker] = one_worker.pids()
        async with app_client(rt) as (app, client):
            _id, _record, _phone, token = await sign_in(rt, client)
            streams = {
                "20000×20000 PNG": png_claiming(20000, 20000),
                "truncated JPEG": truncated_jpeg(),
                "text file": b"these are not the frames you are looking for\n" * 20,
            }
            for what, frame in streams.items():
                with peak_memory_growth(worker) as growth:
                    run = await run_scan(app, client, token, "upgrade", lambda t, screen, frame=frame: frame)
                assert run.result == {
                    "type": "result",
                    "ok": False,
                    "message": "上传的画面无法识别，请重新检测",
                }, what
                # 20000×20000 RGB would take 1.2 GB to decode: refused from the header, nothing allocated.
                assert growth["mb"] < 50, (
                    f"{what}: the face worker's peak memory grew by {growth['mb']:.1f} MB"
                )
        events = await AuditEvent.select().where(AuditEvent.event == "face_check").order_by(AuditEvent.id)
        assert len(events) == 3 and all('"reason": "invalid_frames"' in e["detail"] for e in events)
    finally:
        rt._face_pool = None


# ======================================================================================= unicode


def full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "0" <= ch <= "9" or ch == "X" else ch for ch in text)


async def test_full_width_digits_and_a_zero_width_space_in_the_id_number_are_normalised(
    rt, client, smtp_sink
):
    record = await factories.citizen(rt, "全角号")
    typed_id = full_width(record.id_number[:6]) + "\u200b" + full_width(record.id_number[6:])
    assert typed_id != record.id_number and len(typed_id) == 19
    phone = factories.phone()
    token = await csrf_token(client)
    sent = await post_form(client, "/register/sms", {"phone": full_width(phone)}, token=token)
    assert "验证码已发送至" in sent.text, field_error(sent.text, "phone")
    registered = await post_form(
        client,
        "/register",
        {
            **factories.registration_form(
                record, phone, full_width(smtp_sink.code_for(phone)), "Full-width-9"
            ),
            "id_number": typed_id,
        },
        token=token,
    )
    assert registered.status_code == 303, registered.text[-1500:]
    account = await Account.select().where(Account.id_index == rt.id_index(record.id_number)).first()
    assert account is not None
    assert rt.keyring.decrypt_text(account["id_number"], "account.id_number") == record.id_number
    await post_form(client, "/logout", {}, token=token)
    # The inline check and the login take the same spelling.
    check = await post_form(
        client, "/register/check", {"name": record.name, "id_number": typed_id}, htmx=True, token=token
    )
    assert "账号已注册，请直接登录" in check.text
    login = await post_form(
        client, "/login", {"identifier": typed_id, "password": "Full-width-9"}, token=token
    )
    assert login.status_code == 303 and login.headers["location"] == "/account"


def error_shown(response: httpx.Response, slot: str) -> bool:
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()["ok"] is False and bool(response.json()["message"])
    if slot == "form":
        return 'class="form-error"' in response.text
    if slot == "validity":
        return 'id="validity-message"' in response.text
    return field_error(response.text, slot) != ""


async def overlong(client, path: str, base: dict, field: str, slot: str, token: str, htmx: bool = False):
    answer = await post_form(client, path, {**base, field: LONG}, htmx=htmx, token=token)
    where = f"{path} {field}"
    assert answer.status_code < 500, (where, answer.status_code)
    assert answer.status_code != 303, f"{where}: accepted"
    assert "9" * 65 not in answer.text, f"{where}: the value is echoed unbounded"
    assert error_shown(answer, slot), f"{where}: no error on {slot}"
    return answer


async def test_over_long_values_on_every_signed_out_form_get_a_field_error(rt, client, smtp_sink):
    token = await csrf_token(client)
    _id, active, active_phone = await factories.account(rt, "长字段")
    stranger = await factories.citizen(rt, "新来者")
    registration = factories.registration_form(stranger, factories.phone(), "000000", "Long-fields-9")
    cases = {
        "/login": (
            {"identifier": active_phone, "password": factories.PASSWORD},
            {"identifier": "password", "password": "password"},
        ),
        "/register": (registration, {name: name for name in registration}),
        "/register/sms": ({"phone": factories.phone()}, {"phone": "phone"}),
        "/activate/sms": (
            {"id_number": factories.person().id_number, "phone": factories.phone()},
            {"id_number": "id_number", "phone": "phone"},
        ),
        "/activate": (
            {"id_number": factories.person().id_number, "phone": factories.phone(), "code": "000000"},
            {"id_number": "id_number", "phone": "phone", "code": "code"},
        ),
        "/recover": (
            {"name": active.name, "id_number": active.id_number},
            {"name": "name", "id_number": "id_number"},
        ),
        "/recover/sms": (
            {"name": active.name, "id_number": active.id_number, "phone": factories.phone()},
            {"name": "name", "id_number": "id_number", "phone": "phone"},
        ),
        "/recover/code": (
            {"name": active.name, "id_number": active.id_number, "phone": active_phone, "code": "000000"},
            {"name": "name", "id_number": "id_number", "phone": "phone", "code": "code"},
        ),
    }
    for path, (base, slots) in cases.items():
        for field, slot in slots.items():
            await overlong(client, path, base, field, slot, token)
    # The inline checks answer about what they check (the name alone is not checked inline).
    await overlong(
        client, "/register/check", {"name": stranger.name}, "id_number", "id_number", token, htmx=True
    )
    for field in ("valid_from", "period"):
        await overlong(
            client,
            "/register/validity",
            {"valid_from": "2018-06-01", "period": "20y"},
            field,
            "validity",
            token,
            True,
        )

    # The steps behind a flow: 激活账号 step 2 and 重置密码.
    _id, imported, imported_phone = await factories.account(rt, "孙长长", password=None)
    await post_form(
        client, "/activate/sms", {"id_number": imported.id_number, "phone": imported_phone}, token=token
    )
    code = smtp_sink.code_for(imported_phone)
    await post_form(
        client,
        "/activate",
        {"id_number": imported.id_number, "phone": imported_phone, "code": code},
        token=token,
    )
    step2 = {"username": "sun_changchang", "password": "Long-fields-9", "password2": "Long-fields-9"}
    for field in step2:
        await overlong(client, "/activate/account", step2, field, field, token)
    rt.clock.advance(minutes=2)
    await post_form(
        client,
        "/recover/sms",
        {"name": active.name, "id_number": active.id_number, "phone": active_phone},
        token=token,
    )
    verified = await post_form(
        client,
        "/recover/code",
        {
            "name": active.name,
            "id_number": active.id_number,
            "phone": active_phone,
            "code": smtp_sink.code_for(active_phone),
        },
        token=token,
    )
    assert "您正在重置密码的账户为" in verified.text
    reset = {"password": "Long-fields-9", "password2": "Long-fields-9"}
    for field in reset:
        await overlong(client, "/recover/reset", reset, field, field, token)


async def test_over_long_values_on_every_signed_in_form_get_a_field_error(rt, client):
    _id, _record, _phone, token = await sign_in(rt, client)
    await overlong(client, "/account/phone/password", {}, "password", "password", token)
    await post_form(client, "/account/phone/password", {"password": factories.PASSWORD}, token=token)
    await overlong(client, "/account/phone/sms", {}, "phone", "phone", token)
    change = {"phone": factories.phone(), "code": "000000"}
    for field in change:
        await overlong(client, "/account/phone", change, field, field, token)
    password = {"old_password": factories.PASSWORD, "password": "Long-fields-9", "password2": "Long-fields-9"}
    for field in password:
        await overlong(client, "/account/password", password, field, field, token)
    switch = {"business": "yes", "until": (rt.clock.today() + timedelta(days=30)).isoformat()}
    for field in switch:
        await overlong(client, "/business/switch", switch, field, field, token)
    await overlong(client, "/business/upgrade", {}, "until", "until", token)
    for field in ("purpose", "consent"):  # the face scan's JSON endpoint
        answer = await client.post(
            "/face/scan/start",
            data={"purpose": "upgrade", "consent": "", field: LONG},
            headers={"x-csrftoken": token},
        )
        assert answer.status_code == 400 and answer.json()["ok"] is False and answer.json()["message"], field


async def test_an_over_long_identifier_on_face_login_gets_a_field_error(client):
    token = await csrf_token(client)
    answer = await post_form(client, "/login/face", {"identifier": LONG}, token=token)
    assert answer.status_code < 500
    assert await Flow.count() == 0, "a face-login flow was started for a 10 000-character identifier"
    assert field_error(answer.text, "identifier") != ""


async def test_a_valid_date_padded_to_10000_characters_gets_a_field_error(rt, client):
    token = await csrf_token(client)
    stranger = await factories.citizen(rt, "补长者")
    padded = stranger.valid_from.isoformat() + "9" * 9_990
    answer = await post_form(
        client,
        "/register",
        {
            **factories.registration_form(stranger, factories.phone(), "000000", "Long-fields-9"),
            "valid_from": padded,
        },
        token=token,
    )
    assert answer.status_code == 200
    assert field_error(answer.text, "valid_from") != ""


# =================================================================================== enumeration


def masked(response: httpx.Response, *typed: str) -> bytes:
    """The answer with what the person typed (and its masked form) replaced by placeholders."""
    body = without_csrf_token(response.text).encode()
    for index, value in enumerate(typed):
        for form in (value, f"{value[:3]}****{value[-4:]}"):
            body = body.replace(form.encode(), f"<typed-{index}>".encode())
    return body


def comparable_headers(response: httpx.Response) -> list[tuple[str, str]]:
    """Every header but those that differ on every answer (the date, the length, the request's own id)."""
    varying = {"date", "content-length", "x-request-id"}
    return sorted((k, v) for k, v in response.headers.multi_items() if k not in varying)


async def work_counts() -> dict[str, int]:
    return {
        "sms codes stored": await SmsCode.count(),
        "rate-limit events": await RateEvent.count(),
        "flows": await Flow.count(),
    }


async def answer_alike(client, token: str, path: str, cases: dict[str, dict], masks: tuple[str, ...]):
    """Each case posted plainly and with htmx (the second is refused by the per-phone minute limit, alike
    too); answers compared byte for byte after masking, work compared by the rows it left."""
    answers: dict[str, list] = {}
    work: dict[str, dict[str, int]] = {}
    for label, data in cases.items():
        before = await work_counts()
        replies = [
            await post_form(client, path, data, token=token),
            await post_form(client, path, data, htmx=True, token=token),
        ]
        after = await work_counts()
        work[label] = {key: after[key] - before[key] for key in after}
        answers[label] = [
            (r.status_code, comparable_headers(r), masked(r, *(data[m] for m in masks))) for r in replies
        ]
    first = next(iter(cases))
    for label in cases:
        for index, (reference, other) in enumerate(zip(answers[first], answers[label], strict=True)):
            assert reference[0] == other[0] and reference[1] == other[1], (path, label, index)
            assert reference[2] == other[2], (path, label, index, _diff(reference[2], other[2]))
        assert work[label] == work[first], (path, label, work)
    return answers[first], work[first]


def _diff(a: bytes, b: bytes) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"first difference at {at}: {a[at - 60 : at + 60]!r} vs {b[at - 60 : at + 60]!r}"


async def test_activation_step_1_answers_alike_and_does_the_same_work(rt, client, smtp_sink):
    token = await csrf_token(client)
    _id, imported, imported_phone = await factories.account(rt, "吴导入", password=None)
    _id, active, active_phone = await factories.account(rt, "郑已激活")
    cases = {
        "unactivated account, its phone": {"id_number": imported.id_number, "phone": imported_phone},
        "unactivated account, another phone": {"id_number": imported.id_number, "phone": factories.phone()},
        "active account, its phone": {"id_number": active.id_number, "phone": active_phone},
        "no account": {"id_number": factories.person().id_number, "phone": factories.phone()},
    }
    (first, second), work = await answer_alike(client, token, "/activate/sms", cases, ("id_number", "phone"))
    assert "如信息无误，验证码已发送至" in first[2].decode()
    assert "发送过于频繁，请60秒后再获取验证码" in second[2].decode()
    assert work == {"sms codes stored": 1, "rate-limit events": 2, "flows": 0}
    # Only an account's own phone receives the code: an imported account's, and (FAQ 3 for everyone:
    # the holder of an active account sets a new password) an active one's.
    assert len(smtp_sink.to(imported_phone)) == 1 and len(smtp_sink.to(active_phone)) == 1


async def test_forgot_password_by_sms_answers_alike_and_does_the_same_work(rt, client, smtp_sink):
    token = await csrf_token(client)
    _id, person, phone = await factories.account(rt, "冯忘记")
    name = person.name
    cases = {
        "account, its phone": {"name": name, "id_number": person.id_number, "phone": phone},
        "account, another phone": {"name": name, "id_number": person.id_number, "phone": factories.phone()},
        "ID number with another name": {
            "name": "冯记忘",
            "id_number": person.id_number,
            "phone": factories.phone(),
        },
        "no account": {
            "name": name,
            "id_number": factories.person(name).id_number,
            "phone": factories.phone(),
        },
    }
    (first, _second), work = await answer_alike(
        client, token, "/recover/sms", cases, ("name", "id_number", "phone")
    )
    assert "如信息无误，验证码已发送至" in first[2].decode()
    assert work == {"sms codes stored": 1, "rate-limit events": 2, "flows": 0}
    assert len(smtp_sink.to(phone)) == 1

    # The face way's step 1 as well: the same scan step, a flow started either way.
    face_cases = {
        "account": {"name": name, "id_number": person.id_number},
        "another name": {"name": "冯记忘", "id_number": person.id_number},
        "no account": {"name": name, "id_number": factories.person(name).id_number},
    }
    pages = {}
    for label, data in face_cases.items():
        before = await work_counts()
        reply = await post_form(client, "/recover", data, htmx=True, token=token)
        after = await work_counts()
        assert (
            after["flows"] - before["flows"] == 1 and after["sms codes stored"] == before["sms codes stored"]
        )
        [cookie] = reply.headers.get_list("set-cookie")
        name_, _value, attributes = parse_set_cookie(cookie)
        pages[label] = (reply.status_code, name_, attributes, masked(reply, data["name"], data["id_number"]))
    assert len(set(map(repr, pages.values()))) == 1, pages


# ================================================================================ per-IP limits


def wait_named(message: str) -> bool:
    return re.search(r"\d+\s*秒|\d{1,2}:\d{2}", message) is not None


async def test_login_attempts_are_limited_per_address(rt, clock):
    tight = runtime_with(rt, login_per_ip_minute=3)
    async with app_client(tight) as (_app, browser):
        token = await csrf_token(browser)
        attempt = {"identifier": "13000000001", "password": "Wrong-pass-1"}
        for _ in range(3):
            answer = await post_form(browser, "/login", attempt, token=token)
            assert answer.status_code == 200 and field_error(answer.text, "password") == "账号或密码错误"
        refused = await post_form(browser, "/login", attempt, token=token)
        assert refused.status_code == 429
        assert field_error(refused.text, "password").startswith("操作过于频繁")
        failed = await AuditEvent.count().where(AuditEvent.event == "login_failed")
        assert failed == 3  # the refused attempt checked no password
        clock.advance(seconds=61)
        assert (await post_form(browser, "/login", attempt, token=token)).status_code == 200


async def test_the_login_limit_refusal_names_the_wait(rt):
    tight = runtime_with(rt, login_per_ip_minute=1)
    async with app_client(tight) as (_app, browser):
        token = await csrf_token(browser)
        attempt = {"identifier": "13000000001", "password": "Wrong-pass-1"}
        await post_form(browser, "/login", attempt, token=token)
        refused = await post_form(browser, "/login", attempt, token=token)
        assert refused.status_code == 429
        assert wait_named(field_error(refused.text, "password")), field_error(refused.text, "password")


async def test_sms_sends_are_limited_per_address_and_the_refusal_names_the_wait(rt, clock, smtp_sink):
    tight = runtime_with(rt, sms_per_ip_hour=2)
    async with app_client(tight) as (_app, browser):
        token = await csrf_token(browser)
        phones = [factories.phone() for _ in range(3)]
        answers = [
            await post_form(browser, "/register/sms", {"phone": p}, htmx=True, token=token) for p in phones
        ]
        assert ["验证码已发送至" in a.text for a in answers] == [True, True, False]
        reopens = (clock.now() + timedelta(hours=1)).astimezone(SHANGHAI).strftime("%H:%M")
        assert field_error(answers[2].text, "code") == f"短信发送次数已达上限，请于{reopens}后再试"
        assert smtp_sink.to(phones[2]) == [] and await SmsCode.count() == 2


async def test_the_already_registered_lookup_is_limited_per_address(rt):
    tight = runtime_with(rt, lookup_per_ip_hour=2)
    _id, record, _phone = await factories.account(tight, "王查询")
    async with app_client(tight) as (_app, browser):
        token = await csrf_token(browser)
        check = {"name": record.name, "id_number": record.id_number}
        answers = [
            await post_form(browser, "/register/check", check, htmx=True, token=token) for _ in range(3)
        ]
        assert ["账号已注册，请直接登录" in a.text for a in answers] == [True, True, False]
        assert all(a.status_code < 500 for a in answers)


async def test_the_lookup_limit_refusal_names_the_wait(rt):
    tight = runtime_with(rt, lookup_per_ip_hour=1)
    _id, record, _phone = await factories.account(tight, "王等待")
    async with app_client(tight) as (_app, browser):
        token = await csrf_token(browser)
        check = {"name": record.name, "id_number": record.id_number}
        await post_form(browser, "/register/check", check, htmx=True, token=token)
        refused = await post_form(browser, "/register/check", check, htmx=True, token=token)
        assert wait_named(refused.text), refused.text


async def test_face_checks_are_limited_per_address_and_the_refusal_names_the_wait(rt, clock):
    tight = runtime_with(rt, face_per_ip_hour=2)
    _id, _record, phone = await factories.account(tight, "陈人脸")
    try:
        async with app_client(tight) as (_app, browser):
            token = await csrf_token(browser)
            await post_form(browser, "/login/face", {"identifier": phone}, token=token)
            for _ in range(2):  # a started scan is an attempt, streamed or not
                start = await browser.post(
                    "/face/scan/start",
                    data={"purpose": "login", "consent": "yes"},
                    headers={"x-csrftoken": token},
                )
                assert start.json()["ok"], start.text
            refused = await browser.post(
                "/face/scan/start",
                data={"purpose": "login", "consent": "yes"},
                headers={"x-csrftoken": token},
            )
            reopens = (clock.now() + timedelta(hours=1)).astimezone(SHANGHAI).strftime("%H:%M")
            assert refused.status_code == 429 and refused.json()["ok"] is False
            assert reopens in refused.json()["message"] and wait_named(refused.json()["message"])
    finally:
        tight.close()


async def limited_logins(rt, peer: str, forwarded_for: list[str]) -> list[int]:
    async with app_client(rt, peer=peer) as (_app, browser):
        token = await csrf_token(browser)
        statuses = []
        for hop in forwarded_for:
            answer = await browser.post(
                "/login",
                data={"identifier": "13000000001", "password": "Wrong-pass-1", "_csrf_token": token},
                headers={"x-forwarded-for": hop},
            )
            statuses.append(answer.status_code)
        return statuses


ADDRESSES_SEEN = [PEER, "198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.200", "198.51.100.7",
                  "198.51.100.31", "198.51.100.32", "198.51.100.33", "6.6.6.6", "7.7.7.7", "192.0.2.10",
                  "192.0.2.11"]  # fmt: skip


async def limit_keys(rt) -> list[str]:
    """The per-address login limit keys charged, in order (the wrong passwords' own counts left out)."""
    per_address = {rt.limit_key("login-ip", address) for address in ADDRESSES_SEEN}
    rows = await RateEvent.select(RateEvent.key).order_by(RateEvent.id)
    return [row["key"] for row in rows if row["key"] in per_address]


async def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(rt):
    def key(address: str) -> str:
        return rt.limit_key("login-ip", address)

    # No trusted proxies: the header is the client's word, and the limit follows the peer.
    plain = runtime_with(rt, login_per_ip_minute=2)
    spoofed = ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    assert await limited_logins(plain, PEER, spoofed) == [200, 200, 429]
    assert await limit_keys(rt) == [key(PEER), key(PEER)]
    assert {row["ip"] for row in await AuditEvent.select(AuditEvent.ip)} == {PEER}

    # Trusted proxies configured, but the peer is not one of them: still the peer.
    elsewhere = runtime_with(rt, login_per_ip_minute=2, trusted_proxies="10.9.9.9, 192.0.2.0/24")
    assert await limited_logins(elsewhere, "198.51.100.200", ["198.51.100.7"] * 3) == [200, 200, 429]
    assert (await limit_keys(rt))[2:] == [key("198.51.100.200")] * 2

    # The peer is a trusted proxy: the limit follows the forwarded address (the hop before the proxies;
    # what the client wrote further left is not believed).
    proxied = runtime_with(rt, login_per_ip_minute=2, trusted_proxies="10.9.9.9, 192.0.2.0/24")
    statuses = await limited_logins(
        proxied,
        "192.0.2.10",
        [
            "198.51.100.31",
            "198.51.100.32",
            "198.51.100.33",
            "6.6.6.6, 198.51.100.31",
            "7.7.7.7, 198.51.100.31, 192.0.2.11",
        ],
    )
    assert statuses == [200, 200, 200, 200, 429]
    assert (await limit_keys(rt))[4:] == [
        key("198.51.100.31"),
        key("198.51.100.32"),
        key("198.51.100.33"),
        key("198.51.100.31"),
    ]
    audited = [row["ip"] for row in await AuditEvent.select(AuditEvent.ip).order_by(AuditEvent.id)]
    assert audited[-4:] == ["198.51.100.31", "198.51.100.32", "198.51.100.33", "198.51.100.31"]


# ========================================================================================= audit

USER_AGENT = "Mozilla/5.0 (audit-story) Shiming-test/1.0"


async def audit_story(rt, client, smtp_sink) -> dict:
    """注册 → 登录 → 5 wrong passwords (locked) → 忘记密码 SMS → 修改密码 → 修改手机号 → 退出登录."""
    client.headers["user-agent"] = USER_AGENT
    record = await factories.citizen(rt, "褚审计")
    phone, new_phone = factories.phone(), factories.phone()
    token = await csrf_token(client)
    await post_form(client, "/register/sms", {"phone": phone}, token=token)
    registered = await post_form(
        client,
        "/register",
        factories.registration_form(record, phone, smtp_sink.code_for(phone), "Audit-story-1"),
        token=token,
    )
    assert registered.status_code == 303, registered.text[-1000:]
    ok = await post_form(client, "/login", {"identifier": phone, "password": "Audit-story-1"}, token=token)
    assert ok.status_code == 303
    for attempt in range(5):
        await post_form(
            client, "/login", {"identifier": phone, "password": f"Wrong-{attempt}-pass"}, token=token
        )
    rt.clock.advance(minutes=2)
    recover = {"name": record.name, "id_number": record.id_number, "phone": phone}
    assert "验证码已发送至" in (await post_form(client, "/recover/sms", recover, token=token)).text
    rt.clock.advance(minutes=16)  # the lock is over; the session (idle 30 min) is still alive
    changed = await post_form(
        client,
        "/account/password",
        {"old_password": "Audit-story-1", "password": "Audit-story-2", "password2": "Audit-story-2"},
        token=token,
    )
    assert changed.status_code == 303, changed.text[-1000:]
    await post_form(client, "/account/phone/password", {"password": "Audit-story-2"}, token=token)
    sent = await post_form(client, "/account/phone/sms", {"phone": new_phone}, token=token)
    assert "验证码已发送至" in sent.text
    moved = await post_form(
        client, "/account/phone", {"phone": new_phone, "code": smtp_sink.code_for(new_phone)}, token=token
    )
    assert moved.status_code == 303, moved.text[-1000:]
    out = await post_form(client, "/logout", {}, token=token)
    assert out.status_code == 303
    account = (
        await Account.select(Account.id).where(Account.id_index == rt.id_index(record.id_number)).first()
    )
    return {"account_id": account["id"], "record": record, "phones": (phone, new_phone)}


EXPECTED_STORY = [
    ("sms_sent", "register"),
    ("account_created", None),
    ("consent_given", "user_agreement"),  # 注册即视为同意
    ("consent_given", "privacy_policy"),
    ("login_ok", None),
    ("login_failed", None),
    ("login_failed", None),
    ("login_failed", None),
    ("login_failed", None),
    ("account_locked", None),
    ("sms_sent", "reset_password"),
    ("password_confirmed", "change_password"),
    ("password_changed", None),
    ("security_notice", "password_changed"),  # to the phone on record
    ("password_confirmed", "change_phone"),
    ("sms_sent", "change_phone"),
    ("phone_changed", None),
    ("security_notice", "phone_changed"),  # to the old number
    ("logout", None),
]


async def test_the_audit_trail_of_a_story_is_exact_and_holds_no_personal_data(rt, client, smtp_sink):
    story = await audit_story(rt, client, smtp_sink)
    rows = await AuditEvent.select().order_by(AuditEvent.id)
    assert [(row["event"], _purpose(row)) for row in rows] == EXPECTED_STORY
    for row in rows:
        assert row["ip"] == PEER and row["user_agent"] == USER_AGENT, row
        if row["event"] != "sms_sent":  # an SMS is about a phone number, not (yet) an account
            assert row["account_id"] == story["account_id"], row
    record, phones = story["record"], story["phones"]
    secrets_ = [record.id_number, record.name, *phones, "Audit-story-1", "Audit-story-2"]
    for row in rows:
        text = repr(row)
        for secret in secrets_:
            assert secret not in text, (secret, row)
        assert record.id_number[-8:] not in row["detail"] and phones[0][-8:] not in row["detail"]


def _purpose(row: dict) -> str | None:
    if row["event"] == "security_notice":
        return json.loads(row["detail"])["kind"]
    if row["event"] == "consent_given":
        return json.loads(row["detail"])["document"]
    match = re.search(r'"purpose": "(\w+)"', row["detail"])
    return match.group(1) if match and row["event"] in {"sms_sent", "password_confirmed"} else None


async def test_logout_is_audited(rt, client, smtp_sink):
    await audit_story(rt, client, smtp_sink)
    last = await AuditEvent.select().order_by(AuditEvent.id, ascending=False).first()
    assert last["event"] == "logout"


async def test_the_audit_table_refuses_changes(rt, client, smtp_sink):
    """Append-only: the story's rows cannot be rewritten or removed (SECURITY.md)."""
    await audit_story(rt, client, smtp_sink)
    count = await AuditEvent.count()
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error type differs per engine
        await AuditEvent.update({AuditEvent.ip: "0.0.0.0"}).where(AuditEvent.id > 0)
    with pytest.raises(Exception):  # noqa: B017
        await AuditEvent.delete().where(AuditEvent.id > 0)
    assert await AuditEvent.count() == count
    assert {row["ip"] for row in await AuditEvent.select(AuditEvent.ip)} == {PEER}


OTHER_DIGITS = {
    "arabic-indic": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
    "devanagari": str.maketrans("0123456789", "०१२३४५६७८९"),
}


@pytest.mark.parametrize("digits", OTHER_DIGITS.values(), ids=OTHER_DIGITS.keys())
async def test_a_phone_number_in_other_digits_is_refused_where_it_is_typed(rt, client, smtp_sink, digits):
    """``\\d`` took these: a second account was registered on someone's number spelled this way, each
    spelling with its own SMS limits. Now the field says the number is wrong and nothing is sent."""
    record = await factories.citizen(rt, "另数字")
    _id, _owner, phone = await factories.account(rt)
    spelled = phone[:3] + phone[3:].translate(digits)  # the old 1[3-9]\d{9}: ASCII first, then any digit
    token = await csrf_token(client)
    sent = await post_form(client, "/register/sms", {"phone": spelled}, token=token)
    assert field_error(sent.text, "phone") == "请输入正确的11位手机号"
    form = factories.registration_form(record, spelled, "123456", "Other-digits-9")
    registered = await post_form(client, "/register", form, token=token)
    assert field_error(registered.text, "phone") == "请输入正确的11位手机号"
    signed_in = await post_form(client, "/login", {"identifier": spelled, "password": factories.PASSWORD})
    assert signed_in.status_code != 303
    assert smtp_sink.to(phone) == smtp_sink.to(spelled) == [] and await Account.count() == 1


@pytest.mark.parametrize("number", ["14000000001", "15400000001", "16000000001"])
async def test_numbers_outside_the_mainland_mobile_ranges_are_refused(client, smtp_sink, number):
    sent = await post_form(client, "/register/sms", {"phone": number}, token=await csrf_token(client))
    assert field_error(sent.text, "phone") == "请输入正确的11位手机号"
    assert smtp_sink.to(number) == []


# --- who a wrong password locks out ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def client_from(app, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser, at another address."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="https://testserver"
    ) as other:
        yield other


async def test_a_strangers_guesses_lock_the_stranger_out_not_the_owners_known_device(rt, app, client):
    _id, _record, phone = await factories.account(rt)
    signed_in = await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD})
    assert signed_in.status_code == 303 and client.cookies.get("__Host-known_device")
    await post_form(client, "/logout", {})
    # 50 wrong passwords from 5 addresses, one of them the owner's own (a shared NAT): only the known
    # device sets the owner apart there.
    for address in ["203.0.113.9", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5"]:
        async with client_from(app, address) as stranger:
            token = await csrf_token(stranger)
            for guess in range(10):
                answer = await post_form(
                    stranger, "/login", {"identifier": phone, "password": f"Guess-{guess}-x"}, token=token
                )
                expected = "账号或密码错误" if guess < 4 else "密码错误次数过多，账号已锁定，请于"
                assert field_error(answer.text, "password").startswith(expected), (address, guess)
    async with client_from(app, "198.51.100.2") as stranger:  # the sixth guess from one address
        right = await post_form(stranger, "/login", {"identifier": phone, "password": factories.PASSWORD})
        assert "账号已锁定" in field_error(right.text, "password")
    owner = await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD})
    assert (
        owner.status_code == 303 and (await client.get("/account", follow_redirects=False)).status_code == 200
    )


async def test_the_owners_address_without_a_known_device_is_not_locked_by_strangers(rt, app, client):
    _id, _record, phone = await factories.account(rt)
    async with client_from(app, "198.51.100.7") as stranger:
        for guess in range(6):
            await post_form(stranger, "/login", {"identifier": phone, "password": f"Guess-{guess}-x"})
    owner = await post_form(client, "/login", {"identifier": phone, "password": factories.PASSWORD})
    assert owner.status_code == 303


async def test_an_account_takes_at_most_the_days_ceiling_of_wrong_passwords(rt, app, client):
    ceiling = runtime_with(rt, login_max_failures_per_day=12)
    from webapp.app import create_app

    tight = create_app(runtime=ceiling)
    for hook in tight.on_startup:
        await hook()
    try:
        _id, _record, phone = await factories.account(rt)
        for k in range(3):  # 4 wrong from each of 3 addresses: the day's ceiling of 12, no address locked
            async with client_from(tight, f"198.51.100.{20 + k}") as stranger:
                for guess in range(4):
                    await post_form(stranger, "/login", {"identifier": phone, "password": f"Guess-{guess}-x"})
        async with client_from(tight, "198.51.100.30") as anyone:
            right = await post_form(anyone, "/login", {"identifier": phone, "password": factories.PASSWORD})
        tomorrow = rt.clock.today() + timedelta(days=1)  # the day's ceiling holds until midnight in Beijing
        assert f"账号已锁定，请于{tomorrow.isoformat()} 00:00后再试" in field_error(right.text, "password")
    finally:
        for hook in tight.on_shutdown:
            await hook()


async def test_every_failed_login_answers_alike_for_nobody_an_account_and_an_imported_one(rt, app):
    from webapp.accounts.service import NewAccount, create_account

    _id, _record, phone = await factories.account(rt)
    imported = await factories.citizen(rt, "待激活")
    await create_account(
        rt,
        NewAccount(
            imported.name, imported.id_number, imported.valid_from, imported.valid_to, factories.phone()
        ),
        factories.ORIGIN,
    )
    nobody = (await factories.citizen(rt, "无账号")).id_number
    answers = {}
    for k, identifier in enumerate([phone, imported.id_number, nobody]):
        async with client_from(app, f"198.51.100.{40 + k}") as guesser:
            token = await csrf_token(guesser)
            seen = []
            for guess in range(6):
                answer = await post_form(
                    guesser, "/login", {"identifier": identifier, "password": f"Guess-{guess}-x"}, token=token
                )
                text = re.sub(r'value="[^"]*"|"x-csrftoken": "[^"]*"', "", answer.text)  # tokens, identifier
                seen.append((answer.status_code, field_error(answer.text, "password"), text))
            answers[identifier] = seen
    mine, imported_account, nobodys = answers.values()
    assert mine == imported_account == nobodys
    assert [error for _status, error, _text in mine][:4] == ["账号或密码错误"] * 4
    assert "账号已锁定" in mine[5][1] and 'action="/activate/from-login"' in mine[0][2]


async def test_a_stranger_with_someones_phone_spends_neither_its_sms_quota_nor_its_codes_tries(
    rt, app, client, smtp_sink, clock
):
    """The attack: /recover/sms with any name and ID plus the victim's phone spent the victim's quota (the
    code stored, not delivered), and wrong entries against it used up the victim's daily cap of 10."""
    _id, owner, phone = await factories.account(rt, "受害人")
    someone = await factories.citizen(rt, "冒名者")
    claim = {"name": someone.name, "id_number": someone.id_number, "phone": phone}
    async with client_from(app, "198.51.100.60") as stranger:
        token = await csrf_token(stranger, "/recover?method=sms")
        for _send in range(5):  # the phone's daily quota, had it been spent
            sent = await post_form(stranger, "/recover/sms", claim, htmx=True, token=token)
            assert "如信息无误，验证码已发送至" in sent.text
            for guess in range(3):
                wrong = await post_form(
                    stranger, "/recover/code", {**claim, "code": f"00000{guess}"}, htmx=True, token=token
                )
                assert field_error(wrong.text, "code") in {
                    "验证码不正确",
                    "今日验证码错误次数过多，请明天再试",
                }
            clock.advance(minutes=21)  # within the per-hour limit of the claim's own quota
    assert smtp_sink.to(phone) == []
    mine = {"name": owner.name, "id_number": owner.id_number, "phone": phone}
    token = await csrf_token(client, "/recover?method=sms")
    sent = await post_form(client, "/recover/sms", mine, htmx=True, token=token)
    assert "如信息无误，验证码已发送至" in sent.text and len(smtp_sink.to(phone)) == 1
    step2 = await post_form(client, "/recover/code", {**mine, "code": smtp_sink.code_for(phone)}, token=token)
    assert "您正在重置密码的账户为" in step2.text
