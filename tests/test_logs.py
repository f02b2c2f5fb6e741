"""Log lines (issue 17, item 3): JSON on request, each line of a request carrying its id, which the answer
sends back; no name, ID number, phone or code in any line of a whole story."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest

from tests import factories
from tests.conftest import runtime_with
from tests.support.web import csrf_token, post_form

pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
async def json_logged(rt):
    """A client of the app logging JSON, and the lines it wrote (as the process's stderr would hold them)."""
    from webapp.app import create_app

    app = create_app(runtime=runtime_with(rt, log_format="json"))
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "webapp_handler", False)]
    written = io.StringIO()
    handler.setStream(written)
    for hook in app.on_startup:
        await hook()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 50000)), base_url="https://testserver"
    ) as client:
        yield client, written
    for hook in app.on_shutdown:
        await hook()


def lines(written: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in written.getvalue().splitlines() if line.strip()]


async def test_each_line_of_a_request_carries_its_id(rt, json_logged):
    client, written = json_logged
    _id, _record, phone = await factories.account(rt)
    token = await csrf_token(client)
    answer = await client.post(
        "/login",
        data={"identifier": phone, "password": "Wrong-pass-1", "_csrf_token": token},
        headers={"x-request-id": "trace-0123abcd"},
    )
    assert answer.headers["x-request-id"] == "trace-0123abcd"
    [audited] = [line for line in lines(written) if line["message"] == "audit login_failed account=1"]
    assert audited["request_id"] == "trace-0123abcd" and audited["logger"] == "webapp.audit"
    assert audited["level"] == "INFO" and audited["time"].endswith("+00:00")

    own = await client.get("/login", headers={"x-request-id": "<script>"})  # not a plain token: a new id
    assert own.headers["x-request-id"] != "<script>" and len(own.headers["x-request-id"]) == 16
    other = await client.get("/login")
    assert other.headers["x-request-id"] != own.headers["x-request-id"]


async def test_a_whole_story_logs_no_personal_data(rt, json_logged, smtp_sink, caplog):
    caplog.set_level(logging.DEBUG)
    client, written = json_logged
    record = await factories.citizen(rt, "隐私保")
    phone = factories.phone()
    token = await csrf_token(client, "/register")
    await post_form(
        client, "/register/check", {"name": record.name, "id_number": record.id_number}, True, token
    )
    await post_form(client, "/register/sms", {"phone": phone}, htmx=True, token=token)
    data = factories.registration_form(record, phone, smtp_sink.code_for(phone), "Private-life-1")
    done = await post_form(client, "/register", data, htmx=True, token=token)
    assert done.headers["hx-redirect"] == "/account?done=registered"
    await post_form(
        client, "/login", {"identifier": record.id_number, "password": "Wrong-guess-1"}, token=token
    )
    # the app's lines: the SMTP sink of the test (aiosmtpd's mail.log) is the phone company's side
    logged = [line for line in lines(written) if not line["logger"].startswith("mail.log")]
    assert any(line["message"].startswith("audit account_created") for line in logged)  # the story is there
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in logged)
    for secret in (record.id_number, phone, record.name, data["code"], "Private-life-1"):
        assert secret not in text, secret
