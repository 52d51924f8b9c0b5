"""The CLI's database commands, run in-process as an operator runs them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from migrations.runner import SERVICES
from tests.conftest import pg_database_name, pg_url, recreate_pg_database
from wangge.cli import main


def square(lon: float, lat: float, size: float) -> dict:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(code: str, name: str, geometry: dict | None = None) -> dict:
    return {"type": "Feature", "properties": {"code": code, "name": name}, "geometry": geometry}


@pytest.fixture
def databases(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every service's database empty, on the backend under test, through the environment."""
    monkeypatch.setenv("WANGGE_DATA_DIR", str(tmp_path))
    for service in SERVICES:
        if backend == "postgresql":
            database = pg_database_name(f"cli_{service}")
            asyncio.run(recreate_pg_database(database))
            monkeypatch.setenv(f"WANGGE_{service.upper()}_DATABASE_URL", pg_url(database))
        else:
            monkeypatch.delenv(f"WANGGE_{service.upper()}_DATABASE_URL", raising=False)


@pytest.mark.usefixtures("databases")
def test_import_grids_imports_a_file_and_refuses_an_overlap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    territory = {
        "type": "FeatureCollection",
        "features": [
            feature("440305", "南山区"),
            feature("440305001", "南头街道"),
            feature("440305001001", "星海名城社区"),
            feature("44030500100101", "一号网格", square(113.90, 22.53, 0.001)),
            feature("44030500100102", "二号网格", square(113.901, 22.53, 0.001)),
        ],
    }
    good = tmp_path / "territory.geojson"
    good.write_text(json.dumps(territory, ensure_ascii=False), encoding="utf-8")

    assert main(["import-grids", str(good)]) == 0
    assert "5 created" in capsys.readouterr().out

    overlapping = {
        "type": "FeatureCollection",
        "features": [feature("44030500100103", "三号网格", square(113.9005, 22.5305, 0.001))],
    }
    bad = tmp_path / "overlap.geojson"
    bad.write_text(json.dumps(overlapping), encoding="utf-8")

    assert main(["import-grids", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "import refused" in out
    assert "44030500100103" in out and "overlap" in out

    # The refused file changed nothing: importing the good one again only updates.
    assert main(["import-grids", str(good)]) == 0
    assert "0 created, 5 updated" in capsys.readouterr().out


def test_import_grids_names_a_file_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-grids", str(tmp_path / "missing.geojson")]) == 2
    assert "cannot read" in capsys.readouterr().out


@pytest.mark.usefixtures("databases")
def test_seed_seeds_the_demo_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed"]) == 0
    assert "seeded" in capsys.readouterr().out
    assert main(["seed"]) == 0
    assert "nothing seeded" in capsys.readouterr().out
