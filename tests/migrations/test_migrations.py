"""Each service's migrations build, from an empty database, exactly what its models declare,
on SQLite and on PostgreSQL; and they downgrade back to empty."""

from __future__ import annotations

import asyncio
import importlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, MetaData, Select, inspect, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from migrations.runner import SERVICES, downgrade, upgrade
from services.dispatch.cases.repository import handling, overdue
from services.dispatch.inbox.repository import _NEAREST_OPEN_REPORTS
from services.dispatch.models import Case, search_text
from services.dispatch.supervision.escalation import BATCH, due_for_urging
from tests.conftest import pg_database_name, pg_url, recreate_pg_database


def empty_database(backend: str, service: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / service}.db"
    database = pg_database_name(f"migrations_{service}")
    asyncio.run(recreate_pg_database(database))
    return pg_url(database)


def inspect_database(url: str, metadata: MetaData) -> tuple[list[object], set[str]]:
    async def run() -> tuple[list[object], set[str]]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:

                def diff_and_tables(sync_connection: Connection) -> tuple[list[object], set[str]]:
                    context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
                    tables = set(inspect(sync_connection).get_table_names())
                    return compare_metadata(context, metadata), tables

                return await connection.run_sync(diff_and_tables)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.parametrize("service", SERVICES)
def test_upgrade_from_empty_matches_the_models(service: str, backend: str, tmp_path: Path) -> None:
    metadata = importlib.import_module(f"services.{service}.models").Base.metadata
    url = empty_database(backend, service, tmp_path)

    upgrade(service, url)

    diff, tables = inspect_database(url, metadata)
    diff = _without_expression_indexes(diff, metadata)
    diff = _without_other_dialects_indexes(diff, metadata, backend)
    assert diff == [], f"{service}: models and migrations disagree: {diff}"
    assert set(metadata.tables) <= tables

    downgrade(service, url)
    _, tables = inspect_database(url, metadata)
    assert tables <= {"alembic_version"}


def _without_expression_indexes(diff: list[Any], metadata: MetaData) -> list[Any]:
    """Alembic cannot compare an index on an expression: PostgreSQL reflects it rewritten (casts
    added) and SQLite not at all, so such an index comes back removed and added again, or is
    skipped. It is left out of the comparison here; ``test_the_search_index_is_the_queries_own``
    checks it by its effect."""
    expression_indexes = {
        index.name
        for table in metadata.tables.values()
        for index in table.indexes
        if any(not isinstance(expression, Column) for expression in index.expressions)
    }
    return [
        change
        for change in diff
        if not (
            isinstance(change, tuple)
            and change[0] in ("add_index", "remove_index")
            and change[1].name in expression_indexes
        )
    ]


def _without_other_dialects_indexes(diff: list[Any], metadata: MetaData, dialect: str) -> list[Any]:
    """An index the models build on another database only (``Index.ddl_if``), which Alembic's
    comparison does not know of, is not missing here."""
    elsewhere = {
        index.name
        for table in metadata.tables.values()
        for index in table.indexes
        if index._ddl_if is not None and index._ddl_if.dialect not in (None, dialect)
    }
    return [
        change
        for change in diff
        if not (isinstance(change, tuple) and change[0] == "add_index" and change[1].name in elsewhere)
    ]


BEFORE_FILLFACTORS = {"intake": "intake_0003", "dispatch": "dispatch_0005"}


@pytest.mark.parametrize("service", SERVICES)
def test_tables_get_the_storage_parameters_the_models_declare(service: str) -> None:
    """Autogenerate does not compare a table's storage parameters (the fillfactor that leaves
    room for HOT updates), so they are compared here: after the migrations and after their
    downgrade to the revision before the fillfactors (none left)."""
    metadata = importlib.import_module(f"services.{service}.models").Base.metadata
    declared = {
        name: {f"{key}={value}" for key, value in table.dialect_options["postgresql"]["with"].items()}
        for name, table in metadata.tables.items()
        if table.dialect_options["postgresql"]["with"]
    }
    url = empty_database("postgresql", service, Path())

    async def reloptions() -> dict[str, set[str]]:
        connection = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            rows = await connection.fetch(
                "SELECT relname, reloptions FROM pg_class WHERE relkind = 'r' "
                "AND relnamespace = 'public'::regnamespace AND reloptions IS NOT NULL"
            )
            return {row["relname"]: set(row["reloptions"]) for row in rows}
        finally:
            await connection.close()

    upgrade(service, url)
    try:
        assert asyncio.run(reloptions()) == declared
        if service in BEFORE_FILLFACTORS:
            downgrade(service, url, BEFORE_FILLFACTORS[service])
            assert asyncio.run(reloptions()) == {}
    finally:
        downgrade(service, url)


async def explain(url: str, query: Select[Any]) -> str:
    """PostgreSQL's plan for ``query`` with sequential scans off (an empty table is read whole otherwise)."""
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SET enable_seqscan = off"))
            rows = await connection.execute(text(f"EXPLAIN {sql}"))
            return "\n".join(row[0] for row in rows)
    finally:
        await engine.dispose()


def test_the_search_index_is_the_queries_own() -> None:
    """The console's text search uses the trigram index the migration built (PostgreSQL uses an
    expression index only for the very same expression)."""
    url = empty_database("postgresql", "dispatch", Path())
    upgrade("dispatch", url)
    query = select(Case.id).where(search_text(Case.address, Case.description).ilike("%镇海路 17 号%"))

    try:
        assert "ix_cases_search_trgm" in asyncio.run(explain(url, query))
    finally:
        downgrade("dispatch", url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_report_that_opened_a_case_gets_the_cases_address_back(backend: str, tmp_path: Path) -> None:
    """``dispatch_0008`` adds each report's address; a case kept its first report's, which goes back."""
    url = empty_database(backend, "dispatch", tmp_path)
    upgrade("dispatch", url, "dispatch_0007")
    engine = create_async_engine(url, poolclass=NullPool)
    now = datetime(2026, 12, 6, tzinfo=UTC)

    async def run(*statements: str) -> list[Any]:
        async with engine.begin() as connection:
            rows: list[Any] = []
            for statement in statements:
                result = await connection.execute(text(statement), {"now": now})
                rows = list(result) if result.returns_rows else rows
            return rows

    report = (
        "INSERT INTO case_reports (report_id, case_id, reporter_id, channel, category, description, lat, lon,"
        " photos, seen_at, received_at, joined_at) VALUES ('{uuid}', 1, 'wang.fang', 'app', '0101', 'x',"
        " 24.45, 118.08, '[]', :now, :now, :now)"
    )
    try:
        asyncio.run(
            run(
                "INSERT INTO cases (id, case_number, status, urgency, lat, lon, address, description,"
                " reported_at, created_at, updated_at, rework_count, report_count, version) VALUES (1,"
                " 'WG20261206-0001', 'triage', 'normal', 24.45, 118.08, '中山路 88 号', 'x', :now, :now,"
                " :now, 0, 2, 1)",
                report.format(uuid="00000000-0000-4000-8000-000000000001"),
                report.format(uuid="00000000-0000-4000-8000-000000000002"),
            )
        )
        upgrade("dispatch", url)
        rows = asyncio.run(run("SELECT address FROM case_reports ORDER BY id"))
        assert [row[0] for row in rows] == ["中山路 88 号", None]
    finally:
        asyncio.run(engine.dispose())
        downgrade("dispatch", url)


def test_the_cases_being_handled_get_their_warning_on_upgrade(backend: str, tmp_path: Path) -> None:
    """``dispatch_0013`` adds ``warn_at``: 80 % of the way from dispatch to deadline for the cases
    being handled; none for the others."""
    url = empty_database(backend, "dispatch", tmp_path)
    upgrade("dispatch", url, "dispatch_0012")
    engine = create_async_engine(url, poolclass=NullPool)
    dispatched = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    stored = dispatched.replace(tzinfo=None) if backend == "sqlite" else dispatched

    async def run(statement: str, **values: Any) -> list[Any]:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), values)
            return list(result) if result.returns_rows else []

    case = (
        "INSERT INTO cases (id, case_number, status, urgency, lat, lon, description, reported_at, created_at,"
        " updated_at, rework_count, report_count, version, dispatched_at, deadline_at) VALUES (:id, :number,"
        " :status, 'normal', 24.45, 118.08, 'x', :at, :at, :at, 0, 1, 1, :at, :deadline)"
    )
    try:
        for number, status in ((1, "in_progress"), (2, "closed")):
            asyncio.run(
                run(
                    case,
                    id=number,
                    number=f"WG20261207-000{number}",
                    status=status,
                    at=stored,
                    deadline=stored + timedelta(hours=10),
                )
            )
        upgrade("dispatch", url)

        async def warnings() -> dict[int, Any]:
            async with engine.connect() as connection:
                rows = await connection.execute(select(Case.id, Case.warn_at).order_by(Case.id))
                return {row[0]: row[1] for row in rows}

        assert asyncio.run(warnings()) == {1: dispatched + timedelta(hours=8), 2: None}
    finally:
        asyncio.run(engine.dispose())
        downgrade("dispatch", url)


def test_the_overdue_list_uses_the_partial_index_the_migration_built() -> None:
    """The console's overdue list, newest first, walks the partial index of the cases in a
    department's hands with a deadline (PostgreSQL uses it only if the query implies its predicate)."""
    url = empty_database("postgresql", "dispatch", Path())
    upgrade("dispatch", url)
    now = datetime(2026, 12, 6, 4, tzinfo=UTC)
    query = select(Case.id).where(overdue(now)).order_by(Case.created_at.desc(), Case.id.desc()).limit(20)

    try:
        explained = asyncio.run(explain(url, query))
        assert "ix_cases_handling_deadline_created_at_id" in explained, explained
    finally:
        downgrade("dispatch", url)


def test_the_due_list_uses_the_partial_index_the_migration_built() -> None:
    """The console's due list (``sort=due``) reads the cases in a department's hands from the
    partial index ``dispatch_0011`` built (PostgreSQL uses it only if the query implies its
    predicate; on an empty table it may still sort the few rows it finds)."""
    url = empty_database("postgresql", "dispatch", Path())
    upgrade("dispatch", url)
    query = select(Case.id).where(handling()).order_by(Case.deadline_at, Case.id).limit(20)

    try:
        explained = asyncio.run(explain(url, query))
        assert "ix_cases_handling_deadline_at_id" in explained, explained
    finally:
        downgrade("dispatch", url)


def test_automatic_urging_reads_the_overdue_cases_from_the_due_lists_index() -> None:
    """A pass of automatic urging (超期自动督办) reads the cases in a department's hands past their
    deadline from the partial index of the due list, not the whole table."""
    url = empty_database("postgresql", "dispatch", Path())
    upgrade("dispatch", url)
    now = datetime(2026, 12, 6, 4, tzinfo=UTC)
    query = (
        select(Case.id)
        .where(due_for_urging(now))
        .order_by(Case.deadline_at, Case.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )

    try:
        explained = asyncio.run(explain(url, query))
        assert "ix_cases_handling_deadline_at_id" in explained, explained
    finally:
        downgrade("dispatch", url)


def test_the_merge_lookup_uses_the_index_the_migration_built() -> None:
    """The inbox's look-up of open cases near a batch scans ``ix_case_reports_nearby_day`` by
    category, day and latitude band (an expression index, used only for the very same
    expression): one area whose window crosses midnight, a row for each day."""
    url = empty_database("postgresql", "dispatch", Path())
    upgrade("dispatch", url)
    seen = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)
    areas = {
        "a_category": ["0101", "0101"],
        "a_day": [seen.date(), seen.date() + timedelta(days=1)],
        "a_seen_from": [seen - timedelta(hours=4), seen - timedelta(hours=4)],
        "a_seen_to": [seen + timedelta(hours=4), seen + timedelta(hours=4)],
        "a_lat_min": [24.4545, 24.4545],
        "a_lat_max": [24.4555, 24.4555],
        "a_lon_min": [118.0795, 118.0795],
        "a_lon_max": [118.0805, 118.0805],
        "a_lat": [24.455, 24.455],
        "a_lon": [118.08, 118.08],
    }

    async def plan() -> str:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SET enable_seqscan = off"))
                compiled = _NEAREST_OPEN_REPORTS.compile(dialect=connection.dialect)
                expanded = compiled.construct_expanded_state(areas)
                args = tuple(expanded.positional_parameters or ())
                rows = await connection.exec_driver_sql(f"EXPLAIN {expanded.statement}", args)
                return "\n".join(row[0] for row in rows)
        finally:
            await engine.dispose()

    try:
        explained = asyncio.run(plan())
        assert "ix_case_reports_nearby_day" in explained, explained
        scan = explained[explained.index("ix_case_reports_nearby_day") :]
        bounds = scan[scan.index("Index Cond") : scan.index("\n", scan.index("Index Cond"))]
        assert "seen_at))::date = area.day" in bounds and "lat >=" in bounds, explained
    finally:
        downgrade("dispatch", url)


def test_an_invalid_hand_built_merge_index_stops_the_migration_before_the_old_one_goes() -> None:
    """A failed ``CREATE INDEX CONCURRENTLY`` leaves an invalid index of the name, which the
    migration would otherwise take for built, dropping the index that works."""
    url = empty_database("postgresql", "dispatch", Path())
    upgrade("dispatch", url, "dispatch_0004")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")

    async def build_an_invalid_index() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute("CREATE TABLE numbers AS SELECT 1 AS n UNION ALL SELECT 1")
            await connection.execute(
                "CREATE UNIQUE INDEX CONCURRENTLY ix_case_reports_nearby_day ON numbers (n)"
            )
        except asyncpg.UniqueViolationError:
            pass
        finally:
            await connection.close()

    try:
        asyncio.run(build_an_invalid_index())
        with pytest.raises(RuntimeError, match="invalid"):
            upgrade("dispatch", url)
    finally:
        downgrade("dispatch", url)


def test_the_urged_and_due_indexes_built_by_hand_first_are_found_and_kept() -> None:
    """On a large database an operator runs the statements the headers of ``dispatch_0010``
    and ``dispatch_0011`` show (``CONCURRENTLY``, outside a migration), then migrates: the
    migrations take what is there instead of failing on it."""
    url = empty_database("postgresql", "dispatch", Path())
    upgrade("dispatch", url, "dispatch_0009")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")

    async def by_hand() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute("ALTER TABLE cases ADD COLUMN urge_count INTEGER NOT NULL DEFAULT 0")
            await connection.execute(
                "CREATE INDEX CONCURRENTLY ix_cases_urged_created_at_id ON cases (created_at, id)"
                " WHERE urge_count > 0"
            )
            await connection.execute(
                "CREATE INDEX CONCURRENTLY ix_cases_handling_deadline_at_id ON cases (deadline_at, id)"
                " WHERE deadline_at IS NOT NULL AND status IN ('dispatched', 'in_progress')"
            )
        finally:
            await connection.close()

    try:
        asyncio.run(by_hand())
        upgrade("dispatch", url)
        query = select(Case.id).where(handling()).order_by(Case.deadline_at, Case.id).limit(20)
        assert "ix_cases_handling_deadline_at_id" in asyncio.run(explain(url, query))
    finally:
        downgrade("dispatch", url)


def test_the_photos_the_timeline_named_before_the_upgrade_are_named_after_it(
    backend: str, tmp_path: Path
) -> None:
    """``dispatch_0014`` notes the intake photos the events already name (intake keeps them), and
    nothing else: another site's photo, an event without photos."""
    url = empty_database(backend, "dispatch", tmp_path)
    upgrade("dispatch", url, "dispatch_0013")
    engine = create_async_engine(url, poolclass=NullPool)
    now = datetime(2026, 12, 6, tzinfo=UTC)
    resolution, thumbnail = uuid.uuid4(), uuid.uuid4()
    photos = [
        [f"https://intake.example.gov.cn/v1/photos/{resolution}", "https://files.example.org/p/after.jpg"],
        [],
        [f"http://127.0.0.1:8001/v1/photos/{thumbnail}/thumbnail"],
    ]

    async def run(statement: str, **values: Any) -> list[Any]:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), {"now": now, **values})
            return list(result) if result.returns_rows else []

    try:
        asyncio.run(
            run(
                "INSERT INTO cases (id, case_number, status, urgency, lat, lon, description, reported_at,"
                " created_at, updated_at, rework_count, report_count, version) VALUES (1,"
                " 'WG20261206-0001', 'resolved', 'normal', 24.45, 118.08, 'x', :now, :now, :now, 0, 1, 1)"
            )
        )
        for named in photos:
            asyncio.run(
                run(
                    "INSERT INTO case_events (case_id, action, to_status, actor_id, actor_role, photos,"
                    " data, at) VALUES (1, 'note', 'resolved', 'gao.peng', 'handler', :photos, '{}', :now)",
                    photos=json.dumps(named),
                )
            )
        upgrade("dispatch", url)
        rows = asyncio.run(run("SELECT photo_id FROM named_photos"))
        assert {uuid.UUID(str(row[0])) for row in rows} == {resolution, thumbnail}
    finally:
        asyncio.run(engine.dispose())
        downgrade("dispatch", url)
