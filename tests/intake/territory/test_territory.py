"""intake's copy of grid's territory: refreshed with If-None-Match, kept across restarts."""

from __future__ import annotations

import asyncio

from ..conftest import Intake, StartIntake
from ..factories import report_body
from ..fakes import CELL_A1, FakeDispatch, FakeGrid


async def test_refresh_asks_grid_with_its_version_and_takes_changes(intake: Intake) -> None:
    territory = intake.app.state.territory

    unchanged = await territory.refresh()
    intake.grid.version = "v2"
    intake.grid.cells[0]["code"] = "35020300100109"
    changed = await territory.refresh()

    assert (unchanged, changed) == (False, True)
    assert intake.grid.not_modified == 1
    report = (await intake.post_report(report_body())).json()
    assert report["grid_cell"] == "35020300100109"


async def test_restart_locates_from_the_stored_copy_while_grid_is_down(start_intake: StartIntake) -> None:
    grid = FakeGrid()
    async with start_intake(grid, FakeDispatch()) as first:
        await first.app.state.territory.refresh()
    grid.down = True
    grid.calls = 0

    async with start_intake(grid, FakeDispatch()) as restarted:
        report = (await restarted.post_report(report_body())).json()

    assert (report["located"], report["grid_cell"]) == (True, CELL_A1)
    assert grid.calls == 0


async def test_grid_without_cells_leaves_the_territory_unloaded(start_intake: StartIntake) -> None:
    grid = FakeGrid()
    grid.cells = []
    async with start_intake(grid, FakeDispatch()) as intake:
        await intake.app.state.territory.try_refresh()
        report = (await intake.post_report(report_body())).json()

    assert report["located"] is False


async def test_malformed_geometry_keeps_the_copy_held(intake: Intake) -> None:
    intake.grid.version = "v2"
    intake.grid.cells[0]["geometry"] = {"type": "Polygon", "coordinates": "nonsense"}

    refreshed = await intake.app.state.territory.try_refresh()

    assert refreshed is False
    assert intake.app.state.territory.version == "v1"


async def test_background_tasks_load_the_territory_and_deliver(start_intake: StartIntake) -> None:
    grid, dispatch = FakeGrid(), FakeDispatch()
    settings = {"background_tasks": True, "relay_poll_seconds": 0.05, "territory_refresh_seconds": 0.05}
    async with start_intake(grid, dispatch, **settings) as intake:
        for _ in range(200):
            if intake.app.state.territory.loaded:
                break
            await asyncio.sleep(0.02)
        body = report_body()
        await intake.post_report(body)
        for _ in range(200):
            if dispatch.received:
                break
            await asyncio.sleep(0.02)

    assert dispatch.report_ids == [body["id"]]
    assert dispatch.received[0]["payload"]["grid_cell"] == CELL_A1
