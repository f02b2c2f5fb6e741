"""The light challenge: a random sequence of screen colours, and whether a face reflects it in time.

The page fills the screen around the camera circle with each colour as the server reveals it. A
screen at 25–45 cm lights a face noticeably and a wall behind it hardly at all, so a live face's
colour, *relative to the background in the same frame*, follows the sequence. Taking the ratio of
face to background in each frame removes the camera's global gains (auto white balance and
exposure, which lag and which push the background the opposite way when the face is lit), and
taking log-chromaticity (each channel's log minus their mean) removes brightness. What is left is
compared with the sequence, frame by frame:

- ``correlation``: Pearson correlation between the face-over-background chromaticity and the
  chromaticity of the colour on screen at that moment, over the whole stream;
- ``amplitude``: the least-squares slope of the one on the other (how strongly the face responds);
- ``lag``: the delay at which the correlation peaks. The colour a frame shows was revealed a
  little earlier (network, paint, camera); the peak must sit within the delay a live page can
  have, so a stream lit by the right colours at the wrong moments fails as surely as one lit by
  the wrong colours;
- ``changes_matched``: at each change of colour, whether the face's colour moved the way the
  screen's did, rather than towards another colour of the palette (:func:`changes_matched`).

A pre-recorded video cannot know a sequence drawn when the scan starts. A screen or print held to
the camera shows its own picture: a screen's own light and any tint applied to the whole picture
change face and background alike, which the ratio cancels.

**Not a flash** (WCAG 2.3.1): the colours have equal relative luminance (0.40), so a change is no
luminance flash; none is a saturated red; each lasts at least :data:`MIN_COLOUR_MS`, so there are
at most two changes a second.
"""

from __future__ import annotations

import functools
import math
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Equal relative luminance (WCAG: 0.2126 R + 0.7152 G + 0.0722 B in linear light ≈ 0.40), no red.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (201, 167, 0),  # amber
    (0, 197, 0),  # green
    (0, 190, 174),  # teal
    (155, 162, 255),  # periwinkle
    (255, 126, 192),  # pink (a red share of 0.44: not a saturated red)
)  # five hues far apart: at equal luminance blues and violets pale, and more would be too alike
MIN_COLOUR_MS = 700  # ≥ 0.5 s is WCAG's limit for two changes a second; a little more for cameras
MAX_COLOUR_MS = 1000
MIN_CHROMA_STEP = 0.25  # consecutive colours at least this far apart in linear chromaticity

# Decision thresholds (figures from the test renderer and webcams; see bench/face.py).
MIN_CORRELATION = 0.5
MIN_AMPLITUDE = 0.015  # face-over-background chromaticity per unit of screen chromaticity
MAX_MISMATCHED_COLOURS = 2  # of the 7 changes between 8 colours, at most two may be read as others
MIN_AGREEMENT = 0.5  # a change agrees when the face's colour moves the screen's way (cosine) ...
NEAR_BEST = 0.1  # ... and no other colour of the palette fits clearly better
MAX_LAG_MS = 250  # reveal → seen in a frame, beyond the measured round trip
LAG_STEP_MS = 20
LAG_SEARCH_MS = (-400, 1200)  # where the peak is looked for (outside the allowed window too)

_system_random = secrets.SystemRandom()
_LUMA = np.array([0.2126, 0.7152, 0.0722])


def linear(rgb: ArrayLike) -> NDArray[np.float64]:
    """sRGB (0–255) to linear light (0–1)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def relative_luminance(rgb: ArrayLike) -> float:
    return float(linear(rgb) @ _LUMA)


def chroma(rgb_linear: ArrayLike) -> NDArray[np.float64]:
    """Log-chromaticity: each channel's log minus the mean of the three (brightness removed)."""
    logs = np.log(np.maximum(np.asarray(rgb_linear, dtype=np.float64), 1e-4))
    centred: NDArray[np.float64] = logs - logs.mean(axis=-1, keepdims=True)
    return centred


@functools.cache
def screen_chroma(rgb: tuple[int, int, int]) -> NDArray[np.float64]:
    """What a colour on screen adds to a lit face: its linear colour minus its mean, unit brightness.
    Cached: a scan's fit asks for the same five colours thousands of times (on the event loop)."""
    lin = linear(rgb)
    added: NDArray[np.float64] = (lin - lin.mean()) / max(float(lin.mean()), 1e-6)
    return added


def hex_colour(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def draw_sequence(count: int, rng: random.Random = _system_random) -> list[tuple[int, int, int]]:
    """``count`` colours from :data:`PALETTE`, consecutive ones clearly different (OS randomness)."""
    sequence: list[tuple[int, int, int]] = []
    while len(sequence) < count:
        choices = [
            c
            for c in PALETTE
            if not sequence
            or np.linalg.norm(screen_chroma(c) - screen_chroma(sequence[-1])) >= MIN_CHROMA_STEP
        ]
        sequence.append(rng.choice(choices))
    return sequence


# --- measuring one frame (in a worker) -----------------------------------------------------------

_LINEAR_LUT = linear(np.arange(256))


@dataclass(frozen=True)
class ColourSample:
    """Mean linear RGB of the face, of the background beside the head, and of the whole frame."""

    face: tuple[float, float, float]
    background: tuple[float, float, float]
    frame: tuple[float, float, float]


class FaceBox(Protocol):
    """The face's box: :class:`webapp.face.pipeline.Box` (``right``/``bottom`` inclusive)."""

    @property
    def left(self) -> int: ...
    @property
    def right(self) -> int: ...
    @property
    def bottom(self) -> int: ...
    @property
    def width(self) -> int: ...


def measure(image: NDArray[np.uint8], landmarks: ArrayLike, box: FaceBox) -> ColourSample | None:
    """The face: inside the outline of the jaw and brows. The background: the strips left and right
    of the head, above the chin (a torso below is near the screen too). None when a strip is gone."""
    from PIL import Image, ImageDraw

    height, width = image.shape[:2]
    points = np.asarray(landmarks, dtype=np.float64)
    outline = [tuple(p) for p in points[list(range(0, 17)) + list(range(26, 16, -1))]]
    mask_image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask_image).polygon(outline, fill=1)
    face_mask = np.asarray(mask_image, dtype=bool)
    margin = 0.45 * box.width
    left, right = int(box.left - margin), int(box.right + margin)
    bottom = max(1, min(height, int(box.bottom)))
    strips = [image[:bottom, : max(0, left)], image[:bottom, min(width, max(0, right)) :]]
    strips = [s.reshape(-1, 3) for s in strips if s.size]
    if not strips or not face_mask.any() or sum(len(s) for s in strips) < 200:
        return None
    return ColourSample(
        _linear_mean([image[face_mask]]), _linear_mean(strips), _linear_mean([image.reshape(-1, 3)[::7]])
    )


def _linear_mean(parts: list[NDArray[np.uint8]]) -> tuple[float, float, float]:
    """Mean linear RGB of rows of 8-bit sRGB pixels, through per-channel histograms (a table look-up
    per pixel would cost several times more: this runs on every frame of every scan)."""
    count = sum(len(part) for part in parts)
    red, green, blue = (
        float(sum(np.bincount(part[:, c], minlength=256) for part in parts) @ _LINEAR_LUT / count)
        for c in range(3)
    )
    return red, green, blue


# --- the decision over a stream ------------------------------------------------------------------


@dataclass(frozen=True)
class LightFit:
    ok: bool
    correlation: float
    amplitude: float
    lag_ms: int
    lag_allowed_ms: tuple[int, int]
    background_response: float
    face_response: float
    frames: int
    matched: int  # colour changes the face's colour followed the right way
    judged: int

    def figures(self) -> dict[str, Any]:
        return {
            "correlation": round(self.correlation, 3),
            "amplitude": round(self.amplitude, 3),
            "lag_ms": self.lag_ms,
            "lag_allowed_ms": list(self.lag_allowed_ms),
            "face_response": round(self.face_response, 3),
            "background_response": round(self.background_response, 3),
            "frames": self.frames,
            "changes_matched": [self.matched, self.judged],
        }


def colour_at(
    reveals: Sequence[tuple[float, tuple[int, int, int]]], t_ms: float
) -> tuple[int, int, int] | None:
    """The colour on screen at ``t_ms`` (the last one revealed at or before), or None."""
    current = None
    for at, colour in reveals:
        if at <= t_ms:
            current = colour
        else:
            break
    return current


def _fit(observed: NDArray[np.float64], expected: NDArray[np.float64]) -> tuple[float, float]:
    """Correlation and slope of centred observed on centred expected (both n×3)."""
    o = observed - observed.mean(axis=0)
    e = expected - expected.mean(axis=0)
    oe, ee, oo = float((o * e).sum()), float((e * e).sum()), float((o * o).sum())
    if ee <= 1e-12 or oo <= 1e-12:
        return 0.0, 0.0
    return oe / math.sqrt(ee * oo), oe / ee


def changes_matched(
    times_ms: Sequence[float],
    observed: NDArray[np.float64],
    reveals: Sequence[tuple[float, tuple[int, int, int]]],
    lag_ms: float,
) -> tuple[int, int]:
    """Change by change: does the face's colour move from one colour's stretch of frames to the next's
    the way the screen moved (of every colour the screen could have turned to)? ``(matched, judged)``;
    a change with a colour seen in fewer than two frames on either side is not judged.

    Each change is judged against the colour before it, not against the stream's mean colour:
    consecutive colours are :data:`MIN_CHROMA_STEP` apart, so every change has a clear direction,
    and a slow drift of the face's colour (coming closer, turning) cancels between neighbours."""
    segment = [_segment(reveals, t - lag_ms) for t in times_ms]
    keep = [i for i, s in enumerate(segment) if s >= 0]
    expected = np.array([screen_chroma(reveals[segment[i]][1]) for i in keep])
    # Each channel responds with its own gain (the room light is not white): fit it, then predict.
    o, e = observed[keep] - observed[keep].mean(axis=0), expected - expected.mean(axis=0)
    gains = np.maximum((o * e).sum(axis=0) / np.maximum((e * e).sum(axis=0), 1e-12), 0.0)
    means: dict[int, NDArray[np.float64]] = {}
    for index in range(len(reveals)):
        frames = [i for i in keep if segment[i] == index]
        if len(frames) >= 2:
            means[index] = observed[frames].mean(axis=0)
    matched = judged = 0
    for index in range(1, len(reveals)):
        if index not in means or index - 1 not in means:
            continue
        before, colour = reveals[index - 1][1], reveals[index][1]
        change = means[index] - means[index - 1]
        turned = {c: gains * (screen_chroma(c) - screen_chroma(before)) for c in PALETTE if c != before}
        similarity = {c: _cosine(change, vector) for c, vector in turned.items()}
        judged += 1
        # Near the best counts: on skin some pairs (green and teal) differ only where skin reflects little.
        matched += similarity[colour] >= max(MIN_AGREEMENT, max(similarity.values()) - NEAR_BEST)
    return matched, judged


def _segment(reveals: Sequence[tuple[float, tuple[int, int, int]]], t_ms: float) -> int:
    """The index of the colour on screen at ``t_ms``, -1 before the first."""
    return max((i for i, (at, _c) in enumerate(reveals) if at <= t_ms), default=-1)


def _cosine(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 1e-12 else -1.0


def fit(
    times_ms: Sequence[float],
    samples: Sequence[ColourSample],
    reveals: Sequence[tuple[float, tuple[int, int, int]]],
    round_trip_ms: float,
) -> LightFit:
    """Does the face's colour follow the revealed colours, at a delay a live page can have?"""
    allowed = (0, int(round(round_trip_ms + MAX_LAG_MS)))
    face = np.array([s.face for s in samples], dtype=np.float64)
    background = np.array([s.background for s in samples], dtype=np.float64)
    frame = np.array([s.frame for s in samples], dtype=np.float64)
    observed = chroma(face) - chroma(background)

    def expected_at(lag: int) -> tuple[list[int], NDArray[np.float64]]:
        colours = [colour_at(reveals, t - lag) for t in times_ms]
        shown = [(i, c) for i, c in enumerate(colours) if c is not None]
        return [i for i, _c in shown], np.array([screen_chroma(c) for _i, c in shown])

    best: tuple[float, float, int | None] = (-2.0, 0.0, None)  # correlation, slope, lag
    for candidate in range(LAG_SEARCH_MS[0], LAG_SEARCH_MS[1] + 1, LAG_STEP_MS):
        keep, expected = expected_at(candidate)
        if len(keep) < max(8, len(times_ms) // 2):
            continue
        correlation, slope = _fit(observed[keep], expected)
        if correlation > best[0]:
            best = (correlation, slope, candidate)
    correlation, amplitude, lag = best
    if lag is None:
        return LightFit(False, 0.0, 0.0, 0, allowed, 0.0, 0.0, len(samples), 0, 0)
    keep, expected = expected_at(lag)
    _c, face_response = _fit(chroma(face)[keep] - chroma(frame)[keep], expected)
    _c, background_response = _fit(chroma(background)[keep] - chroma(frame)[keep], expected)
    matched, judged = changes_matched(times_ms, observed, reveals, lag)
    ok = (
        correlation >= MIN_CORRELATION
        and amplitude >= MIN_AMPLITUDE
        and allowed[0] <= lag <= allowed[1]
        and judged >= len(reveals) - 2
        and matched >= judged - MAX_MISMATCHED_COLOURS
    )
    return LightFit(
        ok,
        correlation,
        amplitude,
        lag,
        allowed,
        background_response,
        face_response,
        len(samples),
        matched,
        judged,
    )
