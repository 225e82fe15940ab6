"""Helpers for notifications and recognition tests: the services run in-process."""

from datetime import UTC, datetime
from typing import Any

from kinship_notifications.settings import NotificationSettings
from kinship_recognition.settings import RecognitionSettings
from tests.database import InProcessService

WEBHOOK_SECRET = "test-webhook-secret"

Notifications = InProcessService[NotificationSettings]
"""The notifications service in-process."""

Recognition = InProcessService[RecognitionSettings]
"""The recognition service in-process."""


def kudos(
    id_: str, sender: str = "ann", to: str = "bob", message: str = "Thank you!"
) -> dict[str, Any]:
    """A ``recognition.kudos.submitted`` body (also ``POST /v1/kudos``)."""
    return {
        "id": id_,
        "from_person_id": sender,
        "to_person_id": to,
        "message": message,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "tests",
    }
