"""Recognition service settings (``KINSHIP_*`` environment variables)."""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from kinship_recognition.handlers.erasure import ErasedPeople
from kinship_runtime.erased_ids import KEEP_DAYS, ErasedIds, derive_key
from kinship_runtime.settings import KinshipSettings

ERASED_IDS_LABEL = "kinship.recognition.erased-ids.v1"
"""Derives the key of the erased ids' digests from the dead-letter key."""

ERASED_PEOPLE_LABEL = "kinship.recognition.erased-people.v1"
"""Derives the key of the erased person ids' digests from the dead-letter key."""


class RecognitionSettings(KinshipSettings):
    """Settings of the recognition service."""

    service_name: str = "recognition"
    http_port: int = 8004
    SECRETS: ClassVar[dict[str, bool]] = {
        **KinshipSettings.SECRETS,
        "checkin_api_key": True,
        "request_signing_key": True,
    }
    kudos_daily_limit: int = Field(default=10, ge=1, description="Kudos a person may send a day.")
    ingest_max_records: int = Field(default=500, ge=1)
    erased_ids_days: int = Field(
        default=KEEP_DAYS,
        ge=1,
        le=90,
        description="How long after an erasure events about the erased subject ids are skipped "
        "(a keyed hash of each id is kept that long, never the id): at least the retention of "
        "wellbeing.checkins.recorded and escalation.cases (30 days), from which a backlog or "
        "a replay could bring them back, and the week a Kafka segment may outlive it: 38 days.",
    )
    erased_people_days: int = Field(
        default=KEEP_DAYS,
        ge=1,
        le=90,
        description="How long after an erasure kudos and pulse answers naming the erased "
        "person, and the appreciation of a case's responder, produced before the erasure are "
        "skipped (a keyed hash of the person id is kept that long, with the erasure's time): "
        "at least the retention of escalation.cases (30 days, it names responders by person "
        "id) and the week a Kafka segment may outlive it: 38 days.",
    )

    def erased_ids(self) -> ErasedIds:
        """How erased subject ids are recognised: keyed by the dead-letter key (a distinct
        key derived from it), kept ``erased_ids_days``."""
        return ErasedIds(
            derive_key(self.dead_letter_wrapping_key(), ERASED_IDS_LABEL),
            timedelta(days=self.erased_ids_days),
        )

    def erased_people(self) -> ErasedPeople:
        """How erased person ids are recognised: keyed by another key derived from the
        dead-letter key, kept ``erased_people_days`` (escalation.cases names responders by
        person id and keeps 30 days; the ingestion topics keep 7)."""
        return ErasedPeople(
            derive_key(self.dead_letter_wrapping_key(), ERASED_PEOPLE_LABEL),
            timedelta(days=self.erased_people_days),
            kind="person",
        )
