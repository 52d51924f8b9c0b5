"""Who sees which case: each role's list holds exactly its cases, and any other is a 404."""

from __future__ import annotations

from typing import Any

from shared.actors import Role
from tests.dispatch import factories
from tests.dispatch.conftest import ADMIN, DISPATCHER, HANDLER, SUPERVISOR, WORKER, WORKS_HANDLER, Dispatch
from tests.dispatch.fakes import CELL, COMMUNITY, FAR_CELL, FAR_COMMUNITY, MANHOLE, OTHER, OTHER_CELL
from tests.support.tokens import bearer

FAR = 0.002
BOT = "integration:wechat-bot"


async def world(dispatch: Dispatch) -> dict[str, int]:
    """Four cases in two communities:

    - ``a``: a stall in CELL → enforcement; reported by wang.fang and the chat bot;
    - ``b``: a manhole in another community → works; reported by chen.li;
    - ``c``: uncategorised (triage) in OTHER_CELL, wang.fang's community; reported by chen.li;
    - ``d``: uncategorised (triage) in the other community; reported by wang.fang.
    """
    reports = {
        "a": factories.report(),
        "b": factories.report(
            category=MANHOLE,
            grid_cell=FAR_CELL,
            community=FAR_COMMUNITY,
            lat=factories.LAT + FAR,
            reporter_id="chen.li",
        ),
        "c": factories.report(
            category=OTHER, grid_cell=OTHER_CELL, lat=factories.LAT + 2 * FAR, reporter_id="chen.li"
        ),
        "d": factories.report(
            category=OTHER, grid_cell=FAR_CELL, community=FAR_COMMUNITY, lat=factories.LAT + 3 * FAR
        ),
    }
    bot = factories.report(
        lat=factories.LAT + 0.0002,
        reporter_id=BOT,
        channel="wechat-bot",
        description="群里说：路口有人占道",
        address="中山路 86 号对面",
    )
    await dispatch.deliver(*reports.values(), bot)
    return {name: (await dispatch.case_of(r["report_id"]))["id"] for name, r in reports.items()}


SEES: list[tuple[str, dict[str, str], set[str]]] = [
    ("dispatcher", DISPATCHER, {"a", "b", "c", "d"}),
    ("supervisor", SUPERVISOR, {"a", "b", "c", "d"}),
    ("admin", ADMIN, {"a", "b", "c", "d"}),
    ("grid worker of CELL, reporter of a and d", WORKER, {"a", "d"}),
    ("grid assistant of CELL", bearer("lin.na", Role.grid_assistant, regions=[CELL]), {"a"}),
    ("grid leader of the community", bearer("zheng.wei", Role.grid_leader, regions=[COMMUNITY]), {"a", "c"}),
    ("grid leader elsewhere", bearer("xu.min", Role.grid_leader, regions=[FAR_COMMUNITY]), {"b", "d"}),
    ("grid worker without cells", bearer("sun.li", Role.grid_worker), set()),
    ("a region code is not a pattern", bearer("he.jun", Role.grid_worker, regions=["3502030010010_"]), set()),
    ("handler of enforcement", HANDLER, {"a"}),
    ("handler of works", WORKS_HANDLER, {"b"}),
    ("handler without a department", bearer("du.qing", Role.handler), set()),
    ("integration", bearer(BOT, Role.integration, scopes=["reports:read"], channel="wechat-bot"), {"a"}),
]


async def listed(dispatch: Dispatch, headers: dict[str, str], **params: Any) -> set[int]:
    seen: list[int] = []
    cursor = None
    while True:
        query = {"limit": 1, **params, **({"cursor": cursor} if cursor else {})}
        response = await dispatch.client.get("/v1/cases", params=query, headers=headers)
        assert response.status_code == 200, response.text
        seen += [c["id"] for c in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return set(seen)


async def test_each_role_lists_and_reads_exactly_its_cases(dispatch: Dispatch) -> None:
    cases = await world(dispatch)
    for who, headers, names in SEES:
        mine = {cases[n] for n in names}
        assert await listed(dispatch, headers) == mine, who
        for name, case_id in cases.items():
            status = (await dispatch.client.get(f"/v1/cases/{case_id}", headers=headers)).status_code
            assert status == (200 if case_id in mine else 404), (who, name)


async def test_a_reader_who_is_only_a_reporter_reads_the_case_as_reported(dispatch: Dispatch) -> None:
    """The bot reached case ``a`` through its report, which joined wang.fang's: it read her
    report, her name on the timeline and her description as the case's."""
    cases = await world(dispatch)
    bot = bearer(BOT, Role.integration, scopes=["reports:read"], channel="wechat-bot")
    office = await dispatch.read(cases["a"])
    read = (await dispatch.client.get(f"/v1/cases/{cases['a']}", headers=bot)).json()
    (listed_item,) = (await dispatch.client.get("/v1/cases", headers=bot)).json()["items"]

    assert [r["reporter_id"] for r in office["reports"]] == ["wang.fang", BOT]
    assert [r["reporter_id"] for r in read["reports"]] == [BOT]
    for case in (read, listed_item):
        assert (case["description"], case["lat"], case["address"]) == (
            "群里说：路口有人占道",
            read["reports"][0]["lat"],
            "中山路 86 号对面",  # its own report's, not the opening report's
        )
        assert case["status"] == office["status"] and case["department_code"] == office["department_code"]
        assert case["reported_at"] == read["reports"][0]["seen_at"] != office["reported_at"]
    assert "wang.fang" not in str(read) and office["description"] not in str(read)
    assert [(e["action"], e["to_status"]) for e in read["timeline"]] == [
        (e["action"], e["to_status"]) for e in office["timeline"]
    ]
    assert [e["actor_id"] for e in read["timeline"]] == [
        e["actor_id"] if e["actor_id"] in (BOT, "system:router") else None for e in office["timeline"]
    ]
    # wang.fang works in the case's cell: she reads it whole, the bot's report included
    assert (await dispatch.client.get(f"/v1/cases/{cases['a']}", headers=WORKER)).json() == office


async def test_a_reporter_whose_older_case_joins_another_as_a_duplicate_reads_it_as_reported(
    dispatch: Dispatch,
) -> None:
    """The bot's case, older than wang.fang's, rejected as its duplicate: its report, the first
    by id on hers, was taken for the one that opened it, and the bot read her description and
    address as the case's. The moved report joins the original when it is moved."""
    bot = bearer(BOT, Role.integration, scopes=["reports:read"], channel="wechat-bot")
    older = factories.report(reporter_id=BOT, description="群里说：路口有人占道", address="中山路 86 号对面")
    newer = factories.report(lat=factories.LAT + FAR, description="摊主张三又来了", address="中山路 90 号")
    await dispatch.deliver(older)
    await dispatch.deliver(newer)
    duplicate = await dispatch.case_of(older["report_id"])
    original = await dispatch.case_of(newer["report_id"])
    await dispatch.ok(duplicate["id"], "reject", {"reason": "duplicate", "duplicate_of": original["id"]})

    office = await dispatch.read(original["id"])
    assert [r["reporter_id"] for r in office["reports"]] == ["wang.fang", BOT]  # in joining order
    assert office["reports"][1]["joined_at"] > office["reports"][0]["joined_at"]
    read = (await dispatch.client.get(f"/v1/cases/{original['id']}", headers=bot)).json()
    (listed_item,) = (await dispatch.client.get("/v1/cases", headers=bot)).json()["items"]
    for case in (read, listed_item):
        assert (case["description"], case["address"]) == ("群里说：路口有人占道", "中山路 86 号对面")
        assert case["reported_at"] == read["reports"][0]["seen_at"]
    assert "张三" not in str(read) and "中山路 90 号" not in str(read)
    # wang.fang opened it: she reads it whole, as before
    assert (await dispatch.client.get(f"/v1/cases/{original['id']}", headers=WORKER)).json() == office


async def test_a_reporter_only_reader_learns_nothing_of_the_others_through_feedback_or_search(
    dispatch: Dispatch,
) -> None:
    """wang.fang's feedback comment reached the bot in the timeline (feedback and reopen notes),
    in the case's rating, and through intake (the reopening's note went to every reporter); a
    search narrowed a letter at a time spelled out her description, ``reporter=`` named her."""
    cases = await world(dispatch)
    a = cases["a"]
    bot = bearer(BOT, Role.integration, scopes=["reports:read"], channel="wechat-bot")
    await dispatch.ok(a, "accept", actor=HANDLER)
    await dispatch.ok(a, "resolve", {"note": "摊位已清理"}, actor=HANDLER)
    await dispatch.ok(a, "verify", {"passed": True, "note": "现场核实：摊主张三"}, actor=WORKER)
    await dispatch.ok(a, "feedback", {"rating": 1, "comment": "王芳：又摆出来了"}, actor=WORKER)
    # what intake shows every reporter: the handler's note, not the grid worker's
    notes = {m.payload["action"]: m.payload for m in await dispatch.outbox()}
    assert (notes["resolved"]["note"], notes["verified"]["note"]) == ("摊位已清理", None)
    # the grid worker's goes as her own, for intake to show on her reports only
    assert (notes["verified"]["author_id"], notes["verified"]["author_note"]) == (
        "wang.fang",
        "现场核实：摊主张三",
    )
    assert notes["resolved"]["author_note"] is None

    await dispatch.ok(a, "notes", {"note": "王芳：摊主电话 13912345678"}, actor=WORKER)
    read = (await dispatch.client.get(f"/v1/cases/{a}", headers=bot)).json()
    # (a whole phone number: "138" alone turned up in a timestamp's microseconds now and then)
    assert "又摆出来了" not in str(read) and "张三" not in str(read) and "13912345678" not in str(read)
    # her rating and her note are left out, not shown as rows with nothing in them
    office_actions = [e["action"] for e in (await dispatch.read(a))["timeline"]]
    assert "feedback" in office_actions and "note" in office_actions
    assert [e["action"] for e in read["timeline"]] == [
        action for action in office_actions if action not in ("feedback", "note")
    ]
    assert (read["status"], read["rating"], read["feedback_at"]) == ("dispatched", None, None)
    listed = (await dispatch.client.get("/v1/cases", headers=bot)).json()["items"]
    assert [(c["id"], c["rating"], c["feedback_comment"]) for c in listed] == [(a, None, None)]
    assert "摊位已清理" in str(read)  # the handler's note is the bot's to read
    reopened = (await dispatch.outbox())[-1].payload
    assert (reopened["action"], reopened["note"]) == ("reopened", None)

    office = await dispatch.read(a)
    searches = {"q": office["description"][:4], "reporter": "wang.fang"}
    for name, value in searches.items():
        found = (await dispatch.client.get("/v1/cases", params={name: value}, headers=bot)).json()
        assert found["items"] == [], name
    for name, value in {"q": "群里说", "reporter": BOT}.items():  # its own words and name find it
        found = (await dispatch.client.get("/v1/cases", params={name: value}, headers=bot)).json()
        assert [c["id"] for c in found["items"]] == [a], name


async def test_a_reporter_only_reader_reads_back_its_own_rating(dispatch: Dispatch) -> None:
    """A bot that rated the case read rating null, in the answer to its feedback, after, and in
    the case list: the reporter-only view left out every rating, its own too (the walkthrough's case)."""
    cases = await world(dispatch)
    a = cases["a"]
    bot = bearer(BOT, Role.integration, scopes=["reports:create", "reports:read"], channel="wechat-bot")
    await dispatch.ok(a, "accept", actor=HANDLER)
    await dispatch.ok(a, "resolve", {"note": "摊位已清理"}, actor=HANDLER)
    await dispatch.ok(a, "verify", {"passed": True}, actor=WORKER)

    etag = (await dispatch.client.get(f"/v1/cases/{a}", headers=bot)).headers["ETag"]
    rated = await dispatch.client.post(
        f"/v1/cases/{a}/feedback",
        json={"rating": 4, "comment": "处理及时"},
        headers={**bot, "If-Match": etag},
    )

    assert rated.status_code == 200, rated.text
    read = (await dispatch.client.get(f"/v1/cases/{a}", headers=bot)).json()
    [listed] = [
        c for c in (await dispatch.client.get("/v1/cases", headers=bot)).json()["items"] if c["id"] == a
    ]
    assert listed["rating"] == 4 and listed["feedback_comment"] == "处理及时"
    for seen in (rated.json(), read):
        assert (seen["rating"], seen["feedback_comment"]) == (4, "处理及时")
        assert seen["feedback_at"] is not None
        assert [e["action"] for e in seen["timeline"]][-1] == "feedback"


async def test_a_grid_worker_only_reporting_a_case_elsewhere_may_rate_it_not_work_it(
    dispatch: Dispatch,
) -> None:
    """Verifying closed such a case, and a note was taken, by one who could not read its reports."""
    cases = await world(dispatch)
    d = cases["d"]  # wang.fang reported it, in a cell outside hers
    for action, body in (("verify", {"passed": True}), ("notes", {"note": "路过看了一眼"})):
        refused = await dispatch.act(d, action, body, actor=WORKER)
        assert refused.status_code == 403, action


async def test_a_cell_does_not_hold_the_longer_cells_its_code_begins(dispatch: Dispatch) -> None:
    """Cell codes have 14 or 15 digits: wang.fang's 14-digit cell begins the code of another
    cell of her community, whose cases she read and acted on."""
    longer = CELL + "1"
    case = await dispatch.new_case(grid_cell=longer, lat=factories.LAT + 0.05, reporter_id="chen.li")
    assert case["grid_cell"] == longer

    assert (await dispatch.client.get(f"/v1/cases/{case['id']}", headers=WORKER)).status_code == 404
    assert await listed(dispatch, WORKER) == set()
    leader = bearer("zheng.wei", Role.grid_leader, regions=[COMMUNITY])
    assert await listed(dispatch, leader) == {case["id"]}
    assigned = bearer("lu.yan", Role.grid_worker, regions=[longer])
    assert await listed(dispatch, assigned) == {case["id"]}


async def test_filters_cannot_widen_the_scope(dispatch: Dispatch) -> None:
    cases = await world(dispatch)
    assert await listed(dispatch, HANDLER, department="works") == set()
    assert await listed(dispatch, WORKER, grid_cell=FAR_CELL) == {cases["d"]}
    assert await listed(dispatch, WORKER, reporter="chen.li") == set()
    assert await listed(dispatch, DISPATCHER, reporter="chen.li") == {cases["b"], cases["c"]}


async def test_a_services_token_reads_no_case(dispatch: Dispatch) -> None:
    await world(dispatch)
    service = bearer("service:intake", Role.service, scopes=["internal"])
    assert (await dispatch.client.get("/v1/cases", headers=service)).status_code == 403
