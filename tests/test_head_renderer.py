"""The simulated live face (``tests/support/head.py``) seen through dlib.

Every frame goes through the simulated :class:`Camera` (white balance, noise, JPEG) and is decoded
again, as the server would receive it. Everything is seeded, so the figures are reproducible; they
are printed (``pytest -s``) because they are what the liveness thresholds are set from.
"""

from __future__ import annotations

import functools
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from tests.support.head import (
    NEAR_CM,
    Camera,
    Head,
    Pose,
    decode_jpeg,
    linear_to_srgb,
    live_pose,
    srgb_to_linear,
)
from tests.support.performers import PERSON
from webapp.face.liveness import MOUTH_OPEN_DELTA
from webapp.face.pipeline import FrameAnalysis, analyze_array
from webapp.face.scan import MIN_TURN_DEGREES

FACES = Path(__file__).parent / "fixtures" / "faces"
PHOTOS = ("obama-1.jpg", "obama-2.jpg", "biden-1.jpg", "collins-1.png")
BLUE, YELLOW = (120, 150, 255), (255, 220, 110)
FAR, NEAR = 45.0, NEAR_CM


@functools.cache
def head(photo: str, flat: bool = False) -> Head:
    return Head(FACES / photo, flat=flat)


def shoot(h: Head, pose: Pose, *, seed: int = 0, warm_up: int = 0, **light) -> np.ndarray:
    """One frame as the server gets it: rendered, through a fresh camera, JPEG-decoded."""
    camera = Camera(seed=seed)
    frame = h.render(pose, **light)
    for _ in range(warm_up):  # let white balance and exposure settle on this scene
        camera.capture(frame)
    return decode_jpeg(camera.capture(frame))


def analyse(image: np.ndarray) -> FrameAnalysis:
    found = analyze_array(image)
    assert found.ok, found.code
    return found


def points(found: FrameAnalysis) -> np.ndarray:
    return np.array(found.landmarks)


def width(p: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(p[a] - p[b]))


# --- one face, good landmarks, yaw ----------------------------------------------------------------


@pytest.mark.parametrize("photo", PHOTOS)
def test_one_face_with_good_landmarks_at_every_distance_and_yaw(photo):
    """Exactly one face (``analyze_array`` says ok) at 45 and 28 cm, yaw −25°, 0 and +25°.

    Up close and turned, photos that show teeth (obama-2 at 28 cm, −25°) also get a weak second
    HOG box centred inside the face; ``webapp.face.pipeline.detect`` drops such boxes.
    """
    h = head(photo)
    yaw_cue = {}
    for distance in (FAR, NEAR):
        for yaw in (-25.0, 0.0, 25.0):
            pose = Pose(yaw=yaw, distance=distance)
            found = analyse(shoot(h, pose))
            seen, drawn = points(found), h.landmark_positions(pose)
            eyes = width(drawn, 36, 45)
            # Inner landmarks (brows, eyes, nose, mouth) land where the renderer drew them; the jaw
            # line follows the detector's box (see test_perspective_*) and is not compared.
            error = float(np.linalg.norm(seen[17:] - drawn[17:], axis=1).mean()) / eyes
            print(
                f"{photo} {distance:g} cm yaw {yaw:+g}: box {found.box.height} px, "
                f"yaw cue {found.yaw:+.2f}, inner landmark error {error:.3f} × eye width"
            )
            assert error < 0.1
            yaw_cue[(distance, yaw)] = (found.yaw, seen[30, 0] - (seen[36, 0] + seen[45, 0]) / 2)
    for distance in (FAR, NEAR):
        # +yaw: the subject turns to their own left, the nose tip (30) moves to the image right.
        left, centre, right = (yaw_cue[(distance, yaw)] for yaw in (-25.0, 0.0, 25.0))
        assert left[0] < centre[0] < right[0]
        assert left[1] < centre[1] < right[1]
        assert right[0] > 0.15 and left[0] < -0.15


@pytest.mark.parametrize("photo", PHOTOS)
def test_the_turn_gate_separates_a_turned_head_from_a_turned_print(photo):
    """The 3-D fit's yaw, relative to the pose at rest, as the scan's turn gate reads it: a head
    turned by 25° clears :data:`MIN_TURN_DEGREES` on both sides; a print of the same photo turned
    by 25° or 30° (still detected) stays under it — its landmarks foreshorten as a whole."""
    for distance in (FAR, NEAR):
        readings = {}
        for flat in (False, True):
            seen = {}
            for yaw in (-30.0, -25.0, 0.0, 25.0, 30.0):
                found = analyze_array(shoot(head(photo, flat), Pose(yaw=yaw, distance=distance), warm_up=3))
                if found.ok:
                    seen[yaw] = found.pose.yaw
            rest = seen.pop(0.0)
            readings[flat] = {yaw: round(value - rest, 1) for yaw, value in seen.items()}
        print(f"{photo} {distance:g} cm, yaw read − rest: head {readings[False]}, print {readings[True]}")
        head_turn = readings[False]
        assert head_turn[25.0] >= MIN_TURN_DEGREES + 4 and head_turn[-25.0] <= -MIN_TURN_DEGREES - 4
        assert readings[True] and all(abs(value) < MIN_TURN_DEGREES - 4 for value in readings[True].values())


def test_face_size_at_45_cm_and_its_growth_at_28_cm():
    rows = []
    for photo in PHOTOS:
        h = head(photo)
        far, near = analyse(shoot(h, Pose(distance=FAR))), analyse(shoot(h, Pose(distance=NEAR)))
        span = [np.ptp(points(f)[:, 1]) for f in (far, near)]  # brows to chin
        rows.append((photo, far.box.height, near.box.height, span[1] / span[0]))
        growth = near.box.height / far.box.height
        print(
            f"{photo}: HOG box {far.box.height} → {near.box.height} px (×{growth:.3f}), "
            f"landmark height ×{span[1] / span[0]:.3f}"
        )
    for _photo, box_far, box_near, span_growth in rows:
        assert 100 <= box_far <= 140
        # dlib's HOG box comes in steps of 1.2 (pyramid levels): 125 → 181 (×1.448) or 216 (×1.728).
        assert box_near / box_far >= 1.2**2 - 0.01
        assert span_growth >= 1.45


# --- perspective ----------------------------------------------------------------------------------


def nose_over_jaw(p: np.ndarray) -> float:
    return width(p, 31, 35) / width(p, 1, 15)


@functools.cache
def perspective(photo: str, flat: bool) -> tuple[float, float]:
    """(drawn, dlib) growth of nose width ÷ jaw width (31↔35 ÷ 1↔15) from 45 cm to 28 cm.

    "Drawn" is the renderer's own landmarks, projected; dlib's is the ratio of the means over
    :data:`FRAMES` frames per distance (each its own camera noise and a millimetre of sway).
    """
    h = head(photo, flat)
    drawn = [nose_over_jaw(h.landmark_positions(Pose(distance=d))) for d in (FAR, NEAR)]
    seen = []
    for distance in (FAR, NEAR):
        poses = [
            Pose(distance=distance, x=(k % 4 - 1.5) * 0.1, y=(k // 4 - 0.5) * 0.1) for k in range(FRAMES)
        ]
        seen.append(
            statistics.mean(nose_over_jaw(points(analyse(shoot(h, p, seed=k)))) for k, p in enumerate(poses))
        )
    return drawn[1] / drawn[0], seen[1] / seen[0]


FRAMES = 6


@pytest.mark.parametrize("photo", PHOTOS)
def test_perspective_nose_grows_faster_than_the_jaw_only_on_a_head(photo):
    head_drawn, head_seen = perspective(photo, False)
    flat_drawn, flat_seen = perspective(photo, True)
    print(
        f"{photo}: nose/jaw ×{head_drawn:.3f} drawn, ×{head_seen:.3f} by dlib on the head; "
        f"×{flat_drawn:.3f} drawn, ×{flat_seen:.3f} by dlib on the print"
    )
    assert head_drawn >= 1.08  # the geometry: the nose base is ~80 mm in front of the jaw near the ears
    assert abs(flat_drawn - 1.0) < 0.005
    assert abs(flat_seen - 1.0) < 0.04


def test_perspective_as_dlib_reads_it():
    """dlib's reading of the ratio is weak: a couple of percent, against the 8.5 % drawn.

    Its jaw points follow the HOG box (which comes in steps of 1.2) more than the face's outline:
    when the box rounds up at 28 cm (obama-1) they land outside the head and the ratio even falls.
    Per photo the reading is off by up to ±4 %, so only the median over the photos is compared.
    """
    head_seen = statistics.median(perspective(photo, False)[1] for photo in PHOTOS)
    flat_seen = statistics.median(perspective(photo, True)[1] for photo in PHOTOS)
    print(f"median nose/jaw growth 45 → 28 cm by dlib: head ×{head_seen:.3f}, print ×{flat_seen:.3f}")
    assert flat_seen < 1.04
    assert head_seen > flat_seen


# --- blink and mouth ------------------------------------------------------------------------------


@pytest.mark.parametrize("photo", PHOTOS)
def test_blink_and_open_mouth(photo):
    h = head(photo)

    def mean_ratios(pose: Pose) -> tuple[float, float]:
        found = [analyse(shoot(h, pose, seed=k)) for k in range(3)]  # dlib's eyes jitter by ~±10 %
        return statistics.mean(f.eye_ratio for f in found), statistics.mean(f.mouth_ratio for f in found)

    for distance in (FAR, NEAR):
        eyes, mouth = mean_ratios(Pose(distance=distance))
        shut, _ = mean_ratios(Pose(distance=distance, blink=1.0))
        _, wide = mean_ratios(Pose(distance=distance, mouth=1.0))
        print(
            f"{photo} {distance:g} cm: eye ratio {eyes:.3f} → {shut:.3f} shut (×{shut / eyes:.2f}); "
            f"mouth ratio {mouth:.3f} → {wide:.3f} open (+{wide - mouth:.2f})"
        )
        assert shut <= 0.75 * eyes
        # obama-2 speaks in his photo: his "closed" mouth is half open already (ratio ~0.5) and
        # dlib reads only +0.08 to +0.2 more on the wide-open one; closed mouths gain ≥ +0.25.
        assert wide >= mouth + (0.2 if mouth < 0.35 else 0.07)


def test_an_open_mouth_reads_open_frame_by_frame_close_to_the_camera():
    """dlib's HOG box comes in steps and, near 28-30 cm, steps down when the jaw drops; fitted in that
    box the open mouth read as little as +0.08 (below the 0.15 of the check) on one frame in four. The
    mouth is measured on landmarks refitted in a box placed by the upper face (``upper_face_box``)."""
    h = head(PERSON)
    rng = np.random.default_rng(7)
    gains = []
    for distance in (28.0, 29.0, 30.0, 32.0):
        for k in range(6):
            sway = {"yaw": rng.normal(0, 1.0), "pitch": rng.normal(0, 0.7), "roll": rng.normal(0, 0.5)}
            closed = analyse(shoot(h, Pose(distance=distance, **sway), seed=k))
            wide = analyse(shoot(h, Pose(distance=distance, mouth=1.0, **sway), seed=k))
            gains.append((wide.mouth_ratio - closed.mouth_ratio, distance, closed.box.size, wide.box.size))
    print("smallest gains:", sorted(gains)[:3])
    assert min(gain for gain, *_ in gains) >= MOUTH_OPEN_DELTA + 0.1


# --- light ----------------------------------------------------------------------------------------


def face_over_background(image: np.ndarray, found: FrameAnalysis, *, linear: bool = True) -> float:
    """(R/B of the face's middle) ÷ (R/B of the two top corners of the frame), means in linear light."""
    box = found.box
    w, h = box.width, box.height
    face = image[
        box.top + int(0.3 * h) : box.bottom - int(0.2 * h),
        box.left + int(0.25 * w) : box.right - int(0.25 * w),
    ]
    corners = np.concatenate([image[:60, :60].reshape(-1, 3), image[:60, -60:].reshape(-1, 3)])

    def red_over_blue(pixels: np.ndarray) -> float:
        values = srgb_to_linear(pixels.reshape(-1, 3)) if linear else pixels.reshape(-1, 3).astype(np.float64)
        mean = values.mean(axis=0)
        return float(mean[0] / mean[2])

    return red_over_blue(face) / red_over_blue(corners)


def tint_in_light(image: np.ndarray, colour) -> np.ndarray:
    """The whole picture seen through a colour filter (a uniform gain of light per channel)."""
    return linear_to_srgb(srgb_to_linear(image) * srgb_to_linear(np.array(colour)))


def tint_codes(image: np.ndarray, colour) -> np.ndarray:
    """The whole picture's sRGB code values multiplied by the colour (what a naive overlay does)."""
    return np.clip(image * (np.array(colour) / 255.0) + 0.5, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("photo", PHOTOS)
def test_screen_light_moves_the_face_against_the_background_and_a_tint_does_not(photo):
    h = head(photo)
    box = analyse(shoot(h, Pose()))
    figures = {}
    for distance in (FAR, NEAR):
        lit = {
            colour: shoot(h, Pose(distance=distance), screen=colour, warm_up=5) for colour in (BLUE, YELLOW)
        }
        unlit = h.render(Pose(distance=distance), screen=None)
        for name, frames in (
            ("screen", lit),
            ("tint", {c: camera_frame(tint_in_light(unlit, c)) for c in (BLUE, YELLOW)}),
            ("code tint", {c: camera_frame(tint_codes(unlit, c)) for c in (BLUE, YELLOW)}),
        ):
            found = analyse(frames[BLUE]) if distance == NEAR else box
            for linear in (True, False):
                ratio = [face_over_background(frames[c], found, linear=linear) for c in (BLUE, YELLOW)]
                figures[(distance, name, linear)] = ratio[1] / ratio[0] - 1
    for (distance, name, linear), change in figures.items():
        space = "linear" if linear else "sRGB"
        print(
            f"{photo} {distance:g} cm {name:9}: face/background R/B, yellow vs blue {change:+.3f} ({space})"
        )
    assert figures[(FAR, "screen", True)] >= 0.05
    assert figures[(FAR, "screen", False)] >= 0.05
    assert figures[(NEAR, "screen", True)] >= 2.0 * figures[(FAR, "screen", True)]
    # A filter over the picture is one gain per channel, which the ratio of ratios cancels; what is
    # left (up to ~3 %) is JPEG's subsampled, quantised chroma on a strongly tinted picture.
    assert abs(figures[(FAR, "tint", True)]) < 0.035
    assert abs(figures[(NEAR, "tint", True)]) < 0.035


def camera_frame(image: np.ndarray) -> np.ndarray:
    camera = Camera(seed=0)
    for _ in range(5):
        camera.capture(image)
    return decode_jpeg(camera.capture(image))


def test_camera_white_balance_lags_the_scene():
    h = head("collins-1.png")
    white = h.render(Pose(), screen=(255, 255, 255), screen_strength=3.0)
    blue = h.render(Pose(), screen=BLUE, screen_strength=3.0)
    camera = Camera(seed=0, awb_lag=0.3)
    camera.capture(white)
    settled = camera.gains.copy()
    steps = []
    for _ in range(12):
        camera.capture(blue)
        steps.append(camera.gains[2] / camera.gains[0])  # blue gain ÷ red gain
    fresh = Camera(seed=0)
    fresh.capture(blue)  # a camera that starts on the blue scene settles there at once
    target = fresh.gains[2] / fresh.gains[0]
    start = settled[2] / settled[0]
    assert target < start  # more blue light: the blue gain falls
    # The first frame after the switch still has the old gains; each frame moves 30 % of the way (in log).
    moved = [math.log(s / start) / math.log(target / start) for s in steps[:3]]
    assert moved[0] == pytest.approx(0.3, abs=0.05)
    assert moved[1] == pytest.approx(0.51, abs=0.06)


# --- the cooperative person's timeline ------------------------------------------------------------


def test_live_pose_follows_instructions():
    def at(t, steps):
        return live_pose(t, steps, sway=0)

    assert at(1.0, "center") == Pose()
    steps = [(0.0, "center"), (2.0, "approach"), (4.0, "turn"), (7.0, "blink"), (8.0, "mouth")]
    assert at(2.2, steps).distance == FAR  # reaction time
    assert FAR > at(2.6, steps).distance > NEAR
    assert at(3.1, steps).distance == NEAR
    assert at(9.5, steps).distance == NEAR  # stays close for what follows
    yaws = [at(4.0 + k / 50, steps).yaw for k in range(150)]
    assert max(yaws) == pytest.approx(25) and min(yaws) == pytest.approx(-25)
    assert yaws.index(max(yaws)) < yaws.index(min(yaws))
    assert at(4.2, steps).yaw == 0 and at(6.3, steps).yaw == 0
    blinks = [at(7.0 + k / 100, steps).blink for k in range(80)]
    shut = [k / 100 for k, b in enumerate(blinks) if b > 0.5]
    assert min(shut) >= 0.3 and max(shut) - min(shut) < 0.15 and at(7.55, steps).blink == 0
    assert at(8.2, steps).mouth == 0 and at(8.6, steps).mouth == at(8.95, steps).mouth == 1
    assert at(9.2, steps).mouth == 0
    assert live_pose(1.23, steps) == live_pose(1.23, list(reversed(steps)))  # no hidden state
    assert live_pose(2.0, "approach", 1.0).distance < FAR  # one instruction, shown at ``since``
    with pytest.raises(ValueError):
        live_pose(1.0, "dance")
