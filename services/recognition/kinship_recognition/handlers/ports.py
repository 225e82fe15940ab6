"""The ports the recognition handlers need: one unit of work (a transaction), the vault's
subject lookup, and a chart."""

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Literal, NamedTuple, Protocol

from kinship_contracts.cases import CaseEvent
from kinship_contracts.directory import DirectoryChange
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.privacy import ErasureStage
from kinship_contracts.pulse import PulseSubmitted
from kinship_recognition.domain.awards import Grant
from kinship_recognition.domain.records import PersonalRecords
from kinship_recognition.domain.reports import (
    CaseWeek,
    FeedbackWeek,
    ParticipationWeek,
    ProgrammeReport,
    PulseWeek,
    ReleasedWeek,
    TeamParticipation,
    TeamPulse,
    Window,
)
from kinship_runtime.outbox import OutboxMessage
from kinship_runtime.unit_of_work import UnitOfWork
from kinship_runtime.vault import SubjectsAsOf

ChartFormat = Literal["svg", "png"]


class CheckinWeek(NamedTuple):
    """A week (the local Monday) in which a subject checked in, with the team their check-in
    named (None when the check-in service did not know it)."""

    subject_id: str
    week: date
    team_id: str | None


class SubjectLookup(Protocol):
    """The check-in service's vault, as far as this service may ask it: the subject ids of
    people it knows by id (``kinship_runtime.vault.VaultClient``). The answers are used for
    the message at hand and never stored. An unreachable vault raises an ``OSError``
    (``VaultUnavailableError``): the work is retried, never dropped."""

    async def subjects(
        self, person_ids: Sequence[str], *, create: bool = True, purpose: str = "unstated"
    ) -> dict[str, str]:
        """Each person's subject id (with ``create=False``, only people who have one)."""
        ...

    async def subjects_as_of(
        self,
        person_ids: Sequence[str],
        produced_at: Mapping[str, datetime],
        *,
        purpose: str = "unstated",
    ) -> SubjectsAsOf:
        """Each person's subject id, but for people the vault erased at or after the newest
        record naming them (``produced_at``, by person); says when it erased each."""
        ...

    async def erasure_subjects(self, erasure_id: str) -> list[str] | None:
        """The subject ids of an open erasure, to forget them (None once it is closed)."""
        ...


class RecognitionUnitOfWork(UnitOfWork, Protocol):
    """One transaction of the recognition service: entered with ``async with``, committed on
    a clean exit and rolled back on an exception.

    What is about a person's own actions (kudos sent and received, cases supported) is kept
    by person id; what arrives by subject id (check-ins, cases, pulse answers) is kept by
    subject id. Nothing links the two.
    """

    # Kudos -------------------------------------------------------------------

    async def is_known(self, kudos_id: str) -> bool:
        """Whether these kudos were stored before."""
        ...

    async def sent_since(self, person_id: str, since: datetime) -> int:
        """Kudos a person sent (stored) since ``since``."""
        ...

    async def add_kudos(self, kudos: KudosSubmitted, message: str, now: datetime) -> bool:
        """Store kudos once with their cleaned ``message`` and the sender's team now; False
        when the id was seen before."""
        ...

    async def received(self, person_id: str) -> int:
        """Kudos a person has received."""
        ...

    async def team_kudos(self, team_id: str) -> tuple[int, int]:
        """Kudos a team's members have sent, and how many of them sent any."""
        ...

    # The directory -----------------------------------------------------------

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes (the last per person wins; ``None`` removes)."""
        ...

    async def team_of_person(self, person_id: str) -> str | None:
        """A person's team, from the directory."""
        ...

    async def team_members(self, team_id: str) -> list[str]:
        """The active members of a team (person ids, sorted)."""
        ...

    # Check-in weeks ----------------------------------------------------------

    async def add_weeks(
        self, weeks: Sequence[CheckinWeek], now: datetime
    ) -> list[tuple[str, date]]:
        """Record (subject, week) pairs with a check-in, recorded ``now``; returns those not
        recorded before."""
        ...

    async def weeks_of(self, subject_ids: Sequence[str]) -> dict[str, list[date]]:
        """The weeks each subject checked in."""
        ...

    async def team_week(self, team_id: str, week: date) -> tuple[int, int]:
        """People whose check-ins in ``week`` named the team, and its active members now."""
        ...

    # Awards ------------------------------------------------------------------

    async def add_award(self, grant: Grant) -> bool:
        """Record an award once (with its one recipient); False when it was given before."""
        ...

    async def is_awarded(self, key: str) -> bool:
        """Whether an award was given before."""
        ...

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages in this transaction's outbox."""
        ...

    # Cases, feedback and pulse -----------------------------------------------

    async def record_case_fact(self, event: CaseEvent, now: datetime) -> None:
        """Fold a case transition into the case's facts (first recorded ``now``); the
        earliest time of each transition wins, so replays and late duplicates change
        nothing."""
        ...

    async def add_supported_case(
        self, case_id: str, responder_id: str, resolved_at: datetime
    ) -> bool:
        """Count a resolved case for its responder once; False when counted before."""
        ...

    async def supported_by(self, responder_id: str) -> int:
        """Cases a responder has supported."""
        ...

    async def responder_of(self, case_id: str) -> str | None:
        """Who resolved a case (as counted by ``add_supported_case``)."""
        ...

    async def add_feedback(
        self, case_id: str, given_by: str, subject_id: str, score: int, at: datetime, now: datetime
    ) -> None:
        """Store a case's feedback score once per side ('person' or 'responder'), recorded
        ``now``."""
        ...

    async def add_pulse(self, pulse: PulseSubmitted, respondent: str, now: datetime) -> None:
        """Store a respondent's answers to a survey round; later answers replace earlier
        ones until the week of the stored answers has closed (a published week never
        changes)."""
        ...

    # Programme reports -------------------------------------------------------

    async def members(self, team_id: str | None) -> int:
        """Active people in the directory, or in one team."""
        ...

    async def participation(self, window: Window) -> list[ParticipationWeek]:
        """People who checked in, by week, each week counting what was recorded before it
        closed."""
        ...

    async def team_participation(self, window: Window) -> list[TeamParticipation]:
        """People who checked in, by week and by the team their check-in named."""
        ...

    async def cases(self, window: Window) -> list[CaseWeek]:
        """Cases opened, by week: times to act and outcomes, as they stood when each week
        closed."""
        ...

    async def feedback(self, window: Window) -> list[FeedbackWeek]:
        """Feedback scores by week and by side."""
        ...

    async def pulse(self, window: Window) -> list[PulseWeek]:
        """Pulse answers by week: respondents and mean agreement."""
        ...

    async def team_pulse(self, window: Window) -> list[TeamPulse]:
        """Pulse answers by week and team (each respondent in one team per week)."""
        ...

    async def released_weeks(self, window: Window) -> dict[date, ReleasedWeek]:
        """The weeks of ``window`` stored as first released, by Monday (none: never served)."""
        ...

    async def release_weeks(self, weeks: Sequence[ReleasedWeek], at: datetime) -> None:
        """Store each week unless it is stored: the first figures served stay (a concurrent
        first reading stores one copy; read back with ``released_weeks``)."""
        ...

    # Erasure -----------------------------------------------------------------

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Mark events processed by ``consumer``; returns the ids never seen before."""
        ...

    async def erase_person(self, person_id: str) -> dict[str, int]:
        """Delete what is kept by the person's id (kudos they sent or received with their
        text, their awards, supported cases, directory row) and shred their dead letters;
        counts by kind."""
        ...

    async def erase_subjects(self, subject_ids: Sequence[str]) -> dict[str, int]:
        """Forget these subject ids: delete their streak awards, anonymise (not delete) the
        rows the programme reports count — check-in weeks, pulse answers, case facts and
        feedback get random stand-ins for their subject and case ids, fresh per table
        (``domain.anonymise``) — and shred their dead letters; counts by kind
        (``<table>_anonymised`` for the anonymised)."""
        ...

    async def remember_erased(
        self, digests: Sequence[bytes], until: datetime, *, erased_at: datetime | None = None
    ) -> None:
        """Keep the digests of erased subject ids (``kinship_runtime.erased_ids``) until
        ``until`` (a digest kept already keeps the later of its two times); of erased person
        ids with ``erased_at``, the erasure's time (the later wins too). First in the
        erasure's transaction (takes the lock that batches checking the record wait for)."""
        ...

    async def erased_among(self, digests: Sequence[bytes], now: datetime) -> set[bytes]:
        """Those of ``digests`` kept as erased and not expired at ``now``."""
        ...

    async def erased_since(self, digests: Sequence[bytes], now: datetime) -> dict[bytes, datetime]:
        """Those of ``digests`` (of person ids) kept as erased and not expired at ``now``,
        with when each person was (last) erased; first in a batch's transaction (waits for
        an erasure in progress)."""
        ...

    async def forget_erased(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` digests expired at ``now``; how many went."""
        ...

    async def erasure_done(
        self,
        erasure_id: str,
        stage: ErasureStage,
        removed: Mapping[str, int],
        receipts_topic: str,
        now: datetime,
    ) -> OutboxMessage | None:
        """Record that one half of an erasure is done; the receipt once both halves are."""
        ...

    # A person's own data -----------------------------------------------------

    async def personal_records(self, person_id: str, subject_id: str | None) -> PersonalRecords:
        """Everything kept by the person's id and by their subject id (None: they have none),
        oldest first; anonymised rows are nobody's and never listed."""
        ...


class ChartRenderer(Protocol):
    """Draws a programme report as a chart."""

    async def render(self, report: ProgrammeReport, fmt: ChartFormat) -> bytes:
        """The report's weekly trends as an image in ``fmt``."""
        ...
