"""The `webapp` command: demo, imports, migrations — run as a real subprocess where the exit code matters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories
from tests.conftest import TEST_KEY
from webapp.accounts.tables import Account
from webapp.demo import seed_demo
from webapp.identity.tables import Citizen
from webapp.piccolo_app import APP_CONFIG
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")
WEBAPP = str(Path(sys.executable).parent / "webapp")


def run_cli(database: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "WEBAPP_DATABASE_URL": database,
        "WEBAPP_SECRET_KEY": TEST_KEY,
        "WEBAPP_ENV": "production",
    }
    return subprocess.run([WEBAPP, *args], env=env, capture_output=True, text=True, timeout=120)


async def snapshot() -> dict[str, list[dict]]:
    return {
        t._meta.tablename: await t.select().order_by(t._meta.primary_key) for t in APP_CONFIG.table_classes
    }


async def test_demo_twice_leaves_the_same_rows(rt):
    first_lines = await seed_demo(rt)
    before = await snapshot()
    second_lines = await seed_demo(rt)
    assert await snapshot() == before
    assert len(before["citizen"]) == 4 and len(before["account"]) == 2
    assert len(before["filing"]) == 1 and len(before["filing_person"]) == 2  # 张三 法定代表人, 李四 股东
    assert all("[added]" in line for line in first_lines)
    assert all("[unchanged]" in line for line in second_lines)


def test_demo_command_prints_the_demo_logins(database):
    done = run_cli(database, "demo")
    assert done.returncode == 0, done.stderr
    assert "13800138001" in done.stdout and "Shiming@2026" in done.stdout


def write_csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


async def test_authority_import_is_all_or_nothing_and_names_line_and_column(database, tmp_path):
    good = factories.id_number()
    bad_check_digit = good[:-1] + ("0" if good[-1] != "0" else "1")
    csv = write_csv(
        tmp_path / "citizens.csv",
        "name,id_number,valid_from,valid_to",
        f"李雷,{good},2018-06-01,2038-06-01",
        f"韩梅梅,{bad_check_digit},2018-06-01,2038-06-01",
        f"王刚,{factories.id_number()},2018-13-01,长期",
    )
    done = run_cli(database, "authority", "import", str(csv))
    assert done.returncode == 2
    assert "nothing was imported" in done.stderr
    assert "line 3, column id_number: 身份证号校验位不正确" in done.stderr
    assert "line 4, column valid_from" in done.stderr
    assert await Citizen.count() == 0


async def test_authority_import_with_photos_then_again_unchanged(database, tmp_path, repo_root):
    photos = repo_root / "tests" / "fixtures" / "faces"
    csv = write_csv(
        tmp_path / "citizens.csv",
        "name,id_number,valid_from,valid_to,photo",
        f"李雷,{factories.id_number()},2018-06-01,2038-06-01,obama-1.jpg",
        f"韩梅梅,{factories.id_number()},20100301,长期,",
    )
    done = run_cli(database, "authority", "import", str(csv), "--photos", str(photos))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "registry: 2 added, 0 updated, 0 unchanged"
    again = run_cli(database, "authority", "import", str(csv), "--photos", str(photos))
    assert again.stdout.strip() == "registry: 0 added, 0 updated, 2 unchanged"
    rows = await Citizen.select(Citizen.photo, Citizen.valid_to).order_by(Citizen.id)
    assert rows[0]["photo"] is not None and rows[1]["photo"] is None and rows[1]["valid_to"] is None


def test_authority_import_refuses_a_photo_outside_the_folder(database, tmp_path, repo_root):
    csv = write_csv(
        tmp_path / "citizens.csv",
        "name,id_number,valid_from,valid_to,photo",
        f"李雷,{factories.id_number()},2018-06-01,2038-06-01,../../README.md",
    )
    done = run_cli(
        database, "authority", "import", str(csv), "--photos", str(repo_root / "tests" / "fixtures" / "faces")
    )
    assert done.returncode == 2 and "line 2, column photo" in done.stderr


async def test_accounts_import_checks_each_row_with_the_authority(rt, database, tmp_path):
    known = await factories.citizen(rt, "周杰")
    unknown = factories.person("吴磊")
    header = "name,id_number,valid_from,valid_to,phone,province"
    row = f"{known.name},{known.id_number},{known.valid_from},{known.valid_to},13700000001,河南"
    bad = write_csv(
        tmp_path / "bad.csv",
        header,
        row,
        f"{unknown.name},{unknown.id_number},{unknown.valid_from},{unknown.valid_to},13700000002,河南",
        f"{known.name},{known.id_number},{known.valid_from},{known.valid_to},13700000001,河南",
    )
    done = run_cli(database, "accounts", "import", str(bad))
    assert done.returncode == 2
    assert "line 3, column name: the identity authority does not confirm it (not_found)" in done.stderr
    assert "line 4, column id_number: same value as line 2" in done.stderr
    malformed = write_csv(tmp_path / "malformed.csv", header, row.replace("13700000001", "1370000000"))
    done = run_cli(database, "accounts", "import", str(malformed))
    assert done.returncode == 2 and "line 2, column phone: 请输入正确的11位手机号" in done.stderr
    assert await Account.count() == 0

    good = write_csv(tmp_path / "good.csv", header, row)
    done = run_cli(database, "accounts", "import", str(good))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "accounts: 1 unactivated accounts added, 0 already present"
    [account] = await Account.select()
    assert account["state"] == "unactivated" and account["password_hash"] is None and account["level"] == 3
    assert account["source_province"] == "河南"
    assert run_cli(database, "accounts", "import", str(good)).stdout.strip().endswith("1 already present")
    assert await AuditEvent.count().where(AuditEvent.event == "account_imported") == 1


def test_malformed_csv_header_is_refused(database, tmp_path):
    csv = write_csv(tmp_path / "x.csv", "name,idnumber", "a,b")
    done = run_cli(database, "accounts", "import", str(csv))
    assert done.returncode == 2
    assert "line 1, column id_number,valid_from,valid_to,phone,province: missing column(s)" in done.stderr


def test_missing_secret_key_outside_dev_is_a_clear_error(database):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBAPP_")}
    done = subprocess.run(
        [WEBAPP, "demo"], env={**env, "WEBAPP_DATABASE_URL": database}, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "WEBAPP_SECRET_KEY is not set" in done.stderr


def test_demo_photo_exists_only_in_dev(database, repo_root, tmp_path):
    photo = str(repo_root / "tests" / "fixtures" / "faces" / "obama-1.jpg")
    refused = run_cli(database, "demo", "--photo", photo)
    assert refused.returncode == 2 and "only with WEBAPP_ENV=dev" in refused.stderr
    env = {**os.environ, "WEBAPP_DATABASE_URL": database, "WEBAPP_SECRET_KEY": TEST_KEY, "WEBAPP_ENV": "dev"}
    done = subprocess.run(
        [WEBAPP, "demo", "--photo", photo], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "registry photo of 张三 and 李四 set from obama-1.jpg (dev only)" in done.stdout
