"""API-key bearer authentication (kinship_runtime.auth) and its FastAPI dependency."""

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import SecretStr

from kinship_runtime.auth import ApiKeys, Authenticator, Caller, JwtVerifier
from kinship_runtime.settings import KinshipSettings

NO_JWT = JwtVerifier(secret=None, public_key=None, audience="kinship", issuer=None)


def authenticator(keys: str) -> Authenticator:
    return Authenticator(ApiKeys(SecretStr(keys)), NO_JWT)


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


def test_a_jwt_shaped_token_is_not_verified_when_jwts_are_off() -> None:
    assert authenticator("k=key").caller_for("aaa.bbb.ccc") is None


# Through FastAPI ------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    authenticate = authenticator("hr-portal=portal-key").dependency()

    @app.get("/who")
    async def who(caller: Annotated[Caller, Depends(authenticate)]) -> dict[str, str]:
        return {"name": caller.name}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as http:
        yield http


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
