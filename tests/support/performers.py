"""What stands in front of the camera in the stream tests (:mod:`tests.support.stream`).

- :class:`LivePerson`: a photo on the 3-D head of :mod:`tests.support.head`, following each
  instruction as it appears and lit by the colour on screen, seen by a camera with lagging auto white
  balance, noise and JPEG. It is the person — and equally the adaptive real-time attacker the check
  admits it cannot stop (SECURITY.md). Its options make the attacks that fail: lit by other colours,
  lit late, tinted uniformly instead of lit, or a flat print instead of a head.
- :func:`prerecorded`: frames made before the scan, played at their own pace whatever the screen
  says: a still photo or the old 2-D landmark warps of one photo (blink, mouth, turns).
- :func:`replayed`: a recorded stream played again on its own capture clock.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tests.support.head import Camera, Head, live_pose
from tests.support.stream import Screen

FACES = Path(__file__).resolve().parent.parent / "fixtures" / "faces"
# The person of the positive tests: obama-4-480p.jpg rests with the mouth closed and its rendered eyes
# read shut when shut, so the blink and the open mouth move dlib's figures as a person's do (obama-2.jpg
# speaks, so its "resting" mouth is already open; obama-3.jpg's shut eyes read nearly open).
PERSON = "obama-4-480p.jpg"
WHITE = (255, 255, 255)
CAMERA_DELAY_S = 0.06  # the screen's colour reaches a frame this much later (paint, exposure)
SIZE = (480, 360)
ROOM = 0.7  # ambient light relative to the renderer's default room


@functools.cache
def head(photo: str, flat: bool = False) -> Head:
    return Head(FACES / photo, flat=flat)


class LivePerson:
    """``photo`` on a 3-D head (``flat``: a print) in front of the camera.

    ``light``: ``"screen"`` (lit by what the page shows, ``delay`` s later), ``"none"`` (not lit),
    or ``"tint"`` (not lit, the whole picture tinted by the colour on screen instead: a screen held to
    the camera). ``colours``: light by this sequence of ``(ms, rgb)`` instead of the page's.
    ``ambient``: the room light; :data:`ROOM` is the consent's advice followed — a bright screen in a
    room that is not too bright (a white screen then adds ≈17 % to the face's light at 45 cm).
    """

    def __init__(
        self,
        photo: str,
        *,
        flat: bool = False,
        light: str = "screen",
        delay: float = CAMERA_DELAY_S,
        colours: Sequence[tuple[int, tuple[int, int, int]]] | None = None,
        ambient: float | None = None,
        seed: int = 1,
    ) -> None:
        self.head = head(photo, flat)
        self.camera = Camera(seed=seed)
        self.light, self.delay, self.colours = light, delay, colours
        self.ambient = ROOM if ambient is None else ambient

    def colour(self, t: float, screen: Screen) -> tuple[int, int, int]:
        if self.colours is not None:
            shown = [rgb for at, rgb in self.colours if at / 1000 <= t - self.delay]
            return shown[-1] if shown else WHITE
        return screen.colour_at(t - self.delay) or WHITE

    def __call__(self, t: float, screen: Screen) -> bytes:
        pose = live_pose(t, screen.steps) if screen.steps else live_pose(t, "center")
        colour = self.colour(t, screen)
        if self.light == "screen":
            return self.camera.capture(self.head.render(pose, size=SIZE, screen=colour, ambient=self.ambient))
        image = self.head.render(pose, size=SIZE, screen=None, ambient=self.ambient)
        if self.light == "tint":
            tint = np.asarray(colour, dtype=np.float32) / 255 * 0.25 + 0.75
            image = np.clip(image * tint, 0, 255).astype(np.uint8)
        return self.camera.capture(image)


def prerecorded(frames: Sequence[bytes], fps: float = 12.0):
    """A performer that plays ``frames`` at ``fps`` whatever the page shows (looping)."""

    def play(t: float, screen: Screen) -> bytes:
        del screen
        return frames[int(round(t * fps)) % len(frames)]

    return play


def replayed(recording: Sequence[tuple[float, bytes]]):
    """A performer that replays a recorded stream ((capture ms, JPEG) pairs) on its own clock, holding
    its last frame once it runs out: the recording's frame for each moment, as a screen playing the
    video in front of the camera shows it. (Looping would make the face jump back, refused as a
    discontinuity before the light is even looked at; a careful attacker would not loop.)"""
    stamps = [stamp for stamp, _jpeg in recording]

    def play(t: float, screen: Screen) -> bytes:
        del screen
        shown = max(0, bisect.bisect_right(stamps, t * 1000) - 1)
        return recording[shown][1]

    return play


def warped_still(photo: str, seconds: float = 9.0) -> list[bytes]:
    """The old attack: one photo warped in 2-D (blink, mouth, turns) at 480×360, 12 fps."""
    from tests.support.clips import frames_from_clip, make_clip

    return frames_from_clip(make_clip(FACES / photo), fps_out=12, seconds=seconds, size=SIZE)


def still(photo: str) -> list[bytes]:
    from tests.support.clips import frames_from_clip, make_clip

    return frames_from_clip(make_clip(FACES / photo, still=True), fps_out=12, seconds=1, size=SIZE)
