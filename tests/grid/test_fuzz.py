"""grid's whole API fuzzed (``tests/support/fuzz.py``) on the demo territory, departments,
catalog, staff and routing overrides, every route but the public ones called as the admin, or,
where the admin may not (writing a daily log), as the demo's grid worker ``wang.fang``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI

from services.grid.access import POLICY
from services.grid.app import create_app
from services.grid.identity.context import build_identity
from services.grid.models import Base
from services.grid.seed import seed_demo
from services.grid.settings import GridSettings
from shared.actors import Actor, Role
from shared.db import create_engine, create_session_maker, session_scope
from tests.support import fuzz

from .conftest import ADMIN

pytestmark = [fuzz.ON_POSTGRESQL, pytest.mark.xdist_group("fuzz-grid")]

schema = fuzz.load(
    create_app(GridSettings(environment="test")),
    operations=[
        {
            # GET /v1/regions/import is GET /v1/regions/{code} with a code that is none (a 422):
            # the path is served with GET too, and no 405 is to be had of it.
            "include-name": "POST /v1/regions/import",
            "checks": {
                "unsupported_method": {"enabled": False},
                "allow_header_conformance": {"enabled": False},
            },
        },
        {
            # The same: PATCH /v1/patrol-logs/missing is PATCH /v1/patrol-logs/{log_id} with an
            # id that is none (a 422), so Allow names PATCH beside GET and HEAD.
            "include-name": "GET /v1/patrol-logs/missing",
            "checks": {"allow_header_conformance": {"enabled": False}},
        },
        {
            # And /v1/patrol-logs/figures, for the same reason.
            "include-name": "GET /v1/patrol-logs/figures",
            "checks": {"allow_header_conformance": {"enabled": False}},
        },
    ],
)


async def seeded_database() -> str:
    url = await fuzz.fresh_database("grid", Base.metadata)
    engine = create_engine(url)
    try:
        async with session_scope(create_session_maker(engine)) as session:
            await seed_demo(session)
    finally:
        await engine.dispose()
    return url


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> GridSettings:
    return GridSettings(
        database_url=asyncio.run(seeded_database()),
        environment="test",
        data_dir=tmp_path_factory.mktemp("grid"),
        territory_check_seconds=0,
    )


@pytest.fixture(scope="module", params=fuzz.BACKEND)
def app(settings: GridSettings) -> Iterator[FastAPI]:
    with fuzz.running(create_app(settings)) as running:
        yield running


@pytest.fixture(scope="module")
def by_route(settings: GridSettings) -> dict[tuple[str, str], str | None]:
    """The admin's token, or the worker's where the admin may not call, signed with the key the
    app signs with (the one in its data_dir)."""
    issuer = build_identity(settings).issuer
    worker = Actor(id="wang.fang", role=Role.grid_worker, regions=["35020300100101", "35020300100102"])
    admin, written = issuer.issue(ADMIN).token, issuer.issue(worker).token
    return {
        operation: None if rule.public else admin if rule.allows(ADMIN, {}) else written
        for operation, rule in POLICY.items()
    }


@schema.parametrize()
@fuzz.SETTINGS
def test_fuzz(case: schemathesis.Case, app: FastAPI, by_route: dict[tuple[str, str], str | None]) -> None:
    case.call_and_validate(app=app, headers=fuzz.headers_for(case, by_route))
