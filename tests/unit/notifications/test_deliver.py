"""One attempt at one delivery (``handlers.deliver``), over the in-memory ports."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from kinship_contracts.directory import Channels
from kinship_contracts.links import ConsentAnswer, check_ack_token, check_consent_token
from kinship_contracts.notifications import NotificationRequest, ReminderPurpose
from kinship_notifications.domain.channels import ChannelKind, ContactMethod, contact_plan
from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.domain.links import (
    MessageLinks,
    checkin_link,
    feedback_link,
    has_token,
    without_token,
)
from kinship_notifications.domain.policy import CircuitBreaker, Preferences, RetryPolicy
from kinship_notifications.handlers.accept import accept_requests
from kinship_notifications.handlers.deliver import (
    AttemptResult,
    DeliveryTools,
    claim_due,
    deliver,
)
from tests.unit.fakes.notifications import (
    NOW,
    FakeClock,
    FakeNotificationsUnitOfWork,
    FakeSender,
    FakeTemplates,
    FakeVault,
    no_jitter,
    request,
)

HOOK = "http://127.0.0.1:9/hooks/p-1"
OTHER_HOOK = "http://127.0.0.1:9/hooks/p-2"
LEASE = timedelta(seconds=60)


@dataclass
class World:
    """The ports of one test, and the domain's breaker and retry policy."""

    uow: FakeNotificationsUnitOfWork = field(default_factory=FakeNotificationsUnitOfWork)
    sender: FakeSender = field(default_factory=FakeSender)
    templates: FakeTemplates = field(default_factory=FakeTemplates)
    clock: FakeClock = field(default_factory=FakeClock)
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(base_seconds=1.0))
    vault: FakeVault = field(default_factory=lambda: FakeVault({"s-1": "p-1"}))
    links: MessageLinks = field(default_factory=lambda: MessageLinks(b"l" * 32))

    @property
    def tools(self) -> DeliveryTools:
        return DeliveryTools(self.sender, self.templates, self.breaker, self.vault, self.links)

    async def queue(self, *requests: NotificationRequest) -> None:
        async with self.uow:
            await accept_requests([QueuedRequest(r) for r in requests], self.uow, self.clock())

    async def prefer(self, person_id: str, **preferences: Any) -> None:
        async with self.uow:
            await self.uow.save_preferences(person_id, Preferences(**preferences))

    async def attempt(self) -> list[AttemptResult]:
        """Claim what is due now and attempt each, one after the other."""
        async with self.uow:
            claimed = await claim_due(self.uow, self.clock(), 100, LEASE)
        return [
            await deliver(
                delivery,
                self.uow,
                self.tools,
                retry=self.retry,
                clock=self.clock,
                receipts_topic="receipts",
                jitter=no_jitter,
            )
            for delivery in claimed
        ]


def outcomes(results: list[AttemptResult]) -> list[tuple[str, str | None]]:
    return [(result.outcome, result.channel) for result in results]


@pytest.fixture
def world() -> World:
    world = World()
    world.uow.add_person("p-1", Channels(webhook=HOOK, email="p-1@example.org"))
    return world


# Delivered -----------------------------------------------------------------


async def test_a_message_is_sent_on_the_first_channel_and_its_receipt_queued(world: World) -> None:
    await world.queue(request("d-1"))
    (result,) = await world.attempt()
    assert result == AttemptResult("delivered", "webhook", receipt_queued=True)
    (sent,) = world.sender.calls
    assert (sent.address.target, sent.request.id) == (HOOK, "d-1")
    assert sent.rendered.subject == "checkin_reminder (en)"
    (message,) = world.uow.tables.outbox
    assert (message.topic, message.event_id, message.key) == ("receipts", "d-1:delivered", b"d-1")
    (receipt,) = world.uow.receipts()
    assert receipt["status"] == "delivered"
    assert (receipt["request_id"], receipt["channel"], receipt["attempts"]) == ("d-1", "webhook", 1)
    stored = world.uow.delivery("d-1")
    assert (stored.status, stored.person_id, stored.finished_at) == ("delivered", "p-1", NOW)
    assert stored.subject_id is None
    assert await world.attempt() == []  # nothing left to send


async def test_the_recipients_locale_and_zone_shape_the_message(world: World) -> None:
    world.uow.add_person("p-2", Channels(webhook=OTHER_HOOK), timezone="Europe/Berlin")
    await world.prefer("p-2", locale="de-DE")
    await world.queue(request("d-1", person_id="p-2"))
    await world.attempt()
    assert (world.templates.locales, world.templates.timezones) == (["de-DE"], ["Europe/Berlin"])


async def test_a_person_being_supported_is_reached_through_the_vault_and_never_stored(
    world: World,
) -> None:
    await world.prefer("p-1", locale="de", max_per_day=1)
    await world.queue(request("d-1", "crisis_resources", subject_id="s-1"))
    assert outcomes(await world.attempt()) == [("delivered", "webhook")]
    assert world.vault.calls == [("s-1", "d-1")]  # asked at delivery time, for this request
    assert world.templates.locales == ["de"]  # their preferences, read for this attempt
    stored = world.uow.delivery("d-1")
    assert (stored.subject_id, stored.person_id, stored.status) == ("s-1", None, "delivered")
    assert "p-1" not in stored.request.model_dump_json()
    (receipt,) = world.uow.receipts()
    assert "p-1" not in json.dumps(receipt)
    # Their daily limit counts deliveries to that subject id (the only link kept is none);
    # care messages neither count nor are held back.
    await world.queue(
        request("d-2", "self_care", subject_id="s-1"), request("d-3", subject_id="s-1")
    )
    assert outcomes(await world.attempt()) == [("delivered", "webhook")] * 2
    await world.queue(request("d-4", subject_id="s-1"))
    assert outcomes(await world.attempt()) == [("suppressed", None)]


async def test_a_request_naming_both_ids_is_kept_with_the_person_id_only(world: World) -> None:
    await world.queue(request("d-1", "celebration", subject_id="s-1", person_id="p-1"))
    stored = world.uow.delivery("d-1")
    assert (stored.person_id, stored.subject_id) == ("p-1", None)
    assert "s-1" not in stored.request.model_dump_json()
    assert outcomes(await world.attempt()) == [("delivered", "webhook")]
    assert world.vault.calls == []


async def test_an_unreachable_vault_leaves_the_delivery_pending_with_backoff(
    world: World,
) -> None:
    world.vault.unavailable = True
    await world.queue(request("d-1", "crisis_resources", subject_id="s-1", critical=True))
    for _ in range(8):  # more than max_attempts: waiting for the vault is not an attempt
        assert outcomes(await world.attempt()) == [("waiting", None)]
        stored = world.uow.delivery("d-1")
        assert (stored.status, stored.attempts, stored.last_error) == (
            "pending",
            0,
            "vault_unavailable",
        )
        world.clock.now = stored.next_attempt_at
    waits = [world.uow.delivery("d-1").waits]
    assert waits == [8]
    assert world.uow.tables.outbox == [] and world.sender.calls == []
    world.vault.unavailable = False
    assert outcomes(await world.attempt()) == [("delivered", "webhook")]
    assert world.uow.receipts()[0]["attempts"] == 1


async def test_waiting_for_the_vault_backs_off_exponentially(world: World) -> None:
    world.vault.unavailable = True
    await world.queue(request("d-1", "self_care", subject_id="s-1"))
    delays = []
    for _ in range(4):
        before = world.clock.now
        await world.attempt()
        delays.append(world.uow.delivery("d-1").next_attempt_at - before)
        world.clock.now = world.uow.delivery("d-1").next_attempt_at
    assert delays == [timedelta(seconds=s) for s in (1, 2, 4, 8)]


async def test_a_vault_refusing_this_service_leaves_the_delivery_pending(world: World) -> None:
    world.vault.refusing = True
    await world.queue(request("d-1", "self_care", subject_id="s-1"))
    assert outcomes(await world.attempt()) == [("waiting", None)]
    stored = world.uow.delivery("d-1")
    assert (stored.status, stored.last_error) == ("pending", "vault_refused")


async def test_an_erased_subject_fails_the_delivery_as_unknown_recipient(world: World) -> None:
    await world.queue(request("d-1", "self_care", subject_id="s-gone"))
    assert outcomes(await world.attempt()) == [("failed", None)]
    (receipt,) = world.uow.receipts()
    assert (receipt["status"], receipt["reason"]) == ("failed", "unknown_recipient")


async def test_a_delivery_finished_elsewhere_queues_no_second_receipt(world: World) -> None:
    await world.queue(request("d-1"))
    async with world.uow:
        (claimed,) = await claim_due(world.uow, NOW, 10, LEASE)
    for _ in range(2):  # e.g. a lease ran out while the first attempt was still sending
        await deliver(
            claimed,
            world.uow,
            world.tools,
            retry=world.retry,
            clock=world.clock,
            receipts_topic="receipts",
        )
    assert len(world.uow.tables.outbox) == 1


# Deferred and suppressed ---------------------------------------------------


async def test_quiet_hours_defer_a_non_critical_message_to_their_end(world: World) -> None:
    world.uow.add_person("p-1", Channels(webhook=HOOK), timezone="Europe/London")
    await world.prefer("p-1", quiet_start=time(22), quiet_end=time(7))
    await world.queue(request("d-1"))
    assert outcomes(await world.attempt()) == [("deferred", None)]
    stored = world.uow.delivery("d-1")
    assert stored.next_attempt_at == datetime(2026, 11, 25, 7, tzinfo=UTC)
    assert (stored.status, stored.attempts, stored.last_error) == ("pending", 0, "quiet_hours")
    assert stored.lease_until is None
    assert world.sender.calls == [] and world.uow.tables.outbox == []
    world.clock.now = datetime(2026, 11, 25, 7, tzinfo=UTC)
    assert outcomes(await world.attempt()) == [("delivered", "webhook")]
    assert world.uow.receipts()[0]["attempts"] == 1  # the deferral was not an attempt


async def test_messages_beyond_the_daily_limit_are_suppressed(world: World) -> None:
    await world.prefer("p-1", max_per_day=2)
    await world.queue(request("d-1"), request("d-2"))
    await world.attempt()
    world.clock.advance(hours=1)
    await world.queue(request("d-3"))
    assert outcomes(await world.attempt()) == [("suppressed", None)]
    receipt = world.uow.receipts()[-1]
    assert (receipt["status"], receipt["reason"]) == ("suppressed", "rate_limited")
    assert [sent.request.id for sent in world.sender.calls] == ["d-1", "d-2"]
    world.clock.advance(hours=24)  # the earlier two are more than a day old now
    await world.queue(request("d-4"))
    assert outcomes(await world.attempt()) == [("delivered", "webhook")]


CARE = [
    request("c-self-care", "self_care"),
    request("c-feedback", "feedback_request", params={"from": "person"}),
    request("c-follow-up", params={"purpose": "follow_up"}),
    request("c-exposure", params={"purpose": "exposure_follow_up"}),
    request("c-group", "group_session_offer"),
    request(
        "c-consent",
        "consent_request",
        params={
            "consent_id": "c-1",
            "consent_yes_url": "http://127.0.0.1:8002/v1/consents/c-1/yes",
            "consent_no_url": "http://127.0.0.1:8002/v1/consents/c-1/no",
        },
    ),
    request("c-crisis", "crisis_resources"),
]


async def test_care_messages_beyond_the_limit_are_delivered_and_do_not_use_it_up(
    world: World,
) -> None:
    await world.prefer("p-1", max_per_day=1, recognition_opt_out=True)
    await world.queue(*CARE)
    results = await world.attempt()
    assert outcomes(results) == [("delivered", "webhook")] * len(CARE)
    # Seven care messages today, and the one limited message of the day still goes ...
    await world.queue(request("d-1", params={"purpose": "overdue"}))
    assert outcomes(await world.attempt()) == [("delivered", "webhook")]
    # ... and the next is held back: only limited messages count.
    await world.queue(request("d-2", "celebration"), request("d-3"))
    assert outcomes(await world.attempt()) == [("suppressed", None)] * 2
    assert [r["reason"] for r in world.uow.receipts()[-2:]] == ["opted_out", "rate_limited"]


async def test_an_urgent_message_skips_quiet_hours_but_not_the_limit(world: World) -> None:
    await world.prefer("p-1", quiet_start=time(22), quiet_end=time(7), max_per_day=0)
    await world.queue(
        request("d-1", "alert", urgent=True),
        request("d-2", "alert"),
        request("d-3", urgent=True),
    )
    assert outcomes(await world.attempt()) == [
        ("delivered", "webhook"),
        ("deferred", None),
        ("suppressed", None),
    ]


async def test_a_celebration_to_someone_who_opted_out_is_suppressed(world: World) -> None:
    await world.prefer("p-1", recognition_opt_out=True)
    await world.queue(request("d-1", "celebration", params={"text": "Well done"}))
    assert outcomes(await world.attempt()) == [("suppressed", None)]
    (receipt,) = world.uow.receipts()
    assert (receipt["status"], receipt["reason"], receipt["attempts"]) == (
        "suppressed",
        "opted_out",
        0,
    )
    assert world.sender.calls == []


async def test_a_critical_message_ignores_quiet_hours_limits_and_opt_outs(world: World) -> None:
    await world.prefer(
        "p-1",
        quiet_start=time(0),
        quiet_end=time(23, 59),
        max_per_day=0,
        recognition_opt_out=True,
    )
    await world.queue(request("d-1", "crisis_resources", critical=True))
    assert outcomes(await world.attempt()) == [("delivered", "webhook")]


# Failed at once -------------------------------------------------------------


@pytest.mark.parametrize("known", [False, True], ids=["unknown", "inactive"])
async def test_an_unknown_or_inactive_recipient_fails_with_a_receipt(
    world: World, known: bool
) -> None:
    if known:
        world.uow.add_person("p-9", Channels(webhook=HOOK), active=False)
    await world.queue(request("d-1", person_id="p-9"))
    assert outcomes(await world.attempt()) == [("failed", None)]
    (receipt,) = world.uow.receipts()
    assert (receipt["status"], receipt["reason"], receipt["attempts"]) == (
        "failed",
        "unknown_recipient",
        0,
    )
    assert world.sender.calls == []


async def test_a_recipient_without_a_channel_fails_with_no_channel(world: World) -> None:
    world.uow.add_person("p-2", Channels())
    await world.queue(request("d-1", person_id="p-2"))
    assert outcomes(await world.attempt()) == [("failed", None)]
    (receipt,) = world.uow.receipts()
    assert (receipt["status"], receipt["reason"]) == ("failed", "no_channel")


# Retries, the last attempt, the circuit breaker ------------------------------


async def test_a_failed_send_is_retried_with_exponential_backoff(world: World) -> None:
    world.uow.add_person("p-1", Channels(webhook=HOOK))  # one way to reach them
    world.sender.fail(HOOK, "rejected_by_receiver", times=2)
    await world.queue(request("d-1"))
    assert outcomes(await world.attempt()) == [("retry", "webhook")]
    stored = world.uow.delivery("d-1")
    assert (stored.status, stored.attempts, stored.last_error) == (
        "pending",
        1,
        "rejected_by_receiver",
    )
    assert stored.next_attempt_at == NOW + timedelta(seconds=1)
    assert world.uow.tables.outbox == []
    assert await world.attempt() == []  # not due yet
    world.clock.advance(seconds=1)
    assert outcomes(await world.attempt()) == [("retry", "webhook")]
    assert stored.next_attempt_at == world.clock.now + timedelta(seconds=2)  # doubled
    world.clock.advance(seconds=2)
    assert outcomes(await world.attempt()) == [("delivered", "webhook")]
    (receipt,) = world.uow.receipts()
    assert (receipt["status"], receipt["attempts"]) == ("delivered", 3)
    assert {sent.request.id for sent in world.sender.calls} == {"d-1"}


async def test_the_last_failed_attempt_finishes_with_a_failed_receipt(world: World) -> None:
    world.uow.add_person("p-1", Channels(webhook=HOOK))  # one way to reach them
    world.retry = RetryPolicy(max_attempts=3, base_seconds=1.0)
    world.sender.fail(HOOK, "timeout")
    await world.queue(request("d-1"))
    results = []
    for _ in range(5):
        results += await world.attempt()
        world.clock.advance(seconds=10)
    assert [result.outcome for result in results] == ["retry", "retry", "failed"]
    (receipt,) = world.uow.receipts()
    assert (receipt["status"], receipt["reason"], receipt["attempts"]) == ("failed", "timeout", 3)
    assert receipt["channel"] == "webhook"
    assert len(world.sender.calls) == 3


async def test_an_open_circuit_fails_fast_without_calling_the_endpoint(world: World) -> None:
    world.uow.add_person("p-1", Channels(webhook=HOOK))  # one way to reach them
    world.breaker = CircuitBreaker(threshold=2, cool_down=timedelta(seconds=30))
    world.uow.add_person("p-2", Channels(webhook=OTHER_HOOK))
    world.sender.fail(HOOK, "rejected_by_receiver")
    await world.queue(request("d-1"), request("d-2"))
    assert [r.outcome for r in await world.attempt()] == ["retry", "retry"]  # circuit opens
    await world.queue(request("d-3"), request("d-4", person_id="p-2"))
    world.clock.advance(seconds=5)
    await world.attempt()
    assert world.uow.delivery("d-3").last_error == "circuit_open"
    assert world.uow.delivery("d-3").attempts == 1  # failing fast is an attempt too
    assert world.uow.delivery("d-4").status == "delivered"  # another endpoint is unaffected
    assert [sent.request.id for sent in world.sender.calls] == ["d-1", "d-2", "d-4"]
    world.sender.recover(HOOK)
    # 30 s after it opened (failing fast did not extend it), the endpoint is tried again.
    world.clock.advance(seconds=25)
    assert {r.outcome for r in await world.attempt()} == {"delivered"}
    assert {world.uow.delivery(d).status for d in ("d-1", "d-2", "d-3")} == {"delivered"}
    assert world.breaker.allows(HOOK, world.clock())


# Claiming ------------------------------------------------------------------


async def test_claims_take_critical_deliveries_first_up_to_the_limit(world: World) -> None:
    await world.queue(request("d-1"), request("d-2"), request("d-3", "alert", critical=True))
    async with world.uow:
        claimed = await claim_due(world.uow, NOW, 2, LEASE)
    assert [delivery.id for delivery in claimed] == ["d-3", "d-1"]


async def test_a_claimed_delivery_is_claimed_again_only_after_its_lease(world: World) -> None:
    await world.queue(request("d-1"))
    async with world.uow:
        assert len(await claim_due(world.uow, NOW, 10, LEASE)) == 1
        assert await claim_due(world.uow, NOW + LEASE / 2, 10, LEASE) == []
        (again,) = await claim_due(world.uow, NOW + LEASE, 10, LEASE)
    assert (again.id, again.attempts) == ("d-1", 0)


async def test_no_free_slot_claims_nothing_and_touches_no_storage() -> None:
    uow = FakeNotificationsUnitOfWork()  # not entered: touching it would fail the test
    assert await claim_due(uow, NOW, 0, LEASE) == []


# Failures no attempt can cure -------------------------------------------------


async def test_a_missing_template_fails_the_delivery_at_once_with_a_receipt(world: World) -> None:
    world.templates.missing.add("no_such_template")
    await world.queue(request("d-1", template="no_such_template"))
    assert outcomes(await world.attempt()) == [("failed", "webhook")]
    (receipt,) = world.uow.receipts()
    assert (receipt["status"], receipt["reason"], receipt["attempts"]) == (
        "failed",
        "template_error",
        1,
    )
    stored = world.uow.delivery("d-1")
    assert (stored.status, stored.lease_until) == ("failed", None)
    world.clock.advance(hours=2)
    assert await world.attempt() == []  # finished: never claimed (or re-leased) again
    assert world.sender.calls == []
    assert world.breaker.allows(HOOK, world.clock())  # the endpoint is not to blame


async def test_a_permanent_channel_failure_is_not_retried(world: World) -> None:
    world.uow.add_person("p-1", Channels(webhook=HOOK))  # one way to reach them
    world.sender.fail(HOOK, "refused_address", permanent=True)
    await world.queue(request("d-1"))
    assert outcomes(await world.attempt()) == [("failed", "webhook")]
    (receipt,) = world.uow.receipts()
    assert (receipt["reason"], receipt["attempts"]) == ("refused_address", 1)
    assert len(world.sender.calls) == 1


async def test_a_half_open_trial_that_fails_permanently_closes_the_circuit(world: World) -> None:
    """A permanent failure (one bad address) proves the endpoint answers: the trial ends
    there and the circuit closes, instead of every message to that endpoint (a whole mail
    domain for email) failing fast for another cool-down."""
    world.breaker = CircuitBreaker(threshold=2, cool_down=timedelta(seconds=30))
    world.uow.add_person("p-1", Channels(webhook=HOOK))
    world.sender.fail(HOOK, "timeout")
    await world.queue(request("d-1"), request("d-2"))
    assert [r.outcome for r in await world.attempt()] == ["retry", "retry"]  # circuit opens
    assert not world.breaker.allows(HOOK, world.clock())
    world.clock.advance(seconds=31)
    world.sender.fail(HOOK, "rejected_by_receiver", times=1, permanent=True)  # as SMTP 550
    results = await world.attempt()  # the trial fails permanently, the next one goes through
    assert sorted(r.outcome for r in results) == ["delivered", "failed"]
    assert world.uow.delivery("d-2").last_error != "circuit_open"
    assert world.breaker.allows(HOOK, world.clock())


async def test_a_refusal_before_anything_was_sent_leaves_the_breaker_untouched(
    world: World,
) -> None:
    """Our own refusal (a forbidden address) says nothing of the endpoint: it neither counts
    as a failure nor wipes the failures before it."""
    world.breaker = CircuitBreaker(threshold=2, cool_down=timedelta(seconds=30))
    world.uow.add_person("p-1", Channels(webhook=HOOK))
    world.sender.fail(HOOK, "timeout", times=1)
    await world.queue(request("d-1"))
    assert outcomes(await world.attempt()) == [("retry", "webhook")]  # one failure of two
    world.sender.fail(HOOK, "refused_address", times=1, permanent=True)
    await world.queue(request("d-2"))
    assert outcomes(await world.attempt()) == [("failed", "webhook")]
    assert world.breaker.allows(HOOK, world.clock())  # not counted as the second failure
    world.sender.fail(HOOK, "timeout", times=1)
    await world.queue(request("d-3"))
    assert outcomes(await world.attempt()) == [("retry", "webhook")]
    assert not world.breaker.allows(HOOK, world.clock())  # the first failure still counted


# Acknowledgement links ---------------------------------------------------------


def alert(id_: str, link: str, **alert_fields: Any) -> NotificationRequest:
    body = {
        "alert_id": f"alert-{id_}",
        "case_id": "case-1",
        "severity": "critical",
        "step": 1,
        "reason": "Immediate risk",
        "opened_at": NOW,
        "ack_url": link,
        **alert_fields,
    }
    return request(id_, "alert", critical=True, alert=body)


LINK = "http://127.0.0.1:8002/v1/alerts/alert-d-1/acknowledge"


async def test_an_alert_is_sent_with_a_token_minted_now_and_stored_without(
    world: World,
) -> None:
    await world.queue(alert("d-1", LINK))
    await world.attempt()
    (sent,) = world.sender.calls
    assert sent.request.alert is not None
    sent_link = str(sent.request.alert.ack_url)
    assert sent_link.startswith(LINK + "?token=")
    token = sent_link.split("token=", 1)[1]
    assert check_ack_token(b"l" * 32, "alert-d-1", token, NOW + timedelta(hours=23))
    assert not check_ack_token(b"l" * 32, "alert-d-1", token, NOW + timedelta(hours=24))
    assert not check_ack_token(b"l" * 32, "alert-d-2", token, NOW)
    assert sent_link in sent.rendered.text  # the template rendered the link with its token
    stored = world.uow.delivery("d-1")
    assert stored.request.alert is not None and str(stored.request.alert.ack_url) == LINK
    assert token not in repr(world.uow.tables)


async def test_an_alerts_expiry_bounds_its_token(world: World) -> None:
    await world.queue(alert("d-1", LINK, expires_at=NOW + timedelta(minutes=10)))
    await world.attempt()
    (sent,) = world.sender.calls
    assert sent.request.alert is not None
    token = str(sent.request.alert.ack_url).split("token=", 1)[1]
    assert check_ack_token(b"l" * 32, "alert-d-1", token, NOW + timedelta(minutes=9))
    assert not check_ack_token(b"l" * 32, "alert-d-1", token, NOW + timedelta(minutes=10))


async def test_each_attempt_mints_its_own_token(world: World) -> None:
    world.sender.fail(HOOK, "timeout", times=1)
    await world.queue(alert("d-1", LINK))
    await world.attempt()
    world.clock.advance(seconds=30)
    await world.attempt()
    links = [str(sent.request.alert.ack_url) for sent in world.sender.calls if sent.request.alert]
    assert len(set(links)) == 2


async def test_an_old_request_whose_link_has_a_token_is_sent_as_it_came_then_not_kept(
    world: World,
) -> None:
    old = LINK + "?token=v1.123.abc"
    await world.queue(alert("d-1", old))
    await world.attempt()
    (sent,) = world.sender.calls
    assert sent.request.alert is not None and str(sent.request.alert.ack_url) == old
    stored = world.uow.delivery("d-1").request.alert
    assert stored is not None and str(stored.ack_url) == LINK


def test_a_link_loses_only_its_token() -> None:
    assert without_token(LINK + "?token=v1.1.x") == LINK
    assert without_token(LINK + "?lang=de&token=v1.1.x") == LINK + "?lang=de"
    assert without_token(LINK) == LINK
    assert has_token(LINK + "?a=1&token=t") and not has_token(LINK + "?tokens=t")


CONSENT = "http://127.0.0.1:8002/v1/consents/c-1"


def consent(id_: str = "d-1", **params: str) -> NotificationRequest:
    fields = {
        "consent_id": "c-1",
        "consent_yes_url": f"{CONSENT}/yes",
        "consent_no_url": f"{CONSENT}/no",
    }
    return request(id_, "consent_request", subject_id="s-1", params=fields | params)


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


async def test_a_consent_question_is_sent_with_one_tap_links_minted_now_and_stored_without(
    world: World,
) -> None:
    await world.queue(consent())
    assert outcomes(await world.attempt()) == [("delivered", "webhook")]
    (sent,) = world.sender.calls
    yes, no = sent.request.params["consent_yes_url"], sent.request.params["consent_no_url"]
    assert yes.startswith(f"{CONSENT}/yes?token=") and no.startswith(f"{CONSENT}/no?token=")
    assert yes in sent.rendered.text and no in sent.rendered.text
    later = NOW + timedelta(hours=71)
    assert check_consent_token(b"l" * 32, "c-1", ConsentAnswer.YES, token_of(yes), later)
    assert check_consent_token(b"l" * 32, "c-1", ConsentAnswer.NO, token_of(no), later)
    assert not check_consent_token(b"l" * 32, "c-1", ConsentAnswer.NO, token_of(yes), NOW)
    expired = NOW + timedelta(hours=72)
    assert not check_consent_token(b"l" * 32, "c-1", ConsentAnswer.YES, token_of(yes), expired)
    # The expiry the links carry is what the message shows.
    assert sent.request.params["consent_expires_at"] == expired.isoformat()
    stored = world.uow.delivery("d-1").request.params
    assert (stored["consent_yes_url"], stored["consent_no_url"]) == (
        f"{CONSENT}/yes",
        f"{CONSENT}/no",
    )
    assert "consent_expires_at" not in stored
    assert token_of(yes) not in repr(world.uow.tables)


async def test_a_consent_questions_expiry_bounds_its_links(world: World) -> None:
    until = NOW + timedelta(hours=2)
    await world.queue(consent(consent_expires_at=until.isoformat()))
    await world.attempt()
    (sent,) = world.sender.calls
    yes = token_of(sent.request.params["consent_yes_url"])
    assert check_consent_token(b"l" * 32, "c-1", ConsentAnswer.YES, yes, until - timedelta(1))
    assert not check_consent_token(b"l" * 32, "c-1", ConsentAnswer.YES, yes, until)


@pytest.mark.parametrize(
    "broken",
    [
        {"consent_id": ""},
        {"consent_no_url": ""},
        {"consent_expires_at": "soon"},
        {"consent_expires_at": "2026-11-25T10:00:00"},  # no offset: whose 10:00?
    ],
)
async def test_a_consent_question_its_links_cannot_be_minted_for_fails_at_once(
    world: World, broken: dict[str, str]
) -> None:
    await world.queue(consent(**broken))
    assert outcomes(await world.attempt()) == [("failed", "webhook")]
    (receipt,) = world.uow.receipts()
    assert (receipt["reason"], receipt["attempts"]) == ("template_error", 1)
    assert world.sender.calls == []


@pytest.mark.parametrize(
    ("params", "link"),
    [
        ({"purpose": "follow_up"}, "http://127.0.0.1:8005/checkin"),
        ({"purpose": "overdue"}, "http://127.0.0.1:8005/checkin"),
        ({"purpose": "exposure_follow_up"}, "http://127.0.0.1:8005/checkin?instrument=who5"),
        ({"checkin_url": "http://127.0.0.1:8005/checkin?from=mail"}, None),
    ],
)
async def test_a_reminder_links_to_the_consoles_check_in_unless_it_brings_a_link(
    world: World, params: dict[str, str], link: str | None
) -> None:
    await world.queue(request("d-1", params=params))
    await world.attempt()
    (sent,) = world.sender.calls
    assert sent.request.params["checkin_url"] == (link or params["checkin_url"])
    assert sent.request.params["checkin_url"] in sent.rendered.text
    assert world.uow.delivery("d-1").request.params == params  # stored as it came


async def test_a_feedback_request_links_to_its_cases_feedback_page_unless_it_brings_a_link(
    world: World,
) -> None:
    own = "http://127.0.0.1:8005/elsewhere/k-1"
    await world.queue(
        request("d-1", "feedback_request", params={"from": "person", "case_id": "k-1"}),
        request("d-2", "feedback_request", params={"from": "responder", "case_id": "k-2"}),
        request("d-3", "feedback_request", params={"from": "person", "feedback_url": own}),
        request("d-4", "feedback_request", params={"from": "person"}),
    )
    await world.attempt()
    links = {sent.request.id: sent.request.params["feedback_url"] for sent in world.sender.calls}
    assert links == {
        "d-1": "http://127.0.0.1:8005/feedback/k-1?from=person",
        "d-2": "http://127.0.0.1:8005/feedback/k-2?from=responder",
        "d-3": own,
        "d-4": "http://127.0.0.1:8005",  # no case to rate: the console's start page
    }
    for sent in world.sender.calls:
        assert sent.request.params["feedback_url"] in sent.rendered.text
    assert "feedback_url" not in world.uow.delivery("d-1").request.params  # stored as it came


def test_the_feedback_link_quotes_the_case_and_names_only_a_known_side() -> None:
    console = "http://127.0.0.1:9005/"
    assert feedback_link(console, "k/1?x=2", "responder") == (
        "http://127.0.0.1:9005/feedback/k%2F1%3Fx%3D2?from=responder"
    )
    assert feedback_link(console, "k-1", "coordinator") == "http://127.0.0.1:9005/feedback/k-1"
    assert feedback_link(console, "k-1", None) == "http://127.0.0.1:9005/feedback/k-1"
    assert feedback_link(console, None, "person") == "http://127.0.0.1:9005"
    assert feedback_link(console, "", "person") == "http://127.0.0.1:9005"


def test_the_check_in_link_is_the_consoles_page_and_who5_after_an_incident() -> None:
    assert checkin_link("http://127.0.0.1:9005/", None) == "http://127.0.0.1:9005/checkin"
    assert checkin_link("http://127.0.0.1:9005", ReminderPurpose.EXPOSURE_FOLLOW_UP) == (
        "http://127.0.0.1:9005/checkin?instrument=who5"
    )


# Several contact methods: a failed channel falls through ------------------------------------

SLACK = "http://127.0.0.1:9/slack/p-1"
MAIL = "p-1@example.org"


async def test_without_a_choice_a_failed_channel_falls_through_to_the_next_at_once(
    world: World,
) -> None:
    world.sender.fail(HOOK, "rejected_by_receiver")
    await world.queue(request("d-1"))
    assert outcomes(await world.attempt()) == [("fell_through", "webhook")]
    stored = world.uow.delivery("d-1")
    assert (stored.method, stored.next_attempt_at, stored.attempts) == (1, NOW, 1)
    assert outcomes(await world.attempt()) == [("delivered", "email")]
    (receipt,) = world.uow.receipts()
    assert (receipt["channel"], receipt["attempts"]) == ("email", 2)
    assert [sent.address.target for sent in world.sender.calls] == [HOOK, MAIL]
    assert {sent.request.id for sent in world.sender.calls} == {"d-1"}  # one delivery id


async def test_a_chosen_later_method_waits_for_its_delay_after_the_first_try(
    world: World,
) -> None:
    world.uow.add_person("p-1", Channels(slack_webhook=SLACK, email=MAIL, webhook=HOOK))
    await world.prefer(
        "p-1",
        contact_methods=(
            ContactMethod(ChannelKind.SLACK),
            ContactMethod(ChannelKind.EMAIL, timedelta(minutes=2)),
        ),
    )
    world.sender.fail(SLACK, "timeout")
    await world.queue(request("d-1"))
    world.clock.advance(seconds=5)  # the first try happens 5 s after queueing
    assert outcomes(await world.attempt()) == [("fell_through", "slack")]
    assert world.uow.delivery("d-1").next_attempt_at == world.clock.now + timedelta(minutes=2)
    world.clock.advance(seconds=119)
    assert await world.attempt() == []  # not before its delay
    world.clock.advance(seconds=1)
    assert outcomes(await world.attempt()) == [("delivered", "email")]
    # The webhook, not chosen, would have come after email, at email's delay.
    assert [sent.address.channel for sent in world.sender.calls] == [
        ChannelKind.SLACK,
        ChannelKind.EMAIL,
    ]


async def test_when_every_method_fails_a_new_round_starts_from_the_first_with_backoff(
    world: World,
) -> None:
    world.sender.fail(HOOK, "rejected_by_receiver")
    world.sender.fail(MAIL, "timeout", times=1)
    await world.queue(request("d-1"))
    assert outcomes(await world.attempt()) == [("fell_through", "webhook")]
    assert outcomes(await world.attempt()) == [("retry", "email")]
    stored = world.uow.delivery("d-1")
    assert (stored.method, stored.attempts) == (0, 2)
    assert stored.next_attempt_at == NOW + timedelta(seconds=2)  # backoff after 2 attempts
    world.clock.advance(seconds=2)
    assert outcomes(await world.attempt()) == [("fell_through", "webhook")]
    assert outcomes(await world.attempt()) == [("delivered", "email")]


async def test_a_refused_address_falls_through_but_a_missing_template_ends_at_once(
    world: World,
) -> None:
    world.sender.fail(HOOK, "refused_address", permanent=True)
    await world.queue(request("d-1"))
    assert outcomes(await world.attempt()) == [("fell_through", "webhook")]
    assert outcomes(await world.attempt()) == [("delivered", "email")]
    world.templates.missing.add("checkin_reminder")
    await world.queue(request("d-2"))
    assert outcomes(await world.attempt()) == [("failed", "webhook")]
    assert world.uow.receipts()[-1]["reason"] == "template_error"


def test_the_plan_puts_chosen_methods_first_skips_unreachable_ones_and_keeps_the_rest() -> None:
    channels = Channels(webhook=HOOK, email=MAIL)
    plan = contact_plan(
        channels,
        (
            ContactMethod(ChannelKind.SLACK),  # no Slack address in the directory: skipped
            ContactMethod(ChannelKind.EMAIL, timedelta(minutes=1)),
        ),
    )
    assert [(p.address.channel, p.delay) for p in plan] == [
        (ChannelKind.EMAIL, timedelta(minutes=1)),
        (ChannelKind.WEBHOOK, timedelta(minutes=1)),  # never fewer ways than they have
    ]
    assert [p.address.channel for p in contact_plan(channels)] == [
        ChannelKind.WEBHOOK,
        ChannelKind.EMAIL,
    ]
    assert contact_plan(Channels()) == []
