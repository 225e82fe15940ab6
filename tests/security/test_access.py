"""Who may do what (issue 11, "Why" 1-3): calling systems never touch cases or preferences, a
token's ``roles`` claim grants nothing, foreign, long-lived or badly signed tokens are refused,
and nobody checks in, sends kudos, answers a pulse or gives feedback as someone else.

Each attack uses the weakest credential that should be refused (the keys integrations really
hold, an ordinary employee's token) and checks that nothing happened: no row, no message, no
audit record under the victim's name.
"""

from typing import Any

import jwt
import pytest

from tests.security.flows import (
    CRITICAL_PHQ9,
    alerted,
    audit_rows,
    case_row,
    checkin_body,
    kudos_body,
    new_id,
    open_case,
    pulse_body,
)
from tests.security.stack import CALLING_SYSTEMS, ISSUER, Stack, until

pytestmark = [
    pytest.mark.security,
    # The attacker's token below is signed with a 1-byte secret on purpose.
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]


@pytest.fixture(scope="module")
async def pat_case(stack: Stack) -> str:
    """An open, critical case about Pat (alerted, not yet acknowledged)."""
    case_id = await open_case(stack, stack.people.pat)
    await alerted(stack, case_id)
    return case_id


CASE_ACTIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/cases", None),
    ("GET", "/v1/cases/{case}", None),
    ("POST", "/v1/cases/{case}/acknowledge", None),
    ("POST", "/v1/cases/{case}/contact", None),
    ("POST", "/v1/cases/{case}/handover", {"to_person_id": "{responder}"}),
    ("POST", "/v1/cases/{case}/resolve", {"outcome": "supported"}),
    ("POST", "/v1/cases/{case}/reveal-grant", None),
    ("POST", "/v1/cases/{case}/feedback", {"score": 5, "given_by": "responder"}),
    # "As any responder named in the request body": the body names the alerted responder.
    ("POST", "/v1/cases/{case}/acknowledge", {"responder_id": "{responder}"}),
    ("POST", "/v1/cases/{case}/resolve", {"outcome": "supported", "responder_id": "{responder}"}),
]


def _filled(value: Any, case_id: str, responder: str) -> Any:
    if isinstance(value, str):
        return value.replace("{case}", case_id).replace("{responder}", responder)
    if isinstance(value, dict):
        return {k: _filled(v, case_id, responder) for k, v in value.items()}
    return value


async def test_no_api_key_reads_or_acts_on_a_case_even_naming_a_responder(
    stack: Stack, pat_case: str
) -> None:
    responder = await alerted(stack, pat_case)
    before, audit_before = await case_row(stack, pat_case), await audit_rows(stack, pat_case)
    for system in CALLING_SYSTEMS:
        for method, path, body in CASE_ACTIONS:
            answer = await stack.call(
                method,
                "escalation",
                _filled(path, pat_case, responder),
                stack.key(system),
                json=_filled(body, pat_case, responder),
            )
            assert answer.status_code == 403, (system, method, path, answer.text)
            assert pat_case not in answer.text
    assert await case_row(stack, pat_case) == before  # not acknowledged, contacted, resolved
    audit = await audit_rows(stack, pat_case)
    assert audit == audit_before  # no record, let alone one naming the responder
    assert not [actor for _action, actor in audit if actor.startswith("system:")]
    # The BI tool reads the programme's measures (closed weeks, k >= 5), never a case.
    for service, path in (
        ("recognition", "/v1/reports/programme"),
        ("escalation", "/v1/metrics/programme"),
    ):
        measures = await stack.call("GET", service, path, stack.key("bi-tool"))
        assert measures.status_code == 200, (service, measures.text)


async def test_no_api_key_reads_or_changes_anyones_notification_preferences(
    stack: Stack,
) -> None:
    victim = stack.people.pat
    path = f"/v1/preferences/{victim.id}"
    silence = {
        "recognition_opt_out": True,
        "max_per_day": 0,
        "quiet_start": "00:00",
        "quiet_end": "23:59",
    }
    for system in CALLING_SYSTEMS:
        assert (
            await stack.call("GET", "notifications", path, stack.key(system))
        ).status_code == 403
        changed = await stack.call("PUT", "notifications", path, stack.key(system), json=silence)
        assert changed.status_code == 403, (system, changed.text)
    # Nor a colleague, signed in as themself.
    employee = stack.bearer(stack.people.employee.id)
    assert (
        await stack.call("PUT", "notifications", path, employee, json=silence)
    ).status_code == 403
    assert (await stack.call("GET", "notifications", path, employee)).status_code == 403
    stored = await stack.rows(
        "notifications", "SELECT * FROM preferences WHERE person_id = $1", victim.id
    )
    assert stored == []
    own = await stack.call("GET", "notifications", path, stack.bearer(victim.id))
    assert own.status_code == 200 and own.json()["max_per_day"] > 0


async def test_a_roles_claim_in_a_token_grants_nothing(stack: Stack, pat_case: str) -> None:
    employee = stack.people.employee
    claims: dict[str, Any] = {
        "roles": ["coordinator", "peer_responder", "team_manager"],
        "realm_access": {"roles": ["coordinator"]},
        "groups": ["coordinators"],
    }
    headers = stack.bearer(employee.id, **claims)
    policy_before = await stack.call(
        "GET", "escalation", "/v1/policies/default", stack.bearer(stack.people.coordinator.id)
    )
    attempts: list[tuple[str, str, str, dict[str, Any] | None]] = [
        ("escalation", "GET", "/v1/cases", None),
        ("escalation", "GET", f"/v1/cases/{pat_case}", None),
        ("escalation", "POST", f"/v1/cases/{pat_case}/acknowledge", None),
        ("escalation", "GET", "/v1/rotations", None),
        (
            "escalation",
            "PUT",
            "/v1/policies/default",
            {"steps": [{"target": "coordinators", "timeout_seconds": 60}]},
        ),
        ("checkin", "GET", f"/v1/teams/{stack.people.team}/trends", None),
        ("checkin", "GET", "/v1/erasures", None),
        ("recognition", "GET", "/v1/reports/programme", None),
        ("escalation", "GET", "/v1/metrics/programme", None),
        ("notifications", "GET", f"/v1/preferences/{stack.people.pat.id}", None),
        ("notifications", "GET", "/v1/deliveries/anything", None),
    ]
    for service, method, path, body in attempts:
        answer = await stack.call(method, service, path, headers, json=body)
        assert answer.status_code == 403, (service, method, path, answer.text)
    assert (await case_row(stack, pat_case))["acknowledged_at"] is None
    policy_after = await stack.call(
        "GET", "escalation", "/v1/policies/default", stack.bearer(stack.people.coordinator.id)
    )
    assert policy_after.json() == policy_before.json()
    assert not [a for a in await audit_rows(stack, pat_case) if employee.id in a[1]]


REFUSED_TOKENS: dict[str, dict[str, Any]] = {
    "an unexpected issuer": {"issuer": "http://127.0.0.1:9/another-identity-provider"},
    "no issuer at all": {"issuer": None},
    "a lifetime longer than the maximum (2 h)": {"lifetime": 7200 + 120},
    "a lifetime of a year": {"lifetime": 365 * 24 * 3600},
    "a 1-byte HS secret": {"secret": "x"},
    "another 48-byte secret": {"secret": "an-attacker-chosen-secret-that-is-long-enough-1234"},
    "another audience": {"aud": "another-app"},
}


@pytest.mark.parametrize("forged", list(REFUSED_TOKENS), ids=list(REFUSED_TOKENS))
async def test_a_token_that_is_not_the_identity_providers_is_refused_everywhere(
    stack: Stack, forged: str
) -> None:
    coordinator = stack.people.coordinator.id
    # What the coordinator may do in each service with a genuine token.
    reads = {
        "checkin": "/v1/erasures",
        "escalation": "/v1/cases",
        "notifications": f"/v1/preferences/{coordinator}",
        "recognition": "/v1/reports/programme",
    }
    for service, path in reads.items():
        genuine = await stack.call("GET", service, path, stack.bearer(coordinator))
        assert genuine.status_code == 200, (service, genuine.text)
        refused = await stack.call(
            "GET", service, path, stack.bearer(coordinator, **REFUSED_TOKENS[forged])
        )
        assert refused.status_code == 401, (service, forged, refused.text)


async def test_an_unsigned_token_is_refused(stack: Stack) -> None:
    coordinator = stack.people.coordinator.id
    claims = jwt.decode(stack.token(coordinator), options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    assert claims["iss"] == ISSUER
    answer = await stack.call(
        "GET", "escalation", "/v1/cases", {"Authorization": f"Bearer {unsigned}"}
    )
    assert answer.status_code == 401


async def test_nobody_checks_in_for_someone_else_or_opens_a_case_about_them(
    stack: Stack,
) -> None:
    victim, attacker = stack.people.fay, stack.people.employee
    body = checkin_body(victim, phq9=CRITICAL_PHQ9, note="written by someone else")
    answer = await stack.call(
        "POST", "checkin", "/v1/checkins", stack.bearer(attacker.id), json=body
    )
    assert answer.status_code == 403, answer.text
    # Not even a coordinator checks in for someone else.
    body_2 = checkin_body(victim, phq9=CRITICAL_PHQ9)
    coordinator = stack.bearer(stack.people.coordinator.id)
    assert (
        await stack.call("POST", "checkin", "/v1/checkins", coordinator, json=body_2)
    ).status_code == 403
    # A key without checkins:submit neither.
    for system in ("hr-portal", "bi-tool"):
        body_3 = checkin_body(victim, phq9=CRITICAL_PHQ9)
        refused = await stack.call(
            "POST", "checkin", "/v1/checkins", stack.key(system), json=body_3
        )
        assert refused.status_code == 403, system
    ids = [body["id"], body_2["id"]]
    stored = await stack.rows("checkin", "SELECT id FROM checkins WHERE id = ANY($1)", ids)
    assert stored == []
    recorded = await stack.read("wellbeing.checkins.recorded")
    assert not [r for r in recorded if any(i.encode() in (r.value or b"") for i in ids)]
    subject = await stack.subject_of(victim.id)
    cases = await stack.rows(
        "escalation", "SELECT id FROM cases WHERE subject_id = $1", subject or "-"
    )
    assert cases == []


async def test_nobody_sends_kudos_or_answers_a_pulse_as_someone_else(stack: Stack) -> None:
    victim, attacker = stack.people.fay, stack.people.employee
    kudos = kudos_body(victim, attacker, "Sent in someone else's name")
    answer = await stack.call(
        "POST", "recognition", "/v1/kudos", stack.bearer(attacker.id), json=kudos
    )
    assert answer.status_code == 403, answer.text
    pulse = pulse_body(victim, helps=1)
    answer = await stack.call(
        "POST", "recognition", "/v1/pulse", stack.bearer(attacker.id), json=pulse
    )
    assert answer.status_code == 403, answer.text
    for system in ("survey-tool", "hr-portal", "bi-tool"):  # keys without kudos/pulse scopes
        other = kudos_body(victim, attacker, "Sent by a system without the scope")
        refused = await stack.call(
            "POST", "recognition", "/v1/kudos", stack.key(system), json=other
        )
        assert refused.status_code == 403, system
    kept = await stack.rows("recognition", "SELECT id FROM kudos WHERE id = $1", kudos["id"])
    assert kept == []
    pulses = await stack.rows(
        "recognition", "SELECT response_id FROM pulse_responses WHERE response_id = $1", pulse["id"]
    )
    assert pulses == []


async def test_feedback_on_a_case_comes_only_from_its_subject_or_its_responder(
    stack: Stack, pat_case: str
) -> None:
    responder = await alerted(stack, pat_case)
    as_responder = stack.bearer(responder)
    for action, body in (
        ("acknowledge", None),
        ("contact", None),
        ("resolve", {"outcome": "supported"}),
    ):
        done = await stack.call(
            "POST", "escalation", f"/v1/cases/{pat_case}/{action}", as_responder, json=body
        )
        assert done.status_code == 200, (action, done.text)
    other_responder = next(
        p.id for p in (stack.people.responder_a, stack.people.responder_b) if p.id != responder
    )
    path = f"/v1/cases/{pat_case}/feedback"
    refused = [
        (stack.people.employee.id, "person"),  # a colleague posing as the person supported
        (stack.people.fay.id, "person"),
        (other_responder, "responder"),  # another responder posing as the case's
        (stack.people.coordinator.id, "responder"),
        (stack.people.employee.id, "responder"),
        (responder, "person"),  # the responder posing as the person
        (stack.people.pat.id, "responder"),  # the person posing as the responder
    ]
    for person_id, side in refused:
        answer = await stack.call(
            "POST", "escalation", path, stack.bearer(person_id), json={"score": 1, "given_by": side}
        )
        assert answer.status_code == 403, (person_id, side, answer.text)
    assert (
        await stack.rows("escalation", "SELECT * FROM feedback WHERE case_id = $1", pat_case) == []
    )
    for person_id, side in ((stack.people.pat.id, "person"), (responder, "responder")):
        given = await stack.call(
            "POST", "escalation", path, stack.bearer(person_id), json={"score": 5, "given_by": side}
        )
        assert given.status_code == 202, (side, given.text)
    stored = await until(
        lambda: stack.rows(
            "escalation", "SELECT given_by, score FROM feedback WHERE case_id = $1", pat_case
        )
    )
    assert sorted((r["given_by"], r["score"]) for r in stored) == [("person", 5), ("responder", 5)]
    actors = [actor for _action, actor in await audit_rows(stack, pat_case)]
    assert f"person:{stack.people.pat.id}" not in actors  # the person is never named by id


async def test_an_api_key_is_refused_where_only_people_may_act(stack: Stack) -> None:
    """Feedback, outreach choices and reveals are for signed-in people: no key, whatever
    its scopes, acts in a person's name there."""
    bodies: list[tuple[str, str, str, dict[str, Any]]] = [
        ("checkin", "PUT", "/v1/me/outreach", {"preference": "welcome"}),
        ("checkin", "POST", "/v1/reveal", {"grant": "x" * 40}),
        (
            "escalation",
            "POST",
            f"/v1/cases/{new_id('case')}/feedback",
            {"score": 1, "given_by": "person"},
        ),
    ]
    for system in CALLING_SYSTEMS:
        for service, method, path, body in bodies:
            answer = await stack.call(method, service, path, stack.key(system), json=body)
            assert answer.status_code == 403, (system, service, path, answer.text)
