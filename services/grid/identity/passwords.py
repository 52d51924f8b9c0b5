"""Argon2id password hashing, kept off the event loop.

The parameters are never below OWASP's minimum (19 MiB, 2 passes, 1 lane); a hash made with
other parameters still verifies and is rehashed at the next successful login.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from services.grid.settings import OWASP_MEMORY_KIB, OWASP_TIME_COST, GridSettings


@dataclass(frozen=True)
class Passwords:
    memory_kib: int = OWASP_MEMORY_KIB
    time_cost: int = OWASP_TIME_COST
    parallelism: int = 1
    _hasher: PasswordHasher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.memory_kib < OWASP_MEMORY_KIB or self.time_cost < OWASP_TIME_COST:
            raise ValueError("Argon2id parameters below the OWASP minimum (19456 KiB, 2 passes)")
        hasher = PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            type=Type.ID,
        )
        object.__setattr__(self, "_hasher", hasher)

    @classmethod
    def from_settings(cls, settings: GridSettings) -> Passwords:
        return cls(
            memory_kib=settings.password_memory_kib,
            time_cost=settings.password_time_cost,
            parallelism=settings.password_parallelism,
        )

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; with no stored hash, a dummy check keeps the timing the same."""
        if stored_hash is None:
            stored_hash = await self.dummy_hash()
            await asyncio.to_thread(self._check, stored_hash, password)
            return False
        return await asyncio.to_thread(self._check, stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    async def dummy_hash(self) -> str:
        cached: str | None = getattr(self, "_dummy", None)
        if cached is None:
            cached = await self.hash("not the password of anyone")
            object.__setattr__(self, "_dummy", cached)
        return cached

    def _check(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
