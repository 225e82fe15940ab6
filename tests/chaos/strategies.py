"""Hypothesis strategies for every ingestion contract: payloads valid by construction, and
payloads with exactly one known defect (so the test knows the answer without asking the
contract): a missing or wrongly typed field, a value out of range, a huge string, a NUL or a
lone surrogate, a timestamp outside 1970-2100, an unknown field named like a secret, bytes
that are not JSON or not UTF-8.

Planted text (``PLANT`` + hex) marks what the sender chose: an unknown field's name, a wrong
value. It must never come back in a dead-letter reason or an HTTP error.

Addresses: the only data the platform calls is a directory person's channels; valid ones here
are webhooks on 127.0.0.1 (a closed port), and the random text of invalid ones never holds a
':' so it can never be a URL.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

PLANT = "zqplant"
"""Prefix of every planted token (an unusual string: any occurrence is an echo)."""

ZONES = ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]
SECRET_NAMES = ["password", "api_key", "token", "ssn", "note", "person-9f2e", "Authorization"]


@dataclass
class Case:
    """One generated record: its payload (or raw bytes), whether it is valid by construction,
    the defect it carries, and the tokens planted in it."""

    contract: str
    payload: Any
    valid: bool
    defect: str = ""
    raw: bytes | None = None
    """The bytes to send instead of the payload's JSON (for non-JSON defects)."""
    tombstone: bool = False
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    key: str | None = None

    def body(self) -> bytes | None:
        if self.tombstone:
            return None
        if self.raw is not None:
            return self.raw
        return json.dumps(self.payload).encode()  # lone surrogates become \\ud800 escapes

    def planted(self) -> list[str]:
        """Tokens that must not be echoed (planted ones, and any long text of the payload)."""
        found: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for name, value in node.items():
                    if PLANT in str(name):
                        found.append(str(name))
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)
            elif isinstance(node, str) and PLANT in node:
                found.append(node[:40])

        walk(self.payload)
        return found


def _plant(draw: st.DrawFn) -> str:
    return f"{PLANT}{draw(st.integers(0, 2**32)):08x}"


# Values ------------------------------------------------------------------------------------

SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=":<>"),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() != "" and any(c.isalnum() for c in s))
"""Text any contract stores: no surrogates, no control characters, some letter or digit."""

ID_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40
)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 within 1971-2099, with a Z or an offset."""
    year = draw(st.integers(1971, 2099))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    hour, minute, second = (
        draw(st.integers(0, 23)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 59)),
    )
    offset = draw(st.sampled_from(["Z", "+00:00", "+14:00", "-12:00", "+05:30", "-03:00"]))
    fraction = draw(st.sampled_from(["", ".5", ".123456"]))
    return (
        f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}"
    )


BAD_TIMES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "0000-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z",
    "2026-11-20T09:30:00",
    "2026-13-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    1_700_000_000,
    None,
]


def bad_ids(plant: str) -> list[Any]:
    return ["", "has space", "x" * 201, 5, None, f"a\x00{plant}", f"é{plant}", [plant], "\ud800"]


def bad_text(plant: str, max_len: int, required: bool) -> list[Any]:
    values: list[Any] = [
        f"a\x00{plant}",
        f"{plant}\ud800",
        f"\udfff{plant}",
        plant * (max_len // 7 + 2),
        5,
        [plant],
    ]
    if required:
        values += ["", None]
    return values


def bad_ints(low: int, high: int, strict: bool) -> list[Any]:
    values: list[Any] = [low - 1, high + 1, 10**30, -(10**30), "x"]
    if strict:
        values += [str(low), float(low), True]
    return values


# Contracts ----------------------------------------------------------------------------------

Spec = dict[str, list[Any]]
"""Field → values that make the payload invalid (one field changed at a time)."""


@st.composite
def checkin(draw: st.DrawFn) -> tuple[dict[str, Any], Spec]:
    plant = _plant(draw)
    payload: dict[str, Any] = {
        "id": draw(ID_TEXT),
        "person_id": draw(ID_TEXT),
        "occurred_at": draw(timestamps()),
        "source": draw(SAFE_TEXT),
    }
    # Answers that open no case (valid values beyond these are covered by the contract's
    # unit tests; cases would page the shared platform's responders).
    # At least one answer that counts (stress and energy alone are not a check-in).
    answers = {draw(st.sampled_from(["mood", "who5", "phq9", "phq2"]))} | draw(
        st.sets(st.sampled_from(["mood", "stress", "energy", "who5", "phq9", "phq2"]))
    )
    if "mood" in answers:
        payload["mood"] = draw(st.integers(3, 5))
    if "stress" in answers:
        payload["stress"] = draw(st.integers(1, 3))
    if "energy" in answers:
        payload["energy"] = draw(st.integers(3, 5))
    if "who5" in answers:
        payload["who5"] = draw(st.lists(st.integers(3, 5), min_size=5, max_size=5))
    if "phq9" in answers:
        payload["phq9"] = [*draw(st.lists(st.integers(0, 1), min_size=8, max_size=8)), 0]
    if "phq2" in answers:
        payload["phq2"] = draw(st.lists(st.integers(0, 1), min_size=2, max_size=2))
    if draw(st.booleans()):
        payload["note"] = draw(SAFE_TEXT)
        payload["share_note"] = draw(st.booleans())
    spec: Spec = {
        "id": bad_ids(plant),
        "person_id": bad_ids(plant),
        "occurred_at": BAD_TIMES,
        "source": [*bad_text(plant, 200, True), "   "],
        "mood": bad_ints(1, 5, True),
        "who5": [[3] * 4, [3] * 6, [3, 3, 3, 3, 6], [3, 3, 3, 3, -1], ["3"] * 5, plant],
        "phq9": [[0] * 8, [0] * 10, [0] * 8 + [4], [plant] * 9],
        "phq2": [[0], [0, 0, 0], [0, 4]],
        "note": bad_text(plant, 2000, False),
        "wants_contact": ["true", 1, None, plant],
        "share_note": ["false", 0, None],
    }
    return payload, spec


@st.composite
def signal(draw: st.DrawFn) -> tuple[dict[str, Any], Spec]:
    plant = _plant(draw)
    payload: dict[str, Any] = {
        "id": draw(ID_TEXT),
        "kind": draw(st.sampled_from(["overtime", "on_call_load", "absence", "other"])),
        "severity": draw(st.integers(1, 2)),
        "occurred_at": draw(timestamps()),
        "source": draw(SAFE_TEXT),
    }
    payload[draw(st.sampled_from(["person_id", "team_id"]))] = draw(ID_TEXT)
    if draw(st.booleans()):
        payload["summary"] = draw(SAFE_TEXT)
    spec: Spec = {
        "id": bad_ids(plant),
        "kind": ["", plant, 5, None],
        "severity": bad_ints(1, 5, True),
        "occurred_at": BAD_TIMES,
        "source": bad_text(plant, 200, True),
        "summary": bad_text(plant, 500, False),
    }
    return payload, spec


@st.composite
def kudos(draw: st.DrawFn) -> tuple[dict[str, Any], Spec]:
    plant = _plant(draw)
    sender = draw(ID_TEXT)
    payload = {
        "id": draw(ID_TEXT),
        "from_person_id": sender,
        "to_person_id": draw(ID_TEXT.filter(lambda p: p != sender)),
        "message": draw(SAFE_TEXT),
        "occurred_at": draw(timestamps()),
        "source": draw(SAFE_TEXT),
    }
    spec: Spec = {
        "id": bad_ids(plant),
        "from_person_id": bad_ids(plant),
        "to_person_id": bad_ids(plant),
        "message": bad_text(plant, 500, True),
        "occurred_at": BAD_TIMES,
        "source": bad_text(plant, 200, True),
    }
    return payload, spec


@st.composite
def pulse(draw: st.DrawFn) -> tuple[dict[str, Any], Spec]:
    plant = _plant(draw)
    questions = ["know_how_to_get_support", "comfortable_asking", "programme_helps"]
    answered = draw(st.sets(st.sampled_from(questions), min_size=1))
    payload = {
        "id": draw(ID_TEXT),
        "person_id": draw(ID_TEXT),
        "survey_id": draw(ID_TEXT),
        "occurred_at": draw(timestamps()),
        "source": draw(SAFE_TEXT),
        "answers": {q: draw(st.integers(1, 5)) for q in sorted(answered)},
    }
    spec: Spec = {
        "id": bad_ids(plant),
        "person_id": bad_ids(plant),
        "survey_id": bad_ids(plant),
        "occurred_at": BAD_TIMES,
        "source": bad_text(plant, 200, True),
        "answers": [
            {},
            {q: None for q in questions},
            {"programme_helps": 6},
            {"programme_helps": 0},
            {f"{plant}_q": 3},
            {"programme_helps": plant},
            plant,
            None,
        ],
    }
    return payload, spec


@st.composite
def erasure(draw: st.DrawFn) -> tuple[dict[str, Any], Spec]:
    plant = _plant(draw)
    payload = {
        "id": draw(ID_TEXT),
        "person_id": draw(ID_TEXT),
        "requested_at": draw(timestamps()),
        "source": draw(SAFE_TEXT),
    }
    spec: Spec = {
        "id": bad_ids(plant),
        "person_id": bad_ids(plant),
        "requested_at": BAD_TIMES,
        "source": bad_text(plant, 200, True),
    }
    return payload, spec


@st.composite
def person(draw: st.DrawFn) -> tuple[dict[str, Any], Spec]:
    plant = _plant(draw)
    payload: dict[str, Any] = {
        "person_id": draw(ID_TEXT),
        "display_name": draw(SAFE_TEXT),
        "team_id": draw(ID_TEXT),
        "timezone": draw(st.sampled_from(ZONES)),
        "roles": draw(st.sampled_from([[], ["team_manager"]])),
        "active": draw(st.booleans()),
    }
    if draw(st.booleans()):
        payload["channels"] = {"webhook": f"http://127.0.0.1:9/{draw(st.integers(0, 999))}"}
    if draw(st.booleans()):
        payload["manages"] = draw(st.lists(ID_TEXT, max_size=3))
    if draw(st.booleans()):
        payload["outreach"] = draw(st.sampled_from(["welcome", "ask_first", "resources_only"]))
    spec: Spec = {
        "person_id": bad_ids(plant),
        "display_name": bad_text(plant, 200, True),
        "team_id": bad_ids(plant),
        "timezone": [f"Mars/{plant}", "", 5, None],
        "roles": [[plant], plant, [5]],
        "channels": [
            {"webhook": f"not a url {plant}"},
            {f"{plant}": "x"},
            {"email": f"{plant}"},
            plant,
        ],
        "active": ["yes", 1, None],
        "manages": [[f"bad id {plant}"], [plant] * 51, plant],
        "outreach": [plant, 5],
    }
    return payload, spec


CONTRACTS = {
    "checkin": checkin(),
    "signal": signal(),
    "kudos": kudos(),
    "pulse": pulse(),
    "erasure": erasure(),
    "person": person(),
}
ID_FIELD = {
    "checkin": "id",
    "signal": "id",
    "kudos": "id",
    "pulse": "id",
    "erasure": "id",
    "person": "person_id",
}
KEY_FIELD = {
    "checkin": "person_id",
    "signal": "id",
    "kudos": "to_person_id",
    "pulse": "person_id",
    "erasure": "person_id",
    "person": "person_id",
}

NOT_JSON = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"\xff\xfe\xfd",
    b'{"id": "\xed\xa0\x80"}',  # an encoded surrogate: not UTF-8
    b"\x00\x00\x00",
    b"{" * 5000,  # deeply nested
]


@st.composite
def cases(draw: st.DrawFn, contract: str) -> Case:
    """A record of ``contract``: valid, or with exactly one defect."""
    payload, spec = draw(CONTRACTS[contract])
    plant = _plant(draw)
    kind = draw(
        st.sampled_from(
            ["valid", "valid", "valid", "field", "field", "missing", "unknown", "not_json", "ce_id"]
            + (["tombstone"] if contract == "person" else [])
        )
    )
    case = Case(contract, payload, valid=True)
    if kind == "field":
        name = draw(st.sampled_from(sorted(spec)))
        value = draw(st.sampled_from(spec[name]))
        payload[name] = value
        case.valid, case.defect = False, f"field:{name}"
    elif kind == "missing":
        required = {
            "checkin": ["id", "person_id", "occurred_at", "source"],
            "signal": ["id", "kind", "severity", "occurred_at", "source"],
            "kudos": ["id", "from_person_id", "to_person_id", "message", "occurred_at", "source"],
            "pulse": ["id", "person_id", "survey_id", "occurred_at", "source", "answers"],
            "erasure": ["id", "person_id", "requested_at", "source"],
            "person": ["person_id", "display_name", "team_id"],
        }[contract]
        name = draw(st.sampled_from(required))
        payload.pop(name, None)
        case.valid, case.defect = False, f"missing:{name}"
    elif kind == "unknown":
        name = f"{draw(st.sampled_from(SECRET_NAMES))}_{plant}"
        payload[name] = draw(st.sampled_from([plant, {plant: plant}, [plant], 42]))
        case.valid, case.defect = False, "unknown_field"
    elif kind == "not_json":
        case.raw = draw(st.sampled_from(NOT_JSON))
        case.valid, case.defect = False, "not_json"
    elif kind == "ce_id" and contract != "person":
        case.headers.append(("ce_id", f"other-{plant}".encode()))
        case.valid, case.defect = False, "ce_id_mismatch"
    elif kind == "tombstone":
        case.tombstone = True
    case.headers += draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "x-origin",
                        "x-origin",
                        "traceparent",
                        "tracestate",
                        "ce_source",
                        "ce_type",
                        "content-type",
                        "baggage",
                        "ünïcode-name",
                    ]
                ),
                st.binary(max_size=48),
            ),
            max_size=5,
        )
    )
    return case
