"""Login sessions: a random 256-bit token in the cookie, only its keyed hash in the database.

Our own tokens rather than Litestar's server-side sessions, which accept a client-chosen id (fixation).
A session ends after the idle time (sliding) or the absolute lifetime, whichever comes first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from webapp.accounts.tables import UserSession
from webapp.audit import Origin
from webapp.runtime import Runtime

TOUCH_EVERY = timedelta(seconds=60)  # sliding expiry without a write on every request


@dataclass(frozen=True)
class ActiveSession:
    id: int
    account_id: int
    created_at: datetime


def cookie_name(rt: Runtime) -> str:
    """``__Host-`` binds the cookie to this exact origin over HTTPS; dev runs on plain http."""
    return "sid" if rt.settings.dev else "__Host-sid"


def _token_hash(rt: Runtime, token: str) -> str:
    return rt.keyring.keyed_hash("session", token)


async def start_session(rt: Runtime, account_id: int, origin: Origin, replacing: str | None = None) -> str:
    """A new token at every login and level change; the one it replaces stops working."""
    if replacing:
        await end_session(rt, replacing)
    token = secrets.token_urlsafe(32)
    now = rt.clock.now()
    await UserSession.insert(
        UserSession(
            token_hash=_token_hash(rt, token),
            account=account_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=rt.settings.session_absolute_hours),
            ip=origin.ip[:45],
            user_agent=origin.user_agent[:300],
        )
    )
    return token


async def load_session(rt: Runtime, token: str | None) -> ActiveSession | None:
    if not token or len(token) > 100:
        return None
    now = rt.clock.now()
    row = await UserSession.select().where(UserSession.token_hash == _token_hash(rt, token)).first()
    if row is None:
        return None
    idle_deadline = row["last_seen_at"] + timedelta(minutes=rt.settings.session_idle_minutes)
    if now >= row["expires_at"] or now >= idle_deadline:
        await UserSession.delete().where(UserSession.id == row["id"])
        return None
    if now - row["last_seen_at"] >= TOUCH_EVERY:
        await UserSession.update({UserSession.last_seen_at: now}).where(UserSession.id == row["id"])
    return ActiveSession(id=row["id"], account_id=row["account"], created_at=row["created_at"])


async def end_session(rt: Runtime, token: str) -> None:
    await UserSession.delete().where(UserSession.token_hash == _token_hash(rt, token))


async def end_all_sessions(rt: Runtime, account_id: int, keep_token: str | None = None) -> None:
    query = UserSession.delete().where(UserSession.account == account_id)
    if keep_token:
        query = query.where(UserSession.token_hash != _token_hash(rt, keep_token))
    await query


async def purge(rt: Runtime) -> int:
    now = rt.clock.now()
    idle_cutoff = now - timedelta(minutes=rt.settings.session_idle_minutes)
    deleted = (
        await UserSession.delete()
        .where((UserSession.expires_at < now) | (UserSession.last_seen_at < idle_cutoff))
        .returning(UserSession.id)
    )
    return len(deleted)
