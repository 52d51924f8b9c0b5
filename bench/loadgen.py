"""The load generator: its own process, a raw HTTP/1.1 keep-alive client on asyncio (uvloop).

httpx costs more per request as concurrency grows (encode/httpx#3215) and would be the
bottleneck at a few thousand requests/s on one core; this client writes prebuilt request
bytes and reads ``Content-Length`` bodies, nothing more. Its own CPU share is reported with
every run, and :mod:`bench.null_server` measures its ceiling, so a result can be checked
for not being the generator's limit.

Run as ``python -m bench.loadgen SPEC.json RESULT.json``. The spec:

``{"host", "port", "cpus": [1] | null, "mode": "closed" | "open", "connections": 64,
"duration": 10.0, "warmup": 2.0, "rate": 200.0 (open), "source": "reports" | "paths",
"path": "/v1/reports" (reports), "paths": ["/v1/locate?..."] (paths), "headers": {...},
"record_ids": false, "seed": 4}``
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.payload import ReportFactory
from bench.stats import summary_ms

Request = tuple[str | None, bytes]
"""A report id (or ``None``) and the request bytes."""


class ConnectionClosed(Exception):
    pass


def request_builder(spec: dict[str, Any]) -> Callable[[], Request]:
    host = f"{spec['host']}:{spec['port']}"
    extra = "".join(f"{name}: {value}\r\n" for name, value in spec.get("headers", {}).items())
    if spec["source"] == "reports":
        factory = ReportFactory(seed=int(spec.get("seed", 4)))
        head = f"POST {spec['path']} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{extra}"

        def report() -> Request:
            report_id, body = factory.body()
            return report_id, f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body

        return report
    prebuilt = [
        (None, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()) for path in spec["paths"]
    ]
    cycle = itertools.cycle(prebuilt)
    return lambda: next(cycle)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one response (its body read and dropped) and whether the server closes."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ConnectionClosed from exc
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"content-length:")
    if at < 0:
        if b"transfer-encoding: chunked" in lower:
            raise RuntimeError("chunked responses are not supported by the bench client")
        length = 0
    else:
        length = int(lower[at + 15 : lower.index(b"\r\n", at)])
    if length:
        await reader.readexactly(length)
    return status, b"connection: close" in lower


class Recorder:
    def __init__(self, record_ids: bool) -> None:
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.record_ids = record_ids
        self.created: list[tuple[str, float]] = []


async def _connection(
    spec: dict[str, Any],
    take: Callable[[], Any],
    recorder: Recorder,
    measuring: Callable[[float], bool],
) -> None:
    reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
    try:
        while True:
            item = await take()
            if item is None:
                return
            scheduled, (report_id, data) = item
            started = time.perf_counter()
            origin = started if scheduled is None else scheduled  # -1: a warm-up request
            try:
                writer.write(data)
                status, close = await read_response(reader)
            except (ConnectionClosed, ConnectionError) as exc:
                recorder.errors[type(exc).__name__] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
                continue
            finished = time.perf_counter()
            if measuring(origin):
                recorder.latencies.append(finished - origin)
                recorder.statuses[status] += 1
                if recorder.record_ids and status == 201 and report_id is not None:
                    recorder.created.append((report_id, time.time()))
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
    finally:
        writer.close()


async def run_closed(spec: dict[str, Any]) -> dict[str, Any]:
    """``connections`` clients each send their next request as soon as the last is answered."""
    build = request_builder(spec)
    recorder = Recorder(bool(spec.get("record_ids")))
    start = time.perf_counter()
    measure_from = start + float(spec.get("warmup", 0.0))
    stop_at = measure_from + float(spec["duration"])
    limit = spec.get("requests")  # optional: stop after this many measured requests
    unmeasured = int(spec.get("warmup_requests", 0))  # optional: first requests not measured
    sent = 0

    async def take() -> Any:
        nonlocal sent
        if time.perf_counter() >= stop_at or (limit is not None and sent >= limit + unmeasured):
            return None
        sent += 1
        return (-1.0 if sent <= unmeasured else None), build()

    cpu = _CpuWindow()
    workers = [
        asyncio.create_task(_connection(spec, take, recorder, lambda t: measure_from <= t < stop_at))
        for _ in range(int(spec["connections"]))
    ]
    await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
    cpu.begin()
    await asyncio.gather(*workers)
    elapsed = min(time.perf_counter(), stop_at) - measure_from
    if limit is not None:
        elapsed = time.perf_counter() - measure_from
    return _result(recorder, elapsed, cpu.share())


async def run_open(spec: dict[str, Any]) -> dict[str, Any]:
    """Requests offered at ``rate`` per second on a fixed schedule, whatever the answers do.

    Latency counts from each request's scheduled time, so waiting for a free connection is
    part of it (no coordinated omission).
    """
    build = request_builder(spec)
    recorder = Recorder(bool(spec.get("record_ids")))
    rate = float(spec["rate"])
    total = int(rate * float(spec["duration"]))
    queue: asyncio.Queue[Any] = asyncio.Queue()
    start = time.perf_counter() + 0.2
    connections = int(spec["connections"])
    cpu = _CpuWindow()
    workers = [
        asyncio.create_task(_connection(spec, queue.get, recorder, lambda _t: True))
        for _ in range(connections)
    ]
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    cpu.begin()
    for index in range(total):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((scheduled, build()))
    for _ in range(connections):
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result = _result(recorder, time.perf_counter() - start, cpu.share())
    result["offered_rate"] = rate
    result["offered"] = total
    return result


class _CpuWindow:
    def begin(self) -> None:
        self.cpu = time.process_time()
        self.wall = time.perf_counter()

    def share(self) -> float:
        wall = time.perf_counter() - self.wall
        return round((time.process_time() - self.cpu) / wall, 3) if wall > 0 else 0.0


def _result(recorder: Recorder, elapsed: float, cpu_share: float) -> dict[str, Any]:
    ok = sum(n for status, n in recorder.statuses.items() if 200 <= status < 300)
    result: dict[str, Any] = {
        "elapsed_s": round(elapsed, 3),
        "requests": len(recorder.latencies),
        "ok": ok,
        "rps": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
        "statuses": {str(k): v for k, v in sorted(recorder.statuses.items())},
        "errors": dict(recorder.errors),
        "latency": summary_ms(recorder.latencies),
        "generator_cpu_share": cpu_share,
    }
    if recorder.record_ids:
        result["created"] = recorder.created
    return result


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as source:
        spec = json.loads(source.read())
    if spec.get("cpus") and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(spec["cpus"]))
    runner = run_open if spec["mode"] == "open" else run_closed
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        factory = None
    with asyncio.Runner(loop_factory=factory) as loop_runner:
        result = loop_runner.run(runner(spec))
    with open(argv[2], "w", encoding="utf-8") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
