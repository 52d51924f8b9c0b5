"""Unit-grid codes (单元网格编码): 6-digit county code + 3 street + 3 community + 2 or 3 cell digits.

The level follows from the length (6, 9, 12, 14 or 15 digits) and a region's parent code is
its own code cut to the parent level's length.
"""

from __future__ import annotations

from enum import StrEnum

from shared.errors import explain_pattern


class Level(StrEnum):
    district = "district"
    subdistrict = "subdistrict"
    community = "community"
    cell = "cell"


LEVEL_BY_LENGTH = {
    6: Level.district,
    9: Level.subdistrict,
    12: Level.community,
    14: Level.cell,
    15: Level.cell,
}
LEVEL_RANK = {Level.district: 0, Level.subdistrict: 1, Level.community: 2, Level.cell: 3}
PARENT_LENGTH = {Level.subdistrict: 6, Level.community: 9, Level.cell: 12}
CODE_PATTERN = explain_pattern(
    r"^[0-9]{6}([0-9]{3}([0-9]{3}([0-9]{2,3})?)?)?$",
    "a region's unit-grid code: 6 digits (district), 9 (subdistrict), 12 (community) or 14 to 15 (grid cell)",
)


def level_of(code: str) -> Level | None:
    """The level a code names, or ``None`` when it is not a unit-grid code."""
    if not code.isascii() or not code.isdigit():
        return None
    return LEVEL_BY_LENGTH.get(len(code))


def parent_of(code: str) -> str | None:
    level = level_of(code)
    if level is None or level is Level.district:
        return None
    return code[: PARENT_LENGTH[level]]


def lineage(code: str) -> list[str]:
    """The code and its ancestors, nearest first: cell, community, subdistrict, district."""
    chain: list[str] = []
    current: str | None = code
    while current is not None:
        chain.append(current)
        current = parent_of(current)
    return chain
