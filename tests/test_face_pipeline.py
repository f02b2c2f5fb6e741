"""Face pipeline core: safe decoding, detection outcomes, embeddings, worker pool, CLI."""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import resource
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from webapp.face import pipeline
from webapp.face.cli import add_face_commands
from webapp.face.decode import FaceInputError, decode_image, sniff_format
from webapp.face.models import FaceModels, get_models, models_dir
from webapp.face.pool import FacePool, FaceWorkerError

FACES = Path(__file__).parent / "fixtures" / "faces"
PHOTOS = {
    "obama-1.jpg": "obama",
    "obama-2.jpg": "obama",
    "obama-3.jpg": "obama",
    "obama-4-480p.jpg": "obama",
    "biden-1.jpg": "biden",
    "biden-2.jpg": "biden",
    "collins-1.png": "collins",
}
SAME_PHOTO = {frozenset({"obama-1.jpg", "obama-4-480p.jpg"})}  # one photograph at two sizes


def read(name: str) -> bytes:
    return (FACES / name).read_bytes()


def load(name: str) -> np.ndarray:
    return decode_image(read(name))


def encode(image: np.ndarray | Image.Image, fmt: str = "JPEG", **options) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_with_header_size(width: int, height: int) -> bytes:
    """A few-hundred-byte PNG whose IHDR claims ``width``×``height`` (CRC fixed, pixel data not)."""
    data = bytearray(encode(Image.new("L", (8, 8)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# Test-only worker job: must be module-level so a "spawn" worker can import it by name.
def _die_in_worker() -> None:
    os._exit(13)


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return get_models()


@pytest.fixture(scope="module")
def embeddings(models) -> dict[str, np.ndarray]:
    result = {}
    for name in PHOTOS:
        image = load(name)
        found = pipeline.detect(image, models=models)
        assert found.ok, (name, found.status)
        result[name] = pipeline.embedding(image, found.box, models=models)
    return result


@pytest.fixture(scope="module")
def pool():
    face_pool = FacePool(workers=1)
    yield face_pool
    face_pool.close()


# --- models -----


def test_model_files_found_without_importing_the_package():
    import sys

    folder = models_dir()
    assert (folder / "shape_predictor_68_face_landmarks.dat").is_file()
    assert "face_recognition_models" not in sys.modules


def test_models_are_loaded_once_per_process(models):
    assert get_models() is models


# --- decoding -----


def test_png_decodes_to_rgb_with_one_face(models):
    data = read("collins-1.png")
    assert sniff_format(data) == "PNG"
    image = decode_image(data)
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8
    found = pipeline.detect(image, models=models)
    assert found.status == "ok" and len(found.boxes) == 1


def test_decode_downscales_longest_side():
    image = decode_image(read("obama-3.jpg"), max_side=320)  # 1434×2333 with EXIF orientation 1
    assert max(image.shape[:2]) == 320
    assert image.shape[0] > image.shape[1]


def test_exif_orientation_is_applied():
    wide = np.zeros((40, 100, 3), np.uint8)
    wide[:, :50] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90° clockwise turn
    image = decode_image(encode(wide, "JPEG", exif=exif.tobytes(), quality=95))
    assert image.shape == (100, 40, 3)
    assert image[:50].mean() > 200 and image[50:].mean() < 50  # the white half is now on top


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_image"),
        (b"hello, this is not a picture at all", "not_image"),
        (b"%PDF-1.7\n" + b"x" * 100, "not_image"),
        (encode(Image.new("RGB", (32, 32)), "GIF"), "unsupported_format"),
        (encode(Image.new("RGB", (32, 32)), "BMP"), "unsupported_format"),
    ],
    ids=["empty", "text", "pdf", "gif", "bmp"],
)
def test_refuses_what_is_not_jpeg_png_or_webp(data, code):
    with pytest.raises(FaceInputError) as caught:
        decode_image(data)
    assert caught.value.code == code
    assert is_chinese(caught.value.message)


def test_reference_photos_may_be_webp_but_camera_frames_only_jpeg():
    from webapp.face.decode import FRAME_FORMATS

    photo = Image.open(io.BytesIO(read("obama-1.jpg"))).convert("RGB")
    webp = encode(photo, "WEBP", quality=90)
    assert decode_image(webp).shape[2] == 3
    assert pipeline.embed_bytes(webp).ok  # a registry photo in WebP is matched like a JPEG
    for other in (webp, encode(photo, "PNG")):
        with pytest.raises(FaceInputError) as caught:
            decode_image(other, formats=FRAME_FORMATS)
        assert caught.value.code == "unsupported_format"


def test_refuses_too_many_bytes():
    with pytest.raises(FaceInputError) as caught:
        decode_image(read("obama-3.jpg"), max_bytes=500_000)  # 596 kB
    assert caught.value.code == "too_large"
    assert "MB" in caught.value.message


def test_refuses_truncated_jpeg():
    data = read("obama-1.jpg")
    for cut in (len(data) // 2, len(data) - 2, 300):
        with pytest.raises(FaceInputError) as caught:
            decode_image(data[:cut])
        assert caught.value.code == "truncated", cut


def test_refuses_truncated_png():
    data = read("collins-1.png")
    for cut in (len(data) // 2, len(data) - 4):
        with pytest.raises(FaceInputError) as caught:
            decode_image(data[:cut])
        assert caught.value.code == "truncated", cut


def test_refuses_pixel_bomb_from_header_without_allocating():
    bomb = png_with_header_size(20000, 20000)  # 400 million pixels claimed
    assert len(bomb) < 200
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    with pytest.raises(FaceInputError) as caught:
        decode_image(bomb)
    assert caught.value.code == "too_many_pixels"
    # a guard beyond Pillow's own bomb limit: 6 MP is refused by our 4 MP limit from the header
    with pytest.raises(FaceInputError) as caught:
        decode_image(png_with_header_size(3000, 2000))
    assert caught.value.code == "too_many_pixels"
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown < 20_000, f"peak memory grew by {grown} KiB"


# --- detection -----


def test_partial_face_is_not_fully_in_frame(models):
    found = pipeline.detect(load("obama-partial-face.jpg"), models=models)
    assert found.status == "face_not_in_frame"
    assert found.message == "人脸不完整，请将整张脸置于画面中"
    assert found.boxes[0].left < 0


def test_two_faces_side_by_side(models):
    left = Image.fromarray(load("obama-1.jpg")).resize((400, 500))
    right = Image.fromarray(load("collins-1.png")).resize((500, 500))
    both = Image.new("RGB", (900, 500))
    both.paste(left, (0, 0))
    both.paste(right, (400, 0))
    found = pipeline.detect(np.asarray(both), models=models)
    assert found.status == "multiple_faces"
    assert len(found.boxes) == 2
    assert found.message.startswith("检测到多张人脸")


def test_tiny_face_is_too_small(models):
    small = Image.fromarray(load("obama-1.jpg")).resize((220, 275))  # face box ≈ 73 px
    found = pipeline.detect(np.asarray(small), models=models)
    assert found.status == "face_too_small"
    assert found.boxes[0].size < pipeline.MIN_FACE_SIZE
    assert found.message == "人脸太小，请靠近一些"
    # the same face is fine when the caller accepts smaller faces
    assert pipeline.detect(np.asarray(small), min_face_size=60, models=models).ok


def test_no_face(models):
    blank = np.full((240, 320, 3), 128, np.uint8)
    found = pipeline.detect(blank, models=models)
    assert found.status == "no_face" and found.boxes == ()
    assert found.message == "未检测到人脸"


def test_landmarks_and_liveness_figures(models):
    image = load("obama-4-480p.jpg")
    found = pipeline.detect(image, models=models)
    points = pipeline.landmarks68(image, found.box, models=models)
    assert points.shape == (68, 2)
    box = found.box
    assert box.left - 10 <= points[30, 0] <= box.right + 10  # nose tip inside the face box
    np.testing.assert_array_equal(points, found.landmarks)
    assert 0.15 < pipeline.eye_aspect_ratio(points) < 0.4  # eyes open
    assert abs(pipeline.yaw_cue(points)) < 0.15  # frontal portrait
    # a mirrored face turns the other way
    mirrored = np.ascontiguousarray(image[:, ::-1])
    turned = pipeline.analyze_array(load("obama-2.jpg"), models=models)
    turned_mirrored = pipeline.analyze_array(
        np.ascontiguousarray(load("obama-2.jpg")[:, ::-1]), models=models
    )
    assert turned.yaw < -0.3 and turned_mirrored.yaw > 0.3
    assert pipeline.analyze_array(mirrored, models=models).ok
    # mouth: obama-2 smiles with open lips, biden-1 has them closed
    assert turned.mouth_ratio > 0.3
    assert pipeline.analyze_array(load("biden-1.jpg"), models=models).mouth_ratio < 0.1


# --- embeddings and comparison -----


def test_embedding_is_128_floats(embeddings):
    vector = embeddings["obama-1.jpg"]
    assert vector.shape == (128,) and vector.dtype == np.float64


def test_same_person_matches(embeddings):
    match, dist = pipeline.compare(embeddings["obama-1.jpg"], embeddings["obama-2.jpg"], 0.5)
    assert match is True
    assert 0.3 <= dist <= 0.45


def test_different_people_do_not_match(embeddings):
    match, dist = pipeline.compare(embeddings["obama-1.jpg"], embeddings["biden-1.jpg"], 0.5)
    assert match is False
    assert dist > 0.6


def test_distance_ranges_over_all_fixture_pairs(embeddings):
    same, different = [], []
    for a, b in itertools.combinations(PHOTOS, 2):
        if frozenset({a, b}) in SAME_PHOTO:
            assert pipeline.distance(embeddings[a], embeddings[b]) < 0.15
            continue
        (same if PHOTOS[a] == PHOTOS[b] else different).append(
            pipeline.distance(embeddings[a], embeddings[b])
        )
    assert len(same) == 6 and len(different) == 14
    assert min(same) > 0.25 and max(same) < 0.45
    assert min(different) > 0.6


# --- worker pool -----


async def test_pool_embeds_like_the_pipeline(pool, embeddings):
    result = await pool.embed_image(read("obama-1.jpg"))
    assert result.ok and len(result.embedding) == 128
    assert all(isinstance(v, float) for v in result.embedding)
    assert pipeline.distance(result.embedding, embeddings["obama-1.jpg"]) < 1e-6


async def test_pool_reports_refusals(pool):
    partial = await pool.embed_image(read("obama-partial-face.jpg"))
    assert (partial.code, partial.embedding) == ("face_not_in_frame", None)
    assert partial.message == "人脸不完整，请将整张脸置于画面中"
    junk = await pool.embed_image(b"not an image")
    assert junk.code == "not_image" and not junk.ok


async def test_pool_compares_images(pool):
    match, dist = await pool.compare_images(read("obama-1.jpg"), read("obama-2.jpg"), 0.5)
    assert match is True and 0.3 <= dist <= 0.45
    match, dist = await pool.compare_images(read("obama-1.jpg"), read("biden-1.jpg"), 0.5)
    assert match is False and dist > 0.6
    with pytest.raises(FaceInputError) as caught:
        await pool.compare_images(read("obama-1.jpg"), read("obama-partial-face.jpg"), 0.5)
    assert (caught.value.code, caught.value.index) == ("face_not_in_frame", 1)


async def test_pool_analyzes_frames_in_order(pool):
    frames = [read("obama-4-480p.jpg"), b"junk", read("obama-partial-face.jpg")]
    results = await pool.analyze_frames(frames)
    assert [r.code for r in results] == ["ok", "not_image", "face_not_in_frame"]
    assert len(results[0].landmarks) == 68 and 0.15 < results[0].eye_ratio < 0.4


async def test_pool_recovers_after_a_worker_crash(pool):
    restarts = pool.restarts
    with pytest.raises(FaceWorkerError):
        await pool.run(_die_in_worker)
    assert pool.restarts == restarts + 1
    result = await pool.embed_image(read("obama-2.jpg"))
    assert result.ok


# --- CLI -----


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="webapp")
    add_face_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def test_cli_compare_match(capsys, models):
    args = parse(
        "face", "compare", str(FACES / "obama-1.jpg"), str(FACES / "obama-2.jpg"), "--threshold", "0.5"
    )
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "distance: 0.3" in out and "same person" in out


def test_cli_compare_json_no_match(capsys, models):
    args = parse("face", "compare", str(FACES / "obama-1.jpg"), str(FACES / "biden-1.jpg"), "--json")
    assert args.handler(args) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["match"] is False and result["distance"] > 0.6


def test_cli_threshold_default_from_environment(capsys, monkeypatch, models):
    monkeypatch.setenv("WEBAPP_FACE_THRESHOLD", "0.3")
    args = parse("face", "compare", str(FACES / "obama-1.jpg"), str(FACES / "obama-2.jpg"), "--json")
    assert args.handler(args) == 1
    assert json.loads(capsys.readouterr().out)["threshold"] == 0.3


def test_cli_compare_unreadable_file(capsys, tmp_path, models):
    missing = tmp_path / "missing.jpg"
    args = parse("face", "compare", str(FACES / "obama-1.jpg"), str(missing))
    assert args.handler(args) == 2
    assert "missing.jpg" in capsys.readouterr().err

    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    args = parse("face", "compare", str(text), str(FACES / "obama-1.jpg"), "--json")
    assert args.handler(args) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"] == "not_image"
    assert "notes.jpg" in captured.err


def test_cli_compare_needs_exactly_one_face(capsys, models):
    args = parse("face", "compare", str(FACES / "obama-partial-face.jpg"), str(FACES / "obama-1.jpg"))
    assert args.handler(args) == 2
    assert "人脸不完整" in capsys.readouterr().err
