"""Typed settings read from the environment (``WEBAPP_*``).

Every limit, window and duration is a value here; none of them can be switched off.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import secrets
from dataclasses import dataclass, field, fields
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

# The dev database and master key live in var/ under the working directory: the checkout for `make run`,
# the service's own directory (systemd's WorkingDirectory) for an installed copy — never inside the package.
VAR_DIR = Path.cwd() / "var"


class SettingsError(RuntimeError):
    """Raised when the environment does not describe a runnable service; lists every problem at once."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            problems[0] if len(problems) == 1 else f"{len(problems)} problems:\n  " + "\n  ".join(problems)
        )


# WEBAPP_* names that are not settings but are read by the tests; any other unknown name is refused.
NON_SETTING_NAMES = {
    "WEBAPP_TEST_DB": "tests: `sqlite` or `postgres`, the engine the suite runs on",
    "WEBAPP_TEST_POSTGRES_URL": "tests: an existing PostgreSQL server instead of a throwaway cluster",
}
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def secret(default: str, doc: str) -> Any:
    """A field whose value never appears in repr(), logs or error messages."""
    return field(default=default, repr=False, metadata={"doc": doc, "secret": True})


@dataclass(frozen=True)
class Settings:
    env: str = field(default="production", metadata={"doc": "`dev` or `production`"})
    database_url: str = secret(
        f"sqlite:///{VAR_DIR / 'webapp.sqlite3'}",
        "`sqlite:///PATH` or `postgresql://USER:PASSWORD@HOST:PORT/DB` (secret: it may hold a password); the "
        "default's var/ is in the working directory",
    )
    secret_key: str = secret(
        "", "master key (≥32 chars); required outside dev, generated into var/ in dev (secret)"
    )
    old_secret_keys: str = secret("", "comma-separated retired master keys, to read old data (secret)")
    host: str = field(default="127.0.0.1", metadata={"doc": "address `webapp serve` listens on"})
    port: int = field(default=8000, metadata={"doc": "port `webapp serve` listens on"})
    workers: int = field(
        default=1, metadata={"doc": "worker processes of `webapp serve`; more than 1 needs PostgreSQL"}
    )
    trusted_proxies: str = field(
        default="",
        metadata={"doc": "comma-separated proxy addresses/networks whose X-Forwarded-For is believed"},
    )
    log_level: str = field(default="INFO", metadata={"doc": f"Python logging level: {', '.join(LOG_LEVELS)}"})
    log_format: str = field(
        default="text", metadata={"doc": "`text`, or `json`: one object a line, with the request id"}
    )
    access_log: bool = field(
        default=False, metadata={"doc": "one log line per request (uvicorn's access log); dev default on"}
    )
    database_pool_size: int = field(
        default=10,
        metadata={
            "doc": "PostgreSQL connections per worker process at most (sizing: docs/deploy.md); SQLite keeps "
            "one writer and up to 4 readers per process"
        },
    )

    sms_channel: str = field(
        default="",
        metadata={
            "doc": "`console` (dev only), `smtp`, `tencent` (Tencent Cloud SMS) or `aliyun` (Alibaba Cloud "
            "SMS); dev default console. The providers: docs/sms.md"
        },
    )
    smtp_host: str = field(default="127.0.0.1", metadata={"doc": "SMTP relay / email-to-SMS gateway host"})
    smtp_port: int = field(default=25, metadata={"doc": "SMTP port"})
    smtp_username: str = field(default="", metadata={"doc": "SMTP login (empty: none)"})
    smtp_password: str = secret("", "SMTP password (secret)")
    smtp_tls: str = field(
        default="starttls",
        metadata={
            "doc": "`starttls`: upgrade with STARTTLS when the server offers it; `implicit`: TLS from the "
            "first byte (SMTPS, usually port 465); `off`: never encrypt"
        },
    )
    smtp_require_tls: bool = field(
        default=False,
        metadata={"doc": "with `starttls`: refuse to send when the server does not offer STARTTLS"},
    )
    smtp_ca_file: str = field(
        default="",
        metadata={"doc": "PEM file of the CA that signed the server's certificate (empty: the system's)"},
    )
    smtp_timeout: float = field(default=10.0, metadata={"doc": "seconds before a delivery counts as failed"})
    smtp_sender: str = field(default="shiming@localhost", metadata={"doc": "From address of SMS mails"})
    smtp_recipient_template: str = field(
        default="{phone}@sms.example.org", metadata={"doc": "recipient address; `{phone}` is replaced"}
    )
    sms_endpoint: str = field(
        default="",
        metadata={
            "doc": "`tencent`/`aliyun`: the provider's API address, `https://HOST[:PORT]` (`http://` only to "
            "a loopback address); empty: the public one (`https://sms.tencentcloudapi.com`, "
            "`https://dysmsapi.aliyuncs.com` or its region's)"
        },
    )
    sms_region: str = field(
        default="",
        metadata={
            "doc": "`tencent`: the Region of each call (empty: `ap-guangzhou`); `aliyun`: the region whose "
            "public endpoint is used (empty or `cn-*`: `dysmsapi.aliyuncs.com`, else "
            "`dysmsapi.REGION.aliyuncs.com`)"
        },
    )
    sms_app_id: str = field(
        default="", metadata={"doc": "`tencent`: the SdkAppId of the SMS application (1400…)"}
    )
    sms_sign_name: str = field(
        default="", metadata={"doc": "`tencent`/`aliyun`: the approved signature (签名), without 【】"}
    )
    sms_templates: str = field(
        default="",
        metadata={
            "doc": "`tencent`/`aliyun`: the approved template of each message kind, comma-separated "
            "`kind=id` (Tencent TemplateId, Alibaba TemplateCode); every kind the service sends needs one, "
            "checked at start (docs/sms.md)"
        },
    )
    sms_access_key_id: str = field(
        default="", metadata={"doc": "`tencent`: SecretId; `aliyun`: AccessKey ID"}
    )
    sms_access_key_secret: str = secret("", "`tencent`: SecretKey; `aliyun`: AccessKey secret (secret)")
    sms_timeout: float = field(
        default=10.0, metadata={"doc": "seconds before a call to `tencent`/`aliyun` counts as failed"}
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
    authority_api_key: str = secret("", "bearer key sent to the `http` provider (secret)")
    authority_timeout: float = field(
        default=10.0, metadata={"doc": "seconds to wait for the `http` provider"}
    )

    face_threshold: float = field(
        default=0.5, metadata={"doc": "largest embedding distance accepted as a match"}
    )
    face_workers: int = field(default=2, metadata={"doc": "face worker processes"})

    metrics_token: str = secret(
        "", "bearer token that may read /metrics (secret); empty: /metrics answers 404"
    )
    deletion_cooling_off_days: int = field(
        default=15,
        metadata={"doc": "days between 注销账号 and the erasure; signing in meanwhile offers to cancel"},
    )

    session_idle_minutes: int = field(default=30, metadata={"doc": "session ends after this idle time"})
    session_absolute_hours: int = field(default=12, metadata={"doc": "session ends this long after login"})
    login_max_failures: int = field(
        default=5,
        metadata={
            "doc": "wrong passwords in a row from one source (a known device, else an address) before "
            "that source is locked out of the account"
        },
    )
    login_max_failures_per_day: int = field(
        default=100, metadata={"doc": "wrong passwords per account per Shanghai day, all sources together"}
    )
    login_lock_minutes: int = field(default=15, metadata={"doc": "lock duration"})
    login_per_ip_minute: int = field(default=30, metadata={"doc": "login attempts per client IP per minute"})
    face_max_failures: int = field(
        default=5,
        metadata={"doc": "face scans per account (or unknown identifier) per window; a pass is given back"},
    )
    face_window_minutes: int = field(default=15, metadata={"doc": "window of the face scan limit"})
    face_max_failures_per_day: int = field(
        default=20,
        metadata={
            "doc": "face scans per account (or unknown identifier) per Shanghai day; a pass is given back"
        },
    )
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
    def sms_provider(self) -> bool:
        """The channel is an SMS provider's API (templates, signature name, credentials)."""
        return self.effective_sms_channel in SMS_PROVIDERS

    @property
    def sms_template_ids(self) -> dict[str, str]:
        """``WEBAPP_SMS_TEMPLATES`` as kind → template id (entries that do not parse are left out; the
        validation names them)."""
        ids: dict[str, str] = {}
        for entry in _entries(self.sms_templates):
            kind, _, template_id = (part.strip() for part in entry.partition("="))
            if TEMPLATE_KIND.fullmatch(kind) and TEMPLATE_ID.fullmatch(template_id):
                ids.setdefault(kind, template_id)
        return ids

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
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
        """Refuse configurations that would run insecurely or not at all, naming every problem."""
        if problems := self.problems():
            raise SettingsError(problems)
        return self

    def problems(self) -> list[str]:
        """What is wrong with these values; never quotes a secret."""
        problems = [
            f"WEBAPP_{item.name.upper()} must be a positive number, not {getattr(self, item.name)!r}"
            for item in fields(self)
            if item.type in {"int", "float"} and not _positive(getattr(self, item.name))
        ]
        for name, allowed in [
            ("env", ("dev", "production")),
            ("sms_channel", ("", "console", "smtp", *SMS_PROVIDERS)),
            ("authority", ("local", "http")),
            ("smtp_tls", ("starttls", "implicit", "off")),
            ("log_level", LOG_LEVELS),
            ("log_format", ("text", "json")),
        ]:
            if getattr(self, name) not in allowed:
                spelled = " or ".join(repr(value) for value in allowed if value)
                problems.append(f"WEBAPP_{name.upper()} must be {spelled}, not {getattr(self, name)!r}")
        if len(self.secret_key) < 32:
            problems.append(
                "WEBAPP_SECRET_KEY is not set (or shorter than 32 characters): set it to a long random "
                "value, for example the output of:\n"
                "    python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if any(len(key) < 32 for key in self.retired_secret_keys):
            problems.append("every key in WEBAPP_OLD_SECRET_KEYS must be at least 32 characters long")
        if self.secret_key in self.retired_secret_keys:
            problems.append("WEBAPP_OLD_SECRET_KEYS lists the current WEBAPP_SECRET_KEY")
        if self.effective_sms_channel == "console" and not self.dev:
            problems.append(
                "WEBAPP_SMS_CHANNEL=console exists only with WEBAPP_ENV=dev; "
                "use 'smtp', 'tencent' or 'aliyun'"
            )
        problems += self._sms_provider_problems()
        if self.authority == "http" and not self.authority_url:
            problems.append("WEBAPP_AUTHORITY=http needs WEBAPP_AUTHORITY_URL")
        if not (self.is_sqlite or self.database_url.startswith(("postgres://", "postgresql://"))):
            problems.append("WEBAPP_DATABASE_URL must start with sqlite:/// or postgresql://")
        if self.is_sqlite and self.workers > 1:
            problems.append(
                f"{self.workers} workers (--workers or WEBAPP_WORKERS) on SQLite: the write queue is per "
                "process, so several processes would race for SQLite's write lock; run 1 worker, or use "
                "PostgreSQL (WEBAPP_DATABASE_URL=postgresql://...) for several workers (docs/deploy.md)"
            )
        if "{phone}" not in self.smtp_recipient_template:
            problems.append("WEBAPP_SMTP_RECIPIENT_TEMPLATE must contain {phone}")
        if self.smtp_require_tls and self.smtp_tls != "starttls":
            problems.append(
                f"WEBAPP_SMTP_REQUIRE_TLS=true goes with WEBAPP_SMTP_TLS=starttls, not {self.smtp_tls!r}"
            )
        if self.smtp_ca_file and not Path(self.smtp_ca_file).is_file():
            problems.append(f"WEBAPP_SMTP_CA_FILE={self.smtp_ca_file!r} is not a file")
        return problems

    def _sms_provider_problems(self) -> list[str]:
        """The provider settings: what the chosen provider needs, and values that cannot be right for
        any (whether every kind the service sends has a template is checked at start, where the kinds
        are known: ``webapp.app.sms_kinds``)."""
        problems = [
            f"WEBAPP_SMS_TEMPLATES: {entry!r} is not kind=template_id (a kind such as code or "
            "password_changed, an id of letters, digits, _ and -)"
            for entry in _entries(self.sms_templates)
            if not (
                TEMPLATE_KIND.fullmatch(entry.partition("=")[0].strip())
                and TEMPLATE_ID.fullmatch(entry.partition("=")[2].strip())
            )
        ]
        kinds = [entry.partition("=")[0].strip() for entry in _entries(self.sms_templates)]
        problems += [
            f"WEBAPP_SMS_TEMPLATES names {kind!r} twice"
            for kind in sorted({kind for kind in kinds if kinds.count(kind) > 1})
        ]
        if self.sms_endpoint and (problem := _endpoint_problem(self.sms_endpoint)):
            problems.append(f"WEBAPP_SMS_ENDPOINT={self.sms_endpoint!r} {problem}")
        if self.sms_region and not REGION.fullmatch(self.sms_region):
            problems.append(f"WEBAPP_SMS_REGION={self.sms_region!r} is not a region id such as ap-guangzhou")
        if not self.sms_provider:
            return problems
        channel = self.effective_sms_channel
        needed = ["sms_access_key_id", "sms_access_key_secret", "sms_sign_name", "sms_templates"]
        if channel == "tencent":
            needed.insert(0, "sms_app_id")
        problems += [
            f"WEBAPP_SMS_CHANNEL={channel} needs WEBAPP_{name.upper()}"
            for name in needed
            if not getattr(self, name).strip()
        ]
        return problems


SMS_PROVIDERS = ("tencent", "aliyun")
TEMPLATE_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?")
TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
REGION = re.compile(r"[a-z]{2}(-[a-z0-9]+)+")
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


def _entries(text: str) -> list[str]:
    return [entry.strip() for entry in text.split(",") if entry.strip()]


def _endpoint_problem(url: str) -> str:
    """Why ``url`` cannot be a provider endpoint, or "": https (plain http to this machine only, for a
    local gateway or a test stub), a host and maybe a port, no path, query or credentials."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return "has a port that is not a number"
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        return "is not an https://HOST[:PORT] address"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return "is plain http to another machine: use https (plain http reaches only a loopback address)"
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username or port == 0:
        return "must be only https://HOST[:PORT], without a path, query or credentials"
    return ""


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def _convert(raw: str, kind: Any, name: str) -> Any:
    """The typed value of one variable; raises ValueError with a message naming it."""
    if kind is bool:
        word = raw.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ValueError(f"{name}={raw!r} is not a boolean: use true/false, 1/0, yes/no or on/off")
        return word in TRUE_WORDS
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not {'an integer' if kind is int else 'a number'}") from None


def dev_secret_key(var_dir: Path = VAR_DIR) -> str:
    """The dev master key, generated once into var/ so restarts keep reading old data."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``WEBAPP_*`` variables; unknown names and values that do not parse are refused."""
    environ = dict(os.environ if environ is None else environ)
    hints = get_type_hints(Settings)
    names = {f"WEBAPP_{item.name.upper()}": item for item in fields(Settings)}
    problems = [
        _unknown(name, names)
        for name in sorted(environ)
        if name.startswith("WEBAPP_")
        if name not in names and name not in NON_SETTING_NAMES
    ]
    values: dict[str, Any] = {}
    for name, item in names.items():
        if name in environ:
            try:
                values[item.name] = _convert(environ[name], hints[item.name], name)
            except ValueError as error:  # only non-secret fields are typed, so the value may be quoted
                problems.append(str(error))
    values.update(overrides)
    if values.get("env", Settings.env) == "dev" and not values.get("secret_key"):
        values["secret_key"] = dev_secret_key()
    settings = Settings(**values)
    problems += settings.problems()
    if problems:
        raise SettingsError(problems)
    return settings


def _unknown(name: str, known: dict[str, Any]) -> str:
    """Suggests the closest known name, compared without the prefix that they all share."""
    suffixes = [known_name.removeprefix("WEBAPP_") for known_name in [*known, *NON_SETTING_NAMES]]
    close = difflib.get_close_matches(name.removeprefix("WEBAPP_"), suffixes, n=1)
    return f"{name} is not a setting" + (f" (did you mean WEBAPP_{close[0]}?)" if close else "")


def settings_table() -> str:
    """The README's configuration table (and the names accepted beside it), generated so it never drifts."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for item in fields(Settings):
        default = str(item.default).lower() if isinstance(item.default, bool) else str(item.default)
        default = default.replace(str(VAR_DIR), "var")
        rows.append(f"| `WEBAPP_{item.name.upper()}` | `{default}` | {item.metadata.get('doc', '')} |")
    rows += ["", "Not settings, and accepted beside them:", ""]
    rows += [f"- `{name}`: {doc}" for name, doc in NON_SETTING_NAMES.items()]
    return "\n".join(rows)
