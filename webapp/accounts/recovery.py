"""忘记密码: prove who you are (face, or the phone on record), then set a new password.

Step 1 answers alike whether or not the account exists: the same page, the same work.
"""

from __future__ import annotations

from webapp import audit
from webapp.accounts import guard, sessions
from webapp.accounts.outcomes import AccountState, Outcome, code_refusal
from webapp.accounts.passwords import hash_password
from webapp.accounts.records import AccountRecord
from webapp.accounts.service import find_by_name_and_id
from webapp.accounts.tables import Account
from webapp.runtime import Runtime
from webapp.sms.codes import CodeCheck, Purpose, SendResult, send_code, verify_code
from webapp.sms.notices import Notice, send_notice


async def find_for_recovery(rt: Runtime, name: str, id_number: str) -> AccountRecord | None:
    return await find_by_name_and_id(rt, name, id_number, AccountState.ACTIVE)


async def _phone_matches(rt: Runtime, account: AccountRecord | None, phone: str) -> bool:
    return account is not None and account.phone_index in rt.phone_indexes(phone)


async def sms_shadow(rt: Runtime, name: str, id_number: str, phone: str) -> str | None:
    """None when ``phone`` is on record for the active account named; else the claim that holds the code
    (webapp/sms/codes.py: never sent, the phone's owner never sees it)."""
    account = await find_for_recovery(rt, name, id_number)
    return (
        None
        if await _phone_matches(rt, account, phone)
        else f"{Purpose.RESET_PASSWORD}|{name}|{id_number}|{phone}"
    )


async def send_recovery_code(
    rt: Runtime, name: str, id_number: str, phone: str, origin: audit.Origin
) -> SendResult:
    shadow_of = await sms_shadow(rt, name, id_number, phone)
    return await send_code(rt, phone, Purpose.RESET_PASSWORD, origin, shadow_of)


async def check_recovery_code(
    rt: Runtime, name: str, id_number: str, phone: str, code: str, origin: audit.Origin
) -> Outcome[AccountRecord]:
    """The account whose phone on record the code proves; a code that matched a shadow (never sent)
    reads as a wrong one."""
    shadow_of = await sms_shadow(rt, name, id_number, phone)
    check = await verify_code(rt, phone, Purpose.RESET_PASSWORD, code, origin, shadow_of)
    account = (
        await find_for_recovery(rt, name, id_number) if check is CodeCheck.OK and not shadow_of else None
    )
    if account is None:
        return code_refusal(CodeCheck.WRONG if check is CodeCheck.OK else check)
    await audit.record("recovery_verified", rt.clock.now(), origin, account.id, method="sms")
    return Outcome(value=account)


async def reset_password(rt: Runtime, account_id: int, password: str, origin: audit.Origin) -> None:
    """A completed reset lifts the lock of the address it came from (and the day's count) and ends every
    session; other sources keep their counts — they are not the owner."""
    await Account.update(
        {Account.password_hash: await hash_password(password), Account.updated_at: rt.clock.now()}
    ).where(Account.id == account_id)
    await guard.forgive(rt, guard.account_subject(account_id), guard.address_source(origin.ip))
    await sessions.end_all_sessions(rt, account_id)
    await audit.record("password_reset", rt.clock.now(), origin, account_id)
    await send_notice(rt, account_id, Notice.PASSWORD_RESET, origin)
