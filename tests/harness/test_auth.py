"""Logging in: a login the target fails (5xx) is the target's error, not the harness's."""

from __future__ import annotations

import pytest

from probes.harness.auth import LoginFailed, LoginServerError, log_in
from probes.harness.client import ProbeClient
from probes.harness.evidence import Redactor
from probes.harness.profile import Profile
from probes.harness.results import Verdict, classify
from tests.harness.servers import Route, http_server


def failed_login(profile: Profile, status: int) -> LoginFailed:
    """The error of a login the target answers with ``status`` and no token."""

    def answer(_path: str) -> Route:
        return status, {"content-type": "application/json"}, b'{"detail": "no"}'

    with http_server(answer) as server:
        client = ProbeClient(server.origin, Redactor())
        try:
            with pytest.raises(LoginFailed) as caught:
                log_in(client, profile, "user")
        finally:
            client.close()
    return caught.value


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_login_answered_5xx_is_a_target_error(profile: Profile, status: int) -> None:
    error = failed_login(profile, status)
    assert isinstance(error, LoginServerError)
    verdict, reason = classify(pytest.ExceptionInfo.from_exception(error), "setup", False, True)
    assert verdict is Verdict.ERROR
    assert reason == f"target error: login as 'user' failed: /auth/login answered {status} " + (
        "without a token at tokens.access = 'access_token'"
    )


def test_a_refused_login_stays_a_login_failure_of_the_harness(profile: Profile) -> None:
    error = failed_login(profile, 401)
    assert not isinstance(error, LoginServerError)
    assert error.refused
    verdict, reason = classify(pytest.ExceptionInfo.from_exception(error), "call", False, True)
    assert verdict is Verdict.ERROR
    assert reason is not None and reason.startswith("harness error: LoginFailed: ")
