"""Temporary calibration run (to be replaced by the regression suite)."""
import json

import pytest

from tests.support.performers import LivePerson
from tests.support.stream import run_scan
from tests.test_face_flows import faces, level3_with_photo, shared_pool  # noqa: F401
from webapp.audit import AuditEvent

pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
def rt(rt, shared_pool):
    rt._face_pool = shared_pool
    yield rt
    rt._face_pool = None


@pytest.mark.parametrize("flat", [False, True], ids=["head", "print"])
@pytest.mark.parametrize("photo", ["obama-2.jpg", "obama-1.jpg", "biden-1.jpg", "collins-1.png"])
async def test_calibrate(rt, app, client, faces, photo, flat):
    _account, _record, _phone, token = await level3_with_photo(rt, client, faces)
    run = await run_scan(app, client, token, "upgrade", LivePerson(photo, flat=flat))
    rows = await AuditEvent.select().where(AuditEvent.event == "face_check")
    if not rows:
        print("\nNOAUDIT", run)
    detail = json.loads(rows[-1]["detail"])
    live = detail.get("liveness", {})
    print("\nCAL", photo, "print" if flat else "head", run.result["ok"], run.result["message"][:20],
          json.dumps({k: live.get(k) for k in ("light", "approach", "turn", "usable_frames", "tracking")}, ensure_ascii=False))
