"""Security notices by SMS: short texts with no code, telling the person something happened to their
account. They have a limit of their own per phone (a notice never uses up the person's code quota, and
never becomes a way to flood someone's phone), a failed delivery changes nothing, and each is audited
(``security_notice``: its kind and whether it went out; never the number)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from webapp import audit, limits
from webapp.accounts.tables import Account
from webapp.i18n import N_
from webapp.runtime import Runtime
from webapp.sms.messages import compose, notice_kind

NOTICES_PER_HOUR = 5  # per phone, all kinds together


class Notice(StrEnum):
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - the name of a notice
    PASSWORD_RESET = "password_reset"  # noqa: S105
    PHONE_CHANGED = "phone_changed"  # to the old number
    NEW_DEVICE = "new_device"  # a password sign-in from a browser this account has not signed in from
    FACE_SUCCESS = "face_success"  # a signed-out face check passed (its purpose gives the text)
    DELETION_REQUESTED = "deletion_requested"  # 注销账号: when it will be erased, and how to cancel


TEXTS = {
    Notice.PASSWORD_CHANGED: N_(
        "【工商注册身份验证】您的登录密码已修改，其他设备上的登录已退出。如非本人操作，请立即找回密码并联系客服。"
    ),
    Notice.PASSWORD_RESET: N_(
        "【工商注册身份验证】您的登录密码已重置，所有设备上的登录已退出。如非本人操作，请立即联系客服。"
    ),
    Notice.PHONE_CHANGED: N_(
        "【工商注册身份验证】您账号绑定的手机号已变更为{phone}。如非本人操作，请立即修改密码并联系客服。"
    ),
    Notice.NEW_DEVICE: N_(
        "【工商注册身份验证】您的账号于{time}在新设备（{device}）上登录。如非本人操作，请立即修改密码。"
    ),
    Notice.DELETION_REQUESTED: N_(
        "【工商注册身份验证】您的账号已申请注销，将于{time}完成注销。在此之前登录即可撤销。如非本人操作，请立即登录撤销并修改密码。"
    ),
}


async def send_notice(
    rt: Runtime,
    account_id: int,
    notice: Notice,
    origin: audit.Origin,
    *,
    to_phone: str | None = None,
    text: str | None = None,
    variant: str = "",
    **values: Any,
) -> bool:
    """Tell the phone on record (or ``to_phone``) the notice's text (or ``text``, one per ``variant``: its
    own provider template), in the current language. True when it went out."""
    from webapp.sms.channels import DeliveryError, deliver_counted

    if to_phone is None:
        row = await Account.select(Account.phone).where(Account.id == account_id).first()
        if row is None:
            return False
        to_phone = rt.keyring.decrypt_text(row["phone"], "account.phone")
    now = rt.clock.now()
    limit = limits.Limit(
        rt.limit_key("security-notice", rt.phone_index(to_phone)), (limits.Rolling(3600, NOTICES_PER_HOUR),)
    )
    sent, reason = False, "limit"
    if (await limits.take([limit], now)).allowed:
        try:
            message = compose(notice_kind(notice, variant), text or TEXTS[notice], **values)
            await deliver_counted(rt.sms_channel, rt.settings.effective_sms_channel, to_phone, message)
            sent, reason = True, ""
        except DeliveryError:  # logged by the channel
            reason = "delivery"
    await audit.record("security_notice", now, origin, account_id, kind=str(notice), sent=sent, reason=reason)
    return sent
