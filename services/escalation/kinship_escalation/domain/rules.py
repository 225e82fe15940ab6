"""Detection rules: small pure functions over a subject's recent observations.

Each rule returns its ``Evidence`` (rule name, severity, the observations it rests on, the
cited thresholds it applied and the scores that mattered) or None. Thresholds live in
``DetectionRules``, a versioned configuration whose defaults are the spec's, each with its
source. No rule reaches into a database or a clock.
"""

import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence, Set
from datetime import datetime, timedelta
from itertools import pairwise
from operator import attrgetter
from pathlib import Path
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

from kinship_contracts.cases import Severity
from kinship_contracts.signals import SignalKind
from kinship_escalation.domain.evidence import Evidence, ObservedFacts, Score, Threshold
from kinship_escalation.domain.observations import CheckinObservation, SignalObservation

__all__ = ["Evidence", "ObservedFacts", "Threshold"]

IMMEDIATE_RISK = "immediate_risk"
SELF_REFERRAL = "self_referral"
POOR_WELLBEING = "poor_wellbeing"
SUSTAINED_DECLINE = "sustained_decline"
SUSTAINED_LOAD = "sustained_load"
WITHDRAWAL = "withdrawal"
TEAM_CLUSTER = "team_cluster"
CRITICAL_INCIDENT = "critical_incident"

REASONS = {
    IMMEDIATE_RISK: "Immediate risk: the person may be unsafe. Reach out now.",
    SELF_REFERRAL: "The person asked a peer responder to reach out.",
    POOR_WELLBEING: "Questionnaire scores suggest poor wellbeing.",
    SUSTAINED_DECLINE: "Mood has been low or falling for a while: a peer check-in is due.",
    SUSTAINED_LOAD: "Sustained overtime or on-call load alongside low check-ins: a peer "
    "check-in is due.",
    WITHDRAWAL: "Expected check-ins were missed after a low period.",
}
"""What a responder is told about each rule: enough to act, never answers or scores."""

HISTORY_DAYS = 80
"""How far back a check-in's history reaches: the 60-day baseline + 14 recent days, with slack."""

HISTORY_LIMIT = 80
"""At most this many check-ins in a history (the newest): plenty for every rule."""

LOAD_KINDS = frozenset({SignalKind.OVERTIME, SignalKind.ON_CALL_LOAD})
"""Signals that count towards sustained load (absence counts like withdrawal instead)."""


class DetectionRules(BaseModel):
    """The detection thresholds (versioned). Defaults are the spec's; sources in ``SOURCES``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = "kinship-default-2026.12"
    who5_poor_below: int = Field(default=13, description="WHO-5 raw score below this is poor.")
    who5_high_at_or_below: int = Field(default=7, description="WHO-5 raw at or below: high.")
    phq9_total_high: int = Field(default=10, description="PHQ-9 total at or above: high.")
    phq2_total_high: int = Field(
        default=3, description="PHQ-2 total at or above: high (only a PHQ-2 asked on its own)."
    )
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
    load_window_days: int = Field(
        default=14, description="How far back overtime and on-call signals count."
    )
    load_signal_min_severity: int = Field(
        default=2, ge=1, le=5, description="Load signals below this severity count for nothing."
    )
    load_signals_needed: int = Field(
        default=2, ge=1, description="Counted load signals in the window that make load sustained."
    )
    load_signal_severe_at: int = Field(
        default=4, ge=1, le=5, description="One load signal at or above this severity suffices."
    )
    absence_min_severity: int = Field(
        default=2, ge=1, le=5, description="An absence after a low trend counts from this severity."
    )
    cluster_people: int = Field(default=3, description="People of one team in distress.")
    cluster_window_hours: int = 72
    defusing_within_hours: int = 3
    defusing_min_hours: float = Field(
        default=1.0, gt=0, description="A late defusing window lasts at least this long from now."
    )
    incident_urgent_severity: int = Field(
        default=4,
        ge=1,
        le=5,
        description="A critical incident at or above this severity: the defusing offer goes out "
        "at once, quiet hours or not.",
    )
    support_session_from_hours: int = 24
    support_session_to_hours: int = 72
    support_session_min_hours: float = Field(
        default=24.0, gt=0, description="A late support-session window lasts at least this long."
    )
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
    "phq2_total_high": "PHQ-2 >= 3: positive screen, for the PHQ-2 asked on its own (Kroenke, "
    "Spitzer, Williams, Med Care 2003;41:1284-1292); with a full PHQ-9 its total decides.",
    "item9": "PHQ-9 item 9 > 0 asks for same-day follow-up (Kroenke et al. 2001; Simon et al., "
    "Psychiatr Serv 2013;64:1195-1202).",
    "immediate_contact": "Kinship programme default (spec): asking for contact at the worst "
    "stress or mood is treated as immediate risk.",
    "self_referral": "Kinship programme policy (spec): asking for contact is consent, whatever "
    "the scores.",
    "decline": "Kinship programme default (spec): 3 low-mood check-ins, or a 14-day mean 1.5 "
    "below the person's own 60-day baseline.",
    "withdrawal": "Kinship programme default (spec): after a low trend, expected check-ins "
    "missed (2 x the person's usual interval).",
    "load": "Kinship programme default: sustained overtime or on-call load with a low reading "
    "asks for a peer check-in; long working hours predict depressive episodes (Virtanen et al., "
    "PLoS One 2012;7:e30719, Whitehall II).",
    "absence": "Kinship programme default: an absence after a low trend counts like missed "
    "check-ins (withdrawal).",
    "exposure": "TRiM (Greenberg et al., Occup Med 2011) and NICE NG116 (2018) active "
    "monitoring: voluntary defusing within hours, support at 24-72 h, follow-up at ~72 h and "
    "~1 month; no compulsory single-session debriefing (Cochrane, Rose et al. 2002).",
    "cluster": "Kinship programme default (spec): >= 3 people of a team within 72 h.",
}


def _facts(checkin: CheckinObservation, scores: dict[str, Score]) -> ObservedFacts:
    return ObservedFacts(at=checkin.at, scores=scores, checkin_id=checkin.id)


def _signal_facts(signal: SignalObservation) -> ObservedFacts:
    return ObservedFacts(
        at=signal.at, scores={"severity": signal.severity}, signal_kind=signal.kind.value
    )


def history_at(
    observations: Sequence[CheckinObservation], checkin: CheckinObservation
) -> list[CheckinObservation]:
    """What the rules see when ``checkin`` arrives: the other ``observations`` from
    ``HISTORY_DAYS`` before it up to its time, oldest first by (time, id), at most
    ``HISTORY_LIMIT`` in all, with ``checkin`` itself last.

    ``observations`` are those that arrived before it: the history depends on what was
    observed, never on how the check-ins were batched.
    """
    since = checkin.at - timedelta(days=HISTORY_DAYS)
    earlier = sorted(
        (o for o in observations if o.id != checkin.id and since <= o.at <= checkin.at),
        key=lambda o: (o.at, o.id),
    )
    return [*earlier[-(HISTORY_LIMIT - 1) :], checkin]


_AT = attrgetter("at")
_AT_ID = attrgetter("at", "id")


def history_in(
    ordered: Sequence[CheckinObservation],
    checkin: CheckinObservation,
    not_arrived: Set[str] = frozenset(),
) -> list[CheckinObservation]:
    """``history_at`` of the ``ordered`` observations whose ids are not in ``not_arrived``,
    found without sorting them: ``ordered`` must be oldest first by (time, id), as the
    observations port returns a subject's history (a property test holds this to
    ``history_at``). The window is found by bisection on time and, when nothing is left
    out but the check-in itself, taken as a slice.
    """
    since = checkin.at - timedelta(days=HISTORY_DAYS)
    start = bisect_left(ordered, since, key=_AT)
    end = bisect_right(ordered, checkin.at, lo=start, key=_AT)
    earlier = list(ordered[start:end])
    if not_arrived:
        earlier = [o for o in earlier if o.id != checkin.id and o.id not in not_arrived]
    else:
        own = bisect_left(earlier, (checkin.at, checkin.id), key=_AT_ID)
        if own < len(earlier) and earlier[own].id == checkin.id:
            del earlier[own]
    if len(earlier) >= HISTORY_LIMIT:
        del earlier[: len(earlier) - (HISTORY_LIMIT - 1)]
    earlier.append(checkin)
    return earlier


def immediate_risk(checkin: CheckinObservation) -> Evidence | None:
    """PHQ-9 item 9 >= 1, or wants_contact with stress 5 or mood 1: critical."""
    thresholds: list[Threshold] = []
    scores: dict[str, Score] = {}
    if checkin.item9_positive:
        thresholds.append(Threshold("item9", "phq9 item 9 >= 1", SOURCES["item9"]))
        scores["phq9_item9_positive"] = True
    if checkin.wants_contact and (checkin.stress == 5 or checkin.mood == 1):
        condition = "wants_contact and (stress == 5 or mood == 1)"
        thresholds.append(Threshold("immediate_contact", condition, SOURCES["immediate_contact"]))
        scores["wants_contact"] = True
        scores |= {"stress": 5} if checkin.stress == 5 else {}
        scores |= {"mood": 1} if checkin.mood == 1 else {}
    if not thresholds:
        return None
    return Evidence(
        IMMEDIATE_RISK,
        Severity.CRITICAL,
        (checkin.id,),
        tuple(thresholds),
        (_facts(checkin, scores),),
    )


def self_referral(checkin: CheckinObservation) -> Evidence | None:
    """The person asked for contact: high, whatever the scores."""
    if not checkin.wants_contact:
        return None
    threshold = Threshold("self_referral", "wants_contact", SOURCES["self_referral"])
    facts = _facts(checkin, {"wants_contact": True})
    return Evidence(SELF_REFERRAL, Severity.HIGH, (checkin.id,), (threshold,), (facts,))


def poor_wellbeing(checkin: CheckinObservation, rules: DetectionRules) -> Evidence | None:
    """WHO-5 raw < 13 (high if <= 7); PHQ-9 total >= 10, or a PHQ-2 asked on its own >= 3
    (high). With a full PHQ-9, its total decides: items 1-2 are no PHQ-2 screen."""
    severity: Severity | None = None
    thresholds: list[Threshold] = []
    scores: dict[str, Score] = {}
    if checkin.who5_raw is not None and checkin.who5_raw < rules.who5_poor_below:
        scores["who5_raw"] = checkin.who5_raw
        condition = f"who5_raw < {rules.who5_poor_below}"
        thresholds.append(Threshold("who5_poor_below", condition, SOURCES["who5_poor_below"]))
        severity = Severity.MEDIUM
        if checkin.who5_raw <= rules.who5_high_at_or_below:
            condition = f"who5_raw <= {rules.who5_high_at_or_below}"
            source = SOURCES["who5_high_at_or_below"]
            thresholds.append(Threshold("who5_high_at_or_below", condition, source))
            severity = Severity.HIGH
    if checkin.phq9_total is not None and checkin.phq9_total >= rules.phq9_total_high:
        scores["phq9_total"] = checkin.phq9_total
        condition = f"phq9_total >= {rules.phq9_total_high}"
        thresholds.append(Threshold("phq9_total_high", condition, SOURCES["phq9_total_high"]))
        severity = Severity.HIGH
    screen = checkin.phq2_screen
    if screen is not None and screen >= rules.phq2_total_high:
        scores["phq2_total"] = screen
        condition = f"phq2_total >= {rules.phq2_total_high} (PHQ-2 asked on its own)"
        thresholds.append(Threshold("phq2_total_high", condition, SOURCES["phq2_total_high"]))
        severity = Severity.HIGH
    if severity is None:
        return None
    facts = _facts(checkin, scores)
    return Evidence(POOR_WELLBEING, severity, (checkin.id,), tuple(thresholds), (facts,))


def sustained_decline(
    history: Sequence[CheckinObservation], rules: DetectionRules
) -> Evidence | None:
    """Mood low on N consecutive check-ins, or the 14-day mean well below the 60-day baseline.

    ``history`` is the subject's check-ins, oldest first; the last one is the newest. (The
    recent and baseline windows are found by bisection on that order.)
    """
    with_mood = [item for item in history if item.mood is not None]
    if not with_mood:
        return None
    run = with_mood[-rules.low_mood_run :]
    if len(run) == rules.low_mood_run and all(
        item.mood is not None and item.mood <= rules.low_mood_at_or_below for item in run
    ):
        condition = f"mood <= {rules.low_mood_at_or_below} on {rules.low_mood_run} consecutive "
        threshold = Threshold("low_mood_run", condition + "check-ins", SOURCES["decline"])
        return _decline(run, threshold)
    now = with_mood[-1].at
    recent_from = now - timedelta(days=rules.decline_recent_days)
    baseline_from = recent_from - timedelta(days=rules.decline_baseline_days)
    split = bisect_right(with_mood, recent_from, key=_AT)
    recent = with_mood[split:]
    baseline = with_mood[bisect_right(with_mood, baseline_from, hi=split, key=_AT) : split]
    if len(recent) < rules.decline_min_recent or len(baseline) < rules.decline_min_baseline:
        return None
    drop = mean_mood(_moods(baseline)) - mean_mood(_moods(recent))
    if drop < rules.decline_drop:
        return None
    condition = (
        f"{rules.decline_recent_days}-day mean mood >= {rules.decline_drop} below the "
        f"{rules.decline_baseline_days}-day baseline (here {drop:.1f})"
    )
    return _decline(recent, Threshold("decline_drop", condition, SOURCES["decline"]))


def _decline(items: Sequence[CheckinObservation], threshold: Threshold) -> Evidence:
    return Evidence(
        SUSTAINED_DECLINE,
        Severity.MEDIUM,
        tuple(item.id for item in items),
        (threshold,),
        tuple(_facts(item, {"mood": item.mood}) for item in items if item.mood is not None),
    )


def mean_mood(moods: Sequence[int]) -> float:
    """The mean of ``moods`` (not empty): ``statistics.mean``'s value (both are the correctly
    rounded quotient of the sum), at a fraction of its cost (it sums exact fractions)."""
    return sum(moods) / len(moods)


def _moods(items: Sequence[CheckinObservation]) -> list[int]:
    return [item.mood for item in items if item.mood is not None]


def low_scores(checkin: CheckinObservation, rules: DetectionRules) -> dict[str, Score]:
    """The scores that make a reading low (empty when it is not)."""
    scores: dict[str, Score] = {}
    if checkin.mood is not None and checkin.mood <= rules.low_mood_at_or_below:
        scores["mood"] = checkin.mood
    if checkin.who5_raw is not None and checkin.who5_raw < rules.who5_poor_below:
        scores["who5_raw"] = checkin.who5_raw
    if checkin.phq9_total is not None and checkin.phq9_total >= rules.phq9_total_high:
        scores["phq9_total"] = checkin.phq9_total
    screen = checkin.phq2_screen
    if screen is not None and screen >= rules.phq2_total_high:
        scores["phq2_total"] = screen
    return scores


def is_low(checkin: CheckinObservation, rules: DetectionRules) -> bool:
    """A low reading: low mood, poor WHO-5, or a positive PHQ screen (a PHQ-2 counts only
    when it was asked on its own)."""
    return bool(low_scores(checkin, rules))


def _low_condition(rules: DetectionRules) -> str:
    return (
        f"mood <= {rules.low_mood_at_or_below}, who5_raw < {rules.who5_poor_below}, "
        f"phq9_total >= {rules.phq9_total_high} or phq2_total >= {rules.phq2_total_high}"
    )


def usual_interval(history: Sequence[CheckinObservation], rules: DetectionRules) -> timedelta:
    """The subject's usual time between check-ins (median gap), or the default."""
    gaps = [(later.at - earlier.at).total_seconds() for earlier, later in pairwise(history)]
    if len(gaps) < 2:
        return timedelta(days=rules.withdrawal_default_interval_days)
    return max(timedelta(seconds=median(gaps)), timedelta(days=1))


def low_trend(history: Sequence[CheckinObservation], rules: DetectionRules) -> bool:
    """The newest check-in is low after an earlier low one."""
    return len(history) >= 2 and is_low(history[-1], rules) and is_low(history[-2], rules)


def withdrawal_due(history: Sequence[CheckinObservation], rules: DetectionRules) -> datetime | None:
    """When silence would count as withdrawal: set after a low trend, None otherwise.

    A low trend is the newest check-in being low after at least one earlier low one.
    """
    if not low_trend(history, rules):
        return None
    return history[-1].at + usual_interval(history, rules) * rules.withdrawal_missed_intervals


def _trend_facts(
    history: Sequence[CheckinObservation], rules: DetectionRules
) -> tuple[ObservedFacts, ...]:
    return tuple(_facts(item, low_scores(item, rules)) for item in history[-2:])


def withdrawal(
    history: Sequence[CheckinObservation], rules: DetectionRules, now: datetime
) -> Evidence | None:
    """After a low trend, the expected check-ins were missed: medium."""
    due = withdrawal_due(history, rules)
    if due is None or now < due:
        return None
    interval = usual_interval(history, rules) / timedelta(days=1)
    condition = (
        f"last 2 check-ins low ({_low_condition(rules)}), then none for >= "
        f"{rules.withdrawal_missed_intervals} x the usual interval ({interval:.1f} days)"
    )
    threshold = Threshold("withdrawal_missed_intervals", condition, SOURCES["withdrawal"])
    ids = (history[-2].id, history[-1].id)
    return Evidence(WITHDRAWAL, Severity.MEDIUM, ids, (threshold,), _trend_facts(history, rules))


def counts_as_absence(signal: SignalObservation, rules: DetectionRules) -> bool:
    """An absence signal severe enough for the absence rule."""
    return signal.kind is SignalKind.ABSENCE and signal.severity >= rules.absence_min_severity


def absence_due(
    observed: Sequence[CheckinObservation],
    signals: Sequence[SignalObservation],
    rules: DetectionRules,
) -> SignalObservation | None:
    """The absence that counts like withdrawal, judged on everything observed (every kept
    check-in and signal of a subject, in any order): the earliest absence of at least
    ``absence_min_severity`` at or after the newest check-in, before the withdrawal watch
    (set by the low trend that check-in ends) comes due. None when there is none.

    Like the watch, this is decided from all that was observed, never from what arrived
    first: the caller arms a timer (``absence_watch``) that judges it again when it fires."""
    if not observed:
        return None
    newest = max(observed, key=lambda o: (o.at, o.id))
    due = withdrawal_due(history_at(observed, newest), rules)
    if due is None:
        return None
    counted = [
        signal
        for signal in signals
        if counts_as_absence(signal, rules) and newest.at <= signal.at <= due
    ]
    return min(counted, key=lambda s: (s.at, -s.severity), default=None)


def absence_withdrawal(
    history: Sequence[CheckinObservation], absence: SignalObservation, rules: DetectionRules
) -> Evidence | None:
    """An absence after a low trend counts like withdrawal (medium): the last two check-ins
    before it were low, none came since, and it falls before the withdrawal watch is due."""
    if not counts_as_absence(absence, rules):
        return None
    before = [item for item in history if item.at <= absence.at]
    if len(before) != len(history):
        return None  # the person checked in after the absence
    due = withdrawal_due(before, rules)
    if due is None or absence.at > due:
        return None  # no low trend; or the watch already came due (it judges the silence)
    condition = (
        f"absence (severity >= {rules.absence_min_severity}) after the last 2 check-ins were "
        f"low ({_low_condition(rules)}), with no check-in since"
    )
    threshold = Threshold("absence_min_severity", condition, SOURCES["absence"])
    facts = (*_trend_facts(before, rules), _signal_facts(absence))
    ids = (before[-2].id, before[-1].id)
    return Evidence(WITHDRAWAL, Severity.MEDIUM, ids, (threshold,), facts)


def sustained_load(
    history: Sequence[CheckinObservation],
    signals: Sequence[SignalObservation],
    rules: DetectionRules,
) -> Evidence | None:
    """Sustained overtime or on-call load with a low reading: a peer check-in (medium).

    The reading is the newest check-in of ``history``; it must be low, and within
    ``load_window_days`` of it (before or after) there must be ``load_signals_needed``
    overtime or on-call signals of at least ``load_signal_min_severity``, or one of
    ``load_signal_severe_at``. A signal below the minimum severity counts for nothing. The
    rule rests on the reading and the signals only: a check-in is judged with the signals
    kept when it arrives, and a late signal judges every low reading within its window again
    (``evaluate_signal``), so the result does not depend on which arrived first.
    """
    if not history or not is_low(history[-1], rules):
        return None
    reading = history[-1]
    window = timedelta(days=rules.load_window_days)
    counted = [
        signal
        for signal in signals
        if signal.kind in LOAD_KINDS
        and signal.severity >= rules.load_signal_min_severity
        and abs(signal.at - reading.at) <= window
    ]
    severe = [signal for signal in counted if signal.severity >= rules.load_signal_severe_at]
    if len(counted) < rules.load_signals_needed and not severe:
        return None
    condition = (
        f">= {rules.load_signals_needed} overtime/on-call signals of severity >= "
        f"{rules.load_signal_min_severity} (or one >= {rules.load_signal_severe_at}) within "
        f"{rules.load_window_days} days of a low reading ({_low_condition(rules)})"
    )
    facts = (
        _facts(reading, low_scores(reading, rules)),
        *(_signal_facts(signal) for signal in counted),
    )
    threshold = Threshold("load_signals_needed", condition, SOURCES["load"])
    ordered = tuple(sorted(facts, key=lambda f: f.at))
    return Evidence(SUSTAINED_LOAD, Severity.MEDIUM, (reading.id,), (threshold,), ordered)


def evaluate_checkin(
    history: Sequence[CheckinObservation],
    rules: DetectionRules,
    signals: Sequence[SignalObservation] = (),
) -> list[Evidence]:
    """Every rule that fires on the newest check-in of ``history`` (oldest first), given the
    subject's recent load ``signals``."""
    newest = history[-1]
    found = [
        immediate_risk(newest),
        self_referral(newest),
        poor_wellbeing(newest, rules),
        sustained_decline(history, rules),
        sustained_load(history, signals, rules),
    ]
    return [evidence for evidence in found if evidence is not None]


def evaluate_signal(
    history: Sequence[CheckinObservation],
    signals: Sequence[SignalObservation],
    signal: SignalObservation,
    rules: DetectionRules,
) -> list[Evidence]:
    """Every rule that fires when a load signal arrives: ``history`` is every check-in
    observed (oldest first), ``signals`` include the new one.

    A late signal judges each low reading within ``load_window_days`` of it as that reading
    would have been judged had the signal been there first (the load rule rests on the
    reading and the signals only). Absence is not judged here: ``absence_due`` decides it
    from everything observed."""
    if signal.kind not in LOAD_KINDS:
        return []
    window = timedelta(days=rules.load_window_days)
    found = [
        sustained_load(history_at(history, reading), signals, rules)
        for reading in history
        if abs(reading.at - signal.at) <= window and is_low(reading, rules)
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


def defusing_window(
    incident_at: datetime, now: datetime, rules: DetectionRules
) -> tuple[datetime, datetime]:
    """(start, end) of the defusing offered after an incident: from now (or the incident,
    if announced ahead) until ``defusing_within_hours`` after the incident, and never less
    than ``defusing_min_hours`` from its start: a late signal gets a window that starts now."""
    start = max(now, incident_at)
    end = incident_at + timedelta(hours=rules.defusing_within_hours)
    return start, max(end, start + timedelta(hours=rules.defusing_min_hours))


def support_session_window(
    since: datetime, now: datetime, rules: DetectionRules
) -> tuple[datetime, datetime]:
    """(start, end) of the support session after something at ``since``: 24-72 h after it,
    never starting in the past and never shorter than ``support_session_min_hours``."""
    start = max(now, since + timedelta(hours=rules.support_session_from_hours))
    end = since + timedelta(hours=rules.support_session_to_hours)
    return start, max(end, start + timedelta(hours=rules.support_session_min_hours))


def exposure_follow_ups(
    incident_at: datetime, now: datetime, rules: DetectionRules
) -> list[tuple[int, datetime]]:
    """(hours after the incident, due) of each follow-up check-in after an exposure.

    A follow-up whose time has passed is due now, unless a later one has passed too: a
    late signal brings one follow-up now, not several at once.
    """
    nominal = sorted(rules.follow_up_after_hours)
    passed = [hours for hours in nominal if incident_at + timedelta(hours=hours) <= now]
    return [
        (hours, max(now, incident_at + timedelta(hours=hours)))
        for hours in nominal
        if hours not in passed or hours == passed[-1]
    ]


def needs_self_care(checkin: CheckinObservation, rules: DetectionRules) -> bool:
    """A low reading that opened no case earns self-care resources (not an alert)."""
    return is_low(checkin, rules) or checkin.stress == 5
