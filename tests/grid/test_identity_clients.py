"""Client credentials: services with their configured secret, integrations with API keys."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from urllib.parse import quote_plus

import httpx
import jwt
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.identity.api_keys import create_api_key
from services.grid.identity.context import Identity
from services.grid.models import ApiKey
from services.grid.settings import GridSettings
from shared.actors import Role
from shared.db import session_scope, utcnow
from shared.secrets import dev_secret
from tests.grid.conftest import Bearer
from tests.grid.factories import client_credentials, staff_with_password

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
    assert wrong.headers["www-authenticate"] == 'Basic realm="wangge"'  # not Bearer: no token here
    assert wrong.headers["cache-control"] == "no-store"
    dispatch_secret = dev_secret(grid_settings.data_dir, "service-dispatch")
    assert (await client_credentials(anonymous, "intake", dispatch_secret)).status_code == 401
    assert (await client_credentials(anonymous, "dispatch", dispatch_secret)).status_code == 200


async def test_a_create_sent_again_with_its_idempotency_key_names_the_key_made_not_a_second(
    client: httpx.AsyncClient, bearer: Bearer
) -> None:
    """The answer of a create is lost (its secret with it) and the admin's console sends it again:
    a second key nobody holds would stay active, so the retry is told of the first."""
    retry = {"Idempotency-Key": "bot-key-2026-12-06"}
    first = await client.post("/v1/keys", json=BOT, headers=retry)
    assert first.status_code == 201, first.text
    again = await client.post("/v1/keys", json=BOT, headers=retry)
    assert again.status_code == 409
    assert again.json()["key_id"] == first.json()["id"]
    assert f"DELETE /v1/keys/{first.json()['id']}" in again.json()["detail"]
    assert [k["id"] for k in (await client.get("/v1/keys")).json()["items"]] == [first.json()["id"]]
    # another key, or another admin's same key, is another create; none at all, as before
    assert (await client.post("/v1/keys", json=BOT, headers={"Idempotency-Key": "other"})).status_code == 201
    other_admin = {**bearer("admin", id="qiu.ying"), **retry}
    assert (await client.post("/v1/keys", json=BOT, headers=other_admin)).status_code == 201
    assert (await client.post("/v1/keys", json=BOT)).status_code == 201
    assert (await client.post("/v1/keys", json=BOT)).status_code == 201
    too_long = await client.post("/v1/keys", json=BOT, headers={"Idempotency-Key": "k" * 129})
    assert too_long.status_code == 422


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


async def test_a_client_may_ask_for_fewer_scopes_and_none_it_lacks(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    """RFC 6749, section 3.3: a bot that files reports only asks for that scope and its token
    carries no other; a scope the key lacks was silently left out of a token that named none."""
    key_id, secret = (await client.post("/v1/keys", json=BOT)).json()["key"].split(".", 1)
    form = {"grant_type": "client_credentials", "client_id": key_id, "client_secret": secret}

    whole = await anonymous.post("/v1/auth/token", data=form)
    fewer = await anonymous.post("/v1/auth/token", data={**form, "scope": " reports:create "})
    beyond = await anonymous.post("/v1/auth/token", data={**form, "scope": "reports:create staff:write"})

    assert whole.json()["scope"] == "reports:create reports:read"
    assert (fewer.json()["scope"], claims_of(fewer)["scopes"]) == ("reports:create", ["reports:create"])
    assert beyond.status_code == 400
    assert (beyond.json()["error"], beyond.json()["error_description"]) == (
        "invalid_scope",
        "this client has no scope staff:write",
    )
    assert beyond.headers["cache-control"] == "no-store"


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


def basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749, section 2.3.1: each part form-urlencoded, then HTTP Basic."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


def raw_basic(credentials: bytes) -> dict[str, str]:
    return {"Authorization": f"Basic {base64.b64encode(credentials).decode()}"}


CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}


async def test_a_client_may_authenticate_with_http_basic(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, identity: Identity
) -> None:
    """What OAuth 2.0 client libraries send by default (``client_secret_basic``)."""
    identity.service_secrets["intake"] = "a secret: with+plus/slash%and 网格"  # urlencoded in the header
    secret = identity.service_secrets["intake"]
    answer = await anonymous.post("/v1/auth/token", data=CLIENT_CREDENTIALS, headers=basic("intake", secret))
    assert answer.status_code == 200, answer.text
    assert claims_of(answer)["sub"] == "service:intake"

    key_id, key_secret = (await client.post("/v1/keys", json=BOT)).json()["key"].split(".", 1)
    answer = await anonymous.post(
        "/v1/auth/token", data=CLIENT_CREDENTIALS, headers=basic(key_id, key_secret)
    )
    assert claims_of(answer)["sub"] == f"integration:{key_id}"

    # The same credentials in the form too are one client; the client_id alone there as well.
    for form in [
        {"client_id": key_id, "client_secret": key_secret},
        {"client_id": key_id},
        {"client_id": key_id, "client_secret": ""},
    ]:
        both = await anonymous.post(
            "/v1/auth/token", data={**CLIENT_CREDENTIALS, **form}, headers=basic(key_id, key_secret)
        )
        assert both.status_code == 200, (form, both.text)

    # A Bearer token sent along is none of the token endpoint's business.
    bearer = await anonymous.post(
        "/v1/auth/token",
        data={**CLIENT_CREDENTIALS, "client_id": key_id, "client_secret": key_secret},
        headers={"Authorization": "Bearer whatever"},
    )
    assert bearer.status_code == 200


async def test_a_client_refused_through_basic_is_challenged_to_basic(
    anonymous: httpx.AsyncClient, identity: Identity
) -> None:
    """RFC 6749, section 5.2: invalid_client stays a 401, with a WWW-Authenticate of the scheme used."""
    secret = identity.service_secrets["intake"]
    for credentials in [basic("intake", secret + "x"), basic("nobody", secret)]:
        refused = await anonymous.post("/v1/auth/token", data=CLIENT_CREDENTIALS, headers=credentials)
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"] == 'Basic realm="wangge"'
        assert refused.headers["cache-control"] == "no-store"
        assert refused.headers["content-type"] == "application/problem+json"
        assert (refused.json()["error"], refused.json()["status"]) == ("invalid_client", 401)
    no_secret = await anonymous.post("/v1/auth/token", data=CLIENT_CREDENTIALS, headers=basic("intake", ""))
    assert (no_secret.status_code, no_secret.json()["error"]) == (400, "invalid_request")


async def test_client_credentials_in_both_places_that_differ_or_a_broken_basic_header_are_invalid_request(
    anonymous: httpx.AsyncClient, identity: Identity
) -> None:
    secret = identity.service_secrets["intake"]
    other = identity.service_secrets["dispatch"]
    differing = [
        ({"client_id": "dispatch", "client_secret": other}, basic("intake", secret)),
        ({"client_id": "intake", "client_secret": secret + "x"}, basic("intake", secret)),
        ({"client_id": "dispatch"}, basic("intake", secret)),
    ]
    for form, header in differing:
        answer = await anonymous.post("/v1/auth/token", data={**CLIENT_CREDENTIALS, **form}, headers=header)
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request"), form
        assert "www-authenticate" not in answer.headers
    broken = [
        {"Authorization": "Basic"},
        {"Authorization": "Basic not base64!"},
        raw_basic(b"intake"),  # no colon
        raw_basic(b"intake:\xff\xfe"),  # not UTF-8
        raw_basic(b"intake:%ff%fe"),  # its urlencoding not UTF-8
    ]
    for header in broken:
        answer = await anonymous.post(
            "/v1/auth/token",
            data={**CLIENT_CREDENTIALS, "client_id": "intake", "client_secret": secret},
            headers=header,
        )
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request"), header
        assert answer.headers["cache-control"] == "no-store"


async def test_a_password_grant_takes_the_basic_header_of_a_client_without_a_secret(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """requests-oauthlib and others send ``Basic base64(client_id:)`` for a public client."""
    await staff_with_password(sessions, "wang.fang", "correct horse battery")
    form = {"grant_type": "password", "username": "wang.fang", "password": "correct horse battery"}
    for header in [raw_basic(b"swagger:"), raw_basic(b":")]:
        answer = await anonymous.post("/v1/auth/token", data=form, headers=header)
        assert answer.status_code == 200, (header, answer.text)


async def test_a_revoked_or_expired_key_is_refused_like_a_wrong_secret_and_logged_for_the_operator(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The bot hears nothing it could learn from; the operator reads why it stopped."""
    revoked = (await client.post("/v1/keys", json=BOT)).json()
    expiring = (await client.post("/v1/keys", json={**BOT, "name": "第三方上报应用"})).json()
    assert (await client.delete(f"/v1/keys/{revoked['id']}")).status_code == 204
    async with session_scope(sessions) as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == expiring["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    with caplog.at_level(logging.WARNING, logger="wangge.grid.identity"):
        answers = [
            await client_credentials(anonymous, *revoked["key"].split(".", 1)),
            await client_credentials(anonymous, *expiring["key"].split(".", 1)),
            await client_credentials(anonymous, revoked["id"], "not-the-secret"),
        ]
    assert {a.status_code for a in answers} == {401}
    assert len({a.text for a in answers}) == 1
    warnings = [r.getMessage() for r in caplog.records if r.name == "wangge.grid.identity"]
    assert len(warnings) == 2, warnings  # a wrong secret tells nothing about who asked
    assert warnings[0].startswith(
        f"API key {revoked['id']} ('中山路商圈理事会群机器人') refused a token: revoked at "
    )
    assert warnings[0].endswith(" by pan.jun")
    assert warnings[1].startswith(f"API key {expiring['id']} ('第三方上报应用') refused a token: expired at ")
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "wangge.grid.identity")


async def test_intake_reads_whether_keys_are_active_and_no_one_else_does(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    bearer: Bearer,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """intake asks before it delivers to the webhook a key's integration set: a revoked key's
    webhook went on hearing its reports' updates (grid told intake nothing)."""
    live = (await client.post("/v1/keys", json=BOT)).json()
    revoked = (await client.post("/v1/keys", json=BOT)).json()
    expired = (await client.post("/v1/keys", json=BOT)).json()
    later = (utcnow() + timedelta(days=30)).isoformat()
    running_out = (await client.post("/v1/keys", json={**BOT, "expires_at": later})).json()
    assert (await client.delete(f"/v1/keys/{revoked['id']}")).status_code == 204
    async with session_scope(sessions) as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == expired["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    asked = [live["id"], revoked["id"], expired["id"], running_out["id"], "ak_0000000000000000", "a"]
    query = "&".join(f"id={key_id}" for key_id in asked)

    answer = await anonymous.get(f"/internal/v1/key-states?{query}", headers=bearer(Role.service))
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [(item["id"], item["state"]) for item in items] == [
        (live["id"], "active"),
        (revoked["id"], "revoked"),
        (expired["id"], "expired"),
        (running_out["id"], "active"),
        ("ak_0000000000000000", "unknown"),
        ("a", "unknown"),
    ]
    assert items[1]["revoked_at"] is not None
    assert items[3]["expires_at"] is not None and items[0]["expires_at"] is None
    assert set(items[0]) == {"id", "state", "expires_at", "revoked_at"}  # not its name nor scopes

    for caller in (
        bearer(Role.service, id="service:dispatch"),
        bearer(Role.admin),
        bearer(Role.integration, id=f"integration:{live['id']}", scopes=["reports:read"]),
    ):
        refused = await anonymous.get(f"/internal/v1/key-states?{query}", headers=caller)
        assert refused.status_code == 403, refused.text
    assert (await anonymous.get(f"/internal/v1/key-states?{query}")).status_code == 401
    too_many = "&".join(f"id=ak_{i:016x}" for i in range(101))
    answer = await anonymous.get(f"/internal/v1/key-states?{too_many}", headers=bearer(Role.service))
    assert answer.status_code == 422
