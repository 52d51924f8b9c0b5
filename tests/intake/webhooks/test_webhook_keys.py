"""A webhook lasts as long as its integration's key: grid and intake in one process, an admin
issuing and revoking a real key at grid, the bot setting its webhook with the key's token.

An admin revoked a chat bot's key at grid and intake went on POSTing the bot's reports'
updates (departments, deadlines, notes) to its webhook until someone also removed it on intake.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from services.grid.app import create_app as create_grid
from services.grid.models import Base as GridBase
from services.grid.settings import GridSettings
from services.intake.app import create_app as create_intake
from services.intake.models import Base as IntakeBase
from services.intake.models import Webhook, WebhookMessage
from services.intake.settings import IntakeSettings
from services.intake.webhooks import keys as webhook_keys
from services.intake.webhooks.service import Heard, enqueue_updates
from shared.actors import Actor, Role
from shared.db import session_scope, utcnow
from tests.conftest import CleanDatabase

from ..fakes import INTAKE_SECRET, FakeDispatch

ADMIN = Actor(id="pan.jun", role=Role.admin, name="潘军")
BOT = {"name": "中山路商圈群", "channel": "wechat-bot", "scopes": ["reports:create", "reports:read"]}


class Grid(httpx.AsyncBaseTransport):
    """intake's way to grid: the grid app itself, counting the key-state questions, and out of
    reach (no connection) while ``down``."""

    def __init__(self, app: Any) -> None:
        self.asgi = httpx.ASGITransport(app=app)
        self.down = False
        self.asked: list[list[str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/internal/v1/key-states":
            self.asked.append(request.url.params.get_list("id"))
        return await self.asgi.handle_async_request(request)


@dataclass
class Receiver:
    """The bots' endpoints: what each host received (update ids)."""

    received: dict[str, list[str]] = field(default_factory=dict)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.received.setdefault(request.url.host, []).append(orjson.loads(request.content)["id"])
        return httpx.Response(204)


@dataclass
class Office:
    grid: Grid
    admin: httpx.AsyncClient
    """grid, as the admin"""
    intake: httpx.AsyncClient
    intake_app: FastAPI
    receiver: Receiver
    events: int = 0

    async def bot(self, host: str, **key: Any) -> tuple[str, dict[str, str]]:
        """A key issued at grid, its token, and its webhook set on intake at ``host``."""
        created = (await self.admin.post("/v1/keys", json={**BOT, **key})).json()
        key_id, secret = created["key"].split(".", 1)
        form = {"grant_type": "client_credentials", "client_id": key_id, "client_secret": secret}
        token = (await self.admin.post("/v1/auth/token", data=form)).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        hooked = await self.intake.put("/v1/webhook", json={"url": f"https://{host}/hook"}, headers=headers)
        assert hooked.status_code == 201, hooked.text
        return key_id, headers

    async def updates(self, key_id: str, count: int = 1) -> list[str]:
        """``count`` updates of the bot's report, written as intake's inbox writes them; their ids."""
        heard = []
        for _ in range(count):
            self.events += 1
            event = {
                "event_id": self.events,
                "report_id": uuid.uuid4(),
                "status": "dispatched",
                "case_id": 7,
                "action": "dispatched",
                "note": "已派环卫站",
                "occurred_at": utcnow(),
            }
            case = SimpleNamespace(
                case_number="WG20261206-0007",
                department_code="sanitation",
                department_name="环卫站",
                deadline_at=None,
            )
            heard.append(Heard(reporter_id=f"integration:{key_id}", event=event, case=case))
        async with session_scope(self.intake_app.state.relay.session_maker) as session:
            await enqueue_updates(session, heard)
        return [f"{h.event['report_id']}:{h.event['event_id']}" for h in heard]

    async def deliver(self) -> None:
        await self.intake_app.state.webhook_relay.drain()

    async def messages(self, key_id: str) -> list[WebhookMessage]:
        async with session_scope(self.intake_app.state.relay.session_maker) as session:
            query = select(WebhookMessage).where(WebhookMessage.owner_id == f"integration:{key_id}")
            return list((await session.scalars(query.order_by(WebhookMessage.id))).all())

    async def webhook(self, key_id: str) -> Webhook | None:
        async with session_scope(self.intake_app.state.relay.session_maker) as session:
            return await session.get(Webhook, f"integration:{key_id}")


@contextmanager
def later(monkeypatch: pytest.MonkeyPatch, by: timedelta) -> Iterator[None]:
    """The key check's clock ``by`` ahead (its answers as old as that)."""
    with monkeypatch.context() as patched:
        patched.setattr(webhook_keys, "utcnow", lambda: utcnow() + by)
        yield


async def start(
    clean_database: CleanDatabase, tmp_path: Any, **intake_settings: Any
) -> AsyncIterator[Office]:
    grid_settings = GridSettings(
        database_url=await clean_database("grid", GridBase.metadata),
        environment="test",
        data_dir=tmp_path / "grid",
        service_secrets={"intake": INTAKE_SECRET},
    )
    grid_app = create_grid(grid_settings)
    receiver = Receiver()
    async with LifespanManager(grid_app) as grid_manager:
        grid = Grid(grid_manager.app)
        intake_app = create_intake(
            IntakeSettings(
                database_url=await clean_database("intake", IntakeBase.metadata),
                background_tasks=False,
                relay_max_backoff_seconds=0,
                client_secret=INTAKE_SECRET,
                webhook_private_addresses=True,
                **intake_settings,
            ),
            transports={
                "grid": grid,
                "dispatch": httpx.MockTransport(FakeDispatch().handler),
                "webhooks": httpx.MockTransport(receiver.handler),
            },
        )
        admin_token = grid_app.state.identity.issuer.issue(ADMIN).token
        async with (
            LifespanManager(intake_app) as intake_manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=grid_manager.app),
                base_url="http://grid",
                headers={"Authorization": f"Bearer {admin_token}"},
            ) as admin,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=intake_manager.app), base_url="http://intake"
            ) as intake,
        ):
            yield Office(grid, admin, intake, intake_app, receiver)


@pytest.fixture
async def office(clean_database: CleanDatabase, tmp_path: Any) -> AsyncIterator[Office]:
    async for running in start(clean_database, tmp_path):
        yield running


async def test_a_revoked_keys_webhook_hears_nothing_more_and_is_removed_with_the_reason(
    office: Office, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key_id, bot = await office.bot("bot.example.org")
    first = await office.updates(key_id)
    await office.deliver()
    assert office.receiver.received == {"bot.example.org": first}

    # The admin revokes the key at grid, and nothing on intake.
    assert (await office.admin.delete(f"/v1/keys/{key_id}")).status_code == 204
    waiting = await office.updates(key_id, 3)
    with later(monkeypatch, timedelta(seconds=61)), caplog.at_level(logging.WARNING, "wangge.intake"):
        await office.deliver()  # intake asks grid again: its answer is a minute old
        more = await office.updates(key_id)  # the bot's token still lives: dispatch's news goes on
        await office.deliver()

    assert office.receiver.received == {"bot.example.org": first}, "a revoked key's webhook heard more"
    assert await office.webhook(key_id) is None
    admin = {"Authorization": office.admin.headers["Authorization"]}
    assert (await office.intake.get("/v1/webhooks", headers=admin)).json()["items"] == []
    assert (await office.intake.get("/v1/webhook", headers=bot)).status_code == 404
    dead = [m for m in await office.messages(key_id) if m.dead_at is not None]
    assert [m.key for m in dead] == waiting  # written after the removal: for no webhook, not kept
    reason = f"the webhook was removed: its integration's key {key_id} was revoked at "
    assert all((m.last_error or "").startswith(reason) for m in dead), [m.last_error for m in dead]
    assert more and all(m.key not in more for m in await office.messages(key_id))
    assert any(
        r.getMessage().startswith(f"webhook of integration:{key_id} (https://bot.example.org/hook) removed: ")
        for r in caplog.records
    )


async def test_a_key_that_runs_out_stops_its_webhook_by_its_expiry(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """grid said when the key runs out: past that intake stops, even before it asks again."""
    expires_at = (utcnow() + timedelta(minutes=30)).isoformat()
    key_id, _ = await office.bot("bot.example.org", expires_at=expires_at)
    first = await office.updates(key_id)
    await office.deliver()
    office.grid.down = True
    with later(monkeypatch, timedelta(minutes=31)):
        await office.updates(key_id)
        await office.deliver()

    assert office.receiver.received == {"bot.example.org": first}
    assert await office.webhook(key_id) is None
    dead = [m for m in await office.messages(key_id) if m.dead_at is not None]
    assert len(dead) == 1 and f"key {key_id} expired at " in (dead[0].last_error or "")


async def test_an_active_keys_webhook_goes_on_and_grid_is_asked_once_a_minute(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, _ = await office.bot("kept.example.org")
    revoked, _ = await office.bot("revoked.example.org")
    sent = []
    for _ in range(3):
        sent += await office.updates(kept)
        await office.updates(revoked)
        await office.deliver()
    assert len(office.grid.asked) == 1 and sorted(office.grid.asked[0]) == sorted([kept, revoked])

    assert (await office.admin.delete(f"/v1/keys/{revoked}")).status_code == 204
    with later(monkeypatch, timedelta(seconds=61)):
        sent += await office.updates(kept)
        late = await office.updates(revoked)
        await office.deliver()

    assert office.receiver.received["kept.example.org"] == sent
    assert late[0] not in office.receiver.received["revoked.example.org"]
    assert await office.webhook(kept) is not None and await office.webhook(revoked) is None
    assert len(office.grid.asked) == 2


async def test_while_grid_is_out_of_reach_the_last_answer_holds_for_a_while_then_updates_wait(
    clean_database: CleanDatabase, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Documented: grid's last answer that a key is active is taken for 15 minutes
    (WANGGE_INTAKE_WEBHOOK_KEY_TRUST_MINUTES) after it came; then the updates wait, neither sent
    nor given up, and go once grid answers: removed then if it revoked the key meanwhile."""
    async for office in start(clean_database, tmp_path, webhook_key_check_seconds=1):
        kept, _ = await office.bot("kept.example.org")
        revoked, _ = await office.bot("revoked.example.org")
        sent = await office.updates(kept)
        await office.deliver()  # grid says both are active
        office.grid.down = True

        with later(monkeypatch, timedelta(minutes=10)):  # stale, but within the trust
            sent += await office.updates(kept)
            await office.deliver()
        assert office.receiver.received["kept.example.org"] == sent

        with later(monkeypatch, timedelta(minutes=16)):  # past it: paused
            paused = await office.updates(kept)
            paused_revoked = await office.updates(revoked)
            await office.deliver()
            assert office.receiver.received["kept.example.org"] == sent
            waiting = [m for m in await office.messages(kept) if m.key in paused]
            assert [(m.sent_at, m.dead_at) for m in waiting] == [(None, None)]
            assert waiting[0].last_error is not None and "grid could not say" in waiting[0].last_error

        # grid back, the other key revoked meanwhile; the paused updates come due again (they
        # wait WANGGE_INTAKE_WEBHOOK_KEY_CHECK_SECONDS, here 1 s)
        office.grid.down = False
        assert (await office.admin.delete(f"/v1/keys/{revoked}")).status_code == 204
        async with session_scope(office.intake_app.state.relay.session_maker) as session:
            for message in await session.scalars(select(WebhookMessage)):
                message.available_at = utcnow()
        with later(monkeypatch, timedelta(minutes=17)):
            await office.deliver()

        assert office.receiver.received["kept.example.org"] == sent + paused
        assert "revoked.example.org" not in office.receiver.received
        assert await office.webhook(revoked) is None
        dead = [m for m in await office.messages(revoked) if m.key in paused_revoked]
        assert dead[0].dead_at is not None and "was revoked" in (dead[0].last_error or "")


async def test_a_webhook_set_while_grid_is_out_of_reach_waits_for_its_answer(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer since intake started: nothing is taken on trust."""
    key_id, _ = await office.bot("bot.example.org")
    office.grid.down = True
    await office.updates(key_id)
    await office.deliver()

    assert office.receiver.received == {}
    [message] = await office.messages(key_id)
    assert (message.sent_at, message.dead_at) == (None, None)
    assert await office.webhook(key_id) is not None


async def test_a_grid_that_knows_none_of_the_keys_removes_no_webhook_and_says_so(
    office: Office,
    clean_database: CleanDatabase,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """intake pointed at another grid (or grid at another database) after a move: every key is
    unknown there. That is no revocation: the bots keep their webhooks, their news waits."""
    key_id, _ = await office.bot("bot.example.org")
    first = await office.updates(key_id)
    await office.deliver()
    right = office.grid.asgi
    wrong = create_grid(
        GridSettings(
            database_url=await clean_database("grid_elsewhere", GridBase.metadata),
            environment="test",
            data_dir=tmp_path / "grid",  # the same signing key: intake's token is taken there
            service_secrets={"intake": INTAKE_SECRET},
        )
    )
    async with LifespanManager(wrong) as elsewhere:
        office.grid.asgi = httpx.ASGITransport(app=elsewhere.app)
        with later(monkeypatch, timedelta(seconds=61)), caplog.at_level(logging.ERROR, "wangge.intake"):
            held = await office.updates(key_id, 2)
            await office.deliver()

        assert office.receiver.received == {"bot.example.org": first}
        assert await office.webhook(key_id) is not None
        waiting = [m for m in await office.messages(key_id) if m.key in held]
        assert [(m.sent_at, m.dead_at) for m in waiting] == [(None, None)] * 2
        assert all(f"grid knows no key {key_id}" in (m.last_error or "") for m in waiting)
        assert any(
            r.levelname == "ERROR" and f"grid knows no API key {key_id}" in r.getMessage()
            for r in caplog.records
        )

    office.grid.asgi = right  # mended: its news goes out
    async with session_scope(office.intake_app.state.relay.session_maker) as session:
        for message in await session.scalars(select(WebhookMessage)):
            message.available_at = utcnow()
    with later(monkeypatch, timedelta(minutes=3)):
        await office.deliver()
    assert office.receiver.received == {"bot.example.org": first + held}
