"""``wangge up``: the whole system on this machine, three processes, stopped cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import time
from types import FrameType

from rich.console import Console

from shared.settings import ServiceSettings, default_data_dir
from wangge import operations
from wangge.processes import (
    START_ORDER,
    PortTaken,
    ServiceProcess,
    StartFailed,
    check_ports,
    start_all,
    stop_all,
)

DEMO_PASSWORD = "wangge-demo"  # what `wangge seed` gives every demo account


def run(console: Console, *, seed: bool) -> int:
    data_dir = default_data_dir().resolve()
    os.environ["WANGGE_DATA_DIR"] = str(data_dir)
    settings = {name: operations.service_settings(name) for name in START_ORDER}
    services = [
        ServiceProcess(name, settings[name].host, settings[name].port, env=peer_env(settings))
        for name in START_ORDER
    ]
    try:
        check_ports(services)
    except PortTaken as exc:
        console.print(f"[red]cannot start:[/] {exc}")
        return 1
    operations.migrate()
    if seed and operations.seed_demo():
        console.print("[green]✓[/] first run: demo territory (中华街道, 思明区), catalog and staff seeded")
    try:
        start_all(services)
    except (PortTaken, StartFailed) as exc:
        console.print(f"[red]cannot start:[/] {exc}")
        return 1
    welcome(console, services, data_dir)
    return wait_and_stop(console, services)


def peer_env(settings: dict[str, ServiceSettings]) -> dict[str, str]:
    """Point each service at its peers' actual ports unless the operator set the URLs."""
    urls = {name: f"http://{s.host}:{s.port}" for name, s in settings.items()}
    wanted = {
        "WANGGE_INTAKE_GRID_URL": urls["grid"],
        "WANGGE_INTAKE_DISPATCH_URL": urls["dispatch"],
        "WANGGE_DISPATCH_GRID_URL": urls["grid"],
        "WANGGE_DISPATCH_INTAKE_URL": urls["intake"],
        "WANGGE_GRID_CORS_ORIGINS": json.dumps([urls["intake"], urls["dispatch"]]),
    }
    return {key: os.environ.get(key, value) for key, value in wanted.items()}


def welcome(console: Console, services: list[ServiceProcess], data_dir: object) -> None:
    console.print(f"\n[bold]wangge is up[/] (data in {data_dir})")
    for service in services:
        console.print(f"  {service.name:<9} {service.url}   docs {service.url}/docs")
    grid_url = next(s.url for s in services if s.name == "grid")
    console.print(
        f"\nSign in as any demo account (password [bold]{DEMO_PASSWORD}[/]): grid worker wang.fang, "
        "dispatcher hong.yi, handler gao.peng (police), supervisor zhuang.hui, admin pan.jun:\n"
        f"  curl -s {grid_url}/v1/auth/token -d grant_type=password"
        f" -d username=wang.fang -d password={DEMO_PASSWORD}\n"
        "then send [bold]Authorization: Bearer <access_token>[/], or use Authorize on any /docs page.",
        soft_wrap=True,
    )
    console.print("\nTry [bold]wangge demo[/] in another terminal. Ctrl-C stops all three.\n")


def wait_and_stop(console: Console, services: list[ServiceProcess]) -> int:
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        dead = [s for s in services if not s.alive()]
        if dead:
            console.print(f"[red]{dead[0].name} stopped unexpectedly; stopping the others[/]")
            code = 1
            break
        time.sleep(0.2)
    console.print("stopping…")
    stop_all(services)
    console.print("stopped.")
    return code
