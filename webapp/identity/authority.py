"""The identity authority: the one interface through which the four elements and faces are checked.

Real providers compare faces themselves and never hand out citizens' photos, so the interface has
exactly two calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol


class AuthorityUnavailable(RuntimeError):
    """The authority could not be asked (network, timeout, malformed answer)."""


@dataclass(frozen=True)
class ElementsResult:
    match: bool
    reason: str = ""  # machine-readable: "", "not_found", "name", "validity"


@dataclass(frozen=True)
class FaceResult:
    match: bool
    distance: float | None
    reason: str = ""  # "", "no_reference", "no_face"


class IdentityAuthority(Protocol):
    async def verify_elements(
        self, name: str, id_number: str, valid_from: date, valid_to: date | None
    ) -> ElementsResult:
        """valid_to None means 长期 (long-term)."""

    async def compare_face(self, id_number: str, name: str, probe: bytes) -> FaceResult:
        """probe: one JPEG frame of the live face; the authority decides whether it is this citizen."""
