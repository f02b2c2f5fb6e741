"""Typed settings read from the environment (``WEBAPP_*``).

Every limit, window and duration is a value here; none of them can be switched off.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from ipaddress import ip_network
from pathlib import Path
from typing import Any, get_type_hints

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"


class SettingsError(RuntimeError):
    """Raised when the environment does not describe a runnable service."""


@dataclass(frozen=True)
class Settings:
    env: str = field(default="production", metadata={"doc": "`dev` or `production`"})
    database_url: str = field(
        default=f"sqlite:///{VAR_DIR / 'webapp.sqlite3'}",
        metadata={"doc": "`sqlite:///PATH` or `postgresql://USER@HOST:PORT/DB`"},
    )
    secret_key: str = field(
        default="",
        metadata={"doc": "master key (≥32 chars); required outside dev, generated into var/ in dev"},
    )
    old_secret_keys: str = field(
        default="", metadata={"doc": "comma-separated retired master keys, to read old data"}
    )
    host: str = field(default="127.0.0.1", metadata={"doc": "address `webapp serve` listens on"})
    port: int = field(default=8000, metadata={"doc": "port `webapp serve` listens on"})
    workers: int = field(default=1, metadata={"doc": "worker processes of `webapp serve`"})
    trusted_proxies: str = field(
        default="",
        metadata={"doc": "comma-separated proxy addresses/networks whose X-Forwarded-For is believed"},
    )
    log_level: str = field(default="INFO", metadata={"doc": "Python logging level"})

    sms_channel: str = field(
        default="", metadata={"doc": "`console` (dev only) or `smtp`; dev default console"}
    )
    smtp_host: str = field(default="127.0.0.1", metadata={"doc": "SMTP relay / email-to-SMS gateway host"})
    smtp_port: int = field(default=25, metadata={"doc": "SMTP port"})
    smtp_username: str = field(default="", metadata={"doc": "SMTP login (empty: none)"})
    smtp_password: str = field(default="", metadata={"doc": "SMTP password"})
    smtp_starttls: bool = field(default=False, metadata={"doc": "use STARTTLS"})
    smtp_timeout: float = field(default=10.0, metadata={"doc": "seconds before a delivery counts as failed"})
    smtp_sender: str = field(default="shiming@localhost", metadata={"doc": "From address of SMS mails"})
    smtp_recipient_template: str = field(
        default="{phone}@sms.example.org", metadata={"doc": "recipient address; `{phone}` is replaced"}
    )

    sms_code_ttl: int = field(default=300, metadata={"doc": "seconds an SMS code stays valid"})
    sms_code_max_wrong: int = field(default=5, metadata={"doc": "wrong entries that void one code"})
    sms_wrong_per_day: int = field(
        default=10, metadata={"doc": "wrong entries per phone and purpose per day"}
    )
    sms_per_minute: int = field(default=1, metadata={"doc": "sends per phone in any 60 s"})
    sms_per_hour: int = field(default=3, metadata={"doc": "sends per phone in any 60 min"})
    sms_per_day: int = field(default=5, metadata={"doc": "sends per phone per Asia/Shanghai calendar day"})
    sms_per_ip_hour: int = field(default=20, metadata={"doc": "SMS sends per client IP per hour"})

    authority: str = field(default="local", metadata={"doc": "`local` (registry table) or `http`"})
    authority_url: str = field(default="", metadata={"doc": "base URL of the `http` identity provider"})
    authority_api_key: str = field(default="", metadata={"doc": "bearer key sent to the `http` provider"})
    authority_timeout: float = field(
        default=10.0, metadata={"doc": "seconds to wait for the `http` provider"}
    )

    face_threshold: float = field(
        default=0.5, metadata={"doc": "largest embedding distance accepted as a match"}
    )
    face_workers: int = field(default=2, metadata={"doc": "face worker processes"})

    session_idle_minutes: int = field(default=30, metadata={"doc": "session ends after this idle time"})
    session_absolute_hours: int = field(default=12, metadata={"doc": "session ends this long after login"})
    login_max_failures: int = field(default=5, metadata={"doc": "consecutive wrong passwords before a lock"})
    login_lock_minutes: int = field(default=15, metadata={"doc": "lock duration"})
    login_per_ip_minute: int = field(default=30, metadata={"doc": "login attempts per client IP per minute"})
    face_max_failures: int = field(
        default=5,
        metadata={"doc": "face scans per account (or unknown identifier) per window; a pass is given back"},
    )
    face_window_minutes: int = field(default=15, metadata={"doc": "window of the face scan limit"})
    face_per_ip_hour: int = field(default=60, metadata={"doc": "face scans per client IP per hour"})
    face_per_ip_2min: int = field(default=6, metadata={"doc": "face scans per client IP in any 2 minutes"})
    lookup_per_ip_hour: int = field(
        default=30, metadata={"doc": "'already registered' checks per client IP per hour"}
    )

    @property
    def dev(self) -> bool:
        return self.env == "dev"

    @property
    def effective_sms_channel(self) -> str:
        return self.sms_channel or ("console" if self.dev else "smtp")

    @property
    def trusted_proxy_networks(self) -> tuple:
        return tuple(
            ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(",") if p.strip()
        )

    @property
    def retired_secret_keys(self) -> list[str]:
        return [key.strip() for key in self.old_secret_keys.split(",") if key.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    def validate(self) -> Settings:
        """Refuse configurations that would run insecurely or not at all."""
        if self.env not in {"dev", "production"}:
            raise SettingsError(f"WEBAPP_ENV must be 'dev' or 'production', not {self.env!r}")
        if len(self.secret_key) < 32:
            raise SettingsError(
                "WEBAPP_SECRET_KEY is not set (or shorter than 32 characters): set it to a long random "
                "value, for example the output of:\n"
                "  python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if any(len(key) < 32 for key in self.retired_secret_keys):
            raise SettingsError("every key in WEBAPP_OLD_SECRET_KEYS must be at least 32 characters long")
        if self.secret_key in self.retired_secret_keys:
            raise SettingsError("WEBAPP_OLD_SECRET_KEYS lists the current WEBAPP_SECRET_KEY")
        if self.effective_sms_channel not in {"console", "smtp"}:
            raise SettingsError("WEBAPP_SMS_CHANNEL must be 'console' or 'smtp'")
        if self.effective_sms_channel == "console" and not self.dev:
            raise SettingsError("WEBAPP_SMS_CHANNEL=console exists only with WEBAPP_ENV=dev; use 'smtp'")
        if self.authority not in {"local", "http"}:
            raise SettingsError("WEBAPP_AUTHORITY must be 'local' or 'http'")
        if self.authority == "http" and not self.authority_url:
            raise SettingsError("WEBAPP_AUTHORITY=http needs WEBAPP_AUTHORITY_URL")
        if not (self.is_sqlite or self.database_url.startswith(("postgres://", "postgresql://"))):
            raise SettingsError("WEBAPP_DATABASE_URL must start with sqlite:/// or postgresql://")
        if "{phone}" not in self.smtp_recipient_template:
            raise SettingsError("WEBAPP_SMTP_RECIPIENT_TEMPLATE must contain {phone}")
        return self


def _convert(raw: str, kind: Any, name: str) -> Any:
    try:
        if kind is bool:
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        return kind(raw)
    except ValueError as error:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from error


def dev_secret_key(var_dir: Path = VAR_DIR) -> str:
    """The dev master key, generated once into var/ so restarts keep reading old data."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    hints = get_type_hints(Settings)
    values: dict[str, Any] = {}
    for item in fields(Settings):
        name = f"WEBAPP_{item.name.upper()}"
        if name in environ:
            values[item.name] = _convert(environ[name], hints[item.name], name)
    values.update(overrides)
    settings = Settings(**values)
    if settings.dev and not settings.secret_key:
        settings = Settings(**{**values, "secret_key": dev_secret_key()})
    return settings.validate()


def settings_table() -> str:
    """The README's configuration table, generated so it never drifts from the code."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for item in fields(Settings):
        default = str(item.default).replace(str(PROJECT_ROOT) + "/", "")
        rows.append(f"| `WEBAPP_{item.name.upper()}` | `{default}` | {item.metadata.get('doc', '')} |")
    return "\n".join(rows)
