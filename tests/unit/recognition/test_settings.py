"""Recognition settings: the request-signing key, refused when missing, published or short
outside the dev profile."""

import pytest
from pydantic import SecretStr, ValidationError

from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.settings import DEV_CREDENTIALS
from tests.unit.fakes.settings import strong_secrets

STRONG = "a-request-signing-key-that-is-long-enough-0123"


def test_the_dev_profile_signs_with_the_published_development_key() -> None:
    dev = RecognitionSettings(env="dev")
    assert dev.request_signing_secret() == DEV_CREDENTIALS["KINSHIP_REQUEST_SIGNING_KEY"].encode()


def test_outside_dev_the_signing_key_is_required() -> None:
    others = strong_secrets(RecognitionSettings, without=("request_signing_key",))
    with pytest.raises(ValidationError, match="KINSHIP_REQUEST_SIGNING_KEY is required"):
        RecognitionSettings(**others)
    configured = RecognitionSettings(**others, request_signing_key=SecretStr(STRONG))
    assert configured.request_signing_secret() == STRONG.encode()


@pytest.mark.parametrize(
    "value", [DEV_CREDENTIALS["KINSHIP_REQUEST_SIGNING_KEY"], "short-signing-key"]
)
def test_outside_dev_a_published_or_short_signing_key_is_refused(value: str) -> None:
    with pytest.raises(ValidationError) as error:
        RecognitionSettings(
            **strong_secrets(RecognitionSettings, without=("request_signing_key",)),
            request_signing_key=SecretStr(value),
        )
    assert "KINSHIP_REQUEST_SIGNING_KEY" in str(error.value) and value not in str(error.value)


def test_the_pseudonym_key_is_no_setting_of_this_service() -> None:
    assert "pseudonym_key" not in RecognitionSettings.model_fields
