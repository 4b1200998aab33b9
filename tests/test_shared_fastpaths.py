"""The shared desk's fast paths and alarms, as a user sees them: a thin
client's one-round-trip call, a desk server publishing a batch's results
with its next read, a thin client waiting for a ticket that wakes as soon as
one arrives, a ticket's compact wire form, and a divergence heard by
listeners as a ``desk_diverged`` event."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from triage_queue import Agent, Event, EventKind, Ticket, UnknownTicket
from triage_queue.shared import Alarm, SharedDesk, SqliteLog
from triage_queue.shared.commands import decode_args, encode
from triage_queue.shared.log import Log


@pytest.fixture(params=["sqlite", "redis"])
def make_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Log]]:
    made: list[Log] = []

    def make() -> Log:
        if request.param == "sqlite":
            log: Log = SqliteLog(tmp_path / "desk.db")
        else:
            log = request.getfixturevalue("redis_log_factory")(f"fast-{request.node.name}".replace("[", "-").replace("]", ""))
        made.append(log)
        return log

    yield make
    for log in made:
        log.close()


@pytest.fixture
def desks() -> Iterator[list[SharedDesk]]:
    made: list[SharedDesk] = []
    yield made
    for desk in made:
        desk.close()


def test_a_ticket_travels_without_its_defaults_and_reads_back_equal() -> None:
    plain = Ticket("T-1", 3.0)
    full = Ticket(
        "T-2", 5.0, severity="high", customer_tier="gold", complexity=3, skills={"billing": 2}, contacts=2, sla_due=100.0,
        customer_id="acme", channel="mail", attributes={"a": [1, {"b": 2}]}, preferred_skills={"fr": 1}, relax_after=30.0,
    )  # fmt: skip
    assert encode("submit", {"ticket": plain})["args"]["ticket"] == {"$ticket": {"id": "T-1", "created_at": 3.0}}
    for ticket in (plain, full):
        back = decode_args(encode("submit", {"ticket": ticket}))["ticket"]
        assert back == ticket and back.to_dict() == ticket.to_dict()


def test_thin_clients_get_every_result_of_a_desk_server(make_log: Callable[[], Log], desks: list[SharedDesk]) -> None:
    """A desk server that publishes a batch's results with its next read
    answers every thin client's call, values and errors alike."""
    server = SharedDesk(make_log(), agents=[Agent("ana", capacity=50), Agent("bo", capacity=50)], name="eu", poll=0.05)
    clients = [SharedDesk(make_log(), replica=False, timeout=10.0) for _ in range(3)]
    desks += [server, *clients]
    errors: list[BaseException] = []

    def work(c: int) -> None:
        try:
            for i in range(15):
                offer = clients[c].submit(Ticket(f"T-{c}-{i}", float(i)))
                assert offer is not None
                assert clients[c].accept(offer.id).id == f"T-{c}-{i}"
                assert clients[c].complete(f"T-{c}-{i}").id == f"T-{c}-{i}"
            with pytest.raises(UnknownTicket):
                clients[c].cancel("nope")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    server.sync()
    assert server.assigned("ana") == [] and server.assigned("bo") == []  # every ticket completed once


def test_a_thin_client_waiting_for_a_ticket_wakes_when_one_arrives(make_log: Callable[[], Log], desks: list[SharedDesk]) -> None:
    server = SharedDesk(make_log(), agents=[Agent("ana")], name="eu", poll=0.05)
    thin = SharedDesk(make_log(), replica=False, poll=5.0)  # its fallback would be 20 s
    desks += [server, thin]
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(thin.wait_for_ticket("ana", timeout=15)))
    waiter.start()
    time.sleep(0.1)
    started = time.monotonic()
    server.submit(Ticket("T-1", 0.0))
    waiter.join(15)
    assert got and got[0] is not None and got[0].ticket.id == "T-1"
    assert time.monotonic() - started < 0.8  # it does not sleep out its second before asking again


def test_a_divergence_reaches_listeners_as_an_event(make_log: Callable[[], Log], desks: list[SharedDesk]) -> None:
    alarms: list[Alarm] = []
    heard: list[Event] = []
    a = SharedDesk(make_log(), agents=[Agent("ana")], name="eu", follow=False)
    b = SharedDesk(make_log(), follow=False, on_alarm=alarms.append)
    desks += [a, b]
    b.subscribe(heard.append)
    ra, rb = a.replica, b.replica
    assert ra is not None and rb is not None
    a.submit(Ticket("T-1", 0.0))
    a.log.append(ra.digest_command("a"))
    b.sync()
    with rb.lock:
        rb.desk.submit(Ticket("rogue", 0.0))  # a change no other replica saw
    for _ in range(2):
        a.sync()
        a.log.append(ra.digest_command("a"))
        b.sync()
    assert [alarm.kind for alarm in alarms] == ["divergence"]
    diverged = [event for event in heard if event.kind is EventKind.DESK_DIVERGED]
    assert len(diverged) == 1
    assert diverged[0].detail == alarms[0].detail
    assert diverged[0].changes is not None and diverged[0].changes["position"] == alarms[0].position
    assert diverged[0].changes["by"] == "a"


def test_a_thin_client_retrying_gets_its_first_result_even_if_the_published_one_is_gone(tmp_path: Path) -> None:
    """A retried command is applied once; if the result published for it
    was lost meanwhile (expired, or not yet durable at a power loss), the
    replica that sees the retry publishes the first result again."""
    log = SqliteLog(tmp_path / "desk.db")
    server = SharedDesk(log, agents=[Agent("ana")], name="eu", follow=False)
    try:
        command = encode("submit", {"ticket": Ticket("T-1", 0.0)}, command_id="c-1", reply=True)
        log.append(command)
        server.sync()
        first = log.fetch_result("c-1")
        assert first is not None and first["ok"]["id"] == "eu-1"
        with sqlite3.connect(log.path) as raw:  # the published result is lost
            raw.execute("DELETE FROM results")
        log.append(command)  # the client retries
        server.sync()
        assert log.fetch_result("c-1") == first
        assert server.offers_for("ana")[0].id == "eu-1"  # applied once
    finally:
        server.close()
        log.close()
