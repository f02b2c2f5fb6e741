"""Delivery channels for SMS messages: ``console`` (dev only), ``smtp`` (relay or email-to-SMS gateway), and
the SMS providers ``tencent`` (Tencent Cloud SMS) and ``aliyun`` (Alibaba Cloud SMS), which send an approved
template with its parameters (docs/sms.md).

The providers are called over httpx with their documented request signatures rather than their SDKs: httpx
is already here and async (Tencent's SDK brings ``requests``, Alibaba's the Tea/Darabonba stack), both
signatures are a few lines of HMAC-SHA256 over a canonical request, and one code path then owns the
timeout, the error mapping and what reaches the log (a phone number never does, nor a code).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from enum import StrEnum
from typing import Any, NoReturn, Protocol
from urllib.parse import quote

import aiosmtplib
import httpx

from webapp.clock import Clock
from webapp.i18n import N_
from webapp.metrics import SMS
from webapp.settings import Settings
from webapp.sms.messages import SmsMessage
from webapp.sms.phone import mask_phone

log = logging.getLogger("webapp.sms")


class Failure(StrEnum):
    """Why a message did not leave, in the words the person who asked for it can be told."""

    RATE_LIMITED = "rate_limited"  # the provider's own limits for this number (or the account's)
    BAD_NUMBER = "bad_number"  # the provider will not deliver to this number
    TEMPLATE = "template"  # template or signature not approved, parameters refused: the operator's to fix
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"  # unreachable, credentials refused, an answer not understood


FAILURE_MESSAGES = {
    Failure.RATE_LIMITED: N_("该手机号接收短信过于频繁，请稍后再试"),
    Failure.BAD_NUMBER: N_("该手机号无法接收短信，请确认号码是否正确"),
    Failure.TEMPLATE: N_("短信服务暂不可用，请稍后重试或联系客服"),
    Failure.TIMEOUT: N_("短信发送超时，请稍后重试"),
    Failure.UNAVAILABLE: N_("短信发送失败，请稍后重试"),
}


class DeliveryError(RuntimeError):
    """The message did not leave; the caller gives the quota back. Its text is log-safe: the failure and
    a provider's error code, never the number or the message."""

    def __init__(self, failure: Failure, detail: str = "") -> None:
        super().__init__(f"{failure}: {detail}" if detail else str(failure))
        self.failure = failure

    @property
    def message(self) -> str:
        """The msgid the person is shown (translated where it is drawn)."""
        return FAILURE_MESSAGES[self.failure]


class SmsChannel(Protocol):
    async def deliver(self, phone: str, message: SmsMessage) -> None: ...


@dataclass(frozen=True)
class OutboxMessage:
    at: datetime
    phone: str
    text: str


class ConsoleChannel:
    """Dev only: writes each message to the log and keeps the last ones for /dev/outbox."""

    def __init__(self, clock: Clock, size: int = 100):
        self.clock = clock
        self.outbox: deque[OutboxMessage] = deque(maxlen=size)

    async def deliver(self, phone: str, message: SmsMessage) -> None:
        self.outbox.appendleft(OutboxMessage(at=self.clock.now(), phone=phone, text=message.text))
        log.info("dev SMS to %s: %s", mask_phone(phone), message.text)


class SmtpChannel:
    def __init__(self, settings: Settings):
        self.settings = settings

    async def deliver(self, phone: str, message: SmsMessage) -> None:
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.smtp_sender
        mail["To"] = s.smtp_recipient_template.format(phone=phone)
        mail["Subject"] = "SMS"
        mail.set_content(message.text)
        try:
            await aiosmtplib.send(
                mail,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                use_tls=s.smtp_tls == "implicit",
                start_tls=_start_tls(s),
                cert_bundle=s.smtp_ca_file or None,  # certificates are always verified
                timeout=s.smtp_timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            log.warning("SMS delivery to %s failed: %s", mask_phone(phone), type(error).__name__)
            failure = Failure.TIMEOUT if isinstance(error, TimeoutError) else Failure.UNAVAILABLE
            raise DeliveryError(failure, type(error).__name__) from error


def _start_tls(s: Settings) -> bool | None:
    """aiosmtplib's STARTTLS choice: required, never, or None for 'when the server offers it'."""
    if s.smtp_tls != "starttls":
        return False
    return True if s.smtp_require_tls else None


class ProviderChannel:
    """An SMS provider's SendSms call: the kind's template id, the parameters, the signature name. The
    provider's error code is mapped to a :class:`Failure`; an unknown code counts as unavailable."""

    name = ""
    default_region = ""
    rate_limited_codes: tuple[str, ...] = ()  # error code prefixes, per failure
    bad_number_codes: tuple[str, ...] = ()
    template_codes: tuple[str, ...] = ()
    timeout_codes: tuple[str, ...] = ()

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.templates = settings.sms_template_ids
        self.region = settings.sms_region or self.default_region
        self.url = httpx.URL(settings.sms_endpoint or self.public_endpoint())
        self.host = self.url.netloc.decode("ascii")

    def public_endpoint(self) -> str:
        raise NotImplementedError

    def request(self, phone: str, message: SmsMessage, template_id: str) -> tuple[dict[str, str], bytes]:
        """The headers (signed) and the body of one SendSms call."""
        raise NotImplementedError

    def error_code(self, response: httpx.Response) -> str:
        """The provider's code for a failed send, or "" when the message was accepted."""
        raise NotImplementedError

    async def deliver(self, phone: str, message: SmsMessage) -> None:
        template_id = self.templates.get(message.kind)
        if template_id is None:  # start-up checks every kind the service sends; this one was not
            self._fail(phone, message, Failure.TEMPLATE, "no template configured for this kind")
        headers, body = self.request(phone, message, template_id)
        timeout = self.settings.sms_timeout
        try:  # httpx's timeout bounds each phase; the outer one the whole call
            async with asyncio.timeout(timeout), httpx.AsyncClient(timeout=timeout) as client:
                response = await client.post(self.url.join("/"), content=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            self._fail(phone, message, Failure.TIMEOUT, "no answer in time")
        except httpx.HTTPError as error:
            self._fail(phone, message, Failure.UNAVAILABLE, type(error).__name__)
        if code := self.error_code(response):
            self._fail(phone, message, self.failure_of(code), code)

    def failure_of(self, code: str) -> Failure:
        for failure, prefixes in [
            (Failure.RATE_LIMITED, self.rate_limited_codes),
            (Failure.BAD_NUMBER, self.bad_number_codes),
            (Failure.TEMPLATE, self.template_codes),
            (Failure.TIMEOUT, self.timeout_codes),
        ]:
            if code.startswith(prefixes):
                return failure
        return Failure.UNAVAILABLE

    def _fail(self, phone: str, message: SmsMessage, failure: Failure, detail: str) -> NoReturn:
        log.warning(
            "SMS %s to %s not sent by %s: %s (%s)",
            message.kind,
            mask_phone(phone),
            self.name,
            detail,
            failure,
        )
        raise DeliveryError(failure, detail)

    def _base_headers(self, content_type: str, body: bytes) -> dict[str, str]:
        """Every header httpx would otherwise choose itself, so that what is sent is exactly what is
        signed and what the tests compare."""
        return {
            "Host": self.host,
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            "Connection": "close",
            "User-Agent": "shiming-webapp",
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
        }


def _provider_code(value: object) -> str:
    """A provider's error code as it may be logged: letters, digits, dots, dashes, underscores."""
    text = value if isinstance(value, str) else ""
    return text if re.fullmatch(r"[A-Za-z0-9._-]{1,100}", text) else "an error code that is not one"


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        answer = response.json()
    except ValueError:  # the decode error would carry the body
        return None
    return answer if isinstance(answer, dict) else None


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac_sha256(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


class TencentChannel(ProviderChannel):
    """Tencent Cloud SMS, API 3.0 SendSms (version 2021-01-11), signed with TC3-HMAC-SHA256 (签名方法 v3,
    cloud.tencent.com/document/api/382/52072): a JSON body; Host, Content-Type and X-TC-Action signed."""

    name = "tencent"
    default_region = "ap-guangzhou"
    service = "sms"  # the credential scope's service, whatever the endpoint's host
    version = "2021-01-11"
    content_type = "application/json; charset=utf-8"
    signed_headers = ("content-type", "host", "x-tc-action")
    rate_limited_codes = ("LimitExceeded.", "RequestLimitExceeded")
    bad_number_codes = (
        "InvalidParameterValue.IncorrectPhoneNumber",
        "FailedOperation.PhoneNumberInBlacklist",
        "FailedOperation.PhoneNumberOnBlacklist",
        "UnsupportedOperation.UnsuportedRegion",
    )
    template_codes = (
        "FailedOperation.TemplateIncorrectOrUnapproved",
        "FailedOperation.SignatureIncorrectOrUnapproved",
        "FailedOperation.MissingTemplateList",
        "FailedOperation.MissingSignatureList",
        "FailedOperation.ContainSensitiveWord",
        "InvalidParameterValue.TemplateParameterFormatError",
        "InvalidParameterValue.TemplateParameterLengthLimit",
        "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
        "InvalidParameterValue.ContentLengthLimit",
    )
    timeout_codes = ("InternalError.Timeout", "InternalError.SendAndRecvFail")

    def public_endpoint(self) -> str:
        return "https://sms.tencentcloudapi.com"

    def request(self, phone: str, message: SmsMessage, template_id: str) -> tuple[dict[str, str], bytes]:
        s = self.settings
        payload = {
            "PhoneNumberSet": [f"+86{phone}"],
            "SmsSdkAppId": s.sms_app_id,
            "SignName": s.sms_sign_name,
            "TemplateId": template_id,
            "TemplateParamSet": message.values,
        }
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(self.clock.now().timestamp())
        headers = {
            **self._base_headers(self.content_type, body),
            "X-TC-Action": "SendSms",
            "X-TC-Version": self.version,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self.region,
        }
        headers["Authorization"] = self.authorization(headers, body, timestamp)
        return headers, body

    def authorization(self, headers: dict[str, str], body: bytes, timestamp: int) -> str:
        lowered = {name.lower(): value.strip().lower() for name, value in headers.items()}
        canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in self.signed_headers)
        signed = ";".join(self.signed_headers)
        canonical_request = f"POST\n/\n\n{canonical_headers}\n{signed}\n{_sha256_hex(body)}"
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        scope = f"{date}/{self.service}/tc3_request"
        string_to_sign = (
            f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{_sha256_hex(canonical_request.encode('utf-8'))}"
        )
        key = _hmac_sha256(f"TC3{self.settings.sms_access_key_secret}".encode(), date)
        for part in (self.service, "tc3_request"):
            key = _hmac_sha256(key, part)
        signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        return (
            f"TC3-HMAC-SHA256 Credential={self.settings.sms_access_key_id}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )

    def error_code(self, response: httpx.Response) -> str:
        answer = _json_object(response)
        result = answer.get("Response") if answer else None
        if not isinstance(result, dict):
            return f"HTTP {response.status_code} without a SendSms answer"
        if isinstance(error := result.get("Error"), dict):
            return _provider_code(error.get("Code"))
        statuses = result.get("SendStatusSet")
        status = statuses[0] if isinstance(statuses, list) and len(statuses) == 1 else None
        if not isinstance(status, dict):
            return "an answer without one SendStatus"
        return "" if status.get("Code") == "Ok" else _provider_code(status.get("Code"))


class AliyunChannel(ProviderChannel):
    """Alibaba Cloud SMS, dysmsapi SendSms (version 2017-05-25), signed with the V3 signature
    ACS3-HMAC-SHA256 (help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature).

    V3 rather than the RPC HMAC-SHA1 signature: Alibaba recommends it over V2, it hashes the body with
    SHA-256 into the signature (x-acs-content-sha256) where V2 signs the parameters alone with SHA-1, and
    it is the same canonical-request construction as Tencent's TC3. The parameters go in a form body, not
    the query string, so the number and the code are in no URL (URLs reach proxies' and httpx's logs)."""

    name = "aliyun"
    default_region = "cn-hangzhou"
    version = "2017-05-25"
    content_type = "application/x-www-form-urlencoded"
    rate_limited_codes = (
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.DAY_LIMIT_CONTROL",
        "isv.MONTH_LIMIT_CONTROL",
        "Throttling",
    )
    bad_number_codes = ("isv.MOBILE_NUMBER_ILLEGAL",)
    template_codes = (
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.SMS_SIGNATURE_SCENE_ILLEGAL",
        "isv.SIGN_STATE_ILLEGAL",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.INVALID_JSON_PARAM",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.PARAM_NOT_SUPPORT_URL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
    )

    def public_endpoint(self) -> str:
        if self.region.startswith("cn-"):
            return "https://dysmsapi.aliyuncs.com"
        return f"https://dysmsapi.{self.region}.aliyuncs.com"

    def request(self, phone: str, message: SmsMessage, template_id: str) -> tuple[dict[str, str], bytes]:
        s = self.settings
        form = {
            "PhoneNumbers": phone,
            "SignName": s.sms_sign_name,
            "TemplateCode": template_id,
            "TemplateParam": json.dumps(dict(message.params), ensure_ascii=False, separators=(",", ":")),
        }
        body = "&".join(f"{_percent(name)}={_percent(value)}" for name, value in form.items()).encode()
        headers = {
            **self._base_headers(self.content_type, body),
            "x-acs-action": "SendSms",
            "x-acs-version": self.version,
            "x-acs-date": self.clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": secrets.token_hex(16),
            "x-acs-content-sha256": _sha256_hex(body),
        }
        headers["Authorization"] = self.authorization(headers)
        return headers, body

    def authorization(self, headers: dict[str, str]) -> str:
        signed = {
            name.lower(): value.strip()
            for name, value in headers.items()
            if name.lower() in {"host", "content-type"} or name.lower().startswith("x-acs-")
        }
        names = sorted(signed)
        canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in names)
        signed_headers = ";".join(names)
        canonical_request = (
            f"POST\n/\n\n{canonical_headers}\n{signed_headers}\n{signed['x-acs-content-sha256']}"
        )
        string_to_sign = f"ACS3-HMAC-SHA256\n{_sha256_hex(canonical_request.encode('utf-8'))}"
        signature = hmac.new(
            self.settings.sms_access_key_secret.encode("utf-8"),
            string_to_sign.encode("utf-8"),
            hashlib.sha256,
        ).hexdigest()
        return (
            f"ACS3-HMAC-SHA256 Credential={self.settings.sms_access_key_id},"
            f"SignedHeaders={signed_headers},Signature={signature}"
        )

    def error_code(self, response: httpx.Response) -> str:
        answer = _json_object(response)
        if answer is None or not isinstance(answer.get("Code"), str):
            return f"HTTP {response.status_code} without a SendSms answer"
        return "" if answer["Code"] == "OK" and response.is_success else _provider_code(answer["Code"])


def _percent(value: str) -> str:
    """RFC 3986 percent-encoding, as Alibaba's signature documents it (a space is %20, ~ stays)."""
    return quote(value, safe="~", encoding="utf-8")


async def deliver_counted(channel: SmsChannel, name: str, phone: str, message: SmsMessage) -> None:
    """``channel.deliver``, counted for /metrics by channel ``name``, kind and outcome (sent, or the
    failure)."""
    try:
        await channel.deliver(phone, message)
    except DeliveryError as error:
        SMS.labels(name, message.kind, str(error.failure)).inc()
        raise
    SMS.labels(name, message.kind, "sent").inc()


def make_channel(settings: Settings, clock: Clock) -> SmsChannel:
    channel = settings.effective_sms_channel
    if channel == "console":
        return ConsoleChannel(clock)
    if channel == "tencent":
        return TencentChannel(settings, clock)
    if channel == "aliyun":
        return AliyunChannel(settings, clock)
    return SmtpChannel(settings)


def template_problems(settings: Settings, kinds: list[str]) -> list[str]:
    """With a provider channel: every kind the service sends has a template id, and every template id
    configured is for a kind it sends (a misspelt kind would otherwise go unnoticed)."""
    if not settings.sms_provider:
        return []
    ids = settings.sms_template_ids
    problems = [
        f"WEBAPP_SMS_TEMPLATES has no template for {kind!r}: with WEBAPP_SMS_CHANNEL="
        f"{settings.effective_sms_channel} every kind of message needs an approved template "
        f"(kinds: {', '.join(kinds)})"
        for kind in kinds
        if kind not in ids
    ]
    problems += [
        f"WEBAPP_SMS_TEMPLATES names {kind!r}, which the service never sends (kinds: {', '.join(kinds)})"
        for kind in ids
        if kind not in kinds
    ]
    return problems
