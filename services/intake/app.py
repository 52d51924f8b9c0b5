"""intake: reports from the grid workers' app, idempotently taken, located against a local
copy of grid's territory, passed to dispatch through an outbox, and the back office's answers
shown back to the reporter; and the photos of the problems and of the work on them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TypedDict

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.intake.clients.dispatch import DispatchClient
from services.intake.clients.grid import GridClient
from services.intake.inbox.router import router as inbox_router
from services.intake.models import OutboxMessage, WebhookMessage
from services.intake.open311.errors import Open311Errors, document_open311_errors
from services.intake.open311.keys import KeyTokens
from services.intake.open311.router import discovery_router
from services.intake.open311.router import router as open311_router
from services.intake.open311.service import Services
from services.intake.photos.retention import Retention
from services.intake.photos.router import router as photos_router
from services.intake.photos.service import PHOTOS_PATH, Darkroom
from services.intake.relay.service import build_relay
from services.intake.reports.router import router as reports_router
from services.intake.reports.service import Reception
from services.intake.reports.writer import ReportWriter
from services.intake.settings import IntakeSettings
from services.intake.territory.service import Territory
from services.intake.webhooks.delivery import Endpoints, build_webhook_relay
from services.intake.webhooks.keys import KeyCheck
from services.intake.webhooks.router import admin_router as webhooks_admin_router
from services.intake.webhooks.router import router as webhook_router
from shared import background
from shared.api import create_service_app
from shared.auth import TOKEN_PATH, GridIdentity, TokenVerifier
from shared.db import create_engine, create_session_maker
from shared.metrics import metrics_router
from shared.outbox import Relay

log = logging.getLogger("wangge.intake")


class State(TypedDict):
    settings: IntakeSettings
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    grid: GridClient
    dispatch: DispatchClient
    territory: Territory
    reception: Reception
    relay: Relay
    relays: list[Relay]
    verifier: TokenVerifier
    darkroom: Darkroom
    open311: Services
    open311_keys: KeyTokens


def create_app(
    settings: IntakeSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    settings = settings or IntakeSettings()
    transports = transports or {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        # grid as identity provider: its JWKS (fetched once, again only for an unknown kid)
        # and intake's own client-credentials token for the calls it makes.
        identity = GridIdentity.connect(
            settings, grid_url=settings.grid_url, transport=transports.get("grid")
        )
        timeout, tokens = settings.peer_timeout_seconds, identity.tokens
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        session_maker = create_session_maker(engine)
        grid = GridClient(
            settings.grid_url,
            caller="intake",
            timeout=timeout,
            transport=transports.get("grid"),
            tokens=tokens,
        )
        dispatch = DispatchClient(
            settings.dispatch_url,
            caller="intake",
            timeout=timeout,
            transport=transports.get("dispatch"),
            tokens=tokens,
        )
        territory = Territory(session_maker, grid)
        relay = build_relay(session_maker, territory, dispatch, **settings.relay_options())
        # The integrations' endpoints: no redirects followed, no proxy from the environment meant
        # for the services' own calls, nothing but their own timeout.
        webhook_client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            transport=transports.get("webhooks"),
        )
        endpoints = Endpoints(
            client=webhook_client,
            timeout=settings.webhook_timeout_seconds,
            give_up=timedelta(hours=settings.webhook_give_up_hours),
            private_addresses=settings.webhook_private_addresses,
            max_backoff=settings.relay_max_backoff_seconds,
        )
        webhook_keys = KeyCheck(
            grid,
            fresh_for=timedelta(seconds=settings.webhook_key_check_seconds),
            trust_for=timedelta(minutes=settings.webhook_key_trust_minutes),
        )
        webhook_relay = build_webhook_relay(
            session_maker, endpoints, keys=webhook_keys, **settings.relay_options()
        )
        writer = ReportWriter(
            engine,
            on_commit=relay.wake,
            max_batch=settings.writer_max_batch,
            concurrency=settings.writer_concurrency,
        )
        reception = Reception(
            territory=territory,
            writer=writer,
            session_maker=session_maker,
            max_skew=timedelta(seconds=settings.seen_at_max_skew_seconds),
            max_age=timedelta(days=settings.seen_at_max_age_days),
        )
        open311 = Services(grid)
        open311_keys = KeyTokens(identity.http)
        darkroom = Darkroom(
            max_edge=settings.photo_max_edge,
            max_pixels=settings.photo_max_pixels,
            workers=settings.photo_workers,
            daily_limit=settings.photo_daily_limit,
            read_seconds=settings.photo_read_seconds,
        )
        retention = Retention(session_maker, dispatch, unattached_days=settings.photo_unattached_days)
        app.state.darkroom = darkroom
        app.state.photo_retention = retention
        app.state.territory = territory
        app.state.open311 = open311
        app.state.open311_keys = open311_keys
        app.state.reception = reception
        app.state.relay = relay
        app.state.webhook_relay = webhook_relay
        app.state.webhook_keys = webhook_keys
        app.state.verifier = identity.verifier
        app.state.service_tokens = tokens
        tasks: list[asyncio.Task[None]] = []
        warming: asyncio.Task[None] | None = None
        try:
            await territory.load()
            if settings.background_tasks:
                warming = asyncio.create_task(identity.keys.warm())
                tasks.append(warming)
                tasks.append(asyncio.create_task(territory.run_forever(settings.territory_refresh_seconds)))
                tasks.append(asyncio.create_task(relay.run_forever()))
                tasks.append(asyncio.create_task(webhook_relay.run_forever()))
                tasks.append(asyncio.create_task(retention.run_forever()))
            yield State(
                settings=settings,
                engine=engine,
                session_maker=session_maker,
                grid=grid,
                dispatch=dispatch,
                territory=territory,
                reception=reception,
                relay=relay,
                relays=[relay, webhook_relay],
                verifier=identity.verifier,
                open311=open311,
                open311_keys=open311_keys,
                darkroom=darkroom,
            )
        finally:
            await writer.close()  # reports already handed over are committed before anything stops
            relay.stop()  # the loops finish what they are doing; fetching keys needs no finishing
            webhook_relay.stop()
            retention.stop()
            territory.stop()
            if warming is not None:
                warming.cancel()
            await background.finish(tasks)
            await grid.aclose()
            await dispatch.aclose()
            await webhook_client.aclose()
            await identity.aclose()
            await engine.dispose()

    app = create_service_app(
        title="wangge intake",
        description=__doc__ or "",
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        cors_origins=settings.cors_origins,
        token_url=f"{settings.public_grid_url or settings.grid_url}{TOKEN_PATH}",
        routers=[
            reports_router,
            photos_router,
            open311_router,
            discovery_router,
            webhook_router,
            webhooks_admin_router,
            inbox_router,
            # last: a report's POST is matched against every route before it
            metrics_router({"intake": OutboxMessage, "webhooks": WebhookMessage}),
        ],
        larger_bodies={PHOTOS_PATH: settings.photo_max_bytes},
        answer_rewriters=[Open311Errors],
    )
    document_open311_errors(app)
    return app
