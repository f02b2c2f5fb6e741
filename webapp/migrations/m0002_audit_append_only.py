"""The audit log is append-only: the database itself refuses UPDATE and DELETE on audit_event."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from webapp.db import engine, is_sqlite

ID = "2026-11-28T18:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit log append-only triggers"

SQLITE = [
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END""",
]
POSTGRES = [
    """CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$""",
    """CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
       FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
       FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()""",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="webapp", description=DESCRIPTION)

    async def create_triggers():
        for statement in SQLITE if is_sqlite() else POSTGRES:
            await engine().run_ddl(statement)

    manager.add_raw(create_triggers)
    return manager
