"""``GET /v1/cases/map``: the console's cases as GeoJSON points, with the list's filters and scopes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.dispatch.cases import map as case_map
from shared.actors import Role
from shared.db import utcnow
from tests.dispatch import factories
from tests.dispatch.conftest import DISPATCHER, HANDLER, WORKER, WORKS_HANDLER, Dispatch
from tests.dispatch.fakes import FAR_CELL, FAR_COMMUNITY, MANHOLE, OTHER, OTHER_CELL
from tests.support.tokens import bearer

FAR = 0.002  # about 220 m: no two of the world's reports join one case
LAT, LON = factories.LAT, factories.LON
BOT = "integration:wechat-bot"
BOT_READER = bearer(BOT, Role.integration, scopes=["reports:read"], channel="wechat-bot")
OPEN = ["triage", "dispatched", "in_progress", "resolved"]
PROPERTIES = {
    "case_number",
    "status",
    "category_code",
    "category_name",
    "urgency",
    "department_code",
    "department_name",
    "overdue",
    "due_soon",
    "urge_count",
    "report_count",
    "created_at",
    "deadline_at",
}


async def mapped(dispatch: Dispatch, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = await dispatch.client.get("/v1/cases/map", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/geo+json"
    collection: dict[str, Any] = answer.json()
    assert collection["type"] == "FeatureCollection"
    return collection


async def listed(dispatch: Dispatch, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    answer = await dispatch.client.get("/v1/cases", params={"limit": 100, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["next_cursor"] is None
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def ids(collection: dict[str, Any]) -> set[int]:
    return {feature["id"] for feature in collection["features"]}


async def map_world(dispatch: Dispatch) -> dict[str, int]:
    """Eight cases, each at its own point, a step north (and some east) of the last: a closed
    and a rejected one, a stall due soon (the chat bot reported on it too, a little north), one
    overdue, two manholes (works, one in another community), a case in triage, an urged one."""
    reports = {
        "closed": factories.report(),
        "stall": factories.report(
            lat=LAT + FAR, lon=LON + FAR, address="镇海路 3 号", description="早市摊位"
        ),
        "late": factories.report(lat=LAT + 2 * FAR),
        "manhole": factories.report(category=MANHOLE, lat=LAT + 3 * FAR, description="井盖缺失"),
        "far": factories.report(
            category=MANHOLE,
            grid_cell=FAR_CELL,
            community=FAR_COMMUNITY,
            lat=LAT + 4 * FAR,
            lon=LON + 2 * FAR,
        ),
        "triage": factories.report(category=OTHER, grid_cell=OTHER_CELL, lat=LAT + 5 * FAR),
        "rejected": factories.report(category=OTHER, lat=LAT + 6 * FAR),
        "urged": factories.report(lat=LAT + 7 * FAR),
    }
    for payload in reports.values():
        await dispatch.deliver(payload)
    await dispatch.deliver(
        factories.report(lat=LAT + FAR + 0.0002, lon=LON + FAR, reporter_id=BOT, channel="wechat-bot")
    )
    cases = {name: (await dispatch.case_of(r["report_id"]))["id"] for name, r in reports.items()}
    await dispatch.ok(cases["closed"], "accept")
    await dispatch.ok(cases["closed"], "resolve", {"note": "已清理"})
    await dispatch.ok(cases["closed"], "verify", {"passed": True})
    await dispatch.ok(cases["rejected"], "reject", {"reason": "void"})
    await dispatch.ok(cases["urged"], "urge", {"note": "请今日内处置"})
    now = utcnow()
    await dispatch.set_case(cases["late"], deadline_at=now - timedelta(hours=1))
    await dispatch.set_case(
        cases["stall"], warn_at=now - timedelta(hours=1), deadline_at=now + timedelta(hours=1)
    )
    return cases


async def test_a_point_a_case_at_lon_lat_saying_what_the_list_says(dispatch: Dispatch) -> None:
    """Each feature is a case's point, `[lon, lat]` as RFC 7946 has it, its id the case's, and
    its properties what a map needs, each as the list's item has it."""
    cases = await map_world(dispatch)

    collection = await mapped(dispatch, DISPATCHER)

    assert (collection["truncated"], collection["total"]) == (False, 6)
    by_id = {feature["id"]: feature for feature in collection["features"]}
    stall = by_id[cases["stall"]]
    assert stall["type"] == "Feature"
    assert stall["geometry"] == {"type": "Point", "coordinates": [LON + FAR, LAT + FAR]}
    items = {item["id"]: item for item in await listed(dispatch, DISPATCHER)}
    for case_id, feature in by_id.items():
        assert set(feature["properties"]) == PROPERTIES
        item = items[case_id]
        assert feature["properties"] == {name: item[name] for name in PROPERTIES}, case_id
        assert feature["geometry"]["coordinates"] == [item["lon"], item["lat"]]
    assert stall["properties"]["report_count"] == 2 and stall["properties"]["due_soon"] is True
    late = by_id[cases["late"]]["properties"]
    assert (late["overdue"], late["due_soon"], late["department_code"]) == (True, False, "enforcement")
    assert by_id[cases["urged"]]["properties"]["urge_count"] == 1
    assert by_id[cases["triage"]]["properties"]["department_name"] is None


async def test_without_a_status_the_open_cases_with_one_those(dispatch: Dispatch) -> None:
    """Without `status`, what a map is for: the cases not closed nor rejected."""
    cases = await map_world(dispatch)

    assert ids(await mapped(dispatch, DISPATCHER)) == set(cases.values()) - {
        cases["closed"],
        cases["rejected"],
    }
    assert ids(await mapped(dispatch, DISPATCHER, status="closed")) == {cases["closed"]}
    both = await mapped(dispatch, DISPATCHER, status=["rejected", "triage"])
    assert ids(both) == {cases["rejected"], cases["triage"]}


async def test_the_most_pressing_come_first(dispatch: Dispatch) -> None:
    """The overdue, then the due soon, then the newest: what a map cut short keeps."""
    cases = await map_world(dispatch)

    order = [feature["id"] for feature in (await mapped(dispatch, DISPATCHER))["features"]]

    assert order[:2] == [cases["late"], cases["stall"]]
    assert order[2:] == [cases["urged"], cases["triage"], cases["far"], cases["manhole"]]


@pytest.mark.parametrize(
    "params",
    [
        {"department": "enforcement"},
        {"category": MANHOLE},
        {"grid_cell": OTHER_CELL},
        {"community": FAR_COMMUNITY},
        {"overdue": "true"},
        {"overdue": "false"},
        {"due_soon": "true"},
        {"urged": "true"},
        {"q": "井盖"},
        {"reporter": BOT},
        {"status": "closed", "department": "enforcement"},
    ],
)
async def test_the_lists_filters_select_the_same_cases(dispatch: Dispatch, params: dict[str, Any]) -> None:
    await map_world(dispatch)

    shown = ids(await mapped(dispatch, DISPATCHER, **params))

    expected = {item["id"] for item in await listed(dispatch, DISPATCHER, **{"status": OPEN, **params})}
    assert shown == expected and shown, params


async def test_the_view_holds_the_cases_inside_it_edges_included(dispatch: Dispatch) -> None:
    cases = await map_world(dispatch)

    # from the late case's latitude to the far manhole's, west of the far manhole's longitude
    view = f"{LON - 0.001},{LAT + 2 * FAR},{LON + 2 * FAR - 0.0001},{LAT + 4 * FAR}"
    assert ids(await mapped(dispatch, DISPATCHER, bbox=view)) == {cases["late"], cases["manhole"]}
    whole = f"{LON},{LAT},{LON + 2 * FAR},{LAT + 7 * FAR}"
    assert ids(await mapped(dispatch, DISPATCHER, bbox=whole)) == ids(await mapped(dispatch, DISPATCHER))
    far_away = await mapped(dispatch, DISPATCHER, bbox="116.3,39.9,116.4,40.0")  # Beijing
    assert far_away == {"type": "FeatureCollection", "features": [], "truncated": False, "total": 0}
    filtered = await mapped(dispatch, DISPATCHER, bbox=whole, department="works")
    assert ids(filtered) == {cases["manhole"], cases["far"]}


@pytest.mark.parametrize(
    ("bbox", "detail"),
    [
        ("118,24,119", "bbox is minlon,minlat,maxlon,maxlat: four numbers, not 3"),
        ("118,24,119,25,0", "bbox is minlon,minlat,maxlon,maxlat: four numbers, not 5"),
        ("118,abc,119,25", "bbox's minlat is not a number: 'abc'"),
        ("118,24,,25", "bbox's maxlon is not a number: ''"),
        ("118,24,inf,25", "bbox's maxlon is not a finite number: 'inf'"),
        ("nan,24,119,25", "bbox's minlon is not a finite number: 'nan'"),
        # float() reads these as 118.07 and 24: a view nobody wrote
        ("118.0_7,24,119,25", "bbox's minlon is not a number: '118.0_7'"),
        ("118,２４,119,25", "bbox's minlat is not a number: '２４'"),
        ("-181,24,119,25", "bbox's minlon -181 is outside -180..180"),
        ("118,24,119,90.5", "bbox's maxlat 90.5 is outside -90..90"),
        ("119,24,118,25", "bbox's minlon 119 is greater than its maxlon 118"),
        ("118,25,119,24.5", "bbox's minlat 25 is greater than its maxlat 24.5"),
    ],
)
async def test_a_bad_view_is_a_problem_naming_what_is_wrong(
    dispatch: Dispatch, bbox: str, detail: str
) -> None:
    answer = await dispatch.client.get("/v1/cases/map", params={"bbox": bbox}, headers=DISPATCHER)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == detail


async def test_bad_filters_are_the_lists_own_422(dispatch: Dispatch) -> None:
    for params in ({"status": "lost"}, {"department": "环卫站"}, {"overdue": "maybe"}, {"q": "x" * 201}):
        on_map = await dispatch.client.get("/v1/cases/map", params=params, headers=DISPATCHER)
        on_list = await dispatch.client.get("/v1/cases", params=params, headers=DISPATCHER)
        assert on_map.status_code == on_list.status_code == 422, params
        assert {**on_map.json(), "instance": None} == {**on_list.json(), "instance": None}, params
    assert (await dispatch.client.get("/v1/cases/map")).status_code == 401


READERS: list[tuple[str, dict[str, str]]] = [
    ("handler of enforcement", HANDLER),
    ("handler of works", WORKS_HANDLER),
    ("grid worker of CELL", WORKER),
    ("grid leader elsewhere", bearer("xu.min", Role.grid_leader, regions=[FAR_COMMUNITY])),
    ("handler without a department", bearer("du.qing", Role.handler)),
    ("the chat bot, a reporter only", BOT_READER),
]


async def test_each_reader_maps_the_open_cases_they_list_where_they_list_them(dispatch: Dispatch) -> None:
    """The list's scope: a handler their department's cases, a grid worker their cells' and
    those they reported on; a reader who sees a case only as its reporter sees it at their own
    report's point, as the list shows it to them."""
    cases = await map_world(dispatch)
    for who, headers in READERS:
        items = {item["id"]: item for item in await listed(dispatch, headers, status=OPEN)}
        collection = await mapped(dispatch, headers)
        assert ids(collection) == set(items), who
        for feature in collection["features"]:
            item = items[feature["id"]]
            assert feature["geometry"]["coordinates"] == [item["lon"], item["lat"]], who

    handler = await mapped(dispatch, HANDLER)
    assert ids(handler) == {cases["stall"], cases["late"], cases["urged"]}
    assert ids(await mapped(dispatch, HANDLER, department="works")) == set()  # a filter does not widen it
    (bots,) = (await mapped(dispatch, BOT_READER))["features"]
    assert bots["id"] == cases["stall"]
    assert bots["geometry"]["coordinates"] == [LON + FAR, LAT + FAR + 0.0002]  # its report's, not the case's
    inside = f"{LON},{LAT + FAR + 0.0001},{LON + FAR},{LAT + FAR + 0.0003}"  # around its point alone
    assert ids(await mapped(dispatch, BOT_READER, bbox=inside)) == {cases["stall"]}
    assert ids(await mapped(dispatch, DISPATCHER, bbox=inside)) == set()


async def test_past_the_bound_the_most_pressing_truncated_with_the_total(
    dispatch: Dispatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A map zoomed out still shows something: past the bound, the most pressing cases, and
    how many matched. (The bound is lowered to 2 here; it is 5,000.)"""
    assert case_map.MAX_FEATURES == 5_000
    cases = await map_world(dispatch)
    monkeypatch.setattr(case_map, "MAX_FEATURES", 2)

    collection = await mapped(dispatch, DISPATCHER)

    assert [f["id"] for f in collection["features"]] == [cases["late"], cases["stall"]]
    assert (collection["truncated"], collection["total"]) == (True, 6)
    exactly = await mapped(dispatch, DISPATCHER, department="works")
    assert (len(exactly["features"]), exactly["truncated"], exactly["total"]) == (2, False, 2)
