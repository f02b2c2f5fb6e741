"""SMS verification codes: issue, deliver, verify (design §4).

Some screens must not tell whether what was typed matches an account (忘记密码, 激活账号): for a claim
that matches nobody the code is issued as a *shadow* — stored under the claim, not the phone, never
sent, never enterable — with limits of its own. So a stranger who types someone's phone number next to
another name spends neither that phone's SMS quota nor its code's tries, and voids none of its codes.
Wrong entries count against the one who makes them: the code's own tries, then a daily cap per code
holder (phone or claim) and address."""

from __future__ import annotations

import math
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from webapp import audit, limits
from webapp.clock import SHANGHAI, clock_time
from webapp.crypto import constant_time_equal
from webapp.db import write_transaction
from webapp.i18n import N_, _, ngettext
from webapp.runtime import Runtime
from webapp.sms.channels import DeliveryError, deliver_counted
from webapp.sms.messages import CODE, compose
from webapp.sms.phone import mask_phone
from webapp.sms.tables import SmsCode


class Purpose(StrEnum):
    REGISTER = "register"
    ACTIVATE = "activate"
    CHANGE_PHONE = "change_phone"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name, not a password


CODE_TEXT = N_("【工商注册身份验证】您的验证码是{code}，{minutes}分钟内有效。请勿将验证码告诉他人。")


@dataclass(frozen=True)
class SendResult:
    sent: bool
    retry_at: datetime | None = None
    error: str = ""


def wait_message(retry_at: datetime, now: datetime) -> str:
    """A refusal that names the wait: seconds up to a minute, else the Beijing time it reopens."""
    seconds = max(1, math.ceil((retry_at - now).total_seconds()))
    if seconds <= 60:
        return ngettext("发送过于频繁，请{n}秒后再获取验证码", "发送过于频繁，请{n}秒后再获取验证码", seconds)
    return _("短信发送次数已达上限，请于{time}后再试", time=clock_time(retry_at, now))


SENT = N_("验证码已发送至{phone}")
SENT_IF_MATCHING = N_(
    "如信息无误，验证码已发送至{phone}"
)  # for the answers that must not tell whether it matched


def send_outcome(
    result: SendResult, phone: str, now: datetime, sent: str = SENT
) -> tuple[dict[str, str], str]:
    """What the 获取验证码 button shows: an error for the code field, or the notice that the code is sent."""
    if result.error:
        return {"code": result.error}, ""
    if not result.sent:
        assert result.retry_at is not None  # a refused send always names when it reopens
        return {"code": wait_message(result.retry_at, now)}, ""
    return {}, _(sent, phone=mask_phone(phone))


def phone_limit(rt: Runtime, phone: str) -> limits.Limit:
    """Per phone, across all purposes: 1 a minute, 3 in any hour, 5 per Shanghai calendar day."""
    return _send_limit(rt, rt.limit_key("sms-phone", phone))


def _send_limit(rt: Runtime, key: str) -> limits.Limit:
    s = rt.settings
    return limits.Limit(
        key,
        (
            limits.Rolling(60, s.sms_per_minute),
            limits.Rolling(3600, s.sms_per_hour),
            limits.CalendarDay(SHANGHAI, s.sms_per_day),
        ),
    )


def ip_limit(rt: Runtime, ip: str) -> limits.Limit:
    return limits.Limit(rt.limit_key("sms-ip", ip), (limits.Rolling(3600, rt.settings.sms_per_ip_hour),))


def wrong_entry_limit(rt: Runtime, holder: str, purpose: Purpose, ip: str) -> limits.Limit:
    return limits.Limit(
        rt.limit_key(f"sms-wrong-{purpose}", f"{holder}|{ip}"),
        (limits.CalendarDay(SHANGHAI, rt.settings.sms_wrong_per_day),),
    )


def _holder(rt: Runtime, phone: str, shadow_of: str | None) -> str:
    """Whose code: the phone's, or (a shadow) the claim's that matched nobody."""
    return rt.keyring.keyed_hash("sms-claim", shadow_of) if shadow_of else rt.phone_index(phone)


def _holder_limit(rt: Runtime, phone: str, holder: str, shadow_of: str | None) -> limits.Limit:
    return _send_limit(rt, rt.limit_key("sms-claim", holder)) if shadow_of else phone_limit(rt, phone)


def _code_hash(rt: Runtime, phone_index: str, purpose: Purpose, code: str) -> str:
    return rt.keyring.keyed_hash("sms-code", f"{phone_index}:{purpose}:{code}")


async def next_send_at(rt: Runtime, phone: str, shadow_of: str | None = None) -> datetime | None:
    """When the 获取验证码 button may be pressed again (None: now), for a countdown that survives reloads;
    ``shadow_of`` as for :func:`send_code`, so the countdown too is the same either way."""
    holder = _holder(rt, phone, shadow_of)
    return await limits.blocked(_holder_limit(rt, phone, holder, shadow_of), rt.clock.now())


async def send_code(
    rt: Runtime, phone: str, purpose: Purpose, origin: audit.Origin, shadow_of: str | None = None
) -> SendResult:
    """Take the holder's and the address's slots, store the code, deliver it. A failed delivery gives the
    holder's slot back. ``shadow_of``: the claim (what was typed) when it matches nobody; the same work
    and answers, but the code is held by the claim and never sent."""
    now = rt.clock.now()
    holder = _holder(rt, phone, shadow_of)
    decision = await limits.take([_holder_limit(rt, phone, holder, shadow_of), ip_limit(rt, origin.ip)], now)
    if not decision.allowed:
        return SendResult(sent=False, retry_at=decision.retry_at)
    code = f"{secrets.randbelow(10**6):06d}"
    async with write_transaction(holder):
        previous = await _active_code(holder, purpose, now)
        await SmsCode.update({SmsCode.used_at: now}).where(
            (SmsCode.phone_index == holder) & (SmsCode.purpose == purpose) & SmsCode.used_at.is_null()
        )
        row = SmsCode(
            phone_index=holder,
            purpose=purpose,
            code_hash=_code_hash(rt, holder, purpose, secrets.token_hex(16) if shadow_of else code),
            created_at=now,
            expires_at=now + timedelta(seconds=rt.settings.sms_code_ttl),
            wrong_entries=_carried_wrong_entries(rt, previous),
        )
        await row.save()
    if shadow_of:
        return SendResult(sent=True, retry_at=now + timedelta(seconds=60))
    message = compose(CODE, CODE_TEXT, translate=False, code=code, minutes=rt.settings.sms_code_ttl // 60)
    try:
        await deliver_counted(rt.sms_channel, rt.settings.effective_sms_channel, phone, message)
    except DeliveryError as error:
        await SmsCode.delete().where(SmsCode.id == row.id)
        # The phone's slot comes back (its owner is not to blame); the address keeps its slot, or failures
        # (a provider timing out after it sent) would let one address send past its limit.
        await limits.give_back(limits.Decision(True, None, decision.event_ids[:1]))
        return SendResult(sent=False, error=error.message)
    await audit.record("sms_sent", now, origin, purpose=str(purpose))
    return SendResult(sent=True, retry_at=now + timedelta(seconds=60))


def _carried_wrong_entries(rt: Runtime, previous: dict[str, Any] | None) -> int:
    """A new code does not reset the count of the code it replaces; a voided code's successor starts
    afresh (the daily cap across codes still holds)."""
    if previous is None or previous["wrong_entries"] >= rt.settings.sms_code_max_wrong:
        return 0
    wrong_entries: int = previous["wrong_entries"]
    return wrong_entries


async def _active_code(phone_index: str, purpose: Purpose, now: datetime) -> dict[str, Any] | None:
    return (
        await SmsCode.select()
        .where(
            (SmsCode.phone_index == phone_index)
            & (SmsCode.purpose == purpose)
            & SmsCode.used_at.is_null()
            & (SmsCode.expires_at > now)
        )
        .order_by(SmsCode.created_at, ascending=False)
        .first()
    )


class CodeCheck(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    MISSING = "missing"  # none sent, used, expired or voided
    VOIDED = "voided"  # this entry used up the code's tries
    BLOCKED = "blocked"  # too many wrong entries today


CHECK_MESSAGES = {
    CodeCheck.WRONG: N_("验证码不正确"),
    CodeCheck.MISSING: N_("验证码已失效，请重新获取"),
    CodeCheck.VOIDED: N_("验证码错误次数过多，已失效，请重新获取"),
    CodeCheck.BLOCKED: N_("今日验证码错误次数过多，请明天再试"),
}


def normalize_code(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw or "").strip()


async def verify_code(
    rt: Runtime,
    phone: str,
    purpose: Purpose,
    entered: str,
    origin: audit.Origin,
    shadow_of: str | None = None,
) -> CodeCheck:
    """Single use: of parallel submissions of one right code, exactly one gets OK. ``shadow_of`` as for
    :func:`send_code`: a shadow code is never OK, and its wrong entries are the claimant's."""
    now = rt.clock.now()
    holder = _holder(rt, phone, shadow_of)
    wrong_limit = wrong_entry_limit(rt, holder, purpose, origin.ip)
    async with write_transaction(holder):
        if await limits.blocked(wrong_limit, now) is not None:
            return CodeCheck.BLOCKED
        active = await _active_code(holder, purpose, now)
        if active is None or active["wrong_entries"] >= rt.settings.sms_code_max_wrong:
            return CodeCheck.MISSING
        candidate = _code_hash(rt, holder, purpose, normalize_code(entered))
        if constant_time_equal(candidate, active["code_hash"]):
            await SmsCode.update({SmsCode.used_at: now}).where(SmsCode.id == active["id"])
            return CodeCheck.OK
        wrong = active["wrong_entries"] + 1
        await SmsCode.update({SmsCode.wrong_entries: wrong}).where(SmsCode.id == active["id"])
        await limits.record([wrong_limit.key], now)
    return CodeCheck.VOIDED if wrong >= rt.settings.sms_code_max_wrong else CodeCheck.WRONG


async def purge(now: datetime) -> int:
    deleted = await SmsCode.delete().where(SmsCode.expires_at < now - timedelta(days=1)).returning(SmsCode.id)
    return len(deleted)
