"""Pseudonyms stay pseudonymous (issue 11, "Why" 4): escalation, notifications and recognition
keep no person id next to that person's subject id, and none of them needs the pseudonym key.

Pia is active in every service first: a critical case (an alert, crisis resources sent to her
through the vault), kudos both ways (an award and a celebration to her subject), a pulse
answer. Then every row of every table of the three services is read as JSON: no row names Pia
(or anyone else) next to their own subject id, and no two rows are joined by an id so that
one names the person and the other their subject id.
"""

import asyncio
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.security.flows import deliveries_to, open_case, pulse_body, send_kudos
from tests.security.stack import Stack, mentions, until

pytestmark = pytest.mark.security

OTHERS = ("escalation", "notifications", "recognition")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]")


@pytest.fixture(scope="module")
async def pia_everywhere(stack: Stack) -> str:
    """Pia has a case, deliveries, kudos, an award and a pulse answer; her subject id."""
    pia, coordinator = stack.people.pia, stack.people.coordinator
    await open_case(stack, pia)
    await send_kudos(stack, coordinator, pia, "Thank you for the onboarding guide")
    await send_kudos(stack, pia, coordinator, "Thanks for organising the sessions")
    answer = await stack.call(
        "POST", "recognition", "/v1/pulse", stack.bearer(pia.id), json=pulse_body(pia)
    )
    assert answer.status_code == 202, answer.text

    async def settled() -> bool:
        kinds = {d["kind"] for d in await deliveries_to(stack, pia) if d["status"] == "delivered"}
        return {"crisis_resources", "celebration"} <= kinds

    assert await until(settled, timeout=90), await deliveries_to(stack, pia)
    subject = await stack.subject_of(pia.id)
    assert subject is not None
    return subject


async def table_rows(stack: Stack, service: str) -> dict[str, list[str]]:
    """Every row of every table of ``service``'s schema, as JSON text, by table."""
    tables = await stack.rows(
        service,
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
        stack.schemas[service],
    )
    found: dict[str, list[str]] = {}
    for table in tables:
        name = table["table_name"]
        found[name] = [
            row[0]
            for row in await stack.rows(service, f'SELECT row_to_json(t)::text FROM "{name}" t')
        ]
    return found


def leaves(value: Any) -> set[str]:
    """The string values of a JSON document (what rows can be joined on)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(leaves(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(leaves(v) for v in value)) if value else set()
    return set()


async def test_no_service_keeps_a_person_next_to_their_subject_id(
    stack: Stack, pia_everywhere: str
) -> None:
    pairs = {
        row["person_id"]: row["subject_id"]
        for row in await stack.rows("checkin", "SELECT person_id, subject_id FROM pseudonyms")
    }
    assert stack.people.pia.id in pairs and stack.people.coordinator.id in pairs
    for service in OTHERS:
        tables = await table_rows(stack, service)
        assert sum(len(r) for r in tables.values()) > 0
        named = 0
        for table, texts in tables.items():
            for text in texts:
                for person_id, subject_id in pairs.items():
                    if mentions(text, subject_id):
                        named += 1
                        assert not mentions(text, person_id), (service, table, person_id)
        assert named > 0, f"{service} holds no subject id at all: the scan proves nothing"
        linked = await still_linked_by_a_join(tables, pairs, stack.people.teams())
        assert linked == [], (service, linked)
        directory = await stack.rows(
            service, "SELECT count(*) AS n FROM directory_people WHERE subject_id IS NOT NULL"
        )
        assert directory[0]["n"] == 0


Rows = dict[str, list[tuple[str, set[str]]]]
"""By ``p:<person id>`` / ``s:<person id>``: (table, joinable values) of each row naming the
person / their subject id."""


def rows_naming(tables: dict[str, list[str]], pairs: dict[str, str], teams: set[str]) -> Rows:
    """The rows naming each person or their subject id, with the values they could be joined
    on: team ids (a team is a group, by design), timestamps and short values (kinds,
    statuses, locales) left out."""
    rows_of: Rows = defaultdict(list)
    for table, texts in tables.items():
        for text in texts:
            values = {
                v
                for v in leaves(json.loads(text))
                if len(v) >= 8 and not TIMESTAMP.match(v) and v not in teams
            }
            for person_id, subject_id in pairs.items():
                if person_id in values:
                    rows_of[f"p:{person_id}"].append((table, values - {person_id}))
                if subject_id in values:
                    rows_of[f"s:{person_id}"].append((table, values - {subject_id}))
    return rows_of


async def still_linked_by_a_join(
    tables: dict[str, list[str]], pairs: dict[str, str], teams: set[str]
) -> list[tuple[str, str, str, list[str]]]:
    """(person, table naming them, table naming their subject, the values) for every id that
    a row naming a person shares with a row naming that person's subject id: one join links
    them. A value in rows about several people (a status, a template name) joins nobody in
    particular; a link is a value only one person's rows hold."""
    rows_of = rows_naming(tables, pairs, teams)
    whose: dict[str, set[str]] = defaultdict(set)
    for key, found in rows_of.items():
        for value in set().union(*(values for _table, values in found)):
            whose[value].add(key[2:])
    linked = []
    for person_id in pairs:
        for table_p, values_p in rows_of[f"p:{person_id}"]:
            for table_s, values_s in rows_of[f"s:{person_id}"]:
                shared = {v for v in values_p & values_s if whose[v] == {person_id}}
                if shared:
                    linked.append((person_id, table_p, table_s, sorted(shared)))
    return linked


async def test_no_service_but_the_vault_needs_the_pseudonym_key(stack: Stack) -> None:
    """Every service runs (and the cross-service tests pass) without KINSHIP_PSEUDONYM_KEY:
    nothing can recompute a subject id from a person id."""
    for name, process in stack.processes.items():
        assert process.process is not None and process.process.poll() is None, name
        path = Path(f"/proc/{process.process.pid}/environ")
        environ = (await asyncio.to_thread(path.read_bytes)).split(b"\0")
        assert not [v for v in environ if v.startswith(b"KINSHIP_PSEUDONYM_KEY=")], name
        ready = await stack.call("GET", name, "/readyz")
        assert ready.status_code == 200, name
