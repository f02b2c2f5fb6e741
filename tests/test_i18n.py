"""Languages (design §7): the guide's Chinese words are the msgids, the English catalog covers every one of
them, and the app speaks the language of the `lang` cookie or of Accept-Language."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests import factories
from tests.support.web import csrf_token, field_error, post_form
from webapp import i18n

ROOT = Path(__file__).resolve().parent.parent
EN_PO = ROOT / "webapp" / "locale" / "en" / "LC_MESSAGES" / "messages.po"
ENGLISH = {"accept-language": "en-US,en;q=0.9"}
TITLE = "Business Registration Identity Verification"

HAN = re.compile(
    r"[\u2e80-\u2fdf\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]"
)
CJK_PUNCTUATION = re.compile(r"[\u3000-\u303f\ufe30-\ufe4f\uff00-\uffef]")
CJK = re.compile(f"{HAN.pattern}|{CJK_PUNCTUATION.pattern}")
SWITCHER_LINK = re.compile(r'<a href="/lang/zh-CN"[^>]*>中文</a>')
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def _load_tool():
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    """The msgids of the current sources (Python and templates), extracted in-process as babel.cfg says."""
    catalog = _load_tool().extract()
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


@pytest.fixture(scope="module")
def english():
    with EN_PO.open("rb") as handle:
        return read_po(handle, locale="en")


@pytest.fixture
def in_english():
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


# --- the catalog ---------------------------------------------------------------------------------------


def test_extraction_finds_python_markers_and_template_calls_with_keyword_arguments(extracted):
    assert len(extracted) > 250
    for msgid in (
        "工商注册身份验证",  # templates
        "工商登记注册已于{date}到期，请重新选择",  # template call with a keyword argument
        "三级实名",  # N_() in webapp/i18n.py
        "账号或密码错误",  # _() in Python
        "未检测到人脸",  # N_() in webapp/face
        "请眨眨眼",
    ):
        assert msgid in extracted, msgid


def _forms(message) -> list[tuple[str, str]]:
    """(msgid, msgstr) of a message; a plural message gives one pair per plural form."""
    if isinstance(message.id, str):
        return [(message.id, message.string)]
    return [(message.id[0], string) for string in message.string]


def test_english_catalog_covers_every_extracted_msgid(extracted, english):
    present = {m.id if isinstance(m.id, str) else m.id[0] for m in english if m.id}
    missing = sorted(extracted - present)
    assert not missing, "run `python scripts/i18n.py update` and translate:\n" + "\n".join(missing)


def test_english_catalog_has_no_empty_or_fuzzy_entries_and_keeps_placeholders(english):
    empty = [m.id for m in english if m.id and not all(string for _id, string in _forms(m))]
    fuzzy = [m.id for m in english if m.id and m.fuzzy]
    assert not empty, empty
    assert not fuzzy, fuzzy
    for message in english:
        for msgid, string in _forms(message) if message.id else []:
            assert _placeholders(string) == _placeholders(msgid), (msgid, string)
            assert not HAN.search(string), (msgid, string)


def test_the_service_reads_the_catalog_as_written(english, in_english):
    english_catalog = i18n.translations("en")
    for message in english:
        if isinstance(message.id, str) and message.id:
            assert english_catalog.gettext(message.id) == message.string
        elif message.id:  # a plural: one form for 1, the other for more
            assert english_catalog.ngettext(*message.id, 1) == message.string[0]
            assert english_catalog.ngettext(*message.id, 2) == message.string[1]


def test_face_messages_are_marked_and_translated(in_english):
    from webapp.face import check, decode, liveness, pipeline, pool, scan

    messages = [
        *decode.MESSAGES.values(),
        *(m for m in pipeline.FACE_MESSAGES.values() if m),
        *liveness.MESSAGES.values(),
        *check.CHECK_MESSAGES.values(),
        *scan.MESSAGES.values(),
        liveness.message_for("unknown code"),
        pool.FaceWorkerError.message,
        *(step.prompt for step in scan.Step),
        scan.refusal_message(scan.EXTRA_NOT_SEEN, scan.Step.BLINK),
        scan.refusal_message(scan.EXTRA_NOT_SEEN, scan.Step.MOUTH),
    ]
    for message in messages:
        assert not CJK.search(i18n._(message)), message


# --- through the app -----------------------------------------------------------------------------------


async def test_login_page_in_english_from_accept_language(client):
    response = await client.get("/login", headers=ENGLISH)
    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert f"<title>{TITLE}</title>" in response.text
    assert ">Log in</button>" in response.text
    assert "登录" not in response.text


async def test_login_page_in_english_from_the_cookie(client):
    response = await client.get("/login", headers={"cookie": "lang=en"})
    assert '<html lang="en">' in response.text and f"<title>{TITLE}</title>" in response.text
    assert ">Log in</button>" in response.text


async def test_the_cookie_wins_over_accept_language(client):
    chinese = await client.get("/login", headers={"cookie": "lang=zh-CN", **ENGLISH})
    assert '<html lang="zh-CN">' in chinese.text and ">登录</button>" in chinese.text
    english = await client.get("/login", headers={"cookie": "lang=en", "accept-language": "zh-CN,zh;q=0.9"})
    assert '<html lang="en">' in english.text


async def test_chinese_by_default(client):
    response = await client.get("/login")
    assert '<html lang="zh-CN">' in response.text
    assert "<title>工商注册身份验证</title>" in response.text
    assert ">登录</button>" in response.text
    assert TITLE not in response.text
    unknown = await client.get("/login", headers={"accept-language": "fr-FR,fr;q=0.9"})
    assert '<html lang="zh-CN">' in unknown.text


async def test_choosing_a_language_sets_the_cookie_and_redirects(client):
    response = await client.get("/lang/en", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert re.search(r"(^|;|,)\s*lang=en;", response.headers["set-cookie"])
    page = await client.get("/login")
    assert '<html lang="en">' in page.text and f"<title>{TITLE}</title>" in page.text
    back = await client.get("/lang/zh-CN?next=/faq", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/faq"
    assert '<html lang="zh-CN">' in (await client.get("/login")).text
    assert (await client.get("/lang/fr", follow_redirects=False)).status_code == 404


async def test_form_errors_come_back_in_english(rt, client):
    _id, _record, phone = await factories.account(rt)
    client.headers.update(ENGLISH)
    token = await csrf_token(client)
    for htmx in (False, True):
        wrong = await post_form(
            client, "/login", {"identifier": phone, "password": "Wrong-pass-1"}, htmx=htmx, token=token
        )
        assert field_error(wrong.text, "password") == "Incorrect account or password"
        empty = await post_form(client, "/login", {"identifier": " ", "password": ""}, htmx=htmx, token=token)
        assert field_error(empty.text, "identifier") == "Enter your mobile number or ID number"
        assert field_error(empty.text, "password") == "Enter your password"


async def _register_pages_in_english(rt, client) -> list[tuple[str, dict]]:
    """The register page, empty and re-drawn with errors (the user's own input in Chinese)."""
    _id, record, _phone = await factories.account(rt, name="张三")
    client.headers.update(ENGLISH)
    empty = await client.get("/register")
    token = await csrf_token(client, "/register")
    data = {
        "name": record.name,
        "id_number": record.id_number,
        "valid_from": record.valid_from.isoformat(),
        "period": "10y",
        "phone": factories.phone(),
        "code": "000000",
        "password": "Good-pass-42",
        "password2": "Other-pass-42",
    }
    full = await post_form(client, "/register", data, token=token)
    check = await post_form(client, "/register/check", data, htmx=True, token=token)
    assert field_error(full.text, "password2") == "The passwords do not match"
    assert "This ID is already registered. Please log in." in check.text and ">Go to login</a>" in check.text
    return [(empty.text, {}), (full.text, data), (check.text, data)]


def _without_switcher_and_input(html: str, data: dict) -> str:
    assert len(SWITCHER_LINK.findall(html)) <= 1
    html = SWITCHER_LINK.sub("", html)
    for value in data.values():
        html = html.replace(f'value="{value}"', "")
    return html


async def test_register_page_in_english_has_no_chinese_words(rt, client):
    pages = await _register_pages_in_english(rt, client)
    assert '<html lang="en">' in pages[0][0] and ">Register</button>" in pages[0][0]
    assert "中文" in pages[0][0] and "张三" in pages[1][0]  # what the filter below takes out
    for html, data in pages:
        rest = _without_switcher_and_input(html, data)
        assert HAN.findall(rest) == [], [line for line in rest.splitlines() if HAN.search(line)]


async def test_register_page_in_english_has_no_cjk_characters_at_all(rt, client):
    for html, data in await _register_pages_in_english(rt, client):
        rest = _without_switcher_and_input(html, data)
        assert CJK.findall(rest) == [], [line for line in rest.splitlines() if CJK.search(line)]


def test_waits_in_english_count_seconds_in_the_right_plural():
    from datetime import UTC, datetime, timedelta

    from webapp.i18n import current_locale
    from webapp.sms.codes import wait_message

    now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    token = current_locale.set("en")
    try:
        one = wait_message(now + timedelta(seconds=1), now)
        sixty = wait_message(now + timedelta(seconds=60), now)
    finally:
        current_locale.reset(token)
    assert one == "Too many requests. Please wait 1 second before requesting another code."
    assert sixty == "Too many requests. Please wait 60 seconds before requesting another code."
    assert wait_message(now + timedelta(seconds=60), now) == "发送过于频繁，请60秒后再获取验证码"
