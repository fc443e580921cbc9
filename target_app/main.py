"""The application factory: ``create_app()`` reads settings from the environment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from target_app import __version__, errors
from target_app.api.routes import admin, auth, meta, users
from target_app.core.config import Settings, validate
from target_app.core.cors import cors_options
from target_app.core.headers import SecurityHeadersMiddleware, WorkerHeaderMiddleware
from target_app.core.keys import load_keys
from target_app.core.passwords import PasswordHasher
from target_app.core.ratelimit import build_limiter
from target_app.core.revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from target_app.core.security import TokenService
from target_app.db import create_tables, make_engine, make_sessionmaker
from target_app.schemas import Message


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    validate(settings)
    prefix = settings.redis_prefix
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await create_tables(engine)
        yield
        await app.state.revocation.close()
        await engine.dispose()

    app = FastAPI(title="target_app", version=__version__, lifespan=lifespan)
    limiter = build_limiter(settings, prefix=f"{prefix}:rl")
    app.state.settings = settings
    app.state.limiter = limiter
    app.state.keys = load_keys(settings)
    app.state.tokens = TokenService(settings, app.state.keys)
    app.state.hasher = PasswordHasher(settings.bcrypt_rounds)
    app.state.revocation = _revocation_store(settings, prefix)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)

    app.include_router(meta.router, responses=documented(429, 503))
    auth_errors = documented(400, 401, 403, 409, 429, 503)
    app.include_router(auth.router(limiter, settings), responses=auth_errors)
    app.include_router(users.router(limiter, settings), responses=documented(401, 403, 429, 503))
    app.include_router(admin.router, responses=documented(401, 403, 429, 503))
    errors.install(app)
    _add_middleware(app, settings)
    return app


def documented(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error answers a route can give, so clients (and fuzzers) know."""
    reasons = {
        400: "Malformed request body",
        401: "Missing, malformed, expired or revoked token (with WWW-Authenticate: Bearer)",
        403: "Authenticated, but inactive or lacking the role",
        409: "Already exists",
        429: "Rate limit exceeded (with Retry-After)",
        503: "Revocation store, limiter storage or database unavailable (fail closed)",
    }
    return {code: {"model": Message, "description": reasons[code]} for code in codes}


def _revocation_store(settings: Settings, prefix: str) -> RevocationStore:
    if settings.redis_url and not settings.flaws.on("revocation_per_process"):
        return RedisRevocationStore(
            settings.redis_url,
            prefix=f"{prefix}:rev",
            fail_open=settings.flaws.on("revocation_fail_open"),
        )
    return MemoryRevocationStore()


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    flaws = settings.flaws
    # Starlette runs the last-added middleware first: CORS inside, security headers outermost.
    app.add_middleware(CORSMiddleware, **cors_options(settings))
    if settings.diagnostic_headers:
        app.add_middleware(WorkerHeaderMiddleware)
    coverage = "all"
    if flaws.on("no_security_headers"):
        coverage = "none"
    elif flaws.on("headers_missing_on_errors_and_preflight"):
        coverage = "success_only"
    app.add_middleware(
        SecurityHeadersMiddleware,
        coverage=coverage,
        no_store=not flaws.on("no_cache_control"),
        force_hsts=settings.force_hsts,
        banner=flaws.on("server_banner"),
    )
