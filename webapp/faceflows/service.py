"""The rules of the face flows: who is scanned against which reference, limits, level 4, audit.

A scan proves liveness (webapp.face.check); the match is against the account's own template once it
has one, else against the identity authority's reference photo (the authority compares: it never hands
out the photo). Frames and the best frame's JPEG live only for the call.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from webapp import audit, limits
from webapp.accounts.flows import ActiveFlow, FlowKind, State
from webapp.accounts.records import AccountRecord
from webapp.accounts.tables import Flow
from webapp.clock import SHANGHAI
from webapp.face.check import FaceCheck
from webapp.face.pipeline import distance
from webapp.i18n import N_
from webapp.identity.authority import AuthorityUnavailable
from webapp.identity.rules import normalize_id_number
from webapp.runtime import Runtime

TEMPLATE_CONTEXT = "account.face_template"
NOT_MATCHED = N_("人脸核验未通过，请确认是本人操作后重试")
SERVICE_DOWN = N_("人脸核验服务暂时不可用，请稍后再试")


def pack_template(embedding: Sequence[float]) -> bytes:
    return struct.pack("<128f", *embedding)


def unpack_template(data: bytes) -> tuple[float, ...]:
    return struct.unpack("<128f", data)


def subject_key(rt: Runtime, account_id: int) -> str:
    return f"account:{account_id}"


def identifier_key(rt: Runtime, identifier: str) -> str:
    """What the attempts of an identifier that names nobody count under: a keyed hash, so the limit
    table tells nobody apart from an account."""
    value = normalize_id_number(identifier.strip())
    return "who:" + rt.keyring.keyed_hash("face-subject", value.lower())


def attempt_limits(rt: Runtime, subject: str, ip: str) -> list[limits.Limit]:
    """5 scans per subject per 15 minutes and 20 per Shanghai day, 60 per address per hour, 6 started in
    any 2 minutes per address. The day's ceiling bounds what a pre-recorded stream that guesses the
    secret plan can try (SECURITY.md: one lit by other colours passes the light about once in 230)."""
    s = rt.settings
    return [
        limits.Limit(
            rt.limit_key("face-attempt", subject),
            (
                limits.Rolling(s.face_window_minutes * 60, s.face_max_failures),
                limits.CalendarDay(SHANGHAI, s.face_max_failures_per_day),
            ),
        ),
        limits.Limit(rt.limit_key("face-ip", ip), (limits.Rolling(3600, s.face_per_ip_hour),)),
        limits.Limit(rt.limit_key("face-burst", ip), (limits.Rolling(120, s.face_per_ip_2min),)),
    ]


async def take_attempt(rt: Runtime, subject: str, ip: str) -> limits.Decision:
    """One scan's slots, all or none, before any face work (the first is the subject's)."""
    return await limits.take(attempt_limits(rt, subject, ip), rt.clock.now())


async def void_open_scans(rt: Runtime, account: AccountRecord | None, flow: ActiveFlow | None) -> None:
    """One open scan per flow (the context flow remembers its latest) and per signed-in upgrade."""
    if flow is None and account is not None:
        await Flow.delete().where(
            (Flow.kind == FlowKind.FACE_SCAN) & (Flow.account == account.id) & (Flow.state == State.ISSUED)
        )


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    distance: float | None = None
    code: str = ""


async def judge(
    rt: Runtime, account: AccountRecord | None, check: FaceCheck, purpose: str, origin: audit.Origin
) -> Outcome:
    """Liveness decided, now the match. Every scan is audited with its figures. ``account`` None (an
    identifier that names nobody) fails like a face that does not match."""
    now = rt.clock.now()
    account_id = account.id if account else None

    async def audited(decision: str, **detail: Any) -> None:
        await audit.record(
            "face_check", now, origin, account_id, purpose=purpose, decision=decision, **detail
        )

    if not check.ok:
        await audited("refused", reason=check.code, liveness=check.figures)
        return Outcome(False, check.message, code=check.code)
    if account is None:
        await audited("refused", reason="no_account", liveness=check.figures)
        return Outcome(False, NOT_MATCHED, code="no_match")
    try:
        matched, measured = await _match(rt, account, check)
    except AuthorityUnavailable:
        await audited("authority_down")
        return Outcome(False, SERVICE_DOWN, code="authority_down")
    if not matched:
        await audited("refused", reason="no_match", distance=measured, liveness=check.figures)
        return Outcome(False, NOT_MATCHED, measured, "no_match")
    await audited("match", distance=measured, liveness=check.figures)
    return Outcome(True, "", measured, "match")


async def _match(rt: Runtime, account: AccountRecord, check: FaceCheck) -> tuple[bool, float | None]:
    """Against the account's own template once it has one, else the authority's reference photo."""
    if check.embedding is None or check.best_frame is None:
        raise ValueError("only a passed liveness check is matched, and it carries its embedding and frame")
    if account.face_template:
        template = unpack_template(rt.keyring.decrypt(account.face_template, TEMPLATE_CONTEXT))
        measured = round(distance(template, check.embedding), 4)
        return measured <= rt.settings.face_threshold, measured
    k = rt.keyring
    result = await rt.authority.compare_face(
        k.decrypt_text(account.id_number, "account.id_number"),
        k.decrypt_text(account.name, "account.name"),
        check.best_frame,
    )
    return result.match, None if result.distance is None else round(result.distance, 4)
