"""A simulated live face in front of a webcam: a face photo on a 3-D head, screen-lit, camera-captured.

This is the test stand-in for "a live person in front of a webcam". It is equally the adaptive
real-time renderer an attacker could inject as a virtual camera: given a single photo of the victim it
answers any instruction (turn, approach, blink, open the mouth) within a frame and reflects the colour
of the screen light the server asks for. The liveness check cannot tell the two apart, by design.

The model
---------
**Head** (:class:`Head`). The photo's face is found with dlib (68 landmarks) and resampled into a
texture in head-frame millimetres: the outer eye corners are made level and 90 mm apart (a real
adult face), origin midway between them, x to the image right, y down, depth w towards the camera.
Every landmark gets a depth from :data:`LANDMARK_DEPTH_MM` (a generic adult face, 0 = the plane of
the closed eyelids, nose tip +25 mm, chin 0, the face outline near the ears about −80 mm). Extra
control points give the cheeks a convex profile, the forehead and skull a dome falling to −100 mm at
the head's outline (an upper half-ellipse over the eyes joined to the jaw line pushed out a little,
wider at the ears), and a neck below the chin. The depth over the whole texture is the piecewise-linear
interpolation over a Delaunay mesh of all those points, smoothed. Beyond the outline the photo is not
used (alpha 0); the neck fades out towards a simple torso. Turning the head therefore shows its sides
stretching and the far cheek compressing behind the nose — a head, not a card. If the photo shows
the head turned, the turn (estimated from the landmarks) is taken back, so yaw 0 faces the camera.
``flat=True`` maps the same photo crop (face, hair, the photo's own background) onto a plane: a
printed photo held up.

**Rendering** (:meth:`Head.render`). A pinhole camera with a 60° horizontal field of view; the head
rotates about a pivot in the upper neck; a wall 150 cm from the camera and a torso 10 cm behind the
face make the background. The surface is a 1 mm grid of points, projected into a z-buffer (each
point covers the 2×2 pixels around it; a point of a surface behind that shows through a gap is
dropped; remaining holes take a neighbour's point). Each pixel's texture position is then refined
from its point through the local Jacobian of the projection, so the texture is sampled exactly
(bilinear) and outlines come out anti-aliased. Blinks are a lid sliding down over each eye
(:func:`_close_eyes`), mouth openings ``tests/support/clips.py``'s piecewise-affine jaw drop, both
texture warps pre-computed at a few strengths and applied before the mapping.

**Light**, in linear RGB: pixel = albedo × (ambient + screen). The photo is taken as the albedo (its
own lighting stays baked in). The ambient light is a warm white room light; the screen (at the
camera) adds ``colour × screen_strength × k / d² × cos θ`` with d the distance from the screen to the
surface point and θ the angle between the surface normal and the direction to the screen. ``k`` puts
a white screen at 12 % of the ambient level on a face at 45 cm and at ~30 % at 28 cm; the wall at
150 cm gets 9 % of the face's share, the torso its own. The result is converted to sRGB. Between a
blue (120, 150, 255) and a yellow (255, 220, 110) screen, the face's R/B over the background's moves
by ~15 % at 45 cm and ~40 % at 28 cm (means in linear light; ~7 % and ~17 % on sRGB code values).

**Camera** (:class:`Camera`). Gray-world white balance and auto exposure whose gains come from the
previous frames and move a fraction of the way to each new target (so they lag the scene, like a
webcam's), Gaussian sensor noise and JPEG.

What dlib makes of it (``tests/test_head_renderer.py`` prints the figures): one face with its inner
landmarks within ~2-9 % of an eye width of where they are drawn, at 45 and 28 cm and yaw ±25°;
HOG boxes of 125 px at 45 cm; blink and mouth ratios that move as a person's do. Two caveats: up
close and turned, photos that show teeth make the HOG detector report a second, weak box inside
the face (``webapp.face.pipeline`` keeps only the stronger); and dlib's jaw points follow its box
(which comes in steps of 1.2) more than the face's outline, so it reads only a fraction of the
perspective drawn.

Limits
------
- One photo: no back of the head, ears and hair are the photo's, and whatever of the photo's
  background lies inside the head outline travels with the head. The skull is a generic shape; the
  face is the photo's face on a generic depth table, not the person's own geometry. A photo of a
  turned head (obama-2, ~19°) is stretched on its hidden side when turned the other way.
- The photo's lighting is baked into the albedo; only the screen light reacts to the surface normal.
  No cast shadows, no specular highlights, no subsurface scattering.
- Self-occlusion is handled (z-buffer) but the surface is a height field over the frontal photo, so
  overhangs (under the chin, behind the ears) do not exist; yaw beyond ~35° or pitch beyond ~20°
  starts to look wrong.
- Blink and mouth are 2-D texture warps (the lids and jaw do not move in depth), quantised to
  :data:`EXPRESSION_LEVELS` steps.
- The camera has no motion blur, rolling shutter, lens distortion or compression artefacts other
  than JPEG's.
"""

from __future__ import annotations

import copy
import functools
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tests.support import clips

# --- geometry constants (millimetres unless stated) ----------------------------------------------------

EYE_WIDTH_MM = 90.0  # outer eye corner to outer eye corner of the generic adult face
TEXTURE_PX_PER_MM = 2.0
GRID_MM = 1.0  # spacing of the surface points that are projected
TEXTURE_BOX = (-120.0, -150.0, 120.0, 200.0)  # left, top, right, bottom around the eye centre
PIVOT = (0.0, 50.0, -90.0)  # the head turns about this point (upper neck, behind the ears)
AIM_Y = 45.0  # the point this far below the eye line is on the optical axis at rest
HORIZONTAL_FOV_DEG = 60.0
WALL_DISTANCE = 1500.0
TORSO_BEHIND = 100.0  # torso plane behind the eye plane
EXPRESSION_LEVELS = 6  # blink and mouth strengths are rounded to 1/6
BLINK_SHUT = 0.9  # how far the lid travels at blink = 1: dlib reads a nearly shut eye most reliably
LID_BLEND = 0.75  # how much of a shut lid is plain skin rather than stretched photo
MOUTH_OPEN = 0.8  # inner-lip opening ÷ mouth width at mouth = 1 (a wide-open mouth)

# Generic face depth per landmark (iBUG 68-point layout), mm towards the camera from the plane of
# the closed eyelids. Hand-set from adult proportions; symmetric.
LANDMARK_DEPTH_MM = (
    # jaw 0-16: face outline from the ear on the image left, round the chin (8), to the other ear
    -82, -76, -66, -54, -41, -28, -16, -6, 0, -6, -16, -28, -41, -54, -66, -76, -82,
    # brows 17-21 (image left, outer → inner) and 22-26 (inner → outer)
    -18, -8, -1, 3, 5, 5, 3, -1, -8, -18,
    # nose ridge 27-30 (root → tip), nose base 31-35 (nostril edge, subnasale in the middle)
    10, 15, 20, 25, 8, 10, 12, 10, 8,
    # eye on the image left 36-41: outer corner, upper lid ×2, inner corner, lower lid ×2
    -9, -1, 0, -5, -2, -3,
    # eye on the image right 42-47: inner corner, upper lid ×2, outer corner, lower lid ×2
    -5, 0, -1, -9, -3, -2,
    # outer lips 48-59: corner, upper lip (51 its middle), corner, lower lip (57 its middle)
    -8, 3, 9, 11, 9, 3, -8, 0, 6, 8, 6, 0,
    # inner lips 60-67
    -6, 7, 9, 7, -6, 5, 7, 5,
)  # fmt: skip
NOSE_TIP = 30
RIM_DEPTH = -100.0  # depth of the head's outline (the widest part of the skull)
# How far the jaw outline is pushed out to make the head outline (ears at the top of the jaw).
OUTLINE_PUSH = (12, 11, 8, 5, 4, 4, 4, 4, 5, 4, 4, 4, 4, 5, 8, 11, 12)

# --- light ---------------------------------------------------------------------------------------------

AMBIENT_RGB = (1.0, 0.92, 0.80)  # warm white room light, linear
SCREEN_AT_45 = 0.12  # white screen light on a face at 45 cm, facing it, relative to the ambient
SCREEN_K = SCREEN_AT_45 * 450.0**2  # × colour / d² (d in mm)
RENDER_GAIN = 0.85  # linear scene value → linear output (headroom for bright clothes)
WALL_RGB = (0.40, 0.38, 0.34)  # linear albedo of the wall (a light warm grey)
CAMERA_TARGET = 0.17  # mean linear luminance the auto exposure aims for (sRGB ~115)

_FILL_PASSES = 2
_OCCLUSION_MM = 10.0  # a point this much behind most of its neighbours is taken as hidden
_MAX_EXTRAPOLATION_MM = 4.0
_KEY_BITS = 24
_EMPTY = np.iinfo(np.int64).max


# --- colour --------------------------------------------------------------------------------------------


def _srgb_to_linear(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(v: np.ndarray) -> np.ndarray:
    v = np.clip(np.asarray(v, dtype=np.float64), 0.0, 1.0)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)


_DECODE_STEPS = 8  # sub-steps per 8-bit code in the float sRGB → linear table
_SRGB8_TO_LINEAR = _srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)
_SRGBF_TO_LINEAR = _srgb_to_linear(np.arange(255 * _DECODE_STEPS + 2) / (255.0 * _DECODE_STEPS)).astype(
    np.float32
)
_ENCODE_STEPS = 16383
_LINEAR_TO_SRGB8 = np.round(_linear_to_srgb(np.arange(_ENCODE_STEPS + 1) / _ENCODE_STEPS) * 255).astype(
    np.uint8
)
_LINEAR_TO_SRGBF = (_linear_to_srgb(np.arange(_ENCODE_STEPS + 1) / _ENCODE_STEPS) * 255).astype(np.float32)


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """Linear-light float32 values (0-1) of an sRGB uint8 image."""
    return _SRGB8_TO_LINEAR[np.asarray(image, dtype=np.uint8)]


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """sRGB uint8 image of linear-light values (clipped to 0-1)."""
    return _encode8(np.asarray(linear, dtype=np.float32))


def _encode8(linear: np.ndarray) -> np.ndarray:
    index = np.clip(linear * _ENCODE_STEPS + 0.5, 0, _ENCODE_STEPS).astype(np.int32)
    return _LINEAR_TO_SRGB8[index]


# --- pose ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pose:
    """Where the head is and what the face does.

    ``yaw`` + = the subject turns to their own left (the nose moves to the image right in an
    unmirrored camera picture); ``pitch`` + = chin up; ``roll`` + = clockwise in the picture (the top
    of the head moves to the image right). Degrees. ``distance``: cm from the camera to the nose tip
    (at rest). ``blink`` 0 open … 1 shut, ``mouth`` 0 closed … 1 wide open. ``x``/``y``: cm sideways
    (+ = image right) and vertical (+ = down) offset of the head.
    """

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    distance: float = 45.0
    blink: float = 0.0
    mouth: float = 0.0
    x: float = 0.0
    y: float = 0.0


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """3×3 rotation acting on head-frame (x right, y down, w towards the camera) vectors."""
    a, b, c = (math.radians(v) for v in (yaw, pitch, roll))
    turn = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    nod = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    tilt = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return tilt @ turn @ nod


# --- the head --------------------------------------------------------------------------------------------


@dataclass
class _View:
    """Per output size: intrinsics and the pose-independent background."""

    width: int
    height: int
    focal: float
    cx: float
    cy: float
    wall: np.ndarray  # (H, W, 3) linear albedo
    wall_screen: np.ndarray  # (H, W, 1) cos θ / d² of the wall as the screen (at the camera) lights it
    columns: np.ndarray  # (W,) pixel x - cx
    rows: np.ndarray  # (H,) pixel y - cy


class Head:
    """A face photo on a generic 3-D head (or, ``flat=True``, on a plane: a printed photo).

    Everything that does not depend on the pose is computed here (0.5-0.9 s): the texture, the
    surface points with their normals, and the blink / mouth texture variants (for a print they are
    made on first use, 30-50 ms each). ``photo_yaw`` is the head's turn in the photo (degrees,
    estimated from the landmarks); rendering turns the head back by it, so that ``Pose(yaw=0)`` looks
    into the camera. A print has no torso: it hides whoever holds it.
    """

    def __init__(self, photo: str | Path, *, flat: bool = False) -> None:
        self.photo = Path(photo)
        self.flat = flat
        image = _load_photo(self.photo)
        texture, coverage, landmarks, box = _make_texture(image)
        self.landmarks = landmarks  # (68, 2) texture pixels
        left, top, _, _ = TEXTURE_BOX
        self.landmarks_mm = landmarks / TEXTURE_PX_PER_MM + np.array([left, top])
        rows, cols = coverage.shape
        grid_x = left + np.arange(0, cols / TEXTURE_PX_PER_MM, GRID_MM)
        grid_y = top + np.arange(0, rows / TEXTURE_PX_PER_MM, GRID_MM)
        # The photo's own head turn (a printed photo is what it is): rendering adds it back, so that
        # yaw 0 faces the camera.
        self.photo_yaw = 0.0 if flat else _photo_yaw(self.landmarks_mm)
        if flat:
            alpha = _feather(coverage, 1)
            depth = np.zeros((len(grid_y), len(grid_x)))
            self._torso_rgb = None
        else:
            alpha, depth = _head_shape(self.landmarks_mm, coverage, grid_x, grid_y)
            alpha = alpha * coverage
            self._torso_rgb = _torso_colour(texture, coverage, self.landmarks_mm)
        self._alpha = np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)
        self._build_points(depth, grid_x, grid_y)
        # Expression variants: the texture with the eyes shut / mouth open to k / EXPRESSION_LEVELS.
        self._base = texture
        self._mesh = clips._Mesh(texture, landmarks, box)
        # clips.py's jaw drop moves the lower lip by clips.MOUTH_DROP × the face box per unit; the
        # photo's mouth may already be open (obama-2 speaks), so drop what is missing to MOUTH_OPEN.
        lips = landmarks[60:68]
        width = float(np.linalg.norm(lips[4] - lips[0]))
        gap = float(np.mean([np.linalg.norm(lips[i] - lips[8 - i]) for i in (1, 2, 3)]))
        self._jaw_drop = min(max((MOUTH_OPEN * width - gap) / (clips.MOUTH_DROP * box.height), 0.5), 1.4)
        self._textures: dict[tuple[int, int], np.ndarray] = {(0, 0): self._rgba(texture, self._alpha)}
        if not flat:  # a live face blinks and speaks at once; a print's variants are made on demand
            for level in range(1, EXPRESSION_LEVELS + 1):
                self._texture(level, 0)
                self._texture(0, level)
        self._views: dict[tuple[int, int], _View] = {}

    # -- construction --

    def _build_points(self, depth: np.ndarray, grid_x: np.ndarray, grid_y: np.ndarray) -> None:
        smooth = _blur(depth, 2, passes=2)
        # The rendered surface's depth at each landmark (the table's, smoothed); the nose tip sets
        # where ``Pose.distance`` is measured to.
        rows = np.clip(
            np.round((self.landmarks_mm[:, 1] - grid_y[0]) / GRID_MM).astype(int), 0, len(grid_y) - 1
        )
        cols = np.clip(
            np.round((self.landmarks_mm[:, 0] - grid_x[0]) / GRID_MM).astype(int), 0, len(grid_x) - 1
        )
        self._landmark_depth = smooth[rows, cols]
        self.nose_depth = float(self._landmark_depth[NOSE_TIP])
        grad_y, grad_x = np.gradient(smooth, GRID_MM)
        # Normals from a smoother surface: the piecewise-linear facets would show in the screen light.
        normal_y, normal_x = np.gradient(_blur(depth, 4, passes=2), GRID_MM)
        alpha_grid = self._alpha[
            np.clip(
                np.round((grid_y - TEXTURE_BOX[1]) * TEXTURE_PX_PER_MM).astype(int),
                0,
                self._alpha.shape[0] - 1,
            )
        ][
            :,
            np.clip(
                np.round((grid_x - TEXTURE_BOX[0]) * TEXTURE_PX_PER_MM).astype(int),
                0,
                self._alpha.shape[1] - 1,
            ),
        ]
        valid = _grow(alpha_grid > 2, 2)
        gy, gx = np.nonzero(valid)
        x, y, w = grid_x[gx], grid_y[gy], smooth[gy, gx]
        pivot = np.array(PIVOT)
        self._points = (np.stack([x, y, w], axis=1) - pivot).astype(np.float32)
        normals = np.stack([-normal_x[gy, gx], -normal_y[gy, gx], np.ones_like(x)], axis=1)
        self._normals = (normals / np.linalg.norm(normals, axis=1, keepdims=True)).astype(np.float32)
        self._slopes = np.stack([grad_x[gy, gx], grad_y[gy, gx]], axis=1).astype(np.float32)
        self._tex = np.stack(
            [(x - TEXTURE_BOX[0]) * TEXTURE_PX_PER_MM, (y - TEXTURE_BOX[1]) * TEXTURE_PX_PER_MM], axis=1
        ).astype(np.float32)

    @staticmethod
    def _rgba(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        rgba = np.concatenate([rgb, alpha[..., None]], axis=2)
        return np.ascontiguousarray(rgba).reshape(-1, 4)

    def _texture(self, blink_level: int, mouth_level: int) -> np.ndarray:
        """The (H·W, 4) RGBA texture with the eyes shut and the mouth open to the given levels."""
        key = (blink_level, mouth_level)
        found = self._textures.get(key)
        if found is not None:
            return found
        rgb = self._base
        if blink_level:
            rgb = _close_eyes(rgb, self.landmarks, BLINK_SHUT * blink_level / EXPRESSION_LEVELS)
        alpha = self._alpha
        if mouth_level:
            # clips.py's jaw drop (lower lip, chin and jaw move down, the mouth is darkened), as far
            # as this photo's mouth needs (see __init__); the outline (alpha) follows the chin down.
            amount = self._jaw_drop * mouth_level / EXPRESSION_LEVELS
            mesh = copy.copy(self._mesh)
            mesh.base = rgb.astype(np.float32)
            rgb = mesh.render("mouth", amount)
            source = np.vstack([mesh.points, mesh.crease, mesh.fixed])
            target = np.vstack([mesh._target("mouth", amount), mesh.crease, mesh.fixed])
            moved = clips._warp(alpha[..., None].astype(np.float32), source, target, mesh.triangles)
            alpha = np.clip(moved[..., 0] + 0.5, 0, 255).astype(np.uint8)
        if blink_level and mouth_level and len(self._textures) > 4 * EXPRESSION_LEVELS:
            del self._textures[next(k for k in self._textures if k[0] and k[1])]  # keep a few combinations
        self._textures[key] = texture = self._rgba(rgb, alpha)
        return texture

    def _view(self, size: tuple[int, int]) -> _View:
        view = self._views.get(size)
        if view is None:
            self._views[size] = view = _make_view(size)
        return view

    # -- rendering --

    def render(
        self,
        pose: Pose,
        *,
        size: tuple[int, int] = (480, 360),
        screen: tuple[int, int, int] | None = (255, 255, 255),
        ambient: float = 1.0,
        screen_strength: float = 1.0,
    ) -> np.ndarray:
        """The scene as an RGB uint8 (H, W, 3) image, before any camera effect.

        ``size`` is (width, height). ``screen`` is the sRGB colour the screen shows (``None``: no
        screen light), ``screen_strength`` scales its light and ``ambient`` the room light.
        """
        view = self._view((int(size[0]), int(size[1])))
        ambient_rgb = np.array(AMBIENT_RGB, dtype=np.float32) * ambient
        if screen is None:
            screen_rgb = np.zeros(3, dtype=np.float32)
        else:
            screen_rgb = _SRGB8_TO_LINEAR[np.clip(np.asarray(screen, dtype=np.int64), 0, 255)] * (
                SCREEN_K * screen_strength
            )
        # Background: the wall, then the torso.
        out = view.wall * (ambient_rgb + screen_rgb * view.wall_screen)
        shift_x, shift_y = 10.0 * pose.x, 10.0 * pose.y
        eye_plane = 10.0 * pose.distance + self.nose_depth  # camera → eye plane at rest
        if self._torso_rgb is not None:
            self._draw_torso(out, view, eye_plane + TORSO_BEHIND, shift_x, shift_y, ambient_rgb, screen_rgb)
        self._draw_head(out, view, pose, eye_plane, shift_x, shift_y, ambient_rgb, screen_rgb)
        return _encode8(out * RENDER_GAIN)

    def _draw_torso(self, out, view, depth, shift_x, shift_y, ambient_rgb, screen_rgb) -> None:
        chin = float(self.landmarks_mm[8, 1])
        top = chin + 40.0  # neck base, in the torso plane, below the eye line
        scale = view.focal / depth  # px per mm in the torso plane
        first = int(max(0, math.floor(view.cy + (top - AIM_Y + shift_y) * scale - 2)))
        if first >= view.height:
            return
        xs = view.columns[None, :] / scale - shift_x  # mm, torso plane, relative to the head centre line
        ys = view.rows[first:, None] / scale + AIM_Y - shift_y
        ax = np.abs(xs - float(self.landmarks_mm[[0, 16], 0].mean()))
        edge = top + 0.0009 * ax**2 + 0.02 * np.maximum(0.0, ax - 150.0) ** 2
        inside = np.minimum((ys - edge) * scale + 0.5, (205.0 + 0.15 * (ys - top) - ax) * scale + 0.5)
        alpha = np.clip(inside, 0.0, 1.0)[..., None].astype(np.float32)
        shade = (1.0 - 0.25 * np.clip((ys - top) / 250.0, 0, 1))[..., None].astype(np.float32)
        light = ambient_rgb + screen_rgb / depth**2
        colour = self._torso_rgb * light * shade
        region = out[first:]
        region += alpha * (colour - region)

    def _draw_head(self, out, view, pose, eye_plane, shift_x, shift_y, ambient_rgb, screen_rgb) -> None:
        width, height, focal = view.width, view.height, view.focal
        rotation = _rotation(pose.yaw - self.photo_yaw, pose.pitch, pose.roll).astype(np.float32)
        turned = self._points @ rotation.T
        X = turned[:, 0] + (PIVOT[0] + shift_x)
        Y = turned[:, 1] + (PIVOT[1] - AIM_Y + shift_y)
        Z = (eye_plane - PIVOT[2]) - turned[:, 2]
        normals = self._normals @ rotation.T
        distance = np.sqrt(X * X + Y * Y + Z * Z)
        facing = (Z * normals[:, 2] - X * normals[:, 0] - Y * normals[:, 1]) / distance
        u = X * (focal / Z) + view.cx
        v = Y * (focal / Z) + view.cy
        # Each point covers the 2×2 pixels around it (points are up to ~2 px apart up close).
        ix = np.floor(u).astype(np.int32)
        iy = np.floor(v).astype(np.int32)
        keep = np.flatnonzero(
            (facing > 0.0) & (Z > 10.0) & (ix >= 0) & (ix < width - 1) & (iy >= 0) & (iy < height - 1)
        )
        if len(keep) == 0:
            return
        ix, iy = ix[keep], iy[keep]
        pad = _FILL_PASSES
        x0, x1 = max(0, int(ix.min()) - pad), min(width, int(ix.max()) + 2 + pad)
        y0, y1 = max(0, int(iy.min()) - pad), min(height, int(iy.max()) + 2 + pad)
        bw, bh = x1 - x0, y1 - y0
        # z-buffer: the key orders by depth (1/16 mm), its low bits name the point.
        keys = (np.round(Z[keep] * 16).astype(np.int64) << _KEY_BITS) | np.arange(len(keep), dtype=np.int64)
        zbuf = np.full(bh * bw, _EMPTY, dtype=np.int64)
        corner = (iy - y0) * bw + (ix - x0)
        for offset in (0, 1, bw, bw + 1):
            np.minimum.at(zbuf, corner + offset, keys)
        gaps = _close_gaps(zbuf.reshape(bh, bw))
        keys = gaps.keys.ravel()
        hit = np.flatnonzero(keys != _EMPTY)
        if len(hit) == 0:
            return
        point = keep[keys[hit] & ((1 << _KEY_BITS) - 1)]
        px = (hit % bw + x0).astype(np.float32)
        py = (hit // bw + y0).astype(np.float32)
        # Refine the texture position: invert the local projection Jacobian at the winning point.
        Xp, Yp, Zp = X[point], Y[point], Z[point]
        slope_x, slope_y = self._slopes[point, 0], self._slopes[point, 1]
        r = rotation
        jac = []
        for slope, column in ((slope_x, 0), (slope_y, 1)):
            dX = r[0, column] + r[0, 2] * slope
            dY = r[1, column] + r[1, 2] * slope
            dZ = -(r[2, column] + r[2, 2] * slope)
            jac.append(((dX - Xp / Zp * dZ) * (focal / Zp), (dY - Yp / Zp * dZ) * (focal / Zp)))
        (du_x, dv_x), (du_y, dv_y) = jac
        det = du_x * dv_y - du_y * dv_x
        det = np.where(np.abs(det) < 1e-6, np.float32(1e-6), det)
        eu, ev = px - u[point], py - v[point]
        limit = _MAX_EXTRAPOLATION_MM
        step_x = np.clip((dv_y * eu - du_y * ev) / det, -limit, limit)
        step_y = np.clip((du_x * ev - dv_x * eu) / det, -limit, limit)
        tex_u = self._tex[point, 0] + step_x * TEXTURE_PX_PER_MM
        tex_v = self._tex[point, 1] + step_y * TEXTURE_PX_PER_MM
        level_b = int(round(min(max(pose.blink, 0.0), 1.0) * EXPRESSION_LEVELS))
        level_m = int(round(min(max(pose.mouth, 0.0), 1.0) * EXPRESSION_LEVELS))
        rgba = _sample(self._texture(level_b, level_m), self._alpha.shape, tex_u, tex_v)
        alpha = rgba[:, 3] * np.float32(1 / 255)
        # Pixels filled from a neighbour at a grazing angle: fade (a soft self-occlusion outline).
        filled = ~gaps.hit.ravel()[hit]
        alpha = np.where(filled, alpha * np.clip(facing[point] / 0.2, 0, 1), alpha)
        albedo = _SRGBF_TO_LINEAR[(rgba[:, :3] * _DECODE_STEPS + 0.5).astype(np.int32)]
        screen_share = (facing[point] / (distance[point] * distance[point]))[:, None]
        colour = albedo * (ambient_rgb + screen_rgb * screen_share)
        region = out[y0:y1, x0:x1].reshape(-1, 3)
        rows = region[hit]
        region[hit] = rows + alpha[:, None] * (colour - rows)
        out[y0:y1, x0:x1] = region.reshape(bh, bw, 3)

    # -- helpers for tests --

    def project(self, pose: Pose, points_mm: np.ndarray, *, size: tuple[int, int] = (480, 360)) -> np.ndarray:
        """Image positions (N, 2) of head-frame points (N, 3) in mm (x, y, depth) — e.g. ground truth."""
        view = self._view((int(size[0]), int(size[1])))
        rotation = _rotation(pose.yaw - self.photo_yaw, pose.pitch, pose.roll)
        turned = (np.asarray(points_mm, dtype=np.float64) - np.array(PIVOT)) @ rotation.T + np.array(PIVOT)
        X = turned[:, 0] + 10.0 * pose.x
        Y = turned[:, 1] - AIM_Y + 10.0 * pose.y
        Z = 10.0 * pose.distance + self.nose_depth - turned[:, 2]
        return np.stack([X / Z * view.focal + view.cx, Y / Z * view.focal + view.cy], axis=1)

    @property
    def landmarks_3d(self) -> np.ndarray:
        """The photo's 68 landmarks on the rendered surface, (68, 3) mm (x, y, depth), neutral face."""
        return np.column_stack([self.landmarks_mm, self._landmark_depth])

    def landmark_positions(self, pose: Pose, *, size: tuple[int, int] = (480, 360)) -> np.ndarray:
        """Where the 68 landmarks are drawn for ``pose`` (neutral face), (68, 2) image pixels."""
        return self.project(pose, self.landmarks_3d, size=size)


# --- construction helpers --------------------------------------------------------------------------------


def _load_photo(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.convert("RGB")


def _make_texture(photo: Image.Image):
    """The photo resampled into head-frame millimetres (eyes level, 90 mm apart).

    Returns (texture uint8 (H, W, 3), photo coverage (H, W) float, landmarks (68, 2) and dlib box in
    texture pixels).
    """
    from webapp.face.pipeline import Box, find_faces, landmarks68

    scale = min(1.0, 1000 / max(photo.size))
    small = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.BICUBIC)
    pixels = np.asarray(small)
    found = find_faces(pixels, models=clips._models())
    if not found:
        raise ValueError("no face found in the photo")
    box = max((b for b, _ in found), key=lambda b: b.size)
    points = landmarks68(pixels, box, models=clips._models()) / scale  # full-resolution photo pixels
    eye_l, eye_r = points[36], points[45]
    centre = (eye_l + eye_r) / 2
    axis = eye_r - eye_l
    px_per_mm = float(np.linalg.norm(axis)) / EYE_WIDTH_MM
    photo_factor = 1.0
    if px_per_mm > TEXTURE_PX_PER_MM * 1.25:  # shrink first: the affine transform does not antialias
        photo_factor = TEXTURE_PX_PER_MM / px_per_mm
        photo = photo.resize(
            (round(photo.width * photo_factor), round(photo.height * photo_factor)), Image.Resampling.LANCZOS
        )
        points, centre, px_per_mm = points * photo_factor, centre * photo_factor, px_per_mm * photo_factor
    angle = math.atan2(axis[1], axis[0])
    cos, sin = math.cos(angle), math.sin(angle)
    left, top, right, bottom = TEXTURE_BOX
    size = (round((right - left) * TEXTURE_PX_PER_MM), round((bottom - top) * TEXTURE_PX_PER_MM))
    # PIL takes the inverse map: texture pixel → mm (x, y) → photo pixel centre + px_per_mm·(x·ex + y·ey)
    # with ex = (cos, sin) the eye line and ey = (-sin, cos) perpendicular to it.
    k = px_per_mm / TEXTURE_PX_PER_MM
    coefficients = (
        cos * k,
        -sin * k,
        centre[0] + (cos * left - sin * top) * px_per_mm,
        sin * k,
        cos * k,
        centre[1] + (sin * left + cos * top) * px_per_mm,
    )
    affine = Image.Transform.AFFINE
    texture = photo.transform(size, affine, coefficients, Image.Resampling.BICUBIC, fillcolor=(128, 128, 128))
    cover = Image.new("L", photo.size, 255).transform(
        size, affine, coefficients, Image.Resampling.BILINEAR, fillcolor=0
    )

    def to_texture(p: np.ndarray) -> np.ndarray:
        rel = p - centre
        mm_x = (rel[..., 0] * cos + rel[..., 1] * sin) / px_per_mm
        mm_y = (-rel[..., 0] * sin + rel[..., 1] * cos) / px_per_mm
        return np.stack([(mm_x - left) * TEXTURE_PX_PER_MM, (mm_y - top) * TEXTURE_PX_PER_MM], axis=-1)

    landmarks = to_texture(points)
    corners = to_texture(
        np.array(
            [
                [box.left, box.top],
                [box.right + 1, box.top],
                [box.left, box.bottom + 1],
                [box.right + 1, box.bottom + 1],
            ]
        )
        / scale
        * photo_factor
    )
    texture_box = Box(
        int(round(corners[:, 0].min())),
        int(round(corners[:, 1].min())),
        int(round(corners[:, 0].max())) - 1,
        int(round(corners[:, 1].max())) - 1,
    )
    return (
        np.ascontiguousarray(np.asarray(texture, dtype=np.uint8)),
        np.asarray(cover, dtype=np.float32) / 255.0,
        landmarks,
        texture_box,
    )


_MIRROR_PAIRS = (
    [(i, 16 - i) for i in range(8)]
    + [(17 + i, 26 - i) for i in range(5)]
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (31, 35), (32, 34)]
    + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
    + [(i, i) for i in (8, 27, 28, 29, 30, 33, 51, 57, 62, 66)]
)


def _photo_yaw(lm: np.ndarray) -> float:
    """The head's yaw in the photo (degrees, + = nose to the image right), from the 68 landmarks.

    A head turned by ψ moves each point sideways by about depth × sin ψ, so the midpoints of mirror
    pairs (and the midline points) lie on a line x = c + depth · sin ψ; fit it.
    """
    table = np.array(LANDMARK_DEPTH_MM, dtype=np.float64)
    mid = np.array([(lm[i, 0] + lm[j, 0]) / 2 for i, j in _MIRROR_PAIRS])
    depth = np.array([table[i] for i, _ in _MIRROR_PAIRS])
    slope = np.polyfit(depth, mid, 1)[0]
    return math.degrees(math.asin(min(max(slope, -0.6), 0.6)))


def _inside(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test, vectorised over ``points`` (N, 2)."""
    x, y = points[:, 0][:, None], points[:, 1][:, None]
    ax, ay = polygon[:, 0][None, :], polygon[:, 1][None, :]
    bx, by = np.roll(polygon[:, 0], -1)[None, :], np.roll(polygon[:, 1], -1)[None, :]
    crosses = (ay > y) != (by > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = ax + (y - ay) * (bx - ax) / (by - ay)
    return (crosses & (x < at)).sum(axis=1) % 2 == 1


def _head_shape(lm: np.ndarray, coverage: np.ndarray, grid_x: np.ndarray, grid_y: np.ndarray):
    """Alpha (texture resolution) and depth (on the grid) of the generic head under the photo's face."""
    table = np.array(LANDMARK_DEPTH_MM, dtype=np.float64)
    jaw = lm[:17]
    cx = (lm[0, 0] + lm[16, 0]) / 2
    chin = float(lm[8, 1])  # the eye line is y = 0
    half = (lm[16, 0] - lm[0, 0]) / 2
    # The skull: a half-ellipse over the eye line, as wide as the head (~1.08 face widths) and as
    # high as ~0.8 face widths (b: the top of the hair).
    a, b = 1.08 * half + 3.0, 1.56 * half + 4.0
    front = 8.0  # depth of the dome's front (mid forehead is a little behind the brows)

    controls = [lm]
    depths = [table]
    # Cheeks: convex profiles from an inner point (eye, nose, mouth) out to the jaw outline.
    anchors = {0: 36, 1: 41, 2: 31, 3: 31, 4: 48, 5: 48, 6: 59, 7: 58}
    anchors |= {16: 45, 15: 46, 14: 35, 13: 35, 12: 54, 11: 54, 10: 55, 9: 56}
    for outer, inner in anchors.items():
        for t in (0.35, 0.7):
            controls.append((lm[inner] + t * (lm[outer] - lm[inner]))[None])
            depths.append(np.array([table[inner] + (table[outer] - table[inner]) * t * t]))
    # The head outline: the skull's half-ellipse, then the jaw line pushed out (ears at its top).
    angles = np.linspace(math.pi, 2 * math.pi, 25)
    arc = np.stack([cx + a * np.cos(angles), b * np.sin(angles)], axis=1)
    centre = np.array([cx, 0.35 * chin])
    direction = jaw - centre
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    pushed = jaw + np.array(OUTLINE_PUSH, dtype=np.float64)[:, None] * direction
    pushed_depth = table[:17] - 20.0
    pushed_depth[[0, 1, 2, 14, 15, 16]] = RIM_DEPTH
    pushed_depth[[3, 13]] = -85.0
    outline = np.vstack([arc, pushed[::-1]])
    controls += [arc, pushed]
    depths += [np.full(len(arc), RIM_DEPTH), pushed_depth]
    # The dome of the forehead, temples and skull, where no landmark is near.
    face = np.vstack([lm[:17], lm[26:16:-1]])
    for r in (0.45, 0.7, 0.88):
        ring = np.stack([cx + r * a * np.cos(angles[1:-1]), r * b * np.sin(angles[1:-1])], axis=1)
        near = np.min(np.linalg.norm(ring[:, None, :] - lm[None, :, :], axis=2), axis=1)
        ring = ring[(near > 8.0) & ~_inside(face, ring)]
        controls.append(ring)
        depths.append(np.full(len(ring), RIM_DEPTH + (front - RIM_DEPTH) * math.sqrt(1 - r * r)))
    # The neck, under the chin and down to the texture's bottom edge.
    neck_half = 0.33 * 2 * half
    low = TEXTURE_BOX[3] + 5.0
    for y, spread, centre_depth in ((chin + 18.0, 1.0, -45.0), (low, 1.25, -40.0)):
        for f, depth in ((0.0, centre_depth), (0.6, centre_depth - 10.0), (1.0, -80.0)):
            for sign in (-1, 1) if f else (1,):
                controls.append(np.array([[cx + sign * f * spread * neck_half, y]]))
                depths.append(np.array([depth]))
    neck = np.array(
        [
            [cx - neck_half, 0.6 * chin],
            [cx + neck_half, 0.6 * chin],
            [cx + 1.25 * neck_half, low],
            [cx - 1.25 * neck_half, low],
        ]
    )
    # The texture's frame (outside the head) so that the mesh covers the whole grid.
    left, top, right, bottom = TEXTURE_BOX
    frame = [
        (x, y) for x in (left - 5, 0.0, right + 5) for y in (top - 5, 0.0, bottom + 5) if (x, y) != (0.0, 0.0)
    ]
    controls.append(np.array(frame))
    depths.append(np.full(len(frame), RIM_DEPTH - 10.0))

    points = np.vstack(controls)
    values = np.concatenate(depths)
    points, unique = np.unique(np.round(points, 3), axis=0, return_index=True)
    values = values[unique]
    depth = _interpolate(points, values, grid_x, grid_y)

    # Alpha: head outline ∪ neck, feathered; the neck fades out towards the torso.
    rows, cols = coverage.shape
    mask = Image.new("L", (cols, rows), 0)
    draw = ImageDraw.Draw(mask)
    for polygon in (outline, neck):
        texture_xy = (polygon - np.array([left, top])) * TEXTURE_PX_PER_MM
        draw.polygon([tuple(p) for p in texture_xy], fill=255)
    alpha = _feather(np.asarray(mask, dtype=np.float32) / 255.0, 2)
    y_mm = top + np.arange(rows) / TEXTURE_PX_PER_MM
    alpha *= np.clip((chin + 75.0 - y_mm) / 25.0, 0.0, 1.0)[:, None]
    return alpha, depth


def _interpolate(
    points: np.ndarray, values: np.ndarray, grid_x: np.ndarray, grid_y: np.ndarray
) -> np.ndarray:
    """Piecewise-linear interpolation over the Delaunay triangulation of ``points``, on a grid."""
    out = np.zeros((len(grid_y), len(grid_x)))
    x_step, y_step = grid_x[1] - grid_x[0], grid_y[1] - grid_y[0]
    for i, j, k in clips._delaunay(points):
        (ax, ay), (bx, by), (cx, cy) = points[i], points[j], points[k]
        det = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
        if abs(det) < 1e-9:
            continue
        c0 = max(0, int(math.floor((min(ax, bx, cx) - grid_x[0]) / x_step)))
        c1 = min(len(grid_x), int(math.ceil((max(ax, bx, cx) - grid_x[0]) / x_step)) + 1)
        r0 = max(0, int(math.floor((min(ay, by, cy) - grid_y[0]) / y_step)))
        r1 = min(len(grid_y), int(math.ceil((max(ay, by, cy) - grid_y[0]) / y_step)) + 1)
        if c0 >= c1 or r0 >= r1:
            continue
        gx, gy = np.meshgrid(grid_x[c0:c1], grid_y[r0:r1])
        l0 = ((by - cy) * (gx - cx) + (cx - bx) * (gy - cy)) / det
        l1 = ((cy - ay) * (gx - cx) + (ax - cx) * (gy - cy)) / det
        l2 = 1.0 - l0 - l1
        inside = (l0 >= -1e-9) & (l1 >= -1e-9) & (l2 >= -1e-9)
        block = out[r0:r1, c0:c1]
        block[inside] = (l0 * values[i] + l1 * values[j] + l2 * values[k])[inside]
    return out


def _torso_colour(texture: np.ndarray, coverage: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Linear albedo of the clothes: the photo's median colour beside the neck, below the chin."""
    left, top, _, _ = TEXTURE_BOX
    cx = (lm[0, 0] + lm[16, 0]) / 2
    width = lm[16, 0] - lm[0, 0]
    y = lm[8, 1] + 55.0
    samples = []
    for x in (cx - 0.6 * width, cx + 0.6 * width):
        c0, c1 = (int((v - left) * TEXTURE_PX_PER_MM) for v in (x - 8, x + 8))
        r0, r1 = (int((v - top) * TEXTURE_PX_PER_MM) for v in (y - 8, y + 8))
        c0, r0 = max(0, c0), max(0, r0)
        patch = texture[r0:r1, c0:c1].reshape(-1, 3)
        covered = coverage[r0:r1, c0:c1].reshape(-1) > 0.99
        samples.append(patch[covered])
    pixels = np.concatenate(samples)
    rgb = np.median(pixels, axis=0) if len(pixels) else np.array([60, 60, 70])
    return _SRGB8_TO_LINEAR[np.clip(np.round(rgb), 0, 255).astype(np.int64)]


def _blur(values: np.ndarray, radius: int, passes: int = 1) -> np.ndarray:
    """Separable box blur (edges repeated), ``passes`` times: ~Gaussian for 2-3 passes."""
    out = np.asarray(values, dtype=np.float64)
    size = 2 * radius + 1
    for _ in range(passes):
        for axis in (0, 1):
            spec = [(0, 0), (0, 0)]
            spec[axis] = (radius + 1, radius)  # cumsum differences then give centred windows
            padded = np.pad(out, spec, mode="edge")
            sums = np.cumsum(padded, axis=axis)
            if axis == 0:
                out = (sums[size:] - sums[:-size]) / size
            else:
                out = (sums[:, size:] - sums[:, :-size]) / size
    return out


def _feather(mask: np.ndarray, radius: int) -> np.ndarray:
    return _blur(mask, radius, passes=2).astype(np.float32)


def _grow(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary dilation by ``steps`` pixels (3×3 steps)."""
    out = mask.copy()
    for _ in range(steps):
        padded = np.pad(out, 1)
        grown = out.copy()
        for dy in range(3):
            for dx in range(3):
                grown |= padded[dy : dy + out.shape[0], dx : dx + out.shape[1]]
        out = grown
    return out


def _sample(texture: np.ndarray, shape: tuple[int, int], u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear samples (N, 4) float32 of a flattened (H·W, 4) uint8 texture at pixel positions u, v."""
    height, width = shape
    u = np.clip(u, 0.0, width - 1.001)
    v = np.clip(v, 0.0, height - 1.001)
    x0 = u.astype(np.int32)
    y0 = v.astype(np.int32)
    fx = (u - x0)[:, None]
    fy = (v - y0)[:, None]
    index = y0 * width + x0
    c00 = texture[index].astype(np.float32)
    c01 = texture[index + 1].astype(np.float32)
    c10 = texture[index + width].astype(np.float32)
    c11 = texture[index + width + 1].astype(np.float32)
    upper = c00 + (c01 - c00) * fx
    lower = c10 + (c11 - c10) * fx
    return upper + (lower - upper) * fy


@dataclass
class _Gaps:
    keys: np.ndarray  # (h, w) z-buffer keys after the passes
    hit: np.ndarray  # (h, w) bool: a point landed on the pixel itself (and was kept)


def _neighbours(keys: np.ndarray):
    """The eight neighbour views of a padded copy of ``keys`` (edges: empty)."""
    height, width = keys.shape
    padded = np.pad(keys, 1, constant_values=_EMPTY)
    for dy, dx in ((0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2)):
        yield padded[dy : dy + height, dx : dx + width]


def _close_gaps(keys: np.ndarray) -> _Gaps:
    """Clean a splatted z-buffer of (h, w) keys (depth in the high bits, :data:`_EMPTY` = nothing).

    The surface points are about a pixel apart, so a surface seen up close has gaps, and a point of
    a surface behind it (the far cheek behind the nose, the back of the head) can land in one. A
    pixel whose neighbours are mostly much nearer takes the nearest neighbour's point instead; then
    :data:`_FILL_PASSES` passes give every empty pixel its nearest neighbour's point.
    """
    threshold = np.int64(_OCCLUSION_MM * 16) << _KEY_BITS
    nearest = np.full_like(keys, _EMPTY)
    nearer = np.zeros(keys.shape, dtype=np.int8)
    limit = np.where(keys == _EMPTY, np.int64(-1), keys - threshold)
    for view in _neighbours(keys):
        np.minimum(nearest, view, out=nearest)
        nearer += view < limit
    hidden = nearer >= 5
    keys = np.where(hidden, nearest, keys)
    hit = keys != _EMPTY
    for _ in range(_FILL_PASSES):
        empty = keys == _EMPTY
        if not empty.any():
            break
        nearest = np.full_like(keys, _EMPTY)
        for view in _neighbours(keys):
            np.minimum(nearest, view, out=nearest)
        keys = np.where(empty, nearest, keys)
    return _Gaps(keys, hit & ~hidden)


def _close_eyes(texture: np.ndarray, lm: np.ndarray, amount: float) -> np.ndarray:
    """The texture with both upper lids lowered ``amount`` (0 open … 1 shut) of the way.

    Per column of each eye, the upper lid slides down: the skin between the lid crease and the lash
    margin stretches, the margin itself (the dark lash line) moves down unchanged to the closing line,
    and below it the eye stays as it was. The lid is blended towards plain skin (:data:`LID_BLEND`),
    and near full closure the lower lid's rim, which the landmark model would read as the lower edge
    of an open eye, is blended into the skin below it.
    """
    out = texture.astype(np.float32)
    height = texture.shape[0]
    eyes = (
        ((36, 37, 38, 39), (36, 41, 40, 39), range(17, 22)),
        ((42, 43, 44, 45), (42, 47, 46, 45), range(22, 27)),
    )
    for upper_ids, lower_ids, brow_ids in eyes:
        upper, lower, brow = lm[list(upper_ids)], lm[list(lower_ids)], lm[list(brow_ids)]
        eye_width = float(upper[:, 0].max() - upper[:, 0].min())
        columns = np.arange(int(math.ceil(upper[:, 0].min())), int(math.floor(upper[:, 0].max())) + 1)
        columns = columns[(columns >= 0) & (columns < texture.shape[1])]
        if len(columns) == 0:
            continue
        xs = columns.astype(np.float64)
        top = np.interp(xs, *_by_x(upper))
        bottom = np.maximum(np.interp(xs, *_by_x(lower)), top)
        brow_y = np.interp(xs, *_by_x(brow))
        opening = bottom - top
        crease = top - 0.3 * np.maximum(top - brow_y, 0.0)
        hood = top - 0.6 * np.maximum(top - brow_y, 0.0)
        margin = 0.05 * eye_width
        close = top + amount * (bottom - 0.08 * opening - top)  # where the lash margin ends up
        band = 0.22 * eye_width  # lower-lid rim painted over near closure
        r0 = max(0, int(math.floor(hood.min())))
        r1 = min(height, int(math.ceil((bottom + band).max())) + 1)
        ys = np.arange(r0, r1, dtype=np.float64)[:, None]
        stretch = (top - margin - crease) / np.maximum(close - margin - crease, 1e-6)
        source = np.where(ys <= close - margin, crease + (ys - crease) * stretch, ys - (close - top))
        source = np.where((ys < crease) | (ys > close), ys, source)
        source = np.clip(source, 0, height - 1.001)
        y0 = source.astype(np.int64)
        f = (source - y0)[..., None]
        column = texture[:, columns].astype(np.float32)
        picked = column[y0, np.arange(len(columns))] * (1 - f) + column[y0 + 1, np.arange(len(columns))] * f
        # The stretched lid keeps the photo's skin texture but also any lash or brow shadow above the
        # eye; blend it towards plain lid skin (between the colours at the crease and under the eye —
        # deep-set eyes have the crease in the brow's shadow — a little darker lower down).
        below = np.clip(np.round(bottom + 0.3 * eye_width).astype(np.int64), 0, height - 1)
        skin = _smooth_columns(texture[below, columns])
        lid = _smooth_columns(texture[np.clip(np.round(crease).astype(np.int64), 0, height - 1), columns])
        lid = 0.35 * lid + 0.65 * skin
        # The shut lid bulges over the eyeball: a little lighter in its middle, darker at the lashes.
        d = np.clip((ys - crease) / np.maximum(close - crease, 1e-6), 0, 1)
        plain = lid[None] * (0.96 + 0.08 * np.sin(np.pi * d) - 0.1 * d * d)[..., None]
        # Full strength from the crease to the lash margin, fading in from higher up (brow shadow).
        fade_in = np.clip((ys - hood) / np.maximum(crease - hood, 1e-6), 0, 1)
        on_lid = np.where(ys <= close - margin, fade_in, 0.0) * (LID_BLEND * amount)
        picked += on_lid[..., None] * (plain - picked)
        paint = min(max((amount - 0.5) / 0.5, 0.0), 1.0) * 0.85
        if paint > 0:
            weight = np.clip((bottom + band - ys) / (0.6 * band), 0, 1) * (ys > close)
            weight *= np.clip(opening / max(0.5 * opening.max(), 1e-6), 0, 1) * paint
            picked += weight[..., None] * (skin[None] - picked)
        out[r0:r1, columns] = picked
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _smooth_columns(colours: np.ndarray, radius: int = 3) -> np.ndarray:
    """(N, 3) colours along a row, box-smoothed along the row (float32)."""
    kernel = np.ones(2 * radius + 1) / (2 * radius + 1)
    padded = np.pad(colours.astype(np.float64), ((radius, radius), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, c], kernel, "valid") for c in range(3)], axis=1).astype(np.float32)


def _by_x(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(points[:, 0])
    return points[order, 0], points[order, 1]


def _make_view(size: tuple[int, int]) -> _View:
    width, height = size
    focal = (width / 2) / math.tan(math.radians(HORIZONTAL_FOV_DEG) / 2)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    columns = (np.arange(width) - cx).astype(np.float32)
    rows = (np.arange(height) - cy).astype(np.float32)
    rx, ry = columns[None, :] / focal, rows[:, None] / focal
    ray = np.sqrt(rx * rx + ry * ry + 1.0)
    # A plain wall: a little lighter at the top, a soft vertical band of shade on one side.
    shade = 1.0 + 0.08 * (-ry / 0.6) - 0.06 * np.exp(-(((rx - 0.35) / 0.15) ** 2))
    wall = (np.array(WALL_RGB, dtype=np.float32) * shade[..., None]).astype(np.float32)
    wall_screen = (1.0 / (WALL_DISTANCE**2 * ray**3))[..., None].astype(np.float32)
    return _View(width, height, focal, cx, cy, wall, wall_screen, columns, rows)


# --- the camera ---------------------------------------------------------------------------------------


class Camera:
    """Auto white balance + exposure with lag, sensor noise, JPEG.

    White balance is gray-world (each channel's mean made equal) and exposure brings the mean
    linear luminance to :data:`CAMERA_TARGET`. The gains applied to a frame were computed from the
    frames before it (the first frame sets them from itself, as if the camera had settled); after
    each frame they move ``awb_lag`` of the way (geometrically) towards that frame's targets — so
    0.3 is a webcam that needs about 8 frames to adapt, 1.0 one that is always one frame late.
    Then Gaussian noise of standard deviation ``noise`` (0-255 units) and JPEG at ``quality``.
    """

    def __init__(self, *, seed: int = 0, quality: int = 85, awb_lag: float = 0.3, noise: float = 2.0) -> None:
        if not 0.0 < awb_lag <= 1.0:
            raise ValueError("awb_lag is the fraction of the way per frame, in (0, 1]")
        self.quality = quality
        self.awb_lag = awb_lag
        self.noise = noise
        self.gains: np.ndarray | None = None  # per-channel linear gains used for the next frame
        self._rng = np.random.default_rng(seed)

    def expose(self, image: np.ndarray) -> np.ndarray:
        """The frame after gains and noise, before JPEG (RGB uint8)."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("expected an RGB uint8 array of shape (height, width, 3)")
        linear = _SRGB8_TO_LINEAR[image]
        means = linear[::4, ::4].reshape(-1, 3).mean(axis=0).astype(np.float64) + 1e-6
        grey = float(means.mean())
        balance = np.clip(grey / means, 0.25, 4.0)
        target = balance * min(max(CAMERA_TARGET / grey, 1 / 8), 8.0)
        gains = target if self.gains is None else self.gains
        self.gains = np.exp(np.log(gains) + self.awb_lag * (np.log(target) - np.log(gains)))
        index = np.clip(linear * (gains * _ENCODE_STEPS).astype(np.float32) + 0.5, 0, _ENCODE_STEPS)
        out = _LINEAR_TO_SRGBF[index.astype(np.int32)]
        if self.noise > 0:
            out += self._noise(out.size).reshape(out.shape)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def capture(self, image: np.ndarray) -> bytes:
        """One JPEG frame as the camera delivers it."""
        buffer = io.BytesIO()
        Image.fromarray(self.expose(image)).save(buffer, "JPEG", quality=self.quality)
        return buffer.getvalue()

    def _noise(self, count: int) -> np.ndarray:
        start = int(self._rng.integers(0, len(_noise_bank(count)) - count + 1))
        return _noise_bank(count)[start : start + count] * np.float32(self.noise)


@functools.cache
def _unit_noise(size: int) -> np.ndarray:
    return np.random.default_rng(12345).standard_normal(size, dtype=np.float32)


def _noise_bank(count: int) -> np.ndarray:
    """Unit Gaussian noise drawn once per process; each frame reads it from a random offset.

    Drawing ~0.5 M normals per frame would cost more than the rest of the camera.
    """
    size = 1 << 21
    while size < 2 * count:
        size <<= 1
    return _unit_noise(size)


def decode_jpeg(data: bytes) -> np.ndarray:
    """RGB uint8 array of a JPEG (as the server decodes a frame)."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


# --- a cooperative person ---------------------------------------------------------------------------------

INSTRUCTIONS = ("center", "approach", "turn", "blink", "mouth")
FAR_CM, NEAR_CM = 45.0, 28.0
REACTION_S = 0.25
APPROACH_S = 0.8
TURN_YAW = 25.0


def _smooth(t: float) -> float:
    t = min(max(t, 0.0), 1.0)
    return t * t * (3 - 2 * t)


def _ramp(t: float, points: Sequence[tuple[float, float]]) -> float:
    """Smooth-stepped piecewise curve through (time, value) points, constant outside."""
    if t <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False):
        if t <= t1:
            return v0 + (v1 - v0) * _smooth((t - t0) / (t1 - t0))
    return points[-1][1]


def live_pose(
    t: float, steps: str | Sequence[tuple[float, str]], since: float = 0.0, *, sway: float = 1.0
) -> Pose:
    """How a cooperative person is posed at time ``t`` (s) while following instructions.

    ``steps`` is the whole history: a list of ``(start_time, instruction)`` in any order, each
    instruction one of :data:`INSTRUCTIONS` — or, for one instruction, its name with ``since`` its
    start time. Stateless: the same arguments always give the same pose.

    - ``center``: frontal, 45 cm away;
    - ``approach``: after a 0.25 s reaction, moves smoothly from 45 to 28 cm in 0.8 s, and stays
      close for every later instruction;
    - ``turn``: after 0.25 s, yaw sweeps smoothly to +25° (own left), then to −25°, then back to 0,
      about 2 s in all;
    - ``blink``: one 200 ms blink starting 0.3 s after the instruction;
    - ``mouth``: opens wide from 0.3 s, held open for 0.55 s, closed again by 1.15 s (a deliberate
      张嘴, not a word: long enough that at 12 fps several frames see it wide open).

    ``sway`` scales a small, smooth, deterministic wobble of a person who is not a statue
    (≈ ±1° of yaw, ±0.7° pitch, ±0.5° roll, a few mm of position); 0 turns it off.
    """
    if isinstance(steps, str):
        steps = [(since, steps)]
    history = sorted((float(start), name) for start, name in steps)
    for _, name in history:
        if name not in INSTRUCTIONS:
            raise ValueError(f"unknown instruction {name!r}; use {INSTRUCTIONS}")
    started = [(start, name) for start, name in history if start <= t]
    distance = FAR_CM
    approaches = [start for start, name in started if name == "approach"]
    if approaches:
        dt = t - approaches[0] - REACTION_S
        distance = FAR_CM + (NEAR_CM - FAR_CM) * _smooth(dt / APPROACH_S)
    yaw = blink = mouth = 0.0
    if started:
        start, name = started[-1]
        dt = t - start
        if name == "turn":
            r = REACTION_S
            yaw = _ramp(
                dt,
                [
                    (r, 0.0),
                    (r + 0.5, TURN_YAW),
                    (r + 0.65, TURN_YAW),
                    (r + 1.35, -TURN_YAW),
                    (r + 1.5, -TURN_YAW),
                    (r + 2.0, 0.0),
                ],
            )
        elif name == "blink":
            blink = _ramp(dt, [(0.3, 0.0), (0.36, 1.0), (0.41, 1.0), (0.5, 0.0)])
        elif name == "mouth":
            mouth = _ramp(dt, [(0.3, 0.0), (0.45, 1.0), (1.0, 1.0), (1.15, 0.0)])
    wobble = lambda period, phase: sway * math.sin(2 * math.pi * t / period + phase)  # noqa: E731
    return Pose(
        yaw=yaw + 1.0 * wobble(4.3, 0.0),
        pitch=0.7 * wobble(3.1, 1.0),
        roll=0.5 * wobble(5.3, 2.0),
        distance=distance + 0.4 * wobble(6.1, 0.5),
        blink=blink,
        mouth=mouth,
        x=0.3 * wobble(5.7, 2.5),
        y=0.2 * wobble(3.7, 1.5),
    )
