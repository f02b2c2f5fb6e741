"""Personal data at rest: encrypted, bound to its column, found only through blind indexes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from piccolo.querystring import QueryString

from tests import factories
from tests.conftest import ENGINE
from webapp import db
from webapp.accounts.tables import Account
from webapp.crypto import DecryptionError, Keyring
from webapp.piccolo_app import APP_CONFIG

pytestmark = pytest.mark.usefixtures("database")


async def _raw_database_bytes(url: str) -> bytes:
    """SQLite: the file and its -wal after a checkpoint. PostgreSQL: every column of every table as text."""
    if ENGINE == "sqlite":
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = Path(path + "-wal")
        return Path(path).read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    chunks = []
    for table in APP_CONFIG.table_classes:
        query = QueryString(f"SELECT t::text AS row FROM {table._meta.tablename} t")
        rows = await db.engine().run_querystring(query)
        chunks += [row["row"].encode() for row in rows]
    return b"\n".join(chunks)


async def test_registered_citizen_leaves_no_id_number_phone_or_name_in_the_database(rt, database):
    account_id, record, phone = await factories.account(rt, name="欧阳明月")
    raw = await _raw_database_bytes(database)
    assert await Account.count() == 1
    for secret in (record.id_number, phone, record.name, record.id_number[6:14]):
        assert secret.encode() not in raw
        assert secret.encode("utf-16-le") not in raw


def test_ciphertext_is_bound_to_its_column_and_key():
    keyring = Keyring("k" * 40)
    blob = keyring.encrypt("110105199005171234", "account.id_number")
    assert keyring.decrypt_text(blob, "account.id_number") == "110105199005171234"
    with pytest.raises(DecryptionError):
        keyring.decrypt(blob, "account.phone")  # copied into another column
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionError):
        keyring.decrypt(bytes(tampered), "account.id_number")
    with pytest.raises(DecryptionError):
        Keyring("z" * 40).decrypt(blob, "account.id_number")


def test_rotated_key_still_reads_old_data_and_marks_it_for_reencryption():
    old = Keyring("old-key-" + "o" * 40)
    blob = old.encrypt("13800138000", "account.phone")
    rotated = Keyring("new-key-" + "n" * 40, ["old-key-" + "o" * 40])
    assert rotated.decrypt_text(blob, "account.phone") == "13800138000"
    assert rotated.needs_reencryption(blob)
    assert not rotated.needs_reencryption(rotated.encrypt("x", "account.phone"))


def test_blind_indexes_are_stable_and_separate_per_kind():
    keyring = Keyring("k" * 40)
    assert keyring.blind_index("phone", "13800138000") == keyring.blind_index("phone", "13800138000")
    assert keyring.blind_index("phone", "13800138000") != keyring.blind_index("id_number", "13800138000")
    assert keyring.blind_index("phone", "13800138000") != Keyring("j" * 40).blind_index(
        "phone", "13800138000"
    )


async def test_the_audit_log_refuses_updates_and_deletes(rt):
    from webapp.tables import AuditEvent

    await factories.account(rt)
    assert await AuditEvent.count() == 3  # account_created and its two consents
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.update({AuditEvent.event: "nothing"}, force=True)
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.delete(force=True)
    assert await AuditEvent.count() == 3
