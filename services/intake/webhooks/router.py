"""An integration's webhook: where intake tells it of its reports' updates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from services.intake.access import GUARDED
from services.intake.deps import CurrentActor, SessionDep
from services.intake.settings import IntakeSettings
from services.intake.webhooks import service
from services.intake.webhooks.schemas import WebhookPage, WebhookPut, WebhookRead
from shared.errors import Forbidden, NotFound, Unauthorized, Unprocessable, problem_responses
from shared.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, STORABLE_QUERY

router = APIRouter(prefix="/v1/webhook", tags=["webhook"], dependencies=GUARDED)


@router.put(
    "",
    response_model=WebhookRead,
    summary="Set my webhook",
    responses={
        201: {
            "model": WebhookRead,
            "description": "created: the answer holds its signing secret",
            "headers": {"Location": {"description": "/v1/webhook", "schema": {"type": "string"}}},
        },
        **problem_responses(Unauthorized, Forbidden, Unprocessable),
    },
)
async def set_webhook(
    body: WebhookPut, session: SessionDep, actor: CurrentActor, request: Request, response: Response
) -> WebhookRead:
    """Name the URL where intake POSTs each update of the caller's reports (an integration
    whose key has `reports:read`; one webhook each).

    The first PUT creates it (201) and answers its signing secret, this once; a later PUT
    changes the URL (200) and keeps the secret. Each delivery is a `report.updated` JSON body
    signed as the [Standard Webhooks](https://www.standardwebhooks.com) spec says (headers
    `webhook-id`, `webhook-timestamp`, `webhook-signature`): verify it with the secret and one
    of that spec's libraries. Answer any 2xx to take it; otherwise it is retried with backoff
    for a day (`WANGGE_INTAKE_WEBHOOK_GIVE_UP_HOURS`). The same update can come twice (its
    `webhook-id` is the same) and, after a retry, after a newer one (order by `event.event_id`).

    The URL must reach a public address: one written as a private address (`10.0.0.5`,
    `[::1]`, `localhost`) is a 422, a name is looked up at each delivery; the office lets
    webhooks reach its own network with `WANGGE_INTAKE_WEBHOOK_PRIVATE_ADDRESSES=true`.
    """
    settings: IntakeSettings = request.state.settings
    answer, created = await service.set_webhook(
        session, owner=actor, body=body, private_addresses=settings.webhook_private_addresses
    )
    if created:
        response.status_code = 201
        response.headers["Location"] = "/v1/webhook"
        response.headers["Cache-Control"] = "no-store"  # the secret
    return answer


@router.get(
    "",
    response_model=WebhookRead,
    summary="Read my webhook",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def read_webhook(session: SessionDep, actor: CurrentActor) -> WebhookRead:
    """The caller's webhook and how its deliveries stand: waiting, given up, the last error
    (never its secret). 404 when none is set."""
    return await service.read_webhook(session, owner=actor)


@router.post(
    "/secret",
    response_model=WebhookRead,
    summary="Rotate my webhook's secret",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def rotate_secret(session: SessionDep, actor: CurrentActor, response: Response) -> WebhookRead:
    """A new signing secret, answered this once; every delivery from now on (retries too) is
    signed with it."""
    response.headers["Cache-Control"] = "no-store"
    return await service.rotate_secret(session, owner=actor)


@router.delete(
    "",
    status_code=204,
    response_class=Response,
    summary="Remove my webhook",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def remove_webhook(session: SessionDep, actor: CurrentActor) -> Response:
    """Stop the deliveries: the updates not delivered yet are given up. The reports' `updates`
    still hold everything."""
    await service.remove_webhook(session, owner=actor)
    return Response(status_code=204)


admin_router = APIRouter(prefix="/v1/webhooks", tags=["webhook"], dependencies=GUARDED)


@admin_router.get(
    "",
    response_model=WebhookPage,
    summary="List the integrations' webhooks",
    responses=problem_responses(Unauthorized, Forbidden, Unprocessable),
)
async def list_webhooks(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> WebhookPage:
    """Every integration's webhook, its URL and how its deliveries stand, never its secret
    (admins)."""
    return await service.list_webhooks(session, limit=limit, cursor=cursor)


@admin_router.delete(
    "/{owner_id}",
    status_code=204,
    response_class=Response,
    summary="Remove an integration's webhook",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def remove_webhook_of(
    owner_id: Annotated[str, Path(max_length=64), STORABLE_QUERY], session: SessionDep
) -> Response:
    """Stop an integration's deliveries (admins): after its key was revoked (a token already
    issued could set the webhook again for its last minutes, and no more), or when its URL is
    wrong. The updates not delivered yet are given up."""
    await service.remove_webhook_of(session, owner_id=owner_id)
    return Response(status_code=204)
