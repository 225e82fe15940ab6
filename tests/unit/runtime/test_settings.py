"""Settings every service shares (kinship_runtime.settings) and the ``migrate`` command."""

import hashlib
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from kinship_contracts.topics import topic
from kinship_escalation.settings import EscalationSettings
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime import composition
from kinship_runtime.settings import DEV_CREDENTIALS, InsecureSettingsError, KinshipSettings
from tests.unit.fakes.settings import strong_secrets


def test_the_environment_prefix_applies_to_physical_topic_names() -> None:
    settings = KinshipSettings(env="dev", topic_prefix="test-42.")
    assert settings.topic(topic("directory.people")) == "test-42.directory.people"
    assert settings.topic("wellbeing.checkins.submitted") == "test-42.wellbeing.checkins.submitted"


def test_settings_errors_never_echo_the_configured_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINSHIP_LINK_SECRET", "too-short-secret-value")
    with pytest.raises(ValidationError) as error:
        EscalationSettings(**strong_secrets(EscalationSettings, without=("link_secret",)))
    assert "32 bytes" in str(error.value)
    assert "too-short-secret-value" not in str(error.value)


def test_migrate_needs_only_the_database_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[KinshipSettings] = []

    async def fake_migrate(settings: KinshipSettings, migrations: Path) -> list[str]:
        seen.append(settings)
        return []

    monkeypatch.setenv("KINSHIP_DATABASE_SCHEMA", "recognition_x")
    monkeypatch.setattr(composition, "migrate", fake_migrate)

    def never(_settings: RecognitionSettings) -> Any:
        raise AssertionError("migrate builds no app")

    assert composition.run_service("t", RecognitionSettings, never, tmp_path, ["migrate"]) == 0
    assert [(s.service_name, s.owned_schema()) for s in seen] == [("recognition", "recognition_x")]


def test_an_unset_secret_is_the_development_value_in_dev_and_refused_in_production() -> None:
    dev = KinshipSettings(env="dev")
    assert dev.vault_key().get_secret_value() == DEV_CREDENTIALS["KINSHIP_API_KEYS key"]
    assert (
        dev.dead_letter_wrapping_key()
        == hashlib.sha256(DEV_CREDENTIALS["KINSHIP_DEAD_LETTER_KEY"].encode()).digest()
    )
    with pytest.raises(ValidationError, match="KINSHIP_DEAD_LETTER_KEY is required"):
        KinshipSettings(env="production")
    production = KinshipSettings(env="production", dead_letter_key=SecretStr("k" * 40))
    with pytest.raises(InsecureSettingsError, match="KINSHIP_CHECKIN_API_KEY is required"):
        production.vault_key()  # a service that does not declare it is never given one
    configured = KinshipSettings(env="production", dead_letter_key=SecretStr("k" * 40))
    assert configured.dead_letter_wrapping_key() == hashlib.sha256(b"k" * 40).digest()
