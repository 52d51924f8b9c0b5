"""What an operator does to the databases directly, with no service running: migrate, seed,
import a territory, add people, issue and revoke integration keys."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import create_engine, create_session_maker, session_scope, utcnow
from shared.settings import ServiceSettings
from wangge.processes import START_ORDER

T = TypeVar("T")
CLI_ACTOR = "cli"


def service_settings(name: str) -> ServiceSettings:
    if name == "grid":
        from services.grid.settings import GridSettings

        return GridSettings()
    if name == "intake":
        from services.intake.settings import IntakeSettings

        return IntakeSettings()
    if name == "dispatch":
        from services.dispatch.settings import DispatchSettings

        return DispatchSettings()
    raise SystemExit(f"unknown service {name!r}; one of {', '.join(START_ORDER)}")


def check_configuration(name: str) -> None:
    """What a service checks as it starts (``SecretMissing``: a secret or the signing key that
    production needs), checked before the server starts, so a refusal is one line, not a
    traceback under uvicorn's "Application startup failed"."""
    if name == "grid":
        from services.grid.identity.context import build_identity
        from services.grid.settings import GridSettings

        build_identity(GridSettings())
    else:
        from shared.auth import client_secret

        client_secret(service_settings(name))


def migrate(names: list[str] | tuple[str, ...] = START_ORDER) -> list[ServiceSettings]:
    from migrations.runner import upgrade

    migrated = []
    for name in names:
        settings = service_settings(name)
        upgrade(name, settings.database_url)
        migrated.append(settings)
    return migrated


def in_grid(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction on grid's database."""

    async def run() -> T:
        engine = create_engine(service_settings("grid").database_url)
        try:
            async with session_scope(create_session_maker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def seed_demo() -> bool:
    from services.grid.seed import seed_demo as seed

    return in_grid(seed)


def import_catalog(files: list[tuple[str, Any]]) -> Any:
    from services.grid.catalog.importing import import_catalog as run

    return in_grid(lambda session: run(session, files=files, actor_id=f"{CLI_ACTOR}:import-catalog"))


def import_grids(data: dict[str, Any]) -> Any:
    from services.grid.regions.service import import_feature_collection

    return in_grid(
        lambda session: import_feature_collection(session, data=data, actor_id=f"{CLI_ACTOR}:import-grids")
    )


def add_user(
    *,
    username: str,
    name: str,
    role: str,
    department: str | None,
    regions: list[str],
    phone: str | None,
    password: str | None,
) -> Any:
    from services.grid.identity.passwords import Passwords
    from services.grid.identity.service import create_staff_with_password
    from services.grid.settings import GridSettings
    from services.grid.staff.schemas import StaffCreate

    data = StaffCreate(
        username=username, name=name, role=role, department_code=department, phone=phone, region_codes=regions
    )
    passwords = Passwords.from_settings(GridSettings())
    return in_grid(
        lambda session: create_staff_with_password(
            session, data=data, password=password, actor_id=f"{CLI_ACTOR}:user-add", passwords=passwords
        )
    )


def create_key(*, name: str, channel: str, scopes: list[str], expires_days: float | None) -> tuple[Any, str]:
    from services.grid.identity.api_keys import create_api_key

    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    return in_grid(
        lambda session: create_api_key(
            session,
            name=name,
            channel=channel,
            scopes=scopes,
            actor_id=f"{CLI_ACTOR}:key-create",
            expires_at=expires_at,
        )
    )


def list_keys() -> list[Any]:
    from services.grid.identity.api_keys import list_api_keys

    async def every_page(session: AsyncSession) -> list[Any]:
        keys: list[Any] = []
        cursor = None
        while True:
            page = await list_api_keys(session, limit=100, cursor=cursor)
            keys.extend(page.items)
            if not (cursor := page.next_cursor):
                return keys

    return in_grid(every_page)


def revoke_key(key_id: str) -> None:
    from services.grid.identity.api_keys import revoke_api_key

    in_grid(lambda session: revoke_api_key(session, key_id=key_id, actor_id=f"{CLI_ACTOR}:key-revoke"))
