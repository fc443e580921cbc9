"""Password hashing through the passlib API (libpass), bcrypt cost >= 12, off the event loop."""

from __future__ import annotations

import secrets

from passlib.context import CryptContext
from starlette.concurrency import run_in_threadpool

MAX_PASSWORD_BYTES = 72
# The seed article's "dummy hash": bcrypt rejects it at once, so unknown users answer fast.
BROKEN_DUMMY_HASH = "$2b$12$invalidhashformat"


class PasswordHasher:
    def __init__(self, rounds: int) -> None:
        self._context = CryptContext(schemes=["bcrypt"], bcrypt__rounds=rounds)
        # A real hash of a random password, at the same cost, so unknown users cost a full verify.
        self.dummy_hash = self._context.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._context.hash(password)

    async def hash_async(self, password: str) -> str:
        return await run_in_threadpool(self.hash, password)

    def verify(self, password: str, hashed: str) -> bool:
        try:
            return bool(self._context.verify(password, hashed))
        except ValueError:
            # Malformed hash or over-long password: a failed verification, never a 500.
            return False

    async def verify_async(self, password: str, hashed: str) -> bool:
        return await run_in_threadpool(self.verify, password, hashed)

    async def burn_async(self) -> None:
        """Spend one full verification, so a rejected login costs what a real one does."""
        await self.verify_async("not-the-password", self.dummy_hash)


def too_long(password: str) -> bool:
    return len(password.encode()) > MAX_PASSWORD_BYTES
