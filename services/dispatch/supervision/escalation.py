"""超期自动督办: dispatch urges, as the system, each case its department lets run past its deadline.

:class:`Escalation` runs beside the relay (when ``WANGGE_DISPATCH_AUTO_URGE`` is on) and makes
a pass every ``WANGGE_DISPATCH_ESCALATION_SECONDS``, and one as dispatch starts. A pass urges,
once, every case overdue (dispatched or in progress past its deadline:
``cases.repository.overdue``, the console's ``overdue=true``) and not yet urged for that
deadline, as a dispatcher's urge does (``service.urge``): ``urge_count`` one more (the console's
``urged`` filter, the figures' ``urged``), the version bumped, an ``urged`` event on the timeline
by ``system:clock`` (role ``service``), whose note gives the deadline in the office's time and
whose data names it. Reporters hear nothing, as of any urging (``urged`` is no status change
and not among ``lifecycle.ANNOUNCED``). A dispatcher's urge is theirs: it does not stand for
the system's.

The case keeps the deadline it was urged for (``auto_urged_deadline_at``): a new one (an
extension, a reassignment, a rework) is urged for in its turn once it passes, and no deadline
twice.

A pass takes the cases in batches (:data:`BATCH` per transaction, the oldest deadline first,
until none is left), each in three statements: the rows read and locked, the cases still due
updated, the events of those inserted. On PostgreSQL the rows are locked ``FOR UPDATE SKIP
LOCKED``: a case a dispatcher's command holds is left for the next pass rather than waited for
(the command is not held up either), and two dispatch processes never urge one case twice. A
command that comes after the pass reads the new version (a stale ``If-Match`` is a 412, as
after any change). SQLite has one writer: in one process the pass and a command take turns;
the read locks nothing there (the transaction begins at the update), so the update asks again
whether each case is due, and a case another process urged since is not urged twice. The pass
reads the overdue cases from the due list's partial index (``ix_cases_handling_deadline_at_id``),
those already urged for their deadline among them: the cases an office leaves overdue, a few
hundred.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.cases import repository, timeline
from services.dispatch.cases.lifecycle import Step
from services.dispatch.models import Case, CaseEvent
from services.dispatch.supervision.service import urge_data
from shared.db import one_of, session_scope, utcnow

log = logging.getLogger("wangge.dispatch.escalation")

BATCH = 500
"""Cases urged in one transaction at most; a pass takes batches until none is left."""

NAMED_IN_LOG = 10
"""A pass that urged this many cases or fewer names them in its log line."""


class Urged(NamedTuple):
    id: int
    case_number: str
    status: str
    deadline_at: datetime


def due_for_urging(now: datetime) -> ColumnElement[bool]:
    """Cases overdue at ``now`` that the system has not urged for their current deadline."""
    return and_(repository.overdue(now), Case.auto_urged_deadline_at.is_distinct_from(Case.deadline_at))


def note(deadline_at: datetime, zone: ZoneInfo) -> str:
    """The urging's note: the deadline that passed, in the office's time."""
    return f"超期自动督办：处置时限 {deadline_at.astimezone(zone):%Y-%m-%d %H:%M} 已过，请尽快处置"


async def urge_batch(
    session: AsyncSession, *, now: datetime, zone: ZoneInfo, limit: int = BATCH
) -> Sequence[Urged]:
    """Urge up to ``limit`` cases due for it at ``now``, skipping those another transaction
    holds locked; the cases urged."""
    rows = (
        await session.execute(
            select(Case.id, Case.case_number, Case.status, Case.deadline_at)
            .where(due_for_urging(now))
            .order_by(Case.deadline_at, Case.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    # (every one has a deadline: it is overdue)
    read = [Urged(id_, number, status, deadline) for id_, number, status, deadline in rows if deadline]
    if not read:
        return []
    # Still due as it is written: on SQLite the read above locked nothing (the transaction
    # begins at this write), and another dispatch process may have urged a case since.
    written = set(
        (
            await session.scalars(
                update(Case)
                .where(one_of(Case.id, [case.id for case in read], session.get_bind().dialect.name))
                .where(due_for_urging(now))
                .values(
                    urge_count=Case.urge_count + 1,
                    version=Case.version + 1,
                    updated_at=now,
                    auto_urged_deadline_at=Case.deadline_at,
                )
                .returning(Case.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    )
    urged = [case for case in read if case.id in written]
    if not urged:
        return []
    actor_id, actor_role = timeline.SYSTEM_CLOCK
    events: list[dict[str, Any]] = [
        {
            "case_id": case.id,
            "action": Step.urge.value,
            "from_status": case.status,
            "to_status": case.status,
            "actor_id": actor_id,
            "actor_role": actor_role,
            "note": note(case.deadline_at, zone),
            "photos": [],
            "data": urge_data(case.deadline_at),
            "at": now,
        }
        for case in urged
    ]
    await session.execute(insert(cast(Table, CaseEvent.__table__)), events)
    return urged


class Escalation:
    """The loop of automatic urging: :meth:`run_pass` once, :meth:`run_forever` until
    :meth:`stop`."""

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        *,
        zone: ZoneInfo,
        interval_seconds: float,
        batch_size: int = BATCH,
    ) -> None:
        self.session_maker = session_maker
        self.zone = zone
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self._stopped = asyncio.Event()

    def stop(self) -> None:
        """Finish the pass in progress, then return from :meth:`run_forever`."""
        self._stopped.set()

    async def run_pass(self, now: datetime | None = None) -> list[str]:
        """Urge every case due for it at ``now`` (default: the present), a batch per
        transaction; the case numbers of those urged."""
        now = now or utcnow()
        numbers: list[str] = []
        try:
            while True:
                async with session_scope(self.session_maker) as session:
                    urged = await urge_batch(session, now=now, zone=self.zone, limit=self.batch_size)
                numbers += [case.case_number for case in urged]
                if len(urged) < self.batch_size:
                    break
        finally:  # a batch that fails undoes itself only: those committed before it are urged
            if numbers:
                named = f": {', '.join(numbers)}" if len(numbers) <= NAMED_IN_LOG else ""
                cases = "case" if len(numbers) == 1 else "cases"
                log.info("urged %d overdue %s as system:clock%s", len(numbers), cases, named)
        return numbers

    async def run_forever(self) -> None:
        """A pass now and every ``interval_seconds`` after, until stopped; a pass that fails is
        logged and made again at the next interval."""
        while not self._stopped.is_set():
            try:
                await self.run_pass()
            except Exception:
                log.exception("automatic urging failed; trying again in %g s", self.interval_seconds)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_seconds):
                    await self._stopped.wait()
