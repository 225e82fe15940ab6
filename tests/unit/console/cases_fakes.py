"""A fake of the services for the case page and the coordinator's pages.

``FakeCasesApi`` keeps cases, notes, rotations and the policies in memory and applies each
action the way the escalation service does in its essentials (who may, in which state), so
the pages can be tested through whole workflows; ``calls`` records what was asked, with the
token it was asked with.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kinship_console.adapters.api import (
    ApiError,
    CaseSummary,
    ConflictError,
    NotAllowedError,
    NotFoundError,
)
from kinship_console.adapters.cases_api import (
    AuditEntry,
    AuditPage,
    AuditQuery,
    CaseDetail,
    CaseNote,
    CaseNotes,
    Explanation,
    FieldsRejectedError,
    FiredRule,
    ObservedCheckin,
    Policy,
    PolicyClashError,
    PolicyStep,
    PolicyTarget,
    RevealedPerson,
    RevealGrant,
    Rotation,
    SafetyPlan,
    Threshold,
    TimelineItem,
)
from kinship_console.adapters.oncall_api import (
    CalendarFeed,
    OnCallLoadReport,
    OnCallNow,
    ScheduledOverride,
)
from tests.unit.console.fakes import FakeApi

OPENED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
READS = frozenset(
    {
        "case",
        "open_cases",
        "case_notes",
        "rotations",
        "policy",
        "policies",
        "schedules",
        "programme",
        "audit",
        "oncall_now",
        "oncall_load",
        "overrides",
        "calendar_feeds",
        "away",
    }
)
"""Calls that only read: ``action_error`` fails the others."""


def default_policy() -> Policy:
    """The built-in default as the service answers it (a peer responder, then the
    coordinators twice)."""
    return Policy(
        steps=[
            PolicyStep(targets=[PolicyTarget(kind="responders")], timeout_seconds=300),
            PolicyStep(targets=[PolicyTarget(kind="coordinators")], timeout_seconds=600, repeat=2),
        ],
        contact_timeout_seconds=3600,
    )


def sample_case(case_id: str = "c0ffee00-case", **changes: Any) -> CaseDetail:
    """An immediate-risk case with its explanation, as the escalation service shows it."""
    values: dict[str, Any] = {
        "case_id": case_id,
        "status": "assigned",
        "severity": "critical",
        "opened_at": OPENED,
        "responder_id": "ada",
        "rules": ["immediate_risk"],
        "step": 1,
        "consent": "immediate_risk",
        "reveal_allowed": True,
        "note_may_be_shown": True,
        "explanation": Explanation(
            rules_version="kinship-default-2026.12",
            rules=[
                FiredRule(
                    rule="immediate_risk",
                    reason="Immediate risk: the person may be unsafe. Reach out now.",
                    thresholds=[
                        Threshold(
                            setting="phq9_item9",
                            condition="PHQ-9 item 9 at 1 or more",
                            source="Kroenke et al. 2001",
                        )
                    ],
                    checkin_ids=["ck-1"],
                )
            ],
            checkins=[
                ObservedCheckin(
                    checkin_id="ck-1",
                    at=OPENED - timedelta(minutes=2),
                    scores={"mood": 1, "phq9_total": 17, "phq9_item9_positive": True},
                )
            ],
        ),
        "timeline": [TimelineItem(at=OPENED, action="opened", actor="detection", sequence=1)],
        **changes,
    }
    return CaseDetail(**values)


@dataclass
class FakeCasesApi(FakeApi):
    """The services as the case page and the coordinator's pages see them."""

    acting: str = "ada"
    details: dict[str, CaseDetail] = field(default_factory=dict)
    notes_of: dict[str, list[CaseNote]] = field(default_factory=dict)
    plans: dict[str, SafetyPlan] = field(default_factory=dict)
    stored_rotations: list[Rotation] = field(default_factory=list)
    stored_policies: dict[str, Policy] = field(
        default_factory=lambda: {"default": default_policy()}
    )
    """The policies by name (``default`` is the one in force)."""
    known_schedules: list[str] = field(default_factory=lambda: ["care-week"])
    measures: dict[str, Any] = field(default_factory=dict)
    audit_entries: list[AuditEntry] = field(default_factory=list)
    audit_page_size: int = 3
    """The audit trail, oldest first (``seq`` rising); a page read adds an ``audit_read``."""
    revealed: RevealedPerson | None = None
    on_call_now: OnCallNow | None = None
    load: OnCallLoadReport | None = None
    schedule_overrides: dict[str, list[ScheduledOverride]] = field(default_factory=dict)
    feed_url: str | None = None
    """The person's current calendar feed URL (None: they have none)."""
    feeds_issued: int = 0
    away_until: datetime | None = None
    """Until when the acting person said they are away (None: they are not)."""
    action_error: ApiError | None = None
    case_calls: list[tuple[str, str, tuple[Any, ...]]] = field(default_factory=list)
    """The case and coordinator calls (``calls`` keeps the base fake's)."""

    def _record(self, name: str, token: str, *args: Any) -> None:
        self.case_calls.append((name, token, args))
        if self.action_error is not None and name not in READS:
            raise self.action_error

    def _audited(self, action: str, case_id: str | None = None) -> None:
        seq = max((e.seq for e in self.audit_entries), default=0) + 1
        actor = f"person:{self.acting}"
        cases = 1 if case_id else 0
        entry = AuditEntry(seq=seq, at=OPENED, action=action, actor=actor, case_id=case_id)
        self.audit_entries.append(entry.model_copy(update={"cases": cases}))

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [args for call, _token, args in self.case_calls if call == name]

    def _case(self, case_id: str) -> CaseDetail:
        if case_id not in self.details:
            raise NotFoundError("escalation", 404)
        return self.details[case_id]

    def _update(self, case_id: str, action: str, **changes: Any) -> CaseSummary:
        case = self._case(case_id)
        timeline = [
            *case.timeline,
            TimelineItem(at=OPENED, action=action, actor=f"person:{self.acting}"),
        ]
        updated = case.model_copy(update={**changes, "timeline": timeline})
        self.details[case_id] = updated
        return updated

    def _holding(self, case_id: str) -> CaseDetail:
        case = self._case(case_id)
        if case.responder_id != self.acting:
            raise NotAllowedError("escalation", 403)
        if case.status not in ("acknowledged", "contacted"):
            raise ConflictError("escalation", 409)
        return case

    async def case(self, token: str, case_id: str) -> CaseDetail:
        self._record("case", token, case_id)
        return self._case(case_id)

    async def open_cases(self, token: str) -> list[CaseSummary]:
        self._record("open_cases", token)
        return [c for c in self.details.values() if c.status != "resolved"]

    async def acknowledge(self, token: str, case_id: str) -> CaseSummary:
        self._record("acknowledge", token, case_id)
        if self._case(case_id).status not in ("opened", "assigned"):
            raise ConflictError("escalation", 409)
        return self._update(
            case_id,
            "acknowledged",
            status="acknowledged",
            responder_id=self.acting,
            acknowledged_at=OPENED + timedelta(minutes=3),
        )

    async def reveal_grant(self, token: str, case_id: str) -> RevealGrant:
        self._record("reveal_grant", token, case_id)
        self._holding(case_id)
        return RevealGrant(case_id=case_id, grant=f"grant-for-{case_id}", expires_at=OPENED)

    async def reveal(self, token: str, grant: str) -> RevealedPerson:
        self._record("reveal", token, grant)
        assert self.revealed is not None, "the test says who is revealed"
        return self.revealed

    async def record_contact(self, token: str, case_id: str, channel: str) -> CaseSummary:
        self._record("record_contact", token, case_id, channel)
        self._holding(case_id)
        return self._update(
            case_id,
            "contacted",
            status="contacted",
            contact_channel=channel,
            contacted_at=OPENED + timedelta(minutes=20),
        )

    async def case_notes(self, token: str, case_id: str) -> CaseNotes:
        self._record("case_notes", token, case_id)
        return CaseNotes(notes=self.notes_of.get(case_id, []), safety_plan=self.plans.get(case_id))

    async def add_note(self, token: str, case_id: str, text: str) -> None:
        self._record("add_note", token, case_id, text)
        case = self._holding(case_id)
        note = CaseNote(
            note_id=f"n{case.notes + 1}",
            author=f"person:{self.acting}",
            written_at=OPENED,
            text=text,
        )
        self.notes_of.setdefault(case_id, []).append(note)
        self._update(case_id, "note_added", notes=case.notes + 1)

    async def hand_over(
        self, token: str, case_id: str, to_person_id: str | None, reason: str, note: str | None
    ) -> CaseSummary:
        self._record("hand_over", token, case_id, to_person_id, reason, note)
        self._holding(case_id)
        return self._update(case_id, "handed_over", status="assigned", responder_id=to_person_id)

    async def plan_follow_up(self, token: str, case_id: str, at: datetime) -> CaseSummary:
        self._record("plan_follow_up", token, case_id, at)
        self._holding(case_id)
        return self._update(case_id, "follow_up_scheduled", follow_up_at=at)

    async def resolve(self, token: str, case_id: str, outcome: str) -> CaseSummary:
        self._record("resolve", token, case_id, outcome)
        self._holding(case_id)
        return self._update(
            case_id,
            "resolved",
            status="resolved",
            outcome=outcome,
            resolved_at=OPENED + timedelta(hours=1),
        )

    async def write_safety_plan(
        self, token: str, case_id: str, who_to_call: str, what_helps: str
    ) -> None:
        self._record("write_safety_plan", token, case_id, who_to_call, what_helps)
        self._holding(case_id)
        self.plans[case_id] = SafetyPlan(
            who_to_call=who_to_call, what_helps=what_helps, author=f"person:{self.acting}"
        )
        self._update(case_id, "safety_plan_updated", safety_plan_recorded=True)

    # ---- on call ----------------------------------------------------------------------------

    async def oncall_now(self, token: str) -> OnCallNow:
        self._record("oncall_now", token)
        return self.on_call_now or OnCallNow(at=OPENED)

    async def oncall_load(self, token: str) -> OnCallLoadReport:
        self._record("oncall_load", token)
        return self.load or OnCallLoadReport(start=OPENED - timedelta(days=28), end=OPENED)

    async def overrides(self, token: str, schedule: str) -> list[ScheduledOverride]:
        self._record("overrides", token, schedule)
        return list(self.schedule_overrides.get(schedule, []))

    async def add_override(
        self, token: str, schedule: str, person_id: str, start: datetime, end: datetime
    ) -> ScheduledOverride:
        self._record("add_override", token, schedule, person_id, start, end)
        kept = self.schedule_overrides.setdefault(schedule, [])
        added = ScheduledOverride(
            id=f"ov-{len(kept) + 1}", person_id=person_id, start=start, end=end
        )
        kept.append(added)
        return added

    async def remove_override(self, token: str, schedule: str, override_id: str) -> None:
        self._record("remove_override", token, schedule, override_id)
        kept = self.schedule_overrides.get(schedule, [])
        if not any(o.id == override_id for o in kept):
            raise NotFoundError("escalation", 404)
        self.schedule_overrides[schedule] = [o for o in kept if o.id != override_id]

    async def calendar_feeds(self, token: str) -> list[CalendarFeed]:
        self._record("calendar_feeds", token)
        return [CalendarFeed(kind="person", subject=self.acting, created_at=OPENED)] * (
            self.feed_url is not None
        )

    async def new_calendar_feed(self, token: str) -> str:
        self._record("new_calendar_feed", token)
        self.feeds_issued += 1
        self.feed_url = f"https://127.0.0.1:8002/v1/calendar/secret-{self.feeds_issued}.ics"
        return self.feed_url

    async def stop_calendar_feed(self, token: str) -> None:
        self._record("stop_calendar_feed", token)
        if self.feed_url is None:
            raise NotFoundError("escalation", 404)
        self.feed_url = None

    async def away(self, token: str) -> datetime | None:
        self._record("away", token)
        return self.away_until

    async def set_away(self, token: str, until: datetime) -> datetime | None:
        self._record("set_away", token, until)
        self.away_until = until
        return until

    async def end_away(self, token: str) -> None:
        self._record("end_away", token)
        self.away_until = None

    async def rotations(self, token: str) -> list[Rotation]:
        self._record("rotations", token)
        return list(self.stored_rotations)

    async def save_rotation(self, token: str, rotation: Rotation) -> Rotation:
        self._record("save_rotation", token, rotation)
        self.stored_rotations = [r for r in self.stored_rotations if r.name != rotation.name]
        self.stored_rotations.append(rotation)
        return rotation

    async def policies(self, token: str) -> list[Policy]:
        self._record("policies", token)
        return [self.stored_policies[name] for name in sorted(self.stored_policies)]

    async def policy(self, token: str, name: str) -> Policy:
        self._record("policy", token, name)
        if name not in self.stored_policies:
            raise NotFoundError("escalation", 404)
        return self.stored_policies[name]

    async def save_policy(self, token: str, name: str, policy: Policy) -> Policy:
        """Like the service: unknown schedules are 422 by location, a (team, severity)
        another policy has is 409 naming both, a step appended so the coordinators end it."""
        self._record("save_policy", token, name, policy)
        known = {*self.known_schedules, *(r.name for r in self.stored_rotations)}
        refused: list[tuple[str | int, ...]] = [
            ("steps", s, "targets", t, "schedule")
            for s, step in enumerate(policy.steps)
            for t, target in enumerate(step.targets)
            if target.kind == "schedule" and target.schedule not in known
        ]
        if refused:
            raise FieldsRejectedError("escalation", 422, refused)
        for other in self.stored_policies.values():
            scope = (other.team_id, other.severity)
            if other.name != name and scope == (policy.team_id, policy.severity):
                raise PolicyClashError("escalation", sorted([name, other.name]))
        steps = list(policy.steps)
        if not any(t.kind == "coordinators" for t in steps[-1].targets):
            last = PolicyStep(
                targets=[PolicyTarget(kind="coordinators")],
                timeout_seconds=steps[-1].timeout_seconds,
            )
            steps.append(last)
        saved = policy.model_copy(update={"name": name, "steps": steps})
        self.stored_policies[name] = saved
        self._audited("policy_changed")
        return saved

    async def delete_policy(self, token: str, name: str) -> None:
        self._record("delete_policy", token, name)
        if name not in self.stored_policies or (
            name == "default" and self.stored_policies[name] == default_policy()
        ):
            raise NotFoundError("escalation", 404)
        del self.stored_policies[name]
        if name == "default":
            self.stored_policies[name] = default_policy()
        self._audited("policy_deleted")

    async def schedules(self, token: str) -> list[str]:
        self._record("schedules", token)
        return list(self.known_schedules)

    async def programme(self, token: str) -> dict[str, Any]:
        self._record("programme", token)
        return self.measures

    async def audit(self, token: str, query: AuditQuery) -> AuditPage:
        """Pages of ``audit_entries`` newest first, filtered like the service, three a page
        (so that paging shows with few records); each read is recorded."""
        self._record("audit", token, query)
        found = [
            entry
            for entry in reversed(self.audit_entries)
            if (not query.case_id or entry.case_id == query.case_id)
            and (not query.actor or entry.actor == query.actor)
            and (not query.action or entry.action == query.action)
            and (query.before is None or entry.seq < query.before)
        ]
        page = found[: self.audit_page_size]
        older = page[-1].seq if len(found) > len(page) else None
        self._audited("audit_read")
        return AuditPage(entries=page, older=older)
