"""`webapp accounts import`: unactivated accounts from a provincial system, each row checked with the
identity authority."""

from __future__ import annotations

from pathlib import Path

from webapp import audit
from webapp.accounts.service import AccountExists, NewAccount, create_account
from webapp.accounts.tables import Account
from webapp.csvimport import ImportFailed, RowProblem, convert_rows, parse_date, parse_end_date, read_rows
from webapp.db import write_transaction
from webapp.identity.rules import validate_id_number, validate_name
from webapp.runtime import Runtime
from webapp.sms.phone import validate_phone

COLUMNS = ["name", "id_number", "valid_from", "valid_to", "phone", "province"]


async def import_accounts(rt: Runtime, csv_path: Path) -> dict[str, int]:
    today = rt.clock.today()
    converted = convert_rows(
        read_rows(csv_path, COLUMNS),
        {
            "name": validate_name,
            "id_number": lambda v: validate_id_number(v, today),
            "valid_from": parse_date,
            "valid_to": parse_end_date,
            "phone": validate_phone,
            "province": lambda v: v[:32],
        },
    )
    problems: list[RowProblem] = []
    records: list[tuple[int, NewAccount]] = []
    seen: dict[tuple[str, str], int] = {}  # (column, value): its first line
    for line, v in converted:
        for column in ("id_number", "phone"):
            if (column, v[column]) in seen:
                problems.append(RowProblem(line, column, f"same value as line {seen[column, v[column]]}"))
            seen[column, v[column]] = line
        result = await rt.authority.verify_elements(v["name"], v["id_number"], v["valid_from"], v["valid_to"])
        if not result.match:
            problems.append(
                RowProblem(line, "name", f"the identity authority does not confirm it ({result.reason})")
            )
        records.append(
            (
                line,
                NewAccount(
                    v["name"],
                    v["id_number"],
                    v["valid_from"],
                    v["valid_to"],
                    v["phone"],
                    source_province=v["province"],
                ),
            )
        )
    if problems:
        raise ImportFailed(problems)
    counts = {"added": 0, "unchanged": 0}
    origin = audit.Origin.command_line()
    async with write_transaction():
        for line, record in records:
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
    return counts
