"""``wangge``: run, migrate, seed and exercise the three services from one command."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from rich.console import Console

from shared.settings import ServiceSettings, default_data_dir
from wangge.processes import (
    START_ORDER,
    PortTaken,
    ServiceProcess,
    StartFailed,
    check_ports,
    start_all,
    stop_all,
)

console = Console(highlight=False)

DEMO_PASSWORD = "wangge-demo"  # what `wangge seed` gives every demo account


def service_settings(name: str) -> ServiceSettings:
    if name == "grid":
        from services.grid.settings import GridSettings

        return GridSettings()
    if name == "intake":
        from services.intake.settings import IntakeSettings

        return IntakeSettings()
    if name == "dispatch":
        from services.dispatch.settings import DispatchSettings

        return DispatchSettings()
    raise SystemExit(f"unknown service {name!r}; one of {', '.join(START_ORDER)}")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = service_settings(args.service)
    uvicorn.run(
        f"services.{args.service}.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
    )
    return 0


def migrate_all() -> None:
    from migrations.runner import upgrade

    for name in START_ORDER:
        upgrade(name, service_settings(name).database_url)


def cmd_migrate(args: argparse.Namespace) -> int:
    from migrations.runner import upgrade

    for name in args.service or START_ORDER:
        settings = service_settings(name)
        upgrade(name, settings.database_url)
        console.print(f"[green]✓[/] {name} migrated ({_safe_url(settings.database_url)})")
    return 0


def seed_demo_territory() -> bool:
    from services.grid.seed import seed_demo
    from shared.db import create_engine, create_session_maker, session_scope

    async def run() -> bool:
        engine = create_engine(service_settings("grid").database_url)
        try:
            async with session_scope(create_session_maker(engine)) as session:
                return await seed_demo(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_seed(_args: argparse.Namespace) -> int:
    migrate_all()
    if seed_demo_territory():
        console.print("[green]✓[/] demo territory, departments, catalog and staff seeded")
    else:
        console.print("the territory already has regions; nothing seeded")
    return 0


def cmd_import_grids(args: argparse.Namespace) -> int:
    from services.grid.regions.service import import_feature_collection
    from shared.db import create_engine, create_session_maker, session_scope
    from shared.errors import WanggeError

    try:
        data = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot read {args.file}:[/] {exc}")
        return 2
    migrate_all()

    async def run() -> object:
        engine = create_engine(service_settings("grid").database_url)
        try:
            async with session_scope(create_session_maker(engine)) as session:
                return await import_feature_collection(session, data=data, actor_id="cli:import-grids")
        finally:
            await engine.dispose()

    try:
        summary = asyncio.run(run())
    except WanggeError as exc:
        console.print(f"[red]import refused:[/] {exc.detail}")
        for error in exc.extra.get("errors", []):
            console.print(f"  • {error.get('code', '?')}: {error.get('problem', error)}")
        return 1
    console.print(f"[green]✓[/] imported: {summary}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    data_dir = default_data_dir().resolve()
    os.environ["WANGGE_DATA_DIR"] = str(data_dir)
    settings = {name: service_settings(name) for name in START_ORDER}
    services = [
        ServiceProcess(name, settings[name].host, settings[name].port, env=_peer_env(settings))
        for name in START_ORDER
    ]
    try:
        check_ports(services)
    except PortTaken as exc:
        console.print(f"[red]cannot start:[/] {exc}")
        return 1
    migrate_all()
    if not args.no_seed and seed_demo_territory():
        console.print("[green]✓[/] first run: demo territory (中华街道, 思明区), catalog and staff seeded")
    try:
        start_all(services)
    except (PortTaken, StartFailed) as exc:
        console.print(f"[red]cannot start:[/] {exc}")
        return 1

    console.print(f"\n[bold]wangge is up[/] (data in {data_dir})")
    for service in services:
        console.print(f"  {service.name:<9} {service.url}   docs {service.url}/docs")
    grid_url = f"http://{settings['grid'].host}:{settings['grid'].port}"
    console.print(
        "\nSign in as any demo account (password [bold]wangge-demo[/]): grid worker wang.fang, "
        "dispatcher hong.yi, handler gao.peng (police), supervisor zhuang.hui, admin pan.jun:\n"
        f"  curl -s {grid_url}/v1/auth/token -d grant_type=password -d username=wang.fang -d password=wangge-demo\n"
        "then send [bold]Authorization: Bearer <access_token>[/]; or use Authorize on any /docs page."
    )
    console.print("\nTry [bold]wangge demo[/] in another terminal. Ctrl-C stops all three.\n")

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


def _peer_env(settings: dict[str, ServiceSettings]) -> dict[str, str]:
    """Point each service at its peers' actual ports unless the operator set the URLs."""
    urls = {name: f"http://{s.host}:{s.port}" for name, s in settings.items()}
    wanted = {
        "WANGGE_INTAKE_GRID_URL": urls["grid"],
        "WANGGE_INTAKE_DISPATCH_URL": urls["dispatch"],
        "WANGGE_DISPATCH_GRID_URL": urls["grid"],
        "WANGGE_DISPATCH_INTAKE_URL": urls["intake"],
    }
    return {key: os.environ.get(key, value) for key, value in wanted.items()}


def cmd_demo(args: argparse.Namespace) -> int:
    from wangge.demo import DemoConfig, run_demo

    config = DemoConfig(
        intake_url=args.intake_url,
        dispatch_url=args.dispatch_url,
        grid_url=args.grid_url,
        reports=args.reports,
        seed=args.seed,
        admin=args.admin,
        password=args.password,
    )
    return asyncio.run(run_demo(config, console))


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wangge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="migrate, seed the demo on first run, run all three services")
    up.add_argument("--no-seed", action="store_true", help="do not seed the demo territory")
    up.set_defaults(run=cmd_up)

    serve = commands.add_parser("serve", help="run one service in this process")
    serve.add_argument("service", choices=START_ORDER)
    serve.set_defaults(run=cmd_serve)

    migrate = commands.add_parser("migrate", help="upgrade every service's database to the latest schema")
    migrate.add_argument("service", nargs="*", help=f"only these of {', '.join(START_ORDER)}")
    migrate.set_defaults(run=cmd_migrate)

    seed = commands.add_parser("seed", help="migrate and seed the demo territory if grid has none")
    seed.set_defaults(run=cmd_seed)

    imports = commands.add_parser("import-grids", help="import a GeoJSON FeatureCollection of regions")
    imports.add_argument("file", help="path to a .geojson file")
    imports.set_defaults(run=cmd_import_grids)

    demo = commands.add_parser("demo", help="drive a working day through the running services")
    demo.add_argument("--reports", type=int, default=60, help="how many reports the grid workers file")
    demo.add_argument("--seed", type=int, default=20261127, help="random seed, for a repeatable day")
    demo.add_argument("--admin", default="pan.jun", help="the admin account that reads the staff list")
    demo.add_argument(
        "--password",
        default=os.environ.get("WANGGE_DEMO_PASSWORD", DEMO_PASSWORD),
        help="the demo accounts' password",
    )
    demo.add_argument(
        "--intake-url", default=os.environ.get("WANGGE_DEMO_INTAKE_URL", "http://127.0.0.1:8001")
    )
    demo.add_argument(
        "--dispatch-url", default=os.environ.get("WANGGE_DEMO_DISPATCH_URL", "http://127.0.0.1:8002")
    )
    demo.add_argument("--grid-url", default=os.environ.get("WANGGE_DEMO_GRID_URL", "http://127.0.0.1:8003"))
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
