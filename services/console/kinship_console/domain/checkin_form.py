"""The employee's check-in form: what it asks, and how its answers become a submission.

Pure: no web framework, no I/O. Field names are the form's ``name`` attributes; errors are
codes the page turns into translated sentences (never echoing an answer).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from kinship_contracts.checkins import NOTE_MAX_CHARS, CheckinSubmitted

SOURCE = "kinship-console"
LIKERT_FIELDS = ("mood", "stress", "energy")
WHO5_FIELDS = tuple(f"who5_{n}" for n in range(1, 6))
PHQ9_FIELDS = tuple(f"phq9_{n}" for n in range(1, 10))
_SUBMISSION_ID = re.compile(r"^console-[0-9a-f]{32}$")


@dataclass
class CheckinAnswers:
    """What the person answered; every part is optional, but not everything at once."""

    mood: int | None = None
    stress: int | None = None
    energy: int | None = None
    who5: list[int] | None = None
    phq9: list[int] | None = None
    note: str | None = None
    share_note: bool = False
    wants_contact: bool = False

    def submission(self, submission_id: str, person_id: str, at: datetime) -> CheckinSubmitted:
        """The check-in the check-in service receives (the person submits as themselves)."""
        return CheckinSubmitted(
            id=submission_id,
            person_id=person_id,
            occurred_at=at,
            source=SOURCE,
            mood=self.mood,
            stress=self.stress,
            energy=self.energy,
            who5=self.who5,
            phq9=self.phq9,
            note=self.note,
            share_note=self.share_note and bool(self.note),
            wants_contact=self.wants_contact,
        )


@dataclass
class ParsedCheckin:
    """The form's answers, or why they cannot be sent (field name -> error code)."""

    answers: CheckinAnswers
    submission_id: str | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors and self.submission_id is not None


def new_submission_id(random_hex: str) -> str:
    """The id a rendered form carries, so that sending it twice records one check-in."""
    return f"console-{random_hex}"


def _choice(form: Mapping[str, str], name: str, low: int, high: int) -> tuple[int | None, bool]:
    raw = form.get(name, "").strip()
    if raw == "":
        return None, True
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        return None, False
    return int(raw), True


def _questionnaire(
    form: Mapping[str, str], names: tuple[str, ...], high: int, code: str, errors: dict[str, str]
) -> list[int] | None:
    values: list[int | None] = []
    for name in names:
        value, ok = _choice(form, name, 0, high)
        if not ok:
            errors[name] = "out_of_range"
        values.append(value)
    answered = [value for value in values if value is not None]
    if not answered:
        return None
    if len(answered) != len(names):
        first_missing = names[values.index(None)]
        errors.setdefault(first_missing, code)
        return None
    return answered


def parse_checkin_form(form: Mapping[str, str]) -> ParsedCheckin:
    """Read the posted form. Questionnaires count only when every item is answered."""
    errors: dict[str, str] = {}
    answers = CheckinAnswers()
    for name in LIKERT_FIELDS:
        value, ok = _choice(form, name, 1, 5)
        if not ok:
            errors[name] = "out_of_range"
        setattr(answers, name, value)
    answers.who5 = _questionnaire(form, WHO5_FIELDS, 5, "who5_incomplete", errors)
    answers.phq9 = _questionnaire(form, PHQ9_FIELDS, 3, "phq9_incomplete", errors)
    answers.note = _note(form, errors)
    answers.wants_contact = form.get("wants_contact", "") == "yes"
    answers.share_note = form.get("share_note", "") == "yes"
    nothing = (
        all(getattr(answers, name) is None for name in LIKERT_FIELDS)
        and answers.who5 is None
        and answers.phq9 is None
        and answers.note is None
        and not answers.wants_contact
    )
    if nothing and not errors:
        errors["mood"] = "nothing_answered"
    return _with_submission_id(form, answers, errors)


def parse_who5_form(form: Mapping[str, str]) -> ParsedCheckin:
    """The WHO-5 short form (``/checkin?instrument=who5``): the five items, all of them."""
    errors: dict[str, str] = {}
    answers = CheckinAnswers()
    answers.who5 = _questionnaire(form, WHO5_FIELDS, 5, "who5_incomplete", errors)
    if answers.who5 is None and not errors:
        errors[WHO5_FIELDS[0]] = "who5_required"
    return _with_submission_id(form, answers, errors)


def parse_reach_out_form(form: Mapping[str, str]) -> ParsedCheckin:
    """ "I'd like someone to reach out": a self-referral, with an optional note the person may
    let the responder read."""
    errors: dict[str, str] = {}
    answers = CheckinAnswers(wants_contact=True)
    answers.note = _note(form, errors)
    answers.share_note = form.get("share_note", "") == "yes"
    return _with_submission_id(form, answers, errors)


def _note(form: Mapping[str, str], errors: dict[str, str]) -> str | None:
    note = form.get("note", "").replace("\r\n", "\n").strip()
    if len(note) > NOTE_MAX_CHARS:
        errors["note"] = "note_too_long"
    elif "\x00" in note:
        errors["note"] = "note_invalid"
    elif note:
        return note
    return None


def submission_id_of(form: Mapping[str, str]) -> str | None:
    """The id the rendered form carried, if it is one the console made."""
    submission_id = form.get("submission_id", "")
    return submission_id if _SUBMISSION_ID.fullmatch(submission_id) else None


def _with_submission_id(
    form: Mapping[str, str], answers: CheckinAnswers, errors: dict[str, str]
) -> ParsedCheckin:
    submission_id = submission_id_of(form)
    if submission_id is None:
        errors["submission_id"] = "form_expired"
    return ParsedCheckin(answers, submission_id, errors)
