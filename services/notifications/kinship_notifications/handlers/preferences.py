"""A person's delivery preferences: what they may read and change.

A person reads and changes their own; a coordinator may read anyone's (to answer "why did
nobody reach me?"), but changes only their own; a calling system never (its route refuses
API keys, and so does this, in case a route ever lets one through).
"""

from kinship_notifications.domain.policy import Preferences
from kinship_notifications.handlers.ports import NotificationsUnitOfWork
from kinship_runtime.access import Actor


class NotYourPreferencesError(Exception):
    """Someone asked for preferences they may not read or change."""


def _may_read(actor: Actor, person_id: str) -> None:
    if actor.person is None or not (actor.person_id == person_id or actor.is_coordinator):
        raise NotYourPreferencesError("only your own preferences (coordinators: read anyone's)")


def _may_change(actor: Actor, person_id: str) -> None:
    if actor.person is None or actor.person_id != person_id:
        raise NotYourPreferencesError("only your own preferences")


async def preferences_of(actor: Actor, person_id: str, uow: NotificationsUnitOfWork) -> Preferences:
    """A person's preferences (the defaults when none were set), for them or a coordinator."""
    _may_read(actor, person_id)
    return await uow.preferences(person_id)


async def set_preferences(
    actor: Actor, person_id: str, preferences: Preferences, uow: NotificationsUnitOfWork
) -> Preferences:
    """Create or replace a person's preferences, for them only."""
    _may_change(actor, person_id)
    await uow.save_preferences(person_id, preferences)
    return preferences
