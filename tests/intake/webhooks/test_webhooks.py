"""An integration's webhook: set, read, rotated and removed by the integration, and each update
of its reports delivered there, signed, in order, retried, given up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from services.intake.models import Webhook, WebhookMessage
from services.intake.webhooks.delivery import OUT_OF_TIME, Endpoints, make_deliver
from shared.actors import Role
from shared.db import session_scope, utcnow
from shared.outbox import Outcome
from tests.support.tokens import bearer

from ..conftest import DISPATCH, Intake, StartIntake
from ..factories import report_body, status_changed
from ..fakes import FakeDispatch, FakeGrid

BOT_ID = "integration:ak_bot1"
BOT = bearer(BOT_ID, Role.integration, scopes=["reports:create", "reports:read"], channel="wechat-bot")
URL = "https://bot.example.org/wangge"


@dataclass
class Endpoint:
    """The bot's endpoint: what it received, and the status it answers (200 unless told)."""

    received: list[httpx.Request] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        return httpx.Response(self.answers.pop(0) if self.answers else 200)

    def bodies(self) -> list[dict[str, Any]]:
        return [orjson.loads(request.content) for request in self.received]


@pytest.fixture
def endpoint() -> Endpoint:
    return Endpoint()


@pytest.fixture
async def intake(start_intake: StartIntake, endpoint: Endpoint) -> AsyncIterator[Intake]:
    transport = httpx.MockTransport(endpoint.handler)
    async with start_intake(
        FakeGrid(), FakeDispatch(), webhooks=transport, webhook_private_addresses=True
    ) as app:
        await app.app.state.territory.refresh()
        yield app


async def set_webhook(intake: Intake, url: str = URL) -> httpx.Response:
    return await intake.client.put("/v1/webhook", json={"url": url}, headers=BOT)


async def bot_report(intake: Intake) -> str:
    body = report_body()
    created = await intake.client.post("/v1/reports", json=body, headers=BOT)
    assert created.status_code == 201, created.text
    return str(body["id"])


async def hear(intake: Intake, *messages: dict[str, Any]) -> None:
    answer = await intake.client.post(
        "/internal/v1/inbox", json={"messages": list(messages)}, headers=DISPATCH
    )
    assert answer.status_code == 200, answer.text
    await intake.app.state.webhook_relay.drain()


async def test_an_integration_sets_reads_rotates_and_removes_its_webhook(intake: Intake) -> None:
    created = await set_webhook(intake)
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    assert created.headers["Cache-Control"] == "no-store"
    assert created.headers["Location"] == "/v1/webhook"  # a create answers 201 with it (README)

    read = await intake.client.get("/v1/webhook", headers=BOT)
    assert read.status_code == 200
    assert (read.json()["url"], read.json()["secret"], read.json()["pending"]) == (URL, None, 0)

    moved = await set_webhook(intake, "https://bot.example.org/v2")
    assert "Location" not in moved.headers
    assert (moved.status_code, moved.json()["url"], moved.json()["secret"]) == (
        200,
        "https://bot.example.org/v2",
        None,
    )
    rotated = await intake.client.post("/v1/webhook/secret", headers=BOT)
    assert rotated.json()["secret"].startswith("whsec_") and rotated.json()["secret"] != secret

    assert (await intake.client.delete("/v1/webhook", headers=BOT)).status_code == 204
    gone = await intake.client.get("/v1/webhook", headers=BOT)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


async def test_an_admin_lists_the_webhooks_and_removes_one(intake: Intake, endpoint: Endpoint) -> None:
    """A leaked key revoked, its webhook went on hearing the bot's reports: only the bot could
    remove it. An admin sees every webhook (never a secret) and removes one."""
    await set_webhook(intake)
    report_id = await bot_report(intake)
    admin = bearer("pan.jun", Role.admin)
    answer = await intake.client.post(
        "/internal/v1/inbox",
        json={"messages": [status_changed([report_id], event_id=1, status="dispatched")]},
        headers=DISPATCH,
    )
    assert answer.status_code == 200

    listed = (await intake.client.get("/v1/webhooks", headers=admin)).json()
    assert [(w["owner_id"], w["url"], w["secret"], w["pending"]) for w in listed["items"]] == [
        (BOT_ID, URL, None, 1)
    ]
    assert (await intake.client.delete(f"/v1/webhooks/{BOT_ID}", headers=admin)).status_code == 204
    await intake.app.state.webhook_relay.drain()
    assert endpoint.received == []
    assert (await intake.client.get("/v1/webhook", headers=BOT)).status_code == 404
    assert (await intake.client.get("/v1/webhooks", headers=admin)).json()["items"] == []
    assert (await intake.client.delete(f"/v1/webhooks/{BOT_ID}", headers=admin)).status_code == 404


async def test_an_owner_holding_a_nul_is_422_on_either_database(intake: Intake) -> None:
    """The one path parameter of intake with no pattern: a NUL reached the database, which
    PostgreSQL refused (a 422 saying nothing of where) and SQLite looked up (a 404 echoing it)."""
    admin = bearer("pan.jun", Role.admin)
    await set_webhook(intake)

    refused = await intake.client.delete(f"/v1/webhooks/{BOT_ID}%00", headers=admin)

    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["path", "owner_id"]
    assert "NUL" in refused.json()["detail"]
    assert (await intake.client.get("/v1/webhook", headers=BOT)).status_code == 200


async def test_first_puts_at_once_make_one_webhook(intake: Intake) -> None:
    """Two first PUTs at once both inserted: a 500 (unique violation) on PostgreSQL."""
    answers = await asyncio.gather(*(set_webhook(intake) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert [bool(a.json()["secret"]) for a in answers if a.status_code == 201] == [True]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "ftp://bot.example.org/x",
        "bot.example.org",
        "",
        # taken, and no delivery could be made to them (they stalled every bot's, see delivery's tests)
        "https://bot.example.org:99999/wangge",
        "https://bot.example.org:0/",
        "https://bot.example.org:8o8o/",
        "https://[::1/wangge",
        "https://bot..example.org/",
        "https://@/wangge",
    ],
)
async def test_a_webhook_url_that_is_no_http_url_is_422(intake: Intake, url: str) -> None:
    refused = await set_webhook(intake, url)
    assert refused.status_code == 422, refused.text
    assert (await intake.client.get("/v1/webhook", headers=BOT)).status_code == 404


async def test_each_update_of_its_reports_is_delivered_signed(intake: Intake, endpoint: Endpoint) -> None:
    secret = (await set_webhook(intake)).json()["secret"]
    report_id = await bot_report(intake)
    theirs = report_body()
    await intake.post_report(theirs)  # a grid worker's: she has no webhook

    await hear(
        intake,
        status_changed([report_id, theirs["id"]], event_id=1, status="dispatched"),
        status_changed([report_id, theirs["id"]], event_id=2, status="in_progress", action="accepted"),
    )

    assert [str(r.url) for r in endpoint.received] == [URL, URL]
    first = endpoint.received[0]
    body = Verifier(secret).verify(first.content, dict(first.headers))
    assert first.headers["webhook-id"] == body["id"] == f"{report_id}:1"
    assert body["type"] == "report.updated"
    assert body["report"]["id"] == report_id
    assert (body["report"]["case_number"], body["report"]["department_name"]) == (
        "SM20250501-0007",
        "思明区城管局",
    )
    assert (body["event"]["action"], body["event"]["status"]) == ("dispatch", "dispatched")
    assert [b["event"]["event_id"] for b in endpoint.bodies()] == [1, 2]
    assert (await intake.client.get("/v1/webhook", headers=BOT)).json()["pending"] == 0

    # the same event delivered again by dispatch is a duplicate: nothing more is sent
    await hear(intake, status_changed([report_id], event_id=2, status="in_progress", action="accepted"))
    assert len(endpoint.received) == 2


async def test_after_a_rotation_the_old_secret_still_verifies_for_a_day(
    intake: Intake, endpoint: Endpoint
) -> None:
    """A bot that rotates its secret and redeploys loses no update signed meanwhile: for 24 hours
    each delivery carries a second signature, made with the secret the rotation replaced."""
    old = (await set_webhook(intake)).json()["secret"]
    rotated = (await intake.client.post("/v1/webhook/secret", headers=BOT)).json()
    new = rotated["secret"]
    until = rotated["previous_secret_until"]
    assert until is not None
    assert timedelta(hours=23) < datetime.fromisoformat(until) - utcnow() <= timedelta(hours=24)
    report_id = await bot_report(intake)

    await hear(intake, status_changed([report_id], event_id=1, status="dispatched"))
    first = endpoint.received[-1]
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert Verifier(secret).verify(first.content, dict(first.headers))["id"] == f"{report_id}:1"

    async with session_scope(intake.relay.session_maker) as session:  # the day has passed
        hook = await session.get(Webhook, BOT_ID)
        assert hook is not None
        hook.previous_secret_until = utcnow() - timedelta(seconds=1)
    await hear(intake, status_changed([report_id], event_id=2, status="in_progress", action="accepted"))
    second = endpoint.received[-1]
    assert Verifier(new).verify(second.content, dict(second.headers))["id"] == f"{report_id}:2"
    with pytest.raises(WebhookVerificationError):
        Verifier(old).verify(second.content, dict(second.headers))
    assert (await intake.client.get("/v1/webhook", headers=BOT)).json()["previous_secret_until"] is None


async def test_a_failed_delivery_holds_back_the_next_and_is_retried(
    intake: Intake, endpoint: Endpoint
) -> None:
    await set_webhook(intake)
    report_id = await bot_report(intake)
    endpoint.answers = [503]

    await hear(
        intake,
        status_changed([report_id], event_id=1, status="dispatched"),
        status_changed([report_id], event_id=2, status="in_progress", action="accepted"),
    )

    # 503 first; the second waited behind it; then both, in order (the relay retries at once here)
    assert [b["event"]["event_id"] for b in endpoint.bodies()] == [1, 1, 2]
    state = (await intake.client.get("/v1/webhook", headers=BOT)).json()
    assert (state["pending"], state["dead"], state["last_error"]) == (0, 0, None)


async def test_removing_the_webhook_gives_up_what_was_not_delivered(
    intake: Intake, endpoint: Endpoint
) -> None:
    await set_webhook(intake)
    report_id = await bot_report(intake)
    answer = await intake.client.post(
        "/internal/v1/inbox",
        json={"messages": [status_changed([report_id], event_id=1, status="dispatched")]},
        headers=DISPATCH,
    )
    assert answer.status_code == 200
    assert (await intake.client.delete("/v1/webhook", headers=BOT)).status_code == 204
    await intake.app.state.webhook_relay.drain()
    assert endpoint.received == []

    async with session_scope(intake.app.state.relay.session_maker) as session:
        given_up = (await session.scalars(select(WebhookMessage.last_error))).all()
    assert given_up == ["the webhook was removed"]
    # set again, it starts clean: the removed one's deliveries are not its own
    again = (await set_webhook(intake)).json()
    assert (again["pending"], again["dead"], again["last_error"]) == (0, 0, None)


def message(id_: int, owner: str, event_id: int, *, age: timedelta = timedelta(0)) -> SimpleNamespace:
    body = {"id": f"r:{event_id}", "event": {"event_id": event_id}}
    payload = {"to": owner, "at": (utcnow() - age).isoformat(), "body": body}
    return SimpleNamespace(id=id_, key=body["id"], payload=payload, topic="report.updated", attempts=0)


async def test_one_endpoint_down_holds_back_only_its_own_and_gives_up_after_a_day(
    start_intake: StartIntake,
) -> None:
    """Deliveries to two bots: one's endpoint is down, the other's takes every update."""
    answered: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        answered.append(f"{request.url.host}:{orjson.loads(request.content)['id']}")
        return httpx.Response(500 if request.url.host == "down.example.org" else 204)

    async with start_intake(FakeGrid(), FakeDispatch(), webhook_private_addresses=True) as intake:
        for owner, url in (
            ("integration:a", "https://down.example.org/"),
            ("integration:b", "https://up.example.org/"),
        ):
            headers = bearer(owner, Role.integration, scopes=["reports:read"])
            assert (
                await intake.client.put("/v1/webhook", json={"url": url}, headers=headers)
            ).status_code == 201
        session_maker = intake.app.state.relay.session_maker
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            endpoints = Endpoints(client, 5.0, timedelta(hours=24), private_addresses=True, max_backoff=60)
            deliver = make_deliver(
                session_maker, endpoints, pass_seconds=20, keys=intake.app.state.webhook_keys
            )
            outcomes = await deliver(
                [
                    message(1, "integration:a", 1, age=timedelta(hours=25)),
                    message(2, "integration:b", 1),
                    message(3, "integration:a", 2),
                    message(4, "integration:b", 2),
                    message(5, "integration:gone", 1),
                ]
            )

    assert sorted(answered) == ["down.example.org:r:1", "up.example.org:r:1", "up.example.org:r:2"]
    assert {i: o.outcome for i, o in outcomes.items()} == {
        1: Outcome.dead,  # written 25 hours ago and still failing: given up
        2: Outcome.sent,
        3: Outcome.retry,  # held back behind 1, not sent
        4: Outcome.sent,
        5: Outcome.dead,  # no webhook any more
    }
    assert outcomes[1].error == "the endpoint answered 500"


async def test_a_down_endpoint_backs_off_as_a_whole_and_its_updates_keep_their_order(
    start_intake: StartIntake, endpoint: Endpoint
) -> None:
    """A failed update and a newer one: the newer waited its own jittered backoff and went
    first. Now the endpoint backs off: nothing of it is claimed until then, and then in order."""
    transport = httpx.MockTransport(endpoint.handler)
    settings = {"webhook_private_addresses": True, "relay_max_backoff_seconds": 60}
    async with start_intake(FakeGrid(), FakeDispatch(), webhooks=transport, **settings) as intake:
        await intake.app.state.territory.refresh()
        await set_webhook(intake)
        report_id = await bot_report(intake)
        endpoint.answers = [503]
        await hear(intake, status_changed([report_id], event_id=1, status="dispatched"))
        await hear(intake, status_changed([report_id], event_id=2, status="in_progress", action="accepted"))
        assert [b["event"]["event_id"] for b in endpoint.bodies()] == [1]  # 2 waits with 1

        async with session_scope(intake.app.state.relay.session_maker) as session:
            webhook = await session.get(Webhook, BOT_ID)
            assert webhook is not None and webhook.failures == 1 and webhook.blocked_until is not None
            webhook.blocked_until = utcnow() - timedelta(seconds=1)  # its backoff has run out
        await intake.app.state.webhook_relay.drain()

        assert [b["event"]["event_id"] for b in endpoint.bodies()] == [1, 1, 2]
        async with session_scope(intake.app.state.relay.session_maker) as session:
            webhook = await session.get(Webhook, BOT_ID)
            assert webhook is not None and (webhook.failures, webhook.blocked_until) == (0, None)


async def test_a_slow_endpoint_gets_the_rest_next_pass_not_everything_twice(
    start_intake: StartIntake,
) -> None:
    """Each answer took 0.3 s and a pass had 1 s: the relay's budget ran out mid-batch and every
    update, sent or not, was retried (sent again and again, the rest never)."""
    received: list[int] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        received.append(orjson.loads(request.content)["event"]["event_id"])
        return httpx.Response(200)

    async with start_intake(FakeGrid(), FakeDispatch(), webhook_private_addresses=True) as intake:
        await set_webhook(intake)
        async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
            endpoints = Endpoints(client, 0.5, timedelta(hours=24), private_addresses=True, max_backoff=0)
            deliver = make_deliver(
                intake.app.state.relay.session_maker,
                endpoints,
                pass_seconds=1.0,
                keys=intake.app.state.webhook_keys,
            )
            outcomes = await deliver([message(i, BOT_ID, i) for i in range(1, 6)])

    sent = [i for i, o in outcomes.items() if o.outcome is Outcome.sent]
    assert sent == received == [1, 2, 3]  # 0.3 s each: the fourth was cut short at 1 s
    assert {o.error for i, o in outcomes.items() if i not in sent} == {OUT_OF_TIME}
    assert all(o.delay == 0 for i, o in outcomes.items() if i not in sent)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/",
        "http://localhost:8003/",
        "http://169.254.169.254/latest/",
        "http://[::ffff:10.0.0.5]/",
        "http://10.0.0.5/",
        "http://127.1:9000/",  # the forms inet_aton reads, as getaddrinfo and so the POST do
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0xa000005/",
    ],
)
async def test_a_webhook_written_as_a_private_address_is_refused_when_it_is_set(
    start_intake: StartIntake, url: str
) -> None:
    """A bot on the office's LAN set with 192.168.x.x was taken and every update then failed,
    unseen: the integrator hears it at once, and what the office can do about it."""
    async with start_intake(FakeGrid(), FakeDispatch()) as intake:
        refused = await set_webhook(intake, url)
    async with start_intake(FakeGrid(), FakeDispatch(), webhook_private_addresses=True) as intake:
        allowed = await set_webhook(intake, url)

    assert refused.status_code == 422
    assert refused.json()["detail"].startswith(f"{url}: its address is not a public one (loopback")
    assert "WANGGE_INTAKE_WEBHOOK_PRIVATE_ADDRESSES" in refused.json()["detail"]
    assert allowed.status_code == 201


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "10.0.0.5"])
async def test_an_endpoint_whose_name_resolves_to_a_private_address_is_not_called(
    start_intake: StartIntake, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    """An integration's URL made intake call what listens on its own network, and the error
    told what did. Unless the office allows private addresses, nothing is sent."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    async def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        return [(2, 1, 6, "", (address, port))]

    transport = httpx.MockTransport(handler)  # an endpoint that fails backs off a minute, as by default
    async with start_intake(
        FakeGrid(), FakeDispatch(), webhooks=transport, relay_max_backoff_seconds=60
    ) as intake:
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
        await intake.app.state.territory.refresh()
        assert (await set_webhook(intake, "http://bot.example.org:5432/")).status_code == 201
        report_id = await bot_report(intake)
        await hear(intake, status_changed([report_id], event_id=1, status="dispatched"))
        state = (await intake.client.get("/v1/webhook", headers=BOT)).json()

    assert calls == []
    assert state["last_error"] == "its address is not a public one (loopback, private network, link-local…)"
