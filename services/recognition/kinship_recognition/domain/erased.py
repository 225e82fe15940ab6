"""Erased subject ids, recognised without being kept: keyed hashes.

After an erasure, an event about the person can still arrive: a backlog consumed after an
outage, or a replay of ``wellbeing.checkins.recorded`` or ``escalation.cases`` (kept 30
days). Stored, it would bring the person's old subject id and case ids back, count them
again in the programme figures and perhaps thank their responder again. So the service keeps
a record of erased subject ids for as long as those topics keep records, and skips the
events it names. To keep the erasure's promise that nothing says which subject ids it
concerned, the record holds HMAC-SHA256 digests under a key the database does not hold,
never the ids.
"""

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

T = TypeVar("T")

KEY_LABEL = b"kinship.recognition.erased-ids.v1"
"""The label that derives the digests' key from the service's dead-letter key (so the same
secret never keys two uses directly)."""


def derive_key(secret: bytes) -> bytes:
    """The digests' key: HMAC-SHA256 of ``KEY_LABEL`` under ``secret``."""
    return hmac.new(secret, KEY_LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class ErasedIds:
    """How this service recognises erased subject ids: ``key`` makes the digests, and each
    is kept for ``keep_for`` from the erasure."""

    key: bytes
    keep_for: timedelta

    def digest(self, subject_id: str) -> bytes:
        """The keyed hash kept for (and looked up by) a subject id."""
        return hmac.new(self.key, b"subject:" + subject_id.encode(), hashlib.sha256).digest()

    def digests(self, subject_ids: Iterable[str]) -> list[bytes]:
        """The distinct digests of ``subject_ids``, in a stable order."""
        return sorted({self.digest(subject_id) for subject_id in subject_ids})

    def keep(
        self, items: Sequence[T], subject_of: Callable[[T], str], erased: set[bytes]
    ) -> list[T]:
        """The items whose subject's digest is not in ``erased``, in their order."""
        return [item for item in items if self.digest(subject_of(item)) not in erased]
