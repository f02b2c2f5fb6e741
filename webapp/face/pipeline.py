"""Pure face functions on decoded RGB images and a loaded :class:`~webapp.face.models.FaceModels`.

Every function takes ``models=`` (default: this process's :func:`~webapp.face.models.get_models`).
dlib holds the GIL: call these in a worker process (:mod:`webapp.face.pool`), never on the event loop.

Results that leave a worker are plain dataclasses of ints, floats, strings, tuples and lists, so
that they pickle cheaply; numpy arrays stay inside the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import Image

from webapp.face.decode import FRAME_FORMATS, MAX_BYTES, MAX_PIXELS, MAX_SIDE, FaceInputError, decode_image
from webapp.face.geometry import Pose, head_pose, perspective_cue
from webapp.face.light import ColourSample, measure
from webapp.face.models import FaceModels, Rectangle, get_models
from webapp.i18n import N_

MIN_FACE_SIZE = 75  # px; the HOG detector finds nothing much smaller without upsampling
DEFAULT_THRESHOLD = 0.5

OK = "ok"
NO_FACE = "no_face"
MULTIPLE_FACES = "multiple_faces"
FACE_TOO_SMALL = "face_too_small"
FACE_NOT_IN_FRAME = "face_not_in_frame"

FACE_MESSAGES = {
    OK: "",
    NO_FACE: N_("未检测到人脸"),
    MULTIPLE_FACES: N_("检测到多张人脸，请确保画面中只有您一个人"),
    FACE_TOO_SMALL: N_("人脸太小，请靠近一些"),
    FACE_NOT_IN_FRAME: N_("人脸不完整，请将整张脸置于画面中"),
}

# 68-point layout (iBUG 300-W): jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, lips 48-67.
RIGHT_EYE = (36, 37, 38, 39, 40, 41)  # subject's right eye, image left
LEFT_EYE = (42, 43, 44, 45, 46, 47)
INNER_LIPS = (60, 61, 62, 63, 64, 65, 66, 67)
NOSE_TIP = 30
JAW_RIGHT = 2  # image left
JAW_LEFT = 14  # image right
UPPER_FACE = tuple(range(17, 48))  # brows, nose and eyes: they stay where they are when the mouth opens

# dlib's HOG box, in terms of the upper face (measured on rendered heads of six photos, 30-60 cm, yaw
# within ±20°): its side is 1.10 × the width between jaw points 0 and 16, its centre 0.195 of that
# width below the centre of the upper face.
UPPER_FACE_BOX_SIDE = 1.10
UPPER_FACE_BOX_DROP = 0.195


@dataclass(frozen=True)
class Box:
    """A face rectangle in dlib's convention (``right``/``bottom`` inclusive); may exceed the image."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def size(self) -> int:
        return min(self.width, self.height)

    def to_dlib(self) -> Rectangle:
        import dlib

        rect: Rectangle = dlib.rectangle(self.left, self.top, self.right, self.bottom)
        return rect

    @classmethod
    def from_dlib(cls, rect: Rectangle) -> Box:
        return cls(int(rect.left()), int(rect.top()), int(rect.right()), int(rect.bottom()))

    def inside(self, width: int, height: int, margin: int = 0) -> bool:
        """True when the box keeps more than ``margin`` px from every image border."""
        return (
            self.left > margin
            and self.top > margin
            and self.right < width - 1 - margin
            and self.bottom < height - 1 - margin
        )


@dataclass(frozen=True)
class Detection:
    """The outcome of :func:`detect`: a status code and what was found.

    ``landmarks`` (68×2 float array) is filled when the status is ``ok`` (it is needed to decide
    that the face is fully in frame), so callers need not compute them again.
    """

    status: str
    boxes: tuple[Box, ...] = ()
    scores: tuple[float, ...] = ()
    image_size: tuple[int, int] = (0, 0)  # (width, height)
    landmarks: NDArray[np.float64] | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def box(self) -> Box | None:
        return self.boxes[0] if len(self.boxes) == 1 else None

    @property
    def message(self) -> str:
        return FACE_MESSAGES[self.status]


def _image_size(image: NDArray[np.uint8]) -> tuple[int, int]:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("expected an RGB uint8 array of shape (height, width, 3)")
    return int(image.shape[1]), int(image.shape[0])


def find_faces(image: NDArray[np.uint8], *, models: FaceModels | None = None) -> list[tuple[Box, float]]:
    """All HOG detections (upsample 0), best score first. On the grey image: HOG on colour takes each
    pixel's strongest channel gradient, a quarter more work for no better faces (measured on the scan's
    streams: the same faces, fewer doubled boxes)."""
    models = models or get_models()
    _image_size(image)
    grey = np.asarray(Image.fromarray(image).convert("L")) if image.ndim == 3 else image
    rects, scores, _ = models.detector.run(grey, 0, 0.0)
    found = [(Box.from_dlib(rect), float(score)) for rect, score in zip(rects, scores, strict=True)]
    return sorted(found, key=lambda item: -item[1])


SAME_FACE_OVERLAP = 0.25  # a weaker box this much inside a stronger one is the same face


def _distinct(found: list[tuple[Box, float]]) -> list[tuple[Box, float]]:
    """The detections that are separate faces: a weaker box lying largely on a stronger one is the same
    face seen twice (HOG does this on a chin or a turned cheek), not a second person beside it."""
    kept: list[tuple[Box, float]] = []
    for box, score in found:  # best first
        if not any(_covered(box, k) >= SAME_FACE_OVERLAP for k, _s in kept):
            kept.append((box, score))
    return kept


def _covered(box: Box, by: Box) -> float:
    """The share of ``box``'s area that ``by`` covers."""
    width = min(box.right, by.right) - max(box.left, by.left) + 1
    height = min(box.bottom, by.bottom) - max(box.top, by.top) + 1
    return max(0, width) * max(0, height) / (box.width * box.height)


def detect(
    image: NDArray[np.uint8],
    *,
    min_face_size: int = MIN_FACE_SIZE,
    border_margin: int = 0,
    models: FaceModels | None = None,
) -> Detection:
    """HOG detection without upsampling, classified.

    Order: ``no_face``; ``multiple_faces``; ``face_not_in_frame`` (box touching or beyond the
    border); ``face_too_small`` (box side below ``min_face_size``); ``face_not_in_frame``
    (a landmark outside the image); ``ok``.
    """
    models = models or get_models()
    width, height = _image_size(image)
    found = _distinct(find_faces(image, models=models))
    boxes = tuple(box for box, _ in found)
    scores = tuple(score for _, score in found)
    size = (width, height)
    if not found:
        return Detection(NO_FACE, image_size=size)
    if len(found) > 1:
        return Detection(MULTIPLE_FACES, boxes, scores, size)
    box = boxes[0]
    if not box.inside(width, height, border_margin):
        return Detection(FACE_NOT_IN_FRAME, boxes, scores, size)
    if box.size < min_face_size:
        return Detection(FACE_TOO_SMALL, boxes, scores, size)
    points = landmarks68(image, box, models=models)
    xs, ys = points[:, 0], points[:, 1]
    if xs.min() < 0 or ys.min() < 0 or xs.max() > width - 1 or ys.max() > height - 1:
        return Detection(FACE_NOT_IN_FRAME, boxes, scores, size, points)
    return Detection(OK, boxes, scores, size, points)


def landmarks68(
    image: NDArray[np.uint8], box: Box, *, models: FaceModels | None = None
) -> NDArray[np.float64]:
    """The 68 landmarks as a float array of shape (68, 2), (x, y) in image pixels."""
    models = models or get_models()
    shape = models.landmarks68(image, box.to_dlib())
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def upper_face_box(points: NDArray[np.float64]) -> Box:
    """A box for refitting the landmarks, placed by the upper face alone.

    The HOG detector's box comes in steps (its image pyramid: 125, 150, 180, 216 px …) and at some
    distances steps down when the jaw drops; the landmarks fitted in the smaller box squash the open
    mouth (an open mouth then read +0.08 instead of +0.3). A box derived from the brows, eyes and nose
    is continuous and does not move with the mouth.
    """
    width = float(np.linalg.norm(points[0] - points[16]))
    centre = points[list(UPPER_FACE)].mean(axis=0) + np.array([0.0, UPPER_FACE_BOX_DROP * width])
    half = UPPER_FACE_BOX_SIDE * width / 2
    return Box(
        round(centre[0] - half), round(centre[1] - half), round(centre[0] + half), round(centre[1] + half)
    )


def landmarks5(
    image: NDArray[np.uint8], box: Box, *, models: FaceModels | None = None
) -> NDArray[np.float64]:
    models = models or get_models()
    shape = models.landmarks5(image, box.to_dlib())
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def embedding(image: NDArray[np.uint8], box: Box, *, models: FaceModels | None = None) -> NDArray[np.float64]:
    """The 128-d descriptor (float64) of the face in ``box``, aligned with the 5-point predictor.

    ``compute_face_descriptor`` with a 5-point shape extracts the same 150×150 chip as
    ``dlib.get_face_chip`` (padding 0.25) and runs the ResNet on it; no jitter.
    """
    models = models or get_models()
    _image_size(image)
    shape = models.landmarks5(image, box.to_dlib())
    return np.array(models.recognizer.compute_face_descriptor(image, shape), dtype=np.float64)


# --- figures for liveness -----


def _dist(points: NDArray[np.float64], a: int, b: int) -> float:
    return float(np.linalg.norm(points[a] - points[b]))


def _eye_ratio(points: NDArray[np.float64], eye: tuple[int, ...]) -> float:
    p1, p2, p3, p4, p5, p6 = eye
    width = _dist(points, p1, p4)
    if width <= 0:
        return 0.0
    return (_dist(points, p2, p6) + _dist(points, p3, p5)) / (2.0 * width)


def eye_aspect_ratio(points: NDArray[np.float64]) -> float:
    """Mean eye aspect ratio of both eyes (Soukupová & Čech): ~0.25-0.35 open, < ~0.2 closed."""
    return (_eye_ratio(points, RIGHT_EYE) + _eye_ratio(points, LEFT_EYE)) / 2.0


def mouth_aspect_ratio(points: NDArray[np.float64]) -> float:
    """Inner-lip opening: mean of the three vertical gaps (61-67, 62-66, 63-65) over the width 60-64.

    About 0 with the mouth closed, rising to ~0.5-1 wide open.
    """
    width = _dist(points, 60, 64)
    if width <= 0:
        return 0.0
    return (_dist(points, 61, 67) + _dist(points, 62, 66) + _dist(points, 63, 65)) / (3.0 * width)


def yaw_cue(points: NDArray[np.float64]) -> float:
    """Where the nose tip (30) sits between jaw points 2 and 14, mapped to [-1, 1]; 0 is frontal.

    The nose tip is projected onto the line 2→14 (so head roll does not count). Negative: the nose
    is nearer jaw point 2 (the image's left side); positive: nearer point 14 (image right). In an
    unmirrored camera image, a person turning to their own right moves the nose to the image left.
    """
    a, b, nose = points[JAW_RIGHT], points[JAW_LEFT], points[NOSE_TIP]
    axis = b - a
    length2 = float(axis @ axis)
    if length2 <= 0:
        return 0.0
    t = float((nose - a) @ axis) / length2
    return float(np.clip(2.0 * t - 1.0, -1.0, 1.0))


# --- comparison -----


def distance(a: ArrayLike, b: ArrayLike) -> float:
    """Euclidean distance between two 128-d descriptors (lists or arrays)."""
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if va.shape != (128,) or vb.shape != (128,):
        raise ValueError("face descriptors must have 128 values")
    return float(np.linalg.norm(va - vb))


def compare(a: ArrayLike, b: ArrayLike, threshold: float = DEFAULT_THRESHOLD) -> tuple[bool, float]:
    """``(match, distance)``: a match when the distance is at most ``threshold``."""
    d = distance(a, b)
    return d <= threshold, d


# --- picklable results for worker processes -----


@dataclass(frozen=True)
class EmbedResult:
    """One image → exactly one usable face → its descriptor, or the refusal (``code`` + ``message``)."""

    code: str
    message: str = ""
    embedding: tuple[float, ...] | None = None
    box: Box | None = None
    image_size: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        return self.code == OK

    @property
    def vector(self) -> NDArray[np.float64]:
        if self.embedding is None:
            raise ValueError(f"no embedding: {self.code}")
        return np.asarray(self.embedding, dtype=np.float64)


@dataclass(frozen=True)
class FrameAnalysis:
    """Per-frame figures for liveness: detection outcome, box, 68 landmarks and the three cues."""

    code: str
    message: str = ""
    box: Box | None = None
    image_size: tuple[int, int] | None = None
    landmarks: tuple[tuple[float, float], ...] | None = None
    eye_ratio: float | None = None
    mouth_ratio: float | None = None
    yaw: float | None = None
    pose: Pose | None = None  # the 3-D fit (webapp.face.geometry)
    cue: float | None = None  # the perspective cue (webapp.face.geometry)
    colour: ColourSample | None = None  # face, background and frame colour (webapp.face.light)

    @property
    def ok(self) -> bool:
        return self.code == OK


T = TypeVar("T")


def known(figure: T | None) -> T:
    """A figure that is set whenever its result is ``ok`` (a usable frame's box, pose, ratios …; a found
    face's box and landmarks), for code that has checked that and reads it."""
    if figure is None:
        raise ValueError("the figure of a usable result is missing")
    return figure


def embed_array(
    image: NDArray[np.uint8], *, min_face_size: int = MIN_FACE_SIZE, models: FaceModels | None = None
) -> EmbedResult:
    models = models or get_models()
    found = detect(image, min_face_size=min_face_size, models=models)
    if not found.ok:
        return EmbedResult(found.status, found.message, box=found.box, image_size=found.image_size)
    vector = embedding(image, known(found.box), models=models)
    return EmbedResult(OK, "", tuple(float(v) for v in vector), found.box, found.image_size)


def embed_bytes(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    max_side: int = MAX_SIDE,
    min_face_size: int = MIN_FACE_SIZE,
    models: FaceModels | None = None,
) -> EmbedResult:
    """Decode + detect + embed; input errors come back as a refusal, not as an exception."""
    try:
        image = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels, max_side=max_side)
    except FaceInputError as error:
        return EmbedResult(error.code, error.message)
    return embed_array(image, min_face_size=min_face_size, models=models)


def analyze_array(
    image: NDArray[np.uint8], *, min_face_size: int = MIN_FACE_SIZE, models: FaceModels | None = None
) -> FrameAnalysis:
    found = detect(image, min_face_size=min_face_size, models=models)
    if not found.ok:
        return FrameAnalysis(found.status, found.message, box=found.box, image_size=found.image_size)
    points = known(found.landmarks)
    refitted = landmarks68(image, upper_face_box(points), models=models)
    return FrameAnalysis(
        OK,
        "",
        found.box,
        found.image_size,
        tuple((float(x), float(y)) for x, y in points),
        eye_aspect_ratio(points),
        mouth_aspect_ratio(refitted),  # see upper_face_box
        yaw_cue(points),
        head_pose(points),
        perspective_cue(points),
        measure(image, points, known(found.box)),
    )


def analyze_bytes(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    max_side: int = MAX_SIDE,
    min_face_size: int = MIN_FACE_SIZE,
    models: FaceModels | None = None,
) -> FrameAnalysis:
    try:
        image = decode_image(
            data, max_bytes=max_bytes, max_pixels=max_pixels, max_side=max_side, formats=FRAME_FORMATS
        )
    except FaceInputError as error:
        return FrameAnalysis(error.code, error.message)
    return analyze_array(image, min_face_size=min_face_size, models=models)
