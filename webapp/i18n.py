"""gettext for templates and messages. The guide's Chinese words are the source strings (zh-CN).

Catalogs are read from ``webapp/locale/<lang>/LC_MESSAGES/messages.po`` at start (Babel), so no compile
step stands between a translator's edit and the running service.
"""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "zh-CN"
LOCALES = {"zh-CN": "中文", "en": "English"}

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a string for extraction; it is translated where it is shown."""
    return message


@cache
def translations(locale: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _(message: str, **values: object) -> str:
    text = translations(current_locale.get()).gettext(message)
    return text.format(**values) if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    text = translations(current_locale.get()).ngettext(singular, plural, n)
    return text.format(n=n, **values)


def negotiate(cookie_value: str | None, accept_language: str | None) -> str:
    """The `lang` cookie wins; then the first Accept-Language entry we have; zh-CN otherwise."""
    if cookie_value in LOCALES:
        return cookie_value
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


LEVEL_NAMES = {3: N_("三级实名"), 4: N_("四级实名")}


def level_name(level: int) -> str:
    """三级实名 / 四级实名: the level in words, as the guide writes it."""
    return _(LEVEL_NAMES[level]) if level in LEVEL_NAMES else _("{level}级实名", level=level)
