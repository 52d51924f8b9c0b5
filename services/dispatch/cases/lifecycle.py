"""The case lifecycle as plain rules: the transition table, deadlines, overdue, feedback.

No database, no HTTP. Each timeline event that moves a case is a :class:`Step`; the API
commands map onto steps (``verify`` is ``verify`` when it passes and ``rework`` when it
fails; unsatisfied ``feedback`` inside the window adds a ``reopen``)::

    triage ──dispatch──► dispatched ──accept──► in_progress ──resolve──► resolved
      ▲  │               │  ▲ ▲ ▲                  │                       │
      │  └─reject──►rejected │ │ └── reassign ◄────┤ (and from dispatched) │
      │                      │ └───── rework ◄─────┼───────────────────────┤ verify fails
      └──────── return ◄─────┴─────────────────────┘                       │ verify passes,
                                         closed ◄──────────────────────────┘ or close (office)
                                           │ feedback (stays closed) / reopen (→ dispatched)

A deadline is the category's time limit from dispatch: in working hours on the working
calendar for a normal category, round the clock for an urgent or critical one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from services.dispatch.calendar.working_time import WorkingTime
from shared.errors import IllegalTransition

DEFAULT_TIME_LIMIT_HOURS = 24
"""A case without a category (dispatched from triage): 24 working hours, about three days."""

ROUND_THE_CLOCK = frozenset({"urgent", "critical"})
"""Urgencies whose time limit counts every hour (a pickpocket, an open manhole), not working
hours: a stall blocking the road on Friday evening is not left until Monday."""


class Status(StrEnum):
    triage = "triage"
    dispatched = "dispatched"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"
    rejected = "rejected"


FINISHED = frozenset({Status.closed, Status.rejected})
"""A finished case takes no merged reports."""

HANDLING = frozenset({Status.dispatched, Status.in_progress})
"""The statuses in which a case is its department's to handle: the only ones its deadline (the
catalog's handling time limit, 处置时限) runs in. A case resolved in time and waiting for the
grid worker's check is not overdue, nor one the office holds in triage."""


class Step(StrEnum):
    """A timeline event that a command makes; the value is the event's ``action``."""

    dispatch = "dispatched"
    accept = "accepted"
    return_ = "returned"
    resolve = "resolved"
    verify = "verified"
    rework = "rework"
    reassign = "reassigned"
    close = "closed"
    reject = "rejected"
    feedback = "feedback"
    reopen = "reopened"
    urge = "urged"
    request_extension = "extension_requested"
    extend = "extended"
    refuse_extension = "extension_refused"
    note = "note"


COMMAND: Mapping[Step, str] = {
    Step.dispatch: "dispatch",
    Step.accept: "accept",
    Step.return_: "return",
    Step.resolve: "resolve",
    Step.verify: "verify",
    Step.rework: "verify",
    Step.reassign: "reassign",
    Step.close: "close",
    Step.reject: "reject",
    Step.feedback: "feedback",
    Step.reopen: "feedback",
    Step.urge: "urge",
    Step.request_extension: "extension-request",
    Step.extend: "extend",
    Step.refuse_extension: "extension-refusal",
    Step.note: "note",
}
"""The API command each step belongs to (named in the 409 problem)."""
DOING: Mapping[Step, str] = {
    Step.feedback: "give feedback on",
    Step.reopen: "give feedback on",
    Step.request_extension: "request an extension of",
    Step.refuse_extension: "refuse an extension of",
}
"""What a command does, for the 409's detail, where its name is no verb."""

TRANSITIONS: Mapping[Step, Mapping[Status, Status]] = {
    Step.dispatch: {Status.triage: Status.dispatched},
    Step.accept: {Status.dispatched: Status.in_progress},
    Step.return_: {Status.dispatched: Status.triage, Status.in_progress: Status.triage},
    Step.resolve: {Status.in_progress: Status.resolved},
    Step.verify: {Status.resolved: Status.closed},
    Step.rework: {Status.resolved: Status.dispatched},
    Step.reassign: {Status.dispatched: Status.dispatched, Status.in_progress: Status.dispatched},
    Step.close: {Status.resolved: Status.closed},
    Step.reject: {Status.triage: Status.rejected, Status.dispatched: Status.rejected},
    Step.feedback: {Status.closed: Status.closed},
    Step.reopen: {Status.closed: Status.dispatched},
    Step.urge: {status: status for status in HANDLING},
    Step.request_extension: {status: status for status in HANDLING},
    Step.extend: {status: status for status in HANDLING},
    Step.refuse_extension: {status: status for status in HANDLING},
    Step.note: {status: status for status in Status},
}

SYSTEM_EVENTS = ("registered", "merged")
"""Timeline actions written by the inbox rather than by a command."""

ANNOUNCED = frozenset({"merged", Step.reassign.value, Step.extend.value})
"""Actions that keep the status but still reach every reporter: a joining reporter learns the
case's state; a reassignment changes the department and the deadline reporters see, an
extension the deadline."""


def next_status(step: Step, current: str) -> Status:
    """The status ``step`` leads to from ``current``; :class:`IllegalTransition` if it cannot."""
    target = TRANSITIONS[step].get(Status(current))
    if target is None:
        raise IllegalTransition(COMMAND[step], current, doing=DOING.get(step))
    return target


def verify_step(passed: bool) -> Step:
    return Step.verify if passed else Step.rework


def deadline(
    start: datetime,
    time_limit_hours: float | None,
    urgency: str,
    working_time: WorkingTime,
    *,
    share: float = 1.0,
) -> datetime:
    """When ``time_limit_hours`` from ``start`` run out (``share`` of them: the warning's)."""
    hours = (time_limit_hours or DEFAULT_TIME_LIMIT_HOURS) * share
    if urgency in ROUND_THE_CLOCK:
        return start + timedelta(hours=hours)
    return working_time.add(start, hours)


DUE_SOON_SHARE = 0.8
"""预警: a case is due soon (its light yellow) once 80 % of its time limit has run, counted as
the limit is, until the deadline (red: overdue)."""


def deadline_and_warning(
    start: datetime, time_limit_hours: float | None, urgency: str, working_time: WorkingTime
) -> tuple[datetime, datetime]:
    """The deadline of ``time_limit_hours`` from ``start``, and when the case falls due soon."""
    return (
        deadline(start, time_limit_hours, urgency, working_time),
        deadline(start, time_limit_hours, urgency, working_time, share=DUE_SOON_SHARE),
    )


def is_due_soon(status: str, warn_at: datetime | None, deadline_at: datetime | None, now: datetime) -> bool:
    return (
        warn_at is not None
        and deadline_at is not None
        and warn_at <= now <= deadline_at
        and status in HANDLING
    )


def is_overdue(status: str, deadline_at: datetime | None, now: datetime) -> bool:
    return deadline_at is not None and deadline_at < now and status in HANDLING


def feedback_given_since_close(closed_at: datetime | None, feedback_at: datetime | None) -> bool:
    """Feedback is taken once per close: a reopened and closed-again case takes it again."""
    return feedback_at is not None and closed_at is not None and feedback_at >= closed_at


def feedback_reopens(rating: int, closed_at: datetime, now: datetime, window_days: float) -> bool:
    """Unsatisfied feedback (rating ≤ 2) reopens the case only within the window after closing."""
    return rating <= 2 and now - closed_at <= timedelta(days=window_days)
