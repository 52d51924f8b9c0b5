"""Status messages from dispatch reach the reports they name, once and in order."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.actors import Role
from tests.support.tokens import bearer, service_bearer

from ..conftest import DISPATCH, Intake
from ..factories import report_body, status_changed


async def deliver(intake: Intake, *messages: dict[str, Any]) -> list[str]:
    response = await intake.client.post(
        "/internal/v1/inbox", json={"messages": list(messages)}, headers=DISPATCH
    )
    assert response.status_code == 200, response.text
    return [result["status"] for result in response.json()["results"]]


async def read(intake: Intake, report_id: str) -> dict[str, Any]:
    response = await intake.client.get(f"/v1/reports/{report_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_status_change_shows_on_the_report(intake: Intake) -> None:
    body = report_body()
    await intake.post_report(body)

    answers = await deliver(intake, status_changed([body["id"]], event_id=1, status="dispatched"))

    report = await read(intake, body["id"])
    assert answers == ["accepted"]
    assert report["status"] == "dispatched"
    assert report["case_number"] == "SM20250501-0007"
    assert report["department_name"] == "思明区城管局"
    assert report["deadline_at"] == "2025-05-02T08:30:00Z"
    assert [u["status"] for u in report["updates"]] == ["dispatched"]


async def test_a_polling_phone_gets_304_until_the_report_hears_something(intake: Intake) -> None:
    body = report_body()
    await intake.post_report(body)
    first = await intake.client.get(f"/v1/reports/{body['id']}")
    tag = first.headers["ETag"]

    unchanged = await intake.client.get(f"/v1/reports/{body['id']}", headers={"If-None-Match": tag})
    assert (unchanged.status_code, unchanged.content, unchanged.headers["ETag"]) == (304, b"", tag)

    await deliver(intake, status_changed([body["id"]], event_id=1, status="dispatched"))
    # a late, older event changes only the updates list: that too is news
    await deliver(intake, status_changed([body["id"]], event_id=3, status="in_progress", action="accept"))
    newer = await intake.client.get(f"/v1/reports/{body['id']}", headers={"If-None-Match": tag})
    assert newer.status_code == 200 and newer.headers["ETag"] != tag
    await deliver(intake, status_changed([body["id"]], event_id=2, status="dispatched", action="note"))
    late = await intake.client.get(
        f"/v1/reports/{body['id']}", headers={"If-None-Match": newer.headers["ETag"]}
    )
    assert late.status_code == 200, "an older event arriving late is news too"
    assert [u["event_id"] for u in late.json()["updates"]] == [1, 2, 3]


async def test_duplicate_and_stale_events_do_not_move_the_report_back(intake: Intake) -> None:
    body = report_body()
    await intake.post_report(body)
    ids = [body["id"]]

    first = await deliver(intake, status_changed(ids, event_id=3, status="in_progress", action="accept"))
    again = await deliver(intake, status_changed(ids, event_id=3, status="in_progress", action="accept"))
    stale = await deliver(intake, status_changed(ids, event_id=2, status="dispatched"))

    report = await read(intake, body["id"])
    assert (first, again, stale) == (["accepted"], ["duplicate"], ["accepted"])
    assert report["status"] == "in_progress"
    assert [u["event_id"] for u in report["updates"]] == [2, 3]


async def test_events_in_one_batch_apply_in_order(intake: Intake) -> None:
    body = report_body()
    await intake.post_report(body)
    ids = [body["id"]]

    answers = await deliver(
        intake,
        status_changed(ids, event_id=1, status="dispatched"),
        status_changed(ids, event_id=2, status="in_progress", action="accept"),
        status_changed(ids, event_id=2, status="in_progress", action="accept"),
        status_changed(ids, event_id=4, status="resolved", action="resolve", note="摊位已清理"),
    )

    report = await read(intake, body["id"])
    assert answers == ["accepted", "accepted", "duplicate", "accepted"]
    assert report["status"] == "resolved"
    assert report["updates"][-1]["note"] == "摊位已清理"


async def test_an_authors_own_note_shows_on_her_report_and_no_other(intake: Intake) -> None:
    """A grid worker's note on her check (or a reporter's with her rating) is hers: her report
    shows it, another reporter's report on the same case hears the status without it."""
    hers, theirs = report_body(), report_body()
    await intake.post_report(hers)
    await intake.client.post("/v1/reports", json=theirs, headers=bearer("chen.li", Role.grid_worker))
    rework = status_changed(
        [hers["id"], theirs["id"]],
        event_id=5,
        status="dispatched",
        action="rework",
        author_id="wang.fang",
        author_note="摊主又回来了",
    )

    assert await deliver(intake, rework) == ["accepted"]

    assert (await read(intake, hers["id"]))["updates"][-1]["note"] == "摊主又回来了"
    other = await intake.client.get(
        f"/v1/reports/{theirs['id']}", headers=bearer("chen.li", Role.grid_worker)
    )
    assert [(u["action"], u["note"]) for u in other.json()["updates"]] == [("rework", None)]


async def test_one_case_reaches_every_report_and_ignores_unknown_ones(intake: Intake) -> None:
    first, second = report_body(), report_body()
    await intake.post_report(first)
    await intake.post_report(second)

    answers = await deliver(
        intake, status_changed([first["id"], second["id"], str(uuid.uuid4())], event_id=1, status="triage")
    )
    unknown = await deliver(intake, status_changed([str(uuid.uuid4())], event_id=2, status="triage"))

    assert answers == unknown == ["accepted"]
    assert (await read(intake, first["id"]))["status"] == "triage"
    assert (await read(intake, second["id"]))["status"] == "triage"


async def test_invalid_payload_or_topic_is_rejected(intake: Intake) -> None:
    broken = status_changed([str(uuid.uuid4())], event_id=1, status="triage")
    del broken["payload"]["case_number"]
    wrong_topic = {"topic": "report.received", "key": "x", "payload": {}}

    answers = await deliver(intake, broken, wrong_topic)

    assert answers == ["rejected", "rejected"]


async def test_numbers_and_times_beyond_what_intake_stores_are_rejected_beside_good_ones(
    intake: Intake,
) -> None:
    report = report_body()
    await intake.post_report(report)
    good = status_changed([report["id"]], event_id=1, status="triage")
    beyond: list[dict[str, Any]] = []
    for field, value in [
        ("event_id", 2**63),  # beyond BIGINT: the whole batch was a 500
        ("case_id", 2**64),
        ("occurred_at", "2026-11-27T08:00:00"),  # naive: the whole batch was a 500
        ("deadline_at", "0001-01-01T00:00:00+14:00"),
    ]:
        message = status_changed([report["id"]], event_id=2 + len(beyond), status="dispatched")
        message["payload"][field] = value
        beyond.append(message)

    answers = await deliver(intake, good, *beyond)

    assert answers == ["accepted", "rejected", "rejected", "rejected", "rejected"]
    assert (await read(intake, report["id"]))["status"] == "triage"


async def test_inbox_needs_a_token(intake: Intake) -> None:
    message = status_changed([str(uuid.uuid4())], event_id=1, status="triage")

    response = await intake.client.post(
        "/internal/v1/inbox", json={"messages": [message]}, headers={"Authorization": ""}
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    "caller",
    [service_bearer("grid"), service_bearer("intake"), bearer("zhao.min", Role.dispatcher), bearer()],
    ids=["grid", "intake", "dispatcher", "grid-worker"],
)
async def test_inbox_takes_only_dispatch(intake: Intake, caller: dict[str, str]) -> None:
    body = report_body()
    await intake.post_report(body)
    message = status_changed([body["id"]], event_id=1, status="dispatched")

    response = await intake.client.post("/internal/v1/inbox", json={"messages": [message]}, headers=caller)

    assert response.status_code == 403
    assert (await read(intake, body["id"]))["status"] == "received"


async def test_a_batch_naming_an_event_twice_for_two_reports_stores_it_once_each(intake: Intake) -> None:
    first, second = report_body(), report_body()
    await intake.post_report(first)
    await intake.post_report(second)
    ids = [first["id"], second["id"]]

    answers = await deliver(
        intake,
        status_changed(ids, event_id=5, status="resolved", action="resolve"),
        status_changed(ids, event_id=1, status="dispatched"),
        status_changed([second["id"]], event_id=5, status="resolved", action="resolve"),
    )
    again = await deliver(intake, status_changed(ids, event_id=1, status="dispatched"))

    assert answers == ["accepted", "accepted", "duplicate"]
    assert again == ["duplicate"]
    for body in (first, second):
        report = await read(intake, body["id"])
        assert report["status"] == "resolved"
        assert [u["event_id"] for u in report["updates"]] == [1, 5]
