"""Base schemas: strict request bodies, ORM-readable responses, the problem document, pages."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, date, datetime
from typing import Annotated, ClassVar, Generic, Self, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictInt,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from shared.errors import Unprocessable, explain_pattern

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_ROW_ID = 2**63 - 1
"""The largest integer id a row can have (a signed 64-bit ``BIGINT``): a larger one in a path is a
422, not a 500 from a driver that cannot send it (SQLite raises ``OverflowError``)."""


RowId = Annotated[StrictInt, Field(ge=1, le=MAX_ROW_ID)]
"""A row's integer id wherever a client hands one back in JSON (a body, a cursor)."""


def _plain_digits(value: object) -> object:
    if isinstance(value, str) and not (
        value.isascii() and value.isdigit() and (value[0] != "0" or value == "0")
    ):
        raise ValueError("a number in a path is written in the digits 0 to 9 alone, without leading zeros")
    return value


PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A number as a form or a URL writes it, in ASCII digits (``24.455``, ``-118``, ``.5``, ``1e2``):
``float()`` alone also reads ``2_4.455`` as 24.455 and the digits of other scripts (``２４.４``),
so a typo became a point nobody wrote (Open311's ``lat``, the map's ``bbox``)."""

PLAIN_DIGITS = BeforeValidator(_plain_digits)
"""For an integer id in a path, after its ``Path(ge=1, le=MAX_ROW_ID)`` (in that order, or the
OpenAPI shows ``ge``/``le`` for ``minimum``/``maximum``): lax int parsing read ``1_0`` as 10
and ``+1``, `` 1`` or ``01`` as 1, so one case had many URLs. (``0`` goes on to ``ge=1``.)"""
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _canonical_uuid(value: object) -> object:
    if isinstance(value, str) and not _CANONICAL_UUID.fullmatch(value):
        raise ValueError("a UUID in a path is written in lower case with its four hyphens")
    return value


CANONICAL_UUID = BeforeValidator(_canonical_uuid)
"""For a UUID in a path: pydantic took upper case, no hyphens, braces and ``urn:uuid:`` as the
same UUID, so one report had many URLs."""
MIN_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP = datetime(9000, 1, 1, tzinfo=UTC)


def _within_bounds(value: datetime) -> datetime:
    if MIN_TIMESTAMP.year < value.year < MAX_TIMESTAMP.year - 1:  # no offset takes it across a bound
        # Converted only when not in UTC already: astimezone on pydantic's tzinfo costs 1.5 us.
        # As it is, a report.received message's two times cost 3 us over AwareDatetime's (14 us).
        return value.astimezone(UTC) if value.utcoffset() else value
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+14:00 has no UTC time
        raise ValueError("timestamp is out of range") from exc
    if not MIN_TIMESTAMP <= utc < MAX_TIMESTAMP:
        raise ValueError(f"timestamp must lie between {MIN_TIMESTAMP:%Y} and {MAX_TIMESTAMP:%Y}")
    return utc


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    raise ValueError("a time is written in RFC 3339, with its offset: 2026-12-05T08:30:00+08:00")


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_within_bounds)]
"""A moment a client or a peer hands in: in RFC 3339 with its offset (pydantic alone took a
space for the ``T`` and Unix seconds, and refuses only the naive), between 1970 and 9000, read
as UTC. Wider ones would fail in the drivers or in date arithmetic, as a 500. The format check
costs 0.6 us a time (1.4 against 0.8 us to validate one, in-process)."""

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day(value: object) -> object:
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("a day is written as YYYY-MM-DD: 2026-12-05")


def _day_within_bounds(value: date) -> date:
    if not MIN_TIMESTAMP.year < value.year < MAX_TIMESTAMP.year:
        first, last = MIN_TIMESTAMP.year + 1, MAX_TIMESTAMP.year - 1
        raise ValueError(f"a day must lie in the years {first} to {last}")
    return value


Day = Annotated[date, BeforeValidator(_iso_day), AfterValidator(_day_within_bounds)]
"""A calendar day a client hands in (the figures' period, the working calendar's days): ``YYYY-MM-DD``
alone (pydantic alone took Unix seconds and a midnight datetime), after 1970 and before 9000, so
that its midnight in any time zone has a UTC time (``0001-01-01`` in Asia/Shanghai did not: a 500)."""

DEPARTMENT_CODE = explain_pattern(
    r"^[a-z][a-z0-9-]{1,31}$",
    "a department's code (2 to 32 lower-case letters, digits and '-', as sanitation): not its name",
)
"""A department's code (``cg-zfzd``): grid owns departments, dispatch takes their codes."""
CATEGORY_CODE = explain_pattern(
    r"^[0-9]{4}([0-9]{2}){0,2}$", "a catalog category's code (4, 6 or 8 digits, as 0501): not its name"
)
"""A catalog category's code: two digits of major class, two of item (``0501``), optionally two
more levels of detail. Grid owns the catalog, dispatch takes its codes."""

PhotoUrl = Annotated[str, Field(max_length=500, pattern=r"^https?://\S+$")]
"""A photo, as the URL where the app stored it: http or https only, so a console that shows it
as a link or an image never runs a ``javascript:`` or ``data:`` one."""


class RequestModel(BaseModel):
    """A request body: unknown fields are rejected, strings are trimmed and may hold neither NUL
    nor a lone surrogate (:func:`unstorable`), and no value nests deeper than ``MAX_NESTING``.

    Its booleans and numbers are declared strict (``StrictBool``, ``StrictInt``, ``StrictFloat``,
    :data:`RowId`): ``"yes"`` is no ``true`` and ``"5"`` no rating. The model itself cannot be
    strict: FastAPI validates the parsed JSON in Python mode, where a strict model would refuse
    a time or a UUID given as the string JSON has for it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="after")
    def _storable(self) -> Self:
        for name, value in self:
            # A number, a time, a UUID or a nested request model (it checked itself) holds no text.
            if isinstance(value, _TEXTUAL):
                reason = unstorable(value)
                if reason:
                    raise ValueError(f"{name} {reason}")
        return self


_TEXTUAL = (str, list, tuple, set, frozenset, dict)


class Changes(RequestModel):
    """A PATCH body: the fields to change, the others left out. ``null`` clears only a field in
    ``clearable``; for any other it is a 422 (it was ignored, so the client believed it done)."""

    clearable: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Document as nullable only the clearable fields (the type says ``| None`` for all,
        as each may be left out)."""
        schema = handler.resolve_ref_schema(handler(core_schema))
        for name, field in schema.get("properties", {}).items():
            variants = field.get("anyOf")
            if name not in cls.clearable and variants and {"type": "null"} in variants:
                rest = [variant for variant in variants if variant != {"type": "null"}]
                del field["anyOf"]
                field.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        return schema

    @model_validator(mode="after")
    def _null_only_where_clearable(self) -> Self:
        for name in sorted(self.model_fields_set - self.clearable):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be cleared; leave it out to keep it")
        return self


MAX_NESTING = 32
"""How deep lists and objects may nest in a request body's free-form parts (an inbox message's
payload): far past any real one, well short of Python's recursion limit."""


def unstorable(value: object) -> str | None:
    """Why ``value`` (a string, or lists and dicts of them) cannot be stored, or None.

    NUL (U+0000): PostgreSQL's text cannot hold it (refused on SQLite too, for the same answer).
    A lone surrogate (``"\\ud800"`` in JSON) is no character: UTF-8 cannot encode it, so the
    database driver failed with a 500. Walked with a stack, not recursion: a payload nested
    400 deep (800 bytes of brackets) was a RecursionError. Nested request models check themselves.
    """
    if isinstance(value, str):  # most fields: no stack
        return _unstorable_text(value)
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            reason = _unstorable_text(item)
            if reason:
                return reason
        elif isinstance(item, _CONTAINERS):
            if depth >= MAX_NESTING:
                return f"nests lists or objects more than {MAX_NESTING} deep"
            children = [*item, *item.values()] if isinstance(item, dict) else item
            stack.extend([(child, depth + 1) for child in children])
    return None


_CONTAINERS = (list, tuple, set, frozenset, dict)


def _storable_query(value: object) -> object:
    reason = _unstorable_text(value) if isinstance(value, str) else None
    if reason:
        raise ValueError(reason)
    return value


def _search_text(value: object) -> object:
    return (value.strip() or None) if isinstance(value, str) else value


SEARCH_TEXT = AfterValidator(_search_text)
"""For a text search: the spaces around the words are not searched for, and a search of
nothing but spaces is no search (it matched every text holding as many spaces)."""

STORABLE_QUERY = AfterValidator(_storable_query)
"""For text in a query string or a path, compared with stored text: refused with NUL, as in a body
(SQLite cut a ``LIKE`` pattern at the NUL: ``q=%00`` matched every case). A lone surrogate cannot
come this way: Starlette decodes the query and the path with U+FFFD for what is not UTF-8."""


def _unstorable_text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (U+0000)"
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return "contains a lone surrogate (U+D800 to U+DFFF), which is no character"
    return None


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response."""

    type: str = Field(examples=["https://wangge.dev/problems/illegal-transition"])
    title: str = Field(examples=["Illegal transition"])
    status: int = Field(examples=[409])
    detail: str = Field(examples=["cannot accept a case that is closed"])
    instance: str | None = Field(default=None, examples=["/v1/cases/12/accept"])

    model_config = ConfigDict(extra="allow")


T = TypeVar("T")
P = TypeVar("P", bound=BaseModel)


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next one (null at the end)."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(position: BaseModel) -> str:
    return base64.urlsafe_b64encode(position.model_dump_json().encode()).decode().rstrip("=")


def decode_cursor(cursor: str, position: type[P]) -> P:
    """The position a cursor holds, checked like a request body: a cursor is the client's input."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if unstorable(raw):  # NUL, a lone surrogate: no key holds one, and the drivers differ on it
            raise ValueError("a cursor holds no such text")
        return position.model_validate(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, ValidationError) as exc:
        raise Unprocessable("cursor is not one this service issued") from exc
