"""``wangge backup`` and ``wangge restore`` (``wangge/backup.py``, ``wangge/restore.py`` do the
work); ``wangge/cli.py`` calls :func:`add_parser`."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url

from migrations.runner import SERVICES
from shared.settings import default_data_dir
from wangge import operations
from wangge.backup import DatabaseCopy, take_backup
from wangge.console import console_for
from wangge.restore import BackupUnusable, RestoreFailed, RestoreRefused, restore


def _urls() -> dict[str, str]:
    """Each service's database, named on standard error as the other commands name theirs:
    on the embedded default they are files under the directory the command runs in (or
    ``WANGGE_DATA_DIR``)."""
    urls = {service: operations.service_database(service) for service in SERVICES}
    stderr = console_for(stderr=True)
    for service, url in urls.items():
        shown = make_url(url).render_as_string(hide_password=True)
        stderr.print(f"[dim]{service}'s database: {escape(shown)}[/]", soft_wrap=True)
    return urls


def _summary(copy: DatabaseCopy) -> str:
    rows = ", ".join(f"{count:,} {table}" for table, count in copy.rows.items())
    size = f"{(copy.size or 0) / 1_000_000:,.1f} MB"
    return f"{copy.file}, {size}, revision {copy.alembic_revision}" + (f", {rows}" if rows else "")


def cmd_backup(args: argparse.Namespace, console: Console) -> int:
    data_dir = default_data_dir().resolve()
    destination = Path(args.to).resolve() if args.to else data_dir / "backups"
    if destination.exists() and not destination.is_dir():
        console.print(f"[red]cannot back up into {escape(str(destination))}:[/] not a directory")
        return 2

    def said(copy: DatabaseCopy) -> None:
        if copy.error:
            console.print(f"[red]✗[/] {copy.service}: {escape(copy.error)}", soft_wrap=True)
        else:
            line = f"{copy.service}: {_summary(copy)}, in {copy.seconds:.1f} s"
            console.print(f"[green]✓[/] {escape(line)}", soft_wrap=True)

    try:
        folder, manifest = take_backup(destination, data_dir, _urls(), each=said)
    except OSError as exc:
        console.print(f"[red]cannot back up into {escape(str(destination))}:[/] {escape(str(exc))}")
        return 2
    files = len(manifest["files"])
    console.print(f"[green]✓[/] keys and secrets: {files} files", soft_wrap=True)
    key_file = getattr(operations.service_settings("grid"), "signing_key_file", None)
    if key_file is not None:
        console.print(
            f"grid's signing key {escape(str(key_file))} is set by WANGGE_GRID_SIGNING_KEY_FILE, not in the "
            "data dir: it is not in this backup, keep a copy of it (and of the client secrets) elsewhere",
            soft_wrap=True,
        )
    if not manifest["complete"]:
        console.print(f"[red]backup incomplete[/] in {escape(str(folder))}: see above", soft_wrap=True)
        return 1
    console.print(f"backup in {escape(str(folder))}: copy it off this machine", soft_wrap=True)
    return 0


def cmd_restore(args: argparse.Namespace, console: Console) -> int:
    folder = Path(args.dir).resolve()
    addresses = {}
    for service in SERVICES:
        settings = operations.service_settings(service)
        addresses[service] = (settings.host, settings.port)
    try:
        done = restore(folder, default_data_dir().resolve(), _urls(), addresses)
    except BackupUnusable as exc:
        console.print(f"[red]not restored:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    except RestoreRefused as exc:
        console.print("[red]not restored, nothing was changed:[/]")
        for reason in exc.reasons:
            console.print(f"  • {escape(reason)}", soft_wrap=True)
        return 1
    except RestoreFailed as exc:
        console.print(f"[red]not restored:[/] {escape(str(exc))}", soft_wrap=True)
        return 1
    for entry in done.databases:
        revision = entry["alembic_revision"]
        line = f"{entry['service']}: {entry['path']} from {entry['file']} (revision {revision})"
        console.print(f"[green]✓[/] {escape(line)}", soft_wrap=True)
    console.print(f"the files it replaced are in {escape(str(done.kept_in))}", soft_wrap=True)
    for step in done.next_steps:
        console.print(f"next: {escape(step)}", soft_wrap=True)
    if not done.next_steps:
        console.print("next: start the services (`wangge up`, or `wangge serve` each)")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    backup = commands.add_parser(
        "backup",
        help="copy every service's database and the data dir's keys and secrets, while they run",
    )
    backup.add_argument(
        "--to",
        metavar="DIR",
        help="make the backup's folder (named by the UTC time) in DIR; default <data dir>/backups",
    )
    backup.set_defaults(run=cmd_backup)
    back = commands.add_parser("restore", help="put a backup back, the services stopped")
    back.add_argument("dir", metavar="DIR", help="a backup's folder, the one holding manifest.json")
    back.set_defaults(run=cmd_restore)
