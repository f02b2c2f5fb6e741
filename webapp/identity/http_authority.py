"""The identity authority as a configurable HTTP verification provider (JSON requests for both calls).

Exception texts stay log-safe: they name what went wrong, never the citizen's name or ID number.
"""

from __future__ import annotations

import asyncio
import base64
import math
from datetime import date
from typing import Any

import httpx

from webapp.identity.authority import AuthorityUnavailable, ElementsResult, FaceResult


class HttpAuthority:
    def __init__(self, base_url: str, api_key: str = "", timeout: float = 10.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout

    async def verify_elements(
        self, name: str, id_number: str, valid_from: date, valid_to: date | None
    ) -> ElementsResult:
        answer = await self._post(
            "/v1/verify-elements",
            {
                "name": name,
                "id_number": id_number,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat() if valid_to is not None else None,
            },
        )
        return ElementsResult(match=_match(answer), reason=_reason(answer))

    async def compare_face(self, id_number: str, name: str, probe: bytes) -> FaceResult:
        answer = await self._post(
            "/v1/compare-face",
            {"id_number": id_number, "name": name, "probe": base64.b64encode(probe).decode("ascii")},
        )
        return FaceResult(match=_match(answer), distance=_distance(answer), reason=_reason(answer))

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        # httpx's timeout bounds each phase (connect, each read); the outer one bounds the whole call,
        # so a provider that trickles its answer cannot hold the request longer either.
        try:
            async with asyncio.timeout(self._timeout), httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._base_url + path, json=payload, headers=self._headers)
        except (TimeoutError, httpx.TimeoutException):
            raise AuthorityUnavailable(f"identity provider timed out on {path}") from None
        except httpx.HTTPError as error:
            raise AuthorityUnavailable(
                f"identity provider unreachable on {path}: {type(error).__name__}"
            ) from error
        if not response.is_success:
            raise AuthorityUnavailable(f"identity provider answered HTTP {response.status_code} on {path}")
        try:
            answer = response.json()
        except ValueError:  # the decode error keeps the whole body, which may hold personal data
            raise AuthorityUnavailable(f"identity provider answered malformed JSON on {path}") from None
        if not isinstance(answer, dict):
            raise AuthorityUnavailable(f"identity provider answered a JSON {type(answer).__name__} on {path}")
        return answer


def _match(answer: dict[str, Any]) -> bool:
    match = answer.get("match")
    if not isinstance(match, bool):
        raise AuthorityUnavailable("identity provider answer lacks a boolean 'match'")
    return match


def _reason(answer: dict[str, Any]) -> str:
    reason = answer.get("reason", "")
    if not isinstance(reason, str):
        raise AuthorityUnavailable("identity provider answer has a non-string 'reason'")
    return reason


def _distance(answer: dict[str, Any]) -> float | None:
    distance = answer.get("distance")
    if distance is None:
        return None
    if isinstance(distance, bool) or not isinstance(distance, int | float) or not math.isfinite(distance):
        raise AuthorityUnavailable("identity provider answer has an invalid 'distance'")
    return float(distance)
