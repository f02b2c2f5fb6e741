"""激活账号: accounts imported from a provincial system get a username and a password.

The guide's FAQ 3 sends everyone whose ID number is already registered here (log in with any
password, then 激活账号). So the same steps serve an active account too: its holder, proved by the
phone on record, sets a new password instead — they end with a password, never with a lock.

Step 1 answers alike whether or not the account exists and the phone matches: the same message, and the
same work (quota taken, code made and stored) up to the point of sending.

When the phone on record no longer works, a face scan matched by the identity authority stands in for it
(姓名 + 身份证号, then the scan); the person then binds a new phone with an SMS code, and goes on to step 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webapp import audit
from webapp.accounts.outcomes import AccountState, Outcome, Refusal, code_refusal
from webapp.accounts.passwords import hash_password
from webapp.accounts.records import AccountRecord, account_where
from webapp.accounts.registration import move_to_new_phone
from webapp.accounts.service import find_by_name_and_id
from webapp.accounts.tables import Account
from webapp.db import write_transaction
from webapp.i18n import N_
from webapp.privacy import consents
from webapp.runtime import Runtime
from webapp.sms.codes import CodeCheck, Purpose, SendResult, send_code, verify_code

USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{5,19}")
USERNAME_HINT = N_("6-20位字符，第一位必须为字母，支持数字、下划线")
HOLDER_STATES = (AccountState.UNACTIVATED, AccountState.ACTIVE)  # a disabled one: the registration office


async def _holder_match(rt: Runtime, id_number: str, phone: str) -> AccountRecord | None:
    """The account whose ID number and phone on record these are (unactivated or active)."""
    account = await account_where(Account.id_index.is_in(rt.id_indexes(id_number)))
    if account and account.state in HOLDER_STATES and account.phone_index in rt.phone_indexes(phone):
        return account
    return None


async def sms_shadow(rt: Runtime, id_number: str, phone: str) -> str | None:
    """None when the ID number and phone are an account's own; else the claim that holds the code
    (webapp/sms/codes.py: never sent, the phone's owner never sees it)."""
    return None if await _holder_match(rt, id_number, phone) else f"{Purpose.ACTIVATE}|{id_number}|{phone}"


async def send_activation_code(rt: Runtime, id_number: str, phone: str, origin: audit.Origin) -> SendResult:
    return await send_code(rt, phone, Purpose.ACTIVATE, origin, await sms_shadow(rt, id_number, phone))


@dataclass(frozen=True)
class Holder:
    """Whose phone on record a code proved, and whether the account is already active."""

    account_id: int
    active: bool


async def check_activation_code(
    rt: Runtime, id_number: str, phone: str, code: str, origin: audit.Origin
) -> Outcome[Holder]:
    """The account whose phone on record the code proves. A code that matched but not for an account of
    these (or a disabled one) reads as a wrong code."""
    shadow_of = await sms_shadow(rt, id_number, phone)
    check = await verify_code(rt, phone, Purpose.ACTIVATE, code, origin, shadow_of)
    match = await _holder_match(rt, id_number, phone) if check is CodeCheck.OK and not shadow_of else None
    if match is None:
        return code_refusal(CodeCheck.WRONG if check is CodeCheck.OK else check)
    await audit.record("activation_phone_verified", rt.clock.now(), origin, match.id, state=match.state)
    return Outcome(value=Holder(match.id, match.state == AccountState.ACTIVE))


async def find_unactivated(rt: Runtime, name: str, id_number: str) -> AccountRecord | None:
    return await find_by_name_and_id(rt, name, id_number, AccountState.UNACTIVATED)


async def bind_new_phone(
    rt: Runtime, account_id: int, phone: str, code: str, origin: audit.Origin
) -> Outcome[None]:
    """Activation by face: the new phone, proved by its code, replaces the dead one on record (only while
    the account is still unactivated: an active account changes its phone behind its password)."""
    unactivated = (Account.id == account_id) & (Account.state == AccountState.UNACTIVATED)
    if not await Account.exists().where(unactivated):
        return Outcome(Refusal.ALREADY_ACTIVE)
    moved = await move_to_new_phone(rt, account_id, phone, code, Purpose.ACTIVATE, origin)
    if moved.ok:
        await audit.record("activation_phone_verified", rt.clock.now(), origin, account_id, method="face")
    return Outcome(moved.refusal)


def validate_username(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError(N_("请输入用户名"))
    if not USERNAME.fullmatch(value):
        raise ValueError(USERNAME_HINT)
    return value


async def activate(
    rt: Runtime, account_id: int, username: str, password: str, origin: audit.Origin
) -> Outcome[None]:
    """The account becomes active with its username and password (the username is anybody's once)."""
    password_hash = await hash_password(password)
    now = rt.clock.now()
    async with write_transaction(f"username:{username.lower()}"):
        if await Account.exists().where(Account.username_key == username.lower()):
            return Outcome(Refusal.USERNAME_TAKEN)
        updated = (
            await Account.update(
                {
                    Account.username: username,
                    Account.username_key: username.lower(),
                    Account.password_hash: password_hash,
                    Account.state: AccountState.ACTIVE,
                    Account.updated_at: now,
                }
            )
            .where((Account.id == account_id) & (Account.state == AccountState.UNACTIVATED))
            .returning(Account.id)
        )
        if not updated:
            return Outcome(Refusal.ALREADY_ACTIVE)
        await audit.record("account_activated", now, origin, account_id)
        await consents.accept(rt, account_id, consents.SIGN_UP, origin)  # 激活即视为同意
    return Outcome()
