"""Unauthenticated metadata: health and the public signing keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["meta"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> dict[str, Any]:
    return request.app.state.keys.jwks()  # type: ignore[no-any-return]
