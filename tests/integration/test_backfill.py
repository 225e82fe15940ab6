"""A backfill opens the same cases as live processing (issue 17).

Half a year of check-in history for a few dozen people goes twice through the check-in and
escalation services as processes on the real stack: once as it would have arrived live, a
week at a time, each week evaluated before the next is published; once as a backfill, the
whole history published at once (batches of hundreds of check-ins, many of one person in a
batch). Each person's cases (severity, and every piece of evidence by rule and check-in) must
be the same both ways.

The withdrawal watch is left out on purpose (its timers never fire here): it judges a silence
against the real clock, so a history months old would come due between two live weeks, not
because of how check-ins were batched.
"""

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.backfill_support import cases_by_person, year_of_checkins
from tests.chaos.harness import Platform, consumer_operations, schema_of, wait_for_no_lag
from tests.kafka_reading import publish

pytestmark = pytest.mark.integration

PEOPLE, WEEKS = 36, 26


def _messages(bodies: list[dict[str, object]]) -> list[tuple[bytes | None, bytes | None]]:
    return [(str(b["person_id"]).encode(), json.dumps(b).encode()) for b in bodies]


async def test_a_backfill_opens_the_same_cases_as_live_processing(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    platform = Platform.of(service_env, tmp_path, only=("checkin", "escalation"))
    platform.processes["escalation"].env["KINSHIP_TIMER_POLL_SECONDS"] = "3600"
    bootstrap = service_env["KINSHIP_KAFKA_BOOTSTRAP_SERVERS"]
    submitted = f"{service_env['KINSHIP_TOPIC_PREFIX']}wellbeing.checkins.submitted"
    try:
        await platform.start()
        groups = await consumer_operations(
            [platform.url(s, "") for s in ("checkin", "escalation")],
            service_env["KINSHIP_CONSUMER_GROUP_PREFIX"],
        )
        live = year_of_checkins(PEOPLE, WEEKS, prefix="live-")
        by_week: dict[int, list[dict[str, object]]] = {}
        for body in live.bodies:  # oldest first; the id ends with the week
            by_week.setdefault(int(str(body["id"]).rsplit("-", 1)[1]), []).append(body)
        for week in sorted(by_week):
            await publish(bootstrap, submitted, _messages(by_week[week]))
            assert not await wait_for_no_lag(bootstrap, groups, 120), f"week {week} stuck"

        backfill = year_of_checkins(PEOPLE, WEEKS, prefix="bulk-")
        await publish(bootstrap, submitted, _messages(backfill.bodies))
        assert not await wait_for_no_lag(bootstrap, groups, 240), platform.logs()
        await asyncio.sleep(0.5)

        url = service_env["KINSHIP_DATABASE_URL"]
        checkins, escalation = (
            schema_of(service_env, "checkin"),
            schema_of(service_env, "escalation"),
        )
        live_cases = await cases_by_person(url, checkins, escalation, "live-")
        backfill_cases = await cases_by_person(url, checkins, escalation, "bulk-")
    finally:
        platform.stop_all()

    rules = Counter(rule for cases in live_cases.values() for _, ev in cases for rule, _ in ev)
    # The history has every kind of low patch: the comparison is not of two empty sets.
    assert {"sustained_decline", "poor_wellbeing", "self_referral"} <= set(rules), rules
    assert backfill_cases == live_cases
