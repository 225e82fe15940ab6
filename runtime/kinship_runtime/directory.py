"""The directory projection: the one table (``directory_people``) each service keeps of
``directory.people``, created by the runtime's migration.

Every service keeps a person's team, time zone, roles and whether they are active; a service
that must reach people (notifications) or show them to their responder (check-in) also keeps
their display name and channels (``keep_contact``). This module applies changes and answers
the two questions several services ask of it (a person's team, a team's active people);
every other query belongs to the service's own adapter.
"""

import json
from collections.abc import Callable, Sequence

from kinship_contracts.directory import DirectoryChange, latest_per_person
from kinship_runtime.database import Connection

_UPSERT = """
INSERT INTO directory_people (person_id, team_id, timezone, roles, active, subject_id,
    display_name, channels, manages, updated_at)
SELECT person_id, team_id, timezone, roles::text[], active, subject_id, display_name,
    channels::jsonb, manages::text[], now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[],
    $7::text[], $8::text[], $9::text[]) AS t(person_id, team_id, timezone, roles, active,
    subject_id, display_name, channels, manages)
ON CONFLICT (person_id) DO UPDATE SET team_id = excluded.team_id,
    timezone = excluded.timezone, roles = excluded.roles, active = excluded.active,
    subject_id = excluded.subject_id, display_name = excluded.display_name,
    channels = excluded.channels, manages = excluded.manages, updated_at = excluded.updated_at
"""


class DirectoryProjection:
    """Applies directory changes to ``directory_people`` inside the caller's transaction."""

    def __init__(
        self, *, keep_contact: bool = False, subject_of: Callable[[str], str] | None = None
    ) -> None:
        self._keep_contact = keep_contact
        self._subject_of = subject_of

    @staticmethod
    async def forget(conn: Connection, person_id: str) -> int:
        """Remove ``person_id`` from the projection (erasure); the rows removed (0 or 1)."""
        status = await conn.execute("DELETE FROM directory_people WHERE person_id = $1", person_id)
        return int(status.rsplit(" ", 1)[-1])

    async def apply(self, conn: Connection, changes: Sequence[DirectoryChange]) -> None:
        """Upsert and remove people; the last change per person in the batch wins."""
        latest = latest_per_person(changes)
        people = [change.person for change in latest if change.person is not None]
        removed = [change.person_id for change in latest if change.person is None]
        if people:
            await conn.execute(
                _UPSERT,
                [p.person_id for p in people],
                [p.team_id for p in people],
                [p.timezone for p in people],
                ["{" + ",".join(role.value for role in p.roles) + "}" for p in people],
                [p.active for p in people],
                [self._subject_of(p.person_id) if self._subject_of else None for p in people],
                [p.display_name if self._keep_contact else None for p in people],
                [
                    p.channels.model_dump_json(exclude_none=True) if self._keep_contact else None
                    for p in people
                ],
                [_array_literal(p.manages) for p in people],
            )
        if removed:
            await conn.execute(
                "DELETE FROM directory_people WHERE person_id = ANY($1::text[])", removed
            )


async def team_of(conn: Connection, person_id: str) -> str | None:
    """A person's team, from the projection."""
    value = await conn.fetchval(
        "SELECT team_id FROM directory_people WHERE person_id = $1", person_id
    )
    return str(value) if value is not None else None


async def team_members(conn: Connection, team_id: str) -> list[str]:
    """A team's active people (person ids, in order)."""
    rows = await conn.fetch(
        "SELECT person_id FROM directory_people WHERE team_id = $1 AND active ORDER BY person_id",
        team_id,
    )
    return [str(row["person_id"]) for row in rows]


def _array_literal(items: Sequence[str]) -> str:
    """A PostgreSQL array literal (arrays of arrays cannot travel through one unnest)."""
    quoted = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return "{" + ",".join(quoted) + "}"


def channels_of(value: object) -> dict[str, str]:
    """A stored ``channels`` column as a mapping (empty when not kept)."""
    if value is None:
        return {}
    loaded = json.loads(value) if isinstance(value, str | bytes) else value
    if not isinstance(loaded, dict):
        return {}
    return {str(k): str(v) for k, v in loaded.items()}
