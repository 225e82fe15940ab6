"""Pseudonymous subject ids and note encryption (kinship_checkin.domain.privacy)."""

import re

import pytest
from cryptography.exceptions import InvalidTag

from kinship_checkin.domain.privacy import (
    NONCE_BYTES,
    NoteCipher,
    NoteKeyUnknownError,
    Pseudonymiser,
    SealedNote,
)

KEY_1, KEY_2, KEY_3 = b"1" * 32, b"2" * 32, b"3" * 32
GCM_TAG_BYTES = 16


def test_subject_id_is_deterministic_for_one_key_even_across_instances() -> None:
    assert Pseudonymiser(KEY_1).subject_id("person-42") == Pseudonymiser(KEY_1).subject_id(
        "person-42"
    )


def test_subject_ids_differ_across_keys() -> None:
    assert Pseudonymiser(KEY_1).subject_id("person-42") != Pseudonymiser(KEY_2).subject_id(
        "person-42"
    )


def test_subject_ids_differ_across_people_even_similar_ids() -> None:
    pseudonyms = Pseudonymiser(KEY_1)
    ids = {pseudonyms.subject_id(person) for person in ["p1", "p2", "P1", "p1 ", "p10"]}
    assert len(ids) == 5


def test_subject_id_is_a_sha256_hex_digest_that_does_not_contain_the_person_id() -> None:
    person = "abc123"  # hex-looking, so a leak could hide inside a hex digest
    subject = Pseudonymiser(KEY_1).subject_id(person)
    assert re.fullmatch(r"[0-9a-f]{64}", subject)
    assert person not in subject


def test_a_note_opens_with_the_key_and_checkin_it_was_sealed_for() -> None:
    cipher = NoteCipher({"k1": KEY_1}, "k1")
    note = "Schlaf schlecht 😔 — need to talk"
    sealed = cipher.seal(note, "c-1")
    assert sealed.key_id == "k1"
    assert cipher.open(sealed, "c-1") == note


def test_a_sealed_note_is_nonce_ciphertext_and_tag_with_no_plaintext() -> None:
    sealed = NoteCipher({"k1": KEY_1}, "k1").seal("SECRET-NOTE-123", "c-1")
    assert len(sealed.blob) == NONCE_BYTES + len(b"SECRET-NOTE-123") + GCM_TAG_BYTES
    assert b"SECRET-NOTE-123" not in sealed.blob


def test_an_empty_note_seals_and_opens() -> None:
    cipher = NoteCipher({"k1": KEY_1}, "k1")
    assert cipher.open(cipher.seal("", "c-1"), "c-1") == ""


def test_opening_with_the_wrong_checkin_id_as_associated_data_fails() -> None:
    cipher = NoteCipher({"k1": KEY_1}, "k1")
    sealed = cipher.seal("note", "c-1")
    with pytest.raises(InvalidTag):
        cipher.open(sealed, "c-10")


def test_a_tampered_blob_does_not_open() -> None:
    cipher = NoteCipher({"k1": KEY_1}, "k1")
    sealed = cipher.seal("note", "c-1")
    flipped = bytearray(sealed.blob)
    flipped[-1] ^= 0x01
    with pytest.raises(InvalidTag):
        cipher.open(SealedNote(sealed.key_id, bytes(flipped)), "c-1")


def test_the_same_key_id_with_different_key_material_does_not_open() -> None:
    sealed = NoteCipher({"k1": KEY_1}, "k1").seal("note", "c-1")
    with pytest.raises(InvalidTag):
        NoteCipher({"k1": KEY_2}, "k1").open(sealed, "c-1")


def test_an_unknown_key_id_raises_note_key_unknown_error_naming_the_id() -> None:
    sealed = SealedNote("retired-key", b"\x00" * 40)
    cipher = NoteCipher({"k1": KEY_1}, "k1")
    with pytest.raises(NoteKeyUnknownError, match="retired-key"):
        cipher.open(sealed, "c-1")
    with pytest.raises(LookupError):
        cipher.open_bytes("retired-key", b"\x00" * 40, "aad")


def test_rotation_seals_with_the_current_key_and_opens_every_kept_key() -> None:
    before = NoteCipher({"k1": KEY_1}, "k1")
    old_note = before.seal("old", "c-1")
    old_bytes = before.seal_bytes(b"old-bytes", "t:0:1")
    after = NoteCipher({"k1": KEY_1, "k2": KEY_2}, "k2")
    new_note = after.seal("new", "c-2")
    new_key_id, new_blob = after.seal_bytes(b"new-bytes", "t:0:2")
    assert (new_note.key_id, new_key_id) == ("k2", "k2")
    assert after.open(old_note, "c-1") == "old"
    assert after.open(new_note, "c-2") == "new"
    assert after.open_bytes(*old_bytes, "t:0:1") == b"old-bytes"
    assert after.open_bytes(new_key_id, new_blob, "t:0:2") == b"new-bytes"


def test_after_the_old_key_is_dropped_its_notes_raise_note_key_unknown_error() -> None:
    old_note = NoteCipher({"k1": KEY_1}, "k1").seal("old", "c-1")
    with pytest.raises(NoteKeyUnknownError):
        NoteCipher({"k2": KEY_2, "k3": KEY_3}, "k3").open(old_note, "c-1")


def test_seal_bytes_round_trips_arbitrary_bytes_bound_to_their_associated_data() -> None:
    cipher = NoteCipher({"k1": KEY_1}, "k1")
    payload = b'{"note": "SECRET-NOTE-123"}\xff\x00'
    key_id, blob = cipher.seal_bytes(payload, "wellbeing.checkins.submitted:3:1200")
    assert key_id == "k1"
    assert b"SECRET-NOTE-123" not in blob
    assert cipher.open_bytes(key_id, blob, "wellbeing.checkins.submitted:3:1200") == payload
    with pytest.raises(InvalidTag):
        cipher.open_bytes(key_id, blob, "wellbeing.checkins.submitted:3:1201")


def test_sealing_twice_uses_fresh_nonces() -> None:
    cipher = NoteCipher({"k1": KEY_1}, "k1")
    blobs = {cipher.seal_bytes(b"same", "aad")[1][:NONCE_BYTES] for _ in range(20)}
    assert len(blobs) == 20


def test_a_note_sealed_as_a_note_does_not_open_as_dead_letter_bytes_of_another_position() -> None:
    cipher = NoteCipher({"k1": KEY_1}, "k1")
    sealed = cipher.seal("note", "c-1")
    assert cipher.open_bytes(sealed.key_id, sealed.blob, "c-1") == b"note"
    with pytest.raises(InvalidTag):
        cipher.open_bytes(sealed.key_id, sealed.blob, "topic:0:0")
