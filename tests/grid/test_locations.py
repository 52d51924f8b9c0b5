"""Every create answers 201 with a ``Location`` a client can follow to what it made."""

from __future__ import annotations

import httpx

from tests.grid.factories import CELL_A1, COMMUNITY_A, import_territory


async def test_each_201_names_where_the_new_resource_is(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    creates = [
        ("/v1/departments", {"code": "police", "name_zh": "派出所", "name_en": "Police station"}),
        (
            "/v1/catalog",
            {
                "code": "0601",
                "name_zh": "扒窃",
                "name_en": "Pickpocketing",
                "class_zh": "社会治安",
                "class_en": "Public order",
                "department_code": "police",
                "time_limit_hours": 2,
            },
        ),
        (
            "/v1/routing/overrides",
            {"region_code": COMMUNITY_A, "category_code": "0601", "department_code": "police"},
        ),
        (
            "/v1/staff",
            {"username": "wang.fang", "name": "王芳", "role": "grid_worker", "region_codes": [CELL_A1]},
        ),
        ("/v1/keys", {"name": "中山路商圈", "channel": "wechat-bot", "scopes": ["reports:create"]}),
    ]
    for path, body in creates:
        created = await client.post(path, json=body)
        assert created.status_code == 201, (path, created.text)
        location = created.headers.get("location")
        assert location and location.startswith(f"{path}/"), (path, location)  # it had none
        followed = await client.get(location)
        assert followed.status_code == 200, (location, followed.text)
        assert followed.json() == {k: v for k, v in created.json().items() if k != "key"}  # what was made
