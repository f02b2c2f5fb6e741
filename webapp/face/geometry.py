"""Head pose and perspective from the 68 landmarks: pure numpy, no dlib.

**The generic face.** :data:`MEAN_FACE` is a 3-D face in millimetres for dlib's 68-point layout, made
for this project: x and y are the mean of dlib's landmarks on six frontal portraits (the test photos),
aligned on the outer eye corners, scaled to 90 mm between them and made left-right symmetric; z
(towards the camera) comes from typical facial proportions: the outer eye corners at 0, the nose
tip 32 mm in front of them, the jaw near the ears 45 mm behind. Image axes: x to the image right
(the subject's own left in an unmirrored camera picture), y down.

**Pose** (:func:`head_pose`): a scaled-orthographic fit of the generic face to the landmarks — the
affine map that best projects the 3-D points onto the 2-D ones, brought to the nearest scaled
rotation. At 25–50 cm the perspective of a face is a small correction to that, and the fit is
stable where a full perspective fit with an unknown focal length is not. A face turned by 25°
moves its nose in front of its cheek and its far jaw line behind; a photo warped in 2-D only
shears the inner points over an unchanged outline, which the fit reads as a few degrees at most.

**Perspective** (:func:`perspective_cue`): the widths of features that sit in front (nose base,
mouth, inner eye corners) over the width of the outline near the ears. Under a pinhole camera a
point at depth z is magnified by f / (d − z), so as the face comes closer (d falls) the front
features grow faster than the outline: from 45 cm to 28 cm the ratio rises by several percent,
while every ratio of a flat photo stays what it was. One ratio moves by a few percent from
landmark noise alone, so the cue is the mean log of several. At 480×360 dlib's landmarks read too
little of it to decide (:mod:`webapp.face.scan` reports it and lets the 3-D turn refuse prints).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

_MEAN_XY = [
    (-76.5, 10.1), (-74.8, 29.3), (-71.7, 48.7), (-67.5, 67.7), (-59.8, 85.9), (-48.0, 100.9),
    (-32.8, 113.5), (-16.4, 122.7), (3.0, 125.1), (22.3, 121.5), (38.9, 111.3), (52.7, 97.9),
    (62.7, 81.7), (68.9, 64.3), (71.6, 45.2), (73.3, 26.0), (73.8, 7.2),
    (-59.9, -7.3), (-51.9, -18.1), (-39.0, -22.6), (-24.8, -22.5), (-11.2, -18.7),
    (10.6, -18.7), (23.7, -22.6), (38.1, -22.7), (51.3, -18.2), (59.4, -7.6),
    (-0.1, -4.8), (0.5, 7.5), (1.2, 19.4), (1.9, 32.3),
    (-16.2, 42.1), (-7.6, 44.2), (1.5, 46.1), (10.1, 43.8), (18.2, 41.5),
    (-45.0, 0.0), (-37.5, -5.1), (-28.0, -5.4), (-19.7, 0.1), (-28.5, 1.4), (-37.5, 1.7),
    (19.5, -0.2), (27.8, -5.4), (36.9, -5.0), (45.0, 0.0), (36.9, 1.7), (27.8, 1.1),
    (-32.2, 67.2), (-20.1, 61.2), (-7.3, 58.8), (1.6, 60.3), (11.0, 58.1), (23.5, 60.3), (35.1, 65.8),
    (24.1, 77.2), (11.8, 82.7), (1.6, 84.3), (-8.2, 83.4), (-20.5, 78.0),
    (-27.9, 67.3), (-7.6, 64.3), (1.7, 65.1), (11.3, 63.9), (30.9, 66.1),
    (11.6, 73.9), (1.9, 74.9), (-7.9, 74.2),
]  # fmt: skip

_DEPTH = [
    -45, -42, -36, -28, -18, -8, 2, 8, 10, 8, 2, -8, -18, -28, -36, -42, -45,  # jaw 0-16
    -4, 4, 8, 10, 10, 10, 10, 8, 4, -4,  # brows 17-26
    6, 16, 24, 32,  # nose bridge 27-30 (30: the tip)
    10, 16, 18, 16, 10,  # nose base 31-35
    0, 4, 4, 4, 4, 4, 4, 4, 4, 0, 4, 4,  # eyes 36-47
    4, 10, 14, 16, 14, 10, 4, 10, 13, 14, 13, 10,  # outer lips 48-59
    6, 12, 14, 12, 6, 11, 12, 11,  # inner lips 60-67
]  # fmt: skip

# Left-right pairs of the 68-point layout (the centre line pairs with itself).
MIRROR = (
    [16 - i for i in range(17)]
    + [26, 25, 24, 23, 22, 21, 20, 19, 18, 17]
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)


def _symmetric_face() -> NDArray[np.float64]:
    points = np.array([(x, y, z) for (x, y), z in zip(_MEAN_XY, _DEPTH, strict=True)], dtype=np.float64)
    mirrored: NDArray[np.float64] = points[MIRROR] * np.array([-1.0, 1.0, 1.0])
    return (points + mirrored) / 2


MEAN_FACE = _symmetric_face()

# Width pairs for the perspective cue: front features over the outline near the ears.
FRONT_WIDTHS = ((31, 35), (48, 54), (39, 42), (32, 34))
OUTLINE_WIDTHS = ((1, 15), (2, 14), (0, 16))


@dataclass(frozen=True)
class Pose:
    """Degrees. yaw > 0: the nose turned towards the image right; pitch > 0: chin down; ``residual``:
    the fit's RMS error as a fraction of the face's scale (large when the points are no face)."""

    yaw: float
    pitch: float
    roll: float
    scale: float
    residual: float


def head_pose(points: ArrayLike) -> Pose:
    """The scaled-orthographic fit of :data:`MEAN_FACE` to 68 image points (x right, y down)."""
    image = np.asarray(points, dtype=np.float64)
    if image.shape != (68, 2):
        raise ValueError("head_pose needs 68 (x, y) points")
    model = MEAN_FACE - MEAN_FACE.mean(axis=0)
    seen = image - image.mean(axis=0)
    affine, *_ = np.linalg.lstsq(model, seen, rcond=None)  # model @ affine ≈ seen; affine is 3×2
    u, singular, vt = np.linalg.svd(affine.T, full_matrices=False)  # affine.T: 2×3
    rows = u @ vt  # the nearest pair of orthonormal rows
    scale = float(singular.mean())
    if np.linalg.det(rows[:, :2]) < 0:  # a mirror image is not a pose; keep the right-handed fit
        rows[1] = -rows[1]
    third = np.cross(rows[0], rows[1])
    rotation = np.vstack([rows, third])
    yaw = math.degrees(math.atan2(rotation[0, 2], math.hypot(rotation[0, 0], rotation[0, 1])))
    pitch = math.degrees(math.atan2(-rotation[1, 2], rotation[2, 2]))
    roll = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    fitted = scale * model @ rotation[:2].T
    residual = float(np.sqrt(np.mean(np.sum((fitted - seen) ** 2, axis=1)))) / max(scale * 90.0, 1e-9)
    return Pose(round(yaw, 2), round(pitch, 2), round(roll, 2), round(scale, 4), round(residual, 4))


def _width(points: NDArray[np.float64], pair: tuple[int, int]) -> float:
    return float(np.linalg.norm(points[pair[0]] - points[pair[1]]))


def perspective_cue(points: ArrayLike) -> float:
    """Mean log(front width ÷ outline width): rises as a 3-D face comes closer, flat for a photo."""
    image = np.asarray(points, dtype=np.float64)
    outline = np.mean([_width(image, pair) for pair in OUTLINE_WIDTHS])
    if outline <= 0:
        return 0.0
    fronts = [_width(image, pair) for pair in FRONT_WIDTHS]
    return float(np.mean([math.log(max(front, 1e-6) / outline) for front in fronts]))
