"""/users: the current user, and an expensive per-user export."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from slowapi import Limiter

from target_app.core.config import Settings
from target_app.core.ratelimit import limit_if, per_user
from target_app.db import User
from target_app.deps import ActiveUser
from target_app.schemas import UserOut


def router(limiter: Limiter, settings: Settings) -> APIRouter:
    api = APIRouter(prefix="/users", tags=["users"])
    limited = not settings.flaws.on("sensitive_routes_unlimited")

    @api.get("/me", response_model=UserOut)
    async def read_me(user: ActiveUser) -> User:
        return user

    @api.get("/me/export")
    @limit_if(limiter, settings.export_limit, limited, key_func=per_user)
    async def export_me(
        request: Request, response: Response, user: ActiveUser
    ) -> dict[str, object]:
        return {
            "user": UserOut.model_validate(user).model_dump(),
            "exported_at": datetime.now(UTC).isoformat(),
        }

    return api
