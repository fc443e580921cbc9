"""A small, deliberately sloppy JWT API for the CORS and OpenAPI-fuzz self-tests (remote mode).

Served by ``uvicorn tests.probes.apps.sloppy:app``; the environment picks the user and the CORS
set-up (``SLOPPY_CORS``):

- ``starlette-wildcard`` (default): Starlette's own ``CORSMiddleware`` with ``allow_origins=["*"]``
  and ``allow_credentials=True``, exactly the trap the CORS probe must report as high severity;
- ``hand-rolled``: a home-made middleware that echoes the trusted origin without ``Vary: Origin``,
  caches preflights for a day, and answers every other origin with ``*`` plus credentials.

Its OpenAPI document declares bearer security on ``/notes`` too, which never checks it, and
``/reports`` divides by its ``page`` parameter, so ``page=0`` is an unhandled error (500).
"""

import os
import secrets
import time
from typing import Annotated

import jwt
from fastapi import Depends, FastAPI, Form, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TRUSTED = "https://app.sloppy.test"
SECRET = secrets.token_hex(32)
USERNAME = os.environ.get("SLOPPY_USERNAME", "")
PASSWORD = os.environ.get("SLOPPY_PASSWORD", "")
bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class HandRolledCors:
    """CORS written by hand: the trusted origin is echoed without Vary, others get '*'."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def grant(self, origin: str) -> dict[str, str]:
        echoed = origin if origin == TRUSTED else "*"
        return {"access-control-allow-origin": echoed, "access-control-allow-credentials": "true"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            headers = {
                **self.grant(origin),
                "access-control-allow-methods": "GET, POST",
                "access-control-allow-headers": "authorization, content-type",
                "access-control-max-age": "86400",
            }
            await PlainTextResponse("OK", headers=headers)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(self.grant(origin))
            await send(message)

        await self.app(scope, receive, send_with_cors)


app = FastAPI(title="sloppy")
if os.environ.get("SLOPPY_CORS", "starlette-wildcard") == "hand-rolled":
    app.add_middleware(HandRolledCors)
else:
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_credentials=True,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )


def current_user(credentials: Credentials) -> str:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(401, "Not authenticated", headers=challenge)
    try:
        claims = jwt.decode(credentials.credentials, SECRET, algorithms=["HS256"])
    except jwt.PyJWTError:
        raise HTTPException(401, "Invalid token", headers=challenge) from None
    return str(claims["sub"])


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/login")
def login(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> dict[str, str]:
    if not USERNAME or (username, password) != (USERNAME, PASSWORD):
        raise HTTPException(401, "Bad credentials", headers={"WWW-Authenticate": "Bearer"})
    now = int(time.time())
    claims = {"sub": username, "iat": now, "exp": now + 900}
    return {"access_token": jwt.encode(claims, SECRET, algorithm="HS256")}


@app.get("/me")
def me(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
    return {"user": user}


@app.get("/notes")
def notes(credentials: Credentials) -> list[str]:
    # Declares bearer security in the OpenAPI document, and never looks at it.
    return ["anyone can read this"]


@app.get("/reports")
def reports(page: int) -> dict[str, int]:
    return {"page": page, "per_page": 100 // page}
