"""Service settings, read from `HOCTAP_*` environment variables and an optional `.env` file.

Outside development the service refuses to start with a default or missing secret, so a
forgotten variable on a production host is a crash at boot, not a forgeable token later.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.clock import DEFAULT_TIMEZONE

DEVELOPMENT_SECRET = "hoctap-development-secret-do-not-use-in-production"  # noqa: S105
DEVELOPMENT_NATIONAL_ID_KEY = "hoctap-development-national-id-key-not-for-real-data"
ASYMMETRIC_ALGORITHMS = ("ES256", "RS256")
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOCTAP_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production"] = "development"

    # Database: a SQLite file unless a full SQLAlchemy URL is given.
    database_url: str | None = None
    sqlite_path: Path = Path("var/hoctap.sqlite3")
    database_pool_size: int = Field(default=10, ge=1, le=200)

    # Calendar: "today" is the date in this zone (app/clock.py); timestamps are stored in UTC.
    timezone: str = DEFAULT_TIMEZONE
    # Each statement of a request may run this long (PostgreSQL statement_timeout; on SQLite a
    # bound on the request's connection); the CLI's loads and builds are not bounded.
    statement_timeout_seconds: float = Field(default=20.0, ge=0.1, le=3600)

    # Serving.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    # Tokens. HS256 with `secret_key` in development only; ES256/RS256 with a private key
    # (PEM, inline or from a file) and a key id in production.
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    jwt_algorithm: Literal["HS256", "ES256", "RS256"] = "HS256"
    jwt_private_key: SecretStr | None = None
    jwt_private_key_file: Path | None = None
    # Public keys (PEM files) still accepted for verification after a key rotation.
    jwt_previous_public_key_files: list[Path] = Field(default_factory=list)
    jwt_kid: str | None = None
    jwt_issuer: str = "hoctap"
    jwt_audience: str = "hoctap-api"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=14 * 86_400, ge=300, le=180 * 86_400)

    # Key of the HMAC that stands in for national ID numbers (CCCD) in the database. Kept out of
    # the database on purpose; the version is stored with each digest so the key can rotate.
    national_id_key: SecretStr = SecretStr(DEVELOPMENT_NATIONAL_ID_KEY)
    national_id_key_version: int = Field(default=1, ge=1, le=1000)
    # Earlier keys by version (JSON), still matched after a rotation until every record has
    # been presented again and re-keyed; see `hoctap privacy key-status`.
    national_id_previous_keys: dict[int, SecretStr] = Field(default_factory=dict)

    # Argon2id cost (RFC 9106 second recommended profile by default).
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_cost_kib: int = Field(default=65_536, ge=1024, le=2_097_152)
    argon2_parallelism: int = Field(default=4, ge=1, le=16)

    # Abuse limits (requests per window). The public title check is counted per client address
    # and per national ID; logins per account and address.
    title_check_per_address_per_minute: int = Field(default=10, ge=1, le=10_000)
    title_check_per_address_per_day: int = Field(default=200, ge=1, le=1_000_000)
    # Checks of one national ID from one network (IPv4 address or IPv6 /64) per day: bounds
    # guessing of the birth date without letting a stranger elsewhere lock the owner out.
    title_check_per_id_per_network_per_day: int = Field(default=5, ge=1, le=10_000)
    # Credential verifications (API and page) per network and minute.
    credential_verify_per_address_per_minute: int = Field(default=60, ge=1, le=100_000)
    # Failed logins per account and address; successful ones are not counted. Failed
    # activations (a wrong one-time code) are limited the same way, under their own name.
    login_attempts_per_15_minutes: int = Field(default=10, ge=1, le=10_000)
    # How long a one-time activation code (accounts created from a spreadsheet) stays valid.
    activation_code_days: int = Field(default=14, ge=1, le=90)
    # Answers that a national ID is already registered elsewhere, per account and hour.
    duplicate_id_answers_per_hour: int = Field(default=20, ge=1, le=10_000)
    # Where rate-limit counters live: `memory://` (one process) or `redis://host:6379/0`, shared
    # by every worker and machine (the `limits` library's storage URLs).
    rate_limit_storage_url: str = "memory://"
    rate_limit_key_prefix: str = Field(default="hoctap", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    # Addresses of reverse proxies whose X-Forwarded-For is believed (IPs or networks); none by
    # default, so a client cannot choose the address its limits are counted under.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Largest request body accepted, in bytes (uploads have their own, smaller limits).
    max_body_bytes: int = Field(default=2_000_000, ge=1_000, le=100_000_000)
    # Ward portals allowed to frame the public widget (/nhung/don-vi/{code}); empty: nobody.
    embed_origins: list[Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")]] = Field(
        default_factory=list
    )
    # Origins allowed to call the API from a browser (ward portals); empty: no CORS.
    cors_origins: list[str] = Field(default_factory=list)
    # How long staff reads of personal records are kept in the access log.
    access_log_retention_days: int = Field(default=730, ge=30, le=3650)
    # The access log is journalled to files and inserted in batches (app/privacy/access_log.py):
    # how often, whether each line is synced to disk first, and where the journals live (by
    # default a folder of var/ named after the database, so journals never meet another one).
    access_log_flush_seconds: float = Field(default=0.2, ge=0.01, le=60)
    access_log_fsync: bool = False
    access_journal_dir: Path | None = None

    # Background jobs (app/jobs.py): the queue is this process's memory unless a Redis URL is
    # given (shared by every process and machine). Each app process runs consumer threads unless
    # `jobs_in_process` is off (then run `hoctap worker`). The count sweep runs every N minutes;
    # the units written within `count_rebuild_delay_seconds` are rebuilt together by one job.
    jobs_url: str | None = Field(default=None, pattern=r"^rediss?://")
    jobs_queue_name: str = Field(default="hoctap", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    jobs_in_process: bool = True
    jobs_workers: int = Field(default=2, ge=1, le=32)
    count_sweep_minutes: int = Field(default=1, ge=0, le=60)
    count_rebuild_delay_seconds: float = Field(default=1.0, ge=0, le=4)

    # The title-status lookup keeps the accounts behind recent tokens this long; a change made
    # to an account by another process reaches it within this time (app/auth/dependencies.py).
    lookup_account_cache_seconds: float = Field(default=5.0, ge=0, le=60)

    # Whether the public honour roll may list people (by name and village) for Công dân học tập.
    publish_person_names: bool = False
    # Seconds public statistics may be cached by browsers and proxies (ETag revalidates after).
    public_cache_seconds: int = Field(default=60, ge=0, le=86_400)

    # Where the service is reached from outside (https in production): the links inside signed
    # credentials, their QR codes and printed certificates point here, so it must not change.
    public_base_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    # Folder of the keys that sign credentials (`signing-key.pem`, `retired/*.pem`): created in
    # development, required in production (`hoctap credentials new-key`, `rotate-key`).
    credential_key_dir: Path = Path("var/credential-keys")

    # Interactive API docs at /docs; off by default in production.
    docs_enabled: bool | None = None

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError("each trusted proxy is an IP address or network") from None
        return value

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.sqlite_path}"

    @property
    def access_journal_path(self) -> Path:
        if self.access_journal_dir is not None:
            return self.access_journal_dir
        database = hashlib.sha256(self.sqlalchemy_url.encode()).hexdigest()[:16]
        return Path("var/access-journal") / database

    @property
    def show_docs(self) -> bool:
        return (not self.is_production) if self.docs_enabled is None else self.docs_enabled

    def private_key_pem(self) -> str | None:
        if self.jwt_private_key is not None:
            return self.jwt_private_key.get_secret_value()
        if self.jwt_private_key_file is not None:
            return self.jwt_private_key_file.read_text(encoding="utf-8")
        return None

    @model_validator(mode="after")
    def _refuse_unsafe_configuration(self) -> Settings:
        has_key = self.jwt_private_key is not None or self.jwt_private_key_file is not None
        if self.jwt_algorithm in ASYMMETRIC_ALGORITHMS and not has_key:
            raise ValueError(
                f"HOCTAP_JWT_ALGORITHM={self.jwt_algorithm} needs HOCTAP_JWT_PRIVATE_KEY or HOCTAP_JWT_PRIVATE_KEY_FILE"
            )
        if not self.is_production:
            return self
        problems = []
        secret = self.secret_key.get_secret_value()
        if secret == DEVELOPMENT_SECRET or len(secret) < MIN_SECRET_LENGTH:
            problems.append(
                f"HOCTAP_SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} characters"
            )
        national_key = self.national_id_key.get_secret_value()
        if national_key == DEVELOPMENT_NATIONAL_ID_KEY or len(national_key) < MIN_SECRET_LENGTH:
            problems.append(
                f"HOCTAP_NATIONAL_ID_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} characters"
            )
        if self.jwt_algorithm not in ASYMMETRIC_ALGORITHMS:
            problems.append("HOCTAP_JWT_ALGORITHM must be ES256 or RS256 in production")
        if not self.jwt_kid:
            problems.append("HOCTAP_JWT_KID is required in production")
        if not self.public_base_url.startswith("https://"):
            problems.append("HOCTAP_PUBLIC_BASE_URL must be the service's https address in production")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


class ConfigurationError(RuntimeError):
    """Settings that cannot be used. Its message names the variables and what is wrong with
    them, never a value: a refused secret must not appear, whole or in part, in a log."""


def settings_problems(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        name = "HOCTAP_" + "_".join(str(part) for part in item["loc"]).upper() if item["loc"] else "settings"
        lines.append(f"{name}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


# Variables of the project's own tooling (tests, CI), not settings of the service.
_TOOLING_PREFIXES = ("HOCTAP_TEST_", "HOCTAP_CI_", "HOCTAP_FUZZ_", "HOCTAP_BENCH_")


def unknown_variables(environ: dict[str, str]) -> list[str]:
    """`HOCTAP_*` variables that are no setting: a misspelt or renamed one would otherwise be
    ignored without a word (say, a rate limit an operator believes is set)."""
    known = {"HOCTAP_" + name.upper() for name in Settings.model_fields}
    return sorted(
        name
        for name in environ
        if name.upper().startswith("HOCTAP_")
        and name.upper() not in known
        and not name.upper().startswith(_TOOLING_PREFIXES)
    )


def load_settings(**values) -> Settings:
    """Settings from the environment (and `values`), or a ConfigurationError without values."""
    unknown = unknown_variables(dict(os.environ))
    if unknown:
        logging.getLogger("hoctap.config").warning(
            "unknown settings ignored (names only): %s", ", ".join(unknown), extra={"unknown_settings": unknown}
        )
    try:
        return Settings(**values)
    except ValidationError as error:
        raise ConfigurationError("invalid configuration: " + settings_problems(error)) from None


@lru_cache
def get_settings() -> Settings:
    """Settings of the running process (the CLI and the ASGI factory use this)."""
    return load_settings()
