"""A grid worker's web app on another origin files a report and reads where it went."""

from __future__ import annotations

from tests.intake.conftest import StartIntake
from tests.intake.factories import report_body
from tests.intake.fakes import FakeDispatch, FakeGrid

APP = "https://app.example.gov.cn"


async def test_a_web_app_on_another_origin_reads_location_and_the_replay_mark(
    start_intake: StartIntake,
) -> None:
    async with start_intake(FakeGrid(), FakeDispatch(), cors_origins=[APP]) as intake:
        await intake.app.state.territory.refresh()
        preflight = await intake.client.options(
            "/v1/reports",
            headers={
                "Origin": APP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
            },
        )
        body = report_body()
        headers = {"Origin": APP, "Idempotency-Key": body["id"]}
        created = await intake.post_report(body, **headers)
        replayed = await intake.post_report(body, **headers)
        elsewhere = await intake.post_report(report_body(), Origin="https://evil.example")

    assert (preflight.status_code, preflight.headers["access-control-allow-origin"]) == (200, APP)
    assert (created.status_code, replayed.status_code, elsewhere.status_code) == (201, 201, 201)
    for answer in (created, replayed):
        assert answer.headers["access-control-allow-origin"] == APP
        exposed = {name.strip() for name in answer.headers["access-control-expose-headers"].split(",")}
        assert {"Location", "Idempotent-Replayed", "ETag"} <= exposed
    assert replayed.headers["Idempotent-Replayed"] == "true"
    # Served (the server cannot tell a browser from a script), but the browser keeps it from the page.
    assert "access-control-allow-origin" not in elsewhere.headers
