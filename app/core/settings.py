"""Service settings, read from `READINESS_*` environment variables."""

import re
from functools import lru_cache
from ipaddress import ip_network
from typing import Literal, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.destinations import AllowList
from app.core.identity import Role
from app.engine.stages import Stage
from app.engine.stall import DEFAULT_STAGE_LIMITS_DAYS

MIN_BOOTSTRAP_KEY_LENGTH = 24
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES256K", "ES384", "ES512", "EdDSA"}
)

StageName = Literal["idea", "poc", "pilot", "production", "scaling"]
# A scope token (RFC 6749 §3.3): printable ASCII but space, double quote and backslash.
SCOPE_TOKEN = r"^[!#-\[\]-~]+$"


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
    evidence_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024, description="The largest evidence file, in bytes."
    )
    cors_origins: list[str] = Field(default_factory=list)
    public_metrics: bool | None = Field(
        default=None,
        description="Serve /metrics without a credential; unset: public in development only.",
    )
    public_docs: bool | None = Field(
        default=None,
        description="Serve the API docs and the OpenAPI document without a credential; unset: public in "
        "development only.",
    )
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
    oidc_issuer: str | None = Field(
        default=None,
        description="The OpenID provider whose access tokens are accepted (its discovery document is read); "
        "unset: API keys only.",
    )
    oidc_audience: str | None = Field(default=None, description="The `aud` an access token must carry.")
    oidc_roles_claim: str = Field(
        default="roles",
        min_length=1,
        description="The claim, by dotted path, holding a list of role names or one name.",
    )
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict,
        description='Provider role values mapped to our roles, e.g. {"Readiness.Writer": "writer"}; '
        "our own role names always map to themselves.",
    )
    oidc_departments_claim: str = Field(
        default="departments",
        min_length=1,
        description="The claim, by dotted path, holding the departments a token is scoped to; absent: all.",
    )
    oidc_name_claim: str | None = Field(
        default=None,
        description="The claim naming the caller; else preferred_username, azp, client_id, sub.",
    )
    oidc_client_id: str | None = Field(
        default=None,
        max_length=300,
        description="The dashboard's client at the OpenID provider; with an issuer, the sign-in page offers the "
        "provider (authorization code with PKCE, redirect URI `/ui/auth/callback`).",
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="The dashboard client's secret, sent as client_secret_basic; unset: a public client, PKCE only.",
    )
    oidc_scopes: list[str] = Field(
        default_factory=lambda: ["openid", "profile", "email"],
        description="The scopes the dashboard's sign-in asks for (`openid` always): those that put the roles and "
        "departments claims into the ID token.",
    )
    oidc_provider_name: str | None = Field(
        default=None,
        max_length=60,
        description="The provider's name on the sign-in page's button; unset: the issuer's host.",
    )
    public_url: str | None = Field(
        default=None,
        description="The service's address as people reach it (https://readiness.example.com), for the links it "
        "sends and the dashboard's OpenID redirect URI; unset: taken from each request.",
    )
    oidc_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"],
        description="The signature algorithms accepted; asymmetric ones only.",
    )
    oidc_leeway_seconds: float = Field(default=60, ge=0, le=300, description="Clock skew allowed on exp and nbf.")
    oidc_jwks_min_refresh_seconds: float = Field(
        default=60,
        ge=0,
        le=3600,
        description="The least time between two fetches of the provider's keys on an unknown `kid`.",
    )
    rate_limit: float = Field(
        default=50,
        ge=0,
        description="Requests per second per identity, in bursts of twice that, per process; 0: no limit.",
    )
    auth_failure_limit: int = Field(
        default=30,
        ge=0,
        description="Failed authentications per minute per client address, per process; 0: no limit.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDRs of proxies whose X-Forwarded-For names the client.",
    )
    max_facts_per_project: int = Field(default=500, ge=1, description="How many fact names one project may hold.")
    max_fact_value_bytes: int = Field(
        default=4096, ge=64, le=65_536, description="The longest string a fact may hold, in UTF-8 bytes."
    )
    timezone: str = Field(
        default="UTC",
        description="The IANA time zone of digests' schedules, reminders' days and the steering report's dates.",
    )
    smtp_host: str | None = Field(default=None, description="The SMTP relay email channels send through.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = Field(default=None, description="With a password: log in, and never send without.")
    smtp_password: SecretStr | None = Field(default=None, description="Never shown in logs, audit entries or answers.")
    smtp_starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS before anything else.")
    smtp_from: str = Field(
        default="ai-readiness@localhost", max_length=320, description="The sender of every notification."
    )
    stage_limits_days: dict[StageName, int] = Field(
        default=cast(dict[StageName, int], {stage.value: days for stage, days in DEFAULT_STAGE_LIMITS_DAYS.items()}),
        description="How long a project may stay in a stage before the stall diagnosis flags it.",
    )

    @field_validator("oidc_issuer")
    @classmethod
    def _secure_issuer(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value)
        if url.scheme == "http" and url.hostname not in LOOPBACK_HOSTS:
            raise ValueError("an http:// issuer is accepted only on a loopback address; use https://")
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise ValueError("the issuer must be an https:// URL")
        return value.rstrip("/")

    @field_validator("oidc_client_id", "oidc_provider_name")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("oidc_client_secret")
    @classmethod
    def _empty_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # A chart that renders the variable from an empty Secret value means "no secret".
        return value if value is not None and value.get_secret_value() else None

    @field_validator("oidc_scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        refused = [scope for scope in value if not re.match(SCOPE_TOKEN, scope)]
        if refused:
            raise ValueError(f"scopes are single words without spaces or quotes, not {refused}")
        return ["openid", *dict.fromkeys(scope for scope in value if scope != "openid")]

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = urlsplit(value.strip())
        if url.scheme not in {"http", "https"} or not url.hostname or url.query or url.fragment:
            raise ValueError(
                "the public URL is an http(s):// address without a query, e.g. https://readiness.example.com"
            )
        return value.strip().rstrip("/")

    @field_validator("oidc_role_map")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value.values()) - {role.value for role in Role})
        if unknown:
            raise ValueError(f"unknown roles {unknown}; roles are {[role.value for role in Role]}")
        return value

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        refused = sorted(set(value) - ASYMMETRIC_ALGORITHMS)
        if refused or not value:
            raise ValueError(f"only asymmetric algorithms may verify tokens, not {refused}")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ip_network(network, strict=False)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. Europe/Paris") from error
        return value

    @field_validator("webhook_allowed_destinations")
    @classmethod
    def _parseable_destinations(cls, value: str) -> str:
        AllowList.parse(value)
        return value

    @property
    def links_url(self) -> str:
        """What links in messages start with: the public URL, else this process's own address."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def metrics_are_public(self) -> bool:
        return self.public_metrics if self.public_metrics is not None else self.environment == "development"

    @property
    def docs_are_public(self) -> bool:
        return self.public_docs if self.public_docs is not None else self.environment == "development"

    @property
    def oidc_sign_in(self) -> bool:
        """Whether the dashboard offers sign-in through the OpenID provider: an issuer and a client."""
        return self.oidc_issuer is not None and self.oidc_client_id is not None

    @property
    def stage_limits(self) -> dict[Stage, int]:
        """How many days each stage may last before the stall diagnosis flags it."""
        return {Stage(stage): days for stage, days in self.stage_limits_days.items()}

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def webhook_destinations(self) -> AllowList:
        return AllowList.parse(self.webhook_allowed_destinations)

    @model_validator(mode="after")
    def _refuse_unsafe_settings(self) -> "Settings":
        if self.oidc_issuer is not None and not self.oidc_audience:
            raise ValueError("READINESS_OIDC_AUDIENCE is required with READINESS_OIDC_ISSUER")
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
