"""Report weeks frozen at first read (``handlers.reports``): a closed week is served as first
released, for every group, and erasure anonymises the check-in weeks, pulse answers,
feedback and case facts the weeks count instead of deleting them, so a report read before
and after someone's erasure cannot be subtracted to give their participation, answers or
score."""

from datetime import UTC, date, datetime, timedelta

from kinship_contracts.cases import CaseEventKind
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_recognition.domain.reports import ReleasedWeek, Sources, Window, build_report
from kinship_recognition.handlers.erasure import ErasureTopics, erase_people, erase_subjects
from kinship_recognition.handlers.reports import programme_report
from tests.unit.fakes.recognition import (
    ERASED_IDS,
    ERASED_PEOPLE,
    FakeRecognitionUnitOfWork,
    FakeVault,
    Person,
    case_event,
    pulse,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday: last week (16 Nov) is closed
LAST_WEEK = date(2026, 11, 16)
TUESDAY = datetime(2026, 11, 17, 10, tzinfo=UTC)  # inside last week, whatever the hour now
PEOPLE = [f"worker-{n}" for n in range(1, 7)]


async def six_people_took_part() -> tuple[FakeRecognitionUnitOfWork, FakeVault]:
    """Six people of team-a checked in last week, answered the pulse survey (worker-6: 1, the
    others 5), had a case opened and acknowledged, and gave feedback (worker-6: 1, others 5)."""
    uow = FakeRecognitionUnitOfWork({person: Person("team-a") for person in PEOPLE})
    vault = FakeVault()
    async with uow:
        for n, person in enumerate(PEOPLE, start=1):
            subject = vault.subject(person)
            low = person == "worker-6"
            uow.check_in(subject, LAST_WEEK, "team-a", recorded=TUESDAY)
            answer = pulse(f"p-{n}", person, TUESDAY, programme_helps=1 if low else 5)
            await uow.add_pulse(answer, subject, TUESDAY)
            opened = case_event(f"case-{n}", 1, CaseEventKind.OPENED, TUESDAY, subject)
            await uow.record_case_fact(opened, TUESDAY)
            later = TUESDAY + timedelta(hours=n)
            ack = case_event(f"case-{n}", 2, CaseEventKind.ACKNOWLEDGED, later, subject)
            await uow.record_case_fact(ack, later)
            await uow.add_feedback(f"case-{n}", "person", subject, 1 if low else 5, later, later)
    return uow, vault


async def erase(uow: FakeRecognitionUnitOfWork, vault: FakeVault, person: str) -> None:
    """Both halves of the person's erasure, as the consumers carry them out."""
    topics = ErasureTopics("receipts")
    asked = ErasureRequested(id="er-1", person_id=person, requested_at=NOW, source="hr")
    gone = SubjectsErased(
        id="er-1:s", erasure_id="er-1", subject_ids=[vault.subject(person)], occurred_at=NOW
    )
    async with uow:
        await erase_people([asked], uow, topics, NOW, erased=ERASED_PEOPLE)
        await erase_subjects([gone], uow, topics, ERASED_IDS, NOW)


async def recomputed(uow: FakeRecognitionUnitOfWork, weeks: int) -> Sources:
    """What the live rows give now (what a report recomputed on each read would use)."""
    window = Window.closed(NOW, weeks)
    async with uow:
        return Sources(
            window=window,
            members=await uow.members(None),
            participation=await uow.participation(window),
            cases=await uow.cases(window),
            feedback=await uow.feedback(window),
            pulse=await uow.pulse(window),
            team_participation=await uow.team_participation(window),
            team_pulse=await uow.team_pulse(window),
        )


async def test_a_week_read_before_and_after_an_erasure_gives_nobody_away() -> None:
    uow, vault = await six_people_took_part()
    async with uow:
        before = await programme_report(uow, 2, None, NOW)
        team_before = await programme_report(uow, 2, "team-a", NOW)
    week = before.weeks[-1]
    assert week.week == LAST_WEEK
    assert week.pulse is not None and week.pulse.respondents == 6
    assert week.pulse.mean_agreement["programme_helps"] == round(26 / 6, 2)
    assert week.satisfaction["person"].responses == 6
    assert week.participation is not None and week.participation.people == 6

    await erase(uow, vault, "worker-6")
    # Their rows are anonymised, not deleted: recomputed, the week is the same, so a copy
    # first computed after the erasure (here, or in the escalation service, which publishes
    # the same cells) cannot be set against one computed before it.
    live = build_report(await recomputed(uow, 2), None, NOW).weeks[-1]
    unrated = {"participation": {"members", "rate"}}
    assert live.model_dump(exclude=unrated) == week.model_dump(exclude=unrated)
    assert live.pulse is not None and live.pulse.respondents == 6
    assert vault.subject("worker-6") not in repr([getattr(uow, n) for n in uow._STATE])

    async with uow:
        after = await programme_report(uow, 2, None, NOW)
        team_after = await programme_report(uow, 2, "team-a", NOW)
    # Every released figure stays; only the directory's members (now five) and the rate
    # with them are of today.
    assert after.weeks[-1].participation is not None
    assert after.weeks[-1].participation.members == 5
    assert after.weeks[-1].participation.people == 6
    for old, new in ((before, after), (team_before, team_after)):
        assert [w.model_dump(exclude=unrated) for w in new.weeks] == [
            w.model_dump(exclude=unrated) for w in old.weeks
        ]
        assert new.period == old.period


async def test_a_team_read_first_freezes_the_organisations_week_and_every_teams() -> None:
    uow, vault = await six_people_took_part()
    uow.people |= {f"other-{n}": Person("team-b") for n in range(5)}
    async with uow:
        for n in range(5):
            uow.check_in(f"s-other-{n}", LAST_WEEK, "team-b", recorded=TUESDAY)
        await programme_report(uow, 1, "team-b", NOW)  # only team-b's report is read
    (stored,) = uow.report_weeks.values()
    assert stored.week == LAST_WEEK and set(stored.teams) == {"team-a", "team-b"}
    org_then = stored.organisation

    await erase(uow, vault, "worker-6")
    async with uow:
        org = await programme_report(uow, 1, None, NOW)
        team_a = await programme_report(uow, 1, "team-a", NOW)
    # The organisation's 11 and team-a's 6, both as before: 11 - 5 - 6 = 0 hides no one.
    assert org.weeks[0].participation is not None and team_a.weeks[0].participation is not None
    assert org_then.participation is not None
    assert org.weeks[0].participation.people == 11 == org_then.participation.people
    assert team_a.weeks[0].participation.people == 6


async def test_a_later_read_serves_older_weeks_as_stored_and_releases_new_ones() -> None:
    uow, vault = await six_people_took_part()
    async with uow:
        first = await programme_report(uow, 1, None, NOW)
    assert list(uow.report_weeks) == [LAST_WEEK]
    await erase(uow, vault, "worker-6")
    async with uow:
        later = await programme_report(uow, 4, None, NOW + timedelta(weeks=2))
    assert [w.week for w in later.weeks] == [
        LAST_WEEK - timedelta(weeks=1),
        LAST_WEEK,
        LAST_WEEK + timedelta(weeks=1),
        LAST_WEEK + timedelta(weeks=2),
    ]
    assert later.weeks[1].pulse == first.weeks[0].pulse
    assert later.weeks[1].satisfaction == first.weeks[0].satisfaction
    assert sorted(uow.report_weeks) == [w.week for w in later.weeks]
    # The window adds up the weeks as released: worker-6's feedback is still in it.
    assert later.period.satisfaction["person"] == first.weeks[0].satisfaction["person"]


async def test_the_first_copy_stored_stays_and_a_rolled_back_reading_stores_nothing() -> None:
    uow, _vault = await six_people_took_part()
    empty = ReleasedWeek.model_validate({"week": LAST_WEEK, "organisation": {}})
    async with uow:
        await programme_report(uow, 1, None, NOW)
        stored = uow.report_weeks[LAST_WEEK]
        await uow.release_weeks([empty], NOW)  # a second first reader's copy
        assert uow.report_weeks[LAST_WEEK] == stored
        assert (await uow.released_weeks(Window.closed(NOW, 1)))[LAST_WEEK] == stored
    other, _ = await six_people_took_part()
    try:
        async with other:
            await programme_report(other, 1, None, NOW)
            raise RuntimeError("the request failed")
    except RuntimeError:
        pass
    assert other.report_weeks == {}


async def test_stored_weeks_hold_aggregates_only_and_erasure_leaves_them() -> None:
    uow, vault = await six_people_took_part()
    async with uow:
        await programme_report(uow, 3, "team-a", NOW)
    stored = "".join(week.model_dump_json() for week in uow.report_weeks.values())
    for person in PEOPLE:
        assert person not in stored and vault.subject(person) not in stored
    await erase(uow, vault, "worker-6")
    assert "".join(w.model_dump_json() for w in uow.report_weeks.values()) == stored
