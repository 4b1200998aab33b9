"""The shared desk's command line: ``desk`` runs a real desk server
process that thin clients rely on, on a SQLite file and on a real Redis;
SIGTERM stops it cleanly (exit 0, a final snapshot covering the whole
log) and a restart continues where it stopped; ``log export`` writes the
desk's tickets as a trace the simulator replays under another policy."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desk_procs import DeskServer, write_files
from triage_queue import Ticket
from triage_queue.__main__ import main
from triage_queue.shared import SharedDesk, SqliteLog
from triage_queue.shared.cli import open_desk_log
from triage_queue.sim.trace import read_trace


@pytest.fixture(params=["sqlite", "redis"])
def desk_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'desk.db'}"
    info: dict[str, Any] = request.getfixturevalue("redis_server_info")
    return str(info["url"])


@pytest.fixture
def servers() -> Iterator[list[DeskServer]]:
    made: list[DeskServer] = []
    yield made
    for server in made:
        server.kill()


def test_desk_server_serves_thin_clients_stops_cleanly_and_restarts(
    desk_url: str, tmp_path: Path, servers: list[DeskServer]
) -> None:
    """Thin clients get answers from the desk server; SIGTERM exits 0 after
    storing a snapshot of everything; a restarted server continues: the
    same tickets in the same states, offer ids carrying on."""
    name = f"cli-{tmp_path.name}"[:60]
    server = DeskServer(tmp_path, desk_url, name=name)
    servers.append(server)
    server.start()
    log = open_desk_log(desk_url, name)
    try:
        client = SharedDesk(log, replica=False, timeout=5.0)
        first = client.submit(Ticket("T-1", 0.0, skills={"billing": 2}))
        assert first is not None and first.agent_id == "ana"
        assert client.accept(first).id == "T-1"
        second = client.submit(Ticket("T-2", 1.0))
        assert second is not None
        assert client.status("T-2") == "offered"

        assert server.stop(signal.SIGTERM) == 0
        assert "stopped at" in server.stderr()
        snapshot = log.load_snapshot()
        assert snapshot is not None
        after = [entry.command["op"] for entry in log.read(snapshot.position)]
        assert set(after) <= {"snapshotted"}  # it covers every command (but its own announcement)

        stopped_at = log.last_position()
        server.start()
        assert f"ready at {stopped_at}" in server.stderr()
        assert client.status("T-1") == "assigned"
        assert client.complete("T-1").id == "T-1"
        third = client.submit(Ticket("T-3", 2.0, skills={"billing": 1}))
        assert third is not None
        numbers = [int(offer.id.rsplit("-", 1)[1]) for offer in (first, second, third)]
        assert numbers == sorted(numbers) and len(set(numbers)) == 3
        assert server.stop(signal.SIGINT) == 0
    finally:
        log.close()


def test_desk_command_refuses_a_bad_log_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A URL that is neither SQLite nor Redis exits 2 naming it."""
    staff, policy = write_files(tmp_path)
    assert main(["desk", "--log", "ftp://nowhere", "--staff", str(staff), "--policy", str(policy)]) == 2
    assert "ftp://nowhere" in capsys.readouterr().err


def _day_on_a_desk(path: Path) -> None:
    # A small day on a shared desk whose log clock is scripted (seconds).
    now = [1_000_000.0]
    log = SqliteLog(path, clock=lambda: now[0])
    from triage_queue import Agent

    desk = SharedDesk(
        log, agents=[Agent("ana", skills={"billing": 1}, capacity=2), Agent("bo")], follow=False, offer_timeout=None
    )
    try:
        offers = {}
        for i in range(6):
            now[0] += 10.0
            offer = desk.submit(Ticket(f"T-{i}", now[0], skills={"billing": 1} if i % 2 else {}))
            if offer is not None:
                offers[offer.ticket.id] = offer
        assert desk.status("T-5") == "waiting"
        now[0] += 5.0
        desk.update("T-5", contacts=2)  # a follow-up while it waits
        now[0] += 1.0
        desk.cancel("T-5")  # the customer gives up
        for offer in offers.values():
            now[0] += 1.0
            desk.accept(offer)
        for ticket_id in offers:
            now[0] += 60.0
            desk.complete(ticket_id)
    finally:
        desk.close()
        log.close()


def test_log_export_writes_a_trace_the_simulator_replays(tmp_path: Path) -> None:
    """Every submitted ticket is in the trace, in arrival order, with the
    handling time it had; the simulator replays it under another policy."""
    db = tmp_path / "desk.db"
    _day_on_a_desk(db)
    staff, policy = write_files(tmp_path)
    out = tmp_path / "day.csv"
    assert main(["log", "export", "--log", f"sqlite:///{db}", "--out", str(out)]) == 0
    day = read_trace(out)
    assert [a.ticket.id for a in day.arrivals] == [f"T-{i}" for i in range(6)]
    gaps = [b.time - a.time for a, b in zip(day.arrivals, day.arrivals[1:], strict=False)]
    assert gaps == pytest.approx([10.0] * 5)
    handled = {a.ticket.id: a.handling_time for a in day.arrivals}
    assert [handled[t] for t in ("T-0", "T-1", "T-2")] == pytest.approx([62.0, 121.0, 180.0])  # accept to complete
    assert min(handled.values()) > 0
    last = day.arrivals[-1]
    assert last.follow_ups == pytest.approx((5.0,)) and last.patience == pytest.approx(6.0)

    jsonl = tmp_path / "day.jsonl"
    since = str(1_000_000.0 + 25.0)
    assert main(["log", "export", "--log", f"sqlite:///{db}", "--since", since, "--out", str(jsonl)]) == 0
    assert [a.ticket.id for a in read_trace(jsonl).arrivals] == ["T-2", "T-3", "T-4", "T-5"]

    report = tmp_path / "replay"
    code = main(["simulate", "--trace", str(out), "--staff", str(staff), "--policy", str(policy), "--out", str(report)])
    assert code == 0
    assert any(report.iterdir())


def test_log_export_with_a_wrong_policy_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The export replays the log: a policy that is not the desk's is
    refused with exit 2 and the difference named, and nothing is written."""
    db = tmp_path / "desk.db"
    _day_on_a_desk(db)
    _, policy = write_files(tmp_path)
    out = tmp_path / "day.csv"
    assert main(["log", "export", "--log", f"sqlite:///{db}", "--policy", str(policy), "--out", str(out)]) == 2
    assert "policy" in capsys.readouterr().err
    assert not out.exists()
