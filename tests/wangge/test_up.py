"""What `wangge up` tells each service about the others: their URLs, and which pages may call them."""

from __future__ import annotations

import json

import pytest

from services.dispatch.settings import DispatchSettings
from services.grid.settings import GridSettings
from services.intake.settings import IntakeSettings
from wangge.up import peer_env


def settings(host: str) -> dict:
    return {
        "grid": GridSettings(host=host, port=9003),
        "intake": IntakeSettings(host=host, port=9001),
        "dispatch": DispatchSettings(host=host, port=9002),
    }


VARIABLES = ("WANGGE_GRID_CORS_ORIGINS", "WANGGE_INTAKE_CORS_ORIGINS", "WANGGE_DISPATCH_CORS_ORIGINS")


@pytest.fixture(autouse=True)
def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0.0.0.0"])
def test_pages_of_this_machine_may_call_every_service_under_either_loopback_name(host: str) -> None:
    """The banner and the README say 127.0.0.1 and localhost both; Authorize failed from one.
    A console's development server (Vite's :5173) is a page of this machine too."""
    env = peer_env(settings(host))
    for variable in VARIABLES:
        origins = json.loads(env[variable])
        assert origins == ["http://127.0.0.1:*", "http://localhost:*"]
        assert GridSettings(cors_origins=origins).cors_origins == origins  # as the service reads it
    assert env["WANGGE_DISPATCH_GRID_URL"] == f"http://{host}:9003"


def test_a_named_host_is_its_own_origin_and_the_operator_has_the_last_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = peer_env(settings("wangge.office.lan"))
    assert json.loads(env["WANGGE_GRID_CORS_ORIGINS"]) == [
        "http://127.0.0.1:*",
        "http://localhost:*",
        "http://wangge.office.lan:*",
    ]
    assert (
        json.loads(peer_env(settings("fd00::5"))["WANGGE_DISPATCH_CORS_ORIGINS"])[-1] == "http://[fd00::5]:*"
    )
    monkeypatch.setenv("WANGGE_GRID_CORS_ORIGINS", '["https://console.example"]')
    env = peer_env(settings("127.0.0.1"))
    assert env["WANGGE_GRID_CORS_ORIGINS"] == '["https://console.example"]'
    assert env["WANGGE_DISPATCH_CORS_ORIGINS"] != env["WANGGE_GRID_CORS_ORIGINS"]  # each its own
