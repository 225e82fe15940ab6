"""The feedback form after a case: which side is asked, and the score it gives.

Pure: no web framework, no I/O. The link in the feedback request names the side
(``?from=person`` or ``?from=responder``); the escalation service decides whether the
signed-in person may give that side's feedback on that case.
"""

from typing import Literal

Side = Literal["person", "responder"]
PERSON: Side = "person"
RESPONDER: Side = "responder"
SCORES = (1, 2, 3, 4, 5)
CASE_ID_MAX_CHARS = 200
"""As long as a case id the console's other pages accept."""


def side_of(value: str | None) -> Side:
    """The side a link asks; the person supported when it names none (or an unknown one)."""
    return RESPONDER if value == RESPONDER else PERSON


def score_of(value: str | None) -> int | None:
    """The chosen score (1 to 5), or None when none of the offered answers was chosen."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    score = int(value)
    return score if score in SCORES else None
