"""``wangge outbox`` as an operator uses it: a message its receiver refused for good shows in
``status`` and ``dead``, ``retry`` puts it back, and the relay then delivers it; with the
services running, their relays claiming meanwhile.

The services run in-process on the databases the CLI reads (migrated as ``wangge migrate``
does), their peers faked as in their own tests; the CLI runs in a thread of its own, as it
runs in a process of its own beside them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.app import create_app as create_dispatch_app
from services.dispatch.models import OutboxMessage as DispatchOutbox
from services.dispatch.settings import DispatchSettings
from services.intake.app import create_app as create_intake_app
from services.intake.models import OutboxMessage as IntakeOutbox
from services.intake.models import WebhookMessage
from services.intake.settings import IntakeSettings
from services.intake.webhooks import repository as webhooks
from shared.actors import Role
from shared.db import session_scope, utcnow
from shared.outbox import Relay
from tests.dispatch import factories as dispatch_factories
from tests.dispatch.fakes import CLIENT_SECRET as DISPATCH_SECRET
from tests.dispatch.fakes import FakeGrid as DispatchGrid
from tests.dispatch.fakes import FakeIntake
from tests.intake.factories import report_body
from tests.intake.fakes import CELL_A1, INTAKE_SECRET, FakeDispatch
from tests.intake.fakes import FakeGrid as IntakeGrid
from tests.support.tokens import bearer, service_bearer
from wangge import operations
from wangge.cli import main

REPORTER = bearer("wang.fang", Role.grid_worker, regions=[CELL_A1])
BOT = "integration:k1"

Cli = Callable[..., Awaitable[tuple[int, str]]]


@pytest.fixture
def wangge(capsys: pytest.CaptureFixture[str]) -> Cli:
    """``code, out = await wangge("outbox", "status")``: the CLI, in a thread of its own (it runs
    its own event loop), with what it printed on standard output."""

    async def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        return code, capsys.readouterr().out

    return run


async def status(wangge: Cli) -> dict[str, dict[str, Any]]:
    code, out = await wangge("outbox", "status", "--json")
    assert code == 0, out
    return {row["outbox"]: row for row in json.loads(out)}


async def migrated() -> None:
    await asyncio.to_thread(operations.migrate, ["intake", "dispatch"])


@asynccontextmanager
async def running(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


def intake_app(dispatch: FakeDispatch, webhooks: httpx.MockTransport | None = None) -> FastAPI:
    """intake on the database its settings name from the environment, as the CLI's are."""
    settings = IntakeSettings(
        background_tasks=False,
        relay_max_backoff_seconds=0,
        client_secret=INTAKE_SECRET,
        webhook_private_addresses=True,
    )
    transports: dict[str, httpx.AsyncBaseTransport] = {
        "grid": httpx.MockTransport(IntakeGrid().handler),
        "dispatch": httpx.MockTransport(dispatch.handler),
    }
    if webhooks is not None:
        transports["webhooks"] = webhooks
    return create_intake_app(settings, transports=transports)


async def outbox(app: FastAPI, model: type[Any]) -> list[Any]:
    async with session_scope(app.state.relay.session_maker) as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


@pytest.mark.usefixtures("databases")
async def test_a_report_dispatch_refused_is_listed_put_back_and_then_delivered(wangge: Cli) -> None:
    """dispatch's operator set WANGGE_DISPATCH_MAX_BODY_BYTES too low: a long report is refused
    (413) for good, its message dead and the report at ``received``, until the limit is mended
    and the message put back."""
    await migrated()
    dispatch = FakeDispatch()
    dispatch.max_body_bytes = 5_000
    small, large = report_body(), report_body(description="街" * 2000)
    app = intake_app(dispatch)
    async with running(app, "http://intake") as client:
        for body in (small, large):
            assert (await client.post("/v1/reports", json=body, headers=REPORTER)).status_code == 201
        relay: Relay = app.state.relay
        await relay.drain()
        assert dispatch.report_ids == [small["id"]]

        seen = await status(wangge)
        assert {name: (row["pending"], row["retrying"], row["dead"]) for name, row in seen.items()} == {
            "intake": (0, 0, 1),
            "dispatch": (0, 0, 0),
            "webhooks": (0, 0, 0),
        }
        code, out = await wangge("outbox", "status")
        assert code == 0
        assert "1 dead" in out and "wangge outbox retry" in out

        code, out = await wangge("outbox", "dead")
        assert code == 0
        (line,) = [line for line in out.splitlines() if large["id"] in line]
        assert line.startswith("intake ") and "report.received" in line and "413" in line
        code, out = await wangge("outbox", "dead", "intake", "--json")
        ((listed,),) = [row["messages"] for row in json.loads(out)]
        assert (listed["key"], listed["topic"], listed["attempts"]) == (large["id"], "report.received", 1)
        dead_id = str(listed["id"])

        dispatch.max_body_bytes = FakeDispatch.max_body_bytes  # mended
        code, out = await wangge("outbox", "retry", "intake", dead_id)
        assert code == 0, out
        assert f"put back 1 dead message of intake: {dead_id}" in out
        back = (await status(wangge))["intake"]
        assert (back["pending"], back["retrying"], back["dead"]) == (1, 0, 0)

        await relay.drain()
        assert dispatch.report_ids == [small["id"], large["id"]]
        assert all(m.sent_at is not None and m.dead_at is None for m in await outbox(app, IntakeOutbox))
        assert (await status(wangge))["intake"]["dead"] == 0

        # Put back twice, or an id that is not there: said so, and a non-zero exit.
        code, out = await wangge("outbox", "retry", "intake", dead_id, "424242")
        assert code == 1
        assert f"{dead_id} (sent)" in out and "424242 (unknown)" in out


@pytest.mark.usefixtures("databases")
async def test_putting_back_while_the_relay_runs_delivers_each_message_once(wangge: Cli) -> None:
    """intake (an older one, mid-upgrade) refused dispatch's status changes; once it takes them
    they are put back with ``--all`` while dispatch's relay runs and new cases come in."""
    await migrated()
    intake = FakeIntake(status="rejected")
    settings = DispatchSettings(
        background_tasks=False,
        relay_max_backoff_seconds=0,
        relay_poll_seconds=0.02,
        routing_cache_seconds=0,
        client_secret=DISPATCH_SECRET,
        working_hours="00:00-24:00",
        working_weekdays="mon-sun",
    )
    transports = {
        "grid": httpx.MockTransport(DispatchGrid().handler),
        "intake": httpx.MockTransport(intake.handler),
    }
    app = create_dispatch_app(settings, transports=transports)
    inbox = service_bearer("intake")

    async def deliver(count: int) -> None:
        for n in range(count):  # a case each: 0.001° of latitude apart, beyond merging
            payload = dispatch_factories.report(lat=dispatch_factories.LAT + 0.001 * n)
            answer = await client.post(
                "/internal/v1/inbox", json=dispatch_factories.batch(payload), headers=inbox
            )
            assert answer.status_code == 200, answer.text

    async with running(app, "http://dispatch") as client:
        relay: Relay = app.state.relay
        await deliver(6)
        await relay.drain()
        dead = await outbox(app, DispatchOutbox)
        assert len(dead) == 6 and all(m.dead_at is not None for m in dead)
        assert (await status(wangge))["dispatch"]["dead"] == 6
        refused = len(intake.messages)

        intake.status = "accepted"
        relaying = asyncio.create_task(relay.run_forever())
        try:
            (code, out), _ = await asyncio.gather(wangge("outbox", "retry", "dispatch", "--all"), deliver(4))
            assert code == 0, out
            assert "put back 6 dead messages of dispatch" in out
            deadline = time.monotonic() + 20
            while not all(m.sent_at is not None for m in await outbox(app, DispatchOutbox)):
                assert time.monotonic() < deadline, "the relay did not deliver what was put back"
                await asyncio.sleep(0.05)
        finally:
            relay.stop()
            await relaying

        messages = await outbox(app, DispatchOutbox)
        assert len(messages) == 10
        delivered = [m["key"] for m in intake.messages[refused:]]
        assert sorted(delivered) == sorted(m.key for m in messages), "each message delivered once"
        after = (await status(wangge))["dispatch"]
        assert (after["pending"], after["retrying"], after["dead"]) == (0, 0, 0)


@pytest.mark.usefixtures("databases")
async def test_a_chat_bots_update_given_up_is_put_back_and_delivered(wangge: Cli) -> None:
    """A bot's endpoint was down for longer than updates are retried (24 hours): the update is
    dead. Its owner mends the endpoint; the update is put back and reaches it."""
    await migrated()
    received: list[str] = []
    up = False

    def endpoint(request: httpx.Request) -> httpx.Response:
        if not up:
            return httpx.Response(502)
        received.append(json.loads(request.content)["id"])
        return httpx.Response(204)

    app = intake_app(FakeDispatch(), webhooks=httpx.MockTransport(endpoint))
    async with running(app, "http://intake") as client:
        hooked = await client.put(
            "/v1/webhook",
            json={"url": "https://bot.example.org/wangge"},
            headers=bearer(BOT, Role.integration, scopes=["reports:read"]),
        )
        assert hooked.status_code == 201, hooked.text
        written = utcnow() - timedelta(hours=25)
        body = {"id": "r:1", "event": {"event_id": 1}}
        async with session_scope(app.state.relay.session_maker) as session:
            await webhooks.add_messages(
                session,
                [
                    {
                        "topic": "report.updated",
                        "key": body["id"],
                        "owner_id": BOT,
                        "payload": {"to": BOT, "at": written.isoformat(), "body": body},
                        "attempts": 3,
                        "created_at": written,
                        "available_at": utcnow(),
                    }
                ],
            )
        webhook_relay: Relay = app.state.webhook_relay
        await webhook_relay.run_once()
        (update,) = await outbox(app, WebhookMessage)
        assert update.dead_at is not None

        assert (await status(wangge))["webhooks"]["dead"] == 1
        code, out = await wangge("outbox", "dead", "webhooks")
        assert code == 0 and "r:1" in out and "502" in out

        up = True
        code, out = await wangge("outbox", "retry", "webhooks", "--all")
        assert code == 0, out
        await webhook_relay.run_once()

    assert received == ["r:1"]
    (update,) = await outbox(app, WebhookMessage)
    assert update.sent_at is not None and update.dead_at is None


@pytest.mark.usefixtures("databases")
async def test_retry_names_what_to_put_back_and_dead_lists_within_its_bound(wangge: Cli) -> None:
    await migrated()
    assert (await wangge("outbox", "retry", "intake"))[0] == 2  # neither ids nor --all
    assert (await wangge("outbox", "retry", "intake", "1", "--all"))[0] == 2
    code, out = await wangge("outbox", "retry", "dispatch", "--all")
    assert (code, out.strip()) == (0, "no dead messages in dispatch")
    for wrong in (
        ["outbox", "dead", "--limit", "0"],
        ["outbox", "status", "grid"],
        ["outbox", "retry", "x", "1"],
    ):
        with pytest.raises(SystemExit) as refused:
            await wangge(*wrong)
        assert refused.value.code == 2

    async def five_dead(session: AsyncSession) -> None:
        now = utcnow()
        session.add_all(
            IntakeOutbox(topic="report.received", key=f"k{n}", payload={}, attempts=1, dead_at=now)
            for n in range(5)
        )

    await operations.in_database(operations.service_database("intake"), five_dead)
    code, out = await wangge("outbox", "dead", "intake", "--limit", "2")
    assert code == 0
    assert len([line for line in out.splitlines() if line.startswith("intake ")]) == 2
    assert "intake: 3 more dead, not listed (--limit)" in out


def test_a_database_that_is_not_there_is_named_not_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run from another directory than the services, on the embedded default."""
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("WANGGE_DATA_DIR", str(elsewhere))
    for service in ("INTAKE", "DISPATCH"):
        monkeypatch.delenv(f"WANGGE_{service}_DATABASE_URL", raising=False)

    assert main(["outbox", "status"]) == 1
    out = capsys.readouterr().out
    assert f"{elsewhere / 'intake.db'} does not exist" in out
    assert not (elsewhere / "intake.db").exists()


@pytest.mark.usefixtures("databases")
async def test_the_check_says_what_needs_a_look_and_exits_1_until_it_is_mended(wangge: Cli) -> None:
    """``status --check`` from cron: quiet and 0 while the outboxes keep up; 1 with a line per
    finding when a message died lately or a backlog waited too long."""
    await migrated()
    assert (await wangge("outbox", "status", "--check")) == (0, (await wangge("outbox", "status"))[1])

    async def one_dead(session: AsyncSession) -> None:
        session.add(IntakeOutbox(topic="report.received", key="k", payload={}, attempts=1, dead_at=utcnow()))

    async def one_waiting(session: AsyncSession) -> None:
        old = utcnow() - timedelta(minutes=3)
        session.add(DispatchOutbox(topic="case.status_changed", key="1:1", payload={}, created_at=old))

    await operations.in_database(operations.service_database("intake"), one_dead)
    await operations.in_database(operations.service_database("dispatch"), one_waiting)

    code, out = await wangge("outbox", "status", "--check")
    assert code == 1
    findings = [line for line in out.splitlines() if line.startswith("attention: ")]
    assert findings == [
        "attention: intake: a message died in the last 15 min (1 dead in all): "
        "`wangge outbox dead intake` says why",
        "attention: dispatch: the oldest of 1 pending messages has waited 3 min 00 s (more than 1 min): "
        "is dispatch running, and intake taking them?",  # it named no receiver: "and its receiver?"
    ]
    code, out = await wangge("outbox", "status", "--json", "--check", "intake")
    ((row,),) = [json.loads(out)]
    assert code == 1 and row["dead"] == 1 and row["newest_dead_at"] is not None
    assert row["attention"] == [findings[0].removeprefix("attention: ")]

    # the death is older than the window asked for, and the backlog within its bound
    assert (await wangge("outbox", "status", "--check", "--dead-within", "0.001", "--behind-after", "600"))[
        0
    ] == 0
    assert (await wangge("outbox", "status", "--check", "webhooks"))[0] == 0
    assert (await wangge("outbox", "status", "intake"))[0] == 0  # without --check, a report only
    for wrong in (["--dead-within", "0"], ["--behind-after", "-1"], ["--behind-after", "nan"]):
        with pytest.raises(SystemExit) as refused:
            await wangge("outbox", "status", "--check", *wrong)
        assert refused.value.code == 2
