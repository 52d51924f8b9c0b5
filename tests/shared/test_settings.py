"""Settings read as operators write them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.dispatch.settings import DispatchSettings
from services.grid.settings import GridSettings
from services.intake.settings import IntakeSettings


def test_the_log_level_is_read_in_either_case_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANGGE_DISPATCH_LOG_LEVEL", raising=False)
    # uvicorn took "INFO" before the level was checked; the check must not refuse it now.
    assert DispatchSettings(log_level="INFO").log_level == "info"  # type: ignore[arg-type]
    assert DispatchSettings(log_level="warning").log_level == "warning"
    with pytest.raises(ValidationError, match="log_level"):
        DispatchSettings(log_level="loud")  # type: ignore[arg-type]


def test_cors_origins_are_a_json_list_or_comma_separated_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for written in (
        '["http://localhost:5173", "https://console.example.gov.cn"]',
        "http://localhost:5173, https://console.example.gov.cn",
    ):
        monkeypatch.setenv("WANGGE_DISPATCH_CORS_ORIGINS", written)
        assert DispatchSettings().cors_origins == ["http://localhost:5173", "https://console.example.gov.cn"]
    monkeypatch.setenv("WANGGE_DISPATCH_CORS_ORIGINS", "")
    assert DispatchSettings().cors_origins == []
    # Written as a browser would never send it: made what it sends, or refused.
    assert DispatchSettings(cors_origins=["HTTPS://Console.example.gov.cn:443"]).cors_origins == [
        "https://console.example.gov.cn"
    ]
    for wrong in (
        "https://console.example.gov.cn/",
        "console.example.gov.cn",
        "*",
        "https://*.example.gov.cn",
    ):
        with pytest.raises(ValidationError, match="is not an origin"):
            DispatchSettings(cors_origins=[wrong])
    monkeypatch.setenv("WANGGE_DISPATCH_CORS_ORIGINS", '["http://localhost:5173"')
    with pytest.raises(ValidationError, match="not a JSON list"):
        DispatchSettings()


def test_no_page_on_another_origin_calls_a_service_in_production_unless_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for service in ("GRID", "INTAKE", "DISPATCH"):
        monkeypatch.delenv(f"WANGGE_{service}_CORS_ORIGINS", raising=False)
    assert IntakeSettings().cors_origins == DispatchSettings().cors_origins == []
    assert GridSettings(environment="production").cors_origins == []
    # Outside production grid lets intake's and dispatch's local /docs sign in, as it did.
    assert "http://127.0.0.1:8001" in GridSettings(environment="development").cors_origins
