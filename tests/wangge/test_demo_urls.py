"""Where ``wangge demo`` looks for the services: where ``wangge up`` in the same environment
runs them, and a service it cannot reach is named with its URL."""

from __future__ import annotations

import io
import socket

import pytest
from rich.console import Console

from wangge.cli import demo_url
from wangge.demo import DemoConfig, run_demo


def test_the_demo_finds_the_services_on_the_ports_up_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """It asked 8001–8003 whatever ``WANGGE_<SVC>_PORT`` said, and said only that wangge could
    not be reached."""
    for service in ("intake", "dispatch", "grid"):
        monkeypatch.delenv(f"WANGGE_DEMO_{service.upper()}_URL", raising=False)
        monkeypatch.delenv(f"WANGGE_{service.upper()}_HOST", raising=False)
    monkeypatch.setenv("WANGGE_GRID_PORT", "18003")
    monkeypatch.setenv("WANGGE_DISPATCH_HOST", "0.0.0.0")
    monkeypatch.setenv("WANGGE_INTAKE_HOST", "::1")

    assert demo_url("grid") == "http://127.0.0.1:18003"
    assert demo_url("dispatch") == "http://127.0.0.1:8002"  # every address: loopback too
    assert demo_url("intake") == "http://[::1]:8001"
    monkeypatch.setenv("WANGGE_DEMO_GRID_URL", "http://grid.internal:9000")
    assert demo_url("grid") == "http://grid.internal:9000"


async def test_a_service_out_of_reach_is_named_with_its_url() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = io.StringIO()

    code = await run_demo(DemoConfig(grid_url=f"http://127.0.0.1:{port}"), Console(file=out, width=300))

    assert code == 1
    assert f"cannot reach wangge at http://127.0.0.1:{port} (" in out.getvalue(), out.getvalue()
    assert "--grid-url" in out.getvalue()
