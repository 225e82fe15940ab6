"""``python -m kinship_escalation [serve|migrate]``."""

import sys

from kinship_escalation.composition import MIGRATIONS, create_app
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.composition import run_service

if __name__ == "__main__":
    sys.exit(
        run_service("python -m kinship_escalation", EscalationSettings, create_app, MIGRATIONS)
    )
