"""The append-only audit log of security events (database triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

log = logging.getLogger("webapp.audit")


class AuditEvent(Table, tablename="audit_event"):
    at = Timestamptz(index=True)
    event = Varchar(length=48, index=True)
    account_id = Integer(null=True, default=None, index=True)  # no foreign key: the log outlives accounts
    ip = Varchar(length=45, default="")
    user_agent = Varchar(length=300, default="")
    detail = Text(default="{}")  # JSON; never names, ID numbers or phone numbers


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
    log.info("audit %s account=%s", event, account_id)
