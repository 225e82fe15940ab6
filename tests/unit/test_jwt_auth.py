"""Bearer authentication with JWTs beside API keys."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from kinship_runtime.auth import ApiKeys, Authenticator, JwtVerifier

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def _authenticator(public_key: str | None = None) -> Authenticator:
    return Authenticator(
        ApiKeys(SecretStr("hr-portal=portal-key")),
        JwtVerifier(
            secret=SecretStr(SECRET),
            public_key=public_key,
            audience="kinship",
            issuer="https://idp.example",
        ),
    )


def _claims(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": "person-7",
        "aud": "kinship",
        "iss": "https://idp.example",
        "exp": int(time.time()) + 300,
        "roles": ["peer_responder"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_valid_hs256_token_names_the_person_and_roles() -> None:
    token = jwt.encode(_claims(), SECRET, algorithm="HS256")
    caller = _authenticator().caller_for(token)
    assert caller is not None
    assert caller.person_id == "person-7"
    assert caller.roles == frozenset({"peer_responder"})
    assert not caller.is_system


def test_api_key_still_names_the_system() -> None:
    caller = _authenticator().caller_for("portal-key")
    assert caller is not None
    assert caller.name == "hr-portal"
    assert caller.is_system


@pytest.mark.parametrize(
    "claims",
    [
        _claims(exp=int(time.time()) - 3600),
        _claims(aud="another-product"),
        _claims(iss="https://evil.example"),
        _claims(sub=None),
        _claims(exp=None),
        _claims(roles="coordinator"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "no-subject", "no-expiry", "roles-not-list"],
)
def test_invalid_tokens_are_refused(claims: dict[str, object]) -> None:
    assert _authenticator().caller_for(jwt.encode(claims, SECRET, algorithm="HS256")) is None


def test_token_signed_with_another_secret_is_refused() -> None:
    token = jwt.encode(_claims(), "some-other-secret-of-sufficient-length!!", algorithm="HS256")
    assert _authenticator().caller_for(token) is None


def test_unsigned_token_is_refused() -> None:
    token = jwt.encode(_claims(), key="", algorithm="none")
    assert _authenticator().caller_for(token) is None


def test_es256_token_verified_with_the_identity_providers_public_key() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    token = jwt.encode(_claims(roles=["coordinator"]), private, algorithm="ES256")
    caller = _authenticator(public_pem).caller_for(token)
    assert caller is not None
    assert caller.roles == frozenset({"coordinator"})


def test_jwts_are_refused_when_no_key_is_configured() -> None:
    authenticator = Authenticator(
        ApiKeys(SecretStr("")),
        JwtVerifier(secret=None, public_key=None, audience="kinship", issuer=None),
    )
    assert authenticator.caller_for(jwt.encode(_claims(), SECRET, algorithm="HS256")) is None
