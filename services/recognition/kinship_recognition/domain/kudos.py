"""Kudos rules: no self-kudos, a daily limit per sender, messages without markup."""

from enum import StrEnum

import nh3

from kinship_contracts.kudos import KudosSubmitted

KUDOS_MILESTONES = (5, 10, 25, 50, 100)


class KudosRefusal(StrEnum):
    """Why kudos were refused (machine-readable, carried to the caller or the .dlq)."""

    SELF_KUDOS = "self_kudos"
    DAILY_LIMIT = "daily_limit"
    EMPTY_MESSAGE = "empty_message"


def clean_message(message: str) -> str:
    """The message as plain text: every tag removed (nh3, the ammonia HTML sanitiser)."""
    return nh3.clean(message, tags=set(), attributes={}).strip()


def refusal(kudos: KudosSubmitted, sent_today: int, daily_limit: int) -> KudosRefusal | None:
    """Why these kudos cannot be accepted, or None."""
    if kudos.from_person_id == kudos.to_person_id:
        return KudosRefusal.SELF_KUDOS
    if not clean_message(kudos.message):
        return KudosRefusal.EMPTY_MESSAGE
    if sent_today >= daily_limit:
        return KudosRefusal.DAILY_LIMIT
    return None


SUPPORTED_MILESTONES = (1, 5, 10, 25, 50)
THANKS_SCORE = 4
"""Feedback from the person supported at or above this score thanks the responder."""


def supported_milestone(supported: int) -> int | None:
    """The cases-supported milestone a responder reaches with their ``supported``-th case."""
    return supported if supported in SUPPORTED_MILESTONES else None


def milestone_reached(received: int) -> int | None:
    """The kudos milestone a person reaches with their ``received``-th kudos, if any."""
    return received if received in KUDOS_MILESTONES else None
