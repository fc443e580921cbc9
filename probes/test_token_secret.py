"""Weak signing secret: an HMAC-signed token cracked offline with a wordlist and short numbers."""

from __future__ import annotations

import pytest

from probes.harness.crack import NUMERIC_MAX_DIGITS, CrackResult
from probes.harness.forging import split
from probes.harness.probe import Probe


@pytest.mark.check("JWT-WEAK-SECRET")
def test_signing_secret_resists_cracking(
    probe: Probe, user_token: str, cracked: CrackResult
) -> None:
    """A vulnerable target signs tokens with a common word or a short number as its secret."""
    alg = str(split(user_token)[0].get("alg", ""))
    if not alg.startswith("HS"):
        probe.skip(f"tokens are signed with {alg}; there is no HMAC secret to crack")
    measured = {"guesses": cracked.tried, "seconds": round(cracked.seconds, 3)}
    if cracked.secret is not None:
        probe.finding(
            f"the {alg} secret was cracked offline from the {cracked.source} after "
            f"{cracked.tried} guesses in {cracked.seconds:.2f} s; grey-box checks now use it",
            data=measured,
        )
    probe.note(
        f"not cracked: {cracked.tried} guesses (wordlist, numbers up to "
        f"{NUMERIC_MAX_DIGITS} digits) in {cracked.seconds:.2f} s",
        data=measured,
    )
