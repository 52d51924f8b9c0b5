"""``POST /internal/v1/named-photos``: intake asks which of its photos a case's timeline names
before it deletes those nothing named; every photo a step names is among them."""

from __future__ import annotations

import uuid

from tests.dispatch.conftest import INTAKE, WORKER, WORKS_HANDLER, Dispatch
from tests.dispatch.fakes import OTHER
from tests.support.tokens import service_bearer


def intake_photo(base: str = "http://127.0.0.1:8001") -> tuple[uuid.UUID, str]:
    photo_id = uuid.uuid4()
    return photo_id, f"{base}/v1/photos/{photo_id}"


async def named(dispatch: Dispatch, *ids: uuid.UUID) -> set[uuid.UUID]:
    response = await dispatch.client.post(
        "/internal/v1/named-photos", json={"ids": [str(i) for i in ids]}, headers=INTAKE
    )
    assert response.status_code == 200, response.text
    return {uuid.UUID(i) for i in response.json()["named"]}


async def test_the_photos_of_a_resolution_a_check_and_a_note_are_named(dispatch: Dispatch) -> None:
    case = await dispatch.new_case(category=None)
    cid = case["id"]
    resolution, resolution_url = intake_photo("https://intake.example.gov.cn")
    check, check_url = intake_photo()
    note, note_url = intake_photo("https://gw.example.gov.cn/intake")
    thumbnail_only, thumbnail_only_url = intake_photo()
    never_named, _ = intake_photo()

    await dispatch.ok(cid, "dispatch", {"department_code": "works", "category_code": OTHER})
    await dispatch.ok(cid, "accept", {}, actor=WORKS_HANDLER)
    await dispatch.ok(
        cid,
        "resolve",
        {"note": "fixed", "photos": [resolution_url, "https://files.example.org/p/after.jpg"]},
        actor=WORKS_HANDLER,
    )
    await dispatch.ok(cid, "verify", {"passed": True, "photos": [check_url]}, actor=WORKER)
    await dispatch.ok(
        cid, "notes", {"note": "logged", "photos": [note_url, f"{thumbnail_only_url}/thumbnail"]}
    )

    asked = (resolution, check, note, thumbnail_only, never_named)
    assert await named(dispatch, *asked) == {resolution, check, note, thumbnail_only}


async def test_a_photo_named_twice_is_named_once(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    photo, url = intake_photo()
    for note in ("before", "after"):
        await dispatch.ok(case["id"], "notes", {"note": note, "photos": [url]})

    assert await named(dispatch, photo) == {photo}


async def test_only_intake_may_ask(dispatch: Dispatch) -> None:
    body = {"ids": [str(uuid.uuid4())]}
    for headers in (service_bearer("grid"), service_bearer("dispatch"), WORKER):
        response = await dispatch.client.post("/internal/v1/named-photos", json=body, headers=headers)
        assert response.status_code == 403
    assert (
        await dispatch.client.post("/internal/v1/named-photos", json={"ids": []}, headers=INTAKE)
    ).status_code == 422
