"""个人信息副本: everything held about a person, as one JSON document whose schema is documented in
docs/personal-data.md (``SCHEMA`` names its version; a field is only ever added, never renamed or dropped,
without a new version). The face template is listed as held, never exported."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from webapp.accounts import sessions
from webapp.accounts.activity import in_words
from webapp.accounts.devices import describe_device
from webapp.accounts.records import AccountRecord
from webapp.business.rules import KINDS, ROLES, STATUSES
from webapp.business.service import filings_naming
from webapp.i18n import _, level_name
from webapp.privacy.consents import acceptances
from webapp.runtime import Runtime
from webapp.tables import AuditEvent

SCHEMA = "shiming.personal-data/1"


def _when(moment: datetime | date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _parsed(detail: str) -> Any:
    try:
        return json.loads(detail or "{}")
    except ValueError:
        return {}


async def personal_data(rt: Runtime, account: AccountRecord) -> dict[str, Any]:
    """The document: plain JSON values only (strings, numbers, booleans, null, lists, objects)."""
    k = rt.keyring
    events = (
        await AuditEvent.select(
            AuditEvent.at, AuditEvent.event, AuditEvent.detail, AuditEvent.ip, AuditEvent.user_agent
        )
        .where(AuditEvent.account_id == account.id)
        .order_by(AuditEvent.at, AuditEvent.id, ascending=False)
    )
    level_since = next((row["at"] for row in events if row["event"] == "level_changed"), account.created_at)
    return {
        "schema": SCHEMA,
        "generated_at": _when(rt.clock.now()),
        "account": {
            "username": account.username,
            "state": str(account.state),
            "created_at": _when(account.created_at),
            "updated_at": _when(account.updated_at),
            "level": account.level,
            "level_name": level_name(account.level),
            "level_since": _when(level_since),
            "business_registration": account.business_registration,
            "business_until": _when(account.business_until),
        },
        "identity": {
            "name": k.decrypt_text(account.name, "account.name"),
            "id_number": k.decrypt_text(account.id_number, "account.id_number"),
            "valid_from": _when(account.valid_from),
            "valid_to": _when(account.valid_to),  # null: 长期
            "long_term": account.valid_to is None,
            "source_province": account.source_province,
        },
        "phone": k.decrypt_text(account.phone, "account.phone"),
        "consents": [
            {"document": a.document, "version": a.version, "accepted_at": _when(a.accepted_at)}
            for a in await acceptances(account.id)
        ],
        "face": {
            "template_held": account.face_template is not None,
            "template_exported": False,
            "consent_given_at": _when(account.face_consent_at),
        },
        "filings": [
            {
                "reference": filing.reference,
                "company_name": filing.company_name,
                "kind": filing.kind,
                "kind_name": _(KINDS.get(filing.kind, filing.kind)),
                "role": filing.role,
                "role_name": _(ROLES.get(filing.role, filing.role)),
                "my_decision": filing.my_status,
                "my_decision_name": _(STATUSES.get(filing.my_status, filing.my_status)),
                "decided_at": _when(filing.decided_at),
                "filing_status": filing.filing_status,
                "created_at": _when(filing.created_at),
            }
            for filing in await filings_naming(rt, account)
        ],
        "sessions": [
            {
                "device": describe_device(device.user_agent),
                "user_agent": device.user_agent,
                "ip": device.ip,
                "created_at": _when(device.created_at),
                "last_seen_at": _when(device.last_seen_at),
            }
            for device in await sessions.devices(rt, account.id, None)
        ],
        "activity": [
            {
                "at": _when(row["at"]),
                "event": row["event"],
                "description": in_words(row["event"], row["detail"]),
                "detail": _parsed(row["detail"]),
                "ip": row["ip"],
                "user_agent": row["user_agent"],
            }
            for row in events
        ],
    }
