"""deploy/nginx/shiming.conf run by Debian's nginx, as a normal process, in front of two `webapp serve`
processes on one database: TLS, security headers intact, both processes used, the client's address taken
from the proxy alone, and the face scan's WebSocket carried through."""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import TEST_KEY
from tests.support.pgcluster import free_port
from tests.support.server import AppServer, stop_process
from tests.support.tls import self_signed_certificate
from tests.support.web import TOKEN
from tests.support.writers import fetch
from webapp.demo import DEMO_PASSWORD
from webapp.web import SECURITY_HEADERS

SITE = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "shiming.conf"
PROXY = "127.0.0.1"  # nginx connects to the app from here: the one trusted proxy
CLIENT = "127.0.0.5"  # the browser, as nginx sees it
STRANGER = "127.0.0.3"  # someone reaching an app process directly
SPOOFED = "203.0.113.66"
DEMO_PHONE = "13800138001"  # 张三, level 3


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()), None
    )
    if found is None:
        pytest.skip("nginx not found: install Debian's nginx (scripts/ensure-system-deps.sh does)")
    return found


def replaced(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy/nginx/shiming.conf no longer has {old!r}: update this test's template"
    return text.replace(old, new)


def site_config(app_ports: list[int], http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """The shipped site with this machine's ports and certificate; nothing else changed."""
    text = SITE.read_text()
    text = replaced(text, "server 127.0.0.1:8001;", f"server 127.0.0.1:{app_ports[0]};")
    text = replaced(text, "server 127.0.0.1:8002;", f"server 127.0.0.1:{app_ports[1]};")
    text = replaced(text, "    listen 80;\n", f"    listen 127.0.0.1:{http_port};\n")
    text = replaced(text, "    listen 443 ssl http2;\n", f"    listen 127.0.0.1:{https_port} ssl http2;\n")
    text = re.sub(r"\n\s*listen \[::\]:\d+[^\n]*", "", text)  # no IPv6 needed here
    text = replaced(text, "/etc/ssl/certs/shiming.example.org.pem", str(cert))
    return replaced(text, "/etc/ssl/private/shiming.example.org.key", str(key))


class Nginx:
    def __init__(self, folder: Path, site: str):
        self.folder = folder
        (folder / "site.conf").write_text(site)
        temp = "\n".join(
            f"    {kind}_temp_path {folder / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (folder / "nginx.conf").write_text(
            f"""daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    log_format upstreams '$remote_addr "$request" $status $upstream_addr';
    access_log {folder / "access.log"} upstreams;
{temp}
    include {folder / "site.conf"};
}}
"""
        )
        self.command = [
            nginx_binary(),
            "-p",
            str(folder),
            "-c",
            str(folder / "nginx.conf"),
            "-e",
            str(folder / "error.log"),
        ]
        self.process: subprocess.Popen | None = None

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run([*self.command, "-t"], capture_output=True, text=True)

    def start(self, port: int) -> Nginx:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                httpx.get(f"https://127.0.0.1:{port}/healthz", verify=False, timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start:\n" + (self.folder / "error.log").read_text()[-3000:])

    def upstreams_used(self) -> set[str]:
        return {line.split()[-1] for line in (self.folder / "access.log").read_text().splitlines()}

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def stack(database, smtp_sink, tmp_path):
    """nginx on https://127.0.0.1:PORT in front of two app processes sharing the test's database."""
    nginx_binary()
    servers = []
    for number in (1, 2):
        server = AppServer(
            tmp_path,
            TEST_KEY,
            WEBAPP_DATABASE_URL=database,
            WEBAPP_TRUSTED_PROXIES=PROXY,
            WEBAPP_SMTP_PORT=str(smtp_sink.port),
            WEBAPP_FACE_WORKERS="1",
        )
        server.log_path = tmp_path / f"server-{number}.log"
        servers.append(server)
    https_port, http_port = free_port(), free_port()
    cert, key = self_signed_certificate(tmp_path, "proxy")
    folder = tmp_path / "nginx"
    folder.mkdir()
    nginx = Nginx(folder, site_config([s.port for s in servers], http_port, https_port, cert, key))
    checked = nginx.check()
    assert checked.returncode == 0, checked.stderr
    try:
        for server in servers:
            server.start()
        nginx.start(https_port)
        yield {
            "url": f"https://127.0.0.1:{https_port}",
            "http_port": http_port,
            "servers": servers,
            "nginx": nginx,
            "database": database,
        }
    finally:
        nginx.stop()
        for server in servers:
            server.stop()


def browser(base_url: str, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x address is this machine)."""
    return httpx.Client(
        base_url=base_url,
        transport=httpx.HTTPTransport(local_address=address, verify=False),
        follow_redirects=False,
        timeout=60,
    )


def cookies_set(*responses: httpx.Response) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for response in responses:
        for header in response.headers.get_list("set-cookie"):
            name, _, value = header.split(";")[0].partition("=")
            cookies[name] = value
    return cookies


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def log_in(client: httpx.Client, **headers: str) -> tuple[dict[str, str], str]:
    """Sign 张三 in (sending the cookies by hand: over plain http httpx keeps no Secure cookie)."""
    page = client.get("/login", headers=headers)
    token = TOKEN.search(page.text).group(1)
    cookies = cookies_set(page)
    done = client.post(
        "/login",
        data={"identifier": DEMO_PHONE, "password": DEMO_PASSWORD, "_csrf_token": token},
        headers={**headers, "cookie": cookie_header(cookies)},
    )
    assert done.status_code == 303, done.text[:500]
    cookies.update(cookies_set(done))
    assert "__Host-sid" in cookies
    return cookies, token


async def last_session_address(database: str) -> str:
    [(ip,)] = await fetch(database, "SELECT ip FROM user_session ORDER BY id DESC LIMIT 1")
    return ip


def test_pages_through_nginx_keep_the_security_headers_and_use_both_processes(stack):
    with browser(stack["url"], CLIENT) as proxied, browser(stack["servers"][0].url, STRANGER) as direct:
        through, straight = proxied.get("/login"), direct.get("/login")
        assert through.status_code == straight.status_code == 200
        assert through.http_version == "HTTP/1.1"
        for name in [*SECURITY_HEADERS, "strict-transport-security"]:
            assert through.headers.get(name) == straight.headers[name], name
        assert through.headers.get("server") in {None, "nginx"}  # server_tokens off: no version
        for _ in range(10):
            assert proxied.get("/healthz").status_code == 200
    assert stack["nginx"].upstreams_used() >= {f"127.0.0.1:{server.port}" for server in stack["servers"]}
    plain = httpx.get(f"http://127.0.0.1:{stack['http_port']}/login", timeout=10)
    assert plain.status_code == 301 and plain.headers["location"] == "https://127.0.0.1/login"


async def test_the_client_address_comes_from_the_proxy_never_from_the_client(stack):
    with browser(stack["url"], CLIENT) as proxied:
        log_in(proxied, **{"x-forwarded-for": SPOOFED})
    assert await last_session_address(stack["database"]) == CLIENT  # nginx's word, not the client's

    with browser(stack["servers"][1].url, STRANGER) as direct:  # not the proxy: its header is not believed
        log_in(direct, **{"x-forwarded-for": SPOOFED})
    assert await last_session_address(stack["database"]) == STRANGER
    recorded = dict(await fetch(stack["database"], "SELECT ip, count(*) FROM audit_event GROUP BY ip"))
    assert recorded.get(CLIENT) and recorded.get(STRANGER)  # the audit log says the same
    assert SPOOFED not in recorded


def test_the_face_scan_websocket_passes_through_nginx(stack):
    url = stack["url"]
    with browser(url, CLIENT) as client:
        cookies, token = log_in(client)
        started = client.post(
            "/face/scan/start",
            data={"purpose": "upgrade", "consent": "yes", "next": ""},
            headers={"x-csrftoken": token, "cookie": cookie_header(cookies)},
        )
        assert started.status_code == 200 and started.json()["ok"], started.text
        cookies.update(cookies_set(started))
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    stream = url.replace("https://", "wss://") + "/face/scan/stream"
    with pytest.raises(InvalidStatus) as refused:  # another site's page is still refused behind the proxy
        connect(
            stream,
            ssl=tls,
            origin="https://evil.example",
            additional_headers={"cookie": cookie_header(cookies)},
        )
    assert refused.value.response.status_code == 403
    with connect(
        stream, ssl=tls, origin=url, additional_headers={"cookie": cookie_header(cookies)}, open_timeout=30
    ) as socket:
        plan = json.loads(socket.recv(timeout=120))
        assert plan["type"] == "plan" and plan["duration_ms"] > 0
