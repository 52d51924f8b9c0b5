"""``wangge restore DIR``: put a backup ``wangge backup`` took back in place of the current
databases and the data directory's ``keys/`` and ``secrets/``.

Before anything is touched: the manifest must be there and of a known format, the backup
complete, and each file it lists there with its size and sha256; and no service may be
running against the files. Then the current files (each database with its ``-wal`` and
``-shm``, which must never be left beside a database they do not belong to, and ``keys/``,
``secrets/``) move to ``<data dir>/before-restore-<UTC time>/``, and the backup's are copied
in (mode 0600) under a temporary name and renamed into place. Should that stop half-way (a
disk full, a file it cannot move or write), what it wrote is removed and the current files are
moved back (:func:`put_back`).

**Is a service running?** Two signals, and either refuses:

- each current SQLite file is opened with ``PRAGMA locking_mode=EXCLUSIVE`` and
  ``BEGIN EXCLUSIVE``, waiting half a second. A plain ``BEGIN EXCLUSIVE`` would not do: in WAL
  mode it waits only for a writer, and a service's idle connection holds no write lock. But
  every connection to a WAL database, idle or not, holds a shared lock on the file for as long
  as it is open, and the services keep theirs open in their pool: the exclusive locking mode
  needs that lock alone, so it fails while any process has the file open;
- ``/healthz`` at each service's configured host and port (``WANGGE_<SVC>_HOST``, ``_PORT``):
  any answer there refuses.

Their limits: a service that has not opened its database yet (in its first second) and
listens elsewhere than its settings here say passes both; so does one on another machine
that reaches the file over a network file system (where SQLite's locks are not to be trusted
at all). A service started while the restore runs (it takes well under a second for the
embedded default's sizes) may open a file as it is replaced: stop the services, or whatever
restarts them (``systemd``, ``wangge up``), first.

PostgreSQL databases are not restored by this command: it names the ``pg_restore`` to run
(with the services stopped), since replacing a live server's database is the operator's
decision to make with its own tools.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from migrations.runner import SERVICES, alembic_config
from shared.db import is_sqlite
from wangge.backup import (
    DATA_SUBDIRS,
    FORMAT,
    MANIFEST,
    libpq_target,
    private_dir,
    sha256_of,
    sqlite_path,
    sqlite_uri,
    timestamp,
)

SIDECARS = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside a database, which belong to that database alone."""
LOCK_WAIT_SECONDS = 0.5


class BackupUnusable(Exception):
    """The folder is not a backup wangge can read: no manifest, or not one it knows (exit 2)."""


class RestoreRefused(Exception):
    """The backup or the moment is not fit for a restore; each reason a line (exit 1)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class RestoreFailed(Exception):
    """The restore stopped half-way (a disk full, a file it could not move or write): the
    message says whether the current files were put back or where they are (exit 1)."""


@dataclass
class Restored:
    kept_in: Path
    databases: list[dict[str, Any]] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BackupUnusable(f"{folder} is not a directory")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupUnusable(
            f"{folder} has no {MANIFEST}: not a backup, or one that did not finish (its manifest is "
            "written last)"
        ) from exc
    except (OSError, ValueError) as exc:
        raise BackupUnusable(f"{path} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupUnusable(f"{path} is not a manifest of format {FORMAT}")
    problem = _malformed(manifest)
    if problem:
        raise BackupUnusable(f"{path} is not a manifest wangge wrote: {problem}")
    return manifest


def _malformed(manifest: dict[str, Any]) -> str | None:
    """What in a manifest is not as ``wangge backup`` writes it. Its files are written where it
    names them, so a name that would reach out of ``keys/``, ``secrets/`` or the database's
    own file is refused (the sha256 checks the files against the manifest, not the manifest)."""
    databases, files = manifest.get("databases"), manifest.get("files")
    if not isinstance(databases, list) or not isinstance(files, dict):
        return "no list of databases, or no files"
    services = [entry.get("service") if isinstance(entry, dict) else None for entry in databases]
    if len(set(services)) != len(services) or not set(services) <= set(SERVICES):
        return f"its databases are not some of {', '.join(SERVICES)}, each once"
    for entry in databases:
        if entry.get("error"):
            continue
        if entry.get("engine") not in ("sqlite", "postgresql") or not isinstance(entry.get("sha256"), str):
            return f"{entry['service']}: no engine or no sha256"
        if entry.get("file") not in (f"{entry['service']}.db", f"{entry['service']}.dump"):
            return f"{entry['service']}: a file named {entry.get('file')!r}"
    for name, entry in files.items():
        parts = PurePosixPath(name).parts
        if len(parts) < 2 or parts[0] not in DATA_SUBDIRS or ".." in parts or not isinstance(entry, dict):
            return f"a file named {name!r}, outside keys/ and secrets/"
    return None


def check_files(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """What is wrong with the backup's files, a line each (nothing: all there, as listed)."""
    problems = [
        f"{entry['service']} was not backed up: {entry['error']}"
        for entry in manifest.get("databases", [])
        if entry.get("error")
    ]
    listed = {entry["file"]: entry for entry in manifest.get("databases", []) if entry.get("file")}
    listed.update(manifest.get("files", {}))
    for name, entry in listed.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing from the backup")
        elif "size" in entry and path.stat().st_size != entry["size"]:
            problems.append(f"{name} is {path.stat().st_size} bytes, the manifest says {entry['size']}")
        elif sha256_of(path) != entry["sha256"]:
            problems.append(f"{name} does not match its sha256 in the manifest: changed or damaged")
    return problems


def postgresql_refusals(folder: Path, manifest: dict[str, Any], urls: dict[str, str]) -> list[str]:
    """A line for each database this command will not restore: on PostgreSQL, here or in the backup."""
    reasons = []
    for entry in manifest.get("databases", []):
        service, url = entry["service"], urls[entry["service"]]
        if entry["engine"] == "postgresql" and not is_sqlite(url):
            dsn, _ = libpq_target(url)
            reasons.append(
                f"{service} is on PostgreSQL: stop the services, then run "
                f"pg_restore --clean --if-exists --no-owner {shlex.quote(f'--dbname={dsn}')} "
                f"{shlex.quote(str(folder / entry['file']))}"
            )
        elif entry["engine"] != "sqlite" or not is_sqlite(url):
            where = "PostgreSQL" if entry["engine"] == "sqlite" else "SQLite"
            reasons.append(
                f"{service}'s backup is of {entry['engine']} and its database here is on {where}: "
                "restore it where it was taken"
            )
    return reasons


def answering(host: str, port: int) -> bool:
    """Something answers ``/healthz`` at ``host:port``."""
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/healthz"
    try:
        httpx.get(url, timeout=LOCK_WAIT_SECONDS)
    except httpx.HTTPError:
        return False
    return True


def lock_exclusively(path: Path) -> sqlite3.Connection | None:
    """A connection holding ``path`` exclusively; None when another connection has it open. A
    file SQLite cannot read as a database (damaged: a reason to restore) is taken as free."""
    connection = sqlite3.connect(sqlite_uri(path, "rw"), uri=True, timeout=LOCK_WAIT_SECONDS)
    connection.isolation_level = None
    try:
        connection.execute("PRAGMA locking_mode=EXCLUSIVE")
        connection.execute("BEGIN EXCLUSIVE")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        connection.execute("ROLLBACK")  # the exclusive locking mode keeps the lock
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            connection.close()
            return None
    except sqlite3.DatabaseError:
        pass
    return connection


def running(files: dict[str, Path], addresses: dict[str, tuple[str, int]]) -> tuple[list[str], list[Any]]:
    """Why a service looks to be running (a line each), and the connections that hold the
    files that are free, to close once every file was found free."""
    reasons, held = [], []
    for service, (host, port) in addresses.items():
        if answering(host, port):
            reasons.append(f"{service} answers at {host}:{port}: stop it first")
    for service, path in files.items():
        if not path.exists():
            continue
        try:
            connection = lock_exclusively(path)
        except sqlite3.Error as exc:
            reasons.append(
                f"{service}'s database {path} cannot be opened ({exc}): "
                "run it as the user the services run as"
            )
            continue
        if connection is None:
            reasons.append(f"{service}'s database {path} is open in another process: stop it first")
        else:
            held.append(connection)
    return reasons, held


def revision_advice(service: str, url: str, revision: str) -> str | None:
    """What to run after the restore, given the backup's revision and this code's."""
    script = ScriptDirectory.from_config(alembic_config(service, url))
    try:
        known = script.get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        return (
            f"{service}'s backup is at revision {revision}, which this wangge does not know: "
            "it was taken by a newer wangge; install that version before starting the services"
        )
    if revision not in script.get_heads():
        return f"{service}'s backup is at {revision}, older than this wangge's: run `wangge migrate`"
    return None


def move_aside(path: Path, into: Path) -> bool:
    """Move ``path`` into ``into`` in one rename, so that a file or folder that cannot be moved
    is left whole where it is; copied and removed only from another file system (a database
    its URL puts elsewhere)."""
    if not (path.exists() or path.is_symlink()):
        return False
    try:
        os.rename(path, into / path.name)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.move(str(path), str(into / path.name))
    return True


def restore(
    folder: Path,
    data_dir: Path,
    urls: dict[str, str],
    addresses: dict[str, tuple[str, int]],
    *,
    now: datetime | None = None,
) -> Restored:
    """Put the backup in ``folder`` back for the services at ``urls`` (their databases) and
    ``addresses`` (where they listen); :class:`BackupUnusable` or :class:`RestoreRefused`
    before anything is touched."""
    manifest = read_manifest(folder)
    refusals = check_files(folder, manifest)
    if refusals:
        raise RestoreRefused(refusals)
    refusals = postgresql_refusals(folder, manifest, urls)
    if refusals:
        raise RestoreRefused(refusals)
    entries = manifest["databases"]
    current = {entry["service"]: sqlite_path(urls[entry["service"]]) for entry in entries}
    refusals, held = running(current, addresses)
    for connection in held:
        connection.close()  # the last connection: SQLite folds the WAL into the file
    if refusals:
        raise RestoreRefused(refusals)

    kept_in = data_dir / f"before-restore-{timestamp(now or datetime.now(UTC))}"
    while kept_in.exists():  # a restore of the same second
        kept_in = kept_in.with_name(kept_in.name + "-again")
    try:
        private_dir(kept_in)
    except OSError as exc:
        raise RestoreRefused([f"the current files cannot be kept aside: {exc}"]) from exc
    replaced = [
        file
        for path in current.values()
        for file in (path, *(path.with_name(path.name + suffix) for suffix in SIDECARS))
    ]
    replaced += [
        data_dir / sub
        for sub in DATA_SUBDIRS
        if any(name.startswith(f"{sub}/") for name in manifest.get("files", {}))
    ]
    there = {path for path in replaced if path.exists() or path.is_symlink()}
    moved: list[Path] = []
    try:
        for path in replaced:
            if move_aside(path, kept_in):
                moved.append(path)
        for entry in entries:
            put(folder / entry["file"], current[entry["service"]])
        for name in manifest.get("files", {}):
            put(folder / name, data_dir / name)
    except OSError as exc:
        raise RestoreFailed(put_back(exc, replaced, there, moved, kept_in)) from exc

    outcome = Restored(kept_in=kept_in)
    for entry in entries:
        outcome.databases.append({**entry, "path": str(current[entry["service"]])})
        advice = revision_advice(entry["service"], urls[entry["service"]], entry["alembic_revision"])
        if advice:
            outcome.next_steps.append(advice)
    return outcome


def put_back(cause: OSError, replaced: list[Path], there: set[Path], moved: list[Path], kept_in: Path) -> str:
    """Undo a restore that stopped half-way: what it wrote removed (all of ``replaced`` but
    what was ``there`` and not yet moved), what it moved aside moved back; what to tell the
    operator."""
    try:
        for path in replaced:
            if path in moved or path not in there:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
        for path in moved:
            shutil.move(str(kept_in / path.name), str(path))
        kept_in.rmdir()
    except OSError as again:
        return (
            f"stopped half-way ({cause}), and putting the current files back failed too ({again}): "
            f"they are in {kept_in}; move them back where they were before starting the services"
        )
    return f"stopped half-way ({cause}); the current files were put back as they were"


def put(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` (mode 0600, its folder 0700 when made here) under a
    temporary name first, so that ``target`` is never a half-copied file."""
    if not target.parent.exists():
        private_dir(target.parent)
    draft = target.with_name(f".{target.name}.restoring")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as data:
            shutil.copyfileobj(data, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(draft, target)
    finally:
        draft.unlink(missing_ok=True)
