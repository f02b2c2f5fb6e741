"""The local registry of citizens (the `local` authority's data): import and upsert."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from piccolo.columns import Column

from webapp.crypto import Keyring
from webapp.csvimport import (
    CsvSource,
    DuplicateFinder,
    Problems,
    Progress,
    convert_row,
    file_changed,
    parse_date,
    parse_end_date,
)
from webapp.db import write_transaction
from webapp.identity.rules import validate_id_number, validate_name
from webapp.identity.tables import Citizen
from webapp.runtime import Runtime

PHOTO_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
MAX_PHOTO_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class CitizenRecord:
    name: str
    id_number: str
    valid_from: date
    valid_to: date | None
    photo: bytes | None = None


async def upsert_citizen(rt: Runtime, record: CitizenRecord) -> str:
    """'added', 'updated' or 'unchanged'. Ciphertexts are only rewritten when the plaintext differs."""
    index = rt.id_index(record.id_number)
    async with write_transaction(index):
        row = await Citizen.select().where(Citizen.id_index.is_in(rt.id_indexes(record.id_number))).first()
        if row is None:
            await Citizen.insert(Citizen(**new_citizen(rt, record, index)))
            return "added"
        changes = citizen_changes(rt.keyring, row, record)
        if not changes:
            return "unchanged"
        await Citizen.update(changes).where(Citizen.id == row["id"])
        return "updated"


def new_citizen(rt: Runtime, record: CitizenRecord, index: str) -> dict[str, Any]:
    """The column values of a new row, ``index`` its blind index under the current key."""
    k = rt.keyring
    return {
        "id_index": index,
        "id_number": k.encrypt(record.id_number, "citizen.id_number"),
        "name": k.encrypt(record.name, "citizen.name"),
        "valid_from": record.valid_from,
        "valid_to": record.valid_to,
        "photo": k.encrypt(record.photo, "citizen.photo") if record.photo else None,
        "created_at": rt.clock.now(),
    }


def citizen_changes(k: Keyring, row: dict[str, Any], record: CitizenRecord) -> dict[Column | str, Any]:
    """What an update of the stored row must set (the keys Piccolo's update() takes); empty: unchanged."""
    changes: dict[Column | str, Any] = {}
    if k.decrypt_text(row["name"], "citizen.name") != record.name:
        changes[Citizen.name] = k.encrypt(record.name, "citizen.name")
    if (row["valid_from"], row["valid_to"]) != (record.valid_from, record.valid_to):
        changes.update({Citizen.valid_from: record.valid_from, Citizen.valid_to: record.valid_to})
    current_photo = k.decrypt(row["photo"], "citizen.photo") if row["photo"] else None
    if record.photo is not None and current_photo != record.photo:
        changes[Citizen.photo] = k.encrypt(record.photo, "citizen.photo")
    return changes


def read_photo(photos_dir: Path | None, name: str) -> bytes | None:
    if not name:
        return None
    if photos_dir is None:
        raise ValueError("a photo is named but no --photos folder was given")
    path = (photos_dir / name).resolve()
    if photos_dir.resolve() not in path.parents:
        raise ValueError(f"{name!r} is outside the photos folder")
    if not path.is_file():
        raise ValueError(f"photo {name!r} not found in {photos_dir}")
    data = path.read_bytes()
    if len(data) > MAX_PHOTO_BYTES or not data.startswith(PHOTO_MAGIC):
        raise ValueError(f"photo {name!r} is not a JPEG or PNG under 5 MB")
    return data


REGISTRY_COLUMNS = ["name", "id_number", "valid_from", "valid_to"]
BATCH_ROWS = 1000  # rows per look-up and per insert: 7,000 parameters, under every engine's limit
BATCH_PHOTO_BYTES = 32 * 1024 * 1024  # a batch with photos ends sooner: its memory stays bounded
IMPORT_LOCK = "registry import"


def id_number_key(id_number: str) -> int:
    """A valid ID number as a 64-bit key: its first 17 digits decide its check digit."""
    return int(id_number[:17])


async def import_citizens(
    rt: Runtime, csv_path: Path, photos_dir: Path | None, progress: Progress
) -> dict[str, int]:
    """Check the whole file, then write it in batches inside one transaction: all of it or nothing."""
    today = rt.clock.today()
    source = CsvSource(csv_path, REGISTRY_COLUMNS)
    converters: dict[str, Callable[[str], Any]] = {
        "name": validate_name,
        "id_number": lambda v: validate_id_number(v, today),
        "valid_from": parse_date,
        "valid_to": parse_end_date,
    }
    if "photo" in source.header:
        converters["photo"] = lambda v: read_photo(photos_dir, v)
    problems = Problems()
    duplicates = DuplicateFinder("id_number", "same ID number as line {}")
    with progress.phase("checking", source) as phase:
        for line, values in source.rows(problems):
            if (record := convert_row(line, values, converters, problems)) is not None:
                duplicates.add(id_number_key(record["id_number"]), line)
            phase.row()
    duplicates.report(problems)
    problems.raise_if_any()
    checked = source.digest

    counts = {"added": 0, "updated": 0, "unchanged": 0}
    async with write_transaction(IMPORT_LOCK):
        with progress.phase("writing", source) as phase:
            batch: list[CitizenRecord] = []
            photo_bytes = 0
            for line, values in source.rows(problems):
                if (record := convert_row(line, values, converters, problems)) is not None:
                    batch.append(CitizenRecord(**record))
                    photo_bytes += len(record.get("photo") or b"")
                if len(batch) == BATCH_ROWS or photo_bytes >= BATCH_PHOTO_BYTES:
                    await write_citizens(rt, batch, counts)
                    batch.clear()
                    photo_bytes = 0
                phase.row()
            await write_citizens(rt, batch, counts)
        if problems.count or source.digest != checked:
            raise file_changed()  # the transaction is rolled back
    return counts


async def write_citizens(rt: Runtime, records: list[CitizenRecord], counts: dict[str, int]) -> None:
    """Upsert a batch as :func:`upsert_citizen` does one row: one look-up for the batch, one insert of its
    new rows; an existing row is only rewritten where it differs."""
    if not records:
        return
    by_index: dict[str, CitizenRecord] = {}
    index_to_store: dict[str, str] = {}
    for record in records:
        indexes = rt.id_indexes(record.id_number)  # the current key's first
        index_to_store[record.id_number] = indexes[0]
        by_index.update(dict.fromkeys(indexes, record))
    stored = await Citizen.select(
        Citizen.id, Citizen.id_index, Citizen.name, Citizen.valid_from, Citizen.valid_to
    ).where(Citizen.id_index.is_in(list(by_index)))
    found = {by_index[row["id_index"]].id_number: row for row in stored}
    new_rows = []
    for record in records:
        row = found.get(record.id_number)
        if row is None:
            new_rows.append(new_citizen(rt, record, index_to_store[record.id_number]))
            counts["added"] += 1
            continue
        # a stored photo (up to 5 MB) is read only when the file names one to compare it with
        row["photo"] = await stored_photo(row["id"]) if record.photo is not None else None
        changes = citizen_changes(rt.keyring, row, record)
        if changes:
            await Citizen.update(changes).where(Citizen.id == row["id"])
        counts["updated" if changes else "unchanged"] += 1
    await insert_citizens(new_rows)


async def stored_photo(citizen_id: int) -> bytes | None:
    row = await Citizen.select(Citizen.photo).where(Citizen.id == citizen_id).first()
    return row["photo"] if row else None


CITIZEN_COLUMNS = ("id_index", "id_number", "name", "valid_from", "valid_to", "photo", "created_at")


async def insert_citizens(rows: list[dict[str, Any]]) -> None:
    """One multi-row INSERT. Piccolo's insert() builds a table object and a query string per row: at a
    million rows, that was most of an import's time."""
    if not rows:
        return
    placeholders = "(" + ", ".join(["{}"] * len(CITIZEN_COLUMNS)) + ")"
    values = [row[column] for row in rows for column in CITIZEN_COLUMNS]
    sql = f"INSERT INTO citizen ({', '.join(CITIZEN_COLUMNS)}) VALUES "  # noqa: S608 (constant names)
    await Citizen.raw(sql + ", ".join([placeholders] * len(rows)), *values)  # values bound, never inlined
