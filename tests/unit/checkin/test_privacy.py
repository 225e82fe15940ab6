"""Notes sealed under per-person data keys (kinship_checkin.domain.privacy)."""

import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kinship_checkin.domain.privacy import (
    NONCE_BYTES,
    NoteCipher,
    NoteKeyUnknownError,
    PersonKey,
    SealedNote,
)

KEY_1, KEY_2, KEY_3 = b"1" * 32, b"2" * 32, b"3" * 32
GCM_TAG_BYTES = 16
SUBJECT = "5f0c3a9d2e7b4c18a6d9e0f1b2c3d4e5"


@pytest.fixture
def cipher() -> NoteCipher:
    return NoteCipher({"k1": KEY_1}, "k1")


def test_a_note_opens_with_the_persons_key_and_the_checkin_it_was_sealed_for(
    cipher: NoteCipher,
) -> None:
    key = cipher.new_person_key(SUBJECT)
    note = "Schlaf schlecht 😔 — need to talk"
    sealed = cipher.seal(note, "c-1", key, SUBJECT)
    assert (sealed.key_id, sealed.per_person) == ("k1", True)
    assert cipher.open(sealed, "c-1", key, SUBJECT) == note


def test_a_sealed_note_is_nonce_ciphertext_and_tag_with_no_plaintext(cipher: NoteCipher) -> None:
    sealed = cipher.seal("SECRET-NOTE-123", "c-1", cipher.new_person_key(SUBJECT), SUBJECT)
    assert len(sealed.blob) == NONCE_BYTES + len(b"SECRET-NOTE-123") + GCM_TAG_BYTES
    assert b"SECRET-NOTE-123" not in sealed.blob


def test_each_person_key_is_new_and_wrapped_not_stored_in_clear(cipher: NoteCipher) -> None:
    first, second = cipher.new_person_key(SUBJECT), cipher.new_person_key(SUBJECT)
    assert first.wrapped != second.wrapped and first.master_key_id == "k1"
    assert len(first.wrapped) == NONCE_BYTES + 32 + GCM_TAG_BYTES


def test_without_the_persons_key_a_note_cannot_be_opened_even_with_every_master_key(
    cipher: NoteCipher,
) -> None:
    sealed = cipher.seal("note", "c-1", cipher.new_person_key(SUBJECT), SUBJECT)
    with pytest.raises(NoteKeyUnknownError, match="erased"):
        cipher.open(sealed, "c-1", None, SUBJECT)
    another = cipher.new_person_key(SUBJECT)  # a key made afterwards is not the old one
    with pytest.raises(InvalidTag):
        cipher.open(sealed, "c-1", another, SUBJECT)


def test_a_persons_key_does_not_open_under_another_subject(cipher: NoteCipher) -> None:
    key = cipher.new_person_key(SUBJECT)
    sealed = cipher.seal("note", "c-1", key, SUBJECT)
    with pytest.raises(InvalidTag):
        cipher.open(sealed, "c-1", key, "another-subject")


def test_opening_with_the_wrong_checkin_id_fails(cipher: NoteCipher) -> None:
    key = cipher.new_person_key(SUBJECT)
    sealed = cipher.seal("note", "c-1", key, SUBJECT)
    with pytest.raises(InvalidTag):
        cipher.open(sealed, "c-10", key, SUBJECT)


def test_a_tampered_blob_does_not_open(cipher: NoteCipher) -> None:
    key = cipher.new_person_key(SUBJECT)
    sealed = cipher.seal("note", "c-1", key, SUBJECT)
    flipped = bytearray(sealed.blob)
    flipped[-1] ^= 0x01
    with pytest.raises(InvalidTag):
        cipher.open(SealedNote(sealed.key_id, bytes(flipped)), "c-1", key, SUBJECT)


def test_an_empty_note_seals_and_opens(cipher: NoteCipher) -> None:
    key = cipher.new_person_key(SUBJECT)
    assert cipher.open(cipher.seal("", "c-1", key, SUBJECT), "c-1", key, SUBJECT) == ""


def test_rotation_rewraps_person_keys_and_old_master_keys_still_unwrap() -> None:
    before = NoteCipher({"k1": KEY_1}, "k1")
    key = before.new_person_key(SUBJECT)
    sealed = before.seal("old", "c-1", key, SUBJECT)
    after = NoteCipher({"k1": KEY_1, "k2": KEY_2}, "k2")
    assert after.open(sealed, "c-1", key, SUBJECT) == "old"
    rewrapped = after.rewrap(key, SUBJECT)
    assert rewrapped.master_key_id == "k2"
    assert NoteCipher({"k2": KEY_2}, "k2").open(sealed, "c-1", rewrapped, SUBJECT) == "old"


def test_after_a_master_key_is_dropped_keys_it_wrapped_raise_note_key_unknown_error() -> None:
    before = NoteCipher({"k1": KEY_1}, "k1")
    key = before.new_person_key(SUBJECT)
    sealed = before.seal("old", "c-1", key, SUBJECT)
    with pytest.raises(NoteKeyUnknownError, match="k1"):
        NoteCipher({"k2": KEY_2, "k3": KEY_3}, "k3").open(sealed, "c-1", key, SUBJECT)


def test_notes_sealed_before_person_keys_still_open_with_their_master_key() -> None:
    nonce = os.urandom(NONCE_BYTES)
    legacy = SealedNote("k1", nonce + AESGCM(KEY_1).encrypt(nonce, b"old note", b"c-1"), False)
    assert NoteCipher({"k1": KEY_1}, "k1").open(legacy, "c-1", None, SUBJECT) == "old note"


def test_the_same_note_seals_differently_each_time(cipher: NoteCipher) -> None:
    key = cipher.new_person_key(SUBJECT)
    blobs = {cipher.seal("same", "c-1", key, SUBJECT).blob for _ in range(20)}
    assert len(blobs) == 20


def test_a_key_and_a_note_of_an_unknown_master_key_raise_naming_the_id() -> None:
    cipher = NoteCipher({"k1": KEY_1}, "k1")
    with pytest.raises(NoteKeyUnknownError, match="retired-key"):
        cipher.open(SealedNote("retired-key", b"\x00" * 40, False), "c-1", None, SUBJECT)
    with pytest.raises(NoteKeyUnknownError, match="retired-key"):
        cipher.seal("x", "c-1", PersonKey("retired-key", b"\x00" * 60), SUBJECT)
