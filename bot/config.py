"""Application settings, read once from the environment or `.env` (pydantic-settings).

Every setting is listed with a one-line comment in `.env.example`; the README's configuration
table mirrors it. Secrets (the Telegram bot token, the Bitrix24 webhook URL, which embeds the
webhook's secret code, and the HTTP API token) are `SecretStr`, so they never appear in
reprs, logs or `/health` output.
"""

from __future__ import annotations

import sys
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bitrix.clock import Clock, system_clock
from bot.state import sqlite_path

#: Weekday names accepted in ``DIGEST_DAYS`` (Monday is 0, as in `date.weekday`).
WEEKDAY_NAMES = {
    **{n: i for i, n in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{n: i for i, n in enumerate(("пн", "вт", "ср", "чт", "пт", "сб", "вс"))},
}


def _parse_weekdays(value: object) -> object:
    """``mon-sat``, ``пн-сб``, ``mon,wed,fri``, ``1-6`` (1 = Monday) → weekday numbers.

    ``off`` (or ``none``) is no day at all: the digest is off. (An empty ``DIGEST_DAYS=`` in
    ``.env`` means "not set", so the default applies.)
    """
    if not isinstance(value, str):
        return value
    if value.strip().lower() in ("off", "none", "нет"):
        return frozenset()
    days: set[int] = set()

    def day(name: str) -> int:
        name = name.strip().lower()[:3].rstrip(".")
        if name.isdigit() and 1 <= int(name) <= 7:
            return int(name) - 1
        if name[:2] in WEEKDAY_NAMES and not name[:2].isascii():
            return WEEKDAY_NAMES[name[:2]]
        if name in WEEKDAY_NAMES:
            return WEEKDAY_NAMES[name]
        raise ValueError(f"unknown weekday {name!r} (use mon..sun, пн..вс or 1..7)")

    for part in value.replace(";", ",").split(","):
        if not part.strip():
            continue
        first, _, last = part.partition("-")
        start = day(first)
        end = day(last) if last else start
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)])
    return frozenset(days)


BrigadeSource = Literal["auto", "responsible_name", "responsible_department", "field"]


def _parse_id_set(value: object) -> object:
    """Accept `1,2, 3` (the documented form), a JSON-ish list, or a single int."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace(";", ",").strip("[]").split(",")]
        return {int(p) for p in parts if p}
    if isinstance(value, int):
        return {value}
    return value


def _check_url(value: str, *, name: str, https_only: bool = False) -> str:
    """A URL with an http(s) scheme, a host and, if given, a valid port; else ValueError.

    The message never repeats the value: the Bitrix24 webhook URL embeds its secret code.
    """
    text = value.strip()
    parts = urlsplit(text)
    schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"{name} must start with {' or '.join(s + '://' for s in schemes)}")
    if not parts.hostname:
        raise ValueError(f"{name} has no host name")
    try:
        port = parts.port  # raises ValueError for 99999 or "abc"
    except ValueError:
        raise ValueError(f"{name} has an invalid port (1-65535)") from None
    if port == 0:
        raise ValueError(f"{name} has an invalid port (1-65535)")
    if any(c.isspace() or ord(c) < 32 for c in text):
        raise ValueError(f"{name} contains spaces or control characters")
    return text


class Settings(BaseSettings):
    """All configuration of AudioBot. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `cp .env.example .env` leaves many "NAME=" lines: empty means "not set", not "".
        env_ignore_empty=True,
    )

    # --- Telegram -----------------------------------------------------------------------
    telegram_bot_token: SecretStr | None = None
    telegram_api_server: str | None = None
    telegram_api_local: bool = False
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_listen_host: str = "127.0.0.1"
    telegram_webhook_listen_port: int = Field(default=8080, ge=0, le=65535)
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    allowed_chat_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    flood_rate: float = Field(default=1.0, gt=0)
    flood_burst: int = Field(default=5, ge=1)
    # An update recorded before a crash and still unanswered at restart is answered if it is
    # at most this old; an older one gets a short apology instead (handlers.inbox).
    inbox_max_age_s: float = Field(default=3600.0, ge=0)

    # --- Bitrix24 -----------------------------------------------------------------------
    bitrix_webhook_url: SecretStr | None = None
    # Validated here (a whole number ≥ 0), so 'abc' is one line at start, not a failing load.
    bitrix_houses_category_id: int | None = Field(default=None, ge=0)
    bitrix_houses_pipeline_name: str = "Уборка подъездов"
    bitrix_brigade_source: BrigadeSource = "auto"
    bitrix_field_address: str | None = None
    bitrix_field_apartments: str | None = None
    bitrix_field_entrances: str | None = None
    bitrix_field_floors: str | None = None
    bitrix_field_brigade: str | None = None
    bitrix_rate: float = Field(default=2.0, gt=0)
    bitrix_burst: int = Field(default=50, ge=1)
    bitrix_timeout: float = Field(default=60.0, gt=0)
    bitrix_cache_ttl: float = Field(default=300.0, ge=0)
    cache_dir: Path = Path("var/cache")

    # --- Speech -------------------------------------------------------------------------
    vosk_model_path: Path | None = None
    vosk_models_dir: Path = Path("models")
    max_voice_seconds: int = Field(default=120, ge=1)
    speech_workers: int = Field(default=0, ge=0)
    # One recognizer per worker thread instead of per note: Vosk rebuilds its graph cache for
    # every new recognizer (2.0 s vs 0.3 s for a 5 s note in bench/voice.py).
    speech_reuse_recognizers: bool = True

    # --- HTTP API -----------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8001, ge=0, le=65535)
    api_token: SecretStr | None = None

    # --- Who is speaking and the morning digest (docs/telegram-setup.md, 2a) ------------
    state_url: str = "sqlite:///var/state.db"
    link_by_phone: bool = True
    digest_time: time = time(7, 30)
    digest_days: Annotated[frozenset[int], NoDecode] = frozenset(range(6))  # Mon–Sat

    # --- Writes into Bitrix24 (SPEC §9; README: Acting by voice) --------------------------
    write_enabled: bool = True
    confirm_ttl: float = Field(default=600.0, gt=0)
    #: Photos sent this long after a write request's preview join that report.
    photo_window_s: float = Field(default=180.0, ge=0)
    #: Who gets problem reports instead of the house's brigade head (a Bitrix24 user id).
    problem_responsible_id: int | None = Field(default=None, ge=1)
    #: The calendar (section) events are created in, and the Drive folder photos go to.
    bitrix_calendar_section_id: int = Field(default=1, ge=1)
    bitrix_photo_folder_id: int = Field(default=1, ge=1)
    #: Photos kept between a preview and its ✅ (deleted once written).
    photo_dir: Path = Path("var/photos")

    # --- General ------------------------------------------------------------------------
    timezone: str = "Europe/Moscow"
    log_level: str = "INFO"
    #: The day the demo company is built around, and the day the product takes for today
    #: (README: Configuration): the same date gives the same company and the same answers.
    demo_date: date | None = None

    def secrets(self) -> list[str]:
        """Secret values to scrub from logs (the webhook URL itself, tokens)."""
        values = [
            self.telegram_bot_token,
            self.bitrix_webhook_url,
            self.api_token,
            self.telegram_webhook_secret,
        ]
        secrets = [v.get_secret_value() for v in values if v is not None]
        if self.telegram_webhook_url:
            # Its path is often the secret that keeps strangers from posting updates.
            secrets.append(self.telegram_webhook_url)
        return secrets

    @field_validator("admin_ids", "allowed_user_ids", "allowed_chat_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        return _parse_id_set(value)

    @field_validator("bitrix_webhook_url")
    @classmethod
    def _bitrix_url(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked at start: a port of 99999 would otherwise make every answer a generic error.
        if value is not None and value.get_secret_value().strip():
            return SecretStr(_check_url(value.get_secret_value(), name="BITRIX_WEBHOOK_URL"))
        return value

    @field_validator("telegram_api_server")
    @classmethod
    def _api_server_url(cls, value: str | None) -> str | None:
        return _check_url(value, name="TELEGRAM_API_SERVER") if value else value

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        # Telegram delivers webhooks over HTTPS only.
        return _check_url(value, name="TELEGRAM_WEBHOOK_URL", https_only=True) if value else value

    @field_validator("digest_days", mode="before")
    @classmethod
    def _weekdays(cls, value: object) -> object:
        return _parse_weekdays(value)

    @field_validator("state_url")
    @classmethod
    def _state_url(cls, value: str) -> str:
        sqlite_path(value)  # raises a clear error for an unsupported URL
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @property
    def tz(self) -> ZoneInfo:
        """The business time zone: "today" and every date slot are resolved in it."""
        return ZoneInfo(self.timezone)

    def clock(self) -> Clock:
        """The product's one clock (`bitrix.clock`): built once per command, then passed in."""
        return system_clock(self.tz, self.demo_date)

    @property
    def field_overrides(self) -> dict[str, str]:
        """Field-mapping overrides given in configuration (role -> UF code)."""
        pairs = {
            "address": self.bitrix_field_address,
            "apartments": self.bitrix_field_apartments,
            "entrances": self.bitrix_field_entrances,
            "floors": self.bitrix_field_floors,
            "brigade": self.bitrix_field_brigade,
        }
        return {role: code for role, code in pairs.items() if code}

    def is_allowed(self, user_id: int) -> bool:
        """Admins are always allowed; everyone else must be on the allow-list."""
        return user_id in self.admin_ids or user_id in self.allowed_user_ids

    def is_admin(self, user_id: int) -> bool:
        """Whether the Telegram user may see `/health` and other admin output."""
        return user_id in self.admin_ids


def load_settings() -> Settings:
    """Read settings for a command; a configuration error is one clear line and exit code 2."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        sys.stderr.write(f"audiobot: invalid configuration: {problems}\n")
        raise SystemExit(2) from None
