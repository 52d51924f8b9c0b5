"""intake calls its peers as ``service:intake``: a client-credentials token from grid, reused
while valid and renewed when a peer refuses it; its secret comes from configuration."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shared.secrets import SecretMissing, dev_secret

from .conftest import Intake, StartIntake
from .factories import report_body
from .fakes import FakeDispatch, FakeGrid


async def test_service_token_is_reused_across_deliveries(intake: Intake) -> None:
    for _ in range(3):
        await intake.post_report(report_body())
        await intake.relay.drain()

    assert len(intake.dispatch.received) == 3
    assert intake.dispatch.calls == 3
    assert intake.grid.token_calls == 1  # one token for the territory refresh and every delivery
    assert set(intake.dispatch.tokens_seen) == {intake.grid.issued[0]}


async def test_refused_service_token_is_renewed_and_the_delivery_goes_through(intake: Intake) -> None:
    await intake.post_report(report_body())
    await intake.relay.drain()
    stale = intake.grid.issued[0]
    intake.dispatch.revoked.add(stale)  # e.g. grid rotated its keys

    body = report_body()
    await intake.post_report(body)
    await intake.relay.drain()

    fresh = intake.grid.issued[-1]
    assert intake.grid.token_calls == 2 and fresh != stale
    assert intake.dispatch.tokens_seen[-2:] == [stale, fresh]
    assert intake.dispatch.report_ids[-1] == body["id"]
    assert all(m.sent_at is not None for m in await intake.outbox())


async def test_grid_refusing_intake_credentials_delays_delivery(intake: Intake) -> None:
    intake.grid.secret = "rotated-on-grid-only"
    intake.app.state.service_tokens.forget()
    await intake.post_report(report_body())

    await intake.relay.run_once()

    assert intake.dispatch.received == []
    [waiting] = await intake.outbox()
    assert waiting.sent_at is None and waiting.dead_at is None


async def test_production_without_a_client_secret_refuses_to_start(
    start_intake: StartIntake, tmp_path: Path
) -> None:
    with pytest.raises(SecretMissing, match="WANGGE_INTAKE_CLIENT_SECRET"):
        async with start_intake(
            FakeGrid(), FakeDispatch(), environment="production", client_secret=None, data_dir=tmp_path
        ):
            pass

    assert not (tmp_path / "secrets").exists()


async def test_development_generates_the_secret_into_the_data_dir(
    start_intake: StartIntake, tmp_path: Path
) -> None:
    grid = FakeGrid()
    grid.secret = dev_secret(tmp_path, "service-intake")
    async with start_intake(
        grid, FakeDispatch(), environment="development", client_secret=None, data_dir=tmp_path
    ) as intake:
        refreshed = await intake.app.state.territory.refresh()

    assert refreshed is True
    assert grid.token_calls == 1
    assert (tmp_path / "secrets" / "service-intake").stat().st_mode & 0o077 == 0


async def test_background_start_fetches_grid_keys_before_any_request(start_intake: StartIntake) -> None:
    grid = FakeGrid()
    settings = {"background_tasks": True, "territory_refresh_seconds": 60}
    async with start_intake(grid, FakeDispatch(), **settings) as intake:
        for _ in range(100):
            if grid.jwks_calls:
                break
            await asyncio.sleep(0.02)
        grid.down = grid.auth_down = True  # grid goes away before intake's first request

        response = await intake.client.get("/v1/reports")

    assert response.status_code == 200
    assert grid.jwks_calls == 1
