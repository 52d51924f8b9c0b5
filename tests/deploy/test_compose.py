"""docker-compose.yml cannot be run here (no Docker engine); check what can be checked:
it parses, runs real `wangge` commands, and sets only variables the services read."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from services.dispatch.settings import DispatchSettings
from services.grid.settings import GridSettings
from services.intake.settings import IntakeSettings
from shared.settings import ServiceSettings
from wangge.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[ServiceSettings]] = {
    "grid": GridSettings,
    "intake": IntakeSettings,
    "dispatch": DispatchSettings,
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_runs_a_real_wangge_command(compose: dict) -> None:
    parser = build_parser()
    for name in ("grid", "intake", "dispatch"):
        command = compose["services"][name]["command"]
        assert command[0] == "wangge"
        args = parser.parse_args(command[1:])
        assert args.command == "serve" and args.service == name
    migrate = compose["services"]["migrate"]["command"]
    assert parser.parse_args(migrate[1:]).command in {"migrate", "seed"}


def test_every_variable_is_one_a_service_reads(compose: dict) -> None:
    for name in ("grid", "intake", "dispatch", "migrate"):
        for variable in compose["services"][name]["environment"]:
            if variable == "WANGGE_ENVIRONMENT":
                continue
            match = re.fullmatch(r"WANGGE_(GRID|INTAKE|DISPATCH)_(\w+)", variable)
            assert match, f"{name}: {variable} is not a wangge setting"
            settings = SETTINGS[match[1].lower()]
            assert match[2].lower() in settings.model_fields, f"{variable} is read by no setting"


def test_services_reach_their_database_and_peers(compose: dict) -> None:
    init_sql = (ROOT / "deploy" / "postgres-init.sql").read_text()
    for name, settings_class in SETTINGS.items():
        env = compose["services"][name]["environment"]
        url = env[f"WANGGE_{name.upper()}_DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://")
        database = url.rsplit("/", 1)[1]
        assert f"CREATE DATABASE {database};" in init_sql
        port = env[f"WANGGE_{name.upper()}_PORT"]
        assert int(port) == settings_class.default_port
        assert env[f"WANGGE_{name.upper()}_HOST"] == "0.0.0.0"
        assert (
            compose["services"][name]["depends_on"]["migrate"]["condition"]
            == "service_completed_successfully"
        )
    intake = compose["services"]["intake"]["environment"]
    dispatch = compose["services"]["dispatch"]["environment"]
    assert intake["WANGGE_INTAKE_GRID_URL"] == "http://grid:8003"
    assert intake["WANGGE_INTAKE_DISPATCH_URL"] == "http://dispatch:8002"
    assert dispatch["WANGGE_DISPATCH_GRID_URL"] == "http://grid:8003"
    assert dispatch["WANGGE_DISPATCH_INTAKE_URL"] == "http://intake:8001"


def test_production_mode_and_no_default_secret(compose: dict) -> None:
    for name in ("grid", "intake", "dispatch"):
        assert compose["services"][name]["environment"]["WANGGE_ENVIRONMENT"] == "production"
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("POSTGRES_PASSWORD", "INTAKE_CLIENT_SECRET", "DISPATCH_CLIENT_SECRET"):
        assert "${" + secret + ":?" in text, f"{secret} must be required, never defaulted"


def test_services_get_the_secrets_production_requires(compose: dict) -> None:
    grid = compose["services"]["grid"]
    assert grid["environment"]["WANGGE_GRID_SIGNING_KEY_FILE"] == "/run/secrets/grid_signing_key"
    assert grid["secrets"] == ["grid_signing_key"]
    assert "grid_signing_key" in compose["secrets"]
    secrets = grid["environment"]["WANGGE_GRID_SERVICE_SECRETS"]
    assert "INTAKE_CLIENT_SECRET" in secrets and "DISPATCH_CLIENT_SECRET" in secrets
    assert "WANGGE_INTAKE_CLIENT_SECRET" in compose["services"]["intake"]["environment"]
    assert "WANGGE_DISPATCH_CLIENT_SECRET" in compose["services"]["dispatch"]["environment"]
    # Nobody holds a secret that is not theirs.
    assert "WANGGE_GRID_SERVICE_SECRETS" not in compose["services"]["intake"]["environment"]


def defaulted(value: str) -> str:
    """A compose value with each ``${VAR:-default}`` as compose fills it when VAR is unset
    (nested ones too, ``${VAR:-${OLD_NAME:-default}}``: the innermost first)."""
    while (filled := re.sub(r"\$\{\w+:-([^${}]*)\}", r"\1", value)) != value:
        value = filled
    return value


def test_docs_authorize_works_from_a_browser_under_compose(compose: dict) -> None:
    """/docs' Authorize gave the browser the containers' own name for grid (http://grid:8003),
    and grid let only the local URLs' pages read its answer."""
    origins = json.loads(defaulted(compose["services"]["grid"]["environment"]["WANGGE_GRID_CORS_ORIGINS"]))
    assert GridSettings(cors_origins=origins).cors_origins == origins
    for name, port in (("intake", 8001), ("dispatch", 8002)):
        env = compose["services"][name]["environment"]
        public = defaulted(env[f"WANGGE_{name.upper()}_PUBLIC_GRID_URL"])
        assert urlsplit(public).hostname not in compose["services"], f"{name}: {public} is a container name"
        assert {f"http://localhost:{port}", f"http://127.0.0.1:{port}"} <= set(origins)
    grid = compose["services"]["grid"]["environment"]["WANGGE_GRID_CORS_ORIGINS"]
    assert "${DOCS_ORIGINS:-" in grid, "the earlier name of grid's origins is still read"


def test_other_origins_may_call_intake_and_dispatch_only_when_named(compose: dict) -> None:
    """A console on another origin needs the operator to name it: none by default."""
    for name, settings_class in SETTINGS.items():
        if name == "grid":
            continue
        value = compose["services"][name]["environment"][f"WANGGE_{name.upper()}_CORS_ORIGINS"]
        assert value == "${" + f"{name.upper()}_CORS_ORIGINS" + ":-}"
        assert settings_class(cors_origins=defaulted(value)).cors_origins == []  # type: ignore[arg-type]


def test_the_header_commands_are_real_and_the_key_is_readable_by_the_image_user() -> None:
    header = [line for line in (ROOT / "docker-compose.yml").read_text().splitlines() if line.startswith("#")]
    parser = build_parser()
    commands = [line.split(" wangge ", 1)[1] for line in header if "docker compose run" in line]
    assert len(commands) == 4
    for command in commands:
        parser.parse_args(shlex.split(command))
    uid = re.search(r"useradd [^\n]*--uid (\d+)", (ROOT / "Dockerfile").read_text())
    assert uid, "the image's user has no fixed uid for the host to give the key to"
    assert any(f"chown {uid[1]} deploy/secrets/grid-signing-key.pem" in line for line in header)


def test_the_photos_urls_name_intake_where_clients_reach_it(compose: dict) -> None:
    """Unset, a photo's URL names intake as the upload reached it; set, the URL given."""
    value = compose["services"]["intake"]["environment"]["WANGGE_INTAKE_PUBLIC_URL"]
    assert value == "${PUBLIC_INTAKE_URL:-}"
    assert not IntakeSettings(public_url=defaulted(value)).public_url
    assert (
        IntakeSettings(public_url="https://intake.example.gov.cn").public_url
        == "https://intake.example.gov.cn"
    )


def test_the_header_says_how_to_back_up_every_database_and_restore_one() -> None:
    header = [line for line in (ROOT / "docker-compose.yml").read_text().splitlines() if line.startswith("#")]
    databases = re.findall(r"CREATE DATABASE (\w+);", (ROOT / "deploy" / "postgres-init.sql").read_text())
    (dump,) = [line for line in header if "pg_dump" in line]
    assert "docker compose exec -T postgres pg_dump -U wangge --format=custom" in dump
    assert sorted(re.search(r"for db in ([\w ]+);", dump)[1].split()) == sorted(databases)  # type: ignore[index]
    (restore,) = [line for line in header if "pg_restore" in line]
    assert "docker compose exec -T postgres pg_restore -U wangge --clean" in restore
