"""The ports the recognition handlers need: one unit of work (a transaction) and a chart."""

from collections.abc import Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Literal, Protocol, Self

from kinship_contracts.awards import Award
from kinship_contracts.cases import CaseEvent
from kinship_contracts.directory import DirectoryChange
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.pulse import PulseSubmitted
from kinship_recognition.domain.reports import (
    CaseWeek,
    FeedbackWeek,
    ParticipationWeek,
    ProgrammeReport,
    PulseWeek,
    Window,
)
from kinship_runtime.outbox import OutboxMessage

ChartFormat = Literal["svg", "png"]


class RecognitionUnitOfWork(Protocol):
    """One transaction of the recognition service: entered with ``async with``, committed on
    a clean exit and rolled back on an exception.

    People are known by person id, check-ins only by their pseudonymous subject id; the
    directory (``apply_directory``) links the two for time zones and teams.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

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

    async def timezones_of(self, subject_ids: Sequence[str]) -> dict[str, str]:
        """Subjects' time zones (subjects not in the directory are left out)."""
        ...

    async def teams_of_subjects(self, subject_ids: Sequence[str]) -> dict[str, str]:
        """Subjects' teams (subjects not in the directory are left out)."""
        ...

    async def team_members(self, team_id: str) -> list[str]:
        """The active members of a team (person ids, sorted)."""
        ...

    # Check-in weeks ----------------------------------------------------------

    async def add_weeks(self, weeks: Sequence[tuple[str, date]]) -> list[tuple[str, date]]:
        """Record (subject, week) pairs with a check-in; returns those not recorded before."""
        ...

    async def weeks_of(self, subject_ids: Sequence[str]) -> dict[str, list[date]]:
        """The weeks each subject checked in."""
        ...

    async def team_week(self, team_id: str, week: date) -> tuple[int, int]:
        """Active members of a team who checked in during ``week``, and its active members."""
        ...

    # Awards ------------------------------------------------------------------

    async def add_award(self, award: Award) -> bool:
        """Record an award once; False when it was given before."""
        ...

    async def is_awarded(self, award_id: str) -> bool:
        """Whether an award was given before."""
        ...

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages in this transaction's outbox."""
        ...

    # Cases, feedback and pulse -----------------------------------------------

    async def record_case_fact(self, event: CaseEvent) -> None:
        """Fold a case transition into the case's facts; the earliest time of each
        transition wins, so replays and late duplicates change nothing."""
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
        self, case_id: str, given_by: str, subject_id: str, score: int, at: datetime
    ) -> None:
        """Store a case's feedback score once per side ('person' or 'responder')."""
        ...

    async def add_pulse(self, pulse: PulseSubmitted, respondent: str) -> None:
        """Store a respondent's answers to a survey round; the latest answers win."""
        ...

    # Programme reports -------------------------------------------------------

    async def members(self, team_id: str | None) -> int:
        """Active people in the directory, or in one team."""
        ...

    async def participation(
        self, window: Window, team_id: str | None, by_week: bool
    ) -> list[ParticipationWeek]:
        """Active directory members who checked in, by week (or over the window)."""
        ...

    async def cases(self, window: Window, by_week: bool) -> list[CaseWeek]:
        """Cases opened, by week (or over the window): times to act and outcomes."""
        ...

    async def feedback(self, window: Window, by_week: bool) -> list[FeedbackWeek]:
        """Feedback scores by week (or over the window) and by side."""
        ...

    async def pulse(self, window: Window, team_id: str | None, by_week: bool) -> list[PulseWeek]:
        """Pulse answers by week (or over the window): respondents and mean agreement."""
        ...


class ChartRenderer(Protocol):
    """Draws a programme report as a chart."""

    async def render(self, report: ProgrammeReport, fmt: ChartFormat) -> bytes:
        """The report's weekly trends as an image in ``fmt``."""
        ...
