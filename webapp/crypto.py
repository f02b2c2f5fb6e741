"""Field encryption, blind indexes and keyed hashes, all derived from one master key.

Each purpose gets its own HKDF subkey. Ciphertexts carry the id of the master key they were made with
(so keys can rotate: old keys stay readable through ``WEBAPP_OLD_SECRET_KEYS``) and are bound to their
table and column through AES-GCM associated data, so a value copied into another column does not decrypt.
Blind indexes cannot carry a key id, so a look-up matches the index under every key of the ring until
``webapp rekey`` has rebuilt them all under the current one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_ID_BYTES = 4
NONCE_BYTES = 12


class DecryptionError(ValueError):
    pass


def _hkdf(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"shiming/v1", info=purpose.encode()).derive(
        master
    )


@dataclass(frozen=True)
class MasterKey:
    secret: str

    @cached_property
    def material(self) -> bytes:
        return self.secret.encode()

    @cached_property
    def key_id(self) -> bytes:
        return _hkdf(self.material, "key-id")[:KEY_ID_BYTES]

    def subkey(self, purpose: str) -> bytes:
        return _hkdf(self.material, purpose)


class Keyring:
    """The current master key plus retired ones that may still have to decrypt old rows."""

    def __init__(self, current: str, retired: list[str] | None = None):
        self.current = MasterKey(current)
        self._by_id = {k.key_id: k for k in [self.current, *(MasterKey(r) for r in retired or [])]}
        self._field_keys: dict[bytes, AESGCM] = {}
        self._hmac_keys: dict[tuple[bytes, str], bytes] = {}

    def role_of(self, key_id: bytes) -> str | None:
        """Which setting holds the key with this id (None: neither), to name a key without showing it."""
        if key_id == self.current.key_id:
            return "WEBAPP_SECRET_KEY"
        retired = [key for key in self._by_id if key != self.current.key_id]
        if key_id in retired:
            return f"WEBAPP_OLD_SECRET_KEYS, key {retired.index(key_id) + 1}"
        return None

    def _aead(self, key: MasterKey) -> AESGCM:
        if key.key_id not in self._field_keys:
            self._field_keys[key.key_id] = AESGCM(key.subkey("fields"))
        return self._field_keys[key.key_id]

    def encrypt(self, plaintext: bytes | str, context: str) -> bytes:
        """context names the table and column, e.g. ``account.phone``."""
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead(self.current).encrypt(nonce, data, context.encode())
        return self.current.key_id + nonce + sealed

    def decrypt(self, blob: bytes, context: str) -> bytes:
        key = self._by_id.get(bytes(blob[:KEY_ID_BYTES]))
        if key is None:
            raise DecryptionError("ciphertext made with an unknown key")
        nonce = bytes(blob[KEY_ID_BYTES : KEY_ID_BYTES + NONCE_BYTES])
        try:
            return self._aead(key).decrypt(nonce, bytes(blob[KEY_ID_BYTES + NONCE_BYTES :]), context.encode())
        except Exception as error:  # InvalidTag: tampered, or read with the wrong context
            raise DecryptionError("ciphertext does not verify") from error

    def decrypt_text(self, blob: bytes, context: str) -> str:
        return self.decrypt(blob, context).decode()

    def needs_reencryption(self, blob: bytes) -> bool:
        return bytes(blob[:KEY_ID_BYTES]) != self.current.key_id

    def _hmac_key(self, purpose: str, key: MasterKey | None = None) -> bytes:
        key = key or self.current
        if (key.key_id, purpose) not in self._hmac_keys:
            self._hmac_keys[key.key_id, purpose] = key.subkey(purpose)
        return self._hmac_keys[key.key_id, purpose]

    def keyed_hash(self, purpose: str, value: str) -> str:
        """HMAC-SHA256 hex: blind indexes (``index:id_number``), SMS codes, session tokens."""
        return hmac.new(self._hmac_key(purpose), value.encode(), hashlib.sha256).hexdigest()

    def keyed_hashes(self, purpose: str, value: str) -> tuple[str, ...]:
        """The keyed hash under every key of the ring, the current key's first."""
        return tuple(
            hmac.new(self._hmac_key(purpose, key), value.encode(), hashlib.sha256).hexdigest()
            for key in self._by_id.values()
        )

    def blind_index(self, kind: str, normalized_value: str) -> str:
        """The index to store: under the current key."""
        return self.keyed_hash(f"index:{kind}", normalized_value)

    def blind_indexes(self, kind: str, normalized_value: str) -> tuple[str, ...]:
        """The indexes to look for: a row not yet rekeyed still holds one made under a retired key."""
        return self.keyed_hashes(f"index:{kind}", normalized_value)

    def derived_secret(self, purpose: str) -> str:
        """A stable secret for a component that wants a string key (CSRF)."""
        return self._hmac_key(purpose).hex()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
