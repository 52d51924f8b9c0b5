"""Client credentials: services with their configured secret, integrations with API keys."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.identity.api_keys import create_api_key
from services.grid.models import ApiKey
from services.grid.settings import GridSettings
from shared.db import session_scope, utcnow
from shared.secrets import dev_secret
from tests.grid.factories import client_credentials

BOT = {
    "name": "中山路商圈理事会群机器人",
    "channel": "wechat-bot",
    "scopes": ["reports:create", "reports:read"],
}


def claims_of(response: httpx.Response) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(
        response.json()["access_token"], options={"verify_signature": False}
    )
    return claims


async def test_a_service_gets_a_token_with_its_secret(
    anonymous: httpx.AsyncClient, grid_settings: GridSettings
) -> None:
    secret = dev_secret(grid_settings.data_dir, "service-intake")
    response = await client_credentials(anonymous, "intake", secret)
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()  # left out, not null (RFC 6749, section 4.4.3)
    claims = claims_of(response)
    assert (claims["sub"], claims["role"], claims["scopes"]) == ("service:intake", "service", ["internal"])

    token = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert (await anonymous.get("/v1/territory/cells", headers=token)).status_code == 200
    assert (await anonymous.get("/v1/staff", headers=token)).status_code == 403

    wrong = await client_credentials(anonymous, "intake", secret + "x")
    assert wrong.status_code == 401
    assert (wrong.json()["error"], wrong.json()["detail"]) == (
        "invalid_client",
        "invalid_client: wrong client_id or client_secret",
    )
    dispatch_secret = dev_secret(grid_settings.data_dir, "service-dispatch")
    assert (await client_credentials(anonymous, "intake", dispatch_secret)).status_code == 401
    assert (await client_credentials(anonymous, "dispatch", dispatch_secret)).status_code == 200


async def test_an_api_key_is_shown_once_stored_hashed_and_exchanged_for_a_token(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    created = await client.post("/v1/keys", json=BOT)
    assert created.status_code == 201, created.text
    body = created.json()
    key_id, secret = body["key"].split(".", 1)
    assert key_id == body["id"]
    assert (body["channel"], body["scopes"], body["created_by"]) == ("wechat-bot", BOT["scopes"], "pan.jun")
    assert body["last_used_at"] is None

    listed = (await client.get("/v1/keys")).json()["items"]
    assert [k["id"] for k in listed] == [key_id]
    assert "key" not in listed[0]
    assert secret not in (await client.get(f"/v1/keys/{key_id}")).text

    async with sessions() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
    assert rows and all(secret not in str(value) for row in rows for value in row)

    response = await client_credentials(anonymous, key_id, secret)
    assert response.status_code == 200, response.text
    claims = claims_of(response)
    assert claims["sub"] == f"integration:{key_id}"
    assert (claims["role"], claims["channel"], claims["scopes"]) == (
        "integration",
        "wechat-bot",
        BOT["scopes"],
    )
    assert claims["name"] == BOT["name"]
    # The whole key as the secret works too.
    assert (await client_credentials(anonymous, key_id, body["key"])).status_code == 200
    used = (await client.get(f"/v1/keys/{key_id}")).json()
    assert used["last_used_at"] is not None

    token = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert (await anonymous.get("/v1/regions", headers=token)).status_code == 403

    assert (await client_credentials(anonymous, key_id, "not-the-secret")).status_code == 401
    assert (await client_credentials(anonymous, "ak_0000000000000000", secret)).status_code == 401


async def test_revoked_and_expired_keys_get_no_token(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    revoked = (await client.post("/v1/keys", json=BOT)).json()
    assert (await client.delete(f"/v1/keys/{revoked['id']}")).status_code == 204
    assert (await client.delete(f"/v1/keys/{revoked['id']}")).status_code == 204
    assert (await client.get(f"/v1/keys/{revoked['id']}")).json()["revoked_at"] is not None
    key_id, secret = revoked["key"].split(".", 1)
    refused = await client_credentials(anonymous, key_id, secret)
    assert refused.status_code == 401

    # The CLI's way in (wangge key create), then the key runs out.
    async with session_scope(sessions) as session:
        read, key = await create_api_key(
            session,
            name="第三方上报应用",
            channel="third-party-app",
            scopes=["reports:create"],
            actor_id="cli",
        )
    key_id, secret = key.split(".", 1)
    assert (await client_credentials(anonymous, key_id, secret)).status_code == 200
    async with session_scope(sessions) as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id == read.id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await client_credentials(anonymous, key_id, secret)).status_code == 401
    assert (await client.delete("/v1/keys/ak_0000000000000000")).status_code == 404

    past = await client.post("/v1/keys", json={**BOT, "expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 422
    # Once a 500 each: a naive time compared with an aware one, and the driver's overflow.
    for expires_at in ["2030-01-01T00:00:00", "9999-12-31T23:59:59-14:00", "9000-01-01T00:00:00Z"]:
        refused_time = await client.post("/v1/keys", json={**BOT, "expires_at": expires_at})
        assert refused_time.status_code == 422, refused_time.text
        assert refused_time.json()["errors"][0]["loc"][:2] == ["body", "expires_at"]
    later = await client.post("/v1/keys", json={**BOT, "expires_at": "2099-12-31T23:00:00+08:00"})
    assert later.json()["expires_at"] == "2099-12-31T15:00:00Z"
    async with sessions() as session:
        assert len((await session.scalars(select(ApiKey))).all()) == 3


async def test_an_integrations_token_does_not_outlive_its_key(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    """A key running out in two minutes got a 15-minute token, good for 13 minutes past it."""
    soon = utcnow() + timedelta(minutes=2)
    created = (await client.post("/v1/keys", json={**BOT, "expires_at": soon.isoformat()})).json()
    lasting = (await client.post("/v1/keys", json=BOT)).json()

    short = await client_credentials(anonymous, *created["key"].split(".", 1))
    usual = await client_credentials(anonymous, *lasting["key"].split(".", 1))

    assert claims_of(short)["exp"] == int(soon.timestamp())
    assert 0 < short.json()["expires_in"] <= 120
    assert usual.json()["expires_in"] == 15 * 60
