"""Bearer tokens on a real intake route: only a token grid signed, unexpired, for wangge, gets in.

Each bad token is a 401 problem with ``WWW-Authenticate: Bearer``; grid's keys are fetched
once, not per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.actors import Actor, Role
from tests.support.tokens import KID, OTHER_KEY, SIGNING_KEY, claims_for, forge, token

from .conftest import Intake
from .factories import report_body
from .fakes import CELL_A1

WORKER = Actor(id="wang.fang", role=Role.grid_worker, regions=[CELL_A1])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hs256_with_public_key() -> str:
    """The key-confusion attack: HS256 "signed" with grid's public key as the HMAC secret."""
    public = SIGNING_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": KID}
    unsigned = forge(header, claims_for(WORKER)).rsplit(".", 1)[0]
    signature = hmac.new(public, unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{b64(signature)}"


def tampered() -> str:
    """A valid token whose payload segment was edited (role raised to admin), signature kept."""
    header, payload, signature = token(WORKER).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = Role.admin.value
    return ".".join([header, b64(json.dumps(claims).encode()), signature])


def bad_tokens() -> dict[str, str | None]:
    now = int(time.time())
    return {
        "no-token": None,
        "not-a-jwt": "garbage",
        "alg-none": forge({"alg": "none", "typ": "JWT", "kid": KID}, claims_for(WORKER)),
        "other-key": token(WORKER, key=OTHER_KEY),
        "hs256-public-key": hs256_with_public_key(),
        "expired": token(WORKER, iat=now - 7200, exp=now - 3600),
        "without-exp": token(WORKER, exp=...),
        "without-iat": token(WORKER, iat=...),
        "wrong-aud": token(WORKER, aud="someone-else"),
        "wrong-iss": token(WORKER, iss="evil-grid"),
        "tampered-payload": tampered(),
        "unknown-kid": token(WORKER, kid="not-a-grid-key"),
        "unknown-role": token(WORKER, role="superuser"),
    }


@pytest.mark.parametrize("case", list(bad_tokens()))
async def test_bad_token_is_401(intake: Intake, case: str) -> None:
    value = bad_tokens()[case]
    headers = {"Authorization": f"Bearer {value}" if value else ""}

    response = await intake.client.get("/v1/reports", headers=headers)

    assert response.status_code == 401, response.text
    # RFC 6750: no token, a bare challenge; a token that is not good, invalid_token, which an
    # OAuth 2.0 client library reads as "refresh and try again"
    challenge = (
        "Bearer"
        if value is None
        else f'Bearer error="invalid_token", error_description="{response.json()["detail"]}"'
    )
    assert response.headers["WWW-Authenticate"] == challenge
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


async def test_bad_token_files_nothing(intake: Intake) -> None:
    response = await intake.client.post(
        "/v1/reports", json=report_body(), headers={"Authorization": f"Bearer {tampered()}"}
    )

    assert response.status_code == 401
    assert await intake.report_count() == 0


async def test_grid_keys_are_fetched_once_not_per_request(intake: Intake) -> None:
    for n in range(5):
        actor = Actor(id=f"worker.{n}", role=Role.grid_worker)
        response = await intake.client.get("/v1/reports", headers={"Authorization": f"Bearer {token(actor)}"})
        assert response.status_code == 200

    assert intake.grid.jwks_calls == 1


async def test_unknown_kids_do_not_make_a_call_to_grid_each(intake: Intake) -> None:
    await intake.client.get("/v1/reports")  # keys cached
    for _ in range(5):
        await intake.client.get(
            "/v1/reports", headers={"Authorization": f"Bearer {token(WORKER, kid='k-x')}"}
        )

    assert intake.grid.jwks_calls <= 2


async def test_cached_keys_keep_working_while_grid_is_down(intake: Intake) -> None:
    assert (await intake.client.get("/v1/reports")).status_code == 200
    intake.grid.down = intake.grid.auth_down = True

    response = await intake.client.get("/v1/reports")

    assert response.status_code == 200


async def test_grid_keys_out_of_reach_is_503_not_401(intake_without_territory: Intake) -> None:
    intake = intake_without_territory
    intake.grid.auth_down = True

    response = await intake.client.get("/v1/reports")

    assert response.status_code == 503
