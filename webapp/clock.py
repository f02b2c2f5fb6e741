"""Time comes from a clock object so that tests can drive windows and expiries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    """What the services ask of a clock: :class:`SystemClock`, or the tests' frozen one."""

    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        """The calendar day in China, which is what card validity dates mean."""
        return self.now().astimezone(SHANGHAI).date()


def clock_time(moment: datetime, now: datetime) -> str:
    """When a wait ends, as people read it in China: 08:46 today, else 2026-03-02 08:46 (the one date
    format of every screen)."""
    local = moment.astimezone(SHANGHAI)
    same_day = local.date() == now.astimezone(SHANGHAI).date()
    return local.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")


def local_time(moment: datetime) -> str:
    """A past moment as every list shows it: 2026-03-02 08:46, China's time."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
