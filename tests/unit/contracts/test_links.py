"""Acknowledgement link tokens and notification request signatures (kinship_contracts.links)."""

from datetime import UTC, datetime, timedelta

from kinship_contracts.links import (
    check_ack_token,
    mint_ack_token,
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


def test_only_a_request_signed_with_the_services_secret_passes() -> None:
    value = b'{"id": "r-1"}'
    signature = sign_request(SECRET, value)
    assert request_signed(SECRET, value, signature)
    assert not request_signed(SECRET, value + b" ", signature)
    assert not request_signed(b"x" * 32, value, signature)
    assert not request_signed(SECRET, value, None)
