"""The rate-limit harness's pure parts: burst verdicts, the X-RateLimit-Remaining proof, variants,
request bodies from OpenAPI schemas, Retry-After parsing, the burst curl and remote pacing."""

from __future__ import annotations

import time
from email.utils import formatdate
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from probes.harness.evidence import Exchange
from probes.harness.limits import Limit, PacingExhausted
from probes.harness.profile import Route
from probes.harness.ratelimit import (
    Answer,
    Burst,
    Call,
    RouteLimit,
    Windows,
    body_for,
    burst_curl,
    header_variants,
    judge_burst,
    method_variants,
    path_variants,
    processed,
    retry_after_valid,
    wait_hint,
)

LOGIN = Limit(5, 60)
# A fixed start 30 s into a clock-aligned minute: a burst started at time.time() crosses a minute
# boundary once in 60 runs, and a remote burst that may cross one is rightly judged unclear.
MID_MINUTE = 1_700_000_010.0


def burst(
    statuses: list[int | None],
    remaining: list[int | None] | None = None,
    workers: list[str | None] | None = None,
    seconds: float = 1.0,
    started: float = MID_MINUTE,
) -> Burst:
    remaining = remaining or [None] * len(statuses)
    workers = workers or [None] * len(statuses)
    answers = [
        Answer("", status, worker=worker, remaining=left)
        for status, left, worker in zip(statuses, remaining, workers, strict=True)
    ]
    return Burst(answers, LOGIN, started, seconds, "127.0.0.9")


def test_more_allowed_than_the_limit_is_a_finding() -> None:
    assert judge_burst(burst([401] * 6 + [429] * 19), 4, remote=False)[0] == "finding"


def test_a_burst_that_may_span_two_windows_is_held_to_twice_the_limit() -> None:
    long = burst([401] * 8 + [429] * 17, seconds=61.0)
    assert judge_burst(long, 4, remote=False) == (
        "unclear",
        "the burst may have spanned two windows",
    )
    assert judge_burst(burst([401] * 11 + [429] * 14, seconds=61.0), 4, remote=False)[0] == (
        "finding"
    )


def test_one_counter_in_one_burst_is_clean_only_when_two_processes_answered() -> None:
    statuses = [401] * 5 + [429] * 20
    spread = burst(statuses, workers=["1", "2"] * 12 + ["1"])
    assert judge_burst(spread, 4, remote=False) == ("clean", "")
    single = burst(statuses, workers=["1"] * 25)
    assert judge_burst(single, 4, remote=False)[0] == "unclear"
    assert judge_burst(burst(statuses), 4, remote=True) == ("clean", "")


def test_a_remote_burst_across_a_clock_aligned_window_edge_is_unclear() -> None:
    statuses = [401] * 5 + [429] * 20
    across = burst(statuses, started=MID_MINUTE + 29.5)
    assert judge_burst(across, 4, remote=True) == (
        "unclear",
        "the burst may have spanned two windows",
    )
    # Locally a fresh window starts at the burst (a new source address), so no edge is crossed.
    assert judge_burst(across, 4, remote=False) == ("clean", "")


def test_failed_requests_leave_a_burst_unclear() -> None:
    outcome, why = judge_burst(burst([401] * 5 + [None] + [429] * 19), 4, remote=False)
    assert outcome == "unclear" and "1 of 25 requests failed" in why


@pytest.mark.parametrize(
    ("values", "proof"),
    [
        ([4, 3, 2, 1, 0], False),  # one counter, read in order
        ([0, 0, 0, 0, 0], False),  # one counter, read after every hit landed (concurrency)
        ([3, 3, 2], False),  # the first two hits both read after the second
        ([4, 4], True),  # two first hits: two counters
        ([4, 3, 3, 2], True),
        ([5, 4, 3], False),  # a target that reports the count before the hit
        ([5, 5], True),
    ],
)
def test_remaining_values_prove_separate_counters_only_beyond_what_one_allows(
    values: list[int], proof: bool
) -> None:
    statuses: list[int | None] = [401] * len(values)
    found = burst(statuses, list(values)).remaining_proof()
    assert (found is not None) == proof, found
    if proof:
        assert judge_burst(burst(statuses, list(values)), 4, remote=False)[0] == "finding"


def test_processed_means_the_handler_answered() -> None:
    assert [processed(s) for s in (200, 202, 401, 403, 409)] == [True] * 5
    assert [processed(s) for s in (None, 307, 400, 404, 405, 422, 429, 500, 503)] == [False] * 9


CALL = Call("POST", "/auth/login", {"data": {"username": "u"}, "headers": {"A": "1"}})


def test_path_variants_keep_the_route_but_change_its_spelling() -> None:
    paths = {v.label.split(":")[0]: v.path for v in path_variants(CALL)}
    assert paths["trailing slash"] == "/auth/login/"
    assert paths["upper case"] == "/AUTH/LOGIN"
    assert paths["percent-encoded letter"] == "/auth/%6Cogin"
    assert paths["double slash"] == "//auth/login"
    assert paths["extra query string"].startswith("/auth/login?rl=")


def test_header_variants_spoof_a_new_documentation_address_each_time() -> None:
    variants = {v.label.split(":")[0]: v for v in header_variants(CALL)}
    assert set(variants) == {
        "X-Forwarded-For",
        "X-Real-IP",
        "Forwarded",
        "True-Client-IP",
        "X-Client-IP",
    }
    xff = variants["X-Forwarded-For"]
    first, again = xff.arguments(0)["headers"], xff.arguments(1)["headers"]
    assert first["A"] == "1" and first["X-Forwarded-For"].startswith("203.0.113.")
    assert variants["Forwarded"].kwargs["headers"]["Forwarded"].startswith("for=203.0.113.")
    assert xff.arguments(0) is xff.kwargs and again["X-Forwarded-For"].startswith("203.0.113.")


def test_method_variants_use_head_and_overrides() -> None:
    variants = method_variants(CALL)
    assert [(v.method, v.kwargs["headers"].get("X-HTTP-Method-Override")) for v in variants] == [
        ("HEAD", None),
        ("GET", "POST"),
        ("GET", None),
    ]
    assert variants[2].kwargs["headers"]["X-Method-Override"] == "POST"


DOCUMENT: dict[str, Any] = {
    "paths": {
        "/auth/password-reset": {
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/EmailIn"}}
                    }
                }
            }
        },
        "/auth/verify-email": {
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["token", "count"],
                                "properties": {
                                    "token": {"type": "string", "minLength": 1},
                                    "count": {"type": "integer", "minimum": 2},
                                    "optional": {"type": "string"},
                                },
                            }
                        }
                    }
                }
            }
        },
    },
    "components": {
        "schemas": {
            "EmailIn": {
                "type": "object",
                "required": ["email"],
                "properties": {"email": {"type": "string", "minLength": 3}},
            }
        }
    },
}


def test_bodies_come_from_the_openapi_schema_with_reserved_addresses() -> None:
    reset = body_for(DOCUMENT, Route(method="POST", path="/auth/password-reset"))
    assert reset["json"]["email"].endswith("@example.invalid")
    verify = body_for(DOCUMENT, Route(method="POST", path="/auth/verify-email"))
    assert set(verify["json"]) == {"token", "count"} and verify["json"]["count"] == 2
    named = body_for(
        DOCUMENT, Route(method="POST", path="/auth/password-reset"), {"mail": "a@example.test"}
    )
    assert named == {"json": {"email": "a@example.test"}}
    assert body_for(DOCUMENT, Route(method="GET", path="/users/me/export")) == {}


def test_wait_hints_read_retry_after_seconds_dates_and_reset_times() -> None:
    assert wait_hint(httpx.Response(429, headers={"retry-after": "42"})) == 42.0
    dated = wait_hint(httpx.Response(429, headers={"retry-after": formatdate(time.time() + 30)}))
    assert dated is not None and 25 <= dated <= 31
    epoch = wait_hint({"x-ratelimit-reset": str(time.time() + 10)})
    assert epoch is not None and 8 <= epoch <= 10.5
    assert wait_hint({"x-ratelimit-reset": "7"}) == 7.0
    assert wait_hint({}) is None
    assert retry_after_valid(httpx.Response(429, headers={"retry-after": "60"}))
    assert retry_after_valid(httpx.Response(429, headers={"retry-after": formatdate()}))
    assert not retry_after_valid(httpx.Response(429))
    assert not retry_after_valid(httpx.Response(429, headers={"retry-after": "soon"}))


def test_the_burst_curl_repeats_the_burst_per_instance() -> None:
    exchange = Exchange(
        "POST",
        "http://127.0.0.1:5000/auth/login",
        {"content-type": "application/x-www-form-urlencoded"},
        "username=a&password=%2A%2A%2A",
    )
    line = burst_curl(exchange, 25, 8, "127.0.3.4")
    assert line.startswith("seq 25 | xargs -P 8 -I{} curl --interface 127.0.3.4 -s -o /dev/null")
    assert line.endswith("| sort | uniq -c")
    two = burst_curl(exchange, 45, 16, None, ["http://127.0.0.1:5000", "http://127.0.0.1:6000"])
    assert two.count("seq 23 | xargs -P 8") == 2
    assert "127.0.0.1:5000/auth/login" in two and "127.0.0.1:6000/auth/login" in two


def test_remote_pacing_waits_for_a_full_window_and_stops_at_its_budget() -> None:
    audit = SimpleNamespace(max_pacing_wait=0)
    target: Any = SimpleNamespace(mode="remote", profile=SimpleNamespace(audit=audit))
    shown: list[str] = []
    windows = Windows(target, shown.append)
    rl = RouteLimit(Route(method="POST", path="/auth/login"), LOGIN, "5/minute", login=True)
    windows.wait(rl)  # nothing sent yet: no wait
    windows.sent(rl, [None, 120.0])
    with pytest.raises(PacingExhausted, match=r"needs 1[12]\d s more"):
        windows.wait(rl)
    assert shown == []
