"""Business registration rules and service: who sees which filing, and decisions under concurrency."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest

from tests import factories
from tests.support.business import FACE, days, new_filing, register, set_level
from tests.test_data_at_rest import _raw_database_bytes
from webapp.accounts.tables import Account
from webapp.business import rules
from webapp.business.rules import FilingInvalid, validate_filing
from webapp.business.service import (
    FaceEvidence,
    Refusal,
    decide,
    filing_detail_for_account,
    filings_for_account,
    set_business_registration,
)
from webapp.business.tables import Filing, FilingPerson
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")
ORIGIN = factories.ORIGIN
TODAY = date(2026, 3, 2)  # the frozen clock's day in Shanghai


# --- rules (no database) ----------------------------------------------------------------------------


def problems(company="北京示例科技有限公司", kind="establish", persons=None):
    person = factories.person("李雷")
    persons = (
        persons
        if persons is not None
        else [{"name": "李雷", "id_number": person.id_number, "role": "director"}]
    )
    try:
        validate_filing(company, kind, persons, TODAY)
    except FilingInvalid as invalid:
        return [(p.field, p.message) for p in invalid.problems]
    return []


def test_a_valid_filing_is_normalised():
    raw_id = factories.id_number()
    filing = validate_filing(
        "  北京示例科技有限公司（分公司）  ",
        "change",
        [
            {
                "name": "欧阳 明月",
                "id_number": raw_id[:-1] + raw_id[-1].lower(),
                "role": "legal_representative",
            }
        ],
        TODAY,
    )
    assert filing.company_name == "北京示例科技有限公司（分公司）"  # full-width brackets kept
    assert filing.persons[0].name == "欧阳明月" and filing.persons[0].id_number == raw_id.upper()


def test_each_problem_names_its_field():
    good = factories.person("韩梅梅")
    bad_digit = good.id_number[:-1] + ("0" if good.id_number[-1] != "0" else "1")
    assert problems(company="") == [("company_name", "请输入企业名称")]
    assert problems(company="A") == [("company_name", "企业名称应为2至100个字符")]
    assert problems(company="北京\u200b科技") == [("company_name", "企业名称包含不允许的字符")]
    assert problems(company="北京\x00科技") == [("company_name", "企业名称包含不允许的字符")]
    assert problems(kind="设立")[0][0] == "kind"
    assert problems(persons=[]) == [("persons", "请至少列出一名人员")]
    assert problems(persons=[{}] * 51) == [("persons", "人员不能超过50名")]
    assert problems(persons=[{"name": "韩梅梅", "id_number": bad_digit, "role": "director"}]) == [
        ("persons[0].id_number", "身份证号校验位不正确")
    ]
    assert problems(persons=[{"name": "X", "id_number": good.id_number, "role": "boss"}]) == [
        ("persons[0].name", "姓名应为2至30个字符"),
        ("persons[0].role", rules.MESSAGES["role"]),
    ]
    twice = {"name": "韩梅梅", "id_number": good.id_number, "role": "director"}
    assert problems(persons=[twice, {**twice, "role": "shareholder"}]) == [
        ("persons[1].id_number", "同一申请中身份证号不能重复")
    ]
    assert problems(persons=[{"name": "韩梅梅", "id_number": "1" * 500, "role": "director"}]) == [
        ("persons[0].id_number", "身份证号应为18位，由17位数字和1位数字或X组成")
    ]


def test_filing_status_rule():
    assert rules.filing_status(["pending", "confirmed"]) == "pending"
    assert rules.filing_status(["confirmed", "confirmed"]) == "confirmed"
    assert rules.filing_status(["confirmed", "declined", "pending"]) == "declined"


def test_end_date_rules():
    assert rules.default_business_until(TODAY) == date(2026, 5, 31)
    assert rules.business_until_problem(date(2026, 3, 1), TODAY) == "until_in_past"
    assert rules.business_until_problem(TODAY, TODAY) is None
    assert rules.business_until_problem(date(2027, 3, 2), TODAY) is None
    assert rules.business_until_problem(date(2027, 3, 3), TODAY) == "until_too_far"


# --- seeing filings ---------------------------------------------------------------------------------


async def test_a_filing_made_before_registration_is_found_after_it(rt):
    zhang, li = factories.person("张伟"), factories.person("李娜")
    reference = await new_filing(rt, (zhang, "legal_representative"), (li, "shareholder"))
    account_id = await register(rt, zhang)
    [summary] = await filings_for_account(rt, account_id)
    assert (summary.reference, summary.my_role, summary.my_role_label) == (
        reference,
        "legal_representative",
        "法定代表人",
    )
    assert summary.needs_action and summary.kind_label == "设立"
    detail = await filing_detail_for_account(rt, account_id, reference)
    assert [(p.name, p.role, p.status, p.is_me) for p in detail.persons] == [
        ("*伟", "legal_representative", "pending", True),
        ("*娜", "shareholder", "pending", False),
    ]
    assert detail.name_matches
    other = await register(rt, factories.person("王芳"))
    assert await filings_for_account(rt, other) == []
    assert await filing_detail_for_account(rt, other, reference) is None
    assert await filing_detail_for_account(rt, account_id, "F0000") is None
    assert await filing_detail_for_account(rt, account_id, "F" * 500) is None


async def test_filings_stay_hidden_below_level_4_with_the_switch_off_or_past_the_end_date(rt, clock):
    person = factories.person("赵敏")
    reference = await new_filing(rt, (person, "director"))
    account_id = await register(rt, person, level=3, business=False)
    assert await filings_for_account(rt, account_id) == []

    result = await set_business_registration(rt, account_id, True, None, ORIGIN)
    assert result.refusal is Refusal.NEEDS_LEVEL_4
    row = await Account.select().where(Account.id == account_id).first()
    assert row["business_registration"] is False and row["business_until"] is None

    await set_level(account_id, 4)
    assert await filings_for_account(rt, account_id) == []  # still 否
    assert (await set_business_registration(rt, account_id, True, TODAY + days(10), ORIGIN)).ok
    assert len(await filings_for_account(rt, account_id)) == 1

    clock.advance(days=11)  # past the end date
    assert await filings_for_account(rt, account_id) == []
    assert await filing_detail_for_account(rt, account_id, reference) is None
    assert (
        await decide(rt, account_id, reference, "confirm", FACE, ORIGIN)
    ).refusal is Refusal.BUSINESS_EXPIRED

    clock.advance(days=-11)
    assert (await set_business_registration(rt, account_id, False, None, ORIGIN)).ok
    assert await filings_for_account(rt, account_id) == []
    assert (await decide(rt, account_id, reference, "confirm", FACE, ORIGIN)).refusal is Refusal.BUSINESS_OFF
    assert await FilingPerson.select(FilingPerson.status).first() == {"status": "pending"}


async def test_the_switch_end_date_default_and_bounds(rt, clock):
    account_id = await register(rt, factories.person("孙俪"), business=False)
    result = await set_business_registration(rt, account_id, True, None, ORIGIN)
    assert result.ok and result.until == TODAY + days(90)
    assert (await set_business_registration(rt, account_id, True, TODAY - days(1), ORIGIN)).refusal is (
        Refusal.UNTIL_IN_PAST
    )
    assert (await set_business_registration(rt, account_id, True, date(2027, 3, 3), ORIGIN)).refusal is (
        Refusal.UNTIL_TOO_FAR
    )
    assert (await set_business_registration(rt, account_id, True, date(2027, 3, 2), ORIGIN)).ok
    row = await Account.select().where(Account.id == account_id).first()
    assert row["business_registration"] is True and row["business_until"] == date(2027, 3, 2)
    events = await AuditEvent.select(AuditEvent.detail).where(
        AuditEvent.event == "business_registration_changed"
    )
    assert [json.loads(e["detail"]) for e in events][-1] == {"enabled": True, "until": "2027-03-02"}


# --- deciding ---------------------------------------------------------------------------------------


async def test_confirmed_only_after_the_last_person_confirms(rt):
    a, b, c = factories.person("周杰"), factories.person("吴磊"), factories.person("郑爽")
    reference = await new_filing(rt, (a, "legal_representative"), (b, "shareholder"), (c, "supervisor"))
    ids = [await register(rt, p) for p in (a, b, c)]
    first = await decide(rt, ids[0], reference, "confirm", FACE, ORIGIN)
    assert first.ok and (first.filing_status, first.person_status) == ("pending", "confirmed")
    assert (await decide(rt, ids[1], reference, "confirm", FACE, ORIGIN)).filing_status == "pending"
    last = await decide(rt, ids[2], reference, "confirm", FACE, ORIGIN)
    assert last.filing_status == "confirmed"
    assert (await Filing.select(Filing.status).first())["status"] == "confirmed"
    row = await FilingPerson.select().where(FilingPerson.account == ids[0]).first()
    assert row["decided_ip"] == ORIGIN.ip and row["decided_user_agent"] == ORIGIN.user_agent
    assert row["decided_at"] == rt.clock.now() and row["face_distance"] == pytest.approx(0.31)
    assert json.loads(row["face_figures"]) == FACE.figures
    again = await decide(rt, ids[0], reference, "decline", FACE, ORIGIN)
    assert again.refusal is Refusal.ALREADY_DECIDED


async def test_one_decline_declines_the_filing_and_closes_it(rt):
    a, b = factories.person("冯巩"), factories.person("陈红")
    reference = await new_filing(rt, (a, "director"), (b, "manager"))
    ida, idb = await register(rt, a), await register(rt, b)
    declined = await decide(rt, ida, reference, "decline", FACE, ORIGIN)
    assert declined.ok and declined.filing_status == "declined"
    late = await decide(rt, idb, reference, "confirm", FACE, ORIGIN)
    assert late.refusal is Refusal.FILING_CLOSED
    detail = await filing_detail_for_account(rt, idb, reference)
    assert detail.status == "declined" and detail.my_status == "pending" and not detail.needs_action


async def test_each_refusal(rt):
    person, stranger = factories.person("杨幂"), factories.person("刘诗")
    reference = await new_filing(rt, (person, "liaison"))
    account_id = await register(rt, person)
    outsider = await register(rt, stranger)
    assert (
        await decide(rt, account_id, reference, "approve", FACE, ORIGIN)
    ).refusal is Refusal.INVALID_DECISION
    assert (await decide(rt, outsider, reference, "confirm", FACE, ORIGIN)).refusal is Refusal.NOT_NAMED
    assert (await decide(rt, account_id, "F404", "confirm", FACE, ORIGIN)).refusal is Refusal.NOT_NAMED
    assert (await decide(rt, account_id, "x" * 999, "confirm", FACE, ORIGIN)).refusal is Refusal.NOT_NAMED
    assert (await decide(rt, 999999, reference, "confirm", FACE, ORIGIN)).refusal is Refusal.ACCOUNT_INACTIVE
    for distance in (0.51, float("nan"), float("inf"), -1.0, "0.1x", None):
        far = await decide(rt, account_id, reference, "confirm", FaceEvidence(distance, {}), ORIGIN)
        assert far.refusal is Refusal.FACE_NOT_MATCHED
    await set_level(account_id, 3)  # e.g. face consent withdrawn meanwhile
    assert (await decide(rt, account_id, reference, "confirm", FACE, ORIGIN)).refusal is Refusal.NEEDS_LEVEL_4
    await Account.update({Account.state: "disabled"}).where(Account.id == account_id)
    assert (await decide(rt, account_id, reference, "confirm", FACE, ORIGIN)).refusal is (
        Refusal.ACCOUNT_INACTIVE
    )
    assert await FilingPerson.count().where(FilingPerson.status != "pending") == 0
    refused = await AuditEvent.count().where(AuditEvent.event == "filing_decision_refused")
    assert refused == 13


async def test_a_name_that_differs_from_the_verified_name_can_be_declined_not_confirmed(rt):
    person = factories.person("林青霞")
    misnamed = factories.CitizenRecord("林清霞", person.id_number, person.valid_from, person.valid_to)
    reference = await new_filing(rt, (misnamed, "agent"))
    account_id = await register(rt, person)
    detail = await filing_detail_for_account(rt, account_id, reference)
    assert detail is not None and not detail.name_matches
    assert (await decide(rt, account_id, reference, "confirm", FACE, ORIGIN)).refusal is Refusal.NAME_MISMATCH
    assert (await decide(rt, account_id, reference, "decline", FACE, ORIGIN)).filing_status == "declined"


async def test_two_people_confirming_at_the_same_moment_leave_it_confirmed(rt):
    a, b = factories.person("黄渤"), factories.person("徐峥")
    reference = await new_filing(rt, (a, "shareholder"), (b, "shareholder"))
    ida, idb = await register(rt, a), await register(rt, b)
    results = await asyncio.gather(
        decide(rt, ida, reference, "confirm", FACE, ORIGIN),
        decide(rt, idb, reference, "confirm", FACE, ORIGIN),
    )
    assert all(r.ok for r in results)
    assert sorted(r.filing_status for r in results) == ["confirmed", "pending"]
    filing = await Filing.select().first()
    assert filing["status"] == "confirmed"
    assert [p["status"] for p in await FilingPerson.select(FilingPerson.status)] == ["confirmed", "confirmed"]


async def test_a_confirm_and_a_decline_at_the_same_moment_leave_it_declined(rt):
    a, b = factories.person("邓超"), factories.person("孙红")
    reference = await new_filing(rt, (a, "director"), (b, "director"))
    ida, idb = await register(rt, a), await register(rt, b)
    confirm, decline = await asyncio.gather(
        decide(rt, ida, reference, "confirm", FACE, ORIGIN),
        decide(rt, idb, reference, "decline", FACE, ORIGIN),
    )
    assert decline.ok and decline.filing_status == "declined"
    assert (await Filing.select(Filing.status).first())["status"] == "declined"
    a_row, b_row = await FilingPerson.select(FilingPerson.status).order_by(FilingPerson.id)
    assert b_row["status"] == "declined"
    # The confirm either came first and is recorded, or came second and is refused: never lost, never
    # recorded on a closed filing.
    if confirm.ok:
        assert a_row["status"] == "confirmed"
    else:
        assert confirm.refusal is Refusal.FILING_CLOSED and a_row["status"] == "pending"


async def test_parallel_confirmations_by_one_person_are_recorded_once(rt):
    a, b = factories.person("王宝"), factories.person("刘德")
    reference = await new_filing(rt, (a, "legal_representative"), (b, "shareholder"))
    ida = await register(rt, a)
    results = await asyncio.gather(*(decide(rt, ida, reference, "confirm", FACE, ORIGIN) for _ in range(5)))
    assert sum(r.ok for r in results) == 1
    assert {r.refusal for r in results if not r.ok} == {Refusal.ALREADY_DECIDED}
    assert await AuditEvent.count().where(AuditEvent.event == "filing_confirmed") == 1
    changes = await Filing.select(Filing.change_seq).first()
    assert changes["change_seq"] == 2  # created, then one decision


async def test_audit_entries_carry_the_decision_not_the_person(rt):
    person = factories.person("欧阳娜娜")
    reference = await new_filing(rt, (person, "finance_officer"))
    account_id = await register(rt, person)
    await decide(rt, account_id, reference, "confirm", FACE, ORIGIN)
    created = await AuditEvent.select().where(AuditEvent.event == "filing_created").first()
    assert json.loads(created["detail"]) == {
        "api_key_id": None,
        "filing": reference,
        "kind": "establish",
        "persons": 1,
    }
    confirmed = await AuditEvent.select().where(AuditEvent.event == "filing_confirmed").first()
    detail = json.loads(confirmed["detail"])
    assert confirmed["account_id"] == account_id and confirmed["ip"] == ORIGIN.ip
    assert detail == {
        "face_distance": 0.31,
        "face_figures": FACE.figures,
        "filing": reference,
        "filing_status": "confirmed",
        "role": "finance_officer",
    }
    every_detail = " ".join(e["detail"] for e in await AuditEvent.select(AuditEvent.detail))
    assert person.id_number not in every_detail and person.name not in every_detail


async def test_named_persons_are_encrypted_at_rest(rt, database):
    person = factories.person("司马相如")
    await new_filing(rt, (person, "agent"), company="杭州示例网络有限公司")
    raw = await _raw_database_bytes(database)
    assert "杭州示例网络有限公司".encode() in raw  # company names are public
    for secret in (person.id_number, person.name, person.id_number[6:14]):
        assert secret.encode() not in raw
    row = await FilingPerson.select().first()
    assert rt.keyring.decrypt_text(row["id_number"], "filing_person.id_number") == person.id_number
    assert row["id_index"] == rt.id_index(person.id_number)


async def test_references_count_per_shanghai_day(rt, clock):
    a = factories.person("钱学")
    first = await new_filing(rt, (a, "director"))
    second = await new_filing(rt, (a, "director"))
    assert (first, second) == ("F2026030200001", "F2026030200002")
    clock.set_shanghai(2026, 3, 3, 0, 5)
    assert await new_filing(rt, (a, "director")) == "F2026030300001"
