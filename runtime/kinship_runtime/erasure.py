"""Erasure progress in a service other than check-in: two halves, then one receipt.

A person's erasure reaches a service twice: ``privacy.erasure.requested`` names the person
(for what the service keeps by person id: directory facts, preferences, kudos) and
``privacy.erasure.subjects``, from the check-in service, names their subject ids (cases,
streaks, deliveries to them). They may arrive in either order. ``note_done`` records a half in
the service's ``erasure_progress`` table, inside the transaction that erased it, and, when both
halves are done, returns the receipt to publish on ``privacy.erasure.receipts`` in the same
transaction. Each half's ``processed`` idempotency is the caller's (by event id).

The subjects event names only the erasure: ``subjects_from_vault`` asks the check-in service
for its subject ids (they are never on Kafka) before the subjects half runs.
"""

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from kinship_contracts.privacy import (
    ErasureReceipt,
    ErasureRequested,
    ErasureStage,
    SubjectsErased,
)
from kinship_contracts.topics import ERASURE_RECEIPTS
from kinship_runtime.database import Connection
from kinship_runtime.outbox import OutboxMessage, event_message
from kinship_runtime.records import Accepted, Record, Rejected, parse_records

log = logging.getLogger(__name__)


def unroutable_erasure_id(erasure_id: str) -> bool:
    """Whether an erasure id cannot be one URL path segment (it contains ``/`` or is
    ``.``/``..``): the services could not ask the vault for its subject ids, so such
    an erasure is refused whole at ingestion rather than done by halves."""
    return "/" in erasure_id or erasure_id in {".", ".."}


_parse_requests = parse_records(ErasureRequested)


def parse_erasure_requests(
    records: Sequence[Record],
) -> tuple[list[Accepted[ErasureRequested]], list[Rejected]]:
    """Erasure requests, as ``parse_records(ErasureRequested)``, refusing an id that is not
    one path segment (``unroutable_erasure_id``) with the reason ``erasure_id_unroutable``
    (the contract's ``EventId`` allows ``/``, and a pattern cannot be tightened compatibly).
    Every service parses the topic so: none does a half of an erasure the others refuse, and
    the check-in service, which owns the topic's dead letters, dead-letters it."""
    accepted, rejected = _parse_requests(records)
    kept: list[Accepted[ErasureRequested]] = []
    for item in accepted:
        if unroutable_erasure_id(item.event.id):
            reason = {
                "code": "erasure_id_unroutable",
                "errors": [
                    {
                        "loc": ["id"],
                        "msg": "an erasure id must not contain '/' nor be '.' or '..'",
                    }
                ],
            }
            rejected.append(Rejected(item.record, reason))
        else:
            kept.append(item)
    return kept, rejected


class ErasureSubjects(Protocol):
    """The check-in service's vault, asked for an open erasure's subject ids
    (``kinship_runtime.vault.VaultClient``; an unreachable vault raises an ``OSError``)."""

    async def erasure_subjects(self, erasure_id: str) -> list[str] | None:
        """The subject ids, or None once the erasure is closed."""
        ...


async def subjects_from_vault(
    events: Sequence[SubjectsErased], vault: ErasureSubjects
) -> list[SubjectsErased]:
    """The events with their subject ids, asked of the vault for those that carry none
    (``subjects_in_vault``). An erasure the vault says it no longer serves (410) is complete
    everywhere (a replay: every service has done its half) or past its deadline: it is left
    out, and the service sends no receipt for it. Any other failure (an unreachable vault, a
    route that did not match) raises, so the record is retried or dead-lettered, never
    skipped silently. Older events, with their ids, pass unchanged."""
    opened: list[SubjectsErased] = []
    for event in events:
        if not event.subjects_in_vault:
            opened.append(event)
            continue
        subjects = await vault.erasure_subjects(event.erasure_id)
        if subjects is None:
            log.warning("an erasure's subject ids are no longer served (complete or expired)")
            continue
        opened.append(event.model_copy(update={"subject_ids": subjects}))
    return opened


_COLUMN = {ErasureStage.PERSON: "person_done_at", ErasureStage.SUBJECTS: "subjects_done_at"}


async def note_done(
    conn: Connection,
    erasure_id: str,
    stage: ErasureStage,
    removed: Mapping[str, int],
    *,
    service: str,
    receipts_topic: str,
    now: datetime,
) -> OutboxMessage | None:
    """Record that ``stage`` of an erasure is done; the receipt once both stages are."""
    column = _COLUMN[stage]
    row = await conn.fetchrow(
        "INSERT INTO erasure_progress (erasure_id, " + column + ", removed)"  # noqa: S608
        # Text cast to jsonb: a service pool's json codec would encode the text again.
        " VALUES ($1, $2, $3::text::jsonb) ON CONFLICT (erasure_id) DO UPDATE SET"
        f" {column} = coalesce(erasure_progress.{column}, excluded.{column}),"
        " removed = erasure_progress.removed || excluded.removed"
        " RETURNING person_done_at, subjects_done_at, receipt_sent_at, removed",
        erasure_id,
        now,
        json.dumps(dict(removed)),
    )
    assert row is not None
    if row["receipt_sent_at"] is not None or None in (
        row["person_done_at"],
        row["subjects_done_at"],
    ):
        return None
    await conn.execute(
        "UPDATE erasure_progress SET receipt_sent_at = $2 WHERE erasure_id = $1", erasure_id, now
    )
    totals = row["removed"] if isinstance(row["removed"], dict) else json.loads(row["removed"])
    receipt = ErasureReceipt(
        id=f"{erasure_id}:{service}",
        erasure_id=erasure_id,
        service=service,
        completed_at=now,
        removed={str(k): int(v) for k, v in totals.items()},
    )
    return event_message(
        receipts_topic,
        erasure_id,
        receipt,
        event_id=receipt.id,
        event_type=ERASURE_RECEIPTS.event_type,
        source=f"kinship/{service}",
        time=now,
    )
