"""``POST /internal/v1/inbox``: where intake's relay delivers ``report.received``."""

from __future__ import annotations

from fastapi import APIRouter

from services.dispatch.access import GUARDED
from services.dispatch.deps import CalendarDep, GridDep, SessionDep, SettingsDep
from services.dispatch.inbox import service
from shared.errors import Forbidden, PeerUnavailable, Unauthorized, problem_responses
from shared.messages import InboxBatch, InboxReply

router = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=GUARDED)


@router.post(
    "/inbox",
    response_model=InboxReply,
    responses=problem_responses(Unauthorized, Forbidden, PeerUnavailable),
)
async def receive(
    batch: InboxBatch, session: SessionDep, grid: GridDep, calendar: CalendarDep, settings: SettingsDep
) -> InboxReply:
    """Take a batch of ``report.received`` messages: one result per message, in order.

    Only intake may call it (its service token, ``service:intake``); anyone else is a 403.

    Each report opens a case (dispatched at once when grid routes it, else left in triage)
    or joins an open case of the same category nearby (``accepted``). A report seen before
    is a ``duplicate``; a payload that does not validate is ``rejected``. When grid is out of
    reach the whole batch answers 503 and nothing is written: send it again later.
    """
    return await service.handle_batch(session, grid, calendar, batch=batch, settings=settings)
