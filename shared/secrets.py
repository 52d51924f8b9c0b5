"""Secrets from configuration, with generated defaults that exist only outside production.

In development and test an unset secret is made once, at random, into
``<data_dir>/secrets/<name>`` (mode 0600) and read back by every process that shares the
data directory, so ``wangge up`` needs no set-up. In production an unset secret refuses to
start: a default secret is never a production secret.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from shared.settings import ServiceSettings


class SecretMissing(RuntimeError):
    """A service cannot start: a secret (or key) it needs is not configured or not usable."""


def dev_secret(data_dir: Path, name: str) -> str:
    """The secret ``name`` of this data directory, created on first use (safe when processes race)."""
    path = data_dir / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = path.with_name(f".{name}.{os.getpid()}.tmp")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(32))
        try:
            os.link(draft, path)  # atomic, and fails if another process got there first
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                draft.unlink()
    return path.read_text().strip()


def configured_secret(settings: ServiceSettings, value: str | None, *, name: str, variable: str) -> str:
    """``value`` if set; else the generated development secret; in production, refuse to start."""
    if value:
        return value
    if settings.environment == "production":
        raise SecretMissing(
            f"{variable} is not set; wangge refuses to start in production with a default secret"
        )
    return dev_secret(settings.data_dir, name)
