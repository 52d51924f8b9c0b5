"""API keys of integrations: created by an admin, shown once, stored hashed, revocable.

A key is ``<id>.<secret>``: the id is public (it names the key in lists, tokens and
timelines as ``integration:<id>``); the secret is 256 random bits, of which only the
SHA-256 is stored (a fast hash suffices for a random secret that long).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.identity import repository
from services.grid.identity.schemas import (
    ApiKeyPage,
    ApiKeyRead,
    ApiKeyState,
    ApiKeyStates,
    KeyState,
    Scope,
)
from services.grid.models import ApiKey
from services.grid.pagination import keyset_page
from shared.actors import Actor, Role
from shared.db import flush_new, utcnow
from shared.errors import Conflict, NotFound, Unprocessable

log = logging.getLogger("wangge.grid.identity")

KEY_ID_PREFIX = "ak_"
_DUMMY_HASH = hashlib.sha256(b"no key has this secret").hexdigest()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(
    session: AsyncSession,
    *,
    name: str,
    channel: str,
    scopes: Sequence[Scope | str],
    actor_id: str,
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> tuple[ApiKeyRead, str]:
    """A new key and its one-time ``<id>.<secret>`` string (``wangge key create`` and the API).

    With ``idempotency_key``, one key per admin and key: a retry of a create whose answer was
    lost is a 409 naming the key made then. Its answer cannot be given again, since the secret
    is not kept: the admin revokes that key and creates another, rather than leave a second key
    nobody holds active."""
    now = utcnow()
    if idempotency_key is not None:
        made = await repository.api_key_created_with(session, actor_id, idempotency_key)
        if made is not None:
            raise _made_already(made)
    if expires_at is not None and expires_at <= now:
        raise Unprocessable("expires_at is in the past", field="expires_at")
    try:
        checked = sorted({Scope(scope).value for scope in scopes})
    except ValueError as exc:
        raise Unprocessable(f"unknown scope; known: {', '.join(s.value for s in Scope)}") from exc
    key_id = KEY_ID_PREFIX + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=key_id,
        name=name,
        channel=channel,
        scopes=checked,
        secret_hash=_hash(secret),
        created_at=now,
        created_by=actor_id,
        expires_at=expires_at,
        idempotency_key=idempotency_key,
    )
    session.add(key)
    if not await flush_new(session):  # the same retry, at the same moment
        raise Conflict(
            "a key is being created with this Idempotency-Key by another request: "
            "GET /v1/keys names it once that has finished"
        )
    return ApiKeyRead.model_validate(key), f"{key_id}.{secret}"


def _made_already(key: ApiKey) -> Conflict:
    return Conflict(
        f"API key {key.id} ({key.name}) was created with this Idempotency-Key at "
        f"{key.created_at.isoformat(timespec='seconds')}; its secret was shown once and is not kept: "
        f"if that answer was lost, revoke it (DELETE /v1/keys/{key.id}) and create another",
        key_id=key.id,
    )


async def list_api_keys(session: AsyncSession, *, limit: int, cursor: str | None) -> ApiKeyPage:
    rows, next_cursor = await keyset_page(
        session, repository.api_keys_statement(), key=ApiKey.id, limit=limit, cursor=cursor
    )
    return ApiKeyPage(items=[ApiKeyRead.model_validate(k) for k in rows], next_cursor=next_cursor)


async def get_api_key(session: AsyncSession, *, key_id: str) -> ApiKeyRead:
    key = await repository.get_api_key(session, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id!r}")
    return ApiKeyRead.model_validate(key)


async def key_states(session: AsyncSession, *, key_ids: Sequence[str]) -> ApiKeyStates:
    """Whether each key is active, revoked, expired or unknown to grid, in the order asked
    (intake asks before delivering to the webhooks the keys' integrations set)."""
    found = {key.id: key for key in await repository.api_keys_of(session, set(key_ids))}
    now = utcnow()
    states = []
    for key_id in key_ids:
        key = found.get(key_id)
        if key is None:
            states.append(ApiKeyState(id=key_id, state=KeyState.unknown, expires_at=None, revoked_at=None))
            continue
        if key.revoked_at is not None:
            state = KeyState.revoked
        elif key.expires_at is not None and key.expires_at <= now:
            state = KeyState.expired
        else:
            state = KeyState.active
        states.append(
            ApiKeyState(id=key.id, state=state, expires_at=key.expires_at, revoked_at=key.revoked_at)
        )
    return ApiKeyStates(items=states)


async def revoke_api_key(session: AsyncSession, *, key_id: str, actor_id: str) -> None:
    """Revoke a key (again is fine): it gets no new token; tokens it has keep their few minutes,
    and intake stops delivering to the webhook its integration set once it next asks
    (``key_states``)."""
    key = await repository.get_api_key(session, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        key.revoked_by = actor_id
        await session.flush()


async def authenticate(
    session: AsyncSession, *, key_id: str, secret: str
) -> tuple[Actor, datetime | None] | None:
    """The integration a valid, live key stands for and the key's expiry (its ``last_used_at``
    updated), else None.

    The client hears the same refusal for a revoked or run-out key as for a wrong secret; the
    operator is told in a warning which key it was and why, so a bot that stopped is explained
    (only for the right secret: a wrong one says nothing about who is asking)."""
    key = await repository.get_api_key(session, key_id) if key_id.startswith(KEY_ID_PREFIX) else None
    matches = hmac.compare_digest(key.secret_hash if key else _DUMMY_HASH, _hash(secret))
    now = utcnow()
    if key is None or not matches:
        return None
    if key.revoked_at is not None:
        log.warning(
            "API key %s (%r) refused a token: revoked at %s by %s",
            key.id,
            key.name,
            key.revoked_at.isoformat(),
            key.revoked_by,
        )
        return None
    if key.expires_at is not None and key.expires_at <= now:
        log.warning(
            "API key %s (%r) refused a token: expired at %s", key.id, key.name, key.expires_at.isoformat()
        )
        return None
    key.last_used_at = now
    await session.flush()
    actor = Actor(
        id=f"integration:{key.id}",
        role=Role.integration,
        name=key.name,
        scopes=list(key.scopes),
        channel=key.channel,
    )
    return actor, key.expires_at
