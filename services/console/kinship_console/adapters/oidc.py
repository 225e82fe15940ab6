"""Sign-in with the organisation's OpenID Connect provider, through Authlib.

Authorization code flow with PKCE (S256), ``state`` and ``nonce``; endpoints and signing keys
come from the issuer's discovery document, so the same code works with Keycloak, Entra ID,
Okta or Google. Authlib keeps the flow's state in ``request.session``, which the console
stores server-side (see ``entrypoints.sessions``). The ID token is verified (signature,
issuer, audience, nonce, expiry); the access token is only forwarded to the services, which
verify it themselves.
"""

import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from starlette.requests import Request
from starlette.responses import RedirectResponse

PERSON_CLAIM = "person_id"


class SignInFailedError(Exception):
    """The provider refused, or the answer could not be trusted (state, nonce, signature)."""


class NoPersonIdError(SignInFailedError):
    """The signed-in account carries no Kinship person id."""


class ProviderUnavailableError(Exception):
    """The identity provider could not be reached."""


@dataclass(frozen=True)
class Tokens:
    """What a sign-in or a refresh gives: kept server-side only."""

    person_id: str
    access_token: str
    expires_at: float
    refresh_token: str | None
    id_token: str | None

    def as_session(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "access_token": self.access_token,
            "expires_at": self.expires_at,
            "refresh_token": self.refresh_token,
            "id_token": self.id_token,
        }

    @classmethod
    def from_session(cls, data: dict[str, Any]) -> "Tokens | None":
        try:
            return cls(
                person_id=str(data["person_id"]),
                access_token=str(data["access_token"]),
                expires_at=float(data["expires_at"]),
                refresh_token=data.get("refresh_token"),
                id_token=data.get("id_token"),
            )
        except (KeyError, TypeError, ValueError):
            return None


class IdentityProvider(Protocol):
    """Sign-in, refresh and sign-out at the identity provider."""

    async def begin(self, request: Request, redirect_uri: str, locale: str) -> RedirectResponse:
        """Redirect to the provider's sign-in page; the flow's state goes into the session."""
        ...

    async def complete(self, request: Request) -> Tokens:
        """Exchange the callback's code (with the PKCE verifier) and verify the ID token."""
        ...

    async def refresh(self, tokens: Tokens) -> Tokens:
        """New tokens from the refresh token; SignInFailedError when the provider says no."""
        ...

    async def logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str:
        """The provider's end-session URL (RP-initiated logout)."""
        ...


class AuthlibProvider:
    """The provider behind ``issuer``, as a confidential client."""

    def __init__(
        self,
        *,
        discovery_url: str,
        client_id: str,
        client_secret: str,
        scope: str = "openid",
        timeout: float = 5.0,
    ) -> None:
        self._oauth = OAuth()
        self._client_id = client_id
        self._app: Any = self._oauth.register(
            "kinship",
            client_id=client_id,
            client_secret=client_secret,
            server_metadata_url=discovery_url,
            client_kwargs={"scope": scope, "code_challenge_method": "S256", "timeout": timeout},
        )

    async def begin(self, request: Request, redirect_uri: str, locale: str) -> RedirectResponse:
        try:
            response: RedirectResponse = await self._app.authorize_redirect(
                request, redirect_uri, ui_locales=locale
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailableError from error
        return response

    async def complete(self, request: Request) -> Tokens:
        try:
            token = await self._app.authorize_access_token(request)
        except httpx.HTTPError as error:
            raise ProviderUnavailableError from error
        except (OAuthError, ValueError) as error:  # includes joserfc's claim errors
            raise SignInFailedError(type(error).__name__) from error
        except Exception as error:  # joserfc raises its own error types on a bad ID token
            if type(error).__module__.startswith("joserfc"):
                raise SignInFailedError(type(error).__name__) from error
            raise
        claims = token.get("userinfo") or {}
        person_id = claims.get(PERSON_CLAIM)
        if not isinstance(person_id, str) or not person_id:
            raise NoPersonIdError
        return self._tokens(token, person_id, None)

    async def refresh(self, tokens: Tokens) -> Tokens:
        if not tokens.refresh_token:
            raise SignInFailedError("no refresh token")
        try:
            token = await self._app.fetch_access_token(
                grant_type="refresh_token", refresh_token=tokens.refresh_token
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailableError from error
        except OAuthError as error:
            raise SignInFailedError(type(error).__name__) from error
        return self._tokens(token, tokens.person_id, tokens)

    @staticmethod
    def _tokens(token: dict[str, Any], person_id: str, previous: Tokens | None) -> Tokens:
        expires_at = token.get("expires_at")
        if expires_at is None:
            expires_at = time.time() + float(token.get("expires_in", 60))
        refresh_token = token.get("refresh_token") or (previous.refresh_token if previous else None)
        id_token = token.get("id_token") or (previous.id_token if previous else None)
        return Tokens(
            person_id=person_id,
            access_token=str(token["access_token"]),
            expires_at=float(expires_at),
            refresh_token=str(refresh_token) if refresh_token else None,
            id_token=str(id_token) if id_token else None,
        )

    async def logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str:
        try:
            result = await self._app.create_logout_url(
                post_logout_redirect_uri=post_logout_redirect_uri,
                id_token_hint=id_token,
                client_id=self._client_id,
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailableError from error
        return str(result["url"])
