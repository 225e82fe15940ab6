"""Detection rules: small pure functions over a subject's recent observations.

Each rule returns its ``Evidence`` (rule name, severity, the observations it rests on) or
None. Thresholds live in ``DetectionRules``, a versioned configuration whose defaults are
the spec's, each with its source. No rule reaches into a database or a clock.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from statistics import mean, median

from pydantic import BaseModel, ConfigDict, Field

from kinship_contracts.cases import Severity
from kinship_escalation.domain.observations import CheckinObservation

IMMEDIATE_RISK = "immediate_risk"
SELF_REFERRAL = "self_referral"
POOR_WELLBEING = "poor_wellbeing"
SUSTAINED_DECLINE = "sustained_decline"
WITHDRAWAL = "withdrawal"
TEAM_CLUSTER = "team_cluster"
CRITICAL_INCIDENT = "critical_incident"

REASONS = {
    IMMEDIATE_RISK: "Immediate risk: the person may be unsafe. Reach out now.",
    SELF_REFERRAL: "The person asked a peer responder to reach out.",
    POOR_WELLBEING: "Questionnaire scores suggest poor wellbeing.",
    SUSTAINED_DECLINE: "Mood has been low or falling for a while: a peer check-in is due.",
    WITHDRAWAL: "Expected check-ins were missed after a low period.",
}
"""What a responder is told about each rule: enough to act, never answers or scores."""


class DetectionRules(BaseModel):
    """The detection thresholds (versioned). Defaults are the spec's; sources in ``SOURCES``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = "kinship-default-2026.11"
    who5_poor_below: int = Field(default=13, description="WHO-5 raw score below this is poor.")
    who5_high_at_or_below: int = Field(default=7, description="WHO-5 raw at or below: high.")
    phq9_total_high: int = Field(default=10, description="PHQ-9 total at or above: high.")
    phq2_total_high: int = Field(default=3, description="PHQ-2 total at or above: high.")
    low_mood_at_or_below: int = Field(default=2, description="Mood at or below this is low.")
    low_mood_run: int = Field(default=3, description="Consecutive low-mood check-ins: decline.")
    decline_recent_days: int = 14
    decline_baseline_days: int = 60
    decline_drop: float = Field(default=1.5, description="Mean mood drop against the baseline.")
    decline_min_recent: int = Field(default=2, description="Check-ins needed in the 14 days.")
    decline_min_baseline: int = Field(default=3, description="Check-ins needed in the baseline.")
    withdrawal_missed_intervals: float = Field(
        default=2.0, description="Silence of this many usual intervals after a low trend."
    )
    withdrawal_default_interval_days: float = Field(
        default=7.0, description="Usual interval when the person has too few check-ins."
    )
    cluster_people: int = Field(default=3, description="People of one team in distress.")
    cluster_window_hours: int = 72
    defusing_within_hours: int = 3
    support_session_from_hours: int = 24
    support_session_to_hours: int = 72
    follow_up_after_hours: tuple[int, ...] = (72, 720)
    self_care_every_days: int = Field(default=7, description="At most one self-care message.")

    @classmethod
    def load(cls, path: Path | None) -> "DetectionRules":
        """The rules in a JSON file (unknown keys refused), or the defaults."""
        if path is None:
            return cls()
        return cls.model_validate(json.loads(path.read_text()))


SOURCES = {
    "who5_poor_below": "WHO-5 Well-Being Index: raw < 13 indicates poor wellbeing (Topp et al., "
    "Psychother Psychosom 2015;84:167-176).",
    "who5_high_at_or_below": "WHO-5 raw <= 7 suggests likely depression (Topp et al. 2015).",
    "phq9_total_high": "PHQ-9 total >= 10: moderate depression (Kroenke, Spitzer, Williams, "
    "J Gen Intern Med 2001;16:606-613).",
    "phq2_total_high": "PHQ-2 >= 3: positive screen (Kroenke et al., Med Care 2003;41:1284-92).",
    "item9": "PHQ-9 item 9 > 0 asks for same-day follow-up (Simon et al., Psychiatr Serv "
    "2013;64:1195-1202).",
    "decline": "Kinship programme default (spec): 3 low-mood check-ins, or a 14-day mean 1.5 "
    "below the person's own 60-day baseline.",
    "exposure": "TRiM (Greenberg et al., Occup Med 2011) and NICE NG116 (2018) active "
    "monitoring: voluntary defusing within hours, support at 24-72 h, follow-up at ~72 h and "
    "~1 month; no compulsory single-session debriefing (Cochrane, Rose et al. 2002).",
    "cluster": "Kinship programme default (spec): >= 3 people of a team within 72 h.",
}


@dataclass(frozen=True)
class Evidence:
    """Why a rule fired: its name, the severity it asks for, the observations it rests on."""

    rule: str
    severity: Severity
    observation_ids: tuple[str, ...]


def immediate_risk(checkin: CheckinObservation) -> Evidence | None:
    """PHQ-9 item 9 >= 1, or wants_contact with stress 5 or mood 1: critical."""
    if checkin.item9_positive or (
        checkin.wants_contact and (checkin.stress == 5 or checkin.mood == 1)
    ):
        return Evidence(IMMEDIATE_RISK, Severity.CRITICAL, (checkin.id,))
    return None


def self_referral(checkin: CheckinObservation) -> Evidence | None:
    """The person asked for contact: high, whatever the scores."""
    if checkin.wants_contact:
        return Evidence(SELF_REFERRAL, Severity.HIGH, (checkin.id,))
    return None


def poor_wellbeing(checkin: CheckinObservation, rules: DetectionRules) -> Evidence | None:
    """WHO-5 raw < 13 (high if <= 7); PHQ-9 total >= 10 or PHQ-2 >= 3 (high)."""
    severity: Severity | None = None
    if checkin.who5_raw is not None and checkin.who5_raw < rules.who5_poor_below:
        high = checkin.who5_raw <= rules.who5_high_at_or_below
        severity = Severity.HIGH if high else Severity.MEDIUM
    if (checkin.phq9_total is not None and checkin.phq9_total >= rules.phq9_total_high) or (
        checkin.phq2_total is not None and checkin.phq2_total >= rules.phq2_total_high
    ):
        severity = Severity.HIGH
    return Evidence(POOR_WELLBEING, severity, (checkin.id,)) if severity else None


def sustained_decline(
    history: Sequence[CheckinObservation], rules: DetectionRules
) -> Evidence | None:
    """Mood low on N consecutive check-ins, or the 14-day mean well below the 60-day baseline.

    ``history`` is the subject's check-ins, oldest first; the last one is the newest.
    """
    with_mood = [item for item in history if item.mood is not None]
    if not with_mood:
        return None
    run = with_mood[-rules.low_mood_run :]
    if len(run) == rules.low_mood_run and all(
        item.mood is not None and item.mood <= rules.low_mood_at_or_below for item in run
    ):
        return Evidence(SUSTAINED_DECLINE, Severity.MEDIUM, tuple(item.id for item in run))
    now = with_mood[-1].at
    recent_from = now - timedelta(days=rules.decline_recent_days)
    baseline_from = recent_from - timedelta(days=rules.decline_baseline_days)
    recent = [item for item in with_mood if item.at > recent_from]
    baseline = [item for item in with_mood if baseline_from < item.at <= recent_from]
    if len(recent) < rules.decline_min_recent or len(baseline) < rules.decline_min_baseline:
        return None
    drop = mean(_moods(baseline)) - mean(_moods(recent))
    if drop >= rules.decline_drop:
        return Evidence(SUSTAINED_DECLINE, Severity.MEDIUM, tuple(item.id for item in recent))
    return None


def _moods(items: Sequence[CheckinObservation]) -> list[int]:
    return [item.mood for item in items if item.mood is not None]


def is_low(checkin: CheckinObservation, rules: DetectionRules) -> bool:
    """A low reading: low mood, poor WHO-5, or a positive PHQ screen."""
    return (
        (checkin.mood is not None and checkin.mood <= rules.low_mood_at_or_below)
        or (checkin.who5_raw is not None and checkin.who5_raw < rules.who5_poor_below)
        or (checkin.phq9_total is not None and checkin.phq9_total >= rules.phq9_total_high)
        or (checkin.phq2_total is not None and checkin.phq2_total >= rules.phq2_total_high)
    )


def usual_interval(history: Sequence[CheckinObservation], rules: DetectionRules) -> timedelta:
    """The subject's usual time between check-ins (median gap), or the default."""
    gaps = [(later.at - earlier.at).total_seconds() for earlier, later in pairwise(history)]
    if len(gaps) < 2:
        return timedelta(days=rules.withdrawal_default_interval_days)
    return max(timedelta(seconds=median(gaps)), timedelta(days=1))


def withdrawal_due(history: Sequence[CheckinObservation], rules: DetectionRules) -> datetime | None:
    """When silence would count as withdrawal: set after a low trend, None otherwise.

    A low trend is the newest check-in being low after at least one earlier low one.
    """
    if len(history) < 2 or not (is_low(history[-1], rules) and is_low(history[-2], rules)):
        return None
    return history[-1].at + usual_interval(history, rules) * rules.withdrawal_missed_intervals


def withdrawal(
    history: Sequence[CheckinObservation], rules: DetectionRules, now: datetime
) -> Evidence | None:
    """After a low trend, the expected check-ins were missed: medium."""
    due = withdrawal_due(history, rules)
    if due is not None and now >= due:
        return Evidence(WITHDRAWAL, Severity.MEDIUM, (history[-2].id, history[-1].id))
    return None


def evaluate_checkin(
    history: Sequence[CheckinObservation], rules: DetectionRules
) -> list[Evidence]:
    """Every rule that fires on the newest check-in of ``history`` (oldest first)."""
    newest = history[-1]
    found = [
        immediate_risk(newest),
        self_referral(newest),
        poor_wellbeing(newest, rules),
        sustained_decline(history, rules),
    ]
    return [evidence for evidence in found if evidence is not None]


def strongest(evidence: Sequence[Evidence]) -> Severity:
    """The highest severity among ``evidence`` (which must not be empty)."""
    return max((item.severity for item in evidence), key=lambda severity: severity.rank)


def team_cluster(
    distress: Sequence[tuple[str, datetime]], now: datetime, rules: DetectionRules
) -> bool:
    """>= N distinct people of one team in distress within the window ending ``now``.

    ``distress`` is (subject_id, when) for the team's recent distress evidence.
    """
    since = now - timedelta(hours=rules.cluster_window_hours)
    return len({subject for subject, at in distress if since <= at <= now}) >= (
        rules.cluster_people
    )


def needs_self_care(checkin: CheckinObservation, rules: DetectionRules) -> bool:
    """A low reading that opened no case earns self-care resources (not an alert)."""
    return is_low(checkin, rules) or checkin.stress == 5
