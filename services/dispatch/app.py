"""dispatch: the back office — cases (work orders), their timeline, routing, lifecycle,
deadlines, feedback and the dispatch console API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TypedDict

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.dispatch.cases.router import router as cases_router
from services.dispatch.clients.grid import GridClient
from services.dispatch.clients.intake import IntakeClient
from services.dispatch.inbox.router import router as inbox_router
from services.dispatch.relay import build_relay
from services.dispatch.settings import DispatchSettings
from shared.api import create_service_app
from shared.db import create_engine, create_session_maker
from shared.outbox import Relay


class State(TypedDict):
    settings: DispatchSettings
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    grid: GridClient
    intake: IntakeClient
    relay: Relay


def create_app(
    settings: DispatchSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or DispatchSettings()
    transports = transports or {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        engine = create_engine(settings.database_url)
        session_maker = create_session_maker(engine)
        grid = GridClient(
            settings.grid_url,
            timeout=settings.peer_timeout_seconds,
            transport=transports.get("grid"),
            cache_seconds=settings.routing_cache_seconds,
        )
        intake = IntakeClient(
            settings.intake_url, timeout=settings.peer_timeout_seconds, transport=transports.get("intake")
        )
        relay = build_relay(settings, session_maker, intake)
        app.state.relay = relay
        task = asyncio.create_task(relay.run_forever()) if settings.background_tasks else None
        try:
            yield State(
                settings=settings,
                engine=engine,
                session_maker=session_maker,
                grid=grid,
                intake=intake,
                relay=relay,
            )
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await grid.aclose()
            await intake.aclose()
            await engine.dispose()

    return create_service_app(
        title="wangge dispatch",
        description=__doc__ or "",
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        routers=[cases_router, inbox_router],
    )
