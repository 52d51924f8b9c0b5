"""Reading one's reports: one by id, and the list with its pages."""

from __future__ import annotations

import uuid

import pytest

from shared.actors import Role
from tests.support.cursors import forged
from tests.support.tokens import bearer

from ..conftest import Intake
from ..factories import report_body
from ..fakes import CELL_B1

OTHER_WORKER = bearer("li.lei", Role.grid_worker, regions=[CELL_B1])
DISPATCHER = bearer("zhao.min", Role.dispatcher)


async def test_unknown_report_is_404(intake: Intake) -> None:
    response = await intake.client.get(f"/v1/reports/{uuid.uuid4()}")

    assert response.status_code == 404


async def test_a_report_has_one_url_its_id_in_canonical_form(intake: Intake) -> None:
    body = report_body()
    await intake.post_report(body)
    report_id = uuid.UUID(body["id"])
    assert (await intake.client.get(f"/v1/reports/{report_id}")).status_code == 200
    for spelling in (str(report_id).upper(), report_id.hex, f"%7B{report_id}%7D", report_id.urn):
        answer = await intake.client.get(f"/v1/reports/{spelling}")
        assert answer.status_code == 422, spelling  # each was a 200 for the same report
        assert answer.json()["errors"][0]["loc"] == ["path", "report_id"]


async def test_report_is_shown_to_its_reporter_and_staff_only(intake: Intake) -> None:
    body = report_body()
    await intake.post_report(body)

    other = await intake.client.get(f"/v1/reports/{body['id']}", headers=OTHER_WORKER)
    staff = await intake.client.get(f"/v1/reports/{body['id']}", headers=DISPATCHER)

    assert other.status_code == 404
    assert staff.status_code == 200


async def test_list_pages_through_own_reports_newest_first(intake: Intake) -> None:
    mine = []
    for _ in range(5):
        body = report_body()
        await intake.post_report(body)
        mine.append(body["id"])
    await intake.client.post("/v1/reports", json=report_body(), headers=OTHER_WORKER)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await intake.client.get("/v1/reports", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(mine))
    assert pages == 3


async def test_list_limit_is_bounded(intake: Intake) -> None:
    too_many = await intake.client.get("/v1/reports", params={"limit": 101})
    bad_cursor = await intake.client.get("/v1/reports", params={"cursor": "!!"})

    assert too_many.status_code == 422
    assert bad_cursor.status_code == 422


@pytest.mark.parametrize(
    "position",
    [
        {"r": "2026-01-01T00:00:00+00:00", "i": 5},  # an int is no UUID: was an AttributeError, a 500
        {"r": "2026-01-01T00:00:00", "i": "0b6f2c3e-8d2a-4a43-9d57-0e6f1c7c1a01"},  # naive: was a 500
        {"r": "9999-12-31T23:59:59-14:00", "i": "0b6f2c3e-8d2a-4a43-9d57-0e6f1c7c1a01"},
        {"r": "2026-01-01T00:00:00+00:00", "i": "not a uuid"},
        {"i": "0b6f2c3e-8d2a-4a43-9d57-0e6f1c7c1a01"},
        "r",
    ],
)
async def test_a_forged_cursor_is_422_not_a_500(intake: Intake, position: object) -> None:
    response = await intake.client.get("/v1/reports", params={"cursor": forged(position)})
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "cursor is not one this service issued"


async def test_list_needs_an_actor(intake: Intake) -> None:
    response = await intake.client.get("/v1/reports", headers={"Authorization": ""})

    assert response.status_code == 401
