"""dispatch's identity wiring: tokens verified with grid's cached keys, its own service token,
and its client secret from configuration (refusing to start in production without one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from asgi_lifespan import LifespanManager

from services.dispatch.app import create_app
from services.dispatch.settings import DispatchSettings
from shared.actors import Actor, Role
from shared.secrets import SecretMissing
from tests.dispatch import factories
from tests.dispatch.conftest import DISPATCHER, HANDLER, WORKER, Dispatch, StartDispatch
from tests.dispatch.fakes import FakeGrid, FakeIntake
from tests.support.tokens import OTHER_KEY, bearer, token


async def test_grid_keys_are_fetched_once_not_per_request(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    for headers in (DISPATCHER, HANDLER, WORKER, bearer("someone.new", Role.admin)):
        for _ in range(3):
            assert (await dispatch.client.get(f"/v1/cases/{case['id']}", headers=headers)).status_code == 200
    assert dispatch.grid.jwks_calls == 1


async def test_an_unknown_key_is_401_and_does_not_make_grid_a_per_request_call(dispatch: Dispatch) -> None:
    await dispatch.client.get("/v1/cases", headers=DISPATCHER)
    stranger = token(Actor(id="li.dispatcher", role=Role.dispatcher), key=OTHER_KEY, kid="rotated-key")
    for _ in range(5):
        response = await dispatch.client.get("/v1/cases", headers={"Authorization": f"Bearer {stranger}"})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == (
            'Bearer error="invalid_token", error_description="the access token is signed with an unknown key"'
        )
    assert dispatch.grid.jwks_calls <= 2


@pytest.mark.parametrize(
    "claims",
    [{"exp": 1_000_000}, {"aud": "elsewhere"}, {"iss": "someone-else"}, {"role": "emperor"}],
    ids=["expired", "audience", "issuer", "unknown-role"],
)
async def test_bad_tokens_are_401(dispatch: Dispatch, claims: dict[str, Any]) -> None:
    bad = token(Actor(id="li.dispatcher", role=Role.dispatcher), **claims)
    response = await dispatch.client.get("/v1/cases", headers={"Authorization": f"Bearer {bad}"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["WWW-Authenticate"].startswith(
        'Bearer error="invalid_token", error_description="'
    )
    if "exp" in claims:
        assert response.json()["detail"] == "the access token has expired"


async def test_peers_are_called_with_one_service_token(dispatch: Dispatch) -> None:
    await dispatch.deliver(factories.report(), factories.report(lat=factories.LAT + 0.01))
    await dispatch.relay.drain()
    await dispatch.deliver(factories.report(lat=factories.LAT + 0.02))
    await dispatch.relay.drain()
    assert dispatch.grid.token_calls == 1
    assert len(dispatch.intake.batches) == 2
    assert set(dispatch.intake.callers) == {"service:dispatch"}


async def test_in_development_the_client_secret_is_generated_into_the_data_dir(
    start_dispatch: StartDispatch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANGGE_DISPATCH_CLIENT_SECRET", raising=False)
    grid = FakeGrid()
    async with start_dispatch(grid, FakeIntake(), client_secret=None, environment="development") as dispatch:
        secret = tmp_path / "secrets" / "service-dispatch"
        assert secret.stat().st_mode & 0o777 == 0o600
        grid.client_secret = secret.read_text().strip()
        await dispatch.deliver(factories.report())
    assert grid.token_calls == 1


def settings(tmp_path: Path, **values: object) -> DispatchSettings:
    return DispatchSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'dispatch.db'}",
        data_dir=tmp_path,
        background_tasks=False,
        **values,  # type: ignore[arg-type]
    )


async def test_production_without_a_client_secret_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANGGE_DISPATCH_CLIENT_SECRET", raising=False)
    app = create_app(settings(tmp_path, environment="production"))
    with pytest.raises(SecretMissing, match="WANGGE_DISPATCH_CLIENT_SECRET"):
        async with LifespanManager(app):
            pass
    assert not (tmp_path / "secrets").exists()


async def test_production_with_a_client_secret_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANGGE_DISPATCH_CLIENT_SECRET", "from-the-environment")
    app = create_app(settings(tmp_path, environment="production"))
    async with LifespanManager(app):
        pass
    assert not (tmp_path / "secrets").exists()
