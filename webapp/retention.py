"""Retention: SMS codes, expired sessions and old limit events are purged within a day, and accounts
whose 注销账号 cooling-off has ended are erased."""

from __future__ import annotations

from webapp import limits
from webapp.accounts import flows, sessions
from webapp.privacy.deletion import erase_due
from webapp.runtime import Runtime
from webapp.sms import codes


async def purge_expired(rt: Runtime) -> str:
    now = rt.clock.now()
    counts = {
        "sms codes": await codes.purge(now),
        "sessions": await sessions.purge(rt),
        "limit events": await limits.purge(now),
        "flows": await flows.purge(rt),
        "deleted accounts erased": (await erase_due(rt)).count,
    }
    return "purged " + ", ".join(f"{n} {what}" for what, n in counts.items())
