"""Offline cracking of an HMAC-signed JWT: a shipped wordlist, then short numeric secrets."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from itertools import product

from probes.harness.forging import split, unb64url

DIGESTS = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
NUMERIC_MAX_DIGITS = 6


@dataclass(frozen=True)
class CrackResult:
    secret: str | None
    tried: int
    seconds: float
    source: str | None = None  # "wordlist" or "numeric"


def wordlist() -> list[str]:
    text = files("probes").joinpath("data/jwt-secrets.txt").read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def numeric_candidates(max_digits: int = NUMERIC_MAX_DIGITS) -> Iterator[str]:
    for length in range(1, max_digits + 1):
        for digits in product("0123456789", repeat=length):
            yield "".join(digits)


def crack(
    token: str, extra_words: Iterable[str] = (), max_digits: int = NUMERIC_MAX_DIGITS
) -> CrackResult:
    """Try the wordlist, then every numeric secret up to ``max_digits`` digits."""
    header, _payload, signature = split(token)
    digest = DIGESTS.get(str(header.get("alg", "")))
    if digest is None:
        return CrackResult(None, 0, 0.0)
    message = token.rsplit(".", 1)[0].encode()
    expected = unb64url(signature)
    started = time.perf_counter()
    tried = 0
    for source, candidates in (
        ("wordlist", [*wordlist(), *extra_words]),
        ("numeric", numeric_candidates(max_digits)),
    ):
        for candidate in candidates:
            tried += 1
            if hmac.compare_digest(hmac.digest(candidate.encode(), message, digest), expected):
                return CrackResult(candidate, tried, time.perf_counter() - started, source)
    return CrackResult(None, tried, time.perf_counter() - started)
