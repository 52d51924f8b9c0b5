"""``wangge backup`` as an office uses it on the embedded default: taken while intake takes
reports, every report committed before it in the copy, which passes its integrity check; the
manifest and the files' modes; the copies of one moment. PostgreSQL: a database without
``pg_dump`` fails clearly; with it, a real dump of a scratch database. (``test_restore.py``
puts backups back.)

intake runs in-process on the files the CLI reads (as in ``test_outbox.py``), its peers faked;
the CLI runs in a thread of its own, as it runs in a process of its own beside the services.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shlex
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from alembic.script import ScriptDirectory
from asgi_lifespan import LifespanManager

from migrations.runner import SERVICES, alembic_config
from services.intake.app import create_app as create_intake_app
from services.intake.settings import IntakeSettings
from shared.actors import Role
from shared.secrets import dev_secret
from tests.conftest import CHECKOUT, PG_SERVER, WORKER, pg_url
from tests.intake.factories import report_body
from tests.intake.fakes import CELL_A1, INTAKE_SECRET, FakeDispatch
from tests.intake.fakes import FakeGrid as IntakeGrid
from tests.support.tokens import bearer
from tests.wangge.test_outbox import Cli
from tests.wangge.test_outbox import wangge as wangge  # the fixture
from wangge import operations
from wangge.backup import BackupFailed, DatabaseCopy, dump_postgresql, libpq_target, take_backup
from wangge.restore import postgresql_refusals

REPORTER = bearer("wang.fang", Role.grid_worker, regions=[CELL_A1])


@asynccontextmanager
async def intake() -> AsyncIterator[httpx.AsyncClient]:
    """intake running on the data dir's intake.db, its relay stopped (dispatch is faked)."""
    settings = IntakeSettings(background_tasks=False, client_secret=INTAKE_SECRET)
    transports = {
        "grid": httpx.MockTransport(IntakeGrid().handler),
        "dispatch": httpx.MockTransport(FakeDispatch().handler),
    }
    app = create_intake_app(settings, transports=transports)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client


async def report(client: httpx.AsyncClient) -> str:
    body = report_body()
    answer = await client.post("/v1/reports", json=body, headers=REPORTER)
    assert answer.status_code == 201, answer.text
    return str(body["id"])


async def backed_up(wangge: Cli, *argv: str) -> tuple[Path, dict[str, Any]]:
    code, out = await wangge("backup", *argv)
    assert code == 0, out
    folder = Path(out.split("backup in ", 1)[1].split(":", 1)[0])
    return folder, json.loads((folder / "manifest.json").read_text())


def ids_in(database: Path) -> set[str]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return {str(row[0]).replace("-", "") for row in connection.execute("SELECT id FROM reports")}
    finally:
        connection.close()


def hexed(ids: set[str]) -> set[str]:
    return {report_id.replace("-", "") for report_id in ids}


async def test_a_backup_taken_while_reports_come_in_holds_every_report_committed_before_it(
    wangge: Cli, data_dir: Path
) -> None:
    await asyncio.to_thread(operations.migrate)
    secret = data_dir / "secrets" / "service-intake"
    dev_secret(data_dir, "service-intake")  # as grid makes it in development
    async with intake() as client:
        before = {await report(client) for _ in range(20)}
        written: list[str] = []
        writing = True

        async def keep_writing() -> None:
            while writing:
                written.append(await report(client))

        writer = asyncio.create_task(keep_writing())
        await asyncio.sleep(0.05)
        committed = before | set(written)  # 201: committed before the backup began
        folder, manifest = await backed_up(wangge)
        during = len(written) - len(committed - before)
        writing = False
        await writer

    assert during > 0, "intake went on taking reports while the backup ran"
    copy = folder / "intake.db"
    assert hexed(committed) <= ids_in(copy)
    assert sqlite3.connect(copy).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not copy.with_name("intake.db-wal").exists(), "the copy is one file"

    # The manifest: what an operator checks.
    assert manifest["complete"] is True and manifest["format"] == 1
    assert manifest["taken_at"].endswith("Z") and manifest["wangge_version"]
    entries = {entry["service"]: entry for entry in manifest["databases"]}
    assert list(entries) == ["intake", "dispatch", "grid"]  # the order reports flow
    for service, entry in entries.items():
        path = folder / entry["file"]
        assert entry["engine"] == "sqlite" and entry["size"] == path.stat().st_size
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["alembic_revision"].startswith(f"{service}_")
    assert entries["intake"]["rows"]["reports"] == len(ids_in(copy)) >= len(committed)
    assert entries["grid"]["rows"]["staff"] == 0
    assert secret.exists() and manifest["files"]["secrets/service-intake"]["sha256"]
    assert (folder / "secrets" / "service-intake").read_bytes() == secret.read_bytes()

    # Personal data and secrets: the owner's alone.
    assert folder.parent == data_dir / "backups"
    for path in (folder, folder / "secrets"):
        assert path.stat().st_mode & 0o777 == 0o700, path
    for path in (p for p in folder.rglob("*") if p.is_file()):
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_the_copies_agree_with_one_another_as_of_one_moment(data_dir: Path) -> None:
    """Every database's snapshot is taken before any is copied: what dispatch commits while
    intake's copy is made (a report intake's copy has not, delivered) is in neither copy."""
    operations.migrate()
    urls = {service: operations.service_database(service) for service in SERVICES}

    def meanwhile(copy: DatabaseCopy) -> None:
        if copy.service == "intake":
            with sqlite3.connect(data_dir / "dispatch.db") as dispatch:
                dispatch.execute("CREATE TABLE committed_after_the_snapshots (x)")

    folder, manifest = take_backup(data_dir / "backups", data_dir, urls, each=meanwhile)
    assert manifest["complete"]
    copy = sqlite3.connect(folder / "dispatch.db")
    assert not copy.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'committed_after_the_snapshots'"
    ).fetchall()
    copy.close()


def test_a_postgresql_url_as_pg_dump_takes_it() -> None:
    dsn, env = libpq_target("postgresql+asyncpg://wangge:s3cr%40t@db.example:5433/wangge_intake?ssl=require")
    assert dsn == "postgresql://wangge@db.example:5433/wangge_intake?sslmode=require"
    assert env == {"PGPASSWORD": "s3cr@t"}
    # asyncpg's ssl=true is libpq's require; sslmode=true was no mode pg_dump knows
    assert libpq_target("postgresql+asyncpg://w@db/x?ssl=true")[0] == "postgresql://w@db/x?sslmode=require"
    assert libpq_target("postgresql+asyncpg://w@db/x?ssl=false")[0] == "postgresql://w@db/x?sslmode=disable"


def test_a_second_backup_in_the_same_second_is_refused_not_written_beside_the_first(
    data_dir: Path, tmp_path: Path
) -> None:
    """The folder is made, not looked for first: between a look and a make, a backup started
    in the same second could make it too, and both would write into one."""
    operations.migrate(["grid"])
    urls = {"grid": f"sqlite+aiosqlite:///{data_dir / 'grid.db'}"}
    now = datetime(2026, 12, 6, 20, 30, tzinfo=UTC)
    folder, _ = take_backup(tmp_path / "backups", data_dir, urls, now=now)
    (folder / "keys").mkdir(exist_ok=True)

    with pytest.raises(FileExistsError, match="already exists"):
        take_backup(tmp_path / "backups", data_dir, urls, now=now)
    assert folder.stat().st_mode & 0o777 == 0o700


async def test_a_postgresql_database_without_pg_dump_fails_by_name(
    wangge: Cli, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(operations.migrate, ["grid", "dispatch"])
    url = "postgresql+asyncpg://wangge:hush@127.0.0.1:5432/wangge_intake"
    monkeypatch.setenv("WANGGE_INTAKE_DATABASE_URL", url)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    code, out = await wangge("backup")
    assert code == 1
    (line,) = [line for line in out.splitlines() if "intake" in line and "pg_dump" in line]
    assert line.startswith("✗ intake: pg_dump/pg_restore are not on the PATH")
    assert (
        "pg_dump --format=custom --file=" in line
        and "postgresql://wangge@127.0.0.1:5432/wangge_intake" in line
    )
    assert "hush" not in out
    assert "✓ grid" in out and "✓ dispatch" in out and "backup incomplete" in out
    (folder,) = (data_dir / "backups").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] is False
    code, out = await wangge("restore", str(folder))
    assert code == 1 and "intake was not backed up" in out


@pytest.fixture
async def scratch_postgresql() -> AsyncIterator[str]:
    """A database of this test's own on the test server, dropped after."""
    name = f"wangge_backup_test_{CHECKOUT}_{WORKER}"
    server = await asyncpg.connect(f"{PG_SERVER}/postgres")
    try:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.execute(f'CREATE DATABASE "{name}"')
        yield pg_url(name)
    finally:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.close()


def listing(dump: Path) -> str:
    return subprocess.run(
        ["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed here")
async def test_a_postgresql_database_is_dumped_with_pg_dump(
    wangge: Cli, data_dir: Path, scratch_postgresql: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANGGE_INTAKE_DATABASE_URL", scratch_postgresql)
    await asyncio.to_thread(operations.migrate)
    folder, manifest = await backed_up(wangge)
    entry = next(entry for entry in manifest["databases"] if entry["service"] == "intake")
    dump = folder / "intake.dump"
    assert entry["engine"] == "postgresql" and entry["file"] == "intake.dump"
    head = ScriptDirectory.from_config(alembic_config("intake", scratch_postgresql)).get_current_head()
    assert entry["alembic_revision"] == head and entry["size"] == dump.stat().st_size
    assert dump.stat().st_mode & 0o777 == 0o600
    assert "TABLE public reports" in listing(dump)

    code, out = await wangge("restore", str(folder))
    assert code == 1
    assert "intake is on PostgreSQL: stop the services, then run pg_restore --clean" in out
    assert str(dump) in out


async def test_a_destination_that_is_not_a_directory_is_unusable(
    wangge: Cli, data_dir: Path, tmp_path: Path
) -> None:
    await asyncio.to_thread(operations.migrate)
    (tmp_path / "a-file").write_text("")
    code, out = await wangge("backup", "--to", str(tmp_path / "a-file"))
    assert code == 2 and "not a directory" in out
    code, out = await wangge("backup", "--to", str(tmp_path / "a-file" / "below"))
    assert code == 2 and "cannot back up into" in out


def test_the_postgresql_commands_named_take_a_path_with_spaces_as_one_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An office's backups under ``/srv/备份 夜间/``: the command it is told to run, pasted into a
    shell, reads and writes that file, not ``/srv/备份`` and a second argument."""
    url = "postgresql+asyncpg://wangge:hush@127.0.0.1:5432/wangge_intake"
    folder = tmp_path / "备份 夜间" / "20261206T021500Z"
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with pytest.raises(BackupFailed) as failed:
        dump_postgresql(url, folder / "intake.dump")
    dump = shlex.split(str(failed.value).split("run: ", 1)[1])
    assert dump[0] == "pg_dump" and f"--file={folder / 'intake.dump'}" in dump

    manifest = {"databases": [{"service": "intake", "engine": "postgresql", "file": "intake.dump"}]}
    (refusal,) = postgresql_refusals(folder, manifest, {"intake": url})
    restore = shlex.split(refusal.split("then run ", 1)[1])
    assert restore[0] == "pg_restore" and restore[-1] == str(folder / "intake.dump")
    assert "--dbname=postgresql://wangge@127.0.0.1:5432/wangge_intake" in restore
