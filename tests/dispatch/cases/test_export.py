"""``GET /v1/cases?format=csv``: the console's list as a spreadsheet, every page of it."""

from __future__ import annotations

import csv
import io
import re
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.dispatch.cases import export, reading
from shared.actors import Role
from shared.db import utcnow
from tests.dispatch import factories
from tests.dispatch.conftest import DISPATCHER, HANDLER, SUPERVISOR, WORKER, WORKS_HANDLER, Dispatch
from tests.dispatch.fakes import CELL, FAR_CELL, FAR_COMMUNITY, MANHOLE, OTHER, OTHER_CELL, STALL
from tests.support.spreadsheet import rows_shown
from tests.support.tokens import bearer

FAR = 0.002
BOT = "integration:wechat-bot"


async def exported(dispatch: Dispatch, headers: dict[str, str], **params: Any) -> list[dict[str, str]]:
    answer = await dispatch.client.get("/v1/cases", params={**params, "format": "csv"}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8, not GBK
    return rows_shown(answer.content)


async def pages(dispatch: Dispatch, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """What the JSON list holds, page after page of two."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 2, **params, **({"cursor": cursor} if cursor else {})}
        answer = await dispatch.client.get("/v1/cases", params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if not cursor:
            return items


def same_case(row: dict[str, str], item: dict[str, Any]) -> None:
    """The row says what the list's item says, its times in office time (UTC+8) to the second."""
    for name in ("case_number", "status", "category_code", "category_name", "department_name", "grid_cell"):
        assert row[name] == (item[name] or ""), name
    for name in ("address", "description"):
        assert row[name] == item[name], name
    assert (int(row["id"]), int(row["report_count"])) == (item["id"], item["report_count"])
    assert row["overdue"] == str(item["overdue"]).lower()
    for name in ("reported_at", "created_at", "deadline_at", "closed_at"):
        if item[name] is None:
            assert row[name] == "", name
            continue
        at = datetime.fromisoformat(row[name])
        assert at.utcoffset() == timedelta(hours=8), name
        assert at == datetime.fromisoformat(item[name]).replace(microsecond=0), name


async def office_world(dispatch: Dispatch) -> dict[str, int]:
    """Seven cases: three stalls (enforcement; one closed, one overdue), two manholes (works),
    two in triage; the chat bot reported on the first stall too."""
    reports = {
        "closed": factories.report(address="中山路 88 号"),
        "stall": factories.report(lat=factories.LAT + FAR, address="镇海路 3 号", description="早市摊位占道"),
        "late": factories.report(lat=factories.LAT + 2 * FAR),
        "manhole": factories.report(category=MANHOLE, lat=factories.LAT + 3 * FAR, description="井盖缺失"),
        "manhole2": factories.report(
            category=MANHOLE, grid_cell=FAR_CELL, community=FAR_COMMUNITY, lat=factories.LAT + 4 * FAR
        ),
        "triage": factories.report(category=OTHER, grid_cell=OTHER_CELL, lat=factories.LAT + 5 * FAR),
        "triage2": factories.report(
            category=OTHER, grid_cell=FAR_CELL, community=FAR_COMMUNITY, lat=factories.LAT + 6 * FAR
        ),
    }
    bot = factories.report(
        lat=factories.LAT + 0.0002,
        reporter_id=BOT,
        channel="wechat-bot",
        description="群里说：路口有人占道",
        address="中山路 86 号对面",
    )
    for payload in reports.values():
        await dispatch.deliver(payload)
    await dispatch.deliver(bot)
    cases = {name: (await dispatch.case_of(r["report_id"]))["id"] for name, r in reports.items()}
    closed = cases["closed"]
    await dispatch.ok(closed, "accept", actor=HANDLER)
    await dispatch.ok(closed, "resolve", {"note": "已清理"}, actor=HANDLER)
    await dispatch.ok(closed, "verify", {"passed": True}, actor=WORKER)
    await dispatch.set_case(cases["late"], deadline_at=utcnow() - timedelta(hours=1))
    return cases


async def test_the_file_holds_every_page_of_the_list_in_its_order(dispatch: Dispatch) -> None:
    """The rows are the cases the JSON pages hold one after the other, not the first page, in
    the same order, with what each item says, for each filter and both sorts."""
    cases = await office_world(dispatch)
    listings: list[dict[str, Any]] = [
        {},
        {"status": ["dispatched", "closed"]},
        {"department": "enforcement"},
        {"category": MANHOLE},
        {"overdue": "true"},
        {"q": "中山路"},
        {"sort": "due"},
        {"limit": 1},  # the page size does not cut the file
    ]
    for params in listings:
        items = await pages(dispatch, DISPATCHER, **params)
        rows = await exported(dispatch, DISPATCHER, **params)
        assert [int(r["id"]) for r in rows] == [i["id"] for i in items], params
        for row, item in zip(rows, items, strict=True):
            same_case(row, item)
    everything = await exported(dispatch, DISPATCHER)
    assert len(everything) == len(cases) == 7
    by_id = {int(r["id"]): r for r in everything}
    closed = by_id[cases["closed"]]
    assert (closed["status"], closed["category_name"], closed["department_name"]) == (
        "closed",
        "占道经营",
        "执法中队",
    )
    assert closed["address"] == "中山路 88 号" and closed["description"] == "占道摆摊，影响行人通行"
    assert closed["report_count"] == "2" and closed["closed_at"].endswith("+08:00")
    assert by_id[cases["late"]]["overdue"] == "true" and by_id[cases["triage"]]["department_code"] == ""
    assert (await exported(dispatch, DISPATCHER, sort="due"))[0]["id"] == str(cases["late"])


async def test_the_file_is_an_attachment_named_for_when_it_was_taken(dispatch: Dispatch) -> None:
    await dispatch.new_case()
    answer = await dispatch.client.get("/v1/cases", params={"format": "csv"}, headers=SUPERVISOR)
    disposition = answer.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="cases-\d{4}-\d{2}-\d{2}-\d{4}\.csv"', disposition)
    header = answer.content.decode("utf-8-sig").split("\r\n")[0].split(",")
    assert header[:4] == ["case_number", "id", "status", "category_code"]
    assert {"department_name", "address", "deadline_at", "closed_at", "overdue", "report_count"} <= set(
        header
    )


async def test_the_file_is_written_off_the_event_loop(
    dispatch: Dispatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10,000 cases take a third of a second to write: on the event loop, dispatch would take
    no report and answer no dispatcher meanwhile."""
    writers: list[threading.Thread] = []

    def recorded(*args: Any) -> str:
        writers.append(threading.current_thread())
        return write(*args)

    write = export.cases_csv
    monkeypatch.setattr(export, "cases_csv", recorded)
    await dispatch.new_case()
    assert len(await exported(dispatch, DISPATCHER)) == 1
    assert writers and writers[0] is not threading.main_thread()


READERS: list[tuple[str, dict[str, str]]] = [
    ("handler of enforcement", HANDLER),
    ("handler of works", WORKS_HANDLER),
    ("grid worker of CELL", WORKER),
    ("grid leader elsewhere", bearer("xu.min", Role.grid_leader, regions=[FAR_COMMUNITY])),
    ("handler without a department", bearer("du.qing", Role.handler)),
    (
        "the chat bot, a reporter only",
        bearer(BOT, Role.integration, scopes=["reports:read"], channel="wechat-bot"),
    ),
]


async def test_each_reader_exports_exactly_the_cases_they_list(dispatch: Dispatch) -> None:
    """The file holds only the cases its reader may list, as they read them: a handler their
    department's, the bot the case it reported on, as it reported it."""
    cases = await office_world(dispatch)
    for who, headers in READERS:
        items = await pages(dispatch, headers)
        rows = await exported(dispatch, headers)
        assert [int(r["id"]) for r in rows] == [i["id"] for i in items], who
        for row, item in zip(rows, items, strict=True):
            same_case(row, item)

    handler = await exported(dispatch, HANDLER)
    assert {int(r["id"]) for r in handler} == {cases["closed"], cases["stall"], cases["late"]}
    assert {r["department_code"] for r in handler} == {"enforcement"}
    # a filter does not widen it: another department's cases are not the handler's to export
    assert await exported(dispatch, HANDLER, department="works") == []
    (bots,) = await exported(
        dispatch, bearer(BOT, Role.integration, scopes=["reports:read"], channel="wechat-bot")
    )
    assert (bots["description"], bots["address"]) == ("群里说：路口有人占道", "中山路 86 号对面")


async def test_a_list_longer_than_a_file_takes_is_refused_asking_for_narrower_filters(
    dispatch: Dispatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never a file cut short: past the bound, a problem saying to narrow the filters; at it,
    the file. (The bound is lowered to 2 here; it is 10,000.)"""
    assert reading.MAX_EXPORT_ROWS == 10_000
    monkeypatch.setattr(reading, "MAX_EXPORT_ROWS", 2)
    stalls = [(await dispatch.new_case(lat=factories.LAT + i * FAR))["id"] for i in range(2)]
    await dispatch.new_case(category=MANHOLE, lat=factories.LAT + 9 * FAR)

    answer = await dispatch.client.get("/v1/cases", params={"format": "csv"}, headers=DISPATCHER)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == (
        "the list holds more than 2 cases, the most one CSV file takes: narrow it with the filters "
        "(status, department, category, grid_cell, community, q …) and export each part"
    )
    rows = await exported(dispatch, DISPATCHER, department="enforcement")
    assert [int(r["id"]) for r in rows] == stalls[::-1]


@pytest.mark.parametrize(
    "value", ['=HYPERLINK("http://x.example","点我")', "+86 139", "-1+2", "@SUM(A1)", "\t=1", "\r=1"]
)
async def test_text_excel_would_run_as_a_formula_is_kept_as_text(dispatch: Dispatch, value: str) -> None:
    """An address or description is what a reporter typed, a name is free text in grid: one
    beginning with = + - @ (or a tab or carriage return before one) goes out behind an
    apostrophe, read as text (CSV injection). The JSON keeps it as it is."""
    case = (await dispatch.new_case())["id"]
    await dispatch.set_case(case, address=value, description=value + " 占道", department_name=value)

    (row,) = await exported(dispatch, DISPATCHER)

    assert (row["address"], row["description"], row["department_name"]) == (
        "'" + value,
        "'" + value + " 占道",
        "'" + value,
    )
    assert (await dispatch.read(case))["address"] == value


async def test_codes_of_digits_keep_their_zeros_and_digits_in_excel(dispatch: Dispatch) -> None:
    """Excel read the category 0101 as the number 101 and showed the cell 35020300100101 as
    3.50203E+13: a code of digits goes out as ="0101", which Excel shows as the text."""
    await dispatch.new_case()
    answer = await dispatch.client.get("/v1/cases", params={"format": "csv"}, headers=DISPATCHER)

    (row,) = csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"), newline=""))

    assert (row["category_code"], row["grid_cell"]) == (f'="{STALL}"', f'="{CELL}"')
    assert row["department_code"] == "enforcement"  # a code of letters is text already


@pytest.mark.parametrize(
    "params",
    [
        {"status": "lost"},
        {"department": "环卫站"},
        {"overdue": "maybe"},
        {"q": "x" * 201},
        {"order": "due"},
    ],
)
async def test_bad_input_is_the_lists_own_422(dispatch: Dispatch, params: dict[str, Any]) -> None:
    as_json = await dispatch.client.get("/v1/cases", params=params, headers=DISPATCHER)
    as_csv = await dispatch.client.get("/v1/cases", params={**params, "format": "csv"}, headers=DISPATCHER)
    assert (as_json.status_code, as_csv.status_code) == (422, 422)
    assert as_csv.headers["content-type"] == "application/problem+json"
    assert as_csv.json() == as_json.json()


async def test_a_cursor_or_another_format_is_refused(dispatch: Dispatch) -> None:
    """The file starts at the first case: a cursor (a later page's start) with it is a 422 saying
    so, not a file that leaves out the pages before."""
    for i in range(3):
        await dispatch.new_case(lat=factories.LAT + i * FAR)
    first = (await dispatch.client.get("/v1/cases", params={"limit": 1}, headers=DISPATCHER)).json()
    answer = await dispatch.client.get(
        "/v1/cases", params={"format": "csv", "cursor": first["next_cursor"]}, headers=DISPATCHER
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == "format=csv holds every page from the first: leave out the cursor"
    xlsx = await dispatch.client.get("/v1/cases", params={"format": "xlsx"}, headers=DISPATCHER)
    assert xlsx.status_code == 422
    unsigned = await dispatch.client.get("/v1/cases", params={"format": "csv"})
    assert unsigned.status_code == 401
