"""SMS mail over TLS, against real aiosmtpd servers holding a certificate made here."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY
from tests.support.smtp_sink import SmtpSink
from tests.support.tls import self_signed_certificate
from webapp.settings import Settings
from webapp.sms.channels import DeliveryError, SmtpChannel
from webapp.sms.messages import CODE, SmsMessage

PHONE = "13800138000"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    return self_signed_certificate(tmp_path_factory.mktemp("tls"), "relay")


@pytest.fixture
def server_tls(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def start_sink():
    sinks: list[SmtpSink] = []

    def start(*args, **kwargs) -> SmtpSink:
        sinks.append(SmtpSink(*args, **kwargs).start())
        return sinks[-1]

    yield start
    for sink in sinks:
        sink.stop()


def text_message(text: str) -> SmsMessage:
    return SmsMessage(CODE, (), text)


def channel(sink: SmtpSink, **changes) -> SmtpChannel:
    settings = Settings(secret_key=TEST_KEY, smtp_port=sink.port, smtp_timeout=5.0, **changes)
    return SmtpChannel(settings.validate())


async def test_starttls_is_used_when_the_server_offers_it(start_sink, server_tls, certificate):
    sink = start_sink(server_tls)
    await channel(sink, smtp_ca_file=str(certificate[0])).deliver(PHONE, text_message("验证码 123456"))
    [received] = sink.to(PHONE)
    assert received.tls and "123456" in received.text


async def test_a_certificate_not_signed_by_a_trusted_ca_is_refused(start_sink, server_tls):
    sink = start_sink(server_tls)
    with pytest.raises(DeliveryError):
        await channel(sink).deliver(PHONE, text_message("验证码 123456"))
    assert sink.to(PHONE) == []


async def test_implicit_tls_delivers(start_sink, server_tls, certificate):
    sink = start_sink(server_tls, implicit_tls=True)
    await channel(sink, smtp_tls="implicit", smtp_ca_file=str(certificate[0])).deliver(
        PHONE, text_message("验证码 234567")
    )
    [received] = sink.to(PHONE)
    assert received.tls and "234567" in received.text


async def test_without_tls_offered_mail_still_leaves_unless_tls_is_required(start_sink):
    sink = start_sink()
    await channel(sink).deliver(PHONE, text_message("验证码 345678"))
    [received] = sink.to(PHONE)
    assert not received.tls and "345678" in received.text
    with pytest.raises(DeliveryError):
        await channel(sink, smtp_require_tls=True).deliver(PHONE, text_message("验证码 456789"))
    assert len(sink.to(PHONE)) == 1


async def test_tls_off_sends_in_clear_even_when_offered(start_sink, server_tls):
    sink = start_sink(server_tls)
    await channel(sink, smtp_tls="off").deliver(PHONE, text_message("验证码 567890"))
    [received] = sink.to(PHONE)
    assert not received.tls
