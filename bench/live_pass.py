"""How often a live person passes the whole scan — run ``python bench/live_pass.py [streams]`` from the
project root.

Renders ``streams`` live scans (tests/support/head.py: the person of the tests on a 3-D head following a
random plan, lit by the screen, camera noise seeded per stream), sends each through the server's own
decision (:class:`webapp.face.check.LiveScan`) and prints, from this one run, how many passed — in all, by
the plan's extra action (blink or open mouth) — and the refusals by reason. Every refusal here is a live
person turned away: the number to keep at zero.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter

from _root import ROOT  # noqa: F401  (puts the project root on the import path)


async def main(streams: int) -> int:
    from tests.support.performers import PERSON, LivePerson
    from tests.support.stream import render_stream
    from webapp.face.check import LiveScan
    from webapp.face.pool import FacePool
    from webapp.face.scan import draw_plan

    rng = random.Random(2027)
    passed: Counter[str] = Counter()
    tried: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    with FacePool(workers=2) as pool:
        await pool.start()
        for seed in range(streams):
            plan = draw_plan(rng)
            extra = plan.extra.value
            live = LiveScan(pool, plan)
            for page_ms, jpeg in render_stream(plan, LivePerson(PERSON, seed=seed)):
                live.add(page_ms, page_ms + 30, jpeg)
            check = await live.decide(60.0)
            tried[extra] += 1
            if check.ok:
                passed[extra] += 1
            else:
                refusals[check.code] += 1
    total = sum(passed.values())
    print(f"person: {PERSON}; {streams} live streams, random plans")
    print(f"passed: {total} of {streams} ({total / streams:.1%})")
    for extra in sorted(tried):
        print(f"  with {extra:<6}: {passed[extra]} of {tried[extra]}")
    for code, count in refusals.most_common():
        print(f"  refused ({code}): {count}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)))
