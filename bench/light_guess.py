"""How often the light check takes a stream lit by colours it was not shown — run
``python bench/light_guess.py [streams] [sequences]`` from the project root.

Renders ``streams`` live streams (tests/support/head.py: the person of the tests on a 3-D head, each
stream lit by its own plan's colours, camera noise seeded per stream), measures each frame once, then
judges every stream by :func:`webapp.face.light.fit` against its own plan (a live person: must pass)
and against ``sequences`` other plans drawn at random (a stream recorded under colours of its own
before the scan: must fail). Prints both counts and rates from this one run.
"""

from __future__ import annotations

import asyncio
import random
import sys

from _root import ROOT  # noqa: F401  (puts the project root on the import path)


async def main(streams: int, sequences: int) -> int:
    from tests.support.performers import PERSON, LivePerson
    from tests.support.stream import render_stream
    from webapp.face import light
    from webapp.face.check import frame_limits
    from webapp.face.pool import FacePool
    from webapp.face.scan import draw_plan

    rng = random.Random(2026)
    judged = []
    with FacePool(workers=2) as pool:
        await pool.start()
        limits = frame_limits(pool)
        for seed in range(streams):
            plan = draw_plan(rng)
            frames = render_stream(plan, LivePerson(PERSON, seed=seed))
            found = await asyncio.gather(*(pool.analyze_frames([jpeg], limits) for _ms, jpeg in frames))
            usable = [(ms, result[0].colour) for (ms, _j), result in zip(frames, found, strict=True)]
            usable = [(ms + 30, colour) for ms, colour in usable if colour is not None]
            judged.append((plan, [ms for ms, _c in usable], [c for _ms, c in usable]))
    own = sum(light.fit(times, samples, plan.colours, 10.0).ok for plan, times, samples in judged)
    guessed = sum(
        light.fit(times, samples, draw_plan(rng).colours, 10.0).ok
        for _plan, times, samples in judged
        for _ in range(sequences)
    )
    tries = streams * sequences
    print(f"person: {PERSON}; {streams} streams, {sequences} other sequences each")
    print(f"own colours pass : {own} of {streams} ({own / streams:.1%})")
    print(f"other colours pass: {guessed} of {tries} ({guessed / tries:.2%})")
    return 0


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    sys.exit(asyncio.run(main(*(args + [40, 80][len(args) :]))))
