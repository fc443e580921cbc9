"""/auth: register, login, refresh, logout, password reset and e-mail verification."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from slowapi import Limiter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from target_app.core.config import Settings
from target_app.core.passwords import BROKEN_DUMMY_HASH, too_long
from target_app.core.ratelimit import limit_if
from target_app.core.security import TokenError, TokenService
from target_app.db import User
from target_app.deps import (
    ClaimsDep,
    HasherDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    TokensDep,
    load_user,
    unauthenticated,
    verify_token,
)
from target_app.schemas import (
    EmailIn,
    LogoutIn,
    Message,
    RefreshIn,
    RegisterIn,
    TokenPair,
    UserOut,
    VerifyEmailIn,
)

BAD_CREDENTIALS = "Incorrect username or password"


def router(limiter: Limiter, settings: Settings) -> APIRouter:
    api = APIRouter(prefix="/auth", tags=["auth"])
    flaws = settings.flaws
    sensitive = not flaws.on("sensitive_routes_unlimited")

    @api.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
    async def register(body: RegisterIn, session: SessionDep, hasher: HasherDep) -> User:
        # Hashing runs off the event loop, like verification: a registration never blocks others.
        user = User(email=body.email, hashed_password=await hasher.hash_async(body.password))
        session.add(user)
        try:
            await session.commit()
        except IntegrityError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, "Email already registered") from exc
        return user

    @api.post("/login", response_model=TokenPair)
    @limit_if(limiter, settings.login_limit, not flaws.on("no_login_limit"))
    async def login(
        request: Request,
        response: Response,
        form: Annotated[OAuth2PasswordRequestForm, Depends()],
        session: SessionDep,
        hasher: HasherDep,
        tokens: TokensDep,
        store: StoreDep,
        settings: SettingsDep,
    ) -> TokenPair:
        user = await authenticate(form.username, form.password, session, hasher, settings)
        return await issue_pair(user.id, tokens, store)

    @api.post("/refresh", response_model=TokenPair)
    async def refresh(
        body: RefreshIn,
        session: SessionDep,
        tokens: TokensDep,
        store: StoreDep,
        settings: SettingsDep,
    ) -> TokenPair:
        claims = await verify_refresh(body.refresh_token, tokens, store, settings)
        user = await load_user(session, claims["sub"], settings)
        if not flaws.on("refresh_inactive_user"):
            if user is None:
                raise unauthenticated(settings)
            if not user.is_active:
                raise HTTPException(status.HTTP_403_FORBIDDEN, "Inactive user")
        if not flaws.on("refresh_reuse"):
            await store.revoke(claims["jti"], remaining(claims))
        return await issue_pair(claims["sub"], tokens, store)

    @api.post("/logout", response_model=Message)
    async def logout(
        claims: ClaimsDep,
        tokens: TokensDep,
        store: StoreDep,
        settings: SettingsDep,
        body: LogoutIn | None = None,
    ) -> Message:
        if flaws.on("logout_noop"):
            return Message(detail="Logged out")
        await store.revoke(claims["jti"], remaining(claims))
        if body and body.refresh_token:
            await revoke_refresh(body.refresh_token, claims["sub"], tokens, store, settings)
        return Message(detail="Logged out")

    @api.post("/password-reset", status_code=status.HTTP_202_ACCEPTED, response_model=Message)
    @limit_if(limiter, settings.password_reset_limit, sensitive)
    async def password_reset(
        request: Request, response: Response, body: EmailIn, session: SessionDep
    ) -> Message:
        # A stub: the lookup happens either way, and the answer never says whether it matched.
        await session.scalar(select(User.id).where(User.email == body.email))
        return Message(detail="If the account exists, a reset link has been sent.")

    @api.post("/verify-email", status_code=status.HTTP_202_ACCEPTED, response_model=Message)
    @limit_if(limiter, settings.verify_email_limit, sensitive)
    async def verify_email(request: Request, response: Response, body: VerifyEmailIn) -> Message:
        return Message(detail="If the token is valid, the address is now verified.")

    return api


async def authenticate(
    username: str, password: str, session: Any, hasher: Any, settings: Settings
) -> User:
    """Every rejected login costs one full bcrypt verify, whatever the reason."""
    flaws = settings.flaws
    if settings.login_jitter_ms:
        await asyncio.sleep(random.uniform(0, settings.login_jitter_ms) / 1000)  # noqa: S311
    # No stored e-mail holds NUL (registration refuses it), and PostgreSQL rejects it in a query.
    user = (
        None
        if "\x00" in username
        else await session.scalar(select(User).where(User.email == username))
    )
    if too_long(password):
        await hasher.burn_async()
        raise unauthenticated(settings, BAD_CREDENTIALS)
    if user is None:
        await reject_unknown_user(hasher, settings)
    ok = await hasher.verify_async(password, user.hashed_password)
    if flaws.on("login_delay_ms"):
        await asyncio.sleep(flaws.value("login_delay_ms") / 1000)
    if not ok:
        raise unauthenticated(settings, BAD_CREDENTIALS)
    return user  # type: ignore[no-any-return]


async def reject_unknown_user(hasher: Any, settings: Settings) -> None:
    flaws = settings.flaws
    if flaws.on("early_return_login"):
        raise unauthenticated(settings, BAD_CREDENTIALS)
    if flaws.on("broken_dummy_hash"):
        await hasher.verify_async("not-the-password", BROKEN_DUMMY_HASH)
    else:
        await hasher.burn_async()
    if flaws.on("enumeration_message"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "User not found")
    raise unauthenticated(settings, BAD_CREDENTIALS)


async def issue_pair(user_id: str, tokens: TokenService, store: Any) -> TokenPair:
    access = tokens.issue(user_id, "access")
    refresh = tokens.issue(user_id, "refresh")
    await store.track_refresh(user_id, refresh.claims["jti"], remaining(refresh.claims))
    expires_in = remaining(access.claims) if "exp" in access.claims else None
    return TokenPair(access_token=access.token, refresh_token=refresh.token, expires_in=expires_in)


async def verify_refresh(
    token: str, tokens: TokenService, store: Any, settings: Settings
) -> dict[str, Any]:
    """A revoked refresh token presented again means theft: revoke that user's refresh tokens."""
    try:
        claims = tokens.decode(token, "refresh")
    except TokenError as exc:
        raise unauthenticated(settings) from exc
    if await store.is_revoked(claims["jti"]):
        await store.revoke_all_refresh(claims["sub"], remaining(claims))
        raise unauthenticated(settings, "Refresh token reuse detected; sessions revoked")
    return claims


async def revoke_refresh(
    token: str, user_id: str, tokens: TokenService, store: Any, settings: Settings
) -> None:
    try:
        claims = await verify_token(token, "refresh", tokens, store)
    except TokenError:
        return  # already unusable
    if claims["sub"] == user_id:
        await store.revoke(claims["jti"], remaining(claims))


def remaining(claims: dict[str, Any]) -> int:
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        return 7 * 24 * 3600
    return max(int(exp - time.time()), 1)
