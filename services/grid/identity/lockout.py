"""Failed sign-ins: a username that failed too often in a row is locked for a while.

Guessing passwords over the network is slowed to a few tries a quarter of an hour, and
China's graded protection (等保 2.0) asks a login for just this: limit failed attempts and
lock the account for a time. After ``sign_in_failures_allowed`` failures in a row (5) the
username is locked for a minute, and each failure after it doubles the lock, up to
``sign_in_lock_max_minutes`` (15). A locked username is refused with a 429 and Retry-After
before its password is checked (no Argon2 spent on it), even with the right password. Each
sign-in is counted as failed before its password is checked (:func:`attempt`), so that of
guesses sent at once only the allowed number are checked; one that succeeds clears the
count. A failure more than a day after the one before starts the count again.

Every username typed is counted, known or not: one that exists is locked like one that does
not, so the lock tells nobody which usernames exist. An admin who knows the person unlocks
them by setting a new password.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.models import SignInFailure
from services.grid.settings import GridSettings
from shared.db import insert_of
from shared.errors import TooManyRequests

log = logging.getLogger("wangge.grid.sign_in")
FORGOTTEN_AFTER = timedelta(days=1)
"""A failure this long after the one before starts the count again; rows older are deleted."""
FIRST_LOCK = timedelta(minutes=1)


class SignInLocked(TooManyRequests):
    type, title = "sign-in-locked", "Too many failed sign-ins"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"this username is locked after too many failed sign-ins: try again in {retry_after} s, "
            "or ask an admin to set a new password"
        )
        self.headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store", "Pragma": "no-cache"}


async def check(session: AsyncSession, username: str, now: datetime) -> None:
    """Raise :class:`SignInLocked` while ``username`` is locked."""
    query = select(SignInFailure.locked_until).where(SignInFailure.username == username)
    locked_until = await session.scalar(query)
    if locked_until is not None and locked_until > now:
        raise SignInLocked(max(1, math.ceil((locked_until - now).total_seconds())))


async def attempt(session: AsyncSession, username: str, now: datetime, settings: GridSettings) -> None:
    """Count a check of ``username``'s password (a sign-in's, or a person's current password
    when they change it) as failed before the check, in a transaction of its own committed
    before it (one that succeeds clears the count, :func:`clear`); raise :class:`SignInLocked`
    while the username is locked.

    Guesses sent at once each take their turn at the count (the row's lock orders them), so the
    one that reaches the limit locks the username for those behind it before any password is
    checked: counted after their checks, guesses checked side by side were each answered by
    their password, beyond the limit. One sign-in
    reaching the limit is still checked (its lock lifted if it succeeds)."""
    table = cast(Table, SignInFailure.__table__)
    insert = insert_of(session.get_bind().dialect.name)
    counted: Any = insert(table).values(username=username, failures=1, last_failed_at=now, locked_until=None)
    counted = counted.on_conflict_do_update(
        index_elements=[table.c.username],
        set_={
            "failures": case((table.c.last_failed_at < now - FORGOTTEN_AFTER, 1), else_=table.c.failures + 1),
            "last_failed_at": now,
        },
        where=or_(table.c.locked_until.is_(None), table.c.locked_until <= now),  # locked: not counted
    ).returning(table.c.failures)
    failures = (await session.execute(counted)).scalar_one_or_none()
    if failures is None:
        await check(session, username, now)
        return
    lock = await _lock_if_due(session, username, failures, now, settings)
    if lock is not None:
        log.warning(
            "sign-in locked: %r tried %d times in a row without signing in, locked for %s unless the "
            "last try succeeds",
            username,
            failures,
            lock,
        )


async def _lock_if_due(
    session: AsyncSession, username: str, failures: int, now: datetime, settings: GridSettings
) -> timedelta | None:
    """Lock the username once it failed ``sign_in_failures_allowed`` times in a row (how long,
    or None); forget the usernames whose last failure is a day old."""
    beyond = failures - settings.sign_in_failures_allowed
    lock = None
    if beyond >= 0:
        lock = min(FIRST_LOCK * 2 ** min(beyond, 20), timedelta(minutes=settings.sign_in_lock_max_minutes))
        await session.execute(
            update(SignInFailure).where(SignInFailure.username == username).values(locked_until=now + lock)
        )
    await session.execute(delete(SignInFailure).where(SignInFailure.username.in_(_forgotten(now))))
    return lock


def _forgotten(now: datetime) -> Select[str]:
    """The usernames whose last failure is forgotten, but for those another failure is being
    counted of right now (its row locked): waiting for it deadlocked two sign-ins that failed at
    once, each of a username that had last failed a day before (each waited for the other's row
    to prune it), and PostgreSQL aborted one, its failure not counted. The next prune takes it."""
    stale = SignInFailure.last_failed_at < now - FORGOTTEN_AFTER
    return select(SignInFailure.username).where(stale).with_for_update(skip_locked=True)


async def locks(session: AsyncSession, usernames: Sequence[str], now: datetime) -> dict[str, datetime]:
    """Until when each of ``usernames`` that is locked now is locked."""
    if not usernames:
        return {}
    query = select(SignInFailure.username, SignInFailure.locked_until).where(
        SignInFailure.username.in_(sorted(set(usernames))), SignInFailure.locked_until > now
    )
    return {username: until for username, until in (await session.execute(query)).all() if until}


async def clear(session: AsyncSession, username: str) -> None:
    """A sign-in that succeeded, or a new password: the failures before it are forgotten."""
    await session.execute(delete(SignInFailure).where(SignInFailure.username == username))
