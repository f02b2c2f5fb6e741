"""Static assets, held in memory: fingerprinted URLs with long-lived immutable caching (the fingerprint
changes with the content), everything else revalidated; text assets precompressed once (brotli, gzip).

In production every file is read, fingerprinted and compressed when the app is made, and nothing touches the
disk again; in dev a file is read again when its modification time changes, so edits show on reload.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import brotli
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from webapp.compression import COMPRESSIBLE, chosen_encoding

STATIC_DIR = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("text/javascript", ".js")


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    fingerprint: str
    encoded: dict[str, bytes]  # "br" / "gzip" → the body so encoded, where that is smaller
    mtime_ns: int

    @classmethod
    def read(cls, path: Path) -> Asset:
        mtime_ns = path.stat().st_mtime_ns
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls.made(path.read_bytes(), media_type, mtime_ns)

    @classmethod
    def made(cls, body: bytes, media_type: str, mtime_ns: int = 0) -> Asset:
        encoded: dict[str, bytes] = {}
        if media_type.startswith(COMPRESSIBLE):
            for encoding, compressed in (
                ("br", brotli.compress(body, quality=11, mode=brotli.MODE_TEXT)),
                ("gzip", gzip.compress(body, compresslevel=9, mtime=0)),
            ):
                if len(compressed) < len(body):
                    encoded[encoding] = compressed
        fingerprint = hashlib.sha256(body).hexdigest()[:12]
        return cls(body, media_type, fingerprint, encoded, mtime_ns)


class StaticAssets:
    """The files under ``root`` (none whose path has a part starting with a dot), by relative path."""

    def __init__(self, root: Path, *, watch: bool):
        self.root = root.resolve()
        self.watch = watch
        self._assets: dict[str, Asset] = {}
        if not watch:
            for path in sorted(self.root.rglob("*")):
                relative = path.relative_to(self.root).as_posix()
                if path.is_file() and self._allowed(relative):
                    self._assets[relative] = Asset.read(path)

    def _allowed(self, relative: str) -> bool:
        return not any(part.startswith(".") for part in relative.split("/"))

    def get(self, relative: str) -> Asset | None:
        relative = relative.lstrip("/")
        if not self.watch:
            return self._assets.get(relative)
        candidate = (self.root / relative).resolve()
        if self.root not in candidate.parents or not candidate.is_file():
            return None
        relative = candidate.relative_to(self.root).as_posix()
        if not self._allowed(relative):
            return None
        known = self._assets.get(relative)
        if known is None or known.mtime_ns != candidate.stat().st_mtime_ns:
            known = self._assets[relative] = Asset.read(candidate)
        return known

    def fingerprint(self, relative: str) -> str:
        asset = self.get(relative)
        if asset is None:
            raise FileNotFoundError(
                errno.ENOENT, "a static file the pages use is missing", str(self.root / relative)
            )
        return asset.fingerprint

    def url(self, relative: str) -> str:
        """The URL templates use for a static file: /static/PATH?v=FINGERPRINT."""
        return f"/static/{relative}?v={self.fingerprint(relative)}"


def assets_of(request: Request[Any, Any, Any]) -> StaticAssets:
    assets: StaticAssets = request.app.state.assets
    return assets


def asset_response(request: Request[Any, Any, Any], asset: Asset, cache_control: str) -> Response[bytes]:
    """The asset in the best encoding the client accepts of those made in advance (the compression
    middleware passes a response that has a Content-Encoding)."""
    headers = {"cache-control": cache_control, "x-content-type-options": "nosniff", "vary": "accept-encoding"}
    content = asset.body
    if encoding := chosen_encoding(request.headers.get("accept-encoding"), asset.encoded):
        content = asset.encoded[encoding]
        headers["content-encoding"] = encoding
    return Response(content, media_type=asset.media_type, headers=headers)


@get("/static/{relative:path}", include_in_schema=False, not_a_page=True)  # no form: no token
async def static_file(
    request: Request[Any, Any, Any], relative: FromPath[str], v: FromQuery[str] = ""
) -> Response[bytes]:
    asset = assets_of(request).get(relative)
    if asset is None:
        raise NotFoundException()
    return asset_response(request, asset, IMMUTABLE if v == asset.fingerprint else REVALIDATE)
