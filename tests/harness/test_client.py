"""ProbeClient against tiny loopback servers: scope, redirects, retries, timeouts and budget."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from probes.harness.client import (
    CONNECT_RETRIES,
    MAX_REDIRECTS,
    BudgetExceeded,
    ProbeClient,
    same_origin,
)
from probes.harness.evidence import Redactor
from probes.harness.verdicts import TargetError
from tests.harness.servers import Route, Server, closed_port, http_server, raw_server

OK: Route = (200, {"content-type": "text/plain"}, b"ok")


def redirect(location: str, status: int = 302) -> Route:
    return (status, {"location": location}, b"")


def hops(path: str) -> Route:
    """``/hop/N`` redirects to ``/hop/N-1`` (relative and absolute in turn); ``/hop/0`` is 200."""
    if path.startswith("/hop/"):
        n = int(path.rsplit("/", 1)[1])
        if n == 0:
            return OK
        return redirect(f"{n - 1}" if n % 2 else f"/hop/{n - 1}")
    if path == "/loop":
        return redirect("/loop")
    if path == "/see-other":
        return redirect("/landed", 303)
    if path == "/temporary":
        return redirect("/landed", 307)
    if path == "/unavailable":
        return (503, {}, b"try later")
    return OK


@pytest.fixture
def server() -> Iterator[Server]:
    with http_server(hops) as running:
        yield running


@pytest.fixture
def clients() -> Iterator[list[ProbeClient]]:
    made: list[ProbeClient] = []
    yield made
    for client in made:
        client.close()


@pytest.fixture
def make_client(clients: list[ProbeClient]):  # type: ignore[no-untyped-def]
    def make(base_url: str, **kwargs: object) -> ProbeClient:
        client = ProbeClient(base_url, Redactor(), **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    return make


# --- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "elsewhere", ["another host", "another port", "protocol-relative", "another scheme", "by name"]
)
def test_redirect_off_the_target_is_not_followed(make_client, elsewhere: str) -> None:  # type: ignore[no-untyped-def]
    location = {"to": ""}
    with ExitStack() as stack:
        target = stack.enter_context(http_server(lambda path: redirect(location["to"])))
        if elsewhere == "another host":  # same scheme and port, another loopback address
            other = stack.enter_context(http_server(lambda path: OK, "127.0.0.2", target.port))
            location["to"] = f"{other.origin}/landed"
        elif elsewhere == "another port":
            other = stack.enter_context(http_server(lambda path: OK))
            location["to"] = f"{other.origin}/landed"
        elif elsewhere == "protocol-relative":
            other = stack.enter_context(http_server(lambda path: OK, "127.0.0.2", target.port))
            location["to"] = f"//127.0.0.2:{other.port}/landed"
        elif elsewhere == "another scheme":  # if followed, it would come back to the target
            other = target
            location["to"] = f"https://127.0.0.1:{target.port}/landed"
        else:  # the same address by another name is another origin too
            other = target
            location["to"] = f"http://localhost:{target.port}/landed"
        client = make_client(target.origin)
        response = client.get("/go")

        assert response.status_code == 302  # the 3xx itself is the answer
        assert response.headers["location"] == location["to"]
        assert target.paths() == ["/go"]
        assert "/landed" not in other.paths()
        assert client.sent == 1
        assert [(e.method, e.status) for e in client.exchanges] == [("GET", 302)]


def test_same_origin_redirects_are_followed_up_to_the_bound(make_client, server: Server) -> None:  # type: ignore[no-untyped-def]
    client = make_client(server.origin)
    response = client.get(f"/hop/{MAX_REDIRECTS}")

    assert response.status_code == 200
    assert server.paths() == [f"/hop/{n}" for n in range(MAX_REDIRECTS, -1, -1)]
    assert client.sent == MAX_REDIRECTS + 1
    assert [e.status for e in client.exchanges] == [302] * MAX_REDIRECTS + [200]


def test_a_redirect_loop_stops_at_the_bound(make_client, server: Server) -> None:  # type: ignore[no-untyped-def]
    client = make_client(server.origin)
    response = client.get("/loop")

    assert response.status_code == 302
    assert server.paths() == ["/loop"] * (MAX_REDIRECTS + 1)
    assert client.sent == MAX_REDIRECTS + 1

    server.seen.clear()
    assert client.get(f"/hop/{MAX_REDIRECTS + 1}").status_code == 302
    assert len(server.seen) == MAX_REDIRECTS + 1


def test_303_turns_into_get_and_307_keeps_method_and_body(make_client, server: Server) -> None:  # type: ignore[no-untyped-def]
    client = make_client(server.origin)
    assert client.post("/see-other", content=b"payload").status_code == 200
    assert client.post("/temporary", content=b"payload").status_code == 200

    seen = [(r.method, r.path, r.body) for r in server.seen]
    assert seen == [
        ("POST", "/see-other", b"payload"),
        ("GET", "/landed", b""),
        ("POST", "/temporary", b"payload"),
        ("POST", "/landed", b"payload"),
    ]


def test_same_origin_compares_scheme_host_and_port() -> None:
    assert same_origin("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b?c=d")
    assert same_origin("http://127.0.0.1/a", "http://127.0.0.1:80/b")  # the default port
    assert not same_origin("http://127.0.0.1:8000/", "http://127.0.0.2:8000/")
    assert not same_origin("http://127.0.0.1:8000/", "http://127.0.0.1:8001/")
    assert not same_origin("http://127.0.0.1:8000/", "https://127.0.0.1:8000/")
    assert not same_origin("http://127.0.0.1:8000/", "http://localhost:8000/")


# --- retries and timeouts ------------------------------------------------------------------------


def test_a_refused_connection_is_retried_a_bounded_number_of_times(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(f"http://127.0.0.1:{closed_port()}", timeout=1.0)
    with pytest.raises(TargetError, match=r"target unreachable.*ConnectError"):
        client.get("/health")
    assert client.sent == CONNECT_RETRIES + 1
    assert len(client.exchanges) == CONNECT_RETRIES + 1
    assert all(e.error and e.status is None for e in client.exchanges)


def test_a_dropped_connection_is_retried_then_reported(make_client) -> None:  # type: ignore[no-untyped-def]
    def hang_up(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)  # read the request, then close without answering

    with raw_server(hang_up) as dropper:
        client = make_client(f"http://127.0.0.1:{dropper.port}", timeout=2.0)
        with pytest.raises(TargetError, match="target unreachable"):
            client.get("/")
        assert client.sent == CONNECT_RETRIES + 1
    assert dropper.connections == CONNECT_RETRIES + 1  # seen from the server side too


def test_a_read_timeout_is_not_retried_and_raises_target_error(make_client) -> None:  # type: ignore[no-untyped-def]
    def never_answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        stop.wait(10)  # until the test ends; bounded all the same

    with raw_server(never_answer) as silent:
        client = make_client(f"http://127.0.0.1:{silent.port}", timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TargetError, match="ReadTimeout"):
            client.get("/slow")
        assert time.monotonic() - started < 2.0
        assert client.sent == 1
        assert len(client.exchanges) == 1 and "ReadTimeout" in (client.exchanges[0].error or "")
    assert silent.connections == 1


def test_an_error_status_is_an_answer_not_a_retry(make_client, server: Server) -> None:  # type: ignore[no-untyped-def]
    client = make_client(server.origin)
    assert client.get("/unavailable").status_code == 503
    assert server.paths() == ["/unavailable"]


# --- budget --------------------------------------------------------------------------------------


def test_the_request_budget_raises_budget_exceeded(make_client, server: Server) -> None:  # type: ignore[no-untyped-def]
    client = make_client(server.origin, budget=3)
    for _ in range(3):
        assert client.get("/").status_code == 200
    with pytest.raises(BudgetExceeded, match="budget of 3"):
        client.get("/")
    assert len(server.seen) == 3  # the refused request was never sent

    client.reset(budget=2)
    assert client.exchanges == []
    with pytest.raises(BudgetExceeded):
        client.get(f"/hop/{MAX_REDIRECTS}")  # every redirect hop spends budget
    assert len(server.seen) == 3 + 2


def test_a_sibling_client_shares_the_budget(make_client, server: Server) -> None:  # type: ignore[no-untyped-def]
    client = make_client(server.origin, budget=2)
    with client.from_source("127.0.0.5") as sibling:
        sibling.get("/")
    client.get("/")
    with pytest.raises(BudgetExceeded):
        client.get("/")
    assert len(client.exchanges) == 2


# --- connections and source address ---------------------------------------------------------------


def test_source_address_is_pinned(make_client, server: Server) -> None:  # type: ignore[no-untyped-def]
    client = make_client(server.origin, source="127.0.0.7")
    client.get("/")
    with client.from_source("127.0.0.9") as sibling:
        sibling.get("/")
    assert [r.client[0] for r in server.seen] == ["127.0.0.7", "127.0.0.9"]


def test_fresh_mode_opens_one_connection_per_request(make_client, server: Server) -> None:  # type: ignore[no-untyped-def]
    client = make_client(server.origin)
    for _ in range(3):
        client.get("/")
    kept_alive = {r.client for r in server.seen}
    server.seen.clear()
    for _ in range(3):
        client.get("/", fresh=True)
    fresh = {r.client for r in server.seen}
    assert len(kept_alive) == 1
    assert len(fresh) == 3
