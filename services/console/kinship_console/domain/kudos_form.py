"""The kudos form: whom to thank and what to say, and how it becomes kudos.

Pure: no web framework, no I/O. Errors are codes the page turns into sentences.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from kinship_console.domain.checkin_form import SOURCE, submission_id_of
from kinship_contracts.kudos import KudosSubmitted

MESSAGE_MAX_CHARS = 500
_PERSON_ID = re.compile(r"^[\x21-\x7e]{1,200}$")


@dataclass
class ParsedKudos:
    """Kudos from the form, or why they cannot be sent (field name -> error code)."""

    to_person_id: str | None
    message: str
    submission_id: str | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors and self.submission_id is not None

    def kudos(self, sender: str, at: datetime) -> KudosSubmitted:
        """The kudos the recognition service receives (the person sends as themself)."""
        assert self.valid and self.to_person_id is not None and self.submission_id is not None
        return KudosSubmitted(
            id=self.submission_id,
            from_person_id=sender,
            to_person_id=self.to_person_id,
            message=self.message,
            occurred_at=at,
            source=SOURCE,
        )


def parse_kudos_form(form: Mapping[str, str], sender: str) -> ParsedKudos:
    """Read the posted form: a colleague (not yourself) and a message of 1 to 500 characters."""
    errors: dict[str, str] = {}
    to = form.get("to_person_id", "").strip()
    if not _PERSON_ID.fullmatch(to):
        errors["to_person_id"] = "choose_colleague"
    elif to == sender:
        errors["to_person_id"] = "not_yourself"
    message = form.get("message", "").replace("\r\n", "\n").strip()
    if not message:
        errors["message"] = "message_missing"
    elif len(message) > MESSAGE_MAX_CHARS:
        errors["message"] = "message_too_long"
    elif "\x00" in message:
        errors["message"] = "message_invalid"
    submission_id = submission_id_of(form)
    if submission_id is None:
        errors["submission_id"] = "form_expired"
    return ParsedKudos(to if "to_person_id" not in errors else None, message, submission_id, errors)
