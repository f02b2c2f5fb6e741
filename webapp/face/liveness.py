"""Liveness from one burst of camera frames: pure functions over per-frame figures.

The browser shows a random challenge of two different actions (:func:`random_challenge`) and posts
one burst of JPEG frames (≈2.5–3 s at 8–10 fps, at most 30). A worker computes a
:class:`~webapp.face.pipeline.FrameAnalysis` per frame (HOG detection without upsampling, exactly
one face, 68 landmarks, eye/mouth aspect ratios and the yaw cue); :func:`evaluate` decides from
that list alone — no pixels, no clock, no randomness — so unit tests drive it directly.

Every threshold is relative to the person's own figures in the same burst, not to population
averages: eyes, mouths and the resting head pose differ between people (one test photo already has
its mouth open and its head turned by about 25°).

- **Baselines.** Open-eye EAR = the 70th percentile of the burst's EAR (eyes are open in most
  frames and a blink lasts one to three of them; not higher, because a turned head raises the EAR
  by up to 20 %, and a baseline taken from turned frames would make resting frames look half
  shut); resting mouth = the 20th percentile of MAR (the mouth is open in well under half the
  frames); resting yaw = the median yaw cue.
- **Blink 眨眼.** A dip: a run of frames whose EAR is below :data:`BLINK_OPEN_RATIO` × baseline,
  containing at least one frame at or below :data:`BLINK_CLOSED_RATIO` × baseline, at most
  :data:`BLINK_MAX_FRAMES` frames long, with an open-eye frame right before and right after it
  (the eye is seen closing and opening). A human blink lasts 100–400 ms, i.e. one to three frames
  at 8–10 fps; one frame is enough.
- **Open mouth 张嘴.** A run of frames whose MAR is at least :data:`MOUTH_OPEN_DELTA` above the
  resting mouth.
- **Turn head 左右转头.** The yaw cue swings at least :data:`TURN_DELTA` to one side of the resting
  yaw **and** later at least as far to the other side. Both sides are required, as the prompt says
  (左右): it doubles the evidence, and a turn to one side alone is what a tilted head or a photo
  moved off-centre can show. (Rotating a flat photo about a vertical axis hardly moves the cue:
  the compression is horizontal and the cue is a horizontal ratio.)
- **Order.** The challenged actions count in order when an occurrence of the first starts before
  an occurrence of the second starts and also ends before it ends. Clips and people repeat
  actions, so occurrences are looked for anywhere in the burst.
- **Continuity.** Between consecutive usable frames (at most :data:`MAX_GAP_FRAMES` unusable frames
  between them) the face box must overlap (IoU ≥ :data:`MIN_BOX_IOU`), its centre may move at most
  :data:`MAX_CENTRE_JUMP` box sizes, its size may change at most by :data:`MAX_SIZE_CHANGE`, and
  the median landmark may move at most :data:`MAX_LANDMARK_JUMP` box sizes. A face swapped in
  between two frames at another place or size breaks the track; one swapped in at the very same
  place is caught by the same-person check on two embeddings (:mod:`webapp.face.check`).
- **Best frame.** Among frames with open eyes, a resting mouth and the head near its resting
  pose: the smallest |yaw|, then the largest face. The same-person frame is the candidate
  farthest from it in the burst.

The thresholds were set on the test clips (``tests/support/clips.py``, all six photos, sampled at
320×240 and 480×360): the synthetic blink brings EAR to 0.38–0.72 × baseline (obama-2: 0.58–0.60),
the open mouth raises MAR by 0.20–0.43, the turns move the yaw cue by 0.26–0.59 each way, while
frames showing another action stay within 0.78–1.19 × (EAR), −0.06…+0.06 (MAR) and ±0.05 (yaw) of
the resting figures. dlib's landmarks are whole pixels: at 320×240 with a 105–125 px face an eye
opening is 4–7 px, so one pixel is 0.15–0.25 × the baseline EAR: 480×360 capture gives the blink
test more margin.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

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
)
from webapp.i18n import N_, _

# --- thresholds ------------------------------------------------------------------------------------

MIN_FRAMES = 12  # fewer frames (or usable frames) than this: too_few_frames (~1.2 s at 10 fps)
MULTIPLE_FACE_FRAMES = 2  # this many frames with several faces refuse the burst (one may be a fluke)

EAR_BASELINE_PERCENTILE = 70  # open-eye EAR: this percentile of the burst's EAR
BLINK_CLOSED_RATIO = 0.75  # a blink frame: EAR at or below 0.75 × the open-eye baseline
BLINK_OPEN_RATIO = 0.85  # open again: EAR at or above 0.85 × baseline (hysteresis band between)
BLINK_MAX_FRAMES = 4  # longest dip that still counts as a blink (400 ms at 10 fps)

MAR_BASELINE_PERCENTILE = 20  # resting mouth: a low percentile of the burst's MAR
MOUTH_OPEN_DELTA = 0.15  # open mouth: MAR at least this far above the resting mouth

TURN_DELTA = 0.18  # yaw cue this far from the resting yaw (median) counts as turned to that side

MAX_GAP_FRAMES = 2  # unusable frames tolerated between two usable ones
MIN_BOX_IOU = 0.3  # face boxes of consecutive usable frames overlap at least this much
MAX_CENTRE_JUMP = 0.5  # box centre moves at most this many box sizes between them
MAX_SIZE_CHANGE = 1.5  # box side changes at most by this factor between them
MAX_LANDMARK_JUMP = 0.35  # median landmark moves at most this many box sizes between them

BEST_EYES_OPEN_RATIO = BLINK_OPEN_RATIO  # best frame: eyes open
BEST_MOUTH_DELTA = MOUTH_OPEN_DELTA / 2  # best frame: mouth near rest
BEST_YAW_DELTA = TURN_DELTA / 2  # best frame: head near its resting pose

# --- codes and messages ------------------------------------------------------------------------------

TOO_FEW_FRAMES = "too_few_frames"
ACTION_NOT_SEEN = "action_not_seen"
WRONG_ORDER = "wrong_order"
NOT_CONTINUOUS = "not_continuous"
NOT_SAME_PERSON = "not_same_person"

MESSAGES = {
    OK: N_("活体检测通过"),
    NO_FACE: N_("未检测到人脸，请正对摄像头"),
    MULTIPLE_FACES: FACE_MESSAGES[MULTIPLE_FACES],
    FACE_TOO_SMALL: FACE_MESSAGES[FACE_TOO_SMALL],
    FACE_NOT_IN_FRAME: FACE_MESSAGES[FACE_NOT_IN_FRAME],
    TOO_FEW_FRAMES: N_("有效画面太少，请在光线充足处正对摄像头重新检测"),
    ACTION_NOT_SEEN: N_("未检测到{action}动作，请按提示完成动作"),
    WRONG_ORDER: N_("动作顺序不正确，请先{first}，再{second}"),
    NOT_CONTINUOUS: N_("画面不连续，请保持人脸始终在画面中，重新检测"),
    NOT_SAME_PERSON: N_("检测过程中人脸发生变化，请本人重新检测"),
}

_DETECTION_CODES = (NO_FACE, MULTIPLE_FACES, FACE_TOO_SMALL, FACE_NOT_IN_FRAME)


class Action(StrEnum):
    """A challenged action. The value travels in forms and the audit log; ``label`` is for people."""

    BLINK = "blink"
    MOUTH = "mouth"
    TURN = "turn"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def prompt(self) -> str:
        return _PROMPTS[self]


_LABELS = {Action.BLINK: N_("眨眼"), Action.MOUTH: N_("张嘴"), Action.TURN: N_("左右转头")}
_PROMPTS = {Action.BLINK: N_("请眨眨眼"), Action.MOUTH: N_("请张张嘴"), Action.TURN: N_("请缓慢左右转头")}

_system_random = secrets.SystemRandom()


def random_challenge() -> tuple[Action, Action]:
    """Two different actions in a random order (OS randomness: the order is part of the challenge)."""
    first, second = _system_random.sample(list(Action), 2)
    return first, second


def parse_challenge(value: str | Sequence[str]) -> tuple[Action, Action]:
    """``"blink,mouth"`` or ``["blink", "mouth"]`` → a challenge; ``ValueError`` if not two different."""
    parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else list(value)
    if len(parts) != 2:
        raise ValueError("a challenge has exactly two actions")
    first, second = Action(parts[0]), Action(parts[1])
    if first == second:
        raise ValueError("the two actions of a challenge must differ")
    return first, second


# --- results -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One occurrence of an action: burst frame indices of its first, last and strongest frame."""

    action: Action
    start: int
    end: int
    peak: int


@dataclass(frozen=True)
class Baselines:
    ear: float
    mar: float
    yaw: float


@dataclass(frozen=True)
class LivenessResult:
    """The decision on one burst. ``figures`` is JSON-friendly (for the audit log)."""

    ok: bool
    code: str
    message: str
    figures: dict = field(default_factory=dict)
    best_index: int | None = None  # the best frontal frame (to embed and match), when ok
    continuity_ok: bool | None = None  # None: not reached
    second_index: int | None = None  # the frame for the same-person check, when ok
    events: tuple[Event, ...] = ()


def message_for(
    code: str, challenge: tuple[Action, Action] | None = None, action: Action | None = None
) -> str:
    """The message in the request's language (action names are filled in after translation)."""
    text = MESSAGES.get(code, N_("活体检测未通过，请重新检测"))
    if code == ACTION_NOT_SEEN and action is not None:
        return _(text, action=_(action.label))
    if code == WRONG_ORDER and challenge is not None:
        return _(text, first=_(challenge[0].label), second=_(challenge[1].label))
    return text


# --- figures -----------------------------------------------------------------------------------------


def usable_indices(analyses: Sequence[FrameAnalysis]) -> list[int]:
    return [
        i
        for i, a in enumerate(analyses)
        if a.ok and a.box is not None and a.landmarks is not None and a.eye_ratio is not None
    ]


def baselines(analyses: Sequence[FrameAnalysis], indices: Sequence[int]) -> Baselines:
    ears = [analyses[i].eye_ratio for i in indices]
    mars = [analyses[i].mouth_ratio for i in indices]
    yaws = [analyses[i].yaw for i in indices]
    return Baselines(
        ear=float(np.percentile(ears, EAR_BASELINE_PERCENTILE)),
        mar=float(np.percentile(mars, MAR_BASELINE_PERCENTILE)),
        yaw=float(np.median(yaws)),
    )


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
    ears = [analyses[i].eye_ratio for i in indices]
    open_level, closed_level = BLINK_OPEN_RATIO * base.ear, BLINK_CLOSED_RATIO * base.ear
    events = []
    for first, last in _runs(indices, [e < open_level for e in ears]):
        if first == 0 or last == len(indices) - 1:
            continue  # not seen open before and after
        if indices[last] - indices[first] + 1 > BLINK_MAX_FRAMES:
            continue  # eyes closed for long: not a blink
        dip = min(range(first, last + 1), key=lambda p: ears[p])
        if ears[dip] <= closed_level:
            events.append(Event(Action.BLINK, indices[first], indices[last], indices[dip]))
    return events


def mouth_events(analyses: Sequence[FrameAnalysis], indices: Sequence[int], base: Baselines) -> list[Event]:
    mars = [analyses[i].mouth_ratio for i in indices]
    level = base.mar + MOUTH_OPEN_DELTA
    events = []
    for first, last in _runs(indices, [m >= level for m in mars]):
        peak = max(range(first, last + 1), key=lambda p: mars[p])
        events.append(Event(Action.MOUTH, indices[first], indices[last], indices[peak]))
    return events


def turn_events(analyses: Sequence[FrameAnalysis], indices: Sequence[int], base: Baselines) -> list[Event]:
    """A swing to one side followed (later) by a swing to the other side."""
    offsets = [analyses[i].yaw - base.yaw for i in indices]
    sides = []  # (side, first, last, peak) in positions
    for side in (1, -1):
        for first, last in _runs(indices, [side * o >= TURN_DELTA for o in offsets]):
            peak = max(range(first, last + 1), key=lambda p: side * offsets[p])
            sides.append((side, first, last, peak))
    sides.sort(key=lambda s: s[1])
    events = []
    for a, (side_a, first_a, _last_a, _peak_a) in enumerate(sides):
        for side_b, _first_b, last_b, peak_b in sides[a + 1 :]:
            if side_b != side_a:
                events.append(Event(Action.TURN, indices[first_a], indices[last_b], indices[peak_b]))
    return events


def find_events(analyses: Sequence[FrameAnalysis], indices: Sequence[int], base: Baselines) -> dict:
    return {
        Action.BLINK: blink_events(analyses, indices, base),
        Action.MOUTH: mouth_events(analyses, indices, base),
        Action.TURN: turn_events(analyses, indices, base),
    }


def in_order(first: Sequence[Event], second: Sequence[Event]) -> bool:
    """An occurrence of the first action starts and ends before an occurrence of the second."""
    return any(a.start < b.start and a.end < b.end for a in first for b in second)


def box_iou(a: Box, b: Box) -> float:
    left, top = max(a.left, b.left), max(a.top, b.top)
    right, bottom = min(a.right, b.right), min(a.bottom, b.bottom)
    inter = max(0, right - left + 1) * max(0, bottom - top + 1)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def track_step(a: FrameAnalysis, b: FrameAnalysis) -> dict:
    """Box IoU, centre jump, size ratio and median landmark jump between two usable frames."""
    size = (a.box.size + b.box.size) / 2
    ca = np.array([(a.box.left + a.box.right) / 2, (a.box.top + a.box.bottom) / 2])
    cb = np.array([(b.box.left + b.box.right) / 2, (b.box.top + b.box.bottom) / 2])
    moved = np.linalg.norm(np.asarray(a.landmarks) - np.asarray(b.landmarks), axis=1)
    return {
        "iou": box_iou(a.box, b.box),
        "centre_jump": float(np.linalg.norm(ca - cb)) / size,
        "size_change": max(a.box.size, b.box.size) / max(1, min(a.box.size, b.box.size)),
        "landmark_jump": float(np.median(moved)) / size,
    }


def continuity(analyses: Sequence[FrameAnalysis], indices: Sequence[int]) -> tuple[bool, dict]:
    """Whether one face is tracked through the burst; the worst step's figures."""
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


def best_frame(analyses: Sequence[FrameAnalysis], indices: Sequence[int], base: Baselines) -> int:
    """The best frontal frame: eyes open, mouth at rest, head near rest; smallest |yaw|, largest face."""
    candidates = [i for i in indices if _is_resting(analyses[i], base)] or list(indices)
    largest = max(analyses[i].box.size for i in candidates)
    return min(candidates, key=lambda i: (round(abs(analyses[i].yaw), 2), -analyses[i].box.size / largest, i))


def second_frame(
    analyses: Sequence[FrameAnalysis], indices: Sequence[int], base: Baselines, best: int
) -> int:
    """The frame for the same-person check: a resting frame as far from ``best`` as possible.

    A frame whose landmarks equal the best frame's (the very same picture again) comes last.
    """
    candidates = [i for i in indices if i != best and _is_resting(analyses[i], base)]
    candidates = candidates or [i for i in indices if i != best] or [best]
    same = analyses[best].landmarks
    return max(candidates, key=lambda i: (analyses[i].landmarks != same, abs(i - best), -i))


def _is_resting(a: FrameAnalysis, base: Baselines) -> bool:
    return (
        a.eye_ratio >= BEST_EYES_OPEN_RATIO * base.ear
        and a.mouth_ratio <= base.mar + BEST_MOUTH_DELTA
        and abs(a.yaw - base.yaw) <= BEST_YAW_DELTA
    )


# --- the decision ------------------------------------------------------------------------------------


def evaluate(analyses: Sequence[FrameAnalysis], challenge: tuple[Action, Action]) -> LivenessResult:
    """Decide on one burst, in this order: enough frames; one face; continuity; actions in order.

    The same-person check needs embeddings and is done by :func:`webapp.face.check.run_face_check`
    on ``best_index`` and ``second_index``.
    """
    first, second = Action(challenge[0]), Action(challenge[1])
    if first == second:
        raise ValueError("the two actions of a challenge must differ")
    challenge = (first, second)
    codes = Counter(a.code for a in analyses)
    indices = usable_indices(analyses)
    figures: dict = {
        "frames": len(analyses),
        "usable_frames": len(indices),
        "frame_codes": {code: count for code, count in sorted(codes.items()) if code != OK},
        "challenge": [first.value, second.value],
    }

    def refuse(code: str, action: Action | None = None, continuity_ok: bool | None = None) -> LivenessResult:
        return LivenessResult(
            False, code, message_for(code, challenge, action), figures, continuity_ok=continuity_ok
        )

    if len(analyses) < MIN_FRAMES:
        return refuse(TOO_FEW_FRAMES)
    if codes[MULTIPLE_FACES] >= MULTIPLE_FACE_FRAMES:
        return refuse(MULTIPLE_FACES)
    if len(indices) < MIN_FRAMES:
        failures = [(codes[c], c) for c in _DETECTION_CODES if codes[c]]
        return refuse(max(failures)[1] if failures else TOO_FEW_FRAMES)

    base = baselines(analyses, indices)
    ears = [analyses[i].eye_ratio for i in indices]
    mars = [analyses[i].mouth_ratio for i in indices]
    yaws = [analyses[i].yaw for i in indices]
    figures.update(
        {
            "ear_baseline": round(base.ear, 4),
            "ear_min": round(min(ears), 4),
            "ear_min_ratio": round(min(ears) / base.ear, 4) if base.ear > 0 else 0.0,
            "mar_baseline": round(base.mar, 4),
            "mar_max": round(max(mars), 4),
            "yaw_baseline": round(base.yaw, 4),
            "yaw_min": round(min(yaws), 4),
            "yaw_max": round(max(yaws), 4),
        }
    )

    continuous, track = continuity(analyses, indices)
    figures["tracking"] = track
    if not continuous:
        return refuse(NOT_CONTINUOUS, continuity_ok=False)

    events = find_events(analyses, indices, base)
    figures["events"] = {
        action.value: [[e.start, e.end] for e in found] for action, found in events.items() if found
    }
    for action in challenge:
        if not events[action]:
            return refuse(ACTION_NOT_SEEN, action=action, continuity_ok=True)
    if not in_order(events[first], events[second]):
        return refuse(WRONG_ORDER, continuity_ok=True)

    best = best_frame(analyses, indices, base)
    other = second_frame(analyses, indices, base, best)
    figures["best_index"] = best
    figures["second_index"] = other
    figures["best_yaw"] = round(analyses[best].yaw, 4)
    return LivenessResult(
        True,
        OK,
        MESSAGES[OK],
        figures,
        best_index=best,
        continuity_ok=True,
        second_index=other,
        events=tuple(e for action in Action for e in events[action]),
    )
