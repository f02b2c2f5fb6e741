"""One suite, two databases: WEBAPP_TEST_DB=sqlite (default) or postgres.

Every test that asks for ``database`` gets a fresh, migrated database of its own (a copy of a migrated
template), so tests never see each other's rows and the append-only audit log needs no cleaning.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.pgcluster import ThrowawayPostgres
from tests.support.smtp_sink import SmtpSink
from webapp import db, piccolo_conf
from webapp.clock import SHANGHAI
from webapp.runtime import Runtime, build_runtime
from webapp.settings import Settings

ENGINE = os.environ.get("WEBAPP_TEST_DB", "sqlite")
TEST_KEY = "test-master-key-0123456789abcdefghijklmnopqrstuvwxyz"
_counter = itertools.count()


def pytest_report_header(config):
    return f"database engine under test: {ENGINE}"


def pytest_collection_modifyitems(config, items):
    """The PostgreSQL pass runs the tests that can reach PostgreSQL: those that ask for the ``postgres``
    fixture (directly, or through ``database``, ``settings``, ``app``, ``client``…) and those marked
    ``postgres_pass`` (they start clusters of their own). Any other test runs the same code in both passes,
    so it runs once, in the SQLite pass; the PostgreSQL pass reports it as deselected."""
    if ENGINE != "postgres":
        return
    kept, dropped = [], []
    for item in items:
        reaches = "postgres" in getattr(item, "fixturenames", ()) or item.get_closest_marker("postgres_pass")
        (kept if reaches else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_unconfigure(config):
    """Every test closes the connections it opened (the ``database`` fixture, or the app at shutdown): a
    writer thread still alive here is a leak. Name it and end the run as failed."""
    deadline = time.monotonic() + 5
    while (leaked := open_sqlite_connections()) and time.monotonic() < deadline:
        time.sleep(0.1)
    if leaked:
        print(
            f"\n{leaked} SQLite connection(s) left open after the tests (a leaked writer thread)",
            file=sys.stderr,
        )
        sys.stderr.flush()
        os._exit(3)


def open_sqlite_connections() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name.startswith(db.WRITER_THREAD_NAME))


@dataclass
class FrozenClock:
    """A clock the test moves by hand."""

    current: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 1, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def today(self) -> date:
        return self.current.astimezone(SHANGHAI).date()

    def advance(self, **delta) -> None:
        self.current += timedelta(**delta)

    def set_shanghai(self, *args) -> None:
        self.current = datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


async def _migrate(url: str) -> None:
    from webapp.cli import run_migrations

    piccolo_conf.bind(db.make_engine(url))
    assert await run_migrations() == 0
    await db.close_pool()


@pytest.fixture(scope="session")
def postgres():
    if ENGINE != "postgres":
        yield None
        return
    if os.environ.get("WEBAPP_TEST_POSTGRES_URL"):
        yield os.environ["WEBAPP_TEST_POSTGRES_URL"]
        return
    cluster = ThrowawayPostgres().start()
    yield cluster.url()
    cluster.stop()


@pytest.fixture(scope="session")
def template_database(postgres, tmp_path_factory):
    """A migrated database that each test's database is copied from."""
    if ENGINE == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        asyncio.run(_migrate(f"sqlite:///{path}"))
        return path
    admin = postgres

    async def create():
        connection = await asyncpg.connect(admin)
        await connection.execute("CREATE DATABASE webapp_template")
        await connection.close()
        await _migrate(admin.rsplit("/", 1)[0] + "/webapp_template")

    asyncio.run(create())
    return "webapp_template"


@pytest.fixture
async def database(template_database, postgres, tmp_path):
    """The URL of a fresh migrated database, bound to every table."""
    if ENGINE == "sqlite":
        path = tmp_path / "webapp.sqlite3"
        shutil.copy(template_database, path)
        url = f"sqlite:///{path}"
    else:
        name = f"webapp_test_{os.getpid()}_{next(_counter)}"
        connection = await asyncpg.connect(postgres)
        await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE {template_database}')
        await connection.close()
        url = postgres.rsplit("/", 1)[0] + "/" + name
    piccolo_conf.bind(db.make_engine(url))
    yield url
    await db.close_pool()
    if ENGINE == "postgres":
        connection = await asyncpg.connect(postgres)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(database, smtp_sink) -> Settings:
    return Settings(
        env="production",
        database_url=database,
        secret_key=TEST_KEY,
        sms_channel="smtp",
        smtp_port=smtp_sink.port,
        smtp_timeout=5.0,
    ).validate()


@pytest.fixture
def rt(settings, clock) -> Runtime:
    return build_runtime(settings, clock)


def runtime_with(rt: Runtime, **changes) -> Runtime:
    """The same runtime with other settings (a shorter limit, another channel)."""
    return build_runtime(replace(rt.settings, **changes), rt.clock)


@pytest.fixture
async def app(rt):
    """The app, started in the test's own event loop (so the test and the app share one database pool)."""
    from webapp.app import create_app

    app = create_app(runtime=rt)
    for (
        hook
    ) in app.on_startup:  # not app.lifespan(): its cancel scope cannot span fixture set-up and teardown
        await hook()
    yield app
    for hook in app.on_shutdown:
        await hook()


@pytest.fixture
async def client(app):
    """The app over https (so Secure cookies are kept)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 50000)),
        base_url="https://testserver",
        follow_redirects=True,
    ) as test_client:
        yield test_client


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def face_pool():
    """One pool of dlib workers for the whole run (face modules put it into ``rt``)."""
    from webapp.face.pool import FacePool

    pool = FacePool(workers=2)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def faces() -> Path:
    return Path(__file__).resolve().parent / "fixtures" / "faces"
