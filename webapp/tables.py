"""The tables of the services every domain uses: rate limits (:mod:`webapp.limits`) and the audit log
(:mod:`webapp.audit`)."""

from __future__ import annotations

from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class RateEvent(Table, tablename="rate_event"):
    """One taken slot of a limit: its key (a keyed hash) and when."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    key = Varchar(length=64, index=True)
    at = Timestamptz(index=True)


class AuditEvent(Table, tablename="audit_event"):
    id: Serial  # the primary key Piccolo adds; declared for the type checker
    at = Timestamptz(index=True)
    event = Varchar(length=48, index=True)
    account_id = Integer(null=True, default=None, index=True)  # no foreign key: the log outlives accounts
    ip = Varchar(length=45, default="")
    user_agent = Varchar(length=300, default="")
    detail = Text(default="{}")  # JSON; never names, ID numbers or phone numbers
