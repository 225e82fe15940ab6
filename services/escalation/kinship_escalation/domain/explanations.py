"""Why a case is open: every rule that fired, its cited thresholds, the observations it
rests on (dates and the scores that mattered, never item answers or notes) and the rules
version that judged them. Evidence accumulates as it arrives; it is kept per rule and
observation (``case_evidence``) and read back as one ``CaseExplanation``."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kinship_contracts.cases import Severity
from kinship_escalation.domain.evidence import Evidence, ObservedFacts, Threshold
from kinship_escalation.domain.rules import REASONS


@dataclass(frozen=True)
class RecordedEvidence:
    """One rule's firing on one observation, as a case keeps it (the first time only: the
    same rule firing again on the same observation adds nothing)."""

    rule: str
    severity: Severity
    rules_version: str
    thresholds: tuple[Threshold, ...]
    observation: ObservedFacts
    recorded_at: datetime

    @classmethod
    def of(
        cls, evidence: Sequence[Evidence], rules_version: str, at: datetime
    ) -> list["RecordedEvidence"]:
        """What ``evidence`` judged under ``rules_version`` adds, one entry per observation."""
        return [
            cls(item.rule, item.severity, rules_version, item.thresholds, facts, at)
            for item in evidence
            for facts in item.observed
        ]


@dataclass(frozen=True)
class FiredRule:
    """One rule that fired for a case, with everything it rested on so far."""

    rule: str
    reason: str
    """What a responder is told about the rule (``rules.REASONS``)."""
    severity: Severity
    """The highest severity it asked for."""
    thresholds: tuple[Threshold, ...]
    """Every cited threshold it applied, in the order first applied."""
    observations: tuple[ObservedFacts, ...]
    """The observations it rests on, oldest first: check-ins by id, signals by kind."""
    rules_versions: tuple[str, ...]
    """The rules versions that judged it, in the order first used."""
    first_fired_at: datetime
    last_fired_at: datetime


@dataclass(frozen=True)
class CaseExplanation:
    """Why a case is open, as a responder's case view shows it."""

    case_id: str
    rules_version: str | None
    """The rules version that judged the case's latest evidence (None: before versions were
    recorded)."""
    rules: tuple[FiredRule, ...]
    """The rules that fired, in the order they first fired."""

    @classmethod
    def of(
        cls, case_id: str, rules_version: str | None, entries: Sequence[RecordedEvidence]
    ) -> "CaseExplanation":
        """The explanation from a case's kept evidence (in the order it was recorded)."""
        by_rule: dict[str, list[RecordedEvidence]] = {}
        for entry in entries:
            by_rule.setdefault(entry.rule, []).append(entry)
        fired = tuple(_fired(rule, kept) for rule, kept in by_rule.items())
        return cls(case_id, rules_version, fired)


def _fired(rule: str, kept: list[RecordedEvidence]) -> FiredRule:
    observations = {entry.observation.ref: entry.observation for entry in kept}
    return FiredRule(
        rule=rule,
        reason=REASONS.get(rule, rule),
        severity=max((entry.severity for entry in kept), key=lambda severity: severity.rank),
        thresholds=tuple(dict.fromkeys(t for entry in kept for t in entry.thresholds)),
        observations=tuple(sorted(observations.values(), key=lambda o: (o.at, o.ref))),
        rules_versions=tuple(dict.fromkeys(entry.rules_version for entry in kept)),
        first_fired_at=min(entry.recorded_at for entry in kept),
        last_fired_at=max(entry.recorded_at for entry in kept),
    )
