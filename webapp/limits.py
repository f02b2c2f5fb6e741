"""Rate limits kept in the database, so they hold across app processes and under concurrent requests.

A limit is a key (a keyed hash: no phone number or IP address is stored) and a set of windows. Taking a
slot checks every window and records the event in one serialised transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from webapp.db import write_transaction
from webapp.tables import RateEvent


@dataclass(frozen=True)
class Rolling:
    """At most ``limit`` events in any ``seconds`` long stretch."""

    seconds: int
    limit: int

    def window_start(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.seconds)

    def reopens_at(self, times_in_window: Sequence[datetime], now: datetime) -> datetime:
        return times_in_window[-self.limit] + timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class CalendarDay:
    """At most ``limit`` events per natural day in ``zone``."""

    zone: ZoneInfo
    limit: int

    def window_start(self, now: datetime) -> datetime:
        local = now.astimezone(self.zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0)

    def reopens_at(self, times_in_window: Sequence[datetime], now: datetime) -> datetime:
        start = self.window_start(now)
        return (start + timedelta(days=1, hours=2)).replace(hour=0)  # DST-safe next local midnight


Window = Rolling | CalendarDay


def blocked_until(times: Sequence[datetime], now: datetime, windows: Sequence[Window]) -> datetime | None:
    """None when one more event is allowed now, else the earliest time it will be. ``times`` ascending."""
    until = None
    for window in windows:
        start = window.window_start(now)
        in_window = [t for t in times if t > start]
        if len(in_window) >= window.limit:
            reopens = window.reopens_at(in_window, now)
            until = reopens if until is None else max(until, reopens)
    return until


@dataclass(frozen=True)
class Limit:
    key: str
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_at: datetime | None
    event_ids: tuple[int, ...] = ()


async def event_times(key: str, since: datetime) -> list[datetime]:
    """When the events under ``key`` after ``since`` happened, oldest first."""
    rows = await RateEvent.select(RateEvent.at).where((RateEvent.key == key) & (RateEvent.at > since))
    return sorted(row["at"] for row in rows)


async def blocked(limit: Limit, now: datetime) -> datetime | None:
    """Read-only check, for showing a countdown."""
    since = min(w.window_start(now) for w in limit.windows)
    return blocked_until(await event_times(limit.key, since), now, limit.windows)


async def take(limits: Sequence[Limit], now: datetime) -> Decision:
    """Take one slot from every limit, or from none of them."""
    async with write_transaction(*(limit.key for limit in limits)):
        retry_at = None
        for limit in limits:
            until = await blocked(limit, now)
            if until is not None:
                retry_at = until if retry_at is None else max(retry_at, until)
        if retry_at is not None:
            return Decision(allowed=False, retry_at=retry_at)
        event_ids = await record([limit.key for limit in limits], now)
    return Decision(allowed=True, retry_at=None, event_ids=event_ids)


async def record(keys: Sequence[str], now: datetime) -> tuple[int, ...]:
    """One event under each key, at ``now``; their ids, in order. Inside the caller's write transaction
    when it must be atomic with a check."""
    rows = await RateEvent.insert(*(RateEvent(key=key, at=now) for key in keys)).returning(RateEvent.id)
    return tuple(row["id"] for row in rows)


async def give_back(decision: Decision) -> None:
    """Return the slots of an action that did not happen (a failed SMS delivery)."""
    if decision.event_ids:
        await RateEvent.delete().where(RateEvent.id.is_in(list(decision.event_ids)))


async def purge(now: datetime, keep: timedelta = timedelta(days=2)) -> int:
    deleted = await RateEvent.delete().where(RateEvent.at < now - keep).returning(RateEvent.id)
    return len(deleted)
