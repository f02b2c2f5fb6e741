"""The `local` identity authority: the registry table, filled by `webapp authority import` and the demo."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from webapp.crypto import Keyring
from webapp.face.decode import FaceInputError
from webapp.face.pool import FacePool
from webapp.identity.authority import ElementsResult, FaceResult
from webapp.identity.tables import Citizen


class LocalAuthority:
    def __init__(self, keyring: Keyring, face_pool: Callable[[], FacePool], threshold: float = 0.5):
        self.keyring = keyring
        self.face_pool = face_pool
        self.threshold = threshold

    async def _citizen(self, id_number: str) -> dict[str, Any] | None:
        indexes = list(self.keyring.blind_indexes("id_number", id_number))
        return await Citizen.select().where(Citizen.id_index.is_in(indexes)).first()

    async def verify_elements(
        self, name: str, id_number: str, valid_from: date, valid_to: date | None
    ) -> ElementsResult:
        citizen = await self._citizen(id_number)
        if citizen is None:
            return ElementsResult(match=False, reason="not_found")
        if self.keyring.decrypt_text(citizen["name"], "citizen.name") != name:
            return ElementsResult(match=False, reason="name")
        if citizen["valid_from"] != valid_from or citizen["valid_to"] != valid_to:
            return ElementsResult(match=False, reason="validity")
        return ElementsResult(match=True)

    async def compare_face(self, id_number: str, name: str, probe: bytes) -> FaceResult:
        citizen = await self._citizen(id_number)
        if (
            citizen is None
            or citizen["photo"] is None
            or self.keyring.decrypt_text(citizen["name"], "citizen.name") != name
        ):
            return FaceResult(match=False, distance=None, reason="no_reference")
        reference = self.keyring.decrypt(citizen["photo"], "citizen.photo")
        try:
            match, distance = await self.face_pool().compare_images(reference, probe, self.threshold)
        except FaceInputError as error:
            return FaceResult(
                match=False, distance=None, reason="no_reference" if error.index == 0 else "no_face"
            )
        return FaceResult(match=match, distance=distance)
