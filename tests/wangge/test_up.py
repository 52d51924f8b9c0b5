"""What `wangge up` tells each service about the others: their URLs, and who may call grid."""

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


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0.0.0.0"])
def test_docs_pages_may_sign_in_at_grid_under_either_loopback_name(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The banner and the README say 127.0.0.1 and localhost both; Authorize failed from one."""
    monkeypatch.delenv("WANGGE_GRID_CORS_ORIGINS", raising=False)
    env = peer_env(settings(host))
    origins = set(json.loads(env["WANGGE_GRID_CORS_ORIGINS"]))
    assert origins == {
        f"http://{name}:{port}" for name in ("127.0.0.1", "localhost") for port in (9001, 9002)
    }
    assert env["WANGGE_DISPATCH_GRID_URL"] == f"http://{host}:9003"


def test_a_named_host_is_its_own_origin_and_the_operator_has_the_last_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WANGGE_GRID_CORS_ORIGINS", raising=False)
    env = peer_env(settings("wangge.office.lan"))
    assert set(json.loads(env["WANGGE_GRID_CORS_ORIGINS"])) == {
        "http://wangge.office.lan:9001",
        "http://wangge.office.lan:9002",
    }
    monkeypatch.setenv("WANGGE_GRID_CORS_ORIGINS", '["https://console.example"]')
    assert peer_env(settings("127.0.0.1"))["WANGGE_GRID_CORS_ORIGINS"] == '["https://console.example"]'
