"""Valid test identities: ID numbers with correct check digits, fresh phone numbers."""

from __future__ import annotations

import itertools
from datetime import date

from stdnum.iso7064 import mod_11_2

from webapp import audit
from webapp.accounts.service import NewAccount, create_account
from webapp.identity.registry import CitizenRecord, upsert_citizen
from webapp.identity.rules import ValidityPeriod, compute_valid_to

_sequence = itertools.count(100)
ORIGIN = audit.Origin(ip="198.51.100.20", user_agent="pytest")
PASSWORD = "Correct-horse-9"


def id_number(birth: date = date(1990, 5, 17), region: str = "110105") -> str:
    body = f"{region}{birth:%Y%m%d}{next(_sequence) % 1000:03d}"
    return body + mod_11_2.calc_check_digit(body)


def phone() -> str:
    return f"139{next(_sequence):08d}"


def person(name: str = "张三", birth: date = date(1990, 5, 17)) -> CitizenRecord:
    valid_from = date(2018, 6, 1)
    return CitizenRecord(
        name, id_number(birth), valid_from, compute_valid_to(valid_from, ValidityPeriod.TWENTY)
    )


async def citizen(rt, name: str = "张三", photo: bytes | None = None) -> CitizenRecord:
    record = person(name)
    if photo:
        record = CitizenRecord(record.name, record.id_number, record.valid_from, record.valid_to, photo)
    await upsert_citizen(rt, record)
    return record


async def account(rt, name: str = "张三", password: str | None = PASSWORD) -> tuple[int, CitizenRecord, str]:
    record = await citizen(rt, name)
    mobile = phone()
    new = NewAccount(record.name, record.id_number, record.valid_from, record.valid_to, mobile, password)
    return await create_account(rt, new, ORIGIN), record, mobile


def registration_form(
    record: CitizenRecord, phone: str, code: str = "", password: str = "Good-pass-42"
) -> dict:
    """The fields of 注册 as the page posts them (20-year card)."""
    return {
        "name": record.name,
        "id_number": record.id_number,
        "valid_from": record.valid_from.isoformat(),
        "period": "20y",
        "phone": phone,
        "code": code,
        "password": password,
        "password2": password,
    }
