"""``wangge up``: the whole system on this machine, three processes, stopped cleanly on Ctrl-C."""

from __future__ import annotations

import contextlib
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
    _stop_on(STOP_SIGNALS)
    code = 0
    try:
        start_all(services)  # stops what it started if it fails or a signal comes meanwhile
        welcome(console, services, data_dir)
        code = watch(console, services)
    except (PortTaken, StartFailed) as exc:
        console.print(f"[red]cannot start:[/] {exc}")
        return 1
    except Stopped:
        pass
    for each in STOP_SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    _say(console, "stopping…")
    stop_all(services)
    _say(console, "stopped.")
    return code


def _say(console: Console, text: str) -> None:
    """Print, unless the terminal is gone (the SIGHUP case): stopping matters more."""
    with contextlib.suppress(OSError):
        console.print(text)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Ctrl-C, a service manager's stop, and the terminal or SSH session closing. The services run
in sessions of their own, so none of these reaches them: ``up`` stops them, in order."""


class Stopped(BaseException):
    """One of ``STOP_SIGNALS`` came (a BaseException, as KeyboardInterrupt, so no handler of
    ordinary errors takes it for one)."""


def _stop_on(signals: tuple[signal.Signals, ...]) -> None:
    def stop(signum: int, _frame: FrameType | None) -> None:
        for each in signals:  # a second Ctrl-C does not cut the orderly stop short
            signal.signal(each, signal.SIG_IGN)
        raise Stopped(signal.Signals(signum).name)

    for each in signals:
        signal.signal(each, stop)


def peer_env(settings: dict[str, ServiceSettings]) -> dict[str, str]:
    """Point each service at its peers' actual ports unless the operator set the URLs."""
    urls = {name: f"http://{s.host}:{s.port}" for name, s in settings.items()}
    wanted = {
        "WANGGE_INTAKE_GRID_URL": urls["grid"],
        "WANGGE_INTAKE_DISPATCH_URL": urls["dispatch"],
        "WANGGE_DISPATCH_GRID_URL": urls["grid"],
        "WANGGE_DISPATCH_INTAKE_URL": urls["intake"],
        "WANGGE_GRID_CORS_ORIGINS": json.dumps(
            [origin for name in ("intake", "dispatch") for origin in _origins(settings[name])]
        ),
    }
    return {key: os.environ.get(key, value) for key, value in wanted.items()}


_LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def _origins(settings: ServiceSettings) -> list[str]:
    """The browser origins of a service's /docs: on loopback, under either name a user types."""
    hosts = _LOOPBACK_NAMES if settings.host in _LOOPBACK_NAMES else (settings.host,)
    return [f"http://{host}:{settings.port}" for host in hosts]


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


def watch(console: Console, services: list[ServiceProcess]) -> int:
    """Until a service dies (1); a stop signal ends it with ``Stopped`` (``_stop_on``)."""
    while True:
        dead = [s for s in services if not s.alive()]
        if dead:
            console.print(f"[red]{dead[0].name} stopped unexpectedly; stopping the others[/]")
            return 1
        time.sleep(0.2)
