"""Two app processes sharing one database: the SMS limits hold across them (they live in the database)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_KEY
from tests.support.pgcluster import free_port
from tests.support.web import TOKEN, field_error

WEBAPP = str(Path(sys.executable).parent / "webapp")


@pytest.fixture
def two_servers(database, smtp_sink, tmp_path):
    env = {
        **os.environ,
        "WEBAPP_ENV": "production",
        "WEBAPP_DATABASE_URL": database,
        "WEBAPP_SECRET_KEY": TEST_KEY,
        "WEBAPP_SMS_CHANNEL": "smtp",
        "WEBAPP_SMTP_PORT": str(smtp_sink.port),
    }
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [WEBAPP, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=(tmp_path / f"server-{port}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    deadline = time.monotonic() + 60
    for url in urls:
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "servers did not start"
            time.sleep(0.2)
    yield urls
    for process in processes:
        process.terminate()
        process.wait(timeout=20)


async def test_twenty_concurrent_sends_across_two_processes_deliver_exactly_one(two_servers, smtp_sink):
    phone = "13600000020"
    clients = [httpx.AsyncClient(base_url=url, timeout=30) for url in two_servers]
    tokens = []
    for client in clients:
        page = await client.get("/register")
        # The Secure CSRF cookie is not sent back over plain http by httpx: send it by hand.
        cookie = page.headers["set-cookie"].split(";")[0]
        tokens.append((TOKEN.search(page.text).group(1), cookie))

    async def send(i: int) -> str:
        client, (token, cookie) = clients[i % 2], tokens[i % 2]
        headers = {"hx-request": "true", "x-csrftoken": token, "cookie": cookie}
        response = await client.post("/register/sms", data={"phone": phone}, headers=headers)
        assert response.status_code == 200
        return response.text

    pages = await asyncio.gather(*(send(i) for i in range(20)))
    for client in clients:
        await client.aclose()
    sent = [p for p in pages if "验证码已发送至" in p]
    refused = [field_error(p, "code") for p in pages if "验证码已发送至" not in p]
    assert len(sent) == 1 and len(refused) == 19
    assert all(re.fullmatch(r"发送过于频繁，请(59|60)秒后再获取验证码", message) for message in refused), (
        refused
    )
    time.sleep(0.2)
    assert len(smtp_sink.to(phone)) == 1


async def test_sessions_and_locks_hold_across_processes(two_servers, rt):
    from tests import factories

    _id, _record, phone = await factories.account(rt)
    one, two = (httpx.AsyncClient(base_url=url, timeout=30) for url in two_servers)
    page = await one.get("/login")
    csrf_cookie = page.headers["set-cookie"].split(";")[0]
    token = TOKEN.search(page.text).group(1)
    headers = {"cookie": csrf_cookie}
    login = await one.post(
        "/login",
        data={"identifier": phone, "password": factories.PASSWORD, "_csrf_token": token},
        headers=headers,
    )
    session_cookie = login.headers["set-cookie"].split(";")[0]
    assert session_cookie.startswith("__Host-sid=")
    both = {"cookie": f"{csrf_cookie}; {session_cookie}"}
    assert (await two.get("/account", headers=both)).status_code == 200  # made on one, valid on the other
    out = await two.post("/logout", data={"_csrf_token": token}, headers=both)
    assert out.status_code == 303
    assert (await one.get("/account", headers=both)).headers["location"] == "/login?next=/account"

    for attempt in range(5):  # the lock counts failures made on either process
        client = (one, two)[attempt % 2]
        await client.post(
            "/login",
            data={"identifier": phone, "password": f"Wrong-{attempt}-x", "_csrf_token": token},
            headers=headers,
        )
    locked = await one.post(
        "/login",
        data={"identifier": phone, "password": factories.PASSWORD, "_csrf_token": token},
        headers=headers,
    )
    assert "账号已锁定" in field_error(locked.text, "password")
    await one.aclose()
    await two.aclose()
