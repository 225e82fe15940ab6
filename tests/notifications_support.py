"""Helpers for notifications and recognition tests: the services run in-process."""

from kinship_notifications.settings import NotificationSettings
from kinship_recognition.settings import RecognitionSettings
from tests.database import InProcessService

WEBHOOK_SECRET = "test-webhook-secret"

Notifications = InProcessService[NotificationSettings]
"""The notifications service in-process."""

Recognition = InProcessService[RecognitionSettings]
"""The recognition service in-process."""
