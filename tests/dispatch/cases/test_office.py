"""The back office's reassign and close, and who may give feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.actors import Role
from tests.dispatch import factories
from tests.dispatch.conftest import DISPATCHER, HANDLER, SUPERVISOR, WORKER, WORKS_HANDLER, Dispatch
from tests.dispatch.fakes import COMMUNITY
from tests.support.tokens import bearer

LEADER = bearer("zheng.wei", Role.grid_leader, regions=[COMMUNITY])


def hours(case: dict[str, Any]) -> timedelta:
    return datetime.fromisoformat(case["deadline_at"]) - datetime.fromisoformat(case["dispatched_at"])


async def test_reassign_sends_a_dispatched_case_to_another_department(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    moved = await dispatch.ok(
        case["id"], "reassign", {"department_code": "works", "note": "a pipe, not a stall"}
    )

    assert (moved["status"], moved["department_code"], moved["department_name"]) == (
        "dispatched",
        "works",
        "市政所",
    )
    assert moved["dispatched_at"] > case["dispatched_at"] and hours(moved) == timedelta(hours=24)
    event = moved["timeline"][-1]
    assert (event["action"], event["from_status"], event["to_status"]) == (
        "reassigned",
        "dispatched",
        "dispatched",
    )
    assert (event["actor_id"], event["actor_role"], event["note"]) == (
        "li.dispatcher",
        "dispatcher",
        "a pipe, not a stall",
    )
    assert event["data"] == {"from_department_code": "enforcement", "department_code": "works"}

    assert (await dispatch.client.get(f"/v1/cases/{case['id']}", headers=HANDLER)).status_code == 404
    assert (await dispatch.act(case["id"], "accept", {}, actor=HANDLER)).status_code == 404
    assert (await dispatch.ok(case["id"], "accept", {}, actor=WORKS_HANDLER))["status"] == "in_progress"

    (message,) = [m for m in await dispatch.outbox() if m.payload["action"] == "reassigned"]
    assert (message.payload["department_code"], message.payload["status"]) == ("works", "dispatched")
    assert message.payload["deadline_at"] is not None


async def test_reassign_takes_a_case_in_progress_back_to_dispatched(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    await dispatch.ok(case["id"], "accept")
    moved = await dispatch.ok(case["id"], "reassign", {"department_code": "market"}, actor=SUPERVISOR)
    assert (moved["status"], moved["department_code"]) == ("dispatched", "market")
    assert (moved["timeline"][-1]["actor_id"], moved["timeline"][-1]["actor_role"]) == (
        "zhuang.hui",
        "supervisor",
    )


async def test_reassign_needs_another_known_department_and_the_office(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    same = await dispatch.act(case["id"], "reassign", {"department_code": "enforcement"})
    unknown = await dispatch.act(case["id"], "reassign", {"department_code": "nobody"})
    server_owned = await dispatch.act(
        case["id"], "reassign", {"department_code": "works", "status": "closed"}
    )
    assert (same.status_code, unknown.status_code, server_owned.status_code) == (422, 422, 422)
    for actor in (HANDLER, WORKER, LEADER):
        assert (
            await dispatch.act(case["id"], "reassign", {"department_code": "works"}, actor=actor)
        ).status_code == 403
    assert (await dispatch.read(case["id"]))["department_code"] == "enforcement"


async def resolved_case(dispatch: Dispatch, **report: Any) -> int:
    cid: int = (await dispatch.new_case(**report))["id"]
    await dispatch.ok(cid, "accept")
    await dispatch.ok(cid, "resolve", {"note": "done"})
    return cid


async def test_the_office_closes_a_resolved_case_without_a_visit(dispatch: Dispatch) -> None:
    cid = await resolved_case(dispatch)
    assert (await dispatch.act(cid, "close", {})).status_code == 422
    for actor in (HANDLER, WORKER, LEADER):
        assert (await dispatch.act(cid, "close", {"note": "x"}, actor=actor)).status_code == 403
    closed = await dispatch.ok(cid, "close", {"note": "confirmed by phone"}, actor=SUPERVISOR)
    assert closed["status"] == "closed" and closed["closed_at"]
    event = closed["timeline"][-1]
    assert (event["action"], event["from_status"], event["to_status"]) == ("closed", "resolved", "closed")
    assert (event["actor_id"], event["actor_role"], event["note"]) == (
        "zhuang.hui",
        "supervisor",
        "confirmed by phone",
    )
    assert [m.payload["action"] for m in await dispatch.outbox()][-1] == "closed"

    rated = await dispatch.ok(cid, "feedback", {"rating": 4})
    assert (rated["status"], rated["rating"]) == ("closed", 4)


async def test_only_a_reporter_of_the_case_may_rate_it(dispatch: Dispatch) -> None:
    cid = await resolved_case(dispatch)
    second = factories.report(lat=factories.LAT + 0.0002, reporter_id="chen.li")
    await dispatch.deliver(second)  # chen.li, a grid worker elsewhere, reported on it too
    await dispatch.ok(cid, "verify", {"passed": True})

    for actor in (DISPATCHER, SUPERVISOR, LEADER, HANDLER):  # each sees the case, none reported on it
        response = await dispatch.act(cid, "feedback", {"rating": 1}, actor=actor)
        assert response.status_code == 403, actor
    assert (await dispatch.act(cid, "feedback", {"rating": 1}, actor=WORKS_HANDLER)).status_code == 404
    chen = bearer("chen.li", Role.grid_worker, regions=["35020300100299"])
    rated = await dispatch.ok(cid, "feedback", {"rating": 5, "comment": "gone"}, actor=chen)
    assert (rated["timeline"][-1]["actor_id"], rated["timeline"][-1]["actor_role"]) == (
        "chen.li",
        "grid_worker",
    )


async def test_the_office_urges_a_case_its_department_handles(dispatch: Dispatch) -> None:
    """督办: the status stays, the case counts it, the console lists it, reporters hear nothing."""
    case = await dispatch.new_case()
    other = await dispatch.new_case(lat=factories.LAT + 0.01)
    messages = len(await dispatch.outbox())

    urged = await dispatch.ok(case["id"], "urge", {"note": "居民多次反映，请今日内处置"}, if_match=None)
    assert (urged["status"], urged["urge_count"], urged["version"]) == ("dispatched", 1, case["version"] + 1)
    event = urged["timeline"][-1]
    assert (event["action"], event["from_status"], event["to_status"]) == (
        "urged",
        "dispatched",
        "dispatched",
    )
    assert (event["actor_id"], event["note"]) == ("li.dispatcher", "居民多次反映，请今日内处置")
    assert event["data"]["deadline_at"] == case["deadline_at"]  # written as the API writes times
    await dispatch.ok(case["id"], "accept", actor=HANDLER)
    again = await dispatch.ok(case["id"], "urge", {"note": "还没处理完？"}, actor=SUPERVISOR)
    assert (again["status"], again["urge_count"]) == ("in_progress", 2)
    assert len(await dispatch.outbox()) == messages + 1  # the acceptance only

    listed = await dispatch.client.get("/v1/cases", params={"urged": "true"}, headers=DISPATCHER)
    assert [c["id"] for c in listed.json()["items"]] == [case["id"]]
    not_urged = await dispatch.client.get("/v1/cases", params={"urged": "false"}, headers=DISPATCHER)
    assert [c["id"] for c in not_urged.json()["items"]] == [other["id"]]
    figures = (await dispatch.client.get("/v1/figures", headers=SUPERVISOR)).json()
    assert figures["total"]["urged"] == 1

    await dispatch.ok(case["id"], "resolve", {"note": "已处理"}, actor=HANDLER)
    refused = await dispatch.act(case["id"], "urge", {"note": "x"})
    assert refused.status_code == 409
    assert "resolved" in refused.json()["detail"]
    assert (await dispatch.act(case["id"], "urge", {"note": ""})).status_code == 422


async def test_the_department_asks_for_more_time_and_the_office_extends_the_deadline(
    dispatch: Dispatch,
) -> None:
    """延期: a request changes nothing but the timeline; the extension moves the deadline from
    the deadline (or from now once it passed), reporters hear it, and a resolution before the
    new deadline is on time."""
    case = await dispatch.new_case()
    asked = await dispatch.ok(
        case["id"], "extension-request", {"hours": 8, "reason": "配件明天到货"}, actor=HANDLER, if_match=None
    )
    assert (asked["deadline_at"], asked["extension_requested_hours"]) == (case["deadline_at"], 8)
    again = await dispatch.act(case["id"], "extension-request", {"hours": 9, "reason": "x"}, actor=HANDLER)
    assert again.status_code == 409 and "8 hours more awaits" in again.json()["detail"]
    handled = await dispatch.new_case(lat=24.4571)  # far enough not to join the first
    await dispatch.ok(handled["id"], "accept", {}, actor=HANDLER)
    await dispatch.ok(handled["id"], "resolve", {"note": "已处置"}, actor=HANDLER)
    too_late = await dispatch.act(
        handled["id"], "extension-request", {"hours": 9, "reason": "x"}, actor=HANDLER
    )
    assert (too_late.status_code, too_late.json()["action"]) == (409, "extension-request")
    assert too_late.json()["detail"] == "cannot request an extension of a case that is resolved"
    waiting = await dispatch.client.get(
        "/v1/cases", params={"extension_requested": "true"}, headers=DISPATCHER
    )
    assert [c["id"] for c in waiting.json()["items"]] == [case["id"]]
    assert (asked["timeline"][-1]["action"], asked["timeline"][-1]["data"]) == (
        "extension_requested",
        {"hours": 8},
    )
    messages = len(await dispatch.outbox())

    extended = await dispatch.ok(case["id"], "extend", {"hours": 8, "note": "同意延期"})
    assert hours(extended) == timedelta(hours=24 + 8)  # the tests' calendar: every hour counts
    event = extended["timeline"][-1]
    assert (event["action"], event["actor_id"], event["data"]["hours"]) == ("extended", "li.dispatcher", 8)
    assert (event["data"]["requested_hours"], event["data"]["deadline_at"]) == (8, extended["deadline_at"])
    assert extended["extension_requested_hours"] is None
    outbox = await dispatch.outbox()
    assert len(outbox) == messages + 1
    assert (outbox[-1].payload["action"], outbox[-1].payload["deadline_at"]) == (
        "extended",
        extended["deadline_at"].replace("+00:00", "Z"),
    )

    await dispatch.set_case(case["id"], deadline_at=datetime.now(UTC) - timedelta(hours=1))
    late = await dispatch.ok(case["id"], "extend", {"hours": 2, "note": "再给两小时"}, actor=SUPERVISOR)
    from_now = datetime.fromisoformat(late["deadline_at"]) - datetime.now(UTC)
    assert timedelta(hours=1, minutes=59) < from_now <= timedelta(hours=2)
    assert not late["overdue"]
    await dispatch.ok(case["id"], "accept", actor=HANDLER)
    resolved = await dispatch.ok(case["id"], "resolve", {"note": "已更换"}, actor=HANDLER)
    assert resolved["timeline"][-1]["data"] == {"on_time": True, "department_code": "enforcement"}

    refused = await dispatch.act(case["id"], "extend", {"hours": 2, "note": "x"})
    assert refused.status_code == 409
    for wrong in (
        {"hours": 0, "note": "x"},
        {"hours": 721, "note": "x"},
        {"hours": "8", "note": "x"},
        {"hours": 8},
    ):
        assert (await dispatch.act(case["id"], "extend", wrong)).status_code == 422, wrong
    assert (
        await dispatch.act(case["id"], "extend", {"hours": 2, "note": "x"}, actor=HANDLER)
    ).status_code == 403


async def test_the_office_refuses_a_request_for_more_time_and_the_department_may_ask_again(
    dispatch: Dispatch,
) -> None:
    case = await dispatch.new_case()
    nothing = await dispatch.act(case["id"], "extension-refusal", {"note": "x"})
    assert nothing.status_code == 409 and "no request for more time" in nothing.json()["detail"]
    await dispatch.ok(case["id"], "extension-request", {"hours": 16, "reason": "等物业"}, actor=HANDLER)

    refused = await dispatch.ok(case["id"], "extension-refusal", {"note": "今日内可处置"})
    assert (refused["deadline_at"], refused["extension_requested_hours"]) == (case["deadline_at"], None)
    event = refused["timeline"][-1]
    assert (event["action"], event["note"], event["data"]) == (
        "extension_refused",
        "今日内可处置",
        {"requested_hours": 16},
    )
    listed = await dispatch.client.get(
        "/v1/cases", params={"extension_requested": "true"}, headers=DISPATCHER
    )
    assert listed.json()["items"] == []

    await dispatch.ok(case["id"], "extension-request", {"hours": 4, "reason": "再申请"}, actor=HANDLER)
    moved = await dispatch.ok(case["id"], "reassign", {"department_code": "works"})
    assert moved["extension_requested_hours"] is None  # the new department's deadline answers it
    assert (
        await dispatch.act(case["id"], "extension-refusal", {"note": "x"}, actor=HANDLER)
    ).status_code == 403


async def test_a_request_for_more_time_ends_when_the_department_no_longer_handles_the_case(
    dispatch: Dispatch,
) -> None:
    """A request waiting when the department resolves, returns the case, or the office rejects
    it is not left on the case: there is no deadline of that handling left to extend, and a
    resolved, triaged or rejected case showed a request nobody could answer (extend and
    refuse take only a handled case)."""
    asked = {"hours": 8, "reason": "配件明天到货"}
    resolved = await dispatch.new_case()
    await dispatch.ok(resolved["id"], "accept")
    await dispatch.ok(resolved["id"], "extension-request", asked, actor=HANDLER)
    done = await dispatch.ok(resolved["id"], "resolve", {"note": "已处置"})
    returned = await dispatch.new_case(lat=24.4571)  # far enough apart not to join each other
    await dispatch.ok(returned["id"], "extension-request", asked, actor=HANDLER)
    back = await dispatch.ok(returned["id"], "return", {"reason": "不属本单位"})
    rejected = await dispatch.new_case(lat=24.4617)
    await dispatch.ok(rejected["id"], "extension-request", asked, actor=HANDLER)
    void = await dispatch.ok(rejected["id"], "reject", {"reason": "void"})

    assert [(c["status"], c["extension_requested_hours"]) for c in (done, back, void)] == [
        ("resolved", None),
        ("triage", None),
        ("rejected", None),
    ]
    closed = await dispatch.ok(resolved["id"], "verify", {"passed": True})
    assert closed["extension_requested_hours"] is None
    for case in (done, back, void):
        refusal = await dispatch.act(case["id"], "extension-refusal", {"note": "x"})
        assert refusal.status_code == 409
