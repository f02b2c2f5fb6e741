"""The shape of the code, as facts a reviewer can check: no import circle among webapp's modules, counting
the imports inside functions too (a deferred import hides a circle, it does not remove it); no route
module imports another; every route that needs a session has the guard, never a check of its own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from litestar.handlers import HTTPRouteHandler

from tests.support.web import csrf_token
from webapp.accounts.auth import requires_sign_in

WEBAPP = Path(__file__).resolve().parent.parent / "webapp"


def module_name(path: Path) -> str:
    parts = path.relative_to(WEBAPP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in WEBAPP.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base])
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # a name inside a module: the module
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "webapp.piccolo_conf" in graph["webapp.app"]  # imported at module level
    assert "webapp.retention" in graph["webapp.cli"]  # imported inside a command function


def test_no_import_circle():
    assert circles(import_graph()) == []


def route_handlers(app) -> list[tuple[str, HTTPRouteHandler]]:
    return [
        (route.path, handler)
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if isinstance(handler, HTTPRouteHandler)
    ]


def route_modules(app) -> set[str]:
    """The modules that define the app's handlers, but the factory that assembles them. A handler made
    inside a function (privacy.recheck.fresh_check, for two screens) belongs to the screen that calls it:
    its module is a shared part, as webapp.web is."""
    handlers = [handler.fn for _path, handler in route_handlers(app)]
    handlers += [route.route_handler.fn for route in app.routes if hasattr(route, "route_handler")]
    modules = {fn.__module__ for fn in handlers if "<locals>" not in fn.__qualname__}
    return {name for name in modules if name.startswith("webapp.") and name != "webapp.app"}


def test_no_route_module_imports_another(app):
    graph = import_graph()
    modules = route_modules(app)
    assert {"webapp.accounts.routes", "webapp.business.routes", "webapp.faceflows.stream"} <= modules
    crossing = {name: sorted(graph[name] & modules) for name in modules if graph[name] & modules}
    assert crossing == {}


# Every route a signed-out person may reach. A new route is either listed here or guarded.
SIGNED_OUT = {
    "/",
    "/healthz",
    "/metrics",  # its own bearer token (tests/test_metrics.py)
    "/sw.js",
    "/manifest.webmanifest",
    "/offline",
    "/lang/{code:str}",
    "/static/{relative:path}",
    "/login",
    "/logout",
    "/login/face",
    "/register",
    "/register/sms",
    "/register/check",
    "/register/validity",
    "/agreement",
    "/privacy",
    "/faq",
    "/activate",
    "/activate/from-login",
    "/activate/sms",
    "/activate/account",
    "/activate/face",
    "/activate/face/sms",
    "/activate/face/phone",
    "/recover",
    "/recover/sms",
    "/recover/code",
    "/recover/reset",
    "/face/scan/start",  # who may scan for what is the face purpose's rule (webapp.faceflows.purposes)
    "/face/scan/finish",
    "/dev/outbox",
    "/dev/face",
}


def guarded(handler: HTTPRouteHandler) -> bool:
    return requires_sign_in in handler.resolve_guards()


def test_every_route_is_signed_out_by_declaration_or_guarded(app):
    pages = [(path, handler) for path, handler in route_handlers(app) if not path.startswith("/api/")]
    unguarded = sorted({path for path, handler in pages if not guarded(handler)} - SIGNED_OUT)
    assert unguarded == []
    guarded_paths = {path for path, handler in pages if guarded(handler)}
    assert {
        "/account",
        "/level",
        "/business",
        "/account/password",
        "/business/filings/{ref:str}",
    } <= guarded_paths
    assert not guarded_paths & SIGNED_OUT


def test_no_handler_checks_the_session_itself():
    """The guard is the one check: a route module does not load the session on its own (登录 looks
    only to send a signed-in person on)."""
    for path in WEBAPP.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if path.name in {"auth.py", "purposes.py"}:
            continue
        calls = source.count("current_session(") + source.count("signed_in_account(")
        allowed = 1 if path.relative_to(WEBAPP).as_posix() == "accounts/routes.py" else 0
        assert calls == allowed, path


PATH_PARAMETERS = re.compile(r"\{\w+:(\w+)\}")
SAMPLE_VALUES = {"str": "GX-1", "int": "1"}


@pytest.fixture
def guarded_routes(app) -> list[tuple[str, str]]:
    return sorted(
        (method, PATH_PARAMETERS.sub(lambda m: SAMPLE_VALUES[m.group(1)], path))
        for path, handler in route_handlers(app)
        if guarded(handler)
        for method in handler.http_methods
        if method in {"GET", "POST"}
    )


async def test_every_guarded_route_sends_a_signed_out_person_to_sign_in(client, guarded_routes):
    token = await csrf_token(client)
    assert len(guarded_routes) >= 15
    for method, path in guarded_routes:
        if method == "GET":
            answer = await client.get(path, follow_redirects=False)
        else:
            answer = await client.post(path, data={"_csrf_token": token}, follow_redirects=False)
        assert answer.status_code == 303, (method, path, answer.status_code)
        assert answer.headers["location"].startswith("/login?next=/"), (method, path)
        htmx = await client.request(
            method, path, headers={"hx-request": "true", "x-csrftoken": token}, follow_redirects=False
        )
        assert htmx.headers.get("hx-redirect", "").startswith("/login?next=/"), (method, path)


def test_each_face_purpose_is_declared_in_its_own_domain(app):
    """The scan knows no purpose by name: each is declared, with what its success does, next to the
    screens it belongs to."""
    homes = {name: purpose.succeed.__module__ for name, purpose in app.state.face_purposes.items()}
    assert homes == {
        "login": "webapp.accounts.routes",
        "recover": "webapp.accounts.recover_routes",
        "activate": "webapp.accounts.activation_routes",
        "upgrade": "webapp.accounts.level_routes",
        "filing": "webapp.business.routes",
        "personal_data": "webapp.privacy.recheck",  # the fresh checks before 个人信息副本 and 注销账号
        "deletion": "webapp.privacy.recheck",
    }
    scan = (WEBAPP / "faceflows" / "stream.py").read_text(encoding="utf-8")
    assert not any(f'"{name}"' in scan for name in homes)


def test_a_face_purpose_is_declared_once():
    from webapp.faceflows.purposes import FacePurpose, registry

    async def passed(_passed):  # never called
        raise AssertionError

    with pytest.raises(ValueError, match="declared twice"):
        registry([FacePurpose("login", passed), FacePurpose("login", passed)])
