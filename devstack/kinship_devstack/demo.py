"""The demo scenario: a demo organisation checks in, and the platform is shown live.

All four services run. The demo plays a webhook receiver and an SMTP server (aiosmtpd) for
everyone on loopback, so alerts and celebrations really arrive (signed webhooks, email) and
alerts are acknowledged through their links. The scenario: ordinary check-ins (HTTP and
Kafka, one malformed), a worrying trend, a self-referral, a critical incident on a team, a
check-in showing immediate risk that escalates until a responder takes it, kudos, and the
programme report (its chart goes to ``.kinship/stack/programme-report.svg``). A summary ends
it. Names are printed only for staff: never who is in distress, never anyone's answers.
"""

import asyncio
import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kinship_devstack.keycloak import local_keycloak
from kinship_devstack.receiver import Delivery, DemoMailbox, DemoReceiver
from kinship_runtime.settings import DEV_CREDENTIALS

CHECKIN_URL = "http://127.0.0.1:8001"
ESCALATION_URL = "http://127.0.0.1:8002"
RECOGNITION_URL = "http://127.0.0.1:8004"
STATE = Path(os.environ.get("KINSHIP_STATE_DIR", ".kinship/stack"))
CHART = STATE / "programme-report.svg"
DEMO_POLICY = {
    "steps": [
        {"target": "responders", "timeout_seconds": 10},
        {"target": "responders", "timeout_seconds": 10},
        {"target": "coordinators", "timeout_seconds": 15},
    ],
    "contact_timeout_seconds": 3600,
    # When every step is spent, coordinators are paged as "unanswered" at this interval
    # until someone takes the case (900 s outside the demo).
    "unanswered_interval_seconds": 10,
}
SUPPORT_POLICY = {
    "team_id": "support",
    "steps": [
        {"targets": [{"kind": "schedule", "schedule": "care-week"}], "timeout_seconds": 10},
        {"targets": [{"kind": "responders"}], "timeout_seconds": 10},
    ],  # then the coordinators, the step every policy ends with
    "contact_timeout_seconds": 3600,
    "unanswered_interval_seconds": 10,
}
"""The support team's cases page whoever is on call in the care schedule first."""
SILENT_RULE = "sustained_decline"
"""The demo's responders never answer cases this rule opened: the case shows escalation to
the coordinators, then the "unanswered" page a coordinator answers."""
BOOTSTRAP = "127.0.0.1:19092"
AUTH = {"Authorization": "Bearer kinship-dev-key"}
# New people in distress each run: a case stays open until resolved, so re-running the demo
# on the same stack would otherwise only add evidence to the last run's cases.
RUN = uuid.uuid4().hex[:6]
TRENDING, SELF_REFERRAL, CRISIS = f"dev-{RUN}", f"eli-{RUN}", f"fay-{RUN}"
THANKED = f"gus-{RUN}"  # new each run: messages to one person are capped per day
TEAM = [
    ("ada", "platform"),
    ("ben", "platform"),
    ("cleo", "platform"),
    (TRENDING, "platform"),
    (SELF_REFERRAL, "platform"),
    (CRISIS, "support"),
    (THANKED, "care"),
]
STAFF = [
    ("rosa", "care", ["peer_responder"], "webhook"),
    ("sam", "care", ["peer_responder"], "email"),
    ("cora", "care", ["coordinator"], "webhook"),
    ("mia", "platform", ["team_manager"], "webhook"),
    ("theo", "care", ["team_manager"], "webhook"),
]
STAFF_NAMES = {name for name, _team, _roles, _channel in STAFF}
T = TypeVar("T")


def as_person(person_id: str) -> dict[str, str]:
    """The bearer header of a signed-in member of staff.

    People sign in at Keycloak (the console); the demo, which plays them, signs their tokens
    with the local stack's development secret (``KINSHIP_JWT_SECRET``, refused outside
    ``KINSHIP_ENV=dev``) under Keycloak's issuer, and the services take the person from the
    ``person_id`` claim as they do for Keycloak's tokens. Roles come from the directory.
    """
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": local_keycloak(STATE).issuer,
        "aud": "kinship",
        "sub": f"demo-{person_id}",
        "person_id": person_id,
        "iat": now,
        "exp": now + 600,
    }
    secret = os.environ.get("KINSHIP_JWT_SECRET", DEV_CREDENTIALS["KINSHIP_JWT_SECRET"])
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


def _checkin(person: str, at: datetime | None = None, **answers: object) -> dict[str, object]:
    return {
        "id": f"demo-{uuid.uuid4().hex[:12]}",
        "person_id": person,
        "occurred_at": (at or datetime.now(UTC)).isoformat(),
        "source": "kinship-demo",
        **answers,
    }


def _kudos_body(sender: str, to: str, message: str) -> dict[str, object]:
    return {
        "id": f"demo-kudos-{uuid.uuid4().hex[:12]}",
        "from_person_id": sender,
        "to_person_id": to,
        "message": message,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "kinship-demo",
    }


class Live:
    """Follows the platform while the scenario plays: prints case transitions and every
    delivery as they happen, acknowledges alerts the way the scenario wants, and keeps the
    tallies for the summary."""

    def __init__(self, cases: AIOKafkaConsumer, receiver: DemoReceiver) -> None:
        self._cases = cases
        self._receiver = receiver
        self._loop = asyncio.get_running_loop()
        self.started = self._loop.time()
        self.transitions: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self.acknowledged: list[dict[str, Any]] = []
        self.ignore_next_first_step = False
        self.silent_rules: set[str] = set()
        self._celebrated: Counter[str] = Counter()
        self.first_alert_seconds: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._acks: set[asyncio.Task[None]] = set()

    def since(self) -> str:
        return f"[{self._loop.time() - self.started:5.1f}s]"

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait(self, found: Callable[[], T | None], timeout: float = 30) -> T | None:
        """Until ``found`` returns something (or the timeout passes)."""
        deadline = self._loop.time() + timeout
        while self._loop.time() < deadline:
            if (value := found()) is not None:
                return value
            await asyncio.sleep(0.1)
        return None

    def case_of(self, rule: str) -> str | None:
        """The newest case opened by ``rule``."""
        for event in reversed(self.transitions):
            if event.get("kind") == "opened" and rule in event.get("rules", []):
                return str(event["case_id"])
        return None

    def alerts_for(self, case_id: str) -> list[Delivery]:
        """The alerts delivered for a case, in order of arrival."""
        return [d for d in self.deliveries if d.kind == "alert" and _alert(d)["case_id"] == case_id]

    def state_of(self, case_id: str, kind: str) -> dict[str, Any] | None:
        for event in self.transitions:
            if event.get("case_id") == case_id and event.get("kind") == kind:
                return event
        return None

    async def _follow(self) -> None:
        while True:
            batch = await self._cases.getmany(timeout_ms=100)
            for records in batch.values():
                for record in records:
                    self._transition(json.loads(record.value))
            while not self._receiver.arrived.empty():
                await self._delivered(self._receiver.arrived.get_nowait())

    def _transition(self, event: dict[str, Any]) -> None:
        if "sequence" not in event:  # a group-session proposal
            print(
                f"   {self.since()} {event['kind']} offered to team {event['team_id']}'s "
                f"coordinators ({event['reason']}), by {event['offer_by'][11:16]} UTC"
            )
            return
        self.transitions.append(event)
        kind = event["kind"]
        if kind in ("opened", "escalated", "unanswered", "acknowledged", "resolved"):
            detail = {
                "opened": f"{', '.join(event['rules'])} (severity {event['severity']})",
                "escalated": f"to step {event.get('step')}: nobody answered in time",
                "unanswered": "every step spent: coordinators are paged until someone takes it",
                "acknowledged": f"by {event.get('responder_id')}",
                "resolved": f"{event.get('outcome')}",
            }[kind]
            print(f"   {self.since()} case {event['case_id'][:8]}… {kind}: {detail}")

    async def _delivered(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        how = "email" if delivery.channel == "email" else "webhook"
        check = ""
        if delivery.channel == "webhook":
            check = " (signed)" if delivery.signed else " (BAD SIGNATURE)"
        if delivery.kind == "alert":
            alert = _alert(delivery)
            step = alert.get("step", "?")
            print(
                f"   {self.since()} {how} -> {delivery.recipient}: ALERT step {step}, case "
                f"{str(alert.get('case_id', ''))[:8]}…{check}"
            )
            if self.ignore_next_first_step and step == 1:
                self.ignore_next_first_step = False
                print(f"   {self.since()} {delivery.recipient} does not answer…")
                return
            if self._stays_silent(str(alert.get("case_id", "")), delivery.recipient):
                who = delivery.recipient if delivery.recipient in STAFF_NAMES else "the responder"
                print(f"   {self.since()} {who} does not answer…")
                return
            if alert.get("ack_url"):
                task = asyncio.create_task(
                    self._acknowledge(delivery.recipient, str(alert["ack_url"]))
                )
                self._acks.add(task)
                task.add_done_callback(self._acks.discard)
        elif delivery.kind == "celebration":
            lines = str(delivery.body.get("text", "")).strip().splitlines()
            words = lines[0] if lines else ""
            self._celebrated[words] += 1
            if delivery.recipient == THANKED:
                print(f"   {self.since()} {how} -> gus: celebration {words!r}{check}")
            elif self._celebrated[words] == 1:  # a team's members get the same words
                print(f"   {self.since()} {how} -> team members: celebration {words!r}{check}")
        elif delivery.recipient in STAFF_NAMES:
            print(f"   {self.since()} {how} -> {delivery.recipient}: {delivery.kind}{check}")
        else:
            # Messages to a person being supported: never name them next to their distress.
            print(f"   {self.since()} {how} -> the person: {delivery.kind}{check}")

    def _stays_silent(self, case_id: str, recipient: str) -> bool:
        """Whether this alert goes unanswered: a silent rule's case, until coordinators are
        paged as unanswered (then the coordinator takes it)."""
        opened = self.state_of(case_id, "opened")
        if opened is None or not self.silent_rules & set(opened.get("rules", [])):
            return False
        coordinator = recipient in {n for n, _t, roles, _c in STAFF if "coordinator" in roles}
        return not (coordinator and self.state_of(case_id, "unanswered") is not None)

    async def _acknowledge(self, responder: str, url: str) -> None:
        await asyncio.sleep(1)  # the responder reads the alert
        async with httpx.AsyncClient() as client:
            taken = await client.post(url)
        if taken.status_code == 200:
            self.acknowledged.append(taken.json())
            print(f"   {self.since()} {responder} follows the alert's link and takes the case")


def _alert(delivery: Delivery) -> dict[str, Any]:
    """The alert a delivery carries: the webhook's body, or what the email says."""
    if "case_id" in delivery.body:
        return delivery.body
    text = str(delivery.body.get("text", ""))
    link = re.search(r"Take the case: (\S+)", text)
    case = re.search(r"Case (\S+), opened", text)
    step = re.search(r"step (\d+)", str(delivery.body.get("subject", "")))
    return {
        "case_id": case.group(1) if case else "",
        "step": int(step.group(1)) if step else 0,
        "ack_url": link.group(1) if link else None,
    }


async def main() -> None:
    """Seed the directory, play the scenario, and show what happens."""
    secret = os.environ.get("KINSHIP_WEBHOOK_SECRET", "kinship-dev-secret").encode()
    receiver = DemoReceiver(secret)
    await receiver.start()
    mailbox = DemoMailbox(receiver)
    mailbox.start()
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    await producer.start()
    recorded = AIOKafkaConsumer(
        "wellbeing.checkins.recorded",
        "wellbeing.checkins.submitted.dlq",
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="latest",
    )
    cases = AIOKafkaConsumer(
        "escalation.cases",
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="latest",
        group_id=f"kinship-demo-{RUN}",
    )
    await recorded.start()
    await cases.start()
    await asyncio.sleep(1)
    live = Live(cases, receiver)
    live.start()
    try:
        await _organisation(producer, receiver, mailbox)
        await _ordinary_checkins(producer, recorded)
        await _worrying_trend(live)
        await _self_referral(live)
        await _critical_incident(producer, live)
        await _immediate_risk(live)
        await _kudos(producer, live)
        await _report()
        _summary(live)
    finally:
        await live.stop()
        await cases.stop()
        await recorded.stop()
        await producer.stop()
        mailbox.stop()
        await receiver.stop()
    print("done. `make down` stops the stack; logs are under .kinship/stack/logs/")


async def _organisation(
    producer: AIOKafkaProducer, receiver: DemoReceiver, mailbox: DemoMailbox
) -> None:
    print(
        "1. a demo organisation: three teams, two peer responders (webhook, email), a "
        "coordinator, two team managers"
    )
    people: list[tuple[str, str, list[str], str]] = [(p, t, [], "webhook") for p, t in TEAM]
    people += STAFF
    for person, team, roles, channel in people:
        address = receiver.url(person) if channel == "webhook" else f"{person}@example.org"
        channels = {channel: address}
        if not roles:  # employees: messages to their webhook; a responder may email them
            channels["email"] = f"{person}@example.org"
        record = {
            "person_id": person,
            "display_name": person.split("-")[0].title(),
            "team_id": team,
            "timezone": "Europe/London",
            "roles": roles,
            "channels": channels,
            "active": True,
        }
        await producer.send_and_wait(
            "directory.people", json.dumps(record).encode(), key=person.encode()
        )
    print(f"   webhooks on {receiver.url('<person>')}, email to smtp://127.0.0.1:{mailbox.port}")
    await asyncio.sleep(1)
    print("   a coordinator sets a demo escalation policy: 10 s per responder step")
    async with httpx.AsyncClient(base_url=ESCALATION_URL, headers=as_person("cora")) as coordinator:
        set_policy = await coordinator.put("/v1/policies/default", json=DEMO_POLICY)
    print(f"   cora (coordinator) PUT /v1/policies/default -> {set_policy.status_code}")
    await _on_call()


async def _on_call() -> None:
    """A weekly schedule of the two responders and a policy for the support team that pages
    whoever is on call first; then who is on call now."""
    print("   cora sets up on-call: a weekly care schedule, and a policy for the support team")
    monday = date.today() - timedelta(days=date.today().weekday())
    schedule = {
        "time_zone": "Europe/London",
        "layers": [
            {
                "name": "weekly",
                "participants": ["rosa", "sam"],
                "rotation": {"every": 1, "unit": "weeks"},
                "handoff_time": "09:00",
                "start_date": monday.isoformat(),
            }
        ],
    }
    async with httpx.AsyncClient(base_url=ESCALATION_URL, headers=as_person("cora")) as cora:
        saved = await cora.put("/v1/schedules/care-week", json=schedule)
        print(f"   cora PUT /v1/schedules/care-week -> {saved.status_code}")
        team = await cora.put("/v1/policies/support-team", json=SUPPORT_POLICY)
        print(f"   cora PUT /v1/policies/support-team (on call first) -> {team.status_code}")
        now = await cora.get("/v1/oncall/now")
    for found in now.json().get("schedules", []) if now.status_code == 200 else []:
        on_call = _staff_name((found.get("on_call") or {}).get("person_id"))
        following = ", ".join(_staff_name(p) for p in found.get("next_on_call", [])) or "nobody"
        print(f"   on call now in {found['schedule']}: {on_call}; next: {following}")


def _staff_name(person_id: object) -> str:
    """A demo staff member's id as printed; anyone else (never expected: schedules name only
    staff) stays unnamed, as the demo never prints who a person outside its staff is."""
    if person_id is None:
        return "nobody"
    return str(person_id) if person_id in STAFF_NAMES else "someone"


async def _ordinary_checkins(producer: AIOKafkaProducer, recorded: AIOKafkaConsumer) -> None:
    async with httpx.AsyncClient(base_url=CHECKIN_URL, headers=AUTH) as client:
        print("2. ordinary check-ins over HTTP (mood, WHO-5, a private note), this week and last")
        statuses = []
        last_week = datetime.now(UTC) - timedelta(days=7)
        for person, _team in TEAM[:5]:
            for at in (None, last_week):
                response = await client.post(
                    "/v1/checkins",
                    json=_checkin(person, at, mood=4, who5=[3, 3, 4, 3, 3], note="a private note"),
                )
                statuses.append(f"{response.status_code} {response.json()['status']}")
        # Who checked in, and what they answered, is never printed: counts only.
        print(f"   {len(statuses)} check-ins: {', '.join(sorted(set(statuses)))}")
        print("   a chat bot publishes to Kafka: one valid check-in and one malformed")
        for person, mood in (("ada", 3), ("ben", 9)):
            await producer.send_and_wait(
                "wellbeing.checkins.submitted",
                json.dumps(_checkin(person, mood=mood)).encode(),
                key=person.encode(),
            )
        print("   what other services see (pseudonymous, no notes):")
        seen, shown = 0, 0
        deadline = asyncio.get_running_loop().time() + 15
        while seen < 12 and asyncio.get_running_loop().time() < deadline:
            batch = await recorded.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    seen += 1
                    if record.topic.endswith(".dlq"):
                        reason = dict(record.headers)["kinship-dlq-reason"].decode()
                        print(f"   dead letter: {reason}")
                    elif shown < 2:
                        shown += 1
                        event = json.loads(record.value)
                        # The shape of the event: never its answers, scores or ids.
                        print(
                            "   recorded: a subject id (a pseudonym, not the person id), team "
                            f"{event.get('team_id')}, derived scores {sorted(event['scores'])}, "
                            "note text on Kafka: none"
                        )
    # Trends are for a team's manager and coordinators, over weeks that have ended (k >= 5).
    async with httpx.AsyncClient(base_url=CHECKIN_URL, headers=as_person("mia")) as manager:
        trend = (await manager.get("/v1/teams/platform/trends")).json()
        print(f"   mia (manager of 'platform') reads its trend (k >= 5): {trend['message']}")
        other = await manager.get("/v1/teams/support/trends")
        print(f"   mia asks for team 'support' -> {other.status_code} (not her team)")


async def _worrying_trend(live: Live) -> None:
    print("3. a colleague's check-ins show a worrying trend (low mood three times running)")
    print("   this time no responder answers: watch it escalate to the coordinators")
    live.silent_rules.add(SILENT_RULE)
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=CHECKIN_URL, headers=AUTH) as client:
        for days in (2, 1, 0):
            at = now - timedelta(days=days, minutes=1)
            await client.post("/v1/checkins", json=_checkin(TRENDING, at, mood=2))
    case = await live.wait(lambda: live.case_of(SILENT_RULE))
    if case is None:
        print("   (no case within 30 s: see `make status` and the logs)")
        return
    taken = await live.wait(lambda: live.state_of(case, "acknowledged"), timeout=120)
    if taken is None:
        print("   (nobody took the case within two minutes: see `make status` and the logs)")


async def _self_referral(live: Live) -> None:
    print("4. a colleague asks for someone to reach out (a self-referral)")
    async with httpx.AsyncClient(base_url=CHECKIN_URL, headers=AUTH) as client:
        await client.post("/v1/checkins", json=_checkin(SELF_REFERRAL, mood=3, wants_contact=True))
    case = await live.wait(lambda: live.case_of("self_referral"))
    if case is not None:
        await live.wait(lambda: live.state_of(case, "acknowledged"))


async def _critical_incident(producer: AIOKafkaProducer, live: Live) -> None:
    print("5. incident tooling reports a critical incident on team 'platform'")
    signal = {
        "id": f"demo-incident-{RUN}",
        "team_id": "platform",
        "kind": "critical_incident",
        "severity": 5,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "incident-tool",
    }
    await producer.send_and_wait(
        "wellbeing.signals.submitted", json.dumps(signal).encode(), key=b"platform"
    )
    await live.wait(
        lambda: next((d for d in live.deliveries if d.kind == "group_session_offer"), None), 15
    )


async def _immediate_risk(live: Live) -> None:
    print("6. a check-in showing immediate risk: crisis resources come back at once")
    print("   (the person is in the support team: its policy pages who is on call in care-week)")
    live.ignore_next_first_step = True  # the first responder paged will not answer
    async with httpx.AsyncClient(base_url=CHECKIN_URL, headers=AUTH) as client:
        response = await client.post(
            "/v1/checkins",
            json=_checkin(CRISIS, mood=1, phq9=[2, 2, 1, 1, 1, 1, 1, 1, 1], wants_contact=True),
        )
    for resource in response.json().get("immediate_support", []):
        print(f"   - {resource['name']}: {resource['contact']}")
    submitted = asyncio.get_running_loop().time()
    case = await live.wait(lambda: live.case_of("immediate_risk"))
    if case is None:
        print("   (no case within 30 s: see `make status` and the logs)")
        return
    first = await live.wait(lambda: next(iter(live.alerts_for(case)), None))
    if first is not None:
        live.first_alert_seconds = first.at - submitted
    taken = await live.wait(lambda: live.state_of(case, "acknowledged"), timeout=60)
    if taken is None:
        print("   (no acknowledgement within a minute: see `make status` and the logs)")
        return
    responder = taken["responder_id"]
    await _reveal(responder, case)
    async with httpx.AsyncClient(base_url=ESCALATION_URL, headers=as_person(responder)) as client:
        contact = await client.post(f"/v1/cases/{case}/contact", json={"channel": "phone"})
        print(f"   {responder} records the first contact (by phone) -> {contact.status_code}")
        note = await client.post(
            f"/v1/cases/{case}/notes", json={"text": "Talked; will call again tomorrow."}
        )
        print(f"   {responder} writes a private case note (sealed) -> {note.status_code}")
        await client.post(f"/v1/cases/{case}/resolve", json={"outcome": "supported"})
    await live.wait(lambda: live.state_of(case, "resolved"), 10)
    print(f"   {responder} reached the person; feedback is requested, a follow-up set for 72 h")


async def _reveal(responder: str, case: str) -> None:
    """The assigned responder learns who the person is: a grant from escalation, turned into
    a name by the check-in service (audited). The demo never prints it."""
    async with httpx.AsyncClient(headers=as_person(responder)) as client:
        granted = await client.post(f"{ESCALATION_URL}/v1/cases/{case}/reveal-grant")
        if granted.status_code != 200:
            print(f"   (no reveal grant: {granted.status_code})")
            return
        revealed = await client.post(
            f"{CHECKIN_URL}/v1/reveal", json={"grant": granted.json()["grant"]}
        )
    if revealed.status_code == 200:
        person = revealed.json()
        print(
            f"   {responder} reveals who the person is: a name, a way to reach them "
            f"({', '.join(sorted(person['channels'])) or 'none given'}) and a time zone "
            "(not printed here; audited)"
        )
    else:
        print(f"   (reveal refused: {revealed.status_code})")
    other = "sam" if responder != "sam" else "rosa"
    async with httpx.AsyncClient(headers=as_person(other)) as client:
        refused = await client.post(f"{ESCALATION_URL}/v1/cases/{case}/reveal-grant")
    print(f"   {other}, not assigned, asks for a grant -> {refused.status_code}")


async def _kudos(producer: AIOKafkaProducer, live: Live) -> None:
    print("7. kudos for gus: ada over HTTP, ben over Kafka (with markup, which is removed)")
    async with httpx.AsyncClient(base_url=RECOGNITION_URL, headers=AUTH) as client:
        sent = await client.post("/v1/kudos", json=_kudos_body("ada", THANKED, "Thanks for today"))
        print(f"   POST /v1/kudos -> {sent.status_code} {sent.json().get('status', sent.text)}")
    kudos = _kudos_body("ben", THANKED, "<b>You were there</b> when it mattered")
    await producer.send_and_wait(
        "recognition.kudos.submitted", json.dumps(kudos).encode(), key=THANKED.encode()
    )

    def both() -> int | None:
        got = [d for d in live.deliveries if d.kind == "celebration" and d.recipient == THANKED]
        return len(got) if len(got) >= 2 else None

    await live.wait(both, 20)


async def _report() -> None:
    """The programme report a coordinator reads: aggregates only, every group k >= 5."""
    print("8. the programme report (coordinators): only groups of at least 5 people")
    async with httpx.AsyncClient(base_url=RECOGNITION_URL, headers=AUTH) as client:
        report = (await client.get("/v1/reports/programme", params={"weeks": 4})).json()
        week = report["weeks"][-1]
        participation = week["participation"]
        if participation is not None:
            print(
                f"   last full week: {participation['people']} of {participation['members']} "
                "people checked in (a published week never changes: the demo's backdated "
                "check-ins, recorded after it closed, are not added)"
            )
        for reason in week["withheld"]:
            print(f"   withheld: {reason}")
        chart = await client.get("/v1/reports/programme/chart.svg", params={"weeks": 4})
    CHART.parent.mkdir(parents=True, exist_ok=True)
    CHART.write_bytes(chart.content)
    print(f"   chart: {CHART} (gaps are weeks with fewer than 5 people)")


def _summary(live: Live) -> None:
    opened = Counter(e["severity"] for e in live.transitions if e["kind"] == "opened")
    escalated = sum(1 for e in live.transitions if e["kind"] == "escalated")
    alerts = [d for d in live.deliveries if d.kind == "alert"]
    kinds = Counter(d.kind for d in live.deliveries)
    unsigned = [d for d in live.deliveries if d.channel == "webhook" and not d.signed]
    print("summary")
    print(
        f"   cases opened: {dict(opened)}; escalations: {escalated}; "
        f"acknowledged through alert links: {len(live.acknowledged)}"
    )
    print(
        f"   deliveries: {dict(kinds)} ({len(alerts)} alerts), each once by delivery id; "
        f"unsigned webhooks: {len(unsigned)}"
    )
    if live.first_alert_seconds is not None:
        seconds = live.first_alert_seconds
        print(f"   immediate risk: the first alert arrived {seconds:.2f} s after the check-in")
    else:
        print("   no alert for the immediate-risk case: see `make status` and the logs")


if __name__ == "__main__":
    asyncio.run(main())
