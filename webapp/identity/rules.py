"""Identity rules (design §2) as pure functions: no database, no I/O, `today` always passed in."""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Literal

from stdnum import numdb
from stdnum.iso7064 import mod_11_2

from webapp.i18n import N_

IdentityField = Literal["name", "id_number", "valid_from", "period"]


class IdentityError(ValueError):
    """A user-facing refusal of one form field; `message` is a gettext source string."""

    def __init__(self, field: IdentityField, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


ZERO_WIDTH_CHARACTERS = "\u200b\u200c\u200d\ufeff\u2060"
_ZERO_WIDTH_OR_SPACE = re.compile(rf"[\s{ZERO_WIDTH_CHARACTERS}]")
_ID_NUMBER_SHAPE = re.compile(r"[0-9]{17}[0-9X]")

EARLIEST_BIRTH_YEAR = 1900
# Residence permits of Hong Kong, Macao and Taiwan residents; 830000 is in no edition of GB/T 2260
# (Taiwan's code there is 710000).
RESIDENCE_PERMIT_REGION_CODES = frozenset({"810000", "820000", "830000"})


def normalize_id_number(raw: str) -> str:
    """Full-width digits to ASCII, whitespace and zero-width characters removed, a trailing x upper-cased."""
    compact = _ZERO_WIDTH_OR_SPACE.sub("", unicodedata.normalize("NFKC", raw))
    if compact.endswith("x"):
        return compact[:-1] + "X"
    return compact


def birth_date(id_number: str) -> date:
    """The birth date encoded in a well-formed 18-character ID number (digits 7-14, as stdnum's
    ``ric.get_birth_date`` reads them, without its separator cleaning: 15 times as fast, for imports)."""
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        raise IdentityError("id_number", N_("身份证号中的出生日期不正确")) from None


@functools.lru_cache(maxsize=4096)  # an import checks a million ID numbers from a few thousand regions
def is_known_region_code(code: str) -> bool:
    """Whether any edition of GB/T 2260 lists the code, or it is a residence-permit code.

    stdnum's table (cn/loc.dat) is a two-level prefix database: province (2 digits), then county (4 digits)
    whose name is tagged with the years it was in use, e.g. `[1983-1989]南头区办事处,[1990-]南山区`.
    A code is listed when its county entry exists, whatever the years; `ric.validate` instead refuses
    codes that were not in use in the birth year.
    """
    if code in RESIDENCE_PERMIT_REGION_CODES:
        return True
    return any("county" in properties for _, properties in numdb.get("cn/loc").info(code))


def validate_id_number(raw: str, today: date) -> str:
    """The normalized 18-character ID number, or IdentityError(field="id_number")."""
    id_number = normalize_id_number(raw)
    if not id_number:
        raise IdentityError("id_number", N_("请输入身份证号"))
    if not _ID_NUMBER_SHAPE.fullmatch(id_number):
        raise IdentityError("id_number", N_("身份证号应为18位，由17位数字和1位数字或X组成"))
    born = birth_date(id_number)
    if born.year < EARLIEST_BIRTH_YEAR:
        raise IdentityError("id_number", N_("身份证号中的出生日期不正确"))
    if born > today:
        raise IdentityError("id_number", N_("身份证号中的出生日期晚于今天"))
    if not is_known_region_code(id_number[:6]):
        raise IdentityError("id_number", N_("身份证号前6位地区码不存在"))
    if not mod_11_2.is_valid(id_number):
        raise IdentityError("id_number", N_("身份证号校验位不正确"))
    return id_number


class ValidityPeriod(StrEnum):
    FIVE = "5y"
    TEN = "10y"
    TWENTY = "20y"
    LONG_TERM = "long"

    @property
    def label(self) -> str:
        return _PERIOD_LABELS[self]

    @property
    def years(self) -> int | None:
        """None for 长期 (long-term)."""
        return _PERIOD_YEARS[self]


_PERIOD_LABELS = {
    ValidityPeriod.FIVE: N_("5年"),
    ValidityPeriod.TEN: N_("10年"),
    ValidityPeriod.TWENTY: N_("20年"),
    ValidityPeriod.LONG_TERM: N_("长期有效"),
}
_PERIOD_YEARS = {
    ValidityPeriod.FIVE: 5,
    ValidityPeriod.TEN: 10,
    ValidityPeriod.TWENTY: 20,
    ValidityPeriod.LONG_TERM: None,
}
# Resident Identity Card Law art. 5: (age at the start date, the period of the bracket just below it).
_AGE_BOUNDARIES = (
    (16, ValidityPeriod.FIVE),
    (26, ValidityPeriod.TEN),
    (46, ValidityPeriod.TWENTY),
)
_WRONG_PERIOD_MESSAGES = {
    ValidityPeriod.FIVE: N_("按有效期开始日期时的年龄，有效期应为5年"),
    ValidityPeriod.TEN: N_("按有效期开始日期时的年龄，有效期应为10年"),
    ValidityPeriod.TWENTY: N_("按有效期开始日期时的年龄，有效期应为20年"),
    ValidityPeriod.LONG_TERM: N_("按有效期开始日期时的年龄，有效期应为长期有效"),
}


def _add_years(start: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def _age_on(birth: date, day: date) -> int:
    age = day.year - birth.year
    if _add_years(birth, age) > day:
        age -= 1
    return age


def compute_valid_to(valid_from: date, period: ValidityPeriod) -> date | None:
    """The card's end date; None means 长期 (long-term)."""
    if period.years is None:
        return None
    return _add_years(valid_from, period.years)


def expected_period(birth: date, valid_from: date) -> ValidityPeriod:
    age = _age_on(birth, valid_from)
    if age < 16:
        return ValidityPeriod.FIVE
    if age < 26:
        return ValidityPeriod.TEN
    if age < 46:
        return ValidityPeriod.TWENTY
    return ValidityPeriod.LONG_TERM


def _accepted_periods(birth: date, valid_from: date, grace_days: int) -> set[ValidityPeriod]:
    """The expected period, plus the younger bracket's within `grace_days` after an age boundary.

    People apply before the card is issued, so a 10-year card may start just after the 26th birthday.
    """
    accepted = {expected_period(birth, valid_from)}
    for boundary_age, younger_period in _AGE_BOUNDARIES:
        days_after_boundary = (valid_from - _add_years(birth, boundary_age)).days
        if 0 <= days_after_boundary <= grace_days:
            accepted.add(younger_period)
    return accepted


def check_validity(
    id_number: str, valid_from: date, period: ValidityPeriod, today: date, grace_days: int = 90
) -> date | None:
    """The card's end date (None = 长期) for a validated ID number, or IdentityError."""
    birth = birth_date(id_number)
    if valid_from > today:
        raise IdentityError("valid_from", N_("有效期开始日期不能晚于今天"))
    if valid_from < birth:
        raise IdentityError("valid_from", N_("有效期开始日期不能早于出生日期"))
    if period not in _accepted_periods(birth, valid_from, grace_days):
        raise IdentityError("period", _WRONG_PERIOD_MESSAGES[expected_period(birth, valid_from)])
    valid_to = compute_valid_to(valid_from, period)
    if valid_to is not None and valid_to < today:
        raise IdentityError(
            "valid_from", N_("身份证已过期，请使用有效期内的身份证；如已换领新证，请填写新证的有效期")
        )
    return valid_to


NAME_MIN_LENGTH = 2
NAME_MAX_LENGTH = 30
MIDDLE_DOT = "\u00b7"
# Bullet, katakana middle dot and its half-width form, as typed by input methods for 间隔号.
_MIDDLE_DOT_LOOKALIKES = re.compile("[\u2022\u30fb\uff65]")
_ZERO_WIDTH = re.compile(f"[{ZERO_WIDTH_CHARACTERS}]")
_WHITESPACE_RUN = re.compile(r"\s+")
_SPACED_MIDDLE_DOT = re.compile(rf"\s*{MIDDLE_DOT}\s*")
# CJK Unified Ideographs Extension A and the basic block.
IDEOGRAPHS = "\u3400-\u4dbf\u4e00-\u9fff"
# Spaces belong to foreign-style names only; beside a Chinese character they are a typing slip.
_SPACE_BESIDE_IDEOGRAPH = re.compile(rf"(?<=[{IDEOGRAPHS}])\s+|\s+(?=[{IDEOGRAPHS}])")
_NAME_CHARACTERS = re.compile(rf"[{IDEOGRAPHS}{MIDDLE_DOT}A-Za-z ]+")
_MISPLACED_MIDDLE_DOT = re.compile(rf"^{MIDDLE_DOT}|{MIDDLE_DOT}$|{MIDDLE_DOT}{MIDDLE_DOT}")


def normalize_name(raw: str) -> str:
    name = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", raw))
    name = _SPACED_MIDDLE_DOT.sub(MIDDLE_DOT, _MIDDLE_DOT_LOOKALIKES.sub(MIDDLE_DOT, name))
    name = _SPACE_BESIDE_IDEOGRAPH.sub("", name)
    return _WHITESPACE_RUN.sub(" ", name).strip()


def validate_name(raw: str) -> str:
    """The normalized name, or IdentityError(field="name")."""
    name = normalize_name(raw)
    if not name:
        raise IdentityError("name", N_("请输入姓名"))
    if not NAME_MIN_LENGTH <= len(name) <= NAME_MAX_LENGTH:
        raise IdentityError("name", N_("姓名应为2至30个字符"))
    if not _NAME_CHARACTERS.fullmatch(name):
        raise IdentityError("name", N_("姓名只能包含汉字、间隔号“·”和英文字母"))
    if _MISPLACED_MIDDLE_DOT.search(name):
        raise IdentityError("name", N_("间隔号“·”只能用在姓名的两部分之间"))
    return name
