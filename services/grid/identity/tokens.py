"""Access tokens grid signs, and the verifier grid uses for its own routes.

Claims follow the contract in ``shared.auth``: ``iss``, ``aud``, ``sub``, ``iat``, ``exp``,
``jti`` and the actor's identity claims (role, name, department, regions, scopes, channel).
grid verifies its own tokens with its public key in-process: no JWKS fetch.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import jwt

from services.grid.identity.keys import SigningKey
from services.grid.settings import GridSettings
from shared.actors import Actor
from shared.auth import ALGORITHM, StaticKeys, TokenVerifier


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


@dataclass(frozen=True)
class TokenIssuer:
    key: SigningKey
    issuer: str
    audience: str
    lifetime_seconds: int

    @classmethod
    def from_settings(cls, key: SigningKey, settings: GridSettings) -> TokenIssuer:
        return cls(
            key=key,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            lifetime_seconds=settings.access_token_minutes * 60,
        )

    def issue(self, actor: Actor, *, not_after: datetime | None = None) -> IssuedToken:
        """A signed access token for ``actor``, living the configured lifetime or until
        ``not_after`` if that comes first (an API key's own expiry)."""
        now = int(time.time())
        expires = now + self.lifetime_seconds
        if not_after is not None:
            expires = min(expires, int(not_after.timestamp()))
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": expires,
            "jti": uuid.uuid4().hex,
            **actor.claims(),
        }
        token = jwt.encode(
            claims, self.key.private_key, algorithm=ALGORITHM, headers={"kid": self.key.kid, "typ": "JWT"}
        )
        return IssuedToken(token=token, expires_in=expires - now)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.key.jwk()]}

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(StaticKeys(self.jwks()), issuer=self.issuer, audience=self.audience)
