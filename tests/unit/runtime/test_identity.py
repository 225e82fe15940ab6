"""Scoped API keys and strict OIDC tokens (kinship_runtime.identity)."""

import hashlib
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from pydantic import SecretStr

from kinship_runtime.identity import (
    ApiKeyConfigError,
    ApiKeys,
    IdentityVerifier,
    JwksCache,
    JwtRules,
    JwtVerifier,
    PersonIdentity,
    Scope,
    SystemIdentity,
    loopback_url,
    parse_api_keys,
)

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
ISSUER = "http://127.0.0.1:9/realms/kinship"
RULES = JwtRules(issuer=ISSUER, audience="kinship", max_lifetime_seconds=3600)
PLANTED_KEY = "planted-key-value-0123456789abcdef"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "person-7",
        "aud": "kinship",
        "iss": ISSUER,
        "iat": now,
        "exp": now + 300,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def hs(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), SECRET, algorithm="HS256")


def verifier(**rules: Any) -> JwtVerifier:
    return JwtVerifier(JwtRules(**{**RULES.__dict__, **rules}), secret=SecretStr(SECRET))


# API keys ---------------------------------------------------------------------------


def test_api_keys_carry_their_names_and_scopes() -> None:
    keys = ApiKeys(
        parse_api_keys(
            json.dumps(
                [
                    {"name": "hr-portal", "scopes": ["checkins:submit"], "key": "k" * 40},
                    {"name": "survey", "scopes": ["pulse:submit"], "key": "s" * 40},
                ]
            )
        )
    )
    assert keys.identify("k" * 40) == SystemIdentity(
        "hr-portal", frozenset({Scope.CHECKINS_SUBMIT})
    )
    assert keys.identify("s" * 40) == SystemIdentity("survey", frozenset({Scope.PULSE_SUBMIT}))
    assert keys.identify("x" * 40) is None and keys.identify("") is None


def test_a_key_may_be_configured_by_its_sha256_only() -> None:
    digest = hashlib.sha256(b"the-real-key-kept-only-by-the-caller").hexdigest()
    keys = ApiKeys(parse_api_keys(json.dumps([{"name": "bot", "key_sha256": digest}])))
    assert keys.identify("the-real-key-kept-only-by-the-caller") == SystemIdentity(
        "bot", frozenset()
    )


@pytest.mark.parametrize(
    "configured",
    [
        f"hr={PLANTED_KEY}",  # the old name=key format
        json.dumps([{"name": "hr", "key": PLANTED_KEY, "scopes": ["cases:read"]}]),
        json.dumps([{"name": "hr", "scopes": []}]),
        json.dumps([{"name": "a", "key": PLANTED_KEY}, {"name": "a", "key": "x" * 40}]),
    ],
    ids=["old-format", "unknown-scope", "no-key", "duplicate-name"],
)
def test_a_bad_key_configuration_is_refused_without_quoting_a_key(configured: str) -> None:
    with pytest.raises(ApiKeyConfigError) as error:
        parse_api_keys(configured)
    assert PLANTED_KEY not in str(error.value)


# People's tokens ----------------------------------------------------------------------


async def test_a_valid_token_names_the_person_and_nothing_else() -> None:
    identity = await verifier().identify(hs(roles=["coordinator"]))
    assert identity == PersonIdentity("person-7")  # roles in a token grant nothing


@pytest.mark.parametrize(
    "token_claims",
    [
        {"exp": int(time.time()) - 3600},
        {"aud": "another-product"},
        {"iss": "http://127.0.0.1:9/realms/other"},
        {"iat": None},
        {"exp": None},
        {"iss": None},
        {"sub": None},
        {"iat": int(time.time()), "exp": int(time.time()) + 3601},
        {"sub": ""},
        {"sub": 42},
    ],
    ids=[
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "no-iat",
        "no-exp",
        "no-issuer",
        "no-subject",
        "lives-too-long",
        "empty-subject",
        "number-subject",
    ],
)
async def test_tokens_that_break_a_rule_are_refused(token_claims: dict[str, Any]) -> None:
    assert await verifier().identify(hs(**token_claims)) is None


async def test_an_unsigned_token_and_a_token_signed_with_another_secret_are_refused() -> None:
    unsigned = jwt.encode(claims(), "", algorithm="none")
    forged = jwt.encode(claims(), "another-secret-that-is-long-enough-000", algorithm="HS256")
    assert await verifier().identify(unsigned) is None
    assert await verifier().identify(forged) is None


async def test_the_person_may_come_from_another_claim() -> None:
    token = hs(sub="3f9c0e9a-keycloak-uuid", person_id="resp-a")
    assert await verifier(person_claim="person_id").identify(token) == PersonIdentity("resp-a")


def test_a_short_hs_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        JwtVerifier(RULES, secret=SecretStr("short"))


# JWKS and discovery ---------------------------------------------------------------------


class Provider:
    """An identity provider's discovery document and JWKS, served without any network."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = "k1"
        self.requests: list[str] = []
        self.issuer = ISSUER

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": self.issuer, "jwks_uri": f"{ISSUER}/certs"})
        return httpx.Response(200, json=self.jwks())

    def token(self, kid: str | None = None, **overrides: Any) -> str:
        return jwt.encode(
            claims(**overrides), self.key, algorithm="ES256", headers={"kid": kid or self.kid}
        )


def jwks_verifier(provider: Provider, **cache: Any) -> JwtVerifier:
    client = httpx.AsyncClient(transport=httpx.MockTransport(provider.handle))
    return JwtVerifier(RULES, jwks=JwksCache(issuer=ISSUER, jwks_url=None, client=client, **cache))


async def test_keys_are_found_through_oidc_discovery_and_cached() -> None:
    provider = Provider()
    verifying = jwks_verifier(provider)
    assert await verifying.identify(provider.token()) == PersonIdentity("person-7")
    assert await verifying.identify(provider.token()) == PersonIdentity("person-7")
    assert provider.requests == [
        "/realms/kinship/.well-known/openid-configuration",
        "/realms/kinship/certs",
    ]


async def test_an_unknown_kid_refreshes_the_keys_at_most_once_per_interval() -> None:
    provider = Provider()
    verifying = jwks_verifier(provider, min_refresh_seconds=3600)
    await verifying.identify(provider.token())
    for _ in range(20):
        assert await verifying.identify(provider.token(kid="forged")) is None
    assert len(provider.requests) == 2  # the forged kids cost the provider nothing


async def test_a_rotated_key_is_picked_up() -> None:
    provider = Provider()
    verifying = jwks_verifier(provider, min_refresh_seconds=0)
    await verifying.identify(provider.token())
    provider.key, provider.kid = ec.generate_private_key(ec.SECP256R1()), "k2"
    assert await verifying.identify(provider.token()) == PersonIdentity("person-7")


async def test_a_discovery_document_naming_another_issuer_yields_no_keys() -> None:
    provider = Provider()
    provider.issuer = "http://127.0.0.1:9/realms/evil"
    assert await jwks_verifier(provider).identify(provider.token()) is None


async def test_an_hs_token_is_not_accepted_when_only_asymmetric_keys_are_configured() -> None:
    provider = Provider()
    assert await jwks_verifier(provider).identify(hs()) is None


# Both --------------------------------------------------------------------------------------


async def test_keys_are_tried_before_tokens_and_oversized_tokens_are_refused() -> None:
    keys = ApiKeys(parse_api_keys(json.dumps([{"name": "bot", "key": "b" * 40}])))
    identities = IdentityVerifier(keys, verifier())
    assert await identities.identify("b" * 40) == SystemIdentity("bot", frozenset())
    assert await identities.identify(hs()) == PersonIdentity("person-7")
    assert await identities.identify("x" * 9000) is None
    assert await IdentityVerifier(keys, None).identify(hs()) is None


def test_plain_http_is_recognised_as_loopback_only_for_this_machine() -> None:
    assert loopback_url("http://127.0.0.1:8180/realms/kinship")
    assert loopback_url("http://localhost/x")
    assert not loopback_url("http://idp.internal/realms/kinship")
