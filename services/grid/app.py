"""grid: the territory and the people — regions, locate, departments, catalog, routing, staff,
the grid workers' daily logs (民情日志) — and the identity provider of wangge: logins, access
tokens (EdDSA JWTs), refresh tokens, API keys, and the JWKS the other services verify tokens with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TypedDict

import httpx
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.grid.access import POLICY, authorize
from services.grid.catalog.router import router as catalog_router
from services.grid.departments.router import router as departments_router
from services.grid.identity.context import Identity, build_identity
from services.grid.identity.router import internal_router as identity_internal_router
from services.grid.identity.router import keys_router
from services.grid.identity.router import router as identity_router
from services.grid.logbook.router import router as logbook_router
from services.grid.regions.router import router as regions_router
from services.grid.routing.router import router as routing_router
from services.grid.settings import GridSettings
from services.grid.staff.router import router as staff_router
from services.grid.territory.index import TerritoryIndex
from services.grid.territory.router import router as territory_router
from shared.api import create_service_app
from shared.auth import TokenVerifier
from shared.db import create_engine, create_session_maker


class State(TypedDict):
    settings: GridSettings
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    territory: TerritoryIndex
    identity: Identity
    verifier: TokenVerifier


def create_app(
    settings: GridSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """The grid app. grid calls no peer, so ``transports`` is unused; it is kept for symmetry.

    Starting refuses (raises) in production without a signing key or the services' secrets.
    """
    settings = settings or GridSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        identity = build_identity(settings)
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        territory = TerritoryIndex(check_seconds=settings.territory_check_seconds)
        app.state.territory = territory
        app.state.identity = identity
        try:
            yield State(
                settings=settings,
                engine=engine,
                session_maker=create_session_maker(engine),
                territory=territory,
                identity=identity,
                verifier=identity.issuer.verifier(),
            )
        finally:
            await engine.dispose()

    # Every route goes through the access policy (services/grid/access.py).
    protected = APIRouter(dependencies=[Depends(authorize)])
    for router in (
        identity_router,
        keys_router,
        identity_internal_router,
        regions_router,
        territory_router,
        departments_router,
        catalog_router,
        routing_router,
        staff_router,
        logbook_router,
    ):
        protected.include_router(router)

    return create_service_app(
        title="wangge grid",
        description=__doc__ or "",
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        routers=[protected],
        cors_origins=settings.cors_origins,  # /docs of intake and dispatch sign in here too
        public=[operation for operation, rule in POLICY.items() if rule.public],
    )
