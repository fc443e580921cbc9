"""The probe suite's pytest plugin: options, the target and its sessions, verdicts and reports.

Loaded by the root ``conftest.py`` in a checkout, and by the ``pytest11`` entry point after
``pip install``. It stays inert for tests that carry no ``check`` marker.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probes.fixtures import cracked, judge_route, references, signing_key, user_token  # noqa: F401
from probes.harness.catalogue import lookup
from probes.harness.client import ProbeClient, total_sent
from probes.harness.evidence import Redactor
from probes.harness.exclusive import traffic_lock
from probes.harness.launcher import LocalTarget
from probes.harness.probe import Probe
from probes.harness.profile import (
    Profile,
    ProfileError,
    audit_overrides,
    load_profile,
    with_options,
)
from probes.harness.results import RESULT_KEY, Recorder, build_result, classify, to_json
from probes.harness.sessions import SessionPool
from probes.harness.target import Target
from probes.harness.verdicts import SEVERITIES, HarnessError, Verdict

RECORDER = pytest.StashKey[Recorder]()
PROFILE = pytest.StashKey[Profile | None]()
SENT_BEFORE = pytest.StashKey[int]()
SETUP_S = pytest.StashKey[float]()
REDACTOR = pytest.StashKey[Redactor]()
OVERRIDES = pytest.StashKey[dict[str, str]]()
NO_PROFILE = "--base-url needs --target-profile FILE describing the API (see docs/profiles.md)"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("probes", "JWT API probes")
    # Same name and meaning as pytest-base-url, which may already define it.
    with contextlib.suppress(ValueError):
        group.addoption("--base-url", default=None, help="audit the API at this URL (remote mode)")
    group.addoption("--target-profile", type=Path, help="TOML profile of the API under audit")
    group.addoption("--target-flaws", default="", help="local mode: planted flaws, e.g. alg_none")
    group.addoption("--target-workers", type=int, default=4, help="local mode: worker processes")
    group.addoption(
        "--target-algorithm", default="HS256", choices=["HS256", "RS256", "ES256"],
        help="local mode: the target's signing algorithm",
    )  # fmt: skip
    group.addoption(
        "--audit-option", action="append", default=[], metavar="KEY=VALUE",
        help="override a profile [audit] option, e.g. fuzz_examples=1000 or timing_max_pairs=200",
    )  # fmt: skip
    group.addoption("--report-dir", type=Path, default=Path("reports"), help="where reports go")
    group.addoption(
        "--fail-on", default="medium", choices=SEVERITIES,
        help="exit non-zero on a finding at or above this severity (default: medium)",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(check_id): the catalogue check this probe decides")
    config.addinivalue_line(
        "markers", "exclusive: timing-sensitive; no other probe sends traffic while it runs"
    )
    config.stash[RECORDER] = Recorder(config.getoption("report_dir"), config.getoption("fail_on"))
    config.stash[REDACTOR] = Redactor()
    config.pluginmanager.register(AuditReporter(config), "probes-audit-reporter")
    path = config.getoption("target_profile")
    if config.getoption("base_url") and not path:
        # Checked here, not in the target fixture, so no check runs (and no report is written).
        raise pytest.UsageError(NO_PROFILE)
    try:
        # A broken profile is reported here, before any request is sent.
        config.stash[PROFILE] = load_profile(path) if path else None
        config.stash[OVERRIDES] = audit_overrides(config.getoption("audit_option"))
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The target under audit: the remote API, or a freshly launched local ``target_app``."""
    recorder = pytestconfig.stash[RECORDER]
    base_url = pytestconfig.getoption("base_url")
    profile = pytestconfig.stash[PROFILE]
    overrides = pytestconfig.stash[OVERRIDES]
    if base_url or (profile and profile.base_url):
        if profile is None:
            raise pytest.UsageError(NO_PROFILE)
        url = (base_url or profile.base_url or "").rstrip("/")
        source = (
            "--base-url" if base_url else f"base_url in {pytestconfig.getoption('target_profile')}"
        )
        the_target = Target(url, with_options(profile, overrides), "remote", url_source=source)
        _describe(recorder, the_target)
        # A URL nothing answers fails here, once, so every check names the URL and its source.
        the_target.ensure_alive()
        yield the_target
        return
    local = LocalTarget(
        flaws=pytestconfig.getoption("target_flaws"),
        workers=pytestconfig.getoption("target_workers"),
        algorithm=pytestconfig.getoption("target_algorithm"),
    )
    try:
        local.start()
        profile = with_options(local.profile(), overrides)
        the_target = Target(local.base_url, profile, "local", local.flaws, local)
        _describe(recorder, the_target)
        yield the_target
    finally:
        local.stop()


def _describe(recorder: Recorder, target: Target) -> None:
    recorder.target = {
        "url": target.base_url,
        "mode": target.mode,
        "profile": target.profile.name,
        "flaws": [f for f in target.flaws.split(",") if f],
        "workers": target.profile.workers,
    }


@pytest.fixture(scope="session")
def redactor(pytestconfig: pytest.Config, target: Target) -> Redactor:
    shared = pytestconfig.stash[REDACTOR]
    shared.add_secret(target.grey_box_key)
    return shared


@pytest.fixture(scope="session")
def sessions(target: Target, redactor: Redactor) -> Iterator[SessionPool]:
    """Logged-in sessions per profile user, logged in once and re-used."""
    pool = SessionPool(target, redactor)
    yield pool
    pool.close()


@pytest.fixture
def client(
    request: pytest.FixtureRequest, target: Target, redactor: Redactor
) -> Iterator[ProbeClient]:
    """A fresh bounded client for one check; its exchanges are the check's evidence."""
    the_client = ProbeClient(target.base_url, redactor)
    yield the_client
    the_client.close()


@pytest.fixture
def probe(request: pytest.FixtureRequest, target: Target, client: ProbeClient) -> Iterator[Probe]:
    marker = request.node.get_closest_marker("check")
    if marker is None:
        raise HarnessError("a probe needs @pytest.mark.check('CHECK-ID')")
    meta = lookup(marker.args[0])
    exclusive = request.node.get_closest_marker("exclusive") is not None
    with traffic_lock(target.base_url, exclusive=exclusive):
        target.ensure_alive()
        yield Probe(meta, target, client)


# --- verdicts ------------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Requests sent from here to the end of the call are this check's, fixtures' included.
    item.stash[SENT_BEFORE] = total_sent()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    marker = item.get_closest_marker("check")
    if marker is None or call.when == "teardown":
        return
    if call.when == "setup":
        # A family's shared measurement runs in its first check's setup: count it there.
        item.stash[SETUP_S] = report.duration
    if call.when == "setup" and report.passed:
        return
    verdict, reason = classify(call.excinfo, call.when, report.skipped, report.failed)
    exc = call.excinfo.value if call.excinfo is not None else None
    the_probe = getattr(item, "funcargs", {}).get("probe")
    try:
        meta = lookup(marker.args[0])
    except ValueError as error:
        report.longrepr = str(error)
        return
    result = build_result(
        meta,
        _report_nodeid(item),
        verdict,
        reason,
        exc,
        requests=total_sent() - item.stash.get(SENT_BEFORE, total_sent()),
        duration=report.duration + (item.stash.get(SETUP_S, 0.0) if call.when == "call" else 0.0),
        notes=the_probe.notes if the_probe else None,
        data=the_probe.data if the_probe else None,
    )
    report.user_properties.append((RESULT_KEY, to_json(result)))
    if verdict is Verdict.FINDING:
        report.longrepr = (
            f"{meta.check_id} [{result.severity}] {result.detail}\n  reproduce: {result.reproduce}"
        )
    elif verdict in (Verdict.INCONCLUSIVE, Verdict.ERROR) and not _is_harness_bug(reason):
        report.longrepr = f"{meta.check_id} {verdict.value}: {reason}"


def _report_nodeid(item: pytest.Item) -> str:
    """The item's node id, with its module even when pytest leaves the module out.

    Run with ``--pyargs`` from an installed copy, the probe modules lie outside the rootdir and
    pytest gives them node ids like ``::test_nosniff``, which would collide across families in
    ``audit.json``. Those get the module path relative to its top-level package's parent
    (``probes/test_security_headers.py``), the node id a checkout run gives.
    """
    if not item.nodeid.startswith("::"):
        return item.nodeid
    module = item.getparent(pytest.Module)
    path = Path(module.path if module is not None else item.path)
    top = Path(__file__).resolve().parent.parent
    with contextlib.suppress(ValueError):
        path = path.resolve().relative_to(top)
    return f"{path.as_posix()}{item.nodeid}"


def _is_harness_bug(reason: str | None) -> bool:
    # Keep the traceback for harness bugs: somebody has to fix them.
    return bool(reason) and str(reason).startswith("harness error") and "Error:" in str(reason)


def _verdict_of(report: pytest.TestReport) -> str | None:
    for key, value in getattr(report, "user_properties", []):
        if key == RESULT_KEY:
            return str(json.loads(value)["verdict"])
    return None


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    verdict = _verdict_of(report)
    if verdict == Verdict.FINDING:
        return "finding", "F", ("FINDING", {"red": True})
    if verdict == Verdict.INCONCLUSIVE:
        return "inconclusive", "I", ("INCONCLUSIVE", {"yellow": True})
    if verdict == Verdict.ERROR and report.when == "call":
        return "error", "E", ("ERROR", {"red": True})
    return None


class AuditReporter:
    """Collects verdicts (also those xdist workers send back) and writes the audit report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.recorder = config.stash[RECORDER]
        self.written: list[Path] = []  # audit.json, then audit.html, audit.sarif, junit.xml
        self.render_error: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == RESULT_KEY:
                self.recorder.add(value)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput") or not self.recorder.results:
            return  # an xdist worker (the controller writes), or no probe ran
        self.written = [self.recorder.write()]
        try:
            from probes.reporting import write_reports  # matplotlib loads only when reporting

            self.written += write_reports(self.written[0])
        except Exception as exc:  # a rendering bug must not hide the verdicts: report it, fail
            self.render_error = f"{type(exc).__name__}: {exc}"
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            failed = self.recorder.gate_failed()
            session.exitstatus = pytest.ExitCode.TESTS_FAILED if failed else pytest.ExitCode.OK
        if self.render_error:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.recorder.results:
            return
        terminalreporter.section("probe verdicts")
        for line in self.recorder.terminal_lines():
            terminalreporter.write_line(line)
        if self.render_error:
            terminalreporter.write_line(f"report rendering failed: {self.render_error}", red=True)
        if self.written:
            main, *others = sorted(self.written, key=lambda path: path.suffix != ".html")
            terminalreporter.write_line(f"report: {main}")
            if others:
                terminalreporter.write_line("also: " + ", ".join(str(path) for path in others))
