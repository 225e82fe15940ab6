"""The digests of erased subject ids stay HMAC-SHA256 of ``subject:<id>`` under the
service's key: digests written by an earlier release must still be recognised after an
upgrade (the cache and the one-shot call are speed only)."""

import hashlib
import hmac
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from kinship_runtime.erased_ids import ErasedIds

KEEP = timedelta(days=30)


@given(key=st.binary(min_size=1, max_size=64), subject_id=st.text(max_size=80))
def test_a_digest_is_hmac_sha256_of_the_labelled_subject_id(key: bytes, subject_id: str) -> None:
    try:
        message = b"subject:" + subject_id.encode()
    except UnicodeEncodeError:  # a lone surrogate: no subject id is one (the contracts refuse it)
        return
    expected = hmac.new(key, message, hashlib.sha256).digest()
    assert ErasedIds(key, KEEP).digest(subject_id) == expected


def test_two_keys_never_share_a_remembered_digest() -> None:
    one, other = ErasedIds(b"a" * 32, KEEP), ErasedIds(b"b" * 32, KEEP)
    assert one.digest("subject-1") == one.digest("subject-1")
    assert one.digest("subject-1") != other.digest("subject-1")


def test_digests_are_distinct_and_sorted_whatever_the_repeats() -> None:
    erased = ErasedIds(b"k" * 32, KEEP)
    ids = ["s-3", "s-1", "s-3", "s-2", "s-1"]
    assert erased.digests(ids) == sorted({erased.digest(s) for s in ("s-1", "s-2", "s-3")})
    assert len(erased.digests(ids)) == 3
