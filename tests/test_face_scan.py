"""The parts of the scan decision that need no camera: the plan, pose and perspective on projected
points, the light fit on synthetic colours, and the timing rules of a stream."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from webapp.face import light, scan
from webapp.face.geometry import MEAN_FACE, head_pose, perspective_cue
from webapp.face.light import ColourSample
from webapp.face.pipeline import OK, Box, FrameAnalysis
from webapp.face.scan import Frame, ScanPlan, Step, draw_plan, evaluate, timing_problems

# --- the plan ----------------------------------------------------------------------------------------


def test_plans_are_random_paced_and_within_the_limits():
    plans = [draw_plan(random.Random(seed)) for seed in range(200)]
    for plan in plans:
        assert 5000 <= plan.duration_ms <= 8000
        assert 6 <= len(plan.colours) <= 8
        assert [step for _at, step in plan.steps[:2]] == [Step.CENTER, Step.APPROACH]
        assert {step for _at, step in plan.steps[2:]} in ({Step.TURN, Step.BLINK}, {Step.TURN, Step.MOUTH})
        starts = [at for at, _c in plan.colours] + [plan.duration_ms]
        lengths = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        assert min(lengths) >= light.MIN_COLOUR_MS  # at most two changes a second (WCAG 2.3.1)
        for (_a, first), (_b, second) in zip(plan.colours, plan.colours[1:], strict=False):
            assert first != second
    assert len({tuple(p.colours) for p in plans}) == len(plans)  # no two alike
    assert len({p.extra for p in plans}) == 2


def test_the_palette_has_equal_luminance_and_no_saturated_red():
    for colour in light.PALETTE:
        assert light.relative_luminance(colour) == pytest.approx(0.40, abs=0.01)
        red, green, blue = colour
        assert not (red > 200 and green < 100 and blue < 100)


# --- pose and perspective on projected points ----------------------------------------------------


def project(yaw: float = 0.0, distance_mm: float = 450.0, flat: bool = False, focal: float = 420.0):
    """The generic face rotated by ``yaw`` degrees and seen by a pinhole camera (x right, y down)."""
    points = MEAN_FACE.copy()
    if flat:
        points[:, 2] = 0.0
    angle = math.radians(yaw)
    rotation = np.array(
        [[math.cos(angle), 0, math.sin(angle)], [0, 1, 0], [-math.sin(angle), 0, math.cos(angle)]]
    )
    turned = points @ rotation.T
    depth = distance_mm - turned[:, 2]
    return np.stack([240 + focal * turned[:, 0] / depth, 180 + focal * turned[:, 1] / depth], axis=1)


@pytest.mark.parametrize("yaw", [-30, -15, 0, 15, 30])
def test_head_pose_recovers_the_yaw_of_a_projected_face(yaw):
    pose = head_pose(project(yaw))
    assert pose.yaw == pytest.approx(yaw, abs=4)  # a scaled-orthographic fit at 45 cm
    assert pose.residual < 0.03


def test_a_turned_face_moves_its_nose_to_the_image_side_it_turns_to():
    assert project(25)[30][0] > project(0)[30][0]
    assert head_pose(project(25)).yaw > 0


def test_perspective_cue_grows_as_a_face_comes_closer_but_not_for_a_flat_one():
    face = perspective_cue(project(distance_mm=280)) - perspective_cue(project(distance_mm=450))
    flat = perspective_cue(project(distance_mm=280, flat=True)) - perspective_cue(
        project(distance_mm=450, flat=True)
    )
    assert face > 0.05  # drawn; dlib's landmarks read far less of it (see webapp/face/scan.py)
    assert abs(flat) < 1e-9


# --- light -------------------------------------------------------------------------------------------


def lit(colour, strength: float, ambient=(0.30, 0.27, 0.24)) -> tuple[float, float, float]:
    screen = light.linear(colour)
    return tuple(float(a + strength * s) for a, s in zip(ambient, screen, strict=True))


def samples_for(plan: ScanPlan, times, *, shift_ms=0.0, face=0.08, background=0.008, colours=None):
    colours = colours or plan.colours
    result = []
    for t in times:
        shown = light.colour_at(colours, t - shift_ms) or (255, 255, 255)
        frame = lit(shown, (face + background) / 2)
        result.append(ColourSample(lit(shown, face), lit(shown, background), frame))
    return result


@pytest.fixture
def plan() -> ScanPlan:
    return draw_plan(random.Random(7))


def frame_times(plan: ScanPlan, delay: float = 80.0) -> list[float]:
    return [delay + k * 1000 / 12 for k in range(int(plan.duration_ms / 1000 * 12))]


def test_a_face_lit_by_the_screen_follows_the_sequence(plan):
    times = frame_times(plan)
    fit = light.fit(times, samples_for(plan, times, shift_ms=80), plan.colours, round_trip_ms=10)
    assert fit.ok, fit.figures()
    assert fit.correlation > 0.9 and 40 <= fit.lag_ms <= 120
    assert fit.face_response > fit.background_response


def test_the_wrong_colours_or_the_right_ones_late_fail(plan):
    times = frame_times(plan)
    other = draw_plan(random.Random(8))
    wrong = light.fit(times, samples_for(plan, times, colours=other.colours), plan.colours, round_trip_ms=10)
    late = light.fit(times, samples_for(plan, times, shift_ms=380), plan.colours, round_trip_ms=10)
    assert not wrong.ok and not late.ok
    assert late.lag_ms > late.lag_allowed_ms[1]


def test_a_uniform_tint_moves_face_and_background_alike_and_fails(plan):
    times = frame_times(plan)
    tinted = samples_for(plan, times, shift_ms=80, face=0.05, background=0.05)
    fit = light.fit(times, tinted, plan.colours, round_trip_ms=10)
    assert not fit.ok and fit.amplitude < light.MIN_AMPLITUDE


# --- timing --------------------------------------------------------------------------------------


def analysis() -> FrameAnalysis:
    return FrameAnalysis(OK, box=Box(100, 100, 220, 220), image_size=(480, 360))


def stream(plan: ScanPlan, *, fps=12.0, arrival=lambda t: t + 40, page=lambda t: t) -> list[Frame]:
    count = int(plan.duration_ms / 1000 * fps)
    return [Frame(page(k * 1000 / fps), arrival(k * 1000 / fps), analysis()) for k in range(count)]


def missed_beats(frames: list[Frame]) -> list[Frame]:
    """A page's interval timer that fired late every 10th tick, then on its old beat 6 ms later."""
    late = [Frame(f.page_ms + 77, f.arrival_ms + 77, f.analysis) if k % 10 == 5 else f
            for k, f in enumerate(frames)]  # fmt: skip
    return late


def network_stall(frames: list[Frame]) -> list[Frame]:
    """Frames captured in 1.2 s at 12 fps held up by the network, then delivered at once."""
    return [Frame(f.page_ms, max(f.arrival_ms, 3240) if 2000 <= f.page_ms < 3200 else f.arrival_ms,
                  f.analysis) for f in frames]  # fmt: skip


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param(lambda p: stream(p), id="steady"),
        pytest.param(lambda p: missed_beats(stream(p)), id="timer-missed-beats"),
        pytest.param(lambda p: network_stall(stream(p)), id="network-stall-then-burst"),
    ],
)
def test_a_live_stream_has_no_timing_problem(plan, frames):
    found = timing_problems(frames(plan), plan)
    assert "problem" not in found, found


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param(lambda p: stream(p, arrival=lambda t: t / 3), id="sent-faster-than-captured"),
        pytest.param(lambda p: stream(p, fps=30), id="too-many-per-second"),
        pytest.param(
            lambda p: stream(p, page=lambda t: t - 2000, arrival=lambda t: t - 1900), id="before-start"
        ),
        pytest.param(lambda p: stream(p, arrival=lambda t: t * 1.5), id="drifting"),
        pytest.param(lambda p: stream(p)[:20], id="too-few"),
    ],
)
def test_streams_that_are_not_live_captures_are_void(plan, frames):
    found = timing_problems(frames(plan), plan)
    assert found.get("problem") in {scan.STREAM_TIMING, scan.TOO_FEW_FRAMES}, found
    assert not evaluate(plan, frames(plan), 10).ok


# --- whole streams, offline ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [104, 108, 117])
async def test_a_blink_right_after_coming_closer_is_seen(face_pool, seed):
    """Plans whose blink follows the approach, with camera noise that hid it: the open-eye baseline was
    taken over the whole stream, where a turned head reads wider eyes. Now over frontal frames."""
    from tests.support.performers import LivePerson
    from tests.support.stream import render_stream
    from webapp.face.check import LiveScan

    plan = draw_plan(random.Random(seed))
    assert [step for _at, step in plan.steps][2] is Step.BLINK
    live = LiveScan(face_pool, plan)
    for page_ms, jpeg in render_stream(plan, LivePerson("obama-2.jpg", seed=seed)):
        live.add(page_ms, page_ms + 30, jpeg)
    check = await live.decide(60.0)
    assert check.ok, (check.code, check.figures.get("light"))


def test_each_colour_change_is_judged_against_the_colour_before_it():
    """changes_matched on a face that follows the screen under a strong slow drift (coming closer): every
    change reads right; judged against the same times with three colours changed, those changes read wrong."""
    from webapp.face.light import PALETTE, changes_matched, screen_chroma

    amber, green, teal, blue, pink = PALETTE
    shown = [(0, teal), (800, amber), (1600, teal), (2400, blue), (3200, teal), (4000, green), (4800, teal)]
    times = [k * 1000 / 12 for k in range(int(5600 / 1000 * 12))]
    rng = np.random.default_rng(7)
    observed = np.array(
        [
            0.05 * screen_chroma(light.colour_at(shown, t)) + 0.00002 * t * np.array([1.0, -0.5, -0.5])
            for t in times
        ]
    ) + rng.normal(0, 0.001, (len(times), 3))
    assert changes_matched(times, observed, shown, 0) == (6, 6)
    other = [shown[0], (800, pink), shown[2], (2400, amber), shown[4], (4000, blue), shown[6]]
    matched, judged = changes_matched(times, observed, other, 0)
    assert judged == 6 and matched <= 6 - 3
