"""Fake-camera clips made from the face photos at test time, and a browser-like frame sampler.

:func:`make_clip` writes a Y4M file for Chromium's ``--use-file-for-fake-video-capture``:

- header ``YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg`` (well under Chromium's 200-byte limit);
  Chromium's parser accepts ``C420``, ``C420jpeg``, ``C420mpeg2`` and ``C420paldv`` and reads all
  of them as I420 (``media/capture/video/file_video_capture_device.cc``); ``C420jpeg`` is the
  format's default and matches the centred 2×2 chroma averaging done here;
- pixels are BT.601 limited range ("studio swing"), which is how Chromium reads I420 capture;
- every frame is ``FRAME\\n`` + the Y, U and V planes (no frame parameters: Chromium skips a fixed
  6 bytes per frame);
- Chromium plays the file at its frame rate and starts again at the end, so a clip holds whole
  loops only.

One loop shows the listed actions one after the other, each for :data:`SEGMENT_SECONDS` (0.3 s):
by default blink → open mouth → turn left → turn right, 1.2 s, so any ordered pair of actions
appears in any 2.5 s window. Within a segment the action ramps in over 30 ms, holds for 0.2 s and
ramps out (a 0.2 s blink is a normal human blink). The motion is a piecewise-affine warp of the 68
landmarks (a Delaunay mesh over the landmarks, eyelid-crease points, a fixed ring of points around
the face and the image border, so nothing outside the face moves):

- eyes shut: the upper-lid points (37, 38, 43, 44) move down towards the lower lid, with crease
  points above them following part of the way, so the lid skin is stretched over the eye; then
  the lower lid's rim is painted over with skin sampled just below it and a lash line is drawn
  where the lids meet. Without the paint dlib's landmark model reads the rim (or the crease) as
  an open eye. The blink holds at :data:`BLINK_DEPTH` (80 %) of that: the model reads an
  almost-shut synthetic eye more reliably than a fully shut one;
- mouth open: the lower lip, the chin and the lower jaw move down; the inner mouth is darkened;
- head turn: the nose, eyes, brows and mouth shift sideways, weighted by their distance from the
  nose line, so the side the head turns to is compressed and the other stretched (a 2-D stand-in
  for yaw that moves the yaw cue — nose tip between jaw points 2 and 14 — clearly).

"left" is the subject's own left: in an unmirrored camera picture the nose moves to the image
right (positive yaw cue).

The face's HOG box is about half the frame height (240 px at 480; in a 320×240 capture the
detector reports 104–125 px boxes — it works in steps of about 1.2 — where it needs ≥ ~75 px
without upsampling). Two faces side by side are 40 % each. Clips are cached under the temp dir,
keyed by every parameter, the rendering code and the photo bytes, so a test session (and later
sessions) make each clip once; cached clips unused for a week are deleted.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLIP_VERSION = 4  # part of the cache key (as are this file's bytes and the constants below)
SEGMENT_SECONDS = 0.3
DEFAULT_ACTIONS = ("blink", "mouth", "left", "right")
KNOWN_ACTIONS = ("blink", "mouth", "left", "right", "none")
FACE_FRACTION = 0.5  # HOG box height / frame height (one face)
FACE_FRACTION_TWO = 0.40  # the same with two faces side by side
BACKGROUND = (118, 124, 132)
CACHE_DIR = Path(tempfile.gettempdir()) / "shiming-face-clips"

# Envelope of one action within its segment (seconds from the segment start).
_RAMP_IN = (0.02, 0.05)
_RAMP_OUT = (0.25, 0.28)

# Warp strengths (fractions of the face box height, or of the eye opening for the blink).
BLINK_CLOSE = 0.85  # how far the upper lid travels towards the lower lid
BLINK_DEPTH = 0.8  # strength of the blink at its hold (see the module docstring)
UNDER_EYE_DEPTH = 0.3  # painted band under the shut lid (eye widths)
UNDER_EYE_SAMPLE = 0.45  # where its colour is sampled, below the lower lid (eye widths)
LASH_STRENGTH = 0.9  # opacity of the redrawn lash line
CREASE_HEIGHT = 0.4  # crease points: this fraction of the way from the upper lid to the brow
CREASE_FOLLOW = 0.6  # how much of the lid's travel the crease points follow in a blink
MOUTH_DROP = 0.14  # lower lip / chin drop
TURN_SHIFT = 0.2  # sideways shift of the nose line


# --- public API ----------------------------------------------------------------------------------


def make_clip(
    photo_path: str | os.PathLike,
    out_path: str | os.PathLike | None = None,
    *,
    actions: Sequence[str] = DEFAULT_ACTIONS,
    fps: int = 15,
    seconds: float = 2.4,
    size: tuple[int, int] = (640, 480),
    still: bool = False,
    second_face: str | os.PathLike | None = None,
) -> Path:
    """Write (or reuse) a looping Y4M clip of the face in ``photo_path``; returns its path.

    ``seconds`` is rounded up to whole loops (one loop = 0.3 s per action). ``still=True`` shows
    the unchanged photo in every frame. ``second_face`` puts that photo's face beside the first
    (the first, on the left, does the actions). With ``out_path`` the cached clip is copied there.
    """
    actions = tuple(actions)
    unknown = [a for a in actions if a not in KNOWN_ACTIONS]
    if unknown or not actions:
        raise ValueError(f"unknown actions {unknown}; use {KNOWN_ACTIONS}")
    width, height = size
    if width % 2 or height % 2:
        raise ValueError("4:2:0 needs an even width and height")
    if fps < 1:
        raise ValueError("fps must be positive")
    photo = Path(photo_path)
    other = Path(second_face) if second_face is not None else None
    key_parts = [
        f"v{CLIP_VERSION}",
        _file_digest(Path(__file__)),  # any change to the rendering code makes new clips
        repr(_render_settings()),
        _file_digest(photo),
        _file_digest(other) if other else "-",
        ",".join(actions),
        str(fps),
        f"{seconds:g}",
        f"{width}x{height}",
        "still" if still else "moving",
    ]
    key = hashlib.sha256("|".join(key_parts).encode()).hexdigest()[:16]
    suffix = "-two" if other else ""
    cached = CACHE_DIR / f"{photo.stem}{suffix}{'-still' if still else ''}-{key}.y4m"
    if cached.exists():
        os.utime(cached)  # keeps it from being pruned
    else:
        _prune_cache()
        frames = render_frames(
            photo, actions=actions, fps=fps, seconds=seconds, size=size, still=still, second_face=other
        )
        _write_atomically(cached, _y4m_bytes(frames, fps))
    if out_path is None:
        return cached
    target = Path(out_path)
    if target.resolve() != cached.resolve():
        _write_atomically(target, cached.read_bytes())
    return target


def frames_from_clip(
    path: str | os.PathLike,
    fps_out: float = 10,
    seconds: float = 2.8,
    start: float = 0.0,
    size: tuple[int, int] = (320, 240),
    quality: int = 85,
) -> list[bytes]:
    """JPEG frames sampled from a (looping) clip the way the browser does.

    The page draws the playing video onto a ``size`` canvas every ``1/fps_out`` s, from
    ``start`` s into the loop, for ``seconds``, and encodes each as JPEG (``quality``).
    """
    jpegs, clip_fps = _clip_jpegs(str(Path(path).resolve()), size, quality)
    count = int(round(seconds * fps_out))
    result = []
    for k in range(count):
        t = start + k / fps_out
        index = int(math.floor(t * clip_fps + 1e-6)) % len(jpegs)
        result.append(jpegs[index])
    return result


def clip_frame_count(path: str | os.PathLike) -> tuple[int, int]:
    """``(frames, fps)`` of a clip written by :func:`make_clip`."""
    jpegs, fps = _clip_jpegs(str(Path(path).resolve()), (320, 240), 85)
    return len(jpegs), fps


def read_y4m(path: str | os.PathLike) -> tuple[dict[str, str], list[np.ndarray]]:
    """Header fields and RGB frames (uint8, H×W×3) of a 4:2:0 Y4M file."""
    data = Path(path).read_bytes()
    end = data.index(b"\n")
    tokens = data[:end].decode("ascii").split(" ")
    if tokens[0] != "YUV4MPEG2":
        raise ValueError("not a YUV4MPEG2 file")
    header = {token[0]: token[1:] for token in tokens[1:] if token}
    width, height = int(header["W"]), int(header["H"])
    if header.get("C", "420jpeg") not in {"420", "420jpeg", "420mpeg2", "420paldv"}:
        raise ValueError(f"unsupported colour space {header['C']}")
    plane = width * height
    frame_size = plane + 2 * (plane // 4)
    frames = []
    position = end + 1
    while position < len(data):
        if data[position : position + 6] != b"FRAME\n":
            raise ValueError("bad frame marker")
        position += 6
        raw = np.frombuffer(data, dtype=np.uint8, count=frame_size, offset=position)
        position += frame_size
        y = raw[:plane].reshape(height, width)
        u = raw[plane : plane + plane // 4].reshape(height // 2, width // 2)
        v = raw[plane + plane // 4 :].reshape(height // 2, width // 2)
        frames.append(_yuv_to_rgb(y, u, v))
    return header, frames


# --- rendering -----------------------------------------------------------------------------------


def render_frames(
    photo: Path,
    *,
    actions: Sequence[str] = DEFAULT_ACTIONS,
    fps: int = 15,
    seconds: float = 2.4,
    size: tuple[int, int] = (640, 480),
    still: bool = False,
    second_face: Path | None = None,
) -> list[np.ndarray]:
    """The RGB frames of a clip (whole loops)."""
    base, points, box = _neutral_frame(photo, size, second_face)
    loop_seconds = SEGMENT_SECONDS * len(actions)
    loops = max(1, math.ceil(seconds / loop_seconds - 1e-9))
    frames_per_loop = int(round(loop_seconds * fps))
    if still:
        return [base] * (frames_per_loop * loops)
    mesh = _Mesh(base, points, box)
    loop = []
    for i in range(frames_per_loop):
        t = i / fps
        segment = min(int(t / SEGMENT_SECONDS + 1e-9), len(actions) - 1)
        action = actions[segment]
        amount = _envelope(t - segment * SEGMENT_SECONDS)
        if action == "blink":
            amount *= BLINK_DEPTH
        loop.append(mesh.render(action, amount))
    return loop * loops


def _envelope(t: float) -> float:
    if t <= _RAMP_IN[0] or t >= _RAMP_OUT[1]:
        return 0.0
    if t < _RAMP_IN[1]:
        return (t - _RAMP_IN[0]) / (_RAMP_IN[1] - _RAMP_IN[0])
    if t <= _RAMP_OUT[0]:
        return 1.0
    return (_RAMP_OUT[1] - t) / (_RAMP_OUT[1] - _RAMP_OUT[0])


def _load_photo(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.convert("RGB")


@functools.cache
def _models():
    from webapp.face.models import get_models

    return get_models()


def _largest_face(image: np.ndarray):
    from webapp.face.pipeline import find_faces

    found = find_faces(image, models=_models())
    if not found:
        raise ValueError("no face found in the photo")
    return max((box for box, _ in found), key=lambda b: b.size)


def _photo_face_box(photo: Image.Image) -> tuple[float, float, float, float]:
    """(centre x, centre y, width, height) of the face box in full-resolution photo pixels."""
    scale = min(1.0, 1000 / max(photo.size))
    small = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.BICUBIC)
    box = _largest_face(np.asarray(small))
    cx = (box.left + box.right + 1) / 2 / scale
    cy = (box.top + box.bottom + 1) / 2 / scale
    return cx, cy, box.width / scale, box.height / scale


def _place(photo: Image.Image, canvas: tuple[int, int], centre: tuple[float, float], box_height: float):
    """The photo scaled and moved so its face box is ``box_height`` px high, centred at ``centre``."""
    fx, fy, _, fh = _photo_face_box(photo)
    s = box_height / fh
    # Image.transform takes the inverse map: output (x, y) → input (a x + b y + c, d x + e y + f).
    coefficients = (1 / s, 0.0, fx - centre[0] / s, 0.0, 1 / s, fy - centre[1] / s)
    return photo.transform(
        canvas, Image.Transform.AFFINE, coefficients, Image.Resampling.BICUBIC, fillcolor=BACKGROUND
    )


def _neutral_frame(photo_path: Path, size: tuple[int, int], second_face: Path | None):
    from webapp.face.pipeline import find_faces, landmarks68

    width, height = size
    photo = _load_photo(photo_path)
    if second_face is None:
        canvas = _place(photo, size, (width / 2, height * 0.48), FACE_FRACTION * height)
    else:
        half = width // 2
        canvas = Image.new("RGB", size, BACKGROUND)
        left = _place(photo, (half, height), (half / 2, height * 0.48), FACE_FRACTION_TWO * height)
        right = _place(
            _load_photo(second_face),
            (width - half, height),
            ((width - half) / 2, height * 0.48),
            FACE_FRACTION_TWO * height,
        )
        canvas.paste(left, (0, 0))
        canvas.paste(right, (half, 0))
    base = np.ascontiguousarray(np.asarray(canvas, dtype=np.uint8))
    found = find_faces(base, models=_models())
    if not found:
        raise ValueError(f"no face found in the composed frame of {photo_path.name}")
    if second_face is not None and len(found) < 2:
        raise ValueError("the two-face frame does not show two faces")
    # The acting face: the one nearest the centre of the left half (or of the frame).
    target_x = width / 4 if second_face is not None else width / 2
    box = min((b for b, _ in found), key=lambda b: abs((b.left + b.right) / 2 - target_x))
    points = landmarks68(base, box, models=_models())
    return base, points, box


# --- piecewise-affine mesh warp ----------------------------------------------------------------------


class _Mesh:
    """A Delaunay mesh over the 68 landmarks, a fixed ring around the face and the frame border."""

    def __init__(self, base: np.ndarray, points: np.ndarray, box) -> None:
        self.base = base.astype(np.float32)
        self.height, self.width = base.shape[:2]
        self.points = points.astype(np.float64)
        self.face_height = float(box.height)
        cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
        ring = [
            (cx + 0.95 * box.width * math.cos(a), cy + 0.1 * box.height + 1.0 * box.height * math.sin(a))
            for a in np.linspace(0, 2 * math.pi, 20, endpoint=False)
        ]
        w, h = self.width - 1, self.height - 1
        frame = [(0, 0), (w / 2, 0), (w, 0), (w, h / 2), (w, h), (w / 2, h), (0, h), (0, h / 2)]
        fixed = [(min(max(x, 1.0), w - 1.0), min(max(y, 1.0), h - 1.0)) for x, y in ring] + frame
        self.fixed = np.array(fixed, dtype=np.float64)
        # Eyelid-crease points above each upper-lid point; they follow their lid point, so a blink
        # folds the lid and its crease down together and stretches the smooth skin below the brow.
        self.crease_anchors = (37, 38, 43, 44)
        crease = []
        for anchor in self.crease_anchors:
            brow = range(17, 22) if anchor < 42 else range(22, 27)
            bx, by = self.points[list(brow), 0], self.points[list(brow), 1]
            order = np.argsort(bx)
            brow_y = float(np.interp(self.points[anchor, 0], bx[order], by[order]))
            lid = self.points[anchor]
            crease.append((lid[0], lid[1] + CREASE_HEIGHT * (brow_y - lid[1])))
        self.crease = np.array(crease, dtype=np.float64)
        self.triangles = _delaunay(np.vstack([self.points, self.crease, self.fixed]))

    # Landmark displacements for each action at full strength ``amount`` = 1.

    def _target(self, action: str, amount: float) -> np.ndarray:
        p = self.points.copy()
        if action == "none" or amount <= 0:
            return p
        h = self.face_height
        if action == "blink":
            for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
                gap = self.points[lower] - self.points[upper]
                p[upper] += BLINK_CLOSE * amount * gap
        elif action == "mouth":
            drop = MOUTH_DROP * h * amount
            weights = {
                66: 1.0,
                65: 0.92,
                67: 0.92,
                57: 1.0,
                56: 0.95,
                58: 0.95,
                55: 0.8,
                59: 0.8,
                8: 1.0,
                7: 0.95,
                9: 0.95,
                6: 0.8,
                10: 0.8,
                5: 0.55,
                11: 0.55,
                4: 0.25,
                12: 0.25,
                3: 0.06,
                13: 0.06,
                48: 0.3,
                54: 0.3,
                60: 0.3,
                64: 0.3,
            }
            for index, weight in weights.items():
                p[index, 1] += drop * weight
            narrow = 0.025 * h * amount
            for index in (48, 60):
                p[index, 0] += narrow
            for index in (54, 64):
                p[index, 0] -= narrow
        elif action in ("left", "right"):
            # Subject's left = image right in an unmirrored camera picture.
            shift = TURN_SHIFT * h * amount * (1.0 if action == "left" else -1.0)
            nose_x = self.points[27:31, 0].mean()
            half_width = (self.points[16, 0] - self.points[0, 0]) / 2
            for index in range(68):
                distance = abs(self.points[index, 0] - nose_x) / half_width
                weight = max(0.0, 1.0 - distance) ** 0.8
                if 27 <= index <= 35:
                    weight = max(weight, 1.0)
                p[index, 0] += shift * weight
        else:
            raise ValueError(action)
        return p

    def render(self, action: str, amount: float) -> np.ndarray:
        target = self._target(action, amount)
        if not np.any(target != self.points):
            return self.base.astype(np.uint8)
        follow = CREASE_FOLLOW if action == "blink" else 1.0
        crease = self.crease + follow * (
            target[list(self.crease_anchors)] - self.points[list(self.crease_anchors)]
        )
        source_all = np.vstack([self.points, self.crease, self.fixed])
        target_all = np.vstack([target, crease, self.fixed])
        out = _warp(self.base, source_all, target_all, self.triangles)
        if action == "mouth":
            _darken_polygon(out, target[60:68], strength=0.85 * amount)
        elif action == "blink":
            for eye in (list(range(36, 42)), list(range(42, 48))):
                brow = list(range(17, 22)) if eye[0] == 36 else list(range(22, 27))
                _shut_eye(out, self.base, self.points[eye], target[eye], self.points[brow], amount)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _warp(image: np.ndarray, source: np.ndarray, target: np.ndarray, triangles) -> np.ndarray:
    """Piecewise-affine warp: each target triangle takes the pixels of its source triangle."""
    height, width = image.shape[:2]
    labels = Image.new("I", (width, height), 0)
    draw = ImageDraw.Draw(labels)
    affines = [np.zeros((2, 3))]
    for number, (a, b, c) in enumerate(triangles, start=1):
        dst = target[[a, b, c]]
        src = source[[a, b, c]]
        matrix = np.hstack([dst, np.ones((3, 1))])
        if abs(np.linalg.det(matrix)) < 1e-6:  # collapsed triangle: draws nothing
            affines.append(np.zeros((2, 3)))
            continue
        affines.append(np.linalg.solve(matrix, src).T)  # (2, 3): [x y 1] → source (x, y)
        draw.polygon([tuple(v) for v in dst], fill=number)
    label = np.asarray(labels, dtype=np.int32)
    moved = np.zeros(len(affines), dtype=bool)
    for number, (a, b, c) in enumerate(triangles, start=1):
        moved[number] = not np.allclose(source[[a, b, c]], target[[a, b, c]])
    mask = moved[label]
    ys, xs = np.nonzero(mask)
    out = image.copy()
    if len(xs) == 0:
        return out
    matrices = np.stack(affines)[label[ys, xs]]  # (n, 2, 3)
    sx = matrices[:, 0, 0] * xs + matrices[:, 0, 1] * ys + matrices[:, 0, 2]
    sy = matrices[:, 1, 0] * xs + matrices[:, 1, 1] * ys + matrices[:, 1, 2]
    out[ys, xs] = _bilinear(image, sx, sy)
    return out


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    x = np.clip(x, 0, width - 1.001)
    y = np.clip(y, 0, height - 1.001)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _darken_polygon(image: np.ndarray, polygon: np.ndarray, strength: float) -> None:
    """Blend the inside of ``polygon`` towards a dark mouth colour, with a soft edge."""
    if strength <= 0:
        return
    height, width = image.shape[:2]
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).polygon([tuple(v) for v in polygon], fill=255)
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255.0 * strength
    # A 3×3 box blur softens the edge.
    padded = np.pad(alpha, ((1, 1), (1, 1), (0, 0)), mode="edge")
    alpha = sum(padded[dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)) / 9.0
    dark = np.array([38.0, 18.0, 20.0], dtype=np.float32)
    image[...] = image * (1 - alpha) + dark * alpha


def _shut_eye(
    image: np.ndarray,
    base: np.ndarray,
    eye: np.ndarray,
    closed: np.ndarray,
    brow: np.ndarray,
    strength: float,
) -> None:
    """Hide the lower-lid rim under a shut eye and redraw the lash line.

    ``eye``: the six source landmarks (outer corner, two upper-lid, inner corner, two lower-lid);
    ``closed``: the same after the warp. Below the shut lid the warp leaves the lower lid's rim (a
    light band over a darker line), which the landmark model takes for an open eye; the paint
    covers it with the colour of the skin a little further down, feathered at its lower edge.
    """
    if strength <= 0:
        return
    height, width = image.shape[:2]
    eye_width = float(np.linalg.norm(eye[3] - eye[0]))
    lash = closed[[0, 1, 2, 3]]  # the shut lid: outer corner, lid, inner corner
    order = np.argsort(lash[:, 0])
    lx, ly = lash[order, 0], lash[order, 1]
    x0, x1 = int(math.floor(lx[0])), int(math.ceil(lx[-1]))
    xs = np.arange(max(0, x0), min(width, x1 + 1))
    depth = UNDER_EYE_DEPTH * eye_width
    feather = max(2.0, 0.1 * eye_width)
    lower = eye[[0, 5, 4, 3]]
    below = int(round(float(lower[:, 1].max()) + UNDER_EYE_SAMPLE * eye_width))
    r = max(1, int(0.06 * eye_width))
    skin = np.median(base[max(0, below - r) : below + r + 1, max(0, x0) : x1 + 1].reshape(-1, 3), axis=0)
    for x in xs:
        top = float(np.interp(x, lx, ly)) + 1.0
        ys = np.arange(max(0, int(math.ceil(top))), min(height, int(math.ceil(top + depth + feather))))
        if len(ys) == 0:
            continue
        vertical = np.clip((top + depth + feather - ys) / feather, 0, 1)
        edge = min(x - lx[0], lx[-1] - x) / max(1.0, 0.15 * eye_width)
        alpha = (vertical * min(1.0, max(0.0, edge)) * strength)[:, None]
        image[ys, x] = image[ys, x] * (1 - alpha) + skin * alpha
    # The lash line along the shut lid, in the darkest colour of the open eye.
    box = base[int(eye[:, 1].min()) : int(eye[:, 1].max()) + 1, max(0, x0) : x1 + 1].reshape(-1, 3)
    dark = np.percentile(box, 8, axis=0) if len(box) else np.zeros(3)
    line = Image.new("L", (width, height), 0)
    ImageDraw.Draw(line).line(
        [tuple(p) for p in lash[order]], fill=255, width=max(2, int(round(eye_width * 0.06))), joint="curve"
    )
    mask = _soften(np.asarray(line, dtype=np.float32) / 255.0, 1)[..., None] * (LASH_STRENGTH * strength)
    image[...] = image * (1 - mask) + dark * mask


def _soften(mask: np.ndarray, radius: int) -> np.ndarray:
    """Box blur of a 2-D mask (separable, ``radius`` px)."""
    size = 2 * radius + 1
    kernel = np.ones(size, dtype=np.float32) / size
    padded = np.pad(mask, radius, mode="edge")
    rows = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="valid"), 1, padded)
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="valid"), 0, rows)


def _delaunay(points: np.ndarray) -> list[tuple[int, int, int]]:
    """Bowyer-Watson triangulation (fine for the ~100 points of a face mesh)."""
    pts = [(float(x), float(y)) for x, y in points]
    n = len(pts)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) * 10 + 10
    mx, my = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    pts += [(mx - 2 * span, my - span), (mx + 2 * span, my - span), (mx, my + 2 * span)]
    triangles: dict[tuple[int, int, int], tuple[float, float, float]] = {}

    def circle(t):
        (ax, ay), (bx, by), (cx, cy) = (pts[i] for i in t)
        d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
        ux = (
            (ax * ax + ay * ay) * (by - cy)
            + (bx * bx + by * by) * (cy - ay)
            + (cx * cx + cy * cy) * (ay - by)
        ) / d
        uy = (
            (ax * ax + ay * ay) * (cx - bx)
            + (bx * bx + by * by) * (ax - cx)
            + (cx * cx + cy * cy) * (bx - ax)
        ) / d
        return ux, uy, (ax - ux) ** 2 + (ay - uy) ** 2

    first = (n, n + 1, n + 2)
    triangles[first] = circle(first)
    for i in range(n):
        px, py = pts[i]
        bad = [t for t, (ux, uy, r2) in triangles.items() if (px - ux) ** 2 + (py - uy) ** 2 < r2]
        edges: dict[tuple[int, int], int] = {}
        for t in bad:
            for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
                key = (min(e), max(e))
                edges[key] = edges.get(key, 0) + 1
            del triangles[t]
        for (a, b), count in edges.items():
            if count == 1:
                t = (a, b, i)
                triangles[t] = circle(t)
    return [t for t in triangles if max(t) < n]


# --- Y4M ---------------------------------------------------------------------------------------------


def _rgb_to_yuv420(rgb: np.ndarray) -> bytes:
    """BT.601 limited range, chroma averaged over 2×2 blocks (centred siting, as ``C420jpeg``)."""
    f = rgb.astype(np.float32) / 255.0
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    cb = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    cr = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    h, w = y.shape

    def sub(c):
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = [y, sub(cb), sub(cr)]
    return b"".join(np.clip(np.round(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def _yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    yy = (y.astype(np.float32) - 16) * (255 / 219)
    uu = np.repeat(np.repeat(u.astype(np.float32) - 128, 2, axis=0), 2, axis=1) * (255 / 224)
    vv = np.repeat(np.repeat(v.astype(np.float32) - 128, 2, axis=0), 2, axis=1) * (255 / 224)
    r = yy + 1.402 * vv
    g = yy - 0.344136 * uu - 0.714136 * vv
    b = yy + 1.772 * uu
    return np.clip(np.round(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


def _y4m_bytes(frames: list[np.ndarray], fps: int) -> bytes:
    height, width = frames[0].shape[:2]
    header = f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii")
    assert len(header) < 200
    out = io.BytesIO()
    out.write(header)
    encoded: dict[int, bytes] = {}
    for frame in frames:
        key = id(frame)
        if key not in encoded:
            encoded[key] = _rgb_to_yuv420(frame)
        out.write(b"FRAME\n")
        out.write(encoded[key])
    return out.getvalue()


# --- caching -----------------------------------------------------------------------------------------


def _render_settings() -> tuple:
    """The module-level rendering constants (tests may tune them; they are part of the cache key)."""
    names = sorted(n for n, v in globals().items() if n.isupper() and isinstance(v, (int, float, str, tuple)))
    return tuple((n, globals()[n]) for n in names if n != "CACHE_DIR")


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _prune_cache(max_age: float = 7 * 86400) -> None:
    if not CACHE_DIR.is_dir():
        return
    cutoff = time.time() - max_age
    for path in CACHE_DIR.glob("*.y4m"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".partial-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@functools.lru_cache(maxsize=16)
def _clip_jpegs_cached(path: str, stamp: tuple[int, int], size: tuple[int, int], quality: int):
    header, frames = read_y4m(path)
    numerator, _, denominator = header.get("F", "30:1").partition(":")
    fps = int(numerator) // int(denominator or 1)
    jpegs = []
    for frame in frames:
        image = Image.fromarray(frame)
        if image.size != size:
            image = image.resize(size, Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        jpegs.append(buffer.getvalue())
    return jpegs, fps


def _clip_jpegs(path: str, size: tuple[int, int], quality: int):
    stat = os.stat(path)
    return _clip_jpegs_cached(path, (stat.st_mtime_ns, stat.st_size), tuple(size), quality)
