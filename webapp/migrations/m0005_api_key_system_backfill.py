"""Keys made before m0005 serve the system of their own name: each still sees exactly the filings it
made. Filings made without a key (the demo seed) belong to no system: no key sees them."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from webapp.db import engine

ID = "2026-12-05T09:00:01:000000"  # just after m0005_api_key_system
VERSION = "1.38.0"
DESCRIPTION = "api key system defaults to the key's name"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="webapp", description=DESCRIPTION)

    async def name_the_systems():
        await engine().run_ddl("UPDATE api_key SET system = name WHERE system = ''")

    manager.add_raw(name_the_systems)
    return manager
