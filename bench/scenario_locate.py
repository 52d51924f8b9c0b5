"""Scenario 3: locate — which of N generated grid cells holds a point, in-process and over HTTP.

The cells are a jittered lattice of quadrilaterals about 100 m across (shared vertices, so they
tile without overlap), 100 to a community, imported into a fresh grid database through grid's
own import. In-process: :class:`shared.geo.CellIndex`, the index grid's ``locate`` answers
from. Over HTTP: ``GET /v1/locate`` on a grid process holding the same cells.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import Any

from bench import system
from bench.auth import auth_headers
from bench.config import BenchConfig
from bench.system import Cores, PeakRss
from shared.geo import CellIndex
from wangge.processes import START_ORDER

DISTRICT, SUBDISTRICT = "350299", "350299001"
WEST, SOUTH, STEP = 118.20, 24.30, 0.001
PER_COMMUNITY = 100


def lattice_cells(count: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """``count`` cells as (15-digit code, GeoJSON polygon), row by row over a square-ish lattice."""
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    rng = random.Random(seed)
    vertex = [
        [
            (
                round(WEST + i * STEP + rng.uniform(-0.15, 0.15) * STEP, 7),
                round(SOUTH + j * STEP + rng.uniform(-0.15, 0.15) * STEP, 7),
            )
            for j in range(rows + 1)
        ]
        for i in range(columns + 1)
    ]
    cells = []
    for index in range(count):
        i, j = index % columns, index // columns
        ring = [vertex[i][j], vertex[i + 1][j], vertex[i + 1][j + 1], vertex[i][j + 1], vertex[i][j]]
        code = f"{SUBDISTRICT}{index // PER_COMMUNITY + 1:03d}{index % PER_COMMUNITY + 1:03d}"
        cells.append((code, {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}))
    return cells


def extent(count: int) -> tuple[float, float, float, float]:
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    return WEST + STEP * 0.2, SOUTH + STEP * 0.2, WEST + (columns - 0.2) * STEP, SOUTH + (rows - 1.2) * STEP


def feature_collection(cells: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    def feature(code: str, name: str, geometry: dict[str, Any] | None) -> dict[str, Any]:
        return {"type": "Feature", "properties": {"code": code, "name": name}, "geometry": geometry}

    communities = sorted({code[:12] for code, _ in cells})
    return {
        "type": "FeatureCollection",
        "features": [feature(DISTRICT, "基准区", None), feature(SUBDISTRICT, "基准街道", None)]
        + [feature(code, f"社区 {code[-3:]}", None) for code in communities]
        + [feature(code, f"网格 {code[-6:]}", geometry) for code, geometry in cells],
    }


async def _import(url: str, data: dict[str, Any]) -> None:
    from services.grid.regions.service import import_feature_collection
    from shared.db import create_engine, create_session_maker, session_scope

    engine = create_engine(url)
    try:
        async with session_scope(create_session_maker(engine)) as session:
            await import_feature_collection(session, data=data, actor_id="bench")
    finally:
        await engine.dispose()


def run(config: BenchConfig, cores: Cores, rss: PeakRss) -> dict[str, Any]:
    cells = lattice_cells(config.locate_cells, config.seed)
    rng = random.Random(config.seed)
    west, south, east, north = extent(config.locate_cells)
    points = [(rng.uniform(south, north), rng.uniform(west, east)) for _ in range(config.locate_lookups)]

    # In-process, in this (otherwise idle) harness process.
    started = time.perf_counter()
    index = CellIndex(cells)
    built = time.perf_counter() - started
    started = time.perf_counter()
    found = sum(1 for lat, lon in points if index.locate(lat, lon) is not None)
    elapsed = time.perf_counter() - started
    in_process = {
        "lookups": len(points),
        "found": found,
        "lookups_per_s": round(len(points) / elapsed, 1),
        "us_per_lookup": round(elapsed / len(points) * 1e6, 2),
        "index_build_s": round(built, 3),
    }

    databases = {
        name: asyncio.run(system.recreate_database(config.postgres, config.database(f"locate_{name}")))
        for name in START_ORDER
    }
    imported = 0.0

    def import_cells() -> None:  # beside the seeded demo territory, far from it
        nonlocal imported
        began = time.perf_counter()
        asyncio.run(_import(databases["grid"], feature_collection(cells)))
        imported = time.perf_counter() - began

    pins = {"grid": cores.server}
    with system.three_services(
        databases,
        cpus=pins,
        rss=rss,
        label="locate",
        log_dir=config.log_dir,
        only=("grid",),
        before_start=import_cells,
    ) as services:
        headers = asyncio.run(auth_headers("grid_worker", grid_url=services.urls["grid"]))
        port = int(services.urls["grid"].rsplit(":", 1)[1])
        paths = [f"/v1/locate?lat={lat:.6f}&lon={lon:.6f}" for lat, lon in points[:5000]]
        http = system.run_loadgen(
            {
                "host": "127.0.0.1",
                "port": port,
                "cpus": sorted(cores.generator) if cores.generator else None,
                "mode": "closed",
                "connections": config.locate_connections,
                "duration": config.locate_duration,
                "warmup": 1.0,
                "source": "paths",
                "paths": paths,
                "headers": headers,
            }
        )
    if not config.keep_databases:
        for name in START_ORDER:
            asyncio.run(system.drop_database(config.postgres, config.database(f"locate_{name}")))
    return {
        "cells": len(cells),
        "import_s": round(imported, 2),
        "in_process": in_process,
        "http": http,
        "targets": {
            "in-process >= 50,000 lookups/s": "met" if in_process["lookups_per_s"] >= 50_000 else "missed"
        },
    }
