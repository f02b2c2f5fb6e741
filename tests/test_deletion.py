"""注销账号 (issue 16, item 4): a request after a fresh check, a cooling-off in which signing in offers to
cancel, then an erasure that leaves nothing of the person — while the filing decisions they made stay,
naming no-one, and their four elements can register again."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests import factories
from tests.support.business import FACE, days, new_filing, register
from tests.support.stream import start_scan
from tests.support.web import TOKEN, field_error, post_form
from webapp import db
from webapp.accounts.service import NewAccount, create_account
from webapp.accounts.tables import Account, Flow, UserSession
from webapp.business.service import decide, filing_status_by_reference
from webapp.business.tables import FilingPerson
from webapp.clock import local_time
from webapp.piccolo_app import APP_CONFIG
from webapp.privacy.deletion import erase_due
from webapp.privacy.tables import Consent
from webapp.retention import purge_expired
from webapp.sms.codes import Purpose, send_code
from webapp.sms.tables import SmsCode
from webapp.tables import AuditEvent

pytestmark = pytest.mark.usefixtures("database")


async def sign_in(client, phone: str, password: str = factories.PASSWORD):
    return await post_form(client, "/login", {"identifier": phone, "password": password})


async def request_deletion(client) -> str:
    """Through the pages: the password again, then 确认注销账号. The page it lands on."""
    checked = await post_form(client, "/account/delete/password", {"password": factories.PASSWORD})
    assert checked.status_code == 303 and checked.headers["location"] == "/account/delete"
    assert "确认注销账号" in (await client.get("/account/delete")).text
    done = await post_form(client, "/account/delete", {})
    assert done.status_code == 200 and "已申请注销" in done.text
    return done.text


async def test_the_request_needs_a_fresh_check_and_signs_out_everywhere(rt, client, app, smtp_sink, clock):
    account_id, _record, phone = await factories.account(rt)
    await sign_in(client, phone)
    page = await client.get("/account/delete")
    assert "注销后" in page.text and 'name="password"' in page.text and "确认注销账号" not in page.text
    unchecked = await post_form(client, "/account/delete", {})
    assert unchecked.status_code == 303 and unchecked.headers["location"] == "/account/delete"
    wrong = await post_form(client, "/account/delete/password", {"password": "Wrong-pass-9"})
    assert field_error(wrong.text, "password") == "账号或密码错误"
    assert (await Account.select(Account.deletion_due_at).where(Account.id == account_id).first())[
        "deletion_due_at"
    ] is None

    other = httpx.AsyncClient(
        transport=client._transport, base_url="https://testserver", follow_redirects=True
    )
    await sign_in(other, phone)
    assert (await other.get("/account")).url.path == "/account"

    text = await request_deletion(client)
    due = clock.now() + days(15)
    assert local_time(due) in text
    row = await Account.select(Account.deletion_due_at).where(Account.id == account_id).first()
    assert row["deletion_due_at"] == due
    assert await UserSession.count().where(UserSession.account == account_id) == 0
    assert (await client.get("/account")).url.path == "/login"
    assert (await other.get("/account")).url.path == "/login"
    notice = smtp_sink.to(phone)[-1].text
    assert "已申请注销" in notice and "登录即可撤销" in notice and "验证码" not in notice
    await other.aclose()


async def test_signing_in_during_the_cooling_off_offers_only_to_cancel(rt, client, app):
    account_id, _record, phone = await factories.account(rt)
    await sign_in(client, phone)
    await request_deletion(client)

    landed = await sign_in(client, phone)
    assert landed.status_code == 303
    hold = await client.get("/account")
    assert hold.url.path == "/account/deletion" and "撤销注销" in hold.text
    for path in ("/account/devices", "/account/data", "/business", "/level", "/account/delete"):
        assert (await client.get(path)).url.path == "/account/deletion", path
    htmx = await client.get("/account/activity", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.headers.get("hx-redirect") == "/account/deletion"
    token = TOKEN.search(hold.text).group(1)
    scan = await start_scan(client, token, "upgrade")
    assert scan["ok"] is False and scan["message"] == "登录已失效，请重新登录"

    cancelled = await post_form(client, "/account/deletion/cancel", {})
    assert cancelled.status_code == 303 and cancelled.headers["location"] == "/account"
    row = await Account.select(Account.deletion_due_at).where(Account.id == account_id).first()
    assert row["deletion_due_at"] is None
    events = await AuditEvent.select(AuditEvent.event).where(AuditEvent.account_id == account_id)
    assert {"account_deletion_requested", "account_deletion_cancelled"} <= {e["event"] for e in events}
    activity = await client.get("/account/activity")
    assert "申请注销账号" in activity.text and "撤销注销账号" in activity.text


async def test_a_filing_waiting_for_the_person_holds_the_request_back(rt, client, app):
    record = factories.person("周小雨")
    account_id = await register(rt, record)
    phone = rt.keyring.decrypt_text(
        (await Account.select(Account.phone).where(Account.id == account_id).first())["phone"],
        "account.phone",
    )
    reference = await new_filing(rt, (record, "legal_representative"))
    await sign_in(client, phone)
    page = await client.get("/account/delete")
    assert reference in page.text and "请先处理" in page.text and 'name="password"' not in page.text
    await post_form(client, "/account/delete/password", {"password": factories.PASSWORD})
    held = await post_form(client, "/account/delete", {})
    assert held.status_code == 409 and reference in held.text
    assert (await Account.select(Account.deletion_due_at).where(Account.id == account_id).first())[
        "deletion_due_at"
    ] is None


async def phone_of(rt, account_id: int) -> str:
    row = await Account.select(Account.phone).where(Account.id == account_id).first()
    return rt.keyring.decrypt_text(row["phone"], "account.phone")


async def snapshot_of_the_person(rt, account_id: int) -> list[bytes]:
    """Every form in which the database holds something of the account's person: the clear values and
    what is stored for them (ciphertexts, blind index of the phone, hashes)."""
    account = await Account.select().where(Account.id == account_id).first()
    k = rt.keyring
    clear = [
        k.decrypt_text(account["name"], "account.name"),
        k.decrypt_text(account["id_number"], "account.id_number"),
        k.decrypt_text(account["phone"], "account.phone"),
        account["username"],
        account["phone_index"],
        account["password_hash"],
    ]
    stored = [account["name"], account["id_number"], account["phone"], account["face_template"]]
    for person in await FilingPerson.select().where(FilingPerson.account == account_id):
        stored += [person["name"], person["id_number"]]
    for session in await UserSession.select(UserSession.token_hash).where(UserSession.account == account_id):
        clear.append(session["token_hash"])
    forms = [value.encode() for value in clear if value] + [bytes(value) for value in stored if value]
    return [form for form in forms if len(form) >= 6]


def raw_files(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


async def test_the_erasure_leaves_nothing_of_the_person_but_keeps_the_decision(
    rt, client, app, database, clock
):
    record = factories.person("欧阳晓明")
    account_id = await register(rt, record)
    await Account.update({Account.username: "xiaoming88", Account.username_key: "xiaoming88"}).where(
        Account.id == account_id
    )
    await Account.update({Account.face_template: bytes(range(200, 256)) * 9}).where(Account.id == account_id)
    co_founder = factories.person("孙小美")
    reference = await new_filing(rt, (record, "legal_representative"), (co_founder, "shareholder"))
    assert (await decide(rt, account_id, reference, "confirm", FACE, factories.ORIGIN)).ok
    phone = rt.keyring.decrypt_text(
        (await Account.select(Account.phone).where(Account.id == account_id).first())["phone"],
        "account.phone",
    )
    await sign_in(client, phone)
    traces = await snapshot_of_the_person(rt, account_id)
    await request_deletion(client)
    sent = await send_code(rt, phone, Purpose.RESET_PASSWORD, factories.ORIGIN)  # 忘记密码, meanwhile
    assert sent.sent and await SmsCode.count() == 1
    late = await new_filing(
        rt, (record, "shareholder"), company="冷静期内收到的公司"
    )  # during the cooling-off

    clock.advance(days=14, hours=23)
    assert (await erase_due(rt)).count == 0  # not yet due
    clock.advance(hours=1)
    done = await erase_due(rt)
    assert done.count == 1 and done.files_clean

    # the old credentials sign in no more, by phone, ID number or username
    for identifier in (phone, record.id_number, "xiaoming88"):
        refused = await sign_in(client, identifier)
        assert refused.status_code == 200 and field_error(refused.text, "password") == "账号或密码错误"

    # the account row names no-one; sessions, flows, consents are gone
    row = await Account.select().where(Account.id == account_id).first()
    assert row["state"] == "deleted" and row["password_hash"] is None and row["face_template"] is None
    assert not row["name"] and not row["id_number"] and not row["phone"] and row["username"] is None
    for table, column in (
        (UserSession, UserSession.account),
        (Flow, Flow.account),
        (Consent, Consent.account),
    ):
        assert await table.count().where(column == account_id) == 0

    # the filing still shows the decision, naming no-one; the late one was declined for them
    filing = await filing_status_by_reference(rt, reference)
    assert filing.status == "pending"  # the shareholder has not decided
    mine = next(p for p in filing.persons if p.role == "legal_representative")
    assert (
        mine.status == "confirmed"
        and mine.decided_at is not None
        and mine.name == ""
        and mine.id_number == ""
    )
    assert next(p for p in filing.persons if p.role == "shareholder").name == "**美"
    declined = await filing_status_by_reference(rt, late)
    assert declined.status == "declined" and declined.persons[0].status == "declined"
    events = await AuditEvent.select(AuditEvent.event, AuditEvent.detail).where(
        AuditEvent.account_id == account_id
    )
    kinds = [e["event"] for e in events]
    assert "account_deleted" in kinds and "filing_confirmed" in kinds  # the trail stays, naming no-one
    assert any('"account_deleted"' in e["detail"] for e in events if e["event"] == "filing_declined")

    # nothing of the person in any row; on SQLite not even in the raw file and its write-ahead log
    # (PostgreSQL keeps dead row versions until vacuum: docs/design.md)
    assert await SmsCode.count() == 0
    for table in APP_CONFIG.table_classes:
        for stored in await table.select():
            values = [
                v if isinstance(v, bytes) else str(v).encode() for v in stored.values() if v is not None
            ]
            assert not [t for t in traces if t in values], table._meta.tablename
    if database.startswith("sqlite"):
        raw = raw_files(database)
        found = [trace for trace in traces if trace in raw]
        assert found == [], f"{len(found)} of {len(traces)} traces of the person are still in the files"

    # the same four elements register again, as a new account
    again = await create_account(
        rt,
        NewAccount(
            record.name, record.id_number, record.valid_from, record.valid_to, phone, factories.PASSWORD
        ),
        factories.ORIGIN,
    )
    assert again != account_id
    assert (await sign_in(client, phone)).headers["location"] == "/account"
    activity = await client.get("/account/activity")
    assert "注册账号" in activity.text and "申请注销账号" not in activity.text  # not the old trail


async def test_a_cancelled_request_is_not_erased_and_the_hourly_job_erases_due_ones(rt, client, app, clock):
    kept_id, _r1, kept_phone = await factories.account(rt, "李四")
    gone_id, _r2, gone_phone = await factories.account(rt, "王五")
    for phone in (kept_phone, gone_phone):
        await sign_in(client, phone)
        await request_deletion(client)
    await sign_in(client, kept_phone)
    await post_form(client, "/account/deletion/cancel", {})
    clock.advance(days=16)
    summary = await purge_expired(rt)
    assert "1 deleted accounts erased" in summary
    states = {r["id"]: r["state"] for r in await Account.select(Account.id, Account.state)}
    assert states[kept_id] == "active" and states[gone_id] == "deleted"
    assert await db.truncate_write_ahead_log()
