"""`Idempotency-Key` on the commands that only append: a note, an urging, a request for more
time. A phone whose answer was lost sends the command again; without a key the note was
written twice and its reporters told twice."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.dispatch.conftest import DISPATCHER, HANDLER, SUPERVISOR, Dispatch

KEY = "0b6f2c3e-8d2a-4a43-9d57-0e6f1c7c1a01"


async def post(
    dispatch: Dispatch,
    case_id: int,
    action: str,
    body: dict[str, Any],
    *,
    actor: dict[str, str] = HANDLER,
    key: str | None = KEY,
    if_match: str | None = None,
) -> httpx.Response:
    headers = dict(actor)
    if key is not None:
        headers["Idempotency-Key"] = key
    if if_match is not None:
        headers["If-Match"] = if_match
    return await dispatch.client.post(f"/v1/cases/{case_id}/{action}", json=body, headers=headers)


def entries(case: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [entry for entry in case["timeline"] if entry["action"] == action]


async def test_a_note_sent_again_with_its_key_is_written_and_told_once(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    await dispatch.ok(case["id"], "accept", actor=HANDLER)
    messages = len(await dispatch.outbox())
    note = {"note": "已安排清运车", "to_reporters": True}

    first = await post(dispatch, case["id"], "notes", note)
    again = await post(dispatch, case["id"], "notes", note)

    assert first.status_code == again.status_code == 200, again.text
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.json() == first.json()
    now = await dispatch.read(case["id"])
    assert [entry["note"] for entry in entries(now, "note")] == ["已安排清运车"]
    assert len(await dispatch.outbox()) == messages + 1  # the reporters heard it once


async def test_a_retry_is_answered_whatever_if_match_it_carries(dispatch: Dispatch) -> None:
    """The first try moved the version on: the retry's If-Match, read before it, is stale."""
    case = await dispatch.new_case()
    read_before = (await dispatch.client.get(f"/v1/cases/{case['id']}", headers=DISPATCHER)).headers["ETag"]
    note = {"note": "called the owner"}

    first = await post(dispatch, case["id"], "notes", note, if_match=read_before)
    again = await post(dispatch, case["id"], "notes", note, if_match=read_before)

    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    # A new note with that stale tag and no key, or a new key, is checked as ever.
    for key in (None, "another"):
        stale = await post(dispatch, case["id"], "notes", note, key=key, if_match=read_before)
        assert stale.status_code == 412, stale.text
    assert len(entries(await dispatch.read(case["id"]), "note")) == 1


async def test_the_same_key_with_another_request_is_a_422_and_writes_nothing(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    await dispatch.ok(case["id"], "accept", actor=HANDLER)
    assert (await post(dispatch, case["id"], "notes", {"note": "first"})).status_code == 200

    other_body = await post(dispatch, case["id"], "notes", {"note": "second"})
    other_step = await post(dispatch, case["id"], "extension-request", {"hours": 8, "reason": "first"})

    for refused in (other_body, other_step):
        assert refused.status_code == 422, refused.text
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert KEY in refused.json()["detail"]
    now = await dispatch.read(case["id"])
    assert [entry["note"] for entry in entries(now, "note")] == ["first"]
    assert now["extension_requested_hours"] is None


async def test_a_key_is_one_persons_on_one_case(dispatch: Dispatch) -> None:
    """Another person's key, or the same key on another case, is another request."""
    case = await dispatch.new_case()
    other_case = await dispatch.new_case(lat=case["lat"] + 0.01)
    note = {"note": "checked"}

    answers = [
        await post(dispatch, case["id"], "notes", note, actor=HANDLER),
        await post(dispatch, case["id"], "notes", note, actor=DISPATCHER),
        await post(dispatch, other_case["id"], "notes", note, actor=HANDLER),
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert not any("Idempotent-Replayed" in answer.headers for answer in answers)
    assert [e["actor_id"] for e in entries(await dispatch.read(case["id"]), "note")] == [
        "zhao.handler",
        "li.dispatcher",
    ]
    assert len(entries(await dispatch.read(other_case["id"]), "note")) == 1


async def test_an_urging_sent_again_counts_once(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    urging = {"note": "请今日内处置"}

    first = await post(dispatch, case["id"], "urge", urging, actor=SUPERVISOR)
    again = await post(dispatch, case["id"], "urge", urging, actor=SUPERVISOR)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    now = await dispatch.read(case["id"])
    assert now["urge_count"] == 1
    assert len(entries(now, "urged")) == 1


async def test_a_request_for_more_time_sent_again_is_answered_not_refused(dispatch: Dispatch) -> None:
    """Without a key the retry met its own waiting request: a 409, as if refused."""
    case = await dispatch.new_case()
    asked = {"hours": 8, "reason": "等待配件"}

    first = await post(dispatch, case["id"], "extension-request", asked)
    again = await post(dispatch, case["id"], "extension-request", asked)
    another = await post(dispatch, case["id"], "extension-request", asked, key="another")

    assert (first.status_code, again.status_code, another.status_code) == (200, 200, 409)
    assert again.json()["extension_requested_hours"] == 8
    assert len(entries(await dispatch.read(case["id"]), "extension_requested")) == 1


@pytest.mark.parametrize("key", ["", "k" * 129])
async def test_a_key_empty_or_too_long_is_a_422(dispatch: Dispatch, key: str) -> None:
    case = await dispatch.new_case()

    answer = await post(dispatch, case["id"], "notes", {"note": "x"}, key=key)

    assert answer.status_code == 422, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert entries(await dispatch.read(case["id"]), "note") == []


async def test_two_tries_at_once_write_one_note(dispatch: Dispatch, backend: str, database_url: str) -> None:
    """The retry arrives while the first try is still running: it waits for the case's lock,
    then finds the first try's note."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer: the two tries take turns")
    case = await dispatch.new_case()
    note = {"note": "现场已处理", "to_reporters": True}
    messages = len(await dispatch.outbox())
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as holder:  # holds the case while both tries arrive
            await holder.execute(text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": case["id"]})
            tries = asyncio.gather(
                post(dispatch, case["id"], "notes", note), post(dispatch, case["id"], "notes", note)
            )
            await asyncio.sleep(0.3)
            await holder.rollback()
            answers = await asyncio.wait_for(tries, timeout=10)
    finally:
        await engine.dispose()

    assert [answer.status_code for answer in answers] == [200, 200]
    assert sorted(answer.headers.get("Idempotent-Replayed", "") for answer in answers) == ["", "true"]
    assert len(entries(await dispatch.read(case["id"]), "note")) == 1
    assert len(await dispatch.outbox()) == messages + 1


async def test_the_appending_commands_document_if_match_as_optional(dispatch: Dispatch) -> None:
    """Their `If-Match` is optional (checked when sent), their docs say so, and the header's
    own description in the OpenAPI said "required" as on every other command."""
    paths = dispatch.app.openapi()["paths"]
    for action in ("notes", "urge", "extension-request"):
        headers = {
            p["name"]: p
            for p in paths[f"/v1/cases/{{case_id}}/{action}"]["post"]["parameters"]
            if p["in"] == "header"
        }
        assert "required" not in headers["If-Match"]["description"], action
        assert "optional" in headers["If-Match"]["description"], action
        assert "Idempotency-Key" in headers, action
    accept = paths["/v1/cases/{case_id}/accept"]["post"]["parameters"]
    assert "required" in next(p for p in accept if p["name"] == "If-Match")["description"]
