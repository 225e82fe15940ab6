"""Acknowledgement and consent link tokens, and notification request signatures
(kinship_contracts.links)."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from kinship_contracts.links import (
    ConsentAnswer,
    check_ack_token,
    check_consent_token,
    mint_ack_token,
    mint_consent_token,
    request_signed,
    sign_request,
    with_token,
)

SECRET = b"s" * 32
NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)


def test_a_token_works_for_its_alert_until_it_expires() -> None:
    token = mint_ack_token(SECRET, "a-1", NOW + timedelta(hours=1))
    assert check_ack_token(SECRET, "a-1", token, NOW)
    assert not check_ack_token(SECRET, "a-1", token, NOW + timedelta(hours=1))
    assert not check_ack_token(SECRET, "a-2", token, NOW)
    assert not check_ack_token(b"x" * 32, "a-1", token, NOW)


def test_a_token_with_a_moved_expiry_or_garbage_is_refused() -> None:
    token = mint_ack_token(SECRET, "a-1", NOW + timedelta(hours=1))
    version, expires, mac = token.split(".")
    later = str(int(expires) + 86400)
    for forged in (f"{version}.{later}.{mac}", "v1.abc.def", "", "v2." + token[3:], token[:-1]):
        assert not check_ack_token(SECRET, "a-1", forged, NOW)


def test_the_link_carries_the_token_as_a_query_parameter() -> None:
    assert with_token("http://127.0.0.1:8002/v1/alerts/a-1/acknowledge", "t") == (
        "http://127.0.0.1:8002/v1/alerts/a-1/acknowledge?token=t"
    )
    assert with_token("http://127.0.0.1:8002/v1/consents/c-1?answer=yes", "t") == (
        "http://127.0.0.1:8002/v1/consents/c-1?answer=yes&token=t"
    )


def test_the_ack_token_format_is_unchanged() -> None:
    expires = NOW + timedelta(hours=1)
    stamp = int(expires.timestamp())
    mac = hmac.new(SECRET, f"kinship-ack:v1:a-1:{stamp}".encode(), hashlib.sha256).hexdigest()
    assert mint_ack_token(SECRET, "a-1", expires) == f"v1.{stamp}.{mac}"


def test_a_consent_token_works_for_its_question_and_answer_until_it_expires() -> None:
    expires = NOW + timedelta(hours=72)
    yes = mint_consent_token(SECRET, "c-1", ConsentAnswer.YES, expires)
    assert check_consent_token(SECRET, "c-1", ConsentAnswer.YES, yes, NOW)
    assert not check_consent_token(SECRET, "c-1", ConsentAnswer.YES, yes, expires)
    assert not check_consent_token(SECRET, "c-1", ConsentAnswer.NO, yes, NOW)
    assert not check_consent_token(SECRET, "c-2", ConsentAnswer.YES, yes, NOW)
    assert not check_consent_token(b"x" * 32, "c-1", ConsentAnswer.YES, yes, NOW)
    no = mint_consent_token(SECRET, "c-1", ConsentAnswer.NO, expires)
    assert no != yes and check_consent_token(SECRET, "c-1", ConsentAnswer.NO, no, NOW)


def test_a_consent_token_is_the_documented_hmac_and_never_an_ack_token() -> None:
    expires = NOW + timedelta(hours=1)
    stamp = int(expires.timestamp())
    message = f"kinship-consent:v1:c-1:yes:{stamp}".encode()
    mac = hmac.new(SECRET, message, hashlib.sha256).hexdigest()
    token = mint_consent_token(SECRET, "c-1", ConsentAnswer.YES, expires)
    assert token == f"v1.{stamp}.{mac}"
    assert not check_ack_token(SECRET, "c-1", token, NOW)
    ack = mint_ack_token(SECRET, "c-1", expires)
    assert not check_consent_token(SECRET, "c-1", ConsentAnswer.YES, ack, NOW)
    for forged in (f"v1.{stamp + 86400}.{mac}", "v1.abc.def", "", token[:-1]):
        assert not check_consent_token(SECRET, "c-1", ConsentAnswer.YES, forged, NOW)


def test_only_a_request_signed_with_the_services_secret_passes() -> None:
    value = b'{"id": "r-1"}'
    signature = sign_request(SECRET, value)
    assert request_signed(SECRET, value, signature)
    assert not request_signed(SECRET, value + b" ", signature)
    assert not request_signed(b"x" * 32, value, signature)
    assert not request_signed(SECRET, value, None)
