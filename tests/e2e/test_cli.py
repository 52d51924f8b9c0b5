"""The README's run command as a user meets it: `wangge up`, then `wangge demo`, then Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from wangge.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def wangge(*args: str) -> list[str]:
    return [sys.executable, "-m", "wangge.cli", *args]


def up_env(tmp_path: Path) -> tuple[dict[str, str], dict[str, int]]:
    ports = {name: free_port() for name in ("grid", "intake", "dispatch")}
    env = {**os.environ, "WANGGE_DATA_DIR": str(tmp_path / "data")}
    for name, port in ports.items():
        env[f"WANGGE_{name.upper()}_PORT"] = str(port)
        env.pop(f"WANGGE_{name.upper()}_DATABASE_URL", None)
    return env, ports


def wait_for_line(process: subprocess.Popen[str], text: str, timeout: float = 60) -> str:
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} never printed; output:\n{''.join(seen)}")


def test_up_runs_all_three_on_sqlite_and_demo_completes_the_loop(tmp_path: Path) -> None:
    env, ports = up_env(tmp_path)
    up = subprocess.Popen(wangge("up"), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = wait_for_line(up, "Ctrl-C stops all three")
        for name, port in ports.items():
            assert f"http://127.0.0.1:{port}" in printed, f"{name}'s URL is not printed"
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
            assert httpx.get(f"http://127.0.0.1:{port}/readyz").json() == {"status": "ready"}
        for host in ("127.0.0.1", "localhost"):  # /docs' Authorize, from a page opened either way
            preflight = httpx.options(
                f"http://127.0.0.1:{ports['grid']}/v1/auth/token",
                headers={
                    "Origin": f"http://{host}:{ports['dispatch']}",
                    "Access-Control-Request-Method": "POST",
                },
            )
            assert preflight.status_code == 200, (host, preflight.text)
        assert (tmp_path / "data" / "grid.db").exists(), (
            "the embedded default is SQLite in the data directory"
        )

        # An operator adds someone with a password of their own: the demo leaves them out
        # (it signed in as every active account with the demo's password, and failed).
        add = ["user", "add", "lin.xiao", "--name", "林晓", "--role", "grid_worker"]
        added = subprocess.run(
            wangge(*add, "--region", "35020300100101", "--password-stdin"),
            env=env,
            input="a password of her own\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert added.returncode == 0, added.stdout + added.stderr
        demo = subprocess.run(
            wangge(
                "demo",
                "--reports",
                "20",
                "--intake-url",
                f"http://127.0.0.1:{ports['intake']}",
                "--dispatch-url",
                f"http://127.0.0.1:{ports['dispatch']}",
                "--grid-url",
                f"http://127.0.0.1:{ports['grid']}",
            ),
            env={**env, "COLUMNS": "120"},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        summary = {
            cells[0]: cells[1]
            for line in demo.stdout.splitlines()
            if len(cells := [c.strip() for c in line.strip("│┃ ").split("│")]) == 2
        }
        assert summary["reports filed"] == "20"
        assert int(summary["cases closed"]) == int(summary["cases"]) > 0
        assert summary["report → dispatched, p95"].endswith("ms")
        # a photo with each report, one with each resolution (uploaded to intake, named on the case)
        assert int(summary["photos (reports and resolutions)"]) >= 20 + int(summary["cases closed"])
        # the month's figures (a fresh database: the demo's cases only), resolved long before
        # their deadlines
        assert summary["this month: closure rate"] == summary["this month: on-time closure rate"] == "100%"
        # In the evening the demo's grid workers wrote their daily logs (民情日志), and grid
        # holds what the demo counted; the worker it does not act as wrote none, and the office's
        # check of who has not logged today names her.
        logs = int(summary["daily logs written (民情日志)"])
        assert logs > 0
        assert "lin.xiao" in summary["grid workers with no log today"]
        grid = f"http://127.0.0.1:{ports['grid']}"
        form = {"grant_type": "password", "username": "pan.jun", "password": "wangge-demo"}
        office = {
            "Authorization": f"Bearer {httpx.post(f'{grid}/v1/auth/token', data=form).json()['access_token']}"
        }
        listed = httpx.get(f"{grid}/v1/patrol-logs", params={"limit": 100}, headers=office).json()
        assert len(listed["items"]) == logs and listed["next_cursor"] is None
    finally:
        up.send_signal(signal.SIGINT)
        out, _ = up.communicate(timeout=30)
    assert up.returncode == 0, out
    assert "stopped." in out
    # Each service's own output reaches the terminal, led by its name: uvicorn's and wangge's loggers.
    lines = (printed + out).splitlines()
    for name, port in ports.items():
        running = f"{name:<8} | INFO:     Uvicorn running on http://127.0.0.1:{port} "
        assert any(line.startswith(running) for line in lines), printed
    assert any(
        line.startswith("intake   | INFO:") and "wangge.intake.territory: territory" in line for line in lines
    )
    assert_nothing_listens(ports)


def assert_nothing_listens(ports: dict[str, int]) -> None:
    for name, port in ports.items():
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"{name} still listens on {port}"


def processes_of(data_dir: Path) -> list[str]:
    """The command lines of live processes started for this data directory (by its environment):
    a service just launched has not bound its port yet, so probing ports alone can miss it."""
    marker = f"WANGGE_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def test_up_stops_all_three_when_its_terminal_closes(tmp_path: Path) -> None:
    """SIGHUP (the terminal or the SSH session closing) killed `up` and left the three running
    on their ports, so the next `make up` refused to start."""
    env, ports = up_env(tmp_path)
    up = subprocess.Popen(wangge("up"), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_line(up, "Ctrl-C stops all three")
    up.send_signal(signal.SIGHUP)
    out, _ = up.communicate(timeout=30)
    assert (up.returncode, "stopped." in out) == (0, True), out
    assert_nothing_listens(ports)
    assert processes_of(tmp_path / "data") == []


def test_up_stopped_while_starting_leaves_nothing_running(tmp_path: Path) -> None:
    """A stop before the banner (grid up, the others starting) left the started ones running."""
    env, ports = up_env(tmp_path)
    up = subprocess.Popen(wangge("up"), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{ports['grid']}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        up.kill()
        raise AssertionError("grid never answered")
    up.send_signal(signal.SIGTERM)
    out, _ = up.communicate(timeout=30)
    assert up.returncode == 0, out
    assert "Ctrl-C stops all three" not in out, "the stop came too late to test this"
    assert_nothing_listens(ports)
    assert processes_of(tmp_path / "data") == []


def ignore_hangups_and_interrupts() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # nohup
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a non-interactive shell's `&`


def test_up_started_with_hangups_ignored_keeps_running_on_one(tmp_path: Path) -> None:
    """`nohup wangge up &` survives the logout: a SIGHUP the shell ignored stays ignored. An
    interrupt still stops it, though a script's background job starts with SIGINT ignored."""
    env, ports = up_env(tmp_path)
    up = subprocess.Popen(
        wangge("up"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=ignore_hangups_and_interrupts,  # nohup, in a script's background job
    )
    wait_for_line(up, "Ctrl-C stops all three")
    up.send_signal(signal.SIGHUP)
    time.sleep(1)
    still = up.poll() is None and httpx.get(f"http://127.0.0.1:{ports['intake']}/healthz").status_code
    running = processes_of(tmp_path / "data")  # `up` and its three: what the other tests expect gone
    up.send_signal(signal.SIGINT)
    out, _ = up.communicate(timeout=30)
    assert still == 200, out
    assert len(running) == 4 and sum("serve" in command for command in running) == 3, running
    assert_nothing_listens(ports)
    assert processes_of(tmp_path / "data") == []


def test_up_refuses_clearly_when_a_port_is_taken(tmp_path: Path) -> None:
    env, ports = up_env(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports["dispatch"]))
        squatter.listen()
        result = subprocess.run(wangge("up"), env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"port {ports['dispatch']}" in result.stdout and "dispatch" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
