"""ETag / If-Match for resources with a version counter: no update is silently lost."""

from __future__ import annotations

from shared.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def require_if_match(if_match: str | None, current_version: int) -> None:
    """Raise unless ``If-Match`` names the current version (``*`` matches any).

    A weak tag (``W/"3"``) matches its version too, against RFC 9110's strong comparison on
    purpose: the tag is the version counter, and a compressing proxy (nginx's gzip) weakens
    the ETags it passes, so a client behind one could otherwise change nothing."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("send If-Match with the ETag you last read")
    tags = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    if "*" in tags or etag(current_version) in tags:
        return
    raise PreconditionFailed(
        "the resource changed since you read it; read it again and retry",
        current_etag=etag(current_version),
    )
