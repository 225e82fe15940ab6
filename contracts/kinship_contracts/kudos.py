"""Kudos between colleagues."""

from typing import Annotated

from pydantic import Field

from kinship_contracts.base import (
    EventId,
    FreeText,
    Identifier,
    IngestionModel,
    SourceName,
    Timestamp,
)


class KudosSubmitted(IngestionModel):
    """Kudos from one colleague to another, on ``recognition.kudos.submitted``.

    Keyed by ``to_person_id``.
    """

    id: EventId
    from_person_id: Identifier
    to_person_id: Identifier
    message: Annotated[FreeText, Field(min_length=1, max_length=500)]
    occurred_at: Timestamp
    source: SourceName
