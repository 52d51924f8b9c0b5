"""ETag / If-Match for resources with a version counter: no update is silently lost."""

from __future__ import annotations

from shared.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def require_if_match(if_match: str | None, current_version: int) -> None:
    """Raise unless ``If-Match`` names the current version (``*`` matches any)."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("send If-Match with the ETag you last read")
    tags = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    if "*" in tags or etag(current_version) in tags:
        return
    raise PreconditionFailed(
        "the resource changed since you read it; read it again and retry",
        current_etag=etag(current_version),
    )
