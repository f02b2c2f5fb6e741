"""What one SMS says, in the two forms the channels need (design §4).

Every message carries its *kind* (which approved template a provider sends it with), its template
*parameters* (in the order the Chinese source text names them) and its rendered *text*. ``console`` and
``smtp`` send the text; the SMS providers send the template id configured for the kind
(``WEBAPP_SMS_TEMPLATES``) with the parameters, and the provider fills in its approved wording.

A kind is ``code`` (a verification code), a security notice's name (``password_changed``…), or for a
notice whose text depends on what happened, the notice and that variant (``face_success.login``).
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Formatter

from webapp.i18n import _

CODE = "code"


@dataclass(frozen=True)
class SmsMessage:
    kind: str
    params: tuple[tuple[str, str], ...]  # (name, value), in the order the source text names them
    text: str

    @property
    def values(self) -> list[str]:
        """The parameter values in order: Tencent's TemplateParamSet ({1}, {2}, … in the template)."""
        return [value for _name, value in self.params]


def compose(kind: str, template: str, *, translate: bool = True, **values: object) -> SmsMessage:
    """The message of ``kind`` whose text is the msgid ``template`` with ``values`` filled in (in the
    current language unless ``translate`` is False)."""
    text = _(template, **values) if translate else template.format(**values)
    return SmsMessage(kind, tuple((name, str(values[name])) for name in placeholders(template)), text)


def placeholders(template: str) -> list[str]:
    """The ``{name}`` fields of a text, each once, in the order they first appear."""
    names: list[str] = []
    for _literal, name, _spec, _conversion in Formatter().parse(template):
        if name and name not in names:
            names.append(name)
    return names


def notice_kind(notice: str, variant: str = "") -> str:
    """The kind of a security notice: its name, or ``notice.variant`` for a notice with a text of its own
    per variant (the signed-out face success, one text per face purpose)."""
    return f"{notice}.{variant}" if variant else notice
