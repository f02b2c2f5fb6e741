"""`webapp rekey`: every ciphertext and blind index moved under the current master key.

Run it after restarting every process with the new ``WEBAPP_SECRET_KEY`` and the old one in
``WEBAPP_OLD_SECRET_KEYS``. It walks each table by primary key in short batches, one write transaction
each, so the service keeps answering (its look-ups match indexes under every key of the ring meanwhile).
Rows already under the current key are left alone: after an interruption, running it again continues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from piccolo.columns import Column
from piccolo.table import Table

from webapp import db
from webapp.accounts.tables import Account
from webapp.business.tables import FilingPerson
from webapp.crypto import DecryptionError, Keyring
from webapp.identity.tables import Citizen

DEFAULT_BATCH_SIZE = 500


class RekeyFailed(RuntimeError):
    """A row could not be read with any key of the ring (its key is not in WEBAPP_OLD_SECRET_KEYS)."""


@dataclass(frozen=True)
class BlindIndex:
    column: Column
    kind: str
    source: Column  # the encrypted column whose plaintext is indexed


@dataclass(frozen=True)
class ProtectedTable:
    """A table's encrypted columns (their context is ``table.column``) and the blind indexes over them."""

    table: type[Table]
    encrypted: tuple[Column, ...]
    indexes: tuple[BlindIndex, ...]


PROTECTED_TABLES = (
    ProtectedTable(
        Account,
        (Account.id_number, Account.name, Account.phone, Account.face_template),
        (
            BlindIndex(Account.id_index, "id_number", Account.id_number),
            BlindIndex(Account.phone_index, "phone", Account.phone),
        ),
    ),
    ProtectedTable(
        Citizen,
        (Citizen.id_number, Citizen.name, Citizen.photo),
        (BlindIndex(Citizen.id_index, "id_number", Citizen.id_number),),
    ),
    ProtectedTable(
        FilingPerson,
        (FilingPerson.name, FilingPerson.id_number),
        (BlindIndex(FilingPerson.id_index, "id_number", FilingPerson.id_number),),
    ),
)


@dataclass
class TableCount:
    checked: int = 0
    rekeyed: int = 0


async def rekey(
    keyring: Keyring, batch_size: int = DEFAULT_BATCH_SIZE, report: Callable[[str], None] = print
) -> dict[str, TableCount]:
    """Rekey every protected table; returns the rows checked and rewritten per table."""
    counts = {}
    for protected in PROTECTED_TABLES:
        name = protected.table._meta.tablename
        count = counts[name] = TableCount()
        after_id = 0
        while True:
            checked, rekeyed, after_id = await _rekey_batch(keyring, protected, after_id, batch_size)
            if not checked:
                break
            count.checked += checked
            count.rekeyed += rekeyed
            report(f"{name}: {count.checked} rows checked, {count.rekeyed} rekeyed")
    return counts


async def _rekey_batch(
    keyring: Keyring, protected: ProtectedTable, after_id: int, batch_size: int
) -> tuple[int, int, int]:
    """(rows checked, rows rewritten, last id) of the next batch, in one short write transaction.

    The rows are read inside the transaction that rewrites them (SQLite: under the write lock;
    PostgreSQL: locked FOR UPDATE), so a change the service makes to a row meanwhile is never overwritten.
    """
    table = protected.table
    pk = table._meta.primary_key  # ``id``, which ``type[Table]`` does not declare
    columns = (*protected.encrypted, *(index.column for index in protected.indexes))
    async with db.write_transaction():
        query = table.select(pk, *columns).where(pk > after_id).order_by(pk).limit(batch_size)
        if not db.is_sqlite():
            query = query.lock_rows()
        rows = await query
        rekeyed = 0
        for row in rows:
            changes = _changes(keyring, protected, row)
            if changes:
                await table.update(changes).where(pk == row["id"])
                rekeyed += 1
    return len(rows), rekeyed, rows[-1]["id"] if rows else after_id


def _changes(
    keyring: Keyring, protected: ProtectedTable, row: dict[str, Any]
) -> dict[Column | str, bytes | str]:
    """Ciphertexts under a retired key re-encrypted, and indexes that differ from the current key's."""
    tablename = protected.table._meta.tablename
    changes: dict[Column | str, bytes | str] = {}  # the keys Piccolo's update() takes
    plaintexts: dict[Column, bytes] = {}
    try:
        for column in protected.encrypted:
            blob = row[column._meta.name]
            if blob is None:
                continue
            context = f"{tablename}.{column._meta.name}"
            plaintexts[column] = keyring.decrypt(blob, context)
            if keyring.needs_reencryption(blob):
                changes[column] = keyring.encrypt(plaintexts[column], context)
    except DecryptionError as error:
        raise RekeyFailed(f"{tablename} row {row['id']}: {error}") from error
    for index in protected.indexes:
        current = keyring.blind_index(index.kind, plaintexts[index.source].decode())
        if row[index.column._meta.name] != current:
            changes[index.column] = current
    return changes
