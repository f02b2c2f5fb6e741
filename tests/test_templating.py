"""Templates compiled per language: constant calls are written into the compiled template, escaped, and
nothing else is; pages still speak the visitor's language."""

from __future__ import annotations

import pytest
from jinja2 import DictLoader, Environment

from webapp.i18n import current_locale
from webapp.templating import LocalizedJinja

pytestmark = pytest.mark.usefixtures("database")

SOURCE = (
    '<p title="{{ _("跳到主要内容") }}">{{ _("a<b & c") }}</p>'
    '<html lang="{{ current_locale() }}">{{ static("css/app.css") }}'
    "{{ _(label) }}{{ _('{n}个', n=2) }}{{ helper._('跳到主要内容') }}"
)


def engine(static=None) -> LocalizedJinja:
    environment = Environment(loader=DictLoader({"page.html": SOURCE}), autoescape=True)
    templates = LocalizedJinja(engine_instance=environment)
    templates.engine.add_extension("jinja2.ext.i18n")
    calls: list[str] = []

    def gettext(message: str, **values: object) -> str:
        calls.append(message)
        return message.format(**values) if values else message

    templates.engine.install_gettext_callables(gettext=gettext, ngettext=gettext, newstyle=False)
    templates.engine.globals.update(current_locale=lambda: "runtime", static=lambda path: f"/runtime/{path}")
    templates.fold(static=static)
    templates.calls = calls
    return templates


def render(templates: LocalizedJinja, locale: str) -> str:
    token = current_locale.set(locale)
    try:
        page = templates.get_template("page.html")
        return page.render(label="跳到主要内容", helper={"_": lambda text: "h:" + text})
    finally:
        current_locale.reset(token)


def test_literal_calls_are_translated_when_compiled_and_escaped():
    templates = engine(static=lambda path: f"/static/{path}?v=fixed")
    english = render(templates, "en")
    assert '<p title="Skip to main content">a&lt;b &amp; c</p>' in english
    assert '<html lang="en">/static/css/app.css?v=fixed' in english
    chinese = render(templates, "zh-CN")
    assert '<p title="跳到主要内容">a&lt;b &amp; c</p><html lang="zh-CN">' in chinese
    # What is not a literal call stays a call, made at every render: a variable, values, an attribute.
    assert templates.calls == ["跳到主要内容", "{n}个", "跳到主要内容", "{n}个"]
    assert english.endswith("跳到主要内容2个h:跳到主要内容")


def test_static_urls_stay_calls_where_assets_can_change():
    templates = engine(static=None)
    assert '<html lang="en">/runtime/css/app.css' in render(templates, "en")


async def test_pages_speak_the_visitors_language(client):
    english = await client.get("/login", headers={"accept-language": "en"})
    assert '<html lang="en">' in english.text and "Skip to main content" in english.text
    chinese = await client.get("/login", headers={"accept-language": "zh-CN"})
    assert '<html lang="zh-CN">' in chinese.text and "跳到主要内容" in chinese.text
