"""Whether a webhook's integration still holds an active API key: asked of grid, remembered a minute.

A webhook belongs to ``integration:<key id>`` (only an integration may set one). An admin who
revokes the key at grid, or a key that runs out, ends the bot's access; its webhook must stop
hearing its reports' updates (departments, deadlines, notes) by itself, not when someone
remembers to remove it on intake too. So before a pass delivers, it asks :class:`KeyCheck`
about the pass's owners, and the check asks grid (``GET /internal/v1/key-states``, intake's
service token only) about the keys whose answer is older than ``fresh_for`` (a minute), all in
one request: a request a minute at most, nothing per update.

- active: delivered.
- revoked or expired (as grid says, or past the expiry grid gave): the key is gone for good
  (grid never brings a key back): the pass removes the webhook and gives up its updates, the
  reason in their ``last_error``.
- unknown to grid: paused, as when grid cannot say, and logged as an error. grid keeps every
  key it issued (revoking one keeps it), so a key it does not know means intake asks the wrong
  grid (``WANGGE_INTAKE_GRID_URL``) or grid reads the wrong database: removing the webhooks
  then would remove every bot's.
- no answer (grid out of reach, refusing intake, answering nonsense): the last answer that the
  key was active is taken for ``trust_for`` after grid gave it (15 minutes: a revoked key's
  tokens already live that long), an expiry it gave still applies; after that, or with no
  answer since intake started, the owner's updates are paused: retried every ``fresh_for``,
  neither sent nor given up for it, until grid answers (or they are older than the webhooks'
  give-up time, as an endpoint's that is down are). grid is not asked again for ``fresh_for``
  after a failure, so a grid that is down costs a pass one timeout a minute.

A webhook whose owner is not an integration has no key to check and is delivered as before
(none can be set today: the webhook routes are for integrations only).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import ValidationError

from services.intake.clients.grid import GridClient, KeyState
from services.intake.webhooks.service import INTEGRATION_PREFIX, REMOVED
from shared.db import utcnow
from shared.errors import WanggeError

log = logging.getLogger("wangge.intake.webhooks")

ASK_AT_ONCE = 100
"""Keys one request to grid asks about at most (grid's bound)."""


class Verdict(StrEnum):
    deliver = "deliver"
    remove = "remove"
    """the key is revoked or expired: remove the webhook, give up its updates"""
    pause = "pause"
    """grid could not say for long enough: hold the updates, neither send nor give them up"""


@dataclass(frozen=True)
class Standing:
    verdict: Verdict
    reason: str | None = None


DELIVER = Standing(Verdict.deliver)


def key_of(owner_id: str) -> str | None:
    """The API key id of an integration's webhook owner, None for any other owner."""
    return owner_id.removeprefix(INTEGRATION_PREFIX) if owner_id.startswith(INTEGRATION_PREFIX) else None


@dataclass(frozen=True)
class _Answer:
    state: KeyState
    at: datetime


class KeyCheck:
    """grid's answers on the webhooks' keys, asked when older than ``fresh_for``; one per
    intake process (the webhook relay delivers one batch at a time)."""

    def __init__(self, grid: GridClient, *, fresh_for: timedelta, trust_for: timedelta) -> None:
        self.grid = grid
        self.fresh_for = fresh_for
        self.trust_for = max(trust_for, fresh_for)
        """an answer is taken as long as it is fresh, whatever ``trust_for`` says"""
        self._answers: dict[str, _Answer] = {}
        self._ask_after: datetime | None = None

    async def standings(self, owner_ids: Collection[str], *, within: float) -> dict[str, Standing]:
        """What to do with each owner's updates; grid is asked for ``within`` seconds at most."""
        now = utcnow()
        keys = {owner: key_of(owner) for owner in owner_ids}
        stale = sorted(
            {
                key
                for key in keys.values()
                if key is not None
                and (key not in self._answers or now - self._answers[key].at >= self.fresh_for)
            }
        )
        if stale and (self._ask_after is None or now >= self._ask_after):
            await self._ask(stale, now, within)
        return {owner: self._standing(key, now) for owner, key in keys.items()}

    async def _ask(self, keys: list[str], now: datetime, within: float) -> None:
        try:
            async with asyncio.timeout(within):
                for start in range(0, len(keys), ASK_AT_ONCE):
                    for state in await self.grid.key_states(keys[start : start + ASK_AT_ONCE]):
                        self._answers[state.id] = _Answer(state, now)
        except (WanggeError, TimeoutError, ValidationError, KeyError, ValueError) as exc:
            self._ask_after = now + self.fresh_for
            log.warning(
                "cannot ask grid whether the webhooks' keys are active (%s): their webhooks are "
                "delivered to on grid's last answer for up to %g minutes after it, then paused",
                str(exc) or type(exc).__name__,  # a timeout says nothing of itself
                self.trust_for.total_seconds() / 60,
            )
            return
        self._ask_after = None
        unknown = [
            key for key in keys if key in self._answers and self._answers[key].state.state == "unknown"
        ]
        if unknown:
            log.error(
                "grid knows no API key %s, though webhooks were set with their tokens: is "
                "WANGGE_INTAKE_GRID_URL this office's grid, and grid on its own database? "
                "Their webhooks' updates wait meanwhile (wangge outbox status webhooks)",
                ", ".join(unknown),
            )
        for key, answer in list(self._answers.items()):  # keys no webhook asks about any more
            if now - answer.at > self.trust_for + self.fresh_for:
                del self._answers[key]

    def _standing(self, key: str | None, now: datetime) -> Standing:
        if key is None:
            return DELIVER
        answer = self._answers.get(key)
        if answer is None:
            return Standing(Verdict.pause, f"paused: grid could not say whether the key {key} is active")
        state = answer.state
        if state.state == "revoked":
            when = f" at {state.revoked_at.isoformat()}" if state.revoked_at else ""
            return Standing(Verdict.remove, f"{REMOVED}: its integration's key {key} was revoked{when}")
        if state.state == "expired" or (state.expires_at is not None and state.expires_at <= now):
            when = f" at {state.expires_at.isoformat()}" if state.expires_at else ""
            return Standing(Verdict.remove, f"{REMOVED}: its integration's key {key} expired{when}")
        if state.state != "active":  # unknown: the wrong grid, not a key gone (see above)
            return Standing(
                Verdict.pause, f"paused: grid knows no key {key}; is intake asking the right grid?"
            )
        if now - answer.at > self.trust_for:
            return Standing(
                Verdict.pause,
                f"paused: grid could not say whether the key {key} is still active "
                f"since {answer.at.isoformat()}",
            )
        return DELIVER
