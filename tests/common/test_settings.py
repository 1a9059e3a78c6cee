"""Settings come from the environment and bad values stop the service with a message naming the variable."""

from __future__ import annotations

import pytest

from rapport_common.settings import ServiceSettings, load_settings


def test_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:5/db")
    monkeypatch.setenv("KAFKA_ENABLE_IDEMPOTENCE", "false")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings(ServiceSettings)
    assert settings.database_url == "postgresql://u@h:5/db"
    assert settings.kafka_enable_idempotence is False
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: Value error, must be a postgresql:// URL"),
        ("HTTP_PORT", "70000", "HTTP_PORT"),
        ("KAFKA_ENABLE_IDEMPOTENCE", "perhaps", "KAFKA_ENABLE_IDEMPOTENCE"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL"),
    ],
)
def test_bad_values_exit_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:5/db")
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        load_settings(ServiceSettings)
    assert stopped.value.code == 2
    assert fragment in capsys.readouterr().err


def test_missing_database_url_is_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(SystemExit):
        load_settings(ServiceSettings)
    assert "DATABASE_URL: Field required" in capsys.readouterr().err


def test_consumer_options_carry_every_consumer_setting_and_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/x")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9093,k2:9093")
    monkeypatch.setenv("KAFKA_MAX_BATCH", "37")
    monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", "25")
    monkeypatch.setenv("KAFKA_SESSION_TIMEOUT_MS", "7000")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "consent")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw-of-consent")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", "/run/secrets/ca.pem")
    options = ServiceSettings().consumer_options()
    connection = options.pop("bootstrap_servers")
    assert options == {"max_records": 37, "fetch_max_wait_ms": 25, "session_timeout_ms": 7000}
    assert (connection.bootstrap_servers, connection.security_protocol) == ("k1:9093,k2:9093", "SASL_SSL")
    assert (connection.sasl_username, connection.sasl_password) == ("consent", "pw-of-consent")


def test_sasl_without_credentials_is_refused_naming_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/x")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        ServiceSettings()
