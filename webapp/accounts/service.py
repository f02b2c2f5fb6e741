"""Account rules: creation, look-up by any identifier, password login with its lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from webapp import audit, limits
from webapp.accounts.passwords import hash_password, verify_password
from webapp.accounts.tables import Account
from webapp.db import write_transaction
from webapp.identity.rules import normalize_id_number
from webapp.runtime import Runtime
from webapp.sms.phone import MOBILE, normalize_phone


class AccountExists(ValueError):
    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


@dataclass(frozen=True)
class NewAccount:
    name: str
    id_number: str
    valid_from: date
    valid_to: date | None
    phone: str
    password: str | None = None  # None: an unactivated record imported from a provincial system
    source_province: str = ""


async def create_account(rt: Runtime, new: NewAccount, origin: audit.Origin) -> int:
    """One account per ID number and per phone, even under concurrent attempts."""
    id_index, phone_index = rt.id_index(new.id_number), rt.phone_index(new.phone)
    password_hash = await hash_password(new.password) if new.password else None
    now = rt.clock.now()
    async with write_transaction(id_index, phone_index):
        if await Account.exists().where(Account.id_index.is_in(rt.id_indexes(new.id_number))):
            raise AccountExists("id_number")
        if await Account.exists().where(Account.phone_index.is_in(rt.phone_indexes(new.phone))):
            raise AccountExists("phone")
        k = rt.keyring
        rows = await Account.insert(
            Account(
                id_index=id_index,
                id_number=k.encrypt(new.id_number, "account.id_number"),
                name=k.encrypt(new.name, "account.name"),
                phone_index=phone_index,
                phone=k.encrypt(new.phone, "account.phone"),
                password_hash=password_hash,
                state="active" if new.password else "unactivated",
                level=3,
                valid_from=new.valid_from,
                valid_to=new.valid_to,
                source_province=new.source_province,
                created_at=now,
                updated_at=now,
            )
        ).returning(Account.id)
        account_id = rows[0]["id"]
        await audit.record(
            "account_created" if new.password else "account_imported",
            now,
            origin,
            account_id,
            state="active" if new.password else "unactivated",
        )
    return account_id


async def find_by_identifier(rt: Runtime, raw: str) -> dict | None:
    """ID number, phone number or username, whichever the text looks like."""
    value = (raw or "").strip()
    if not value or len(value) > 40:
        return None
    id_number, phone = normalize_id_number(value), normalize_phone(value)
    if len(id_number) == 18:
        return await Account.select().where(Account.id_index.is_in(rt.id_indexes(id_number))).first()
    if MOBILE.fullmatch(phone):
        return await Account.select().where(Account.phone_index.is_in(rt.phone_indexes(phone))).first()
    return await Account.select().where(Account.username_key == value.lower()).first()


async def find_by_name_and_id(rt: Runtime, name: str, id_number: str, state: str) -> dict | None:
    """The account in ``state`` when name and ID number together match it (for the identity checks of
    忘记密码 and activation by face, which answer alike either way)."""
    row = await Account.select().where(Account.id_index.is_in(rt.id_indexes(id_number))).first()
    if row is None or row["state"] != state:
        return None
    return row if rt.keyring.decrypt_text(row["name"], "account.name") == name else None


class LoginOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    UNACTIVATED = "unactivated"
    DISABLED = "disabled"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    account_id: int | None = None
    until: datetime | None = None


def login_ip_limit(rt: Runtime, ip: str) -> limits.Limit:
    return limits.Limit(rt.limit_key("login-ip", ip), (limits.Rolling(60, rt.settings.login_per_ip_minute),))


async def login(rt: Runtime, identifier: str, password: str, origin: audit.Origin) -> LoginResult:
    now = rt.clock.now()
    throttle = await limits.take([login_ip_limit(rt, origin.ip)], now)
    if not throttle.allowed:
        return LoginResult(LoginOutcome.THROTTLED, until=throttle.retry_at)
    account = await find_by_identifier(rt, identifier)
    return await password_attempt(rt, account, password, origin, "login")


async def password_attempt(
    rt: Runtime, account: dict | None, password: str, origin: audit.Origin, purpose: str
) -> LoginResult:
    """One password check with its consequences: the lock, the counter, a rehash when parameters changed.
    Used by login and by the screens that ask for the password again (修改手机号, 修改密码).

    The attempt is reserved (counted as a failure) before Argon2 runs and settled after it under the
    account's write lock, so parallel guesses cannot all be verified against one stale read: once
    ``login_max_failures`` attempts are in flight or failed, the account locks, and a right password
    that finishes after the lock is refused like any other."""
    now = rt.clock.now()
    if account is None or account["state"] != "active":
        await verify_password(account["password_hash"] if account else None, password)  # the same cost
        if account is None:
            await audit.record("login_failed", now, origin, reason="unknown_account")
            return LoginResult(LoginOutcome.WRONG)
        if account["state"] == "disabled":
            await audit.record("login_failed", now, origin, account["id"], reason="disabled")
            return LoginResult(LoginOutcome.DISABLED, account["id"])
        await audit.record("activation_required", now, origin, account["id"])
        return LoginResult(LoginOutcome.UNACTIVATED, account["id"])
    refused = await _reserve_attempt(rt, account, now, origin, purpose)
    if refused is not None:
        return refused
    matches, needs_rehash = await verify_password(account["password_hash"], password)
    result = await _settle_attempt(rt, account, matches, now, origin, purpose)
    if result.outcome is LoginOutcome.OK and needs_rehash:
        await Account.update({Account.password_hash: await hash_password(password)}).where(
            Account.id == account["id"]
        )
    return result


async def _lock_state(account_id: int) -> dict:
    return (
        await Account.select(Account.failed_logins, Account.locked_until)
        .where(Account.id == account_id)
        .first()
    )


async def _refuse_locked(
    account_id: int, until: datetime, now, origin: audit.Origin, purpose: str
) -> LoginResult:
    await audit.record("login_failed", now, origin, account_id, reason="locked", purpose=purpose)
    return LoginResult(LoginOutcome.LOCKED, account_id, until=until)


async def _lock(rt: Runtime, account_id: int, now: datetime, origin: audit.Origin) -> LoginResult:
    until = now + timedelta(minutes=rt.settings.login_lock_minutes)
    await Account.update({Account.locked_until: until}).where(Account.id == account_id)
    await audit.record("account_locked", now, origin, account_id, until=until.isoformat())
    return LoginResult(LoginOutcome.LOCKED, account_id, until=until)


async def _reserve_attempt(
    rt: Runtime, account: dict, now: datetime, origin: audit.Origin, purpose: str
) -> LoginResult | None:
    """Count the attempt before verifying; None when it may go on to Argon2."""
    account_id = account["id"]
    async with write_transaction(rt.account_lock(account)):
        state = await _lock_state(account_id)
        locked_until = state["locked_until"]
        if locked_until and locked_until > now:
            return await _refuse_locked(account_id, locked_until, now, origin, purpose)
        failures = 0 if locked_until else state["failed_logins"]  # a lock that ran out starts afresh
        if failures >= rt.settings.login_max_failures:  # that many attempts are still being verified
            return await _lock(rt, account_id, now, origin)
        await Account.update({Account.failed_logins: failures + 1, Account.locked_until: None}).where(
            Account.id == account_id
        )
    return None


async def _settle_attempt(
    rt: Runtime, account: dict, matches: bool, now: datetime, origin: audit.Origin, purpose: str
) -> LoginResult:
    """After Argon2, against the account as it is now: a lock set meanwhile stands, even for the right
    password; the right password clears the counter; a wrong one that reached the limit locks."""
    account_id = account["id"]
    async with write_transaction(rt.account_lock(account)):
        state = await _lock_state(account_id)
        if state["locked_until"] and state["locked_until"] > now:
            return await _refuse_locked(account_id, state["locked_until"], now, origin, purpose)
        if matches:
            await Account.update({Account.failed_logins: 0, Account.locked_until: None}).where(
                Account.id == account_id
            )
            event = "login_ok" if purpose == "login" else "password_confirmed"
            await audit.record(event, now, origin, account_id, purpose=purpose)
            return LoginResult(LoginOutcome.OK, account_id)
        if state["failed_logins"] >= rt.settings.login_max_failures:
            return await _lock(rt, account_id, now, origin)
        await audit.record("login_failed", now, origin, account_id, reason="password", purpose=purpose)
    return LoginResult(LoginOutcome.WRONG, account_id)


async def change_password(
    rt: Runtime, account_id: int, old: str, new: str, origin: audit.Origin, keep_token: str | None
) -> tuple[LoginResult, str | None]:
    """(result of the old-password check, error for the new password). The other sessions end."""
    from webapp.accounts import sessions
    from webapp.i18n import N_

    account = await Account.select().where(Account.id == account_id).first()
    result = await password_attempt(rt, account, old, origin, "change_password")
    if result.outcome is not LoginOutcome.OK:
        return result, None
    if new == old:
        return result, N_("新密码不能与旧密码相同")
    await Account.update(
        {Account.password_hash: await hash_password(new), Account.updated_at: rt.clock.now()}
    ).where(Account.id == account_id)
    await sessions.end_all_sessions(rt, account_id, keep_token=keep_token)
    await audit.record("password_changed", rt.clock.now(), origin, account_id)
    return result, None


async def change_phone(rt: Runtime, account_id: int, new_phone: str, origin: audit.Origin) -> str:
    """Returns the old phone number (for the notice). Raises AccountExists when the number is taken."""
    index = rt.phone_index(new_phone)
    async with write_transaction(index):
        if await Account.exists().where(Account.phone_index.is_in(rt.phone_indexes(new_phone))):
            raise AccountExists("phone")
        row = await Account.select(Account.phone).where(Account.id == account_id).first()
        await Account.update(
            {
                Account.phone_index: index,
                Account.phone: rt.keyring.encrypt(new_phone, "account.phone"),
                Account.updated_at: rt.clock.now(),
            }
        ).where(Account.id == account_id)
        await audit.record("phone_changed", rt.clock.now(), origin, account_id)
    return rt.keyring.decrypt_text(row["phone"], "account.phone")
