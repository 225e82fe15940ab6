"""Bearer authentication (kinship_runtime.auth): API keys, JWTs, and the FastAPI dependencies."""

import time
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.fastapi import setup_dishka
from fastapi import Depends, FastAPI
from pydantic import SecretStr

from kinship_runtime.auth import ApiKeys, Authenticated, Authenticator, Caller, JwtVerifier
from kinship_runtime.settings import KinshipSettings

NO_JWT = JwtVerifier(secret=None, public_key=None, audience="kinship", issuer=None)
SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def authenticator(keys: str) -> Authenticator:
    """API keys only; JWTs off."""
    return Authenticator(ApiKeys(SecretStr(keys)), NO_JWT)


def with_jwts(public_key: str | None = None) -> Authenticator:
    """One API key and JWTs signed with ``SECRET`` (or by the holder of ``public_key``)."""
    return Authenticator(
        ApiKeys(SecretStr("hr-portal=portal-key")),
        JwtVerifier(
            secret=SecretStr(SECRET),
            public_key=public_key,
            audience="kinship",
            issuer="https://idp.example",
        ),
    )


def claims(**overrides: object) -> dict[str, object]:
    """Valid claims for ``with_jwts``; an override of None leaves the claim out."""
    values: dict[str, object] = {
        "sub": "person-7",
        "aud": "kinship",
        "iss": "https://idp.example",
        "exp": int(time.time()) + 300,
        "roles": ["peer_responder"],
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


# API keys ------------------------------------------------------------------------


def test_each_configured_key_names_its_caller() -> None:
    keys = ApiKeys(SecretStr("hr-portal=key-one, chat-bot = key-two ,"))
    first, second = keys.caller_for("key-one"), keys.caller_for("key-two")
    assert first == Caller("hr-portal") and second == Caller("chat-bot")
    assert first.is_system


def test_bare_keys_are_named_by_their_position() -> None:
    keys = ApiKeys(SecretStr("first-key,second-key"))
    assert keys.caller_for("first-key") == Caller("api-key-1")
    assert keys.caller_for("second-key") == Caller("api-key-2")


@pytest.mark.parametrize(
    "token",
    ["wrong", "key-one ", " key-one", "KEY-ONE", "key-on", "key-one-and-more", "hr-portal", ""],
)
def test_anything_but_an_exact_key_is_refused(token: str) -> None:
    assert ApiKeys(SecretStr("hr-portal=key-one")).caller_for(token) is None


def test_no_configured_keys_accept_nothing() -> None:
    keys = ApiKeys(SecretStr(""))
    assert keys.caller_for("") is None and keys.caller_for("kinship-dev-key") is None


def test_empty_entries_between_commas_do_not_become_keys() -> None:
    assert ApiKeys(SecretStr(" , ,")).caller_for("") is None


def test_a_bare_base64_key_with_padding_is_not_cut_down_to_its_padding() -> None:
    keys = ApiKeys(SecretStr("c2VjcmV0a2V5MTIz=="))
    assert keys.caller_for("=") is None
    assert keys.caller_for("c2VjcmV0a2V5MTIz==") is not None


def test_settings_build_an_authenticator_that_accepts_the_dev_key() -> None:
    settings = KinshipSettings(env="dev", api_keys=SecretStr("local=kinship-dev-key"))
    caller = Authenticator.from_settings(settings).caller_for("kinship-dev-key")
    assert caller == Caller("local")


# JWTs ----------------------------------------------------------------------------


def test_valid_hs256_token_names_the_person_and_roles() -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    caller = with_jwts().caller_for(token)
    assert caller is not None
    assert caller.person_id == "person-7"
    assert caller.roles == frozenset({"peer_responder"})
    assert not caller.is_system


def test_api_key_still_names_the_system() -> None:
    caller = with_jwts().caller_for("portal-key")
    assert caller is not None
    assert caller.name == "hr-portal"
    assert caller.is_system


@pytest.mark.parametrize(
    "token_claims",
    [
        claims(exp=int(time.time()) - 3600),
        claims(aud="another-product"),
        claims(iss="https://evil.example"),
        claims(sub=None),
        claims(exp=None),
        claims(roles="coordinator"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "no-subject", "no-expiry", "roles-not-list"],
)
def test_invalid_tokens_are_refused(token_claims: dict[str, object]) -> None:
    assert with_jwts().caller_for(jwt.encode(token_claims, SECRET, algorithm="HS256")) is None


def test_token_signed_with_another_secret_is_refused() -> None:
    token = jwt.encode(claims(), "some-other-secret-of-sufficient-length!!", algorithm="HS256")
    assert with_jwts().caller_for(token) is None


def test_unsigned_token_is_refused() -> None:
    token = jwt.encode(claims(), key="", algorithm="none")
    assert with_jwts().caller_for(token) is None


def test_es256_token_verified_with_the_identity_providers_public_key() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    token = jwt.encode(claims(roles=["coordinator"]), private, algorithm="ES256")
    caller = with_jwts(public_pem).caller_for(token)
    assert caller is not None
    assert caller.roles == frozenset({"coordinator"})


def test_jwts_are_refused_when_no_key_is_configured() -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert authenticator("").caller_for(token) is None


# Through FastAPI ------------------------------------------------------------------


class _AuthenticatorOnly(Provider):
    @provide(scope=Scope.APP)
    def authenticator(self) -> Authenticator:
        return authenticator("hr-portal=portal-key")


@pytest.fixture(params=["Authenticated", "dependency"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """An app with one authenticated route.

    Through ``Authenticated`` (the authenticator comes from the dishka container) and through
    the transitional ``Authenticator.dependency()``, while services still use it.
    """
    app = FastAPI()
    container = make_async_container(_AuthenticatorOnly())
    if request.param == "Authenticated":
        setup_dishka(container, app)

        @app.get("/who")
        async def who(caller: Authenticated) -> dict[str, str]:
            return {"name": caller.name}

    else:
        authenticate = authenticator("hr-portal=portal-key").dependency()

        @app.get("/who")
        async def who_by_dependency(
            caller: Annotated[Caller, Depends(authenticate)],
        ) -> dict[str, str]:
            return {"name": caller.name}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as http:
        yield http
    await container.close()


async def test_a_valid_bearer_key_reaches_the_route_as_its_caller(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/who", headers={"Authorization": "Bearer portal-key"})
    assert (response.status_code, response.json()) == (200, {"name": "hr-portal"})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic cG9ydGFsLWtleQ=="},
        {"Authorization": "portal-key"},
        {"X-Api-Key": "portal-key"},
    ],
    ids=["missing", "wrong", "empty", "basic-scheme", "no-scheme", "other-header"],
)
async def test_missing_or_wrong_credentials_are_401_with_a_bearer_challenge(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/who", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "portal-key" not in response.text


async def test_the_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    response = await client.get("/who", headers={"Authorization": "bearer portal-key"})
    assert response.status_code == 200
