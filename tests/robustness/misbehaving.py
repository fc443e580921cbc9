"""A small JWT API on loopback, insecure on purpose, that can be told to misbehave as well.

Shaped like target_app (form login at ``/auth/login``, ``access_token``/``refresh_token`` in the
JSON answer, ``Bearer`` tokens, ``/users/me``, ``/admin/users``, ``/health``). It is vulnerable in
every way the status-code and header families look at, so when it behaves they report findings;
when it also misbehaves, a check that passes has let the failure hide a flaw. Its flaws:

- no security headers at all, and an ``X-Powered-By`` banner;
- no token: 401 without a challenge; an invalid token: 403;
- ``/users/me/orders`` is served without a token, and a malformed token there is a 500;
- the low-privilege user reads ``/admin/users``; the inactive user gets 401 (not 403).

Its JWT handling is sound (PyJWT, HS256 only, ``exp`` required).

Behaviours (``/health`` always answers, so checks run and meet the fault themselves):

- ``none``: behaves;
- ``drop``: closes every connection without an answer;
- ``slow``: answers every request only after ``delay`` seconds (past the harness timeout);
- ``flaky``: every other request gets a 5xx (500, 502, 503 in turn); ``phase`` 0 fails the first
  request, 1 the second;
- ``redirect``: every request is redirected to the same path on another host (127.0.0.2);
- ``html_login``: the login answers 200 with an HTML page, not JSON;
- ``token_elsewhere``: the login answers 200 ``{"status": "ok"}`` and puts the token in a cookie
  and an ``X-Access-Token`` header, not in the body.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt

BEHAVIOURS = ("none", "drop", "slow", "flaky", "redirect", "html_login", "token_elsewhere")
# The only extra header: a banner.
BANNER = {"X-Powered-By": "faulty-fixture/1.0"}
ACCESS_SECONDS = 900
REFRESH_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str = "user"
    active: bool = True
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Misbehaving:
    url: str
    behaviour: str
    accounts: dict[str, Account]  # profile role -> account
    secret: str
    issued: list[str] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    elsewhere: Counter[str] = field(default_factory=Counter)  # what reached the other host
    misbehaved: int = 0

    def env(self) -> dict[str, str]:
        values = {}
        for role, account in self.accounts.items():
            values[f"FAULTY_{role.upper()}_LOGIN"] = account.username
            values[f"FAULTY_{role.upper()}_PASSWORD"] = account.password
        return values

    def sensitive(self) -> list[str]:
        return [a.password for a in self.accounts.values()] + [self.secret, *self.issued]


PROFILE = """\
name = "misbehaving"

[login]
path = "/auth/login"
format = "form"

[tokens]
access = "access_token"
refresh = "refresh_token"
scheme = "Bearer"

[routes]
protected = ["GET /users/me", "GET /users/me/orders"]
admin = "GET /admin/users"

[users.user]
username_env = "FAULTY_USER_LOGIN"
password_env = "FAULTY_USER_PASSWORD"

[users.admin]
username_env = "FAULTY_ADMIN_LOGIN"
password_env = "FAULTY_ADMIN_PASSWORD"

[users.inactive]
username_env = "FAULTY_INACTIVE_LOGIN"
password_env = "FAULTY_INACTIVE_PASSWORD"

[expectations]
health = "/health"
"""


def _accounts() -> dict[str, Account]:
    return {
        "user": Account("alice@faulty.example", secrets.token_urlsafe(18)),
        "admin": Account("root@faulty.example", secrets.token_urlsafe(18), role="admin"),
        "inactive": Account("ivan@faulty.example", secrets.token_urlsafe(18), active=False),
    }


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The harness may leave connections open; shutdown must not wait for them.
    block_on_close = False


@contextmanager
def misbehaving_api(behaviour: str, delay: float = 3.0, phase: int = 0) -> Iterator[Misbehaving]:
    """Serve the API with ``behaviour`` on 127.0.0.1 (and a recording listener on 127.0.0.2)."""
    assert behaviour in BEHAVIOURS, behaviour
    accounts = _accounts()
    by_name = {a.username: a for a in accounts.values()}
    by_id = {a.id: a for a in accounts.values()}
    stop = threading.Event()
    counter = itertools.count()
    lock = threading.Lock()

    def token(account: Account, kind: str) -> str:
        now = int(time.time())
        lifetime = ACCESS_SECONDS if kind == "access" else REFRESH_SECONDS
        claims = {
            "sub": account.id,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "type": kind,
        }
        value = jwt.encode(claims, api.secret, algorithm="HS256")
        with lock:
            api.issued.append(value)
        return value

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 5

        def log_message(self, format: str, *args: object) -> None:
            pass

        def send_response(self, code: int, message: str | None = None) -> None:
            # No Server banner (BaseHTTPRequestHandler would name itself and Python).
            self.send_response_only(code, message)
            self.send_header("Date", self.date_time_string())

        def _send(
            self,
            status: int,
            body: bytes | dict | list,
            headers: dict[str, str] | None = None,
            content_type: str = "application/json",
        ) -> None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {**BANNER, **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            with lock:
                api.hits[f"{self.command} {path}"] += 1
            if path == "/health":
                self._send(200, {"status": "ok"})
                return
            if self._misbehave(path, body):
                with lock:
                    api.misbehaved += 1
                return
            self._route(path, body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

        def _misbehave(self, path: str, body: bytes) -> bool:
            """Act out the behaviour; True when the request got no normal answer."""
            if behaviour == "drop":
                self.close_connection = True
                return True
            if behaviour == "slow":
                stop.wait(delay)  # returns at once when the server is shut down
                return False
            if behaviour == "flaky":
                turn = next(counter) + phase
                if turn % 2 == 0:
                    status = (500, 502, 503)[(turn // 2) % 3]
                    self._send(status, {"detail": "upstream trouble"})
                    return True
                return False
            if behaviour == "redirect":
                self.send_response(302)
                self.send_header("Location", f"{other_origin}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            if path == "/auth/login" and self.command == "POST":
                if behaviour == "html_login":
                    page = b"<html><body><h1>Welcome back!</h1></body></html>"
                    self._send(200, page, content_type="text/html; charset=utf-8")
                    return True
                if behaviour == "token_elsewhere":
                    account = self._credentials_ok(_form(body))
                    if account is not None:
                        value = token(account, "access")
                        headers = {
                            "X-Access-Token": value,
                            "Set-Cookie": f"session={value}; HttpOnly; Secure; SameSite=Strict",
                        }
                        self._send(200, {"status": "ok"}, headers)
                        return True
            return False

        def _credentials_ok(self, form: dict[str, str]) -> Account | None:
            account = by_name.get(form.get("username", ""))
            if account is None or not secrets.compare_digest(
                account.password.encode(), form.get("password", "").encode()
            ):
                return None
            return account

        def _route(self, path: str, body: bytes) -> None:
            if self.command == "OPTIONS":
                self._send(204, b"", content_type="text/plain")
            elif path == "/auth/login" and self.command == "POST":
                self._login(body)
            elif path == "/users/me/orders" and self.command == "GET":
                # Served to anyone; a malformed token is an unhandled error.
                given = self.headers.get("authorization", "")
                if given and given.count(".") != 2 and self._bearer() is None:
                    self._send(500, {"detail": "Internal Server Error"})
                    return
                self._send(200, {"orders": []})
            elif path in ("/users/me", "/admin/users") and self.command == "GET":
                account = self._bearer()
                if account is None:
                    # 401 without a challenge for no token, 403 for a bad one.
                    bad = bool(self.headers.get("authorization"))
                    self._send(403 if bad else 401, {"detail": "Not authenticated"})
                elif not account.active:
                    self._send(401, {"detail": "Inactive user"})
                elif path == "/admin/users":  # no role check
                    self._send(200, [{"id": a.id, "email": a.username} for a in by_id.values()])
                else:
                    self._send(200, {"id": account.id, "email": account.username})
            else:
                self._send(404, {"detail": "Not Found"})

        def _login(self, body: bytes) -> None:
            if "application/x-www-form-urlencoded" not in self.headers.get("content-type", ""):
                self._send(422, {"detail": "a form body is required"})
                return
            account = self._credentials_ok(_form(body))
            if account is None:
                self._send(401, {"detail": "Incorrect username or password"})
                return
            self._send(
                200,
                {
                    "access_token": token(account, "access"),
                    "refresh_token": token(account, "refresh"),
                    "token_type": "bearer",
                },
            )

        def _bearer(self) -> Account | None:
            scheme, _, value = self.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not value:
                return None
            try:
                claims = jwt.decode(
                    value, api.secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
                )
            except jwt.PyJWTError:
                return None
            if claims.get("type") != "access":
                return None
            return by_id.get(str(claims["sub"]))

    class Elsewhere(BaseHTTPRequestHandler):
        """The other host: anything reaching it is a harness bug (it followed a redirect)."""

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _handle(self) -> None:
            with lock:
                api.elsewhere[f"{self.command} {self.path}"] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_HEAD = _handle

    server = _Server(("127.0.0.1", 0), Handler)
    other = _Server(("127.0.0.2", 0), Elsewhere)
    other_origin = f"http://127.0.0.2:{other.server_address[1]}"
    api = Misbehaving(
        f"http://127.0.0.1:{server.server_address[1]}", behaviour, accounts, secrets.token_hex(32)
    )
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        for s in (server, other)
    ]
    for thread in threads:
        thread.start()
    try:
        yield api
    finally:
        stop.set()
        for s in (server, other):
            s.shutdown()
            s.server_close()
        for thread in threads:
            thread.join(timeout=5)
        assert not any(t.is_alive() for t in threads), "a fixture server thread did not stop"
