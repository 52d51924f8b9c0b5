"""The CLI's database commands, run in-process as an operator runs them."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager

from services.grid.app import create_app as create_grid_app
from services.grid.settings import GridSettings
from wangge import cli
from wangge.cli import main


def square(lon: float, lat: float, size: float) -> dict:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(code: str, name: str, geometry: dict | None = None) -> dict:
    return {"type": "Feature", "properties": {"code": code, "name": name}, "geometry": geometry}


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
    assert "0 created, 0 updated, 5 unchanged" in capsys.readouterr().out

    # Redrawn in a re-division: the overlapping cell is taken when the file retires the two.
    redrawn = tmp_path / "redivision.geojson"
    redrawn.write_text(json.dumps({**overlapping, "retire": ["44030500100101", "44030500100102"]}))
    assert main(["import-grids", str(redrawn)]) == 0
    assert "1 created, 0 updated, 0 unchanged, 2 retired" in capsys.readouterr().out


def test_import_grids_names_a_file_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-grids", str(tmp_path / "missing.geojson")]) == 2
    assert "cannot read" in capsys.readouterr().out


@pytest.mark.usefixtures("databases")
def test_seed_seeds_the_demo_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed"]) == 0
    assert "seeded" in capsys.readouterr().out
    assert main(["seed"]) == 0
    assert "nothing seeded" in capsys.readouterr().out


@pytest.mark.usefixtures("databases")
def test_import_catalog_adds_departments_and_categories_all_or_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator's way to the departments and catalog a handler needs (the API was the only one)."""
    seed = Path(__file__).resolve().parents[2] / "services" / "grid" / "seed"
    files = [str(seed / "departments.json"), str(seed / "catalog.json")]
    assert main(["import-catalog", *files]) == 0
    assert "created 6 departments and 22 categories" in capsys.readouterr().out

    wrong = tmp_path / "more.json"
    wrong.write_text(
        json.dumps(
            {
                "departments": [{"code": "water", "name_zh": "水务所", "name_en": "Water office"}],
                "categories": [
                    {
                        "code": "0801",
                        "name_zh": "井盖破损",
                        "name_en": "Broken manhole cover",
                        "class_zh": "市政设施",
                        "class_en": "Municipal facilities",
                        "department_code": "waterworks",  # not a department
                        "time_limit_hours": 4,
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    assert main(["import-catalog", str(wrong)]) == 1
    refused = capsys.readouterr().out
    assert "nothing stored" in refused and f"{wrong}: categories[0]: no department 'waterworks'" in refused

    # A misspelt list was skipped with a success; a code twice was "kept" though just made.
    misspelt = tmp_path / "misspelt.json"
    misspelt.write_text(json.dumps({"departments": [], "categoires": []}), encoding="utf-8")
    twice = tmp_path / "twice.json"
    water = {"code": "water", "name_zh": "水务所", "name_en": "Water office"}
    twice.write_text(json.dumps({"departments": [water, water]}, ensure_ascii=False), encoding="utf-8")
    for file, says in ((misspelt, "holds `departments` and/or `categories`"), (twice, "comes twice")):
        assert main(["import-catalog", str(file)]) == 1
        assert f"{file}" in (out := capsys.readouterr().out) and says in out, out

    # A file that cannot be read, or is not JSON, is another exit code than a refusal (2, not 1).
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{departments: [", encoding="utf-8")
    for file in (garbled, tmp_path / "missing.json"):
        assert main(["import-catalog", *files, str(file)]) == 2
        assert f"cannot read {file}" in capsys.readouterr().out

    # The good files again change nothing; the refused one left no department behind.
    assert main(["import-catalog", *files]) == 0
    assert "created 0 departments and 0 categories" in capsys.readouterr().out
    handler = ["user", "add", "he.shui", "--name", "何水", "--role", "handler", "--no-password"]
    assert main([*handler, "--department", "water"]) == 1
    assert "no department 'water'" in capsys.readouterr().out
    assert main([*handler, "--department", "market-supervision"]) == 0


async def token_from_grid(form: dict[str, str]) -> httpx.Response:
    """Ask a grid app on the CLI's database (from the environment) for a token."""
    app = create_grid_app(GridSettings())
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(manager.app), base_url="http://grid") as grid,
    ):
        return await grid.post("/v1/auth/token", data=form)


@pytest.mark.usefixtures("databases")
def test_user_add_makes_someone_who_can_sign_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    code = main(
        [
            "user",
            "add",
            "lin.xiao",
            "--name",
            "林晓",
            "--role",
            "grid_worker",
            "--region",  # several codes after one flag, as the README writes it
            "35020300100101",
            "35020300100102",
            "--password-stdin",
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.out
    assert "lin.xiao (grid_worker) added; can sign in" in printed.out
    assert "no region" not in printed.out
    # a grid worker with no cell yet: added, and the operator told what is missing
    assert main(["user", "add", "zhao.ling", "--name", "赵玲", "--role", "grid_worker", "--no-password"]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "zhao.ling has no region yet: they see only the cases they report" in out
    assert "PUT /v1/staff/zhao.ling/assignments" in out
    assert "grid's database: " in printed.err  # it was silent about which one it wrote to

    good = asyncio.run(
        token_from_grid(
            {"grant_type": "password", "username": "lin.xiao", "password": "correct horse battery"}
        )
    )
    assert good.status_code == 200
    claims = jwt.decode(good.json()["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["role"], claims["regions"]) == (
        "lin.xiao",
        "grid_worker",
        ["35020300100101", "35020300100102"],
    )
    wrong = asyncio.run(
        token_from_grid({"grant_type": "password", "username": "lin.xiao", "password": "nope"})
    )
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")

    # A handler without a department is refused with the reason, and nobody is added.
    assert main(["user", "add", "x.y", "--name", "某", "--role", "handler", "--no-password"]) == 1
    refused = capsys.readouterr().out
    assert "not added: a handler needs a department (--department)" in refused  # the flag, not the field
    assert "department_code" not in refused
    assert "validation error for" not in refused and "errors.pydantic.dev" not in refused, refused


@pytest.mark.usefixtures("databases")
def test_a_refusal_or_a_name_in_brackets_is_printed_as_it_is(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console read what stood in brackets as its own markup and dropped it: an operator
    who typed zhao+ling read "String should match pattern '^{0,63}$'", and a key named
    "[测试] bot" was printed as " bot"."""
    monkeypatch.delenv("COLUMNS", raising=False)
    add = ["user", "add", "zhao+ling", "--name", "赵玲", "--role", "grid_worker", "--no-password"]
    assert main(add) == 1
    assert (
        "not added: username: should be a username: up to 64 lower-case letters, digits, '.', '_' "
        "and '-', beginning with a letter or digit"
    ) in capsys.readouterr().out.replace("\n", "")

    create = ["key", "create", "--name", "[测试] bot", "--channel", "hotline", "--scope", "reports:read"]
    assert main(create) == 0
    assert "for [测试] bot (channel hotline" in capsys.readouterr().out


@pytest.mark.usefixtures("databases")
def test_key_create_refuses_expiry_days_that_are_no_time_ahead(capsys: pytest.CaptureFixture[str]) -> None:
    """0 days made a key that never expired (0 read as no expiry); inf and a billion days a
    traceback; nan timedelta's own words."""
    create = ["key", "create", "--name", "x", "--channel", "c", "--scope", "reports:read", "--expires-days"]
    assert main([*create, "0"]) == 1
    assert "no key made: --expires-days is in the past" in capsys.readouterr().out
    for days in ("inf", "nan", "1e9", "3000000"):
        assert main([*create, days]) == 1, days
        said = capsys.readouterr().out
        assert "no key made: --expires-days is a number of days that ends before the year 9000" in said, said
    assert main(["key", "list"]) == 0
    assert "ak_" not in capsys.readouterr().out  # none of them was made


@pytest.mark.usefixtures("databases")
def test_key_create_prints_a_key_once_that_an_integration_exchanges_for_a_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    code = main(
        [
            "key",
            "create",
            "--name",
            "中山路商圈理事会",
            "--channel",
            "wechat-bot",
            "--scope",
            "reports:create",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    key = next(line for line in printed.splitlines() if line.startswith("ak_") and "." in line)
    key_id, secret = key.split(".", 1)
    # Piped (as here), each line stays whole for a log file or a grep, not wrapped at 80 columns.
    how = next(line for line in printed.splitlines() if line.startswith("Exchange it"))
    assert how.endswith("client_secret=<the part after it>."), printed

    past = [
        "key",
        "create",
        "--name",
        "x",
        "--channel",
        "c",
        "--scope",
        "reports:read",
        "--expires-days",
        "-1",
    ]
    assert main(past) == 1
    assert "no key made: --expires-days is in the past" in capsys.readouterr().out  # the flag, not the field

    answer = asyncio.run(
        token_from_grid({"grant_type": "client_credentials", "client_id": key_id, "client_secret": secret})
    )
    assert answer.status_code == 200
    claims = jwt.decode(answer.json()["access_token"], options={"verify_signature": False})
    assert (claims["role"], claims["channel"], claims["scopes"]) == (
        "integration",
        "wechat-bot",
        ["reports:create"],
    )

    assert main(["key", "list"]) == 0
    listed = capsys.readouterr().out
    assert key_id in listed and secret not in listed

    # a key past its expiry is listed so, with when it expired (it was listed as active)
    month = [
        "key",
        "create",
        "--name",
        "临时",
        "--channel",
        "c",
        "--scope",
        "reports:read",
        "--expires-days",
        "30",
    ]
    assert main(month) == 0
    temporary = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("ak_"))
    monkeypatch.setattr(cli, "utcnow", lambda: datetime.now(UTC) + timedelta(days=31))
    assert main(["key", "list"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows[temporary.split(".")[0]][1] == "expired" and rows[key_id][1] == "active"
    assert rows[key_id][6] == "never"  # expires: after the date and time it was last used

    monkeypatch.setenv("WANGGE_GRID_ACCESS_TOKEN_MINUTES", "10")
    # the webhook lives in intake: the revocation says when intake removes it (it said an
    # admin had to, intake now does by itself) and how to at once; the tokens' lifetime is the
    # configured one (it said 15 minutes whatever it was)
    monkeypatch.setenv("WANGGE_INTAKE_WEBHOOK_KEY_CHECK_SECONDS", "30")
    assert main(["key", "revoke", key_id]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "tokens already issued for it expire within 10 minutes" in said
    assert "intake sends a webhook it set nothing more after 30 s (after 15 minutes if grid" in said
    assert f"DELETE /v1/webhooks/integration:{key_id}" in said
    refused = asyncio.run(
        token_from_grid({"grant_type": "client_credentials", "client_id": key_id, "client_secret": secret})
    )
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("service", "named"), [("intake", "WANGGE_INTAKE_CLIENT_SECRET"), ("grid", "SIGNING_KEY")]
)
def test_serve_refuses_a_production_it_lacks_a_secret_for_in_one_line(
    service: str,
    named: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It was a 29-line traceback under uvicorn's "Application startup failed"."""
    monkeypatch.setenv("WANGGE_ENVIRONMENT", "production")
    monkeypatch.setenv("WANGGE_DATA_DIR", str(tmp_path))
    for variable in ("WANGGE_INTAKE_CLIENT_SECRET", "WANGGE_GRID_SIGNING_KEY_FILE"):
        monkeypatch.delenv(variable, raising=False)
    assert main(["serve", service]) == 1  # before any server starts: a test that hung would mean it did
    out = capsys.readouterr().out
    assert f"{service} cannot start" in out and named in out and "Traceback" not in out


def test_a_data_dir_named_with_url_characters_keeps_each_service_in_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data dir holding ``?`` started the SQLite URL's query: the three services opened one
    file (``…/office``), and ``wangge migrate`` failed on the second service's tables."""
    var = tmp_path / "office?2026 #1"
    monkeypatch.setenv("WANGGE_DATA_DIR", str(var))
    for service in ("intake", "dispatch", "grid"):
        monkeypatch.delenv(f"WANGGE_{service.upper()}_DATABASE_URL", raising=False)

    assert main(["migrate"]) == 0
    assert main(["seed"]) == 0

    assert sorted(p.name for p in var.glob("*.db")) == ["dispatch.db", "grid.db", "intake.db"]
    assert not list(tmp_path.glob("office*.db")) and sorted(p.name for p in tmp_path.iterdir()) == [var.name]
    assert "seeded" in capsys.readouterr().out
