"""Passwords: Argon2id at OWASP's minimum or above, rehashed on login, set by admins or oneself."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.models import Staff
from shared.db import session_scope
from tests.grid.conftest import Bearer
from tests.grid.factories import create_department, create_handler, login, refresh, staff_with_password

PASSWORD = "correct horse battery"


async def stored_hash(sessions: async_sessionmaker[AsyncSession], username: str) -> str:
    async with sessions() as session:
        found = await session.scalar(select(Staff.password_hash).where(Staff.username == username))
    assert found is not None
    return found


def argon2_parameters(encoded: str) -> dict[str, int]:
    match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+", encoded)
    assert match, encoded
    memory, time_cost, lanes = (int(g) for g in match.groups())
    return {"m": memory, "t": time_cost, "p": lanes}


async def test_the_stored_hash_is_argon2id_at_owasp_minimum_or_more(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    encoded = await stored_hash(sessions, "wang.fang")
    parameters = argon2_parameters(encoded)
    assert parameters["m"] >= 19456
    assert parameters["t"] >= 2
    assert PASSWORD not in encoded


async def test_a_hash_with_old_parameters_is_rehashed_at_login(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    old = PasswordHasher(time_cost=3, memory_cost=19456, parallelism=1, type=Type.ID).hash(PASSWORD)
    async with session_scope(sessions) as session:
        await session.execute(update(Staff).where(Staff.username == "wang.fang").values(password_hash=old))

    assert (await login(anonymous, "wang.fang", PASSWORD)).status_code == 200
    rehashed = await stored_hash(sessions, "wang.fang")
    assert rehashed != old
    assert argon2_parameters(rehashed)["t"] == 2
    assert (await login(anonymous, "wang.fang", PASSWORD)).status_code == 200


async def test_an_admin_sets_a_password_and_the_old_sessions_end(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await staff_with_password(sessions, "li.na", None)
    before = await client.get("/v1/staff/li.na")
    assert before.json()["has_password"] is False
    no_password = await login(anonymous, "li.na", "whatever she tries")
    assert (no_password.status_code, no_password.json()["error"]) == (400, "invalid_grant")

    response = await client.put("/v1/staff/li.na/password", json={"password": PASSWORD})
    assert response.status_code == 204, response.text
    tokens = (await login(anonymous, "li.na", PASSWORD)).json()
    # her record now reads has_password: true, so it is a new version, and an edit made on
    # the record read before is stale
    after = await client.get("/v1/staff/li.na")
    assert after.json()["has_password"] is True and after.headers["etag"] != before.headers["etag"]
    stale = await client.patch(
        "/v1/staff/li.na", json={"name": "李娜"}, headers={"If-Match": before.headers["etag"]}
    )
    assert stale.status_code == 412

    again = await client.put("/v1/staff/li.na/password", json={"password": "another long one"})
    assert again.status_code == 204
    assert (await login(anonymous, "li.na", PASSWORD)).json()["error"] == "invalid_grant"
    assert (await refresh(anonymous, tokens["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await login(anonymous, "li.na", "another long one")).status_code == 200

    assert (await client.put("/v1/staff/nobody/password", json={"password": PASSWORD})).status_code == 404
    short = await client.put("/v1/staff/li.na/password", json={"password": "short"})
    assert short.status_code == 422
    blank = await client.put("/v1/staff/li.na/password", json={"password": " " * 8 + "\t"})
    assert blank.status_code == 422  # nine blanks were a password
    assert blank.json()["errors"][0]["msg"].endswith("a password is more than spaces")


async def test_a_person_changes_their_own_password_with_the_current_one(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], bearer: Bearer
) -> None:
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    await staff_with_password(sessions, "li.na", PASSWORD)
    token = (await login(anonymous, "wang.fang", PASSWORD)).json()["access_token"]
    me = {"Authorization": f"Bearer {token}"}

    without = await anonymous.put(
        "/v1/staff/wang.fang/password", json={"password": "new password!"}, headers=me
    )
    assert without.status_code == 422  # the app's slip, not a guess
    assert without.json()["detail"] == (
        "give your current password as current_password to set your own password"
    )
    wrong = await anonymous.put(
        "/v1/staff/wang.fang/password",
        json={"password": "new password!", "current_password": "not it"},
        headers=me,
    )
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == "current_password is not your current password"
    someone_else = await anonymous.put(
        "/v1/staff/li.na/password",
        json={"password": "new password!", "current_password": PASSWORD},
        headers=me,
    )
    assert someone_else.status_code == 403

    changed = await anonymous.put(
        "/v1/staff/wang.fang/password",
        json={"password": "new password!", "current_password": PASSWORD},
        headers=me,
    )
    assert changed.status_code == 204
    assert (await login(anonymous, "wang.fang", "new password!")).status_code == 200
    assert (await login(anonymous, "li.na", PASSWORD)).status_code == 200


async def test_guesses_at_the_current_password_count_as_failed_sign_ins(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], bearer: Bearer
) -> None:
    """Changing one's own password checks the current one: it was the one check of a password
    the sign-in lock did not count, so a token taken for its fifteen minutes (a phone left
    unlocked) guessed at Argon2's pace the password that outlives it."""
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    me = bearer("grid_worker", id="wang.fang")

    async def change(current: str) -> httpx.Response:
        body = {"password": "new password!", "current_password": current}
        return await anonymous.put("/v1/staff/wang.fang/password", json=body, headers=me)

    for _ in range(5):  # none sent: no guess, nothing counted
        body = {"password": "new password!"}
        assert (await anonymous.put("/v1/staff/wang.fang/password", json=body, headers=me)).status_code == 422
    guesses = [await change(f"guess {n}") for n in range(5)]
    right_too_late = await change(PASSWORD)
    sign_in = await login(anonymous, "wang.fang", PASSWORD)

    assert [g.status_code for g in guesses] == [403] * 5
    assert right_too_late.status_code == 429 and "Retry-After" in right_too_late.headers
    assert sign_in.status_code == 429  # the same username's lock
    assert PasswordHasher().verify(await stored_hash(sessions, "wang.fang"), PASSWORD)  # unchanged


async def test_a_password_set_during_an_edit_is_one_version_more(
    client: httpx.AsyncClient, backend: str
) -> None:
    """The edit and the password are two changes: the record ends two versions on, so the edit's
    answer (without the password) never carries the ETag of the record with it. Unlocked, on
    PostgreSQL both wrote version 2 and the stale answer's ETag matched the record."""
    if backend == "sqlite":
        pytest.skip("SQLite has one connection: two changes never overlap")
    await create_department(client, "police")
    for attempt in range(5):
        username = f"gao.peng{attempt}"
        await create_handler(client, username, "police", password=None)
        before = await client.get(f"/v1/staff/{username}")
        edit, password = await asyncio.gather(
            client.patch(
                f"/v1/staff/{username}", json={"name": "高鹏"}, headers={"If-Match": before.headers["etag"]}
            ),
            client.put(f"/v1/staff/{username}/password", json={"password": "a long password"}),
        )
        assert password.status_code == 204, password.text
        after = await client.get(f"/v1/staff/{username}")
        assert after.json()["has_password"] is True
        if edit.status_code == 200:  # the edit came first: the password is a version after it
            assert edit.headers["etag"] != after.headers["etag"]
            assert after.json()["name"] == "高鹏"
        else:  # the password came first: the edit's If-Match was stale
            assert edit.status_code == 412, edit.text
