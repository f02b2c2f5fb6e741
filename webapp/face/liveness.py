"""Actions and tracking over a stream's per-frame figures: pure functions, no pixels, no clock.

:mod:`webapp.face.scan` decides on a whole stream; these are its parts that look at the eyes, the
mouth and the face box frame by frame. Every threshold is relative to the person's own figures in
the same stream, not to population averages: eyes and mouths differ between people.

- **Blink 眨眼.** A dip: a run of frames whose eye aspect ratio is below :data:`BLINK_OPEN_RATIO` ×
  the open-eye baseline, containing a frame at or below :data:`BLINK_CLOSED_RATIO` × baseline,
  with an open-eye frame right before and after it (the eye is seen closing and opening). A human
  blink lasts 100–400 ms: one to four frames at 10–12 fps.
- **Open mouth 张嘴.** A run of frames whose mouth aspect ratio is at least
  :data:`MOUTH_OPEN_DELTA` above the resting mouth. The ratio is read on landmarks refitted in a box
  placed by the upper face (:func:`webapp.face.pipeline.upper_face_box`): the detector's own box comes
  in steps and, close to the camera, stepped down when the jaw dropped, squashing the open mouth.
- **Continuity.** Between consecutive usable frames (at most :data:`MAX_GAP_FRAMES` unusable
  frames between them) the face box must overlap (IoU ≥ :data:`MIN_BOX_IOU`), its centre may move
  at most :data:`MAX_CENTRE_JUMP` box sizes, its size may change at most by :data:`MAX_SIZE_CHANGE`,
  and the median landmark may move at most :data:`MAX_LANDMARK_JUMP` box sizes. A face swapped in
  between two frames at another place or size breaks the track; one swapped in at the very same
  place is caught by the same-person check on two embeddings (:mod:`webapp.face.check`).

The blink and mouth thresholds were set on landmark-warped photos (``tests/support/clips.py``) and
the rendered head (``tests/support/head.py``): the blink brings the eye ratio to 0.38–0.72 × the
baseline; the open mouth raises the (refitted) mouth ratio by 0.28 or more on rendered heads whose
mouth is closed at rest, 28–45 cm away (obama-2.jpg, half open at rest, by only 0.08–0.15); frames
showing other actions stayed within 0.78–1.19 × and ±0.06.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from webapp.face.pipeline import (
    FACE_MESSAGES,
    FACE_NOT_IN_FRAME,
    FACE_TOO_SMALL,
    MULTIPLE_FACES,
    NO_FACE,
    OK,
    Box,
    FrameAnalysis,
    known,
)
from webapp.i18n import N_

# --- thresholds ------------------------------------------------------------------------------------

EAR_BASELINE_PERCENTILE = 70  # open-eye EAR: this percentile of the stream's EAR (a blink is brief)
BLINK_CLOSED_RATIO = 0.8  # a blink frame: EAR at or below 0.8 × the open-eye baseline
BLINK_OPEN_RATIO = 0.88  # open again: EAR at or above 0.88 × baseline (hysteresis band between)
BLINK_MAX_FRAMES = 5  # longest dip that still counts as a blink (400 ms at 12 fps)

MAR_BASELINE_PERCENTILE = 20  # resting mouth: a low percentile of the stream's MAR
MOUTH_OPEN_DELTA = 0.15  # open mouth: MAR at least this far above the resting mouth

MAX_GAP_FRAMES = 2  # unusable frames tolerated between two usable ones
MIN_BOX_IOU = 0.3  # face boxes of consecutive usable frames overlap at least this much
MAX_CENTRE_JUMP = 0.5  # box centre moves at most this many box sizes between them
MAX_SIZE_CHANGE = 1.5  # box side changes at most by this factor between them
MAX_LANDMARK_JUMP = 0.35  # median landmark moves at most this many box sizes between them

# --- codes and messages ------------------------------------------------------------------------------

NOT_CONTINUOUS = "not_continuous"
NOT_SAME_PERSON = "not_same_person"

MESSAGES = {
    OK: N_("活体检测通过"),
    NO_FACE: N_("未检测到人脸，请正对摄像头"),
    MULTIPLE_FACES: FACE_MESSAGES[MULTIPLE_FACES],
    FACE_TOO_SMALL: FACE_MESSAGES[FACE_TOO_SMALL],
    FACE_NOT_IN_FRAME: FACE_MESSAGES[FACE_NOT_IN_FRAME],
    NOT_CONTINUOUS: N_("画面不连续，请保持人脸始终在画面中，重新检测"),
    NOT_SAME_PERSON: N_("检测过程中人脸发生变化，请本人重新检测"),
}


def message_for(code: str) -> str:
    """The message for a code (translated where it is shown)."""
    return MESSAGES.get(code, N_("活体检测未通过，请重新检测"))


@dataclass(frozen=True)
class Event:
    """One occurrence of an action: stream frame indices of its first, last and strongest frame."""

    start: int
    end: int
    peak: int


@dataclass(frozen=True)
class Baselines:
    """The person's own resting figures in the stream: open-eye ratio, resting mouth ratio."""

    ear: float
    mar: float

    @classmethod
    def of(cls, analyses: Sequence[FrameAnalysis], indices: Sequence[int]) -> Baselines:
        return cls(
            ear=float(np.percentile([analyses[i].eye_ratio for i in indices], EAR_BASELINE_PERCENTILE)),
            mar=float(np.percentile([analyses[i].mouth_ratio for i in indices], MAR_BASELINE_PERCENTILE)),
        )


# --- figures -----------------------------------------------------------------------------------------


def _runs(indices: Sequence[int], flags: Sequence[bool]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive positions (in ``indices``) where ``flags`` is true: (first, last)."""
    runs, start = [], None
    for position, flag in enumerate(flags):
        if flag and start is None:
            start = position
        elif not flag and start is not None:
            runs.append((start, position - 1))
            start = None
    if start is not None:
        runs.append((start, len(flags) - 1))
    return runs


def blink_events(analyses: Sequence[FrameAnalysis], indices: Sequence[int], base: Baselines) -> list[Event]:
    ears = [known(analyses[i].eye_ratio) for i in indices]
    open_level, closed_level = BLINK_OPEN_RATIO * base.ear, BLINK_CLOSED_RATIO * base.ear
    events = []
    for first, last in _runs(indices, [e < open_level for e in ears]):
        if first == 0 or last == len(indices) - 1:
            continue  # not seen open before and after
        if indices[last] - indices[first] + 1 > BLINK_MAX_FRAMES:
            continue  # eyes closed for long: not a blink
        dip = min(range(first, last + 1), key=lambda p: ears[p])
        if ears[dip] <= closed_level:
            events.append(Event(indices[first], indices[last], indices[dip]))
    return events


def mouth_events(analyses: Sequence[FrameAnalysis], indices: Sequence[int], base: Baselines) -> list[Event]:
    mars = [known(analyses[i].mouth_ratio) for i in indices]
    level = base.mar + MOUTH_OPEN_DELTA
    events = []
    for first, last in _runs(indices, [m >= level for m in mars]):
        peak = max(range(first, last + 1), key=lambda p: mars[p])
        events.append(Event(indices[first], indices[last], indices[peak]))
    return events


def box_iou(a: Box, b: Box) -> float:
    left, top = max(a.left, b.left), max(a.top, b.top)
    right, bottom = min(a.right, b.right), min(a.bottom, b.bottom)
    inter = max(0, right - left + 1) * max(0, bottom - top + 1)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def track_step(a: FrameAnalysis, b: FrameAnalysis) -> dict[str, float]:
    """Box IoU, centre jump, size ratio and median landmark jump between two usable frames."""
    box_a, box_b = known(a.box), known(b.box)
    size = (box_a.size + box_b.size) / 2
    ca = np.array([(box_a.left + box_a.right) / 2, (box_a.top + box_a.bottom) / 2])
    cb = np.array([(box_b.left + box_b.right) / 2, (box_b.top + box_b.bottom) / 2])
    moved = np.linalg.norm(np.asarray(a.landmarks) - np.asarray(b.landmarks), axis=1)
    return {
        "iou": box_iou(box_a, box_b),
        "centre_jump": float(np.linalg.norm(ca - cb)) / size,
        "size_change": max(box_a.size, box_b.size) / max(1, min(box_a.size, box_b.size)),
        "landmark_jump": float(np.median(moved)) / size,
    }


def continuity(analyses: Sequence[FrameAnalysis], indices: Sequence[int]) -> tuple[bool, dict[str, float]]:
    """Whether one face is tracked through the stream; the worst step's figures."""
    worst = {"iou": 1.0, "centre_jump": 0.0, "size_change": 1.0, "landmark_jump": 0.0, "gap": 0}
    ok = True
    for a, b in zip(indices, indices[1:], strict=False):
        step = track_step(analyses[a], analyses[b])
        gap = b - a - 1
        worst = {
            "iou": min(worst["iou"], step["iou"]),
            "centre_jump": max(worst["centre_jump"], step["centre_jump"]),
            "size_change": max(worst["size_change"], step["size_change"]),
            "landmark_jump": max(worst["landmark_jump"], step["landmark_jump"]),
            "gap": max(worst["gap"], gap),
        }
        if (
            gap > MAX_GAP_FRAMES
            or step["iou"] < MIN_BOX_IOU
            or step["centre_jump"] > MAX_CENTRE_JUMP
            or step["size_change"] > MAX_SIZE_CHANGE
            or step["landmark_jump"] > MAX_LANDMARK_JUMP
        ):
            ok = False
    return ok, {k: round(v, 4) if isinstance(v, float) else v for k, v in worst.items()}
