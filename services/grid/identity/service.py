"""Logins and tokens: the three grants, logout, and passwords.

Refusals are RFC 6749's (section 5.2): bad staff credentials are always the same 400
``invalid_grant`` whichever half was wrong (unknown user, wrong password, inactive account,
no password set), and an unknown user costs the same Argon2 check as a known one; a client
refused is a 401 ``invalid_client``. Refresh tokens rotate: each is spent by its first use and the answer
carries the next one of its family. A spent token presented again means it leaked (or a
client misbehaves): :class:`RefreshTokenReused` tells the caller to revoke the whole family.
But for the reuse window (:func:`_reusable`): a phone sends one token twice at once, or again
when an answer was lost, and was signed out mid-patrol for it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.grid.identity import api_keys, lockout, repository
from services.grid.identity.context import Identity
from services.grid.identity.passwords import Passwords
from services.grid.identity.schemas import (
    PasswordSet,
    TokenRequest,
    TokenResponse,
    password_problem,
)
from services.grid.models import RefreshToken, Staff
from services.grid.staff import repository as staff_repository
from services.grid.staff import service as staff_service
from services.grid.staff.schemas import StaffCreate, StaffRead
from shared.actors import Actor, Role
from shared.db import utcnow
from shared.errors import BadRequest, Forbidden, NotFound, Unauthorized, Unprocessable

ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
BAD_LOGIN = ("invalid_grant", "wrong username or password")
BAD_REFRESH = ("invalid_grant", "the refresh token is not valid")
BAD_CLIENT = ("invalid_client", "wrong client_id or client_secret")
REALM = "wangge"
NO_STORE = MappingProxyType({"Cache-Control": "no-store", "Pragma": "no-cache"})


class TokenRefused(BadRequest):
    """A token request refused as RFC 6749 (section 5.2) answers it, in a problem that OAuth 2.0
    clients read too: the error code (``invalid_request``, ``invalid_grant``,
    ``unsupported_grant_type``) and its description ride along as the members ``error`` and
    ``error_description``. A 400, like every refusal of the token endpoint but the client's
    own, and not cached."""

    headers = NO_STORE

    def __init__(self, refusal: tuple[str, str], **extra: Any) -> None:
        code, description = refusal
        super().__init__(f"{code}: {description}", error=code, error_description=description, **extra)


class ClientRefused(TokenRefused):
    """``invalid_client``: the client's credentials were read and refused, a 401 (section 5.2).

    It challenges with HTTP Basic whether the client sent its credentials that way or in the
    form: a 401 must name a scheme the resource takes (RFC 9110, section 11.6.1), and Basic is
    the one client authentication the token endpoint takes besides the form (``Bearer``, the
    other services' challenge, is no answer here)."""

    status, type, title = Unauthorized.status, Unauthorized.type, Unauthorized.title
    headers = MappingProxyType({**NO_STORE, "WWW-Authenticate": f'Basic realm="{REALM}"'})


WRONG_CURRENT_PASSWORD = "current_password is not your current password"
NO_CURRENT_PASSWORD = "give your current password as current_password to set your own password"
OTHERS_PASSWORD = "only an admin sets another person's password"


class RefreshTokenReused(TokenRefused):
    """A spent refresh token came back: its family must be revoked (in its own transaction)."""

    def __init__(self, family_id: UUID, username: str | None) -> None:
        super().__init__(BAD_REFRESH)
        self.family_id = family_id
        self.username = username


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def exchange(session: AsyncSession, *, form: TokenRequest, identity: Identity) -> TokenResponse:
    """``POST /v1/auth/token``: dispatch on the grant type."""
    if form.grant_type == "password":
        if not form.username or not form.password:
            raise TokenRefused(("invalid_request", "the password grant needs username and password"))
        return await password_grant(
            session, username=form.username, password=form.password, identity=identity
        )
    if form.grant_type == "refresh_token":
        if not form.refresh_token:
            raise TokenRefused(("invalid_request", "the refresh_token grant needs refresh_token"))
        return await refresh_grant(session, refresh_token=form.refresh_token, identity=identity)
    if not form.client_id or not form.client_secret:
        raise TokenRefused(
            ("invalid_request", "the client_credentials grant needs client_id and client_secret")
        )
    return await client_credentials_grant(
        session,
        client_id=form.client_id,
        client_secret=form.client_secret,
        identity=identity,
        scope=form.scope,
    )


async def staff_actor(session: AsyncSession, staff: Staff) -> Actor:
    codes = await staff_repository.region_codes(session, [staff.id])
    return Actor(
        id=staff.username,
        role=Role(staff.role),
        name=staff.name,
        department=staff.department_code,
        regions=codes.get(staff.id, []),
    )


def sign_in_name(username: str) -> str:
    """The username as signing in looks it up (and counts its failures): see :func:`password_grant`."""
    return username.strip().translate(ASCII_LOWER)


async def password_grant(
    session: AsyncSession, *, username: str, password: str, identity: Identity
) -> TokenResponse:
    """A username is lower case without spaces (``staff.schemas.USERNAME``): one typed on a phone
    that wrote its first letter in capitals (``Wang.fang``) or added a space after a word it
    completed is the same person's, not a wrong username. Only ASCII letters are lowered: a
    username is ASCII, and ``str.lower`` lengthens some others (``İ`` is two characters in lower
    case), past the 64 a username, and its count of failures, holds."""
    username = sign_in_name(username)
    staff = await staff_repository.get_by_username(session, username)
    stored = staff.password_hash if staff is not None else None
    verified = await identity.passwords.verify(stored, password)
    if not verified or staff is None or not staff.active:
        raise TokenRefused(BAD_LOGIN)  # counted before the check (lockout.attempt)
    assert stored is not None
    await lockout.clear(session, username)
    if identity.passwords.needs_rehash(stored):
        staff.password_hash = await identity.passwords.hash(password)
    return await _staff_tokens(
        session, staff=staff, family_id=uuid.uuid4(), parent_id=None, identity=identity
    )


async def refresh_grant(session: AsyncSession, *, refresh_token: str, identity: Identity) -> TokenResponse:
    now = utcnow()
    stored = await repository.refresh_token_by_hash(session, sha256(refresh_token))
    if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
        raise TokenRefused(BAD_REFRESH)
    spent = stored.used_at is None and await repository.spend_refresh_token(session, stored, now)
    staff = await session.get(Staff, stored.staff_id)
    if not spent and not await _reusable(session, stored, now, identity.refresh_reuse):
        raise RefreshTokenReused(stored.family_id, staff.username if staff is not None else None)
    if staff is None or not staff.active or staff.password_hash is None:
        raise TokenRefused(BAD_REFRESH)
    return await _staff_tokens(
        session, staff=staff, family_id=stored.family_id, parent_id=stored.id, identity=identity
    )


async def _reusable(session: AsyncSession, token: RefreshToken, now: datetime, window: timedelta) -> bool:
    """Whether ``token``, spent, may be spent again: the reuse window of Auth0's or Okta's
    rotation. Two requests of a phone that got their 401 at once refresh with the same token,
    as does an app resumed from the background, or a retry after an answer that was lost; the
    second was taken for a thief's and ended the login.

    Only the token just spent, the parent of the family's live token, and within ``window`` of
    its first spending. Each answer in the window adds a sibling to that live token, and the
    first of them to be refreshed spends the others (``repository.spend_refresh_token``): the
    login goes on with one line of tokens, and a sibling presented after that ends it. An older
    token, or this one after the window, still revokes the family; a logout, a new password or
    a deactivation revokes the siblings with the rest (they wait for the sibling being added:
    ``repository.lock_live_children``). A thief who replays a token within the window of its
    owner's refresh is not told apart from the owner, the price of every such window: it is
    short (30 seconds by default) and 0 turns it off (``WANGGE_GRID_REFRESH_REUSE_SECONDS``)."""
    if not window:
        return False
    await session.refresh(token)  # read again: the refresh that spent it may have committed since
    if token.revoked_at is not None or token.used_at is None or now - token.used_at > window:
        return False
    return bool(await repository.lock_live_children(session, token))


async def _staff_tokens(
    session: AsyncSession, *, staff: Staff, family_id: UUID, parent_id: int | None, identity: Identity
) -> TokenResponse:
    access = identity.issuer.issue(await staff_actor(session, staff))
    refresh = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        RefreshToken(
            token_hash=sha256(refresh),
            family_id=family_id,
            staff_id=staff.id,
            parent_id=parent_id,
            issued_at=now,
            expires_at=now + identity.refresh_lifetime,
        )
    )
    await session.flush()
    return TokenResponse(access_token=access.token, expires_in=access.expires_in, refresh_token=refresh)


async def client_credentials_grant(
    session: AsyncSession, *, client_id: str, client_secret: str, identity: Identity, scope: str | None = None
) -> TokenResponse:
    """A service (client_id ``intake``/``dispatch``…) or an integration (client_id = the key id).

    ``scope`` (RFC 6749, section 3.3: space-separated): the token carries only those of the
    client's scopes, and one the client lacks is a 400 ``invalid_scope``; absent or blank, all
    of them. The answer names the scopes the token carries."""
    client_secret = client_secret.removeprefix(f"{client_id}.")
    service_secret = identity.service_secrets.get(client_id)
    client: tuple[Actor, datetime | None] | None
    if service_secret is not None:
        matches = hmac.compare_digest(service_secret.encode(), client_secret.encode())
        actor = Actor(id=f"service:{client_id}", role=Role.service, name=client_id, scopes=["internal"])
        client = (actor, None) if matches else None
    else:
        client = await api_keys.authenticate(session, key_id=client_id, secret=client_secret)
    if client is None:
        raise ClientRefused(BAD_CLIENT)
    actor, key_expires = client
    asked = set((scope or "").split())
    if asked:
        lacking = sorted(asked - set(actor.scopes))
        if lacking:
            raise TokenRefused(("invalid_scope", f"this client has no scope {', '.join(lacking)}"))
        actor = actor.model_copy(update={"scopes": [s for s in actor.scopes if s in asked]})
    # An integration's token does not outlive its key (a revoked key's lives out its minutes).
    access = identity.issuer.issue(actor, not_after=key_expires)
    return TokenResponse(
        access_token=access.token, expires_in=access.expires_in, scope=" ".join(actor.scopes)
    )


async def revoke_family(session: AsyncSession, *, family_id: UUID) -> None:
    await repository.revoke_family(session, family_id, utcnow())


async def logout(session: AsyncSession, *, refresh_token: str) -> None:
    """Revoke the family of ``refresh_token``; an unknown token is not an error (nothing to end)."""
    stored = await repository.refresh_token_by_hash(session, sha256(refresh_token))
    if stored is not None:
        await repository.revoke_family(session, stored.family_id, utcnow())


def needs_current_password(actor: Actor, username: str) -> bool:
    """A person setting their own password gives the current one (an admin needs not): a guess
    at it is one at the password, counted and locked as a sign-in's, or a token taken for its
    minutes guessed the password to keep for good."""
    return actor.role is not Role.admin and actor.id == username


async def set_password(
    session: AsyncSession, *, username: str, data: PasswordSet, actor: Actor, passwords: Passwords
) -> None:
    """Set a password: an admin for anyone, a person for themself with their current password.

    Every refresh token of the person is revoked: other sessions must log in again. The row is
    locked until the change commits: an edit of the person at the same moment comes before it or
    after, each a version of its own (two unlocked wrote the same version).
    """
    staff = await staff_repository.get_by_username(session, username, for_update=True)
    if staff is None:
        raise NotFound(f"no staff member {username!r}")
    if needs_current_password(actor, username):
        if data.current_password is None:
            raise Unprocessable(NO_CURRENT_PASSWORD, field="current_password")
        if not await passwords.verify(staff.password_hash, data.current_password):
            raise Forbidden(WRONG_CURRENT_PASSWORD)  # counted before the check (lockout.attempt)
    elif actor.role is not Role.admin:
        raise Forbidden(OTHERS_PASSWORD)
    await _store_password(
        session, staff=staff, password=data.password, passwords=passwords, actor_id=actor.id
    )


async def _store_password(
    session: AsyncSession, *, staff: Staff, password: str, passwords: Passwords, actor_id: str
) -> None:
    now: datetime = utcnow()
    staff.password_hash = await passwords.hash(password)
    staff.version += 1  # the record reads has_password: a new ETag
    staff.updated_at = now
    staff.updated_by = actor_id
    await repository.revoke_all_of_staff(session, staff.id, now)
    await lockout.clear(session, staff.username)  # a new password unlocks its username
    await session.flush()


async def create_staff_with_password(
    session: AsyncSession,
    *,
    data: StaffCreate,
    password: str | None,
    actor_id: str,
    passwords: Passwords | None = None,
) -> StaffRead:
    """Add a staff member who can log in at once (``wangge user add``); ``None``: no login yet."""
    problem = password_problem(password) if password is not None else None
    if problem:
        raise Unprocessable(problem, field="password")
    created, _version = await staff_service.create_staff(session, data=data, actor_id=actor_id)
    if password is not None:
        staff = await staff_repository.get_by_username(session, data.username)
        assert staff is not None
        await _store_password(
            session, staff=staff, password=password, passwords=passwords or Passwords(), actor_id=actor_id
        )
    return created.model_copy(update={"has_password": password is not None})
