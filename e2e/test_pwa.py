"""The installable PWA: Chromium's installability check, the offline page, and what the service worker stores
(the shell only: never a POST, an htmx partial or an authenticated page)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from e2e.conftest import CHROMIUM_FLAGS, SIZES, chromium, screenshot
from e2e.pages import AccountPage, ChangePasswordPage, LoginPage, OfflinePage, RegisterPage
from e2e.test_accessibility import AXE, AXE_RULES
from e2e.test_accounts import PASSWORD, register

SHELL_PATHS = {"/offline", "/manifest.webmanifest"}


def controlled(page, path: str = "/login"):
    """Open a page, wait until the service worker is active, then reload so the worker controls the page."""
    page.goto(path)
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    return page


def installability_errors(page, base_url: str) -> list[dict]:
    """Chromium's own verdict, after it has fetched and parsed the manifest without complaint."""
    session = page.context.new_cdp_session(page)
    try:
        manifest = session.send("Page.getAppManifest")
        assert manifest["url"] == base_url + "/manifest.webmanifest", manifest
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


def shell_of(page, base_url: str) -> set[str]:
    """The precache list of the worker the server hands out (fingerprinted static URLs)."""
    source = page.request.get("/sw.js").text()
    listing = re.search(r"const SHELL = \[(.*?)\];", source, re.S).group(1)
    return {base_url + url for url in re.findall(r'"([^"]+)"', listing)}


def test_chromium_reports_no_installability_errors(playwright, server, size, tmp_path):
    # Chromium never offers to install from an incognito profile, and Playwright's new_context() is one:
    # the check runs in a persistent profile.
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=chromium(),
        args=CHROMIUM_FLAGS,
        headless=True,
        base_url=server.url,
        viewport=SIZES[size],
        is_mobile=size == "phone",
        has_touch=size == "phone",
        locale="zh-CN",
    )
    context.set_default_timeout(10_000)
    page = context.pages[0] if context.pages else context.new_page()
    try:
        check_installable(page, server.url)
    finally:
        context.close()


def check_installable(page, base_url: str) -> None:
    controlled(page)
    errors = installability_errors(page, base_url)
    assert errors == [], f"installability errors: {errors}"
    manifest = page.request.get("/manifest.webmanifest").json()
    assert manifest["id"] and manifest["start_url"].startswith(manifest["scope"])
    sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert page.request.get(icon["src"]).status == 200


def test_offline_navigation_shows_the_offline_page(page):
    controlled(page)
    page.context.set_offline(True)
    offline = OfflinePage(page)
    try:
        for path in (LoginPage.path, AccountPage.path, RegisterPage.path):
            page.goto(path)  # not open(): each of them is the offline page now
            expect(offline.heading()).to_be_visible()
            # the shell's stylesheet came from the cache: the page is styled, not bare HTML
            background = offline.app_bar.evaluate("bar => getComputedStyle(bar).backgroundColor")
            assert background != "rgba(0, 0, 0, 0)"
        screenshot(page, "18-offline")
        # axe-core comes inside axe-playwright-python: it audits the page the worker served, offline
        violations = AXE.run(page, options=AXE_RULES).response["violations"]
        assert violations == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]
    finally:
        page.context.set_offline(False)
    login = LoginPage(page).open()
    expect(login.submit).to_be_visible()


def test_only_the_shell_is_cached_after_login_and_forms(page, server, citizen, smtp_sink):
    controlled(page)
    shell = shell_of(page, server.url)
    login = LoginPage(page)
    login.log_in(citizen.phone, "Not-registered-1")  # an htmx POST answered by a partial
    expect(login.error_for("password")).to_be_visible()
    register(page, citizen, smtp_sink)  # POSTs, htmx partials, then the authenticated account page
    account = AccountPage(page)
    account.go("修改密码")
    change_password = ChangePasswordPage(page)
    change_password.fill("Wrong-old-26", PASSWORD + "x")
    change_password.submit()
    expect(change_password.error_for("old_password")).to_be_visible()
    account.open()  # an authenticated full page, under the worker's control
    assert page.evaluate("navigator.serviceWorker.controller !== null")

    caches = cached_urls(page)
    assert len(caches) == 1, caches
    [urls] = caches.values()
    assert set(urls) == shell, f"cached beyond the shell: {sorted(set(urls) - shell)}"
    for url in urls:
        path = url.removeprefix(server.url).split("?")[0]
        assert path in SHELL_PATHS or path.startswith("/static/"), url
