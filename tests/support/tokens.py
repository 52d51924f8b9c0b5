"""Access tokens for tests: a test signing key, its JWKS, and ``bearer(...)`` headers.

Tests of intake and dispatch serve ``TEST_JWKS`` from their fake grid (at
``shared.auth.JWKS_PATH``) so the real verifier checks real signatures; ``forge`` makes
the bad tokens the token tests need.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.actors import Actor, Role

ISSUER = "wangge-grid"
AUDIENCE = "wangge"
KID = "test-key-1"

SIGNING_KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()


def _jwk(key: Ed25519PrivateKey, kid: str) -> dict[str, str]:
    raw = key.public_key().public_bytes_raw()
    x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}


TEST_JWKS = {"keys": [_jwk(SIGNING_KEY, KID)]}


def claims_for(actor: Actor, *, ttl: float = 900, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + int(ttl), "jti": uuid.uuid4().hex}
    claims.update(actor.claims())
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def token(actor: Actor, *, key: Ed25519PrivateKey = SIGNING_KEY, kid: str = KID, **overrides: Any) -> str:
    return jwt.encode(claims_for(actor, **overrides), key, algorithm="EdDSA", headers={"kid": kid})


def bearer(
    actor_id: str = "wang.fang",
    role: Role | str = Role.grid_worker,
    **fields: Any,
) -> dict[str, str]:
    """``Authorization`` headers for an actor, e.g. ``bearer("gao.peng", "handler", department="police")``."""
    actor = Actor(id=actor_id, role=Role(role), **fields)
    return {"Authorization": f"Bearer {token(actor)}"}


def service_bearer(name: str) -> dict[str, str]:
    return bearer(f"service:{name}", Role.service, scopes=["internal"])


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A token with any header and claims and a raw signature (``alg: none`` and friends)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    return ".".join([part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(signature)])
