"""注销账号 (issue 16, item 4) at phone and desktop size: a level-4 person who confirmed a filing asks to be
deleted, cancels by signing in, asks again (without JavaScript); the due deletions run with the clock
moved on (Debian's ``faketime`` in front of the real command); then the old credentials do not sign in,
the raw database file and its write-ahead log hold nothing of the person, the filing keeps the decision
naming no-one, and the same four elements register a new account."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from e2e.conftest import new_context, screenshot
from e2e.pages import AccountPage, BusinessPage, DeleteAccountPage, DeletionPendingPage, LoginPage
from e2e.test_accessibility import Audit
from e2e.test_accounts import PASSWORD, register
from e2e.test_business import confirm_filing, file_filing
from e2e.test_face import OBAMA, camera_page
from tests.support.server import WEBAPP


def stored_traces(database: Path, account_id: int) -> list[bytes]:
    """What the database stores for the person, read before the erasure: the account's ciphertexts, the
    phone's blind index, the password hash and the face template, and the filing entries' ciphertexts.
    (The ID number's blind index is also the key of the local registry, which is the authority's data
    about every citizen, not the account's: it stays.)"""
    with sqlite3.connect(database) as db:
        account = db.execute(
            "SELECT name, id_number, phone, phone_index, password_hash, face_template "
            "FROM account WHERE id = ?",
            (account_id,),
        ).fetchone()
        entries = db.execute(
            "SELECT name, id_number FROM filing_person WHERE account = ?", (account_id,)
        ).fetchall()
    values = [*account, *(value for entry in entries for value in entry)]
    return [value.encode() if isinstance(value, str) else bytes(value) for value in values if value]


def raw_database(database: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (database, Path(f"{database}-wal")) if p.exists())


def run_due_deletions(server, days: int) -> str:
    faketime = shutil.which("faketime")
    if faketime is None:
        pytest.fail("Debian's faketime is needed (scripts/ensure-system-deps.sh installs it)")
    done = subprocess.run(
        [faketime, f"+{days} days", WEBAPP, "accounts", "delete-due"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_delete_the_account(camera_browsers, browser, server, size, photo_citizen, smtp_sink, api_key):
    citizen = photo_citizen
    reference = file_filing(server, api_key, citizen, f"注销示例{size}有限公司")
    page = camera_page(camera_browsers, server, size, OBAMA)
    registered_at = time.monotonic()
    register(page, citizen, smtp_sink)
    account = AccountPage(page)
    assert account.upgrade_now().scan.run(expect_redirect=True) == "已提升为四级实名"
    account.go("工商注册")
    BusinessPage(page).choose_yes()
    confirm_filing(page, server, api_key, reference)
    with sqlite3.connect(server.database) as db:
        [(account_id,)] = db.execute("SELECT max(id) FROM account").fetchall()

    audit = Audit(page, size)
    AccountPage(page).open().go("注销账号")
    deletion = DeleteAccountPage(page)
    expect(deletion.heading()).to_be_visible()
    expect(deletion.consequences).to_have_count(5)
    expect(deletion.consequences.nth(3)).to_contain_text("15天冷静期")
    screenshot(page, "25-delete-account")
    audit("delete account")
    deletion.verify("Not-the-password-1")
    expect(deletion.error_for("password")).to_have_text("账号或密码错误")
    deletion.verify(PASSWORD)
    deletion.confirm()
    expect(deletion.heading("已申请注销")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("所有设备上的登录已退出")
    audit("deletion requested")
    assert "已申请注销" in smtp_sink.to(citizen.phone)[-1].text

    LoginPage(page).open().log_in(citizen.phone, PASSWORD)  # signing in offers to cancel
    pending = DeletionPendingPage(page)
    expect(page).to_have_url("/account/deletion")
    expect(pending.heading()).to_be_visible()
    screenshot(page, "26-deletion-pending")
    audit("deletion pending")
    page.goto("/business")
    expect(page).to_have_url("/account/deletion")  # nothing else meanwhile
    pending.cancel()
    expect(page).to_have_url("/account")
    audit.assert_clean()
    page.context.close()

    plain_context = new_context(browser, size, server.url, javascript=False)  # again, without JavaScript
    plain = plain_context.new_page()
    LoginPage(plain).open().log_in(citizen.phone, PASSWORD)
    again = DeleteAccountPage(plain).open()
    again.verify(PASSWORD)
    again.confirm()
    expect(again.heading("已申请注销")).to_be_visible()
    plain_context.close()

    traces = stored_traces(server.database, account_id)
    assert len(traces) >= 7 and all(trace in raw_database(server.database) for trace in traces)
    assert "0 erased" in run_due_deletions(server, 14)  # not yet: 15 days
    assert "1 erased" in run_due_deletions(server, 16)

    found = [trace for trace in traces if trace in raw_database(server.database)]
    assert found == [], f"{len(found)} of {len(traces)} stored traces of the person are still in the files"

    context = new_context(browser, size, server.url)
    page = context.new_page()
    login = LoginPage(page).open()
    login.log_in(citizen.phone, PASSWORD)
    expect(login.error_for("password")).to_have_text("账号或密码错误")
    login.log_in(citizen.id_number, PASSWORD)
    expect(login.error_for("password")).to_have_text("账号或密码错误")

    filing = httpx.get(
        f"{server.url}/api/v1/filings/{reference}", headers={"authorization": f"Bearer {api_key}"}
    ).json()
    [person] = filing["persons"]
    assert filing["status"] == "confirmed" and person["status"] == "confirmed" and person["decided_at"]
    assert person["name"] == "" and person["id_number"] == ""

    time.sleep(max(0.0, 61 - (time.monotonic() - registered_at)))  # the phone's one code a minute
    register(page, citizen, smtp_sink)  # the same four elements, a new account
    with sqlite3.connect(server.database) as db:
        [(new_id,)] = db.execute("SELECT max(id) FROM account").fetchall()
    assert new_id != account_id
    context.close()
