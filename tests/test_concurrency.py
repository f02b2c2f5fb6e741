"""Promises under concurrency, on both engines: one account per ID, one owner per phone, single-use codes."""

from __future__ import annotations

import asyncio

import pytest

from tests import factories
from tests.conftest import runtime_with
from webapp import audit
from webapp.accounts.outcomes import Refusal
from webapp.accounts.registration import Registration, register
from webapp.accounts.service import AccountExists, change_phone
from webapp.accounts.tables import Account
from webapp.sms.codes import CodeCheck, Purpose, send_code, verify_code

pytestmark = pytest.mark.usefixtures("database")


async def test_fifty_parallel_registrations_of_one_id_make_one_account(rt, smtp_sink):
    roomy = runtime_with(rt, sms_per_ip_hour=100, lookup_per_ip_hour=100)
    record = await factories.citizen(roomy, "陈同时")
    phones = [factories.phone() for _ in range(50)]
    for phone in phones:
        assert (await send_code(roomy, phone, Purpose.REGISTER, factories.ORIGIN)).sent
    attempts = [
        Registration(
            record.name,
            record.id_number,
            record.valid_from,
            record.valid_to,
            phone,
            smtp_sink.code_for(phone),
            "Same-time-77",
        )
        for phone in phones
    ]
    results = await asyncio.gather(
        *(register(roomy, attempt, audit.Origin(ip=f"198.51.100.{i}")) for i, attempt in enumerate(attempts))
    )
    created = [result.value for result in results if result.value is not None]
    refusals = [result.refusal for result in results if result.value is None]
    assert len(created) == 1 and len(refusals) == 49
    assert all(refusal is Refusal.ALREADY_REGISTERED for refusal in refusals)
    assert await Account.count() == 1


async def test_two_accounts_moving_to_one_new_phone_one_wins(rt):
    first, *_ = await factories.account(rt, "甲")
    second, *_ = await factories.account(rt, "乙")
    target = factories.phone()
    results = await asyncio.gather(
        change_phone(rt, first, target, factories.ORIGIN),
        change_phone(rt, second, target, factories.ORIGIN),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["AccountExists", "str"]
    assert await Account.count().where(Account.phone_index == rt.phone_index(target)) == 1
    assert isinstance(next(r for r in results if not isinstance(r, str)), AccountExists)


async def test_one_code_submitted_ten_times_in_parallel_is_accepted_once(rt, smtp_sink):
    phone = factories.phone()
    await send_code(rt, phone, Purpose.REGISTER, factories.ORIGIN)
    code = smtp_sink.code_for(phone)
    outcomes = await asyncio.gather(
        *(verify_code(rt, phone, Purpose.REGISTER, code, factories.ORIGIN) for _ in range(10))
    )
    assert outcomes.count(CodeCheck.OK) == 1 and outcomes.count(CodeCheck.MISSING) == 9
