"""The append-only audit log of security events (database triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webapp import metrics
from webapp.tables import AuditEvent

log = logging.getLogger("webapp.audit")


@dataclass(frozen=True)
class Origin:
    """Where a request came from, as far as the audit log is concerned."""

    ip: str = ""
    user_agent: str = ""

    @classmethod
    def command_line(cls) -> Origin:
        return cls(ip="", user_agent="webapp-cli")


async def record(
    event: str, now: datetime, origin: Origin, account_id: int | None = None, **detail: Any
) -> None:
    await AuditEvent.insert(
        AuditEvent(
            at=now,
            event=event,
            account_id=account_id,
            ip=origin.ip[:45],
            user_agent=origin.user_agent[:300],
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
        )
    )
    metrics.audited(event, detail)
    log.info("audit %s account=%s", event, account_id)
