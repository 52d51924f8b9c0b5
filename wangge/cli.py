"""wangge: run, migrate, seed, administer and exercise the three services from one command."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url

from bench.cli import add_parser as add_bench_parser
from shared.actors import GRID_ROLES
from shared.db import utcnow
from shared.errors import WanggeError, error_message
from shared.secrets import SecretMissing
from wangge import operations
from wangge.backup_cli import add_parser as add_backup_parser
from wangge.console import console_for
from wangge.outbox_cli import add_parser as add_outbox_parser
from wangge.processes import START_ORDER
from wangge.serving import log_config, tune_gc
from wangge.up import DEMO_PASSWORD


def cmd_up(args: argparse.Namespace, console: Console) -> int:
    from wangge.up import run

    return run(console, seed=not args.no_seed)


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    import uvicorn

    settings = operations.service_settings(args.service)
    try:
        operations.check_configuration(args.service)
    except SecretMissing as exc:
        console.print(f"[red]{args.service} cannot start:[/] {escape(str(exc))}", soft_wrap=True)
        return 1
    app_module = f"services.{args.service}.app"
    importlib.import_module(app_module)
    tune_gc()
    uvicorn.run(
        f"{app_module}:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        access_log=False,
    )
    return 0


def cmd_migrate(args: argparse.Namespace, console: Console) -> int:
    for settings in operations.migrate(args.service or START_ORDER):
        url = make_url(settings.database_url).render_as_string(hide_password=True)
        console.print(f"[green]✓[/] {settings.service_name} migrated ({url})")
    return 0


def migrate_grid() -> None:
    """Migrate grid's database and say which one it is (on standard error, so that a command's
    own output stays clean): the embedded default is ``var/grid.db`` under the directory the
    command runs in, or ``WANGGE_DATA_DIR``, which is easy to miss when run from elsewhere."""
    (settings,) = operations.migrate(["grid"])
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    console_for(stderr=True).print(f"[dim]grid's database: {url}[/]", soft_wrap=True)


def cmd_seed(args: argparse.Namespace, console: Console) -> int:
    operations.migrate()
    if operations.seed_demo():
        console.print(
            f"[green]✓[/] demo territory, departments, catalog and staff seeded (password {DEMO_PASSWORD})"
        )
    else:
        console.print("the territory already has regions; nothing seeded")
    return 0


def cmd_import_grids(args: argparse.Namespace, console: Console) -> int:
    try:
        data = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot read {escape(args.file)}:[/] {escape(str(exc))}")
        return 2
    migrate_grid()
    try:
        summary = operations.import_grids(data)
    except WanggeError as exc:
        console.print(f"[red]import refused:[/] {escape(exc.detail)}")
        for error in exc.extra.get("errors", []):
            code, problem = error.get("code", "?"), error.get("problem", error)
            console.print(f"  • {escape(str(code))}: {escape(str(problem))}")
        return 1
    console.print(f"[green]✓[/] imported: {summary}")
    return 0


def cmd_import_catalog(args: argparse.Namespace, console: Console) -> int:
    files = []
    for file in args.files:
        try:
            files.append((file, json.loads(Path(file).read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            console.print(f"[red]cannot read {escape(file)}:[/] {escape(str(exc))}", soft_wrap=True)
            return 2
    migrate_grid()
    try:
        outcome = operations.import_catalog(files)
    except (WanggeError, ValueError) as exc:
        console.print(f"[red]import refused, nothing stored:[/] {escape(_reason(exc))}", soft_wrap=True)
        return 1
    made = Counter(kind for kind, _ in outcome.created)
    console.print(f"[green]✓[/] created {made['department']} departments and {made['category']} categories")
    if outcome.kept:
        codes = ", ".join(code for _, code in outcome.kept)
        console.print(f"kept as grid has them (change them through the API): {codes}")
    return 0


def read_password(args: argparse.Namespace) -> str | None:
    if args.no_password:
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"password for {args.username}: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("the passwords differ; nothing was changed")
    return first


_FLAGS = {
    "name": "--name",
    "role": "--role",
    "department_code": "--department",
    "region_codes": "--region",
    "phone": "--phone",
    "channel": "--channel",
    "scopes": "--scope",
    "expires_at": "--expires-days",
}
"""The flag that sets a field of the schemas the CLI's commands fill in."""
_FIELD_IN_PROSE = re.compile("|".join(rf"\b{field}\b" for field in _FLAGS if "_" in field))
"""A field named inside a message (``a handler needs a department (department_code)``); only
the names with an underscore, which no English word shares (``name``, ``role`` are words)."""


def _reason(exc: Exception) -> str:
    """Why a command was refused, in a line: a problem's detail, or each invalid field and why
    (not pydantic's report, which is written for programmers), fields named by their flags."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            (f"{_FLAGS.get(str(error['loc'][0]), error['loc'][0])}: " if error["loc"] else "")
            + _FIELD_IN_PROSE.sub(lambda field: _FLAGS[field[0]], error_message(error))
            for error in exc.errors()
        )
    return _FIELD_IN_PROSE.sub(lambda field: _FLAGS[field[0]], str(getattr(exc, "detail", exc)))


def cmd_user_add(args: argparse.Namespace, console: Console) -> int:
    password = read_password(args)
    migrate_grid()
    try:
        staff = operations.add_user(
            username=args.username,
            name=args.name,
            role=args.role,
            department=args.department,
            regions=args.region,
            phone=args.phone,
            password=password,
        )
    except (WanggeError, ValueError) as exc:
        console.print(f"[red]not added:[/] {escape(_reason(exc))}")
        return 1
    login = "can sign in" if password else "cannot sign in until a password is set"
    console.print(f"[green]✓[/] {staff.username} ({staff.role}) added; {login}")
    if staff.role in GRID_ROLES and not staff.region_codes:
        console.print(
            f"[yellow]{staff.username} has no region yet:[/] they see only the cases they report; "
            f"an admin gives them their cells or community with PUT /v1/staff/{staff.username}/assignments"
        )
    return 0


def cmd_key_create(args: argparse.Namespace, console: Console) -> int:
    migrate_grid()
    try:
        key, secret = operations.create_key(
            name=args.name, channel=args.channel, scopes=args.scope, expires_days=args.expires_days
        )
    except (WanggeError, ValueError) as exc:
        console.print(f"[red]no key made:[/] {escape(_reason(exc))}")
        return 1
    console.print(
        f"[green]✓[/] key {key.id} for {escape(key.name)} "
        f"(channel {key.channel}, scopes {', '.join(key.scopes)})"
    )
    console.print("The key, shown this once only (grid keeps just a hash of it):")
    print(secret)
    console.print(
        "Exchange it for a token: POST /v1/auth/token with grant_type=client_credentials, "
        "client_id=<the part before the dot>, client_secret=<the part after it>."
    )
    return 0


def cmd_key_list(args: argparse.Namespace, console: Console) -> int:
    migrate_grid()
    keys = operations.list_keys()
    channel = max([len("channel"), *(len(key.channel) for key in keys)])
    scopes = max([len("scopes"), *(len(",".join(key.scopes)) for key in keys)])
    row = f"{{:<19}}  {{:<7}}  {{:<{channel}}}  {{:<{scopes}}}  {{:<16}}  {{:<16}}  {{}}"
    if not keys:
        console_for(stderr=True).print("no API keys")
    else:
        console.print(
            row.format("key id", "state", "channel", "scopes", "last used (UTC)", "expires (UTC)", "name"),
            soft_wrap=True,
        )
    now = utcnow()
    for key in keys:
        expired = key.expires_at is not None and key.expires_at <= now
        state = "revoked" if key.revoked_at else "expired" if expired else "active"
        used = key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "never"
        expires = key.expires_at.strftime("%Y-%m-%d %H:%M") if key.expires_at else "never"
        line = row.format(key.id, state, key.channel, ",".join(key.scopes), used, expires, key.name)
        console.print(line, soft_wrap=True, markup=False)
    return 0


def cmd_key_revoke(args: argparse.Namespace, console: Console) -> int:
    migrate_grid()
    try:
        operations.revoke_key(args.key_id)
    except WanggeError as exc:
        console.print(f"[red]not revoked:[/] {escape(exc.detail)}")
        return 1
    minutes = getattr(operations.service_settings("grid"), "access_token_minutes", 15)
    intake = operations.service_settings("intake")
    check = getattr(intake, "webhook_key_check_seconds", 60)
    trust = getattr(intake, "webhook_key_trust_minutes", 15)
    console.print(
        f"[green]✓[/] {args.key_id} revoked; tokens already issued for it expire within {minutes} minutes.\n"
        f"intake sends a webhook it set nothing more after {check:g} s (after {trust:g} minutes if "
        "grid is out of its reach meanwhile) and removes it, its undelivered updates given up, at its "
        f"next update; to remove it at once: DELETE /v1/webhooks/integration:{args.key_id}",
        soft_wrap=True,
    )
    return 0


def demo_url(service: str) -> str:
    """Where the demo finds a service: ``WANGGE_DEMO_<SVC>_URL``, else where the service's own
    settings have it listen, so that ``wangge demo`` beside ``wangge up`` on other ports (the same
    ``WANGGE_<SVC>_PORT``) finds it; a service listening on every address is on loopback too."""
    given = os.environ.get(f"WANGGE_DEMO_{service.upper()}_URL")
    if given:
        return given
    settings = operations.service_settings(service)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from wangge.demo import DemoConfig, run_demo

    config = DemoConfig(
        intake_url=args.intake_url or demo_url("intake"),
        dispatch_url=args.dispatch_url or demo_url("dispatch"),
        grid_url=args.grid_url or demo_url("grid"),
        reports=args.reports,
        seed=args.seed,
        admin=args.admin,
        password=args.password,
    )
    return asyncio.run(run_demo(config, console))


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
    catalog = commands.add_parser(
        "import-catalog",
        help="add departments and catalog categories from JSON files (codes grid has are kept)",
    )
    catalog.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="JSON with `departments` and/or `categories`, as services/grid/seed/*.json",
    )
    catalog.set_defaults(run=cmd_import_catalog)

    user = commands.add_parser("user", help="staff accounts").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", help="add a staff member who signs in with a password")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="the person's name, e.g. 王芳")
    add.add_argument(
        "--role",
        required=True,
        help="grid_worker, grid_assistant, grid_leader, dispatcher, handler, supervisor or admin",
    )
    add.add_argument("--department", help="the department code (handlers only)")
    add.add_argument(
        "--region",
        action="extend",
        nargs="+",
        default=[],
        metavar="CODE",
        help="assigned region codes (several after one --region, or --region repeated)",
    )
    add.add_argument("--phone")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    secret.add_argument("--no-password", action="store_true", help="no password yet: cannot sign in")
    add.set_defaults(run=cmd_user_add)

    key = commands.add_parser("key", help="integration API keys").add_subparsers(dest="action", required=True)
    create = key.add_parser("create", help="issue a key for a chat bot or another app; shown once")
    create.add_argument("--name", required=True, help="whose key, e.g. 中山路商圈理事会 bot")
    create.add_argument("--channel", required=True, help="the channel its reports carry, e.g. wechat-bot")
    create.add_argument(
        "--scope",
        action="extend",
        nargs="+",
        required=True,
        help="reports:create and/or reports:read (several after one --scope, or --scope repeated)",
    )
    create.add_argument("--expires-days", type=float, help="expire after this many days")
    create.set_defaults(run=cmd_key_create)
    listing = key.add_parser("list", help="every key, never its secret")
    listing.set_defaults(run=cmd_key_list)
    revoke = key.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=cmd_key_revoke)

    add_outbox_parser(commands)
    add_backup_parser(commands)

    demo = commands.add_parser("demo", help="drive a working day through the running services")
    demo.add_argument("--reports", type=int, default=60, help="how many reports the grid workers file")
    demo.add_argument("--seed", type=int, default=20261127, help="random seed, for a repeatable day")
    demo.add_argument("--admin", default="pan.jun", help="the admin account that reads the staff list")
    demo.add_argument(
        "--password",
        default=os.environ.get("WANGGE_DEMO_PASSWORD", DEMO_PASSWORD),
        help="the demo accounts' password",
    )
    for service in ("intake", "dispatch", "grid"):
        demo.add_argument(
            f"--{service}-url",
            help=f"default: WANGGE_DEMO_{service.upper()}_URL, else where WANGGE_{service.upper()}_HOST "
            "and _PORT have it listen (as wangge up does)",
        )
    demo.set_defaults(run=cmd_demo)

    add_bench_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args, console_for()) or 0)


if __name__ == "__main__":
    sys.exit(main())
