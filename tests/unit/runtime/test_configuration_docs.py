"""docs/configuration.md names every setting every service reads (its environment variable)."""

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from kinship_checkin.settings import CheckinSettings
from kinship_console.settings import ConsoleSettings
from kinship_escalation.settings import EscalationSettings
from kinship_notifications.settings import NotificationSettings
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.settings import KinshipSettings

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


@pytest.mark.parametrize(
    "settings_type",
    [
        KinshipSettings,
        CheckinSettings,
        EscalationSettings,
        NotificationSettings,
        RecognitionSettings,
        ConsoleSettings,
    ],
)
def test_every_setting_is_documented_by_its_full_variable_name(
    settings_type: type[BaseSettings],
) -> None:
    documented = DOC.read_text(encoding="utf-8")
    prefix = str(settings_type.model_config.get("env_prefix", ""))
    missing = [
        f"{prefix}{name}".upper()
        for name in settings_type.model_fields
        if f"`{prefix}{name}`".upper() not in documented.upper()
    ]
    assert not missing, f"add to docs/configuration.md: {missing}"
