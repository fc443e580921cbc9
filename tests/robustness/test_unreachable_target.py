"""A profile whose URL nothing answers: every check ends in ``error`` naming the target, quickly.

(The other bad-profile cases, a missing field, a wrong type, an unknown key and an unset
environment variable, stop the run before any request: ``tests/remote/test_bad_profiles.py``.)
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.harness.servers import closed_port
from tests.probes.audit import run_audit
from tests.robustness.misbehaving import PROFILE, _accounts

pytestmark = pytest.mark.audit

FAMILIES = ["probes/test_status_codes.py", "probes/test_security_headers.py"]
# Checked once before any check: each check's reason names the URL, where it came from, the fix.
UNREACHABLE = (
    r"^target error: nothing answers at http://127\.0\.0\.1:{port} "
    r"\(ConnectError: .*refused.* on /health\); check {source} and that the API is running"
)


def env() -> dict[str, str]:
    values = {}
    for role, account in _accounts().items():
        values[f"FAULTY_{role.upper()}_LOGIN"] = account.username
        values[f"FAULTY_{role.upper()}_PASSWORD"] = account.password
    return values


@pytest.mark.parametrize("where", ["--base-url", "profile base_url"])
def test_unreachable_url_gives_only_errors_naming_the_target(tmp_path: Path, where: str) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    profile = tmp_path / "unreachable.toml"
    if where == "--base-url":
        profile.write_text(PROFILE)
        extra = ["--base-url", url, "--target-profile", str(profile)]
    else:
        profile.write_text(f'base_url = "{url}"\n' + PROFILE)
        extra = ["--target-profile", str(profile)]
    source = "--base-url" if where == "--base-url" else f"base_url in {profile}"
    unreachable = re.compile(UNREACHABLE.format(port=port, source=re.escape(source)))

    started = time.monotonic()
    run = run_audit(tmp_path / "report", FAMILIES, extra=extra, env=env())
    seconds = time.monotonic() - started

    assert len(run.results) >= 15, run.output
    assert run.document["target"]["url"] == url
    assert run.document["summary"]["pass"] == 0
    for result in run.results:
        assert result["verdict"] == "error", (result["check_id"], result["verdict"])
        assert unreachable.match(result["reason"] or ""), result["reason"]
    assert run.returncode == 1, run.output
    # The terminal summary says it once per check, in one line each.
    lines = [
        line for line in run.output.splitlines() if unreachable.search(line.split(": ", 1)[-1])
    ]
    assert len(lines) >= len(run.results)
    assert seconds < 60, seconds
