"""A region holds the codes under it; a cell only itself."""

from __future__ import annotations

import pytest

from shared.actors import Actor, Role
from shared.regions import holds

COMMUNITY = "350203001001"
CELL = "35020300100101"  # 14 digits
LONGER_CELL = "350203001001011"  # 15 digits: another cell of the community, its code begins with CELL's


@pytest.mark.parametrize(
    ("region", "code", "held"),
    [
        (COMMUNITY, CELL, True),
        (COMMUNITY, LONGER_CELL, True),
        ("350203", LONGER_CELL, True),
        (CELL, CELL, True),
        (CELL, LONGER_CELL, False),  # was held: a prefix
        (LONGER_CELL, LONGER_CELL, True),
        ("350203001002", CELL, False),
        ("", CELL, False),
        (CELL, None, False),
    ],
)
def test_a_region_holds_the_codes_under_it_and_a_cell_only_itself(
    region: str, code: str | None, held: bool
) -> None:
    assert holds(region, code) is held
    worker = Actor(id="wang.fang", role=Role.grid_worker, regions=[region])
    assert worker.in_region(code) is held
