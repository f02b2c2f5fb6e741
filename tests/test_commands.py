"""The `webapp` command: demo, imports, migrations — run as a real subprocess where the exit code matters."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from stdnum.iso7064 import mod_11_2

from tests import factories
from tests.conftest import TEST_KEY
from webapp.accounts.tables import Account
from webapp.csvimport import ImportFailed, Progress
from webapp.demo import seed_demo
from webapp.identity.registry import BATCH_ROWS, import_citizens
from webapp.identity.tables import Citizen
from webapp.piccolo_app import APP_CONFIG
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")
WEBAPP = str(Path(sys.executable).parent / "webapp")


def cli_env(database: str, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "WEBAPP_DATABASE_URL": database,
        "WEBAPP_SECRET_KEY": TEST_KEY,
        "WEBAPP_ENV": "production",
        **settings,
    }


def run_cli(database: str, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = cli_env(database, **settings)
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


def registry_rows(count: int, name: str = "李雷") -> list[str]:
    """Rows with distinct valid ID numbers (birth day and sequence number vary)."""
    rows = []
    for i in range(count):
        birth = date(1970, 1, 1) + timedelta(days=i // 1000)
        body = f"110105{birth:%Y%m%d}{i % 1000:03d}"
        rows.append(f"{name},{body}{mod_11_2.calc_check_digit(body)},2018-06-01,2038-06-01")
    return rows


async def test_authority_import_reports_every_problem_and_lists_the_first_hundred(database, tmp_path):
    header = "name,id_number,valid_from,valid_to"
    good = registry_rows(3)
    bad = [row.replace("2018-06-01", "2018-13-01") for row in registry_rows(151, "韩梅梅")[3:]]
    csv = write_csv(tmp_path / "citizens.csv", header, good[0], "only,three,fields", *bad, good[1], good[1])
    done = run_cli(database, "authority", "import", str(csv))
    assert done.returncode == 2
    listed = [line for line in done.stderr.splitlines() if line.startswith("  line ")]
    assert len(listed) == 100
    assert listed[0] == "  line 3, column -: wrong number of fields"
    assert listed[1].startswith("  line 4, column valid_from: '2018-13-01' is not a date")
    assert "  … and 50 more problem(s), 150 in all" in done.stderr  # 1 + 148 dates + 1 duplicate
    assert await Citizen.count() == 0


async def test_authority_import_names_each_repeated_id_number_with_its_first_line(database, tmp_path):
    first, other = registry_rows(2)
    csv = write_csv(tmp_path / "c.csv", "name,id_number,valid_from,valid_to", first, other, first, first)
    done = run_cli(database, "authority", "import", str(csv))
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if line.startswith("  ")] == [
        "  line 4, column id_number: same ID number as line 2",
        "  line 5, column id_number: same ID number as line 2",
    ]
    assert await Citizen.count() == 0


async def test_authority_import_in_batches_adds_updates_and_keeps_unchanged_rows(rt, database, tmp_path):
    header = "name,id_number,valid_from,valid_to"
    rows = registry_rows(BATCH_ROWS * 2 + 500)  # two full batches and a part
    done = run_cli(database, "authority", "import", str(write_csv(tmp_path / "a.csv", header, *rows)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"registry: {len(rows)} added, 0 updated, 0 unchanged"
    renamed = [row.replace("李雷", "韩梅梅") if i % 700 == 0 else row for i, row in enumerate(rows)]
    more = registry_rows(len(rows) + 10)[len(rows) :]
    done = run_cli(
        database, "authority", "import", str(write_csv(tmp_path / "b.csv", header, *renamed, *more))
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"registry: 10 added, 4 updated, {len(rows) - 4} unchanged"
    stored = {
        rt.keyring.decrypt_text(row["id_number"], "citizen.id_number"): rt.keyring.decrypt_text(
            row["name"], "citizen.name"
        )
        for row in await Citizen.select(Citizen.id_number, Citizen.name)
    }
    expected = {row.split(",")[1]: row.split(",")[0] for row in [*renamed, *more]}
    assert stored == expected


async def test_authority_import_finds_rows_stored_under_a_retired_key(database, tmp_path):
    csv = write_csv(tmp_path / "c.csv", "name,id_number,valid_from,valid_to", *registry_rows(3))
    assert run_cli(database, "authority", "import", str(csv)).returncode == 0
    rotated = {
        "WEBAPP_SECRET_KEY": "next-master-key-0123456789abcdefghijklmnopq",
        "WEBAPP_OLD_SECRET_KEYS": TEST_KEY,
    }
    done = run_cli(database, "authority", "import", str(csv), **rotated)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "registry: 0 added, 0 updated, 3 unchanged"
    assert await Citizen.count() == 3


class ChangingTheFile(Progress):
    """Rewrites the file once it has been checked, as someone editing it during the import would."""

    def __init__(self, path: Path, new_text: str):
        super().__init__(io.StringIO())
        self.path, self.new_text = path, new_text

    def phase(self, label, source):
        if label == "writing":
            self.path.write_text(self.new_text, encoding="utf-8")
        return super().phase(label, source)


async def test_a_file_changed_between_check_and_write_writes_nothing(rt, database, tmp_path):
    header = "name,id_number,valid_from,valid_to"
    rows = registry_rows(BATCH_ROWS + 10)  # a batch is written before the change shows
    csv = write_csv(tmp_path / "c.csv", header, *rows)
    changed = "\n".join([header, *rows[:-1], rows[-1].replace("李雷", "韩梅梅")]) + "\n"
    with pytest.raises(ImportFailed, match="the file changed while it was being imported"):
        await import_citizens(rt, csv, None, ChangingTheFile(csv, changed))
    assert await Citizen.count() == 0


def test_import_progress_is_a_bar_on_a_terminal_and_one_line_elsewhere(database, tmp_path):
    csv = write_csv(tmp_path / "c.csv", "name,id_number,valid_from,valid_to", *registry_rows(3))
    done = run_cli(database, "authority", "import", str(csv))
    assert done.returncode == 0
    assert re.fullmatch(r"checking 3 rows in \d+\.\d s; writing 3 rows in \d+\.\d s\n", done.stderr)

    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [WEBAPP, "authority", "import", str(csv)],
        env=cli_env(database),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    shown = b""
    while chunk := read_terminal(controller):
        shown += chunk
    assert child.wait(timeout=60) == 0
    os.close(controller)
    screen = shown.decode()
    assert re.search(r"\rchecking \[#{24}\] 100% 3 rows, [\d,]+ rows/s, 0:00 left", screen), screen
    assert re.search(r"\rwriting \[#{24}\] 100% 3 rows, [\d,]+ rows/s, 0:00 left", screen), screen
    assert child.stdout is not None
    assert child.stdout.read().decode().strip() == "registry: 0 added, 0 updated, 3 unchanged"


def read_terminal(controller: int) -> bytes:
    try:
        return os.read(controller, 4096)
    except OSError:  # EIO: the child closed its end
        return b""


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


async def test_accounts_import_found_taken_while_writing_writes_none_of_the_file(rt, database, tmp_path):
    _, _, taken_phone = await factories.account(rt, "赵敏")
    first, second = await factories.citizen(rt, "周杰"), await factories.citizen(rt, "吴磊")
    csv = write_csv(
        tmp_path / "a.csv",
        "name,id_number,valid_from,valid_to,phone,province",
        f"{first.name},{first.id_number},{first.valid_from},{first.valid_to},13700000011,河南",
        f"{second.name},{second.id_number},{second.valid_from},{second.valid_to},{taken_phone},河南",
    )
    done = run_cli(database, "accounts", "import", str(csv))
    assert done.returncode == 2
    assert "line 3, column phone: an account with this value already exists" in done.stderr
    assert await Account.count() == 1  # line 2's account, written before line 3 failed, rolled back


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
