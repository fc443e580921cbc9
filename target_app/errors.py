"""Exception handlers: a clear JSON answer for every failure, never a stack trace."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from slowapi import _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded
from sqlalchemy.exc import DBAPIError, OperationalError

from target_app.core.revocation import StoreUnavailable

log = logging.getLogger("target_app")


class AsciiJSONResponse(JSONResponse):
    """JSON escaped to ASCII: a 422 echoes the input, which may hold a lone surrogate that UTF-8
    cannot encode (the default rendering then fails with a 500)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode()


async def validation_failed(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # FastAPI's own 422 body without the submitted values: a refused password is not echoed.
    errors = [{k: v for k, v in e.items() if k not in ("input", "ctx")} for e in exc.errors()]
    return AsciiJSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


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
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnavailable, store_unavailable)
    app.add_exception_handler(RedisError, store_unavailable)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(DBAPIError, database_unavailable)
    app.add_exception_handler(ConnectionError, database_unavailable)
    # The database driver's connect or command timeout (Redis timeouts are RedisErrors).
    app.add_exception_handler(TimeoutError, database_unavailable)
    app.add_exception_handler(Exception, unhandled)
