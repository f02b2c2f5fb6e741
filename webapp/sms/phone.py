"""Mainland mobile numbers: the only kind an SMS code can reach here."""

from __future__ import annotations

import re
import unicodedata

from webapp.i18n import N_

MOBILE = re.compile(r"1[3-9]\d{9}")
SEPARATORS = re.compile(r"[\s\-\u200b-\u200d\u2060\ufeff()]")


class PhoneError(ValueError):
    field = "phone"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def normalize_phone(raw: str) -> str:
    value = SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or ""))
    for prefix in ("+86", "0086"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    return value


def validate_phone(raw: str) -> str:
    value = normalize_phone(raw)
    if not value:
        raise PhoneError(N_("请输入手机号"))
    if not MOBILE.fullmatch(value):
        raise PhoneError(N_("请输入正确的11位手机号"))
    return value


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"
