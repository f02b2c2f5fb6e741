"""The services one process works with, built once from the settings and handed to every rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webapp.clock import SystemClock
from webapp.crypto import Keyring
from webapp.identity.authority import IdentityAuthority
from webapp.settings import Settings
from webapp.sms.channels import SmsChannel, make_channel

if TYPE_CHECKING:
    from webapp.face.pool import FacePool


@dataclass
class Runtime:
    settings: Settings
    keyring: Keyring
    clock: Any
    sms_channel: SmsChannel
    authority: IdentityAuthority
    # Any, not FacePool: Litestar reads these annotations at run time, and the pool's module loads only
    # when a face is first checked
    _face_pool: Any = field(default=None, repr=False)
    _owns_face_pool: bool = field(default=False, repr=False)

    @property
    def face_pool(self) -> FacePool:
        """The dlib worker processes, started on first use (most requests never need them)."""
        if self._face_pool is None:
            from webapp.face.pool import FacePool

            self._face_pool = FacePool(workers=self.settings.face_workers)
            self._owns_face_pool = True
        pool: FacePool = self._face_pool
        return pool

    def close(self) -> None:
        """Stop the worker processes this runtime started (a pool handed in belongs to its giver)."""
        if self._owns_face_pool and self._face_pool is not None:
            self._face_pool.close()
            self._face_pool, self._owns_face_pool = None, False

    def id_index(self, id_number: str) -> str:
        """The blind index to store (current key); look-ups use :meth:`id_indexes`."""
        return self.keyring.blind_index("id_number", id_number)

    def phone_index(self, phone: str) -> str:
        """The blind index to store (current key); look-ups use :meth:`phone_indexes`."""
        return self.keyring.blind_index("phone", phone)

    def id_indexes(self, id_number: str) -> list[str]:
        """Every index an ID number may be stored under while a key rotation is under way."""
        return list(self.keyring.blind_indexes("id_number", id_number))

    def phone_indexes(self, phone: str) -> list[str]:
        return list(self.keyring.blind_indexes("phone", phone))

    def account_lock(self, encrypted_id_number: bytes) -> str:
        """The lock key of one account's writers: the current key's index of its ID number, not the stored
        one, which `webapp rekey` may change between two writers' reads."""
        return self.id_index(self.keyring.decrypt_text(encrypted_id_number, "account.id_number"))

    def limit_key(self, name: str, subject: str) -> str:
        """Limit keys are keyed hashes, so the table holds no phone number or IP address."""
        return self.keyring.keyed_hash("limits", f"{name}:{subject}")


def build_runtime(settings: Settings, clock: Any = None) -> Runtime:
    keyring = Keyring(settings.secret_key, settings.retired_secret_keys)
    clock = clock or SystemClock()
    authority: IdentityAuthority
    if settings.authority == "http":
        from webapp.identity.http_authority import HttpAuthority

        authority = HttpAuthority(
            settings.authority_url, settings.authority_api_key, settings.authority_timeout
        )
    else:
        from webapp.identity.local_authority import LocalAuthority

        # the local authority compares faces in the runtime's worker pool, started on first use
        authority = LocalAuthority(keyring, lambda: runtime.face_pool, settings.face_threshold)
    runtime = Runtime(settings, keyring, clock, make_channel(settings, clock), authority)
    return runtime
