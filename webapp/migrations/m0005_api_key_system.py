"""The registration system an API key belongs to: the API shows a key only its system's filings.

Existing keys get their own name as their system in m0005_api_key_system_backfill (Piccolo runs raw
steps before it adds the columns of the same migration), so each keeps seeing the filings it made."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-05T09:00:00:000000"  # after m0004_business_index (2026-11-28T18:51:27)
VERSION = "1.38.0"
DESCRIPTION = "api key system"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="webapp", description=DESCRIPTION)

    manager.add_column(
        table_class_name="ApiKey",
        tablename="api_key",
        column_name="system",
        db_column_name="system",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
