"""A RealWorld "Conduit"-style API (FastAPI), described by ``probes/profiles/conduit.toml``.

Its shape differs from target_app on purpose:

- login is ``POST /api/users/login`` with ``{"user": {"email": ..., "password": ...}}``;
- the token comes back at ``user.token``, and is sent as ``Authorization: Token <jwt>``;
- a failed login is 422 ``{"errors": {"email or password": ["is invalid"]}}``, as in Conduit;
- an inactive user is refused at login; there is no refresh token.

No ``from __future__ import annotations`` here: FastAPI resolves the ``CurrentUser`` dependency
defined inside ``create_app`` from the live annotation.

It is secure for the status-code and header checks: 401 with a ``Token`` challenge for any bad
credential, 403 for a user on the admin route, and the security headers on every response.
"""

import time
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from tests.remote.apps.common import Instrumented, Ledger, User

ALGORITHM = "HS256"
ACCESS_LIFETIME = 900
ALLOWED_ORIGINS = ["https://conduit.example"]
CHALLENGE = 'Token realm="conduit"'

# Declares the security scheme in OpenAPI, so the probes find the secured operations there.
authorization = APIKeyHeader(name="Authorization", scheme_name="Token", auto_error=False)
# The error answers of the secured operations, declared in OpenAPI as they are sent.
UNAUTHORIZED = {401: {"description": "no valid token (with a Token challenge)"}}
FORBIDDEN = {403: {"description": "the account may not do this"}}
SECURED = {**UNAUTHORIZED, **FORBIDDEN}


class Credentials(BaseModel):
    email: str
    password: str


class LoginBody(BaseModel):
    user: Credentials


class UserUpdate(BaseModel):
    bio: str | None = None


def create_app(users: list[User], secret: str, ledger: Ledger) -> ASGIApp:
    by_email = {user.username: user for user in users}
    by_id = {user.id: user for user in users}
    bios: dict[str, str | None] = {}
    app = FastAPI(title="conduit-like fixture", docs_url=None, redoc_url=None)

    def unauthorized(reason: str) -> HTTPException:
        ledger.auth_rejected[reason] += 1
        return HTTPException(401, {"errors": {"token": [reason]}}, {"WWW-Authenticate": CHALLENGE})

    def current_user(header: Annotated[str | None, Depends(authorization)]) -> User:
        if not header:
            raise unauthorized("missing")
        scheme, _, token = header.partition(" ")
        ledger.auth_schemes[scheme] += 1
        if scheme != "Token" or not token:
            raise unauthorized("wrong scheme")
        try:
            claims = jwt.decode(
                token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "iat", "sub"]}
            )
        except jwt.PyJWTError:
            raise unauthorized("invalid token") from None
        user = by_id.get(str(claims["sub"]))
        if user is None:
            raise unauthorized("unknown user")
        if not user.active:
            raise HTTPException(403, {"errors": {"account": ["is inactive"]}})
        ledger.auth_accepted[user.username] += 1
        return user

    CurrentUser = Annotated[User, Depends(current_user)]

    def public(user: User) -> dict[str, Any]:
        return {"email": user.username, "username": user.username.split("@")[0], "image": None}

    @app.post("/api/users/login", responses={422: {"description": "email or password is invalid"}})
    def login(body: LoginBody) -> Any:
        user = by_email.get(body.user.email)
        if user is None or not user.password_matches(body.user.password):
            ledger.logins_refused["invalid"] += 1
            return JSONResponse({"errors": {"email or password": ["is invalid"]}}, 422)
        if not user.active:
            ledger.logins_refused["inactive"] += 1
            return JSONResponse({"errors": {"email or password": ["is invalid"]}}, 422)
        now = int(time.time())
        token = jwt.encode(
            {"sub": user.id, "iat": now, "exp": now + ACCESS_LIFETIME}, secret, ALGORITHM
        )
        ledger.logins_ok[user.username] += 1
        ledger.issued.append(token)
        return {"user": {**public(user), "bio": bios.get(user.id), "token": token}}

    @app.get("/api/user", responses=SECURED)
    def me(user: CurrentUser) -> Any:
        return {"user": {**public(user), "bio": bios.get(user.id)}}

    @app.put("/api/user", responses=SECURED)
    def update_me(user: CurrentUser, body: UserUpdate) -> Any:
        bios[user.id] = body.bio
        return {"user": {**public(user), "bio": body.bio}}

    @app.get("/api/articles/feed", responses=SECURED)
    def feed(user: CurrentUser) -> Any:
        return {"articles": [], "articlesCount": 0}

    @app.get("/api/tags")
    def tags() -> Any:
        return {"tags": ["jwt", "security"]}

    @app.get("/api/admin/users", responses=SECURED)
    def admin_users(user: CurrentUser) -> Any:
        if user.role != "admin":
            raise HTTPException(403, {"errors": {"authorization": ["admins only"]}})
        return {"users": [public(u) for u in users]}

    cors = CORSMiddleware(
        app,
        allow_origins=ALLOWED_ORIGINS,
        allow_methods=["GET", "POST", "PUT"],
        allow_headers=["authorization", "content-type"],
    )
    return Instrumented(cors, ledger)
