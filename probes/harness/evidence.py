"""Evidence: the request/response pairs a check relied on, redacted, and a curl reproduction.

Redaction rules (DESIGN.md): no password, secret, cookie or refresh token appears in any artifact.
A JWT keeps its header and payload; its signature is elided, except an empty one (alg none), which
is shown as it is because it is the point of the evidence.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.([A-Za-z0-9_-]*)")
SECRET_FIELDS = re.compile(r"pass|secret|refresh|cookie|credential|api[-_]?key", re.IGNORECASE)
MASKED_HEADERS = {"cookie", "set-cookie", "proxy-authorization", "x-api-key"}
ELIDED = "<signature-elided>"
MASK = "***"
BODY_LIMIT = 2048


class Redactor:
    """Masks every known secret value, secret-named field, cookie and JWT signature."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add_secret(self, value: str | None) -> None:
        if value and len(value) >= 4:
            self._secrets.add(value)

    def text(self, value: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
        return JWT_RE.sub(_elide_signature, value)

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            out[key] = MASK if key in MASKED_HEADERS else self.text(value)
        return out

    def body(self, raw: bytes, content_type: str) -> str:
        text = raw[: BODY_LIMIT * 4].decode("utf-8", errors="replace")
        if "json" in content_type:
            with contextlib.suppress(ValueError):
                text = json.dumps(_mask_fields(json.loads(text)), ensure_ascii=False)
        elif "x-www-form-urlencoded" in content_type:
            pairs = parse_qsl(text, keep_blank_values=True)
            text = urlencode([(k, MASK if SECRET_FIELDS.search(k) else v) for k, v in pairs])
        text = self.text(text)
        return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + "…(truncated)"


def _elide_signature(match: re.Match[str]) -> str:
    token = match.group(0)
    if not match.group(1):
        return token  # unsigned: show as is
    return token[: match.start(1) - match.start(0)] + ELIDED


def _mask_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (MASK if SECRET_FIELDS.search(str(k)) and v else _mask_fields(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_fields(v) for v in value]
    return value


@dataclass
class Exchange:
    """One request and its response (or the error instead of a response), redacted."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    elapsed_ms: float | None = None
    error: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "", {})}

    def curl(self) -> str:
        parts = ["curl", "-i", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.request_headers.items():
            if name in {"host", "content-length", "accept-encoding", "connection", "user-agent"}:
                continue
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.request_body:
            parts += ["--data-raw", shlex.quote(self.request_body)]
        return " ".join(parts)


def record(
    redactor: Redactor,
    request: httpx.Request,
    response: httpx.Response | None,
    *,
    error: str | None = None,
    elapsed_ms: float | None = None,
) -> Exchange:
    content_type = request.headers.get("content-type", "")
    exchange = Exchange(
        method=request.method,
        url=redactor.text(str(request.url)),
        request_headers=redactor.headers(request.headers.multi_items()),
        request_body=redactor.body(request.content, content_type) if request.content else "",
        error=error,
        elapsed_ms=elapsed_ms,
    )
    if response is not None:
        exchange.status = response.status_code
        exchange.response_headers = redactor.headers(response.headers.multi_items())
        exchange.response_body = redactor.body(
            response.content, response.headers.get("content-type", "")
        )
    return exchange
