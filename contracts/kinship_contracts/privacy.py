"""Erasure: a person's request to be forgotten, and each service's proof that it was.

1. ``privacy.erasure.requested`` (key ``person_id``) — the request, from another system (the
   HR portal) or from Kinship's own ``POST /v1/people/{person_id}/erasure``.
2. ``privacy.erasure.subjects`` (key ``erasure_id``) — the check-in service, the only one that
   can link a person to their pseudonymous subject ids, names the subject ids to forget and
   then forgets the link itself.
3. ``privacy.erasure.receipts`` (key ``erasure_id``) — one receipt per service when everything
   it held about the person is removed or crypto-shredded; coordinators see the status.

Neither the subjects event nor a receipt carries a ``person_id``: once the request has aged
off its topic (bounded retention), nothing on Kafka links the two.
"""

from enum import StrEnum

from pydantic import AwareDatetime, Field

from kinship_contracts.base import (
    EventId,
    Identifier,
    IngestionModel,
    PlatformModel,
    SourceName,
    Timestamp,
)


class ErasureRequested(IngestionModel):
    """A person's erasure request, on ``privacy.erasure.requested`` (key ``person_id``).

    ``id`` is the erasure id: the same id twice is one erasure.
    """

    id: EventId
    person_id: Identifier = Field(description="The person to forget (directory id).")
    requested_at: Timestamp
    source: SourceName


class SubjectsErased(PlatformModel):
    """The subject ids an erasure concerns, on ``privacy.erasure.subjects`` (key erasure id).

    Published by the check-in service after it destroyed the person's vault entries and data
    keys; may be empty when the person never checked in.
    """

    id: str
    erasure_id: str
    subject_ids: list[str] = Field(default_factory=list)
    occurred_at: AwareDatetime


class ErasureReceipt(PlatformModel):
    """One service finished an erasure, on ``privacy.erasure.receipts`` (key erasure id).

    ``removed`` counts what was deleted or crypto-shredded by kind (rows, keys): no personal
    data, so coordinators can read it.
    """

    id: str
    erasure_id: str
    service: str
    completed_at: AwareDatetime
    removed: dict[str, int] = Field(default_factory=dict)


class ErasureStage(StrEnum):
    """The two halves of an erasure every service other than check-in completes."""

    PERSON = "person"
    """Data keyed by the person's directory id (directory facts, kudos, preferences)."""
    SUBJECTS = "subjects"
    """Data keyed by their pseudonymous subject ids (check-ins, cases, streaks)."""


__all__ = ["ErasureReceipt", "ErasureRequested", "ErasureStage", "SubjectsErased"]
