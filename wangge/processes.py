"""Running the three services as separate processes: ``wangge up`` and the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

import httpx

# Started in this order (and stopped in reverse): each one's peers are up before it.
START_ORDER = ("grid", "dispatch", "intake")


class PortTaken(RuntimeError):
    pass


class StartFailed(RuntimeError):
    pass


class StartStopped(RuntimeError):
    """Told to stop (``start_all``'s ``stopping``) before all were ready."""


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class ServiceProcess:
    name: str
    host: str
    port: int
    env: Mapping[str, str] = field(default_factory=dict)
    log_path: str | None = None
    process: subprocess.Popen[bytes] | None = None
    _echoing: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Start the service; its output goes to ``log_path``, else to this terminal, each line
        led by the service's name (``dispatch | WARNING: …``), as ``wangge up`` shows it."""
        env = {**os.environ, **self.env}
        env[f"WANGGE_{self.name.upper()}_HOST"] = self.host
        env[f"WANGGE_{self.name.upper()}_PORT"] = str(self.port)
        output = open(self.log_path, "ab") if self.log_path else subprocess.PIPE  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "wangge.cli", "serve", self.name],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches `up`, which stops us in order
        )
        if self.process.stdout is not None:
            prefix = f"{self.name:<8} | ".encode()
            self._echoing = threading.Thread(
                target=_echo, args=(self.process.stdout, prefix), name=f"{self.name}-output", daemon=True
            )
            self._echoing.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float = 30.0, stopping: threading.Event | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if stopping is not None and stopping.is_set():
                raise StartStopped(f"stopped while {self.name} was starting")
            if not self.alive():
                raise StartFailed(
                    f"{self.name} exited with code {self.process.returncode if self.process else '?'}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise StartFailed(f"{self.name} did not become ready at {self.url} within {timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._finish_echo()  # a service that died by itself too: its traceback is its last lines

    def _finish_echo(self) -> None:
        """Let the service's last lines (a traceback, say) reach the terminal before we go on."""
        if self._echoing is not None:
            self._echoing.join(timeout=2)

    def kill(self) -> None:
        """Stop at once, as a crash would: no shutdown, no flushing."""
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait()


def _echo(stream: IO[bytes], prefix: bytes) -> None:
    """Copy a service's output to ours line by line, each line whole (three services share it)."""
    out = sys.stdout.buffer
    with stream:
        for line in iter(stream.readline, b""):
            try:
                out.write(prefix + line)
                out.flush()
            except (OSError, ValueError):  # our output is gone (a closed pipe or terminal): read on
                continue


def check_ports(services: list[ServiceProcess]) -> None:
    for service in services:
        if not port_is_free(service.host, service.port):
            raise PortTaken(
                f"port {service.port} on {service.host} is taken, so {service.name} cannot start there; "
                f"stop what runs on it or choose another port with WANGGE_{service.name.upper()}_PORT"
            )


def start_all(
    services: list[ServiceProcess], *, timeout: float = 30.0, stopping: threading.Event | None = None
) -> None:
    """Start the services in order, each ready before the next; on failure, or once ``stopping``
    is set (``StartStopped``), stop those started."""
    check_ports(services)
    started: list[ServiceProcess] = []
    try:
        for service in services:
            service.start()
            started.append(service)
            service.wait_ready(timeout, stopping)
    except BaseException:
        stop_all(started)
        raise


def stop_all(services: list[ServiceProcess]) -> None:
    for service in reversed(services):
        service.stop()
