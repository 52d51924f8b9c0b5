"""If-Match as RFC 9110 writes it: ``*`` or entity-tags in double quotes."""

from __future__ import annotations

import pytest

from shared.errors import BadRequest, PreconditionFailed, PreconditionRequired
from shared.etags import require_if_match


@pytest.mark.parametrize(
    "if_match",
    ['"9"', "*", ' "9" ', '"8", "9"', '"8","9"', '"8", , "9"', '"a,b", "9"', 'W/"9"', 'W/"8", W/"9"'],
)
def test_the_current_etag_a_list_holding_it_or_star_matches(if_match: str) -> None:
    require_if_match(if_match, 9)


@pytest.mark.parametrize("if_match", ['"8"', '"8", "10"', 'W/"8"', '"09"', '""', '"a,9"'])
def test_any_other_entity_tag_is_412_with_the_current_one(if_match: str) -> None:
    with pytest.raises(PreconditionFailed) as failed:
        require_if_match(if_match, 9)
    assert failed.value.extra == {"current_etag": '"9"'}


@pytest.mark.parametrize(
    ("if_match", "form"),
    [
        ("9", 'If-Match: "9"'),  # was a 412: "changed since you read it", and nothing had
        ("W/9", 'If-Match: "9"'),
        ('"8", 9', 'If-Match: "9"'),
        ("'9'", "If-Match: \"'9'\""),
        ('"9', 'If-Match: "3"'),
        ('"9"x', 'If-Match: "3"'),
        ("nine times", 'If-Match: "3"'),
    ],
)
def test_a_value_that_is_no_entity_tag_is_400_naming_the_form(if_match: str, form: str) -> None:
    with pytest.raises(BadRequest) as refused:
        require_if_match(if_match, 9)
    assert refused.value.detail == (
        f"If-Match: {if_match} is not a list of entity-tags: send the ETag as it was read, "
        f"with its double quotes ({form}), or *"
    )


def test_star_stands_alone_and_a_missing_header_is_428() -> None:
    with pytest.raises(BadRequest, match=r"\* stands alone"):
        require_if_match('*, "9"', 9)
    for missing in (None, "", "  "):
        with pytest.raises(PreconditionRequired):
            require_if_match(missing, 9)
