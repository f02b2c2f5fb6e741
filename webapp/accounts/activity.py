"""账号动态: the account's own security events from the audit log, in words a person understands."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webapp.accounts.devices import describe_device
from webapp.i18n import N_, _
from webapp.tables import AuditEvent

PER_PAGE = 20


def _login_ok(detail: Mapping[str, Any]) -> str:
    return N_("人脸识别登录成功") if detail.get("method") == "face" else N_("登录成功")


def _login_failed(detail: Mapping[str, Any]) -> str:
    return {
        "locked": N_("登录未成功：账号已锁定"),
        "disabled": N_("登录未成功：账号已停用"),
    }.get(str(detail.get("reason")), N_("登录未成功：密码错误"))


def _face_check(detail: Mapping[str, Any]) -> str:
    return N_("人脸核验通过") if detail.get("decision") == "match" else N_("人脸核验未通过")


def _level_changed(detail: Mapping[str, Any]) -> str:
    return N_("实名等级提升为四级") if detail.get("level") == 4 else N_("实名等级变为三级")


def _security_notice(detail: Mapping[str, Any]) -> str:
    return N_("发送安全提醒短信") if detail.get("sent") else N_("安全提醒短信未发出")


def _consent_given(detail: Mapping[str, Any]) -> str:
    return {
        "user_agreement": N_("同意《用户协议》"),
        "privacy_policy": N_("同意《个人信息保护政策》"),
        "face_data_notice": N_("同意《人脸信息处理告知书》"),
    }.get(str(detail.get("document")), N_("同意协议"))


def _fixed(words: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda _detail: words


WORDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "account_created": _fixed(N_("注册账号")),
    "account_imported": _fixed(N_("账号由登记机关导入")),
    "account_activated": _fixed(N_("激活账号")),
    "activation_required": _fixed(N_("登录前需先激活账号")),
    "activation_phone_verified": _fixed(N_("激活账号：身份核验通过")),
    "activation_face_verified": _fixed(N_("激活账号：人脸核验通过")),
    "login_ok": _login_ok,
    "login_failed": _login_failed,
    "account_locked": _fixed(N_("密码错误次数过多，账号已锁定")),
    "password_confirmed": _fixed(N_("验证登录密码")),
    "logout": _fixed(N_("退出登录")),
    "password_changed": _fixed(N_("修改密码")),
    "password_reset": _fixed(N_("重置密码")),
    "recovery_verified": _fixed(N_("找回密码：身份核验通过")),
    "phone_changed": _fixed(N_("修改手机号")),
    "face_check": _face_check,
    "face_consent_given": _fixed(N_("同意人脸信息处理")),
    "face_consent_withdrawn": _fixed(N_("撤回人脸信息授权")),
    "level_changed": _level_changed,
    "filing_created": _fixed(N_("收到工商注册业务")),
    "filing_confirmed": _fixed(N_("确认工商注册业务")),
    "filing_declined": _fixed(N_("拒绝工商注册业务")),
    "filing_decision_refused": _fixed(N_("工商注册业务确认未完成")),
    "business_registration_changed": _fixed(N_("工商注册设置变更")),
    "session_ended": _fixed(N_("退出其他设备上的登录")),
    "personal_data_downloaded": _fixed(N_("下载个人信息副本")),
    "security_notice": _security_notice,
    "consent_given": _consent_given,
    "account_deletion_requested": _fixed(N_("申请注销账号")),
    "account_deletion_cancelled": _fixed(N_("撤销注销账号")),
    "account_deleted": _fixed(N_("账号已注销")),
}
SHOWN = tuple(WORDS)  # events of other kinds (none name an account today) are not the person's to read


@dataclass(frozen=True)
class Event:
    at: datetime
    words: str  # translated
    device: str  # translated
    ip: str


@dataclass(frozen=True)
class ActivityPage:
    events: list[Event]
    page: int
    has_next: bool


def in_words(event: str, detail: str) -> str:
    """The event in the current language (an event of a kind not in WORDS: its code)."""
    if event not in WORDS:
        return event
    try:
        parsed = json.loads(detail or "{}")
    except ValueError:
        parsed = {}
    return _(WORDS[event](parsed if isinstance(parsed, dict) else {}))


async def activity(account_id: int, page: int = 1) -> ActivityPage:
    """One page of the account's events, newest first (one more is read to know if there is a next)."""
    page = max(1, page)
    rows = (
        await AuditEvent.select(
            AuditEvent.at, AuditEvent.event, AuditEvent.detail, AuditEvent.ip, AuditEvent.user_agent
        )
        .where((AuditEvent.account_id == account_id) & AuditEvent.event.is_in(list(SHOWN)))
        .order_by(AuditEvent.at, AuditEvent.id, ascending=False)
        .limit(PER_PAGE + 1)
        .offset((page - 1) * PER_PAGE)
    )
    events = [
        Event(row["at"], in_words(row["event"], row["detail"]), describe_device(row["user_agent"]), row["ip"])
        for row in rows[:PER_PAGE]
    ]
    return ActivityPage(events, page, len(rows) > PER_PAGE)
