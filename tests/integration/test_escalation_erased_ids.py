"""Check-ins about an erased person that the escalation service consumes only after the
erasure (a backlog, a replay of the check-in topics) are skipped, against the real broker and
database (service in-process): after Erin's erasure, her own check-in published again on both
lanes is neither observed under her subject id nor opens a case about her; someone else's
check-in in the same replay still does."""

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from tests.escalation_support import (
    STAFF,
    SUBJECTS,
    Escalation,
    checkin_settings,
    recorded,
    seed_directory,
)
from tests.kafka_reading import encode, publish
from tests.recognition_support import consumed_to_end

pytestmark = pytest.mark.integration

ERIN, OTHER = "worker-1", "worker-2"


async def test_a_checkin_about_an_erased_subject_consumed_after_the_erasure_is_skipped(
    escalation: Escalation,
) -> None:
    await seed_directory(escalation, STAFF)
    servers = escalation.endpoints.bootstrap_servers
    checkins = escalation.topic("wellbeing.checkins.recorded")
    urgent = escalation.topic("wellbeing.checkins.urgent")
    now = datetime.now(UTC)
    hers = recorded("c-erin", ERIN, now, wants_contact=True, mood=3)
    await publish(servers, checkins, [hers])
    assert await escalation.wait_for("SELECT count(*) FROM cases", 1) == 1
    erin = SUBJECTS.subject_id(ERIN)

    request = ErasureRequested(id="er-e", person_id=ERIN, requested_at=now, source="hr")
    # As the check-in service publishes it now: the ids are served by its vault (in-process
    # here, its own schema), not carried inline.
    vault = await asyncpg.connect(escalation.endpoints.database_url)
    try:
        await vault.execute(
            f'INSERT INTO "{checkin_settings(escalation.settings).owned_schema()}".erasure_subjects'
            " (erasure_id, subject_ids, expires_at) VALUES ($1, $2::text[], $3)",
            "er-e",
            [erin],
            now + timedelta(days=1),
        )
    finally:
        await vault.close()
    subjects = SubjectsErased(
        id="er-e:subjects",
        erasure_id="er-e",
        subject_ids=[],
        subjects_in_vault=True,
        occurred_at=now,
    )
    await publish(
        servers,
        escalation.topic("privacy.erasure.requested"),
        [(ERIN.encode(), encode(request.model_dump(mode="json")))],
    )
    await publish(
        servers,
        escalation.topic("privacy.erasure.subjects"),
        [(b"er-e", encode(subjects.model_dump(mode="json")))],
    )
    done = "SELECT count(*) FROM erasure_progress WHERE receipt_sent_at IS NOT NULL"
    assert await escalation.wait_for(done, 1) == 1
    about_erin = (
        "SELECT (SELECT count(*) FROM observations WHERE subject_id = $1)"
        " + (SELECT count(*) FROM cases WHERE subject_id = $1)"
    )
    assert await escalation.rows(about_erin, erin) == [(0,)]
    (digest,) = await escalation.rows("SELECT digest FROM erased_ids WHERE erased_at IS NULL")
    assert erin.encode() not in bytes(digest[0])

    # Her check-in again on both lanes (a replay, or a backlog), and someone else's.
    theirs = recorded("c-other", OTHER, now, wants_contact=True, mood=3)
    await publish(servers, checkins, [hers, theirs])
    await publish(servers, urgent, [hers])
    settings = escalation.settings
    assert await consumed_to_end(escalation, settings.consumer_group("checkins"), checkins, 3)
    assert await consumed_to_end(escalation, settings.consumer_group("urgent"), urgent, 1)
    assert await escalation.wait_for("SELECT count(*) FROM cases", 2) == 2

    assert await escalation.rows(about_erin, erin) == [(0,)]
    other = SUBJECTS.subject_id(OTHER)
    assert await escalation.rows("SELECT count(*) FROM cases WHERE subject_id = $1", other) == [
        (1,)
    ]
    dead = await escalation.messages("wellbeing.checkins.recorded.dlq", timeout=2)
    assert dead == []  # skipped, not dead-lettered
