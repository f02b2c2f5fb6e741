"""注册: the four elements checked with the identity authority, the phone proved by SMS, one account
per ID number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from webapp import audit, limits
from webapp.accounts.service import AccountExists, NewAccount, change_phone, create_account
from webapp.accounts.tables import Account
from webapp.i18n import N_
from webapp.identity.authority import AuthorityUnavailable
from webapp.runtime import Runtime
from webapp.sms.codes import CHECK_MESSAGES, CodeCheck, Purpose, send_code, send_outcome, verify_code

ALREADY_REGISTERED = N_("账号已注册，请直接登录")
PHONE_TAKEN = N_("该手机号已被其他账号使用")
NOT_VERIFIED = N_(
    "身份信息核验未通过，请核对姓名、身份证号和有效期。最近换领或申请的身份证有可能核验不过，请稍后再试。"
)
AUTHORITY_DOWN = N_("身份核验服务暂时不可用，请稍后再试")


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
) -> tuple[dict[str, str], str]:
    """获取验证码 for a number about to be bound to an existing account: ({field: refusal}, notice)."""
    if await phone_in_use(rt, phone):
        return {"phone": PHONE_TAKEN}, ""
    return send_outcome(await send_code(rt, phone, purpose, origin), phone, rt.clock.now())


async def move_to_new_phone(
    rt: Runtime, account_id: int, phone: str, code: str, purpose: Purpose, origin: audit.Origin
) -> tuple[dict[str, str], str | None]:
    """The code proves the new number, which replaces the one on record: ({field: refusal}, old number)."""
    check = await verify_code(rt, phone, purpose, code, origin)
    if check is not CodeCheck.OK:
        return {"code": CHECK_MESSAGES[check]}, None
    try:
        return {}, await change_phone(rt, account_id, phone, origin)
    except AccountExists:
        return {"phone": PHONE_TAKEN}, None


async def register(
    rt: Runtime, form: Registration, origin: audit.Origin
) -> tuple[int | None, dict[str, str]]:
    """(account id, {}) on success, else (None, {field: message}). The SMS code is spent last, so a
    refusal for another reason does not cost the person a new code."""
    now = rt.clock.now()
    throttle = await limits.take([lookup_limit(rt, origin.ip)], now)
    if not throttle.allowed:
        return None, {"form": N_("操作过于频繁，请稍后再试")}
    try:
        verdict = await rt.authority.verify_elements(
            form.name, form.id_number, form.valid_from, form.valid_to
        )
    except AuthorityUnavailable:
        return None, {"form": AUTHORITY_DOWN}
    if not verdict.match:
        await audit.record("registration_refused", now, origin, reason=f"authority:{verdict.reason}")
        return None, {"form": NOT_VERIFIED}
    if await Account.exists().where(Account.id_index.is_in(rt.id_indexes(form.id_number))):
        return None, {"id_number": ALREADY_REGISTERED}
    if await phone_in_use(rt, form.phone):
        return None, {"phone": PHONE_TAKEN}
    check = await verify_code(rt, form.phone, Purpose.REGISTER, form.code, origin)
    if check is not CodeCheck.OK:
        return None, {"code": CHECK_MESSAGES[check]}
    new = NewAccount(form.name, form.id_number, form.valid_from, form.valid_to, form.phone, form.password)
    try:
        account_id = await create_account(rt, new, origin)
    except AccountExists as exists:
        return None, {"id_number": ALREADY_REGISTERED} if exists.field == "id_number" else {
            "phone": PHONE_TAKEN
        }
    return account_id, {}
