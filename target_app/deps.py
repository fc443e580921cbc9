"""FastAPI dependencies: settings, database session, token service, the current user."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from target_app.core.config import Settings
from target_app.core.passwords import PasswordHasher
from target_app.core.revocation import RevocationStore
from target_app.core.security import TokenError, TokenService, TokenType
from target_app.db import User

MAX_AUTHORIZATION_BYTES = 8192
log = logging.getLogger("target_app")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_tokens(request: Request) -> TokenService:
    return request.app.state.tokens  # type: ignore[no-any-return]


def get_store(request: Request) -> RevocationStore:
    return request.app.state.revocation  # type: ignore[no-any-return]


def get_hasher(request: Request) -> PasswordHasher:
    return request.app.state.hasher  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        try:
            await session.close()
        except (SQLAlchemyError, OSError) as exc:
            # The connection died under the session (the database went away): there is nothing
            # left to roll back, and the answer is decided (it may be on the wire already).
            log.warning("database session close failed: %s", type(exc).__name__)


SettingsDep = Annotated[Settings, Depends(get_settings)]
TokensDep = Annotated[TokenService, Depends(get_tokens)]
StoreDep = Annotated[RevocationStore, Depends(get_store)]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


def unauthenticated(
    settings: Settings, detail: str = "Could not validate credentials"
) -> HTTPException:
    flaws = settings.flaws
    code = (
        status.HTTP_403_FORBIDDEN if flaws.on("invalid_token_403") else status.HTTP_401_UNAUTHORIZED
    )
    headers = (
        None
        if flaws.on("no_www_authenticate")
        else {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )
    return HTTPException(code, detail, headers=headers)


def forbidden(settings: Settings, detail: str) -> HTTPException:
    if settings.flaws.on("inactive_401"):
        return unauthenticated(settings, detail)
    return HTTPException(status.HTTP_403_FORBIDDEN, detail)


# Declares the bearer scheme in OpenAPI; the header is parsed below, with a size bound first.
bearer_scheme = HTTPBearer(auto_error=False)


def bearer_token(
    request: Request,
    settings: SettingsDep,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> str:
    header = request.headers.get("authorization", "")
    if not header:
        raise unauthenticated(settings, "Not authenticated")
    if len(header) > MAX_AUTHORIZATION_BYTES:
        raise unauthenticated(settings, "Authorization header too large")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated(settings, "Not authenticated")
    return token.strip()


async def verify_token(
    token: str, expected: TokenType, tokens: TokenService, store: RevocationStore
) -> dict[str, Any]:
    """Decode and check revocation; raises TokenError. Redis errors propagate (fail closed)."""
    claims = tokens.decode(token, expected)
    jti = claims.get("jti")
    if isinstance(jti, str) and await store.is_revoked(jti):
        raise TokenError("token revoked")
    return claims


async def load_user(session: AsyncSession, sub: str, settings: Settings) -> User | None:
    if settings.flaws.on("bad_sub_500"):
        user_id = str(uuid.UUID(sub))  # raises ValueError on a non-UUID sub: the planted 500
    else:
        try:
            user_id = str(uuid.UUID(sub))
        except ValueError:
            return None
    return await session.get(User, user_id)


async def get_current_claims(
    token: Annotated[str, Depends(bearer_token)],
    settings: SettingsDep,
    tokens: TokensDep,
    store: StoreDep,
) -> dict[str, Any]:
    try:
        return await verify_token(token, "access", tokens, store)
    except TokenError as exc:
        raise unauthenticated(settings) from exc


async def get_current_user(
    request: Request,
    claims: Annotated[dict[str, Any], Depends(get_current_claims)],
    session: SessionDep,
    settings: SettingsDep,
) -> User:
    user = await load_user(session, claims["sub"], settings)
    if user is None:
        raise unauthenticated(settings)
    request.state.user_id = user.id
    return user


async def get_current_active_user(
    user: Annotated[User, Depends(get_current_user)], settings: SettingsDep
) -> User:
    if not user.is_active:
        raise forbidden(settings, "Inactive user")
    return user


async def require_admin(
    user: Annotated[User, Depends(get_current_active_user)], settings: SettingsDep
) -> User:
    if user.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Admin role required")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
ActiveUser = Annotated[User, Depends(get_current_active_user)]
AdminUser = Annotated[User, Depends(require_admin)]
ClaimsDep = Annotated[dict[str, Any], Depends(get_current_claims)]
