"""The server side of one scan stream: frames analysed as they arrive, one decision at the end.

:class:`LiveScan` holds the secret :class:`~webapp.face.scan.ScanPlan` and the frames of one
stream. Each frame goes to a worker process as soon as it arrives (detection, 68 landmarks, pose,
perspective cue and colour figures, :func:`webapp.face.pipeline.analyze_array`), so when the
stream ends only the decision and a few embeddings remain:

- :func:`webapp.face.scan.evaluate` on the figures (pure, well under a millisecond per frame);
- the 128-d embeddings of the few best frontal frames, whose mean is what gets matched, and of one
  frame from another part of the stream, which must be the same person — in parallel on the pool.

Frames are never stored: the bytes live in memory until the decision and are then dropped. The
best frame's JPEG comes back in :attr:`FaceCheck.best_frame` for an external identity provider to
compare; the caller must not keep it either. ``figures`` (no pixels, no embedding) is what the
audit log keeps.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from webapp.face.decode import MESSAGES as DECODE_MESSAGES
from webapp.face.liveness import NOT_SAME_PERSON, message_for
from webapp.face.pipeline import DEFAULT_THRESHOLD, OK, FrameAnalysis, distance, known
from webapp.face.pool import FaceLimits, FacePool
from webapp.face.scan import FRAME_HEIGHT, FRAME_WIDTH, MAX_FPS, Frame, ScanPlan, evaluate
from webapp.i18n import N_

# Camera frames are 480×360 JPEGs of 15–60 KB; larger ones are refused (bytes, pixels) or scaled
# down to MAX_FRAME_SIDE before detection, which bounds the work per frame.
MAX_FRAME_BYTES = 256 * 1024
MAX_FRAME_PIXELS = 4 * FRAME_WIDTH * FRAME_HEIGHT
MAX_FRAME_SIDE = 640

INVALID_FRAMES = "invalid_frames"
TOO_MANY_FRAMES = "too_many_frames"
CHECK_MESSAGES = {
    INVALID_FRAMES: N_("上传的画面无法识别，请重新检测"),
    TOO_MANY_FRAMES: N_("画面传输异常，请检查网络后重新检测"),
}
_DECODE_CODES = frozenset(DECODE_MESSAGES)


@dataclass(frozen=True)
class FaceCheck:
    """The outcome of one scan. ``embedding``/``best_frame`` are set only when ``ok``."""

    ok: bool
    code: str
    message: str
    figures: dict[str, Any] = field(default_factory=dict)
    embedding: tuple[float, ...] | None = field(default=None, repr=False)
    best_frame: bytes | None = field(default=None, repr=False)


def frame_limits(pool: FacePool) -> FaceLimits:
    """Decode limits for camera frames (tighter than for reference photos); detection as the pool's."""
    return FaceLimits(
        max_bytes=min(MAX_FRAME_BYTES, pool.limits.max_bytes),
        max_pixels=min(MAX_FRAME_PIXELS, pool.limits.max_pixels),
        max_side=min(MAX_FRAME_SIDE, pool.limits.max_side),
        min_face_size=pool.limits.min_face_size,
    )


class LiveScan:
    """One stream's frames and its decision. Not thread-safe: one event loop drives it."""

    def __init__(self, pool: FacePool, plan: ScanPlan, *, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.pool = pool
        self.plan = plan
        self.threshold = threshold
        self.limits = frame_limits(pool)
        self.max_frames = int(MAX_FPS * (plan.duration_ms / 1000 + 1))
        self._frames: list[tuple[float, float, bytes]] = []
        self._analyses: list[asyncio.Future[list[FrameAnalysis]]] = []
        self.void: str | None = None  # set when the stream broke a rule: the decision is then that refusal

    def add(self, page_ms: float, arrival_ms: float, data: bytes) -> None:
        """A frame as it arrives; its analysis starts at once on the pool."""
        if self.void:
            return
        if len(self._frames) >= self.max_frames:
            self.void = TOO_MANY_FRAMES
            return
        if len(data) > self.limits.max_bytes:
            self.void = INVALID_FRAMES
            return
        self._frames.append((page_ms, arrival_ms, data))
        self._analyses.append(asyncio.ensure_future(self.pool.analyze_frames([data], self.limits)))

    def cancel(self) -> None:
        for pending in self._analyses:
            pending.cancel()

    def _refusal(self, code: str, message: str, figures: dict[str, Any] | None = None) -> FaceCheck:
        self.cancel()
        return FaceCheck(False, code, message, dict(figures or {}))

    async def decide(self, round_trip_ms: float) -> FaceCheck:
        """The one decision of this scan (FaceWorkerError if a worker dies)."""
        if self.void:
            return self._refusal(self.void, CHECK_MESSAGES[self.void], {"frames": len(self._frames)})
        analyses = [found[0] for found in await asyncio.gather(*self._analyses)]
        # In capture order: a page encodes frames in parallel, so they may be sent out of order.
        order = sorted(range(len(self._frames)), key=lambda i: self._frames[i][0])
        self._frames = [self._frames[i] for i in order]
        analyses = [analyses[i] for i in order]
        unreadable = [i for i, a in enumerate(analyses) if a.code in _DECODE_CODES]
        if unreadable:
            return self._refusal(
                INVALID_FRAMES, CHECK_MESSAGES[INVALID_FRAMES], {"invalid_frames": unreadable}
            )
        frames = [Frame(p, a, analysis) for (p, a, _d), analysis in zip(self._frames, analyses, strict=True)]
        result = evaluate(self.plan, frames, round_trip_ms)
        figures = dict(result.figures)
        figures["round_trip_ms"] = round(round_trip_ms, 1)
        if not result.ok:
            return self._refusal(result.code, result.message, figures)
        chosen = [*result.best, known(result.other)]
        found = await asyncio.gather(
            *(self.pool.embed_in_box(self._frames[i][2], known(analyses[i].box), self.limits) for i in chosen)
        )
        for one in found:
            if not one.ok:  # cannot happen with deterministic decoding; refuse rather than guess
                return self._refusal(one.code, one.message or message_for(one.code), figures)
        best = np.mean([one.vector for one in found[:-1]], axis=0)
        same = distance(best, found[-1].vector)
        figures["same_person_distance"] = round(same, 4)
        if same > self.threshold:
            return self._refusal(NOT_SAME_PERSON, message_for(NOT_SAME_PERSON), figures)
        return FaceCheck(
            True,
            OK,
            message_for(OK),
            figures,
            embedding=tuple(float(v) for v in best),
            best_frame=self._frames[result.best[0]][2],
        )
