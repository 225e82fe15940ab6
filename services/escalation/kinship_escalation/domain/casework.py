"""Working a case beyond its lifecycle: consent to reach out, first contact, planned
follow-ups, resolutions and re-openings, and the private notes kept about it.

The programme policy on reaching out (docs/escalation.md, "Consent and reaching out"):

- ``welcome``: a peer may reach out when the person's check-ins show they struggle;
- ``ask_first`` (the default): the case opens and a responder is alerted as usual, but nobody
  learns who the person is until they answer yes to a one-tap question;
- ``resources_only``: resources, no case, no alert, no outreach;
- a self-referral (asking for contact) is consent, whatever the preference;
- immediate risk overrides every preference (duty of care): the responder may learn who the
  person is and reach out at once.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kinship_contracts.directory import OutreachPreference
from kinship_escalation.domain.observations import CheckinObservation
from kinship_escalation.domain.rules import IMMEDIATE_RISK, SELF_REFERRAL

DEFAULT_PREFERENCE = OutreachPreference.ASK_FIRST
"""What applies to a person who (and whose directory record) never chose."""


class InvalidActionError(ValueError):
    """An action whose details cannot be right (a time in the past, handing over to oneself)."""


class Consent(StrEnum):
    """Whether a peer may reach out to the person of a case, and why."""

    WELCOME = "welcome"
    """Their preference is ``welcome``."""
    ASKED = "asked"
    """Their preference is ``ask_first``: asked, no answer yet."""
    YES = "yes"
    """They answered yes."""
    NO = "no"
    """They answered no (the case closed as ``declined``)."""
    SELF_REFERRAL = "self_referral"
    """They asked for contact themselves: that is consent."""
    IMMEDIATE_RISK = "immediate_risk"
    """Immediate risk overrides the preference (duty of care)."""

    @property
    def allows_outreach(self) -> bool:
        """Whether the responder may learn who the person is and reach out."""
        return self not in (Consent.ASKED, Consent.NO)


def consent_for(preference: OutreachPreference | None, rules: list[str]) -> Consent | None:
    """The consent a case opens with, from the person's preference and the rules that fired;
    None when the person gets resources only (no case)."""
    if IMMEDIATE_RISK in rules:
        return Consent.IMMEDIATE_RISK
    if SELF_REFERRAL in rules:
        return Consent.SELF_REFERRAL
    match preference or DEFAULT_PREFERENCE:
        case OutreachPreference.WELCOME:
            return Consent.WELCOME
        case OutreachPreference.ASK_FIRST:
            return Consent.ASKED
        case OutreachPreference.RESOURCES_ONLY:
            return None


def raised_consent(current: Consent, rules: list[str]) -> Consent:
    """The consent after new evidence: immediate risk overrides anything; a self-referral
    is consent unless the person already said yes (or risk overrides)."""
    if IMMEDIATE_RISK in rules:
        return Consent.IMMEDIATE_RISK
    if SELF_REFERRAL in rules and current in (Consent.ASKED, Consent.WELCOME):
        return Consent.SELF_REFERRAL
    return current


class ContactChannel(StrEnum):
    """How the responder reached the person."""

    PHONE = "phone"
    CHAT = "chat"
    IN_PERSON = "in_person"
    VIDEO = "video"
    EMAIL = "email"
    OTHER = "other"


class HandoverReason(StrEnum):
    """Why a responder hands a case on (a code: free text goes into an encrypted note)."""

    UNAVAILABLE = "unavailable"
    CONFLICT_OF_INTEREST = "conflict_of_interest"
    EXPERTISE = "expertise"
    WORKLOAD = "workload"
    PERSON_ASKED = "person_asked"
    OTHER = "other"


class ReopenReason(StrEnum):
    """Why a resolved case is opened again (a code: free text goes into an encrypted note)."""

    NEW_CONCERN = "new_concern"
    PERSON_ASKED = "person_asked"
    FOLLOW_UP_CONCERN = "follow_up_concern"
    RESOLVED_IN_ERROR = "resolved_in_error"
    OTHER = "other"


class NoteKind(StrEnum):
    """What a private case note is."""

    NOTE = "note"
    SAFETY_PLAN = "safety_plan"
    """A critical case's safety plan: who to call, what helps (JSON, latest wins)."""
    HANDOVER = "handover"
    """What the responder handing over added to the coded reason."""
    REOPEN = "reopen"
    """What the responder re-opening added to the coded reason."""


@dataclass(frozen=True)
class PreferenceChange:
    """A subject's outreach preference as ``privacy.outreach.preferences`` says it; None
    forgets the subject (a tombstone: erasure)."""

    subject_id: str
    preference: OutreachPreference | None
    updated_at: datetime | None = None


@dataclass
class CaseWork:
    """A case's working state beyond the lifecycle (kept beside the case, ``case_work``)."""

    case_id: str
    consent: Consent
    consent_id: str | None = None
    """The question asked (``ask_first``): what its links' tokens are bound to."""
    consent_expires_at: datetime | None = None
    consent_answered_at: datetime | None = None
    contact_channel: ContactChannel | None = None
    follow_up_at: datetime | None = None
    """The responder's next planned follow-up."""
    resolutions: int = 0
    """How often the case was resolved (follow-up timers belong to one resolution)."""
    reopened: int = 0

    @property
    def awaiting_answer(self) -> bool:
        """Asked, and the person has not answered."""
        return self.consent is Consent.ASKED and self.consent_id is not None


@dataclass(frozen=True)
class CaseNote:
    """A private note about a case, sealed under the person's (subject's) data key."""

    id: str
    case_id: str
    kind: NoteKind
    author: str
    """Who wrote it (``person:<id>``; ``person:erased`` after their erasure)."""
    written_at: datetime
    sealed: bytes
    """Nonce and AES-GCM ciphertext (``domain.sealing``)."""


@dataclass(frozen=True)
class TimelineEntry:
    """One audit record of a case as its view shows it: what, who (staff, a part of this
    service, or ``subject`` for the person), when; never whom it concerns."""

    at: datetime | None
    action: str
    actor: str
    sequence: int | None


@dataclass(frozen=True)
class ObservedCheckin:
    """A check-in a case rests on, as its view shows it: when, its scores (never item
    answers or notes), and whether the person shared its note."""

    id: str
    at: datetime
    scores: dict[str, int | bool]
    note_shared: bool


def shown_scores(observation: CheckinObservation) -> dict[str, int | bool]:
    """The scores a case view shows of a check-in (never item answers): mood, stress,
    energy, the WHO-5 raw score, the PHQ-9 total, whether item 9 was positive, whether the
    person asked for contact, and the PHQ-2 total only when the PHQ-2 was asked on its own
    (with a full PHQ-9, a "PHQ-2" from its first two items screens nothing and would show
    those items' answers: ``CheckinObservation.phq2_screen``)."""
    scores: dict[str, int | bool] = {
        name: value
        for name, value in (
            ("mood", observation.mood),
            ("stress", observation.stress),
            ("energy", observation.energy),
            ("who5_raw", observation.who5_raw),
            ("phq9_total", observation.phq9_total),
            ("phq2_total", observation.phq2_screen),
        )
        if value is not None
    }
    if observation.item9_positive:
        scores["phq9_item9_positive"] = True
    if observation.wants_contact:
        scores["wants_contact"] = True
    return scores
