"""Faults of a shared desk with real processes killed with SIGKILL, each
with full accounting: every ticket is completed once or cancelled, none is
lost, none assigned twice, and no agent ever holds more than its capacity
or a ticket it lacks the skills for.

- a replica holding accepted tickets is killed, then restarted: it
  converges (the same digest as the others at the same position) and
  completes its tickets;
- a process holding agents with pending offers is killed: the offers
  expire back to their exact places, and once the agents' heartbeats have
  been missing for the grace period they get no new offers;
- SQLite desk processes are killed mid-write and restarted: nothing
  acknowledged is lost and the file is intact;
- on Redis, the same desk survives its server process being killed (AOF
  on) while thin clients and a desk server work.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desk_procs import DeskServer, RedisServer, Worker, wait_until, write_files
from triage_queue import DuplicateTicket, Event, EventKind, Ticket
from triage_queue.config import load_policy
from triage_queue.errors import TriageError
from triage_queue.shared import NoReply, SharedDesk
from triage_queue.shared.cli import open_desk_log

CAPACITY = {"ana": 2, "bo": 1, "cy": 2}
SKILLS: dict[str, dict[str, int]] = {"ana": {"billing": 3}, "bo": {}, "cy": {"billing": 1}}


class Accounting:
    """Checks every event a live replica hears: no ticket assigned twice,
    capacity and skills respected; counts completions."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tickets: dict[str, Ticket] = {}
        self.holder: dict[str, str | None] = {}
        self.load: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self.completed: Counter[str] = Counter()
        self.cancelled: set[str] = set()
        self.offered: list[Event] = []
        self.closed: dict[str, EventKind] = {}  # offer id -> how it ended without an accept
        self.seen: set[str] = set()  # tickets any event was about
        self.problems: list[str] = []

    def submitted(self, ticket: Ticket) -> None:
        with self.lock:
            self.tickets[ticket.id] = ticket

    def __call__(self, event: Event) -> None:
        with self.lock:
            t, a = event.ticket_id, event.agent_id
            if t is not None:
                self.seen.add(t)
            if event.kind is EventKind.OFFERED:
                self.offered.append(event)
            elif event.kind in (EventKind.EXPIRED, EventKind.REVOKED, EventKind.DECLINED) and event.offer_id:
                self.closed[event.offer_id] = event.kind
            elif event.kind is EventKind.ACCEPTED and t is not None and a is not None:
                if self.holder.get(t) is not None:
                    self.problems.append(f"{t} accepted by {a} while held by {self.holder[t]}")
                self.holder[t] = a
                self.accepted[t] += 1
                self.load[a] += 1
                if self.load[a] > CAPACITY[a]:
                    self.problems.append(f"{a} holds {self.load[a]} > capacity {CAPACITY[a]}")
                ticket = self.tickets.get(t)
                if ticket is not None:
                    for skill, level in ticket.skills.items():
                        if SKILLS[a].get(skill, 0) < level:
                            self.problems.append(f"{a} got {t} needing {skill}:{level}")
            elif event.kind in (EventKind.COMPLETED, EventKind.TRANSFERRED) and t is not None:
                holder = self.holder.get(t)
                if holder is None:
                    self.problems.append(f"{t} {event.kind.value} while held by nobody")
                else:
                    self.load[holder] -= 1
                self.holder[t] = None
                if event.kind is EventKind.COMPLETED:
                    self.completed[t] += 1
            elif event.kind is EventKind.CANCELLED and t is not None:
                self.cancelled.add(t)

    def done(self) -> bool:
        with self.lock:
            return all(self.completed[t] >= 1 or t in self.cancelled for t in self.tickets)

    def check(self) -> None:
        with self.lock:
            assert not self.problems, self.problems
            for t in self.tickets:
                assert (self.completed[t] == 1) != (t in self.cancelled), (t, self.completed[t], t in self.cancelled)
                assert self.accepted[t] == self.completed[t], (t, self.accepted[t], self.completed[t])
            assert not set(self.completed) - set(self.tickets), "completed tickets nobody submitted"


@pytest.fixture
def procs() -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for proc in made:
        proc.kill()


def _watch(url: str, name: str, folder: Path) -> tuple[SharedDesk, Accounting]:
    # The test's own replica, live from the start: it hears every event.
    pf = load_policy(folder / "policy.toml")
    log = open_desk_log(url, name)
    desk = SharedDesk(log, policy=pf.policy, selection=pf.selection_strategy(), name=name, digest_seconds=None)
    accounting = Accounting()
    desk.subscribe(accounting)
    return desk, accounting


def _serve(desk: SharedDesk, agents: list[str], stop: threading.Event, hold: float = 0.05) -> None:
    # Agents served by a thread of the test process: accept, complete.
    while not stop.is_set():
        for agent in agents:
            for offer in desk.offers_for(agent):
                try:
                    desk.accept(offer)
                except Exception:
                    continue
            for ticket in desk.assigned(agent):
                try:
                    desk.complete(ticket.id, agent)
                except (TriageError, ConnectionError, OSError):
                    continue  # completed already (a retry), or the log is out of reach: next round
        stop.wait(hold)


def _converged(worker: Worker, desk: SharedDesk, timeout: float) -> None:
    replica = desk.replica
    assert replica is not None

    def same() -> bool:
        desk.sync()
        with replica.lock:
            mine = (str(replica.position), replica.digest())
        return any(line[1:] == list(mine) for line in worker.lines("digest")[-5:])

    wait_until(same, timeout, "the restarted replica's digest to match", pause=0.1)


@pytest.mark.parametrize("engine", ["sqlite", "redis"])
def test_replica_holding_accepted_tickets_killed_then_restarted(
    engine: str, tmp_path: Path, procs: list[Any], request: pytest.FixtureRequest
) -> None:
    """ana's process accepts two tickets and is SIGKILLed holding them;
    the others keep working; restarted, it catches up, reaches the same
    digest as the test's replica and completes exactly its two tickets."""
    url = f"sqlite:///{tmp_path / 'desk.db'}" if engine == "sqlite" else request.getfixturevalue("redis_server_info")["url"]
    name = f"faults1-{engine}"
    write_files(tmp_path)
    server = DeskServer(tmp_path, url, name=name)
    procs.append(server)
    server.start()
    desk, accounting = _watch(url, name, tmp_path)
    worker = Worker(tmp_path, url, name, "ana", ["agent", "--agents", "ana", "--accept-max", "2"])
    procs.append(worker)
    worker.start()
    stop = threading.Event()
    helper = threading.Thread(target=_serve, args=(desk, ["bo", "cy"], stop), daemon=True)
    try:
        for i in range(24):
            ticket = Ticket(f"T-{i}", float(i), skills={"billing": 2} if i % 4 == 0 else {})
            accounting.submitted(ticket)
            desk.submit(ticket)
        wait_until(lambda: len(worker.lines("accepted")) == 2, 10, "ana's process to accept two tickets")
        held = sorted(line[1] for line in worker.lines("accepted"))
        worker.kill()
        helper.start()
        desk.sync()
        assert sorted(t.id for t in desk.assigned("ana")) == held  # still hers, nobody else's

        worker.mode_args = ["agent", "--agents", "ana", "--complete", "0.05"]
        worker.start()
        wait_until(accounting.done, 15, "every ticket completed")
        assert set(held) <= {line[1] for line in worker.lines("completed")}
        _converged(worker, desk, 10)
        accounting.check()
    finally:
        stop.set()
        if helper.is_alive():
            helper.join(5)
        desk.close()
        desk.log.close()


def test_agent_process_killed_with_pending_offers(tmp_path: Path, procs: list[Any]) -> None:
    """The process holding ana and bo (heartbeats, offers left unanswered)
    is SIGKILLed with three offers pending: they expire and the tickets go
    back to their exact places; after the grace period the agents are away
    and get no new offer; cy then serves every ticket in order."""
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    name = "faults2"
    policy = tmp_path / "policy.toml"
    write_files(tmp_path)
    policy.write_text(policy.read_text().replace('offer_timeout = "2s"', 'offer_timeout = "0.5s"'))
    server = DeskServer(tmp_path, url, name=name, args=["--presence-grace", "1.5"])
    procs.append(server)
    server.start()
    desk, accounting = _watch(url, name, tmp_path)
    try:
        desk.set_status("cy", "away")
        worker = Worker(tmp_path, url, name, "ab", ["agent", "--agents", "ana,bo", "--ignore-offers", "--heartbeat", "0.2"])
        procs.append(worker)
        worker.start()
        wait_until(lambda: desk.sync() > 0 and len(_beats(desk)) == 2, 5, "heartbeats")
        order = [f"T-{i}" for i in range(8)]
        for i, ticket_id in enumerate(order):
            ticket = Ticket(ticket_id, float(i))
            accounting.submitted(ticket)
            desk.submit(ticket)
        desk.sync()
        pending = desk.offers_for("ana") + desk.offers_for("bo")
        assert len(pending) == 3
        worker.kill()

        def settled() -> bool:
            desk.sync()
            statuses = {a: _agent_status(desk, a) for a in ("ana", "bo")}
            return set(statuses.values()) == {"away"} and not desk.offers_for("ana") + desk.offers_for("bo")

        wait_until(settled, 8, "ana and bo to go away with no offer pending")
        away = time.time()
        time.sleep(1.0)  # the offer timeout twice over: nothing new may reach them
        desk.sync()
        late = [e for e in accounting.offered if e.agent_id in ("ana", "bo") and e.time > away]
        assert late == []
        assert {accounting.closed.get(offer.id) for offer in pending} == {EventKind.EXPIRED}  # timed out, not revoked
        assert _waiting(desk) == order  # every ticket back in its exact place

        desk.set_status("cy", "available")
        stop = threading.Event()
        helper = threading.Thread(target=_serve, args=(desk, ["cy"], stop, 0.01), daemon=True)
        helper.start()
        try:
            wait_until(accounting.done, 10, "cy to serve every ticket")
        finally:
            stop.set()
            helper.join(5)
        served = [str(e.ticket_id) for e in accounting.offered if e.agent_id == "cy"]
        assert sorted(served, key=order.index) == served  # in queue order
        accounting.check()
    finally:
        desk.close()
        desk.log.close()


def _state(desk: SharedDesk, ticket_id: str) -> str:
    try:
        return desk.status(ticket_id)
    except TriageError as exc:
        return type(exc).__name__


def _beats(desk: SharedDesk) -> list[Any]:
    replica = desk.replica
    assert replica is not None
    with replica.lock:
        return replica.snapshot()["presence"]  # type: ignore[no-any-return]


def _agent_status(desk: SharedDesk, agent_id: str) -> str:
    replica = desk.replica
    assert replica is not None
    with replica.lock:
        return str(replica.desk.roster[agent_id].status.value)


def _waiting(desk: SharedDesk) -> list[str]:
    replica = desk.replica
    assert replica is not None
    with replica.lock:
        return [t.id for t in replica.desk.queue]


def test_sqlite_desk_processes_killed_mid_write_lose_nothing_acknowledged(tmp_path: Path, procs: list[Any]) -> None:
    """A process submitting as fast as it can (snapshotting and trimming
    every 25 commands) and the desk server are SIGKILLed mid-write; after
    restarting both, every acknowledged ticket is on the desk, the file is
    intact and the restarted desk server continues; then everything is
    served exactly once."""
    db = tmp_path / "desk.db"
    url = f"sqlite:///{db}"
    name = "faults3"
    write_files(tmp_path)
    server = DeskServer(tmp_path, url, name=name, args=["--snapshot-every", "25"])
    procs.append(server)
    server.start()
    writer = Worker(tmp_path, url, name, "w", ["submit", "--prefix", "W", "--count", "5000"])
    procs.append(writer)
    writer.start(options=["--snapshot-every", "25"])
    wait_until(lambda: len(writer.lines("ack")) >= 150, 15, "150 acknowledged submits")
    writer.kill()
    server.kill()
    acked = [line[1] for line in writer.lines("ack")]

    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    server.start()
    desk, accounting = _watch(url, name, tmp_path)
    try:
        replica = desk.replica
        assert replica is not None
        with replica.lock:
            tickets = list(replica.desk.queue)
            for agent in ("ana", "bo", "cy"):
                tickets += [o.ticket for o in replica.desk.offers_for(agent)]
        on_desk = {t.id for t in tickets}
        assert len(on_desk) == len(tickets)
        assert set(acked) <= on_desk  # nothing acknowledged lost
        assert len(on_desk - set(acked)) <= 1  # at most the submit in flight when killed
        for ticket in tickets:
            accounting.submitted(ticket)
        stop = threading.Event()
        helper = threading.Thread(target=_serve, args=(desk, ["ana", "bo", "cy"], stop, 0.0), daemon=True)
        helper.start()
        try:
            wait_until(accounting.done, 15, "every ticket served")
        finally:
            stop.set()
            helper.join(5)
        accounting.check()
        assert server.stop(signal.SIGTERM) == 0
    finally:
        desk.close()
        desk.log.close()


def test_redis_server_killed_under_a_working_shared_desk(tmp_path: Path, procs: list[Any], redis_server_path: str) -> None:
    """redis-server (AOF, everysec) is SIGKILLed while a thin client
    submits and agents work through the desk server, then restarted on its
    folder: the desk server rides it out without a restart, clients retry
    (a retried submit that had landed is refused as a duplicate), and every
    acknowledged ticket is served exactly once."""
    redis = RedisServer(redis_server_path, tmp_path)
    procs.append(redis)
    redis.start()
    write_files(tmp_path)
    name = "faults4"
    server = DeskServer(tmp_path, redis.url, name=name)
    procs.append(server)
    server.start()
    desk, accounting = _watch(redis.url, name, tmp_path)
    client_log = open_desk_log(redis.url, name)
    client = SharedDesk(client_log, replica=False, timeout=3.0)
    acked: list[str] = []
    retries = [0]

    def submit_all() -> None:
        for i in range(120):
            ticket = Ticket(f"R-{i}", float(i), skills={"billing": 1} if i % 3 == 0 else {})
            accounting.submitted(ticket)
            while True:
                try:
                    client.submit(ticket)
                except DuplicateTicket:
                    pass  # an earlier attempt landed
                except (ConnectionError, OSError, NoReply):
                    # Landed or not? A new call is a new command (it could
                    # serve the ticket twice if it landed and was completed
                    # meanwhile): read the log first, as an application
                    # checks its own records before sending again.
                    retries[0] += 1
                    while True:
                        try:
                            desk.sync()
                            break
                        except (ConnectionError, OSError):
                            time.sleep(0.1)
                    if ticket.id in accounting.seen:
                        break  # it landed
                    continue
                break
            acked.append(ticket.id)
            time.sleep(0.01)

    stop = threading.Event()
    helper = threading.Thread(target=_serve, args=(desk, ["ana", "bo", "cy"], stop, 0.01), daemon=True)
    writer = threading.Thread(target=submit_all, daemon=True)
    helper.start()
    writer.start()
    try:
        wait_until(lambda: len(acked) >= 40, 10, "40 acknowledged submits")
        redis.kill()
        time.sleep(1.5)  # longer than a call's own retries (about 0.75 s): the client sees it
        redis.start()
        writer.join(20)
        assert len(acked) == 120
        try:
            wait_until(accounting.done, 20, "every ticket served")
        except AssertionError:
            desk.sync()
            left = [t for t in accounting.tickets if not accounting.completed[t] and t not in accounting.cancelled]
            states = {t: _state(desk, t) for t in left[:10]}
            replica = desk.replica
            assert replica is not None
            with replica.lock:
                roster = {a.id: (a.status.value, len(desk.assigned(a.id))) for a in replica.desk.roster}
            raise AssertionError(f"not served: {states}; agents {roster}; problems {accounting.problems}") from None
        accounting.check()
        assert retries[0] > 0, "the outage was not seen by the client"
        assert server.proc is not None and server.proc.poll() is None  # rode it out
        assert server.stop(signal.SIGTERM) == 0
    finally:
        stop.set()
        helper.join(5)
        desk.close()
        desk.log.close()
        client_log.close()
