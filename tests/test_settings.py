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
