"""SharedDesk: one desk shared by several replicas (and thin clients) over
one log, on SQLite and on a real Redis: each call returns what one
in-process Dispatcher returns (the same value, the same exception), a
retried command applies once, listeners hear live events once and never
history, snapshots let a new replica join and the log be trimmed, presence
sends silent agents away, and a diverged replica is caught and resynced."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from triage_queue import (
    Agent,
    AgentStatus,
    Dispatcher,
    Event,
    InvalidArgument,
    InvalidTicket,
    ManualClock,
    NotAssigned,
    OfferClosed,
    OverflowRule,
    StrainGuard,
    Ticket,
    TicketQueue,
    UnknownAgent,
    UnknownTicket,
)
from triage_queue.shared import Alarm, AsyncSharedDesk, CommandFailed, NoReply, SharedDesk, SqliteLog, open_log
from triage_queue.shared.commands import encode
from triage_queue.shared.log import Log

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
MakeLog = Callable[[], Log]


def engine_log_factory(request: pytest.FixtureRequest, tmp_path: Path, engine: str, name: str | None = None) -> MakeLog:
    """A callable giving a new handle on one fresh log of the engine."""
    if engine == "sqlite":
        path = tmp_path / f"{name or 'desk'}.db"
        return lambda: SqliteLog(path)
    try:
        factory = request.getfixturevalue("redis_log_factory")
    except pytest.FixtureLookupError:
        if CI:
            pytest.fail("the redis_log_factory fixture is missing (tests/conftest.py)")
        pytest.skip("the redis_log_factory fixture is not available yet")
    desk = name or f"desk-{request.node.name}".replace("[", "-").replace("]", "")[:100]
    return lambda: factory(desk)


@pytest.fixture(params=["sqlite", "redis"])
def make_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeLog]:
    logs: list[Log] = []

    def make() -> Log:
        log = engine_log_factory(request, tmp_path, request.param)()
        logs.append(log)
        return log

    yield make
    for log in logs:
        log.close()


@pytest.fixture
def desks() -> Iterator[list[SharedDesk]]:
    made: list[SharedDesk] = []
    yield made
    for desk in made:
        desk.close()


def team() -> list[Agent]:
    return [Agent("ana", skills=["billing"]), Agent("bo", capacity=2)]


def test_two_replicas_agree_and_answer_as_one_dispatcher(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """Calls alternate between two replicas; every result and every error
    equals what one in-process Dispatcher gives for the same calls."""
    a = SharedDesk(make_log(), agents=team(), name="eu", follow=False)
    b = SharedDesk(make_log(), name="ignored: the desk exists", follow=False)
    desks += [a, b]
    assert a.replica is not None and b.replica is not None
    clock = ManualClock(a.replica.time)  # the desk was created at the init command's log time
    one = Dispatcher(TicketQueue(clock=clock), team(), name="eu")

    def both(call: Callable[[Any], Any]) -> None:
        shared = a if len(calls) % 2 else b
        calls.append(call)
        try:
            got: Any = call(shared)
        except Exception as exc:
            got = exc
        assert shared.replica is not None
        clock.set(shared.replica.time)  # the command's time is its log entry's
        try:
            expected: Any = call(one)
        except Exception as exc:
            assert type(got) is type(exc) and str(got) == str(exc)
        else:
            assert got == expected

    calls: list[Any] = []
    both(lambda d: d.submit(Ticket("T-1", 0.0, skills=["billing"])))
    both(lambda d: d.submit(Ticket("T-2", 0.0)))
    both(lambda d: d.submit(Ticket("T-2", 0.0)))  # DuplicateTicket
    both(lambda d: d.submit(Ticket("T-3", 0.0)))
    both(lambda d: d.accept("eu-1"))
    both(lambda d: d.accept("eu-1"))  # OfferClosed
    both(lambda d: d.decline("eu-2", "busy"))
    both(lambda d: d.next_for("bo"))
    both(lambda d: d.update("T-3", severity="critical", skills={"billing": 1}))
    both(lambda d: d.complete("T-1", "bo"))  # NotAssigned
    both(lambda d: d.complete("T-1", "ana"))
    both(lambda d: d.cancel("T-9"))  # UnknownTicket
    both(lambda d: d.set_status("bo", AgentStatus.AWAY))
    both(lambda d: d.update_agent("bo", skills={"billing": 2}, status="available"))
    both(lambda d: d.add_agent(Agent("cy", dedicated_customers={"acme"})))
    both(lambda d: d.transfer("T-1"))  # UnknownTicket: completed
    both(lambda d: d.remove_agent("cy"))
    both(lambda d: d.set_status("zed", "away"))  # UnknownAgent
    both(lambda d: d.update("T-3", severity="bogus"))  # InvalidTicket
    both(lambda d: d.tick())
    b.sync()
    a.sync()
    for d in (a, b):
        for ticket_id in ("T-2", "T-3"):
            assert d.status(ticket_id) == one.status(ticket_id)
        assert d.offers_for("bo") == one.offers_for("bo")
        assert d.assigned("ana") == one.assigned("ana")
        assert d.stats().to_dict()["overall"] == one.stats().to_dict()["overall"]
        assert str(d.explain_assignment("T-3")) == str(one.explain_assignment("T-3"))
    assert a.replica.digest() == b.replica.digest()


def test_a_retried_command_applies_once(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """The same command appended twice (a retry after a lost reply) is
    applied once, and both answers are the first result."""
    desk = SharedDesk(make_log(), agents=team(), name="eu", follow=False)
    desks.append(desk)
    command = encode("submit", {"ticket": Ticket("T-1", 0.0)})
    desk.log.append(command)
    entry = desk.log.append(command)
    replica = desk.replica
    assert replica is not None
    replica.sync_to(entry.position)
    assert replica.result(command["id"]).id == "eu-1"
    assert len(replica.desk.queue) == 0 and replica.desk.status("T-1") == "offered"
    assert desk.submit(Ticket("T-2", 0.0)).id == "eu-2"  # type: ignore[union-attr]


def test_thin_clients_get_results_from_a_desk_server(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """A thin client appends and waits for the result a replica publishes:
    values, reads and errors arrive as on the replica."""
    server = SharedDesk(make_log(), agents=team(), name="eu", poll=0.01)
    thin = SharedDesk(make_log(), replica=False, timeout=5.0)
    desks += [server, thin]
    offer = thin.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.id == "eu-1" and offer.agent_id == "ana"
    assert thin.accept(offer).id == "T-1"
    with pytest.raises(OfferClosed, match="accepted"):
        thin.accept(offer)
    with pytest.raises(UnknownAgent):
        thin.offers_for("zed")
    assert thin.status("T-1") == "assigned"
    assert [t.id for t in thin.assigned("ana")] == ["T-1"]
    assert thin.stats().overall.waiting == 0
    assert thin.explain_assignment("T-1").agent_id == "ana"
    assert thin.next_due() == server.next_due()  # (a stale expiry: harmless)
    with pytest.raises(InvalidArgument, match="thin client"):
        thin.subscribe(print)


def test_a_thin_client_with_no_server_gets_no_reply(tmp_path: Path) -> None:
    """With no replica running, a thin client's call times out with NoReply."""
    thin = SharedDesk(SqliteLog(tmp_path / "d.db"), replica=False, timeout=0.2)
    with pytest.raises(NoReply, match="desk server"):
        thin.tick()


def test_listeners_hear_live_events_once_and_never_history(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """Each replica's listeners hear every live event once, whoever caused
    it; a replica joining later replays history silently."""
    a = SharedDesk(make_log(), agents=team(), name="eu", follow=False)
    a.submit(Ticket("T-0", 0.0))
    b = SharedDesk(make_log(), follow=False)
    desks += [a, b]
    heard_a: list[Event] = []
    heard_b: list[Event] = []
    a.subscribe(heard_a.append)
    b.subscribe(heard_b.append)
    assert heard_b == []
    a.submit(Ticket("T-1", 0.0))
    b.sync()
    assert [e.kind.value for e in heard_a] == ["submitted", "offered"]
    assert heard_b == heard_a
    late = SharedDesk(make_log(), follow=False)
    desks.append(late)
    heard_late: list[Event] = []
    late.subscribe(heard_late.append)
    assert heard_late == []


def test_a_new_replica_joins_by_snapshot_after_the_log_is_trimmed(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """Snapshots are stored and the log trimmed behind the older one; a new
    replica loads the newest and replays the tail to the same state; an old
    replica that fell behind the trim point resyncs from the snapshot."""
    a = SharedDesk(make_log(), agents=team(), name="eu", follow=False, snapshot_every=5)
    behind = SharedDesk(make_log(), follow=False)
    reading = SharedDesk(make_log(), follow=False)
    desks += [a, behind, reading]
    assert a.replica is not None and behind.replica is not None
    for i in range(12):
        a.submit(Ticket(f"T-{i}", float(i)))
        a.replica.maybe_snapshot()
    a.replica.maybe_snapshot(force=True)
    a.submit(Ticket("T-tail", 0.0))
    assert a.log.first_position() > 1
    fresh = SharedDesk(make_log(), follow=False)
    desks.append(fresh)
    assert fresh.replica is not None
    assert fresh.replica.applied_count < 12  # not the whole log
    assert fresh.replica.digest() == a.replica.digest()
    assert reading.sync() == a.log.last_position()  # its next read finds its last entry gone: it reloads
    assert reading.replica is not None and reading.replica.digest() == a.replica.digest()
    assert behind.replica.verify() is True  # its last entry is gone: it reloaded
    behind.sync()
    assert behind.replica.digest() == a.replica.digest()
    assert [o.ticket.id for o in behind.offers_for("bo")] == [o.ticket.id for o in a.offers_for("bo")]


def test_presence_sends_silent_agents_away(tmp_path: Path, desks: list[SharedDesk]) -> None:
    """An agent whose heartbeats stop for longer than the grace period is
    set away at the next command; its pending offers go back to the queue."""
    clock = ManualClock(100.0)
    log = SqliteLog(tmp_path / "d.db", clock=clock)
    desk = SharedDesk(
        log, agents=[Agent("ana"), Agent("bo", status="away")], presence_grace=30, offer_timeout=None, follow=False, clock=clock
    )
    desks.append(desk)
    desk.heartbeat("ana")
    assert desk.submit(Ticket("T-1", 0.0)) is not None
    clock.advance(20)
    desk.heartbeat("ana")
    assert desk.next_due() == 150.0
    clock.advance(29)
    desk.tick()
    assert desk.status("T-1") == "offered"
    clock.advance(2)
    desk.tick()
    assert desk.status("T-1") == "waiting"
    assert desk.replica is not None and desk.replica.desk.roster["ana"].status is AgentStatus.AWAY
    with pytest.raises(UnknownAgent):
        desk.heartbeat("zed")


def test_the_follower_ticks_when_something_falls_due(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """With a short offer timeout, an unanswered offer expires on time with
    no call from anyone: a follower appends the tick."""
    desk = SharedDesk(make_log(), agents=[Agent("ana")], name="eu", offer_timeout=0.2, poll=0.01)
    desks.append(desk)
    heard: list[str] = []
    desk.subscribe(lambda e: heard.append(e.kind.value))
    assert desk.submit(Ticket("T-1", 0.0)) is not None
    deadline = time.monotonic() + 5
    while "expired" not in heard and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "expired" in heard
    assert heard.count("expired") == 1


def test_wait_for_ticket_wakes_on_another_process_submit(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """A thread waiting for an agent's ticket on one replica wakes when
    another replica submits one."""
    a = SharedDesk(make_log(), agents=[Agent("ana")], name="eu", poll=0.01)
    b = SharedDesk(make_log(), poll=0.01)
    desks += [a, b]
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(a.wait_for_ticket("ana", timeout=5)))
    waiter.start()
    time.sleep(0.1)
    b.submit(Ticket("T-1", 0.0))
    waiter.join(6)
    assert got and got[0] is not None and got[0].ticket.id == "T-1"
    assert a.wait_for_ticket("ana", timeout=0.05) is None  # handed out once, as in one process
    with pytest.raises(UnknownAgent):
        a.wait_for_ticket("zed", timeout=0)


def test_a_diverged_replica_is_caught_and_resynced(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """A replica whose state was changed behind the log's back reports a
    divergence at the next digest check and comes back by resyncing."""
    alarms: list[Alarm] = []
    a = SharedDesk(make_log(), agents=team(), name="eu", follow=False)
    b = SharedDesk(make_log(), follow=False, on_alarm=alarms.append)
    desks += [a, b]
    ra, rb = a.replica, b.replica
    assert ra is not None and rb is not None
    a.submit(Ticket("T-1", 0.0))
    ra.maybe_snapshot(force=True)
    a.log.append(ra.digest_command("a"))  # a checkpoint: each replica records its digest there
    b.sync()
    with rb.lock:
        rb.desk.submit(Ticket("rogue", 0.0))  # a change no other replica saw
    a.sync()
    a.log.append(ra.digest_command("a"))  # compares the first checkpoint: still alike there
    b.sync()
    assert alarms == []
    a.sync()
    a.log.append(ra.digest_command("a"))  # compares the second: caught
    b.sync()
    assert [alarm.kind for alarm in alarms] == ["divergence"]
    assert rb.take_divergence()
    rb.resync("test")
    a.sync()
    assert rb.digest() == ra.digest()
    with pytest.raises(UnknownTicket):
        b.status("rogue")


def test_errors_that_are_not_the_librarys_travel_as_command_failed(tmp_path: Path, desks: list[SharedDesk]) -> None:
    """A classify function that raises: the replica that ran the command
    raises the very exception; a thin client gets CommandFailed naming it."""

    def classify(ticket: Ticket) -> str:
        if ticket.id == "boom":
            raise ValueError("no class for boom")
        return "normal"

    log = SqliteLog(tmp_path / "d.db")
    server = SharedDesk(log, classify=classify, poll=0.01)
    thin = SharedDesk(SqliteLog(tmp_path / "d.db"), replica=False, timeout=5.0)
    desks += [server, thin]
    with pytest.raises(ValueError, match="no class for boom"):
        server.submit(Ticket("boom", 0.0))
    with pytest.raises(CommandFailed, match="ValueError: no class for boom"):
        thin.submit(Ticket("boom", 0.0))
    with pytest.raises(InvalidArgument, match="classify"):
        SharedDesk(SqliteLog(tmp_path / "d.db"), follow=False)  # not the desk's classify


def test_arguments_that_are_not_plain_data_are_refused(tmp_path: Path, desks: list[SharedDesk]) -> None:
    """An argument that cannot travel as JSON is refused before anything is
    appended, naming it; NotAssigned and friends come back as themselves."""
    desk = SharedDesk(SqliteLog(tmp_path / "d.db"), agents=team(), follow=False)
    desks.append(desk)
    before = desk.log.last_position()
    with pytest.raises(InvalidArgument, match="attributes"):
        desk.update("T-1", attributes={"x": object()})
    assert desk.log.last_position() == before
    with pytest.raises(NotAssigned):
        desk.submit(Ticket("T-1", 0.0)) and desk.complete("T-1", "bo")


def test_async_next_ticket_wakes_on_another_replicas_submit(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """AsyncSharedDesk.next_ticket suspends a coroutine until another
    replica's submit reaches this one; with nothing coming it times out."""
    a = SharedDesk(make_log(), agents=[Agent("ana")], name="eu", poll=0.01)
    b = SharedDesk(make_log(), poll=0.01)
    desks += [a, b]
    d = AsyncSharedDesk(a)

    async def main() -> tuple[Any, Any]:
        waiting = asyncio.ensure_future(d.next_ticket("ana", timeout=5))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(b.submit, Ticket("T-1", 0.0))
        offer = await waiting
        return offer, await d.next_ticket("ana", timeout=0.05)

    offer, nothing = asyncio.run(main())
    assert offer is not None and offer.ticket.id == "T-1" and nothing is None
    assert d.accept(offer).id == "T-1"
    assert asyncio.run(d.call("status", "T-1")) == "assigned"
    with pytest.raises(InvalidArgument):
        asyncio.run(d.call("_do"))


def test_a_listener_may_call_the_desk(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """A listener that accepts every offer made on its replica (it calls the
    desk from inside a listener) leaves every replica with one state."""
    a = SharedDesk(make_log(), agents=team(), name="eu", follow=False)
    b = SharedDesk(make_log(), follow=False)
    desks += [a, b]

    def accept_all(event: Event) -> None:
        if event.kind.value == "offered" and event.offer_id:
            a.accept(event.offer_id)

    a.subscribe(accept_all)
    for i in range(4):
        b.submit(Ticket(f"T-{i}", 0.0))
        a.sync()
    b.sync()
    assert [a.status(f"T-{i}") for i in range(4)] == ["assigned", "assigned", "assigned", "waiting"]
    assert a.replica is not None and b.replica is not None
    assert a.replica.digest() == b.replica.digest()


def test_entries_that_are_not_commands_are_skipped_alike(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """Anyone who can write the log can append junk; every replica skips it
    the same way and goes on."""
    a = SharedDesk(make_log(), agents=team(), name="eu", follow=False)
    b = SharedDesk(make_log(), follow=False)
    desks += [a, b]
    for junk in ({"op": "submit"}, {"id": ["x"], "op": "tick"}, {"id": "j", "op": 3}, {"id": "k", "op": "submit", "args": 5}):
        a.log.append(junk)
    a.log.append({"id": "m", "op": "submit", "args": {"ticket": {"$ticket": {"id": "T-1"}}}})  # InvalidTicket: no created_at
    assert a.submit(Ticket("T-2", 0.0)) is not None
    b.sync()
    assert a.replica is not None and b.replica is not None
    assert a.replica.digest() == b.replica.digest()
    with pytest.raises(InvalidArgument):
        a.replica.result("j")
    with pytest.raises(InvalidTicket):
        b.replica.result("m")


def test_open_log_names_the_desk_on_redis_and_opens_sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """``open_log(url, name)`` opens both engines from a URL (on Redis the
    stream is named after the desk; it raised TypeError before), and a desk
    opened through it works."""
    sqlite_log = open_log(f"sqlite:///{tmp_path / 'desk.db'}")
    assert isinstance(sqlite_log, SqliteLog)
    try:
        info = request.getfixturevalue("redis_server_info")
    except pytest.FixtureLookupError:
        if CI:
            pytest.fail("the redis_server_info fixture is missing (tests/conftest.py)")
        pytest.skip("the redis_server_info fixture is not available")
    for log in (sqlite_log, open_log(info["url"], name="eu")):
        with SharedDesk(log, agents=[Agent("ana")], name="eu", follow=False) as desk:
            assert desk.submit(Ticket("T-1", 0.0)) is not None
            assert desk.status("T-1") == "offered"
        log.close()
    redis_log = open_log(info["url"], name="eu")
    assert getattr(redis_log, "name", None) == "eu"
    redis_log.close()
    with pytest.raises(InvalidArgument, match="name"):
        open_log(info["url"], name="not a name!")


def test_position_and_waiting_answer_as_the_dispatchers_queue(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """``position`` and ``waiting`` give what ``Dispatcher.queue`` gives for
    the same calls, on a replica and on a thin client (through the log),
    and a ticket that is not waiting raises UnknownTicket alike."""
    server = SharedDesk(make_log(), agents=[Agent("ana")], name="eu", poll=0.01)
    thin = SharedDesk(make_log(), replica=False, timeout=5.0)
    desks += [server, thin]
    one = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana")], name="eu")
    for d in (server, one):
        for i, severity in enumerate(["low", "low", "critical", "normal"]):
            d.submit(Ticket(f"T-{i}", float(i), severity=severity))
    server.sync()
    expected = {f"T-{i}": one.queue.position(f"T-{i}") for i in range(1, 4)}
    assert sorted(expected.values()) == [0, 1, 2]
    for d in (server, thin):
        assert {ticket_id: d.position(ticket_id) for ticket_id in expected} == expected
        assert d.waiting() == len(one.queue) == 3
        for gone in ("T-0", "T-9"):  # offered to ana; never submitted
            with pytest.raises(UnknownTicket):
                d.position(gone)


def test_a_joining_replica_does_not_log_the_history_warnings_again(
    make_log: MakeLog, desks: list[SharedDesk], caplog: pytest.LogCaptureFixture
) -> None:
    """The dispatcher's warnings ("ticket ... is unroutable") are logged when
    a command is applied live, not again by a replica replaying the history
    when it joins (one line per past ticket on a big desk) or by a snapshot
    it loads; a new one is logged as before."""

    def unroutable() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "triage_queue.dispatch" and "unroutable" in r.getMessage()]

    caplog.set_level(logging.WARNING, logger="triage_queue.dispatch")
    first = SharedDesk(make_log(), agents=[Agent("ana")], name="eu", follow=False)
    desks.append(first)
    for i in range(5):
        first.submit(Ticket(f"T-{i}", 0.0, skills=["billing"]))
    assert len(unroutable()) == 5
    joiner = SharedDesk(make_log(), follow=False)  # replays the five submits
    desks.append(joiner)
    assert joiner.status("T-4") == "waiting"
    assert len(unroutable()) == 5
    assert first.replica is not None
    first.replica.maybe_snapshot(force=True)
    from_snapshot = SharedDesk(make_log(), follow=False)  # loads the snapshot
    desks.append(from_snapshot)
    assert from_snapshot.status("T-4") == "waiting"
    assert len(unroutable()) == 5
    joiner.submit(Ticket("T-new", 0.0, skills=["billing"]))  # live: logged
    assert unroutable()[5:] == ["ticket 'T-new' is unroutable: no agent on the roster has skills 'billing' >= 1"]


def test_the_shared_desk_page_links_to_deployment_sections_that_exist() -> None:
    """docs/shared.md has no placeholder left ("... go here"), and every link
    it makes into docs/deployment.md names a heading of that page."""
    import re

    docs = Path(__file__).resolve().parent.parent / "docs"
    page = (docs / "shared.md").read_text()
    assert "go here" not in page
    headings = re.findall(r"^#+ (.+)$", (docs / "deployment.md").read_text(), flags=re.MULTILINE)
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
    linked = re.findall(r"\(deployment\.md#([^)]+)\)", page)
    assert linked and set(linked) <= anchors, set(linked) - anchors


def test_async_next_ticket_on_a_thin_client_wakes_on_the_log(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """On a thin client, next_ticket wakes when another process's submit
    lands in the log (as wait_for_ticket does), not at its next one-second
    re-ask; several coroutines wait at once."""
    server = SharedDesk(make_log(), agents=[Agent("ana"), Agent("bo")], name="eu", poll=0.01)
    thin = SharedDesk(make_log(), replica=False, timeout=5.0, poll=0.01)
    desks += [server, thin]
    d = AsyncSharedDesk(thin)

    async def main() -> tuple[list[Any], float]:
        waiting = [asyncio.ensure_future(d.next_ticket(agent, timeout=5)) for agent in ("ana", "bo")]
        await asyncio.sleep(0.3)  # both asked once and are waiting
        for i in range(2):
            await asyncio.to_thread(server.submit, Ticket(f"T-{i}", 0.0))
        submitted = time.monotonic()
        offers = await asyncio.gather(*waiting)
        return offers, time.monotonic() - submitted

    offers, latency = asyncio.run(main())
    assert sorted((o.agent_id, o.ticket.id) for o in offers) == [("ana", "T-0"), ("bo", "T-1")]
    assert latency < 0.5  # asked again on the log's news, not at the next second


def test_overflow_and_strain_travel_to_every_replica(make_log: MakeLog, desks: list[SharedDesk]) -> None:
    """A desk created with an overflow rule and a strain guard runs them in
    every replica: a scripted billing surge gives the same results and the
    same events as one in-process Dispatcher with the same settings (the
    backup agent takes billing tickets while the surge lasts, the billing
    agent rests after two critical tickets in a row), and a replica joining
    later (from the log, then from a snapshot) reaches the same state."""
    settings: dict[str, Any] = {
        "overflow": [OverflowRule("billing", {"general": 1}, waiting_above=2)],
        "strain": StrainGuard(hard_in_a_row=2, cooldown=600),
    }
    staff = [Agent("ana", skills=["billing"]), Agent("gus", skills=["general"])]
    a = SharedDesk(make_log(), agents=staff, name="eu", follow=False, **settings)
    b = SharedDesk(make_log(), name="ignored: the desk exists", follow=False)
    desks += [a, b]
    assert a.replica is not None and b.replica is not None
    clock = ManualClock(a.replica.time)
    one = Dispatcher(TicketQueue(clock=clock), staff, name="eu", **settings)
    heard_one: list[Event] = []
    heard_a: list[Event] = []
    one.subscribe(heard_one.append)
    a.subscribe(heard_a.append)

    def both(call: Callable[[Any], Any]) -> Any:
        shared = b if len(results) % 2 else a
        shared.sync()  # its reads (an offer's id) see the other replica's commands
        try:
            got: Any = call(shared)
        except Exception as exc:
            got = exc
        assert shared.replica is not None
        clock.set(shared.replica.time)  # the command's time is its log entry's
        try:
            expected: Any = call(one)
        except Exception as exc:
            assert type(got) is type(exc) and str(got) == str(exc)
        else:
            assert got == expected
        results.append(got)
        return got

    results: list[Any] = []
    for i in range(1, 5):
        both(lambda d, i=i: d.submit(Ticket(f"B-{i}", 0.0, severity="critical", skills=["billing"])))
    assert one.status("B-2") == "offered" and [o.agent_id for o in one.offers_for("gus")] == ["gus"]  # the backup helps
    both(lambda d: d.accept(d.offers_for("ana")[0].id))
    both(lambda d: d.accept(d.offers_for("gus")[0].id))
    both(lambda d: d.complete("B-1", "ana"))
    both(lambda d: d.accept(d.offers_for("ana")[0].id))
    both(lambda d: d.complete("B-3", "ana"))  # two critical in a row: ana rests
    both(lambda d: d.complete("B-2", "gus"))
    both(lambda d: d.tick())
    both(lambda d: d.submit(Ticket("G-1", 0.0, skills=["general"])))
    a.sync()
    b.sync()
    kinds = [e.kind.value for e in heard_one]
    assert "overflow_started" in kinds and "cooldown_started" in kinds
    assert heard_a == heard_one
    for d in (a, b):
        assert d.stats().to_dict() == one.stats().to_dict()
        for ticket_id in ("B-4", "G-1"):
            assert d.status(ticket_id) == one.status(ticket_id)
    assert a.replica.digest() == b.replica.digest()
    joined = SharedDesk(make_log(), follow=False)  # replays the log from its init
    desks.append(joined)
    assert joined.replica is not None and joined.replica.digest() == a.replica.digest()
    a.replica.maybe_snapshot(force=True)
    from_snapshot = SharedDesk(make_log(), follow=False)
    desks.append(from_snapshot)
    a.sync()  # past the "snapshotted" entry
    assert from_snapshot.replica is not None and from_snapshot.replica.digest() == a.replica.digest()
    assert from_snapshot.stats().to_dict() == one.stats().to_dict()


def test_overflow_and_strain_are_recorded_as_plain_data(tmp_path: Path, desks: list[SharedDesk]) -> None:
    """The init command records the rules and the guard as their to_dict()
    forms (JSON); plain forms are accepted too, and a bad one is refused
    naming the setting before anything is appended."""
    log = SqliteLog(tmp_path / "d.db")
    rule = OverflowRule("billing", {"general": 1}, waiting_above=2)
    guard = StrainGuard(per_hour=5, overrides={"ana": {"per_hour": 3}})
    desk = SharedDesk(log, agents=team(), follow=False, overflow=rule.to_dict(), strain=guard.to_dict())
    desks.append(desk)
    recorded = log.read(0, limit=1)[0].command["args"]["settings"]
    assert recorded["overflow"] == [rule.to_dict()] and recorded["strain"] == guard.to_dict()
    assert json.loads(json.dumps(recorded)) == recorded
    with pytest.raises(InvalidArgument) as caught:
        SharedDesk(SqliteLog(tmp_path / "e.db"), follow=False, strain={"per_hour": 0})
    assert caught.value.field.startswith("strain.")
    with pytest.raises(InvalidArgument) as caught:
        SharedDesk(SqliteLog(tmp_path / "f.db"), follow=False, overflow=[{"skill": "billing"}])
    assert caught.value.field == "overflow[0].backup"
    assert SqliteLog(tmp_path / "f.db").last_position() == 0


def test_the_desk_command_carries_the_policy_files_overflow_and_strain(tmp_path: Path) -> None:
    """`desk --policy` creates a shared desk with every option of the policy
    file ([[dispatcher.overflow]], [dispatcher.strain], [analytics]) rather
    than dropping them, and `board --desk` joins it with the same file."""
    import argparse

    from triage_queue._board_cli import open_shared
    from triage_queue.config import load_policy
    from triage_queue.shared.cli import _serve, add_arguments

    policy = tmp_path / "surge.toml"
    policy.write_text(
        '[[rules]]\nkind = "emergency"\n'
        '[dispatcher]\noffer_timeout = "20s"\n'
        '[[dispatcher.overflow]]\nskill = "billing"\nbackup = ["general"]\nwaiting_above = 4\n'
        '[dispatcher.strain]\nhard_in_a_row = 3\ncooldown = "5m"\n'
        "[analytics]\nrecurring_window = 3600\n"
    )
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    stopped = threading.Event()
    stopped.set()  # create the desk, then stop at once
    assert _serve(parser.parse_args(["--log", url, "--policy", str(policy)]), stopped) == 0
    analytics = load_policy(policy).analytics
    assert analytics is not None
    board = argparse.Namespace(desk=url, policy=str(policy), name="desk", allow_code=False)
    desk, log = open_shared(board)
    try:
        assert desk.replica is not None
        saved = desk.replica.desk.snapshot()
        assert saved["overflow"]["rules"] == [OverflowRule("billing", ["general"], waiting_above=4).to_dict()]
        assert saved["strain"]["guard"] == StrainGuard(hard_in_a_row=3, cooldown=300).to_dict()
        assert saved["settings"]["offer_timeout"] == 20.0
        assert saved["settings"]["analytics"] == analytics.to_dict()
    finally:
        desk.close()
        log.close()
