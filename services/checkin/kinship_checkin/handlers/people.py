"""Who the signed-in person is, and finding a colleague by name.

``about``: the person's own name, team, roles and the teams whose trends they read, from
this service's copy of the directory (the console shows each person the pages of their
roles). ``find_people``: active colleagues by name, ids and names only (for kudos).
"""

from kinship_checkin.domain.people import PersonMatch, Profile
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_contracts.directory import Role
from kinship_runtime.access import Person

SEARCH_MIN_CHARS = 2
SEARCH_MAX_RESULTS = 20


class SearchTooShortError(ValueError):
    """A search needs at least ``SEARCH_MIN_CHARS`` characters besides spaces."""


async def about(person_id: str, uow: CheckinUnitOfWork) -> Profile:
    """The person as the directory knows them; someone it does not know (yet) is an
    employee with no role, no team and no name."""
    entry = await uow.directory_entry(person_id)
    if entry is None:
        return Profile(person_id, None, None, (), ())
    roles = tuple(sorted(role for role in entry.roles if role in Role._value2member_map_))
    # The same rule the access checks apply: a manager reads their listed teams, or their own.
    person = Person(
        person_id,
        frozenset(Role(role) for role in roles),
        entry.team_id,
        frozenset(entry.manages),
    )
    return Profile(
        person_id=person_id,
        display_name=entry.display_name,
        team_id=entry.team_id,
        roles=roles,
        managed_teams=tuple(sorted(person.managed_teams)),
    )


def search_text(text: str) -> str:
    """The words searched for: trimmed, inner spaces collapsed; too short is refused."""
    words = " ".join(text.split())
    if len(words) < SEARCH_MIN_CHARS:
        raise SearchTooShortError(f"type at least {SEARCH_MIN_CHARS} characters")
    return words


async def find_people(
    text: str, uow: CheckinUnitOfWork, limit: int = SEARCH_MAX_RESULTS
) -> list[PersonMatch]:
    """Active colleagues whose name contains ``text`` (or whose id starts with it)."""
    return await uow.search_people(search_text(text), min(limit, SEARCH_MAX_RESULTS))
