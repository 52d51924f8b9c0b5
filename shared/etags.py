"""ETag / If-Match for resources with a version counter: no update is silently lost; and
If-None-Match, for a read that has not changed since (304).

``If-Match`` is read as RFC 9110 13.1.1 writes it: ``*``, or a comma-separated list of
entity-tags, each in double quotes (``"3"``, ``W/"3"``). A value that is neither is a 400
naming the form: an unquoted ``3`` is not an entity-tag, and answering it 412 ("the resource
changed since you read it") sent clients re-reading a case that had not changed.
"""

from __future__ import annotations

import re
from typing import Any

from shared.errors import BadRequest, PreconditionFailed, PreconditionRequired

_ELEMENT = re.compile(r'[ \t]*(?:(W/)?"([\x21\x23-\x7e\x80-\xff]*)"|([^,]*?))[ \t]*(?:,|\Z)')
"""One element of the list: an entity-tag (its opaque part in group 2), or anything else up
to the next comma (group 3; empty for an empty element, which RFC 9110 5.6.1 lets a list hold).
A comma inside the quotes is part of the tag, as the grammar has it."""
_BARE = re.compile(r"(?:W/)?([\x21\x23-\x2b\x2d-\x7e]+)")

VERSION_ETAG = 'the resource\'s version, quoted (`"7"`): send it back as `If-Match` to change it'


def etag(version: int) -> str:
    return f'"{version}"'


def answers_etag(*statuses: int, description: str = VERSION_ETAG) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries: the answers of ``statuses`` (200 by default) carry an
    ``ETag`` header, so a generated client knows to read it."""
    header = {"ETag": {"description": description, "schema": {"type": "string", "examples": ['"7"']}}}
    return {status: {"headers": header} for status in statuses or (200,)}


def not_modified(if_none_match: str | None, current_etag: str) -> bool:
    """Whether ``If-None-Match`` names ``current_etag`` (quoted) or is ``*``: a read answers 304
    then. Weak comparison, as RFC 9110 13.1.2 has for ``If-None-Match``."""
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or current_etag in tags


def require_if_match(if_match: str | None, current_version: int) -> None:
    """Raise unless ``If-Match`` names the current version: 428 without it, 400 when it is
    not ``*`` nor a list of entity-tags, 412 when no tag in it is the current one.

    ``*`` matches: the resource exists when this is checked (RFC 9110: any current
    representation). A list matches when any of its tags does.

    A weak tag (``W/"3"``) matches its version too, against RFC 9110's strong comparison on
    purpose: the tag is the version counter, and a compressing proxy (nginx's gzip) weakens
    the ETags it passes, so a client behind one could otherwise change nothing."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("send If-Match with the ETag you last read")
    if if_match.strip() == "*":
        return
    if _names_version(if_match, current_version):
        return
    raise PreconditionFailed(
        "the resource changed since you read it; read it again and retry",
        current_etag=etag(current_version),
    )


def _names_version(if_match: str, current_version: int) -> bool:
    """Whether the list of entity-tags names the version; a BadRequest if it is no such list."""
    current = str(current_version)
    found = False
    position = 0
    while position < len(if_match):
        element = _ELEMENT.match(if_match, position)
        assert element is not None  # the last alternative matches anything up to a comma
        _weak, opaque, other = element.groups()
        if other is not None and other.strip():
            raise _not_entity_tags(if_match, other.strip())
        found = found or opaque == current
        if element.end() == position:
            break
        position = element.end()
    return found


def _not_entity_tags(if_match: str, element: str) -> BadRequest:
    if element == "*":
        return BadRequest(f"If-Match: {if_match} mixes * with entity-tags; * stands alone (If-Match: *)")
    bare = _BARE.fullmatch(element)
    example = f'"{bare[1]}"' if bare else '"3"'
    return BadRequest(
        f"If-Match: {if_match} is not a list of entity-tags: send the ETag as it was read, "
        f"with its double quotes (If-Match: {example}), or *"
    )
