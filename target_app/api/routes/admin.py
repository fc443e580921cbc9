"""/admin: admin role only; 403 for everyone else."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from sqlalchemy import select

from target_app.db import User
from target_app.deps import AdminUser, SessionDep
from target_app.schemas import UserOut

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/users", response_model=list[UserOut])
async def list_users(_admin: AdminUser, session: SessionDep) -> Sequence[User]:
    return (await session.scalars(select(User).order_by(User.created_at).limit(100))).all()
