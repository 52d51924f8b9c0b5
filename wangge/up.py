"""``wangge up``: the whole system on this machine, three processes, stopped cleanly on Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading

from rich.console import Console
from rich.markup import escape

from shared.settings import ServiceSettings, default_data_dir
from wangge import operations
from wangge.processes import (
    START_ORDER,
    PortTaken,
    ServiceProcess,
    StartFailed,
    StartStopped,
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
        console.print(f"[red]cannot start:[/] {escape(str(exc))}")
        return 1
    operations.migrate()
    if seed and operations.seed_demo():
        console.print("[green]✓[/] first run: demo territory (中华街道, 思明区), catalog and staff seeded")
    stopping = _stop_on(STOP_SIGNALS)
    code = 0
    try:
        start_all(services, stopping=stopping)  # stops those it started if it fails or is stopped
        welcome(console, services, data_dir)
        code = watch(console, services, stopping)
    except (PortTaken, StartFailed) as exc:
        _say(console, f"[red]cannot start:[/] {exc}")
        code = 1
    except StartStopped:
        pass
    finally:  # whatever ended it (a terminal gone mid-banner raises OSError), none is left running
        _say(console, "stopping…")
        stop_all(services)
        _say(console, "stopped.")
    return code


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""Ctrl-C, a service manager's stop, and the terminal or SSH session closing. The services run
in sessions of their own, so none of these reaches them: ``up`` stops them, in order."""


def _stop_on(signals: tuple[signal.Signals, ...]) -> threading.Event:
    """An event the signals set. The handler only sets it: raised from a handler, a stop could
    land inside ``Popen`` after the fork and lose the child it had just started. A hangup the
    shell told us to ignore (``nohup``) stays ignored; an interrupt is taken even then (a shell
    script's background job starts with SIGINT ignored, and ``kill -INT`` means stop)."""
    stopping = threading.Event()
    hangup = getattr(signal, "SIGHUP", None)
    for each in signals:
        if each != hangup or signal.getsignal(each) is not signal.SIG_IGN:
            signal.signal(each, lambda _signum, _frame: stopping.set())
    return stopping


def _say(console: Console, text: str) -> None:
    """Print, unless the terminal is gone (the SIGHUP case): stopping matters more."""
    with contextlib.suppress(OSError):
        console.print(text)


def peer_env(settings: dict[str, ServiceSettings]) -> dict[str, str]:
    """Point each service at its peers' actual ports, let the pages of this machine call them
    (``dev_origins``) and a bot being built on it hear its webhook (intake's deliveries may go
    to this machine's addresses), unless the operator set the variables."""
    urls = {name: f"http://{s.host}:{s.port}" for name, s in settings.items()}
    origins = json.dumps(dev_origins(settings))
    wanted = {
        "WANGGE_INTAKE_GRID_URL": urls["grid"],
        "WANGGE_INTAKE_DISPATCH_URL": urls["dispatch"],
        "WANGGE_DISPATCH_GRID_URL": urls["grid"],
        "WANGGE_DISPATCH_INTAKE_URL": urls["intake"],
        **{f"WANGGE_{name.upper()}_CORS_ORIGINS": origins for name in settings},
        "WANGGE_INTAKE_WEBHOOK_PRIVATE_ADDRESSES": "true",
    }
    return {key: os.environ.get(key, value) for key, value in wanted.items()}


_LOOPBACK_NAMES = ("127.0.0.1", "localhost")
_EVERY_ADDRESS = ("0.0.0.0", "::")


def dev_origins(settings: dict[str, ServiceSettings]) -> list[str]:
    """Pages served from this machine, on any port: the services' own /docs (they sign in at
    grid) and a console's development server (Vite's :5173 …). On loopback under either name
    a user types, and under a host the services were told to listen on (what other names
    reach this machine, only the operator knows)."""
    hosts = dict.fromkeys(_LOOPBACK_NAMES)
    for each in settings.values():
        if each.host not in _LOOPBACK_NAMES + _EVERY_ADDRESS:
            hosts[f"[{each.host}]" if ":" in each.host else each.host] = None
    return [f"http://{host}:*" for host in hosts]


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


def watch(console: Console, services: list[ServiceProcess], stopping: threading.Event) -> int:
    """Until told to stop (0) or a service dies (1)."""
    while not stopping.wait(0.2):
        dead = [s for s in services if not s.alive()]
        if dead:
            console.print(f"[red]{dead[0].name} stopped unexpectedly; stopping the others[/]")
            return 1
    return 0
