"""Who a wrong password locks out: the guesser, not the owner.

Failures are counted per *subject* (an account, or an identifier that names nobody — a shadow that
answers exactly like an account) and *source* (a known device of the account, else the client
address). ``login_max_failures`` failures in a row from one source lock that source out of that
subject for ``login_lock_minutes``; the owner's known device (a signed cookie set at each sign-in, as
Login.gov remembers devices) and other addresses keep their own counts. Across all sources a subject
takes at most ``login_max_failures_per_day`` failures per Shanghai day (NIST SP 800-63B: at most 100),
then every source waits for the next day.

An attempt is reserved — counted as a failure — before Argon2 runs and settled after it, both under
the subject's write lock, so parallel guesses cannot all be verified against one stale count; a lock
set while an attempt was being verified stands even when its password was right.

The counts are :class:`webapp.tables.RateEvent` rows under keyed hashes (no identifier, address or
device id is stored) and are purged with them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from webapp.clock import SHANGHAI
from webapp.crypto import constant_time_equal
from webapp.db import write_transaction
from webapp.limits import CalendarDay, event_times, record
from webapp.runtime import Runtime
from webapp.tables import RateEvent

DEVICE_COOKIE_DAYS = 400
COUNT_WINDOW = timedelta(days=1)  # failures older than this no longer count towards a lock


@dataclass(frozen=True)
class Keys:
    failures: str
    lock: str
    day: str

    @classmethod
    def of(cls, rt: Runtime, subject: str, source: str) -> Keys:
        return cls(
            rt.limit_key("login-failures", f"{subject}|{source}"),
            rt.limit_key("login-lock", f"{subject}|{source}"),
            rt.limit_key("login-day", subject),
        )


@dataclass(frozen=True)
class Verdict:
    """``locked_until`` set when the source is locked out (``newly_locked``: by this attempt)."""

    locked_until: datetime | None = None
    newly_locked: bool = False


@dataclass(frozen=True)
class Reservation:
    """An attempt counted before verification; it may go on when its verdict has no lock."""

    keys: Keys
    verdict: Verdict
    day_event: int | None = None


def device_cookie_name(rt: Runtime) -> str:
    """``__Host-`` like the session cookie: this exact origin, over HTTPS; dev runs on plain http."""
    return "known_device" if rt.settings.dev else "__Host-known_device"


def account_subject(account_id: int) -> str:
    return f"account:{account_id}"


def address_source(ip: str) -> str:
    return f"ip:{ip}"


def source_of(rt: Runtime, account_id: int | None, device_cookie: str | None, ip: str) -> str:
    """The known device when the cookie was issued to this account, else the address."""
    device = known_device(rt, device_cookie, account_id) if account_id is not None else None
    return f"device:{device}" if device else address_source(ip)


def device_cookie_value(rt: Runtime, account_id: int) -> str:
    device = secrets.token_urlsafe(16)
    return f"{account_id}.{device}.{_device_mac(rt, account_id, device)}"


def known_device(rt: Runtime, cookie: str | None, account_id: int) -> str | None:
    parts = (cookie or "").split(".")
    if len(parts) != 3 or parts[0] != str(account_id):
        return None
    return parts[1] if constant_time_equal(parts[2], _device_mac(rt, account_id, parts[1])) else None


def _device_mac(rt: Runtime, account_id: int, device: str) -> str:
    return rt.keyring.keyed_hash("known-device", f"{account_id}:{device}")[:32]


async def _lock(rt: Runtime, keys: Keys, now: datetime) -> Verdict:
    """Lock the source; its failures are spent (the lock now stands for them)."""
    await record([keys.lock], now)
    await RateEvent.delete().where(RateEvent.key == keys.failures)
    return Verdict(now + timedelta(minutes=rt.settings.login_lock_minutes), newly_locked=True)


async def _standing_lock(rt: Runtime, keys: Keys, now: datetime) -> Verdict:
    lock_span = timedelta(minutes=rt.settings.login_lock_minutes)
    locks = await event_times(keys.lock, now - lock_span)
    if locks:
        return Verdict(locks[-1] + lock_span)
    day = CalendarDay(SHANGHAI, rt.settings.login_max_failures_per_day)
    today = await event_times(keys.day, day.window_start(now))
    if len(today) >= day.limit:
        return Verdict(day.reopens_at(today, now))
    return Verdict()


async def _failures(rt: Runtime, keys: Keys, now: datetime) -> int:
    return len(await event_times(keys.failures, now - COUNT_WINDOW))


async def reserve(rt: Runtime, subject: str, source: str, now: datetime) -> Reservation:
    keys = Keys.of(rt, subject, source)
    async with write_transaction(keys.day):
        standing = await _standing_lock(rt, keys, now)
        if standing.locked_until:
            return Reservation(keys, standing)
        if await _failures(rt, keys, now) >= rt.settings.login_max_failures:  # that many still in flight
            return Reservation(keys, await _lock(rt, keys, now))
        _failure, day_event = await record([keys.failures, keys.day], now)
    return Reservation(keys, Verdict(), day_event=day_event)


async def settle(rt: Runtime, reservation: Reservation, matches: bool, now: datetime) -> Verdict:
    """After Argon2, against the counts as they are now: a lock set meanwhile stands, even for the right
    password; the right password clears the source's count (and is no failure of the day); a wrong one
    that reached the limit locks the source."""
    keys = reservation.keys
    async with write_transaction(keys.day):
        standing = await _standing_lock(rt, keys, now)
        if standing.locked_until:
            return standing
        if matches:
            await RateEvent.delete().where(
                (RateEvent.key == keys.failures) | (RateEvent.id == reservation.day_event)
            )
            return Verdict()
        if await _failures(rt, keys, now) >= rt.settings.login_max_failures:
            return await _lock(rt, keys, now)
    return Verdict()


async def forgive(rt: Runtime, subject: str, source: str) -> None:
    """After the owner proved who they are (a reset by SMS or face) from this source: its count and lock
    go, and the day's count (other sources keep theirs: they are not the owner)."""
    keys = Keys.of(rt, subject, source)
    async with write_transaction(keys.day):
        await RateEvent.delete().where(RateEvent.key.is_in([keys.failures, keys.lock, keys.day]))
