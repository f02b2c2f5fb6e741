"""Temporary smoke test of the stream plumbing (to be replaced by the regression suite)."""
from pathlib import Path

import pytest

from tests.support.clips import frames_from_clip, make_clip
from tests.support.stream import run_scan
from tests.test_face_flows import level3_with_photo, shared_pool, faces  # noqa: F401
from webapp.face.pool import FacePool

pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
def rt(rt, shared_pool):
    rt._face_pool = shared_pool
    yield rt
    rt._face_pool = None


async def test_warped_still_is_refused(rt, app, client, faces):
    _account, _record, _phone, token = await level3_with_photo(rt, client, faces)
    clip = make_clip(faces / "obama-2.jpg")
    frames = frames_from_clip(clip, fps_out=12, seconds=9, size=(480, 360))

    def performer(t, screen):
        return frames[min(int(t * 12), len(frames) - 1)]

    run = await run_scan(app, client, token, "upgrade", performer)
    print(run.start, run.result)
    assert run.result is not None and not run.result["ok"]
