"""Seed users from a JSON file: ``[{"email", "password", "role", "is_active"}, ...]``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from target_app.core.config import Settings
from target_app.core.passwords import PasswordHasher
from target_app.db import User, create_tables, make_engine, make_sessionmaker


@dataclass(frozen=True)
class SeedUser:
    email: str
    password: str
    role: str = "user"
    is_active: bool = True


def read_seed_file(path: Path) -> list[SeedUser]:
    try:
        rows = json.loads(path.read_text())
        return [SeedUser(**row) for row in rows]
    except (OSError, ValueError, TypeError) as exc:
        raise SystemExit(f"error: seed file {path}: {exc}") from None


async def seed_users(settings: Settings, users: list[SeedUser]) -> None:
    """Create the tables and the users; an existing user gets the seeded password and flags."""
    engine = make_engine(settings.database_url)
    hasher = PasswordHasher(settings.bcrypt_rounds)
    try:
        await create_tables(engine)
        async with make_sessionmaker(engine)() as session:
            for seed in users:
                user = await session.scalar(select(User).where(User.email == seed.email))
                if user is None:
                    user = User(email=seed.email)
                    session.add(user)
                user.hashed_password = hasher.hash(seed.password)
                user.role = seed.role
                user.is_active = seed.is_active
            await session.commit()
    finally:
        await engine.dispose()
