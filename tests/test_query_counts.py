"""How many SQL statements each signed-in page costs, counted at the bound engine (design §1: the guard
loads the session and the account once). Counted: every ``run_querystring`` and ``run_ddl`` call the
request makes, the same on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from datetime import date

import pytest
from litestar.handlers import HTTPRouteHandler

from tests import factories
from tests.support.business import new_filing, set_level
from tests.support.web import csrf_token, post_form
from webapp import db
from webapp.accounts.auth import requires_sign_in
from webapp.accounts.sessions import TOUCH_EVERY
from webapp.business.service import set_business_registration

pytestmark = pytest.mark.usefixtures("database")

# The exact statements each signed-in GET page runs (every one of them: see the last test), when the
# session needs no touch. A new query on a page must be a decision: change the number here, and say why
# in the commit. 1 is the guard's: the session joined to its account.
QUERIES = {
    "/account": 1,
    "/level": 1,
    "/level/upgrade": 1,  # at level 3 (level 4 is sent on to /level)
    "/level/withdraw": 1,
    "/business": 3,  # level 4, 是 chosen, one filing naming the account: its persons rows, its filings
    "/business/filings/{ref}": 3,  # the filing, its persons
    "/business/filings/{ref}/decide": 4,  # the filing, its persons, the decision's flow (INSERT)
    "/account/phone": 1,
    "/account/password": 1,
    "/account/devices": 2,  # the account's live sessions
    "/account/activity": 2,  # a page of its audit events
    "/account/data": 7,  # after the password check: its flow; the audit events, the consents, the
    # filings' persons rows and filings, the sessions (the copy)
    "/account/data/face": 1,
    "/account/data/copy.json": 8,  # as /account/data, and the download's audit event
    "/consent": 3,  # with nothing due: the consents, the session let go on (UPDATE), and sent on
    "/account/delete": 3,  # the filings waiting for the person: its persons rows, the filings
    "/account/delete/face": 1,
    "/account/deletion": 1,  # with no deletion under way: sent on to /account
}
REDIRECTING_PAGES = {"/consent", "/account/deletion"}
FRESH_CHECK_PAGES = {"/account/data", "/account/data/copy.json"}  # after the password again
LEVEL_3_PAGES = {"/level/upgrade"}
PATH_PARAMETER = re.compile(r"\{\w+:\w+\}")


class QueryCounter:
    """The statements run by the task that serves a request (``httpx.ASGITransport`` runs the app in the
    caller's task): the app's hourly purge, a task of its own, is not the page's."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    async def count(self, request) -> tuple[object, list[str]]:
        """Awaits ``request`` (the client's call) and returns its response and the statements it ran."""
        engine = db.engine()
        kind = type(engine)  # PostgresEngine has __slots__: its methods are wrapped on the class
        task = asyncio.current_task()
        statements: list[str] = []
        run_querystring, run_ddl = kind.run_querystring, kind.run_ddl

        def ours(bound) -> bool:
            return bound is engine and asyncio.current_task() is task

        async def counted_querystring(bound, querystring, *args, **kwargs):
            if ours(bound):
                statements.append(str(querystring))
            return await run_querystring(bound, querystring, *args, **kwargs)

        async def counted_ddl(bound, ddl, *args, **kwargs):
            if ours(bound):
                statements.append(ddl)
            return await run_ddl(bound, ddl, *args, **kwargs)

        with self.monkeypatch.context() as patch:
            patch.setattr(kind, "run_querystring", counted_querystring)
            patch.setattr(kind, "run_ddl", counted_ddl)
            response = await request
        return response, statements


async def sign_in(rt, client) -> tuple[int, str]:
    """A level-4 account with 是 chosen and a filing that names it, signed in through the login form."""
    account_id, record, phone = await factories.account(rt, "钱多多")
    await set_level(account_id, 4)
    assert (await set_business_registration(rt, account_id, True, None, factories.ORIGIN)).ok
    other = factories.person("孙小美", date(1985, 3, 9))
    reference = await new_filing(rt, (record, "legal_representative"), (other, "shareholder"))
    token = await csrf_token(client)
    form = {"identifier": phone, "password": factories.PASSWORD}
    login = await post_form(client, "/login", form, token=token)
    assert login.status_code == 303
    return account_id, reference


async def test_each_signed_in_page_runs_exactly_its_queries(rt, client, monkeypatch):
    account_id, reference = await sign_in(rt, client)
    counter = QueryCounter(monkeypatch)
    counted: dict[str, int] = {}
    statements: dict[str, list[str]] = {}
    for page in QUERIES:
        if page in LEVEL_3_PAGES:
            await set_level(account_id, 3)
        if page in FRESH_CHECK_PAGES:
            await post_form(client, "/account/data/password", {"password": factories.PASSWORD})
        path = page.format(ref=reference)
        response, run = await counter.count(client.get(path, follow_redirects=False))
        expected = 303 if page in REDIRECTING_PAGES else 200
        assert response.status_code == expected, (
            page,
            response.status_code,
            response.headers.get("location"),
        )
        counted[page], statements[page] = len(run), run
        if page in LEVEL_3_PAGES:
            await set_level(account_id, 4)
    changed = [page for page in QUERIES if counted[page] != QUERIES[page]]
    assert counted == QUERIES, "\n".join(
        f"{page}: {sql[:160]}" for page in changed for sql in statements[page]
    )


async def test_the_sliding_expiry_costs_one_update_a_minute(rt, client, clock, monkeypatch):
    await sign_in(rt, client)
    counter = QueryCounter(monkeypatch)
    clock.advance(seconds=TOUCH_EVERY.total_seconds())
    _response, touched = await counter.count(client.get("/account"))
    _response, fresh = await counter.count(client.get("/account"))
    assert len(touched) == QUERIES["/account"] + 1 and len(fresh) == QUERIES["/account"], (touched, fresh)
    assert any(sql.lstrip().upper().startswith("UPDATE") for sql in touched)


async def test_every_signed_in_page_is_counted(app):
    """A new signed-in GET page gets its number above."""
    pages = {
        PATH_PARAMETER.sub("{ref}", route.path)
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if isinstance(handler, HTTPRouteHandler)
        and requires_sign_in in handler.resolve_guards()
        and "GET" in handler.http_methods
    }
    assert pages == set(QUERIES)


async def test_no_page_resolves_its_dependencies_in_a_task_group(app):
    """Litestar resolves dependencies of the same depth in an anyio task group, which cost a signed-in
    page a quarter of its rate (litestar#4563): the providers of ``account`` and ``origin`` ask for ``rt``
    so that a GET handler's dependencies come one at a time."""
    crowded = {
        (route.path, name): [sorted(dependency.key for dependency in batch) for batch in batches]
        for route in app.routes
        for method, (handler, kwargs_model) in getattr(route, "route_handler_map", {}).items()
        if method == "GET" and isinstance(handler, HTTPRouteHandler)
        for name, batches in [(handler.handler_name, kwargs_model.dependency_batches)]
        if any(len(batch) > 1 for batch in batches)
    }
    assert not crowded
