"""Exception handlers: a clear JSON answer for every failure, never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from slowapi import _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded
from sqlalchemy.exc import DBAPIError, OperationalError

from target_app.core.revocation import StoreUnavailable

log = logging.getLogger("target_app")


async def store_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    # Fail closed: without the revocation store or the limiter storage, nothing is let through.
    log.warning("shared store unavailable: %s", exc)
    return JSONResponse({"detail": "Service temporarily unavailable"}, status_code=503)


async def database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    return JSONResponse({"detail": "Database unavailable"}, status_code=503)


async def unhandled(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error: %s", type(exc).__name__)
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnavailable, store_unavailable)
    app.add_exception_handler(RedisError, store_unavailable)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(DBAPIError, database_unavailable)
    app.add_exception_handler(ConnectionError, database_unavailable)
    app.add_exception_handler(Exception, unhandled)
