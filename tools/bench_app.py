"""The target plus one bare route, for the throughput comparison in `make bench`.

``/bench/bare-me`` answers what ``/users/me`` answers, from a fixed user, with no auth dependency:
no JWT decode, no Redis revocation check, no database lookup. Everything else (middleware,
security headers, CORS) is the same app, so the ratio isolates the security stack's cost.
"""

from __future__ import annotations

from fastapi import FastAPI

from target_app.main import create_app as create_target

BARE_USER = {
    "id": "00000000-0000-4000-8000-000000000000",
    "email": "bench@example.test",
    "is_active": True,
    "role": "user",
}


def create_app() -> FastAPI:
    app = create_target()

    @app.get("/bench/bare-me")
    async def bare_me() -> dict[str, object]:
        return BARE_USER

    return app
