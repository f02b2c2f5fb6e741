"""One filing per (API key, Idempotency-Key).

A raw index because Piccolo's composite Unique constraint fails on SQLite, and a migration of its own
because Piccolo runs raw steps before it creates the tables of the same migration. Both engines treat
NULLs as distinct, so filings without an API key (the demo seed) are not constrained here; their
uniqueness is checked under the write lock.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from webapp.db import engine

ID = "2026-11-28T18:51:27:000000"  # just after m0004_business
VERSION = "1.38.0"
DESCRIPTION = "filing idempotency key unique per API key"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="webapp", description=DESCRIPTION)

    async def create_index():
        await engine().run_ddl(
            "CREATE UNIQUE INDEX filing_api_key_idempotency_key ON filing (api_key, idempotency_key)"
        )

    manager.add_raw(create_index)
    return manager
