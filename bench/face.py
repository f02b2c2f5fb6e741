"""Face scan benchmark — run ``python bench/face.py`` from the project root.

Everything is measured in this one run, on streams rendered here (tests/support/head.py: a photo on a
3-D head following the plan's instructions, lit by its colours, through a camera with lagging white
balance, noise and JPEG):

1. the server's cost of one scan (every frame of a 6.7 s, 12 fps, 480×360 stream: decode, HOG without
   upsampling, 68 landmarks, pose, colour figures; then 4 embeddings) with one worker, against a naive
   baseline on the same frames at 640×480 (upsample-1 HOG, landmarks and an embedding on every frame),
   both in one process: the ratio is the saving of the method;
2. the same stream fed in real time through the 2-worker pool, as the WebSocket does: how long after
   the last frame the decision comes, and the largest stall of the event loop meanwhile;
3. the light, approach and turn figures of a passing stream and of refused ones (the 2-D warps of one
   photo, the right colours 300 ms late, a uniform tint, a flat print), each with its margin to the
   threshold that decides.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time

from _root import ROOT

FACES = ROOT / "tests" / "fixtures" / "faces"
BUDGET_RATIO = 8
BUDGET_DECISION_S = 0.5
PHOTO = "obama-4-480p.jpg"  # tests/support/performers.PERSON


def naive(frames: list[bytes]) -> int:
    """Upsample-1 HOG, 68 landmarks and an embedding on every frame, scaled to 640×480."""
    import numpy as np
    from PIL import Image

    from webapp.face.decode import decode_image
    from webapp.face.models import get_models
    from webapp.face.pipeline import Box, embedding, landmarks68

    models = get_models()
    embedded = 0
    for data in frames:
        image = np.asarray(Image.fromarray(decode_image(data)).resize((640, 480)))
        for rect in models.detector(image, 1):
            box = Box.from_dlib(rect)
            landmarks68(image, box, models=models)
            embedding(image, box, models=models)
            embedded += 1
    return embedded


async def decide(pool, plan, frames, *, real_time: bool) -> tuple[object, float, float]:
    """Feed a LiveScan; (check, seconds from the last frame to the decision, largest loop stall)."""
    from webapp.face.check import LiveScan

    live = LiveScan(pool, plan)
    stalls = [0.0]
    running = True

    async def ticker() -> None:
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            stalls.append(now - last - 0.005)
            last = now

    tick = asyncio.ensure_future(ticker())
    began = time.perf_counter()
    for page_ms, jpeg in frames:
        if real_time:
            await asyncio.sleep(max(0.0, began + page_ms / 1000 - time.perf_counter()))
        live.add(page_ms, (time.perf_counter() - began) * 1000 if real_time else page_ms + 30, jpeg)
    last_frame = time.perf_counter()
    check = await live.decide(5.0)
    latency = time.perf_counter() - last_frame
    running = False
    await tick
    return check, latency, max(stalls)


def margins(figures: dict) -> str:
    from webapp.face import light, scan

    parts = []
    lit = figures.get("light")
    if lit:
        parts.append(
            f"light r {lit['correlation']:.2f} (≥ {light.MIN_CORRELATION}), amplitude {lit['amplitude']:.3f} "
            f"(≥ {light.MIN_AMPLITUDE}), lag {lit['lag_ms']} ms (≤ {lit['lag_allowed_ms'][1]}), "
            f"changes {lit['changes_matched'][0]}/{lit['changes_matched'][1]} "
            f"(≥ {lit['changes_matched'][1] - light.MAX_MISMATCHED_COLOURS})"
        )
    if figures.get("approach", {}).get("growth"):
        approach = figures["approach"]
        parts.append(
            f"approach ×{approach['growth']:.2f} (≥ {scan.MIN_APPROACH_GROWTH}), "
            f"perspective gain {approach['perspective_gain']:+.3f} (reported)"
        )
    if figures.get("turn"):
        turn = figures["turn"]
        parts.append(f"turn {turn['min']:+.0f}°…{turn['max']:+.0f}° (±{scan.MIN_TURN_DEGREES}°)")
    return "; ".join(parts)


async def main() -> int:
    import dlib

    from tests.support.performers import LivePerson, prerecorded, warped_still
    from tests.support.stream import render_stream
    from webapp.face.pool import FacePool
    from webapp.face.scan import draw_plan

    plan = draw_plan(random.Random(11))
    print(f"machine: {os.cpu_count()} cores, dlib {dlib.__version__}, python {sys.version.split()[0]}")
    live = render_stream(plan, LivePerson(PHOTO))
    jpegs = [jpeg for _ms, jpeg in live]
    size_kb = sum(map(len, jpegs)) / len(jpegs) / 1024
    print(
        f"stream: {len(live)} frames, 480×360 JPEG ({size_kb:.0f} KB avg), {plan.duration_ms / 1000:.1f} s, "
        f"plan {' → '.join(step.value for _at, step in plan.steps)}, {len(plan.colours)} colours"
    )
    print()
    with FacePool(workers=1) as one, FacePool(workers=2) as two:
        await asyncio.gather(one.start(), two.start())
        start = time.perf_counter()
        check, _latency, _stall = await decide(one, plan, live, real_time=False)
        scan_cost = time.perf_counter() - start
        assert check.ok, (check.code, check.figures)
        naive(jpegs[:1])
        start = time.perf_counter()
        embedded = naive(jpegs)
        naive_cost = time.perf_counter() - start
        print("== server cost of one scan (1 process each)")
        print(f"scan : {scan_cost * 1000:.0f} ms for {len(live)} frames + 4 embeddings (1 worker)")
        print(
            f"naive: {naive_cost * 1000:.0f} ms (640×480, upsample-1 HOG + landmarks + {embedded} embeddings)"
        )
        ratio = naive_cost / scan_cost
        verdict = "ok" if ratio >= BUDGET_RATIO else "MISSED"
        print(f"ratio naive ÷ scan: {ratio:.1f}×   (budget ≥ {BUDGET_RATIO}×: {verdict})")
        print()

        check, latency, stall = await decide(two, plan, live, real_time=True)
        assert check.ok, check.code
        print("== the stream in real time through the 2-worker pool")
        verdict = "ok" if latency <= BUDGET_DECISION_S else "MISSED"
        print(
            f"decision {latency * 1000:.0f} ms after the last frame "
            f"(budget ≤ {BUDGET_DECISION_S * 1000:.0f} ms: {verdict}); "
            f"largest event-loop stall {stall * 1000:.1f} ms"
        )
        print()

        print("== figures and margins (the refusal each stream gets)")
        streams = {
            "live head (passes)": live,
            "2-D warps of one photo": render_stream(plan, prerecorded(warped_still(PHOTO))),
            "right colours 300 ms late": render_stream(plan, LivePerson(PHOTO, delay=0.36)),
            "uniform tint, no light": render_stream(plan, LivePerson(PHOTO, light="tint")),
            "flat print brought closer": render_stream(plan, LivePerson(PHOTO, flat=True)),
        }
        for label, frames in streams.items():
            found, _l, _s = await decide(two, plan, frames, real_time=False)
            print(f"{label:27s} {found.code:15s} {margins(found.figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
