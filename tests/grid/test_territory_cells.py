"""The cell export peers copy, with its ETag."""

from __future__ import annotations

import httpx

from tests.grid.factories import CELL_A1, COMMUNITY_A, cell_box, collection, feature, import_territory


async def test_cells_carry_their_community_and_an_etag(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    response = await client.get("/v1/territory/cells")
    assert response.status_code == 200
    body = response.json()
    assert response.headers["etag"] == f'"{body["version"]}"' == '"1"'
    assert len(body["cells"]) == 4
    first = body["cells"][0]
    assert (first["code"], first["community_code"], first["community_name"]) == (
        CELL_A1,
        COMMUNITY_A,
        "镇海社区",
    )
    assert first["geometry"]["type"] == "Polygon"


async def test_if_none_match_gets_a_304_until_the_next_import(client: httpx.AsyncClient) -> None:
    await import_territory(client)
    etag = (await client.get("/v1/territory/cells")).headers["etag"]

    unchanged = await client.get("/v1/territory/cells", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    await import_territory(client)  # the same file again: nothing changed, still a 304
    assert (await client.get("/v1/territory/cells", headers={"If-None-Match": etag})).status_code == 304

    await import_territory(client, collection(feature(CELL_A1, "镇海新1网格", cell_box(0))))
    changed = await client.get("/v1/territory/cells", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] == '"2"'
