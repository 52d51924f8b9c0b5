"""Databases and processes for a bench run: fresh PostgreSQL databases, the services started the
way ``wangge up`` starts them (one uvicorn worker each), pinning, and peak RSS from ``/proc``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from wangge.processes import START_ORDER, ServiceProcess, free_port, start_all, stop_all


@dataclass(frozen=True)
class Cores:
    """Which CPUs the servers and the load generator run on (``None``: wherever the OS likes)."""

    server: set[int] | None
    generator: set[int] | None

    @classmethod
    def plan(cls, pin: bool) -> Cores:
        available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if not pin or len(available) < 2:
            return cls(None, None)
        return cls({available[0]}, {available[-1]})

    def describe(self) -> dict[str, Any]:
        return {
            "server": sorted(self.server) if self.server else "any",
            "generator": sorted(self.generator) if self.generator else "any",
            "cpus": os.cpu_count(),
        }


def pin(pid: int, cpus: set[int] | None) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, cpus)


async def recreate_database(server: str, name: str) -> str:
    """Drop and create ``name`` on ``server`` (``postgresql://user@host:port``); its SQLAlchemy URL."""
    connection = await asyncpg.connect(f"{server}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return server.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"


async def drop_database(server: str, name: str) -> None:
    connection = await asyncpg.connect(f"{server}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def dsn(url: str) -> str:
    """An asyncpg DSN from a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class PeakRss:
    """Samples each watched process's peak RSS (``VmHWM``, the kernel's own high-water mark)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._pids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def watch(self, label: str, pid: int) -> None:
        with self._lock:
            self._pids[label] = pid

    def sample(self) -> None:
        with self._lock:
            pids = dict(self._pids)
        for label, pid in pids.items():
            peak = read_peak_rss(pid)
            if peak is not None:
                self.peaks[label] = max(self.peaks.get(label, 0), peak)

    def forget(self, label: str) -> None:
        self.sample()
        with self._lock:
            self._pids.pop(label, None)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.sample()
        self._stop.set()
        self._thread.join()

    def megabytes(self) -> dict[str, float]:
        return {label: round(kb / 1024, 1) for label, kb in sorted(self.peaks.items())}


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """The CPU time (user + system) ``pid`` has used so far, from ``/proc/<pid>/stat``, with its
    children's that exited and were waited for when ``reaped_children``; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def postgres_cpu_seconds() -> float:
    """The CPU time every PostgreSQL process on this machine has used so far (the bench's server
    is local). A backend that has exited counts through the postmaster, which waited for it:
    an app whose pool opens and closes connections under load keeps its database work."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith("postgres"):
                    total += cpu_seconds(int(entry.name), reaped_children=True)
            except OSError:
                continue
    return total


def read_peak_rss(pid: int) -> int | None:
    """Peak resident set size of ``pid`` in kB, from ``/proc/<pid>/status``."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


@dataclass
class Process:
    """A server for the bench (baseline app, null server) started like the services are."""

    label: str
    argv: list[str]
    port: int
    ready_path: str | None = "/openapi.json"
    env: Mapping[str, str] = field(default_factory=dict)
    log_path: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, cpus: set[int] | None, timeout: float = 30.0) -> None:
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.argv, env={**os.environ, **self.env}, stdout=output, stderr=subprocess.STDOUT
        )
        pin(self.process.pid, cpus)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited with code {self.process.returncode}")
            try:
                if self.ready_path is None:
                    with contextlib.closing(socket.create_connection(("127.0.0.1", self.port), timeout=1.0)):
                        return
                elif httpx.get(self.url + self.ready_path, timeout=1.0).status_code == 200:
                    return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} did not start within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def running(process: Process, cpus: set[int] | None, rss: PeakRss) -> Iterator[Process]:
    process.start(cpus)
    assert process.process is not None
    rss.watch(process.label, process.process.pid)
    try:
        yield process
    finally:
        rss.forget(process.label)
        process.stop()


@dataclass
class Services:
    urls: dict[str, str]
    databases: dict[str, str]
    processes: dict[str, ServiceProcess]


SERVICE_ENV = {
    # "test": development secrets are generated in the data dir (production refuses them).
    "WANGGE_ENVIRONMENT": "test",
    "WANGGE_GRID_LOG_LEVEL": "warning",
    "WANGGE_INTAKE_LOG_LEVEL": "warning",
    "WANGGE_DISPATCH_LOG_LEVEL": "warning",
}


def seed(env: Mapping[str, str]) -> None:
    """Migrate and seed the demo territory, the way an operator does: ``wangge seed``."""
    done = subprocess.run(
        [sys.executable, "-m", "wangge.cli", "seed"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wangge seed failed:\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def three_services(
    databases: dict[str, str],
    *,
    cpus: Mapping[str, set[int] | None],
    rss: PeakRss,
    label: str,
    log_dir: Path,
    extra_env: Mapping[str, str] | None = None,
    only: tuple[str, ...] = START_ORDER,
    before_start: Callable[[], None] | None = None,
) -> Iterator[Services]:
    """The services (``only`` those) on fresh ports and the given databases, seeded, pinned.

    ``before_start`` runs after seeding, before any service starts (e.g. bulk loading).
    """
    ports = {name: free_port() for name in START_ORDER}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        **SERVICE_ENV,
        "WANGGE_DATA_DIR": str(log_dir),
        "WANGGE_INTAKE_GRID_URL": urls["grid"],
        "WANGGE_INTAKE_DISPATCH_URL": urls["dispatch"],
        "WANGGE_DISPATCH_GRID_URL": urls["grid"],
        "WANGGE_DISPATCH_INTAKE_URL": urls["intake"],
        **{f"WANGGE_{name.upper()}_DATABASE_URL": url for name, url in databases.items()},
        **(extra_env or {}),
    }
    seed(env)
    if before_start is not None:
        before_start()
    processes = {
        name: ServiceProcess(
            name, "127.0.0.1", ports[name], env=env, log_path=str(log_dir / f"{label}-{name}.log")
        )
        for name in START_ORDER
        if name in only
    }
    started = list(processes.values())
    start_all(started)
    try:
        for name, service in processes.items():
            assert service.process is not None
            pin(service.process.pid, cpus.get(name))
            rss.watch(f"{name} ({label})", service.process.pid)
        yield Services(urls=urls, databases=databases, processes=processes)
    finally:
        for name in processes:
            rss.forget(f"{name} ({label})")
        stop_all(started)


def run_loadgen(spec: dict[str, Any], *, timeout: float = 900.0) -> dict[str, Any]:
    """Run :mod:`bench.loadgen` in its own process with ``spec``; its result."""
    with tempfile.TemporaryDirectory(prefix="wangge-bench-") as tmp:
        spec_path, result_path = Path(tmp, "spec.json"), Path(tmp, "result.json")
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", str(spec_path), str(result_path)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
        return result
