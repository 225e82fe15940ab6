"""The vault's guarded answers: lookups, conflict screens, deliveries and reveals."""

import base64
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from kinship_checkin.domain.people import Contact, Revealed
from kinship_checkin.domain.privacy import NoteCipher
from kinship_checkin.handlers.recording import RecordingTopics, record_checkins
from kinship_checkin.handlers.reveal import PersonGoneError, RevealRefusedError, reveal
from kinship_checkin.handlers.subjects import (
    LOOKUP_EXISTING_MAX_IDS,
    LOOKUP_MAX_IDS,
    SCREEN_MAX_IDS,
    TooManyIdsError,
    lookup_subjects,
    resolve_for_delivery,
    screen,
)
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.grants import RevealGrant, sign_grant
from kinship_runtime.settings import DEV_CREDENTIALS
from tests.unit.fakes.checkin import FakeCheckinUnitOfWork, submitted
from tests.unit.fakes.settings import strong_secrets

NOTES = NoteCipher({"n1": b"n" * 32}, "n1")
GRANT_KEY = b"g" * 32
NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)
NOTE = "please call me after 6"


async def with_checkin(note: str | None = NOTE) -> FakeCheckinUnitOfWork:
    uow = FakeCheckinUnitOfWork()
    uow.contacts["ann"] = Contact("Ann Example", {"email": "ann@example.test"}, "Europe/Berlin")
    async with uow:
        await record_checkins(
            [submitted("c-1", person="ann", note=note, mood=1, wants_contact=True)],
            uow,
            NOTES,
            RecordingTopics("recorded"),
            NOW,
        )
    return uow


def grant(uow: FakeCheckinUnitOfWork, **changes: object) -> str:
    fields: dict[str, object] = {
        "case_id": "case-1",
        "subject_id": uow.vault["ann"],
        "responder_id": "resp-a",
        "note_checkin_id": "c-1",
        "issued_at": NOW,
        "expires_at": NOW + timedelta(minutes=5),
    }
    fields.update(changes)
    return sign_grant(RevealGrant.model_validate(fields), GRANT_KEY)


async def reveal_as(uow: FakeCheckinUnitOfWork, token: str, responder: str = "resp-a") -> Revealed:
    async with uow:
        return await reveal(token, responder, uow, NOTES, GRANT_KEY, NOW)


async def test_the_assigned_responder_sees_name_channels_zone_and_allowed_note() -> None:
    uow = await with_checkin()
    revealed = await reveal_as(uow, grant(uow))
    assert revealed.contact == Contact(
        "Ann Example", {"email": "ann@example.test"}, "Europe/Berlin"
    )
    assert revealed.note == NOTE
    (entry,) = uow.audits
    assert (entry.action, entry.actor, entry.case_id) == ("reveal", "person:resp-a", "case-1")
    assert entry.subject_id == uow.vault["ann"] and entry.detail == {"note": True}
    assert NOTE not in str(entry) and "Ann" not in str(entry)


async def test_a_reveal_shows_only_channels_a_human_uses_never_a_webhook_url() -> None:
    uow = await with_checkin()
    uow.contacts["ann"] = Contact(
        "Ann Example",
        {
            "webhook": "https://127.0.0.1:9/hooks/secret-token",
            "slack_webhook": "https://127.0.0.1:9/services/T0/B0/secret",
            "slack_user_id": "U0ANN",
            "email": "ann@example.test",
        },
        "Europe/Berlin",
    )
    revealed = await reveal_as(uow, grant(uow))
    assert list(revealed.contact.channels.items()) == [
        ("email", "ann@example.test"),
        ("slack_user_id", "U0ANN"),
    ]
    assert "secret" not in str(revealed)


async def test_the_note_stays_hidden_unless_the_grant_allows_it() -> None:
    uow = await with_checkin()
    revealed = await reveal_as(uow, grant(uow, note_checkin_id=None))
    assert revealed.note is None


@pytest.mark.parametrize(
    ("token_changes", "responder", "reason"),
    [
        ({}, "resp-b", "another responder"),
        ({"expires_at": NOW - timedelta(seconds=1)}, "resp-a", "expired"),
        ({"expires_at": NOW + timedelta(hours=2)}, "resp-a", "too long"),
    ],
    ids=["someone-elses-grant", "expired", "lives-too-long"],
)
async def test_a_grant_for_someone_else_or_out_of_date_reveals_nothing(
    token_changes: dict[str, object], responder: str, reason: str
) -> None:
    uow = await with_checkin()
    with pytest.raises(RevealRefusedError, match=reason):
        await reveal_as(uow, grant(uow, **token_changes), responder)
    assert uow.audits == []


async def test_a_forged_grant_reveals_nothing() -> None:
    uow = await with_checkin()
    forged = sign_grant(
        RevealGrant(
            case_id="case-1",
            subject_id=uow.vault["ann"],
            responder_id="resp-a",
            issued_at=NOW,
            expires_at=NOW + timedelta(minutes=5),
        ),
        b"not-the-grant-key-but-long-enough",
    )
    with pytest.raises(RevealRefusedError):
        await reveal_as(uow, forged)


async def test_a_responder_is_never_shown_their_own_case() -> None:
    uow = await with_checkin()
    with pytest.raises(RevealRefusedError, match="about you"):
        await reveal_as(uow, grant(uow, responder_id="ann"), responder="ann")


async def test_after_erasure_a_grant_reveals_nothing() -> None:
    uow = await with_checkin()
    token = grant(uow)
    async with uow:
        await uow.erase("ann", [uow.vault["ann"]])
    with pytest.raises(PersonGoneError):
        await reveal_as(uow, token)


ESC = "system:escalation"


async def test_lookup_is_one_way_and_stable_and_screen_finds_only_the_subject() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        first = (await lookup_subjects(["ann", "bob", "ann"], uow, actor=ESC)).subjects
        again = (await lookup_subjects(["ann"], uow, actor=ESC)).subjects
        assert first["ann"] == again["ann"] and first["ann"] != first["bob"]
        assert await screen(first["ann"], ["resp-a", "ann", "bob"], uow, actor=ESC) == ["ann"]
        assert await screen(first["ann"], ["resp-a", "new-hire"], uow, actor=ESC) == []
        assert "new-hire" not in uow.vault  # screening creates no pseudonyms


async def test_each_lookup_and_screen_leaves_one_audit_record_naming_nobody() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        found = await lookup_subjects(["ann", "bob", "ann"], uow, actor=ESC, purpose="signals")
        mine = await lookup_subjects(
            ["cat"], uow, create=False, actor="system:recognition", purpose="my_data"
        )
        conflicts = await screen(
            found.subjects["ann"], ["resp-a", "ann"], uow, actor=ESC, purpose="alert"
        )
    assert (mine.subjects, conflicts) == ({}, ["ann"])
    assert [(a.action, a.actor, a.subject_id, a.detail) for a in uow.audits] == [
        ("lookup", ESC, None, {"purpose": "signals", "count": 2, "answered": 2, "create": True}),
        (
            "lookup",
            "system:recognition",
            None,
            {"purpose": "my_data", "count": 1, "answered": 0, "create": False},
        ),
        # A screen concerns the case's subject (as a delivery resolution does); the staff
        # asked about are counted, never named.
        ("screen", ESC, found.subjects["ann"], {"purpose": "alert", "count": 2, "conflicts": 1}),
    ]
    for entry in uow.audits:
        assert not {"ann", "bob", "cat", "resp-a"} & set(map(str, entry.detail.values()))


@pytest.mark.parametrize(
    ("call", "limit"),
    [
        ("lookup", LOOKUP_MAX_IDS),
        ("lookup_existing", LOOKUP_EXISTING_MAX_IDS),
        ("screen", SCREEN_MAX_IDS),
    ],
)
async def test_a_call_over_its_cap_is_refused_before_the_vault_is_read(
    call: str, limit: int
) -> None:
    uow = FakeCheckinUnitOfWork()
    people = [f"p{n:04d}" for n in range(limit + 1)]
    async with uow:
        # At the cap it is answered...
        if call == "screen":
            await screen("s-1", people[:limit], uow, actor=ESC)
        else:
            await lookup_subjects(people[:limit], uow, create=call == "lookup", actor=ESC)
        audits, vault = len(uow.audits), dict(uow.vault)
        # ...one more (duplicates do not count) is refused, and nothing is read or made.
        with pytest.raises(TooManyIdsError, match=f"at most {limit} "):
            if call == "screen":
                await screen("s-1", [*people, people[0]], uow, actor=ESC)
            else:
                await lookup_subjects(people, uow, create=call == "lookup", actor=ESC)
    assert (len(uow.audits), uow.vault) == (audits, vault)


async def test_a_delivery_resolution_is_audited_without_naming_the_person() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        subject = (await lookup_subjects(["ann"], uow, actor=ESC)).subjects["ann"]
        assert await resolve_for_delivery(subject, "req-1", "system:notifications", uow) == "ann"
        assert await resolve_for_delivery("unknown", "req-2", "system:notifications", uow) is None
    resolutions = [a for a in uow.audits if a.action != "lookup"]
    assert [(a.action, a.actor, a.subject_id, a.detail) for a in resolutions] == [
        (
            "resolve_for_delivery",
            "system:notifications",
            subject,
            {"request_id": "req-1", "found": True},
        ),
        (
            "resolve_for_delivery",
            "system:notifications",
            "unknown",
            {"request_id": "req-2", "found": False},
        ),
    ]


def test_the_grant_key_is_required_outside_the_dev_profile() -> None:
    note_keys = SecretStr("n1:" + base64.b64encode(b"n" * 32).decode())
    others = strong_secrets(CheckinSettings, without=("grant_key",))
    with pytest.raises(ValueError, match="KINSHIP_GRANT_KEY is required"):
        CheckinSettings(env="production", note_keys=note_keys, note_key_id="n1", **others)
    configured = CheckinSettings(
        env="production",
        note_keys=note_keys,
        note_key_id="n1",
        grant_key=SecretStr("g" * 40),
        **others,
    )
    assert configured.grant_signing_key() == b"g" * 40
    dev = CheckinSettings(env="dev", note_keys=note_keys, note_key_id="n1")
    assert dev.grant_signing_key() == DEV_CREDENTIALS["KINSHIP_GRANT_KEY"].encode()


@pytest.mark.parametrize(
    "notes",
    [NoteCipher({"n2": b"m" * 32}, "n2"), NoteCipher({"n1": b"x" * 32}, "n1")],
    ids=["master-key-retired", "note-does-not-open"],
)
async def test_a_note_that_cannot_be_opened_still_reveals_the_name_and_says_so(
    notes: NoteCipher,
) -> None:
    """The responder of a possibly urgent case gets the name and contacts, and is told the
    allowed note is unreadable (audited), instead of a 500 and nothing."""
    uow = await with_checkin()
    async with uow:
        revealed = await reveal(grant(uow), "resp-a", uow, notes, GRANT_KEY, NOW)
    assert revealed.contact.display_name == "Ann Example"
    assert (revealed.note, revealed.note_unreadable) == (None, True)
    (entry,) = uow.audits
    assert entry.detail == {"note": False, "note_unreadable": True}


@pytest.mark.parametrize("blob", [b"\x00\x01\x02\x03", b""], ids=["4-bytes", "empty"])
async def test_a_truncated_note_still_reveals_the_name_and_says_so(blob: bytes) -> None:
    """A blob too short for its nonce makes AES-GCM raise ValueError: the reveal still gives
    the name and says the note is unreadable, instead of a 500."""
    uow = await with_checkin()
    stored = uow.checkins["c-1"]
    assert stored.sealed_note is not None
    uow.checkins["c-1"] = dataclasses.replace(
        stored, sealed_note=dataclasses.replace(stored.sealed_note, blob=blob)
    )
    async with uow:
        revealed = await reveal(grant(uow), "resp-a", uow, NOTES, GRANT_KEY, NOW)
    assert revealed.contact.display_name == "Ann Example"
    assert (revealed.note, revealed.note_unreadable) == (None, True)
    (entry,) = uow.audits
    assert entry.detail == {"note": False, "note_unreadable": True}
