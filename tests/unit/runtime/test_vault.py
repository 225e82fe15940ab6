"""The check-in service's vault as the other services call it (kinship_runtime.vault)."""

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from kinship_checkin.entrypoints import consumers as checkin_consumers
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_contracts.topics import ERASURE_REQUESTED
from kinship_escalation.entrypoints import consumers as escalation_consumers
from kinship_notifications.entrypoints import consumers as notify_consumers
from kinship_recognition.entrypoints import consumers as recog_consumers
from kinship_runtime.erasure import parse_erasure_requests, subjects_from_vault
from kinship_runtime.resilience import is_transient
from kinship_runtime.vault import (
    CLOSED_ERASURE,
    VaultClient,
    VaultRefusedError,
    VaultUnavailableError,
)

BASE = "http://127.0.0.1:9"


def vault(handler: httpx.MockTransport) -> VaultClient:
    return VaultClient(BASE, SecretStr("service-key"), transport=handler)


async def test_lookups_go_in_batches_with_the_services_key() -> None:
    seen: list[tuple[str, list[str], str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.url.path, body["person_ids"], request.headers["authorization"]))
        return httpx.Response(200, json={"subjects": {p: f"s-{p}" for p in body["person_ids"]}})

    client = vault(httpx.MockTransport(handle))
    people = [f"p{n:04d}" for n in range(1500)]
    found = await client.subjects([*people, "p0001"])
    assert found["p1499"] == "s-p1499" and len(found) == 1500
    assert [(path, len(batch)) for path, batch, _ in seen] == [
        ("/v1/subjects/lookup", 1000),
        ("/v1/subjects/lookup", 500),
    ]
    assert {auth for _, _, auth in seen} == {"Bearer service-key"}
    await client.aclose()


async def test_screen_and_delivery_target() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/screen"):
            return httpx.Response(200, json={"conflicts": ["resp-a"]})
        if request.url.path == "/v1/subjects/s-gone/delivery":
            return httpx.Response(404, json={"detail": "no such subject"})
        return httpx.Response(200, json={"person_id": "ann"})

    client = vault(httpx.MockTransport(handle))
    assert await client.conflicts("s-1", ["resp-a", "resp-b"]) == ["resp-a"]
    assert await client.conflicts("s-1", []) == []
    assert await client.delivery_target("s-1", "req-1") == "ann"
    assert await client.delivery_target("s-gone", "req-1") is None
    await client.aclose()


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_an_overloaded_or_failing_vault_is_a_transient_failure(status: int) -> None:
    client = vault(httpx.MockTransport(lambda _request: httpx.Response(status)))
    with pytest.raises(VaultUnavailableError) as error:
        await client.subjects(["ann"])
    assert is_transient(error.value)
    await client.aclose()


async def test_an_unreachable_vault_is_a_transient_failure() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = vault(httpx.MockTransport(refuse))
    with pytest.raises(VaultUnavailableError) as error:
        await client.delivery_target("s-1", "req-1")
    assert is_transient(error.value)
    await client.aclose()


async def test_a_refusal_is_a_configuration_error_not_an_outage() -> None:
    client = vault(httpx.MockTransport(lambda _request: httpx.Response(403)))
    with pytest.raises(VaultRefusedError, match="KINSHIP_CHECKIN_API_KEY") as error:
        await client.conflicts("s-1", ["resp-a"])
    assert not is_transient(error.value)
    await client.aclose()


async def test_a_lookup_that_must_not_create_says_so_asks_one_by_one_and_gets_known_people() -> (
    None
):
    bodies: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        known = {"ann": "s-ann"} if body.get("create") is False else {"ann": "s-ann", "bo": "s-bo"}
        asked = [p for p in body["person_ids"] if p in known]
        return httpx.Response(200, json={"subjects": {p: known[p] for p in asked}})

    client = vault(httpx.MockTransport(handle))
    assert await client.subjects(["ann", "bo"], create=False, purpose="my_data") == {"ann": "s-ann"}
    assert await client.subjects(["ann", "bo"]) == {"ann": "s-ann", "bo": "s-bo"}
    # The vault answers one person per lookup that may not create (a person's own data).
    assert bodies == [
        {"person_ids": ["ann"], "create": False, "purpose": "my_data"},
        {"person_ids": ["bo"], "create": False, "purpose": "my_data"},
        {"person_ids": ["ann", "bo"], "purpose": "unstated"},
    ]
    await client.aclose()


async def test_screens_go_in_batches_of_the_vaults_cap_with_their_purpose() -> None:
    seen: list[tuple[int, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((len(body["person_ids"]), body["purpose"]))
        return httpx.Response(
            200, json={"conflicts": [p for p in body["person_ids"] if p == "p0700"]}
        )

    client = vault(httpx.MockTransport(handle))
    people = [f"p{n:04d}" for n in range(800)]
    assert await client.conflicts("s-1", people, purpose="alert") == ["p0700"]
    assert seen == [(500, "alert"), (300, "alert")]
    await client.aclose()


async def test_an_erasures_subjects_are_asked_of_the_vault_and_a_closed_one_is_left_out() -> None:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.raw_path.decode())
        if request.url.path == "/v1/erasures/er-open/subjects":
            return httpx.Response(200, json={"erasure_id": "er-open", "subject_ids": ["s-1"]})
        return httpx.Response(410, json={"detail": "no open erasure"})

    client = vault(httpx.MockTransport(handle))
    now = datetime(2026, 11, 24, tzinfo=UTC)

    def event(erasure_id: str, *, in_vault: bool = True, ids: list[str] | None = None) -> Any:
        return SubjectsErased(
            id=f"{erasure_id}:subjects",
            erasure_id=erasure_id,
            subject_ids=ids or [],
            occurred_at=now,
            subjects_in_vault=in_vault,
        )

    opened = await subjects_from_vault(
        [event("er-open"), event("er-done"), event("er-old", in_vault=False, ids=["s-9"])], client
    )
    # Open: its ids filled in; closed (complete or expired): left out, no receipt follows;
    # an older event with its ids in clear: as it was, without asking.
    assert [(e.erasure_id, e.subject_ids) for e in opened] == [
        ("er-open", ["s-1"]),
        ("er-old", ["s-9"]),
    ]
    assert asked == ["/v1/erasures/er-open/subjects", "/v1/erasures/er-done/subjects"]
    await client.aclose()


async def test_an_unreachable_vault_holds_the_erasure_back_for_a_retry() -> None:
    client = vault(httpx.MockTransport(lambda _request: httpx.Response(503)))
    event = SubjectsErased(
        id="er-1:subjects",
        erasure_id="er-1",
        occurred_at=datetime(2026, 11, 24, tzinfo=UTC),
        subjects_in_vault=True,
    )
    with pytest.raises(VaultUnavailableError) as error:
        await subjects_from_vault([event], client)
    assert is_transient(error.value)
    await client.aclose()


async def test_a_404_that_is_not_the_vaults_answer_is_never_read_as_closed() -> None:
    """A route that did not match ("Not Found") fails the record, a closed erasure (410, or
    an older check-in service's 404 naming it) is left out; ids are quoted, '..' refused."""
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.raw_path.decode())
        if request.url.raw_path == b"/v1/erasures/old/subjects":
            return httpx.Response(404, json={"detail": CLOSED_ERASURE})
        if request.url.raw_path == b"/v1/erasures/closed/subjects":
            return httpx.Response(410, json={"detail": CLOSED_ERASURE})
        return httpx.Response(404, json={"detail": "Not Found"})

    client = vault(httpx.MockTransport(handle))
    assert await client.erasure_subjects("old") is None
    assert await client.erasure_subjects("closed") is None
    event = SubjectsErased(
        id="hr/1:subjects",
        erasure_id="hr/1?#%",
        occurred_at=datetime(2026, 11, 24, tzinfo=UTC),
        subjects_in_vault=True,
    )
    with pytest.raises(VaultRefusedError) as error:
        await subjects_from_vault([event], client)
    assert not is_transient(error.value)
    assert asked[-1] == "/v1/erasures/hr%2F1%3F%23%25/subjects"
    for unroutable in (".", ".."):
        with pytest.raises(VaultRefusedError):
            await client.erasure_subjects(unroutable)
    assert len(asked) == 3
    await client.aclose()


def test_every_service_refuses_an_erasure_id_that_is_not_one_path_segment() -> None:
    def record(erasure_id: str) -> Any:
        value = ErasureRequested(
            id=erasure_id,
            person_id="ann",
            requested_at=datetime(2026, 11, 24, tzinfo=UTC),
            source="hr",
        ).model_dump_json()
        return SimpleNamespace(
            topic="t", partition=0, offset=0, key=b"ann", value=value.encode(), headers=[]
        )

    ids = ["hr-17", "hr/2026/17", ".", "..", "..x", "a?b#c%d"]
    accepted, rejected = parse_erasure_requests([record(i) for i in ids])
    assert [item.event.id for item in accepted] == ["hr-17", "..x", "a?b#c%d"]
    assert [json.loads(r.record.value or b"{}")["id"] for r in rejected] == [
        "hr/2026/17",
        ".",
        "..",
    ]
    assert {r.reason["code"] for r in rejected} == {"erasure_id_unroutable"}
    every = [
        checkin_consumers.SUBSCRIPTIONS,
        escalation_consumers.SUBSCRIPTIONS,
        notify_consumers.subscriptions(notify_consumers.RequestSignatures(b"k" * 32)),
        recog_consumers.SUBSCRIPTIONS,
    ]
    for subscriptions in every:
        parsers = [s.parse for s in subscriptions if s.topic.name == ERASURE_REQUESTED.name]
        assert parsers == [parse_erasure_requests]


async def test_a_split_call_waits_out_a_429_and_resumes_where_it_was_refused() -> None:
    """A batch larger than the window's budget completes: the parts already answered are
    not asked again (no livelock); a 429 on the first part fails at once (transient)."""
    asked: list[str] = []
    refusals = {"p1000": 2}  # the second part is refused twice, then answered
    waits: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        first = json.loads(request.content)["person_ids"][0]
        asked.append(first)
        if refusals.get(first, 0) > 0:
            refusals[first] -= 1
            return httpx.Response(429, headers={"Retry-After": "7"})
        body = json.loads(request.content)
        return httpx.Response(200, json={"subjects": {p: f"s-{p}" for p in body["person_ids"]}})

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = VaultClient(BASE, SecretStr("k"), transport=httpx.MockTransport(handle), sleep=sleep)
    people = [f"p{n:04d}" for n in range(2500)]
    found = await client.subjects(people)
    assert len(found) == 2500
    assert asked == ["p0000", "p1000", "p1000", "p1000", "p2000"]
    assert waits == [7.0, 7.0]
    refusals["p0000"] = 1
    asked.clear()
    with pytest.raises(VaultUnavailableError) as error:
        await client.subjects(people[:10])
    assert is_transient(error.value) and asked == ["p0000"]
    await client.aclose()


async def test_a_resumed_call_waits_at_most_its_bound_then_fails_transiently() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["person_ids"][0] == "p0000":
            return httpx.Response(200, json={"conflicts": []})
        return httpx.Response(429, headers={"Retry-After": "30"})

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = VaultClient(
        BASE,
        SecretStr("k"),
        transport=httpx.MockTransport(handle),
        sleep=sleep,
        max_wait_seconds=50,
    )
    with pytest.raises(VaultUnavailableError):
        await client.conflicts("s-1", [f"p{n:04d}" for n in range(600)])
    assert waits == [30.0, 20.0]
    await client.aclose()


async def test_a_check_in_service_without_dated_lookups_is_asked_as_before_not_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An upgrade in progress: the check-in service does not know produced_at yet (422, its
    # models forbid unknown fields). Failing the batch would hold back crisis signals; the
    # lookup is asked again without the dates, as before decision 86.
    bodies: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if "produced_at" in body:
            return httpx.Response(422, json={"detail": [{"loc": ["body", "produced_at"]}]})
        return httpx.Response(200, json={"subjects": {p: f"s-{p}" for p in body["person_ids"]}})

    client = vault(httpx.MockTransport(handle))
    when = datetime(2026, 11, 30, 9, tzinfo=UTC)
    with caplog.at_level("WARNING", logger="kinship_runtime.vault"):
        for _ in range(2):
            answer = await client.subjects_as_of(["ann", "bob"], {"ann": when}, purpose="signals")
            assert answer.subjects == {"ann": "s-ann", "bob": "s-bob"} and not answer.refused
    assert ["produced_at" in body for body in bodies] == [True, False, True, False]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "upgrade it" in warnings[0] and "ann" not in warnings[0]
    # Any other refusal still fails, with what to do.
    undated = vault(httpx.MockTransport(lambda request: httpx.Response(422, json={})))
    with pytest.raises(VaultRefusedError, match="Upgrade the check-in service first"):
        await undated.subjects(["ann"])
    await client.aclose()
    await undated.aclose()
