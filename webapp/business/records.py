"""Filing rows as typed records: a filing is ``filing.status``, not ``row["status"]``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webapp.business.rules import Status


@dataclass(frozen=True, slots=True)
class FilingRecord:
    id: int
    reference: str
    company_name: str
    kind: str
    status: Status
    created_at: datetime
    updated_at: datetime
    change_seq: int

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> FilingRecord:
        return cls(
            row["id"],
            row["reference"],
            row["company_name"],
            row["kind"],
            Status(row["status"]),
            row["created_at"],
            row["updated_at"],
            row["change_seq"],
        )


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person a filing names; ``name`` and ``id_number`` encrypted."""

    id: int
    filing: int
    name: bytes
    id_number: bytes
    id_index: str
    role: str
    status: Status
    decided_at: datetime | None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> PersonRecord:
        return cls(
            row["id"],
            row["filing"],
            row["name"],
            row["id_number"],
            row["id_index"],
            row["role"],
            Status(row["status"]),
            row["decided_at"],
        )
