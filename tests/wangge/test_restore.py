"""``wangge restore``: a backup put back after the data changed, which the service then reads;
the ``-wal`` and ``-shm`` a crash left kept aside with what was replaced; and the restores that
must be refused, touching nothing: a tampered file, no manifest, a service running (holding
its database open, or answering at its port). The advice on what to run next.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.secrets import dev_secret
from tests.wangge.test_backup import REPORTER, backed_up, hexed, ids_in, intake, report
from tests.wangge.test_outbox import Cli
from tests.wangge.test_outbox import wangge as wangge  # the fixture
from wangge import operations
from wangge.restore import revision_advice


async def test_restore_puts_the_data_back_as_it_was_backed_up(
    wangge: Cli, data_dir: Path, tmp_path: Path
) -> None:
    await asyncio.to_thread(operations.migrate)
    dev_secret(data_dir, "service-intake")
    async with intake() as client:
        kept = await report(client)
        folder, manifest = await backed_up(wangge, "--to", str(tmp_path / "elsewhere"))
        lost = await report(client)
    assert folder.parent == tmp_path / "elsewhere"
    secret = data_dir / "secrets" / "service-intake"
    backed_up_secret = secret.read_bytes()
    secret.write_text("changed since")

    code, out = await wangge("restore", str(folder))
    assert code == 0, out
    assert "the files it replaced are in" in out and "start the services" in out
    (kept_in,) = kept_folders(data_dir)
    assert kept_in.stat().st_mode & 0o777 == 0o700
    assert hexed({kept, lost}) <= ids_in(kept_in / "intake.db"), "what it replaced is kept"
    assert (kept_in / "secrets" / "service-intake").read_text() == "changed since"
    assert secret.read_bytes() == backed_up_secret
    restored = data_dir / "intake.db"
    assert restored.stat().st_mode & 0o777 == 0o600
    (entry,) = [entry for entry in manifest["databases"] if entry["service"] == "intake"]
    assert hashlib.sha256(restored.read_bytes()).hexdigest() == entry["sha256"]

    async with intake() as client:  # the service starts on it and reads it
        assert (await client.get(f"/v1/reports/{kept}", headers=REPORTER)).status_code == 200
        assert (await client.get(f"/v1/reports/{lost}", headers=REPORTER)).status_code == 404


def crash_leaving_a_wal(database: Path) -> None:
    """A process that wrote to ``database`` and was killed: its ``-wal`` (holding the commit) and
    ``-shm`` are left beside the file."""
    script = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL')\n"
        "c.execute('PRAGMA wal_autocheckpoint=0')\n"
        "c.execute('CREATE TABLE left_by_the_crash (x)')\n"
        "c.execute('INSERT INTO left_by_the_crash VALUES (1)')\n"
        "c.commit(); os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(database)], check=True)


async def test_restore_leaves_no_wal_or_shm_beside_the_restored_database(wangge: Cli, data_dir: Path) -> None:
    await asyncio.to_thread(operations.migrate)
    folder, _ = await backed_up(wangge)
    database = data_dir / "intake.db"
    crash_leaving_a_wal(database)
    assert database.with_name("intake.db-wal").stat().st_size > 0
    assert database.with_name("intake.db-shm").exists()

    code, out = await wangge("restore", str(folder))
    assert code == 0, out
    for suffix in ("-wal", "-shm"):
        assert not database.with_name(f"intake.db{suffix}").exists()
    (kept_in,) = kept_folders(data_dir)
    kept = sqlite3.connect(kept_in / "intake.db")
    assert kept.execute("SELECT x FROM left_by_the_crash").fetchall() == [(1,)], "the WAL's commit is kept"
    kept.close()
    restored = sqlite3.connect(database)
    assert not restored.execute("SELECT name FROM sqlite_master WHERE name = 'left_by_the_crash'").fetchall()
    restored.close()


def kept_folders(data_dir: Path) -> list[Path]:
    return list(data_dir.glob("before-restore-*"))


def drafts(data_dir: Path) -> list[Path]:
    return list(data_dir.glob(".*.restoring"))


def unchanged(data_dir: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in data_dir.glob("*.db")}


async def test_restore_refuses_a_tampered_file_or_no_manifest_and_touches_nothing(
    wangge: Cli, data_dir: Path
) -> None:
    await asyncio.to_thread(operations.migrate)
    folder, _ = await backed_up(wangge)
    before = unchanged(data_dir)

    with sqlite3.connect(folder / "dispatch.db") as tampered:
        tampered.execute("DELETE FROM alembic_version")
    code, out = await wangge("restore", str(folder))
    assert code == 1
    assert "dispatch.db does not match its sha256" in out and "nothing was changed" in out

    (folder / "manifest.json").unlink()
    code, out = await wangge("restore", str(folder))
    assert code == 2 and "has no manifest.json" in out

    assert unchanged(data_dir) == before
    assert not kept_folders(data_dir)


HOLD_OPEN = (
    "import sqlite3, sys, time\n"
    "c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL')\n"
    "c.execute('SELECT count(*) FROM sqlite_master').fetchall()\n"
    "print('open', flush=True); time.sleep(60)\n"
)
"""A process that holds the database open and idle, as a service's pool does between requests."""


@contextmanager
def holding_open(database: Path) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        yield
    finally:
        holder.kill()
        holder.wait()


@contextmanager
def answering_at(port: int) -> Iterator[None]:
    """Something that answers HTTP at the port a service is configured to listen on."""
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=0.2)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield
    finally:
        server.kill()
        server.wait()


async def test_restore_refuses_while_a_service_runs(wangge: Cli, data_dir: Path) -> None:
    await asyncio.to_thread(operations.migrate)
    folder, _ = await backed_up(wangge)

    async with intake() as client:  # running, idle after a request
        await report(client)
        code, out = await wangge("restore", str(folder))
    assert code == 1, out
    assert f"intake's database {data_dir / 'intake.db'} is open in another process" in out
    assert not kept_folders(data_dir)

    with holding_open(data_dir / "dispatch.db"):
        code, out = await wangge("restore", str(folder))
    assert code == 1 and "dispatch's database" in out and "open in another process" in out
    before = unchanged(data_dir)

    port = int(os.environ["WANGGE_GRID_PORT"])
    with answering_at(port):
        code, out = await wangge("restore", str(folder))
    assert code == 1 and f"grid answers at 127.0.0.1:{port}: stop it first" in out

    assert unchanged(data_dir) == before
    assert not kept_folders(data_dir)
    code, out = await wangge("restore", str(folder))  # all stopped
    assert code == 0, out


def test_what_to_run_after_restoring_a_backup_of_another_revision(data_dir: Path) -> None:
    url = operations.service_database("intake")
    assert revision_advice("intake", url, "intake_0001") == (
        "intake's backup is at intake_0001, older than this wangge's: run `wangge migrate`"
    )
    newer = revision_advice("intake", url, "intake_9999")
    assert newer is not None and "this wangge does not know" in newer and "newer wangge" in newer
    (settings,) = operations.migrate(["intake"])
    head = sqlite3.connect(settings.database_url.split("///", 1)[1]).execute("SELECT * FROM alembic_version")
    assert revision_advice("intake", url, head.fetchone()[0]) is None


async def test_a_manifest_naming_a_file_outside_the_backup_is_refused(wangge: Cli, data_dir: Path) -> None:
    await asyncio.to_thread(operations.migrate)
    folder, manifest = await backed_up(wangge)
    (folder / "evil").write_text("x")
    manifest["files"]["secrets/../../evil"] = {"sha256": hashlib.sha256(b"x").hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    code, out = await wangge("restore", str(folder))
    assert code == 2 and "outside keys/ and secrets/" in out
    assert not kept_folders(data_dir)


async def test_a_backup_restores_onto_a_new_disk(
    wangge: Cli, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk failed: the backup, copied off the machine, is put back into an empty data dir."""
    await asyncio.to_thread(operations.migrate)
    dev_secret(data_dir, "service-intake")
    async with intake() as client:
        kept = await report(client)
    folder, _ = await backed_up(wangge, "--to", str(tmp_path / "off-the-machine"))
    new = tmp_path / "new-disk" / "var"
    monkeypatch.setenv("WANGGE_DATA_DIR", str(new))

    code, out = await wangge("restore", str(folder))
    assert code == 0, out
    assert {path.name for path in new.iterdir() if not path.name.startswith("before-restore-")} == {
        "grid.db",
        "intake.db",
        "dispatch.db",
        "secrets",
    }
    assert (new / "intake.db").stat().st_mode & 0o777 == 0o600
    async with intake() as client:
        assert (await client.get(f"/v1/reports/{kept}", headers=REPORTER)).status_code == 200


async def test_a_restore_that_stops_half_way_puts_the_current_files_back(
    wangge: Cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills while dispatch's copy is written: intake's was already put in place and
    the current files moved aside. They go back where they were, and the operator is told."""
    await asyncio.to_thread(operations.migrate)
    dev_secret(data_dir, "service-intake")
    folder, _ = await backed_up(wangge)
    async with intake() as client:
        await report(client)
    secret = data_dir / "secrets" / "service-intake"
    secret.write_text("changed since")
    before = unchanged(data_dir)
    copy = shutil.copyfileobj

    def disk_full(source: Any, target: Any, length: int = 0) -> None:
        if Path(source.name).name == "dispatch.db":
            target.write(b"half a database")
            raise OSError(errno.ENOSPC, "No space left on device")
        copy(source, target, length)

    monkeypatch.setattr(shutil, "copyfileobj", disk_full)
    code, out = await wangge("restore", str(folder))
    assert code == 1, out
    assert "No space left on device" in out and "put back" in out
    assert unchanged(data_dir) == before
    assert secret.read_text() == "changed since"
    assert not drafts(data_dir)
    assert not kept_folders(data_dir)


async def test_a_restore_onto_a_new_disk_that_fills_leaves_it_empty(
    wangge: Cli, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(operations.migrate)
    dev_secret(data_dir, "service-intake")
    folder, _ = await backed_up(wangge, "--to", str(tmp_path / "off-the-machine"))
    new = tmp_path / "new-disk" / "var"
    new.mkdir(parents=True)
    monkeypatch.setenv("WANGGE_DATA_DIR", str(new))
    copy = shutil.copyfileobj

    def disk_full(source: Any, target: Any, length: int = 0) -> None:
        if Path(source.name).parent.name == "secrets":
            raise OSError(errno.ENOSPC, "No space left on device")
        copy(source, target, length)

    monkeypatch.setattr(shutil, "copyfileobj", disk_full)
    code, out = await wangge("restore", str(folder))
    assert code == 1 and "put back" in out, out
    assert not list(new.iterdir()), "no database restored without its secrets"


async def test_a_folder_it_cannot_move_aside_is_left_whole_where_it_is(
    wangge: Cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``secrets/`` is immutable (``chattr +i``): neither it nor its files can be renamed or
    removed. The restore stops before it copies anything, and no copy of it is left behind."""
    await asyncio.to_thread(operations.migrate)
    dev_secret(data_dir, "service-intake")
    folder, _ = await backed_up(wangge)
    before = unchanged(data_dir)
    rename, unlink = os.rename, os.unlink

    def immutable_rename(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if Path(source).name == "secrets":
            raise PermissionError(errno.EPERM, "Operation not permitted", str(source))
        rename(source, target, *args, **kwargs)

    def immutable_unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).name == "service-intake":
            raise PermissionError(errno.EPERM, "Operation not permitted", str(path))
        unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "rename", immutable_rename)
    monkeypatch.setattr(os, "unlink", immutable_unlink)
    code, out = await wangge("restore", str(folder))
    assert code == 1, out
    assert "Operation not permitted" in out and "put back as they were" in out
    assert unchanged(data_dir) == before
    assert not kept_folders(data_dir)


async def test_a_restore_run_as_a_user_who_cannot_open_or_write_the_data_dir_is_refused(
    wangge: Cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator runs it as themselves, not as the user the services run as: the files
    cannot be opened, or the data dir cannot be written. Refused, nothing touched, and why."""
    await asyncio.to_thread(operations.migrate)
    folder, _ = await backed_up(wangge)
    before = unchanged(data_dir)
    connect, mkdir = sqlite3.connect, os.mkdir

    def unreadable(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if "dispatch.db" in str(database):
            raise sqlite3.OperationalError("unable to open database file")
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", unreadable)
    code, out = await wangge("restore", str(folder))
    assert code == 1, out
    assert "nothing was changed" in out and "unable to open database file" in out
    assert "run it as the user the services run as" in out
    monkeypatch.setattr(sqlite3, "connect", connect)

    def read_only(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).name.startswith("before-restore-"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", read_only)
    code, out = await wangge("restore", str(folder))
    assert code == 1, out
    assert "nothing was changed" in out and "Permission denied" in out
    assert unchanged(data_dir) == before
