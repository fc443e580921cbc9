"""An API whose failures hide in the body (Starlette); ``probes/profiles/error-body.toml``.

Its shape differs from target_app on purpose:

- login is ``POST /api/login`` with plain JSON fields ``{"login": ..., "password": ...}``;
- wrong credentials answer **200** ``{"ok": false, "error": "invalid credentials"}``, and a
  malformed login body answers **400**;
- tokens come back at ``data.access`` and ``data.refresh``; ``POST /api/token/refresh`` takes
  ``{"refresh": ...}`` (JSON or form); the scheme is ``Bearer``;
- after 5 failed logins a minute from one address, login answers 429;
- a suspended user can log in but gets 403 everywhere;
- no OpenAPI document.

It is secure for the status-code and header checks but for one planted issue: every response
carries an ``X-Powered-By`` banner (``HDR-SERVER-BANNER``, severity low).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict, deque
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from tests.remote.apps.common import Instrumented, Ledger, User

ALGORITHM = "HS256"
ACCESS_LIFETIME = 600
REFRESH_LIFETIME = 24 * 3600
ALLOWED_ORIGINS = ["https://shop.example"]
FAILED_LOGINS_PER_MINUTE = 5
BANNER = {"x-powered-by": "error-body-fixture/1.0"}


def error(message: str, status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status, headers=headers)


class Denied(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def create_app(users: list[User], secret: str, ledger: Ledger) -> ASGIApp:
    by_login = {user.username: user for user in users}
    failures: dict[str, deque[float]] = defaultdict(deque)

    def issue(user: User) -> dict[str, Any]:
        now = int(time.time())
        pair = {}
        for typ, lifetime in (("access", ACCESS_LIFETIME), ("refresh", REFRESH_LIFETIME)):
            claims = {"sub": user.username, "typ": typ, "iat": now, "exp": now + lifetime}
            pair[typ] = jwt.encode({**claims, "jti": uuid.uuid4().hex}, secret, ALGORITHM)
        ledger.issued.extend(pair.values())
        return {"ok": True, "data": {**pair, "token_type": "Bearer", "expires_in": ACCESS_LIFETIME}}

    def decode(token: str, typ: str) -> User | None:
        try:
            claims = jwt.decode(
                token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "typ"]}
            )
        except jwt.PyJWTError:
            return None
        if claims["typ"] != typ:
            ledger.auth_rejected[f"{claims['typ']} token used as {typ}"] += 1
            return None
        return by_login.get(str(claims["sub"]))

    def unauthorized(reason: str, presented: bool) -> Denied:
        ledger.auth_rejected[reason] += 1
        challenge = 'Bearer realm="error-body"' + (', error="invalid_token"' if presented else "")
        return Denied(error(reason, 401, **{"WWW-Authenticate": challenge}))

    def authenticate(request: Request) -> User:
        header = request.headers.get("authorization")
        if not header:
            raise unauthorized("authentication required", presented=False)
        scheme, _, token = header.partition(" ")
        ledger.auth_schemes[scheme] += 1
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("wrong scheme", presented=True)
        user = decode(token, "access")
        if user is None:
            raise unauthorized("invalid token", presented=True)
        if not user.active:
            raise Denied(error("account suspended", 403))
        ledger.auth_accepted[user.username] += 1
        return user

    def rate_limited(client: str) -> bool:
        window = failures[client]
        now = time.monotonic()
        while window and now - window[0] > 60:
            window.popleft()
        return len(window) >= FAILED_LOGINS_PER_MINUTE

    async def json_body(request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def login(request: Request) -> JSONResponse:
        client = request.client.host if request.client else "?"
        if rate_limited(client):
            ledger.logins_refused["rate limited"] += 1
            return error("too many attempts", 429, **{"Retry-After": "60"})
        body = await json_body(request)
        if body is None or not all(isinstance(body.get(k), str) for k in ("login", "password")):
            ledger.logins_refused["malformed"] += 1
            return error("malformed request: expected JSON with login and password", 400)
        user = by_login.get(body["login"])
        if user is None or not user.password_matches(body["password"]):
            failures[client].append(time.monotonic())
            ledger.logins_refused["invalid"] += 1
            return error("invalid credentials")
        ledger.logins_ok[user.username] += 1
        return JSONResponse(issue(user))

    async def refresh(request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await json_body(request)
        else:
            body = dict(await request.form())
        token = body.get("refresh") if body else None
        user = decode(token, "refresh") if isinstance(token, str) else None
        if user is None or not user.active:
            return error("invalid refresh token", 401, **{"WWW-Authenticate": "Bearer"})
        return JSONResponse(issue(user))

    async def me(request: Request) -> JSONResponse:
        user = authenticate(request)
        return JSONResponse({"ok": True, "data": {"login": user.username, "role": user.role}})

    async def orders(request: Request) -> JSONResponse:
        authenticate(request)
        return JSONResponse({"ok": True, "data": []})

    async def admin_stats(request: Request) -> JSONResponse:
        user = authenticate(request)
        if user.role != "admin":
            return error("admins only", 403)
        return JSONResponse({"ok": True, "data": {"users": len(users)}})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def denied(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Denied)
        return exc.response

    app = Starlette(
        routes=[
            Route("/api/login", login, methods=["POST"]),
            Route("/api/token/refresh", refresh, methods=["POST"]),
            Route("/api/me", me),
            Route("/api/orders", orders),
            Route("/api/admin/stats", admin_stats),
            Route("/healthz", health),
        ],
        exception_handlers={Denied: denied},
    )
    cors = CORSMiddleware(
        app,
        allow_origins=ALLOWED_ORIGINS,
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type"],
    )
    return Instrumented(cors, ledger, extra=BANNER)
