"""Stand-ins for what erasure anonymises instead of deleting (decision 76).

The programme reports count case facts, feedback, pulse answers and check-in weeks. Were an
erasure to delete an erased person's rows, a week first computed after it would differ from
a copy of the same week computed before it (here, or in the escalation service, which
publishes the same cells) by exactly that person. So erasure keeps the rows and cuts every
link to the person: their subject id becomes a random stand-in, fresh for each subject,
table and erasure (so distinct-people counts stay exact), and each of their case ids a
random stand-in of its own. A stand-in is drawn from ``secrets`` and stored nowhere else, so
nothing leads from it back to anyone; the rows are no longer personal data and belong to no
one (no export or receipt lists them).
"""

import secrets
from collections.abc import Iterable

STAND_IN_BYTES = 16
"""Random bytes in a stand-in (32 hex digits)."""


def stand_ins(keys: Iterable[str]) -> dict[str, str]:
    """A fresh random stand-in for each distinct key."""
    return {key: secrets.token_hex(STAND_IN_BYTES) for key in dict.fromkeys(keys)}
