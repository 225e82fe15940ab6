"""A person's own view: their check-in streak and a copy of everything kept about them.

Check-in weeks, streak awards and pulse answers are kept by subject id: the person's is
asked of the check-in service's vault (``subjects:lookup``) for the request and not kept.
"""

from datetime import date

from kinship_recognition.domain.records import PersonalRecords
from kinship_recognition.domain.streaks import StreakSummary, streak_summary
from kinship_recognition.handlers.ports import RecognitionUnitOfWork, SubjectLookup


async def my_streak(
    person_id: str, uow: RecognitionUnitOfWork, vault: SubjectLookup, today: date
) -> StreakSummary:
    """The person's current and longest weekly check-in streak."""
    subject_id = (await vault.subjects([person_id], create=False, purpose="streak")).get(person_id)
    if subject_id is None:  # never checked in
        return streak_summary([], today)
    weeks = (await uow.weeks_of([subject_id])).get(subject_id, [])
    return streak_summary(weeks, today)


async def my_records(
    person_id: str, uow: RecognitionUnitOfWork, vault: SubjectLookup, today: date
) -> tuple[PersonalRecords, StreakSummary]:
    """Everything kept about the person, and their streak as of ``today``."""
    subject_id = (await vault.subjects([person_id], create=False, purpose="my_data")).get(person_id)
    records = await uow.personal_records(person_id, subject_id)
    return records, streak_summary(records.checkin_weeks, today)
