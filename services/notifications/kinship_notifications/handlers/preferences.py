"""A person's delivery preferences: what they may read and change."""

from kinship_notifications.domain.policy import Preferences
from kinship_notifications.handlers.ports import NotificationsUnitOfWork
from kinship_runtime.auth import Caller


class NotYourPreferencesError(Exception):
    """A person asked for someone else's preferences (only systems may)."""

    def __init__(self) -> None:
        super().__init__("only for your own preferences")


def _may_manage(caller: Caller, person_id: str) -> None:
    if not (caller.is_system or caller.person_id == person_id):
        raise NotYourPreferencesError


async def preferences_of(
    caller: Caller, person_id: str, uow: NotificationsUnitOfWork
) -> Preferences:
    """A person's preferences (the defaults when none were set), for them or a system."""
    _may_manage(caller, person_id)
    return await uow.preferences(person_id)


async def set_preferences(
    caller: Caller, person_id: str, preferences: Preferences, uow: NotificationsUnitOfWork
) -> Preferences:
    """Create or replace a person's preferences, for them or a system."""
    _may_manage(caller, person_id)
    await uow.save_preferences(person_id, preferences)
    return preferences
