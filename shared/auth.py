"""Access tokens: verifying the ones grid signs, and getting one for a service's own calls.

Tokens are JWTs signed by grid with Ed25519 (``alg: EdDSA``) and a ``kid``; their claims are
listed in the README. A service verifies them locally with grid's public keys, fetched from
grid's JWKS once and again only when a token names a key it has not seen (at most every few
seconds), never per request. The algorithm is pinned, so ``alg: none`` or an HS256 token
"signed" with the public key are refused like any other bad token: 401.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt
from fastapi.security import OAuth2PasswordBearer

from shared.actors import Actor
from shared.errors import InvalidToken, PeerUnavailable, Unauthorized
from shared.secrets import configured_secret
from shared.settings import ServiceSettings

log = logging.getLogger("wangge.auth")

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "iss"]
JWKS_PATH = "/.well-known/jwks.json"
TOKEN_PATH = "/v1/auth/token"

# Declares the OAuth2 password flow in every service's OpenAPI, so /docs has "Authorize".
bearer_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_PATH, auto_error=False)


class KeySource(Protocol):
    async def key(self, kid: str) -> Any | None: ...


class StaticKeys:
    """Keys known in-process: grid verifies its own tokens this way, tests too."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = _parse_jwks(jwks)

    async def key(self, kid: str) -> Any | None:
        return self._keys.get(kid)


class JwksKeys:
    """grid's public keys, fetched from its JWKS and refetched only for an unknown ``kid``."""

    def __init__(self, http: httpx.AsyncClient, *, min_refetch_seconds: float = 5.0) -> None:
        self._http = http
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._min_refetch = min_refetch_seconds
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> Any | None:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= self._min_refetch:
                await self.refresh()
        return self._keys.get(kid)

    async def refresh(self) -> None:
        """Fetch the keys now; grid out of reach is a 503 (try again), never a 401."""
        try:
            response = await self._http.get(JWKS_PATH)
            response.raise_for_status()
            keys = _parse_jwks(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise PeerUnavailable(f"grid's signing keys are out of reach: {exc}") from exc
        self._fetched_at = time.monotonic()
        self._keys = keys

    async def warm(self, retry_seconds: float = 0.5) -> None:
        """Fetch the keys at startup, retrying until grid answers once, so tokens verify even
        if grid goes down before this service's first request (a background task)."""
        while True:
            try:
                await self.refresh()
                return
            except PeerUnavailable as exc:
                log.info("grid's signing keys not reachable yet: %s", exc)
            await asyncio.sleep(retry_seconds)


def _parse_jwks(jwks: Mapping[str, Any]) -> dict[str, Any]:
    keys = {}
    for data in jwks.get("keys", []):
        if data.get("kid") and data.get("kty") == "OKP":
            keys[data["kid"]] = jwt.PyJWK(dict(data), algorithm=ALGORITHM).key
    return keys


class TokenVerifier:
    """Checks a token's signature and claims once; the same token string again, until it
    expires, is answered from a small cache (a phone sends one token for 15 minutes, and the
    Ed25519 check was the largest cost of an authenticated request after the database)."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: float = 30.0,
        cache_size: int = 4096,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway_seconds
        self._verified: OrderedDict[str, tuple[Actor, float]] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Actor:
        cached = self._verified.get(token)
        if cached is not None and time.time() < cached[1]:
            self._verified.move_to_end(token)
            return cached[0]
        actor, expires_at = await self._verify(token)
        self._verified[token] = (actor, expires_at)
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return actor

    async def _verify(self, token: str) -> tuple[Actor, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("the access token is malformed") from exc
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise InvalidToken("the access token is not one grid signed")
        key = await self.keys.key(kid)
        if key is None:
            raise InvalidToken("the access token is signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
            return Actor.from_claims(claims), float(claims["exp"])
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the access token has expired") from exc
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise InvalidToken("the access token is not valid") from exc


class ServiceTokens:
    """A service's own access token (client credentials), cached and renewed before it expires."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        renew_before_seconds: float = 60.0,
    ) -> None:
        self._http = http
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        self._renew_before = renew_before_seconds
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at - self._renew_before:
                await self._fetch()
            assert self._token is not None
            return self._token

    def forget(self) -> None:
        """Drop the cached token (a peer answered 401: keys rotated, or the token was revoked)."""
        self._token = None

    async def _fetch(self) -> None:
        try:
            response = await self._http.post(TOKEN_PATH, data=self._form)
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"grid is out of reach for a service token: {exc}") from exc
        if response.status_code != 200:
            if response.status_code >= 500:
                raise PeerUnavailable(f"grid answered {response.status_code} for a service token")
            raise Unauthorized(f"grid refused this service's credentials ({response.status_code})")
        body = response.json()
        self._token = body["access_token"]
        self._expires_at = time.monotonic() + float(body.get("expires_in", 300))


def client_secret(settings: ServiceSettings) -> str:
    """This service's secret for grid's client-credentials grant; in production it must be set."""
    name = settings.service_name
    return configured_secret(
        settings,
        settings.client_secret,
        name=f"service-{name}",
        variable=f"WANGGE_{name.upper()}_CLIENT_SECRET",
    )


@dataclass
class GridIdentity:
    """grid as a peer service sees it: grid's keys to verify callers with, and this service's
    own client-credentials token for the calls it makes. Built in the lifespan; closed with it."""

    http: httpx.AsyncClient
    keys: JwksKeys
    verifier: TokenVerifier
    tokens: ServiceTokens

    @classmethod
    def connect(
        cls, settings: ServiceSettings, *, grid_url: str, transport: httpx.AsyncBaseTransport | None = None
    ) -> GridIdentity:
        """Raises :class:`~shared.secrets.SecretMissing` in production without a client secret."""
        name = settings.service_name
        secret = client_secret(settings)
        http = httpx.AsyncClient(
            base_url=grid_url, timeout=peer_timeout(settings.peer_timeout_seconds), transport=transport
        )
        keys = JwksKeys(http)
        return cls(
            http=http,
            keys=keys,
            verifier=TokenVerifier(keys, issuer=settings.auth_issuer, audience=settings.auth_audience),
            tokens=ServiceTokens(http, client_id=name, client_secret=secret),
        )

    async def aclose(self) -> None:
        await self.http.aclose()


def peer_timeout(seconds: float) -> httpx.Timeout:
    """Every inter-service call's timeout: ``seconds`` in all, at most 2 s to connect."""
    return httpx.Timeout(seconds, connect=min(seconds, 2.0))
