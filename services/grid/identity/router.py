"""Routes of identity: the token endpoint, logout, JWKS, passwords and API keys."""

from __future__ import annotations

import base64
import binascii
import logging
from collections import Counter
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import ValidationError

from services.grid.deps import CurrentActor, IdentityDep, SessionDep, SessionMakerDep
from services.grid.identity import api_keys, lockout, service
from services.grid.identity.schemas import (
    GRANT_TYPES,
    MAX_KEY_STATES,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyRead,
    ApiKeyStates,
    Jwks,
    LogoutRequest,
    PasswordSet,
    TokenRequest,
    TokenResponse,
)
from services.grid.staff.schemas import USERNAME
from shared.db import session_scope, utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable, problem_responses
from shared.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

log = logging.getLogger("wangge.grid.sign_in")

router = APIRouter(tags=["identity"])
keys_router = APIRouter(prefix="/v1/keys", tags=["API keys"])
internal_router = APIRouter(prefix="/internal/v1", tags=["internal"])

FORM = "application/x-www-form-urlencoded"
TOKEN_FORM_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": TokenRequest.model_json_schema(),
                "examples": {
                    "password": {"value": {"grant_type": "password", "username": "pan.jun", "password": "…"}},
                    "refresh_token": {"value": {"grant_type": "refresh_token", "refresh_token": "…"}},
                    "client_credentials": {
                        "value": {
                            "grant_type": "client_credentials",
                            "client_id": "intake",
                            "client_secret": "…",
                        }
                    },
                },
            }
        },
    }
}
KeyIdPath = Annotated[
    str, Path(max_length=32, pattern=r"^ak_[0-9a-f]{16}$", examples=["ak_3f9c2a7d01b4e655"])
]


async def _token_form(request: Request) -> TokenRequest:
    """Parse the OAuth2 form by hand (grid takes no multipart, so it needs no form library), the
    client's credentials taken from HTTP Basic where it sent them there.

    What is wrong with the request is a 400 ``invalid_request`` and a grant grid does not know
    a 400 ``unsupported_grant_type`` (RFC 6749, section 5.2), not the 422 of the other routes:
    OAuth 2.0 client libraries read the token endpoint's refusals by RFC 6749's statuses. A
    parameter sent without a value counts as left out, one sent twice is refused (section 3.2).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise service.TokenRefused(("invalid_request", f"send the token request as {FORM}"))
    try:
        pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise service.TokenRefused(("invalid_request", f"the body is not a valid {FORM} form")) from exc
    repeated = sorted(name for name, count in Counter(name for name, _ in pairs).items() if count > 1)
    if repeated:
        raise service.TokenRefused(
            ("invalid_request", f"each parameter is sent once; repeated: {', '.join(repeated)}")
        )
    fields = {name: value for name, value in pairs if value}
    if "grant_type" not in fields:
        raise service.TokenRefused(("invalid_request", "grant_type is missing"))
    if fields["grant_type"] not in GRANT_TYPES:
        raise service.TokenRefused(
            ("unsupported_grant_type", f"grid grants {', '.join(GRANT_TYPES)}, no other grant_type")
        )
    for name, value in _basic_client(request.headers.get("authorization")).items():
        if fields.setdefault(name, value) != value:
            raise service.TokenRefused(
                ("invalid_request", f"{name} differs between the Authorization header and the form")
            )
    try:
        return TokenRequest.model_validate(fields)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False)
        ]
        first = f"{'.'.join(str(part) for part in errors[0]['loc'])}: {errors[0]['msg']}"
        raise service.TokenRefused(("invalid_request", first), errors=errors) from exc


MALFORMED_BASIC = (
    "invalid_request",
    "the Authorization header is not Basic base64(urlencoded client_id:urlencoded client_secret)",
)


def _basic_client(authorization: str | None) -> dict[str, str]:
    """``client_id`` and ``client_secret`` from ``Authorization: Basic`` as RFC 6749 (section
    2.3.1) encodes them: each form-urlencoded, joined by a colon, in base64. Empty for no such
    header (a Bearer token here is nobody's concern: the route is public), and without a part
    that is empty (``client_id:``, what libraries send for a client without a secret).

    A Basic header that does not decode so is a 400 ``invalid_request``, not a 401
    ``invalid_client``: section 5.2 calls a request "otherwise malformed" invalid_request and
    keeps invalid_client for credentials read and refused (an unknown client, a wrong secret).
    Answered 401, a client's broken encoding would pass for a wrong secret, and it would be
    the secret that someone looked at and rotated.
    """
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return {}
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        client_id, colon, secret = decoded.partition(":")
        parts = {
            "client_id": unquote_plus(client_id, errors="strict"),
            "client_secret": unquote_plus(secret, errors="strict"),
        }
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise service.TokenRefused(MALFORMED_BASIC) from exc
    if not colon:
        raise service.TokenRefused(MALFORMED_BASIC)
    return {name: value for name, value in parts.items() if value}


@router.post(
    "/v1/auth/token",
    response_model=TokenResponse,
    response_model_exclude_none=True,  # RFC 6749: no refresh_token member when none is issued
    responses=problem_responses(service.TokenRefused, service.ClientRefused, lockout.SignInLocked),
    openapi_extra=TOKEN_FORM_SCHEMA,
)
async def token(
    request: Request, response: Response, identity: IdentityDep, sessions: SessionMakerDep
) -> TokenResponse:
    """Exchange credentials for an access token (OAuth2, `application/x-www-form-urlencoded`).

    - `grant_type=password&username=…&password=…`: staff; answers a refresh token too.
    - `grant_type=refresh_token&refresh_token=…`: the refresh token is spent and a new one
      comes with the new access token. Presenting a spent refresh token again revokes its
      whole family (every token descended from that login): `invalid_grant`. But for the
      token just spent, within 30 s of its refresh (`WANGGE_GRID_REFRESH_REUSE_SECONDS`, 0:
      never): refreshes sent at once with one token, or a retry after a lost answer, are each
      answered with new tokens of the same login, and the first of those refresh tokens to be
      refreshed spends the others. An older token, or this one after the window, still
      revokes the family; a logout, a new password or a deactivation revokes them all.
    - `grant_type=client_credentials&client_id=…&client_secret=…`: services (`intake`,
      `dispatch`) with their configured secret, integrations with their API key (`client_id` =
      the key id, `client_secret` = the secret after the dot). No refresh token. The client may
      authenticate with HTTP Basic instead (RFC 6749, section 2.3.1:
      `Authorization: Basic base64(urlencode(client_id):urlencode(client_secret))`).

    Refusals follow RFC 6749, section 5.2, as problems with its `error` and `error_description`:
    400 `invalid_grant` for bad staff credentials or refresh token, never saying which half was
    wrong; 400 `invalid_request` for a parameter missing, repeated or malformed (a Basic header
    too), or client credentials in both the header and the form that differ; 400
    `unsupported_grant_type`; 400 `invalid_scope` for a `scope` the client lacks (with
    client_credentials, `scope` asks for fewer of the client's scopes, and the answer's `scope`
    names those the token carries); 401 `invalid_client` for a client refused, with
    `WWW-Authenticate: Basic`. Answers, refusals too, are `Cache-Control: no-store`.

    After 5 failed password sign-ins in a row (`WANGGE_GRID_SIGN_IN_FAILURES_ALLOWED`) the
    username is locked: a 429 with `Retry-After`, whatever the password, for a minute, doubled
    at each failure after it up to 15 minutes (`WANGGE_GRID_SIGN_IN_LOCK_MAX_MINUTES`). A new
    password set by an admin unlocks it.
    """
    form = await _token_form(request)
    response.headers["Cache-Control"] = "no-store"  # RFC 6749, section 5.1: tokens are not cached
    response.headers["Pragma"] = "no-cache"
    if form.grant_type == "password" and form.username and form.password:
        # Counted as failed before the password is checked, and committed: see lockout.attempt.
        async with session_scope(sessions) as session:
            await lockout.attempt(
                session, service.sign_in_name(form.username), utcnow(), request.state.settings
            )
    try:
        async with session_scope(sessions) as session:
            return await service.exchange(session, form=form, identity=identity)
    except service.RefreshTokenReused as reused:
        # The failed exchange rolled back; the family's revocation commits on its own.
        async with session_scope(sessions) as session:
            await service.revoke_family(session, family_id=reused.family_id)
        log.warning(
            "refresh token reused: a login of %r (family %s) is revoked and must sign in again "
            "(a stolen token replayed, or an app that kept a spent one)",
            reused.username,
            reused.family_id,
        )
        raise


@router.post("/v1/auth/logout", status_code=204, response_class=Response)
async def logout(session: SessionDep, data: LogoutRequest) -> Response:
    """End a login: revoke the refresh token's family (with or without an access token).

    Always 204: an unknown or already revoked token has nothing left to end. Access tokens
    already issued stay valid until they expire (minutes).
    """
    await service.logout(session, refresh_token=data.refresh_token)
    return Response(status_code=204)


@router.get("/.well-known/jwks.json", response_model=Jwks)
async def jwks(identity: IdentityDep, response: Response) -> dict[str, Any]:
    """grid's public signing keys (Ed25519, `alg` EdDSA); a token's `kid` names one of them."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return identity.issuer.jwks()


@router.put(
    "/v1/staff/{username}/password",
    status_code=204,
    response_class=Response,
    tags=["staff"],
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Unprocessable, lockout.SignInLocked),
)
async def set_password(
    request: Request,
    actor: CurrentActor,
    identity: IdentityDep,
    sessions: SessionMakerDep,
    username: Annotated[str, Path(max_length=64, pattern=USERNAME, examples=["wang.fang"])],
    data: PasswordSet,
) -> Response:
    """Set a staff member's password (8–128 characters), stored as an Argon2id hash.

    Admins set anyone's; a person sets their own with `current_password`. Every refresh
    token of the person is revoked, so their other sessions must log in again. A handler's
    first password makes them count in their department's `active_handlers`.

    A wrong `current_password` is a 403 and counts as a failed sign-in of the person's
    username, and while it is locked the change is a 429 with `Retry-After`, as a sign-in is;
    a person who sends none gets a 422 (no guess, nothing counted), and anyone but an admin
    setting another's password a 403.
    """
    if service.needs_current_password(actor, username) and data.current_password is None:
        raise Unprocessable(service.NO_CURRENT_PASSWORD, field="current_password")
    if service.needs_current_password(actor, username):  # counted as a sign-in is: lockout.attempt
        async with session_scope(sessions) as session:
            await lockout.attempt(session, username, utcnow(), request.state.settings)
    async with session_scope(sessions) as session:
        await service.set_password(
            session, username=username, data=data, actor=actor, passwords=identity.passwords
        )
    return Response(status_code=204)


@keys_router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=problem_responses(Unauthorized, Forbidden, Conflict),
)
async def create_key(
    session: SessionDep,
    actor: CurrentActor,
    data: ApiKeyCreate,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=128,
            description="retry key: a create sent again with it is a 409 naming the key made the "
            "first time (its secret is not kept, so its answer cannot be given again)",
            examples=["7c1e3b2a-bot-key-2026-12-06"],
        ),
    ] = None,
) -> ApiKeyCreated:
    """Create an integration's API key. The answer's `key` (`<id>.<secret>`) is shown this once;
    grid keeps only a hash of the secret.

    With an `Idempotency-Key`, an admin's retry of a create whose answer was lost is a 409 whose
    `key_id` names the key made the first time, rather than a second key: if its secret was lost
    with the answer, revoke that key and create another."""
    key, secret = await api_keys.create_api_key(
        session,
        name=data.name,
        channel=data.channel,
        scopes=data.scopes,
        actor_id=actor.id,
        expires_at=data.expires_at,
        idempotency_key=idempotency_key,
    )
    response.headers["Location"] = f"/v1/keys/{key.id}"
    return ApiKeyCreated(**key.model_dump(), key=secret)


@keys_router.get("", response_model=ApiKeyPage, responses=problem_responses(Unauthorized, Forbidden))
async def list_keys(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ApiKeyPage:
    """API keys ordered by id, revoked and expired ones included; never their secrets."""
    return await api_keys.list_api_keys(session, limit=limit, cursor=cursor)


@keys_router.get(
    "/{key_id}", response_model=ApiKeyRead, responses=problem_responses(Unauthorized, Forbidden, NotFound)
)
async def get_key(session: SessionDep, key_id: KeyIdPath) -> ApiKeyRead:
    """One API key, with when it was last exchanged for a token."""
    return await api_keys.get_api_key(session, key_id=key_id)


@keys_router.delete(
    "/{key_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def revoke_key(session: SessionDep, actor: CurrentActor, key_id: KeyIdPath) -> Response:
    """Revoke an API key: it is refused at the token endpoint from now on (401), and intake
    removes the webhook its integration set within a minute (it asks at
    `/internal/v1/key-states` before delivering)."""
    await api_keys.revoke_api_key(session, key_id=key_id, actor_id=actor.id)
    return Response(status_code=204)


@internal_router.get(
    "/key-states", response_model=ApiKeyStates, responses=problem_responses(Unauthorized, Forbidden)
)
async def key_states(
    session: SessionDep,
    ids: Annotated[list[str], Query(alias="id", min_length=1, max_length=MAX_KEY_STATES)],
) -> ApiKeyStates:
    """Whether each key named (`?id=ak_…&id=…`, at most 100) is `active`, `revoked`, `expired`
    or `unknown`, with its expiry: intake's service only, which asks before it delivers to the
    webhook a key's integration set, and removes the webhook of a key no longer active. Nothing
    else of the key is told."""
    return await api_keys.key_states(session, key_ids=ids)
