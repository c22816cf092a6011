"""Settings from the environment and `.env`; development invents what it lacks, production refuses."""

from __future__ import annotations

import base64
import functools
import os
import secrets
import threading
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GENERATED_SECRETS_FILE = "secrets.env"
DEVELOPMENT_BASE_URL = "http://localhost:3000"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class ConfigError(RuntimeError):
    """Raised with a one-line message naming every missing or malformed variable."""


@functools.lru_cache(maxsize=64)  # a pure function of its arguments; signing runs it per link
def _decode_key(raw: str, name: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not valid base64") from exc
    if len(key) != 32:
        raise ValueError(f"{name} must decode to 32 bytes, got {len(key)}")
    return key


def new_key() -> str:
    """A fresh 256-bit key in the urlsafe base64 form the settings expect."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


class Settings(BaseSettings):
    """Everything configurable; names match the environment variables (case-insensitive)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", validate_default=True)

    app_env: Literal["development", "production"] = "development"
    data_dir: Path = PROJECT_ROOT / "data"
    database_url: str = ""
    redis_url: str = ""
    public_base_url: str = DEVELOPMENT_BASE_URL
    public_api_url: str = ""
    # Production refuses http:// public URLs unless this is set and the host is loopback
    # (the project's own production-mode tests run on 127.0.0.1).
    allow_insecure_http: bool = False
    # Reverse proxies in front of the app whose X-Forwarded-For is trusted (core/client_ip.py).
    trusted_proxy_hops: int = 0
    # Provider limits fixed by the deployment (else the Settings page decides); see README.
    email_requests_per_s: float | None = None
    emails_per_request: int | None = None
    sms_segments_per_s: float | None = None

    # "kid1:key1,kid2:key2" — urlsafe base64 of 32 bytes each; the active one encrypts.
    encryption_keys: str = ""
    active_key_id: str = ""
    blind_index_key: str = ""
    signing_key: str = ""

    email_provider: Literal["outbox", "resend"] = "outbox"
    sms_provider: Literal["outbox", "twilio"] = "outbox"
    resend_api_key: str = ""
    resend_webhook_secret: str = ""
    resend_base_url: str = "https://api.resend.com"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_base_url: str = "https://api.twilio.com"
    twilio_from_number: str = ""

    queue_prefix: str = "mk"  # namespaces queues and Redis keys: several deployments, one Redis
    send_lease_s: float = 120.0  # a claimed delivery is reclaimed after this (worker died)
    provider_timeout_s: float = 10.0  # no answer from Resend/Twilio in this long: outcome unknown
    default_region: str = "US"
    session_hours: int = 12

    # Deliverability guard limits (core/app_settings.DeliverabilityLimits); unset: Settings page.
    guard_complaint_pct: float | None = None
    guard_hard_bounce_pct: float | None = None
    guard_min_sent: int | None = None
    # Frequency cap (core/app_settings.FrequencyCap); unset: Settings page.
    frequency_cap_email: int | None = None
    frequency_cap_sms: int | None = None
    frequency_cap_days: int | None = None

    @field_validator("public_base_url", "public_api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if value and "://" not in value:
            raise ValueError(
                "must be a URL such as sqlite:///data/app.db or postgresql+psycopg://…"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        value = value.strip().upper()
        if len(value) != 2 or not value.isalpha():
            raise ValueError("must be a two-letter country code such as US or GB")
        return value

    @field_validator("session_hours", "send_lease_s", "provider_timeout_s")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be a positive number")
        return value

    @field_validator("email_requests_per_s", "sms_segments_per_s")
    @classmethod
    def _rate(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 10_000:
            raise ValueError("must be 0 (no limit) to 10000 per second")
        return value

    @field_validator("emails_per_request")
    @classmethod
    def _batch(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 100:
            raise ValueError("must be 1 to 100 (Resend's largest batch)")
        return value

    @field_validator("trusted_proxy_hops")
    @classmethod
    def _hops(cls, value: int) -> int:
        if not 0 <= value <= 10:
            raise ValueError("must be a whole number from 0 (no proxy) to 10")
        return value

    @model_validator(mode="after")
    def _guard_limits(self) -> Settings:
        """The same rules as the Settings page, reported under the variables' names."""
        from marketing_ui.core.app_settings import DeliverabilityLimits, FrequencyCap, env_name

        problems: list[str] = []
        for cls in (DeliverabilityLimits, FrequencyCap):
            names = {f: env_name(cls, f) for f in cls.__dataclass_fields__}
            given = {f: getattr(self, env.lower()) for f, env in names.items()}
            given = {f: v for f, v in given.items() if v is not None}
            problems += [f"{names[f]}: {text}" for f, text in cls(**given).problems() if f in given]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _keys_well_formed(self) -> Settings:
        problems: list[str] = []
        if self.encryption_keys:
            try:
                ring = parse_keyring(self.encryption_keys)
            except ValueError as exc:
                problems.append(f"ENCRYPTION_KEYS: {exc}")
            else:
                if self.active_key_id and self.active_key_id not in ring:
                    problems.append("ACTIVE_KEY_ID: names no key in ENCRYPTION_KEYS")
        for name in ("blind_index_key", "signing_key"):
            raw = getattr(self, name)
            if raw:
                try:
                    _decode_key(raw, name.upper())
                except ValueError as exc:
                    problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # Derived values -------------------------------------------------------
    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def keyring(self) -> dict[str, bytes]:
        return parse_keyring(self.encryption_keys)

    @property
    def active_key(self) -> str:
        return self.active_key_id or next(iter(self.keyring))

    @property
    def api_base_url(self) -> str:
        """Where the public endpoints live: the app's own origin (one port), unless the
        developer mode's separate backend port says otherwise (`PUBLIC_API_URL`)."""
        return self.public_api_url or self.public_base_url

    @property
    def sqlite_default_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'marketing.db'}"


def parse_keyring(raw: str) -> dict[str, bytes]:
    """Parse `kid:key,kid:key` into an ordered dict; the first entry is the default active key."""
    ring: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        kid, sep, key = part.partition(":")
        if not sep or not kid.isalnum():
            raise ValueError("each entry must look like KEYID:BASE64KEY with an alphanumeric id")
        if kid in ring:
            raise ValueError(f"key id {kid} appears twice")
        ring[kid] = _decode_key(key, f"key {kid}")
    if not ring:
        raise ValueError("no keys given")
    return ring


_REQUIRED_IN_PRODUCTION = (
    "database_url",
    "redis_url",
    "encryption_keys",
    "blind_index_key",
    "signing_key",
)
_REQUIRED_BY_PROVIDER = {
    # Without the webhook secret bounces and complaints are never processed.
    ("email_provider", "resend"): ("resend_api_key", "resend_webhook_secret"),
    ("sms_provider", "twilio"): ("twilio_account_sid", "twilio_auth_token", "twilio_from_number"),
}


def _format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "settings"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc.upper()}: {msg}" if loc != "settings" else msg)
    return "; ".join(parts)


def _ensure_development_secrets(settings: Settings) -> Settings:
    """Generate missing keys once into data/secrets.env and reuse them on every start."""
    stored = read_secrets_file(settings.data_dir)
    wanted = {
        "ENCRYPTION_KEYS": lambda: f"k1:{new_key()}",
        "BLIND_INDEX_KEY": new_key,
        "SIGNING_KEY": new_key,
    }
    changed = False
    for name, make in wanted.items():
        if name not in stored:
            stored[name] = make()
            changed = True
    if changed:
        write_secrets_file(settings.data_dir, stored)
    updates = {
        "active_key_id": settings.active_key_id or stored.get("ACTIVE_KEY_ID", ""),
        "encryption_keys": settings.encryption_keys or stored["ENCRYPTION_KEYS"],
        "blind_index_key": settings.blind_index_key or stored["BLIND_INDEX_KEY"],
        "signing_key": settings.signing_key or stored["SIGNING_KEY"],
    }
    if not settings.database_url:
        updates["database_url"] = settings.sqlite_default_url
    return Settings.model_validate({**settings.model_dump(), **updates})


def read_secrets_file(data_dir: Path) -> dict[str, str]:
    path = data_dir / GENERATED_SECRETS_FILE
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep:
            out[name.strip()] = value.strip()
    return out


def write_secrets_file(data_dir: Path, values: dict[str, str]) -> None:
    path = data_dir / GENERATED_SECRETS_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)


def key_reuse(settings: Settings) -> list[str]:
    """Each key serves one purpose: a signing key that is also the blind-index key (or an
    encryption key) lets one leak break both. Names the pairs, never the values."""
    ring = settings.keyring if settings.encryption_keys else {}
    keys = [(f"ENCRYPTION_KEYS key {kid}", key) for kid, key in ring.items()]
    keys += [
        (name.upper(), _decode_key(getattr(settings, name), name.upper()))
        for name in ("blind_index_key", "signing_key")
        if getattr(settings, name)
    ]
    return [
        f"{name}: must differ from {other}"
        for at, (name, key) in enumerate(keys)
        for other, other_key in keys[:at]
        if secrets.compare_digest(key, other_key)
    ]


def _public_url_problem(settings: Settings, name: str) -> str:
    """What is wrong with a public URL in production ("" when nothing is)."""
    value = getattr(settings, name)
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return ""
    if parts.scheme == "http" and settings.allow_insecure_http:
        if parts.hostname in LOOPBACK_HOSTS:
            return ""
        return f"{name.upper()}: ALLOW_INSECURE_HTTP allows http:// only for localhost or 127.0.0.1"
    return (
        f"{name.upper()}: must start with https:// in production "
        "(http:// only for localhost with ALLOW_INSECURE_HTTP=1)"
    )


def production_problems(settings: Settings) -> list[str]:
    """Everything that makes these settings unsafe to run in production, one phrase each."""
    missing = [n.upper() for n in _REQUIRED_IN_PRODUCTION if not getattr(settings, n)]
    if "public_base_url" not in settings.model_fields_set or not settings.public_base_url:
        missing.insert(2, "PUBLIC_BASE_URL")  # the development default would go into every link
    for (provider, vendor), names in _REQUIRED_BY_PROVIDER.items():
        if getattr(settings, provider) == vendor:
            missing += [n.upper() for n in names if not getattr(settings, n)]
    problems = [f"missing {', '.join(missing)}"] if missing else []
    if "PUBLIC_BASE_URL" not in missing:
        problems.append(_public_url_problem(settings, "public_base_url"))
    problems.append(_public_url_problem(settings, "public_api_url"))
    return [p for p in problems if p]


def load_settings(**overrides: object) -> Settings:
    """Build settings or raise ConfigError with one line naming every bad variable."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"Invalid configuration: {_format_validation_error(exc)}") from None
    if settings.is_production:
        problems = production_problems(settings) + key_reuse(settings)
        if problems:
            raise ConfigError(
                "Production configuration refused: " + "; ".join(problems) + " (see README)"
            )
        return settings
    settings = _ensure_development_secrets(settings)
    reused = key_reuse(settings)
    if reused:
        raise ConfigError("Invalid configuration: " + "; ".join(reused))
    return settings


_cache_lock = threading.Lock()
_cached: Settings | None = None
_generation = 0


def get_settings() -> Settings:
    """The process-wide settings, loaded once.

    Not an lru_cache: a thread that started loading before a reset must not store its
    (stale) result after the reset, so each load remembers the generation it began in.
    """
    global _cached
    current = _cached
    if current is not None:
        return current
    generation = _generation
    loaded = load_settings()
    with _cache_lock:
        if generation == _generation and _cached is None:
            _cached = loaded
    return loaded


def reset_settings_cache() -> None:
    """Forget the cached settings (tests change the environment)."""
    global _cached, _generation
    with _cache_lock:
        _generation += 1
        _cached = None


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}
