"""The figures by community and by grid cell name each group as grid names the region: from its
list of that level (retired regions too), kept a minute; ``null`` where grid cannot say."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from shared.actors import Actor, Role
from tests.conftest import CleanDatabase
from tests.dispatch import factories
from tests.dispatch.cases.test_unstaffed import office
from tests.dispatch.conftest import SUPERVISOR, Dispatch, StartDispatch
from tests.dispatch.fakes import CELL, COMMUNITY, FAR_CELL, FAR_COMMUNITY, OTHER_CELL, FakeGrid, FakeIntake
from tests.dispatch.figures.test_figures import figures
from tests.dispatch.figures.test_figures_by import six_cases
from tests.grid import factories as grid_factories


def names(body: dict[str, Any]) -> dict[str | None, str | None]:
    return {g["key"]: g["name"] for g in body["groups"]}


def region_calls(grid: FakeGrid) -> list[str]:
    return [call for call in grid.calls if call.startswith("/v1/regions?")]


async def test_each_community_and_cell_is_named_from_grids_list_of_its_level(dispatch: Dispatch) -> None:
    await six_cases(dispatch)

    assert names(await figures(dispatch, SUPERVISOR, by="community")) == {
        COMMUNITY: "镇海社区",
        FAR_COMMUNITY: "仁安社区",
        None: None,
    }
    assert names(await figures(dispatch, SUPERVISOR, by="grid_cell"))[CELL] == "镇海社区第1网格"
    # only the level asked for: in use, then retired (grid lists them apart)
    assert region_calls(dispatch.grid) == [
        "/v1/regions?level=community&limit=100",
        "/v1/regions?level=community&retired=true&limit=100",
        "/v1/regions?level=cell&limit=100",
        "/v1/regions?level=cell&retired=true&limit=100",
    ]


async def test_a_retired_region_is_still_named_and_one_grid_does_not_know_is_null(dispatch: Dispatch) -> None:
    await six_cases(dispatch)
    far = dispatch.grid.regions[FAR_CELL]
    dispatch.grid.regions[FAR_CELL] = {**far, "retired_at": "2026-12-01T00:00:00Z"}  # re-divided since
    del dispatch.grid.regions[OTHER_CELL]

    cells = names(await figures(dispatch, SUPERVISOR, by="grid_cell"))

    assert cells == {CELL: "镇海社区第1网格", OTHER_CELL: None, FAR_CELL: "仁安社区第1网格", None: None}


async def test_grid_out_of_reach_leaves_the_groups_unnamed_and_the_figures_answer(
    dispatch: Dispatch, caplog: pytest.LogCaptureFixture
) -> None:
    await six_cases(dispatch)
    named = await figures(dispatch, SUPERVISOR, by="community")
    dispatch.grid.down = True
    caplog.set_level(logging.WARNING, logger="wangge.dispatch.figures")

    unnamed = await figures(dispatch, SUPERVISOR, by="community")

    assert set(names(unnamed).values()) == {None}
    assert [{**g, "name": None} for g in named["groups"]] == unnamed["groups"]  # the same counts
    assert caplog.messages == ["figures by community without the regions' names: grid answered 503"]
    assert caplog.records[0].levelno == logging.WARNING
    dispatch.grid.down = False  # a failure is not kept: asked again
    assert names(await figures(dispatch, SUPERVISOR, by="community"))[COMMUNITY] == "镇海社区"


async def test_the_names_are_kept_a_minute(start_dispatch: StartDispatch) -> None:
    grid = FakeGrid()
    async with start_dispatch(grid, FakeIntake(), routing_cache_seconds=60) as dispatch:
        await six_cases(dispatch)
        first = await figures(dispatch, SUPERVISOR, by="grid_cell")
        grid.regions[CELL] = {**grid.regions[CELL], "name": "中华街道第一社区 / 3号网格"}  # renamed since
        again = await figures(dispatch, SUPERVISOR, by="grid_cell")

    assert first == again and names(again)[CELL] == "镇海社区第1网格"
    assert region_calls(grid) == [
        "/v1/regions?level=cell&limit=100",
        "/v1/regions?level=cell&retired=true&limit=100",
    ]


@pytest.mark.parametrize("by", ["category", "department"])
async def test_the_other_groupings_do_not_ask_grid_for_regions(dispatch: Dispatch, by: str) -> None:
    await six_cases(dispatch)
    await figures(dispatch, SUPERVISOR, by=by)
    assert region_calls(dispatch.grid) == []


async def test_no_case_in_any_region_asks_grid_nothing(dispatch: Dispatch) -> None:
    await dispatch.new_case(category=None, grid_cell=None, community=None)
    assert names(await figures(dispatch, SUPERVISOR, by="grid_cell")) == {None: None}
    assert region_calls(dispatch.grid) == []


async def test_with_grid_the_cells_are_named_a_retired_one_too(
    clean_database: CleanDatabase, tmp_path: Path
) -> None:
    """The real grid beside dispatch: its list of cells, read with dispatch's service token,
    and its retired cells, listed apart."""
    async with office(clean_database, tmp_path) as it:
        await it.admin("POST", "/v1/regions/import", json=grid_factories.small_territory())
        await it.admin(
            "POST", "/v1/regions/import", json={**grid_factories.collection(), "retire": [FAR_CELL]}
        )
        intake = it.headers(Actor(id="service:intake", role=Role.service, name="intake", scopes=["internal"]))
        for payload in (
            factories.report(category=None),
            factories.report(
                category=None, lat=factories.LAT + 0.03, grid_cell=FAR_CELL, community=FAR_COMMUNITY
            ),
        ):
            sent = await it.dispatch.post("/internal/v1/inbox", json=factories.batch(payload), headers=intake)
            assert sent.status_code == 200, sent.text

        supervisor = it.headers(Actor(id="lin.hua", role=Role.supervisor, name="林华"))
        answer = await it.dispatch.get("/v1/figures", params={"by": "grid_cell"}, headers=supervisor)

    assert answer.status_code == 200, answer.text
    assert names(answer.json()) == {CELL: "镇海第1网格", FAR_CELL: "仁安第1网格"}
