"""Open311 GeoReport v2: an Open311 client lists the services, files a request and follows it."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from services.intake.models import Report
from services.intake.open311.errors import XML_NOT_SERVED
from shared.actors import Actor, Role
from shared.db import session_scope
from tests.support.tokens import bearer
from wangge.cli import build_parser

from ..conftest import DISPATCH, Intake, StartIntake
from ..factories import status_changed
from ..fakes import CELL_A1, POINT_IN_A1, FakeDispatch, FakeGrid

BASE = "/open311/v2"
BOT = bearer(
    "integration:k1", Role.integration, scopes=["reports:create", "reports:read"], channel="open311-app"
)
OTHER_BOT = bearer("integration:k2", Role.integration, scopes=["reports:create", "reports:read"], channel="x")
DISPATCHER = bearer("zhao.min", Role.dispatcher)
LAT, LON = POINT_IN_A1


async def file(intake: Intake, caller: dict[str, str] = BOT, **fields: Any) -> httpx.Response:
    form = {"service_code": "0501", "lat": str(LAT), "long": str(LON), **fields}
    return await intake.client.post(f"{BASE}/requests.json", data=form, headers=caller)


async def test_the_services_are_the_catalog(intake: Intake) -> None:
    answer = await intake.client.get(f"{BASE}/services.json", headers=BOT)

    assert answer.status_code == 200
    assert answer.json() == [
        {
            "service_code": "0101",
            "service_name": "暴露垃圾",
            "description": "Exposed rubbish",
            "metadata": False,
            "type": "realtime",
            "keywords": "City appearance, Exposed rubbish",
            "group": "市容环境",
        },
        {
            "service_code": "0501",
            "service_name": "占道经营",
            "description": "Street stall blocking the road",
            "metadata": False,
            "type": "realtime",
            "keywords": "Street order, Street stall blocking the road",
            "group": "街面秩序",
        },
    ]
    definition = await intake.client.get(f"{BASE}/services/0501.json", headers=BOT)
    assert definition.json() == {"service_code": "0501", "attributes": []}
    unknown = await intake.client.get(f"{BASE}/services/0999.json", headers=BOT)
    assert unknown.status_code == 404
    assert unknown.json() == [{"code": 404, "description": "no service 0999"}]


async def test_the_catalog_is_asked_of_grid_once_in_a_while_and_kept_while_grid_is_down(
    intake: Intake,
) -> None:
    await intake.client.get(f"{BASE}/services.json", headers=BOT)
    await intake.client.get(f"{BASE}/services.json", headers=BOT)
    # one fetch: the catalog's two pages and the retired categories' one; the second listing
    # from the copy
    assert intake.grid.catalog_calls == 3

    intake.app.state.open311._fetched -= 3600  # the copy is old
    intake.grid.down = True
    answer = await intake.client.get(f"{BASE}/services.json", headers=BOT)

    assert answer.status_code == 200 and len(answer.json()) == 2


async def test_without_grid_ever_the_services_are_a_503_but_a_request_is_still_filed(
    start_intake: StartIntake,
) -> None:
    grid = FakeGrid()
    async with start_intake(grid, FakeDispatch()) as intake:
        await intake.app.state.territory.refresh()
        grid.down = True
        services = await intake.client.get(f"{BASE}/services.json", headers=BOT)
        filed = await file(intake, service_code="0777")

    assert services.status_code == 503
    assert services.json()[0]["code"] == 503
    assert filed.status_code == 201, filed.text


async def test_a_request_is_a_report_and_is_followed_to_its_close(intake: Intake) -> None:
    filed = await file(intake, description="中山路口水果摊占道", address_string="中山路 12 号")

    assert filed.status_code == 201, filed.text
    [created] = filed.json()
    request_id = created["service_request_id"]
    assert filed.headers["Location"] == f"{BASE}/requests/{request_id}.json"
    assert created["service_notice"] == "received"
    # the same report the app would have filed, from the integration's channel
    report = (await intake.client.get(f"/v1/reports/{request_id}", headers=BOT)).json()
    assert (report["category"], report["description"], report["channel"]) == (
        "0501",
        "中山路口水果摊占道",
        "open311-app",
    )
    assert report["grid_cell"] == CELL_A1
    assert len(await intake.outbox()) == 1  # on its way to dispatch

    [seen] = (await intake.client.get(f"{BASE}/requests/{request_id}.json", headers=BOT)).json()
    assert seen["status"] == "open" and seen["service_name"] == "占道经营"
    assert (seen["lat"], seen["long"], seen["address"]) == (LAT, LON, "中山路 12 号")
    assert seen["agency_responsible"] is None and seen["status_notes"] is None

    await _hear(intake, request_id, event_id=1, status="dispatched", note=None)
    await _hear(intake, request_id, event_id=5, status="closed", action="close", note="摊贩已劝离")
    [closed] = (await intake.client.get(f"{BASE}/requests/{request_id}.json", headers=BOT)).json()

    assert closed["status"] == "closed"
    assert closed["status_notes"] == "摊贩已劝离"
    assert closed["agency_responsible"] == "综合执法中队"
    assert closed["service_notice"] == "closed WG20261206-0007"
    assert closed["expected_datetime"] is not None


async def _hear(intake: Intake, report_id: str, **event: Any) -> None:
    message = status_changed(
        [report_id],
        department_code="law-enforcement",
        department_name="综合执法中队",
        case_number="WG20261206-0007",
        deadline_at="2026-12-06T12:00:00Z",
        **event,
    )
    answer = await intake.client.post("/internal/v1/inbox", json={"messages": [message]}, headers=DISPATCH)
    assert answer.status_code == 200, answer.text


async def test_the_request_list_is_the_callers_own_by_status_service_and_id(intake: Intake) -> None:
    first = (await file(intake)).json()[0]["service_request_id"]
    second = (await file(intake, service_code="0101")).json()[0]["service_request_id"]
    await file(intake, OTHER_BOT)
    await _hear(intake, first, event_id=9, status="rejected", action="reject", note="重复上报")

    def listed(**params: str) -> Any:
        return intake.client.get(f"{BASE}/requests.json", params=params, headers=BOT)

    everything = (await listed()).json()
    assert [r["service_request_id"] for r in everything] == [second, first]  # newest first, only its own
    assert [r["service_request_id"] for r in (await listed(status="open")).json()] == [second]
    assert [r["service_request_id"] for r in (await listed(status="closed")).json()] == [first]
    assert len((await listed(status="open,closed")).json()) == 2
    assert [r["service_request_id"] for r in (await listed(service_code="0101")).json()] == [second]
    assert [r["service_request_id"] for r in (await listed(service_request_id=f" {first} ")).json()] == [
        first
    ]
    assert (await listed(start_date="2099-01-01T00:00:00Z")).json() == []
    assert len((await listed(end_date="2099-01-01T00:00:00Z")).json()) == 2
    # W3C's dates as clients write them: without seconds, and with a "+" left unencoded (a space)
    assert len((await listed(start_date="2026-01-01T08:00+08:00")).json()) == 2
    unencoded = await intake.client.get(
        f"{BASE}/requests.json?start_date=2099-01-01T08:00:00+08:00&end_date=2099-12-31T08:00+08:00",
        headers=BOT,
    )
    assert unencoded.status_code == 200 and unencoded.json() == []
    other = await intake.client.get(f"{BASE}/requests/{first}.json", headers=OTHER_BOT)
    assert other.status_code == 404
    assert other.json() == [{"code": 404, "description": f"no report {first}"}]
    assert (await intake.client.get(f"{BASE}/requests/{first}.json", headers=DISPATCHER)).status_code == 200


async def test_a_retry_with_its_idempotency_key_is_the_same_request(intake: Intake) -> None:
    first = await file(intake, description="井盖缺失", **{})
    key = {"Idempotency-Key": "bot-message-42"}
    keyed = await intake.client.post(
        f"{BASE}/requests.json",
        data={"service_code": "0101", "lat": str(LAT), "long": str(LON)},
        headers={**BOT, **key},
    )
    again = await intake.client.post(
        f"{BASE}/requests.json",
        data={"service_code": "0101", "lat": str(LAT), "long": str(LON)},
        headers={**BOT, **key},
    )
    changed = await intake.client.post(
        f"{BASE}/requests.json",
        data={"service_code": "0501", "lat": str(LAT), "long": str(LON)},
        headers={**BOT, **key},
    )

    assert first.status_code == keyed.status_code == 201
    assert again.status_code == 201 and again.json() == keyed.json()
    assert changed.status_code == 400  # Open311 has no 422
    assert "Idempotency-Key was already used" in changed.json()[0]["description"]
    assert await intake.report_count() == 2


async def test_a_request_without_a_description_is_named_for_its_service_and_keeps_its_photo(
    intake: Intake,
) -> None:
    filed = await file(
        intake, media_url="https://files.example.org/p/7.jpg", email="li@example.org", first_name="李"
    )

    [request] = (
        await intake.client.get(f"{BASE}/requests/{filed.json()[0]['service_request_id']}.json", headers=BOT)
    ).json()

    assert request["description"] == "占道经营"
    assert request["media_url"] == "https://files.example.org/p/7.jpg"


async def test_what_open311_cannot_take_is_a_400_in_its_own_form(intake: Intake) -> None:
    cases: list[tuple[dict[str, str], str]] = [
        ({"service_code": "", "lat": str(LAT), "long": str(LON)}, "service_code is required"),
        ({"service_code": "0999", "lat": str(LAT), "long": str(LON)}, "service_code 0999 is no service"),
        (  # a code of a whole form's length is not echoed whole
            {"service_code": "9" * 100_000, "lat": str(LAT), "long": str(LON)},
            f"service_code {'9' * 64}… is no service",
        ),
        ({"service_code": "0501", "address_string": "中山路 12 号"}, "lat and long are required"),
        ({"service_code": "0501", "lat": "north", "long": str(LON)}, "lat must be a number"),
        ({"service_code": "0501", "lat": "nan", "long": str(LON)}, "lat must be a finite number"),
        (
            {"service_code": "0501", "lat": "91", "long": str(LON)},
            "lat: Input should be less than or equal to 90",
        ),
        (
            {"service_code": "0501", "lat": str(LAT), "long": str(LON), "media_url": "javascript:alert(1)"},
            "media_url",
        ),
        (
            {"service_code": "0501", "lat": str(LAT), "long": str(LON), "description": "x" * 2001},
            "description",
        ),
        (
            {"service_code": "0501", "lat": str(LAT), "long": str(LON), "attribute[WHISPER]": "y"},
            "no service has attributes",
        ),
        (
            {"service_code": "0501", "lat": str(LAT), "long": str(LON), "status": "closed"},
            "status is no field",
        ),
    ]
    for form, reason in cases:
        answer = await intake.client.post(f"{BASE}/requests.json", data=form, headers=BOT)
        assert answer.status_code == 400, (form, answer.text)
        assert answer.headers["content-type"] == "application/json"
        [error] = answer.json()
        assert error["code"] == 400 and reason in error["description"], (form, error)
        assert len(error["description"]) < 300
    nul = await file(intake, description="井盖\x00缺失")
    assert nul.status_code == 400
    assert nul.json()[0]["description"].startswith("description ")  # not ": Value error, …"
    twice = await intake.client.post(
        f"{BASE}/requests.json",
        content=f"service_code=0501&lat={LAT}&lat={LAT}&long={LON}",
        headers={**BOT, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.json() == [{"code": 400, "description": "lat is given twice"}]
    as_json = await intake.client.post(f"{BASE}/requests.json", json={"service_code": "0501"}, headers=BOT)
    assert as_json.status_code == 415 and as_json.json()[0]["code"] == 415
    unauthenticated = await intake.client.get(f"{BASE}/services.json", headers={"Authorization": ""})
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["WWW-Authenticate"] == "Bearer"
    assert unauthenticated.json()[0]["code"] == 401
    bad_query = await intake.client.get(f"{BASE}/requests.json", params={"status": "pending"}, headers=BOT)
    assert bad_query.json() == [{"code": 400, "description": "status is open, closed, or both (open,closed)"}]
    unknown_query = await intake.client.get(f"{BASE}/requests.json", params={"page": "2"}, headers=BOT)
    assert unknown_query.status_code == 400 and unknown_query.json()[0]["code"] == 400
    assert "page" in unknown_query.json()[0]["description"]
    out_of_range = await intake.client.get(
        f"{BASE}/requests.json", params={"start_date": "yesterday"}, headers=BOT
    )
    assert out_of_range.status_code == 400 and "start_date" in out_of_range.json()[0]["description"]
    # what every Open311 client may send in its query is taken
    fine = await intake.client.get(
        f"{BASE}/services.json", params={"jurisdiction_id": "xm", "api_key": "k"}, headers=BOT
    )
    assert fine.status_code == 200
    assert await intake.report_count() == 0


async def test_a_coordinate_python_reads_but_no_decimal_number_is_a_400(intake: Intake) -> None:
    """``float()`` reads ``2_4.455`` as 24.455 and takes other scripts' digits: a typo, or a
    client's bad encoding, was filed at a point nobody wrote. As in a JSON body, a coordinate is
    a decimal number in ASCII digits."""
    for lat in ("2_4.455", "24.4_55", "２４.４５５", "٢٤.٤٥٥"):
        answer = await file(intake, lat=lat)
        assert answer.status_code == 400, (lat, answer.text)
        reason = f"lat must be a number of decimal degrees, not {lat!r}"
        assert answer.json() == [{"code": 400, "description": reason}]
    assert await intake.report_count() == 0
    for lat, read in (
        (f" {LAT} ", LAT),
        ("+24.455", 24.455),
        ("24.", 24.0),
        (".5", 0.5),
        ("2.4455e1", 24.455),
    ):
        taken = await file(intake, lat=lat)
        assert taken.status_code == 201, (lat, taken.text)
        [created] = taken.json()
        path = f"{BASE}/requests/{created['service_request_id']}.json"
        [seen] = (await intake.client.get(path, headers=BOT)).json()
        assert seen["lat"] == read


async def test_the_rest_of_the_api_keeps_its_problems(intake: Intake) -> None:
    answer = await intake.client.get("/v1/reports/not-an-id")

    assert answer.headers["content-type"] == "application/problem+json"


async def test_openapi_documents_open311_errors_in_their_form(intake: Intake) -> None:
    schema = (await intake.client.get("/openapi.json")).json()

    post = schema["paths"][f"{BASE}/requests.json"]["post"]
    assert "application/x-www-form-urlencoded" in post["requestBody"]["content"]
    assert post["responses"]["400"]["content"] == {
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Open311Error"}}
        }
    }
    assert "422" not in post["responses"]  # answered 400, as GeoReport v2 does
    assert post["responses"]["415"]["content"] == post["responses"]["400"]["content"]
    assert "application/problem+json" in schema["paths"]["/v1/reports"]["post"]["responses"]["422"]["content"]


async def test_the_request_list_takes_several_services_comma_delimited(intake: Intake) -> None:
    stall = (await file(intake)).json()[0]["service_request_id"]
    rubbish = (await file(intake, service_code="0101")).json()[0]["service_request_id"]

    def listed(codes: str) -> Any:
        return intake.client.get(f"{BASE}/requests.json", params={"service_code": codes}, headers=BOT)

    both = await listed("0101,0501")
    assert both.status_code == 200, both.text
    assert [r["service_request_id"] for r in both.json()] == [rubbish, stall]
    assert [r["service_request_id"] for r in (await listed(" 0501 , 0999")).json()] == [stall]
    bad = await listed("0101,rubbish")
    assert bad.status_code == 400
    assert bad.json() == [
        {"code": 400, "description": "service_code holds codes of services, comma-separated"}
    ]


async def test_requests_named_by_id_are_listed_whatever_the_other_filters_say(intake: Intake) -> None:
    request_id = (await file(intake)).json()[0]["service_request_id"]

    # GeoReport v2: service_request_id "overrides all other arguments"
    answer = await intake.client.get(
        f"{BASE}/requests.json",
        params={
            "service_request_id": request_id,
            "service_code": "0101",
            "status": "closed",
            "start_date": "2099-01-01T00:00:00Z",
        },
        headers=BOT,
    )

    assert answer.status_code == 200, answer.text
    assert [r["service_request_id"] for r in answer.json()] == [request_id]


async def test_the_xml_form_is_a_404_that_says_to_ask_for_json(intake: Intake) -> None:
    """It said 'Not Found', as if there were no GeoReport v2 endpoint here."""
    assert XML_NOT_SERVED.startswith("GeoReport v2 is served here as JSON only")
    for path in ("services.xml", "requests.xml", "requests/0b6f2c3e-8d2a-4a43-9d57-0e6f1c7c1a01.xml"):
        answer = await intake.client.get(f"{BASE}/{path}", headers=BOT)

        assert answer.status_code == 404, path
        assert answer.json() == [{"code": 404, "description": XML_NOT_SERVED}]
    unknown = await intake.client.get(f"{BASE}/nothing.json", headers=BOT)
    assert unknown.json() == [{"code": 404, "description": "Not Found"}]


async def test_a_period_that_ends_before_it_starts_is_a_400(intake: Intake) -> None:
    """start_date and end_date swapped answered an empty list, read as 'no requests'."""
    request_id = (await file(intake)).json()[0]["service_request_id"]
    swapped = {"start_date": "2026-12-06T08:00+08:00", "end_date": "2026-12-01T00:00:00Z"}

    answer = await intake.client.get(f"{BASE}/requests.json", params=swapped, headers=BOT)

    assert answer.status_code == 400, answer.text
    assert answer.json() == [
        {
            "code": 400,
            "description": "end_date comes before start_date: the period runs from start_date to end_date",
        }
    ]
    # named by id, the period does not apply (GeoReport v2), swapped or not
    named = await intake.client.get(
        f"{BASE}/requests.json", params={**swapped, "service_request_id": request_id}, headers=BOT
    )
    assert [r["service_request_id"] for r in named.json()] == [request_id]


async def test_while_grid_is_down_it_is_not_asked_again_for_every_request(intake: Intake) -> None:
    for _ in range(5):
        assert (await file(intake, description="路灯不亮")).status_code == 201
    intake.app.state.open311._fetched -= 3600  # the copy is old, and grid went down
    intake.grid.down = True
    before = intake.grid.calls

    listed = await intake.client.get(f"{BASE}/requests.json", headers=BOT)
    filed = await file(intake)

    assert listed.status_code == 200 and len(listed.json()) == 5
    assert {r["service_name"] for r in listed.json()} == {"占道经营"}  # from the copy it kept
    assert filed.status_code == 201
    assert intake.grid.calls - before == 1  # one try; the next ones wait a while


async def test_a_retry_says_it_is_one_as_the_apps_does_and_the_openapi_says_what_it_gets(
    intake: Intake,
) -> None:
    key = {"Idempotency-Key": "hotline-call-7"}
    first = await file(intake, caller={**BOT, **key})
    again = await file(intake, caller={**BOT, **key})

    assert (first.status_code, again.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    schema = (await intake.client.get("/openapi.json")).json()
    assert set(schema["paths"][f"{BASE}/requests.json"]["post"]["responses"]) & {"200", "201"} == {"201"}


async def test_a_form_is_read_as_form_encoders_write_it_and_its_text_is_never_mangled(intake: Intake) -> None:
    form = {**BOT, "Content-Type": "application/x-www-form-urlencoded"}
    point = f"lat={LAT}&long={LON}"

    trailing = await intake.client.post(
        f"{BASE}/requests.json", content=f"service_code=0501&{point}&description=%E6%91%8A&", headers=form
    )
    doubled = await intake.client.post(
        f"{BASE}/requests.json", content=f"service_code=0501&&{point}", headers=form
    )
    broken = await intake.client.post(
        f"{BASE}/requests.json", content=f"service_code=0501&{point}&description=%E6%91", headers=form
    )

    assert trailing.status_code == 201, trailing.text
    assert doubled.status_code == 201, doubled.text
    [seen] = (await intake.client.get(trailing.headers["Location"], headers=BOT)).json()
    assert seen["description"] == "摊"
    assert broken.status_code == 400  # not kept with U+FFFD where the text was
    assert broken.json() == [
        {"code": 400, "description": "the body is not a UTF-8 application/x-www-form-urlencoded form"}
    ]
    assert await intake.report_count() == 2


async def test_a_form_of_more_pieces_than_a_request_has_is_a_400_before_it_is_parsed(intake: Intake) -> None:
    """1 MiB of empty fields (``a=&a=&…``) took 0.3 s of the event loop to parse, the guard's
    look for an api_key included, before any token was checked: a request has 15 fields."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    bloated = f"service_code=0501&lat={LAT}&long={LON}&" + "a=&" * 100_000
    reason = [{"code": 400, "description": "a service request's form has at most 100 &-separated pieces"}]

    for caller in ({"Authorization": ""}, BOT):
        answer = await intake.client.post(
            f"{BASE}/requests.json", content=bloated, headers={**form, **caller}
        )
        assert (answer.status_code, answer.json()) == (400, reason)
    doubled = f"service_code=0501&&lat={LAT}&&long={LON}&&" + "&" * 80
    assert (
        await intake.client.post(f"{BASE}/requests.json", content=doubled, headers={**form, **BOT})
    ).status_code == 201
    assert await intake.report_count() == 1


async def test_grid_refusing_intake_the_catalog_is_not_the_callers_401_or_403(
    start_intake: StartIntake,
) -> None:
    grid = FakeGrid()
    async with start_intake(grid, FakeDispatch()) as intake:
        await intake.app.state.territory.refresh()
        for status in (401, 403):
            grid.catalog_refused = status
            intake.app.state.open311._failed -= 3600  # grid may be asked again
            services = await intake.client.get(f"{BASE}/services.json", headers=BOT)
            filed = await file(intake)

            assert services.status_code == 503, services.text
            assert "WWW-Authenticate" not in services.headers
            assert filed.status_code == 201, filed.text  # a report is never refused for grid


async def test_head_of_an_open311_error_has_its_gets_headers_and_no_body(intake: Intake) -> None:
    path = f"{BASE}/services/0999.json"
    got = await intake.client.get(path, headers=BOT)
    head = await intake.client.head(path, headers=BOT)

    assert (got.status_code, head.status_code) == (404, 404)
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))


async def test_a_client_discovers_the_endpoint_before_it_has_a_key(intake: Intake) -> None:
    answer = await intake.client.get("/open311/discovery.json", headers={"Authorization": ""})

    assert answer.status_code == 200
    [endpoint] = answer.json()["endpoints"]
    assert endpoint["url"] == "http://intake/open311/v2"
    assert (endpoint["specification"], endpoint["formats"]) == (
        "http://wiki.open311.org/GeoReport_v2",
        ["application/json"],
    )
    services = await intake.client.get(
        endpoint["url"].removeprefix("http://intake") + "/services.json", headers=BOT
    )
    assert services.status_code == 200
    # the command it names for a key is one wangge takes (it lacked the required --name, --channel)
    command = answer.json()["key_service"].split(": ", 1)[1].split(" (", 1)[0]
    filled = command.replace("<the client>", "12345热线").split()
    assert filled[0] == "wangge"
    parsed = build_parser().parse_args(filled[1:])
    assert (parsed.channel, parsed.scope) == ("open311", ["reports:create", "reports:read"])


KEY = "k1.s3cr3t-of-the-hotline"
HOTLINE = Actor(
    id="integration:k1", role=Role.integration, scopes=["reports:create", "reports:read"], channel="12345"
)


async def test_a_client_that_knows_only_its_api_key_files_and_follows_its_requests(intake: Intake) -> None:
    """GeoReport v2 clients send the key as `api_key` (a POST's form, a GET's query), with no
    Authorization header: intake signs in with it at grid, once for many requests."""
    intake.grid.api_keys[KEY] = HOTLINE
    del intake.client.headers["Authorization"]  # the client sends no token of its own
    before = intake.grid.token_calls

    filed = await file(intake, caller={}, api_key=KEY, description="市民来电：垃圾堆积")
    again = await file(intake, caller={}, api_key=KEY, description="市民来电：摊贩占道")
    request_id = filed.json()[0]["service_request_id"]
    followed = await intake.client.get(f"{BASE}/requests/{request_id}.json", params={"api_key": KEY})
    services = await intake.client.get(f"{BASE}/services.json", params={"api_key": KEY})

    assert filed.status_code == 201, filed.text
    assert again.status_code == 201, again.text
    assert followed.status_code == 200, followed.text
    assert followed.json()[0]["description"] == "市民来电：垃圾堆积"
    assert services.status_code == 200
    assert intake.grid.token_calls == before + 1  # one exchange, its token kept
    # the key's integration is the reporter (its other token reads the report), its channel the key's
    report = await intake.client.get(f"/v1/reports/{request_id}", headers=BOT)
    assert report.status_code == 200 and report.json()["channel"] == "12345"
    async with session_scope(intake.relay.session_maker) as session:
        stored = str((await session.execute(select(Report.__table__))).all())
    assert KEY.split(".")[1] not in stored  # the key is not kept


async def test_a_refused_or_missing_api_key_is_a_401_in_open311_form(intake: Intake) -> None:
    intake.grid.api_keys[KEY] = HOTLINE
    del intake.client.headers["Authorization"]

    wrong = await file(intake, caller={}, api_key="k1.not-the-secret")
    malformed = await file(intake, caller={}, api_key="no-dot")
    twice = await intake.client.post(
        f"{BASE}/requests.json",
        content=f"service_code=0501&lat={LAT}&long={LON}&api_key={KEY}&api_key={KEY}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    missing = await file(intake, caller={})
    tries = intake.grid.token_calls
    wrong_again = await file(intake, caller={}, api_key="k1.not-the-secret")

    assert wrong.status_code == 401
    assert wrong.json() == [
        {"code": 401, "description": "grid refused the api_key: revoked, or not a key it issued"}
    ]
    assert malformed.status_code == 401 and "<id>.<secret>" in malformed.json()[0]["description"]
    assert twice.status_code == 401  # which one? neither
    assert missing.status_code == 401 and "api_key" in missing.json()[0]["description"]
    assert wrong_again.status_code == 401 and intake.grid.token_calls == tries + 1  # a refusal is not kept
    assert await intake.report_count() == 0


async def test_a_bearer_token_goes_before_an_api_key(intake: Intake) -> None:
    before = intake.grid.token_calls

    filed = await file(intake, caller=BOT, api_key="k9.whatever")

    assert filed.status_code == 201, filed.text
    assert intake.grid.token_calls == before


async def test_a_request_filed_under_a_category_since_retired_keeps_its_service_name(intake: Intake) -> None:
    """The office dropped 占道经营 from the catalog in its yearly revision: no service any more,
    but the requests filed under it still say what they were."""
    filed = await file(intake)
    assert filed.status_code == 201
    [stall] = [c for c in intake.grid.catalog if c["code"] == "0501"]
    intake.grid.catalog.remove(stall)
    intake.grid.retired_catalog.append(stall)
    intake.app.state.open311._fetched -= 3600  # the copy is old: the next reading fetches it again

    services = await intake.client.get(f"{BASE}/services.json", headers=BOT)
    listed = await intake.client.get(f"{BASE}/requests.json", headers=BOT)

    assert [s["service_code"] for s in services.json()] == ["0101"]
    assert [(r["service_code"], r["service_name"]) for r in listed.json()] == [("0501", "占道经营")]
