"""Dependencies every service's routes take; each service's ``deps.py`` re-exports them
beside its own (settings, peer clients).

The session dependency is the one place a request's transaction commits. It runs with
``scope="function"``: the commit happens when the route returns, before the response is
sent, so a failed commit is an error answer, never a 201 for data that was not saved.
After a commit that enqueued outbox messages it wakes the relays of those outboxes
(``relays`` in the lifespan's state).

Dependencies are ``async def`` everywhere, even trivial ones: FastAPI runs a plain ``def``
dependency in a worker thread, a hop that costs more than the dependency itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import session_scope
from shared.outbox import enqueued


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request.state.session_maker) as session:
        yield session
    written = enqueued(session)
    for relay in getattr(request.state, "relays", ()):
        if relay.model in written:
            relay.wake()


SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]
