"""`webapp accounts import`: unactivated accounts from a provincial system, each row checked with the
identity authority."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from webapp import audit
from webapp.accounts.service import AccountExists, NewAccount, create_account
from webapp.accounts.tables import Account
from webapp.csvimport import (
    CsvSource,
    DuplicateFinder,
    ImportFailed,
    Problems,
    Progress,
    RowProblem,
    convert_row,
    file_changed,
    parse_date,
    parse_end_date,
)
from webapp.db import write_transaction
from webapp.identity.registry import id_number_key
from webapp.identity.rules import validate_id_number, validate_name
from webapp.runtime import Runtime
from webapp.sms.phone import validate_phone

COLUMNS = ["name", "id_number", "valid_from", "valid_to", "phone", "province"]
IMPORT_LOCK = "accounts import"


def new_account(values: dict[str, Any]) -> NewAccount:
    return NewAccount(
        values["name"],
        values["id_number"],
        values["valid_from"],
        values["valid_to"],
        values["phone"],
        source_province=values["province"],
    )


async def import_accounts(rt: Runtime, csv_path: Path, progress: Progress) -> dict[str, int]:
    """Check the whole file (each row with the identity authority), then write it inside one transaction:
    all of it or nothing."""
    today = rt.clock.today()
    source = CsvSource(csv_path, COLUMNS)
    converters: dict[str, Callable[[str], Any]] = {
        "name": validate_name,
        "id_number": lambda v: validate_id_number(v, today),
        "valid_from": parse_date,
        "valid_to": parse_end_date,
        "phone": validate_phone,
        "province": lambda v: v[:32],
    }
    problems = Problems()
    same_id = DuplicateFinder("id_number", "same value as line {}")
    same_phone = DuplicateFinder("phone", "same value as line {}")
    with progress.phase("checking", source) as phase:
        for line, values in source.rows(problems):
            if (v := convert_row(line, values, converters, problems)) is not None:
                same_id.add(id_number_key(v["id_number"]), line)
                same_phone.add(int(v["phone"]), line)
                result = await rt.authority.verify_elements(
                    v["name"], v["id_number"], v["valid_from"], v["valid_to"]
                )
                if not result.match:
                    problems.add(
                        line, "name", f"the identity authority does not confirm it ({result.reason})"
                    )
            phase.row()
    same_id.report(problems)
    same_phone.report(problems)
    problems.raise_if_any()
    checked = source.digest

    counts = {"added": 0, "unchanged": 0}
    origin = audit.Origin.command_line()
    async with write_transaction(IMPORT_LOCK):
        with progress.phase("writing", source) as phase:
            for line, values in source.rows(problems):
                phase.row()
                if (v := convert_row(line, values, converters, problems)) is None:
                    continue
                record = new_account(v)
                existing = (
                    await Account.select(Account.phone_index)
                    .where(Account.id_index.is_in(rt.id_indexes(record.id_number)))
                    .first()
                )
                if existing and existing["phone_index"] in rt.phone_indexes(record.phone):
                    counts["unchanged"] += 1
                    continue
                try:
                    await create_account(rt, record, origin)
                except AccountExists as error:
                    raise ImportFailed(
                        [RowProblem(line, error.field, "an account with this value already exists")]
                    ) from error
                counts["added"] += 1
        if problems.count or source.digest != checked:
            raise file_changed()  # the transaction is rolled back
    return counts
