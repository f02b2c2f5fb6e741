"""API keys of the registration systems: ``shm_<prefix>_<secret>``, shown once, stored as a keyed hash.

Each key belongs to one registration system (its ``system``, by default its own name) and the API shows
it only that system's filings; a system's keys can be rotated without losing sight of its filings.

A presented key is looked up by its keyed hash (HMAC-SHA256 under a subkey of the master key): the
secret is never compared character by character, so timing tells nothing about it, and a copy of the
database does not contain a usable key.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from webapp import audit
from webapp.business.tables import ApiKey
from webapp.db import write_transaction
from webapp.runtime import Runtime

SCHEME = "shm"
MAX_KEY_LENGTH = 200
TOUCH_EVERY = timedelta(seconds=60)  # last_used_at without a write on every request
NAME = re.compile(r"[\w.\-]{1,64}")
_KEY_SHAPE = re.compile(rf"{SCHEME}_([0-9a-f]{{8}})_([A-Za-z0-9_\-]{{20,120}})")


class ApiKeyError(ValueError):
    pass


@dataclass(frozen=True)
class ApiKeyInfo:
    id: int
    name: str
    system: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def display(self) -> str:
        return f"{SCHEME}_{self.prefix}_…"


def _info(row: dict[str, Any]) -> ApiKeyInfo:
    return ApiKeyInfo(
        row["id"],
        row["name"],
        row["system"],
        row["prefix"],
        row["created_at"],
        row["revoked_at"],
        row["last_used_at"],
    )


def key_hash(rt: Runtime, key: str) -> str:
    return rt.keyring.keyed_hash("api_key", key)


async def create_api_key(
    rt: Runtime, name: str, origin: audit.Origin, system: str | None = None
) -> tuple[ApiKeyInfo, str]:
    """(the stored record, the key itself: shown once, never stored). The key serves ``system``, or the
    system of its own name when none is given."""
    if not NAME.fullmatch(name or ""):
        raise ApiKeyError("the name must be 1-64 letters, digits, '.', '-' or '_'")
    system = name if system is None else system
    if not NAME.fullmatch(system):
        raise ApiKeyError("the system must be 1-64 letters, digits, '.', '-' or '_'")
    now = rt.clock.now()
    async with write_transaction("api-keys"):
        if await ApiKey.exists().where(ApiKey.name == name):
            raise ApiKeyError(f"an API key named {name!r} exists already")
        while True:
            prefix = secrets.token_hex(4)
            if not await ApiKey.exists().where(ApiKey.prefix == prefix):
                break
        key = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
        rows = await ApiKey.insert(
            ApiKey(name=name, system=system, prefix=prefix, secret_hash=key_hash(rt, key), created_at=now)
        ).returning(*ApiKey.all_columns())
        await audit.record("api_key_created", now, origin, None, name=name, prefix=prefix)
    return _info(rows[0]), key


async def list_api_keys() -> list[ApiKeyInfo]:
    return [_info(row) for row in await ApiKey.select().order_by(ApiKey.id)]


async def revoke_api_key(rt: Runtime, name_or_prefix: str, origin: audit.Origin) -> ApiKeyInfo:
    """By name, or by prefix (``1a2b3c4d`` or ``shm_1a2b3c4d``, as ``apikey list`` shows it)."""
    wanted = (name_or_prefix or "").strip()
    prefix = wanted.removeprefix(f"{SCHEME}_").rstrip("_…")
    now = rt.clock.now()
    async with write_transaction("api-keys"):
        row = await ApiKey.select().where(ApiKey.name == wanted).first()
        if row is None and prefix:
            row = await ApiKey.select().where(ApiKey.prefix == prefix).first()
        if row is None:
            raise ApiKeyError(f"no API key named or prefixed {wanted!r}")
        if row["revoked_at"] is not None:
            raise ApiKeyError(f"the API key {row['name']!r} was revoked already")
        await ApiKey.update({ApiKey.revoked_at: now}).where(ApiKey.id == row["id"])
        await audit.record("api_key_revoked", now, origin, None, name=row["name"], prefix=row["prefix"])
        row["revoked_at"] = now
    return _info(row)


@dataclass(frozen=True)
class Authentication:
    key: ApiKeyInfo | None
    problem: str = ""  # missing | malformed | unknown | revoked


async def authenticate(rt: Runtime, authorization: str | None) -> Authentication:
    """The key named by an ``Authorization: Bearer …`` header, if it is one of ours and not revoked."""
    scheme, _, presented = (authorization or "").strip().partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        return Authentication(None, "missing")
    if len(presented) > MAX_KEY_LENGTH or not _KEY_SHAPE.fullmatch(presented):
        return Authentication(None, "malformed")
    hashes = rt.keyring.keyed_hashes("api_key", presented)  # the current key's first
    row = await ApiKey.select().where(ApiKey.secret_hash.is_in(list(hashes))).first()
    if row is None:
        return Authentication(None, "unknown")
    if row["revoked_at"] is not None:
        return Authentication(None, "revoked")
    if row["secret_hash"] != hashes[0]:  # stored under a retired master key: moved on first use
        await ApiKey.update({ApiKey.secret_hash: hashes[0]}).where(ApiKey.id == row["id"])
    now = rt.clock.now()
    if row["last_used_at"] is None or now - row["last_used_at"] >= TOUCH_EVERY:
        await ApiKey.update({ApiKey.last_used_at: now}).where(ApiKey.id == row["id"])
        row["last_used_at"] = now
    return Authentication(_info(row))
