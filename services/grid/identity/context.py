"""Everything identity needs at run time, built once in the lifespan from the settings.

Building it is where grid refuses to start in production without a signing key or without
the services' client secrets; in development and test both are generated into the data
directory on first run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.grid.identity.keys import load_signing_key
from services.grid.identity.passwords import Passwords
from services.grid.identity.tokens import TokenIssuer
from services.grid.settings import GridSettings
from shared.secrets import configured_secret

SERVICE_CLIENTS = ("intake", "dispatch")
"""Services that get a client secret by default (more may be configured, e.g. ``grid``)."""


@dataclass(frozen=True)
class Identity:
    issuer: TokenIssuer
    passwords: Passwords
    service_secrets: dict[str, str]
    refresh_lifetime: timedelta
    refresh_reuse: timedelta
    """How long a spent refresh token may come back for a sibling of its successor (zero: never)."""


def service_secrets(settings: GridSettings) -> dict[str, str]:
    """The configured secrets, and each default service's from the data dir outside production."""
    found = {name: secret for name, secret in settings.service_secrets.items() if secret}
    for name in SERVICE_CLIENTS:
        found[name] = configured_secret(
            settings,
            found.get(name),
            name=f"service-{name}",
            variable=f"WANGGE_GRID_SERVICE_SECRETS (no secret for {name!r})",
        )
    return found


def build_identity(settings: GridSettings) -> Identity:
    return Identity(
        issuer=TokenIssuer.from_settings(load_signing_key(settings), settings),
        passwords=Passwords.from_settings(settings),
        service_secrets=service_secrets(settings),
        refresh_lifetime=timedelta(days=settings.refresh_token_days),
        refresh_reuse=timedelta(seconds=settings.refresh_reuse_seconds),
    )
