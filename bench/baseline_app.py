"""The baselines of the intake scenario: the same payload, validated the same way, one row written.

``raw`` — *the limit*: FastAPI + pydantic (intake's own ``ReportCreate``) + one ``INSERT`` on
an asyncpg pool. ``orm`` — *the usual way*: the same app writing through an SQLAlchemy ORM
session per request. Both answer 201 with the stored report as JSON, as intake does.

Run as ``python -m bench.baseline_app raw|orm DATABASE_URL PORT`` (one uvicorn worker, the
collector tuned as ``wangge serve`` tunes it).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Float, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.intake.reports.schemas import ReportCreate
from shared.db import JSONType, UTCDateTime, create_engine, create_session_maker, new_metadata, utcnow
from wangge.serving import tune_gc

POOL_SIZE = 10


class Base(DeclarativeBase):
    metadata = new_metadata()


class BenchReport(Base):
    __tablename__ = "bench_reports"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    category: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(2000))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reporter_id: Mapped[str] = mapped_column(String(64))
    photos: Mapped[list[str]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16))


INSERT = (
    "INSERT INTO bench_reports (id, category, description, lat, lon, address, seen_at, received_at,"
    " reporter_id, photos, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, 'received')"
)


def _answer(body: ReportCreate, actor: str, received_at: datetime) -> JSONResponse:
    content: dict[str, Any] = body.model_dump(mode="json")
    content.update(status="received", reporter_id=actor, received_at=received_at.isoformat())
    return JSONResponse(content, status_code=201, headers={"Location": f"/v1/reports/{body.id}"})


def raw_app(database_url: str) -> FastAPI:
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/reports", status_code=201)
    async def create(
        body: ReportCreate, request: Request, x_wangge_actor: Annotated[str, Header(max_length=64)] = "bench"
    ) -> JSONResponse:
        now = utcnow()
        photos = "[" + ",".join(f'"{p}"' for p in body.photos) + "]"
        async with request.app.state.pool.acquire() as connection:
            await connection.execute(
                INSERT,
                body.id,
                body.category,
                body.description,
                body.location.lat,
                body.location.lon,
                body.location.address,
                body.seen_at,
                now,
                x_wangge_actor,
                photos,
            )
        return _answer(body, x_wangge_actor, now)

    return app


def orm_app(database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(database_url, pool_size=POOL_SIZE)
        app.state.session_maker = create_session_maker(engine)
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/reports", status_code=201)
    async def create(
        body: ReportCreate, request: Request, x_wangge_actor: Annotated[str, Header(max_length=64)] = "bench"
    ) -> JSONResponse:
        now = utcnow()
        async with request.app.state.session_maker() as session:
            session.add(
                BenchReport(
                    id=body.id,
                    category=body.category,
                    description=body.description,
                    lat=body.location.lat,
                    lon=body.location.lon,
                    address=body.location.address,
                    seen_at=body.seen_at,
                    received_at=now,
                    reporter_id=x_wangge_actor,
                    photos=list(body.photos),
                    status="received",
                )
            )
            await session.commit()
        return _answer(body, x_wangge_actor, now)

    return app


def main(argv: list[str]) -> int:
    import uvicorn

    mode, database_url, port = argv[1], argv[2], int(argv[3])
    app = raw_app(database_url) if mode == "raw" else orm_app(database_url)
    tune_gc()  # as ``wangge serve`` does, so the ratio compares code, not collector settings
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
