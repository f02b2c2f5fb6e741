"""Prometheus metrics (``/metrics``, text format), readable only with ``WEBAPP_METRICS_TOKEN`` as a bearer
token: requests by route and status with their latency, face checks by purpose and outcome with their
time, SMS by channel, kind and outcome, logins, locks, the face pool's queue and the database's
connections. Labels never carry a phone, an ID number, a name or a raw path (a route's template only).

Under ``webapp serve --workers N`` each worker counts in files under ``PROMETHEUS_MULTIPROC_DIR`` (which
``serve`` sets to a fresh folder) and a scrape of any worker sums them all."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

REGISTRY = CollectorRegistry()
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

REQUESTS = Counter(
    "shiming_http_requests", "HTTP requests answered", ["route", "method", "status"], registry=REGISTRY
)
REQUEST_SECONDS = Histogram(
    "shiming_http_request_seconds", "time to answer", ["route", "method"], buckets=SECONDS, registry=REGISTRY
)
FACE_CHECKS = Counter("shiming_face_checks", "face checks decided", ["purpose", "outcome"], registry=REGISTRY)
FACE_CHECK_SECONDS = Histogram(
    "shiming_face_check_seconds",
    "a scan's time from its first frame to its decision",
    ["purpose"],
    buckets=(0.5, 1, 2, 3, 5, 8, 13, 20, 30),
    registry=REGISTRY,
)
SMS = Counter(
    "shiming_sms", "SMS messages handed to the channel", ["channel", "kind", "outcome"], registry=REGISTRY
)
LOGINS = Counter("shiming_logins", "sign-in attempts", ["method", "outcome"], registry=REGISTRY)
LOCKS = Counter("shiming_account_locks", "sources locked out of an account", registry=REGISTRY)
FACE_QUEUE = Gauge(
    "shiming_face_jobs_waiting",
    "face jobs submitted to the worker pool and not yet done",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
DATABASE_CONNECTIONS = Gauge(
    "shiming_database_connections",
    "database connections of the process answering the scrape (PostgreSQL: in_use, idle; SQLite: open)",
    ["state"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)


LOGIN_EVENTS = {"login_ok": "ok", "login_failed": "refused"}


def audited(event: str, detail: Mapping[str, Any]) -> None:
    """Sign-ins and locks, counted from the audit events that record them (one place for every flow)."""
    if event in LOGIN_EVENTS:
        LOGINS.labels(str(detail.get("method", "password")), LOGIN_EVENTS[event]).inc()
    elif event == "account_locked":
        LOCKS.inc()


def face_check(purpose: str, outcome: str, began: float) -> None:
    """A decided scan: its purpose, its outcome code (match, no_match, a liveness refusal's code ...) and
    its time since ``began`` (``time.monotonic()``)."""
    FACE_CHECKS.labels(purpose, outcome).inc()
    FACE_CHECK_SECONDS.labels(purpose).observe(time.monotonic() - began)


def exposition() -> bytes:
    """Every process's counts when several serve (``PROMETHEUS_MULTIPROC_DIR``), else this one's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
