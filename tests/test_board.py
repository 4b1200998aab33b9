"""The live board (triage_queue.board): its JSON state, its event stream,
its HTTP hardening, the WSGI mount, the demo, and the page itself in a
real headless Chromium (Debian's chromium and chromedriver, via selenium)."""

from __future__ import annotations

import http.client
import json
import math
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from triage_queue import Agent, Dispatcher, InvalidArgument, ManualClock, Ticket, TicketQueue
from triage_queue.__main__ import main
from triage_queue._board_cli import DemoDriver, default_agents, default_policy
from triage_queue.board import Board, BoardDesk, BoardServer, board_app
from triage_queue.events import Event
from triage_queue.stats import Statistics

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
IN_CI = os.environ.get("CI") == "true"
HOSTILE = "<img src=x onerror=window.__pwned=1>"


def make_desk(clock: ManualClock | None = None, **options: Any) -> Dispatcher:
    clock = clock or ManualClock(1000.0)
    agents = [
        Agent("ana", skills={"billing": 3}, capacity=2),
        Agent("bo", skills={"general": 2}),
        Agent("cy", skills={"billing": 1}, status="away"),
    ]
    return Dispatcher(TicketQueue(clock=clock), agents, sla_warning=60, **options)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def state_of(server: BoardServer) -> dict[str, Any]:
    status, _, body = get(server.url + "state")
    assert status == 200
    data: dict[str, Any] = json.loads(body)
    return data


@pytest.fixture
def served() -> Iterator[tuple[Dispatcher, ManualClock, Board, BoardServer]]:
    clock = ManualClock(1000.0)
    desk = make_desk(clock)
    board = Board(desk, heartbeat=0.2, title="Support desk")
    server = board.serve()
    try:
        yield desk, clock, board, server
    finally:
        server.close()
        board.close()


class SSE:
    """A raw reader of the /events stream: (event name, data) pairs and comments."""

    def __init__(self, server: BoardServer, headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        self.conn.request("GET", "/events", headers=headers or {})
        self.response = self.conn.getresponse()

    def next_message(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        while True:
            line = self.response.readline().decode()
            if line in {"\n", ""}:
                if fields or line == "":
                    return fields
                continue
            name, _, value = line.rstrip("\n").partition(":")
            fields[name or "comment"] = value.strip()

    def until(self, predicate: Callable[[dict[str, str]], bool], limit: int = 50) -> dict[str, str]:
        for _ in range(limit):
            message = self.next_message()
            if predicate(message):
                return message
        raise AssertionError("the stream never sent the expected message")

    def close(self) -> None:
        self.conn.close()


# -- /state -------------------------------------------------------------------------


def test_state_counts_waiting_by_class_and_agents(served: Any) -> None:
    """/state reports the desk's waiting tickets by class, the agents with
    their status and load, and the waiting tickets in service order."""
    desk, clock, _, server = served
    desk.submit(Ticket("T-1", 1000.0, skills={"payments": 1}))  # nobody can take it
    desk.submit(Ticket("T-2", 1000.0, severity="critical", skills={"payments": 1}))
    desk.submit(Ticket("T-3", 1000.0, skills={"general": 1}))  # offered to bo
    clock.advance(20)
    state = state_of(server)
    assert state["title"] == "Support desk"
    assert state["stats"]["by_class"]["normal"]["waiting"] == 1
    assert state["stats"]["by_class"]["critical"]["waiting"] == 1
    assert state["stats"]["by_class"]["normal"]["oldest_wait"] == 20.0
    assert state["stats"]["unroutable"] == 2
    agents = {a["id"]: a for a in state["agents"]}
    assert {k: (a["status"], a["load"], a["capacity"]) for k, a in agents.items()} == {
        "ana": ("available", 0, 2),
        "bo": ("available", 1, 1),
        "cy": ("away", 0, 1),
    }
    assert agents["bo"]["offers"] == ["T-3"] and agents["bo"]["assigned"] == []
    assert [t["id"] for t in state["waiting"]] == ["T-2", "T-1"] and state["waiting_total"] == 2
    assert state["waiting"][0]["waited"] == 20.0 and state["waiting"][0]["severity"] == "critical"
    desk.accept(desk.offers_for("bo")[0])
    agents = {a["id"]: a for a in state_of(server)["agents"]}
    assert agents["bo"]["assigned"] == ["T-3"] and agents["bo"]["offers"] == []


def test_state_tracks_sla_at_risk_and_breached(served: Any) -> None:
    """A ticket is at risk after its SLA warning, breached after the breach,
    and off both lists once an agent accepts it."""
    desk, clock, _, server = served
    desk.submit(Ticket("T-1", 1000.0, skills={"payments": 1}, sla_due=1100.0))
    desk.submit(Ticket("T-2", 1000.0, skills={"payments": 1}, sla_due=1300.0))
    assert state_of(server)["sla"] == {"at_risk": [], "at_risk_count": 0, "breached": [], "breached_count": 0}
    clock.set(1050.0)
    desk.tick()
    sla = state_of(server)["sla"]
    assert (sla["at_risk"], sla["breached"]) == (["T-1"], [])
    clock.set(1260.0)
    desk.tick()
    sla = state_of(server)["sla"]
    assert (sla["at_risk"], sla["breached"], sla["breached_count"]) == (["T-2"], ["T-1"], 1)
    desk.submit(Ticket("T-3", 1260.0, skills={"payments": 1}, sla_due=1300.0))
    clock.set(1280.0)
    desk.tick()
    assert state_of(server)["sla"]["at_risk"] == ["T-2", "T-3"]
    desk.update("T-3", sla_due=2000.0)  # a new deadline: no longer at risk (until warned again)
    assert state_of(server)["sla"]["at_risk"] == ["T-2"]
    desk.add_agent(Agent("pay", skills={"payments": 1}, capacity=3))
    for offer in desk.offers_for("pay"):
        desk.accept(offer)
    assert state_of(server)["sla"]["at_risk_count"] == state_of(server)["sla"]["breached_count"] == 0


def test_board_starts_from_the_desk_history() -> None:
    """A board made after events happened knows them (recent events, SLA)."""
    clock = ManualClock(0.0)
    desk = make_desk(clock)
    desk.submit(Ticket("T-1", 0.0, skills={"payments": 1}, sla_due=30.0))
    clock.set(40.0)
    desk.tick()
    with Board(desk, recent=3) as board:
        state = board.state()
    assert state["sla"]["breached"] == ["T-1"]
    assert [e["kind"] for e in state["recent"]] == ["unroutable", "sla_warning", "sla_breached"]


def test_board_shows_any_desk_with_stats_and_subscribe() -> None:
    """The board needs only stats() and subscribe(): a stand-in desk (a
    future shared desk, say) is shown without queue, roster or offers."""
    inner = make_desk()

    class Minimal:
        def stats(self) -> Statistics:
            return inner.stats()

        def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
            return inner.subscribe(listener)

    desk = Minimal()
    assert isinstance(desk, BoardDesk)
    with Board(desk) as board:
        inner.submit(Ticket("T-1", 1000.0, skills={"payments": 1}))
        state = board.state()
    assert state["stats"]["overall"]["waiting"] == 1
    assert state["waiting"] == [] and state["waiting_total"] is None
    assert [a["id"] for a in state["agents"]] == ["ana", "bo", "cy"] and "offers" not in state["agents"][0]
    assert state["recent"][-1]["kind"] == "unroutable"


def test_board_follows_a_shared_desk_fed_by_another_process(tmp_path: Any) -> None:
    """A SharedDesk (SQLite log) is a BoardDesk: a ticket submitted through
    another desk on the same log reaches the board's stream and its state."""
    from triage_queue.shared import SharedDesk, SqliteLog

    path = tmp_path / "desk.db"
    desk = SharedDesk(SqliteLog(path), agents=[Agent("ana", skills={"billing": 2}), Agent("bo", status="away")])
    other = SharedDesk(SqliteLog(path))  # another process, in effect
    try:
        with Board(desk, heartbeat=0.2) as board:
            chunks = board.stream()
            assert next(chunks) == b"retry: 2000\n\n"
            other.submit(Ticket("T-1", time.time(), skills={"billing": 1}))
            heard = b""
            for _ in range(50):  # heartbeats every 0.2 s until the replica applies it
                heard += next(chunks)
                if b'"kind":"offered"' in heard:
                    break
            assert b'"kind":"submitted"' in heard and b'"kind":"offered"' in heard
            chunks.close()
            state = board.state()
            assert [(a["id"], a["status"], a["offers"]) for a in state["agents"]] == [
                ("ana", "available", ["T-1"]),
                ("bo", "away", []),
            ]
            assert [e["kind"] for e in state["recent"]] == ["submitted", "offered"]
    finally:
        other.close()
        desk.close()


def test_state_without_statistics_says_why() -> None:
    """A desk that keeps no statistics still shows its agents and tickets, and why figures are missing."""
    desk = make_desk(stats=False)
    desk.submit(Ticket("T-1", 1000.0, skills={"payments": 1}))
    with Board(desk) as board:
        state = board.state()
    assert state["stats"] is None and "stats=False" in state["stats_error"]
    assert [(a["id"], a["status"]) for a in state["agents"]] == [("ana", "available"), ("bo", "available"), ("cy", "away")]
    assert state["waiting_total"] == 1


def test_board_refuses_bad_options_naming_them() -> None:
    """Bad options raise InvalidArgument naming the field; nothing subscribes."""
    desk = make_desk()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"recent": -1}, "recent"),
        ({"title": ""}, "title"),
        ({"heartbeat": 0}, "heartbeat"),
        ({"max_clients": True}, "max_clients"),
        ({"buffer": 0}, "buffer"),
    ]
    for options, field in cases:
        with pytest.raises(InvalidArgument) as info:
            Board(desk, **options)
        assert info.value.field == field
    with pytest.raises(InvalidArgument) as info:
        Board(object())  # type: ignore[arg-type]
    assert info.value.field == "desk"
    with pytest.raises(InvalidArgument) as info:
        Board(desk).serve(port=70000)
    assert info.value.field == "port"
    desk.submit(Ticket("T-1", 1000.0))  # no listener left behind by the refused boards raises
    assert len(desk.events) > 0


# -- /events --------------------------------------------------------------------------


def test_events_stream_sends_desk_events_and_heartbeats(served: Any) -> None:
    """/events streams each desk event as a `desk` message with an id, and a
    heartbeat comment while idle."""
    desk, _, _, server = served
    stream = SSE(server)
    try:
        assert str(stream.response.getheader("Content-Type")).startswith("text/event-stream")
        assert stream.next_message() == {"retry": "2000"}
        assert "comment" in stream.next_message()  # idle: a heartbeat within 0.2 s
        desk.submit(Ticket("T-1", 1000.0, skills={"general": 1}))
        first = stream.until(lambda m: m.get("event") == "desk")
        assert json.loads(first["data"])["kind"] == "submitted" and json.loads(first["data"])["ticket_id"] == "T-1"
        offered = stream.until(lambda m: m.get("event") == "desk")
        assert json.loads(offered["data"])["kind"] == "offered"
    finally:
        stream.close()


def test_events_stream_resumes_and_resyncs(served: Any) -> None:
    """A reconnecting client resumes after its Last-Event-ID; an unknown id
    gets `resync` (reload the state) instead of a silent gap."""
    desk, _, _, server = served
    stream = SSE(server)
    desk.submit(Ticket("T-1", 1000.0, skills={"payments": 1}))
    seen = stream.until(lambda m: m.get("event") == "desk")
    stream.close()
    desk.submit(Ticket("T-2", 1000.0, skills={"payments": 1}))
    resumed = SSE(server, {"Last-Event-ID": seen["id"]})
    try:
        kinds = [json.loads(resumed.until(lambda m: m.get("event") == "desk")["data"]) for _ in range(3)]
        assert [(k["kind"], k["ticket_id"]) for k in kinds] == [
            ("unroutable", "T-1"),
            ("submitted", "T-2"),
            ("unroutable", "T-2"),
        ]
    finally:
        resumed.close()
    stale = SSE(server, {"Last-Event-ID": "feedbeef-3"})
    try:
        assert stale.until(lambda m: "event" in m)["event"] == "resync"
    finally:
        stale.close()


def test_slow_stream_is_told_to_resync() -> None:
    """A client more than `buffer` events behind gets `resync`, and the
    desk never waits for it."""
    desk = make_desk()
    board = Board(desk, buffer=4, recent=2, heartbeat=5)
    chunks = board.stream()
    assert next(chunks) == b"retry: 2000\n\n"
    for i in range(10):
        desk.submit(Ticket(f"T-{i}", 1000.0, skills={"payments": 1}))
    assert b"event: resync" in next(chunks)
    desk.submit(Ticket("T-last", 1000.0, skills={"payments": 1}))
    assert b'"ticket_id":"T-last"' in next(chunks)
    board.close()
    assert next(chunks) == b"event: bye\ndata: {}\n\n"
    with pytest.raises(StopIteration):
        next(chunks)


def test_stream_limit_and_close(served: Any) -> None:
    """Beyond max_clients a stream gets 503 (the page keeps polling); closing
    the server ends the open streams promptly."""
    desk, _, _, _ = served
    board = Board(desk, max_clients=1, heartbeat=5)
    server = board.serve()
    first = SSE(server)
    try:
        assert first.next_message() == {"retry": "2000"}
        status, headers, _ = get(server.url + "events")
        assert status == 503 and headers["Retry-After"] == "10"
        started = time.monotonic()
        server.close()
        assert first.until(lambda m: "event" in m)["event"] == "bye"
        assert time.monotonic() - started < 3
    finally:
        first.close()
        board.close()


def test_every_stream_frees_its_place() -> None:
    """A HEAD of /events, a stream closed before it started and one that
    ended each give their place back: max_clients never leaks."""
    desk = make_desk()
    with Board(desk, max_clients=1, heartbeat=5) as board, board.serve() as server:
        for _ in range(3):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            conn.request("HEAD", "/events")
            assert conn.getresponse().status == 200
            conn.close()
        board.stream().close()  # never started
        started = board.stream()
        assert next(started) == b"retry: 2000\n\n"
        with pytest.raises(InvalidArgument):
            board.stream()
        started.close()
        board.stream().close()


class _InfiniteStats:
    """A desk whose statistics carry an infinite figure (as a custom desk's may)."""

    def __init__(self, desk: Dispatcher) -> None:
        self.desk, self.queue = desk, desk.queue

    def stats(self) -> Any:
        real = self.desk.stats()

        class Figures:
            now, agents = real.now, real.agents

            def to_dict(self) -> dict[str, Any]:
                return {**real.to_dict(), "occupancy": math.inf, "extra": [math.nan, 1.5]}

        return Figures()

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        return self.desk.subscribe(listener)


def test_state_is_json_even_when_a_figure_is_infinite() -> None:
    """Extreme but valid times (a difference that overflows to inf) and an
    infinite figure in the desk's stats reach /state as null, never a 500
    (review 13a #5)."""
    desk = Dispatcher(TicketQueue(clock=ManualClock(1.7e308)), [Agent("ana", status="away")])
    desk.submit(Ticket("T-1", -1.7e308, sla_due=-1.7e308))
    with Board(desk) as board, board.serve() as server:
        row = state_of(server)["waiting"][0]
        assert row["id"] == "T-1" and row["waited"] is None and row["sla_in"] is None
    with Board(_InfiniteStats(desk)) as board, board.serve() as server:
        data = state_of(server)
        assert data["stats"]["occupancy"] is None and data["stats"]["extra"] == [None, 1.5]
        assert data["waiting"][0]["id"] == "T-1"


def test_long_names_in_the_stats_are_cut_too() -> None:
    """An agent id or class name of 100,000 characters reaches /state cut
    at 300 characters in the stats as everywhere else, so the state stays
    small (review 13a #11)."""
    desk = Dispatcher(
        TicketQueue(clock=ManualClock(0.0)), [Agent("x" * 100_000, status="away")], classify=lambda t: "c" * 100_000
    )
    desk.submit(Ticket("T-1", 0.0))
    with Board(desk) as board, board.serve() as server:
        status, _, body = get(server.url + "state")
        assert status == 200 and len(body) < 10_000
        data = json.loads(body)
        assert list(data["stats"]["agents"]) == ["x" * 300 + "..."]
        assert list(data["stats"]["by_class"]) == ["c" * 300 + "..."]
        assert data["agents"][0]["id"] == "x" * 300 + "..."


def test_malformed_last_event_id_resyncs_and_frees_its_place() -> None:
    """A Last-Event-ID of our epoch whose number is no plain ASCII integer
    (a Unicode digit, 5000 digits) gets `resync`, and its place in
    max_clients is free afterwards: a bad header never blocks the live
    stream for others (review 13a #1)."""
    desk = make_desk()
    with Board(desk, max_clients=1, heartbeat=5) as board, board.serve() as server:
        first = board.stream()
        assert next(first) == b"retry: 2000\n\n"
        desk.submit(Ticket("T-1", 1000.0, skills={"payments": 1}))
        epoch = next(first).split(b"\n", 1)[0].decode().removeprefix("id: ").partition("-")[0]
        first.close()
        for bad in (f"{epoch}-\u00b2", f"{epoch}-" + "1" * 5000, f"{epoch}-\u0663"):
            for _ in range(2):
                chunks = board.stream(bad)
                assert next(chunks) == b"retry: 2000\n\n"
                assert next(chunks) == b"event: resync\ndata: {}\n\n"
                chunks.close()
        board.stream().close()  # still a place free
        raw = SSE(server, {"Last-Event-ID": f"{epoch}-" + "1" * 5000})  # the same over HTTP
        try:
            assert raw.until(lambda m: "event" in m)["event"] == "resync"
        finally:
            raw.close()


# -- HTTP hardening -----------------------------------------------------------------


def test_connections_are_capped_and_slow_requests_dropped() -> None:
    """Half-sent requests cannot exhaust the server (slowloris): beyond
    max_connections a connection gets 503 at once, a request trickled byte
    by byte is closed after header_timeout in all, and then the board
    serves again (review 13a #4)."""
    desk = make_desk()
    with Board(desk) as board, board.serve(max_connections=3, header_timeout=0.6) as server:
        host = f"Host: 127.0.0.1:{server.port}\r\n".encode()
        held = []
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /state HTTP/1.1\r\n" + host)
            held.append(sock)
        time.sleep(0.1)
        status, headers, body = get(server.url + "state")
        assert status == 503 and headers["Retry-After"] == "10" and b"too many connections" in body
        started = time.monotonic()
        trickled = held[0]
        with pytest.raises(OSError):
            for _ in range(60):  # one byte every 0.05 s: each read is quick, the whole request is not
                trickled.sendall(b"X")
                time.sleep(0.05)
                if trickled.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                    raise ConnectionResetError("closed by the server")
        assert time.monotonic() - started < 2.5
        for sock in held:  # every half-sent request was closed, unanswered
            sock.settimeout(3)
            assert sock.recv(100) == b""
            sock.close()
        deadline = time.monotonic() + 3  # their threads end just after the sockets close
        while get(server.url + "state")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(InvalidArgument):
            board.serve(max_connections=0)
        with pytest.raises(InvalidArgument):
            board.serve(header_timeout=math.nan)


def test_page_headers_and_request_limits(served: Any) -> None:
    """The page forbids anything but its own script and style; the board is
    read-only, takes no bodies, bounds the request target and answers only
    to its own host name."""
    _, _, _, server = served
    status, headers, page = get(server.url)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy and "unsafe-inline" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
    assert b"EventSource" in page

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/state", body=b"x" * 10)
    response = conn.getresponse()
    assert response.status == 405 and response.getheader("Allow") == "GET, HEAD"
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/state", body=b"{}", headers={"Content-Length": "2"})
    assert conn.getresponse().status == 413
    conn.close()
    assert get(server.url + "state?" + "x" * 3000)[0] == 414
    assert get(server.url + "nothing")[0] == 404
    assert get(server.url + "state", {"Host": "evil.example:80"})[0] == 403
    assert get(f"http://localhost:{server.port}/state")[0] == 200

    # A request line beyond http.server's own limit is refused, and the server lives on.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 414")
    assert get(server.url + "state")[0] == 200


def test_wsgi_app_mounted_under_a_prefix() -> None:
    """board_app serves the page, /state and /events to any WSGI server; a
    mount point without its trailing slash redirects to it."""
    desk = make_desk()
    app = board_app(desk, title="Mounted")
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        started.append((status, headers))

    assert app({"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/board", "PATH_INFO": ""}, start_response) == [b""]
    assert started[-1][0].startswith("308") and ("Location", "/board/") in started[-1][1]
    page = b"".join(app({"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/board", "PATH_INFO": "/"}, start_response))
    assert started[-1][0] == "200 OK" and b'fetch("state"' in page  # relative: works under any prefix
    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/state"}, start_response))
    assert json.loads(body)["title"] == "Mounted"
    stream = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/events"}, start_response)
    chunks = iter(stream)
    assert next(chunks) == b"retry: 2000\n\n"
    desk.submit(Ticket("T-1", 1000.0, skills={"payments": 1}))
    assert b"event: desk" in next(chunks)
    stream.close()  # type: ignore[attr-defined]
    assert app({"REQUEST_METHOD": "DELETE", "PATH_INFO": "/state"}, start_response) == [b"this board is read-only: GET or HEAD\n"]
    assert started[-1][0].startswith("405")
    with pytest.raises(InvalidArgument):
        board_app(app.board, title="again")
    app.board.close()


# -- the demo and the command line ------------------------------------------------------


def test_demo_driver_moves_the_desk() -> None:
    """The demo's simulated traffic submits tickets, and agents accept and complete them."""
    clock = ManualClock(9 * 3600.0)
    policy = default_policy()
    agents = default_agents()
    desk = policy.build(clock, agents)
    driver = DemoDriver(desk, clock, policy, agents, seed=3)
    for _ in range(240):
        driver.step(5.0)
    stats = desk.stats()
    kinds = {e.kind.value for e in desk.events}
    assert driver.submitted > 30 and stats.overall.served > 20
    assert {"submitted", "offered", "accepted", "completed"} <= kinds


def test_cli_board_demo_serves_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m triage_queue board --demo --port 0 --seconds S` serves the
    board, prints its URL, and stops by itself; --help describes --desk."""
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(main(["board", "--demo", "--port", "0", "--seconds", "1.5", "--speed", "100"]))
    )
    thread.start()
    url = None
    deadline = time.monotonic() + 10
    while url is None and time.monotonic() < deadline:
        time.sleep(0.1)
        for line in capsys.readouterr().out.splitlines():
            if line.startswith("Board: "):
                url = line.split()[1]
    assert url is not None
    state = json.loads(get(url + "state")[2])
    assert [a["id"] for a in state["agents"]] == ["ana", "bo", "cy", "dee", "eli"]
    thread.join(timeout=10)
    assert result == [0]
    with pytest.raises(SystemExit):
        main(["board", "--help"])
    assert "--desk" in capsys.readouterr().out


def test_cli_board_reports_a_bad_policy_file(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """A policy file that cannot be read is an error message and exit code 2, not a traceback."""
    assert main(["board", "--policy", str(tmp_path / "missing.toml"), "--port", "0", "--seconds", "0"]) == 2
    assert "error:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "value"),
    [("--speed", "nan"), ("--speed", "inf"), ("--speed", "0"), ("--seconds", "nan"), ("--seconds", "-1"),
     ("--seconds", "inf")],
)
def test_cli_board_refuses_speeds_and_durations_that_are_no_number(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--speed nan (which passes `<= 0` and `> 10000`) and --seconds nan,
    negative or infinite are an error and exit code 2, before anything is
    served, not a demo thread that dies or a board that stops at once
    (review 13a #9)."""
    assert main(["board", "--demo", "--port", "0", option, value, *(["--seconds", "0"] if option == "--speed" else [])]) == 2
    out = capsys.readouterr().out
    assert f"error: {option} must be" in out and "Board:" not in out


# -- in a real browser --------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install '.[dev]')")
    if missing:
        message = f"missing {', '.join(missing)}: apt-get install -y chromium chromium-driver"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to see script errors and CSP refusals
    profile = tempfile.mkdtemp(prefix="board-chromium-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: Any, condition: Callable[[Any], Any], what: str, timeout: float = 10) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)
    except TimeoutException:
        raise AssertionError(f"the page never showed {what}") from None


def text_of(driver: Any, css: str) -> str:
    # Read in one script call: the page re-renders, so an element found in
    # one call may be gone by the next.
    return str(driver.execute_script("var e = document.querySelector(arguments[0]); return e ? e.textContent : '';", css))


def texts_of(driver: Any, css: str) -> list[str]:
    found = driver.execute_script("return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent);", css)
    return [str(text) for text in found]


def test_page_shows_the_desk_and_follows_it_live(browser: Any, served: Any) -> None:
    """In Chromium: the page shows waiting counts by class and the agents
    with their status; it updates when a ticket is submitted and when an
    agent accepts, and lists the events."""
    desk, clock, _, server = served
    desk.submit(Ticket("T-1", 1000.0, skills={"payments": 1}))
    desk.submit(Ticket("T-2", 1000.0, severity="high", skills={"payments": 1}))
    browser.get(server.url)
    wait_for(browser, lambda d: text_of(d, "#conn") == "live", "the live stream connected")
    assert browser.title == "Support desk"
    assert text_of(browser, "#waiting-total") == "2"
    assert text_of(browser, '#classes tr[data-class="normal"] td.waiting') == "1"
    assert text_of(browser, '#classes tr[data-class="high"] td.waiting') == "1"
    assert text_of(browser, '#agents tr[data-agent="cy"] td.status') == "away"
    assert text_of(browser, '#agents tr[data-agent="ana"] td.status') == "available"
    assert text_of(browser, '#agents tr[data-agent="ana"] .load-text') == "0 / 2"

    clock.advance(5)
    desk.submit(Ticket("T-3", 1005.0, skills={"payments": 1}))  # a new ticket: the page follows
    wait_for(browser, lambda d: text_of(d, "#waiting-total") == "3", "the submitted ticket counted")
    assert text_of(browser, '#classes tr[data-class="normal"] td.waiting') == "2"
    wait_for(browser, lambda d: "submitted" in text_of(d, '#events li[data-kind="submitted"]'), "the event listed")

    offer = desk.submit(Ticket("T-4", 1005.0, skills={"billing": 1}))
    assert offer is not None and offer.agent_id == "ana"
    wait_for(browser, lambda d: text_of(d, '#agents tr[data-agent="ana"] td.work') == "offered T-4", "the offer")
    desk.accept(offer)  # the agent accepts: the page shows it working
    wait_for(browser, lambda d: text_of(d, '#agents tr[data-agent="ana"] td.work') == "T-4", "the accepted ticket")
    assert text_of(browser, '#agents tr[data-agent="ana"] .load-text') == "1 / 2"
    assert "T-4" in text_of(browser, '#events li[data-kind="accepted"]')

    desk.set_status("bo", "away")
    wait_for(browser, lambda d: text_of(d, '#agents tr[data-agent="bo"] td.status') == "away", "the status change")
    assert browser.execute_script("return document.getElementById('overflow-section').hidden")  # the desk reports no overflow
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []  # no script error, nothing refused


def test_page_shows_hostile_text_as_text(browser: Any) -> None:
    """Ticket and agent ids full of markup are shown as text: no element is
    made from them and no script runs."""
    clock = ManualClock(0.0)
    desk = Dispatcher(TicketQueue(clock=clock), [Agent(HOSTILE, skills={"x": 1}), Agent("<b>bold</b>", status="away")])
    with Board(desk) as board, board.serve() as server:
        desk.submit(Ticket(HOSTILE, 0.0, skills={"x": 1}))
        desk.submit(Ticket("T-2</td><td>", 0.0, skills={"<i>skill</i>": 1}))
        desk.decline(desk.offers_for(HOSTILE)[0], "<script>window.__pwned=2</script>")
        desk.submit(Ticket("T-3", 0.0, skills={"x": 1}))
        browser.get(server.url)
        wait_for(browser, lambda d: text_of(d, "#waiting-total") == "2", "the tickets")
        assert texts_of(browser, "#tickets td.name") == [
            HOSTILE,
            "T-2</td><td>",
        ]
        assert text_of(browser, "#tickets tr:nth-child(2) td.skills") == "<i>skill</i> 1"
        assert text_of(browser, "#agents td.work") == "offered T-3"
        assert text_of(browser, '#events li[data-kind="declined"] .what').endswith("— <script>window.__pwned=2</script>")
        assert text_of(browser, "#agents tr:nth-child(2) td.name") == "<b>bold</b>"
        assert HOSTILE in text_of(browser, "#events")
        assert texts_of(browser, "main img, main script, main i, #agents b, #tickets b, #events b") == []
        assert browser.execute_script("return window.__pwned === undefined")


def test_page_works_mounted_under_a_prefix(browser: Any) -> None:
    """In Chromium, through a threaded WSGI server with the board mounted at
    /board: /board redirects to /board/, and the page finds its state and
    its live stream under the prefix."""
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    desk = make_desk()
    board_wsgi = board_app(desk, title="Mounted board")

    def site(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ["PATH_INFO"]
        if path == "/board" or path.startswith("/board/"):
            environ["SCRIPT_NAME"], environ["PATH_INFO"] = "/board", path[len("/board") :]
            return board_wsgi(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"the rest of the app"]

    server = make_server("127.0.0.1", 0, site, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        browser.get(f"http://127.0.0.1:{server.server_port}/board")
        wait_for(browser, lambda d: text_of(d, "#conn") == "live", "the live stream connected under the prefix")
        assert browser.current_url.endswith("/board/") and browser.title == "Mounted board"
        desk.submit(Ticket("T-1", 1000.0, skills={"payments": 1}))
        wait_for(browser, lambda d: text_of(d, "#waiting-total") == "1", "the submitted ticket")
    finally:
        board_wsgi.board.close()  # ends the page's stream, so the server thread is free
        server.shutdown()
        server.server_close()


def test_page_shows_figures_the_desk_adds(browser: Any) -> None:
    """Figures a desk adds to its statistics (overflow in effect, an agent's
    strain) appear on the page as the desk reports them."""
    inner = make_desk()

    class Strained:
        def __init__(self, figures: Any, strain: str | None) -> None:
            self._figures, self._strain = figures, strain

        def to_dict(self) -> dict[str, Any]:
            return {**self._figures.to_dict(), "strain": self._strain}

    class Figures:
        def __init__(self, stats: Statistics) -> None:
            self.now, self._stats = stats.now, stats
            self.agents = {k: Strained(v, "cooling down until 10:42" if k == "ana" else None) for k, v in stats.agents.items()}

        def to_dict(self) -> dict[str, Any]:
            data = self._stats.to_dict()
            data["overflow"] = {"billing": "general >= 2 (34 waiting > 20)"}
            return data

    class Extended:
        def stats(self) -> Statistics:
            return Figures(inner.stats())  # type: ignore[return-value]

        def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
            return inner.subscribe(listener)

        def offers_for(self, agent_id: str) -> Any:
            return inner.offers_for(agent_id)

    with Board(Extended()) as board, board.serve() as server:
        browser.get(server.url)
        wait_for(browser, lambda d: text_of(d, "#overflow dt") == "billing", "the overflow section")
        assert text_of(browser, "#overflow dd") == "general >= 2 (34 waiting > 20)"
        assert texts_of(browser, "#agents-head th")[-1] == "strain"
        # The last extra column (the desk's own performance figures come before it).
        assert texts_of(browser, '#agents tr[data-agent="ana"] td.extra')[-1] == "cooling down until 10:42"
        assert texts_of(browser, '#agents tr[data-agent="bo"] td.extra')[-1] == "\u2013"  # the page's dash for none
