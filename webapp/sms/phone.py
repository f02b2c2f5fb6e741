"""Mainland mobile numbers: the only kind an SMS code can reach here.

ASCII digits only, after NFKC (which folds full-width digits): ``\\d`` would also take Arabic-Indic or
Devanagari digits, and each spelling of one number would be a different account and its own SMS limits.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from webapp.i18n import N_

MOBILE = re.compile(r"1[3-9][0-9]{9}")
_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
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
    if not MOBILE.fullmatch(value) or not is_mainland_mobile(value):
        raise PhoneError(N_("请输入正确的11位手机号"))
    return value


def is_mainland_mobile(value: str) -> bool:
    """In a mainland mobile range as ``phonenumbers`` knows them (no 140, 1410… unallocated blocks)."""
    number = phonenumbers.parse(value, "CN")
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _MOBILE_TYPES


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"
