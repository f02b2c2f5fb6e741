"""What screens show of an account: decrypted, then masked."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from webapp.accounts.outcomes import Outcome, Refusal
from webapp.accounts.records import AccountRecord
from webapp.clock import clock_time
from webapp.i18n import N_, _, ngettext
from webapp.runtime import Runtime
from webapp.sms.codes import SENT, SendResult, send_outcome
from webapp.sms.phone import mask_phone


def mask_id_number(id_number: str) -> str:
    """In the guide's style: 4112-XXXXXXXX, then the last two characters."""
    return f"{id_number[:4]}-XXXXXXXX{'X' * 4}{id_number[-2:]}"


def mask_name(name: str) -> str:
    return "*" * (len(name) - 1) + name[-1] if len(name) > 1 else name


def account_view(rt: Runtime, row: AccountRecord) -> dict[str, Any]:
    k = rt.keyring
    return {
        "id": row.id,
        "name": mask_name(k.decrypt_text(row.name, "account.name")),
        "id_number": mask_id_number(k.decrypt_text(row.id_number, "account.id_number")),
        "phone": mask_phone(k.decrypt_text(row.phone, "account.phone")),
        "username": row.username,
        "level": row.level,
        "state": row.state,
    }


# The sections of a signed-in account: on wide screens each of their pages shows them as navigation,
# with whose account it is and its level (templates/partials/side_nav.html).
SECTIONS = (
    ("account", "/account", N_("账号管理")),
    ("level", "/level", N_("实名等级")),
    ("business", "/business", N_("工商注册")),
)


def section_nav(rt: Runtime, row: AccountRecord, section: str) -> dict[str, Any]:
    return {
        "section": section,
        "sections": SECTIONS,
        "name": mask_name(rt.keyring.decrypt_text(row.name, "account.name")),
        "level": row.level,
    }


def login_error(result: Outcome[Any], now: datetime) -> dict[str, str]:
    """Why a password was not accepted, under the field it belongs to (``throttled``: answer 429)."""
    if result.refusal is Refusal.LOCKED and result.until is not None:
        return {
            "password": _(
                "密码错误次数过多，账号已锁定，请于{time}后再试", time=clock_time(result.until, now)
            )
        }
    if result.refusal is Refusal.DISABLED:
        return {"identifier": _("账号已被停用，请联系客服")}
    if result.refusal is Refusal.THROTTLED:
        seconds = max(1, math.ceil((result.until - now).total_seconds())) if result.until else 60
        if seconds > 60 and result.until is not None:
            wait = _("操作过于频繁，请于{time}后再试", time=clock_time(result.until, now))
        else:
            wait = ngettext("操作过于频繁，请{n}秒后再试", "操作过于频繁，请{n}秒后再试", seconds)
        return {"password": wait, "throttled": "1"}
    return {"password": _("账号或密码错误")}


def code_sent(
    sent: Outcome[SendResult], phone: str, now: datetime, notice: str = SENT
) -> tuple[dict[str, str], str]:
    """What 获取验证码 shows: the refusal under its field, or the code's answer (sent, or the wait)."""
    if sent.value is None:
        return sent.errors(), ""
    return send_outcome(sent.value, phone, now, notice)
