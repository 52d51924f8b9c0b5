"""The database helpers that keep a batch's statements to a handful of shapes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, and_, insert, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.db import (
    PADDED_UP_TO,
    RowUpdate,
    UTCDateTime,
    after_commit,
    create_engine,
    one_of,
    padded,
    power_of_two_chunks,
    session_scope,
)
from tests.conftest import CleanDatabase


def test_padding_repeats_the_last_value_up_to_a_power_of_two() -> None:
    assert padded([]) == []
    assert padded([7]) == [7]
    assert padded([1, 2, 3]) == [1, 2, 3, 3]
    for n in range(1, 300):
        values = list(range(n))
        shaped = padded(values)
        assert shaped[:n] == values and set(shaped) == set(values)
        assert len(shaped) & (len(shaped) - 1) == 0 and len(shaped) < 2 * n
    assert len({len(padded(range(n))) for n in range(1, 257)}) == 9  # 1, 2, 4, … 256
    # past PADDED_UP_TO, to a multiple of it: never near asyncpg's 32,767 parameters
    assert len(padded(range(PADDED_UP_TO + 1))) == 2 * PADDED_UP_TO
    assert len(padded(range(16_385))) == 17 * PADDED_UP_TO


def test_chunks_are_powers_of_two_largest_first_and_keep_every_row_in_order() -> None:
    assert list(power_of_two_chunks([])) == []
    assert [len(c) for c in power_of_two_chunks(list(range(100)))] == [64, 32, 4]
    for n in range(1, 300):
        rows = list(range(n))
        chunks = list(power_of_two_chunks(rows))
        assert [row for chunk in chunks for row in chunk] == rows
        sizes = [len(chunk) for chunk in chunks]
        assert all(size & (size - 1) == 0 for size in sizes)
        assert sizes == sorted(set(sizes), reverse=True)  # each size at most once


metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(8)),
    Column("seen_at", UTCDateTime),
    Column("rank", Integer),
)
# moves a thing only forward in rank, as intake's inbox moves a report's view
MOVE = RowUpdate(
    things,
    "id",
    ("name", "seen_at", "rank"),
    where=lambda thing, new: and_(new.id.is_not(None), or_(thing.rank.is_(None), thing.rank < new.rank)),
)


async def test_many_rows_each_get_their_own_values(clean_database: CleanDatabase, backend: str) -> None:
    engine = create_engine(await clean_database("db", metadata))
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    at = datetime(2026, 11, 27, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(things),
                [
                    {"id": a, "name": "a", "rank": None},
                    {"id": b, "name": "b", "rank": 5},
                    {"id": c, "name": "c", "rank": 1},
                    {"id": d, "name": "d", "rank": 1},
                ],
            )
            await MOVE.execute(
                connection,
                [
                    {"id": a, "name": "a2", "seen_at": at, "rank": 2},
                    {"id": b, "name": "b2", "seen_at": at, "rank": 3},  # behind: stays
                    {"id": c, "name": "c2", "seen_at": at, "rank": 7},
                    {"id": c, "name": None, "seen_at": None, "rank": 9},  # the last row of a key wins
                ],
            )
            rows = {row.id: row for row in await connection.execute(select(things))}
        assert (rows[a].name, rows[a].seen_at, rows[a].rank) == ("a2", at.astimezone(UTC), 2)
        assert (rows[b].name, rows[b].seen_at, rows[b].rank) == ("b", None, 5)
        assert (rows[c].name, rows[c].seen_at, rows[c].rank) == (None, None, 9)
        assert (rows[d].name, rows[d].rank) == ("d", 1)
        if backend == "postgresql":  # SQLite does not enforce a string's length
            with pytest.raises(DBAPIError, match="too long"):
                async with engine.begin() as connection:
                    await MOVE.execute(connection, [{"id": a, "name": "x" * 9, "seen_at": None, "rank": 10}])
    finally:
        await engine.dispose()


async def test_one_of_finds_exactly_the_values_given(clean_database: CleanDatabase, backend: str) -> None:
    engine = create_engine(await clean_database("db", metadata))
    ids = [uuid.uuid4() for _ in range(40)]
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(things), [{"id": i, "rank": n} for n, i in enumerate(ids)])
            dialect = connection.dialect.name
            for wanted in ([], ids[:1], ids[3:20], [*ids[5:9], uuid.uuid4()], ids):
                found = await connection.scalars(
                    select(things.c.id).where(one_of(things.c.id, wanted, dialect))
                )
                assert set(found) == set(wanted) & set(ids)
            # integers too, and one list in two places of a statement
            ranks = [2, 3, 39, 41]
            query = select(things.c.rank).where(
                one_of(things.c.rank, ranks, dialect),
                or_(one_of(things.c.rank, [39], dialect), things.c.rank < 3),
            )
            assert sorted(await connection.scalars(query)) == [2, 39]
    finally:
        await engine.dispose()


async def test_after_commit_runs_once_the_transaction_is_saved_and_never_after_a_rollback(
    clean_database: CleanDatabase,
) -> None:
    engine = create_engine(await clean_database("db", metadata))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    said: list[str] = []
    try:
        async with session_scope(sessions) as session:
            await session.execute(insert(things), [{"id": uuid.uuid4(), "rank": 1}])
            after_commit(session, lambda: said.append("saved"))
            assert said == []  # not before the commit
        assert said == ["saved"]

        with pytest.raises(RuntimeError):
            async with session_scope(sessions) as session:
                await session.execute(insert(things), [{"id": uuid.uuid4(), "rank": 2}])
                after_commit(session, lambda: said.append("never saved"))
                raise RuntimeError("the request failed")
        async with session_scope(sessions) as session:  # the next transaction of a pooled session
            assert sorted(await session.scalars(select(things.c.rank))) == [1]
        assert said == ["saved"]
    finally:
        await engine.dispose()
