"""The rules of the face flows: who is scanned against which reference, limits, level 4, audit.

A scan proves liveness (webapp.face.check); the match is against the account's own template once it
has one, else against the identity authority's reference photo (the authority compares: it never hands
out the photo). Frames and the best frame's JPEG live only for the call.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

from webapp import audit, limits
from webapp.accounts.tables import Account
from webapp.face.check import FaceCheck, run_face_check
from webapp.face.liveness import Action
from webapp.face.pipeline import distance
from webapp.face.pool import FaceWorkerError
from webapp.i18n import N_
from webapp.identity.authority import AuthorityUnavailable
from webapp.runtime import Runtime

TEMPLATE_CONTEXT = "account.face_template"
NOT_MATCHED = N_("人脸核验未通过，请确认是本人操作后重试")
SERVICE_DOWN = N_("人脸核验服务暂时不可用，请稍后再试")


def pack_template(embedding) -> bytes:
    return struct.pack("<128f", *embedding)


def unpack_template(data: bytes) -> tuple[float, ...]:
    return struct.unpack("<128f", data)


def failure_limit(rt: Runtime, account_id: int) -> limits.Limit:
    s = rt.settings
    return limits.Limit(
        rt.limit_key("face-fail", str(account_id)),
        (limits.Rolling(s.face_window_minutes * 60, s.face_max_failures),),
    )


def ip_limit(rt: Runtime, ip: str) -> limits.Limit:
    return limits.Limit(rt.limit_key("face-ip", ip), (limits.Rolling(3600, rt.settings.face_per_ip_hour),))


async def blocked_until(rt: Runtime, account_id: int | None, ip: str) -> datetime | None:
    """When face checks for this account (5 failures per 15 min) or this address may go on."""
    now = rt.clock.now()
    until = await limits.blocked(ip_limit(rt, ip), now)
    if account_id is not None:
        account_until = await limits.blocked(failure_limit(rt, account_id), now)
        until = max(filter(None, [until, account_until]), default=None)
    return until


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    distance: float | None = None
    code: str = ""


async def scan_and_match(
    rt: Runtime,
    account: dict | None,
    frames: list[bytes],
    challenge: tuple[Action, Action],
    purpose: str,
    origin: audit.Origin,
) -> tuple[Outcome, FaceCheck | None]:
    """Liveness, then the match. Every attempt is audited with its figures; failures count towards the
    account's limit. ``account`` None (an identifier that names nobody) runs the same scan and fails."""
    now = rt.clock.now()
    account_id = account["id"] if account else None

    async def audited(decision: str, **detail) -> None:
        await audit.record(
            "face_check", now, origin, account_id, purpose=purpose, decision=decision, **detail
        )

    async def failed(code: str, figures: dict, measured: float | None = None) -> None:
        """A refusal counts towards the account's limit."""
        if account_id is not None:
            await limits.RateEvent.insert(limits.RateEvent(key=failure_limit(rt, account_id).key, at=now))
        await audited("refused", reason=code, distance=measured, liveness=figures)

    await limits.take([ip_limit(rt, origin.ip)], now)
    try:
        check = await run_face_check(rt.face_pool, frames, challenge, threshold=rt.settings.face_threshold)
    except FaceWorkerError:
        await audited("error")
        return Outcome(False, SERVICE_DOWN, code="worker_error"), None
    if not check.ok:
        await failed(check.code, check.figures)
        return Outcome(False, check.message, code=check.code), check
    if account is None:
        await failed("no_account", check.figures)
        return Outcome(False, NOT_MATCHED, code="no_match"), check
    try:
        matched, measured = await _match(rt, account, check)
    except AuthorityUnavailable:
        await audited("authority_down")
        return Outcome(False, SERVICE_DOWN, code="authority_down"), check
    if not matched:
        await failed("no_match", check.figures, measured)
        return Outcome(False, NOT_MATCHED, measured, "no_match"), check
    await audited("match", distance=measured, liveness=check.figures)
    return Outcome(True, "", measured, "match"), check


async def _match(rt: Runtime, account: dict, check: FaceCheck) -> tuple[bool, float | None]:
    """Against the account's own template once it has one, else the authority's reference photo."""
    if account["face_template"]:
        template = unpack_template(rt.keyring.decrypt(account["face_template"], TEMPLATE_CONTEXT))
        measured = round(distance(template, check.embedding), 4)
        return measured <= rt.settings.face_threshold, measured
    k = rt.keyring
    result = await rt.authority.compare_face(
        k.decrypt_text(account["id_number"], "account.id_number"),
        k.decrypt_text(account["name"], "account.name"),
        check.best_frame,
    )
    return result.match, None if result.distance is None else round(result.distance, 4)


async def record_consent(rt: Runtime, account_id: int, origin: audit.Origin) -> None:
    await Account.update({Account.face_consent_at: rt.clock.now()}).where(Account.id == account_id)
    await audit.record("face_consent_given", rt.clock.now(), origin, account_id)


async def raise_to_level_4(rt: Runtime, account_id: int, check: FaceCheck, origin: audit.Origin) -> None:
    """The account keeps its own encrypted template; frames are gone with the request."""
    now = rt.clock.now()
    await Account.update(
        {
            Account.level: 4,
            Account.face_template: rt.keyring.encrypt(pack_template(check.embedding), TEMPLATE_CONTEXT),
            Account.level4_offer: "done",
            Account.updated_at: now,
        }
    ).where(Account.id == account_id)
    await audit.record("level_changed", now, origin, account_id, level=4, method="face")


async def withdraw_consent(rt: Runtime, account_id: int, origin: audit.Origin) -> None:
    """Withdrawing face consent deletes the template and returns the account to level 3."""
    now = rt.clock.now()
    await Account.update(
        {
            Account.face_template: None,
            Account.face_consent_at: None,
            Account.level: 3,
            Account.business_registration: False,
            Account.updated_at: now,
        }
    ).where(Account.id == account_id)
    await audit.record("face_consent_withdrawn", now, origin, account_id)
    await audit.record("level_changed", now, origin, account_id, level=3, method="consent_withdrawn")
