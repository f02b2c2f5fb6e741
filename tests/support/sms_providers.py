"""Stand-ins for Tencent Cloud SMS and Alibaba Cloud SMS: real HTTP servers on 127.0.0.1 that take a SendSms
request the way the provider does and answer the way it does.

Each request is checked as the provider's documentation describes it, from what arrived on the wire: the
signature is recomputed here from the published algorithm (this module never calls the app's signing
code; ``test_sms_providers`` checks both functions below against the providers' own published examples),
the signed headers, the timestamp's window, the body's hash, the action and version, the form of the body.
A request that fails a check is refused with the provider's error code and kept in ``refusals``.

- Tencent: 签名方法 v3 (TC3-HMAC-SHA256), cloud.tencent.com/document/api/382/52072; SendSms 2021-01-11,
  cloud.tencent.com/document/api/382/55981; error codes, cloud.tencent.com/document/api/382/52075.
- Alibaba: V3 请求体&签名机制 (ACS3-HMAC-SHA256),
  help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature; SendSms 2017-05-25; error
  codes, help.aliyun.com/document_detail/101346.html.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tc3_signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    """Tencent 签名方法 v3, step 3: SecretDate = HMAC("TC3" + SecretKey, Date), SecretService =
    HMAC(SecretDate, Service), SecretSigning = HMAC(SecretService, "tc3_request"); Signature =
    hex(HMAC(SecretSigning, StringToSign))."""

    def sign(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()

    secret_signing = sign(sign(sign(("TC3" + secret_key).encode("utf-8"), date), service), "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def tc3_canonical_request(headers: dict[str, str], signed: list[str], body: bytes) -> str:
    """Step 1, for a POST: method, URI "/", an empty query, each signed header as ``key:value\\n`` (key and
    value lower-cased and trimmed) in ascending key order, the signed header names, the body's SHA-256."""
    canonical_headers = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in sorted(signed))
    return f"POST\n/\n\n{canonical_headers}\n{';'.join(sorted(signed))}\n{sha256_hex(body)}"


def acs3_signature(secret: str, canonical_request: str) -> str:
    """Alibaba V3: StringToSign = "ACS3-HMAC-SHA256\\n" + hex(SHA-256(CanonicalRequest)); Signature =
    hex(HMAC-SHA256(AccessKeySecret, StringToSign))."""
    string_to_sign = "ACS3-HMAC-SHA256\n" + sha256_hex(canonical_request.encode("utf-8"))
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def acs3_canonical_request(
    method: str, query: str, headers: dict[str, str], signed: list[str], hashed_payload: str
) -> str:
    """Method, URI, the canonical query, each signed header as ``name:value\\n`` (name lower-cased, value
    trimmed) in ascending order, the signed header names joined by ``;``, the hashed payload."""
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in sorted(signed))
    return f"{method}\n/\n{query}\n{canonical_headers}\n{';'.join(sorted(signed))}\n{hashed_payload}"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased; every header arrived once
    body: bytes


class Refused(Exception):
    def __init__(self, code: str, status: int = 200):
        super().__init__(code)
        self.code, self.status = code, status


class ProviderStub:
    """One provider on 127.0.0.1. ``error_code``: answer every well-signed request with this error instead
    of sending; ``hang``: take the request and answer nothing until stopped."""

    def __init__(self, secret_id: str, secret_key: str, now: Callable[[], datetime]):
        self.secret_id, self.secret_key, self.now = secret_id, secret_key, now
        self.error_code = ""
        self.hang = False
        self.received: list[Received] = []
        self.refusals: list[str] = []
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> ProviderStub:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def answer(self, request: Received) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                names = [name.lower() for name in self.headers]
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                request = Received(
                    "POST", self.path, {name.lower(): value for name, value in self.headers.items()}, body
                )
                stub.received.append(request)
                if stub.hang:
                    stub.release.wait(timeout=10)
                    return
                if len(names) != len(set(names)):
                    status, answer = 400, {"duplicate headers": names}
                else:
                    status, answer = stub.answer(request)
                payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args):  # noqa: A002 - http.server's signature
                pass

        return Handler


class TencentStub(ProviderStub):
    """SendSms 2021-01-11 as Tencent answers it: HTTP 200 and a ``Response`` that holds either ``Error``
    (the request was refused) or one ``SendStatus`` per number (``Code`` "Ok", or why that number was not
    sent). ``error_in_status``: put ``error_code`` in the number's status rather than in ``Error``."""

    AUTHORIZATION = re.compile(
        r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)"
        r"/tc3_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.error_in_status = True

    def answer(self, request: Received) -> tuple[int, dict[str, Any]]:
        try:
            sent = self.check(request)
        except Refused as refusal:
            self.refusals.append(refusal.code)
            return 200, {
                "Response": {"Error": {"Code": refusal.code, "Message": "refused"}, "RequestId": "r1"}
            }
        if self.error_code and not self.error_in_status:
            error = {"Code": self.error_code, "Message": "as configured"}
            return 200, {"Response": {"Error": error, "RequestId": "r2"}}
        status = {
            "SerialNo": "2028:f825e6b16e23f73f4123",
            "PhoneNumber": sent["PhoneNumberSet"][0],
            "Fee": 1,
            "SessionContext": "",
            "Code": self.error_code or "Ok",
            "Message": "as configured" if self.error_code else "send success",
            "IsoCode": "CN",
        }
        return 200, {"Response": {"SendStatusSet": [status], "RequestId": "r3"}}

    def check(self, request: Received) -> dict[str, Any]:
        headers = request.headers
        match = self.AUTHORIZATION.fullmatch(headers.get("authorization", ""))
        if request.path != "/" or match is None:
            raise Refused("AuthFailure.InvalidAuthorization")
        if match["id"] != self.secret_id:
            raise Refused("AuthFailure.SecretIdNotFound")
        signed = match["signed"].split(";")
        if not {"content-type", "host"} <= set(signed) or not set(signed) <= set(headers):
            raise Refused("AuthFailure.InvalidAuthorization")
        if not re.fullmatch(r"\d{1,12}", headers.get("x-tc-timestamp", "")):
            raise Refused("MissingParameter")
        timestamp = int(headers["x-tc-timestamp"])
        if abs(self.now().timestamp() - timestamp) > 300:
            raise Refused("AuthFailure.SignatureExpire")
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        if match["date"] != date or match["service"] != "sms":
            raise Refused("AuthFailure.SignatureFailure")
        string_to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/sms/tc3_request\n" + sha256_hex(
            tc3_canonical_request(headers, signed, request.body).encode("utf-8")
        )
        expected = tc3_signature(self.secret_key, date, "sms", string_to_sign)
        if not hmac.compare_digest(expected, match["signature"]):
            raise Refused("AuthFailure.SignatureFailure")
        if headers.get("x-tc-action") != "SendSms":
            raise Refused("InvalidAction")
        if headers.get("x-tc-version") != "2021-01-11":
            raise Refused("NoSuchVersion")
        if not headers.get("content-type", "").startswith("application/json"):
            raise Refused("InvalidParameter")
        try:
            sent = json.loads(request.body)
        except ValueError:
            raise Refused("FailedOperation.JsonParseFail") from None
        if set(sent) - {
            "PhoneNumberSet",
            "SmsSdkAppId",
            "SignName",
            "TemplateId",
            "TemplateParamSet",
        } or not ({"PhoneNumberSet", "SmsSdkAppId", "TemplateId"} <= set(sent)):
            raise Refused("InvalidParameter")
        return sent


class AliyunStub(ProviderStub):
    """dysmsapi SendSms 2017-05-25 as Alibaba answers it: HTTP 200 with ``Code`` "OK" (or a business error
    such as ``isv.BUSINESS_LIMIT_CONTROL``); the gateway's refusals (signature, time, nonce) with HTTP 4xx."""

    AUTHORIZATION = re.compile(
        r"ACS3-HMAC-SHA256 Credential=(?P<id>[^,]+),SignedHeaders=(?P<signed>[a-z0-9;-]+),"
        r"Signature=(?P<signature>[0-9a-f]{64})"
    )
    PARAMETERS = ("PhoneNumbers", "SignName", "TemplateCode", "TemplateParam")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.nonces: set[str] = set()

    def answer(self, request: Received) -> tuple[int, dict[str, Any]]:
        try:
            self.check(request)
        except Refused as refusal:
            self.refusals.append(refusal.code)
            return refusal.status, {"RequestId": "r1", "Code": refusal.code, "Message": "refused"}
        if self.error_code:
            return 200, {"RequestId": "r2", "Code": self.error_code, "Message": "as configured"}
        return 200, {"RequestId": "r3", "Code": "OK", "Message": "OK", "BizId": "900619746936498440^0"}

    def check(self, request: Received) -> dict[str, str]:
        headers = request.headers
        match = self.AUTHORIZATION.fullmatch(headers.get("authorization", ""))
        if request.path != "/" or match is None:
            raise Refused("IncompleteSignature", 400)
        if match["id"] != self.secret_id:
            raise Refused("InvalidAccessKeyId.NotFound", 404)
        signed = match["signed"].split(";")
        must_sign = {"host", "content-type"} | {name for name in headers if name.startswith("x-acs-")}
        if not must_sign <= set(signed) or not set(signed) <= set(headers):
            raise Refused("IncompleteSignature", 400)
        try:
            date = datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise Refused("MissingParameter", 400) from None
        if abs(self.now() - date) > timedelta(minutes=15):
            raise Refused("InvalidTimeStamp.Expired", 400)
        if headers.get("x-acs-content-sha256") != sha256_hex(request.body):
            raise Refused("SignatureDoesNotMatch", 400)
        canonical = acs3_canonical_request("POST", "", headers, signed, headers["x-acs-content-sha256"])
        if not hmac.compare_digest(acs3_signature(self.secret_key, canonical), match["signature"]):
            raise Refused("SignatureDoesNotMatch", 400)
        nonce = headers.get("x-acs-signature-nonce", "")
        if not nonce or nonce in self.nonces:
            raise Refused("SignatureNonceUsed", 400)
        self.nonces.add(nonce)
        if headers.get("x-acs-action") != "SendSms" or headers.get("x-acs-version") != "2017-05-25":
            raise Refused("InvalidAction.NotFound", 404)
        if headers.get("content-type") != "application/x-www-form-urlencoded":
            raise Refused("isv.INVALID_PARAMETERS")
        try:
            form = dict(parse_qsl(request.body.decode("ascii"), keep_blank_values=True, strict_parsing=True))
            params = json.loads(form.get("TemplateParam", ""))
        except ValueError:  # UnicodeDecodeError and JSONDecodeError too
            raise Refused("isv.INVALID_PARAMETERS") from None
        if tuple(sorted(form)) != tuple(sorted(self.PARAMETERS)):
            raise Refused(
                "MissingParameter" if set(form) < set(self.PARAMETERS) else "isv.INVALID_PARAMETERS"
            )
        if not isinstance(params, dict) or not all(isinstance(value, str) for value in params.values()):
            raise Refused("isv.INVALID_JSON_PARAM")
        return form
