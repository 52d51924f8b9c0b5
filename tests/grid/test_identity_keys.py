"""grid's signing key: configured, or generated once into the data dir; never a default in production."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.grid.app import create_app
from services.grid.identity.keys import SigningKeyMissing, load_signing_key
from services.grid.settings import GridSettings
from shared.secrets import SecretMissing

SERVICE_SECRETS = {"intake": "s" * 32, "dispatch": "d" * 32}


def sqlite(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'grid.db'}"


async def kid_of(settings: GridSettings) -> str:
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://grid") as client:
            kid: str = (await client.get("/.well-known/jwks.json")).json()["keys"][0]["kid"]
            return kid


async def test_development_generates_the_key_once_with_mode_0600(tmp_path: Path) -> None:
    settings = GridSettings(environment="development", data_dir=tmp_path, database_url=sqlite(tmp_path))
    first = await kid_of(settings)
    key_file = tmp_path / "keys" / "grid-signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert await kid_of(settings) == first
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == ["service-dispatch", "service-intake"]


def write_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)


async def test_production_refuses_to_start_without_a_signing_key_or_secrets(tmp_path: Path) -> None:
    base: dict[str, Any] = {
        "environment": "production",
        "data_dir": tmp_path,
        "database_url": sqlite(tmp_path),
    }
    with pytest.raises(SigningKeyMissing, match="WANGGE_GRID_SIGNING_KEY_FILE"):
        async with LifespanManager(create_app(GridSettings(**base, service_secrets=SERVICE_SECRETS))):
            pass
    assert not (tmp_path / "keys").exists()

    key_file = tmp_path / "grid.pem"
    write_key(key_file)
    with pytest.raises(SecretMissing, match="WANGGE_GRID_SERVICE_SECRETS"):
        async with LifespanManager(create_app(GridSettings(**base, signing_key_file=key_file))):
            pass
    assert not (tmp_path / "secrets").exists()

    configured = GridSettings(**base, signing_key_file=key_file, service_secrets=SERVICE_SECRETS)
    assert await kid_of(configured) == await kid_of(configured)


async def test_a_key_file_that_is_not_ed25519_refuses_to_start(tmp_path: Path) -> None:
    key_file = tmp_path / "grid.pem"
    key_file.write_text("not a key")
    settings = GridSettings(
        environment="test", data_dir=tmp_path, database_url=sqlite(tmp_path), signing_key_file=key_file
    )
    with pytest.raises(SigningKeyMissing, match="cannot read"):
        async with LifespanManager(create_app(settings)):
            pass


def test_a_key_file_others_can_read_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Taken (a Kubernetes secret is mounted 0644 by default), but said: it was silent."""
    key_file = tmp_path / "grid.pem"
    write_key(key_file)
    settings = GridSettings(environment="test", data_dir=tmp_path, signing_key_file=key_file)
    for mode, warned in ((0o600, False), (0o644, True)):
        key_file.chmod(mode)
        caplog.clear()
        load_signing_key(settings)
        assert any("chmod 600" in record.getMessage() for record in caplog.records) is warned
