"""The 获取验证码 group of a form (templates/partials/sms_group.html): the phone, the code and the button
that asks for a code. One declaration per form; 获取验证码 answers htmx with the group alone, or with the
whole step when an error belongs to a field outside the group."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webapp.i18n import N_, _

PARTIAL = "partials/sms_group.html"


@dataclass(frozen=True)
class SmsGroup:
    url: str  # where 获取验证码 posts
    form_id: str  # the form whose fields it sends along
    step_partial: str  # the whole step, drawn instead of the group when ``outside`` fields have errors
    step_target: str
    outside: Collection[str] = ()
    phone_label: str = N_("手机号")
    code_label: str = N_("验证码")
    sms_label: str = ""  # the button's words when not 获取验证码

    def context(self, retry_at: datetime | None, notice: str = "") -> dict[str, Any]:
        return {
            "sms_url": self.url,
            "form_id": self.form_id,
            "phone_label": _(self.phone_label),
            "code_label": _(self.code_label),
            "sms_label": _(self.sms_label) if self.sms_label else None,
            "retry_at": retry_at,
            "notice": notice,
        }

    def answer(self, errors: Collection[str]) -> tuple[str, str | None]:
        """The partial 获取验证码 answers with, and where it goes (None: where it came from)."""
        if set(errors) & set(self.outside):
            return self.step_partial, self.step_target
        return PARTIAL, None
