"""The local registry of citizens (the `local` authority's data): import and upsert."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from piccolo.columns import Column

from webapp.csvimport import ImportFailed, RowProblem, convert_rows, parse_date, parse_end_date, read_rows
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
    k = rt.keyring
    index = rt.id_index(record.id_number)
    async with write_transaction(index):
        row = await Citizen.select().where(Citizen.id_index.is_in(rt.id_indexes(record.id_number))).first()
        if row is None:
            await Citizen.insert(
                Citizen(
                    id_index=index,
                    id_number=k.encrypt(record.id_number, "citizen.id_number"),
                    name=k.encrypt(record.name, "citizen.name"),
                    valid_from=record.valid_from,
                    valid_to=record.valid_to,
                    photo=k.encrypt(record.photo, "citizen.photo") if record.photo else None,
                    created_at=rt.clock.now(),
                )
            )
            return "added"
        changes: dict[Column | str, bytes | date | None] = {}  # the keys Piccolo's update() takes
        if k.decrypt_text(row["name"], "citizen.name") != record.name:
            changes[Citizen.name] = k.encrypt(record.name, "citizen.name")
        if (row["valid_from"], row["valid_to"]) != (record.valid_from, record.valid_to):
            changes.update({Citizen.valid_from: record.valid_from, Citizen.valid_to: record.valid_to})
        current_photo = k.decrypt(row["photo"], "citizen.photo") if row["photo"] else None
        if record.photo is not None and current_photo != record.photo:
            changes[Citizen.photo] = k.encrypt(record.photo, "citizen.photo")
        if not changes:
            return "unchanged"
        await Citizen.update(changes).where(Citizen.id == row["id"])
        return "updated"


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


async def import_citizens(rt: Runtime, csv_path: Path, photos_dir: Path | None) -> dict[str, int]:
    today = rt.clock.today()
    rows = read_rows(csv_path, ["name", "id_number", "valid_from", "valid_to"])
    converters = {
        "name": validate_name,
        "id_number": lambda v: validate_id_number(v, today),
        "valid_from": parse_date,
        "valid_to": parse_end_date,
    }
    if rows and "photo" in rows[0][1]:
        converters["photo"] = lambda v: read_photo(photos_dir, v)
    converted = convert_rows(rows, converters)
    seen: dict[str, int] = {}
    for line, values in converted:
        if values["id_number"] in seen:
            raise ImportFailed(
                [RowProblem(line, "id_number", f"same ID number as line {seen[values['id_number']]}")]
            )
        seen[values["id_number"]] = line
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    async with write_transaction():
        for _line, values in converted:
            counts[await upsert_citizen(rt, CitizenRecord(**values))] += 1
    return counts
