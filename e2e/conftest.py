"""End-to-end: a real server process, Debian's Chromium driven by Playwright, a real SMTP sink.

Every page the tests open records the htmx requests it makes; at the end of each test every one of them
must have carried the CSRF header.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.support.server import AppServer
from tests.support.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "e2e" / "artifacts"
FACES = ROOT / "tests" / "fixtures" / "faces"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
METRICS_TOKEN = "e2e-metrics-token-0123456789"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory, smtp_sink):
    running = AppServer(
        tmp_path_factory.mktemp("e2e"),
        "e2e-master-key-0123456789abcdefghijklmnopqrstuvwxyz",
        WEBAPP_SMTP_PORT=str(smtp_sink.port),
        WEBAPP_FACE_WORKERS="2",
        # Every case comes from 127.0.0.1: the per-address limits are set for a whole suite's traffic,
        # while the per-phone and per-account limits stay at their defaults.
        WEBAPP_SMS_PER_IP_HOUR="500",
        WEBAPP_LOOKUP_PER_IP_HOUR="500",
        WEBAPP_LOGIN_PER_IP_MINUTE="300",
        WEBAPP_FACE_PER_IP_HOUR="300",
        WEBAPP_FACE_PER_IP_2MIN="300",
        WEBAPP_METRICS_TOKEN=METRICS_TOKEN,
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def api_key(server) -> str:
    """The registration system's key, made once for the run (a name is unique)."""
    return server.cli("apikey", "create", "e2e-registration-system").strip().splitlines()[-1]


@dataclass(frozen=True)
class Citizen:
    name: str
    id_number: str
    valid_from: str
    valid_to: str
    period_label: str
    phone: str


CITIZEN_NAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛"


@pytest.fixture(scope="session")
def citizen_pool(server, tmp_path_factory):
    """Citizens in the server's local registry, one per test run: each E2E case has its own person and
    phone, so the real limits apply without the cases interfering."""
    folder = tmp_path_factory.mktemp("citizens")
    people = []
    from stdnum.iso7064 import mod_11_2

    names = [surname + given for given in ("小明", "小红", "建国") for surname in CITIZEN_NAMES]
    for index, name in enumerate(names):  # 126 people: more than the suite's cases
        body = f"110105{1975 + index % 15}0{1 + index % 9}1{index % 10}{index:03d}"
        people.append(
            Citizen(
                name,
                body + mod_11_2.calc_check_digit(body),
                "2018-06-01",
                "2038-06-01",
                "20年",
                f"136{index:08d}",
            )
        )
    rows = [f"{p.name},{p.id_number},{p.valid_from},{p.valid_to}" for p in people]
    csv = folder / "citizens.csv"
    csv.write_text("name,id_number,valid_from,valid_to\n" + "\n".join(rows) + "\n", encoding="utf-8")
    server.cli("authority", "import", str(csv))
    return iter(people)


@pytest.fixture
def citizen(citizen_pool) -> Citizen:
    return next(citizen_pool)


@pytest.fixture
def photo_citizen(citizen, server, tmp_path) -> Citizen:
    """The citizen, with obama-3.jpg as the registry's reference photo."""
    csv = tmp_path / "photo.csv"
    csv.write_text(
        "name,id_number,valid_from,valid_to,photo\n"
        f"{citizen.name},{citizen.id_number},{citizen.valid_from},{citizen.valid_to},obama-3.jpg\n",
        encoding="utf-8",
    )
    server.cli("authority", "import", str(csv), "--photos", str(FACES))
    return citizen


@pytest.fixture(scope="session")
def camera_browsers(playwright):
    """One Chromium per fake-camera clip (the clip is a launch flag), made from the test photos."""
    from tests.support.clips import make_clip

    launched: dict[str, object] = {}

    def browser_for(photo: str | None, **clip_options):
        """``photo`` None: a Chromium with no fake camera (a page may inject its own)."""
        key = (photo or "-") + repr(sorted(clip_options.items()))
        if key not in launched and photo is None:
            launched[key] = playwright.chromium.launch(
                executable_path=chromium(), args=CHROMIUM_FLAGS, headless=True
            )
        if key not in launched:
            second = clip_options.pop("second_face", None)
            clip = make_clip(FACES / photo, second_face=FACES / second if second else None, **clip_options)
            flags = [
                *CHROMIUM_FLAGS,
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={clip}",
            ]
            launched[key] = playwright.chromium.launch(executable_path=chromium(), args=flags, headless=True)
        return launched[key]

    yield browser_for
    for browser in launched.values():
        browser.close()


@pytest.fixture
def unactivated(citizen, server, tmp_path) -> Citizen:
    """The citizen, imported as an unactivated account from a provincial system."""
    csv = tmp_path / "accounts.csv"
    csv.write_text(
        "name,id_number,valid_from,valid_to,phone,province\n"
        f"{citizen.name},{citizen.id_number},{citizen.valid_from},{citizen.valid_to},{citizen.phone},河南\n",
        encoding="utf-8",
    )
    server.cli("accounts", "import", str(csv))
    return citizen


@pytest.fixture(scope="session")
def playwright():
    with sync_playwright() as running:
        yield running


def chromium() -> str:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "Debian's chromium is missing: make test installs it (scripts/ensure-system-deps.sh)"
    return executable


@pytest.fixture(scope="session")
def browser(playwright):
    launched = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS, headless=True)
    yield launched
    launched.close()


class HtmxRecorder:
    """Every htmx request of a page, with whether it carried the CSRF header."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bool]] = []

    def __call__(self, request) -> None:
        headers = request.headers
        if headers.get("hx-request") == "true":
            self.requests.append((request.method, request.url, bool(headers.get("x-csrftoken"))))


@pytest.fixture(params=list(SIZES), ids=list(SIZES))
def size(request) -> str:
    return request.param


def new_context(browser, size: str, base_url: str, javascript: bool = True, **options):
    """A context at ``size`` whose pages open the server's paths: ``page.goto("/login")``."""
    return browser.new_context(
        base_url=base_url,
        viewport=SIZES[size],
        device_scale_factor=1,
        is_mobile=size == "phone",
        has_touch=size == "phone",
        locale="zh-CN",
        java_script_enabled=javascript,
        **options,
    )


@pytest.fixture
def htmx() -> HtmxRecorder:
    """The htmx requests of the ``page`` fixture's context."""
    return HtmxRecorder()


@pytest.fixture
def page(browser, size, server, htmx):
    context = new_context(browser, size, server.url)
    context.set_default_timeout(10_000)
    context.on("request", htmx)
    yield context.new_page()
    context.close()
    missing = [r for r in htmx.requests if not r[2]]
    assert not missing, f"htmx requests without the CSRF header: {missing}"


def size_of(page) -> str:
    """The name in SIZES of the page's viewport."""
    viewport = page.viewport_size
    [name] = [name for name, dimensions in SIZES.items() if dimensions == viewport]
    return name


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """The whole page, or (``full_page=False``) what the screen shows: a modal dialog over the page.
    Named after the screen and the page's size: ``<name>-<phone|desktop>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{size_of(page)}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
