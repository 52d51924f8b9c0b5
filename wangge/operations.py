"""What an operator does to the databases directly, with no service running: migrate, seed,
import a territory, add people, issue and revoke integration keys; and, with the services
running or not, read the outboxes and put their dead messages back."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import outbox_admin
from shared.db import create_engine, create_session_maker, is_sqlite, session_scope, utcnow
from shared.schemas import MAX_TIMESTAMP
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
    return asyncio.run(in_database(service_settings("grid").database_url, work))


async def in_database(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction on the database at ``url``."""
    engine = create_engine(url)
    try:
        async with session_scope(create_session_maker(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


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

    expires_at = None if expires_days is None else _days_from_now(expires_days)
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


def _days_from_now(days: float) -> datetime:
    """When ``--expires-days`` ends: a key's ``expires_at``, which grid refuses in the past (0 and
    less) and which, as every time wangge stores, comes before the year 9000."""
    try:
        when = utcnow() + timedelta(days=days)
    except (OverflowError, ValueError):  # inf, nan, a billion days: timedelta's own words
        when = MAX_TIMESTAMP
    if when >= MAX_TIMESTAMP:
        raise ValueError(f"--expires-days is a number of days that ends before the year 9000, not {days:g}")
    return when


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


@dataclass(frozen=True)
class Outbox:
    """One of the outboxes: its name in ``wangge outbox`` and ``/metrics``, the service whose
    database holds it, what it carries, its model (``module:class``) and who takes its messages."""

    name: str
    service: str
    carries: str
    model_path: str
    receiver: str
    behind_after_seconds: float = 60.0
    """How long its oldest pending message may wait before ``wangge outbox status --check``
    calls it behind (the README's alert rules: a relay delivers within about a second)."""

    @property
    def model(self) -> type[Any]:
        module, _, name = self.model_path.partition(":")
        model: type[Any] = getattr(importlib.import_module(module), name)
        return model


OUTBOXES = {
    outbox.name: outbox
    for outbox in (
        Outbox("intake", "intake", "reports to dispatch", "services.intake.models:OutboxMessage", "dispatch"),
        Outbox(
            "dispatch",
            "dispatch",
            "status changes to intake",
            "services.dispatch.models:OutboxMessage",
            "intake",
        ),
        Outbox(
            "webhooks",
            "intake",
            "updates to the chat bots' webhooks",
            "services.intake.models:WebhookMessage",
            "the chat bots' endpoints",
            behind_after_seconds=3600.0,  # the integrations' endpoints, not the office's
        ),
    )
}
"""Every outbox, in the order a report's messages go through them."""


class OutboxUnreadable(Exception):
    """The database that holds an outbox cannot be read: its message says why, in a line."""


def service_database(service: str) -> str:
    return str(service_settings(service).database_url)


def in_outbox(outbox: Outbox, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction on the database of ``outbox``'s service;
    :class:`OutboxUnreadable` when it cannot (an SQLite file that is not there is not made:
    the command ran elsewhere than the services)."""
    url = service_database(outbox.service)
    if is_sqlite(url):
        path = make_url(url).database
        if path and path != ":memory:" and not Path(path).exists():
            raise OutboxUnreadable(
                f"{outbox.service}'s database {path} does not exist: run where the services run, "
                "or set WANGGE_DATA_DIR"
            )
    try:
        return asyncio.run(in_database(url, work))
    except (DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise OutboxUnreadable(f"{outbox.service}'s database cannot be read: {reason}") from exc


def outbox_backlogs(names: Collection[str]) -> list[tuple[Outbox, outbox_admin.Backlog | OutboxUnreadable]]:
    """Each named outbox's backlog, or why it could not be read."""
    return _each(names, lambda outbox: in_outbox(outbox, lambda s: outbox_admin.backlog(s, outbox.model)))


DeadList = tuple[int, list[outbox_admin.DeadMessage]]
"""How many messages of an outbox are dead, and the latest of them."""


def dead_messages(names: Collection[str], *, limit: int) -> list[tuple[Outbox, DeadList | OutboxUnreadable]]:
    """Each named outbox's count of dead messages and the latest ``limit`` of them."""

    def read(outbox: Outbox) -> DeadList:
        async def work(session: AsyncSession) -> DeadList:
            backlog = await outbox_admin.backlog(session, outbox.model)
            return backlog.dead, await outbox_admin.dead_messages(session, outbox.model, limit=limit)

        return in_outbox(outbox, work)

    return _each(names, read)


def put_back(name: str, ids: Collection[int] | None) -> outbox_admin.PutBack:
    """Put dead messages of the outbox ``name`` back to be delivered (None: all of them)."""
    outbox = OUTBOXES[name]
    return in_outbox(outbox, lambda session: outbox_admin.put_back(session, outbox.model, ids=ids))


def _each(names: Collection[str], read: Callable[[Outbox], T]) -> list[tuple[Outbox, T | OutboxUnreadable]]:
    """``read`` of each named outbox in turn; one that cannot be read does not stop the others."""
    results: list[tuple[Outbox, T | OutboxUnreadable]] = []
    for outbox in (OUTBOXES[name] for name in names):
        try:
            results.append((outbox, read(outbox)))
        except OutboxUnreadable as exc:
            results.append((outbox, exc))
    return results
