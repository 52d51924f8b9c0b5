"""The case lifecycle through HTTP: commands, ETags, illegal moves, rework, feedback,
reassignment and closing by the office; each command by the role the rules give it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.actors import Role
from shared.db import utcnow
from tests.dispatch import factories
from tests.dispatch.conftest import DISPATCHER, HANDLER, WORKER, WORKS_HANDLER, Dispatch
from tests.dispatch.fakes import CELL, FAR_CELL, MANHOLE, OTHER, STALL
from tests.support.tokens import bearer


async def triage_case(dispatch: Dispatch) -> dict[str, Any]:
    return await dispatch.new_case(category=None)


async def test_a_case_walks_the_whole_lifecycle(dispatch: Dispatch) -> None:
    case = await triage_case(dispatch)
    cid = case["id"]

    read = await dispatch.client.get(f"/v1/cases/{cid}", headers=WORKER)
    assert read.headers["ETag"] == f'"{case["version"]}"'

    response = await dispatch.act(cid, "dispatch", {"department_code": "works", "category_code": OTHER})
    assert response.status_code == 200
    done = response.json()
    assert response.headers["ETag"] == f'"{done["version"]}"' != read.headers["ETag"]
    assert (done["status"], done["department_name"], done["category_name"]) == (
        "dispatched",
        "市政所",
        "其他",
    )
    assert done["deadline_at"] is not None

    assert (await dispatch.ok(cid, "accept", {}, actor=WORKS_HANDLER))["status"] == "in_progress"
    resolved = await dispatch.ok(
        cid,
        "resolve",
        {"note": "fixed", "photos": ["https://files.example.org/p/after.jpg"]},
        actor=WORKS_HANDLER,
    )
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    # Booleans and numbers are JSON's own: "true" and "5" are refused, not read as what they look like.
    assert (await dispatch.act(cid, "verify", {"passed": "true"}, actor=WORKER)).status_code == 422
    closed = await dispatch.ok(cid, "verify", {"passed": True, "note": "checked"}, actor=WORKER)
    assert (await dispatch.act(cid, "feedback", {"rating": "5"}, actor=WORKER)).status_code == 422
    assert closed["status"] == "closed" and closed["closed_at"]
    rated = await dispatch.ok(cid, "feedback", {"rating": 5, "comment": "fast"}, actor=WORKER)
    assert (rated["status"], rated["rating"], rated["feedback_comment"]) == ("closed", 5, "fast")
    noted = await dispatch.ok(cid, "notes", {"note": "filed in the monthly log"})
    assert noted["status"] == "closed"

    timeline = noted["timeline"]
    assert [e["action"] for e in timeline] == [
        "registered",
        "dispatched",
        "accepted",
        "resolved",
        "verified",
        "feedback",
        "note",
    ]
    assert [(e["actor_id"], e["actor_role"]) for e in timeline[1:4]] == [
        ("li.dispatcher", "dispatcher"),
        ("qian.handler", "handler"),
        ("qian.handler", "handler"),
    ]
    assert [(e["actor_id"], e["actor_role"]) for e in timeline[4:]] == [
        ("wang.fang", "grid_worker"),
        ("wang.fang", "grid_worker"),
        ("li.dispatcher", "dispatcher"),
    ]
    assert timeline[3]["photos"] == ["https://files.example.org/p/after.jpg"]
    assert [e["to_status"] for e in timeline] == [
        "triage",
        "dispatched",
        "in_progress",
        "resolved",
        "closed",
        "closed",
        "closed",
    ]


async def test_dispatch_without_category_gives_24_hours(dispatch: Dispatch) -> None:
    case = await triage_case(dispatch)
    done = await dispatch.ok(case["id"], "dispatch", {"department_code": "market"})
    span = datetime.fromisoformat(done["deadline_at"]) - datetime.fromisoformat(done["dispatched_at"])
    assert span == timedelta(hours=24)


async def test_dispatch_to_an_unknown_department_or_category_is_422(dispatch: Dispatch) -> None:
    case = await triage_case(dispatch)
    nobody = await dispatch.act(case["id"], "dispatch", {"department_code": "nobody"})
    nothing = await dispatch.act(
        case["id"], "dispatch", {"department_code": "works", "category_code": "nope"}
    )
    assert (nobody.status_code, nothing.status_code) == (422, 422)
    assert (await dispatch.read(case["id"]))["status"] == "triage"


async def test_a_retired_department_or_category_takes_no_new_case(dispatch: Dispatch) -> None:
    """grid keeps a retired department or category (cases name it) and says when it was retired."""
    case = await triage_case(dispatch)
    handled = await dispatch.new_case(category=MANHOLE)  # routed to works
    stall = await dispatch.new_case(category=STALL)  # routed to enforcement
    assert (handled["department_code"], stall["department_code"]) == ("works", "enforcement")
    dispatch.grid.departments["works"] = {
        **dispatch.grid.departments["works"],
        "retired_at": "2026-12-01T00:00:00Z",
    }
    dispatch.grid.categories[OTHER] = {
        **dispatch.grid.categories[OTHER],
        "retired_at": "2026-12-01T00:00:00Z",
    }

    retired = await dispatch.act(case["id"], "dispatch", {"department_code": "works"})
    moved = await dispatch.act(stall["id"], "reassign", {"department_code": "works"})
    recategorized = await dispatch.act(
        case["id"], "dispatch", {"department_code": "market", "category_code": OTHER}
    )

    assert (retired.status_code, moved.status_code) == (422, 422)
    assert retired.json()["detail"] == "department 'works' (市政所) is retired: choose another"
    assert recategorized.status_code == 422
    assert recategorized.json()["detail"] == f"category {OTHER!r} is retired from the catalog: choose another"
    assert (await dispatch.read(case["id"]))["status"] == "triage"
    assert (await dispatch.read(stall["id"]))["department_code"] == "enforcement"
    # The cases it has stay with it, under its name, until the office sends them elsewhere.
    kept = await dispatch.read(handled["id"])
    assert (kept["department_code"], kept["department_name"]) == ("works", "市政所")
    reassigned = await dispatch.ok(handled["id"], "reassign", {"department_code": "market"})
    assert (reassigned["status"], reassigned["department_code"]) == ("dispatched", "market")


@pytest.mark.parametrize(
    ("command", "body"),
    [
        ("dispatch", {"department_code": "../catalog/0101"}),  # a category, once taken as a department
        ("dispatch", {"department_code": "works?x=1"}),
        ("dispatch", {"department_code": "works", "category_code": "../departments/works"}),
        ("reassign", {"department_code": "../catalog/0101"}),
        ("reassign", {"department_code": ".."}),
    ],
)
async def test_a_code_that_is_no_code_is_422_and_grid_is_not_asked(
    dispatch: Dispatch, command: str, body: dict[str, str]
) -> None:
    case = await triage_case(dispatch)
    if command == "reassign":
        case = await dispatch.ok(case["id"], "dispatch", {"department_code": "works"})
    dispatch.grid.calls.clear()
    response = await dispatch.act(case["id"], command, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert dispatch.grid.calls == []
    assert (await dispatch.read(case["id"]))["status"] == case["status"]


async def test_return_sends_the_case_back_to_triage_with_its_reason(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    assert (await dispatch.act(case["id"], "return", {})).status_code == 422
    back = await dispatch.ok(case["id"], "return", {"reason": "the road belongs to the port"})
    assert back["status"] == "triage"
    assert back["department_code"] is None and back["deadline_at"] is None
    assert back["timeline"][-1]["note"] == "the road belongs to the port"
    assert (back["timeline"][-1]["actor_id"], back["timeline"][-1]["actor_role"]) == (
        "zhao.handler",
        "handler",
    )
    # Back in triage the case is no longer the department's: the handler cannot see it.
    assert (await dispatch.client.get(f"/v1/cases/{case['id']}", headers=HANDLER)).status_code == 404


async def test_reject_as_duplicate_names_the_other_case(dispatch: Dispatch) -> None:
    first = await dispatch.new_case()
    second = await triage_case(dispatch)
    done = await dispatch.ok(second["id"], "reject", {"reason": "duplicate", "duplicate_of": first["id"]})
    assert (done["status"], done["duplicate_of"]) == ("rejected", first["id"])
    bad = await dispatch.act(first["id"], "reject", {"reason": "duplicate", "duplicate_of": 999})
    assert bad.status_code == 422
    unnamed = await dispatch.act(first["id"], "reject", {"reason": "duplicate"})
    assert unnamed.status_code == 422  # was a 200: a duplicate of nothing anyone could follow
    void = await dispatch.act(first["id"], "reject", {"reason": "void", "duplicate_of": second["id"]})
    assert void.status_code == 422
    beyond = await dispatch.act(first["id"], "reject", {"reason": "duplicate", "duplicate_of": 2**63})
    assert beyond.status_code == 422  # was a 500 on SQLite: the driver cannot send it
    odd = await dispatch.act(first["id"], "reject", {"reason": "spam"})
    assert odd.status_code == 422
    # second is rejected itself: naming it would leave nobody to handle the problem (and a
    # cycle, first and second each the other's duplicate, was a 200)
    back = await dispatch.act(first["id"], "reject", {"reason": "duplicate", "duplicate_of": second["id"]})
    assert back.status_code == 422
    assert back.json()["detail"] == (
        f"case {second['id']} was rejected itself as a duplicate of case {first['id']}; "
        "duplicate_of names a case that was not"
    )
    assert (await dispatch.read(first["id"]))["status"] != "rejected"


async def test_a_case_is_no_duplicate_of_a_closed_one(dispatch: Dispatch) -> None:
    """Rejected as a duplicate of a closed case, a problem seen again joined a finished case:
    nobody handled it, and its reporter's rating reopened the other case."""
    closed = await dispatch.new_case()
    await dispatch.ok(closed["id"], "accept", actor=HANDLER)
    await dispatch.ok(closed["id"], "resolve", {"note": "stall moved off the road"}, actor=HANDLER)
    await dispatch.ok(closed["id"], "verify", {"passed": True})
    again = await triage_case(dispatch)

    refused = await dispatch.act(again["id"], "reject", {"reason": "duplicate", "duplicate_of": closed["id"]})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == (
        f"case {closed['id']} is closed: a problem seen again after it closed is a case of its own"
    )
    assert (await dispatch.read(again["id"]))["status"] == "triage"
    assert (await dispatch.read(closed["id"]))["report_count"] == 1


async def test_a_duplicates_reports_join_the_original_and_hear_it_to_the_end(dispatch: Dispatch) -> None:
    """Rejected as a duplicate, a case's reporter heard 'rejected' and nothing more: the
    original went on without her. Her report now joins the original, she is told its number
    and status, and she hears what comes next; the original's own reporters hear of no merge."""
    first = await dispatch.new_case()
    second = await triage_case(dispatch)
    (mine,) = [r["report_id"] for r in second["reports"]]
    (theirs,) = [r["report_id"] for r in first["reports"]]

    await dispatch.ok(second["id"], "reject", {"reason": "duplicate", "duplicate_of": first["id"]})
    original = await dispatch.read(first["id"])
    rejected = await dispatch.read(second["id"])
    assert [r["report_id"] for r in original["reports"]] == [theirs, mine]
    assert (original["report_count"], rejected["report_count"], rejected["reports"]) == (2, 0, [])
    merged = original["timeline"][-1]
    assert (merged["action"], merged["actor_id"]) == ("merged", "li.dispatcher")
    assert merged["data"]["from_case_number"] == second["case_number"]

    told = [
        (m.payload["action"], m.payload["case_number"], m.payload["report_ids"])
        for m in await dispatch.outbox()
    ]
    assert told[-2:] == [
        ("rejected", second["case_number"], [mine]),
        ("merged", first["case_number"], [mine]),  # the original's number, to her alone
    ]
    await dispatch.ok(first["id"], "accept", actor=HANDLER)
    accepted = (await dispatch.outbox())[-1].payload
    assert (accepted["action"], sorted(accepted["report_ids"])) == ("accepted", sorted([theirs, mine]))


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("verify", {"passed": True}),
        ("feedback", {"rating": 5}),
        ("reassign", {"department_code": "works"}),
        ("close", {"note": "x"}),
    ],
)
async def test_illegal_commands_in_triage_are_409_naming_the_state(
    dispatch: Dispatch, action: str, body: dict[str, Any]
) -> None:
    case = await triage_case(dispatch)
    response = await dispatch.act(case["id"], action, body)
    assert response.status_code == 409
    problem = response.json()
    assert problem["current_state"] == "triage" and problem["action"] == action
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("action", "body"), [("accept", {}), ("return", {"reason": "x"}), ("resolve", {"note": "x"})]
)
async def test_no_handler_sees_a_case_in_triage(
    dispatch: Dispatch, action: str, body: dict[str, Any]
) -> None:
    case = await triage_case(dispatch)
    assert (await dispatch.act(case["id"], action, body)).status_code == 404


async def test_illegal_commands_later_in_the_life_are_409(dispatch: Dispatch) -> None:
    cid = (await dispatch.new_case())["id"]
    assert (await dispatch.act(cid, "dispatch", {"department_code": "works"})).json()[
        "current_state"
    ] == "dispatched"
    assert (await dispatch.act(cid, "resolve", {"note": "x"})).json()["current_state"] == "dispatched"
    assert (await dispatch.act(cid, "close", {"note": "x"})).json()["current_state"] == "dispatched"
    await dispatch.ok(cid, "accept")
    assert (await dispatch.act(cid, "reject", {"reason": "void"})).json()["current_state"] == "in_progress"
    await dispatch.ok(cid, "resolve", {"note": "done"})
    assert (await dispatch.act(cid, "accept")).json()["current_state"] == "resolved"
    reassign = await dispatch.act(cid, "reassign", {"department_code": "works"})
    assert reassign.json()["current_state"] == "resolved"
    await dispatch.ok(cid, "verify", {"passed": True})
    later: list[tuple[str, dict[str, Any]]] = [
        ("return", {"reason": "x"}),
        ("verify", {"passed": False, "note": "x"}),
        ("close", {"note": "x"}),
    ]
    for action, body in later:
        response = await dispatch.act(cid, action, body)
        assert (response.status_code, response.json()["current_state"]) == (409, "closed")


async def test_stale_if_match_is_412_and_missing_is_428(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    stale_tag = f'"{case["version"]}"'
    await dispatch.ok(case["id"], "notes", {"note": "first"})

    stale = await dispatch.act(case["id"], "accept", {}, if_match=stale_tag)
    missing = await dispatch.act(case["id"], "accept", {}, if_match=None)
    assert (stale.status_code, missing.status_code) == (412, 428)
    assert (await dispatch.read(case["id"]))["status"] == "dispatched"


async def test_a_note_needs_no_if_match_and_a_stale_one_is_still_412(dispatch: Dispatch) -> None:
    """A note appends: written while the dispatcher moved the case it was a 412, for nothing it
    could have overwritten. Sent, the tag is still checked."""
    case = await dispatch.new_case()
    stale_tag = f'"{case["version"]}"'
    await dispatch.ok(case["id"], "accept", actor=HANDLER)

    unchecked = await dispatch.act(case["id"], "notes", {"note": "called the owner"}, if_match=None)
    stale = await dispatch.act(case["id"], "notes", {"note": "again"}, if_match=stale_tag)
    assert unchecked.status_code == 200, unchecked.text
    assert unchecked.headers["ETag"] == f'"{unchecked.json()["version"]}"'
    assert stale.status_code == 412
    assert [e["note"] for e in unchecked.json()["timeline"] if e["action"] == "note"] == ["called the owner"]
    # An empty If-Match (a client that sends the header whether or not it read a tag) is none:
    # it was a 428 "send If-Match" on a command that needs none. A change still needs one.
    empty = await dispatch.act(case["id"], "notes", {"note": "empty"}, if_match="")
    assert empty.status_code == 200, empty.text
    assert (
        await dispatch.act(case["id"], "resolve", {"note": "x"}, actor=HANDLER, if_match="")
    ).status_code == 428


async def test_a_note_reaches_the_reporters_only_when_written_for_them(dispatch: Dispatch) -> None:
    """A handler's "已安排清运车" went on the timeline and no reporter heard it; an office's
    note for itself ("called the owner") must stay on the timeline."""
    case = await dispatch.new_case()
    await dispatch.ok(case["id"], "accept", actor=HANDLER)
    messages = len(await dispatch.outbox())

    await dispatch.ok(case["id"], "notes", {"note": "called the owner"}, actor=HANDLER, if_match=None)
    assert len(await dispatch.outbox()) == messages
    noted = await dispatch.ok(
        case["id"], "notes", {"note": "已安排清运车", "to_reporters": True}, actor=HANDLER, if_match=None
    )

    (told,) = (await dispatch.outbox())[messages:]
    assert (told.payload["action"], told.payload["note"], told.payload["status"]) == (
        "note",
        "已安排清运车",
        "in_progress",
    )
    assert told.payload["report_ids"] == [r["report_id"] for r in noted["reports"]]
    assert told.payload["event_id"] == noted["timeline"][-1]["id"]


async def test_an_unquoted_if_match_is_400_naming_the_form_not_412(dispatch: Dispatch) -> None:
    """``If-Match: 3`` for the ETag ``"3"`` was a 412, "the resource changed since you read it",
    though nothing had: it is no entity-tag (RFC 9110 8.8.3)."""
    case = await dispatch.new_case()
    version = case["version"]

    unquoted = await dispatch.act(case["id"], "notes", {"note": "x"}, if_match=str(version))
    assert unquoted.status_code == 400
    assert unquoted.headers["content-type"] == "application/problem+json"
    assert f'(If-Match: "{version}")' in unquoted.json()["detail"]
    assert (await dispatch.read(case["id"]))["version"] == version  # nothing done
    # A list matches when any of its tags does; a weak tag matches its version (a compressing
    # proxy weakens ETags); * matches the case as it is.
    for if_match in (f'"0", "{version}"', f'W/"{version + 1}"', "*"):
        answer = await dispatch.act(case["id"], "notes", {"note": "x"}, if_match=if_match)
        assert answer.status_code == 200, (if_match, answer.text)
    stale = await dispatch.act(case["id"], "notes", {"note": "x"}, if_match=f'W/"{version}"')
    assert (stale.status_code, stale.json()["current_etag"]) == (412, f'"{version + 3}"')


async def test_request_bodies_cannot_set_server_fields(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    response = await dispatch.act(case["id"], "accept", {"status": "closed"})
    assert response.status_code == 422
    response = await dispatch.act(case["id"], "notes", {"note": "x", "actor_id": "someone"})
    assert response.status_code == 422


async def test_unknown_case_is_404(dispatch: Dispatch) -> None:
    assert (await dispatch.client.get("/v1/cases/999", headers=DISPATCHER)).status_code == 404
    assert (await dispatch.act(999, "accept", {}, if_match='"1"')).status_code == 404


async def test_a_case_id_beyond_64_bits_is_a_422_not_a_500(dispatch: Dispatch) -> None:
    """SQLite's driver cannot send such an integer (OverflowError); the path's bound refuses it first."""
    too_large = 2**63
    read = await dispatch.client.get(f"/v1/cases/{too_large}", headers=DISPATCHER)
    note = await dispatch.act(too_large, "notes", {"note": "x"}, if_match='"1"')

    assert (read.status_code, note.status_code) == (422, 422)
    assert read.json()["errors"][0]["loc"] == ["path", "case_id"]
    assert (await dispatch.client.get(f"/v1/cases/{too_large - 1}", headers=DISPATCHER)).status_code == 404


async def test_a_case_has_one_url_its_id_in_plain_digits(dispatch: Dispatch) -> None:
    cid = (await dispatch.new_case())["id"]
    assert cid < 10
    assert (await dispatch.client.get(f"/v1/cases/{cid}", headers=DISPATCHER)).status_code == 200
    for spelling in (
        f"{cid}_0",
        f"+{cid}",
        f"%20{cid}",
        f"0x{cid}",
        "١",
        f"0{cid}",
        f"000{cid}",
    ):  # "1_0" was 10
        answer = await dispatch.client.get(f"/v1/cases/{spelling}", headers=DISPATCHER)
        assert answer.status_code == 422, spelling
        assert answer.json()["errors"][0]["loc"] == ["path", "case_id"]
    assert (await dispatch.client.get("/v1/cases/0", headers=DISPATCHER)).status_code == 422


async def resolved_case(dispatch: Dispatch) -> int:
    cid: int = (await dispatch.new_case())["id"]
    await dispatch.ok(cid, "accept")
    await dispatch.ok(cid, "resolve", {"note": "done"})
    return cid


async def test_failed_verification_is_rework_to_the_same_department(dispatch: Dispatch) -> None:
    cid = await resolved_case(dispatch)
    assert (await dispatch.act(cid, "verify", {"passed": False})).status_code == 422
    # a note of spaces (the full-width ones of a Chinese keyboard too) says nothing either
    blank = await dispatch.act(cid, "verify", {"passed": False, "note": "\u3000 \n"})
    assert blank.status_code == 422 and "needs a note" in blank.json()["detail"]
    again = await dispatch.ok(cid, "verify", {"passed": False, "note": " stall is back\n"})
    assert (again["status"], again["rework_count"], again["department_code"]) == (
        "dispatched",
        1,
        "enforcement",
    )
    assert again["resolved_at"] is None
    assert again["timeline"][-1]["action"] == "rework"
    assert again["timeline"][-1]["note"] == "stall is back"  # without the spaces around it


async def test_unsatisfied_feedback_within_the_window_reopens_once(dispatch: Dispatch) -> None:
    cid = await resolved_case(dispatch)
    await dispatch.ok(cid, "verify", {"passed": True})
    reopened = await dispatch.ok(cid, "feedback", {"rating": 2, "comment": "still there"})
    assert (reopened["status"], reopened["rework_count"], reopened["rating"]) == ("dispatched", 1, 2)
    assert [e["action"] for e in reopened["timeline"][-2:]] == ["feedback", "reopened"]
    assert (await dispatch.act(cid, "feedback", {"rating": 1})).json()["current_state"] == "dispatched"

    await dispatch.ok(cid, "accept")
    await dispatch.ok(cid, "resolve", {"note": "removed again"})
    await dispatch.ok(cid, "verify", {"passed": True})
    happy = await dispatch.ok(cid, "feedback", {"rating": 4})
    assert (happy["status"], happy["rating"]) == ("closed", 4)
    twice = await dispatch.act(cid, "feedback", {"rating": 1})
    assert twice.status_code == 409


async def test_feedback_from_one_who_reported_nothing_is_404_unseen_and_403_seen(dispatch: Dispatch) -> None:
    """The route's documentation said "403 for anyone else"; a case out of one's scope is a
    404 there as everywhere (its existence is not revealed)."""
    cid = await resolved_case(dispatch)  # wang.fang's report, in her cell, with enforcement
    await dispatch.ok(cid, "verify", {"passed": True})
    neighbour = bearer("zhou.min", Role.grid_worker, regions=[CELL])
    far_worker = bearer("lin.yuan", Role.grid_worker, regions=[FAR_CELL])
    sees_it = [DISPATCHER, HANDLER, neighbour]
    does_not = [WORKS_HANDLER, far_worker]
    for actor in sees_it + does_not:
        refused = await dispatch.act(cid, "feedback", {"rating": 5}, actor=actor)
        assert refused.status_code == (403 if actor in sees_it else 404), refused.text
    assert (await dispatch.read(cid))["rating"] is None

    documented = dispatch.app.openapi()["paths"]["/v1/cases/{case_id}/feedback"]["post"]["description"]
    assert "404" in documented and "403" in documented and "403 for anyone else" not in documented


async def test_unsatisfied_feedback_after_the_window_is_only_recorded(dispatch: Dispatch) -> None:
    cid = await resolved_case(dispatch)
    await dispatch.ok(cid, "verify", {"passed": True})
    await dispatch.set_case(cid, closed_at=utcnow() - timedelta(days=8))
    late = await dispatch.ok(cid, "feedback", {"rating": 1, "comment": "too late"})
    assert (late["status"], late["rework_count"], late["rating"]) == ("closed", 0, 1)
    assert late["timeline"][-1]["data"] == {"rating": 1, "reopens": False}


async def test_a_report_joins_a_case_under_the_category_the_office_set(dispatch: Dispatch) -> None:
    """The merge matched the category of the case's reports, as filed: a case the office
    categorised in triage took no later report of that category at the same spot (each one
    opened a duplicate case), and kept taking reports of the category it no longer had."""
    first = await dispatch.new_case(category=None)
    assert first["status"] == "triage"
    await dispatch.ok(first["id"], "dispatch", {"department_code": "enforcement", "category_code": STALL})

    second = await dispatch.new_case(category=STALL)

    assert (second["id"], second["report_count"]) == (first["id"], 2)
    assert [r["category"] for r in second["reports"]] == [STALL, STALL]
    elsewhere = await dispatch.new_case(category=None)  # uncategorised reports never merge
    assert elsewhere["id"] != first["id"]


@pytest.mark.parametrize(
    "photo",
    [
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "p/after.jpg",
        "https://files.example.org/a b.jpg",
    ],
)
async def test_a_photo_that_is_no_http_url_is_422_and_nothing_is_noted(
    dispatch: Dispatch, photo: str
) -> None:
    """A console shows photos as links and images: only http(s) URLs, as intake takes them."""
    case = await triage_case(dispatch)
    refused = await dispatch.act(case["id"], "notes", {"note": "see the photo", "photos": [photo]})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["action"] for e in (await dispatch.read(case["id"]))["timeline"]] == ["registered"]


async def test_a_retried_rating_gets_the_case_again_and_another_rating_is_told_whose_came_first(
    dispatch: Dispatch,
) -> None:
    """A bot whose answer was lost sends its rating again with the ETag it had: the case as it
    stands, nothing recorded twice (it was a 412 or a 409 before). An unsatisfied rating's
    retry does not reopen the case twice."""
    cid = await resolved_case(dispatch)
    neighbour = factories.report(reporter_id="chen.li", lat=factories.LAT + 0.0001)
    await dispatch.deliver(neighbour)
    closed = await dispatch.ok(cid, "verify", {"passed": True})
    stale = f'"{closed["version"]}"'

    first = await dispatch.ok(cid, "feedback", {"rating": 2, "comment": "还在"}, if_match=stale)
    again = await dispatch.ok(cid, "feedback", {"rating": 2, "comment": "还在"}, if_match=stale)
    assert (first["status"], first["rework_count"]) == ("dispatched", 1)
    assert (again["version"], again["rework_count"]) == (first["version"], 1)
    assert [e["action"] for e in again["timeline"]].count("feedback") == 1

    await dispatch.ok(cid, "accept")
    await dispatch.ok(cid, "resolve", {"note": "清理完毕"})
    await dispatch.ok(cid, "verify", {"passed": True})
    await dispatch.ok(cid, "feedback", {"rating": 4})
    mine = await dispatch.act(cid, "feedback", {"rating": 5})
    assert mine.status_code == 409 and mine.json()["detail"].startswith("you already rated this closing")
    chen = bearer("chen.li", Role.grid_worker, regions=[FAR_CELL])
    theirs = await dispatch.act(cid, "feedback", {"rating": 5}, actor=chen)
    assert theirs.status_code == 409, theirs.text
    assert theirs.json()["detail"].startswith("another reporter of this case already rated")
