"""Hypothesis strategies for mutated tokens: none of them is signed with the target's key."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

from probes.harness.forging import b64url, split

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=False),
    st.text(max_size=40),
)
CLAIM_VALUES = st.one_of(
    JSON_SCALARS,
    st.lists(JSON_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=8), JSON_SCALARS, max_size=3),
)
ALGS = st.sampled_from(
    ["HS256", "HS384", "HS512", "RS256", "ES256", "PS256", "EdDSA", "none", "", "hs256"]
)
OVERSIZED = 12_000


@st.composite
def mutated_tokens(draw: st.DrawFn, genuine: str) -> tuple[str, str]:
    """A (label, token) pair: header and/or payload mutated, in one of several encodings."""
    header, payload, signature = split(genuine)
    labels: list[str] = []
    header = draw_header(draw, dict(header), labels)
    payload = draw_payload(draw, dict(payload), labels)
    raw_payload = json.dumps(payload, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0 and "sub" in payload:
        raw_payload = raw_payload[:-1] + f', "sub": {json.dumps(draw(st.text(max_size=20)))}}}'
        labels.append("duplicate sub key")
    encoded_header = encode(draw, json.dumps(header), labels, "header")
    encoded_payload = encode(draw, raw_payload, labels, "payload")
    ending = draw(st.sampled_from(["original", "empty", "random"]))
    if ending != "original":
        labels.append(f"{ending} signature")
    tail = {
        "original": signature,
        "empty": "",
        "random": b64url(draw(st.binary(min_size=1, max_size=64))),
    }[ending]
    return "; ".join(labels) or "re-encoded", f"{encoded_header}.{encoded_payload}.{tail}"


def draw_header(draw: st.DrawFn, header: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    if draw(st.booleans()):
        header["alg"] = draw(ALGS)
        labels.append(f"alg {header['alg']!r}")
    if draw(st.integers(0, 3)) == 0:
        name = draw(st.sampled_from(["kid", "jku", "x5u", "typ", "cty", "crit", "zip"]))
        header[name] = draw(CLAIM_VALUES)
        labels.append(f"header {name}")
    return header


def draw_payload(draw: st.DrawFn, payload: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    for name in draw(
        st.lists(
            st.sampled_from(["sub", "exp", "iat", "nbf", "jti", "type", "role", "aud", "iss"]),
            max_size=3,
            unique=True,
        )
    ):
        if draw(st.integers(0, 4)) == 0:
            payload.pop(name, None)
            labels.append(f"{name} removed")
        else:
            payload[name] = draw(CLAIM_VALUES)
            labels.append(f"{name} changed")
    if draw(st.integers(0, 19)) == 0:
        payload["pad"] = "A" * OVERSIZED
        labels.append("oversized payload")
    return payload


def encode(draw: st.DrawFn, text: str, labels: list[str], part: str) -> str:
    variant = draw(
        st.sampled_from(["base64url", "base64url", "base64url", "padded", "standard alphabet"])
    )
    raw = text.encode()
    if variant == "padded":
        labels.append(f"{part} padded")
        return base64.urlsafe_b64encode(raw).decode()
    if variant == "standard alphabet":
        labels.append(f"{part} in standard base64")
        return base64.b64encode(raw).decode().rstrip("=")
    return b64url(raw)
