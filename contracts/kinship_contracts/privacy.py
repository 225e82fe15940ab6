"""Erasure: a person's request to be forgotten, and each service's proof that it was.

1. ``privacy.erasure.requested`` (key ``person_id``) — the request, from another system (the
   HR portal) or from Kinship's own ``POST /v1/people/{person_id}/erasure``.
2. ``privacy.erasure.subjects`` (key ``erasure_id``) — the check-in service, the only one that
   can link a person to their pseudonymous subject ids, tells the other services that an
   erasure's subject ids are ready to forget and then forgets the link itself. The ids are not
   on Kafka (``subjects_in_vault``): each service asks the check-in service for them
   (``GET /v1/erasures/{erasure_id}/subjects``, scope ``subjects:erasure``, audited) while the
   erasure is open; the check-in service drops them once every service's receipt is in, or
   at a deadline.
3. ``privacy.erasure.receipts`` (key ``erasure_id``) — one receipt per service when everything
   it held about the person is removed or crypto-shredded; coordinators see the status.

Neither the subjects event nor a receipt carries a ``person_id``, and neither carries a
subject id: the request links the erasure id to the person, and nothing on Kafka links the
erasure id to a subject id, so once the erasure is complete nothing links the person to
their records on the other topics (events published before this change named the subject
ids in clear; they age off in 7 days).
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
    """An erasure's subject ids are ready to forget, on ``privacy.erasure.subjects`` (key
    erasure id).

    Published by the check-in service after it destroyed the person's vault entries and data
    keys. With ``subjects_in_vault`` (what it publishes now) ``subject_ids`` is empty and the
    ids are asked of the check-in service while the erasure is open
    (``kinship_runtime.erasure.subjects_from_vault``); without it (older events) they are
    in ``subject_ids``. Either may be empty when the person never checked in.
    """

    id: str
    erasure_id: str
    subject_ids: list[str] = Field(default_factory=list)
    occurred_at: AwareDatetime
    subjects_in_vault: bool = Field(
        default=False,
        description="The subject ids are not in this event: ask the check-in service "
        "(GET /v1/erasures/{erasure_id}/subjects, scope subjects:erasure) while the erasure "
        "is open; they are gone once it is complete.",
    )


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
