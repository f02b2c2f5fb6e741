"""Helpers for the business-registration tests: accounts at a given level with 是 chosen, filings."""

from __future__ import annotations

from datetime import timedelta

from tests import factories
from webapp.accounts.service import NewAccount, create_account
from webapp.accounts.tables import Account
from webapp.business.rules import validate_filing
from webapp.business.service import FaceEvidence, create_filing, set_business_registration
from webapp.identity.registry import CitizenRecord, upsert_citizen

FACE = FaceEvidence(distance=0.31, figures={"blinks": 1, "mouth_open": 0.62, "yaw_range": 0.18})


async def register(rt, record: CitizenRecord, level: int = 4, business: bool = True) -> int:
    """An active account for this citizen, at this level, with 是 (90 days) when business is set."""
    await upsert_citizen(rt, record)
    new = NewAccount(
        record.name,
        record.id_number,
        record.valid_from,
        record.valid_to,
        factories.phone(),
        factories.PASSWORD,
    )
    account_id = await create_account(rt, new, factories.ORIGIN)
    await set_level(account_id, level)
    if business:
        result = await set_business_registration(rt, account_id, True, None, factories.ORIGIN)
        assert result.ok, result
    return account_id


async def set_level(account_id: int, level: int) -> None:
    await Account.update({Account.level: level}).where(Account.id == account_id)


async def new_filing(
    rt,
    *people: tuple[CitizenRecord, str],
    company: str = "上海示例贸易有限公司",
    kind: str = "establish",
    key: str | None = None,
    api_key_id: int | None = None,
) -> str:
    persons = [{"name": p.name, "id_number": p.id_number, "role": role} for p, role in people]
    filing = validate_filing(company, kind, persons, rt.clock.today())
    reference, created = await create_filing(
        rt, filing, factories.ORIGIN, api_key_id=api_key_id, idempotency_key=key
    )
    assert created
    return reference


def days(n: int) -> timedelta:
    return timedelta(days=n)
