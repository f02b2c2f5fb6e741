"""Delivery channels for SMS messages: ``console`` (dev only) and ``smtp`` (relay or email-to-SMS gateway)."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from webapp.clock import Clock
from webapp.settings import Settings
from webapp.sms.phone import mask_phone

log = logging.getLogger("webapp.sms")


class DeliveryError(RuntimeError):
    """The message did not leave; the caller gives the quota back."""


class SmsChannel(Protocol):
    async def deliver(self, phone: str, text: str) -> None: ...


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

    async def deliver(self, phone: str, text: str) -> None:
        self.outbox.appendleft(OutboxMessage(at=self.clock.now(), phone=phone, text=text))
        log.info("dev SMS to %s: %s", mask_phone(phone), text)


class SmtpChannel:
    def __init__(self, settings: Settings):
        self.settings = settings

    async def deliver(self, phone: str, text: str) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"] = s.smtp_sender
        message["To"] = s.smtp_recipient_template.format(phone=phone)
        message["Subject"] = "SMS"
        message.set_content(text)
        try:
            await aiosmtplib.send(
                message,
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
            raise DeliveryError(type(error).__name__) from error


def _start_tls(s: Settings) -> bool | None:
    """aiosmtplib's STARTTLS choice: required, never, or None for 'when the server offers it'."""
    if s.smtp_tls != "starttls":
        return False
    return True if s.smtp_require_tls else None


def make_channel(settings: Settings, clock: Clock) -> SmsChannel:
    if settings.effective_sms_channel == "console":
        return ConsoleChannel(clock)
    return SmtpChannel(settings)
