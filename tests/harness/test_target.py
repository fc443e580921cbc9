"""Target liveness: a URL that never answered is named with its source; a death is final."""

from __future__ import annotations

import re

import pytest

from probes.harness.profile import Profile
from probes.harness.target import Target
from probes.harness.verdicts import TargetError
from tests.harness.servers import closed_port, http_server


def test_a_url_nothing_answers_names_it_its_source_and_the_fix(profile: Profile) -> None:
    port = closed_port()
    target = Target(f"http://127.0.0.1:{port}", profile, "remote", url_source="base_url in x.toml")

    with pytest.raises(TargetError) as caught:
        target.ensure_alive()

    assert re.fullmatch(
        rf"nothing answers at http://127\.0\.0\.1:{port} \(ConnectError: .*refused.* on /health\); "
        r"check base_url in x\.toml and that the API is running",
        str(caught.value),
    ), caught.value


def test_a_target_that_answered_then_stopped_says_so_and_stays_dead(profile: Profile) -> None:
    with http_server(lambda path: (404, {}, b"")) as server:
        target = Target(server.origin, profile, "remote")
        target.ensure_alive()  # any answer, even a 404, means it is up
        assert server.paths() == ["/health"]

    with pytest.raises(
        TargetError, match=r"^the target stopped answering \(ConnectError on /health\)$"
    ):
        target.ensure_alive()
    # Dead once, dead for the rest of the run.
    with pytest.raises(TargetError, match="stopped answering"):
        target.ensure_alive()
    assert target.dead_reason is not None and target.dead_reason.startswith("the target stopped")
