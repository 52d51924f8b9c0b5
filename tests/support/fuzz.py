"""Property-based fuzzing of a service's whole API with schemathesis, in-process.

Each service's ``test_fuzz.py`` builds the schema from its app's OpenAPI document at import
(nothing but the document: no database, no lifespan), so that every operation is its own
test (``test_fuzz[POST /v1/reports][postgresql]``). The app the requests go to is built once
per module on a PostgreSQL database of its own (:func:`fresh_database`), seeded with what a
working office has; schemathesis calls it in-process on an event loop of its own thread, where
it starts the app's lifespan at the first request, and :func:`running` ends that lifespan
with the module.
The operations run in the module's order on one process (``xdist_group``), so each meets
the database the ones before it left, the same on every run.

The run is bounded and reproducible: a fixed seed, derandomized generation, no example
database (nothing an earlier run found is replayed: every run sends the same cases), no
deadline, and a few examples per operation (:data:`MAX_EXAMPLES`) besides the coverage
phase's boundary cases, so the three modules cost some 35 s on two cores.

Left out: the stateful phase (sequences of calls linked by the OpenAPI's links, which it has
none of); the check that a request the schema allows is accepted (see :data:`CONFIG`); and
schemathesis' check that a route refuses a request without its token, which it makes of
``apiKey`` and ``http`` schemes only, not of the OAuth2 one the services declare (each
service's ``test_access.py`` holds that matrix).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.python.asgi import shutdown_lifespans
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared.access import Rule
from shared.actors import Actor
from tests.conftest import BACKENDS, pg_database_name, pg_url, recreate_pg_database
from tests.support import tokens

ON_POSTGRESQL = pytest.mark.skipif(
    "postgresql" not in BACKENDS, reason="the fuzz runs on PostgreSQL, which WANGGE_TEST_BACKENDS leaves out"
)
BACKEND = ["postgresql"]
"""``params`` of each module's app fixture: the one backend fuzzed, and what tells each
operation's test apart to pytest (``test_fuzz[GET /healthz][postgresql]``). Unparametrized,
schemathesis' tests all had the node id ``test_fuzz`` on pytest 9.2, and xdist ran the
first of a module's tests alone."""

MAX_EXAMPLES = 6
"""Examples per operation in the fuzzing phase; the coverage phase adds its boundary cases."""

SEED = 20261206

CONFIG: dict[str, Any] = {
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {
        "stateful": {"enabled": False},
        # Each operation sent with one method it does not take and OPTIONS (not every method
        # there is): a 405 with the path's every method in Allow.
        "coverage": {"unexpected-methods": ["OPTIONS", "TRACE"]},
    },
    # A request the schema allows may still be refused for what no JSON Schema says: a
    # department that does not exist, a cursor the service did not issue, a NUL in a name.
    # Those are 4xx by design; the fuzz is for answers that are not.
    "checks": {"positive_data_acceptance": {"enabled": False}},
}


SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # The app is the test's fixture, shared by the examples of an operation on purpose: the
    # database they change is the one the next example meets, as a client's requests do.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
"""For ``@fuzz.SETTINGS`` on the test, which the generation settings above do not cover."""


def load(app: FastAPI, *, operations: Sequence[dict[str, Any]] = ()) -> schemathesis.BaseSchema:
    """The schema schemathesis generates requests from: the app's own OpenAPI document, fuzzed
    as :data:`CONFIG` says, but for what ``operations`` (schemathesis' ``[[operations]]``) say."""
    config = schemathesis.Config.from_dict({**CONFIG, "operations": list(operations)})
    return schemathesis.openapi.from_dict(app.openapi(), config=config)


async def fresh_database(service: str, metadata: MetaData) -> str:
    """The URL of a new PostgreSQL database with ``metadata``'s tables, dropped with the run."""
    database = pg_database_name(f"fuzz_{service}")
    await recreate_pg_database(database)
    url = pg_url(database)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
    finally:
        await engine.dispose()
    return url


@contextmanager
def running(app: FastAPI) -> Iterator[FastAPI]:
    """``app`` for ``case.call(app=...)``; its lifespan, which schemathesis starts at the first
    request and would otherwise keep until the process exits, ends with the block."""
    try:
        yield app
    finally:
        shutdown_lifespans()


def tokens_for(
    policy: Mapping[tuple[str, str], Rule], callers: Sequence[Actor]
) -> dict[tuple[str, str], str | None]:
    """Each route's bearer token (test-signed, ``tests/support/tokens.py``, good for 15 minutes:
    made by a fixture, not at import), that of the first of ``callers`` its rule lets in, so
    list them from the most privileged down; None where the route is public."""
    found: dict[tuple[str, str], str | None] = {}
    for operation, rule in policy.items():
        if rule.public:
            found[operation] = None
            continue
        actor = next((actor for actor in callers if rule.allows(actor)), None)
        if actor is None:
            raise LookupError(f"none of the callers may call {operation}: add one its rule lets in")
        found[operation] = tokens.token(actor)
    return found


def headers_for(case: schemathesis.Case, by_route: Mapping[tuple[str, str], str | None]) -> dict[str, str]:
    """What the case sends besides what it was generated with: ``Authorization`` for its route
    (whatever method the case sends) with the token ``by_route`` names (None: none), and
    ``If-Match: *`` where the route takes one, so that a command gets past its 428 and 412 to
    what it does; but for the coverage phase's cases that probe the If-Match itself."""
    headers: dict[str, str] = {}
    token = by_route[(case.operation.method.upper(), case.operation.path)]
    if token:
        headers["Authorization"] = f"Bearer {token}"
    probed = getattr(case.meta.phase.data, "parameter", None) if case.meta is not None else None
    for parameter in case.operation.iter_parameters():
        name = parameter.name
        if parameter.location == "header" and name.lower() == "if-match" and name != probed:
            headers[name] = "*"
    return headers
