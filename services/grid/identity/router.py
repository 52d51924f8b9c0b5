"""Routes of identity: the token endpoint, logout, JWKS, passwords and API keys."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.grid.deps import CurrentActor, IdentityDep, SessionDep, SessionMakerDep
from services.grid.identity import api_keys, service
from services.grid.identity.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyRead,
    Jwks,
    LogoutRequest,
    PasswordSet,
    TokenRequest,
    TokenResponse,
)
from services.grid.staff.schemas import USERNAME
from shared.db import session_scope
from shared.errors import Forbidden, NotFound, Unauthorized, Unprocessable, problem_responses
from shared.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

router = APIRouter(tags=["identity"])
keys_router = APIRouter(prefix="/v1/keys", tags=["API keys"])

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
    """Parse the OAuth2 form by hand: grid takes no multipart, so it needs no form library."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise Unprocessable(f"send the token request as {FORM}")
    try:
        fields = parse_qsl((await request.body()).decode(), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unprocessable(f"the body is not a valid {FORM} form") from exc
    try:
        return TokenRequest.model_validate(dict(fields))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from exc


@router.post(
    "/v1/auth/token",
    response_model=TokenResponse,
    response_model_exclude_none=True,  # RFC 6749: no refresh_token member when none is issued
    responses=problem_responses(Unauthorized, Unprocessable),
    openapi_extra=TOKEN_FORM_SCHEMA,
)
async def token(
    request: Request, response: Response, identity: IdentityDep, sessions: SessionMakerDep
) -> TokenResponse:
    """Exchange credentials for an access token (OAuth2, `application/x-www-form-urlencoded`).

    - `grant_type=password&username=…&password=…`: staff; answers a refresh token too.
    - `grant_type=refresh_token&refresh_token=…`: the refresh token is spent and a new one
      comes with the new access token. Presenting a spent refresh token again revokes its
      whole family (every token descended from that login): 401.
    - `grant_type=client_credentials&client_id=…&client_secret=…`: services (`intake`,
      `dispatch`) with their configured secret, integrations with their API key (`client_id` =
      the key id, `client_secret` = the secret after the dot). No refresh token.

    Bad credentials are 401 (`invalid_grant` / `invalid_client`), never saying which half was wrong.
    """
    form = await _token_form(request)
    response.headers["Cache-Control"] = "no-store"  # RFC 6749, section 5.1: tokens are not cached
    response.headers["Pragma"] = "no-cache"
    try:
        async with session_scope(sessions) as session:
            return await service.exchange(session, form=form, identity=identity)
    except service.RefreshTokenReused as reused:
        # The failed exchange rolled back; the family's revocation commits on its own.
        async with session_scope(sessions) as session:
            await service.revoke_family(session, family_id=reused.family_id)
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
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def set_password(
    session: SessionDep,
    actor: CurrentActor,
    identity: IdentityDep,
    username: Annotated[str, Path(max_length=64, pattern=USERNAME, examples=["wang.fang"])],
    data: PasswordSet,
) -> Response:
    """Set a staff member's password (8–128 characters), stored as an Argon2id hash.

    Admins set anyone's; a person sets their own with `current_password`. Every refresh
    token of the person is revoked, so their other sessions must log in again.
    """
    await service.set_password(
        session, username=username, data=data, actor=actor, passwords=identity.passwords
    )
    return Response(status_code=204)


@keys_router.post(
    "", status_code=201, response_model=ApiKeyCreated, responses=problem_responses(Unauthorized, Forbidden)
)
async def create_key(
    session: SessionDep, actor: CurrentActor, data: ApiKeyCreate, response: Response
) -> ApiKeyCreated:
    """Create an integration's API key. The answer's `key` (`<id>.<secret>`) is shown this once;
    grid keeps only a hash of the secret."""
    key, secret = await api_keys.create_api_key(
        session,
        name=data.name,
        channel=data.channel,
        scopes=data.scopes,
        actor_id=actor.id,
        expires_at=data.expires_at,
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
    """Revoke an API key: it is refused at the token endpoint from now on (401)."""
    await api_keys.revoke_api_key(session, key_id=key_id, actor_id=actor.id)
    return Response(status_code=204)
