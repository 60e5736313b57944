import pytest
from pydantic import ValidationError

from app.core.settings import Settings


def test_a_short_bootstrap_key_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="at least 24 characters"):
        Settings(environment="production", bootstrap_admin_key="short")


def test_a_wildcard_cors_origin_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="CORS"):
        Settings(environment="production", cors_origins=["*"])


def test_settings_come_from_readiness_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READINESS_PORT", "9100")
    monkeypatch.setenv("READINESS_CORS_ORIGINS", '["https://portal.example.com"]')

    settings = Settings()

    assert settings.port == 9100
    assert settings.cors_origins == ["https://portal.example.com"]
    assert settings.database_url == "sqlite:///./var/readiness.db"


def test_the_dashboard_offers_the_provider_only_with_an_issuer_and_a_client_id() -> None:
    def settings(issuer: str | None, client_id: str | None) -> Settings:
        return Settings(oidc_issuer=issuer, oidc_audience="ai-readiness", oidc_client_id=client_id)

    assert settings("https://login.example.com", "dashboard").oidc_sign_in
    assert not settings("https://login.example.com", None).oidc_sign_in
    assert not settings("https://login.example.com", "  ").oidc_sign_in
    assert not settings(None, "dashboard").oidc_sign_in


def test_the_client_secret_is_never_shown_and_an_empty_one_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READINESS_OIDC_CLIENT_SECRET", "s3cret-value")
    settings = Settings()

    assert settings.oidc_client_secret is not None
    assert settings.oidc_client_secret.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(settings)
    assert "s3cret-value" not in str(settings.model_dump())
    assert Settings(oidc_client_secret="").oidc_client_secret is None


def test_the_sign_in_always_asks_for_openid_and_refuses_a_scope_with_a_space() -> None:
    assert Settings(oidc_scopes=["profile", "roles", "profile"]).oidc_scopes == ["openid", "profile", "roles"]
    with pytest.raises(ValidationError, match="single words"):
        Settings(oidc_scopes=["openid profile"])


@pytest.mark.parametrize("url", ["readiness.example.com", "ftp://readiness.example.com", "https://r.example.com/?a=1"])
def test_the_public_url_is_an_http_address_without_a_query(url: str) -> None:
    with pytest.raises(ValidationError, match="public URL"):
        Settings(public_url=url)


def test_the_public_url_loses_its_trailing_slash() -> None:
    assert Settings(public_url="https://readiness.example.com/").public_url == "https://readiness.example.com"


def test_notification_settings_come_from_the_environment_and_hide_the_relay_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "READINESS_SMTP_HOST": "smtp.corp.internal",
        "READINESS_SMTP_PORT": "2525",
        "READINESS_SMTP_USERNAME": "ai-readiness",
        "READINESS_SMTP_PASSWORD": "the-relay-password",
        "READINESS_SMTP_STARTTLS": "false",
        "READINESS_SMTP_FROM": "ai-readiness@corp.internal",
        "READINESS_PUBLIC_URL": "https://readiness.corp.internal/",
        "READINESS_TIMEZONE": "Europe/Paris",
    }.items():
        monkeypatch.setenv(name, value)

    settings = Settings()

    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == ("smtp.corp.internal", 2525, False)
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "the-relay-password"
    assert "the-relay-password" not in repr(settings)
    assert "the-relay-password" not in settings.model_dump_json()
    assert settings.public_url == "https://readiness.corp.internal"
    assert str(settings.zone) == "Europe/Paris"


def test_an_unknown_time_zone_or_a_public_url_that_is_no_web_address_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Settings(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="public_url"):
        Settings(public_url="readiness.corp")
