"""Signing notification requests (``kinship_runtime.outbox.signed_request``) and the key it
uses (``KinshipSettings.request_signing_secret``)."""

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, request_signed
from kinship_contracts.notifications import MessageKind, NotificationRequest, Recipient
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.outbox import OutboxMessage, event_message, signed_request
from kinship_runtime.settings import DEV_CREDENTIALS, InsecureSettingsError, KinshipSettings
from tests.unit.fakes.settings import strong_secrets

KEY = b"k" * 32


def request_message() -> OutboxMessage:
    request = NotificationRequest(
        id="r-1",
        kind=MessageKind.CHECKIN_REMINDER,
        recipient=Recipient(subject_id="s-1"),
        template="checkin_reminder",
        created_at=datetime(2026, 11, 24, tzinfo=UTC),
    )
    return event_message(
        "notifications.requests",
        "s-1",
        request,
        event_id=request.id,
        event_type="kinship.notification.requested.v1",
        source="kinship/tests",
        time=request.created_at,
    )


def signature_of(message: OutboxMessage) -> str | None:
    found = [value.decode() for name, value in message.headers if name == REQUEST_SIGNATURE_HEADER]
    assert len(found) <= 1
    return found[0] if found else None


def test_a_signed_request_verifies_with_the_key_and_keeps_its_other_headers() -> None:
    message = request_message()
    signed = signed_request(message, KEY)
    assert signed.value == message.value and signed.key == message.key
    assert request_signed(KEY, signed.value or b"", signature_of(signed))
    assert not request_signed(b"x" * 32, signed.value or b"", signature_of(signed))
    assert [h for h in signed.headers if h[0] != REQUEST_SIGNATURE_HEADER] == message.headers


def test_signing_twice_leaves_one_signature_and_a_changed_value_does_not_verify() -> None:
    signed = signed_request(signed_request(request_message(), b"y" * 32), KEY)
    assert request_signed(KEY, signed.value or b"", signature_of(signed))
    assert not request_signed(KEY, (signed.value or b"") + b" ", signature_of(signed))


def test_a_tombstone_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match="tombstones"):
        signed_request(OutboxMessage("e", "t", b"k", None), KEY)


def test_the_signing_key_has_a_development_default_only_in_the_dev_profile() -> None:
    dev = KinshipSettings(env="dev")
    assert dev.request_signing_secret() == DEV_CREDENTIALS["KINSHIP_REQUEST_SIGNING_KEY"].encode()
    others = strong_secrets(RecognitionSettings, without=("request_signing_key",))
    # A signing service refuses to configure without it (pydantic wraps the error) ...
    with pytest.raises(ValueError, match="KINSHIP_REQUEST_SIGNING_KEY is required"):
        RecognitionSettings(env="production", **others)
    # ... and a service that does not declare it never falls back to a development key.
    with pytest.raises(InsecureSettingsError, match="KINSHIP_REQUEST_SIGNING_KEY is required"):
        KinshipSettings(env="production", **others).request_signing_secret()
    configured = RecognitionSettings(
        env="production", request_signing_key=SecretStr("s" * 32), **others
    )
    assert configured.request_signing_secret() == b"s" * 32
    with pytest.raises(ValueError, match="KINSHIP_REQUEST_SIGNING_KEY is the local stack's"):
        RecognitionSettings(
            env="production",
            request_signing_key=SecretStr(DEV_CREDENTIALS["KINSHIP_REQUEST_SIGNING_KEY"]),
            **others,
        )
    with pytest.raises(ValueError, match="KINSHIP_REQUEST_SIGNING_KEY needs at least 32"):
        RecognitionSettings(env="production", request_signing_key=SecretStr("short"), **others)
