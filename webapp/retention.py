"""Retention: SMS codes, expired sessions and old limit events are purged within a day."""

from __future__ import annotations

from webapp import limits
from webapp.accounts import flows, sessions
from webapp.runtime import Runtime
from webapp.sms import codes


async def purge_expired(rt: Runtime) -> str:
    now = rt.clock.now()
    counts = {
        "sms codes": await codes.purge(now),
        "sessions": await sessions.purge(rt),
        "limit events": await limits.purge(now),
        "flows": await flows.purge(rt),
    }
    return "purged " + ", ".join(f"{n} {what}" for what, n in counts.items())
