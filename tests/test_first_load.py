"""A first visit to /login stays within 60 KB on the wire (gzip), htmx included, and touches only our origin.

Counted: the page; every stylesheet, script, icon and manifest it references; what the manifest references
that a browser fetches on a first visit (its icons: Chromium's installability check fetches the one it uses);
and what the service worker its registration script installs adds: /sw.js and the shell entries that are not
fingerprinted (the fingerprinted ones come from the HTTP cache the page just filled; see webapp/static/sw.js).
Not counted: the manifest's screenshots, which Chromium fetches only when it shows its install dialog.
Bodies as transferred (compressed where the server compresses); headers are printed apart."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

pytestmark = pytest.mark.usefixtures("database")

BUDGET = 60 * 1024
ORIGIN = "https://testserver"
FETCHED_LINKS = {"stylesheet", "icon", "apple-touch-icon", "manifest", "preload", "modulepreload"}


class References(HTMLParser):
    """Every URL-valued attribute of the page, and the subresources a browser loads from it."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []  # every src/href/action/etc. on the page
        self.loaded: list[str] = []  # what the browser fetches while loading the page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "action", "formaction", "poster", "data", "hx-get", "hx-post"):
            if values.get(name):
                self.urls.append(values[name])
        if values.get("srcset"):
            self.urls.extend(part.split()[0] for part in values["srcset"].split(",") if part.strip())
        if tag == "link" and values.get("href"):
            if FETCHED_LINKS & set((values.get("rel") or "").lower().split()):
                self.loaded.append(values["href"])
        elif tag in ("script", "img", "source", "video", "audio", "iframe") and values.get("src"):
            self.loaded.append(values["src"])


def same_origin(url: str, base: str) -> bool:
    parts = urlsplit(urljoin(base, url))
    return parts.scheme in ("https", "data", "blob") and (
        parts.scheme != "https" or parts.netloc == "testserver"
    )


async def transferred(client, url: str) -> tuple[int, int, str, int]:
    """(body bytes on the wire, header bytes, content-encoding, status) for one GET with gzip accepted."""
    async with client.stream("GET", url, headers={"accept-encoding": "gzip"}) as response:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        headers = sum(len(k) + len(v) + 4 for k, v in response.headers.raw)
        return len(body), headers, response.headers.get("content-encoding", ""), response.status_code


async def test_first_visit_to_login_fits_the_budget_on_our_origin_only(client):
    responses: list[tuple[str, int, int, str]] = []  # (url, body bytes, header bytes, encoding)
    loaded: set[str] = set()

    async def fetch(url: str, why: str, again: bool = False) -> None:
        absolute = urljoin(ORIGIN + "/login", url)
        assert same_origin(absolute, ORIGIN), f"{why} leaves the origin: {url}"
        if absolute in loaded and not again:  # a browser asks once; its HTTP cache answers after that
            return
        loaded.add(absolute)
        body, headers, encoding, status = await transferred(client, absolute)
        assert status == 200, f"{why} {url}: HTTP {status}"
        responses.append(
            (absolute.removeprefix(ORIGIN) + (" (worker)" if again else ""), body, headers, encoding)
        )

    page = await client.get("/login", headers={"accept-encoding": "gzip"})
    references = References()
    references.feed(page.text)
    for url in references.urls:
        assert same_origin(url, ORIGIN + "/login"), f"the page refers outside the origin: {url}"
    await fetch("/login", "the page")
    for url in references.loaded:
        await fetch(url, "the page's resource")

    stylesheets = [u for u in references.loaded if urlsplit(u).path.endswith(".css")]
    for sheet in stylesheets:  # what the stylesheets pull in (url(), @import) is fetched too
        css = (await client.get(urljoin(ORIGIN, sheet))).text
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css):
            if not url.startswith("data:"):
                await fetch(urljoin(urljoin(ORIGIN, sheet), url), "the stylesheet's resource")

    [manifest_url] = [u for u in references.loaded if "manifest" in u]
    manifest = json.loads((await client.get(manifest_url)).text)
    for key in ("id", "start_url", "scope"):
        assert same_origin(manifest[key], ORIGIN + manifest_url), f"manifest {key} leaves the origin"
    for screenshot in manifest.get("screenshots", []):
        assert same_origin(screenshot["src"], ORIGIN + manifest_url), screenshot
    for icon in manifest["icons"]:
        await fetch(urljoin(ORIGIN + manifest_url, icon["src"]), "the manifest's icon")

    # the service worker, registered on the first visit, and the shell entries it cannot take from the cache
    register = next(u for u in references.loaded if "sw-register" in u)
    assert '"/sw.js"' in (await client.get(register)).text
    await fetch("/sw.js", "the service worker")
    worker = (await client.get("/sw.js")).text
    shell = re.findall(r'"([^"]+)"', re.search(r"const SHELL = \[(.*?)\];", worker, re.S).group(1))
    for url in shell:
        assert same_origin(url, ORIGIN), url
        if "?v=" in url:  # fingerprinted and immutable: the worker takes the copy the page just cached
            assert urljoin(ORIGIN, url) in loaded, f"the worker precaches {url}, which the page did not load"
        else:  # revalidated: downloaded (again)
            await fetch(url, "the worker's shell entry", again=urljoin(ORIGIN, url) in loaded)

    bodies = sum(body for _, body, _, _ in responses)
    headers = sum(head for _, _, head, _ in responses)
    total = bodies + headers
    lines = [f"{body:>7,} B  {encoding or 'identity':<8} {url}" for url, body, _, encoding in responses]
    report = "\n".join(
        [
            "first visit to /login, bytes on the wire (bodies as sent, Accept-Encoding: gzip):",
            *lines,
            f"{bodies:>7,} B  bodies of {len(responses)} responses",
            f"{headers:>7,} B  their headers",
            f"{total:>7,} B  total (budget {BUDGET:,} B)",
        ]
    )
    print(report)
    assert any("htmx" in url for url, *_ in responses), report
    for url, body, _, encoding in responses:
        if ".png" not in url and body > 1024:  # text worth compressing is compressed
            assert encoding == "gzip", f"{url} sent uncompressed\n{report}"
    assert total <= BUDGET, report
