"""The lifecycle's rules, without a database: every (step, status) pair of the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.dispatch.calendar.working_time import WorkingTime, parse_spans, parse_weekdays
from services.dispatch.cases.lifecycle import (
    Status,
    Step,
    deadline,
    feedback_given_since_close,
    feedback_reopens,
    is_overdue,
    next_status,
    verify_step,
)
from shared.errors import IllegalTransition

SHANGHAI = ZoneInfo("Asia/Shanghai")

T, D, P, R, C, X = (
    Status.triage,
    Status.dispatched,
    Status.in_progress,
    Status.resolved,
    Status.closed,
    Status.rejected,
)

LEGAL = {
    (Step.dispatch, T): D,
    (Step.accept, D): P,
    (Step.return_, D): T,
    (Step.return_, P): T,
    (Step.resolve, P): R,
    (Step.verify, R): C,
    (Step.rework, R): D,
    (Step.reassign, D): D,
    (Step.reassign, P): D,
    (Step.close, R): C,
    (Step.reject, T): X,
    (Step.reject, D): X,
    (Step.feedback, C): C,
    (Step.reopen, C): D,
    (Step.urge, D): D,
    (Step.urge, P): P,
    (Step.request_extension, D): D,
    (Step.request_extension, P): P,
    (Step.extend, D): D,
    (Step.extend, P): P,
    (Step.refuse_extension, D): D,
    (Step.refuse_extension, P): P,
    **{(Step.note, s): s for s in Status},
}
ALL_PAIRS = [(step, status) for step in Step for status in Status]


@pytest.mark.parametrize(("step", "status"), [p for p in ALL_PAIRS if p in LEGAL])
def test_legal_moves_reach_their_status(step: Step, status: Status) -> None:
    assert next_status(step, status) == LEGAL[(step, status)]


@pytest.mark.parametrize(("step", "status"), [p for p in ALL_PAIRS if p not in LEGAL])
def test_illegal_moves_name_the_command_and_the_current_state(step: Step, status: Status) -> None:
    with pytest.raises(IllegalTransition) as raised:
        next_status(step, status)
    assert raised.value.status == 409
    assert raised.value.extra["current_state"] == status.value
    assert raised.value.extra["action"] in {
        "dispatch",
        "accept",
        "return",
        "resolve",
        "verify",
        "reject",
        "feedback",
        "reassign",
        "close",
        "urge",
        "extension-request",
        "extend",
        "extension-refusal",
    }


def test_verify_passes_to_close_and_fails_to_rework() -> None:
    assert verify_step(True) is Step.verify
    assert verify_step(False) is Step.rework


def test_reassign_and_close_are_their_own_timeline_actions() -> None:
    assert (Step.reassign.value, Step.close.value, Step.verify.value) == ("reassigned", "closed", "verified")


OFFICE = WorkingTime(
    zone=ZoneInfo("Asia/Shanghai"),
    spans=parse_spans("08:30-12:00,14:00-17:30"),
    weekdays=parse_weekdays("mon-fri"),
)


def test_a_normal_time_limit_counts_working_hours_an_urgent_one_every_hour() -> None:
    friday_4pm = datetime(2026, 11, 27, 16, tzinfo=SHANGHAI)
    monday_11am = datetime(2026, 11, 30, 11, tzinfo=SHANGHAI)  # 1.5 h on Friday, 2.5 on Monday
    assert deadline(friday_4pm, 4, "normal", OFFICE) == monday_11am
    assert deadline(friday_4pm, 4, "urgent", OFFICE) == friday_4pm + timedelta(hours=4)
    assert deadline(friday_4pm, 2, "critical", OFFICE) == friday_4pm + timedelta(hours=2)
    # no category: 24 working hours: 1.5 on Friday, 7 a day Monday to Wednesday, 1.5 on Thursday
    assert deadline(friday_4pm, None, "normal", OFFICE) == datetime(2026, 12, 3, 10, tzinfo=SHANGHAI)


def test_overdue_only_while_the_department_handles_it_past_the_deadline() -> None:
    now = datetime(2026, 11, 27, 8, tzinfo=UTC)
    past, future = now - timedelta(minutes=1), now + timedelta(minutes=1)
    assert is_overdue("dispatched", past, now)
    assert is_overdue("in_progress", past, now)
    assert not is_overdue("resolved", past, now)  # handled in time: waiting for the check
    assert not is_overdue("dispatched", future, now)
    assert not is_overdue("closed", past, now)
    assert not is_overdue("rejected", past, now)
    assert not is_overdue("triage", None, now)


def test_unsatisfied_feedback_reopens_only_inside_the_window() -> None:
    closed = datetime(2026, 11, 27, 8, tzinfo=UTC)
    assert feedback_reopens(2, closed, closed + timedelta(days=6), 7)
    assert feedback_reopens(1, closed, closed + timedelta(days=7), 7)
    assert not feedback_reopens(2, closed, closed + timedelta(days=8), 7)
    assert not feedback_reopens(3, closed, closed + timedelta(hours=1), 7)


def test_feedback_is_taken_once_per_closing() -> None:
    closed = datetime(2026, 11, 27, 8, tzinfo=UTC)
    assert not feedback_given_since_close(closed, None)
    assert feedback_given_since_close(closed, closed + timedelta(hours=1))
    assert not feedback_given_since_close(closed + timedelta(days=2), closed + timedelta(hours=1))
