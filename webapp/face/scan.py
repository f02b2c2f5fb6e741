"""One server-paced scan: its secret plan, and the decision over the frames it received.

A scan is one streamed exchange (:mod:`webapp.faceflows.stream` carries it over a WebSocket). When
the stream opens the server draws a :class:`ScanPlan`: the instructions — face the camera, come
closer, turn the head left and right, and one random extra (blink or open the mouth), the last two
in random order — and 8 screen colours with random durations. Each instruction and colour is
sent only when it is due, so nothing recorded earlier can match it. The page sends JPEG frames as
it captures them (≈12 fps) with its own timestamps; the server stamps their arrival.

:func:`evaluate` decides from the figures of each frame (computed in a worker as the frame
arrives, :func:`webapp.face.pipeline.analyze_array`) and the times alone — no pixels, no clock —
in this order, the first failure being the answer:

1. **Timing.** Enough frames, no more than :data:`MAX_FPS` in any second of page time, and page
   time running at the pace of arrival time (:data:`MAX_SKEW_MS`): a stream sent faster than it
   was captured, or frames stamped before the scan began, void it; frames captured after its end
   are left out (the server stops reading at the deadline). Jitter is not a void: a page's timer
   that missed a beat sends two frames a few ms apart, a stalled network delivers a burst.
2. **One face, tracked** through the stream (box overlap, centre, size, landmark jumps).
3. **Light** (:mod:`webapp.face.light`): the face, relative to the background, follows the colours
   at a delay a live page can have.
4. **Approach**: the face grows by :data:`MIN_APPROACH_GROWTH` between the first instruction and
   the end of the second (the screen's light on it grows too, which the light check sees). The
   perspective cue (:func:`webapp.face.geometry.perspective_cue`: front features over the outline)
   is measured and kept in the figures but decides nothing: drawn on a 3-D head it rises 8–9 % from
   45 to 28 cm, yet dlib's 68 landmarks at 480×360 read between −4 % and +5 % of it on heads and
   −1 % to +2 % on prints (tests/support/head.py), so no threshold separates them. A print held up
   and brought closer is left to the turn (and, rendered, loses its face while turning).
5. **Turn**: head yaw from the 3-D fit (:func:`webapp.face.geometry.head_pose`) reaches
   :data:`MIN_TURN_DEGREES` to each side of the resting pose during the turn instruction. A print
   turned by ±25° reads at most about 15°: it foreshortens as a whole, its nose never leaves its
   cheek.
6. **The extra action** (blink or open mouth) during its instruction.

Then the frames to embed: the few best frontal frames (their mean embedding is matched) and one
frame from another part of the stream for the same-person check (:mod:`webapp.face.check`).
"""

from __future__ import annotations

import bisect
import random
import secrets
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from webapp.face import light
from webapp.face.liveness import (
    NOT_CONTINUOUS,
    Baselines,
    blink_events,
    continuity,
    message_for,
    mouth_events,
)
from webapp.face.pipeline import MULTIPLE_FACES, NO_FACE, OK, FrameAnalysis, known
from webapp.i18n import N_

# --- the plan --------------------------------------------------------------------------------------


class Step(StrEnum):
    CENTER = "center"
    APPROACH = "approach"
    TURN = "turn"
    BLINK = "blink"
    MOUTH = "mouth"

    @property
    def prompt(self) -> str:
        return _PROMPTS[self]


_PROMPTS = {
    Step.CENTER: N_("请正对屏幕，把脸放进圆圈"),
    Step.APPROACH: N_("请慢慢靠近，让脸充满大圆"),
    Step.TURN: N_("请缓慢向左、再向右转头"),
    Step.BLINK: N_("请眨眨眼"),
    Step.MOUTH: N_("请张张嘴"),
}
STEP_MS = {Step.CENTER: 1200, Step.APPROACH: 1800, Step.TURN: 2400, Step.BLINK: 1300, Step.MOUTH: 1300}
COLOURS = (8,)  # the most the design allows (6–8): each colour is evidence
FRAME_WIDTH, FRAME_HEIGHT = 480, 360
TARGET_FPS = 12

_system_random = secrets.SystemRandom()


@dataclass(frozen=True)
class ScanPlan:
    steps: tuple[tuple[int, Step], ...]  # (start ms, instruction)
    colours: tuple[tuple[int, tuple[int, int, int]], ...]  # (reveal ms, sRGB)
    duration_ms: int

    def step_window(self, step: Step) -> tuple[int, int]:
        for position, (start, current) in enumerate(self.steps):
            if current == step:
                end = self.steps[position + 1][0] if position + 1 < len(self.steps) else self.duration_ms
                return start, end
        raise ValueError(f"{step} is not a step of this plan")

    @property
    def extra(self) -> Step:
        return next(step for _at, step in self.steps if step in (Step.BLINK, Step.MOUTH))

    def cues(self) -> list[tuple[int, Step | tuple[int, int, int]]]:
        """Everything the page is told, in time order: ``(at ms, instruction or colour)``; at the same
        moment the colour comes first."""
        cues: list[tuple[int, Step | tuple[int, int, int]]] = [*self.steps, *self.colours]
        return sorted(cues, key=lambda cue: (cue[0], isinstance(cue[1], Step)))


def _split(total: int, count: int, low: int, high: int, rng: random.Random) -> list[int]:
    """``count`` random lengths within [low, high] adding up to ``total``."""
    for _attempt in range(200):
        weights = [rng.uniform(low, high) for _ in range(count)]
        scale = total / sum(weights)
        lengths = [int(round(w * scale)) for w in weights]
        lengths[-1] += total - sum(lengths)
        if all(low <= length <= high for length in lengths):
            return lengths
    return [total // count] * (count - 1) + [total - (total // count) * (count - 1)]


def draw_plan(rng: random.Random = _system_random) -> ScanPlan:
    """A fresh secret plan (OS randomness)."""
    extra = rng.choice([Step.BLINK, Step.MOUTH])
    tail = [Step.TURN, extra]
    rng.shuffle(tail)
    order = [Step.CENTER, Step.APPROACH, *tail]
    steps: list[tuple[int, Step]] = []
    at = 0
    for step in order:
        steps.append((at, step))
        at += STEP_MS[step]
    duration = at
    count = rng.choice(COLOURS)
    lengths = _split(duration, count, light.MIN_COLOUR_MS, light.MAX_COLOUR_MS, rng)
    sequence = light.draw_sequence(count, rng)
    reveals: list[tuple[int, tuple[int, int, int]]] = []
    at = 0
    for length, colour in zip(lengths, sequence, strict=True):
        reveals.append((at, colour))
        at += length
    return ScanPlan(tuple(steps), tuple(reveals), duration)


# --- frames and the decision ---------------------------------------------------------------------

MAX_FPS = 20  # page timestamps in any one second of page time (the page sends ≈12)
# Arrivals in any one second of the server's clock: a network that stalled delivers its backlog at
# once (the skew below bounds how late it may be), so this only bounds the work a stream can ask for.
MAX_ARRIVALS_PER_SECOND = 2 * MAX_FPS
MIN_FPS = 6  # fewer frames than this over the scan: too few to judge
MAX_SKEW_MS = 1500  # page time and arrival time drift apart at most this much over the scan
CAPTURE_SLACK_MS = 300  # frames stamped this far outside the scan's capture window
REACTION_MS = 300  # a person starts to follow an instruction after this

MIN_APPROACH_GROWTH = 1.25  # face size, end of the approach ÷ first instruction
FRONTAL_DEGREES = 12  # frames within this of the resting yaw count as frontal
MIN_TURN_DEGREES = 18  # yaw to each side of the resting pose during the turn (a turned print: ≤ 15)
MIN_SIDE_FRAMES = 5  # usable frames needed in each compared part of the stream
BLINK_MAX_MS = 500
BEST_FRAMES = 3

STREAM_TIMING = "stream_timing"
LIGHT_MISMATCH = "light_mismatch"
NO_APPROACH = "no_approach"
NO_TURN = "no_turn"
EXTRA_NOT_SEEN = "extra_not_seen"
TOO_FEW_FRAMES = "too_few_frames"

MESSAGES = {
    STREAM_TIMING: N_("画面传输异常，请检查网络后重新检测"),
    TOO_FEW_FRAMES: N_("有效画面太少，请在光线充足处正对摄像头重新检测"),
    LIGHT_MISMATCH: N_("未能确认为本人实时操作。请调亮屏幕，在光线不太强的环境中正对屏幕重新检测"),
    NO_APPROACH: N_("未检测到靠近动作，请按提示把脸靠近屏幕"),
    NO_TURN: N_("未检测到转头动作，请按提示缓慢向左、再向右转头"),
    EXTRA_NOT_SEEN: N_("未检测到{action}动作，请按提示完成动作"),
}
_EXTRA_LABELS = {Step.BLINK: N_("眨眼"), Step.MOUTH: N_("张嘴")}


@dataclass(frozen=True)
class Frame:
    """One received frame: the page's capture time, the server's arrival time (both ms from the
    stream's start), and its figures once analysed."""

    page_ms: float
    arrival_ms: float
    analysis: FrameAnalysis


@dataclass(frozen=True)
class StreamResult:
    ok: bool
    code: str
    message: str
    figures: dict[str, Any] = field(default_factory=dict)
    best: tuple[int, ...] = ()  # frames to embed and average for the match
    other: int | None = None  # the frame for the same-person check


def refusal_message(code: str, extra: Step | None = None) -> str:
    from webapp.i18n import _

    if code == EXTRA_NOT_SEEN and extra is not None:
        return _(MESSAGES[code], action=_(_EXTRA_LABELS[extra]))
    if code in MESSAGES:
        return MESSAGES[code]
    return message_for(code)


def capture_times(frames: Sequence[Frame]) -> list[float]:
    """Capture times on the server's clock: page time plus the smallest arrival-minus-page offset."""
    offset = min(f.arrival_ms - f.page_ms for f in frames)
    return [f.page_ms + offset for f in frames]


def _most_in_a_second(times: Sequence[float]) -> int:
    ordered = sorted(times)
    return max(bisect.bisect_left(ordered, t + 1000) - i for i, t in enumerate(ordered))


def timing_problems(frames: Sequence[Frame], plan: ScanPlan) -> dict[str, Any]:
    """Figures of the stream's timing, with ``problem`` set when it is not a live capture."""
    arrivals = [f.arrival_ms for f in frames]
    pages = [f.page_ms for f in frames]
    figures: dict[str, Any] = {"frames": len(frames)}
    if len(frames) < MIN_FPS * plan.duration_ms / 1000:
        return {**figures, "problem": TOO_FEW_FRAMES}
    # A browser's interval timer that missed a beat fires late, then on its old beat: two frames
    # can be a few ms apart, so the page's rate is counted over a second, not from one gap.
    page_rate = _most_in_a_second(pages)
    arrival_rate = _most_in_a_second(arrivals)
    offsets = [a - p for a, p in zip(arrivals, pages, strict=True)]
    skew = max(offsets) - min(offsets)
    captured = capture_times(frames)
    figures.update(
        {
            "page_per_second": page_rate,
            "arrivals_per_second": arrival_rate,
            "skew_ms": round(skew, 1),
            "first_ms": round(captured[0], 1),
            "last_ms": round(captured[-1], 1),
        }
    )
    if (
        page_rate > MAX_FPS
        or arrival_rate > MAX_ARRIVALS_PER_SECOND
        or skew > MAX_SKEW_MS
        or captured[0] < -CAPTURE_SLACK_MS
    ):
        figures["problem"] = STREAM_TIMING
    return figures


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def evaluate(plan: ScanPlan, frames: Sequence[Frame], round_trip_ms: float) -> StreamResult:
    """The decision over ``frames`` in capture order (page time); indices in the result are theirs."""
    figures: dict[str, Any] = {"plan": [step.value for _at, step in plan.steps], "colours": len(plan.colours)}

    def refuse(code: str, extra: Step | None = None) -> StreamResult:
        return StreamResult(False, code, refusal_message(code, extra), figures)

    if not frames:
        return refuse(TOO_FEW_FRAMES)
    timing = timing_problems(frames, plan)
    figures["timing"] = timing
    if "problem" in timing:
        return refuse(timing["problem"])

    # Frames captured after the end (the page heard "end" a round trip late) are not part of the scan;
    # page times increase (checked above), so the frames kept are a prefix and keep their indices.
    times = capture_times(frames)
    kept = [i for i, t in enumerate(times) if t <= plan.duration_ms + CAPTURE_SLACK_MS]
    frames, times = [frames[i] for i in kept], [times[i] for i in kept]
    analyses = [f.analysis for f in frames]
    usable = [i for i, a in enumerate(analyses) if a.ok and a.pose is not None and a.colour is not None]
    figures["usable_frames"] = len(usable)
    multiple = sum(1 for a in analyses if a.code == MULTIPLE_FACES)
    if multiple >= 2:
        return refuse(MULTIPLE_FACES)
    if len(usable) < MIN_FPS * plan.duration_ms / 1000:
        codes = [a.code for a in analyses if a.code != OK]
        return refuse(max(set(codes), key=codes.count) if codes else NO_FACE)

    continuous, track = continuity(analyses, usable)
    figures["tracking"] = track
    if not continuous:
        return refuse(NOT_CONTINUOUS)

    fit = light.fit(
        [times[i] for i in usable],
        [known(analyses[i].colour) for i in usable],
        plan.colours,
        round_trip_ms,
    )
    figures["light"] = fit.figures()
    if not fit.ok:
        return refuse(LIGHT_MISMATCH)

    def during(step: Step, start_fraction: float = 0.0, after_ms: int = 0) -> list[int]:
        start, end = plan.step_window(step)
        begin = start + max(REACTION_MS, start_fraction * (end - start))
        return [i for i in usable if begin <= times[i] <= end + after_ms]

    center = during(Step.CENTER)
    resting_yaw = _median([known(analyses[i].pose).yaw for i in center])

    def frontal(indices: Sequence[int]) -> list[int]:
        return [i for i in indices if abs(known(analyses[i].pose).yaw - resting_yaw) <= FRONTAL_DEGREES]

    far, near = frontal(center), frontal(during(Step.APPROACH, 0.6, after_ms=300))
    if len(far) < MIN_SIDE_FRAMES or len(near) < MIN_SIDE_FRAMES:
        figures["approach"] = {"far_frames": len(far), "near_frames": len(near)}
        return refuse(NO_APPROACH)
    growth = _median([known(analyses[i].box).size for i in near]) / max(
        1.0, _median([known(analyses[i].box).size for i in far])
    )
    gain = _median([known(analyses[i].cue) for i in near]) - _median([known(analyses[i].cue) for i in far])
    figures["approach"] = {
        "growth": round(growth, 3),
        "perspective_gain": round(gain, 4),
        "far_frames": len(far),
        "near_frames": len(near),
    }
    if growth < MIN_APPROACH_GROWTH:
        return refuse(NO_APPROACH)

    turning = during(Step.TURN, after_ms=400)
    yaws = [known(analyses[i].pose).yaw - resting_yaw for i in turning]
    figures["turn"] = {
        "resting_yaw": round(resting_yaw, 1),
        "max": round(max(yaws, default=0.0), 1),
        "min": round(min(yaws, default=0.0), 1),
    }
    if not yaws or max(yaws) < MIN_TURN_DEGREES or min(yaws) > -MIN_TURN_DEGREES:
        return refuse(NO_TURN)

    extra = plan.extra
    if not _extra_seen(extra, analyses, frontal(usable), times, plan):
        return refuse(EXTRA_NOT_SEEN, extra)

    best, other = _frames_to_embed(analyses, usable, resting_yaw, center, near)
    figures["best_frames"] = list(best)
    figures["other_frame"] = other
    return StreamResult(True, OK, message_for(OK), figures, best, other)


def _extra_seen(
    extra: Step,
    analyses: Sequence[FrameAnalysis],
    usable: Sequence[int],
    times: Sequence[float],
    plan: ScanPlan,
) -> bool:
    """A blink or an open mouth that starts within the extra instruction's window, among frontal frames
    (``usable``): a turned head reads wider eyes, which would raise the open-eye baseline."""
    start, end = plan.step_window(extra)
    base = Baselines.of(analyses, usable)
    if extra == Step.BLINK:
        found = blink_events(analyses, usable, base)
        events = [e for e in found if times[e.end] - times[e.start] <= BLINK_MAX_MS]
    else:
        events = mouth_events(analyses, usable, base)
    return any(start + 100 <= times[e.start] <= end + 300 for e in events)


def _frames_to_embed(
    analyses: Sequence[FrameAnalysis],
    usable: Sequence[int],
    resting_yaw: float,
    center: Sequence[int],
    near: Sequence[int],
) -> tuple[tuple[int, ...], int]:
    """The best frontal frames (near the camera first: larger faces), and a frame from the far part."""

    def score(i: int) -> tuple[float, float]:
        return (abs(known(analyses[i].pose).yaw - resting_yaw), -known(analyses[i].box).size)

    best = tuple(sorted(near, key=score)[:BEST_FRAMES])
    others = [i for i in center if i not in best] or [i for i in usable if i not in best]
    other = min(others, key=score)
    return best, other
