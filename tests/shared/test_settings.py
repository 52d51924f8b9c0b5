"""Settings read as operators write them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.dispatch.settings import DispatchSettings


def test_the_log_level_is_read_in_either_case_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANGGE_DISPATCH_LOG_LEVEL", raising=False)
    # uvicorn took "INFO" before the level was checked; the check must not refuse it now.
    assert DispatchSettings(log_level="INFO").log_level == "info"  # type: ignore[arg-type]
    assert DispatchSettings(log_level="warning").log_level == "warning"
    with pytest.raises(ValidationError, match="log_level"):
        DispatchSettings(log_level="loud")  # type: ignore[arg-type]
