"""Driving the face scan stream from tests, as a page (or an attacker's script) would.

:class:`AsgiWebSocket` speaks ASGI's WebSocket messages straight to the app in the test's own event
loop (httpx's ASGI transport has no WebSockets), so a test shares the app's database and clock.

:func:`run_scan` does what ``webapp/static/js/face.js`` does — ``POST /face/scan/start``, the stream, then
``POST /face/scan/finish`` — with a :class:`Performer` in front of the "camera": something that,
given what is on screen at a moment (the current instruction and colour, as the page shows them),
returns the JPEG the camera would capture then. A live person is the 3-D head of
:mod:`tests.support.head` following the instructions and lit by the screen; the attacks are
pre-recorded streams, stills, replays and wrongly lit or wrongly timed renderings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FRAME_HEADER = struct.Struct("<d")


class AsgiWebSocket:
    """A WebSocket client over ASGI messages to ``app`` (no network)."""

    def __init__(self, app, path: str, cookies: dict[str, str], origin: str = "https://testserver"):
        cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        headers = [(b"host", b"testserver"), (b"cookie", cookie.encode())]
        if origin:
            headers.append((b"origin", origin.encode()))
        self.scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "wss",
            "http_version": "1.1",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("203.0.113.9", 50000),
            "server": ("testserver", 443),
            "subprotocols": [],
            "state": {},
        }
        self.app = app
        self.to_app: asyncio.Queue = asyncio.Queue()
        self.from_app: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.accepted = False
        self.close_code: int | None = None

    async def connect(self) -> bool:
        """True when the app accepted; False when it closed at once (``close_code`` says why)."""
        self.task = asyncio.ensure_future(self.app(self.scope, self.to_app.get, self.from_app.put))
        await self.to_app.put({"type": "websocket.connect"})
        message = await self._next()
        if message["type"] == "websocket.accept":
            self.accepted = True
            return True
        self.close_code = message.get("code")
        return False

    async def _next(self, timeout: float = 30.0) -> dict:
        getter = asyncio.ensure_future(self.from_app.get())
        done, _ = await asyncio.wait(
            {getter, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            self.task.result()  # raises what the app raised
            return {"type": "websocket.close", "code": 1006}
        raise TimeoutError("the app sent nothing")

    async def receive_json(self, timeout: float = 30.0) -> dict | None:
        """The next text message as JSON, or None once the app closed."""
        message = await self._next(timeout)
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
            return None
        return json.loads(message.get("text") or message.get("bytes"))

    async def send_bytes(self, data: bytes) -> None:
        await self.to_app.put({"type": "websocket.receive", "bytes": data})

    async def send_text(self, text: str) -> None:
        await self.to_app.put({"type": "websocket.receive", "text": text})

    async def close(self) -> None:
        await self.to_app.put({"type": "websocket.disconnect", "code": 1000})
        if self.task is not None:
            with contextlib.suppress(Exception):  # the app's own ending is not the test's business here
                await asyncio.wait_for(self.task, 10)


@dataclass
class Screen:
    """What the page shows, as the performer sees it: the instructions and colours so far, with the
    page time (s since the plan arrived) at which each appeared."""

    steps: list[tuple[float, str]] = field(default_factory=list)
    lights: list[tuple[float, str]] = field(default_factory=list)

    def colour_at(self, t: float) -> tuple[int, int, int] | None:
        shown = [colour for at, colour in self.lights if at <= t]
        if not shown:
            return None
        value = shown[-1].lstrip("#")
        return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


# A performer: (page time in s, the screen so far) → the JPEG the camera captures at that moment.
Performer = Callable[[float, Screen], bytes]


@dataclass
class StreamRun:
    """What a scan's stream did: the start answer, the messages, the frames sent, the result and finish."""

    start: dict
    accepted: bool = False
    close_code: int | None = None
    messages: list[dict] = field(default_factory=list)
    frames: list[tuple[float, bytes]] = field(default_factory=list)
    result: dict | None = None
    finish: dict | None = None

    @property
    def ok(self) -> bool:
        return bool(self.finish and self.finish.get("ok"))

    @property
    def message(self) -> str:
        for answer in (self.finish, self.result, self.start):
            if answer and answer.get("message"):
                return answer["message"]
        return ""


def render_stream(plan, performer: Performer, fps: float = 12.0) -> list[tuple[float, bytes]]:
    """(page ms, JPEG) of a stream whose page shows ``plan`` on time, rendered offline (no clock)."""
    from webapp.face.light import hex_colour

    frames = []
    for k in range(int(plan.duration_ms / 1000 * fps)):
        t = k / fps
        screen = Screen(
            [(at / 1000, step.value) for at, step in plan.steps if at <= t * 1000],
            [(at / 1000, hex_colour(rgb)) for at, rgb in plan.colours if at <= t * 1000],
        )
        frames.append((t * 1000, performer(t, screen)))
    return frames


def cookies_of(client) -> dict[str, str]:
    return {cookie.name: cookie.value for cookie in client.cookies.jar}


async def start_scan(client, token: str, purpose: str, consent: bool = True, next_path: str = "") -> dict:
    answer = await client.post(
        "/face/scan/start",
        data={"purpose": purpose, "consent": "yes" if consent else "", "next": next_path},
        headers={"x-csrftoken": token},
    )
    return answer.json()


async def stream_scan(
    app,
    client,
    performer: Performer,
    *,
    fps: float = 12.0,
    pace: float = 1.0,
    timestamp: Callable[[float], float] | None = None,
    after_end: float = 0.0,
    out_of_order: bool = False,
    run: StreamRun | None = None,
) -> StreamRun:
    """The stream of an issued scan: frames at ``fps`` (``pace`` > 1 sends them faster than real
    time), stamped ``timestamp(t)`` ms (default: the capture time), until the server's ``end`` (and
    ``after_end`` s beyond it); then the result. ``out_of_order`` holds every 5th frame back until
    the next is sent, as a page whose JPEG encodings finish out of order does."""
    run = run or StreamRun(start={})
    socket = AsgiWebSocket(app, "/face/scan/stream", cookies_of(client))
    run.accepted = await socket.connect()
    if not run.accepted:
        run.close_code = socket.close_code
        return run
    plan = await socket.receive_json()
    run.messages.append(plan)
    began = time.monotonic()
    screen = Screen()
    ended = asyncio.Event()

    async def listen() -> None:
        while True:
            message = await socket.receive_json()
            if message is None:
                ended.set()
                return
            run.messages.append(message)
            at = time.monotonic() - began
            if message["type"] == "step":
                screen.steps.append((at, message["step"]))
                await socket.send_text(json.dumps({"shown": message["cue"]}))
            elif message["type"] == "light":
                screen.lights.append((at, message["colour"]))
                await socket.send_text(json.dumps({"shown": message["cue"]}))
            elif message["type"] == "end":
                ended.set()
            elif message["type"] == "result":
                run.result = message
                ended.set()
                return

    listener = asyncio.ensure_future(listen())
    index = 0
    stop_at: float | None = None
    next_at = began
    held = b""
    while True:
        wait = next_at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if ended.is_set():
            stop_at = stop_at or (time.monotonic() + after_end)
            if time.monotonic() >= stop_at or run.result is not None:
                break
        # Like the page's timer: a late tick is taken late, never twice (pace > 1 fakes the clock).
        t = index / fps if pace != 1.0 else time.monotonic() - began
        jpeg = await asyncio.to_thread(performer, t, screen)
        stamp = timestamp(t * 1000) if timestamp else t * 1000
        if out_of_order and index % 5 == 0:
            held = FRAME_HEADER.pack(stamp) + jpeg
        else:
            await socket.send_bytes(FRAME_HEADER.pack(stamp) + jpeg)
            if held:
                await socket.send_bytes(held)
                held = b""
        run.frames.append((stamp, jpeg))
        index += 1
        next_at = max(next_at + 1 / (fps * pace), time.monotonic())
    await asyncio.wait_for(listener, 30)
    await socket.close()
    return run


async def run_scan(app, client, token: str, purpose: str, performer: Performer, **options) -> StreamRun:
    """Start, stream and (when passed) finish one scan, as the page does."""
    consent = options.pop("consent", True)
    start = await start_scan(client, token, purpose, consent, options.pop("next_path", ""))
    run = StreamRun(start=start)
    if not start.get("ok"):
        return run
    await stream_scan(app, client, performer, run=run, **options)
    if run.result and run.result.get("ok"):
        finished = await client.post(run.result["finish"], headers={"x-csrftoken": token})
        run.finish = finished.json()
    return run
