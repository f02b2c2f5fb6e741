"""Wrong passwords are counted per account and source (webapp/accounts/guard.py, in rate_event), no
longer on the account row: its counter and lock go."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from webapp.db import engine

ID = "2026-12-05T10:00:00:000000"  # after m0005_api_key_system_backfill
VERSION = "1.38.0"
DESCRIPTION = "login failures per account and source"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="webapp", description=DESCRIPTION)

    async def drop_the_account_lock():
        await engine().run_ddl("ALTER TABLE account DROP COLUMN failed_logins")
        await engine().run_ddl("ALTER TABLE account DROP COLUMN locked_until")

    manager.add_raw(drop_the_account_lock)
    return manager
