"""``python -m kinship_checkin [serve|migrate]``."""

import sys

from kinship_checkin.composition import MIGRATIONS, create_app
from kinship_checkin.settings import CheckinSettings
from kinship_runtime.composition import run_service

if __name__ == "__main__":
    sys.exit(run_service("python -m kinship_checkin", CheckinSettings, create_app, MIGRATIONS))
