"""``wangge outbox``: the outboxes between the services as an operator reads them (status,
dead messages) and puts dead messages back. ``wangge/cli.py`` calls :func:`add_parser`."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url

from shared import outbox_admin
from shared.db import utcnow
from wangge import operations
from wangge.console import console_for

OUTBOX_DEAD_LIMIT = 20
"""Dead messages ``wangge outbox dead`` lists of each outbox unless told otherwise."""
BIGINT_MAX = 2**63 - 1
CHECK_DEAD_WITHIN_MINUTES = 15
"""``status --check``: a message that died this recently needs a look (the README's alert rule's window)."""
CHECK_BOUND_SECONDS = 30 * 86400
"""The longest ``--behind-after`` and ``--dead-within`` taken: 30 days."""


def name_databases(outboxes: list[str]) -> None:
    """Name, on standard error, the databases the outbox commands read: on the embedded default
    they are files under the directory the command runs in (or ``WANGGE_DATA_DIR``)."""
    services = dict.fromkeys(operations.OUTBOXES[name].service for name in outboxes)
    stderr = console_for(stderr=True)
    for service in services:
        url = make_url(operations.service_database(service)).render_as_string(hide_password=True)
        stderr.print(f"[dim]{service}'s database: {escape(url)}[/]", soft_wrap=True)


def duration(seconds: float) -> str:
    """``45 s``, ``12 min 05 s``, ``3 h 02 min``, ``4 d 06 h``: how long, at a glance."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def attention(
    outbox: operations.Outbox,
    backlog: outbox_admin.Backlog,
    *,
    now: datetime,
    behind_after: float | None,
    dead_within: timedelta,
) -> list[str]:
    """What ``--check`` finds wrong with an outbox, a line each: its oldest pending message has
    waited longer than ``behind_after`` seconds (None: the outbox's own bound), or a message
    died within ``dead_within``."""
    found = []
    bound = outbox.behind_after_seconds if behind_after is None else behind_after
    waited = backlog.oldest_pending_seconds(now)
    if backlog.pending and waited > bound:
        found.append(
            f"{outbox.name}: the oldest of {backlog.pending} pending messages has waited {duration(waited)} "
            f"(more than {_span(bound)}): is {outbox.service} running, and {outbox.receiver} taking them?"
        )
    if backlog.newest_dead_at is not None and now - backlog.newest_dead_at <= dead_within:
        found.append(
            f"{outbox.name}: a message died in the last {_span(dead_within.total_seconds())} "
            f"({backlog.dead} dead in all): `wangge outbox dead {outbox.name}` says why"
        )
    return found


def _span(seconds: float) -> str:
    """A bound as given: ``1 h``, ``15 min``, ``90 s``."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def cmd_outbox_status(args: argparse.Namespace, console: Console) -> int:
    names = args.outbox or list(operations.OUTBOXES)
    name_databases(names)
    read = operations.outbox_backlogs(names)
    now = utcnow()
    found = {
        outbox.name: attention(
            outbox,
            backlog,
            now=now,
            behind_after=args.behind_after,
            dead_within=timedelta(minutes=args.dead_within),
        )
        for outbox, backlog in read
        if args.check and not isinstance(backlog, Exception)
    }
    unread = any(isinstance(backlog, Exception) for _, backlog in read)
    code = 1 if unread or any(found.values()) else 0
    if args.json:
        print(
            json.dumps(
                [
                    {"outbox": outbox.name, "service": outbox.service, "error": str(backlog)}
                    if isinstance(backlog, Exception)
                    else {
                        "outbox": outbox.name,
                        "service": outbox.service,
                        "pending": backlog.pending,
                        "oldest_pending_at": _when(backlog.oldest_pending_at),
                        "oldest_pending_age_seconds": round(backlog.oldest_pending_seconds(now), 3),
                        "retrying": backlog.retrying,
                        "dead": backlog.dead,
                        "newest_dead_at": _when(backlog.newest_dead_at),
                    }
                    | ({"attention": found[outbox.name]} if args.check else {})
                    for outbox, backlog in read
                ],
                indent=2,
            )
        )
        return code
    carries = max(len(outbox.carries) for outbox, _ in read)
    row = f"{{:<8}}  {{:<{carries}}}  {{:>7}}  {{:>14}}  {{:>8}}  {{:>4}}"
    console.print(
        row.format("outbox", "carries", "pending", "oldest pending", "retrying", "dead"), soft_wrap=True
    )
    failed = dead = 0
    for outbox, backlog in read:
        if isinstance(backlog, Exception):
            failed += 1
            line = f"{outbox.name:<8}  {outbox.carries:<{carries}}  {backlog}"
            console.print(line, soft_wrap=True, markup=False, style="red")
            continue
        dead += backlog.dead
        oldest = duration(backlog.oldest_pending_seconds(now)) if backlog.pending else "-"
        line = row.format(
            outbox.name, outbox.carries, backlog.pending, oldest, backlog.retrying, backlog.dead
        )
        console.print(line, soft_wrap=True, markup=False)
    if dead:
        console.print(
            f"{dead} dead: `wangge outbox dead` lists them; once their cause is mended, "
            "`wangge outbox retry OUTBOX ID…` (or `--all`) puts them back",
            soft_wrap=True,
            markup=False,
        )
    for line in (line for lines in found.values() for line in lines):
        console.print(f"attention: {line}", soft_wrap=True, markup=False, style="red")
    return code


def cmd_outbox_dead(args: argparse.Namespace, console: Console) -> int:
    names = args.outbox or list(operations.OUTBOXES)
    name_databases(names)
    read = operations.dead_messages(names, limit=args.limit)
    failed = [(outbox, error) for outbox, error in read if isinstance(error, Exception)]
    found = [(outbox, dead) for outbox, dead in read if not isinstance(dead, Exception)]
    if args.json:
        answer = [{"outbox": outbox.name, "error": str(error)} for outbox, error in failed] + [
            {"outbox": outbox.name, "dead": total, "messages": [_dead_json(m) for m in messages]}
            for outbox, (total, messages) in found
        ]
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return 1 if failed else 0
    listed = [(outbox, m) for outbox, (_, messages) in found for m in messages]
    if listed:
        ids = max(len("id"), *(len(str(m.id)) for _, m in listed))
        topics = max(len("topic"), *(len(m.topic) for _, m in listed))
        keys = max(len("key"), *(len(m.key) for _, m in listed))
        row = f"{{:<8}}  {{:>{ids}}}  {{:<{topics}}}  {{:<{keys}}}  {{:>8}}  {{:<16}}  {{:<16}}  {{}}"
        header = ("outbox", "id", "topic", "key", "attempts", "written (UTC)", "dead (UTC)", "last error")
        console.print(row.format(*header), soft_wrap=True)
        for outbox, m in listed:
            why = " ".join((m.last_error or "").split())  # one line, whatever the peer answered
            written, died = m.created_at.strftime("%Y-%m-%d %H:%M"), m.dead_at.strftime("%Y-%m-%d %H:%M")
            line = row.format(outbox.name, m.id, m.topic, m.key, m.attempts, written, died, why)
            console.print(line, soft_wrap=True, markup=False)
    for outbox, (total, messages) in found:
        if total > len(messages):
            console.print(f"{outbox.name}: {total - len(messages)} more dead, not listed (--limit)")
    if not listed and not failed:
        console_for(stderr=True).print("no dead messages")
    for outbox, unreadable in failed:
        console.print(f"[red]{outbox.name}:[/] {escape(str(unreadable))}", soft_wrap=True)
    return 1 if failed else 0


def _dead_json(message: outbox_admin.DeadMessage) -> dict[str, object]:
    return {
        "id": message.id,
        "topic": message.topic,
        "key": message.key,
        "attempts": message.attempts,
        "created_at": _when(message.created_at),
        "dead_at": _when(message.dead_at),
        "last_error": message.last_error,
    }


def cmd_outbox_retry(args: argparse.Namespace, console: Console) -> int:
    if bool(args.ids) == args.all:
        console.print("[red]name the dead messages to put back (their ids), or give --all[/]")
        return 2
    name_databases([args.outbox])
    outbox = operations.OUTBOXES[args.outbox]
    try:
        done = operations.put_back(args.outbox, None if args.all else args.ids)
    except operations.OutboxUnreadable as exc:
        console.print(f"[red]nothing put back:[/] {escape(str(exc))}", soft_wrap=True)
        return 1
    if done.ids:
        count = len(done.ids)
        console.print(
            f"[green]✓[/] put back {count} dead {_plural('message', count)} of {outbox.name}: "
            f"{', '.join(str(i) for i in done.ids)}; {outbox.service}'s relay takes "
            f"{'it' if count == 1 else 'them'} at its next poll, while {outbox.service} runs",
            soft_wrap=True,
        )
    elif args.all:
        console.print(f"no dead messages in {outbox.name}")
    if done.not_dead:
        states = ", ".join(f"{i} ({state})" for i, state in done.not_dead.items())
        console.print(f"[red]not dead, left as they are:[/] {states}", soft_wrap=True)
        return 1
    return 0


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _plural(word: str, count: int) -> str:
    return word if count == 1 else f"{word}s"


def _message_id(value: str) -> int:
    """An outbox message's id as typed: a positive whole number a BIGINT holds."""
    if not value.isdigit() or not 0 < int(value) <= BIGINT_MAX:
        raise argparse.ArgumentTypeError(f"{value!r} is not a message id (a positive whole number)")
    return int(value)


def _outbox_name(value: str) -> str:
    """An outbox's name. A type, not ``choices``: argparse (3.11) checks the empty list of a
    ``nargs="*"`` positional given nothing against its choices, and refuses it."""
    if value not in operations.OUTBOXES:
        raise argparse.ArgumentTypeError(f"{value!r}: one of {', '.join(operations.OUTBOXES)}")
    return value


def _bound(unit: str, *, per_second: float, zero: bool) -> Callable[[str], float]:
    """An argparse type: a number of ``unit`` up to :data:`CHECK_BOUND_SECONDS` (0 too when ``zero``)."""
    most = CHECK_BOUND_SECONDS / per_second

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (number >= 0 if zero else number > 0) or not number <= most:
            raise argparse.ArgumentTypeError(
                f"{value!r}: give {unit}, {'0' if zero else 'more than 0'} to {most:.0f}"
            )
        return number

    return parse


_seconds = _bound("seconds", per_second=1, zero=True)
_minutes = _bound("minutes", per_second=60, zero=False)


def _dead_limit(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) <= outbox_admin.DEAD_LIST_MAX:
        raise argparse.ArgumentTypeError(f"{value!r}: give 1 to {outbox_admin.DEAD_LIST_MAX}")
    return int(value)


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    outbox = commands.add_parser(
        "outbox", help="the outboxes between the services: backlog, dead messages, putting them back"
    ).add_subparsers(dest="action", required=True)
    names = ", ".join(operations.OUTBOXES)
    status = outbox.add_parser(
        "status", help="each outbox's pending messages, the oldest one's age, those in retry, the dead"
    )
    status.add_argument(
        "outbox", nargs="*", type=_outbox_name, metavar="OUTBOX", help=f"only these of {names}"
    )
    status.add_argument("--json", action="store_true", help="as JSON, for a script")
    status.add_argument(
        "--check",
        action="store_true",
        help="for cron or a monitor: exit 1, saying why, when an outbox is behind (its oldest pending "
        "message waited longer than a minute; the webhooks' an hour) or a message died lately",
    )
    status.add_argument(
        "--behind-after",
        type=_seconds,
        metavar="SECONDS",
        help="with --check: how long the oldest pending message of any outbox may wait",
    )
    status.add_argument(
        "--dead-within",
        type=_minutes,
        default=CHECK_DEAD_WITHIN_MINUTES,
        metavar="MINUTES",
        help=f"with --check: a message that died this recently needs a look (default "
        f"{CHECK_DEAD_WITHIN_MINUTES}: run the check at least as often)",
    )
    status.set_defaults(run=cmd_outbox_status)
    dead = outbox.add_parser("dead", help="the dead messages (refused for good, or given up), latest first")
    dead.add_argument("outbox", nargs="*", type=_outbox_name, metavar="OUTBOX", help=f"only these of {names}")
    dead.add_argument(
        "--limit",
        type=_dead_limit,
        default=OUTBOX_DEAD_LIMIT,
        help=f"at most this many of each outbox (default {OUTBOX_DEAD_LIMIT}, "
        f"at most {outbox_admin.DEAD_LIST_MAX})",
    )
    dead.add_argument("--json", action="store_true", help="as JSON, for a script")
    dead.set_defaults(run=cmd_outbox_dead)
    retry = outbox.add_parser(
        "retry", help="put dead messages back to be delivered (safe while the services run)"
    )
    retry.add_argument("outbox", type=_outbox_name, metavar="OUTBOX", help=f"one of {names}")
    retry.add_argument("ids", nargs="*", type=_message_id, metavar="ID", help="the dead messages' ids")
    retry.add_argument("--all", action="store_true", help="every dead message of the outbox, without asking")
    retry.set_defaults(run=cmd_outbox_retry)
