"""The installable PWA: Chromium's installability check, the offline page, and what the service worker stores
(the shell only: never a POST, an htmx partial or an authenticated page)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from e2e.conftest import CHROMIUM_FLAGS, SIZES, chromium, screenshot
from e2e.pages import AccountPage, LoginPage
from e2e.test_accessibility import AXE, AXE_RULES
from e2e.test_accounts import PASSWORD, register

SHELL_PATHS = {"/offline", "/manifest.webmanifest"}


def controlled(page, path: str = "/login"):
    """Open a page, wait until the service worker is active, then reload so the worker controls the page."""
    page.goto(page.base + path)
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    return page


def installability_errors(page) -> list[dict]:
    """Chromium's own verdict, after it has fetched and parsed the manifest without complaint."""
    session = page.context.new_cdp_session(page)
    try:
        manifest = session.send("Page.getAppManifest")
        assert manifest["url"] == page.base + "/manifest.webmanifest", manifest
        assert manifest["errors"] == [], f"manifest errors: {manifest['errors']}"
        return session.send("Page.getInstallabilityErrors")["installabilityErrors"]
    finally:
        session.detach()


def cached_urls(page) -> dict[str, list[str]]:
    """Every URL in every Cache Storage cache of the origin, by cache name."""
    return page.evaluate(
        """async () => {
            const out = {};
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                out[name] = (await cache.keys()).map((request) => request.url);
            }
            return out;
        }"""
    )


def shell_of(page) -> set[str]:
    """The precache list of the worker the server hands out (fingerprinted static URLs)."""
    source = page.request.get(page.base + "/sw.js").text()
    listing = re.search(r"const SHELL = \[(.*?)\];", source, re.S).group(1)
    return {page.base + url for url in re.findall(r'"([^"]+)"', listing)}


def test_chromium_reports_no_installability_errors(playwright, server, size, tmp_path):
    # Chromium never offers to install from an incognito profile, and Playwright's new_context() is one:
    # the check runs in a persistent profile.
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=chromium(),
        args=CHROMIUM_FLAGS,
        headless=True,
        viewport=SIZES[size],
        is_mobile=size == "phone",
        has_touch=size == "phone",
        locale="zh-CN",
    )
    context.set_default_timeout(10_000)
    page = context.pages[0] if context.pages else context.new_page()
    page.base, page.size = server.url, size
    try:
        check_installable(page)
    finally:
        context.close()


def check_installable(page) -> None:
    controlled(page)
    errors = installability_errors(page)
    assert errors == [], f"installability errors: {errors}"
    manifest = page.request.get(page.base + "/manifest.webmanifest").json()
    assert manifest["id"] and manifest["start_url"].startswith(manifest["scope"])
    sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert page.request.get(page.base + icon["src"]).status == 200


def test_offline_navigation_shows_the_offline_page(page):
    controlled(page)
    page.context.set_offline(True)
    try:
        for path in ("/login", "/account", "/register"):
            page.goto(page.base + path)
            expect(page.get_by_role("heading", name="网络未连接")).to_be_visible()
            # the shell's stylesheet came from the cache: the page is styled, not bare HTML
            assert page.evaluate("getComputedStyle(document.querySelector('.app-bar')).backgroundColor") != (
                "rgba(0, 0, 0, 0)"
            )
        screenshot(page, "18-offline")
        # axe-core comes inside axe-playwright-python: it audits the page the worker served, offline
        violations = AXE.run(page, options=AXE_RULES).response["violations"]
        assert violations == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]
    finally:
        page.context.set_offline(False)
    page.goto(page.base + "/login")
    expect(LoginPage(page).submit).to_be_visible()


def test_only_the_shell_is_cached_after_login_and_forms(page, citizen, smtp_sink):
    controlled(page)
    shell = shell_of(page)
    login = LoginPage(page)
    login.log_in(citizen.phone, "Not-registered-1")  # an htmx POST answered by a partial
    expect(login.error_for("password")).to_be_visible()
    register(page, citizen, smtp_sink)  # POSTs, htmx partials, then the authenticated account page
    account = AccountPage(page)
    account.go("修改密码")
    account.field("旧密码").fill("Wrong-old-26")
    account.field("新密码").fill(PASSWORD + "x")
    account.field("确认新密码").fill(PASSWORD + "x")
    account.press("确定")
    expect(page.locator("#error-old_password")).to_be_visible()
    page.goto(page.base + "/account")  # an authenticated full page, under the worker's control
    assert page.evaluate("navigator.serviceWorker.controller !== null")

    caches = cached_urls(page)
    assert len(caches) == 1, caches
    [urls] = caches.values()
    assert set(urls) == shell, f"cached beyond the shell: {sorted(set(urls) - shell)}"
    for url in urls:
        path = url.removeprefix(page.base).split("?")[0]
        assert path in SHELL_PATHS or path.startswith("/static/"), url
