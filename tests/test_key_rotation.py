"""Key rotation: rows under a retired key stay findable and unique until `webapp rekey` moves them."""

from __future__ import annotations

import pytest

from tests import factories
from tests.conftest import TEST_KEY, runtime_with
from webapp.accounts.service import (
    AccountExists,
    LoginOutcome,
    NewAccount,
    create_account,
    find_by_identifier,
    login,
)

pytestmark = pytest.mark.usefixtures("database")
NEW_KEY = "rotated-master-key-" + "n" * 40


async def test_an_account_under_a_retired_key_is_found_and_stays_unique(rt):
    account_id, record, phone = await factories.account(rt)
    rotated = runtime_with(rt, secret_key=NEW_KEY, old_secret_keys=TEST_KEY)
    for identifier in (phone, record.id_number):
        assert (await find_by_identifier(rotated, identifier))["id"] == account_id, identifier
    outcome = await login(rotated, phone, factories.PASSWORD, factories.ORIGIN)
    assert outcome.outcome is LoginOutcome.OK
    same_id = NewAccount(record.name, record.id_number, record.valid_from, record.valid_to, factories.phone())
    with pytest.raises(AccountExists, match="id_number"):
        await create_account(rotated, same_id, factories.ORIGIN)
    other = factories.person()
    same_phone = NewAccount(other.name, other.id_number, other.valid_from, other.valid_to, phone)
    with pytest.raises(AccountExists, match="phone"):
        await create_account(rotated, same_phone, factories.ORIGIN)
