"""Check-in service settings (``KINSHIP_*`` environment variables)."""

from datetime import timedelta
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from kinship_checkin.handlers.subjects import LOOKUP_MAX_IDS, SCREEN_MAX_IDS
from kinship_runtime.erased_ids import PERSON_KEEP_DAYS, ErasedIds, derive_key
from kinship_runtime.settings import (
    KinshipSettings,
    parse_key_table,
    rate_limit,
    refuse_development_note_keys,
)

ERASED_IDS_LABEL = "kinship.checkin.erased-people.v1"
"""Derives the key of the erased person ids' digests from the dead-letter key."""


class CheckinSettings(KinshipSettings):
    """Settings of the check-in service."""

    service_name: str = "checkin"
    http_port: int = 8001
    SECRETS: ClassVar[dict[str, bool]] = {
        **KinshipSettings.SECRETS,
        "api_keys": True,  # the vault clients' keys (escalation, notifications, recognition)
        "note_keys": True,
        "grant_key": True,
    }
    grant_key: SecretStr | None = Field(
        default=None,
        description="Verifies the escalation service's reveal grants (the same secret there; "
        ">= 32 bytes; required outside KINSHIP_ENV=dev).",
    )
    note_keys: SecretStr = Field(
        description="Comma-separated 'key_id:base64' AES-256 keys; old ids stay to decrypt."
    )
    note_key_id: str = Field(description="The key id that encrypts new notes.")
    trends_min_people: int = Field(
        default=5, ge=5, description="k: a team aggregate needs at least this many people."
    )
    ingest_max_records: int = Field(default=2000, ge=1, description="Records per Kafka batch.")
    erasure_subjects_days: int = Field(
        default=7,
        ge=1,
        le=30,
        description="Longest an erasure's subject ids are served to the other services (they "
        "are forgotten as soon as every service's receipt is in); keep it no longer than the "
        "privacy.erasure.subjects retention.",
    )
    erased_people_days: int = Field(
        default=PERSON_KEEP_DAYS,
        ge=1,
        le=90,
        description="How long after an erasure submitted check-ins of the erased person that "
        "were produced before it (a backlog or a replay of wellbeing.checkins.submitted) are "
        "skipped; a keyed hash of the person id is kept that long, never the id. At least the "
        "retention of the ingestion topics carrying person ids (7 days) and the week a "
        "Kafka segment may outlive it: 15 days.",
    )
    vault_rate_limit_per_key: str = Field(
        default="20000/minute",
        description="Person ids each Kinship service's key may ask the vault about, and "
        "deliveries it may resolve (lookups for consumers, a person's own lookups, screens and "
        "deliveries counted apart; limits notation; 429 above, which the caller waits out). "
        "Counted per check-in replica: N replicas allow up to N times as much. At least the "
        "largest call (1000 ids).",
    )
    crisis_resources_file: Path | None = Field(
        default=None,
        description="JSON list of support resources (the escalation catalogue's format); the "
        "crisis and assistance ones are returned at once; a built-in catalogue otherwise.",
    )

    @field_validator("vault_rate_limit_per_key")
    @classmethod
    def _vault_limit_fits_a_full_call(cls, value: str) -> str:
        largest = max(LOOKUP_MAX_IDS, SCREEN_MAX_IDS)
        rate_limit(value, "KINSHIP_VAULT_RATE_LIMIT_PER_KEY", at_least=largest)
        return value

    @model_validator(mode="after")
    def _refuse_the_development_note_key(self) -> Self:
        if self.env != "dev":  # the published key under any id, in any rotation list
            refuse_development_note_keys(self.note_keys.get_secret_value(), "KINSHIP_NOTE_KEYS")
        return self

    def note_key_table(self) -> dict[str, bytes]:
        """The note keys by id, decoded; errors name the bad entry's id, never the key."""
        table = parse_key_table(self.note_keys.get_secret_value(), "KINSHIP_NOTE_KEYS", "note key")
        if self.note_key_id not in table:
            raise ValueError(
                f"KINSHIP_NOTE_KEY_ID {self.note_key_id!r} is not in KINSHIP_NOTE_KEYS"
            )
        return table

    def erased_ids(self) -> ErasedIds:
        """How erased person ids are recognised: keyed by a key derived from the dead-letter
        key, kept ``erased_people_days``."""
        return ErasedIds(
            derive_key(self.dead_letter_wrapping_key(), ERASED_IDS_LABEL),
            timedelta(days=self.erased_people_days),
            kind="person",
        )

    def grant_signing_key(self) -> bytes:
        """The reveal-grant key (a development one in the dev profile)."""
        return self.required_secret(self.grant_key, "KINSHIP_GRANT_KEY").get_secret_value().encode()
