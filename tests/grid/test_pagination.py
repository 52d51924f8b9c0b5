"""Every list of grid pages by an opaque cursor; a forged one is a 422, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.support.cursors import forged

LISTS = ["/v1/regions", "/v1/staff", "/v1/departments", "/v1/catalog", "/v1/routing/overrides", "/v1/keys"]
FORGED = [
    forged({"after": 2**64}),  # beyond BIGINT: SQLite's driver raised OverflowError
    forged({"after": -(2**64)}),
    forged({"after": True}),
    forged({"after": None}),
    forged({"after": 1.5}),
    forged({"after": "x" * 201}),
    forged({"nothing": 1}),
    forged(["after", 1]),
    "!!",
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", FORGED)
async def test_a_forged_cursor_is_422(client: httpx.AsyncClient, path: str, cursor: str) -> None:
    response = await client.get(path, params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "cursor is not one this service issued"


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/v1/routing/overrides", forged({"after": "1"})),  # keyed by id: a string is no position
        ("/v1/keys", forged({"after": 5})),  # keyed by "ak_..." strings
        ("/v1/staff", forged({"after": 5})),  # keyed by username: a number is no position
        ("/v1/regions", forged({"after": 350203})),
    ],
)
async def test_a_cursor_of_the_wrong_kind_of_key_is_422(
    client: httpx.AsyncClient, path: str, cursor: str
) -> None:
    response = await client.get(path, params={"cursor": cursor})
    assert response.status_code == 422, response.text
