"""The services one process works with, built once from the settings and handed to every rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webapp.clock import SystemClock
from webapp.crypto import Keyring
from webapp.identity.authority import IdentityAuthority
from webapp.settings import Settings
from webapp.sms.channels import SmsChannel, make_channel


@dataclass
class Runtime:
    settings: Settings
    keyring: Keyring
    clock: Any
    sms_channel: SmsChannel
    authority: IdentityAuthority
    extras: dict[str, Any] = field(default_factory=dict)

    def id_index(self, id_number: str) -> str:
        return self.keyring.blind_index("id_number", id_number)

    def phone_index(self, phone: str) -> str:
        return self.keyring.blind_index("phone", phone)

    def limit_key(self, name: str, subject: str) -> str:
        """Limit keys are keyed hashes, so the table holds no phone number or IP address."""
        return self.keyring.keyed_hash("limits", f"{name}:{subject}")


def make_authority(settings: Settings, keyring: Keyring) -> IdentityAuthority:
    if settings.authority == "http":
        from webapp.identity.http_authority import HttpAuthority

        return HttpAuthority(settings.authority_url, settings.authority_api_key, settings.authority_timeout)
    from webapp.identity.local_authority import LocalAuthority

    return LocalAuthority(keyring)


def build_runtime(settings: Settings, clock: Any = None) -> Runtime:
    keyring = Keyring(settings.secret_key, [k for k in settings.old_secret_keys.split(",") if k])
    clock = clock or SystemClock()
    return Runtime(
        settings=settings,
        keyring=keyring,
        clock=clock,
        sms_channel=make_channel(settings, clock),
        authority=make_authority(settings, keyring),
    )
