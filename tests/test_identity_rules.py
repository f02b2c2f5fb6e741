"""Identity rules as plain functions: exact outcomes for every case, no database."""

from datetime import date

import pytest

from webapp.identity.rules import (
    IdentityError,
    ValidityPeriod,
    birth_date,
    check_validity,
    compute_valid_to,
    expected_period,
    normalize_id_number,
    validate_id_number,
    validate_name,
)

TODAY = date(2025, 6, 1)

FIVE = ValidityPeriod.FIVE
TEN = ValidityPeriod.TEN
TWENTY = ValidityPeriod.TWENTY
LONG_TERM = ValidityPeriod.LONG_TERM

WRONG_SHAPE = "身份证号应为18位，由17位数字和1位数字或X组成"
WRONG_CHECK_DIGIT = "身份证号校验位不正确"
UNKNOWN_REGION = "身份证号前6位地区码不存在"
INVALID_BIRTH_DATE = "身份证号中的出生日期不正确"
FUTURE_BIRTH_DATE = "身份证号中的出生日期晚于今天"
START_IN_FUTURE = "有效期开始日期不能晚于今天"
START_BEFORE_BIRTH = "有效期开始日期不能早于出生日期"
EXPIRED = "身份证已过期，请使用有效期内的身份证；如已换领新证，请填写新证的有效期"
SHOULD_BE_FIVE = "按有效期开始日期时的年龄，有效期应为5年"
SHOULD_BE_TEN = "按有效期开始日期时的年龄，有效期应为10年"
SHOULD_BE_TWENTY = "按有效期开始日期时的年龄，有效期应为20年"
SHOULD_BE_LONG_TERM = "按有效期开始日期时的年龄，有效期应为长期有效"


def _mod_11_2_check_digit(first_17: str) -> str:
    """GB 11643 check digit written out independently of stdnum, to vouch for the literals below."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    remainder = (
        12 - sum(int(digit) * weight for digit, weight in zip(first_17, weights, strict=True)) % 11
    ) % 11
    return "X" if remainder == 10 else str(remainder)


# Every number here carries a correct check digit, so each refusal comes from the rule under test.
WELL_FORMED_NUMBERS = [
    "11010519491231002X",
    "440305196001010014",
    "110110199501010018",
    "110103199501010014",
    "440300199001010016",
    "810000199001010019",
    "820000199001010010",
    "830000199001010012",
    "710000199001010015",
    "990000199001010017",
    "440399199001010018",
    "110105200002290013",
    "110105190002290017",
    "110105199902290013",
    "110105199913010013",
    "11010520300101001X",
    "110105189912310015",
    "11010519000101001X",
    "110105202506010010",
    "110105202506020016",
    "110105200903010015",
    "11010519990301001X",
    "110105197903010010",
    "11010519900505001X",
    "110105195001010012",
]


@pytest.mark.parametrize("number", WELL_FORMED_NUMBERS)
def test_literal_numbers_carry_a_correct_check_digit(number):
    assert number[-1] == _mod_11_2_check_digit(number[:17])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002X", "11010519491231002X"),  # GB 11643's own example, check digit X
        ("11010519491231002x", "11010519491231002X"),  # lower-case x
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),  # full-width digits and X
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),  # full-width lower-case x
        ("1101\u200b0519\u200c4912\u200d3100\ufeff2\u2060X", "11010519491231002X"),  # zero-width characters
        (" 110105 19491231 002X\n", "11010519491231002X"),  # spaces and a newline
        ("110105\u30001949\t1231002X", "11010519491231002X"),  # ideographic space, tab
        ("440305196001010014", "440305196001010014"),  # Shenzhen Nanshan code (1983-) with a 1960 birth date
        ("110110199501010018", "110110199501010018"),  # Yanshan district: only in editions up to 1986
        ("110103199501010014", "110103199501010014"),  # Chongwen district: only in editions up to 2010
        ("440300199001010016", "440300199001010016"),  # prefecture-level code
        ("810000199001010019", "810000199001010019"),  # Hong Kong residence permit
        ("820000199001010010", "820000199001010010"),  # Macao residence permit
        ("830000199001010012", "830000199001010012"),  # Taiwan residence permit (no GB/T 2260 entry)
        ("710000199001010015", "710000199001010015"),  # Taiwan province code
        ("110105200002290013", "110105200002290013"),  # 29 February of a leap year
        ("11010519000101001X", "11010519000101001X"),  # earliest accepted birth date
        ("110105202506010010", "110105202506010010"),  # born today
    ],
)
def test_valid_id_numbers(raw, expected):
    assert validate_id_number(raw, TODAY) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "请输入身份证号"),
        (" \u200b ", "请输入身份证号"),
        ("11010519491231002", WRONG_SHAPE),  # 17 characters
        ("11010519491231002X0", WRONG_SHAPE),  # 19 characters
        ("110105194912310", WRONG_SHAPE),  # an old 15-digit number
        ("1101051949123100X2", WRONG_SHAPE),  # X not in last place
        ("11010519491231002Y", WRONG_SHAPE),
        ("110105-19491231-002X", WRONG_SHAPE),
        ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", WRONG_SHAPE),  # Arabic-Indic digits are not ASCII digits
        ("110105194912310021", WRONG_CHECK_DIGIT),
        ("110105194912310020", WRONG_CHECK_DIGIT),
        ("440305196001010015", WRONG_CHECK_DIGIT),
        ("990000199001010017", UNKNOWN_REGION),
        ("440399199001010018", UNKNOWN_REGION),  # province exists, county code never did
        ("110105190002290017", INVALID_BIRTH_DATE),  # 1900 was not a leap year
        ("110105199902290013", INVALID_BIRTH_DATE),
        ("110105199913010013", INVALID_BIRTH_DATE),  # month 13
        ("110105189912310015", INVALID_BIRTH_DATE),  # before 1900
        ("110105202506020016", FUTURE_BIRTH_DATE),  # born tomorrow
        ("11010520300101001X", FUTURE_BIRTH_DATE),
    ],
)
def test_refused_id_numbers(raw, message):
    with pytest.raises(IdentityError) as refused:
        validate_id_number(raw, TODAY)
    assert (refused.value.field, refused.value.message) == ("id_number", message)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),
        ("\ufeff11010519491231002X\u2060", "11010519491231002X"),
        ("abc x", "abcX"),  # only the trailing x is upper-cased
    ],
)
def test_normalize_id_number(raw, expected):
    assert normalize_id_number(raw) == expected


@pytest.mark.parametrize(
    ("id_number", "expected"),
    [
        ("11010519491231002X", date(1949, 12, 31)),
        ("110105200002290013", date(2000, 2, 29)),
    ],
)
def test_birth_date(id_number, expected):
    assert birth_date(id_number) == expected


@pytest.mark.parametrize(
    ("valid_from", "period", "expected"),
    [
        (date(2009, 2, 6), TEN, date(2019, 2, 6)),
        (date(2020, 7, 15), FIVE, date(2025, 7, 15)),
        (date(2010, 1, 31), TWENTY, date(2030, 1, 31)),
        (date(2008, 2, 29), FIVE, date(2013, 2, 28)),  # leap day into a common year
        (date(2016, 2, 29), TEN, date(2026, 2, 28)),
        (date(2004, 2, 29), TWENTY, date(2024, 2, 29)),  # leap day into a leap year
        (date(2009, 2, 6), LONG_TERM, None),
    ],
)
def test_compute_valid_to(valid_from, period, expected):
    assert compute_valid_to(valid_from, period) == expected


@pytest.mark.parametrize(
    ("valid_from", "expected"),
    [
        (date(2015, 2, 28), FIVE),  # born 1999-03-01: 15
        (date(2015, 3, 1), TEN),  # 16th birthday
        (date(2025, 2, 28), TEN),  # 25
        (date(2025, 3, 1), TWENTY),  # 26th birthday
        (date(2045, 2, 28), TWENTY),  # 45
        (date(2045, 3, 1), LONG_TERM),  # 46th birthday
    ],
)
def test_expected_period_by_age_at_start(valid_from, expected):
    assert expected_period(date(1999, 3, 1), valid_from) == expected


def test_leap_day_birth_reaches_an_age_boundary_on_28_february_of_a_common_year():
    assert expected_period(date(1996, 2, 29), date(2022, 2, 28)) == TWENTY
    assert expected_period(date(1996, 2, 29), date(2022, 2, 27)) == TEN


# Holders who reach 16, 26 and 46 on 2025-03-01; the grace covers 2025-03-01 .. 2025-05-30 (90 days).
TURNS_16 = "110105200903010015"
TURNS_26 = "11010519990301001X"
TURNS_46 = "110105197903010010"


@pytest.mark.parametrize(
    ("id_number", "valid_from", "period", "expected"),
    [
        (TURNS_16, date(2025, 2, 28), FIVE, date(2030, 2, 28)),  # 15
        (TURNS_16, date(2025, 3, 1), TEN, date(2035, 3, 1)),  # 16
        (TURNS_16, date(2025, 3, 1), FIVE, date(2030, 3, 1)),  # grace day 0
        (TURNS_16, date(2025, 5, 30), FIVE, date(2030, 5, 30)),  # grace day 90
        (TURNS_26, date(2025, 2, 28), TEN, date(2035, 2, 28)),  # 25
        (TURNS_26, date(2025, 3, 1), TWENTY, date(2045, 3, 1)),  # 26
        (TURNS_26, date(2025, 5, 30), TEN, date(2035, 5, 30)),  # grace day 90
        (TURNS_46, date(2025, 2, 28), TWENTY, date(2045, 2, 28)),  # 45
        (TURNS_46, date(2025, 3, 1), LONG_TERM, None),  # 46
        (TURNS_46, date(2025, 5, 30), TWENTY, date(2045, 5, 30)),  # grace day 90
        ("11010519900505001X", date(2015, 6, 1), TEN, date(2025, 6, 1)),  # ends today: still valid
        ("110105195001010012", date(2000, 1, 1), LONG_TERM, None),  # long-term never expires
        ("110105202506010010", date(2025, 6, 1), FIVE, date(2030, 6, 1)),  # card from the day of birth
    ],
)
def test_accepted_validity(id_number, valid_from, period, expected):
    assert check_validity(id_number, valid_from, period, TODAY) == expected


def test_long_term_card_is_valid_a_century_later():
    assert check_validity("110105195001010012", date(2000, 1, 1), LONG_TERM, date(2125, 1, 1)) is None


@pytest.mark.parametrize(
    ("id_number", "valid_from", "period", "field", "message"),
    [
        (TURNS_16, date(2025, 2, 28), TEN, "period", SHOULD_BE_FIVE),  # 15: no grace before a boundary
        (TURNS_16, date(2025, 5, 31), FIVE, "period", SHOULD_BE_TEN),  # grace day 91
        (TURNS_16, date(2025, 3, 1), TWENTY, "period", SHOULD_BE_TEN),
        (TURNS_26, date(2025, 2, 28), TWENTY, "period", SHOULD_BE_TEN),
        (TURNS_26, date(2025, 5, 31), TEN, "period", SHOULD_BE_TWENTY),  # grace day 91
        (TURNS_26, date(2025, 3, 1), FIVE, "period", SHOULD_BE_TWENTY),  # grace reaches one bracket down only
        (TURNS_46, date(2025, 2, 28), LONG_TERM, "period", SHOULD_BE_TWENTY),
        (TURNS_46, date(2025, 5, 31), TWENTY, "period", SHOULD_BE_LONG_TERM),  # grace day 91
        (TURNS_46, date(2025, 6, 2), LONG_TERM, "valid_from", START_IN_FUTURE),
        (TURNS_16, date(2009, 2, 28), FIVE, "valid_from", START_BEFORE_BIRTH),
        ("11010519900505001X", date(2010, 5, 5), TEN, "valid_from", EXPIRED),
        ("11010519900505001X", date(2015, 5, 31), TEN, "valid_from", EXPIRED),  # ended yesterday
    ],
)
def test_refused_validity(id_number, valid_from, period, field, message):
    with pytest.raises(IdentityError) as refused:
        check_validity(id_number, valid_from, period, TODAY)
    assert (refused.value.field, refused.value.message) == (field, message)


def test_grace_days_is_a_parameter():
    with pytest.raises(IdentityError) as refused:
        check_validity(TURNS_26, date(2025, 3, 2), TEN, TODAY, grace_days=0)
    assert refused.value.message == SHOULD_BE_TWENTY


@pytest.mark.parametrize(
    ("period", "label"),
    [(FIVE, "5年"), (TEN, "10年"), (TWENTY, "20年"), (LONG_TERM, "长期有效")],
)
def test_period_labels(period, label):
    assert period.label == label


def test_period_values_are_form_values():
    assert [period.value for period in ValidityPeriod] == ["5y", "10y", "20y", "long"]
    assert ValidityPeriod("10y") is TEN


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", "张三"),
        ("  张三 ", "张三"),
        ("张\u200b三\ufeff", "张三"),
        ("张 三", "张三"),
        ("欧阳\u3000娜娜", "欧阳娜娜"),
        ("欧阳娜娜", "欧阳娜娜"),
        ("刘䶮", "刘䶮"),  # CJK extension A
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),  # U+2022 bullet
        ("阿依古丽・买买提", "阿依古丽·买买提"),  # U+30FB katakana middle dot
        ("阿依古丽･买买提", "阿依古丽·买买提"),  # U+FF65 half-width katakana middle dot
        ("阿依古丽 · 买买提", "阿依古丽·买买提"),
        ("John Smith", "John Smith"),
        ("JOHN   SMITH", "JOHN SMITH"),
        ("ＪＯＨＮ　ＳＭＩＴＨ", "JOHN SMITH"),  # full-width letters and ideographic space
        ("Li", "Li"),
        ("张" * 30, "张" * 30),
    ],
)
def test_valid_names(raw, expected):
    assert validate_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "请输入姓名"),
        (" \u200b ", "请输入姓名"),
        ("张", "姓名应为2至30个字符"),
        ("张" * 31, "姓名应为2至30个字符"),
        ("张三1", "姓名只能包含汉字、间隔号“·”和英文字母"),
        ("张三３", "姓名只能包含汉字、间隔号“·”和英文字母"),  # full-width digit
        ("<b>张三</b>", "姓名只能包含汉字、间隔号“·”和英文字母"),
        ("张三!", "姓名只能包含汉字、间隔号“·”和英文字母"),
        ("O'Brien", "姓名只能包含汉字、间隔号“·”和英文字母"),
        ("김철수", "姓名只能包含汉字、间隔号“·”和英文字母"),
        ("·张三", "间隔号“·”只能用在姓名的两部分之间"),
        ("张三·", "间隔号“·”只能用在姓名的两部分之间"),
        ("阿依古丽··买买提", "间隔号“·”只能用在姓名的两部分之间"),
    ],
)
def test_refused_names(raw, message):
    with pytest.raises(IdentityError) as refused:
        validate_name(raw)
    assert (refused.value.field, refused.value.message) == ("name", message)
