"""HttpAuthority against a real stub provider: an HTTP server on 127.0.0.1 in a thread."""

import base64
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webapp.identity.authority import AuthorityUnavailable, ElementsResult, FaceResult
from webapp.identity.http_authority import HttpAuthority

NAME = "张三"
ID_NUMBER = "11010519491231002X"
PROBE = b"\xff\xd8\xff\xe0 not really a JPEG \x00\xff\xd9"


@dataclass
class ReceivedRequest:
    path: str
    authorization: str | None
    content_type: str | None
    body: object


@dataclass
class StubProvider:
    """Answers every request with `status` and `body`; with `hang` set it waits for `release` first."""

    url: str = ""
    status: int = 200
    body: bytes = b'{"match": true, "reason": ""}'
    hang: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)
    requests: list[ReceivedRequest] = field(default_factory=list)

    def answer_json(self, answer: object, status: int = 200) -> None:
        self.status = status
        self.body = json.dumps(answer).encode()


def _handler_for(stub: StubProvider) -> type[BaseHTTPRequestHandler]:
    class StubHandler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers["Content-Length"])
            stub.requests.append(
                ReceivedRequest(
                    path=self.path,
                    authorization=self.headers.get("Authorization"),
                    content_type=self.headers.get("Content-Type"),
                    body=json.loads(self.rfile.read(length)),
                )
            )
            if stub.hang:
                stub.release.wait(timeout=10)
            self.send_response(stub.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(stub.body)))
            self.end_headers()
            self.wfile.write(stub.body)
            stub.answered.set()

        def log_message(self, format, *args):  # noqa: A002 - http.server's signature
            pass

    return StubHandler


@pytest.fixture
def stub():
    provider = StubProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(provider))
    server.daemon_threads = True
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield provider
    provider.release.set()
    server.shutdown()
    server.server_close()
    thread.join()


def _assert_log_safe(error: AuthorityUnavailable) -> None:
    text = str(error)
    assert NAME not in text
    assert ID_NUMBER not in text
    assert ID_NUMBER[:6] not in text


async def test_elements_match_sends_the_four_elements_and_the_api_key(stub):
    stub.answer_json({"match": True, "reason": ""})
    authority = HttpAuthority(stub.url, api_key="secret-key")

    result = await authority.verify_elements(NAME, ID_NUMBER, date(2009, 2, 6), date(2019, 2, 6))

    assert result == ElementsResult(match=True, reason="")
    assert stub.requests == [
        ReceivedRequest(
            path="/v1/verify-elements",
            authorization="Bearer secret-key",
            content_type="application/json",
            body={"name": NAME, "id_number": ID_NUMBER, "valid_from": "2009-02-06", "valid_to": "2019-02-06"},
        )
    ]


async def test_elements_mismatch_carries_the_reason(stub):
    stub.answer_json({"match": False, "reason": "validity"})
    authority = HttpAuthority(stub.url + "/", api_key="secret-key")

    result = await authority.verify_elements(NAME, ID_NUMBER, date(2009, 2, 6), None)

    assert result == ElementsResult(match=False, reason="validity")
    assert stub.requests[0].path == "/v1/verify-elements"
    assert stub.requests[0].body == {
        "name": NAME,
        "id_number": ID_NUMBER,
        "valid_from": "2009-02-06",
        "valid_to": None,
    }


async def test_no_authorization_header_without_an_api_key(stub):
    await HttpAuthority(stub.url).verify_elements(NAME, ID_NUMBER, date(2009, 2, 6), None)

    assert stub.requests[0].authorization is None


async def test_base_url_path_prefix_is_kept(stub):
    stub.answer_json({"match": True, "reason": ""})

    await HttpAuthority(stub.url + "/provider/").verify_elements(NAME, ID_NUMBER, date(2009, 2, 6), None)

    assert stub.requests[0].path == "/provider/v1/verify-elements"


async def test_face_match_sends_the_probe_in_base64(stub):
    stub.answer_json({"match": True, "distance": 0.31, "reason": ""})
    authority = HttpAuthority(stub.url, api_key="secret-key")

    result = await authority.compare_face(ID_NUMBER, NAME, PROBE)

    assert result == FaceResult(match=True, distance=0.31, reason="")
    assert stub.requests == [
        ReceivedRequest(
            path="/v1/compare-face",
            authorization="Bearer secret-key",
            content_type="application/json",
            body={"id_number": ID_NUMBER, "name": NAME, "probe": base64.b64encode(PROBE).decode()},
        )
    ]
    assert base64.b64decode(stub.requests[0].body["probe"]) == PROBE


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"match": False, "distance": 0.72, "reason": ""}, FaceResult(match=False, distance=0.72, reason="")),
        ({"match": False, "distance": 1, "reason": ""}, FaceResult(match=False, distance=1.0, reason="")),
        (
            {"match": False, "distance": None, "reason": "no_reference"},
            FaceResult(match=False, distance=None, reason="no_reference"),
        ),
        ({"match": False, "reason": "no_face"}, FaceResult(match=False, distance=None, reason="no_face")),
    ],
)
async def test_face_mismatch(stub, answer, expected):
    stub.answer_json(answer)

    assert await HttpAuthority(stub.url).compare_face(ID_NUMBER, NAME, PROBE) == expected


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, b'{"error": "internal"}', "identity provider answered HTTP 500 on /v1/verify-elements"),
        (503, b"", "identity provider answered HTTP 503 on /v1/verify-elements"),
        (401, b'{"error": "bad key"}', "identity provider answered HTTP 401 on /v1/verify-elements"),
        (302, b"", "identity provider answered HTTP 302 on /v1/verify-elements"),
        (200, b"<html>gateway</html>", "identity provider answered malformed JSON on /v1/verify-elements"),
        (200, b'{"match": true', "identity provider answered malformed JSON on /v1/verify-elements"),
        (200, b"\xff\xfe\x00", "identity provider answered malformed JSON on /v1/verify-elements"),
        (200, b"[true]", "identity provider answered a JSON list on /v1/verify-elements"),
        (200, b'{"reason": ""}', "identity provider answer lacks a boolean 'match'"),
        (200, b'{"match": "yes", "reason": ""}', "identity provider answer lacks a boolean 'match'"),
        (200, b'{"match": 1, "reason": ""}', "identity provider answer lacks a boolean 'match'"),
        (200, b'{"match": false, "reason": 3}', "identity provider answer has a non-string 'reason'"),
    ],
)
async def test_bad_elements_answers_make_the_authority_unavailable(stub, status, body, message):
    stub.status, stub.body = status, body

    with pytest.raises(AuthorityUnavailable) as unavailable:
        await HttpAuthority(stub.url).verify_elements(NAME, ID_NUMBER, date(2009, 2, 6), None)

    assert str(unavailable.value) == message
    _assert_log_safe(unavailable.value)


@pytest.mark.parametrize(
    "body",
    [
        b'{"match": true, "distance": "0.3", "reason": ""}',
        b'{"match": true, "distance": true, "reason": ""}',
        b'{"match": true, "distance": NaN, "reason": ""}',
        b'{"match": true, "distance": Infinity, "reason": ""}',
    ],
)
async def test_bad_face_distance_makes_the_authority_unavailable(stub, body):
    stub.body = body

    with pytest.raises(AuthorityUnavailable) as unavailable:
        await HttpAuthority(stub.url).compare_face(ID_NUMBER, NAME, PROBE)

    assert str(unavailable.value) == "identity provider answer has an invalid 'distance'"


async def test_hanging_provider_times_out_before_it_answers(stub):
    stub.hang = True

    with pytest.raises(AuthorityUnavailable) as unavailable:
        await HttpAuthority(stub.url, timeout=0.5).compare_face(ID_NUMBER, NAME, PROBE)

    assert str(unavailable.value) == "identity provider timed out on /v1/compare-face"
    assert len(stub.requests) == 1
    assert not stub.answered.is_set()
    _assert_log_safe(unavailable.value)


async def test_connection_refused_makes_the_authority_unavailable():
    # A bound socket that never listens keeps the port ours and refuses every connection.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed_port:
        closed_port.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed_port.getsockname()[1]}"

        with pytest.raises(AuthorityUnavailable) as unavailable:
            await HttpAuthority(url, timeout=0.5).verify_elements(NAME, ID_NUMBER, date(2009, 2, 6), None)

    assert str(unavailable.value) == "identity provider unreachable on /v1/verify-elements: ConnectError"
    _assert_log_safe(unavailable.value)
