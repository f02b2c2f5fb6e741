"""Log lines as text or, with ``WEBAPP_LOG_FORMAT=json``, one JSON object a line; either way each line
written while a request is served carries that request's id (the client's ``X-Request-ID`` when it is a
plain token, else a new one; the answer sends it back), so one request's lines can be found together
across the app, the audit log's writes and the face pool's errors. No line holds a name, an ID number or a
phone number: what the app logs is masked where it is logged (tests grep whole stories)."""

from __future__ import annotations

import json
import logging
import re
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime

from webapp.settings import Settings

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")  # a proxy's or client's id, if it looks like one
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def request_id_from(header: str | None) -> str:
    """The id this request's lines carry: the caller's if it is a plain token, else a new one."""
    if header and ACCEPTED_ID.fullmatch(header):
        return header
    return secrets.token_hex(8)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One object a line: time (UTC, ISO 8601), level, logger, request id, message, and the exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """The root logger's one handler, at the configured level and format (uvicorn's loggers propagate to
    it: ``webapp serve`` gives uvicorn no logging set-up of its own)."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "webapp_handler", False)]:
        root.removeHandler(old)
    handler.webapp_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
