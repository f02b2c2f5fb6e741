"""Liveness and the server-side face check, on fake-camera clips made from the test photos.

The clips (``tests/support/clips.py``) loop blink → open mouth → turn left → turn right in 1.2 s;
bursts are sampled from them the way the browser does (10 fps, 320×240 JPEG). Outcomes are exact.
"""

from __future__ import annotations

import io
import itertools
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from tests.support.clips import clip_frame_count, frames_from_clip, make_clip, read_y4m
from webapp.face import liveness
from webapp.face.check import MAX_FRAMES, run_face_check
from webapp.face.liveness import Action, evaluate, parse_challenge, random_challenge
from webapp.face.pipeline import FrameAnalysis, distance
from webapp.face.pool import FacePool

FACES = Path(__file__).parent / "fixtures" / "faces"
PAIRS = list(itertools.permutations(Action, 2))
OFFSETS = (0.0, 0.15, 0.35, 0.6, 0.85, 1.05)
SAMPLINGS = ((10, 2.8), (8, 3.0), (10, 2.5))  # (fps, seconds) of the burst


def pair_id(pair) -> str:
    return f"{pair[0].value}-then-{pair[1].value}"


@pytest.fixture(scope="module")
def clips() -> dict[str, Path]:
    return {
        "obama": make_clip(FACES / "obama-2.jpg"),
        "still": make_clip(FACES / "obama-2.jpg", still=True),
        "two": make_clip(FACES / "obama-2.jpg", second_face=FACES / "biden-2.jpg"),
        "biden": make_clip(FACES / "biden-1.jpg"),
    }


@pytest.fixture(scope="module")
async def pool():
    face_pool = FacePool(workers=2)
    await face_pool.start()
    yield face_pool
    face_pool.close()


@pytest.fixture(scope="module")
async def obama_analyses(pool, clips) -> dict[bytes, FrameAnalysis]:
    """Every distinct 320×240 JPEG of the obama clip (as the sampler makes them) → its analysis."""
    count, fps = clip_frame_count(clips["obama"])
    frames = list(dict.fromkeys(frames_from_clip(clips["obama"], fps_out=fps, seconds=count / fps)))
    return dict(zip(frames, await pool.analyze_frames(frames), strict=True))


@pytest.fixture(scope="module")
async def reference(pool) -> tuple[float, ...]:
    """The embedding of obama-1.jpg, as the identity authority's reference photo."""
    result = await pool.embed_image((FACES / "obama-1.jpg").read_bytes())
    assert result.ok
    return result.embedding


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


# --- challenge -------------------------------------------------------------------------------------


def test_random_challenge_never_repeats_an_action_and_covers_every_order():
    seen = Counter(random_challenge() for _ in range(600))
    assert all(first != second for first, second in seen)
    assert all(isinstance(a, Action) for pair in seen for a in pair)
    assert set(seen) == set(PAIRS)


def test_actions_have_chinese_labels_and_string_values():
    assert [a.value for a in Action] == ["blink", "mouth", "turn"]
    assert (Action.BLINK.label, Action.MOUTH.label, Action.TURN.label) == ("眨眼", "张嘴", "左右转头")
    assert all(a.prompt for a in Action)
    assert parse_challenge("turn,blink") == (Action.TURN, Action.BLINK)
    with pytest.raises(ValueError):
        parse_challenge("blink,blink")
    with pytest.raises(ValueError):
        parse_challenge("blink,smile")


# --- the clips -------------------------------------------------------------------------------------


def test_clip_is_a_chromium_compatible_y4m(clips):
    data = clips["obama"].read_bytes()
    header = data[: data.index(b"\n") + 1]
    assert len(header) < 200
    assert header.startswith(b"YUV4MPEG2 W640 H480 F15:1 ")
    assert b" C420jpeg" in header
    fields, frames = read_y4m(clips["obama"])
    frame_bytes = 640 * 480 * 3 // 2
    assert len(data) == len(header) + len(frames) * (6 + frame_bytes)
    assert len(frames) % 18 == 0  # whole 1.2 s loops at 15 fps, so Chromium's looping is seamless
    burst = frames_from_clip(clips["obama"])
    assert len(burst) == 28
    assert all(f.startswith(b"\xff\xd8\xff") for f in burst)
    assert Image.open(io.BytesIO(burst[0])).size == (320, 240)


# --- liveness on sampled bursts (pure, on cached analyses) ------------------------------------------


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_every_ordered_pair_is_seen_in_any_capture_window(pair, clips, obama_analyses):
    for (fps, seconds), offset in itertools.product(SAMPLINGS, OFFSETS):
        burst = frames_from_clip(clips["obama"], fps_out=fps, seconds=seconds, start=offset)
        result = evaluate([obama_analyses[f] for f in burst], pair)
        assert result.ok, (fps, seconds, offset, result.code, result.figures)
        assert result.continuity_ok is True
        best = burst[result.best_index]
        assert obama_analyses[best].eye_ratio >= 0.85 * result.figures["ear_baseline"]


def _loop_frames(clip: Path) -> list[bytes]:
    """One 15 fps loop: 0 neutral, 1-3 eyes shut, 6-8 mouth open, 10-12 turned left, 15-17 right."""
    _, fps = clip_frame_count(clip)
    return frames_from_clip(clip, fps_out=fps, seconds=18 / fps)


def test_a_blink_of_exactly_one_frame_is_seen(clips, obama_analyses):
    loop = _loop_frames(clips["obama"])
    neutral, shut, mouth = loop[0], loop[2], loop[7]
    burst = [neutral] * 6 + [shut] + [neutral] * 6 + [mouth] * 2 + [neutral] * 6
    analyses = [obama_analyses[f] for f in burst]
    result = evaluate(analyses, (Action.BLINK, Action.MOUTH))
    assert result.ok, result.figures
    assert result.figures["events"]["blink"] == [[6, 6]]
    assert evaluate(analyses, (Action.MOUTH, Action.BLINK)).code == "wrong_order"
    # Eyes kept shut for longer than a blink do not count as one.
    long_shut = (
        [neutral] * 6 + [shut] * (liveness.BLINK_MAX_FRAMES + 1) + [neutral] * 6 + [mouth] * 2 + [neutral] * 4
    )
    refused = evaluate([obama_analyses[f] for f in long_shut], (Action.BLINK, Action.MOUTH))
    assert (refused.code, refused.message) == ("action_not_seen", "未检测到眨眼动作，请按提示完成动作")
    # A blink at the very start of the burst was not seen opening: it does not count either.
    at_start = [shut] + [neutral] * 12 + [mouth] * 2 + [neutral] * 6
    assert (
        evaluate([obama_analyses[f] for f in at_start], (Action.BLINK, Action.MOUTH)).code
        == "action_not_seen"
    )


def test_a_turn_needs_both_sides(clips, obama_analyses):
    loop = _loop_frames(clips["obama"])
    neutral, left, right = loop[0], loop[11], loop[16]
    one_side = [neutral] * 8 + [left] * 3 + [neutral] * 10
    result = evaluate([obama_analyses[f] for f in one_side], (Action.TURN, Action.MOUTH))
    assert (result.code, result.message) == ("action_not_seen", "未检测到左右转头动作，请按提示完成动作")
    both = [neutral] * 6 + [left] * 2 + [neutral] * 3 + [right] * 2 + [neutral] * 8
    result = evaluate([obama_analyses[f] for f in both], (Action.TURN, Action.MOUTH))
    assert result.code == "action_not_seen" and "张嘴" in result.message  # the turn was seen


def test_a_gap_in_the_track_is_not_continuous(clips, obama_analyses):
    burst = frames_from_clip(clips["obama"])
    analyses = [obama_analyses[f] for f in burst]
    gone = FrameAnalysis("no_face", "未检测到人脸")
    holed = (
        analyses[:10] + [gone] * (liveness.MAX_GAP_FRAMES + 1) + analyses[10 + liveness.MAX_GAP_FRAMES + 1 :]
    )
    result = evaluate(holed, (Action.BLINK, Action.MOUTH))
    assert (result.ok, result.code, result.continuity_ok) == (False, "not_continuous", False)
    short_gap = analyses[:10] + [gone] * liveness.MAX_GAP_FRAMES + analyses[10 + liveness.MAX_GAP_FRAMES :]
    assert evaluate(short_gap, (Action.BLINK, Action.MOUTH)).continuity_ok is True


def test_too_few_usable_frames(clips, obama_analyses):
    burst = frames_from_clip(clips["obama"])
    analyses = [obama_analyses[f] for f in burst]
    assert evaluate(analyses[:11], (Action.BLINK, Action.MOUTH)).code == "too_few_frames"
    mostly_gone = analyses[:8] + [FrameAnalysis("no_face", "未检测到人脸")] * 20
    result = evaluate(mostly_gone, (Action.BLINK, Action.MOUTH))
    assert (result.code, result.message) == ("no_face", liveness.MESSAGES["no_face"])


# --- the whole check through the worker pool -------------------------------------------------------


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
async def test_face_check_passes_and_matches_the_reference(pair, pool, clips, reference):
    offset = 0.2 * PAIRS.index(pair)
    burst = frames_from_clip(clips["obama"], start=offset)
    check = await run_face_check(pool, burst, pair)
    assert (check.ok, check.code) == (True, "ok"), check.figures
    assert len(check.embedding) == 128
    assert check.best_frame == burst[check.best_index]
    figures = check.figures
    assert figures["frames"] == figures["usable_frames"] == 28
    assert figures["same_person_distance"] <= 0.5
    assert figures["best_index"] != figures["second_index"]
    for key in ("ear_baseline", "ear_min", "mar_baseline", "mar_max", "yaw_min", "yaw_max", "events"):
        assert key in figures
    assert distance(check.embedding, reference) <= 0.5


async def test_biden_passes_liveness_but_does_not_match_obama(pool, clips, reference):
    burst = frames_from_clip(clips["biden"], start=0.4)
    check = await run_face_check(pool, burst, (Action.MOUTH, Action.TURN))
    assert check.ok, check.figures
    assert distance(check.embedding, reference) > 0.6


async def test_still_photo_is_not_live(pool, clips):
    burst = frames_from_clip(clips["still"])
    check = await run_face_check(pool, burst, (Action.BLINK, Action.MOUTH))
    assert (check.ok, check.code, check.message) == (
        False,
        "action_not_seen",
        "未检测到眨眼动作，请按提示完成动作",
    )
    assert check.embedding is None and check.best_frame is None
    check = await run_face_check(pool, burst, (Action.TURN, Action.BLINK))
    assert check.message == "未检测到左右转头动作，请按提示完成动作"
    assert check.figures["ear_min"] == check.figures["ear_baseline"]
    assert check.figures["yaw_min"] == check.figures["yaw_max"]


async def test_two_faces_are_refused(pool, clips):
    check = await run_face_check(pool, frames_from_clip(clips["two"]), (Action.BLINK, Action.MOUTH))
    assert (check.ok, check.code, check.message) == (
        False,
        "multiple_faces",
        "检测到多张人脸，请确保画面中只有您一个人",
    )


async def test_a_burst_that_switches_person_is_refused(pool, clips):
    obama = frames_from_clip(clips["obama"])
    biden = frames_from_clip(clips["biden"])
    # Same place, same size: the track holds, the two embeddings tell the people apart.
    check = await run_face_check(pool, obama[:14] + biden[14:], (Action.BLINK, Action.MOUTH))
    assert check.code in {"not_continuous", "not_same_person"}
    assert check.code == "not_same_person"
    assert check.figures["same_person_distance"] > 0.6
    assert check.embedding is None
    # Elsewhere in the picture: the track breaks.
    moved = []
    for frame in biden[14:]:
        image = Image.open(io.BytesIO(frame))
        shifted = Image.new("RGB", image.size, (118, 124, 132))
        shifted.paste(image.crop((0, 0, image.width - 90, image.height)), (90, 0))
        moved.append(jpeg(shifted))
    check = await run_face_check(pool, obama[:14] + moved, (Action.BLINK, Action.MOUTH))
    assert (check.code, check.message) == ("not_continuous", liveness.MESSAGES["not_continuous"])


async def test_burst_size_limits_and_unreadable_frames(pool, clips):
    burst = frames_from_clip(clips["obama"])
    check = await run_face_check(pool, burst[:8], (Action.BLINK, Action.MOUTH))
    assert (check.code, check.message) == ("too_few_frames", liveness.MESSAGES["too_few_frames"])
    too_many = frames_from_clip(clips["obama"], seconds=(MAX_FRAMES + 1) / 10)
    assert (await run_face_check(pool, too_many, (Action.BLINK, Action.MOUTH))).code == "too_many_frames"
    broken = burst[:5] + [b"\xff\xd8\xff\xe0 not really a jpeg"] + burst[6:]
    assert (await run_face_check(pool, broken, (Action.BLINK, Action.MOUTH))).code == "invalid_frames"
    assert (await run_face_check(pool, burst, (Action.BLINK, Action.BLINK))).code == "bad_challenge"
    blank = jpeg(Image.new("RGB", (320, 240), (90, 90, 90)))
    check = await run_face_check(pool, [blank] * 20, (Action.BLINK, Action.MOUTH))
    assert (check.code, check.message) == ("no_face", "未检测到人脸，请正对摄像头")
