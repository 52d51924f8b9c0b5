"""`Idempotency-Key` on the case commands that only append to the timeline: a note, an urging
(督办), a request for more time (延期申请).

These need no `If-Match`, so a phone whose answer was lost and that sends the command again
would write it twice (and a note to the reporters would reach them twice). With a key, the
event the command writes keeps it with the request's hash; the same person sending the same
key on the same case again is answered the case as it stands (`Idempotent-Replayed: true`)
and nothing is written, whatever `If-Match` the retry carries (the first try moved the
version on); the same key with another command or another body is a 422. Every command locks
the case's row first, so a retry that arrives while the first try is still running waits for
it and then finds its event; a unique index (case, person, key) stands behind that.

The commands that change the status take no key: their `If-Match` refuses a second try (412),
and the case read again shows that the first one took.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.cases.schemas import CaseDetail
from services.dispatch.models import Case, CaseEvent
from shared.errors import Unprocessable
from shared.idempotency import request_hash


class Retry(NamedTuple):
    """A command's `Idempotency-Key` and what a retry with it must match."""

    key: str
    request_hash: str


class Answer(NamedTuple):
    """A command's answer, and whether it repeats the first try's (nothing written)."""

    case: CaseDetail
    replayed: bool = False


def retry_of(key: str | None, step: str, body: BaseModel) -> Retry | None:
    """The retry a command's key makes of its step and body; None without a key."""
    if key is None:
        return None
    return Retry(key, request_hash({"step": step, "body": body.model_dump(mode="json")}))


async def already_written(session: AsyncSession, case: Case, actor_id: str, retry: Retry | None) -> bool:
    """Whether ``actor_id`` wrote an event on ``case`` with ``retry``'s key already: a 422 when
    that was another request."""
    if retry is None:
        return False
    first = await session.scalar(
        select(CaseEvent.request_hash).where(
            CaseEvent.case_id == case.id,
            CaseEvent.actor_id == actor_id,
            CaseEvent.idempotency_key == retry.key,
        )
    )
    if first is None:
        return False
    if first != retry.request_hash:
        raise Unprocessable(
            f"Idempotency-Key {retry.key!r} was sent on this case with another request:"
            " a new request takes a new key"
        )
    return True
