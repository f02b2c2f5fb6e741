"""Time comes from a clock object so that tests can drive windows and expiries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        """The calendar day in China, which is what card validity dates mean."""
        return self.now().astimezone(SHANGHAI).date()
