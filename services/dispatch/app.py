"""dispatch: the back office — cases (work orders), their timeline, routing, lifecycle,
deadlines, feedback and the dispatch console API.

Every request carries an access token from grid (`Authorization: Bearer …`, get one at
grid's `POST /v1/auth/token`); dispatch verifies it with grid's cached public keys. Who may
do what is dispatch's access policy; a case outside the caller's scope is a 404."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TypedDict
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.dispatch.calendar.router import router as calendar_router
from services.dispatch.calendar.service import Calendar
from services.dispatch.cases.map import router as map_router
from services.dispatch.cases.router import router as cases_router
from services.dispatch.clients.grid import GridClient
from services.dispatch.clients.intake import IntakeClient
from services.dispatch.figures.router import router as figures_router
from services.dispatch.inbox.router import router as inbox_router
from services.dispatch.models import OutboxMessage
from services.dispatch.photos.router import router as photos_router
from services.dispatch.relay import build_relay
from services.dispatch.settings import DispatchSettings
from services.dispatch.supervision.escalation import Escalation
from services.dispatch.supervision.router import router as supervision_router
from shared import background
from shared.api import create_service_app
from shared.auth import TOKEN_PATH, GridIdentity, TokenVerifier
from shared.db import create_engine, create_session_maker
from shared.metrics import metrics_router
from shared.outbox import Relay


class State(TypedDict):
    settings: DispatchSettings
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    verifier: TokenVerifier
    grid: GridClient
    intake: IntakeClient
    calendar: Calendar
    relay: Relay
    relays: list[Relay]


def create_app(
    settings: DispatchSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or DispatchSettings()
    transports = transports or {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        # First, so that production without a configured secret refuses to start at once.
        identity = GridIdentity.connect(
            settings, grid_url=settings.grid_url, transport=transports.get("grid")
        )
        tokens = identity.tokens
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        session_maker = create_session_maker(engine)
        grid = GridClient(
            settings.grid_url,
            timeout=settings.peer_timeout_seconds,
            transport=transports.get("grid"),
            cache_seconds=settings.routing_cache_seconds,
            tokens=tokens,
        )
        intake = IntakeClient(
            settings.intake_url,
            timeout=settings.peer_timeout_seconds,
            transport=transports.get("intake"),
            tokens=tokens,
        )
        relay = build_relay(settings, session_maker, intake)
        app.state.relay = relay
        escalation = Escalation(
            session_maker, zone=ZoneInfo(settings.timezone), interval_seconds=settings.escalation_seconds
        )
        app.state.escalation = escalation
        loops: list[asyncio.Task[None]] = []  # told to stop, each finishes its pass
        warming: list[asyncio.Task[None]] = []  # fetching keys needs no finishing
        if settings.background_tasks:
            loops.append(asyncio.create_task(relay.run_forever()))
            if settings.auto_urge:
                loops.append(asyncio.create_task(escalation.run_forever()))
            warming.append(asyncio.create_task(identity.keys.warm()))
        try:
            yield State(
                settings=settings,
                engine=engine,
                session_maker=session_maker,
                verifier=identity.verifier,
                grid=grid,
                intake=intake,
                calendar=Calendar(settings),
                relay=relay,
                relays=[relay],
            )
        finally:
            relay.stop()
            escalation.stop()
            for task in warming:
                task.cancel()
            await background.finish([*loops, *warming])
            await grid.aclose()
            await intake.aclose()
            await identity.aclose()
            await engine.dispose()

    return create_service_app(
        title="wangge dispatch",
        description=__doc__ or "",
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        cors_origins=settings.cors_origins,
        token_url=f"{settings.public_grid_url or settings.grid_url}{TOKEN_PATH}",
        routers=[
            map_router,  # before /v1/cases/{case_id}
            cases_router,
            supervision_router,
            figures_router,
            calendar_router,
            inbox_router,
            photos_router,
            metrics_router({"dispatch": OutboxMessage}),
        ],
    )
