"""Writing a case's timeline, and telling every reporter of the case about it.

Each event that changes the status, each ``merged`` event (the joining reporter learns
the case's current state), each ``reassigned`` one (a new department and deadline) and each
note written for the reporters enqueues one ``case.status_changed`` message to intake in the
same transaction, carrying every report id of the case. The intake photos an event names are
noted with it (``services/dispatch/photos``): intake keeps them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import access
from services.dispatch.cases import repository
from services.dispatch.cases.idempotency import Retry
from services.dispatch.cases.lifecycle import ANNOUNCED
from services.dispatch.models import Case, CaseEvent, OutboxMessage
from services.dispatch.photos import service as named_photos
from shared.messages import CASE_STATUS_CHANGED, CaseStatusChanged
from shared.outbox import enqueue

SYSTEM_ROUTER = ("system:router", "service")
"""The actor of automatic dispatch."""
SYSTEM_CLOCK = ("system:clock", "service")
"""The actor of automatic urging, once a case's deadline has passed (``supervision/escalation.py``)."""


async def record(
    session: AsyncSession,
    case: Case,
    *,
    action: str,
    from_status: str | None,
    actor: tuple[str, str],
    at: datetime,
    note: str | None = None,
    photos: list[str] | None = None,
    data: dict[str, Any] | None = None,
    told: list[uuid.UUID] | None = None,
    announced: bool = False,
    retry: Retry | None = None,
) -> CaseEvent:
    """Append an event (the case's current status is its ``to_status``) and notify reporters
    (``told``, or every report of the case) of a change of status, of an ``ANNOUNCED`` action,
    or when ``announced``. ``retry``: the command's `Idempotency-Key`, kept with the event."""
    event = CaseEvent(
        case_id=case.id,
        action=str(action),
        from_status=from_status,
        to_status=case.status,
        actor_id=actor[0],
        actor_role=actor[1],
        note=note,
        photos=photos or [],
        data=data or {},
        at=at,
        idempotency_key=retry.key if retry else None,
        request_hash=retry.request_hash if retry else None,
    )
    session.add(event)
    await session.flush()
    if photos:
        await named_photos.note_named(session, photos)
    if from_status != case.status or str(action) in ANNOUNCED or announced:
        # Intake shows ``note`` to every reporter of the case. A grid worker's verification
        # note or a reporter's is not theirs to read: it goes as the author's own note, shown
        # only on the reports she filed.
        own = bool(note) and actor[1] not in access.NAMED_TO_REPORTERS
        message = CaseStatusChanged(
            event_id=event.id,
            case_id=case.id,
            case_number=case.case_number,
            action=action,
            status=case.status,
            department_code=case.department_code,
            department_name=case.department_name,
            note=None if own else note,
            author_id=actor[0] if own else None,
            author_note=note if own else None,
            deadline_at=case.deadline_at,
            occurred_at=at,
            report_ids=told if told is not None else await repository.report_ids(session, case.id),
        )
        enqueue(
            session,
            OutboxMessage,
            CASE_STATUS_CHANGED,
            f"{case.id}:{event.id}",
            message.model_dump(mode="json"),
        )
    return event
