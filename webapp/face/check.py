"""The server-side face check of one burst: liveness, same person, and the embedding to match.

:func:`run_face_check` is the single entry point the face flows call (level-4 upgrade, face login,
password reset, confirming a filing). It spends, per burst:

- detection (HOG, no upsampling) and 68 landmarks on every frame, the frames split into one chunk
  per worker process (:meth:`FacePool.analyze_frames`);
- the liveness decision, pure Python on the event loop (well under a millisecond per frame);
- exactly **two** 128-d embeddings, in parallel on two workers: the best frontal frame (the one to
  match against the reference) and the resting frame farthest from it in the burst. Their
  distance must not exceed the threshold (same person across the burst); the best frame's
  embedding is then the result. Continuity between them is checked by tracking the face box and
  landmarks frame to frame, which costs nothing extra.

Frames are never stored: the bytes live only for the call. When the check passes, the best
frame's JPEG comes back in :attr:`FaceCheck.best_frame` for the caller to hand to an external
identity provider; the caller must not keep it either. ``figures`` (no pixels, no embedding) is
what the audit log keeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from webapp.face.decode import MESSAGES as DECODE_MESSAGES
from webapp.face.liveness import (
    MIN_FRAMES,
    NOT_SAME_PERSON,
    TOO_FEW_FRAMES,
    Action,
    evaluate,
    message_for,
)
from webapp.face.pipeline import DEFAULT_THRESHOLD, OK, distance
from webapp.face.pool import FaceLimits, FacePool
from webapp.i18n import N_

MAX_FRAMES = 30  # the browser sends ≈2.5–3 s at 8–10 fps
# Camera frames are ≈320×240 to 480×360 JPEGs of 10–60 KB. Larger ones are refused (bytes, pixels)
# or scaled down to MAX_FRAME_SIDE before detection, which bounds the work per frame.
MAX_FRAME_BYTES = 1024 * 1024
MAX_FRAME_PIXELS = 1280 * 960
MAX_FRAME_SIDE = 640

TOO_MANY_FRAMES = "too_many_frames"
INVALID_FRAMES = "invalid_frames"
BAD_CHALLENGE = "bad_challenge"

CHECK_MESSAGES = {
    TOO_MANY_FRAMES: N_("上传的画面过多，请重新检测"),
    INVALID_FRAMES: N_("上传的画面无法识别，请重新检测"),
    BAD_CHALLENGE: N_("动作指令无效，请重新检测"),
}

_DECODE_CODES = frozenset(DECODE_MESSAGES)


@dataclass(frozen=True)
class FaceCheck:
    """The outcome of one face check. ``embedding``/``best_frame`` are set only when ``ok``."""

    ok: bool
    code: str
    message: str
    figures: dict = field(default_factory=dict)
    embedding: tuple[float, ...] | None = field(default=None, repr=False)
    best_frame: bytes | None = field(default=None, repr=False)
    best_index: int | None = None


def frame_limits(pool: FacePool) -> FaceLimits:
    """Decode limits for camera frames (tighter than for reference photos); detection as the pool's."""
    return FaceLimits(
        max_bytes=min(MAX_FRAME_BYTES, pool.limits.max_bytes),
        max_pixels=min(MAX_FRAME_PIXELS, pool.limits.max_pixels),
        max_side=min(MAX_FRAME_SIDE, pool.limits.max_side),
        min_face_size=pool.limits.min_face_size,
    )


def _refusal(code: str, message: str, figures: dict | None = None) -> FaceCheck:
    return FaceCheck(False, code, message, dict(figures or {}))


async def run_face_check(
    pool: FacePool,
    frames: Sequence[bytes],
    challenge: tuple[Action, Action],
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> FaceCheck:
    """Check one burst of JPEG/PNG frames against a challenge of two different actions.

    Refusal codes, in the order they are decided: ``bad_challenge``; ``too_many_frames`` (more
    than :data:`MAX_FRAMES`); ``too_few_frames``; ``invalid_frames`` (a frame that is not a
    readable JPEG/PNG within the frame limits); then the liveness codes of
    :func:`webapp.face.liveness.evaluate` (``multiple_faces``, ``no_face``, ``face_too_small``,
    ``face_not_in_frame``, ``too_few_frames``, ``not_continuous``, ``action_not_seen``,
    ``wrong_order``); then ``not_same_person`` (the two embeddings farther apart than
    ``threshold``). Raises :class:`~webapp.face.pool.FaceWorkerError` if a worker dies.
    """
    try:
        if len(challenge) != 2:
            raise ValueError("a challenge has two actions")
        first, second = Action(challenge[0]), Action(challenge[1])
    except (ValueError, TypeError):
        return _refusal(BAD_CHALLENGE, CHECK_MESSAGES[BAD_CHALLENGE])
    if first == second:
        return _refusal(BAD_CHALLENGE, CHECK_MESSAGES[BAD_CHALLENGE])
    challenge = (first, second)
    figures: dict = {"frames": len(frames), "challenge": [first.value, second.value]}
    if len(frames) > MAX_FRAMES:
        return _refusal(TOO_MANY_FRAMES, CHECK_MESSAGES[TOO_MANY_FRAMES], figures)
    if len(frames) < MIN_FRAMES:
        return _refusal(TOO_FEW_FRAMES, message_for(TOO_FEW_FRAMES), figures)

    frames = [bytes(f) for f in frames]
    limits = frame_limits(pool)
    analyses = await pool.analyze_frames(frames, limits)
    unreadable = [i for i, a in enumerate(analyses) if a.code in _DECODE_CODES]
    if unreadable:
        figures["invalid_frames"] = unreadable
        return _refusal(INVALID_FRAMES, CHECK_MESSAGES[INVALID_FRAMES], figures)

    result = evaluate(analyses, challenge)
    if not result.ok:
        return _refusal(result.code, result.message, result.figures)
    figures = dict(result.figures)

    best, other = result.best_index, result.second_index
    first_embedding, second_embedding = await asyncio.gather(
        pool.embed_in_box(frames[best], analyses[best].box, limits),
        pool.embed_in_box(frames[other], analyses[other].box, limits),
    )
    for found in (first_embedding, second_embedding):
        if not found.ok:  # cannot happen with deterministic decoding; refuse rather than guess
            return _refusal(found.code, found.message or message_for(found.code), figures)
    same = distance(first_embedding.embedding, second_embedding.embedding)
    figures["same_person_distance"] = round(same, 4)
    figures["same_person_threshold"] = threshold
    if same > threshold:
        return _refusal(NOT_SAME_PERSON, message_for(NOT_SAME_PERSON), figures)
    return FaceCheck(
        True,
        OK,
        message_for(OK),
        figures,
        embedding=first_embedding.embedding,
        best_frame=frames[best],
        best_index=best,
    )
