"""Async SQLAlchemy storage: SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, String, event
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DB_TIMEOUT_S = 5.0


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String(128))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str] = mapped_column(String(16), default="user")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 15})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # Bounded waits on a server that stopped answering (a hung PostgreSQL, or its host gone from
    # the network): asyncpg's defaults are 60 s to connect and no limit on a query, so requests
    # would hang with it. A timeout surfaces as TimeoutError, answered 503 (errors.py).
    connect_args = (
        {"timeout": DB_TIMEOUT_S, "command_timeout": DB_TIMEOUT_S}
        if url.startswith("postgresql+asyncpg")
        else {}
    )
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets several worker processes read while one writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_tables(engine: AsyncEngine, attempts: int = 3) -> None:
    """Create the missing tables; several workers starting together may race here.

    The loser of a concurrent CREATE fails once the winner commits: PostgreSQL with a catalog
    IntegrityError or "relation already exists" (a ProgrammingError), SQLite with "table already
    exists" (an OperationalError). It tries again, and the existence check then sees the tables.
    """
    for attempt in range(attempts):
        try:
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            return
        except (IntegrityError, ProgrammingError, OperationalError):
            if attempt == attempts - 1:
                raise
