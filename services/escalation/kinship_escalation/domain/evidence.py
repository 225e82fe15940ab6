"""What a detection rule returns when it fires: its evidence, explainable on its own.

Evidence names the rule, the severity it asks for, the check-ins it rests on, the cited
thresholds it applied (``who5_raw < 13``, with the source of the number), and what it saw of
each observation: when, and the scores that mattered. Never item answers or notes: a
derived flag such as ``phq9_item9_positive`` is a score, the answer to item 9 is not.
"""

from dataclasses import dataclass, field
from datetime import datetime

from kinship_contracts.cases import Severity

Score = int | float | bool | str
"""A value an explanation may show: a score, a flag, a signal's kind or severity."""


@dataclass(frozen=True)
class Threshold:
    """A threshold a rule applied: its ``DetectionRules`` setting (or the rule's own name
    for fixed conditions), the condition with the configured numbers, and its source."""

    setting: str
    condition: str
    source: str


@dataclass(frozen=True)
class ObservedFacts:
    """An observation a rule rests on: a check-in (by id) or a signal (by kind only: a
    signal's id would lead back to the person it names), when, and the scores that
    mattered."""

    at: datetime
    scores: dict[str, Score] = field(default_factory=dict)
    checkin_id: str | None = None
    signal_kind: str | None = None

    @property
    def ref(self) -> str:
        """What identifies the observation within a case's evidence: a check-in's id; a
        signal's kind, time and severity (two signals of one kind at one time are told apart
        by severity, so which arrived first never decides what the case shows)."""
        if self.checkin_id is not None:
            return self.checkin_id
        return f"signal:{self.signal_kind}:{self.at.isoformat()}:{self.scores.get('severity')}"


@dataclass(frozen=True)
class Evidence:
    """Why a rule fired: its name, the severity it asks for, the check-ins it rests on, the
    thresholds it applied and what it saw."""

    rule: str
    severity: Severity
    observation_ids: tuple[str, ...]
    thresholds: tuple[Threshold, ...] = ()
    observed: tuple[ObservedFacts, ...] = ()
