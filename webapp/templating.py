"""Templates compiled once per language, with what is constant for a language written into them.

A call in a Jinja template costs a few microseconds at every render, and a page has dozens of
``_("…")``: on the login page they were most of its render time. So each language has its own compiled
copy of every template, in which ``_("literal")`` is the translated text, ``current_locale()`` the
language, and (in production, where assets do not change while the process runs) ``static("literal")``
the fingerprinted URL. Autoescaping still applies: Jinja escapes a constant when it compiles it. A
call with values (``_("{n}个", n=…)``) or a variable argument stays a call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

from jinja2 import Environment, TemplateNotFound, pass_context
from jinja2 import Template as JinjaTemplate
from jinja2.ext import Extension
from jinja2.lexer import TOKEN_DOT, TOKEN_LPAREN, TOKEN_NAME, TOKEN_RPAREN, TOKEN_STRING, Token, TokenStream
from jinja2.runtime import Context
from litestar.exceptions import TemplateNotFoundException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.base import csrf_token
from markupsafe import Markup

from webapp.i18n import LOCALES, current_locale, translations


class FoldConstants(Extension):
    """Replaces, in the token stream, the calls whose result is fixed for this environment's language."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        tokens = list(stream)
        position = 0
        while position < len(tokens):
            folded = self._fold(tokens, position)
            if folded is None:
                yield tokens[position]
                position += 1
            else:
                value, length = folded
                yield Token(tokens[position].lineno, TOKEN_STRING, value)
                position += length

    def _fold(self, tokens: list[Token], at: int) -> tuple[str, int] | None:
        token = tokens[at]
        if token.type != TOKEN_NAME or (at > 0 and tokens[at - 1].type == TOKEN_DOT):
            return None
        shape = [t.type for t in tokens[at + 1 : at + 4]]
        locale: str = getattr(self.environment, "fold_locale")  # noqa: B009 - set by LocalizedJinja
        static: Callable[[str], str] | None = getattr(self.environment, "fold_static")  # noqa: B009
        if token.value == "current_locale" and shape[:2] == [TOKEN_LPAREN, TOKEN_RPAREN]:
            return locale, 3
        if shape != [TOKEN_LPAREN, TOKEN_STRING, TOKEN_RPAREN]:
            return None
        literal: str = tokens[at + 2].value
        if token.value == "_":
            return translations(locale).gettext(literal), 4
        if token.value == "static" and static is not None:
            return static(literal), 4
        return None


@pass_context
def csrf_field(context: Context) -> Markup:
    """The CSRF token of a plain form (htmx sends it as the x-csrftoken header, set on <body>): a function,
    not a macro imported with context, which Jinja would evaluate anew at every render."""
    token = csrf_token(cast("Mapping[str, Any]", context))  # it reads context["request"]
    return Markup('<input type="hidden" name="_csrf_token" value="') + token + Markup('">')  # escapes token


class LocalizedJinja(JinjaTemplateEngine):
    """Litestar's Jinja engine, handing out the current language's copy of a template."""

    def __init__(self, directory: Path | list[Path] | None = None, engine_instance: Any | None = None):
        super().__init__(directory=directory, engine_instance=engine_instance)
        self._by_locale: dict[str, Environment] = {}

    def fold(self, static: Callable[[str], str] | None) -> None:
        """Make the per-language environments (after the shared one is configured); ``static`` is
        folded only when given."""
        for locale in LOCALES:
            overlay = self.engine.overlay(extensions=[FoldConstants], cache_size=400)
            overlay.fold_locale = locale  # type: ignore[attr-defined] # read by FoldConstants
            overlay.fold_static = static  # type: ignore[attr-defined]
            self._by_locale[locale] = overlay

    def get_template(self, template_name: str) -> JinjaTemplate:
        environment = self._by_locale.get(current_locale.get(), self.engine)
        try:
            return environment.get_template(template_name)
        except TemplateNotFound as error:
            raise TemplateNotFoundException(template_name=template_name) from error
