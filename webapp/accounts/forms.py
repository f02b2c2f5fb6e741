"""Form reading: raw form values in, clean values and per-field messages (gettext source strings) out.

Nothing here touches the database; the routes call these, then the service functions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from webapp.accounts.passwords import PasswordError, validate_password
from webapp.i18n import N_, _
from webapp.identity.rules import (
    IdentityError,
    ValidityPeriod,
    check_validity,
    compute_valid_to,
    validate_id_number,
    validate_name,
)
from webapp.sms.phone import PhoneError, validate_phone

MAX_FIELD = 64


CONTROL_CHARACTERS = dict.fromkeys([*range(0x00, 0x20), 0x7F])


def text(form: dict[str, Any], name: str, limit: int = MAX_FIELD) -> str:
    """One form value as text, bounded, without control characters (PostgreSQL refuses NUL in text);
    a repeated field counts as its first value."""
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value)[:limit].translate(CONTROL_CHARACTERS)


def translated(errors: dict[str, str]) -> dict[str, str]:
    return {field: _(message) for field, message in errors.items()}


# A date as people write it: 2019-02-06 (the one format every screen shows), 2019/02/06, 2019.02.06 as the
# ID card prints it, 2019年2月6日, 20190206; full-width digits too. The whole text, nothing around it.
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?|(\d{4})(\d{2})(\d{2})")


def parse_date(raw: str) -> date | None:
    found = _DATE.fullmatch(unicodedata.normalize("NFKC", raw).strip())
    if found is None:
        return None
    year, month, day = (int(part) for part in found.groups() if part is not None)
    try:
        return date(year, month, day)
    except ValueError:
        return None


@dataclass
class Validity:
    valid_from: date | None
    period: ValidityPeriod | None
    valid_to: date | None


def read_validity(
    form: dict[str, Any], id_number: str | None, today: date, errors: dict[str, str]
) -> Validity:
    typed = text(form, "valid_from")
    valid_from = parse_date(typed)  # read whole: "2018-06-01junk" is no date
    try:
        period = ValidityPeriod(text(form, "period", 8))
    except ValueError:
        period = None
    if valid_from is None:
        errors["valid_from"] = (
            N_("请输入身份证有效期开始日期") if not typed.strip() else N_("请按2018-06-01的格式输入日期")
        )
    if period is None:
        errors["period"] = N_("请选择有效期限")
    valid_to = compute_valid_to(valid_from, period) if valid_from and period else None
    if valid_from and period and id_number:
        try:
            valid_to = check_validity(id_number, valid_from, period, today)
        except IdentityError as error:
            errors[error.field] = error.message
    return Validity(valid_from, period, valid_to)


def read_identity(form: dict[str, Any], today: date, errors: dict[str, str]) -> tuple[str | None, str | None]:
    name = id_number = None
    try:
        name = validate_name(text(form, "name", 40))
    except IdentityError as error:
        errors["name"] = error.message
    try:
        id_number = validate_id_number(text(form, "id_number", 40), today)
    except IdentityError as error:
        errors["id_number"] = error.message
    return name, id_number


def read_phone(form: dict[str, Any], errors: dict[str, str], field: str = "phone") -> str | None:
    try:
        return validate_phone(text(form, field, 24))
    except PhoneError as error:
        errors[field] = error.message
        return None


def read_code(form: dict[str, Any], errors: dict[str, str]) -> str:
    code = text(form, "code", 12).strip()
    if not code:
        errors["code"] = N_("请输入验证码")
    return code


def read_new_password(form: dict[str, Any], errors: dict[str, str], *personal: str | None) -> str | None:
    password, confirm = text(form, "password", 128), text(form, "password2", 128)
    try:
        validate_password(password, *(p for p in personal if p))
    except PasswordError as error:
        errors["password"] = error.message
        return None
    if confirm != password:
        errors["password2"] = N_("两次输入的密码不一致")
        return None
    return password
