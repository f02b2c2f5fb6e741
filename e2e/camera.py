"""An injected camera for Chromium: ``getUserMedia`` answers with a canvas stream whose frames a Python
renderer draws live — a face photo on a 3-D head (``tests/support/head.py``) that follows the
instruction on screen and is lit by the colour on screen.

This is what an adaptive real-time attacker does with one photo of the victim: read the page, render
the answer, inject it as a camera. The check cannot tell it from a person and does not claim to
(SECURITY.md); here it stands in for the person, because CI has no face in front of a webcam.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import replace
from pathlib import Path

from tests.support.head import Camera, Head, Pose, live_pose
from tests.support.performers import ROOM

WHITE = (255, 255, 255)
WIDTH, HEIGHT = 480, 360
BLINK_ENDS = 0.5  # s after the instruction, live_pose's blink is over
_seeds = itertools.count(1)

# Runs before any page script: the page gets the canvas's stream instead of a camera. Every 70 ms it
# asks Python for the picture of this moment, telling what the page shows: the instruction
# (data-step) and the colour around the circle (data-light), read off the DOM as an attacker would.
INIT_SCRIPT = """
(() => {
  const canvas = document.createElement("canvas");
  canvas.width = %(width)d; canvas.height = %(height)d;
  const context = canvas.getContext("2d");
  const began = performance.now();
  let busy = false;
  async function draw() {
    if (busy) return;
    busy = true;
    try {
      const root = document.querySelector("[data-face-scan]");
      const step = root ? root.dataset.step || "" : "";
      const light = root ? root.dataset.light || "" : "";
      const jpeg = await window.__shimingCamera(performance.now() - began, step, light);
      const image = new Image();
      image.src = "data:image/jpeg;base64," + jpeg;
      await image.decode();
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
    } finally {
      busy = false;
    }
  }
  let timer = null;
  navigator.mediaDevices.getUserMedia = async () => {
    if (!timer) { timer = setInterval(draw, 70); await draw(); }
    return canvas.captureStream(15);
  };
})();
"""


class InjectedCamera:
    """A rendered head behind the page's camera. ``photo``: whose face; ``flat``: a printed photo."""

    def __init__(self, photo: Path, *, flat: bool = False) -> None:
        self.head = Head(photo, flat=flat)
        self.camera = Camera(seed=next(_seeds))
        self.steps: list[tuple[float, str]] = []
        self.shut_shown = 0

    def install(self, context) -> None:
        context.expose_function("__shimingCamera", self.frame)
        context.add_init_script(INIT_SCRIPT % {"width": WIDTH, "height": HEIGHT})

    def frame(self, t_ms: float, step: str, light: str) -> str:
        t = t_ms / 1000
        if step and (not self.steps or self.steps[-1][1] != step):
            self.steps.append((t, step))
        if not step:  # between scans the person faces the camera from afar
            self.steps = []
        pose = live_pose(t, self.steps) if self.steps else live_pose(t, "center")
        pose = self._seen_blink(pose, t)
        colour = _parse(light) or WHITE
        image = self.head.render(pose, size=(WIDTH, HEIGHT), screen=colour, ambient=ROOM)
        return base64.b64encode(self.camera.capture(image)).decode()

    def _seen_blink(self, pose: Pose, t: float) -> Pose:
        """A blink drawn on the wall clock lasts 200 ms: on a busy machine the canvas may be redrawn less
        often than that and skip it, where a camera would have seen a person's. So a blink that no picture
        showed is drawn on the next one, late (one picture: held longer than the check's 400 ms, a shut
        eye would be no blink)."""
        if not self.steps or self.steps[-1][1] != "blink":
            self.shut_shown = 0
            return pose
        if t - self.steps[-1][0] >= BLINK_ENDS and self.shut_shown == 0:
            pose = replace(pose, blink=1.0)
        if pose.blink >= 0.5:
            self.shut_shown += 1
        return pose


def _parse(colour: str) -> tuple[int, int, int] | None:
    value = colour.strip().lstrip("#")
    if len(value) != 6:
        return None
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))
