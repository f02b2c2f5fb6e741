"""注册: the four elements checked with the identity authority, the phone proved by SMS, one account
per ID number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from webapp import audit, limits
from webapp.accounts.outcomes import Outcome, Refusal, code_refusal
from webapp.accounts.service import AccountExists, NewAccount, change_phone, create_account
from webapp.accounts.tables import Account
from webapp.identity.authority import AuthorityUnavailable
from webapp.runtime import Runtime
from webapp.sms.codes import CodeCheck, Purpose, SendResult, send_code, verify_code


@dataclass(frozen=True)
class Registration:
    name: str
    id_number: str
    valid_from: date
    valid_to: date | None
    phone: str
    code: str
    password: str


def lookup_limit(rt: Runtime, ip: str) -> limits.Limit:
    return limits.Limit(
        rt.limit_key("lookup-ip", ip), (limits.Rolling(3600, rt.settings.lookup_per_ip_hour),)
    )


async def is_registered(rt: Runtime, name: str, id_number: str) -> bool:
    """The inline 账号已注册 check: only when name and ID number together match an account."""
    row = await Account.select(Account.name).where(Account.id_index.is_in(rt.id_indexes(id_number))).first()
    return row is not None and rt.keyring.decrypt_text(row["name"], "account.name") == name


async def phone_in_use(rt: Runtime, phone: str) -> bool:
    return await Account.exists().where(Account.phone_index.is_in(rt.phone_indexes(phone)))


async def send_code_to_new_phone(
    rt: Runtime, phone: str, purpose: Purpose, origin: audit.Origin
) -> Outcome[SendResult]:
    """获取验证码 for a number about to be registered or bound to an account: never to a number in use."""
    if await phone_in_use(rt, phone):
        return Outcome(Refusal.PHONE_TAKEN)
    return Outcome(value=await send_code(rt, phone, purpose, origin))


async def move_to_new_phone(
    rt: Runtime, account_id: int, phone: str, code: str, purpose: Purpose, origin: audit.Origin
) -> Outcome[str]:
    """The code proves the new number, which replaces the one on record; yields the old number."""
    check = await verify_code(rt, phone, purpose, code, origin)
    if check is not CodeCheck.OK:
        return code_refusal(check)
    try:
        return Outcome(value=await change_phone(rt, account_id, phone, origin))
    except AccountExists:
        return Outcome(Refusal.PHONE_TAKEN)


async def register(rt: Runtime, form: Registration, origin: audit.Origin) -> Outcome[int]:
    """The new account's id, or why not. The SMS code is spent last, so a refusal for another reason
    does not cost the person a new code."""
    now = rt.clock.now()
    throttle = await limits.take([lookup_limit(rt, origin.ip)], now)
    if not throttle.allowed:
        return Outcome(Refusal.BUSY)
    try:
        verdict = await rt.authority.verify_elements(
            form.name, form.id_number, form.valid_from, form.valid_to
        )
    except AuthorityUnavailable:
        return Outcome(Refusal.AUTHORITY_DOWN)
    if not verdict.match:
        await audit.record("registration_refused", now, origin, reason=f"authority:{verdict.reason}")
        return Outcome(Refusal.NOT_VERIFIED)
    if await Account.exists().where(Account.id_index.is_in(rt.id_indexes(form.id_number))):
        return Outcome(Refusal.ALREADY_REGISTERED)
    if await phone_in_use(rt, form.phone):
        return Outcome(Refusal.PHONE_TAKEN)
    check = await verify_code(rt, form.phone, Purpose.REGISTER, form.code, origin)
    if check is not CodeCheck.OK:
        return code_refusal(check)
    new = NewAccount(form.name, form.id_number, form.valid_from, form.valid_to, form.phone, form.password)
    try:
        return Outcome(value=await create_account(rt, new, origin))
    except AccountExists as exists:
        return Outcome(Refusal.ALREADY_REGISTERED if exists.field == "id_number" else Refusal.PHONE_TAKEN)
