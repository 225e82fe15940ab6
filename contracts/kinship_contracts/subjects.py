"""Pseudonymous subject ids: how every service names a person beyond the check-in service."""

import hashlib
import hmac
from typing import Annotated

from pydantic import AfterValidator, SecretStr


def _long_enough(key: SecretStr) -> SecretStr:
    if len(key.get_secret_value().encode()) < 32:
        raise ValueError("KINSHIP_PSEUDONYM_KEY needs at least 32 bytes")
    return key


PseudonymKey = Annotated[SecretStr, AfterValidator(_long_enough)]
"""The HMAC key of subject ids (at least 32 bytes); services that share it share subject ids."""


class Pseudonymiser:
    """Turns a directory person_id into a stable pseudonymous subject id (keyed HMAC-SHA256).

    Services that hold the key can link a known person_id (a responder, a signal's subject)
    to its subject id; only the check-in service keeps a vault to go back.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def subject_id(self, person_id: str) -> str:
        """The subject id of ``person_id``: the same person always gets the same id."""
        return hmac.new(self._key, person_id.encode(), hashlib.sha256).hexdigest()
