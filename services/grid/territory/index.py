"""The in-memory copy of the territory that ``locate`` answers from.

A :class:`TerritoryIndex` lives for the app's lifetime. It holds an STRtree of the cells
(:class:`shared.geo.CellIndex`) and every region's name and parent, labelled with the
territory version they were read at. At most every ``check_seconds`` it reads the version
from the database and rebuilds when the version moved, so an import made elsewhere (the
CLI, another process) is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.models import Region
from services.grid.regions import repository as regions
from services.grid.regions.schemas import RegionRef
from shared.geo import CellIndex


@dataclass(frozen=True)
class Snapshot:
    version: int
    cells: CellIndex
    regions: dict[str, RegionRef]


class TerritoryIndex:
    def __init__(self, *, check_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.check_seconds = check_seconds
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._checked_at = -math.inf
        self._lock = asyncio.Lock()

    def _fresh(self) -> Snapshot | None:
        if self._snapshot is not None and self._clock() - self._checked_at < self.check_seconds:
            return self._snapshot
        return None

    async def snapshot(self, session: AsyncSession) -> Snapshot:
        """The current snapshot; checks the version (and rebuilds) when the last check is stale."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self._fresh()
            if fresh is not None:
                return fresh
            # The version is read before the regions: a snapshot is never newer than its label.
            version = await regions.current_version(session)
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = await self._build(session, version)
            self._checked_at = self._clock()
            return self._snapshot

    @staticmethod
    async def _build(session: AsyncSession, version: int) -> Snapshot:
        rows = await regions.active_regions(session)
        # 0.26–0.28 s of CPU for the shapes of 10,000 square cells (more with pydantic and real
        # outlines; a review measured half a second) is spent in a worker thread, so the
        # event loop goes on answering every other request meanwhile (it stopped them all).
        return await anyio.to_thread.run_sync(_snapshot, version, rows)


def _snapshot(version: int, rows: Sequence[Region]) -> Snapshot:
    return Snapshot(
        version=version,
        cells=CellIndex((r.code, r.geometry) for r in rows if r.level == "cell" and r.geometry is not None),
        regions={r.code: RegionRef.model_validate(r) for r in rows},
    )
