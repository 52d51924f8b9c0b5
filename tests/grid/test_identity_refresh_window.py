"""The refresh token's reuse window: the token a refresh just spent, presented again within
WANGGE_GRID_REFRESH_REUSE_SECONDS, is answered with tokens of its login instead of ending it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grid.app import create_app
from services.grid.identity import service as identity_service
from services.grid.identity.context import Identity
from services.grid.identity.service import sha256
from services.grid.models import RefreshToken
from services.grid.settings import GridSettings
from tests.grid.factories import login, refresh, staff_with_password

PASSWORD = "correct horse battery"


async def signed_in(anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]) -> str:
    await staff_with_password(sessions, "wang.fang", PASSWORD)
    answer = await login(anonymous, "wang.fang", PASSWORD)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["refresh_token"]
    return token


async def works(anonymous: httpx.AsyncClient, access_token: str) -> bool:
    mine = await anonymous.get("/v1/staff/wang.fang", headers={"Authorization": f"Bearer {access_token}"})
    return mine.status_code == 200


async def spent_ago(sessions: async_sessionmaker[AsyncSession], token: str, seconds: int) -> None:
    """Move the spending of ``token`` back in time, as if its refresh came ``seconds`` ago."""
    async with sessions() as session:
        used_at = await session.scalar(
            select(RefreshToken.used_at).where(RefreshToken.token_hash == sha256(token))
        )
        assert used_at is not None
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == sha256(token))
            .values(used_at=used_at - timedelta(seconds=seconds))
        )
        await session.commit()


async def test_two_refreshes_sent_at_once_both_answer_and_the_login_goes_on(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two requests of a phone got their 401 at once and both refreshed with its one token: the
    second was taken for a thief's, the login revoked, the grid worker signed out on patrol."""
    token = await signed_in(anonymous, sessions)

    answers = await asyncio.gather(refresh(anonymous, token), refresh(anonymous, token))

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    first, second = (a.json() for a in answers)
    assert len({token, first["refresh_token"], second["refresh_token"]}) == 3
    assert await works(anonymous, first["access_token"]) and await works(anonymous, second["access_token"])
    # the phone keeps the answer that came last, and goes on refreshing with it
    kept = await refresh(anonymous, second["refresh_token"])
    assert kept.status_code == 200, kept.text
    later = await refresh(anonymous, kept.json()["refresh_token"])
    assert later.status_code == 200, later.text
    assert await works(anonymous, later.json()["access_token"])
    async with sessions() as session:
        assert (await session.scalars(select(RefreshToken.revoked_at))).all() == [None] * 5


async def test_a_refresh_that_waited_for_another_of_its_token_is_answered_too(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], identity: Identity, backend: str
) -> None:
    """On PostgreSQL the second refresh waits for the first one's spending to commit, then finds
    its token spent: the race of two refreshes at once, taken step by step."""
    if backend == "sqlite":
        pytest.skip("SQLite has one connection: two refreshes never overlap")
    token = await signed_in(anonymous, sessions)
    async with sessions() as first, sessions() as second:
        await identity_service.refresh_grant(first, refresh_token=token, identity=identity)  # not committed
        waiting = asyncio.create_task(
            identity_service.refresh_grant(second, refresh_token=token, identity=identity)
        )
        await asyncio.sleep(0.2)
        assert not waiting.done()  # waits for the first
        await first.commit()
        answered = await asyncio.wait_for(waiting, 5)
        await second.commit()
    assert (await refresh(anonymous, answered.refresh_token or "")).status_code == 200


async def test_a_spent_token_is_answered_again_within_the_window_only(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A retry after an answer that was lost comes within the window; the same token half a
    minute after its refresh is what a thief's replay looks like, and still ends the login."""
    token = await signed_in(anonymous, sessions)
    lost = await refresh(anonymous, token)  # its answer never reached the phone
    retried = await refresh(anonymous, token)
    assert (lost.status_code, retried.status_code) == (200, 200), retried.text

    await spent_ago(sessions, token, 31)
    late = await refresh(anonymous, token)

    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")
    for answer in (lost, retried):  # the family is revoked, what the window answered included
        gone = await refresh(anonymous, answer.json()["refresh_token"])
        assert (gone.status_code, gone.json()["error"]) == (400, "invalid_grant")


async def test_once_one_answer_is_refreshed_the_others_are_spent_with_it(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The window leaves a login two live tokens for a moment, not for good: a thief who
    replayed the token within it holds one that the owner's next refresh spends, and presenting
    it then ends the login as any reuse does."""
    token = await signed_in(anonymous, sessions)
    owners = await refresh(anonymous, token)
    thiefs = await refresh(anonymous, token)
    assert (owners.status_code, thiefs.status_code) == (200, 200), thiefs.text

    newest = await refresh(anonymous, owners.json()["refresh_token"])
    assert newest.status_code == 200, newest.text
    replayed = await refresh(anonymous, thiefs.json()["refresh_token"])

    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")
    assert (await refresh(anonymous, newest.json()["refresh_token"])).status_code == 400


async def test_only_the_token_just_spent_is_answered_again(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Within seconds of its spending, but its successor spent too: the token before the last is
    no phone's retry, and ends the login."""
    token = await signed_in(anonymous, sessions)
    retried = [await refresh(anonymous, token), await refresh(anonymous, token)]
    assert [a.status_code for a in retried] == [200, 200], retried[1].text
    newest = await refresh(anonymous, retried[1].json()["refresh_token"])
    assert newest.status_code == 200, newest.text

    older = await refresh(anonymous, token)

    assert (older.status_code, older.json()["error"]) == (400, "invalid_grant")
    assert (await refresh(anonymous, newest.json()["refresh_token"])).status_code == 400


@pytest.mark.parametrize("ending", ["logout", "new password", "deactivated"])
async def test_ending_a_login_ends_the_tokens_its_window_answered(
    ending: str,
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    token = await signed_in(anonymous, sessions)
    answers = await asyncio.gather(refresh(anonymous, token), refresh(anonymous, token))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]

    if ending == "logout":
        ended = await anonymous.post(
            "/v1/auth/logout", json={"refresh_token": answers[0].json()["refresh_token"]}
        )
    elif ending == "new password":
        ended = await client.put("/v1/staff/wang.fang/password", json={"password": "a new long password"})
    else:
        etag = (await client.get("/v1/staff/wang.fang")).headers["ETag"]
        ended = await client.patch("/v1/staff/wang.fang", json={"active": False}, headers={"If-Match": etag})
    assert ended.status_code in (200, 204), ended.text

    for presented in (token, *(a.json()["refresh_token"] for a in answers)):
        refused = await refresh(anonymous, presented)
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    async with sessions() as session:
        assert None not in (await session.scalars(select(RefreshToken.revoked_at))).all()


async def test_a_logout_racing_a_refresh_in_the_window_revokes_its_token_too(
    anonymous: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], identity: Identity, backend: str
) -> None:
    """The token the window answers is added beside the live one, not in its place: the logout
    must wait for it as it waits for a refresh's new token."""
    if backend == "sqlite":
        pytest.skip("SQLite has one connection: a logout and a refresh never overlap")
    token = await signed_in(anonymous, sessions)
    assert (await refresh(anonymous, token)).status_code == 200
    async with sessions() as refreshing, sessions() as logging_out:
        again = await identity_service.refresh_grant(refreshing, refresh_token=token, identity=identity)
        logout = asyncio.create_task(identity_service.logout(logging_out, refresh_token=token))
        await asyncio.sleep(0.2)
        assert not logout.done()  # waits for the refresh
        await refreshing.commit()
        await asyncio.wait_for(logout, 5)
        await logging_out.commit()
    assert (await refresh(anonymous, again.refresh_token or "")).status_code == 400


async def test_a_window_of_0_takes_every_reuse_for_theft(
    grid_settings: GridSettings,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("WANGGE_GRID_REFRESH_REUSE_SECONDS", "0")
    settings = GridSettings(
        database_url=grid_settings.database_url, environment="test", data_dir=tmp_path / "var"
    )
    assert settings.refresh_reuse_seconds == 0
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://grid") as anonymous:
            token = await signed_in(anonymous, sessions)
            rotated = await refresh(anonymous, token)
            assert rotated.status_code == 200
            reused = await refresh(anonymous, token)
            assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
            assert (await refresh(anonymous, rotated.json()["refresh_token"])).status_code == 400
