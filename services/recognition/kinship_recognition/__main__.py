"""``python -m kinship_recognition [serve|migrate]``."""

import sys

from kinship_recognition.composition import MIGRATIONS, create_app
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.composition import run_service

if __name__ == "__main__":
    sys.exit(
        run_service("python -m kinship_recognition", RecognitionSettings, create_app, MIGRATIONS)
    )
