"""A dispatch console on another origin: it reads a case's ETag and sends it back."""

from __future__ import annotations

import httpx

from tests.dispatch.conftest import DISPATCHER, HANDLER, StartDispatch
from tests.dispatch.fakes import FakeGrid, FakeIntake

CONSOLE = "http://localhost:5173"


def exposed(answer: httpx.Response) -> set[str]:
    return {name.strip().lower() for name in answer.headers["access-control-expose-headers"].split(",")}


async def test_a_console_on_another_origin_reads_the_etag_and_sends_it_back(
    start_dispatch: StartDispatch,
) -> None:
    async with start_dispatch(FakeGrid(), FakeIntake(), cors_origins=[CONSOLE]) as dispatch:
        case = await dispatch.new_case()
        url = f"/v1/cases/{case['id']}"
        preflight = await dispatch.client.options(
            f"{url}/accept",
            headers={
                "Origin": CONSOLE,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,if-match",
            },
        )
        read = await dispatch.client.get(url, headers={**DISPATCHER, "Origin": CONSOLE})
        accepted = await dispatch.client.post(
            f"{url}/accept", json={}, headers={**HANDLER, "Origin": CONSOLE, "If-Match": read.headers["ETag"]}
        )
        stale = await dispatch.client.post(
            f"{url}/notes",
            json={"note": "x"},
            headers={**DISPATCHER, "Origin": CONSOLE, "If-Match": read.headers["ETag"]},
        )

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == CONSOLE
    assert "if-match" in preflight.headers["access-control-allow-headers"].lower()
    for answer in (read, accepted, stale):
        assert answer.headers["access-control-allow-origin"] == CONSOLE
        assert "etag" in exposed(answer)
    assert (read.status_code, accepted.status_code) == (200, 200)
    assert accepted.headers["ETag"] != read.headers["ETag"]
    assert stale.status_code == 412  # the page reads the problem and the current ETag in it
    assert stale.json()["current_etag"] == accepted.headers["ETag"]
