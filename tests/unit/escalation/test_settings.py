"""The escalation service's secrets: each its own, a development value only in the dev profile,
nothing derived from another key; and tokens kept out of the access log."""

from typing import Any

import pytest
from pydantic import SecretStr

from kinship_escalation.composition import create_app
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.settings import DEV_CREDENTIALS
from tests.unit.fakes.settings import strong_secrets

LINK = "a-link-secret-for-this-purpose-only-0123"
GRANT = "a-grant-key-shared-with-check-in-01234567"
SIGNING = "a-request-signing-key-for-notifications-0"
VAULT_KEY = "escalation-key-for-the-check-in-vault-0123"


def production(**secrets: str) -> EscalationSettings:
    fields: dict[str, Any] = strong_secrets(EscalationSettings, without=tuple(secrets))
    fields.update({name: SecretStr(value) for name, value in secrets.items()})
    return EscalationSettings(env="production", **fields)


def test_the_dev_profile_uses_the_published_development_secrets() -> None:
    settings = EscalationSettings(env="dev")
    assert settings.ack_link_secret() == DEV_CREDENTIALS["KINSHIP_LINK_SECRET"].encode()
    assert settings.grant_signing_key() == DEV_CREDENTIALS["KINSHIP_GRANT_KEY"].encode()
    assert (
        settings.request_signature_key() == DEV_CREDENTIALS["KINSHIP_REQUEST_SIGNING_KEY"].encode()
    )


@pytest.mark.parametrize(
    "name",
    ["link_secret", "grant_key", "request_signing_key", "checkin_api_key", "dead_letter_key"],
)
def test_outside_dev_the_service_does_not_even_configure_without_each_secret(name: str) -> None:
    # The pseudonym key used to stand in for the link secret: nothing derives from another key.
    fields = strong_secrets(EscalationSettings, without=(name,))
    with pytest.raises(ValueError, match=f"KINSHIP_{name.upper()} is required"):
        EscalationSettings(env="production", **fields)


def test_outside_dev_each_secret_is_its_own_configured_value() -> None:
    configured = production(link_secret=LINK, grant_key=GRANT, request_signing_key=SIGNING)
    assert configured.ack_link_secret() == LINK.encode()
    assert configured.grant_signing_key() == GRANT.encode()
    assert configured.request_signature_key() == SIGNING.encode()


@pytest.mark.parametrize("name", ["link_secret", "grant_key", "request_signing_key"])
def test_outside_dev_short_or_development_secrets_are_refused(name: str) -> None:
    # (the validator's error comes wrapped in pydantic's ValidationError, a ValueError)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        production(**{name: "too-short"})
    variable = f"KINSHIP_{name.upper()}"
    with pytest.raises(ValueError, match="published development value"):
        production(**{name: DEV_CREDENTIALS[variable]})


def test_the_service_starts_with_its_secrets_and_a_development_one_stops_it() -> None:
    assert create_app(production(link_secret=LINK, checkin_api_key=VAULT_KEY)) is not None
    with pytest.raises(ValueError, match="KINSHIP_LINK_SECRET is the local stack's"):
        create_app(production(link_secret=DEV_CREDENTIALS["KINSHIP_LINK_SECRET"]))
