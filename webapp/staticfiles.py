"""Static assets: fingerprinted URLs with long-lived immutable caching (the fingerprint changes with the
content), everything else revalidated. Responses are compressed by the app's gzip middleware."""

from __future__ import annotations

import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from webapp.settings import PROJECT_ROOT

STATIC_DIR = PROJECT_ROOT / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("text/javascript", ".js")


@lru_cache(maxsize=256)
def _fingerprint(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _resolve(relative: str) -> Path | None:
    candidate = (STATIC_DIR / relative.lstrip("/")).resolve()
    if STATIC_DIR not in candidate.parents or not candidate.is_file():
        return None
    if any(part.startswith(".") for part in candidate.relative_to(STATIC_DIR).parts):
        return None
    return candidate


def fingerprint(relative: str) -> str:
    path = _resolve(relative)
    if path is None:
        raise FileNotFoundError(relative)
    return _fingerprint(path, path.stat().st_mtime_ns)


def asset_url(relative: str) -> str:
    """The URL templates use for a static file: /static/PATH?v=FINGERPRINT."""
    return f"/static/{relative}?v={fingerprint(relative)}"


@get("/static/{relative:path}", include_in_schema=False)
async def static_file(relative: FromPath[str], v: FromQuery[str] = "") -> Response[bytes]:
    path = _resolve(relative)
    if path is None:
        raise NotFoundException()
    current = v == _fingerprint(path, path.stat().st_mtime_ns)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(
        path.read_bytes(),
        media_type=media_type,
        headers={"cache-control": IMMUTABLE if current else REVALIDATE, "x-content-type-options": "nosniff"},
    )
