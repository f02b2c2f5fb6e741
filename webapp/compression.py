"""Response compression: brotli or gzip, as the client accepts, in one pass over the whole body.

Pages are small (3–10 KB) and made per request, so the cost per response counts more than the last bytes:
``bench/compression.py`` measures each level on the real pages, and the levels below are the cheapest whose
bytes stay within 15 % of gzip 6's (measured: brotli 1 at 0.58× gzip 6's time for 1.12× its bytes, gzip 1
at 0.71× for 1.06×; a page is 1.6–3.7 KB either way, one round trip).
Responses that already carry a Content-Encoding (static assets, compressed once at start) pass untouched.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

import brotli
from litestar.types import HTTPResponseStartEvent, Message, Send

BROTLI_QUALITY = 1
GZIP_LEVEL = 1
MINIMUM_SIZE = 1024  # smaller bodies fit a packet either way
PREFERENCE = ("br", "gzip")
COMPRESSIBLE = (  # media types worth compressing (static assets are compressed with the same list)
    "text/",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "image/svg",
)
_COMPRESSIBLE = tuple(media_type.encode() for media_type in COMPRESSIBLE)  # as the headers carry them


def _brotli(body: bytes) -> bytes:
    compressed: bytes = brotli.compress(body, quality=BROTLI_QUALITY, mode=brotli.MODE_TEXT)
    return compressed


def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


ENCODERS: dict[str, Callable[[bytes], bytes]] = {"br": _brotli, "gzip": _gzip}


def chosen_encoding(accept_encoding: str | None, available: Mapping[str, object]) -> str | None:
    """The first of PREFERENCE that the client accepts (q > 0, by name or ``*``) and ``available`` has."""
    for encoding in _acceptable(accept_encoding or ""):
        if encoding in available:
            return encoding
    return None


@lru_cache(maxsize=256)  # browsers send a handful of distinct headers: each is read once
def _acceptable(accept_encoding: str) -> tuple[str, ...]:
    """The encodings of PREFERENCE this Accept-Encoding allows, in our order."""
    accepted: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, parameters = item.partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        accepted[name.strip().lower()] = quality
    return tuple(encoding for encoding in PREFERENCE if accepted.get(encoding, accepted.get("*", 0.0)) > 0)


def compressing(send: Send, encoding: str) -> Send:
    """``send``, compressing a whole, uncompressed, compressible body of at least MINIMUM_SIZE bytes with
    ``encoding`` (one of ENCODERS); anything else passes as it is."""
    start: HTTPResponseStartEvent | None = None

    async def compressing_send(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if start is None or message["type"] != "http.response.body":
            await send(message)
            return
        held, start = start, None
        body = message.get("body", b"")
        headers = list(held.get("headers", []))
        if (
            not message.get("more_body", False)
            and len(body) >= MINIMUM_SIZE
            and _compressible(headers)
            and not any(name.lower() == b"content-encoding" for name, _ in headers)
        ):
            body = ENCODERS[encoding](body)
            held["headers"] = [
                *((name, value) for name, value in headers if name.lower() != b"content-length"),
                (b"content-encoding", encoding.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"vary", b"accept-encoding"),
            ]
            message = {**message, "body": body}
        await send(held)
        await send(message)

    return compressing_send


def _compressible(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
    return content_type.lower().startswith(_COMPRESSIBLE)
