"""The demo's photos: uploaded as a phone's app would, waiting when intake says it is busy."""

from __future__ import annotations

import random

import httpx

from wangge.demo.day import Day
from wangge.demo.world import Api, DemoConfig, Staff, World

URL = "http://intake/v1/photos/5f0c8f6e-2b1d-4c59-9a53-0d1e6f7a8b90"


async def test_a_busy_intake_is_waited_for_as_its_retry_after_says() -> None:
    """At most four uploads a photo worker are taken in at once (eight by default, the demo's
    own concurrency): with one worker, or a phone uploading beside it, intake answered 503 with
    Retry-After and the demo stopped with a traceback."""
    answers = [
        httpx.Response(503, headers={"Retry-After": "0"}, json={"status": 503}),
        httpx.Response(503, headers={"Retry-After": "0"}, json={"status": 503}),
        httpx.Response(201, json={"url": URL}),
    ]
    asked: list[httpx.Request] = []

    def intake(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return answers.pop(0)

    api = Api(DemoConfig())
    await api.intake.aclose()
    api.intake = httpx.AsyncClient(transport=httpx.MockTransport(intake), base_url="http://intake")
    day = Day(
        api,
        World(cells=[], categories=[], staff={"dispatcher": [Staff("hong.yi", "dispatcher")]}),
        random.Random(1),
    )
    try:
        url = await day.photograph(Staff("wang.fang", "grid_worker", token="t"), "占道经营")
    finally:
        await api.aclose()

    assert url == URL
    assert len(asked) == 3
    assert asked[-1].headers["content-type"] == "image/jpeg"
