"""The web foundation: pages, headers, health, dev-only routes, CSRF."""

from __future__ import annotations

import hashlib
import os
import re

import pytest

from webapp.app import create_app
from webapp.compression import chosen_encoding
from webapp.settings import Settings
from webapp.staticfiles import STATIC_DIR, StaticAssets
from webapp.web import CSP

pytestmark = pytest.mark.usefixtures("database")


async def test_login_page_renders_the_title(client):
    response = await client.get("/login")
    assert response.status_code == 200
    assert "<title>工商注册身份验证</title>" in response.text
    for words in ("手机号/身份证号", "请输入密码", "登录", "新用户注册", "忘记密码"):
        assert words in response.text


async def test_security_headers_on_pages_and_errors(client):
    for path in ("/login", "/no-such-page"):
        response = await client.get(path)
        assert response.headers["content-security-policy"] == CSP
        assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert response.headers["permissions-policy"].startswith("camera=(self)")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["strict-transport-security"].startswith("max-age=")
    assert (await client.get("/no-such-page")).status_code == 404


async def test_healthz_checks_the_database(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_healthz_fails_when_the_database_is_unreachable(rt):
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from webapp.runtime import build_runtime

    broken = replace(rt.settings, database_url="postgresql://nobody@127.0.0.1:1/none")
    async with AsyncTestClient(app=create_app(runtime=build_runtime(broken, rt.clock))) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


async def test_dev_outbox_exists_only_in_dev(client, rt):
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from webapp.runtime import build_runtime

    assert (await client.get("/dev/outbox")).status_code == 404
    dev = replace(rt.settings, env="dev", sms_channel="console")
    async with AsyncTestClient(app=create_app(runtime=build_runtime(dev, rt.clock))) as dev_client:
        response = await dev_client.get("/dev/outbox")
    assert response.status_code == 200
    assert "开发用短信发件箱" in response.text


async def test_post_without_csrf_token_is_refused(client):
    response = await client.post("/login", data={"identifier": "13800138001", "password": "x"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "path", ["/login", "/register", "/recover", "/recover?method=sms", "/activate", "/faq"]
)
async def test_every_signed_out_page_links_to_the_faq_and_the_agreement(client, path):
    page = await client.get(path)
    assert page.status_code == 200
    assert '<a href="/faq">常见问题</a>' in page.text
    assert '<a href="/agreement" data-dialog="agreement-dialog">用户协议</a>' in page.text


async def test_a_refusal_answered_to_htmx_goes_above_the_form(client):
    """htmx swaps only a part of the page: a 403 (or any error page) comes as the alert above the form,
    retargeted there, so what was typed stays and the person reads why."""
    response = await client.post(
        "/login", data={"identifier": "13800138001", "password": "x"}, headers={"hx-request": "true"}
    )
    assert response.status_code == 403
    assert response.headers["hx-retarget"] == "#page-alert" and response.headers["hx-reswap"] == "outerHTML"
    assert 'id="page-alert" role="alert"' in response.text and "请求已失效，请刷新页面后重试" in response.text
    assert "<html" not in response.text


async def test_htmx_post_with_csrf_header_is_accepted(client):
    page = await client.get("/login")
    token = page.text.split('"x-csrftoken": "')[1].split('"')[0]
    response = await client.post(
        "/login",
        data={"identifier": "13800138001", "password": "wrong-pass-1"},
        headers={"x-csrftoken": token, "hx-request": "true"},
    )
    assert response.status_code == 200
    assert "账号或密码错误" in response.text
    assert "<html" not in response.text  # the partial only


async def test_service_worker_and_manifest(client):
    sw = await client.get("/sw.js")
    assert sw.headers["content-type"].startswith("text/javascript")
    assert "__SHELL_VERSION__" not in sw.text
    manifest = await client.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    assert manifest.json()["name"] == "工商注册身份验证"
    assert (await client.get("/offline")).status_code == 200
    assert (await client.get("/static/vendor/htmx/htmx.min.js")).status_code == 200


def test_production_refuses_to_start_without_a_secret_key():
    from webapp.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="WEBAPP_SECRET_KEY"):
        load_settings({"WEBAPP_ENV": "production"})
    with pytest.raises(SettingsError, match="console"):
        load_settings({"WEBAPP_SECRET_KEY": "k" * 40, "WEBAPP_SMS_CHANNEL": "console"})
    assert load_settings({"WEBAPP_SECRET_KEY": "k" * 40, "WEBAPP_PORT": "9000"}).port == 9000
    assert Settings().env == "production"


async def test_static_assets_are_fingerprinted_immutable_and_compressed(client):
    page = await client.get("/login")
    url = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', page.text)[1]
    css = (STATIC_DIR / "css" / "app.css").read_bytes()
    assert url.endswith(hashlib.sha256(css).hexdigest()[:12])
    current = await client.get(url, headers={"accept-encoding": "gzip, deflate, br"})
    assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert current.headers["content-encoding"] == "br" and current.headers["vary"] == "accept-encoding"
    assert current.content == css  # httpx decodes br (brotli is installed)
    gzipped = await client.get(url, headers={"accept-encoding": "br;q=0, gzip"})
    assert gzipped.headers["content-encoding"] == "gzip" and gzipped.content == css  # httpx decodes gzip
    plain = await client.get(url, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == css
    stale = await client.get("/static/css/app.css?v=0123456789ab")
    assert stale.headers["cache-control"] == "no-cache"
    assert (await client.get("/static/../pyproject.toml")).status_code == 404
    assert (await client.get("/static/%2e%2e/README.md")).status_code == 404
    sw = await client.get("/sw.js")
    assert f'"{url}"' in sw.text and '"/static/css/app.css"' not in sw.text


def test_production_assets_are_read_once_and_dev_assets_follow_edits(tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "app.css").write_text("body { color: red; }" * 100)
    (root / ".hidden").write_text("secret")
    (tmp_path / "outside.txt").write_text("secret")
    held, watched = StaticAssets(root, watch=False), StaticAssets(root, watch=True)
    before = held.url("app.css")
    assert watched.url("app.css") == before
    assert held.get(".hidden") is None and watched.get(".hidden") is None
    assert held.get("../outside.txt") is None and watched.get("../outside.txt") is None
    (root / "app.css").write_text("body { color: blue; }" * 100)
    os.utime(root / "app.css", ns=(1, 1))  # a new modification time, whatever the clock's resolution
    assert held.url("app.css") == before and b"red" in held.get("app.css").body  # no disk read
    assert watched.url("app.css") != before and b"blue" in watched.get("app.css").body


def test_a_missing_static_file_is_named_not_taken_for_a_database_error(tmp_path, monkeypatch, capsys):
    """An install without its static files (the package data left out) stops at start with the path."""
    from webapp import cli

    assets = StaticAssets(tmp_path, watch=False)
    with pytest.raises(FileNotFoundError) as raised:
        assets.url("css/app.css")
    assert raised.value.filename == str(tmp_path.resolve() / "css" / "app.css")
    monkeypatch.setattr(cli, "serve", lambda args: assets.url("css/app.css"))
    assert cli.main(["serve"]) == 2
    said = capsys.readouterr().err
    assert f"a static file the pages use is missing: {tmp_path.resolve() / 'css' / 'app.css'}" in said
    assert "database" not in said


async def test_pages_are_compressed_as_the_client_accepts(client):
    plain = await client.get("/register", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    brotli_page = await client.get("/register", headers={"accept-encoding": "gzip, br"})
    assert brotli_page.headers["content-encoding"] == "br"
    assert brotli_page.headers["content-length"] == str(brotli_page.num_bytes_downloaded)
    assert brotli_page.num_bytes_downloaded < len(plain.content) / 2
    assert brotli_page.text.count("<form") == plain.text.count("<form") > 0
    gzipped = await client.get("/register", headers={"accept-encoding": "br;q=0,gzip;q=0.5"})
    assert gzipped.headers["content-encoding"] == "gzip" and "注册" in gzipped.text
    small = await client.get("/healthz", headers={"accept-encoding": "br"})  # below the minimum size
    assert "content-encoding" not in small.headers and small.json()["status"] == "ok"
    refused = await client.get("/register", headers={"accept-encoding": "br;q=0, gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_an_encoding_is_chosen_by_preference_among_the_accepted():
    offered = {"br": b"", "gzip": b""}
    assert chosen_encoding("gzip, deflate, br", offered) == "br"
    assert chosen_encoding("br;q=0, gzip", offered) == "gzip"
    assert chosen_encoding("*", offered) == "br"
    assert chosen_encoding("*;q=0, gzip", offered) == "gzip"
    assert chosen_encoding("identity", offered) is None
    assert chosen_encoding("br;q=zero", offered) is None
    assert chosen_encoding("", offered) is None and chosen_encoding(None, offered) is None
    assert chosen_encoding("br", {"gzip": b""}) is None
