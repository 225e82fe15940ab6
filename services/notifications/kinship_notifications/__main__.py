"""``python -m kinship_notifications [serve|migrate]``."""

import sys

from kinship_notifications.composition import MIGRATIONS, create_app
from kinship_notifications.settings import NotificationSettings
from kinship_runtime.composition import run_service

if __name__ == "__main__":
    sys.exit(
        run_service("python -m kinship_notifications", NotificationSettings, create_app, MIGRATIONS)
    )
