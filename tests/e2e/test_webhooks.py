"""A chat bot hears its report's news at its own endpoint: three real processes, a real HTTP
receiver, a real API key."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from tests.e2e.conftest import System, eventually, integration, rubbish_in_the_cell_of

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


class Receiver(ThreadingHTTPServer):
    """The bot's endpoint: keeps each delivery (headers and body) and answers 204."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/wangge"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.deliveries.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def bodies(receiver: Receiver) -> list[bytes]:
    return [content for _, content in receiver.deliveries]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def test_a_bot_hears_its_report_dispatched_and_handled_at_its_webhook(
    system: System, receiver: Receiver
) -> None:
    admin = system.login("pan.jun")
    async with (
        httpx.AsyncClient(base_url=system.url("intake"), timeout=10) as intake,
        httpx.AsyncClient(base_url=system.url("dispatch"), timeout=10) as dispatch,
        httpx.AsyncClient(base_url=system.url("grid"), timeout=10) as grid,
    ):
        # The office issues the merchants' bot a key; the bot takes a token and sets its webhook.
        bot = await integration(grid, admin, name="中山路商圈群", channel="wechat-bot")
        hook = await intake.put("/v1/webhook", json={"url": receiver.url}, headers=bot)
        assert hook.status_code == 201, hook.text
        signing = hook.json()["secret"]

        # A merchant in the group reports rubbish in 镇海 (0101 goes to sanitation at once).
        body = await rubbish_in_the_cell_of(grid, admin, "wang.fang", "群里说：镇海路口垃圾堆了两天")
        report_id = body["id"]
        assert (await intake.post("/v1/reports", json=body, headers=bot)).status_code == 201

        def heard(action: str) -> dict[str, Any] | None:
            for headers, content in receiver.deliveries:
                update = orjson.loads(content)
                if update["event"]["action"] == action:
                    return {"headers": headers, "content": content, "update": update}
            return None

        async def dispatched() -> dict[str, Any] | None:
            return heard("dispatched")

        first = await eventually(dispatched, what="the bot to hear its report dispatched")
        update = Verifier(signing).verify(first["content"], first["headers"])
        assert update["report"]["id"] == report_id
        assert update["report"]["case_number"].startswith("WG")
        assert update["report"]["department_code"] == "sanitation"
        assert first["headers"]["webhook-id"] == update["id"]

        # The department accepts and resolves: the bot hears both, each with the case's news.
        case_id = update["report"]["case_id"]
        handler = system.login("ye.guiying")
        for command, payload in (("accept", {}), ("resolve", {"note": "已清运"})):
            etag = (await dispatch.get(f"/v1/cases/{case_id}", headers=handler)).headers["ETag"]
            done = await dispatch.post(
                f"/v1/cases/{case_id}/{command}", json=payload, headers={**handler, "If-Match": etag}
            )
            assert done.status_code == 200, done.text

        async def resolved() -> dict[str, Any] | None:
            # both: intake may deliver the resolution before the acceptance (two batches at once)
            return heard("resolved") if heard("accepted") else None

        last = await eventually(resolved, what="the bot to hear its report accepted and resolved")
        assert (last["update"]["event"]["note"], last["update"]["report"]["status"]) == ("已清运", "resolved")
        # Each once; in the order of the events (dispatch's relay may deliver two batches to
        # intake side by side, so the bot orders by event id, as the README says).
        events = sorted(
            (u["event"]["event_id"], u["event"]["action"]) for u in map(orjson.loads, bodies(receiver))
        )
        assert [action for _, action in events] == ["dispatched", "accepted", "resolved"]
        state = (await intake.get("/v1/webhook", headers=bot)).json()
        assert (state["pending"], state["dead"]) == (0, 0)
