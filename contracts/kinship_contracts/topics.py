"""The topic registry: every topic Kinship reads or writes, with its key and retention."""

from dataclasses import dataclass

from pydantic import BaseModel

from kinship_contracts.awards import Award
from kinship_contracts.cases import CaseEvent, GroupSessionProposed
from kinship_contracts.checkins import CheckinRecorded, CheckinSubmitted
from kinship_contracts.directory import DirectoryPerson
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.notifications import NotificationReceipt, NotificationRequest
from kinship_contracts.outreach import OutreachChanged
from kinship_contracts.privacy import ErasureReceipt, ErasureRequested, SubjectsErased
from kinship_contracts.pulse import PulseSubmitted
from kinship_contracts.signals import SignalSubmitted

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """A Kafka topic's contract: name, key, payload model and storage settings."""

    name: str
    key: str
    payload: type[BaseModel]
    event_type: str
    description: str
    partitions: int = 12
    retention_ms: int = 7 * DAY_MS
    compacted: bool = False
    ingestion: bool = False
    """Published by other systems: validated on arrival, with a dead-letter topic."""
    dead_letter_owner: str | None = None
    """The one consuming service that dead-letters this topic's records that fail validation,
    so that a bad record gives one dead letter however many services read it (the others skip
    it). Records that fail processing are dead-lettered by whichever consumer failed them."""
    broker_timestamps: bool = False
    """Records carry the broker's clock at append (``message.timestamp.type=LogAppendTime``)
    rather than the producer's: set on every ingestion topic (implied) and on any other topic
    whose record timestamps an erasure's skip rule reads, so that no producer's clock or
    back-dated record moves the cut-off (review 7, decision 85)."""

    @property
    def dead_letter(self) -> str:
        """Where records that fail validation go: ``<name>.dlq`` (every topic has one)."""
        return dead_letter_topic(self.name)

    @property
    def log_append_time(self) -> bool:
        """Whether the broker sets the records' timestamps (``broker_timestamps``, or an
        ingestion topic: other systems publish it, with their own clocks)."""
        return self.ingestion or self.broker_timestamps

    def config(self) -> dict[str, str]:
        """Kafka topic configuration."""
        timestamps = {"message.timestamp.type": "LogAppendTime"} if self.log_append_time else {}
        return self._storage() | timestamps

    def _storage(self) -> dict[str, str]:
        if self.compacted:
            # An erased person's record is gone within a day: segments roll hourly, a record
            # is compacted at most a day after its tombstone, and tombstones live a day.
            return {
                "cleanup.policy": "compact",
                "min.compaction.lag.ms": "60000",
                "max.compaction.lag.ms": str(DAY_MS),
                "segment.ms": str(60 * 60 * 1000),
                "delete.retention.ms": str(DAY_MS),
            }
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}


DEAD_LETTER_RETENTION_MS = 14 * DAY_MS
"""How long dead letters are kept (their sealing keys expire with them)."""


def dead_letter_topic(name: str) -> str:
    """The dead-letter topic of ``name``: ``<name>.dlq``."""
    return f"{name}.dlq"


CHECKINS_SUBMITTED = TopicSpec(
    name="wellbeing.checkins.submitted",
    key="person_id",
    payload=CheckinSubmitted,
    event_type="kinship.checkin.submitted.v1",
    description="Check-ins from people or from systems on their behalf.",
    ingestion=True,
    dead_letter_owner="checkin",
)
CHECKINS_RECORDED = TopicSpec(
    name="wellbeing.checkins.recorded",
    key="subject_id",
    payload=CheckinRecorded,
    event_type="kinship.checkin.recorded.v1",
    description="Validated, persisted check-ins: pseudonymous, without notes, with scores.",
    retention_ms=30 * DAY_MS,
    dead_letter_owner="escalation",
)
CHECKINS_URGENT = TopicSpec(
    name="wellbeing.checkins.urgent",
    key="subject_id",
    payload=CheckinRecorded,
    event_type="kinship.checkin.urgent.v1",
    description="Recorded check-ins showing immediate risk, also published here (same id) so "
    "that no backlog on wellbeing.checkins.recorded can delay them.",
    partitions=3,
    retention_ms=30 * DAY_MS,
    dead_letter_owner="escalation",
)
SIGNALS_SUBMITTED = TopicSpec(
    name="wellbeing.signals.submitted",
    key="person_id or team_id",
    payload=SignalSubmitted,
    event_type="kinship.signal.submitted.v1",
    description="Signals: critical-incident exposure, overtime, on-call load, absence.",
    partitions=6,
    ingestion=True,
    dead_letter_owner="escalation",
)
DIRECTORY_PEOPLE = TopicSpec(
    name="directory.people",
    key="person_id",
    payload=DirectoryPerson,
    event_type="kinship.directory.person.v1",
    description="The organisation directory; compacted, a null value removes the person.",
    partitions=6,
    compacted=True,
    ingestion=True,
    dead_letter_owner="checkin",
)
KUDOS_SUBMITTED = TopicSpec(
    name="recognition.kudos.submitted",
    key="to_person_id",
    payload=KudosSubmitted,
    event_type="kinship.kudos.submitted.v1",
    description="Kudos between colleagues.",
    partitions=6,
    ingestion=True,
    dead_letter_owner="recognition",
)

ESCALATION_CASES = TopicSpec(
    name="escalation.cases",
    key="case_id (team_id for group-session proposals)",
    payload=CaseEvent,
    event_type="kinship.case.transition.v1",
    description="Every case transition; also voluntary group-session proposals.",
    partitions=6,
    retention_ms=30 * DAY_MS,
    dead_letter_owner="recognition",
    broker_timestamps=True,  # recognition skips an erased responder by it
)
GROUP_SESSIONS = TopicSpec(
    name="escalation.cases",
    key="team_id",
    payload=GroupSessionProposed,
    event_type="kinship.case.group_session_proposed.v1",
    description="Voluntary group-session proposals for a team's coordinators.",
    partitions=6,
    retention_ms=30 * DAY_MS,
    dead_letter_owner="recognition",
    broker_timestamps=True,  # recognition skips an erased responder by it
)
"""The second event type on ``escalation.cases`` (told apart by ``ce_type``)."""
NOTIFICATION_REQUESTS = TopicSpec(
    name="notifications.requests",
    key="recipient (person_id or subject_id)",
    payload=NotificationRequest,
    event_type="kinship.notification.requested.v1",
    description="Messages to deliver: alerts to responders, resources and reminders to people.",
    partitions=12,
    broker_timestamps=True,  # notifications screens requests to an erased person by it
    dead_letter_owner="notifications",
)
NOTIFICATION_RECEIPTS = TopicSpec(
    name="notifications.receipts",
    key="request id",
    payload=NotificationReceipt,
    event_type="kinship.notification.receipt.v1",
    description="What happened to each request: delivered, failed or suppressed.",
    partitions=6,
    dead_letter_owner="escalation",
)

PULSE_SUBMITTED = TopicSpec(
    name="programme.pulse.submitted",
    key="person_id",
    payload=PulseSubmitted,
    event_type="kinship.pulse.submitted.v1",
    description="Programme pulse-survey answers from survey tools (reported only for k ≥ 5).",
    partitions=6,
    ingestion=True,
    dead_letter_owner="recognition",
)

RECOGNITION_AWARDS = TopicSpec(
    name="recognition.awards",
    key="person_id, subject_id or team_id",
    payload=Award,
    event_type="kinship.recognition.award.v1",
    description="Awards to celebrate: kudos, milestones, streaks, responders, teams.",
    partitions=6,
    retention_ms=30 * DAY_MS,
)

ERASURE_REQUESTED = TopicSpec(
    name="privacy.erasure.requested",
    key="person_id",
    payload=ErasureRequested,
    event_type="kinship.privacy.erasure_requested.v1",
    description="A person's erasure request (from the HR portal or Kinship's own endpoint); "
    "every service consumes it. Kept 7 days: the request names the person.",
    partitions=3,
    retention_ms=7 * DAY_MS,
    ingestion=True,
    dead_letter_owner="checkin",
)
ERASURE_SUBJECTS = TopicSpec(
    name="privacy.erasure.subjects",
    key="erasure id",
    payload=SubjectsErased,
    event_type="kinship.privacy.subjects_erased.v1",
    description="An erasure's subject ids are ready to forget, from the check-in service (the "
    "only one that can link them to a person); the ids themselves are asked of it while the "
    "erasure is open, never put on Kafka. Kept 7 days.",
    partitions=3,
    retention_ms=7 * DAY_MS,
    dead_letter_owner="escalation",
)
ERASURE_RECEIPTS = TopicSpec(
    name="privacy.erasure.receipts",
    key="erasure id",
    payload=ErasureReceipt,
    event_type="kinship.privacy.erasure_receipt.v1",
    description="One receipt per service and erasure: everything it held about the person "
    "is gone. No personal data.",
    partitions=3,
    retention_ms=30 * DAY_MS,
    dead_letter_owner="checkin",
)

OUTREACH_PREFERENCES = TopicSpec(
    name="privacy.outreach.preferences",
    key="subject_id",
    payload=OutreachChanged,
    event_type="kinship.privacy.outreach_changed.v1",
    description="Each subject's outreach preference (welcome, ask_first, resources_only), from "
    "the check-in service; compacted, a null value forgets the subject.",
    partitions=6,
    compacted=True,
    dead_letter_owner="escalation",
)

TOPICS: tuple[TopicSpec, ...] = (
    CHECKINS_SUBMITTED,
    CHECKINS_RECORDED,
    CHECKINS_URGENT,
    SIGNALS_SUBMITTED,
    DIRECTORY_PEOPLE,
    KUDOS_SUBMITTED,
    PULSE_SUBMITTED,
    ESCALATION_CASES,
    NOTIFICATION_REQUESTS,
    NOTIFICATION_RECEIPTS,
    RECOGNITION_AWARDS,
    ERASURE_REQUESTED,
    ERASURE_SUBJECTS,
    ERASURE_RECEIPTS,
    OUTREACH_PREFERENCES,
)
EVENT_TYPES: tuple[TopicSpec, ...] = (*TOPICS, GROUP_SESSIONS)
"""Every (topic, event type) pair, for schema export; a topic may carry several types."""


def topic(name: str) -> TopicSpec:
    """The registered topic called ``name``; KeyError names the known topics."""
    for spec in TOPICS:
        if spec.name == name:
            return spec
    known = ", ".join(spec.name for spec in TOPICS)
    raise KeyError(f"no topic {name!r} in the registry; known topics: {known}")
