"""Faults (database unreachable, a registration interrupted, a face worker crash) and what the logs hold."""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import replace

import httpx
import pytest

from tests import factories
from tests.support.web import csrf_token, post_form
from webapp import audit
from webapp.accounts.service import NewAccount, create_account
from webapp.accounts.tables import Account
from webapp.app import create_app
from webapp.face.pool import FacePool
from webapp.runtime import build_runtime

pytestmark = pytest.mark.usefixtures("database")


async def test_database_unreachable_gives_a_503_page(rt):
    broken = build_runtime(
        replace(rt.settings, database_url="postgresql://nobody@127.0.0.1:1/none"), rt.clock
    )
    app = create_app(runtime=broken)
    for hook in app.on_startup:
        await hook()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        page = await client.get("/login")
        token = page.text.split('name="_csrf_token" value="')[1].split('"')[0]
        response = await client.post(
            "/login", data={"identifier": "13800138000", "password": "Whatever-1", "_csrf_token": token}
        )
        assert response.status_code == 503
        assert "服务暂时不可用，请稍后再试" in response.text
        assert (await client.get("/healthz")).status_code == 503
    for hook in app.on_shutdown:
        await hook()


async def test_an_interrupted_registration_leaves_no_half_written_account(rt, monkeypatch):
    record = await factories.citizen(rt, "断电")

    async def power_cut(*args, **kwargs):
        raise ConnectionError("the lights went out")

    monkeypatch.setattr(audit, "record", power_cut)  # fails inside the account's transaction
    new = NewAccount(
        record.name, record.id_number, record.valid_from, record.valid_to, factories.phone(), "Half-way-99"
    )
    with pytest.raises(ConnectionError):
        await create_account(rt, new, factories.ORIGIN)
    assert await Account.count() == 0


async def test_a_face_worker_crash_is_a_clear_error_and_the_next_scan_works(rt, app, client, faces):
    """A worker killed mid-stream: the scan ends with 服务暂时不可用; the next runs on a fresh worker."""
    from tests.support.faceflows import face, level3_with_photo
    from tests.support.performers import PERSON, LivePerson
    from webapp.faceflows.service import SERVICE_DOWN

    pool = FacePool(workers=1)
    rt._face_pool = pool
    try:
        pids = await pool.start()
        _account_id, *_rest, token = await level3_with_photo(rt, client, faces)
        os.kill(pids[0], signal.SIGKILL)
        crashed = await face(app, client, token, "upgrade", LivePerson(PERSON))
        assert crashed == {"ok": False, "message": SERVICE_DOWN, "redirect": ""}
        again = await face(app, client, token, "upgrade", LivePerson(PERSON))
        assert again["ok"] is True, again  # liveness and the match ran again on a fresh worker
    finally:
        pool.close()
        rt._face_pool = None


async def test_no_personal_data_in_the_logs_of_a_full_registration(rt, client, smtp_sink, caplog):
    caplog.set_level(logging.DEBUG)
    record = await factories.citizen(rt, "隐私保")
    phone = factories.phone()
    token = await csrf_token(client, "/register")
    await post_form(
        client,
        "/register/check",
        {"name": record.name, "id_number": record.id_number},
        htmx=True,
        token=token,
    )
    await post_form(client, "/register/sms", {"phone": phone}, htmx=True, token=token)
    data = factories.registration_form(record, phone, smtp_sink.code_for(phone), "Private-life-1")
    done = await post_form(client, "/register", data, htmx=True, token=token)
    assert done.headers["hx-redirect"] == "/account?done=registered"
    await post_form(
        client, "/login", {"identifier": record.id_number, "password": "Wrong-guess-1"}, token=token
    )
    # The app's own records: the SMTP sink of the test (aiosmtpd's mail.log) is the phone company's side.
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))
    assert "audit account_created" in logged  # the log did record the story
    for secret in (record.id_number, phone, record.name, data["code"], "Private-life-1"):
        assert secret not in logged, secret
