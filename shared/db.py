"""Database plumbing shared by the three services: engines, sessions, portable column types.

Every service runs on PostgreSQL (asyncpg) in production and on SQLite (aiosqlite) as the
embedded default. The column types here behave the same on both: times always come back
timezone-aware in UTC, JSON is JSONB on PostgreSQL.

SQLite gets one connection per engine: a single writer keeps its tail latency near the
median, where several writers contend for the file lock and wait on ``busy_timeout``.
"""

from __future__ import annotations

import functools
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    any_,
    bindparam,
    column,
    event,
    func,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


REFUSED_VALUE_STATES = frozenset({"22001", "22003", "22007", "22008", "22021", "22P02", "22P05"})
"""SQLSTATEs of a value the database will not store: too long, out of range, a malformed or
out-of-range date, bad encoding, malformed text for its type, a character it cannot store."""

OUT_OF_REACH_STATES = ("08", "53", "57P01", "57P02", "57P03")
"""SQLSTATE prefixes of a database that cannot serve right now: connection failures, no
resources (too many connections, disk full), shutting down or starting up."""

SQLITE_OUT_OF_REACH = ("database is locked", "database table is locked", "unable to open", "disk I/O error")
"""sqlite3 raises OperationalError for these and for mistakes in a query alike."""


def _sqlstate(exc: DBAPIError) -> str:
    return str(getattr(exc.orig, "sqlstate", None) or "")


def refused_value(exc: BaseException) -> bool:
    """The database will not store a value it was given (too long, out of its type's range,
    malformed): the client's 422, never a 500.

    asyncpg's errors reach SQLAlchemy as a plain ``DBAPIError`` carrying the SQLSTATE (a value
    asyncpg itself cannot encode as the column's type comes as 22000 "…out of … range");
    other drivers raise ``DataError``. Other data exceptions (a division by zero, a string
    passed for an integer) are mistakes in a query, and stay 500s.
    """
    if isinstance(exc, DataError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    state, message = _sqlstate(exc), str(exc.orig)
    return state in REFUSED_VALUE_STATES or (state == "22000" and "out of" in message and "range" in message)


async def flush_new(session: AsyncSession) -> bool:
    """Flush the session's new rows; False when a unique key among them is taken (the session's
    transaction is then to be rolled back). A create checks first that its key is free, and two
    creates at once both pass that check: the second's insert was a 500."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if _sqlstate(exc) == "23505" or "UNIQUE constraint failed" in str(exc.orig):
            return False
        raise
    return True


CONCURRENCY_STATES = frozenset({"40001", "40P01"})
"""SQLSTATEs of a transaction PostgreSQL aborted because of a concurrent one (a serialization
failure, a deadlock it broke): the same request retried succeeds or gets its own answer."""


def aborted_by_concurrency(exc: BaseException) -> bool:
    """PostgreSQL aborted the transaction to let a concurrent one through: a 503 to retry."""
    return isinstance(exc, DBAPIError) and _sqlstate(exc) in CONCURRENCY_STATES


def out_of_reach(exc: BaseException) -> bool:
    """The database cannot serve right now (down, restarting, out of connections, locked, the
    pool exhausted): the request may simply be retried, a 503.

    asyncpg raises a refused connection as a bare OSError, before SQLAlchemy sees it; an
    OSError of the file system (``FileNotFoundError``, ``PermissionError``) is no such thing.
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or _sqlstate(exc).startswith(OUT_OF_REACH_STATES):
            return True
        if isinstance(exc.orig, sqlite3.OperationalError):
            return any(sign in str(exc.orig) for sign in SQLITE_OUT_OF_REACH)
        return isinstance(exc, OperationalError)
    return type(exc) is OSError or isinstance(
        exc, ConnectionError | TimeoutError | socket.gaierror | PoolTimeout
    )


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def insert_of(dialect: str) -> Any:
    """The dialect's ``insert``, with ``on_conflict_do_nothing`` and ``on_conflict_do_update``
    (PostgreSQL's and SQLite's take the same arguments)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def json_dumps(value: Any) -> str:
    """JSON columns are written with orjson: the stdlib encoder was a tenth of intake's CPU."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


PADDED_UP_TO = 1024
"""Longer ``IN`` lists are padded to a multiple of this, not to a power of two (asyncpg takes
at most 32,767 parameters)."""


def padded(values: Iterable[T]) -> list[T]:
    """An ``IN`` list padded to a power of two with its last value (which changes no answer).

    A batch's look-ups then come in a handful of statement shapes, each compiled, prepared and
    planned once per connection; a list of every length was a new statement nearly every batch.
    """
    items = list(values)
    if items:
        size = len(items)
        shaped = (
            1 << (size - 1).bit_length() if size <= PADDED_UP_TO else -(-size // PADDED_UP_TO) * PADDED_UP_TO
        )
        items += [items[-1]] * (shaped - size)
    return items


def one_of(
    column: ColumnElement[T] | QueryableAttribute[T], values: Iterable[T], dialect: str
) -> ColumnElement[bool]:
    """``column IN values`` for a batch's look-ups, in a statement that does not change with the count.

    PostgreSQL: ``= ANY`` of one array parameter, so nothing is rendered per execution (an
    expanding ``IN`` list is: 2.9 against 1.2 ms of client CPU for 100 ids, on a slow machine).
    Elsewhere an ``IN`` list padded to a power of two (:func:`padded`).
    """
    if dialect == "postgresql":
        element = column.expression if isinstance(column, QueryableAttribute) else column
        array = bindparam(None, list(values), type_=ARRAY(element.type), unique=True)
        return column == any_(array)
    return column.in_(padded(values))


def power_of_two_chunks(rows: Sequence[T]) -> Iterator[Sequence[T]]:
    """``rows`` in consecutive chunks whose sizes are powers of two, largest first (100 rows:
    64, 32, 4), for multi-row inserts in a handful of statement shapes (see :func:`padded`)."""
    start = 0
    while start < len(rows):
        size = 1 << ((len(rows) - start).bit_length() - 1)
        yield rows[start : start + size]
        start += size


@dataclass(frozen=True)
class RowUpdate:
    """Sets ``columns`` of the rows named by ``key``, each row to its own values, in one statement.

    PostgreSQL: ``UPDATE … SET c = v.c … FROM unnest(:key, :c …) AS v WHERE t.key = v.key`` with
    one array per column: one statement of one shape for a whole batch, where an executemany
    ran an UPDATE per row. Elsewhere, an executemany. ``where`` adds a condition on the
    table's row and its new values (``v``, the key among them). A key given twice takes its
    last row's values, on both backends. Keys must sort (ids, UUIDs, codes).
    """

    table: Table
    key: str
    columns: tuple[str, ...]
    where: Callable[[Any, Any], ColumnElement[bool]] | None = None

    async def execute(self, connection: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """``rows`` hold the key and every column, under their names."""
        if not rows:
            return
        # The last row of a key, in key order: two updates of the same rows lock them in one
        # order (on the usual plan, a loop over the arrays), not in opposite orders to deadlock.
        last = {row[self.key]: row for row in rows}
        rows = [last[key] for key in sorted(last)]
        names = (self.key, *self.columns)
        if connection.dialect.name == "postgresql":
            arrays = {f"a_{name}": [row[name] for row in rows] for name in names}
            await connection.execute(self._from_arrays, arrays)
        else:
            per_row = [{f"p_{name}": row[name] for name in names} for row in rows]
            await connection.execute(self._per_row, per_row)

    @functools.cached_property
    def _from_arrays(self) -> Any:
        names = (self.key, *self.columns)
        # (bound under other names than the columns': update() keeps those for itself)
        arrays = [bindparam(f"a_{name}", type_=ARRAY(_element(self.table.c[name].type))) for name in names]
        values = (
            func.unnest(*arrays)
            .table_valued(*(column(name, self.table.c[name].type) for name in names))
            .render_derived(name="v")
        )
        extra = [self.where(self.table.c, values.c)] if self.where else []
        return (
            update(self.table)
            .where(self.table.c[self.key] == values.c[self.key], *extra)
            .values({name: values.c[name] for name in self.columns})
        )

    @functools.cached_property
    def _per_row(self) -> Any:
        values = {name: bindparam(f"p_{name}", type_=self.table.c[name].type) for name in self.columns}
        new = _NewValues({self.key: bindparam(f"p_{self.key}"), **values})
        extra = [self.where(self.table.c, new)] if self.where else []
        return update(self.table).where(self.table.c[self.key] == new[self.key], *extra).values(values)


def _element(column_type: Any) -> Any:
    """An array's element type: a string without its length, since casting to ``VARCHAR(16)[]``
    cuts longer values silently, where storing them into the column refuses them (a 422)."""
    if isinstance(column_type, String) and column_type.length is not None:
        return type(column_type)()
    return column_type


class _NewValues(dict[str, Any]):
    """New values by name, read as attributes like a derived table's columns (``v.status``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    json_options: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": orjson.loads}
    if is_sqlite(url):
        ensure_sqlite_dir(url)
        engine = create_async_engine(
            url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=30, **json_options
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it is one more round trip on every request. A connection that a PostgreSQL
    # restart broke fails its request once and the pool drops it; none outlives pool_recycle.
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, **json_options
    )


def create_session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


AFTER_COMMIT = "wangge.after_commit"


def after_commit(session: AsyncSession, action: Callable[[], object]) -> None:
    """Run ``action`` once the session's transaction has committed, and not at all if it rolls
    back: a log line saying what the transaction did is not written of work never saved."""
    session.info.setdefault(AFTER_COMMIT, []).append(action)


async def transaction(
    session_maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One session, committed on success and rolled back on error: the only place that commits
    (then the session's :func:`after_commit` actions run)."""
    async with session_maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            session.info.pop(AFTER_COMMIT, None)
            await session.rollback()
            raise
        for action in session.info.pop(AFTER_COMMIT, []):
            action()


session_scope = asynccontextmanager(transaction)
"""``async with session_scope(maker) as session:`` for work outside a request (relays, CLI)."""
