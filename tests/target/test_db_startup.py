"""Several workers create the tables at once on a fresh database (SQLite here; PostgreSQL in
test_postgres.py): every one of them must start, whichever wins the race."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from target_app.db import create_tables, make_engine

pytestmark = pytest.mark.anyio

RACERS = 6
ROUNDS = 5


async def race_create_tables(url: str) -> list[BaseException | None]:
    engines = [make_engine(url) for _ in range(RACERS)]
    try:
        return await asyncio.gather(*(create_tables(e) for e in engines), return_exceptions=True)
    finally:
        for engine in engines:
            await engine.dispose()


async def test_workers_creating_sqlite_tables_at_once_all_start(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        url = f"sqlite+aiosqlite:///{tmp_path / f'race-{round_}.db'}"
        results = await race_create_tables(url)
        assert [r for r in results if r is not None] == [], f"round {round_}"
