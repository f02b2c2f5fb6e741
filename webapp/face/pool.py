"""A pool of worker processes for dlib work, usable from asyncio.

dlib holds the GIL for the whole of a detection or an embedding, so threads would stall the event
loop: every call goes to a ``ProcessPoolExecutor`` (start method "spawn": no forked copy of the
server's state, locks or sockets) whose workers load the models once, in the initializer.

Jobs are module-level functions that receive bytes and return plain picklable results. If a worker
dies (segfault, OOM kill, ``os._exit``) the executor is broken for good; the pool replaces it so the
next call works, and the call that saw the crash raises :class:`FaceWorkerError`.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from webapp.face.decode import FRAME_FORMATS, MAX_BYTES, MAX_PIXELS, MAX_SIDE, FaceInputError, decode_image
from webapp.face.pipeline import (
    DEFAULT_THRESHOLD,
    FACE_MESSAGES,
    FACE_NOT_IN_FRAME,
    MIN_FACE_SIZE,
    OK,
    Box,
    EmbedResult,
    FrameAnalysis,
    analyze_bytes,
    compare,
    embed_bytes,
    embedding,
)
from webapp.i18n import N_
from webapp.metrics import FACE_QUEUE

log = logging.getLogger(__name__)

T = TypeVar("T")


class FaceWorkerError(RuntimeError):
    """A face worker process died during the call (the pool has been restarted)."""

    message = N_("人脸识别服务暂时不可用，请稍后重试")


@dataclass(frozen=True)
class FaceLimits:
    """Decode and detection limits applied in the workers."""

    max_bytes: int = MAX_BYTES
    max_pixels: int = MAX_PIXELS
    max_side: int = MAX_SIDE
    min_face_size: int = MIN_FACE_SIZE


# --- worker side (module-level so that "spawn" workers can unpickle references to them) ----------


def _init_worker() -> None:
    from webapp.face.models import get_models

    get_models()


def _ping(pause: float = 0.0) -> int:
    if pause:
        time.sleep(pause)
    return os.getpid()


def _embed_job(data: bytes, limits: FaceLimits) -> EmbedResult:
    return embed_bytes(
        data,
        max_bytes=limits.max_bytes,
        max_pixels=limits.max_pixels,
        max_side=limits.max_side,
        min_face_size=limits.min_face_size,
    )


def _analyze_job(frames: Sequence[bytes], limits: FaceLimits) -> list[FrameAnalysis]:
    return [
        analyze_bytes(
            data,
            max_bytes=limits.max_bytes,
            max_pixels=limits.max_pixels,
            max_side=limits.max_side,
            min_face_size=limits.min_face_size,
        )
        for data in frames
    ]


def _embed_box_job(data: bytes, box: Box, limits: FaceLimits) -> EmbedResult:
    """Decode + embed the face in a known ``box`` (found by an earlier analysis of the same bytes).

    Decoding is deterministic, so with the same ``limits`` the box lands on the same face; this
    skips a second detection (the 128-d embedding itself costs ~75 ms, detection ~6-25 ms).
    """
    try:
        image = decode_image(
            data,
            max_bytes=limits.max_bytes,
            max_pixels=limits.max_pixels,
            max_side=limits.max_side,
            formats=FRAME_FORMATS,
        )
    except FaceInputError as error:
        return EmbedResult(error.code, error.message)
    size = (int(image.shape[1]), int(image.shape[0]))
    if not box.inside(*size):
        return EmbedResult(FACE_NOT_IN_FRAME, FACE_MESSAGES[FACE_NOT_IN_FRAME], box=box, image_size=size)
    vector = embedding(image, box)
    return EmbedResult(OK, "", tuple(float(v) for v in vector), box, size)


# --- event-loop side -----------------------------------------------------------------------------


class FacePool:
    """``workers`` processes (spawned on first use, or by :meth:`start`) that hold the models."""

    def __init__(self, workers: int = 1, limits: FaceLimits | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.limits = limits or FaceLimits()
        self._lock = threading.Lock()
        self._closed = False
        self._executor = self._new_executor()
        self.restarts = 0

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is not broken or self._closed:
                return  # another call already replaced it
            self._executor = self._new_executor()
            self.restarts += 1
        log.error("a face worker process died; the face pool was restarted")
        broken.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a module-level ``fn(*args)`` in a worker; raises :class:`FaceWorkerError` on a crash."""
        if self._closed:
            raise RuntimeError("the face pool is closed")
        executor = self._executor
        FACE_QUEUE.inc()
        try:
            future = executor.submit(fn, *args)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as error:
            self._replace(executor)
            raise FaceWorkerError(FaceWorkerError.message) from error
        finally:
            FACE_QUEUE.dec()

    async def start(self) -> list[int]:
        """Spawn every worker and wait until they have loaded the models; returns their pids."""
        # On-demand spawning starts one process per pending task; the short pause keeps a worker
        # that finished loading first from taking all the pings.
        pids = await asyncio.gather(*(self.run(_ping, 0.2) for _ in range(self.workers)))
        return sorted(set(pids))

    async def ready(self) -> None:
        """Every worker spawned and holding the models (a no-op once they are): a scan waits for this
        before its clock starts, so that loading the models never stalls a live stream."""
        if len(self.pids()) < self.workers:
            await self.start()

    async def embed_image(self, data: bytes) -> EmbedResult:
        """Decode + detect + embed exactly one face; refusals come back in the result's ``code``."""
        return await self.run(_embed_job, bytes(data), self.limits)

    async def compare_images(
        self, a: bytes, b: bytes, threshold: float = DEFAULT_THRESHOLD
    ) -> tuple[bool, float]:
        """``(match, distance)``. The two images are embedded concurrently (on two workers if any).

        Raises :class:`FaceInputError` (with ``index`` 0 or 1 set) when an image is unusable.
        """
        results = await asyncio.gather(self.embed_image(a), self.embed_image(b))
        for index, result in enumerate(results):
            if not result.ok:
                error = FaceInputError(result.code, result.message)
                error.index = index
                raise error
        return compare(results[0].vector, results[1].vector, threshold)

    async def analyze_frames(
        self, frames: Sequence[bytes], limits: FaceLimits | None = None
    ) -> list[FrameAnalysis]:
        """Per-frame liveness figures, in order; the frames are spread over the workers in chunks. ``limits``:
        decode/detection limits other than the pool's (e.g. for camera frames)."""
        limits = limits or self.limits
        frames = [bytes(f) for f in frames]
        if not frames:
            return []
        chunks = min(self.workers, len(frames))
        size = -(-len(frames) // chunks)
        parts = [frames[i : i + size] for i in range(0, len(frames), size)]
        results = await asyncio.gather(*(self.run(_analyze_job, part, limits) for part in parts))
        return [item for part in results for item in part]

    async def embed_in_box(self, data: bytes, box: Box, limits: FaceLimits | None = None) -> EmbedResult:
        """The 128-d embedding of the face in ``box`` of an image analysed before with the same limits."""
        return await self.run(_embed_box_job, bytes(data), box, limits or self.limits)

    def pids(self) -> list[int]:
        """Pids of the live worker processes (for monitoring and tests)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(processes)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor = self._executor
        executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> FacePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
