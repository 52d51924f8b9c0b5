"""intake's inbox: messages from dispatch's outbox."""

from __future__ import annotations

from fastapi import APIRouter

from services.intake.access import GUARDED
from services.intake.deps import CurrentActor, SessionDep
from services.intake.inbox import service
from shared.errors import Forbidden, ServiceUnavailable, Unauthorized, Unprocessable, problem_responses
from shared.messages import InboxBatch, InboxReply

router = APIRouter(prefix="/internal/v1/inbox", tags=["internal"], dependencies=GUARDED)


@router.post(
    "",
    response_model=InboxReply,
    summary="Receive messages from dispatch",
    responses=problem_responses(Unauthorized, Forbidden, Unprocessable, ServiceUnavailable),
)
async def receive(batch: InboxBatch, session: SessionDep, actor: CurrentActor) -> InboxReply:
    """Take a batch of `case.status_changed` messages; one result per message, same order.

    `accepted` when applied (or when it names no report intake knows), `duplicate` when every
    report it names had heard that event already, `rejected` when the payload is invalid or the
    topic is not one intake takes. A transient fault is a 503, so the sender retries.
    Only dispatch's service token (`service:dispatch`) may deliver.
    """
    return await service.receive(session, batch=batch)
