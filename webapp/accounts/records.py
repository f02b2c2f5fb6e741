"""An account row as a typed record: read through these functions, an account is ``account.level``, not
``row["level"]``; its state and first-login guide are enums."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from piccolo.custom_types import Combinable

from webapp.accounts.outcomes import AccountState, Level4Offer
from webapp.accounts.tables import Account


@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: int
    id_index: str
    id_number: bytes  # encrypted, like name and phone
    name: bytes
    phone_index: str
    phone: bytes
    username: str | None
    username_key: str | None
    password_hash: str | None
    state: AccountState
    level: int
    valid_from: date
    valid_to: date | None
    source_province: str
    face_consent_at: datetime | None
    face_template: bytes | None
    business_registration: bool
    business_until: date | None
    level4_offer: Level4Offer
    created_at: datetime
    updated_at: datetime
    deletion_due_at: datetime | None  # 注销账号 requested: signing in offers to cancel until then

    @classmethod
    def of(cls, row: Mapping[str, Any], prefix: str = "") -> AccountRecord:
        """The record of an account row, or of its columns named ``prefix + name`` in a joined row."""
        values = {field.name: row[prefix + field.name] for field in fields(cls)}
        values["state"] = AccountState(values["state"])
        values["level4_offer"] = Level4Offer(values["level4_offer"])
        return cls(**values)


async def account_where(condition: Combinable) -> AccountRecord | None:
    row = await Account.select().where(condition).first()
    return AccountRecord.of(row) if row is not None else None


async def load_account(account_id: int) -> AccountRecord | None:
    return await account_where(Account.id == account_id)
