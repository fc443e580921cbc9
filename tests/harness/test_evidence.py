"""Redaction of evidence, and the curl reproduction built from it."""

from __future__ import annotations

import json
import shlex
from urllib.parse import parse_qs

import httpx
import pytest

from probes.harness.evidence import (
    BODY_LIMIT,
    ELIDED,
    MASK,
    Exchange,
    Redactor,
    record,
)
from probes.harness.forging import b64url_json

HEADER = b64url_json({"alg": "HS256", "typ": "JWT"})
PAYLOAD = b64url_json({"sub": "42", "type": "access"})
SIGNATURE = "c2VjcmV0LXNpZ25hdHVyZS1ieXRlcy0xMjM0NTY3ODkw"
SIGNED = f"{HEADER}.{PAYLOAD}.{SIGNATURE}"
UNSIGNED = f"{b64url_json({'alg': 'none'})}.{PAYLOAD}."
PASSWORD = "Pw-correct-horse-battery"
SECRET = "k" * 48


@pytest.fixture
def redactor() -> Redactor:
    shared = Redactor()
    shared.add_secret(PASSWORD)
    shared.add_secret(SECRET)
    return shared


# --- text ---------------------------------------------------------------------------------------


def test_known_secrets_are_masked_wherever_they_appear(redactor: Redactor) -> None:
    text = redactor.text(f"login with {PASSWORD}; key={SECRET}; again {PASSWORD}")
    assert PASSWORD not in text and SECRET not in text
    assert text == f"login with {MASK}; key={MASK}; again {MASK}"


def test_very_short_values_are_not_treated_as_secrets() -> None:
    redactor = Redactor()
    redactor.add_secret("abc")  # would mask every "abc" in every body
    redactor.add_secret(None)
    redactor.add_secret("")
    assert redactor.text("abc abcd") == "abc abcd"


def test_a_longer_secret_is_masked_before_a_shorter_one_inside_it() -> None:
    redactor = Redactor()
    redactor.add_secret("token")
    redactor.add_secret("token-and-more")
    assert redactor.text("x token-and-more y") == f"x {MASK} y"


def test_jwt_keeps_header_and_payload_but_not_its_signature(redactor: Redactor) -> None:
    text = redactor.text(f"Bearer {SIGNED}")
    assert text == f"Bearer {HEADER}.{PAYLOAD}.{ELIDED}"
    assert SIGNATURE not in text


def test_alg_none_token_with_empty_signature_is_kept_as_is(redactor: Redactor) -> None:
    assert redactor.text(f"Bearer {UNSIGNED}") == f"Bearer {UNSIGNED}"


def test_every_token_in_a_text_is_elided(redactor: Redactor) -> None:
    text = redactor.text(f"{SIGNED} and {SIGNED}x and ?token={SIGNED}&a=1")
    assert SIGNATURE not in text
    assert text.count(ELIDED) == 3
    assert text.endswith("&a=1")


# --- headers ------------------------------------------------------------------------------------


def test_cookies_are_masked_and_authorization_tokens_elided(redactor: Redactor) -> None:
    headers = redactor.headers(
        [
            ("Cookie", "session=abcdef123456"),
            ("Set-Cookie", "refresh=xyz; HttpOnly"),
            ("X-API-Key", "api-key-value"),
            ("Authorization", f"Bearer {SIGNED}"),
            ("Content-Type", "application/json"),
        ]
    )
    assert headers == {
        "cookie": MASK,
        "set-cookie": MASK,
        "x-api-key": MASK,
        "authorization": f"Bearer {HEADER}.{PAYLOAD}.{ELIDED}",
        "content-type": "application/json",
    }


def test_a_refresh_token_known_as_a_secret_is_masked_whole(redactor: Redactor) -> None:
    refresh = f"{HEADER}.{b64url_json({'sub': '42', 'type': 'refresh'})}.{SIGNATURE}"
    redactor.add_secret(refresh)
    headers = redactor.headers([("Authorization", f"Bearer {refresh}")])
    assert headers == {"authorization": f"Bearer {MASK}"}


# --- bodies -------------------------------------------------------------------------------------


def test_json_body_masks_secret_fields_at_any_depth(redactor: Redactor) -> None:
    body = {
        "user": {"email": "alice@example.test", "password": "unseen-1", "token": SIGNED},
        "access_token": SIGNED,
        "refresh_token": "opaque-refresh-value",
        "client_secret": "cs-value",
        "items": [{"api_key": "ak-value"}, {"name": "kept"}],
        "new_password": "",  # nothing to hide: shown as empty
    }
    out = json.loads(redactor.body(json.dumps(body).encode(), "application/json; charset=utf-8"))
    assert out == {
        "user": {
            "email": "alice@example.test",
            "password": MASK,
            "token": f"{HEADER}.{PAYLOAD}.{ELIDED}",
        },
        "access_token": f"{HEADER}.{PAYLOAD}.{ELIDED}",
        "refresh_token": MASK,
        "client_secret": MASK,
        "items": [{"api_key": MASK}, {"name": "kept"}],
        "new_password": "",
    }


def test_form_body_masks_password_and_refresh_fields(redactor: Redactor) -> None:
    raw = b"username=alice%40example.test&password=unseen-2&refresh_token=rt-value&grant=x"
    out = parse_qs(redactor.body(raw, "application/x-www-form-urlencoded"))
    assert out == {
        "username": ["alice@example.test"],
        "password": [MASK],
        "refresh_token": [MASK],
        "grant": ["x"],
    }


def test_invalid_json_and_plain_text_still_lose_secrets_and_signatures(redactor: Redactor) -> None:
    for content_type in ("application/json", "text/plain", ""):
        out = redactor.body(f'{{"broken": "{PASSWORD}" {SIGNED}'.encode(), content_type)
        assert PASSWORD not in out and SIGNATURE not in out
        assert ELIDED in out


def test_a_long_body_is_truncated(redactor: Redactor) -> None:
    out = redactor.body(b"a" * (BODY_LIMIT * 10), "text/plain")
    assert out == "a" * BODY_LIMIT + "…(truncated)"


def test_record_redacts_request_and_response(redactor: Redactor) -> None:
    request = httpx.Request(
        "POST",
        f"http://127.0.0.1:8000/auth/refresh?token={SIGNED}",
        json={"refresh_token": "rt-secret-value", "password": PASSWORD},
        headers={"Authorization": f"Bearer {SIGNED}", "Cookie": "sid=1234567"},
    )
    response = httpx.Response(
        200,
        json={"access_token": SIGNED, "refresh_token": "rt-new-value"},
        headers={"Set-Cookie": "sid=7654321"},
    )
    exchange = record(redactor, request, response, elapsed_ms=12.5)
    dumped = json.dumps(exchange.to_dict())
    for secret in (SIGNATURE, PASSWORD, "rt-secret-value", "rt-new-value", "1234567", "7654321"):
        assert secret not in dumped
    assert exchange.status == 200
    assert exchange.url == f"http://127.0.0.1:8000/auth/refresh?token={HEADER}.{PAYLOAD}.{ELIDED}"
    assert json.loads(exchange.response_body)["access_token"] == f"{HEADER}.{PAYLOAD}.{ELIDED}"


def test_record_without_a_response_keeps_the_error(redactor: Redactor) -> None:
    request = httpx.Request("GET", "http://127.0.0.1:8000/users/me")
    exchange = record(redactor, request, None, error="ConnectError: refused")
    assert exchange.to_dict() == {
        "method": "GET",
        "url": "http://127.0.0.1:8000/users/me",
        "request_headers": {"host": "127.0.0.1:8000"},
        "error": "ConnectError: refused",
    }


# --- curl ---------------------------------------------------------------------------------------


def test_curl_reproduces_method_url_headers_and_body() -> None:
    exchange = Exchange(
        method="POST",
        url="http://127.0.0.1:8000/auth/login?next=/a b",
        request_headers={
            "host": "127.0.0.1:8000",
            "content-length": "40",
            "accept-encoding": "gzip",
            "connection": "keep-alive",
            "user-agent": "python-httpx",
            "content-type": "application/json",
            "authorization": f"Bearer {HEADER}.{PAYLOAD}.{ELIDED}",
        },
        request_body='{"username": "o\'brien", "password": "***"}',
    )
    command = exchange.curl()
    assert shlex.split(command) == [
        "curl", "-i", "-X", "POST", "http://127.0.0.1:8000/auth/login?next=/a b",
        "-H", "content-type: application/json",
        "-H", f"authorization: Bearer {HEADER}.{PAYLOAD}.{ELIDED}",
        "--data-raw", '{"username": "o\'brien", "password": "***"}',
    ]  # fmt: skip


def test_curl_without_a_body_has_no_data() -> None:
    exchange = Exchange(
        method="GET", url="http://127.0.0.1:8000/", request_headers={}, request_body=""
    )
    assert exchange.curl() == "curl -i -X GET http://127.0.0.1:8000/"
