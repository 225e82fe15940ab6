"""Drawing fuzz corpora with Hypothesis, deterministically (``derandomize``: the same
examples on every run, in CI too), and checking what comes back for echoes."""

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.chaos.strategies import KEY_FIELD, PLANT, Case

T = TypeVar("T")

EXAMPLES = int(os.environ.get("KINSHIP_FUZZ_EXAMPLES", "40"))
"""Examples per contract (KINSHIP_FUZZ_EXAMPLES=400 for a longer local run)."""


def corpus(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """``count`` examples of ``strategy``, the same ones on every run.

    The examples are sent to the real broker and services together, as one mixed stream
    (valid records next to invalid ones in the same batches), so they are drawn first and
    checked afterwards; Hypothesis's shrinking is used by the parse-level property test.
    """
    drawn: list[T] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(example: T) -> None:
        drawn.append(example)

    draw()
    return drawn[:count]


def make_unique(cases: list[Case], tag: str) -> None:
    """Ids (and the people they name) unique per case, except a field that is the defect:
    each valid record must have an effect of its own (one pulse per person and survey, kudos
    under the daily limit, one directory entry per person). Every third record with an id
    also carries it as its ``ce_id`` header."""
    for index, case in enumerate(cases):
        own = f"{tag}{index}"
        payload = case.payload
        if isinstance(payload, dict):
            defect_field = case.defect.partition(":")[2]
            replacements = {
                "id": own,
                "person_id": own if case.contract == "person" else f"{own}p",
                "from_person_id": f"{own}f",
                "to_person_id": f"{own}t",
            }
            for name, value in replacements.items():
                if name in payload and name != defect_field:
                    payload[name] = value
            own_id = payload.get("id")
            tagged = index % 3 == 0 and case.defect != "ce_id_mismatch"
            if tagged and isinstance(own_id, str) and own_id.isascii():
                case.headers.append(("ce_id", own_id.encode()))
        key = payload.get(KEY_FIELD[case.contract]) if isinstance(payload, dict) else None
        case.key = key if isinstance(key, str) and key and key.isascii() else own


def echoes(case: Case, text: str) -> list[str]:
    """Planted tokens of ``case`` that appear in ``text`` (a reason, an error body)."""
    found = [token for token in case.planted() if token in text]
    if PLANT in text:
        found.append(PLANT)
    return found


def reason_is_safe(reason_text: str) -> dict[str, Any]:
    """The reason header as JSON: a code, field errors by location and message only."""
    reason: dict[str, Any] = json.loads(reason_text)
    assert isinstance(reason.get("code"), str) and reason["code"], reason
    for error in reason.get("errors", []):
        assert set(error) <= {"loc", "msg", "type"}, error
    return reason


Check = Callable[[Case], None]
