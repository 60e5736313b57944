"""Service settings, read from `READINESS_*` environment variables."""

from functools import lru_cache
from typing import Literal, cast

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.engine.stall import DEFAULT_STAGE_LIMITS_DAYS
from app.events.destinations import AllowList

MIN_BOOTSTRAP_KEY_LENGTH = 24

StageName = Literal["idea", "poc", "pilot", "production", "scaling"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="READINESS_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///./var/readiness.db"
    database_pool_size: int = Field(default=8, ge=1, le=200)
    database_statement_timeout_ms: int = Field(default=10_000, ge=100)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    migrate_on_start: bool = True
    bootstrap_admin_key: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_batch_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    cors_origins: list[str] = Field(default_factory=list)
    public_metrics: bool = True
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=5.0)
    public_badges: bool = False
    rescorer: bool = Field(
        default=True,
        description="Re-score marked and expired projects in the background in this process.",
    )
    rescore_sweep_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How often the re-scorer looks for results past a deadline when nothing wakes it.",
    )
    worker_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="How often `readiness worker` looks for marked and expired projects.",
    )
    dispatcher: bool = Field(
        default=True,
        description="Deliver webhooks from this process (the chart turns it off on API pods and runs workers).",
    )
    event_source: str = Field(
        default="urn:ai-readiness:local",
        min_length=1,
        max_length=500,
        description="The CloudEvents `source` of every event: which installation it comes from.",
    )
    event_retention_days: int = Field(default=30, ge=1, le=3650, description="How long the event feed keeps events.")
    event_max_wait_seconds: float = Field(
        default=30,
        ge=0,
        le=30,
        description="The longest a feed reader's `wait` holds a request open: below what proxies cut idle requests at.",
    )
    webhook_allowed_destinations: str = Field(
        default="",
        description="Comma-separated hostnames, `*.domain` wildcards, IP addresses and CIDRs webhooks may reach; "
        "empty: none.",
    )
    webhook_lease_seconds: float = Field(
        default=60,
        ge=11,
        le=3600,
        description="How long a worker holds a delivery it took; a worker killed mid-delivery delays it this long.",
    )
    webhook_allow_http: bool = Field(default=False, description="Allow http:// webhook URLs (https only otherwise).")
    worker_metrics_port: int = Field(
        default=9100, ge=0, le=65535, description="Where `readiness worker` serves its metrics; 0 for nowhere."
    )
    stage_limits_days: dict[StageName, int] = Field(
        default=cast(dict[StageName, int], {stage.value: days for stage, days in DEFAULT_STAGE_LIMITS_DAYS.items()}),
        description="How long a project may stay in a stage before the stall diagnosis flags it.",
    )

    @field_validator("webhook_allowed_destinations")
    @classmethod
    def _parseable_destinations(cls, value: str) -> str:
        AllowList.parse(value)
        return value

    @property
    def webhook_destinations(self) -> AllowList:
        return AllowList.parse(self.webhook_allowed_destinations)

    @model_validator(mode="after")
    def _refuse_unsafe_settings(self) -> "Settings":
        key = self.bootstrap_admin_key
        if key is not None and len(key) < MIN_BOOTSTRAP_KEY_LENGTH and self.environment != "development":
            raise ValueError(
                f"READINESS_BOOTSTRAP_ADMIN_KEY must be at least {MIN_BOOTSTRAP_KEY_LENGTH} characters "
                "outside development"
            )
        if self.environment != "development" and "*" in self.cors_origins:
            raise ValueError("READINESS_CORS_ORIGINS may not be '*' outside development")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
