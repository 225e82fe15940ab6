"""Detection does not depend on how records are batched (issue 12).

Random histories (several people, random moods, stress, WHO-5, PHQ-9 or PHQ-2 answers and
requests for contact, random dates with gaps, late arrivals and redeliveries, some load
signals) are replayed through the real detection handler over the in-memory unit of work
twice: one check-in per unit of work, and in random batches. The cases (status, severity,
rules, observations, rules version, explanation), the timers, the requests and the outcome
of the timers firing later must be the same.
"""

import asyncio
import os
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.signals import SignalSubmitted
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.signals import handle_signals
from kinship_escalation.handlers.timers import fire_due_timers
from tests.unit.escalation.conftest import NOW, STAFF, Clock, checkin, context, sent, subject
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork

# KINSHIP_HYPOTHESIS_EXAMPLES=1000 for a longer hunt; 40 keeps the unit suite fast.
SETTINGS = settings(
    max_examples=int(os.environ.get("KINSHIP_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
PEOPLE = ("p-0", "p-1", "p-2", "p-3")
START = NOW - timedelta(days=150)
"""The histories run from here to about ``NOW``; the replays' clock stands at ``NOW``."""


@dataclass(frozen=True)
class Replay:
    """Check-ins in order of arrival, where the batches end, and load signals beforehand."""

    checkins: list[CheckinRecorded]
    cuts: list[int]
    signals: list[SignalSubmitted]

    def batches(self) -> list[list[CheckinRecorded]]:
        edges = [0, *sorted(set(self.cuts)), len(self.checkins)]
        return [self.checkins[a:b] for a, b in pairwise(edges) if b > a]


maybe = st.none() | st.integers(1, 5)
answers = st.fixed_dictionaries(
    {},
    optional={
        "mood": st.integers(1, 5),
        "stress": st.integers(1, 5),
        "who5": st.lists(st.integers(0, 5), min_size=5, max_size=5),
        "phq9": st.lists(st.integers(0, 3), min_size=9, max_size=9),
        "phq2": st.lists(st.integers(0, 3), min_size=2, max_size=2),
        "wants_contact": st.sampled_from([False, False, True]),
    },
).map(lambda given: given if given.keys() - {"stress"} else {**given, "mood": 3})


@st.composite
def person_history(draw: st.DrawFn, person: str) -> list[CheckinRecorded]:
    """One person's check-ins: days apart (often daily or weekly, sometimes long gaps)."""
    gaps = draw(
        st.lists(
            st.sampled_from([0.0, 1.0, 1.0, 2.0, 7.0, 7.0, 20.0]) | st.floats(0, 40),
            min_size=1,
            max_size=12,
        )
    )
    team = "team-a" if person in ("p-0", "p-1") else "team-b"
    at, found = START, []
    for number, gap in enumerate(gaps):
        at += timedelta(days=gap, minutes=draw(st.integers(0, 600)))
        given = draw(answers)
        found.append(checkin(f"{person}-c{number}", person, at, team, **given))
    return found


@st.composite
def replays(draw: st.DrawFn) -> Replay:
    people = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4, unique=True))
    histories = [draw(person_history(person)) for person in people]
    # Arrival: mostly in time order per person, interleaved across people; some late.
    merged = sorted((c for history in histories for c in history), key=lambda c: c.occurred_at)
    arrival = draw(st.permutations(merged)) if draw(st.booleans()) else merged
    arrival = list(arrival)
    for position in draw(st.lists(st.integers(0, len(arrival) - 1), max_size=3)):
        arrival.insert(draw(st.integers(position, len(arrival))), arrival[position])  # redelivery
    cuts = draw(st.lists(st.integers(1, max(1, len(arrival) - 1)), max_size=len(arrival)))
    signals = [
        SignalSubmitted.model_validate(
            {
                "id": f"sig-{number}",
                "person_id": draw(st.sampled_from(people)),
                "kind": draw(st.sampled_from(["overtime", "on_call_load", "absence"])),
                "severity": draw(st.integers(1, 5)),
                "occurred_at": (START + timedelta(days=draw(st.floats(0, 150)))).isoformat(),
                "source": "rota",
            }
        )
        for number in range(draw(st.integers(0, 4)))
    ]
    return Replay(arrival, cuts, signals)


async def replay(batches: list[list[CheckinRecorded]], signals: list[SignalSubmitted]) -> Any:
    """Run the batches, each in its own unit of work, then let the timers fire 200 days on."""
    clock = Clock(NOW)
    ctx = context(clock)
    uow = FakeEscalationUnitOfWork()
    async with uow:
        await uow.directory.apply(STAFF)
        await handle_signals(signals, uow, ctx)
    for batch in batches:
        async with uow:
            await handle_checkins(batch, uow, ctx)
    detected = await outcome(uow)
    clock.advance(days=200)  # every watch has come due: fire until nothing is left
    for _ in range(3):
        async with uow:
            await fire_due_timers(uow, ctx, 1000)
    return detected, await outcome(uow)


async def outcome(uow: FakeEscalationUnitOfWork) -> dict[str, Any]:
    """What detection left, named without generated ids (a case by its subject)."""
    subject_of = {case_id: s.case.subject_id for case_id, s in uow.tables.cases.items()}
    cases = {}
    async with uow:
        for case_id, stored in uow.tables.cases.items():
            case = stored.case
            explanation = await uow.evidence.explain(case_id)
            assert explanation is not None
            cases[(case.subject_id, case.opened_at, case.status.value)] = (
                case.severity.value,
                tuple(case.rules),
                tuple(case.observation_ids),
                case.rules_version,
                tuple(
                    (
                        fired.rule,
                        fired.severity.value,
                        fired.thresholds,
                        tuple((o.ref, tuple(sorted(o.scores.items()))) for o in fired.observations),
                    )
                    for fired in explanation.rules
                ),
            )
    timers = {
        (
            armed.timer.id.replace(
                armed.timer.case_id or "-", subject_of.get(armed.timer.case_id or "", "-")
            ),
            armed.timer.due_at,
            tuple(sorted(armed.timer.payload.items())),
            armed.fired_at,
        )
        for armed in uow.tables.timers.values()
    }
    requests = sorted(
        (r["kind"], r["recipient"].get("subject_id") or r["recipient"].get("person_id"))
        for r in sent(uow).requests
    )
    self_care = sorted(r["id"] for r in sent(uow).of_kind("self_care"))
    return {"cases": cases, "timers": timers, "requests": requests, "self_care": self_care}


THE_ISSUES_BACKFILL = Replay(
    [
        checkin(f"w-c{day}", "p-0", START + timedelta(days=day), mood=m)
        for day, m in enumerate([4, 4, 4, 2, 2])
    ],
    [],
    [],
)
"""The issue's case: a whole history in one batch lost the withdrawal watch."""


@SETTINGS
@given(replays())
@example(THE_ISSUES_BACKFILL)
def test_detection_gives_the_same_result_whatever_the_batching(history: Replay) -> None:
    one_by_one = [[event] for event in history.checkins]
    alone = asyncio.run(replay(one_by_one, history.signals))
    batched = asyncio.run(replay(history.batches(), history.signals))
    whole = asyncio.run(replay([history.checkins], history.signals))
    assert batched == alone
    assert whole == alone
    detected, fired = alone
    event(f"{len(history.batches())} batch(es)" if len(history.batches()) < 3 else "3+ batches")
    event("a case opened" if detected["cases"] else "no case")
    event("a withdrawal watch" if any("missed" in t[0] for t in detected["timers"]) else "no watch")
    event(
        "withdrawal detected" if any("withdrawal" in c[1] for c in fired["cases"].values()) else "-"
    )


def test_the_issues_backfill_is_detected_as_withdrawal_in_one_batch() -> None:
    """The property's first example, checked for what it must find (not only agreement)."""
    (detected, fired) = asyncio.run(replay([THE_ISSUES_BACKFILL.checkins], []))
    assert detected["cases"] == {}
    assert any(timer[0] == f"missed_checkins:{subject('p-0')}" for timer in detected["timers"])
    ((severity, rules, observations, *_),) = fired["cases"].values()
    assert (severity, rules, observations) == ("medium", ("withdrawal",), ("w-c3", "w-c4"))
