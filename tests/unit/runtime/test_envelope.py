"""Envelope encryption under per-owner data keys (kinship_runtime.envelope)."""

import pytest
from cryptography.exceptions import InvalidTag

from kinship_runtime.envelope import EnvelopeCipher, KeyUnknownError

KEYS = {"m1": b"1" * 32, "m2": b"2" * 32}


def cipher(active: str = "m1", keys: dict[str, bytes] = KEYS) -> EnvelopeCipher:
    return EnvelopeCipher(
        keys, active, key_context=lambda owner: f"test:{owner}".encode(), what="test key"
    )


def test_what_is_sealed_opens_only_for_its_owner_and_what_it_is_bound_to() -> None:
    envelope = cipher()
    key = envelope.new_key("alice")
    sealed = envelope.seal(b"a secret", key, "alice", b"record-1")
    assert b"a secret" not in sealed
    assert envelope.open(sealed, key, "alice", b"record-1") == b"a secret"
    with pytest.raises(InvalidTag):
        envelope.open(sealed, key, "alice", b"record-2")  # moved to another record
    with pytest.raises(InvalidTag):
        envelope.open(sealed, key, "bob", b"record-1")  # the key moved to another owner


def test_rotation_rewraps_with_the_active_key_and_old_seals_still_open() -> None:
    old = cipher("m1")
    key = old.new_key("alice")
    sealed = old.seal(b"text", key, "alice", b"r")
    rotated = cipher("m2")
    rewrapped = rotated.rewrap(key, "alice")
    assert (key.master_key_id, rewrapped.master_key_id) == ("m1", "m2")
    assert rotated.open(sealed, rewrapped, "alice", b"r") == b"text"
    retired = cipher("m2", {"m2": KEYS["m2"]})
    assert retired.open(sealed, rewrapped, "alice", b"r") == b"text"
    with pytest.raises(KeyUnknownError, match="test key 'm1' is not configured"):
        retired.open(sealed, key, "alice", b"r")


def test_an_erased_key_opens_nothing() -> None:
    envelope = cipher()
    sealed = envelope.seal(b"text", envelope.new_key("alice"), "alice", b"r")
    with pytest.raises(KeyUnknownError, match="erased"):
        envelope.open(sealed, None, "alice", b"r")
