"""Dev-only pages (mounted only with WEBAPP_ENV=dev): the SMS outbox of the console channel, and a face
scan that matches nobody and shows its own figures, to check the thresholds with a real webcam."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.response import Template

from webapp.faceflows.purposes import FacePurpose, Passed
from webapp.web import RuntimeDep


@get("/dev/outbox", include_in_schema=False)
async def outbox(rt: RuntimeDep) -> Template:
    return Template(
        template_name="dev/outbox.html", context={"messages": list(getattr(rt.sms_channel, "outbox", []))}
    )


@get("/dev/face", include_in_schema=False)
async def face_calibration() -> Template:
    return Template(
        template_name="face_scan.html",
        context={
            "purpose": "calibrate",
            "title": "人脸检测标定（开发）",
            "back": "/login",
            "consent_needed": True,
            "next": "",
            "intro": "Dev only: one scan, matched against nobody; its figures appear below.",
            "show_figures": True,
        },
    )


async def never_passed(passed: Passed) -> Response[Any]:
    raise AssertionError("a calibration scan is measured, never matched")


FACE_PURPOSES = [FacePurpose("calibrate", never_passed, matched=False, dev_only=True)]
ROUTES = [outbox, face_calibration]
