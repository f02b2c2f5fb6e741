"""Key rotation: rows under a retired key stay findable and unique, and `webapp rekey` moves them all
under the current key while the service keeps answering."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date

import pytest
from stdnum.iso7064 import mod_11_2

from tests import factories
from tests.conftest import TEST_KEY, runtime_with
from tests.support import business
from tests.support.web import csrf_token, post_form
from webapp.accounts.passwords import hash_password
from webapp.accounts.service import (
    AccountExists,
    NewAccount,
    create_account,
    find_by_identifier,
    login,
)
from webapp.accounts.tables import Account
from webapp.business.service import filings_for_account
from webapp.crypto import KEY_ID_BYTES, Keyring
from webapp.db import write_transaction
from webapp.faceflows.service import TEMPLATE_CONTEXT
from webapp.rekey import PROTECTED_TABLES, rekey
from webapp.runtime import build_runtime

pytestmark = pytest.mark.usefixtures("database")
NEW_KEY = "rotated-master-key-" + "n" * 40
OLD_KEY_ID = Keyring(TEST_KEY).current.key_id
ACCOUNTS = 10_000


@pytest.fixture
def rt(settings, clock):
    """The service after the rotation: the new key current, the old one retired. Logins are not limited
    per IP here (the test logs in from one address as fast as it can)."""
    rotated = replace(settings, secret_key=NEW_KEY, old_secret_keys=TEST_KEY, login_per_ip_minute=1_000_000)
    return build_runtime(rotated.validate(), clock)


def before_rotation(rt):
    return runtime_with(rt, secret_key=TEST_KEY, old_secret_keys="")


async def test_an_account_under_a_retired_key_is_found_and_stays_unique(rt):
    account_id, record, phone = await factories.account(before_rotation(rt))
    for identifier in (phone, record.id_number):
        assert (await find_by_identifier(rt, identifier)).id == account_id, identifier
    outcome = await login(rt, phone, factories.PASSWORD, factories.ORIGIN)
    assert outcome.ok and outcome.value == account_id
    same_id = NewAccount(record.name, record.id_number, record.valid_from, record.valid_to, factories.phone())
    with pytest.raises(AccountExists, match="id_number"):
        await create_account(rt, same_id, factories.ORIGIN)
    other = factories.person()
    same_phone = NewAccount(other.name, other.id_number, other.valid_from, other.valid_to, phone)
    with pytest.raises(AccountExists, match="phone"):
        await create_account(rt, same_phone, factories.ORIGIN)


def people(count: int) -> list[tuple[str, str]]:
    """(ID number, phone) pairs, all distinct and valid."""
    births = (date(1950 + n // 365, 1 + n // 28 % 12, 1 + n % 28) for n in itertools.count())
    pairs = []
    for n, birth in zip(range(count), births, strict=False):
        body = f"310104{birth:%Y%m%d}{n % 1000:03d}"
        pairs.append((body + mod_11_2.calc_check_digit(body), f"137{n:08d}"))
    return pairs


async def insert_accounts_under(keyring: Keyring, pairs: list[tuple[str, str]], rt) -> None:
    """Bulk rows as a service under ``keyring`` would have written them (one Argon2 hash for all); every
    hundredth with a face template."""
    password_hash = await hash_password(factories.PASSWORD)
    now = rt.clock.now()
    rows = [
        Account(
            id_index=keyring.blind_index("id_number", id_number),
            id_number=keyring.encrypt(id_number, "account.id_number"),
            name=keyring.encrypt("王五", "account.name"),
            phone_index=keyring.blind_index("phone", phone),
            phone=keyring.encrypt(phone, "account.phone"),
            password_hash=password_hash,
            state="active",
            valid_from=date(2018, 6, 1),
            valid_to=date(2038, 6, 1),
            face_template=keyring.encrypt(b"\x01" * 512, TEMPLATE_CONTEXT) if n % 100 == 0 else None,
            created_at=now,
            updated_at=now,
        )
        for n, (id_number, phone) in enumerate(pairs)
    ]
    async with write_transaction():
        for start in range(0, len(rows), 500):
            await Account.insert(*rows[start : start + 500])


async def fields_under(key_id: bytes) -> int:
    """How many encrypted values in the protected tables carry this key id."""
    found = 0
    for protected in PROTECTED_TABLES:
        for row in await protected.table.select(*protected.encrypted):
            found += sum(1 for blob in row.values() if blob is not None and blob[:KEY_ID_BYTES] == key_id)
    return found


async def test_rekey_of_10000_accounts_while_logins_run(rt, client):
    pairs = people(ACCOUNTS)
    await insert_accounts_under(Keyring(TEST_KEY), pairs, rt)
    assert await fields_under(OLD_KEY_ID) == 3 * ACCOUNTS + ACCOUNTS // 100
    token = await csrf_token(client)
    progress: list[float] = []  # when each batch was reported
    started = time.monotonic()
    rekeying = asyncio.create_task(rekey(rt.keyring, report=lambda _line: progress.append(time.monotonic())))
    logins, slowest = [], 0.0
    while not rekeying.done():  # alternately by ID number and phone, spread over the table
        id_number, phone = pairs[len(logins) * 997 % ACCOUNTS]
        identifier = phone if len(logins) % 2 else id_number
        sent = time.monotonic()
        response = await post_form(
            client, "/login", {"identifier": identifier, "password": factories.PASSWORD}, token=token
        )
        slowest = max(slowest, time.monotonic() - sent)
        logins.append((identifier, response.status_code, response.headers.get("location"), time.monotonic()))
    counts = await rekeying
    elapsed = time.monotonic() - started
    print(
        f"\nrekey of {ACCOUNTS} accounts: {elapsed:.1f} s, "
        f"{len(logins)} logins meanwhile (slowest {slowest:.2f} s)"
    )

    assert len(progress) >= ACCOUNTS // 500
    assert any(progress[0] < done < progress[-1] for *_answer, done in logins)  # between batches
    assert [(i, s, loc) for i, s, loc, _done in logins if (s, loc) != (303, "/account")] == []
    assert (counts["account"].checked, counts["account"].rekeyed) == (ACCOUNTS, ACCOUNTS)
    assert await fields_under(OLD_KEY_ID) == 0

    new_key_only = runtime_with(rt, old_secret_keys="")  # the old key can now be dropped
    rows = await Account.select(Account.id_index, Account.phone_index, Account.id_number, Account.phone)
    stored = {
        (
            new_key_only.keyring.decrypt_text(row["id_number"], "account.id_number"),
            new_key_only.keyring.decrypt_text(row["phone"], "account.phone"),
        ): (row["id_index"], row["phone_index"])
        for row in rows
    }
    assert stored == {
        (id_number, phone): (new_key_only.id_index(id_number), new_key_only.phone_index(phone))
        for id_number, phone in pairs
    }
    for id_number, phone in pairs[:: ACCOUNTS // 200]:
        by_id = await find_by_identifier(new_key_only, id_number)
        by_phone = await find_by_identifier(new_key_only, phone)
        assert by_id is not None and by_phone is not None and by_id.id == by_phone.id


async def test_an_interrupted_rekey_continues_and_mixed_rows_stay_linked(rt):
    old = before_rotation(rt)
    record = factories.person("李四")
    account_id = await business.register(old, record)
    await business.new_filing(old, (record, "legal_representative"))
    await insert_accounts_under(old.keyring, people(25), rt)

    class Interrupted(Exception):
        pass

    def stop_after_first_batch(line: str) -> None:
        raise Interrupted(line)

    with pytest.raises(Interrupted, match="account: 10 rows checked, 10 rekeyed"):
        await rekey(rt.keyring, batch_size=10, report=stop_after_first_batch)
    # Half-way: some accounts under the new key, the filing's person and the registry still under the old.
    assert [f.reference for f in await filings_for_account(rt, account_id)] != []
    assert (
        await rt.authority.verify_elements(record.name, record.id_number, record.valid_from, record.valid_to)
    ).match

    counts = await rekey(rt.keyring, batch_size=10, report=lambda line: None)
    assert {name: (c.checked, c.rekeyed) for name, c in counts.items()} == {
        "account": (26, 16),
        "citizen": (1, 1),
        "filing_person": (1, 1),
    }
    assert await fields_under(OLD_KEY_ID) == 0
    again = await rekey(rt.keyring, batch_size=10, report=lambda line: None)
    assert sum(c.rekeyed for c in again.values()) == 0
    assert [f.reference for f in await filings_for_account(rt, account_id)] != []


def run_rekey(database: str, old_keys: str) -> subprocess.CompletedProcess:
    """`webapp rekey` in a process of its own, importing this checkout."""
    env = {
        **os.environ,
        "WEBAPP_DATABASE_URL": database,
        "WEBAPP_SECRET_KEY": NEW_KEY,
        "WEBAPP_OLD_SECRET_KEYS": old_keys,
        "WEBAPP_ENV": "production",
    }
    command = [sys.executable, "-c", "import sys; from webapp.cli import main; sys.exit(main())", "rekey"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


async def test_rekey_command_reports_and_fails_on_an_unknown_key(rt, database):
    await factories.account(before_rotation(rt))
    unknown = run_rekey(database, "")
    assert unknown.returncode == 1 and "account row" in unknown.stderr and "unknown key" in unknown.stderr
    done = run_rekey(database, TEST_KEY)
    assert done.returncode == 0, done.stderr
    assert "account 1 of 1" in done.stdout and "citizen 1 of 1" in done.stdout
    assert await fields_under(OLD_KEY_ID) == 0


def test_old_secret_keys_are_validated(settings):
    with pytest.raises(Exception, match="at least 32"):
        replace(settings, old_secret_keys="short").validate()
    with pytest.raises(Exception, match="lists the current"):
        replace(settings, old_secret_keys=f"{'x' * 40}, {settings.secret_key}").validate()
    assert replace(settings, old_secret_keys=f" {'x' * 40} ,").validate().retired_secret_keys == ["x" * 40]


async def test_an_api_key_made_under_a_retired_key_still_works_and_moves_to_the_new_one(rt):
    from webapp.business.apikeys import ApiKey, authenticate, create_api_key, key_hash

    _info, key = await create_api_key(before_rotation(rt), "registry", factories.ORIGIN)
    found = await authenticate(rt, f"Bearer {key}")
    assert found.key is not None and found.key.name == "registry"
    assert (await ApiKey.select(ApiKey.secret_hash).first())["secret_hash"] == key_hash(rt, key)
    new_key_only = runtime_with(rt, old_secret_keys="")  # the old key can now be dropped
    assert (await authenticate(new_key_only, f"Bearer {key}")).key is not None
