"""How the account rules answer, one way for all (as the business rules do): an :class:`Outcome` with a
:class:`Refusal` or none, and what it yields. Messages are msgids here, translated once at render; each
refusal knows the form field it belongs to.

Also the states an account row's text columns hold, as enums instead of string literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from webapp.i18n import N_
from webapp.sms.codes import CHECK_MESSAGES, CodeCheck

T = TypeVar("T")


class AccountState(StrEnum):
    UNACTIVATED = "unactivated"  # imported from a provincial system, waiting for 激活账号
    ACTIVE = "active"
    DISABLED = "disabled"  # opened again only by the registration office
    DELETED = "deleted"  # 注销账号 done: a row that names no-one, kept so that its id is never used again


class Level4Offer(StrEnum):
    """The first-login guide to level 4 (首次登录引导)."""

    PENDING = "pending"
    DISMISSED = "dismissed"
    DONE = "done"


class Refusal(StrEnum):
    WRONG_PASSWORD = "wrong_password"  # noqa: S105  (also: an identifier that names nobody)
    LOCKED = "locked"
    THROTTLED = "throttled"
    UNACTIVATED = "unactivated"
    DISABLED = "disabled"
    SAME_PASSWORD = "same_password"  # noqa: S105
    BUSY = "busy"
    AUTHORITY_DOWN = "authority_down"
    NOT_VERIFIED = "not_verified"
    ALREADY_REGISTERED = "already_registered"
    PHONE_TAKEN = "phone_taken"
    USERNAME_TAKEN = "username_taken"
    ALREADY_ACTIVE = "already_active"
    CODE_WRONG = "code_wrong"
    CODE_MISSING = "code_missing"
    CODE_VOIDED = "code_voided"
    CODE_BLOCKED = "code_blocked"


CODE_REFUSALS = {
    CodeCheck.WRONG: Refusal.CODE_WRONG,
    CodeCheck.MISSING: Refusal.CODE_MISSING,
    CodeCheck.VOIDED: Refusal.CODE_VOIDED,
    CodeCheck.BLOCKED: Refusal.CODE_BLOCKED,
}

MESSAGES: dict[Refusal, str] = {
    Refusal.WRONG_PASSWORD: N_("账号或密码错误"),
    Refusal.LOCKED: N_("密码错误次数过多，账号已锁定"),
    Refusal.THROTTLED: N_("操作过于频繁，请稍后再试"),
    Refusal.UNACTIVATED: N_("账号未激活，请先激活账号"),
    Refusal.DISABLED: N_("账号已被停用，请联系客服"),
    Refusal.SAME_PASSWORD: N_("新密码不能与旧密码相同"),
    Refusal.BUSY: N_("操作过于频繁，请稍后再试"),
    Refusal.AUTHORITY_DOWN: N_("身份核验服务暂时不可用，请稍后再试"),
    Refusal.NOT_VERIFIED: N_(
        "身份信息核验未通过，请核对姓名、身份证号和有效期。最近换领或申请的身份证有可能核验不过，请稍后再试。"
    ),
    Refusal.ALREADY_REGISTERED: N_("账号已注册，请直接登录"),
    Refusal.PHONE_TAKEN: N_("该手机号已被其他账号使用"),
    Refusal.USERNAME_TAKEN: N_("该用户名已被使用"),
    Refusal.ALREADY_ACTIVE: N_("账号已激活，请直接登录"),
    **{refusal: CHECK_MESSAGES[check] for check, refusal in CODE_REFUSALS.items()},
}

FIELDS: dict[Refusal, str] = {
    Refusal.WRONG_PASSWORD: "password",
    Refusal.LOCKED: "password",
    Refusal.THROTTLED: "password",
    Refusal.UNACTIVATED: "identifier",
    Refusal.DISABLED: "identifier",
    Refusal.SAME_PASSWORD: "password",
    Refusal.ALREADY_REGISTERED: "id_number",
    Refusal.PHONE_TAKEN: "phone",
    Refusal.USERNAME_TAKEN: "username",
    **{refusal: "code" for refusal in CODE_REFUSALS.values()},
}  # the others belong to the whole form


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a rule yields (``value``), or why it refused; ``until``: when a lock or limit lifts."""

    refusal: Refusal | None = None
    value: T | None = None
    until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None

    def errors(self) -> dict[str, str]:
        """The refusal as a form error (a msgid), under its field."""
        if self.refusal is None:
            return {}
        return {FIELDS.get(self.refusal, "form"): MESSAGES[self.refusal]}


def code_refusal(check: CodeCheck) -> Outcome[T]:
    """A code that did not prove the phone."""
    return Outcome(CODE_REFUSALS[check])
