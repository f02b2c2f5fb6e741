"""deploy/systemd: the units pass `systemd-analyze verify` and keep the hardening the docs promise."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "deploy" / "systemd"
INSTALLED_WEBAPP = "/opt/shiming/.venv/bin/webapp"


def unit_settings(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            name, _, value = line.partition("=")
            settings.setdefault(name.strip(), []).append(value.strip())
    return settings


def test_the_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip(
            "systemd-analyze not found: install Debian's systemd (scripts/ensure-system-deps.sh does)"
        )
    # verify checks that ExecStart's program exists: point it at this checkout's webapp instead of /opt
    webapp = str(Path(sys.executable).parent / "webapp")
    for unit in UNITS.iterdir():
        text = unit.read_text()
        assert INSTALLED_WEBAPP in text or unit.suffix == ".timer", unit.name
        (tmp_path / unit.name).write_text(text.replace(INSTALLED_WEBAPP, webapp))
    shutil.copy(tmp_path / "shiming@.service", tmp_path / "shiming@8001.service")  # an instance of it
    names = ["shiming@8001.service", "shiming-backup.service", "shiming-backup.timer"]
    done = subprocess.run(
        [analyze, "verify", *(str(tmp_path / name) for name in names)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # unknown keys and bad values are only warned about


def test_the_service_unit_is_hardened():
    service = unit_settings(UNITS / "shiming@.service")
    assert service["User"] == ["shiming"] and service["EnvironmentFile"] == ["/etc/shiming/env"]
    assert service["ProtectSystem"] == ["strict"] and service["ReadWritePaths"] == ["/var/lib/shiming"]
    assert service["Restart"] == ["on-failure"] and service["NoNewPrivileges"] == ["yes"]
    assert service["ExecStart"] == [f"{INSTALLED_WEBAPP} serve --host 127.0.0.1 --port %i"]
    backup = unit_settings(UNITS / "shiming-backup.service")
    assert "/var/backups/shiming" in backup["ReadWritePaths"][0].split()
