"""The escalation service's secrets: each its own, a development value only in the dev profile,
nothing derived from another key; and tokens kept out of the access log."""

import base64
from typing import Any

import pytest
from pydantic import SecretStr

from kinship_escalation.composition import create_app
from kinship_escalation.domain.sealing import CaseNoteCipher, NoteKeyUnknownError
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.settings import DEV_CREDENTIALS, DEV_NOTE_KEY
from tests.unit.fakes.settings import strong_secrets

LINK = "a-link-secret-for-this-purpose-only-0123"
GRANT = "a-grant-key-shared-with-check-in-01234567"
SIGNING = "a-request-signing-key-for-notifications-0"
VAULT_KEY = "escalation-key-for-the-check-in-vault-0123"
NOTE_KEY = base64.b64encode(b"a-case-note-master-key-32-bytes!").decode()


def production(**secrets: str) -> EscalationSettings:
    fields: dict[str, Any] = strong_secrets(EscalationSettings, without=tuple(secrets))
    fields["case_note_keys"] = SecretStr(f"k1:{NOTE_KEY}")  # a 'key_id:base64' table
    fields.update({name: SecretStr(value) for name, value in secrets.items()})
    return EscalationSettings(env="production", **fields)


def test_the_dev_profile_uses_the_published_development_secrets() -> None:
    settings = EscalationSettings(env="dev")
    assert settings.ack_link_secret() == DEV_CREDENTIALS["KINSHIP_LINK_SECRET"].encode()
    assert settings.grant_signing_key() == DEV_CREDENTIALS["KINSHIP_GRANT_KEY"].encode()
    assert (
        settings.request_signature_key() == DEV_CREDENTIALS["KINSHIP_REQUEST_SIGNING_KEY"].encode()
    )


@pytest.mark.parametrize(
    "name",
    [
        "link_secret",
        "grant_key",
        "request_signing_key",
        "checkin_api_key",
        "dead_letter_key",
        "case_note_keys",
    ],
)
def test_outside_dev_the_service_does_not_even_configure_without_each_secret(name: str) -> None:
    # The pseudonym key used to stand in for the link secret: nothing derives from another key.
    fields = strong_secrets(EscalationSettings, without=(name,))
    with pytest.raises(ValueError, match=f"KINSHIP_{name.upper()} is required"):
        EscalationSettings(env="production", **fields)


def test_outside_dev_each_secret_is_its_own_configured_value() -> None:
    configured = production(link_secret=LINK, grant_key=GRANT, request_signing_key=SIGNING)
    assert configured.ack_link_secret() == LINK.encode()
    assert configured.grant_signing_key() == GRANT.encode()
    assert configured.request_signature_key() == SIGNING.encode()


@pytest.mark.parametrize("name", ["link_secret", "grant_key", "request_signing_key"])
def test_outside_dev_short_or_development_secrets_are_refused(name: str) -> None:
    # (the validator's error comes wrapped in pydantic's ValidationError, a ValueError)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        production(**{name: "too-short"})
    variable = f"KINSHIP_{name.upper()}"
    with pytest.raises(ValueError, match="published development value"):
        production(**{name: DEV_CREDENTIALS[variable]})


def test_the_service_starts_with_its_secrets_and_a_development_one_stops_it() -> None:
    assert create_app(production(link_secret=LINK, checkin_api_key=VAULT_KEY)) is not None
    with pytest.raises(ValueError, match="KINSHIP_LINK_SECRET is the local stack's"):
        create_app(production(link_secret=DEV_CREDENTIALS["KINSHIP_LINK_SECRET"]))


def test_case_note_keys_have_a_development_value_and_only_a_real_one_outside_dev() -> None:
    table, active = EscalationSettings(env="dev").case_note_key_table()
    assert table == {"dev1": base64.b64decode(DEV_CREDENTIALS["KINSHIP_NOTE_KEYS"][5:])}
    assert active == "dev1"
    with pytest.raises(ValueError, match="published development value"):
        production(case_note_keys=DEV_CREDENTIALS["KINSHIP_NOTE_KEYS"])
    (key,) = production().case_note_key_table()[0].values()
    assert key == b"a-case-note-master-key-32-bytes!"


@pytest.mark.parametrize(
    ("case_note_keys", "named"),
    [
        (f"k9:{DEV_NOTE_KEY}", "k9"),  # the published key under another id
        (f"dev1:{DEV_NOTE_KEY},k1:{NOTE_KEY}", "dev1"),  # kept in a rotation list
        (f"k1:{NOTE_KEY},old:{DEV_NOTE_KEY}", "old"),
    ],
)
def test_the_published_note_key_is_refused_under_any_id_and_in_any_list(
    case_note_keys: str, named: str
) -> None:
    with pytest.raises(ValueError, match=f"CASE_NOTE_KEYS: the key '{named}' is the local"):
        production(case_note_keys=case_note_keys)
    dev = EscalationSettings(env="dev", case_note_keys=SecretStr(f"k9:{DEV_NOTE_KEY}"))
    assert dev.case_note_key_table()[0] == {"k9": base64.b64decode(DEV_NOTE_KEY)}


def test_case_note_keys_rotate_by_id_and_errors_name_the_entry_never_the_key() -> None:
    old = base64.b64encode(b"an-older-case-note-key-32-bytes!").decode()
    settings = production(case_note_keys=f"old:{old},new:{NOTE_KEY}")
    with pytest.raises(ValueError, match="KINSHIP_CASE_NOTE_KEY_ID"):
        settings.case_note_key_table()  # two keys: which wraps new data keys must be said
    rotated = settings.model_copy(update={"case_note_key_id": "new"})
    table, active = rotated.case_note_key_table()
    assert (sorted(table), active) == (["new", "old"], "new")
    short = base64.b64encode(b"sixteen-bytes-ok").decode()
    half = production(case_note_keys=f"a-key-of-sixteen-bytes:{short}")
    with pytest.raises(ValueError, match="'a-key-of-sixteen-bytes' must be 32 bytes") as refused:
        half.case_note_key_table()
    assert short not in str(refused.value)


def test_a_subject_key_wrapped_by_an_old_master_key_still_opens_and_can_be_rewrapped() -> None:
    old = b"an-older-case-note-key-32-bytes!"
    before = CaseNoteCipher({"old": old}, "old")
    key = before.new_subject_key("s-1")
    sealed = before.seal("a note", "n-1", "k-1", key, "s-1")
    after = CaseNoteCipher({"old": old, "new": b"a-case-note-master-key-32-bytes!"}, "new")
    assert after.open(sealed, "n-1", "k-1", key, "s-1") == "a note"
    rewrapped = after.rewrap(key, "s-1")
    assert rewrapped.master_key_id == "new"
    assert after.open(sealed, "n-1", "k-1", rewrapped, "s-1") == "a note"
    with pytest.raises(NoteKeyUnknownError):
        CaseNoteCipher({"new": b"a-case-note-master-key-32-bytes!"}, "new").open(
            sealed, "n-1", "k-1", key, "s-1"
        )
