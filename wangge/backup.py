"""``wangge backup``: a consistent copy of every service's database and of the data
directory's ``keys/`` and ``secrets/``, taken while the services run.

An SQLite database is copied with SQLite's online backup API in **one step**: the step reads
the whole file inside one read transaction, a snapshot of the last commit before it began.
The services run their SQLite files in WAL mode, where a reader blocks no writer: reports
keep being committed meanwhile, into the WAL, and only the checkpoint waits for the copy to
end (the WAL grows by what was written during it). A copy made in steps of pages with sleeps
between them would instead start over each time another connection commits, which a running
intake does several times a second: it might never end. The copy is written beside its final
name, switched out of WAL mode (one self-contained file), checked (``PRAGMA integrity_check``),
its alembic revision and a few tables' rows read, and only then renamed into place. The read
transactions of all the SQLite databases are opened first, one right after the other, and the
copies made from them after: the three copies are of one moment, so a report intake's copy
marks delivered is in dispatch's (:func:`open_snapshots`).

A PostgreSQL database is dumped with ``pg_dump --format=custom`` when ``pg_dump`` is on the
PATH (its password through ``PGPASSWORD``, never on the command line), and its alembic
revision read back from the dump with ``pg_restore``; without them that database fails, with
the command to run by hand. The dumps are taken one after the other, intake's first, each of
a moment of its own (``pg_dump`` shares no snapshot between databases). Nothing is skipped
silently: a database that could not be copied is named in the manifest with why, and the
command exits 1.

``manifest.json`` says when, which wangge, and per database its file, size, sha256, alembic
revision and row counts; ``wangge restore`` checks it before it touches anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url

from shared.db import is_sqlite

MANIFEST = "manifest.json"
FORMAT = 1
"""The manifest's format; ``wangge restore`` refuses one it does not know."""
DATA_SUBDIRS = ("keys", "secrets")
"""What of the data directory is kept beside the databases: grid's development signing key and
the services' generated client secrets (production sets them in its environment instead)."""
COUNTED = {
    "grid": ("regions", "staff", "api_keys"),
    "intake": ("reports", "photos"),
    "dispatch": ("cases", "case_events"),
}
"""Tables whose rows a manifest counts: what an operator looks at to tell one backup from another."""
FLOW = ("intake", "dispatch", "grid")
"""The order in which the databases are read: a report goes from intake to dispatch, so intake's
is read first (what it marks delivered, dispatch has); grid's is the reference both read."""
BUSY_TIMEOUT_MS = 10_000
"""As the services' own (``shared.db``): how long the copy waits for a lock a writer holds."""


class BackupFailed(Exception):
    """One database could not be copied: the message says why and, where it helps, what to run."""


@dataclass
class DatabaseCopy:
    """One database as a backup holds it, as ``manifest.json`` lists it."""

    service: str
    engine: str
    """``sqlite`` or ``postgresql``."""
    file: str | None = None
    size: int | None = None
    sha256: str | None = None
    alembic_revision: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float | None = None
    error: str | None = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sqlite_path(url: str) -> Path:
    """The file of an SQLite URL (``sqlite+aiosqlite:////srv/var/intake.db``)."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupFailed(f"{url} is not an SQLite file")
    return Path(database)


def sqlite_uri(path: Path, mode: str) -> str:
    """``file:`` URI of ``path`` opened in ``mode`` (``ro``, ``rw``: never created), its name
    quoted (a ``?`` or ``#`` in it would end the path)."""
    return f"file:{quote(str(path))}?mode={mode}"


def private_dir(path: Path) -> Path:
    """``path`` made (with its parents) and its own mode 0700: a backup holds personal data."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def open_snapshot(source: Path) -> sqlite3.Connection:
    """A read transaction on the live database ``source``: the backup copies what it sees, the
    last commit before it began, whatever is committed meanwhile."""
    if not source.exists():
        raise BackupFailed(f"{source} does not exist: run where the services run, or set WANGGE_DATA_DIR")
    # mode=rw: never create the file, which a mistyped data dir would.
    live = sqlite3.connect(sqlite_uri(source, "rw"), uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    live.isolation_level = None
    try:
        # As every service's connection sets it: a database no service has opened yet (just
        # migrated) is in rollback-journal mode, where this read would hold writers off.
        live.execute("PRAGMA journal_mode=WAL")
        live.execute("BEGIN")
        live.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
    except sqlite3.Error as exc:
        live.close()
        raise BackupFailed(f"{source} cannot be read: {exc}") from exc
    return live


def copy_sqlite(live: sqlite3.Connection, target: Path) -> str:
    """Copy the snapshot ``live`` holds to ``target`` (mode 0600) in one step of the online
    backup API (which reads in the source's open transaction), check the copy and return its
    alembic revision."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        copy = sqlite3.connect(partial)
        try:
            live.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
        finally:
            copy.close()
        live.execute("ROLLBACK")
        revision = check_sqlite(partial)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupFailed(f"{target.name} could not be copied: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return revision


def check_sqlite(path: Path) -> str:
    """``PRAGMA integrity_check`` of a copy, and its alembic revision."""
    connection = sqlite3.connect(sqlite_uri(path, "ro"), uri=True)
    try:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check(10)")]
        if problems != ["ok"]:
            raise BackupFailed(f"the copy of {path.name} fails its integrity check: {'; '.join(problems)}")
        return alembic_revision(connection, path)
    finally:
        connection.close()


def alembic_revision(connection: sqlite3.Connection, path: Path) -> str:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as exc:
        raise BackupFailed(f"{path.name} has no alembic_version: was it ever migrated?") from exc
    if row is None:
        raise BackupFailed(f"{path.name} has an empty alembic_version: was it ever migrated?")
    return str(row[0])


def count_rows(path: Path, tables: Iterable[str]) -> dict[str, int]:
    """Rows of each table the copy at ``path`` has (a table it has not is left out)."""
    connection = sqlite3.connect(sqlite_uri(path, "ro"), uri=True)
    try:
        counts = {}
        for table in tables:
            try:
                counts[table] = int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
            except sqlite3.OperationalError:
                continue
        return counts
    finally:
        connection.close()


SSL_MODES = {"true": "require", "false": "disable"}
"""asyncpg's ``ssl=true`` and ``ssl=false`` as libpq's ``sslmode`` names them; its other values
(``require``, ``verify-full`` …) are libpq's own."""


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy PostgreSQL URL (``postgresql+asyncpg://u:pw@host/db?ssl=require``) as
    libpq's tools take it: a ``postgresql://`` URL without the password, and the environment
    that gives them the password (``PGPASSWORD``: not seen in ``ps``, as an argument is)."""
    parsed = make_url(url)
    query = dict(parsed.query)
    if "ssl" in query:
        ssl = query.pop("ssl")
        query["sslmode"] = SSL_MODES.get(ssl, ssl) if isinstance(ssl, str) else ssl
    bare = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=query,
    )
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return bare.render_as_string(hide_password=False), env


def dump_postgresql(url: str, target: Path) -> str:
    """``pg_dump --format=custom`` of the database at ``url`` into ``target`` (mode 0600), read
    back with ``pg_restore``; its alembic revision as the dump holds it."""
    dsn, env = libpq_target(url)
    by_hand = f"pg_dump --format=custom {shlex.quote(f'--file={target}')} {shlex.quote(dsn)}"
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        raise BackupFailed(
            f"pg_dump/pg_restore are not on the PATH; install PostgreSQL's client, or run: {by_hand}"
        )
    partial = target.with_name(f".{target.name}.partial")
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    full_env = {**os.environ, **env}
    try:
        run = [
            "pg_dump",
            "--format=custom",
            "--no-password",
            f"--file={partial}",
            f"--dbname={dsn}",
        ]
        done = subprocess.run(run, env=full_env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BackupFailed(f"pg_dump failed: {_first_line(done.stderr)}; by hand: {by_hand}")
        data = subprocess.run(
            ["pg_restore", "--data-only", "--table=alembic_version", "--file=-", str(partial)],
            capture_output=True,
            text=True,
            check=False,
        )
        if data.returncode != 0:
            raise BackupFailed(f"the dump cannot be read back: {_first_line(data.stderr)}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return _revision_in_copy(data.stdout)


def _revision_in_copy(sql: str) -> str:
    """The row of ``COPY public.alembic_version … FROM stdin;`` in ``pg_restore``'s output."""
    lines = sql.splitlines()
    for number, line in enumerate(lines):
        following = lines[number + 1] if number + 1 < len(lines) else "\\."
        if line.startswith("COPY ") and "alembic_version" in line and following != "\\.":
            return following.strip()
    raise BackupFailed("the dump has no alembic_version row: was the database ever migrated?")


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"


def copy_database(
    service: str, url: str, folder: Path, snapshot: sqlite3.Connection | BackupFailed | None
) -> DatabaseCopy:
    """Copy one service's database into ``folder`` (an SQLite one from the ``snapshot`` opened
    on it); a failure is noted in the result, not raised."""
    started = time.monotonic()
    engine = "sqlite" if is_sqlite(url) else "postgresql"
    result = DatabaseCopy(service=service, engine=engine)
    name = f"{service}.db" if engine == "sqlite" else f"{service}.dump"
    try:
        if isinstance(snapshot, BackupFailed):
            raise snapshot
        if snapshot is not None:
            result.alembic_revision = copy_sqlite(snapshot, folder / name)
            result.rows = count_rows(folder / name, COUNTED[service])
        else:
            result.alembic_revision = dump_postgresql(url, folder / name)
    except (BackupFailed, OSError) as exc:
        result.error = str(exc)
        return result
    result.file = name
    result.size = (folder / name).stat().st_size
    result.sha256 = sha256_of(folder / name)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def open_snapshots(urls: dict[str, str]) -> dict[str, sqlite3.Connection | BackupFailed]:
    """A snapshot of every SQLite database, opened one right after the other (the three in
    1.5 ms, measured) before any is copied, in the order reports flow (``FLOW``).

    intake's first: every report its copy marks delivered was committed by dispatch before,
    so it is in dispatch's copy; one it has pending is sent again after a restore, and
    dispatch takes it once. Copied each at its own moment, seconds apart, the copies would
    disagree the more: dispatch's would hold cases of reports intake's has not (dispatch's
    status changes for them are then "no report known here" to intake), and in the other
    order a report delivered between the two would be marked sent in intake's copy and
    missing from dispatch's: a lost case. What remains is a status change dispatch marks
    delivered within that 1.5 ms, which intake's copy may not have."""
    snapshots: dict[str, sqlite3.Connection | BackupFailed] = {}
    for service in FLOW:
        if service in urls and is_sqlite(urls[service]):
            try:
                snapshots[service] = open_snapshot(sqlite_path(urls[service]))
            except BackupFailed as exc:
                snapshots[service] = exc
    return snapshots


def copy_data_files(data_dir: Path, folder: Path) -> dict[str, dict[str, str]]:
    """``keys/`` and ``secrets/`` of the data directory into ``folder`` (directories 0700,
    files 0600): each file's path in the backup and its sha256."""
    files: dict[str, dict[str, str]] = {}
    for sub in DATA_SUBDIRS:
        source = data_dir / sub
        if not source.is_dir():
            continue
        for path in sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith(".")):
            relative = path.relative_to(data_dir)
            target = folder / relative
            private_dir(target.parent)
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as draft:
                draft.write(path.read_bytes())
            os.chmod(draft.name, 0o600)
            os.replace(draft.name, target)
            files[relative.as_posix()] = {"sha256": sha256_of(target)}
    return files


def timestamp(now: datetime) -> str:
    """A backup's folder name: UTC, sortable, no characters a shell or Windows minds."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def take_backup(
    destination: Path,
    data_dir: Path,
    urls: dict[str, str],
    *,
    now: datetime | None = None,
    each: Callable[[DatabaseCopy], None] = lambda copy: None,
) -> tuple[Path, dict[str, Any]]:
    """Back up each service's database (``urls``) and the data
    directory's keys and secrets into a new folder under ``destination``; ``each`` hears of
    every database as it is done. The folder and the manifest; the manifest is written last,
    so a folder without one is a backup that did not finish."""
    now = now or datetime.now(UTC)
    folder = destination / timestamp(now)
    destination.mkdir(parents=True, exist_ok=True, mode=0o700)  # one given is left as it is
    try:  # made, not found: of two backups started in the same second, the second is refused
        folder.mkdir(mode=0o700)
    except FileExistsError:
        raise FileExistsError(f"{folder} already exists") from None
    folder.chmod(0o700)  # whatever the umask took off
    databases = []
    snapshots = open_snapshots(urls)
    try:
        for service in FLOW:
            if service in urls:
                copied = copy_database(service, urls[service], folder, snapshots.get(service))
                databases.append(copied)
                each(copied)
    finally:
        for snapshot in snapshots.values():
            if isinstance(snapshot, sqlite3.Connection):
                snapshot.close()
    manifest = {
        "format": FORMAT,
        "taken_at": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "wangge_version": metadata.version("wangge"),
        "data_dir": str(data_dir.resolve()),
        "complete": all(copy.error is None for copy in databases),
        "databases": [{k: v for k, v in asdict(copy).items() if v is not None} for copy in databases],
        "files": copy_data_files(data_dir, folder),
    }
    path = folder / MANIFEST
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(manifest, file, indent=2, ensure_ascii=False)
        file.write("\n")
    return folder, manifest
