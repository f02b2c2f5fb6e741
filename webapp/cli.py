"""The `webapp` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from webapp.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from webapp.runtime import Runtime


def _with_runtime(
    work: Callable[[Runtime, argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    """Run an async command with the database bound and a runtime built from the environment."""

    def run(args: argparse.Namespace) -> int:
        from webapp import db, piccolo_conf
        from webapp.runtime import build_runtime

        settings = load_settings()
        piccolo_conf.bind(db.make_engine(settings.database_url))

        async def bounded() -> int:
            await db.ensure_pool()  # PostgreSQL: else every query outside a transaction opens a connection
            try:
                return await work(build_runtime(settings), args)
            finally:
                await db.close_pool()

        return asyncio.run(bounded())

    return run


def serve(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from webapp.app import check_sms_templates
    from webapp.face.check import MAX_FRAME_BYTES
    from webapp.logs import configure_logging

    given = {"host": args.host, "port": args.port, "workers": args.workers}
    settings = load_settings(**{name: value for name, value in given.items() if value is not None})
    check_sms_templates(settings)  # before the workers start, as every other setting is checked
    if settings.log_format == "json":
        configure_logging(settings)
    counts = None
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # the workers count in files here, and a scrape of any of them sums them all (webapp/metrics.py)
        counts = tempfile.TemporaryDirectory(prefix="webapp-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = counts.name
    try:
        uvicorn.run(
            "webapp.asgi:app",
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            proxy_headers=False,  # X-Forwarded-For is read by the app, from trusted proxies only
            server_header=False,
            log_level=settings.log_level.lower(),
            access_log=settings.access_log or settings.dev,
            loop="uvloop",
            http="httptools",
            ws_max_size=MAX_FRAME_BYTES
            + 64,  # one camera frame and its header: a bigger message closes the stream
            log_config=None
            if settings.log_format == "json"
            else LOGGING_CONFIG,  # JSON: every line through ours
        )
    finally:
        if counts is not None:  # for the workers only: nothing else this process starts may inherit it
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
            counts.cleanup()
    return 0


def migrate(args: argparse.Namespace) -> int:
    from webapp import db, piccolo_conf

    settings = load_settings()
    piccolo_conf.bind(db.make_engine(settings.database_url))

    async def bounded() -> int:
        try:
            return await run_migrations()
        finally:
            await db.close_pool()

    return asyncio.run(bounded())


async def run_migrations() -> int:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="webapp")
    print(result.message or "migrations applied")
    return 0 if result.success else 1


async def demo(rt: Runtime, args: argparse.Namespace) -> int:
    from webapp.demo import seed_demo, use_demo_photo

    if args.photo and not rt.settings.dev:
        print(
            "--photo exists only with WEBAPP_ENV=dev (it puts your own photo into the demo registry)",
            file=sys.stderr,
        )
        return 2
    print("Demo citizens (local identity registry) and accounts:")
    for line in await seed_demo(rt):
        print("  " + line)
    if args.photo:
        print(await use_demo_photo(rt, Path(args.photo)))
    return 0


async def authority_import(rt: Runtime, args: argparse.Namespace) -> int:
    from webapp.csvimport import Progress
    from webapp.identity.registry import import_citizens

    progress = Progress(sys.stderr)
    counts = await import_citizens(rt, Path(args.file), Path(args.photos) if args.photos else None, progress)
    progress.done()
    print(f"registry: {counts['added']} added, {counts['updated']} updated, {counts['unchanged']} unchanged")
    return 0


async def accounts_import(rt: Runtime, args: argparse.Namespace) -> int:
    from webapp.accounts.importer import import_accounts
    from webapp.csvimport import Progress

    progress = Progress(sys.stderr)
    counts = await import_accounts(rt, Path(args.file), progress)
    progress.done()
    print(f"accounts: {counts['added']} unactivated accounts added, {counts['unchanged']} already present")
    return 0


async def accounts_delete_due(rt: Runtime, args: argparse.Namespace) -> int:
    from webapp.privacy.deletion import erase_due

    done = await erase_due(rt)
    print(f"accounts: {done.count} erased (注销账号 due)")
    if not done.files_clean:
        print("the SQLite write-ahead log could not be truncated (a reader was busy); run this again")
        return 1
    return 0


async def purge(rt: Runtime, args: argparse.Namespace) -> int:
    from webapp.retention import purge_expired

    print(await purge_expired(rt))
    return 0


async def rekey(rt: Runtime, args: argparse.Namespace) -> int:
    from webapp.rekey import RekeyFailed, rekey

    if args.batch_size < 1:
        print("--batch-size must be at least 1", file=sys.stderr)
        return 2
    try:
        counts = await rekey(rt.keyring, args.batch_size)
    except RekeyFailed as error:
        print(
            f"rekey stopped: {error}. Add its key to WEBAPP_OLD_SECRET_KEYS and run it again.",
            file=sys.stderr,
        )
        return 1
    done = ", ".join(f"{name} {count.rekeyed} of {count.checked}" for name, count in counts.items())
    print(f"rekey done, rows moved under the current key: {done}")
    return 0


def backup(args: argparse.Namespace) -> int:
    from webapp.backup import BackupError, backup_postgres, backup_sqlite
    from webapp.crypto import Keyring

    settings = load_settings()
    target = Path(args.file)
    try:
        if settings.is_sqlite:
            summary = backup_sqlite(settings.sqlite_path, target)
        else:
            summary = asyncio.run(backup_postgres(settings.database_url, target))
    except BackupError as error:
        print(f"backup failed: {error}", file=sys.stderr)
        return 2
    engine = "SQLite" if settings.is_sqlite else "PostgreSQL, pg_dump custom format"
    print(f"backup written: {target} ({engine}, {target.stat().st_size} bytes)")
    for line in summary.lines(Keyring(settings.secret_key, settings.retired_secret_keys)):
        print(line)
    return 0


def restore(args: argparse.Namespace) -> int:
    from webapp.backup import (
        BackupError,
        backup_kind,
        refuse_other_engine,
        restore_postgres,
        restore_sqlite,
    )
    from webapp.crypto import Keyring

    settings = load_settings()
    source = Path(args.file)
    try:
        refuse_other_engine(source, backup_kind(source), "sqlite" if settings.is_sqlite else "postgres")
        if settings.is_sqlite:
            summary = restore_sqlite(source, settings.sqlite_path, args.force)
        else:
            summary = asyncio.run(restore_postgres(source, settings.database_url, args.force))
    except BackupError as error:
        print(f"restore refused: {error}", file=sys.stderr)
        return 2
    print(f"restored from {source}")
    for line in summary.lines(Keyring(settings.secret_key, settings.retired_secret_keys)):
        print(line)
    return 0


def add_backup_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "backup",
        help="write a consistent copy of the database to FILE while the service runs (SQLite: online "
        "backup API; PostgreSQL: pg_dump custom format); names the keys its encrypted fields need",
    )
    p.add_argument("file")
    p.set_defaults(handler=backup)
    p = commands.add_parser(
        "restore",
        help="replace the database with a backup written by `webapp backup` (same engine); refuses a "
        "database holding data unless --force",
    )
    p.add_argument("file")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a database that holds data: everything in it is replaced by the backup's content",
    )
    p.set_defaults(handler=restore)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webapp", description="Shiming 实名 identity service")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the web service")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.set_defaults(handler=serve)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(handler=migrate)
    p = commands.add_parser("demo", help="seed demo citizens and accounts")
    p.add_argument(
        "--photo",
        help="DEV ONLY: your own photo (JPEG/PNG) as the registry photo of the demo citizens 张三 and 李四, "
        "so that you can try every face flow with your camera",
    )
    p.set_defaults(handler=_with_runtime(demo))
    commands.add_parser(
        "purge", help="delete expired codes, sessions and limit events; erase accounts due for deletion"
    ).set_defaults(handler=_with_runtime(purge))

    p = commands.add_parser(
        "rekey",
        help="re-encrypt every field and rebuild every blind index under the current key "
        "(after a rotation; online, in batches, resumable)",
    )
    p.add_argument("--batch-size", type=int, default=500, help="rows per write transaction")
    p.set_defaults(handler=_with_runtime(rekey))

    authority = commands.add_parser("authority", help="the local identity registry").add_subparsers(
        dest="action", required=True
    )
    p = authority.add_parser("import", help="import citizens: name,id_number,valid_from,valid_to[,photo]")
    p.add_argument("file")
    p.add_argument("--photos", help="folder holding the photo files named in the CSV")
    p.set_defaults(handler=_with_runtime(authority_import))

    accounts = commands.add_parser("accounts", help="accounts").add_subparsers(dest="action", required=True)
    p = accounts.add_parser(
        "import",
        help="import unactivated accounts: "
        + ",".join(["name", "id_number", "valid_from", "valid_to", "phone", "province"]),
    )
    p.add_argument("file")
    p.set_defaults(handler=_with_runtime(accounts_import))
    accounts.add_parser(
        "delete-due", help="erase the accounts whose 注销账号 cooling-off has ended (the hourly job does too)"
    ).set_defaults(handler=_with_runtime(accounts_delete_due))

    add_backup_commands(commands)

    from webapp.business.cli import add_business_commands

    add_business_commands(commands, _with_runtime)

    try:
        from webapp.face.cli import add_face_commands
    except ImportError:
        pass
    else:
        add_face_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from webapp.csvimport import ImportFailed

    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
    except ImportFailed as error:
        print("nothing was imported:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        if error.unlisted:
            print(
                f"  … and {error.unlisted} more problem(s), {len(error.problems) + error.unlisted} in all",
                file=sys.stderr,
            )
    except FileNotFoundError as error:
        print(f"{error.strerror}: {error.filename}", file=sys.stderr)
    except (sqlite3.OperationalError, OSError, asyncpg.PostgresError) as error:
        print(
            f"database error ({type(error).__name__}): {error}. Is WEBAPP_DATABASE_URL right, and has "
            "`webapp migrate` been run?",
            file=sys.stderr,
        )
    return 2


if __name__ == "__main__":
    sys.exit(main())
