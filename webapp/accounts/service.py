"""Account rules: creation, look-up by any identifier, password login with its lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from webapp import audit, limits
from webapp.accounts import guard
from webapp.accounts.devices import describe_device
from webapp.accounts.outcomes import AccountState, Outcome, Refusal
from webapp.accounts.passwords import hash_password, verify_password
from webapp.accounts.records import AccountRecord, account_where, load_account
from webapp.accounts.tables import Account
from webapp.clock import local_time
from webapp.db import write_transaction
from webapp.identity.rules import normalize_id_number
from webapp.privacy import consents
from webapp.runtime import Runtime
from webapp.sms.notices import Notice, send_notice
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
                state=AccountState.ACTIVE if new.password else AccountState.UNACTIVATED,
                level=3,
                valid_from=new.valid_from,
                valid_to=new.valid_to,
                source_province=new.source_province,
                created_at=now,
                updated_at=now,
            )
        ).returning(Account.id)
        account_id: int = rows[0]["id"]
        await audit.record(
            "account_created" if new.password else "account_imported",
            now,
            origin,
            account_id,
            state=AccountState.ACTIVE if new.password else AccountState.UNACTIVATED,
        )
        if new.password:  # 注册即视为同意 the sign-up documents; an import accepts them at 激活账号
            await consents.accept(rt, account_id, consents.SIGN_UP, origin)
    return account_id


async def find_by_identifier(rt: Runtime, raw: str) -> AccountRecord | None:
    """ID number, phone number or username, whichever the text looks like."""
    value = (raw or "").strip()
    if not value or len(value) > 40:
        return None
    id_number, phone = normalize_id_number(value), normalize_phone(value)
    if len(id_number) == 18:
        return await account_where(Account.id_index.is_in(rt.id_indexes(id_number)))
    if MOBILE.fullmatch(phone):
        return await account_where(Account.phone_index.is_in(rt.phone_indexes(phone)))
    return await account_where(Account.username_key == value.lower())


async def find_by_name_and_id(
    rt: Runtime, name: str, id_number: str, state: AccountState
) -> AccountRecord | None:
    """The account in ``state`` when name and ID number together match it (for the identity checks of
    忘记密码 and activation by face, which answer alike either way)."""
    account = await account_where(Account.id_index.is_in(rt.id_indexes(id_number)))
    if account is None or account.state != state:
        return None
    return account if rt.keyring.decrypt_text(account.name, "account.name") == name else None


LoginResult = Outcome[int]  # the account signed in (or whose password was confirmed), or why not


def login_ip_limit(rt: Runtime, ip: str) -> limits.Limit:
    return limits.Limit(rt.limit_key("login-ip", ip), (limits.Rolling(60, rt.settings.login_per_ip_minute),))


async def login(
    rt: Runtime, identifier: str, password: str, origin: audit.Origin, device_cookie: str | None = None
) -> LoginResult:
    now = rt.clock.now()
    throttle = await limits.take([login_ip_limit(rt, origin.ip)], now)
    if not throttle.allowed:
        return LoginResult(Refusal.THROTTLED, until=throttle.retry_at)
    account = await find_by_identifier(rt, identifier)
    result = await password_attempt(
        rt, account, password, origin, "login", device_cookie=device_cookie, identifier=identifier
    )
    if result.value is not None and guard.known_device(rt, device_cookie, result.value) is None:
        await send_notice(  # a browser this account has not signed in from (or whose cookie is gone)
            rt,
            result.value,
            Notice.NEW_DEVICE,
            origin,
            time=local_time(now),
            device=describe_device(origin.user_agent),
        )
    return result


def canonical_identifier(raw: str) -> str:
    """The identifier as :func:`find_by_identifier` reads it: one spelling per ID number, phone, username."""
    value = (raw or "").strip()
    id_number, phone = normalize_id_number(value), normalize_phone(value)
    if len(id_number) == 18:
        return f"id:{id_number}"
    if MOBILE.fullmatch(phone):
        return f"phone:{phone}"
    return f"username:{value.lower()}"


def guard_subject(account: AccountRecord | None, identifier: str = "") -> str:
    """Whose failures an attempt counts towards: the account, or the identifier that names nobody."""
    return guard.account_subject(account.id) if account else f"nobody:{canonical_identifier(identifier)}"


async def password_attempt(
    rt: Runtime,
    account: AccountRecord | None,
    password: str,
    origin: audit.Origin,
    purpose: str,
    *,
    device_cookie: str | None = None,
    identifier: str = "",
) -> LoginResult:
    """One password check with its consequences (:mod:`webapp.accounts.guard`): counted per account and
    source before Argon2 runs, settled after it. Used by login and by the screens that ask for the password
    again (修改手机号, 修改密码). Whatever the account's state, and for identifiers that name nobody, a wrong
    password answers alike; only the right one learns that an account is disabled or not yet activated."""
    now = rt.clock.now()
    account_id = account.id if account else None
    source = guard.source_of(rt, account_id, device_cookie, origin.ip)
    reservation = await guard.reserve(rt, guard_subject(account, identifier), source, now)
    if reservation.verdict.locked_until:
        return await _locked(reservation.verdict, account_id, now, origin, purpose)
    matches, needs_rehash = await verify_password(account.password_hash if account else None, password)
    verdict = await guard.settle(rt, reservation, matches, now)
    if verdict.locked_until:
        return await _locked(verdict, account_id, now, origin, purpose)
    if account is None or not matches:
        reason = "password" if account else "unknown_account"
        await audit.record("login_failed", now, origin, account_id, reason=reason, purpose=purpose)
        return LoginResult(Refusal.WRONG_PASSWORD)
    if account.state == AccountState.DISABLED:
        await audit.record("login_failed", now, origin, account_id, reason="disabled")
        return LoginResult(Refusal.DISABLED)
    if account.state == AccountState.UNACTIVATED:
        await audit.record("activation_required", now, origin, account_id)
        return LoginResult(Refusal.UNACTIVATED)
    if needs_rehash:
        await Account.update({Account.password_hash: await hash_password(password)}).where(
            Account.id == account_id
        )
    event = "login_ok" if purpose == "login" else "password_confirmed"
    await audit.record(event, now, origin, account_id, purpose=purpose)
    return LoginResult(value=account_id)


async def _locked(
    verdict: guard.Verdict, account_id: int | None, now: datetime, origin: audit.Origin, purpose: str
) -> LoginResult:
    if verdict.newly_locked:
        until = verdict.locked_until.isoformat() if verdict.locked_until else ""
        await audit.record("account_locked", now, origin, account_id, until=until, purpose=purpose)
    else:
        await audit.record("login_failed", now, origin, account_id, reason="locked", purpose=purpose)
    return LoginResult(Refusal.LOCKED, until=verdict.locked_until)


async def change_password(
    rt: Runtime,
    account_id: int,
    old: str,
    new: str,
    origin: audit.Origin,
    keep_token: str | None,
    device_cookie: str | None = None,
) -> Outcome[None]:
    """The old password checked as at login (its refusal, and when a lock lifts), then the new one set;
    the other sessions end."""
    from webapp.accounts import sessions

    account = await load_account(account_id)
    result = await password_attempt(rt, account, old, origin, "change_password", device_cookie=device_cookie)
    if not result.ok:
        return Outcome(result.refusal, until=result.until)
    if new == old:
        return Outcome(Refusal.SAME_PASSWORD)
    await Account.update(
        {Account.password_hash: await hash_password(new), Account.updated_at: rt.clock.now()}
    ).where(Account.id == account_id)
    await sessions.end_all_sessions(rt, account_id, keep_token=keep_token)
    await audit.record("password_changed", rt.clock.now(), origin, account_id)
    await send_notice(rt, account_id, Notice.PASSWORD_CHANGED, origin)
    return Outcome()


async def change_phone(rt: Runtime, account_id: int, new_phone: str, origin: audit.Origin) -> str:
    """Returns the old phone number (for the notice). Raises AccountExists when the number is taken."""
    index = rt.phone_index(new_phone)
    async with write_transaction(index):
        if await Account.exists().where(Account.phone_index.is_in(rt.phone_indexes(new_phone))):
            raise AccountExists("phone")
        row = await Account.select(Account.phone).where(Account.id == account_id).first()
        if row is None:
            raise LookupError(f"no account {account_id}")
        await Account.update(
            {
                Account.phone_index: index,
                Account.phone: rt.keyring.encrypt(new_phone, "account.phone"),
                Account.updated_at: rt.clock.now(),
            }
        ).where(Account.id == account_id)
        await audit.record("phone_changed", rt.clock.now(), origin, account_id)
    return rt.keyring.decrypt_text(row["phone"], "account.phone")
