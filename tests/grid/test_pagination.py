"""Every list of grid pages by an opaque cursor; a forged one is a 422, never a 500."""

from __future__ import annotations

import httpx

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
    forged({"after": "a\x00"}),  # PostgreSQL refused it as a value, SQLite read past it: a 200
    forged({"after": "\ud800"}),
    forged(["after", 1]),
    "!!",
]


async def test_a_forged_cursor_is_422_on_every_list(client: httpx.AsyncClient) -> None:
    answers = {}
    for path in LISTS:
        for cursor in FORGED:
            response = await client.get(path, params={"cursor": cursor})
            answers[path, cursor] = (response.status_code, response.headers["content-type"])
            assert response.json()["detail"] == "cursor is not one this service issued", response.text
    assert set(answers.values()) == {(422, "application/problem+json")}


async def test_a_cursor_of_the_wrong_kind_of_key_is_422(client: httpx.AsyncClient) -> None:
    wrong_kind = [
        ("/v1/routing/overrides", forged({"after": "1"})),  # keyed by id: a string is no position
        ("/v1/keys", forged({"after": 5})),  # keyed by "ak_..." strings
        ("/v1/staff", forged({"after": 5})),  # keyed by username: a number is no position
        ("/v1/regions", forged({"after": 350203})),
    ]
    statuses = [(await client.get(path, params={"cursor": c})).status_code for path, c in wrong_kind]
    assert statuses == [422] * len(wrong_kind)
