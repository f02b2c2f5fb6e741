"""How fast the simulated live face is drawn — run ``python bench/head_renderer.py`` from the project root.

The E2E camera (e2e/camera.py) asks tests/support/head.py for a picture every 70 ms; a picture that takes
longer than that is a frame the page never gets (and, before the camera learned to draw a skipped blink
late, a blink the check never saw). This renders and captures (white balance, noise, JPEG) the test
person in three poses, 8 times each after one warm-up, and prints each median in ms and as a share of the
70 ms frame interval, from this one run. Speed is measured here and never asserted by a test.
"""

from __future__ import annotations

import statistics
import time

from _root import ROOT  # (first: puts the project root on the import path)

FRAME_INTERVAL_MS = 70  # e2e/camera.py's setInterval
BLUE = (120, 150, 255)
REPEATS = 8


def main() -> int:
    from tests.support.head import NEAR_CM, Camera, Head, Pose
    from tests.support.performers import PERSON

    head = Head(ROOT / "tests" / "fixtures" / "faces" / PERSON)
    camera = Camera(seed=0)
    print(
        f"render + capture at 480×360 screen-lit, median of {REPEATS} (the E2E camera draws every "
        f"{FRAME_INTERVAL_MS} ms)"
    )
    for name, pose in (
        ("45 cm", Pose()),
        ("28 cm, yaw 25°", Pose(distance=NEAR_CM, yaw=25)),
        ("blink", Pose(blink=1)),
    ):
        head.render(pose)
        spent = []
        for _ in range(REPEATS):
            began = time.perf_counter()
            camera.capture(head.render(pose, screen=BLUE))
            spent.append(time.perf_counter() - began)
        median = statistics.median(spent) * 1000
        print(f"  {name:16} {median:6.1f} ms   {median / FRAME_INTERVAL_MS:.2f} × the frame interval")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
