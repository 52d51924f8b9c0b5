"""Submitting reports: validation, idempotency, the local territory copy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from services.intake.reports import service
from services.intake.settings import IntakeSettings
from shared.actors import Role
from shared.messages import REPORT_RECEIVED, ReportReceived
from tests.support.tokens import bearer

from ..conftest import Intake
from ..factories import report_body
from ..fakes import CELL_A1, CELL_B1, COMMUNITY_A, COMMUNITY_B, POINT_IN_B1, POINT_OUTSIDE


async def test_submitted_report_reads_back_as_received(intake: Intake) -> None:
    body = report_body()

    created = await intake.post_report(body)

    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/v1/reports/{body['id']}"
    report = created.json()
    assert report["status"] == "received"
    assert report["located"] is True
    assert (report["grid_cell"], report["community"]) == (CELL_A1, COMMUNITY_A)
    assert report["channel"] == "app"
    assert report["updates"] == []
    read = await intake.client.get(created.headers["Location"])
    assert read.status_code == 200
    assert read.json() == report


async def test_a_time_given_with_an_offset_is_answered_in_utc_as_it_reads_back(intake: Intake) -> None:
    """The 201 (and its replays) echoed ``+08:00`` while a later read gave the same instant in UTC."""
    seen = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    body = report_body(seen_at=seen.astimezone(timezone(timedelta(hours=8))).isoformat())

    created = await intake.post_report(body)
    replayed = await intake.post_report(body)

    read = (await intake.client.get(created.headers["Location"])).json()
    utc = seen.isoformat().replace("+00:00", "Z")
    assert created.json()["seen_at"] == replayed.json()["seen_at"] == read["seen_at"] == utc


async def test_the_message_to_dispatch_is_the_report_received_contract(intake: Intake) -> None:
    body = report_body()

    created = (await intake.post_report(body)).json()
    [message] = await intake.outbox()

    assert message.topic == REPORT_RECEIVED
    contract = ReportReceived.model_validate(message.payload)
    assert contract.model_dump(mode="json") == message.payload
    assert contract.report_id == uuid.UUID(body["id"])
    assert (contract.lat, contract.lon, contract.address) == (
        body["location"]["lat"],
        body["location"]["lon"],
        body["location"]["address"],
    )
    assert (contract.grid_cell, contract.community) == (CELL_A1, COMMUNITY_A)
    assert (contract.reporter_id, contract.channel, contract.photos) == ("wang.fang", "app", body["photos"])
    assert message.payload["received_at"] == created["received_at"]
    assert message.payload["seen_at"] == created["seen_at"]


async def test_cells_come_from_the_local_copy_without_calling_grid(intake: Intake) -> None:
    calls_after_load = intake.grid.calls

    outside = await intake.post_report(report_body(point=POINT_OUTSIDE))
    in_b = await intake.post_report(report_body(point=POINT_IN_B1))

    assert intake.grid.calls == calls_after_load == 1
    assert (in_b.json()["grid_cell"], in_b.json()["community"]) == (CELL_B1, COMMUNITY_B)
    assert outside.json()["located"] is True
    assert outside.json()["grid_cell"] is None


async def test_retry_with_same_key_and_body_replays_the_answer(intake: Intake) -> None:
    body = report_body()

    first = await intake.post_report(body, **{"Idempotency-Key": "k-1"})
    again = await intake.post_report(body, **{"Idempotency-Key": "k-1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await intake.report_count() == 1
    assert len(await intake.outbox()) == 1


async def test_retry_without_key_uses_the_report_id(intake: Intake) -> None:
    body = report_body()

    first = await intake.post_report(body)
    again = await intake.post_report(body)

    assert again.status_code == 201
    assert again.json() == first.json()
    assert len(await intake.outbox()) == 1


async def test_same_key_with_another_body_is_422(intake: Intake) -> None:
    body = report_body()
    await intake.post_report(body, **{"Idempotency-Key": "k-1"})

    changed = await intake.post_report({**body, "description": "另一件事"}, **{"Idempotency-Key": "k-1"})

    assert changed.status_code == 422
    assert changed.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key was already used" in changed.json()["detail"]
    assert await intake.report_count() == 1


async def test_same_id_without_a_key_and_with_another_body_says_so_not_the_key(intake: Intake) -> None:
    """Without an Idempotency-Key the report's id is its key: the 422 speaks of the id the
    client sent, not of a key it never sent."""
    body = report_body()
    await intake.post_report(body)

    changed = await intake.post_report({**body, "description": "另一件事"})

    assert changed.status_code == 422
    assert changed.json()["detail"] == (
        f"report {body['id']} was already submitted with a different body: "
        "a retry sends the same body, a new report needs a new id"
    )
    assert "idempotency_key" not in changed.json()
    assert await intake.report_count() == 1


async def test_existing_report_id_under_another_key_is_409(intake: Intake) -> None:
    body = report_body()
    await intake.post_report(body, **{"Idempotency-Key": "k-1"})

    clash = await intake.post_report(body, **{"Idempotency-Key": "k-2"})
    # another reporter's retry with the same key is not told about keys: the id is not hers
    theirs = await intake.client.post(
        "/v1/reports", json=body, headers={**bearer("chen.li", Role.grid_worker), "Idempotency-Key": "k-1"}
    )

    assert clash.status_code == 409
    assert "the key it was first sent with" in clash.json()["detail"]
    assert theirs.status_code == 409
    assert theirs.json()["detail"] == f"the report id {body['id']} is taken: a new report needs a new id"
    assert len(await intake.outbox()) == 1


async def test_retry_replays_even_after_seen_at_aged_out(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = report_body()
    first = await intake.post_report(body)
    later = datetime.now(UTC) + timedelta(days=31)
    monkeypatch.setattr(service, "utcnow", lambda: later)

    again = await intake.post_report(body)
    new = await intake.post_report(report_body(seen_at=body["seen_at"]))

    assert (again.status_code, again.json()) == (201, first.json())
    assert new.status_code == 422
    assert await intake.report_count() == 1


@pytest.mark.parametrize("window", [{"seen_at_max_age_days": 800_000}, {"seen_at_max_skew_seconds": 10**12}])
def test_a_seen_at_window_past_what_a_time_can_hold_is_refused_at_start(window: dict[str, Any]) -> None:
    """Taken, it made every report a 500: the window's edge (now less 800,000 days, now plus
    10^12 seconds) is no datetime (OverflowError), computed on each report's way in."""
    with pytest.raises(ValidationError):
        IntakeSettings(**window)
    widest = IntakeSettings(seen_at_max_age_days=36_500, seen_at_max_skew_seconds=86_400)
    now = datetime.now(UTC)
    assert now - timedelta(days=widest.seen_at_max_age_days) < now + timedelta(
        seconds=widest.seen_at_max_skew_seconds
    )


async def test_failed_insert_leaves_the_session_usable_for_the_answer(intake: Intake) -> None:
    """A taken id rolls the insert back; the 409 is computed in a fresh transaction."""
    body = report_body()
    await intake.post_report(body, **{"Idempotency-Key": "k-1"})

    clash = await intake.post_report(body, **{"Idempotency-Key": "k-2"})
    replay = await intake.post_report(body, **{"Idempotency-Key": "k-1"})
    other = await intake.post_report(report_body())

    assert (clash.status_code, replay.status_code, other.status_code) == (409, 201, 201)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(await intake.outbox()) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"colour": "red"},
        {"location": {"lat": 91, "lon": 118.08}},
        {"location": {"lat": 24.45, "lon": -180.5}},
        {"location": {"lat": 24.45, "lon": 118.08, "floor": 3}},
        {"description": ""},
        {"description": "x" * 2001},
        {"category": "C" * 17},
        {"photos": ["https://files.example.org/p.jpg"] * 10},
        {"photos": ["ftp://files.example.org/p.jpg"]},
        {"seen_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
        {"seen_at": (datetime.now(UTC) - timedelta(days=31)).isoformat()},
        {"seen_at": "2025-05-01T08:30:00"},
        {"id": "not-a-uuid"},
        {"location": {"lat": "24.45", "lon": 118.08}},
        {"location": {"lat": 24.45, "lon": True}},
    ],
    ids=[
        "unknown-field",
        "lat-out-of-range",
        "lon-out-of-range",
        "unknown-location-field",
        "empty-description",
        "long-description",
        "long-category",
        "too-many-photos",
        "photo-not-http",
        "seen-in-future",
        "seen-too-long-ago",
        "seen-without-offset",
        "bad-id",
        "lat-as-a-string",
        "lon-as-a-boolean",
    ],
)
async def test_invalid_report_is_422(intake: Intake, change: dict[str, Any]) -> None:
    response = await intake.post_report(report_body(**change))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await intake.report_count() == 0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"NaN", "finite number"),
        (b"Infinity", "finite number"),
        (b"-Infinity", "finite number"),
    ],
)
async def test_a_coordinate_that_is_no_number_is_422_saying_so(
    intake: Intake, raw: bytes, reason: str
) -> None:
    """JSON has no NaN, but Python's parser reads it (and ``Infinity``): such a point used to be
    refused as "less than or equal to 90", which puzzled the app's builder."""
    body = report_body()
    text = orjson.dumps({**body, "location": {"lat": 0.5, "lon": body["location"]["lon"]}})
    response = await intake.client.post(
        "/v1/reports", content=text.replace(b"0.5", raw), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert reason in response.json()["errors"][0]["msg"], response.text
    assert await intake.report_count() == 0


@pytest.mark.parametrize("report_id", [str(uuid.UUID(int=0)), str(uuid.UUID(int=(1 << 128) - 1))])
async def test_the_nil_or_max_uuid_is_no_report_id(intake: Intake, report_id: str) -> None:
    """An app that never filled in its id would send the nil UUID for every report, and every
    phone's second report would meet a 409 naming someone else's."""
    response = await intake.post_report(report_body(id=report_id))
    assert response.status_code == 422, response.text
    assert "generate a random one (version 4) per report" in response.text
    assert await intake.report_count() == 0


async def test_too_long_idempotency_key_is_422(intake: Intake) -> None:
    response = await intake.post_report(report_body(), **{"Idempotency-Key": "k" * 129})

    assert response.status_code == 422


async def test_report_without_a_token_is_401(intake: Intake) -> None:
    response = await intake.client.post("/v1/reports", json=report_body(), headers={"Authorization": ""})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert await intake.report_count() == 0


@pytest.mark.parametrize(
    "field",
    [
        {"status": "closed"},
        {"reporter_id": "someone.else"},
        {"channel": "wechat-bot"},
        {"received_at": "2025-05-01T08:30:00Z"},
        {"updated_at": "2025-05-01T08:30:00Z"},
        {"department_code": "police"},
        {"grid_cell": CELL_B1},
        {"community": COMMUNITY_B},
        {"located": True},
        {"case_id": 1},
        {"case_number": "SM20250501-0001"},
        {"deadline_at": "2025-05-02T08:30:00Z"},
    ],
    ids=lambda field: next(iter(field)),
)
async def test_server_owned_fields_cannot_be_sent(intake: Intake, field: dict[str, Any]) -> None:
    response = await intake.post_report(report_body(**field))

    assert response.status_code == 422, response.text
    assert await intake.report_count() == 0


async def test_integration_reports_on_its_channel_as_itself(intake: Intake) -> None:
    bot = bearer(
        "integration:k1", Role.integration, scopes=["reports:create", "reports:read"], channel="wechat-bot"
    )
    body = report_body()

    created = await intake.client.post("/v1/reports", json=body, headers=bot)
    mine = await intake.client.get(f"/v1/reports/{body['id']}", headers=bot)
    await intake.relay.drain()

    assert created.status_code == 201
    assert created.json()["channel"] == "wechat-bot"
    assert mine.status_code == 200
    [message] = intake.dispatch.received
    assert (message["payload"]["reporter_id"], message["payload"]["channel"]) == (
        "integration:k1",
        "wechat-bot",
    )


async def test_integration_without_read_scope_cannot_read_back(intake: Intake) -> None:
    bot = bearer("integration:k2", Role.integration, scopes=["reports:create"], channel="merchant-app")
    body = report_body()
    await intake.client.post("/v1/reports", json=body, headers=bot)

    one = await intake.client.get(f"/v1/reports/{body['id']}", headers=bot)
    listed = await intake.client.get("/v1/reports", headers=bot)

    assert (one.status_code, listed.status_code) == (403, 403)


@pytest.mark.parametrize("role", [Role.dispatcher, Role.handler, Role.supervisor, Role.admin])
async def test_back_office_roles_do_not_file_reports(intake: Intake, role: Role) -> None:
    response = await intake.client.post("/v1/reports", json=report_body(), headers=bearer("staff.x", role))

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert await intake.report_count() == 0


async def test_a_category_the_catalog_may_not_hold_is_taken_for_a_dispatcher_to_decide(
    intake: Intake,
) -> None:
    # A bot's own code ("A0101") is no reason to lose the report: dispatch finds no route and triages it.
    response = await intake.post_report(report_body(category="A0101"))
    assert response.status_code == 201, response.text
    assert (await intake.outbox())[0].payload["category"] == "A0101"
