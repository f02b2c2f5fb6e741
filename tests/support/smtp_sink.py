"""A real SMTP server (aiosmtpd) that keeps what it receives, for tests and E2E runs."""

from __future__ import annotations

import re
import ssl
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default

from aiosmtpd.controller import Controller

from tests.support.pgcluster import free_port


@dataclass(frozen=True)
class Received:
    recipient: str
    text: str
    tls: bool  # the session was encrypted when the message arrived


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.original_content, policy=default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body else ""
        tls = server.transport.get_extra_info("ssl_object") is not None
        with self.sink.lock:
            for recipient in envelope.rcpt_tos:
                self.sink.messages.append(Received(recipient, text, tls))
        return "250 OK"


class SmtpSink:
    """Plain SMTP by default; with a server TLS context, offers STARTTLS or (implicit_tls) speaks SMTPS."""

    def __init__(self, tls: ssl.SSLContext | None = None, implicit_tls: bool = False) -> None:
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.port = free_port()
        tls_options = {"ssl_context": tls} if implicit_tls else {"tls_context": tls}
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **tls_options)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def to(self, phone: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if m.recipient.startswith(phone + "@")]

    def code_for(self, phone: str, timeout: float = 10.0) -> str:
        """The newest code sent to this phone, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.to(phone)
            if received:
                return re.search(r"(\d{6})", received[-1].text).group(1)
            time.sleep(0.05)
        raise AssertionError(f"no SMS reached {phone}")
