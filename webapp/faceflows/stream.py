"""The face scan's three endpoints: issue a scan, stream it, and act on a passed scan.

1. ``POST /face/scan/start`` (consent, purpose): checks who may scan for what, takes the attempt's
   slots — the subject's (an account, or the keyed hash of an identifier that names nobody, counted
   alike) and the address's — atomically before any face work, and issues a scan: a flow record in
   state ``issued`` and its cookie. A started scan counts as an attempt; a passed one gives the
   subject's slot back. One open scan per flow: issuing another voids the earlier one.
2. ``WS /face/scan/stream``: must open within :data:`START_WINDOW_S` of the issue, once
   (``issued`` → ``streaming``). The server draws the secret plan, sends each instruction and
   colour when due, receives frames as they are captured, and ends with one decision, sent as the
   last message. A passed scan moves to ``passed`` with what the success needs (the distance and
   the encrypted embedding); any refusal deletes it.
3. ``POST /face/scan/finish``: ``passed`` → done, once; the purpose's success (level 4, signing in,
   a verified recovery or activation, a filing decision) with the cookies it sets.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import struct
import time
from typing import Any

from litestar import Response, WebSocket, post, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.plugins.htmx import HTMXRequest

from webapp import limits, metrics
from webapp.accounts import flows, forms
from webapp.accounts.flows import FlowKind, State
from webapp.accounts.level import record_consent
from webapp.clock import clock_time
from webapp.face.check import FaceCheck, LiveScan
from webapp.face.light import hex_colour
from webapp.face.pool import FaceWorkerError
from webapp.face.scan import FRAME_HEIGHT, FRAME_WIDTH, TARGET_FPS, Step, draw_plan
from webapp.faceflows import service
from webapp.faceflows.purposes import Passed, json_answer, subject_of
from webapp.i18n import _, current_locale, negotiate
from webapp.runtime import Runtime
from webapp.sms.notices import Notice, send_notice
from webapp.web import Form, OriginDep, RuntimeDep, origin_of, safe_next

log = logging.getLogger(__name__)

START_WINDOW_S = 10  # the stream opens this soon after the scan is issued, or never
END_GRACE_MS = 600  # frames captured before the end may arrive this much later
MAX_ROUND_TRIP_MS = 250  # the light's allowed delay grows with the round trip, up to this
FRAME_HEADER = struct.Struct("<d")  # the page's capture time in ms since the plan arrived

WS_REFUSED = 4403
WS_EXPIRED = 4408


@post("/face/scan/start")
async def scan_start(request: HTMXRequest, data: Form, rt: RuntimeDep, origin: OriginDep) -> Response[Any]:
    purpose = forms.text(data, "purpose", 16)
    subject = await subject_of(request, purpose)
    if subject.error or subject.purpose is None:
        return json_answer(False, subject.error, status=400)
    account = subject.account
    consented = forms.text(data, "consent") == "yes"
    # Signed out: asked every time. Signed in: asked once, then recorded.
    signed_in = account if subject.purpose.signed_in else None  # consent is then recorded, once
    first_time = signed_in is None or signed_in.face_consent_at is None
    if first_time and not consented:
        return json_answer(False, _("请先阅读并同意《人脸信息处理告知书》"), status=400)
    taken = await service.take_attempt(rt, subject.key, origin.ip)
    if not taken.allowed:
        when = clock_time(taken.retry_at or rt.clock.now(), rt.clock.now())
        return json_answer(False, _("人脸核验次数过多，请于{time}后再试", time=when), status=429)
    if signed_in is not None and signed_in.face_consent_at is None:
        await record_consent(rt, signed_in.id, origin)
    account_id = account.id if account else None
    await service.void_open_scans(rt, subject.account, subject.flow)
    scan, cookie = await flows.start_flow(
        rt,
        FlowKind.FACE_SCAN,
        State.ISSUED,
        account_id,
        purpose=purpose,
        subject=subject.key,
        slots=list(taken.event_ids),
        issued=time.time(),
        next=safe_next(forms.text(data, "next", 512), ""),
    )
    if subject.flow is not None:
        await flows.advance(subject.flow, subject.flow.state, scan=scan.id)
    response = json_answer(True, stream="/face/scan/stream")
    response.set_cookie(cookie)
    return response


def _same_origin(socket: WebSocket[Any, Any, Any]) -> bool:
    """Cross-site WebSocket hijacking: browsers send Origin; it must be this host."""
    origin = socket.headers.get("origin", "")
    host = socket.headers.get("host", "")
    return bool(host) and origin in {f"https://{host}", f"http://{host}"}


@websocket("/face/scan/stream")
async def scan_stream(socket: WebSocket[Any, Any, Any], rt: RuntimeDep) -> None:
    current_locale.set(negotiate(socket.cookies.get("lang"), socket.headers.get("accept-language")))
    scan = await flows.load_flow(rt, socket, FlowKind.FACE_SCAN) if _same_origin(socket) else None
    if scan is None or not await flows.claim(scan, State.ISSUED, State.STREAMING):
        await socket.close(code=WS_REFUSED)
        return
    if time.time() - scan.data["issued"] > START_WINDOW_S:
        await flows.finish(rt, scan)
        await socket.close(code=WS_EXPIRED)
        return
    subject = await subject_of(socket, scan.data["purpose"])
    if subject.error or subject.key != scan.data["subject"] or not subject.current_scan(scan.id):
        await flows.finish(rt, scan)
        await socket.close(code=WS_REFUSED)
        return
    await socket.accept()
    began = time.monotonic()
    try:
        check = await _capture(rt, socket)
    except WebSocketDisconnect:
        await flows.finish(rt, scan)
        return
    except FaceWorkerError:
        metrics.face_check(scan.data["purpose"], "worker_error", began)
        await flows.finish(rt, scan)
        await _send_result(socket, False, _(service.SERVICE_DOWN), None)
        return
    except Exception:  # a bug must still end the scan with an answer, never a silent close
        log.exception("face scan stream failed")
        await flows.finish(rt, scan)
        await _send_result(socket, False, _(service.SERVICE_DOWN), None)
        return
    if subject.purpose is None or not subject.purpose.matched:  # the liveness decision, its figures
        await flows.finish(rt, scan)
        await _send_result(socket, check.ok, _(check.message), check.figures)
        return
    outcome = await service.judge(rt, subject.account, check, scan.data["purpose"], origin_of(socket))
    metrics.face_check(scan.data["purpose"], outcome.code or "match", began)
    if not outcome.ok:
        await flows.finish(rt, scan)
        await _send_result(socket, False, _(outcome.message), check.figures if rt.settings.dev else None)
        return
    if check.embedding is None:
        raise ValueError("a matched check carries its embedding")
    template = rt.keyring.encrypt(service.pack_template(check.embedding), service.TEMPLATE_CONTEXT)
    await flows.advance(
        scan,
        State.PASSED,
        distance=outcome.distance,
        figures=check.figures,
        template=base64.b64encode(template).decode(),
    )
    await limits.give_back(limits.Decision(True, None, tuple(scan.data["slots"][:1])))
    await _send_result(socket, True, _("核验通过，正在跳转…"), check.figures if rt.settings.dev else None)


async def _capture(rt: Runtime, socket: WebSocket[Any, Any, Any]) -> FaceCheck:
    """Pace the plan, take the frames, decide. Raises WebSocketDisconnect if the page goes away."""
    await rt.face_pool.ready()
    plan = draw_plan()
    live = LiveScan(rt.face_pool, plan, threshold=rt.settings.face_threshold)
    started = time.monotonic()
    sent_at: dict[int, float] = {}
    round_trips: list[float] = []

    def now_ms() -> float:
        return (time.monotonic() - started) * 1000

    async def pace() -> None:
        for index, (at, value) in enumerate(plan.cues()):
            await asyncio.sleep(max(0.0, (at - now_ms()) / 1000))
            if isinstance(value, Step):
                message = {"type": "step", "cue": index, "step": value.value, "prompt": _(value.prompt)}
            else:
                message = {"type": "light", "cue": index, "colour": hex_colour(value)}
            sent_at[index] = now_ms()
            await socket.send_json(message)
        await asyncio.sleep(max(0.0, (plan.duration_ms - now_ms()) / 1000))
        await socket.send_json({"type": "end"})

    await socket.send_json(
        {"type": "plan", "duration_ms": plan.duration_ms, "width": FRAME_WIDTH, "height": FRAME_HEIGHT,
         "fps": TARGET_FPS}
    )  # fmt: skip
    pacer = asyncio.ensure_future(pace())
    deadline_ms = plan.duration_ms + END_GRACE_MS
    try:
        while True:
            remaining = (deadline_ms - now_ms()) / 1000
            if remaining <= 0:
                break
            try:
                message = await asyncio.wait_for(socket.receive(), timeout=remaining)
            except TimeoutError:
                break
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(detail="the page went away")
            arrival = now_ms()
            payload, text = message.get("bytes"), message.get("text")
            if isinstance(payload, bytes) and payload:
                if len(payload) <= FRAME_HEADER.size:
                    continue
                (page_ms,) = FRAME_HEADER.unpack_from(payload)
                live.add(page_ms, arrival, payload[FRAME_HEADER.size :])
            elif isinstance(text, str) and text:
                _acknowledge(text, sent_at, arrival, round_trips)
    finally:
        if not pacer.done():
            pacer.cancel()
            live.cancel()
    round_trip = min(min(round_trips, default=MAX_ROUND_TRIP_MS), MAX_ROUND_TRIP_MS)
    return await live.decide(round_trip)


def _acknowledge(text: str, sent_at: dict[int, float], arrival: float, round_trips: list[float]) -> None:
    """The page says when it showed a cue: the round trip bounds the light's allowed delay."""
    try:
        cue = int(json.loads(text)["shown"])
    except (ValueError, KeyError, TypeError):
        return
    if cue in sent_at:
        round_trips.append(arrival - sent_at[cue])


async def _send_result(
    socket: WebSocket[Any, Any, Any], ok: bool, message: str, figures: dict[str, Any] | None
) -> None:
    answer: dict[str, Any] = {"type": "result", "ok": ok, "message": message}
    if ok:
        answer["finish"] = "/face/scan/finish"
    if figures is not None:  # dev only: the calibration page shows them
        answer["figures"] = figures
    try:
        await socket.send_json(answer)
        await socket.close()
    except WebSocketDisconnect:
        pass


@post("/face/scan/finish")
async def scan_finish(request: HTMXRequest, rt: RuntimeDep, origin: OriginDep) -> Response[Any]:
    """The passed scan's success, once: a signed-out one is told to the phone on record."""
    scan = await flows.load_flow(rt, request, FlowKind.FACE_SCAN)
    if scan is None or not await flows.claim(scan, State.PASSED, State.DONE):
        return json_answer(False, _("检测已过期，请重新开始"), status=400)
    done = await flows.finish(rt, scan)
    subject = await subject_of(request, scan.data["purpose"])
    account_id = subject.account.id if subject.account else None
    purpose, account = subject.purpose, subject.account
    if (
        purpose is None
        or account is None
        or account_id != scan.account_id
        or subject.key != scan.data["subject"]
    ):
        response = json_answer(False, subject.error or _("检测已过期，请重新开始"), status=400)
        response.set_cookie(done)
        return response
    template = rt.keyring.decrypt(base64.b64decode(scan.data["template"]), service.TEMPLATE_CONTEXT)
    check = FaceCheck(True, "ok", "", scan.data["figures"], embedding=service.unpack_template(template))
    if purpose.notice:
        await send_notice(
            rt, account.id, Notice.FACE_SUCCESS, origin, text=purpose.notice, variant=purpose.name
        )
    passed = Passed(
        request, rt, origin, account, check, subject.flow, scan.data["next"], scan.data["distance"]
    )
    response = await purpose.succeed(passed)
    response.set_cookie(done)
    return response


ROUTES = [scan_start, scan_stream, scan_finish]
