"""Where a report is: intake's in-memory copy of grid's cells.

Locating a report never calls grid. The cells live in the ``territory_cells`` table and in
memory as a :class:`shared.geo.CellIndex`; they are loaded from the table at startup (a
restart works while grid is down) and refreshed from grid's ``GET /v1/territory/cells``
with ``If-None-Match`` every ``territory_refresh_seconds``. A territory with no cells counts
as not loaded (grid up but not seeded yet): reports taken meanwhile wait unlocated rather
than being declared outside a territory that merely is not there yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.clients.grid import GridClient
from services.intake.territory import repository
from shared.db import session_scope
from shared.errors import WanggeError
from shared.geo import CellIndex

log = logging.getLogger("wangge.intake.territory")


@dataclass(frozen=True)
class Placement:
    """Where a point fell: a cell and its community, or both ``None`` outside the territory."""

    grid_cell: str | None
    community: str | None


class _Snapshot:
    def __init__(self, version: str, cells: Iterable[tuple[str, str, dict]]) -> None:
        rows = list(cells)
        self.version = version
        self.index = CellIndex((code, geometry) for code, _, geometry in rows)
        self.communities = {code: community for code, community, _ in rows}

    def locate(self, lat: float, lon: float) -> Placement:
        code = self.index.locate(lat, lon)
        return Placement(code, self.communities.get(code) if code else None)


class Territory:
    def __init__(self, session_maker: async_sessionmaker[AsyncSession], grid: GridClient) -> None:
        self._stopping = asyncio.Event()
        self.session_maker = session_maker
        self.grid = grid
        self._snapshot: _Snapshot | None = None
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return self._snapshot is not None

    @property
    def version(self) -> str | None:
        return self._snapshot.version if self._snapshot else None

    def locate(self, lat: float, lon: float) -> Placement | None:
        """The cell holding the point, or ``None`` when no territory is loaded yet."""
        return self._snapshot.locate(lat, lon) if self._snapshot else None

    async def load(self) -> None:
        """Take the cells stored by an earlier refresh (at startup)."""
        async with session_scope(self.session_maker) as session:
            version, cells = await repository.load(session)
        if version is not None and cells:
            self._snapshot = _Snapshot(version, ((c.code, c.community_code, c.geometry) for c in cells))

    async def refresh(self) -> bool:
        """Fetch grid's cells if they changed, store and swap them in; True when they changed.

        Raises :class:`~shared.errors.PeerUnavailable` (or another peer error) when grid fails.
        """
        async with self._lock:
            fresh = await self.grid.territory_cells(version=self.version)
            if fresh is None:
                return False
            if not fresh.cells:
                log.warning("grid serves territory %s with no cells; keeping the copy held", fresh.version)
                return False
            snapshot = _Snapshot(fresh.version, ((c.code, c.community_code, c.geometry) for c in fresh.cells))
            async with session_scope(self.session_maker) as session:
                await repository.replace(session, version=fresh.version, cells=fresh.cells)
            self._snapshot = snapshot
            log.info("territory %s loaded: %d cells", fresh.version, len(fresh.cells))
            return True

    async def try_refresh(self) -> bool:
        """:meth:`refresh` that logs a failure instead of raising it."""
        try:
            return await self.refresh()
        except WanggeError as exc:
            log.warning("territory refresh from grid failed: %s", exc)
        except Exception:  # a malformed territory must not stop the refresher or the relay
            log.exception("territory refresh from grid failed")
        return False

    async def run_forever(self, interval: float) -> None:
        """Refresh every ``interval`` seconds until :meth:`stop`."""
        while not self._stopping.is_set():
            await self.try_refresh()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._stopping.wait()

    def stop(self) -> None:
        self._stopping.set()
