"""Delivering webhooks when endpoints misbehave: several intake processes, a slow endpoint with a
backlog, a hung one, a slow name server, a refused update, an admin racing a PUT, a new URL
during a pass (probes a review wrote against the first design, kept as its tests)."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from services.intake.models import Webhook, WebhookMessage
from services.intake.webhooks import repository
from services.intake.webhooks.delivery import Endpoints, build_webhook_relay, make_deliver
from shared.actors import Role
from shared.db import session_scope, utcnow
from shared.outbox import Outcome
from tests.support.tokens import bearer

from ..conftest import StartIntake
from ..fakes import FakeDispatch, FakeGrid
from .test_webhooks import message


def row(owner: str, event_id: int, *, age: timedelta = timedelta(0)) -> dict[str, Any]:
    now = utcnow()
    body = {"id": f"r:{event_id}", "event": {"event_id": event_id}}
    return {
        "topic": "report.updated",
        "key": body["id"],
        "owner_id": owner,
        "payload": {"to": owner, "at": (now - age).isoformat(), "body": body},
        "attempts": 0,
        "created_at": now - age,
        "available_at": now,
    }


async def hook(intake: Any, owner: str, url: str) -> None:
    headers = bearer(owner, Role.integration, scopes=["reports:read"])
    answer = await intake.client.put("/v1/webhook", json={"url": url}, headers=headers)
    assert answer.status_code == 201, answer.text


async def add(intake: Any, rows: list[dict[str, Any]]) -> None:
    async with session_scope(intake.app.state.relay.session_maker) as session:
        await repository.add_messages(session, rows)


async def test_two_intake_processes_keep_one_endpoints_updates_in_order(start_intake: StartIntake) -> None:
    """Two intake processes, each with its webhook relay (concurrency 1 each)."""
    received: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)
        received.append(orjson.loads(request.content)["event"]["event_id"])
        return httpx.Response(200)

    async with start_intake(FakeGrid(), FakeDispatch(), webhook_private_addresses=True) as intake:
        await hook(intake, "integration:a", "https://a.example.org/")
        await add(intake, [row("integration:a", i) for i in range(1, 26)])
        session_maker = intake.app.state.relay.session_maker
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            endpoints = Endpoints(client, 5.0, timedelta(hours=24), private_addresses=True, max_backoff=60)
            one, two = (
                build_webhook_relay(
                    session_maker, endpoints, keys=intake.app.state.webhook_keys, lease_seconds=30
                )
                for _ in range(2)
            )
            for _ in range(8):  # a few of the endpoint's updates a claim, one claim holding them at a time
                await asyncio.gather(one.run_once(), two.run_once())

    assert len(received) == 25
    assert received == sorted(received), received


async def test_a_slow_endpoints_backlog_does_not_starve_another_bot(start_intake: StartIntake) -> None:
    """Bot a's endpoint is up but slow (0.3 s an answer) and has a backlog of 40 (say it was
    down an hour); bot b's single update was written after them."""
    received: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "slow.example.org":
            await asyncio.sleep(0.3)
        received.append(request.url.host or "")
        return httpx.Response(200)

    async with start_intake(FakeGrid(), FakeDispatch(), webhook_private_addresses=True) as intake:
        await hook(intake, "integration:a", "https://slow.example.org/")
        await hook(intake, "integration:b", "https://b.example.org/")
        await add(intake, [row("integration:a", i) for i in range(1, 41)] + [row("integration:b", 1)])
        session_maker = intake.app.state.relay.session_maker
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            endpoints = Endpoints(client, 0.5, timedelta(hours=24), private_addresses=True, max_backoff=60)
            relay = build_webhook_relay(
                session_maker, endpoints, keys=intake.app.state.webhook_keys, lease_seconds=2.5
            )  # a pass of 1 s
            for _ in range(4):
                await relay.run_once()

    assert "b.example.org" in received


async def test_a_hung_endpoint_backs_off_and_is_given_up_whatever_the_lease(
    start_intake: StartIntake,
) -> None:
    """WANGGE_INTAKE_RELAY_LEASE_SECONDS=2.5 with the default 5 s timeout (or the default 30 s
    lease with WANGGE_INTAKE_WEBHOOK_TIMEOUT_SECONDS=30): a pass is shorter than the timeout."""

    async def hung(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(60)
        return httpx.Response(200)

    async with start_intake(FakeGrid(), FakeDispatch(), webhook_private_addresses=True) as intake:
        await hook(intake, "integration:a", "https://hung.example.org/")
        await add(intake, [row("integration:a", 1, age=timedelta(hours=25))])
        session_maker = intake.app.state.relay.session_maker
        async with httpx.AsyncClient(transport=httpx.MockTransport(hung)) as client:
            endpoints = Endpoints(client, 5.0, timedelta(hours=24), private_addresses=True, max_backoff=60)
            relay = build_webhook_relay(
                session_maker, endpoints, keys=intake.app.state.webhook_keys, lease_seconds=2.5
            )
            await relay.run_once()
        async with session_scope(session_maker) as session:
            webhook = await session.get(Webhook, "integration:a")
            assert webhook is not None
            msg = (await session.scalars(select(WebhookMessage))).one()
            state = (webhook.failures, webhook.blocked_until, msg.dead_at, msg.available_at, msg.last_error)

    assert state[2] is not None, "a 25-hour-old update to a hung endpoint is not given up"
    assert state[0] == 1 and state[1] is not None, "a hung endpoint does not back off"


async def test_a_slow_dns_answer_does_not_resend_other_bots_updates(
    start_intake: StartIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bot a's name takes 5 s to resolve (a dead name server: an integration chooses its URL);
    bot b's three updates are delivered in the same pass."""
    received: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(f"{request.url.host}:{orjson.loads(request.content)['id']}")
        return httpx.Response(200)

    async def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "slow-dns.example.org":
            await asyncio.sleep(5)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    async with start_intake(FakeGrid(), FakeDispatch()) as intake:
        await hook(intake, "integration:a", "https://slow-dns.example.org/")
        await hook(intake, "integration:b", "https://b.example.org/")
        await add(intake, [row("integration:a", 1)] + [row("integration:b", i) for i in (1, 2, 3)])
        session_maker = intake.app.state.relay.session_maker
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            endpoints = Endpoints(client, 0.5, timedelta(hours=24), private_addresses=False, max_backoff=0)
            relay = build_webhook_relay(
                session_maker, endpoints, keys=intake.app.state.webhook_keys, lease_seconds=2.5
            )  # budget 2 s, pass 1 s
            await relay.run_once()
        async with session_scope(session_maker) as session:
            marks = (
                await session.execute(
                    select(WebhookMessage.owner_id, WebhookMessage.sent_at, WebhookMessage.last_error)
                )
            ).all()

    b_sent = [m.sent_at for m in marks if m.owner_id == "integration:b"]
    assert all(b_sent), "b's updates were POSTed and will be POSTed again"


async def test_a_held_back_update_is_not_given_up_untried(start_intake: StartIntake) -> None:
    """An endpoint that is up refuses one update (a 400 for that body): the updates behind it,
    written 24 h ago too, die in the same pass without ever being sent."""
    posted: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posted.append(orjson.loads(request.content)["id"])
        return httpx.Response(400 if posted[-1] == "r:1" else 200)

    async with start_intake(FakeGrid(), FakeDispatch(), webhook_private_addresses=True) as intake:
        await hook(intake, "integration:a", "https://a.example.org/")
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            endpoints = Endpoints(client, 5.0, timedelta(hours=24), private_addresses=True, max_backoff=60)
            deliver = make_deliver(
                intake.app.state.relay.session_maker,
                endpoints,
                pass_seconds=20,
                keys=intake.app.state.webhook_keys,
            )
            outcomes = await deliver(
                [
                    message(1, "integration:a", 1, age=timedelta(hours=24, minutes=2)),
                    message(2, "integration:a", 2, age=timedelta(hours=24, minutes=1)),
                ]
            )
    assert not (outcomes[2].outcome is Outcome.dead and "r:2" not in posted)


async def test_a_put_racing_an_admin_delete_is_no_500(start_intake: StartIntake, backend: str) -> None:
    """PUT (the webhook exists: the insert does nothing) while an admin's DELETE commits."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer")
    from services.intake.webhooks import service
    from services.intake.webhooks.schemas import WebhookPut
    from shared.actors import Actor

    async with start_intake(FakeGrid(), FakeDispatch(), webhook_private_addresses=True) as intake:
        await hook(intake, "integration:a", "https://a.example.org/")
        session_maker = intake.app.state.relay.session_maker
        original = repository.add_if_absent

        deleted = False

        async def add_then_admin_deletes(session: Any, values: dict[str, Any]) -> bool:
            nonlocal deleted
            created = await original(session, values)
            if not deleted:  # the admin's DELETE commits just then, once
                deleted = True
                async with session_scope(session_maker) as other:
                    await service.remove_webhook_of(other, owner_id="integration:a")
            return created

        actor = Actor(id="integration:a", role=Role.integration, scopes=["reports:read"])
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(repository, "add_if_absent", add_then_admin_deletes)
            async with session_scope(session_maker) as session:
                answer, created = await service.set_webhook(
                    session,
                    owner=actor,
                    body=WebhookPut(url="https://b.example.org/"),
                    private_addresses=True,
                )
    assert created and answer.url == "https://b.example.org/"  # set anew after the DELETE


async def test_a_new_url_set_during_a_pass_is_tried_at_once(start_intake: StartIntake) -> None:
    """The old URL fails while the integration, seeing it, sets a new one: "a new URL is tried at once"."""
    async with start_intake(FakeGrid(), FakeDispatch(), webhook_private_addresses=True) as intake:
        await hook(intake, "integration:a", "https://old.example.org/")
        headers = bearer("integration:a", Role.integration, scopes=["reports:read"])

        async def handler(request: httpx.Request) -> httpx.Response:
            put = await intake.client.put(
                "/v1/webhook", json={"url": "https://new.example.org/"}, headers=headers
            )
            assert put.status_code == 200
            return httpx.Response(500)

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            endpoints = Endpoints(client, 5.0, timedelta(hours=24), private_addresses=True, max_backoff=60)
            deliver = make_deliver(
                intake.app.state.relay.session_maker,
                endpoints,
                pass_seconds=20,
                keys=intake.app.state.webhook_keys,
            )
            await deliver([message(1, "integration:a", 1)])
        async with session_scope(intake.app.state.relay.session_maker) as session:
            webhook = await session.get(Webhook, "integration:a")
            assert webhook is not None
            state = (webhook.url, webhook.failures, webhook.blocked_until)
    assert state[2] is None, state


@pytest.mark.parametrize("private_addresses", [False, True])
@pytest.mark.parametrize(
    "url", ["https://a.example.org:99999/", "https://a.example.org:8o/", "https://[::1/", "https://a..b/"]
)
async def test_a_url_that_cannot_be_sent_to_fails_only_its_own_updates(
    start_intake: StartIntake, monkeypatch: pytest.MonkeyPatch, url: str, private_addresses: bool
) -> None:
    """Bot a's stored URL has a port out of range, or a host no resolver takes (set before PUT
    checked it): the pass raised, every update of the claim was retried, and bot b's, POSTed
    already, went again each pass, for ever."""
    received: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(orjson.loads(request.content)["id"])
        return httpx.Response(200)

    async def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "b.example.org":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
        return await socket_getaddrinfo(host, port, *args, **kwargs)

    async with start_intake(FakeGrid(), FakeDispatch()) as intake:
        await hook(intake, "integration:b", "https://b.example.org/")
        session_maker = intake.app.state.relay.session_maker
        async with session_scope(session_maker) as session:
            now = utcnow()
            session.add(
                Webhook(owner_id="integration:a", url=url, secret="whsec_" + "A" * 32, created_at=now)
            )
        await add(intake, [row("integration:a", 1), row("integration:b", 2), row("integration:b", 3)])
        loop = asyncio.get_running_loop()
        socket_getaddrinfo = loop.getaddrinfo
        monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            endpoints = Endpoints(
                client, 1.0, timedelta(hours=24), private_addresses=private_addresses, max_backoff=60
            )
            relay = build_webhook_relay(
                session_maker, endpoints, keys=intake.app.state.webhook_keys, lease_seconds=5
            )
            await relay.run_once()
            await relay.run_once()
        async with session_scope(session_maker) as session:
            marks = dict((await session.execute(select(WebhookMessage.key, WebhookMessage.sent_at))).all())
            webhook = await session.get(Webhook, "integration:a")
            assert webhook is not None
            blocked = webhook.blocked_until
        state = (
            await intake.client.get(
                "/v1/webhook", headers=bearer("integration:a", Role.integration, scopes=["reports:read"])
            )
        ).json()

    assert received == ["r:2", "r:3"], "b's updates are sent once each"
    assert marks["r:2"] and marks["r:3"] and not marks["r:1"]
    assert blocked is not None, "a's endpoint backs off"
    assert state["last_error"].startswith("its URL cannot be used"), state


async def test_updates_retried_after_a_failed_pass_keep_their_order(
    start_intake: StartIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass failed as a whole (the database did not answer intake reading the webhooks): the
    relay gave each update of the claim its own jittered backoff, so the second came due before
    the first, as did one written meanwhile, and the bot heard 2 and 3 before 1."""
    received: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(orjson.loads(request.content)["id"])
        return httpx.Response(200)

    async with start_intake(FakeGrid(), FakeDispatch(), webhook_private_addresses=True) as intake:
        await hook(intake, "integration:a", "https://a.example.org/")
        await add(intake, [row("integration:a", 1), row("integration:a", 2)])
        session_maker = intake.app.state.relay.session_maker
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            endpoints = Endpoints(client, 1.0, timedelta(hours=24), private_addresses=True, max_backoff=60)
            relay = build_webhook_relay(
                session_maker, endpoints, keys=intake.app.state.webhook_keys, lease_seconds=5
            )
            with monkeypatch.context() as patch:

                async def out_of_reach(*args: Any, **kwargs: Any) -> Any:
                    raise ConnectionError("the database did not answer")

                patch.setattr(repository, "of_owners", out_of_reach)
                await relay.run_once()
            async with session_scope(session_maker) as session:  # the jitter drew these
                first, second = (
                    await session.scalars(select(WebhookMessage).order_by(WebhookMessage.id))
                ).all()
                first.available_at = utcnow() + timedelta(seconds=30)
                second.available_at = utcnow() - timedelta(seconds=1)
            await add(intake, [row("integration:a", 3)])
            await relay.run_once()
            assert received == [], "an update went before an older one still waiting"
            async with session_scope(session_maker) as session:
                oldest = (await session.scalars(select(WebhookMessage).order_by(WebhookMessage.id))).first()
                assert oldest is not None
                oldest.available_at = utcnow() - timedelta(seconds=1)
            await relay.run_once()

    assert received == ["r:1", "r:2", "r:3"]


async def test_a_name_that_cannot_be_checked_is_not_called(
    start_intake: StartIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check's look-up failed (a name server that answers SERVFAIL once, then a private
    address): the check counted the endpoint public, and the POST resolved the name again."""
    called: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        called.append(str(request.url))
        return httpx.Response(200)

    async def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    async with start_intake(FakeGrid(), FakeDispatch()) as intake:
        await hook(intake, "integration:a", "https://rebind.example.org/")
        await add(intake, [row("integration:a", 1)])
        session_maker = intake.app.state.relay.session_maker
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            endpoints = Endpoints(client, 1.0, timedelta(hours=24), private_addresses=False, max_backoff=60)
            relay = build_webhook_relay(
                session_maker, endpoints, keys=intake.app.state.webhook_keys, lease_seconds=5
            )
            await relay.run_once()
        async with session_scope(session_maker) as session:
            message = (await session.scalars(select(WebhookMessage))).one()
            state = (message.sent_at, message.last_error)

    assert called == []
    assert state == (None, "the endpoint could not be reached")
