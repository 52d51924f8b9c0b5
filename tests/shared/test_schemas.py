"""What every request body refuses: text a database cannot store, and nesting past the bound."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.schemas import MAX_NESTING, RequestModel, Timestamp, unstorable


class Body(RequestModel):
    note: str | None = None
    payload: dict[str, Any] | None = None


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def test_storable_text_passes_whatever_its_script() -> None:
    assert unstorable("占道经营 ✓ naïve") is None
    assert unstorable({"照片": ["https://x/1.jpg"], "n": [1, 2.5, None, True]}) is None
    assert unstorable(nested(MAX_NESTING)) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\x00b", "contains a NUL character (U+0000)"),
        ("\ud800", "contains a lone surrogate (U+D800 to U+DFFF), which is no character"),
        ({"\udfff": 1}, "contains a lone surrogate (U+D800 to U+DFFF), which is no character"),
        (["ok", {"deep": ["\x00"]}], "contains a NUL character (U+0000)"),
        (nested(MAX_NESTING + 1), f"nests lists or objects more than {MAX_NESTING} deep"),
    ],
)
def test_unstorable_text_and_deep_nesting_are_named(value: object, reason: str) -> None:
    assert unstorable(value) == reason


def test_a_body_nested_far_past_the_recursion_limit_is_a_validation_error() -> None:
    # 100,000 levels fit in 200 kB of JSON, well inside the body bound: a RecursionError was a 500.
    with pytest.raises(ValidationError, match=f"payload nests lists or objects more than {MAX_NESTING}"):
        Body(payload={"x": nested(100_000)})
    # pydantic refuses a lone surrogate in a str field itself; in free-form JSON it passed.
    with pytest.raises(ValidationError, match="payload contains a lone surrogate"):
        Body(payload={"x": ["\ud800"]})


def test_a_lone_surrogate_is_refused_in_a_str_field_whatever_the_model_config() -> None:
    class Secret(RequestModel):
        password: str
        model_config = RequestModel.model_config | {"str_strip_whitespace": False}

    # pydantic refuses it while stripping whitespace; a body that keeps its spaces passed it on.
    with pytest.raises(ValidationError, match="password contains a lone surrogate"):
        Secret(password="long enough \ud800")


@pytest.mark.parametrize(
    ("given", "utc"),
    [
        ("2026-12-05T08:30:00+08:00", "2026-12-05T00:30:00+00:00"),
        ("2026-12-05t00:30:00.5z", "2026-12-05T00:30:00.500000+00:00"),
        ("2026-12-05 08:30:00Z", None),  # a space for the T: pydantic took it
        ("1733436000", None),  # Unix seconds in a string: pydantic took them
        (1733436000, None),
        ("2026-12-05T08:30:00", None),  # no offset
        ("2026-12-05", None),
    ],
)
def test_a_timestamp_is_rfc_3339_with_its_offset(given: object, utc: str | None) -> None:
    adapter = TypeAdapter(Timestamp)
    if utc is None:
        with pytest.raises(ValidationError):
            adapter.validate_python(given)
    else:
        assert adapter.validate_python(given).isoformat() == utc
