"""预警: a case falls due soon once 80 % of its time limit is gone (the console's yellow light),
overdue at its deadline (the red)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.db import utcnow
from tests.dispatch import factories
from tests.dispatch.conftest import DISPATCHER, HANDLER, Dispatch


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def ids(dispatch: Dispatch, **params: Any) -> list[int]:
    answer = await dispatch.client.get("/v1/cases", params=params, headers=DISPATCHER)
    assert answer.status_code == 200, answer.text
    return [case["id"] for case in answer.json()["items"]]


async def test_a_dispatched_case_warns_at_80_percent_of_its_time_limit(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()  # a stall: 24 hours, round the clock in the tests' calendar

    dispatched, deadline, warning = at(case["dispatched_at"]), at(case["deadline_at"]), at(case["warn_at"])

    assert deadline - dispatched == timedelta(hours=24)
    assert warning - dispatched == timedelta(hours=24 * 0.8)
    assert (case["due_soon"], case["overdue"]) == (False, False)


async def test_the_console_lists_the_cases_due_soon_and_neither_the_late_nor_the_early(
    dispatch: Dispatch,
) -> None:
    early = await dispatch.new_case()
    soon = await dispatch.new_case(lat=factories.LAT + 0.01)
    late = await dispatch.new_case(lat=factories.LAT + 0.02)
    now = utcnow()
    await dispatch.set_case(
        soon["id"], warn_at=now - timedelta(hours=1), deadline_at=now + timedelta(hours=2)
    )
    await dispatch.set_case(
        late["id"], warn_at=now - timedelta(hours=5), deadline_at=now - timedelta(hours=1)
    )

    assert await ids(dispatch, due_soon="true") == [soon["id"]]
    assert set(await ids(dispatch, due_soon="false")) == {early["id"], late["id"]}
    assert await ids(dispatch, due_soon="true", sort="due") == [soon["id"]]
    assert await ids(dispatch, overdue="true") == [late["id"]]
    shown = await dispatch.read(soon["id"])
    assert (shown["due_soon"], shown["overdue"]) == (True, False)
    assert (await dispatch.read(late["id"]))["due_soon"] is False


async def test_a_resolved_case_is_no_longer_due_soon(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    now = utcnow()
    await dispatch.set_case(
        case["id"], warn_at=now - timedelta(hours=1), deadline_at=now + timedelta(hours=2)
    )
    await dispatch.ok(case["id"], "accept", {}, actor=HANDLER)
    assert await ids(dispatch, due_soon="true") == [case["id"]]

    await dispatch.ok(case["id"], "resolve", {"note": "已处置"}, actor=HANDLER)

    assert await ids(dispatch, due_soon="true") == []
    assert (await dispatch.read(case["id"]))["due_soon"] is False


async def test_an_extension_moves_the_warning_and_a_return_clears_it(dispatch: Dispatch) -> None:
    case = await dispatch.new_case()
    now = utcnow()
    await dispatch.set_case(
        case["id"], warn_at=now - timedelta(hours=1), deadline_at=now + timedelta(hours=2)
    )

    extended = await dispatch.ok(case["id"], "extend", {"hours": 10, "note": "同意延期"})

    deadline = at(extended["deadline_at"])
    assert deadline - at(extended["warn_at"]) == timedelta(hours=2)  # 20 % of the 10 hours granted
    assert extended["due_soon"] is False
    returned = await dispatch.ok(case["id"], "return", {"reason": "不属本部门"}, actor=HANDLER)
    assert (returned["warn_at"], returned["deadline_at"], returned["due_soon"]) == (None, None, False)
