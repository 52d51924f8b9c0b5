"""The token endpoint: password, refresh (rotation, reuse detection) and logout; grid's JWKS."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.identity import lockout
from services.grid.identity import service as identity_service
from services.grid.identity.context import Identity
from services.grid.identity.passwords import Passwords
from services.grid.models import RefreshToken, SignInFailure
from services.grid.settings import GridSettings
from shared.db import session_scope, utcnow
from tests.grid.factories import (
    CELL_A1,
    import_territory,
    login,
    refresh,
    staff_with_password,
)
from tests.support.tokens import bearer as foreign_bearer

PASSWORD = "correct horse battery"


def decode(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Verify a token as any relying party would: PyJWT, the JWKS key its kid names, EdDSA only."""
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["EdDSA"],
        audience="wangge",
        issuer="wangge-grid",
        options={"require": ["exp", "iat", "sub", "aud", "iss"]},
    )
    return claims


async def test_password_grant_issues_tokens_that_verify_against_the_jwks(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await import_territory(client)
    await staff_with_password(sessions, "wang.fang", PASSWORD, region_codes=[CELL_A1])

    response = await login(anonymous, "wang.fang", PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"]
    assert response.headers["cache-control"] == "no-store"  # RFC 6749, section 5.1

    jwks = (await anonymous.get("/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(body["access_token"])
    assert (header["alg"], header["typ"]) == ("EdDSA", "JWT")
    claims = decode(body["access_token"], jwks)
    assert claims["sub"] == "wang.fang"
    assert claims["role"] == "grid_worker"
    assert claims["name"] == "王芳"
    assert claims["regions"] == [CELL_A1]
    assert (claims["department"], claims["scopes"], claims["channel"]) == (None, [], None)
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]

    mine = await anonymous.get(
        "/v1/staff/wang.fang", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert mine.status_code == 200
    assert mine.json()["has_password"] is True


async def test_jwks_names_the_signing_key_by_its_rfc7638_thumbprint(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert {k: key[k] for k in ("kty", "crv", "use", "alg")} == {
        "kty": "OKP",
        "crv": "Ed25519",
        "use": "sig",
        "alg": "EdDSA",
    }
    assert "d" not in key  # never the private part
    canonical = json.dumps({"crv": key["crv"], "kty": key["kty"], "x": key["x"]}, separators=(",", ":"))
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    assert key["kid"] == thumbprint.decode()


async def test_a_username_as_a_phone_keyboard_writes_it_signs_in(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Usernames are lower case; a phone capitalises the first letter and adds a space after a
    word it completed, and the grid worker heard "wrong username or password"."""
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    jwks = (await anonymous.get("/.well-known/jwks.json")).json()
    for typed in ("Wang.fang", "WANG.FANG", "wang.fang ", " Wang.Fang"):
        response = await login(anonymous, typed, PASSWORD)
        assert response.status_code == 200, (typed, response.text)
        assert decode(response.json()["access_token"], jwks)["sub"] == "wang.fang"
    wrong_case = await login(anonymous, "Wang.fang", PASSWORD.upper())  # a password's case counts
    assert wrong_case.status_code == 400


async def test_a_username_longer_in_lower_case_is_a_wrong_one_and_counted(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """'İ' is two characters in lower case: 64 of them, the most a username may be typed with,
    were 128 once lowered, which PostgreSQL would not store as a failure's username (a 422,
    'a value in the request cannot be stored', from the token endpoint that answers none)."""
    typed = "İ" * 64

    answer = await login(anonymous, typed, "guess")

    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")
    async with sessions() as session:
        assert (await session.scalars(select(SignInFailure.username))).all() == [typed]


async def test_bad_credentials_are_one_and_the_same_400_invalid_grant(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """RFC 6749, section 5.2: a grant refused is a 400 (it was a 401, which OAuth 2.0 client
    libraries read as their own authentication refused)."""
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    await staff_with_password(sessions, "li.na", None)
    await staff_with_password(sessions, "zhang.wei", PASSWORD, active=False)

    answers = [
        await login(anonymous, "wang.fang", "wrong password"),
        await login(anonymous, "nobody", PASSWORD),
        await login(anonymous, "li.na", PASSWORD),
        await login(anonymous, "zhang.wei", PASSWORD),
    ]
    assert {a.status_code for a in answers} == {400}
    assert not any("www-authenticate" in a.headers for a in answers)
    assert all(a.headers["cache-control"] == "no-store" for a in answers)
    assert len({a.text for a in answers}) == 1
    # RFC 6749's error members beside the problem's, for OAuth 2.0 client libraries to read
    refusal = answers[0].json()
    assert (refusal["error"], refusal["error_description"]) == ("invalid_grant", "wrong username or password")
    assert refusal["detail"] == "invalid_grant: wrong username or password"
    assert (refusal["status"], refusal["title"]) == (400, "Bad request")


async def test_a_username_that_failed_five_times_is_locked_whatever_the_password(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """等保 2.0 asks a login to limit failed attempts: a password is not guessed over the network
    at Argon2's pace, a few tries a quarter of an hour at most."""
    await staff_with_password(sessions, "wang.fang", PASSWORD)

    failed = [await login(anonymous, "wang.fang", f"guess {n}") for n in range(5)]
    locked = await login(anonymous, "Wang.Fang", PASSWORD)  # the right one, too late
    unknown = [await login(anonymous, "nobody", f"guess {n}") for n in range(6)]
    other = await login(anonymous, "li.na", "guess")  # another username is not touched

    assert [a.status_code for a in failed] == [400] * 5
    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/problem+json"
    assert locked.headers["cache-control"] == "no-store"
    assert 50 <= int(locked.headers["Retry-After"]) <= 60  # a minute at first
    assert "ask an admin to set a new password" in locked.json()["detail"]
    assert (
        "sign-in locked: 'wang.fang' tried 5 times in a row without signing in, locked for 0:01:00 "
        "unless the last try succeeds"
    ) in caplog.messages
    # an unknown username is locked the same: the lock tells nobody which usernames exist
    assert [a.status_code for a in unknown] == [400] * 5 + [429]
    assert other.status_code == 400

    async with sessions() as session:  # the minute passed: one more failure locks for two
        await session.execute(update(SignInFailure).values(locked_until=None))
        await session.commit()
    assert (await login(anonymous, "wang.fang", "guess 6")).status_code == 400
    doubled = await login(anonymous, "wang.fang", PASSWORD)
    assert doubled.status_code == 429 and 110 <= int(doubled.headers["Retry-After"]) <= 120

    # the admin sees the lock on the person's record, and in the staff list
    seen = (await client.get("/v1/staff/wang.fang")).json()
    assert seen["sign_in_locked_until"] is not None
    listed = (await client.get("/v1/staff")).json()["items"]
    assert [s["sign_in_locked_until"] is not None for s in listed if s["username"] == "wang.fang"] == [True]

    # an admin's new password unlocks it; a sign-in that succeeds starts the count again
    reset = await client.put("/v1/staff/wang.fang/password", json={"password": "a new long password"})
    assert reset.status_code == 204, reset.text
    assert (await login(anonymous, "wang.fang", "a new long password")).status_code == 200
    assert (await client.get("/v1/staff/wang.fang")).json()["sign_in_locked_until"] is None
    async with sessions() as session:
        assert sorted((await session.scalars(select(SignInFailure.username))).all()) == ["li.na", "nobody"]


async def test_a_lock_grows_to_its_bound_and_failures_a_day_apart_start_over(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    now = utcnow()
    async with sessions() as session:  # 30 failures in a row: locked as long as it may be
        session.add(SignInFailure(username="wang.fang", failures=30, last_failed_at=now, locked_until=None))
        await session.commit()
    await login(anonymous, "wang.fang", "guess")
    longest = await login(anonymous, "wang.fang", PASSWORD)
    assert 890 <= int(longest.headers["Retry-After"]) <= 900  # 15 minutes, not 2^26 of them

    async with sessions() as session:  # the last failure was two days ago
        await session.execute(
            update(SignInFailure).values(last_failed_at=now - timedelta(days=2), locked_until=None)
        )
        await session.commit()
    assert (await login(anonymous, "wang.fang", "guess")).status_code == 400
    async with sessions() as session:
        assert await session.scalar(select(SignInFailure.failures)) == 1


async def test_guesses_sent_at_once_have_five_passwords_checked_and_the_rest_are_refused(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guesses sent at once all passed the lock's check before the first of them failed, and
    each was answered by its password, past the limit too, the right one answered with its
    tokens. Each try is now counted before its password is checked, so of a
    burst only the first five are checked, whatever order they are answered in, and the right
    password after them is refused too. (The burst holds wrong guesses only: the right one
    among the first five would clear the count, as a success does, and the guesses still
    waiting behind it would be counted afresh.)"""
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    verify = Passwords.verify
    checked: list[str] = []

    async def counted(self: Passwords, stored_hash: str | None, typed: str) -> bool:
        checked.append(typed)
        return await verify(self, stored_hash, typed)

    monkeypatch.setattr(Passwords, "verify", counted)
    guesses = [f"guess {n}" for n in range(20)]
    answers = await asyncio.gather(*(login(anonymous, "wang.fang", guess) for guess in guesses))

    assert len(checked) == 5, checked
    statuses = sorted(answer.status_code for answer in answers)
    assert (statuses.count(400), statuses.count(429)) == (5, 15)
    assert (await login(anonymous, "wang.fang", PASSWORD)).status_code == 429
    assert len(checked) == 5


async def test_a_failure_is_counted_while_another_usernames_is_being_counted(
    sessions: async_sessionmaker[AsyncSession], grid_settings: GridSettings, backend: str
) -> None:
    """Each failure also deletes the rows of usernames whose last failure was a day ago. It
    waited for such a row while another sign-in's failure was being counted on it, and two
    failing at once, of two usernames that had last failed a day before, waited for each other:
    PostgreSQL broke the deadlock by aborting one, a 503 and its failure not counted."""
    if backend == "sqlite":
        pytest.skip("SQLite has one connection: two failures are never counted at once")
    now = utcnow()
    async with session_scope(sessions) as session:
        for name in ("wang.fang", "li.na"):
            session.add(SignInFailure(username=name, failures=4, last_failed_at=now - timedelta(days=2)))
    async with sessions() as other, sessions() as counting:
        # li.na's failure counted (its row locked, the transaction still open)
        await other.execute(
            update(SignInFailure)
            .where(SignInFailure.username == "li.na")
            .values(failures=SignInFailure.failures + 1, last_failed_at=now)
        )
        await asyncio.wait_for(lockout.attempt(counting, "wang.fang", now, grid_settings), 5)
        await counting.commit()
        await other.commit()
    async with sessions() as session:
        counted = dict((await session.execute(select(SignInFailure.username, SignInFailure.failures))).all())
    assert counted == {"wang.fang": 1, "li.na": 5}  # a day after the last, the count starts over


async def test_refresh_rotates_and_a_reused_token_revokes_its_family(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    first = (await login(anonymous, "wang.fang", PASSWORD)).json()
    other_login = (await login(anonymous, "wang.fang", PASSWORD)).json()

    second = await refresh(anonymous, first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    third = await refresh(anonymous, rotated["refresh_token"])
    assert third.status_code == 200
    newest = third.json()["refresh_token"]

    reused = await refresh(anonymous, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    # the operator can tell why the person was signed out
    [logged] = [r.getMessage() for r in caplog.records if "refresh token reused" in r.getMessage()]
    assert logged.startswith("refresh token reused: a login of 'wang.fang' (family ")
    # The whole family is gone, the newest token included; another login is untouched.
    gone = await refresh(anonymous, newest)
    assert (gone.status_code, gone.json()["error"]) == (400, "invalid_grant")
    assert (await refresh(anonymous, "never-issued")).json()["error"] == "invalid_grant"
    assert (await refresh(anonymous, other_login["refresh_token"])).status_code == 200

    async with sessions() as session:
        stored = (await session.scalars(select(RefreshToken))).all()
    assert all(len(t.token_hash) == 64 for t in stored)
    assert first["refresh_token"] not in {t.token_hash for t in stored}


async def test_logout_revokes_the_refresh_token_family(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    tokens = (await login(anonymous, "wang.fang", PASSWORD)).json()
    rotated = (await refresh(anonymous, tokens["refresh_token"])).json()

    response = await anonymous.post("/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 204
    assert (await refresh(anonymous, rotated["refresh_token"])).status_code == 400
    unknown = await anonymous.post("/v1/auth/logout", json={"refresh_token": "never-issued"})
    assert unknown.status_code == 204


async def test_deactivating_a_person_ends_their_logins_for_good(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A phone is lost: the admin deactivates its owner, and makes her active again once she has
    a new one. The lost phone's refresh token was refused only while she was inactive."""
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    lost_phone = (await login(anonymous, "wang.fang", PASSWORD)).json()["refresh_token"]

    async def set_active(active: bool) -> None:
        etag = (await client.get("/v1/staff/wang.fang")).headers["ETag"]
        changed = await client.patch(
            "/v1/staff/wang.fang", json={"active": active}, headers={"If-Match": etag}
        )
        assert changed.status_code == 200, changed.text

    await set_active(False)
    assert (await refresh(anonymous, lost_phone)).json()["error"] == "invalid_grant"
    await set_active(True)
    assert (await refresh(anonymous, lost_phone)).json()["error"] == "invalid_grant"
    new_phone = (await login(anonymous, "wang.fang", PASSWORD)).json()["refresh_token"]
    await set_active(True)  # a change that leaves her active ends no login
    assert (await refresh(anonymous, new_phone)).status_code == 200


async def test_a_logout_racing_a_refresh_revokes_the_refreshed_token_too(
    anonymous: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    identity: Identity,
    backend: str,
) -> None:
    """The refresh's new token, committed while the logout waited, outlived the logout's 204."""
    if backend == "sqlite":
        pytest.skip("SQLite has one connection: a logout and a refresh never overlap")
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    tokens = (await login(anonymous, "wang.fang", PASSWORD)).json()
    async with sessions() as refreshing, sessions() as logging_out:
        rotated = await identity_service.refresh_grant(
            refreshing, refresh_token=tokens["refresh_token"], identity=identity
        )  # spent, its new token added, not yet committed
        logout = asyncio.create_task(
            identity_service.logout(logging_out, refresh_token=tokens["refresh_token"])
        )
        await asyncio.sleep(0.2)
        assert not logout.done()  # waits for the refresh
        await refreshing.commit()
        await logout
        await logging_out.commit()
    assert (await refresh(anonymous, rotated.refresh_token or "")).status_code == 400


async def test_the_token_request_is_an_oauth2_form(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    # What Swagger's Authorize sends: an empty scope besides the credentials.
    swagger = await anonymous.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "wang.fang", "password": PASSWORD, "scope": ""},
    )
    assert swagger.status_code == 200


def oauth_error(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["detail"] == f"{body['error']}: {body['error_description']}"
    return response.status_code, body["error"]


async def test_a_request_grid_cannot_take_is_refused_with_rfc_6749s_400_and_error(
    anonymous: httpx.AsyncClient,
) -> None:
    """RFC 6749, section 5.2: a missing, repeated or malformed parameter is 400 invalid_request,
    an unknown grant 400 unsupported_grant_type (both were 422, which no OAuth 2.0 library reads)."""
    post = anonymous.post
    as_json = await post("/v1/auth/token", json={"grant_type": "password", "username": "u", "password": "p"})
    assert oauth_error(as_json) == (400, "invalid_request")

    unknown = await post("/v1/auth/token", data={"grant_type": "implicit"})
    assert oauth_error(unknown) == (400, "unsupported_grant_type")
    assert unknown.json()["error_description"] == (
        "grid grants password, refresh_token, client_credentials, no other grant_type"
    )

    for form in [
        {"username": "wang.fang", "password": PASSWORD},  # no grant_type
        {"grant_type": "", "username": "wang.fang", "password": PASSWORD},  # blank is left out
        {"grant_type": "password", "username": "x"},
        {"grant_type": "password", "username": "x", "password": ""},
        {"grant_type": "refresh_token"},
        {"grant_type": "client_credentials", "client_id": "intake"},
    ]:
        assert oauth_error(await post("/v1/auth/token", data=form)) == (400, "invalid_request"), form
    missing = await post("/v1/auth/token", data={"grant_type": "password", "username": "x"})
    assert missing.json()["error_description"] == "the password grant needs username and password"

    repeated = await post(
        "/v1/auth/token",
        content="grant_type=password&username=a&username=b&password=p",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert oauth_error(repeated) == (400, "invalid_request")
    assert repeated.json()["error_description"] == "each parameter is sent once; repeated: username"

    too_long = await post(
        "/v1/auth/token", data={"grant_type": "password", "username": "u" * 65, "password": "p"}
    )
    assert oauth_error(too_long) == (400, "invalid_request")
    assert too_long.json()["errors"][0]["loc"] == ["body", "username"]


async def test_tokens_grid_did_not_sign_or_that_expired_are_401(
    anonymous: httpx.AsyncClient, identity: Identity
) -> None:
    foreign = await anonymous.get("/v1/regions", headers=foreign_bearer("pan.jun", "admin"))
    assert foreign.status_code == 401
    now = int(time.time())
    expired = jwt.encode(
        {
            "iss": "wangge-grid",
            "aud": "wangge",
            "sub": "pan.jun",
            "role": "admin",
            "iat": now - 3600,
            "exp": now - 1800,
        },
        identity.issuer.key.private_key,
        algorithm="EdDSA",
        headers={"kid": identity.issuer.key.kid},
    )
    response = await anonymous.get("/v1/regions", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="the access token has expired"'
    )
    garbage = await anonymous.get("/v1/regions", headers={"Authorization": "Bearer not-a-jwt"})
    assert garbage.status_code == 401
    assert garbage.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="the access token is malformed"'
    )
    none = await anonymous.get("/v1/regions")
    assert (none.status_code, none.headers["www-authenticate"]) == (401, "Bearer")


async def test_a_browser_preflight_is_let_in_only_from_the_listed_origins(
    anonymous: httpx.AsyncClient, grid_settings: Any
) -> None:
    """intake's and dispatch's /docs sign in at grid's token endpoint; another origin's
    preflight is refused as a problem, like every error (Starlette's was text/plain)."""
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    listed = grid_settings.cors_origins[0]
    allowed = await anonymous.options("/v1/auth/token", headers={"Origin": listed, **asked})
    refused = await anonymous.options("/v1/auth/token", headers={"Origin": "https://evil.example", **asked})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == listed
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == "Disallowed CORS origin"
    assert "access-control-allow-origin" not in refused.headers
