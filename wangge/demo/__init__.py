"""``wangge demo``: a working day in Zhonghua subdistrict, driven through the HTTP APIs.

Grid workers patrol their cells and report what they find with a photo (some of them the
same stall, minutes apart); the router dispatches what the catalog covers, dispatchers
triage the rest; handlers accept and resolve with a photo of the work done (now and then
returning a case to the wrong desk); grid workers verify on site (now and then sending it
back for rework); reporters rate; in the evening grid workers write their daily logs
(民情日志). Then a summary: reports, cases, merged duplicates, closed, photos, how fast reports
were dispatched, and the logs written.
"""

from __future__ import annotations

import random

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from wangge.demo.day import Day
from wangge.demo.summary import summary
from wangge.demo.world import Api, DemoConfig, load_world, plan_day

__all__ = ["DemoConfig", "run_demo"]


async def run_demo(config: DemoConfig, console: Console) -> int:
    rng = random.Random(config.seed)
    api = Api(config)
    try:
        try:
            world = await load_world(api, config.admin)
            plan = plan_day(world, config.reports, rng)
        except httpx.HTTPError as exc:
            console.print(
                f"[red]cannot reach wangge at {escape(_where(exc))} ({escape(str(exc))}): is `wangge up` "
                "running, and there? (--grid-url, --dispatch-url and --intake-url, or "
                "WANGGE_DEMO_<SVC>_URL, point the demo elsewhere)[/]",
                soft_wrap=True,
            )
            return 1
        except RuntimeError as exc:  # grid answered, but not as the demo needs: say what it said
            console.print(f"[red]cannot run the demo:[/] {escape(str(exc))}", soft_wrap=True)
            return 1
        day = Day(api, world, rng)
        columns = (
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        try:
            with Progress(*columns, console=console) as progress:
                await day.file_reports(plan, progress)
                await day.wait_for_cases(plan, progress)
                await day.triage(progress)
                await day.handle_and_verify(progress)
                await day.rate(plan, progress)
                await day.write_logs(plan, progress)
            console.print(await summary(api, plan, world, day))
        except httpx.HTTPError as exc:
            console.print(
                f"[red]the demo lost wangge mid-day ({escape(str(exc))}); is `wangge up` still running?[/]"
            )
            return 1
        except RuntimeError as exc:  # a service answered, but not as the day needs: say what it said
            console.print(f"[red]the demo stopped mid-day:[/] {escape(str(exc))}", soft_wrap=True)
            return 1
        return 0
    finally:
        await api.aclose()


def _where(exc: httpx.HTTPError) -> str:
    """The service the request that failed went to (its URL without the path), or "?"."""
    try:
        url = exc.request.url
    except RuntimeError:  # an error raised without its request
        return "?"
    return str(url.copy_with(path="/", query=None, fragment=None)).rstrip("/")
