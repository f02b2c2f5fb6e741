"""The project as a distribution: every module it imports is a declared dependency, the locks pin every
dependency with hashes and are what this environment was installed from, and `pip install .` into a fresh
virtualenv outside the checkout migrates and serves pages with their assets."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import TEST_KEY
from tests.support.pgcluster import free_port
from tests.support.server import stop_process

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCKS = ROOT / "requirements"
LOCK_ENTRY = re.compile(
    r"^([A-Za-z0-9_.\-]+)==(\S+)(?: ; (.+?))? \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", re.M
)


def declared() -> dict[str, Requirement]:
    requirements = [Requirement(line) for line in PROJECT["project"]["dependencies"]]
    return {canonicalize_name(requirement.name): requirement for requirement in requirements}


def locked(name: str) -> dict[str, tuple[str, str | None, int]]:
    """name → (version, marker, number of hashes) of one lock file."""
    text = (LOCKS / name).read_text()
    entries = {
        canonicalize_name(m[1]): (m[2], m[3], m[4].count("--hash=")) for m in LOCK_ENTRY.finditer(text)
    }
    pinned = {
        canonicalize_name(line.split("==")[0])
        for line in text.splitlines()
        if "==" in line and not line.startswith(("#", " "))
    }
    assert pinned == set(entries), f"{name}: entries without hashes or unparsed: {pinned ^ set(entries)}"
    return entries


def imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "webapp").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {module for module in modules if module not in sys.stdlib_module_names and module != "webapp"}


def distribution_of(module: str) -> str:
    found = metadata.packages_distributions().get(module)
    if found:
        return canonicalize_name(found[0])
    owners = [  # wheels without top_level.txt (dlib-bin): the one whose files hold the package
        dist.metadata["Name"]
        for dist in metadata.distributions()
        if any(str(file) == f"{module}/__init__.py" for file in dist.files or ())
    ]
    assert owners, f"no installed distribution provides {module!r}"
    return canonicalize_name(owners[0])


def test_every_imported_module_is_a_declared_dependency():
    undeclared = {
        module: distribution_of(module)
        for module in imported_top_level_modules()
        if distribution_of(module) not in declared()
    }
    assert not undeclared, f"imported by webapp/ but not in [project].dependencies: {undeclared}"


def test_the_locks_pin_every_dependency_with_hashes_and_agree():
    app, test = locked("app.lock"), locked("test.lock")
    assert all(hashes for _, _, hashes in test.values())
    for name, requirement in declared().items():  # the declared pins are the locked versions
        assert name in app and requirement.specifier.contains(app[name][0]), (name, app.get(name))
    extras = [Requirement(line) for line in PROJECT["project"]["optional-dependencies"]["test"]]
    for requirement in extras:
        name = canonicalize_name(requirement.name)
        assert name in test and requirement.specifier.contains(test[name][0]), (name, test.get(name))
    assert {name: entry[0] for name, entry in app.items()} == {name: test[name][0] for name in app}
    build = [
        line for line in (LOCKS / "build.in").read_text().splitlines() if line and not line.startswith("#")
    ]
    assert sorted(build) == sorted(PROJECT["build-system"]["requires"])
    assert {canonicalize_name(Requirement(line).name) for line in build} <= set(app)


def test_this_environment_was_installed_from_the_lock():
    wrong = {}
    for name, (version, marker, _) in locked("test.lock").items():
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"locked version ≠ installed (run make): {wrong}"


def project_files() -> list[str]:
    """What a source tree of the project holds: tracked files and new ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return [name for name in listed.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def clean_environment(**settings: str) -> dict[str, str]:
    """No PYTHONPATH, no virtualenv and no WEBAPP_* of this run: only what the fresh install is given."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    keep["PATH"] = ":".join(
        part for part in keep.get("PATH", "/usr/bin:/bin").split(":") if ".venv" not in part
    )
    return {**keep, **settings}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the dependencies from the app lock, then `pip install .` of a source tree."""
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    for name in project_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    env = clean_environment()
    for args in (["--require-hashes", "-r", str(LOCKS / "app.lock")], ["."]):
        done = subprocess.run([*pip, *args], cwd=source, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout + done.stderr
    return venv


def test_pip_install_outside_the_checkout_migrates_and_serves_pages_with_assets(
    installed: Path, tmp_path: Path
):
    python = installed / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import webapp; print(webapp.__file__)"],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    package = Path(where).parent
    assert package.is_relative_to(installed) and not package.is_relative_to(ROOT), where

    env = clean_environment(WEBAPP_SECRET_KEY=TEST_KEY, WEBAPP_SMS_CHANNEL="smtp")
    webapp = str(installed / "bin" / "webapp")
    migrated = subprocess.run([webapp, "migrate"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert (tmp_path / "var" / "webapp.sqlite3").exists()  # the default database: var/ where it runs

    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [webapp, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while server.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("the installed copy did not start:\n" + (tmp_path / "serve.log").read_text()[-3000:])

        with httpx.Client(base_url=base, headers={"Accept-Language": "zh-CN"}) as client:
            login = client.get("/login")
            assert login.status_code == 200 and "登录" in login.text
            css = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]+)"', login.text)
            htmx = re.search(r'src="(/static/vendor/htmx/htmx\.min\.js\?v=[0-9a-f]+)"', login.text)
            assert css and htmx, login.text[:2000]
            stylesheet = client.get(css[1])
            assert stylesheet.status_code == 200 and stylesheet.headers["content-type"].startswith("text/css")
            assert stylesheet.content == (ROOT / "webapp/static/css/app.css").read_bytes()
            script = client.get(htmx[1])
            assert script.status_code == 200 and "javascript" in script.headers["content-type"]
            assert script.content == (ROOT / "webapp/static/vendor/htmx/htmx.min.js").read_bytes()
            for path in ("/manifest.webmanifest", "/sw.js", "/register", "/privacy"):
                assert client.get(path).status_code == 200, path
            english = client.get("/login", headers={"Accept-Language": "en"})
            assert '<html lang="en">' in english.text and "Log in" in english.text  # the catalogue came along
    finally:
        stop_process(server)
        log.close()
