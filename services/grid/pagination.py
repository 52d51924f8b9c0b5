"""Keyset pagination over a unique key (a code, a name or an id), with opaque cursors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, StrictStr
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import Unprocessable
from shared.schemas import RowId, decode_cursor, encode_cursor

T = TypeVar("T")


class _After(BaseModel):
    """The key of the last row of the page before."""

    after: Annotated[StrictStr, Field(max_length=200)] | RowId


async def keyset_page(
    session: AsyncSession,
    statement: Select[T],
    *,
    key: InstrumentedAttribute[Any],
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[T], str | None]:
    """Rows of ``statement`` ordered by ``key`` after the cursor, and the cursor of the next page."""
    if cursor is not None:
        after = decode_cursor(cursor, _After).after
        if not isinstance(after, key.type.python_type):  # a number for a code, or the other way
            raise Unprocessable("cursor is not one this service issued")
        statement = statement.where(key > after)
    rows = list((await session.scalars(statement.order_by(key).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(_After(after=getattr(rows[-1], key.key)))
