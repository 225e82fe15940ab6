"""Notifications settings and ``python -m kinship_notifications endpoint-secret``."""

from datetime import timedelta
from ipaddress import ip_address

import pytest
from pydantic import SecretStr

from kinship_notifications.__main__ import main
from kinship_notifications.domain.signing import endpoint_secret
from kinship_notifications.settings import NotificationSettings
from kinship_runtime.settings import DEV_CREDENTIALS
from tests.unit.fakes.settings import strong_secrets

LONG = "w" * 40


def test_the_dev_profile_admits_loopback_plain_http_and_the_development_link_secret() -> None:
    dev = NotificationSettings(env="dev", webhook_secret=SecretStr("short"))
    assert dev.webhook_allowlist().admits("localhost", ip_address("127.0.0.1"))
    assert dev.webhook_allowlist().admits("localhost", ip_address("::1"))
    assert not dev.https_only
    assert dev.ack_link_secret() == DEV_CREDENTIALS["KINSHIP_LINK_SECRET"].encode()


def test_production_needs_https_a_real_link_secret_and_admits_no_loopback() -> None:
    others = strong_secrets(NotificationSettings, without=("link_secret",))
    with pytest.raises(ValueError, match="KINSHIP_LINK_SECRET is required"):
        NotificationSettings(env="production", webhook_secret=SecretStr(LONG), **others)
    prod = NotificationSettings(
        env="production",
        webhook_secret=SecretStr(LONG),
        webhook_allowed_hosts="alerts.internal, 10.20.0.0/16",
        link_secret=SecretStr("l" * 32),
        **others,
    )
    assert prod.https_only
    assert not prod.webhook_allowlist().admits("localhost", ip_address("127.0.0.1"))
    assert prod.webhook_allowlist().admits("alerts.internal", ip_address("10.0.0.1"))
    assert prod.ack_link_secret() == b"l" * 32
    with pytest.raises(ValueError, match="KINSHIP_LINK_SECRET is the local stack's"):
        NotificationSettings(
            env="production",
            webhook_secret=SecretStr(LONG),
            link_secret=SecretStr(DEV_CREDENTIALS["KINSHIP_LINK_SECRET"]),
            **others,
        )
    assert not prod.accept_unsigned_requests  # only signed requests, unless told otherwise


def test_the_service_holds_no_pseudonym_key_any_more() -> None:
    assert "pseudonym_key" not in NotificationSettings.model_fields


def test_endpoint_secret_prints_the_secret_of_that_endpoint_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KINSHIP_ENV", "dev")
    monkeypatch.setenv("KINSHIP_WEBHOOK_SECRET", LONG)
    assert main(["endpoint-secret", "https://hooks.example/alerts/ann"]) == 0
    printed = capsys.readouterr()
    assert printed.out == endpoint_secret(LONG.encode(), "https://hooks.example/alerts/ann") + "\n"
    assert LONG not in printed.out + printed.err
    assert main(["endpoint-secret", "https://Hooks.Example"]) == 0
    normalised = capsys.readouterr()
    assert normalised.out.strip() == endpoint_secret(LONG.encode(), "https://hooks.example/")
    assert "https://hooks.example/" in normalised.err
    with pytest.raises(SystemExit):
        main(["endpoint-secret", "not a url"])
    monkeypatch.setenv("KINSHIP_WEBHOOK_SIGNING", "shared")  # every receiver has the one
    assert main(["endpoint-secret", "https://hooks.example/alerts/ann"]) == 0
    shared = capsys.readouterr()
    assert shared.out == LONG + "\n" and "shared" in shared.err
    monkeypatch.setenv("KINSHIP_WEBHOOK_SIGNING", "both")
    with pytest.raises(ValueError, match="webhook_signing"):
        main(["endpoint-secret", "https://hooks.example/alerts/ann"])


def test_reminders_link_to_the_console_at_kinship_console_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = NotificationSettings(env="dev", webhook_secret=SecretStr(LONG))
    assert settings.console_url == "http://127.0.0.1:8005"
    monkeypatch.setenv("KINSHIP_CONSOLE_URL", "http://127.0.0.1:9005/")
    assert NotificationSettings(env="dev", webhook_secret=SecretStr(LONG)).console_url == (
        "http://127.0.0.1:9005/"
    )
    monkeypatch.setenv("KINSHIP_CONSOLE_URL", "console")
    with pytest.raises(ValueError, match="console_url"):
        NotificationSettings(env="dev", webhook_secret=SecretStr(LONG))


def test_erased_ids_are_kept_past_the_requests_topic_under_a_key_of_their_own() -> None:
    settings = NotificationSettings(env="dev", webhook_secret=SecretStr("w" * 32))
    erased = settings.erased_ids()
    assert erased.keep_for == timedelta(days=15)  # 7 days' retention and a log segment's week
    assert erased.key not in (settings.dead_letter_wrapping_key(), b"")
    other = NotificationSettings(
        env="dev", webhook_secret=SecretStr("w" * 32), erased_ids_days=30
    ).erased_ids()
    assert other.keep_for == timedelta(days=30) and other.key == erased.key
    with pytest.raises(ValueError, match="erased_ids_days"):
        NotificationSettings(env="dev", webhook_secret=SecretStr("w" * 32), erased_ids_days=0)
