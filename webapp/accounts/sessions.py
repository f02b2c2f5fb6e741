"""Login sessions: a random 256-bit token in the cookie, only its keyed hash in the database.

Our own tokens rather than Litestar's server-side sessions, which accept a client-chosen id (fixation).
A session ends after the idle time (sliding) or the absolute lifetime, whichever comes first.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from webapp.accounts.records import AccountRecord
from webapp.accounts.tables import Account, UserSession
from webapp.audit import Origin
from webapp.privacy.consents import outstanding
from webapp.runtime import Runtime

TOUCH_EVERY = timedelta(seconds=60)  # sliding expiry without a write on every request
SESSION_COLUMNS = (
    UserSession.id,
    UserSession.account,
    UserSession.created_at,
    UserSession.last_seen_at,
    UserSession.expires_at,
    UserSession.consent_due,
)
ACCOUNT_PREFIX = "account."  # the joined account's columns are named account.id, account.level, ...
# Written once rather than built by the ORM at every request: building this join took most of a signed-in
# page's time (bench/http.py). The session's columns keep their names; the account's carry the prefix.
SIGNED_IN = (  # the names come from the table definitions; the token hash is a parameter
    "SELECT "  # noqa: S608
    + ", ".join(f"s.{column._meta.db_column_name}" for column in SESSION_COLUMNS)
    + ", "
    + ", ".join(f'a.{field.name} AS "{ACCOUNT_PREFIX}{field.name}"' for field in fields(AccountRecord))
    + f" FROM {UserSession._meta.tablename} s JOIN {Account._meta.tablename} a ON a.id = s.account"
    + " WHERE s.token_hash = {}"
)


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
    """A new token at every login and level change; the one it replaces stops working. A session of an
    account that has not accepted the current version of a sign-up document is held at /consent."""
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
            consent_due=bool(await outstanding(account_id)),
        )
    )
    return token


async def load_session(rt: Runtime, token: str | None) -> ActiveSession | None:
    """The live session of this token (for 登录 and 退出登录, which need no account)."""
    if not token or len(token) > 100:
        return None
    now = rt.clock.now()
    row = (
        await UserSession.select(*SESSION_COLUMNS)
        .where(UserSession.token_hash == _token_hash(rt, token))
        .first()
    )
    if row is None or not await _still_live(rt, row, now):
        return None
    return ActiveSession(id=row["id"], account_id=row["account"], created_at=row["created_at"])


@dataclass(frozen=True)
class SignedIn:
    account: AccountRecord
    session_id: int
    consent_due: bool  # held at /consent until the raised document versions are accepted


async def load_signed_in(rt: Runtime, token: str | None) -> SignedIn | None:
    """The account of this token's live session: the session and its account in one SELECT (a join),
    under the same rules as :func:`load_session`. The guard of every signed-in route asks this."""
    if not token or len(token) > 100:
        return None
    now = rt.clock.now()
    rows = await UserSession.raw(SIGNED_IN, _token_hash(rt, token))
    if not rows or not await _still_live(rt, rows[0], now):
        return None  # (a session's account is deleted with it, so the join finds both or neither)
    row = rows[0]
    return SignedIn(AccountRecord.of(row, prefix=ACCOUNT_PREFIX), row["id"], bool(row["consent_due"]))


async def consent_given(session_id: int) -> None:
    """The session may go on: its account has accepted what was due."""
    await UserSession.update({UserSession.consent_due: False}).where(UserSession.id == session_id)


async def _still_live(rt: Runtime, row: Mapping[str, Any], now: datetime) -> bool:
    """Ends the session past its absolute or idle deadline; slides the idle one, at most every
    TOUCH_EVERY."""
    idle_deadline = row["last_seen_at"] + timedelta(minutes=rt.settings.session_idle_minutes)
    if now >= row["expires_at"] or now >= idle_deadline:
        await UserSession.delete().where(UserSession.id == row["id"])
        return False
    if now - row["last_seen_at"] >= TOUCH_EVERY:
        await UserSession.update({UserSession.last_seen_at: now}).where(UserSession.id == row["id"])
    return True


async def end_session(rt: Runtime, token: str) -> None:
    await UserSession.delete().where(UserSession.token_hash == _token_hash(rt, token))


async def end_all_sessions(rt: Runtime, account_id: int, keep_token: str | None = None) -> int:
    """Ends the account's sessions but ``keep_token``'s; how many."""
    query = UserSession.delete().where(UserSession.account == account_id)
    if keep_token:
        query = query.where(UserSession.token_hash != _token_hash(rt, keep_token))
    return len(await query.returning(UserSession.id))


@dataclass(frozen=True)
class Device:
    """A live session as 我的设备 shows it."""

    id: int
    user_agent: str
    ip: str
    created_at: datetime
    last_seen_at: datetime
    current: bool  # the session of the browser asking


async def devices(rt: Runtime, account_id: int, current_token: str | None) -> list[Device]:
    """The account's live sessions: the asking browser's first, then the most recently used."""
    now = rt.clock.now()
    idle_cutoff = now - timedelta(minutes=rt.settings.session_idle_minutes)
    rows = (
        await UserSession.select(
            UserSession.id,
            UserSession.token_hash,
            UserSession.user_agent,
            UserSession.ip,
            UserSession.created_at,
            UserSession.last_seen_at,
        )
        .where(
            (UserSession.account == account_id)
            & (UserSession.expires_at > now)
            & (UserSession.last_seen_at > idle_cutoff)
        )
        .order_by(UserSession.last_seen_at, UserSession.id, ascending=False)
    )
    mine = _token_hash(rt, current_token) if current_token else ""
    listed = [
        Device(
            id=row["id"],
            user_agent=row["user_agent"],
            ip=row["ip"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            current=row["token_hash"] == mine,
        )
        for row in rows
    ]
    return sorted(listed, key=lambda device: not device.current)  # stable: the rest keep their order


async def end_other_session(rt: Runtime, account_id: int, session_id: int, current_token: str | None) -> bool:
    """Ends one session of the account, never another account's nor the asking browser's own (that is
    退出登录); whether there was one to end."""
    query = UserSession.delete().where((UserSession.id == session_id) & (UserSession.account == account_id))
    if current_token:
        query = query.where(UserSession.token_hash != _token_hash(rt, current_token))
    return bool(await query.returning(UserSession.id))


async def purge(rt: Runtime) -> int:
    now = rt.clock.now()
    idle_cutoff = now - timedelta(minutes=rt.settings.session_idle_minutes)
    deleted = (
        await UserSession.delete()
        .where((UserSession.expires_at < now) | (UserSession.last_seen_at < idle_cutoff))
        .returning(UserSession.id)
    )
    return len(deleted)
