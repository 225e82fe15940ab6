"""The check-in service's secrets outside the dev profile: the reveal-grant key, the note keys
and the vault clients' API keys are each required, and a published development value is
refused however it is given (under another key id, inside a rotation list, or as the SHA-256
of a development API key). Errors never quote a key."""

import base64
import hashlib
import json
from typing import Any

import pytest
from pydantic import SecretStr

from kinship_checkin.settings import CheckinSettings
from kinship_runtime.settings import (
    DEV_CREDENTIALS,
    DEV_NOTE_KEY,
    InsecureSettingsError,
    refuse_development_note_keys,
)
from tests.unit.fakes.settings import strong_secrets

REAL_NOTE_KEY = base64.b64encode(b"a-real-note-key-for-check-ins-32").decode()
OLD_NOTE_KEY = base64.b64encode(b"an-older-note-key-for-check-ins!").decode()
GRANT = "a-grant-key-shared-with-escalation-0123456"
DEV_API_KEY = DEV_CREDENTIALS["KINSHIP_API_KEYS key"]


def production(
    note_keys: str = f"k1:{REAL_NOTE_KEY}",
    key_id: str = "k1",
    without: tuple[str, ...] = (),
    **given: str,
) -> CheckinSettings:
    """``CheckinSettings`` outside dev with strong secrets, except those ``given`` or left
    out (``without``)."""
    fields: dict[str, Any] = strong_secrets(CheckinSettings, without=(*given, *without))
    fields.update({name: SecretStr(value) for name, value in given.items()})
    return CheckinSettings(
        env="production", note_keys=SecretStr(note_keys), note_key_id=key_id, **fields
    )


def api_keys(*entries: dict[str, Any]) -> str:
    return json.dumps([{"name": "vault", "scopes": ["subjects:lookup"], **e} for e in entries])


def test_a_real_configuration_starts_and_decodes_its_keys() -> None:
    settings = production(
        note_keys=f"old:{OLD_NOTE_KEY},k1:{REAL_NOTE_KEY}", grant_key=GRANT, key_id="k1"
    )
    assert settings.note_key_table() == {
        "old": b"an-older-note-key-for-check-ins!",
        "k1": b"a-real-note-key-for-check-ins-32",
    }
    assert settings.grant_signing_key() == GRANT.encode()


@pytest.mark.parametrize("name", ["grant_key", "api_keys", "dead_letter_key"])
def test_each_secret_is_required_outside_dev(name: str) -> None:
    with pytest.raises(ValueError, match=f"KINSHIP_{name.upper()} is required"):
        production(without=(name,))


def test_the_grant_key_is_refused_short_or_published() -> None:
    with pytest.raises(ValueError, match="KINSHIP_GRANT_KEY needs at least 32 bytes"):
        production(grant_key="short")
    with pytest.raises(ValueError, match="KINSHIP_GRANT_KEY is the local stack's published"):
        production(grant_key=DEV_CREDENTIALS["KINSHIP_GRANT_KEY"])


@pytest.mark.parametrize(
    ("note_keys", "key_id", "named"),
    [
        (DEV_CREDENTIALS["KINSHIP_NOTE_KEYS"], "dev1", None),  # as the local stack sets it
        (f"k1:{DEV_NOTE_KEY}", "k1", "k1"),  # under another id
        (f"dev1:{DEV_NOTE_KEY},k2:{REAL_NOTE_KEY}", "k2", "dev1"),  # kept in a rotation list
        (f"k2:{REAL_NOTE_KEY}, old:{DEV_NOTE_KEY}", "k2", "old"),  # spaces, second place
    ],
)
def test_the_published_note_key_is_refused_under_any_id_and_in_any_list(
    note_keys: str, key_id: str, named: str | None
) -> None:
    with pytest.raises(ValueError, match="published development") as refused:
        production(note_keys=note_keys, key_id=key_id)
    if named is not None:
        assert f"the key {named!r}" in str(refused.value)
    assert DEV_NOTE_KEY not in str(refused.value) and REAL_NOTE_KEY not in str(refused.value)


def test_the_dev_profile_keeps_the_published_note_key() -> None:
    dev = CheckinSettings(env="dev", note_keys=SecretStr(f"k1:{DEV_NOTE_KEY}"), note_key_id="k1")
    assert dev.note_key_table() == {"k1": base64.b64decode(DEV_NOTE_KEY)}


def test_a_note_key_table_that_does_not_decode_names_the_entry_never_the_key() -> None:
    short = base64.b64encode(b"sixteen-bytes-ok").decode()
    settings = production(note_keys=f"k1:{REAL_NOTE_KEY},weak:{short}")
    with pytest.raises(ValueError, match="'weak' must be 32 bytes") as refused:
        settings.note_key_table()
    assert short not in str(refused.value)


def test_the_vault_clients_keys_are_refused_as_development_short_or_the_dev_keys_digest() -> None:
    strong = "a-vault-client-key-that-is-long-enough-0123"
    assert production(api_keys=api_keys({"key": strong})) is not None
    digest = hashlib.sha256(strong.encode()).hexdigest()
    assert production(api_keys=api_keys({"key_sha256": digest})) is not None
    for refused in (
        {"key": DEV_API_KEY},
        {"key": "short-key"},
        {"key_sha256": hashlib.sha256(DEV_API_KEY.encode()).hexdigest()},
        # Any published development value given as a digest, not only the API key.
        {"key_sha256": hashlib.sha256(DEV_CREDENTIALS["KINSHIP_GRANT_KEY"].encode()).hexdigest()},
    ):
        with pytest.raises(ValueError, match="KINSHIP_API_KEYS: the key named 'vault'") as error:
            production(api_keys=api_keys(refused))
        assert DEV_API_KEY not in str(error.value)


def test_the_refusal_is_an_insecure_settings_error() -> None:
    # As is, outside the model; entries that do not decode are the table parser's to refuse.
    with pytest.raises(InsecureSettingsError):
        refuse_development_note_keys(f"x:{DEV_NOTE_KEY}", "KINSHIP_NOTE_KEYS")
    refuse_development_note_keys(f"x:{REAL_NOTE_KEY},broken:not base64!", "KINSHIP_NOTE_KEYS")


@pytest.mark.parametrize(
    "value", [DEV_NOTE_KEY, base64.b64decode(DEV_NOTE_KEY).decode()], ids=["base64", "raw"]
)
def test_the_published_note_key_is_refused_as_any_other_secret(value: str) -> None:
    with pytest.raises(ValueError, match="KINSHIP_DEAD_LETTER_KEY is the local stack") as error:
        production(grant_key=GRANT, dead_letter_key=value)
    assert value not in str(error.value)
    with pytest.raises(ValueError, match="KINSHIP_GRANT_KEY is the local stack"):
        production(grant_key=value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("20000/minut", "is not a rate limit"),
        ("lots", "is not a rate limit"),
        ("999/minute", "fewer than 1000"),
        ("1/second", "fewer than 1000"),
    ],
)
def test_a_vault_limit_that_does_not_parse_or_cannot_fit_one_call_is_refused_at_start(
    value: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        limited(vault_rate_limit_per_key=value)
    assert limited(vault_rate_limit_per_key="1000/minute").vault_rate_limit_per_key


def limited(**limits: str) -> CheckinSettings:
    """A production configuration with these (non-secret) limit settings."""
    fields: dict[str, Any] = strong_secrets(CheckinSettings, without=("grant_key",))
    fields.update(limits)
    return CheckinSettings(
        env="production",
        note_keys=SecretStr(f"k1:{REAL_NOTE_KEY}"),
        note_key_id="k1",
        grant_key=SecretStr(GRANT),
        **fields,
    )


@pytest.mark.parametrize("name", ["rate_limit_per_person", "rate_limit_per_key"])
def test_a_submission_limit_that_does_not_parse_is_refused_at_start(name: str) -> None:
    with pytest.raises(ValueError, match="is not a rate limit"):
        limited(**{name: "60/minut"})
    assert limited(**{name: "60/minute"})
