"""Queries on refresh tokens and API keys."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.models import ApiKey, RefreshToken
from shared.db import one_of


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


async def spend_refresh_token(session: AsyncSession, token: RefreshToken, now: datetime) -> bool:
    """Spend ``token``, only if nobody spent or revoked it first (one winner when requests race),
    and retire the other live tokens of its family: the ones the reuse window issued beside it
    (``service.refresh_grant``), which nobody should present now, are spent with it.

    The family's live tokens are locked first, oldest first, as a logout locks them: two
    refreshes of one family, or one and a logout, lock in one order and wait in turn, not deadlock."""
    live = _live(RefreshToken.family_id == token.family_id)
    await session.execute(select(RefreshToken.id).where(*live).order_by(RefreshToken.id).with_for_update())
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, *live)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    await session.execute(
        update(RefreshToken).where(*live).values(used_at=now).execution_options(synchronize_session=False)
    )
    return True


async def lock_live_children(session: AsyncSession, token: RefreshToken) -> list[int]:
    """The live tokens issued for ``token``'s spending, locked: a refresh of one of them, or a
    logout, waits until the token the caller adds beside them commits, and then sees it."""
    live = _live(RefreshToken.family_id == token.family_id, RefreshToken.parent_id == token.id)
    return list(
        await session.scalars(
            select(RefreshToken.id).where(*live).order_by(RefreshToken.id).with_for_update()
        )
    )


def _live(*which: ColumnElement[bool]) -> tuple[ColumnElement[bool], ...]:
    return (*which, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))


async def revoke_family(session: AsyncSession, family_id: UUID, now: datetime) -> None:
    await _revoke(session, RefreshToken.family_id == family_id, now)


async def revoke_all_of_staff(session: AsyncSession, staff_id: int, now: datetime) -> None:
    await _revoke(session, RefreshToken.staff_id == staff_id, now)


async def _revoke(session: AsyncSession, which: ColumnElement[bool], now: datetime) -> None:
    """Revoke the tokens ``which`` names that are not yet, those a refresh in flight adds included.

    The tokens are locked first, in a statement of their own: a refresh holds its token's lock
    from spending it until its new token commits (one in the reuse window, the locks of the
    live tokens it adds a sibling to), so the lock waits for that, and the UPDATE after it (a
    new snapshot on PostgreSQL) sees the new token. A lone UPDATE waited on the same lock but
    with its snapshot taken before: a logout racing a refresh answered 204 and the refresh's
    new token went on working. Oldest first, as a refresh locks them."""
    live = (RefreshToken.revoked_at.is_(None), which)
    await session.execute(select(RefreshToken.id).where(*live).order_by(RefreshToken.id).with_for_update())
    await session.execute(
        update(RefreshToken).where(*live).values(revoked_at=now).execution_options(synchronize_session=False)
    )


async def get_api_key(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def api_keys_of(session: AsyncSession, key_ids: Collection[str]) -> Sequence[ApiKey]:
    dialect = session.get_bind().dialect.name
    return (await session.scalars(select(ApiKey).where(one_of(ApiKey.id, key_ids, dialect)))).all()


async def api_key_created_with(session: AsyncSession, created_by: str, idempotency_key: str) -> ApiKey | None:
    """The key ``created_by`` created with ``idempotency_key``, if any."""
    return await session.scalar(
        select(ApiKey).where(ApiKey.created_by == created_by, ApiKey.idempotency_key == idempotency_key)
    )


def api_keys_statement() -> Select[tuple[ApiKey]]:
    return select(ApiKey)
