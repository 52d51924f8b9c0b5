"""grid's signing key: Ed25519, loaded from ``signing_key_file`` or, outside production,
generated once into ``<data_dir>/keys/grid-signing-key.pem`` (mode 0600) and reused after.

The key id (``kid``) is the RFC 7638 JWK thumbprint of the public key, so the same key has
the same id in every process and a new key gets a new one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.grid.settings import GridSettings
from shared.secrets import SecretMissing

DEV_KEY_PATH = Path("keys") / "grid-signing-key.pem"

log = logging.getLogger("wangge.grid.keys")


class SigningKeyMissing(SecretMissing):
    """grid cannot start: no signing key configured (production) or the file is unusable."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    kid: str

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        return cls(private_key=private_key, kid=thumbprint(private_key.public_key()))

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK, as ``/.well-known/jwks.json`` lists it."""
        return {**_public_members(self.public_key), "kid": self.kid, "use": "sig", "alg": "EdDSA"}


def _public_members(public_key: Ed25519PublicKey) -> dict[str, str]:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}


def thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, without whitespace; base64url."""
    canonical = json.dumps(_public_members(public_key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def load_signing_key(settings: GridSettings) -> SigningKey:
    """The configured key, or the development key (created on first use); production needs one."""
    if settings.signing_key_file is not None:
        with contextlib.suppress(OSError):  # one we cannot stat, _read_pem names
            if settings.signing_key_file.stat().st_mode & 0o077:
                log.warning(  # not refused: a Kubernetes secret is mounted 0644 unless told otherwise
                    "the signing key %s can be read by others than its owner: chmod 600 it",
                    settings.signing_key_file,
                )
        return SigningKey.from_private_key(_read_pem(settings.signing_key_file))
    if settings.environment == "production":
        raise SigningKeyMissing(
            "grid refuses to start in production without a signing key: set WANGGE_GRID_SIGNING_KEY_FILE "
            "to a PEM Ed25519 private key (e.g. `openssl genpkey -algorithm ed25519 -out grid.pem`)"
        )
    path = settings.data_dir / DEV_KEY_PATH
    if not path.exists():
        _create_pem(path)
    return SigningKey.from_private_key(_read_pem(path))


def _read_pem(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyMissing(f"cannot read the signing key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyMissing(f"the signing key {path} is not an Ed25519 private key")
    return key


def _create_pem(path: Path) -> None:
    """Write a new key atomically: several processes may race; the first link wins, all read it."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
