"""Issue 12 on the dispatcher: a call's outcome is its own (listener errors
go to a hook, never to a caller), ids and numbers that cannot be used get
the library's error with nothing changed, and the dead ends that used to be
silent are reported: unroutable tickets, agents with no capacity, a clock
that goes back, an offer revoked by a cancellation."""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

import pytest

from dispatch_models import Recorder, make_dispatcher, snapshot
from triage_queue import (
    Agent,
    Dispatcher,
    Emergency,
    EventKind,
    InvalidArgument,
    ManualClock,
    Policy,
    RuleError,
    Ticket,
    TicketQueue,
    TriageError,
    rule,
)
from triage_queue.errors import InvalidKey, Unroutable

# == a call's outcome is its own ==================================================


@rule("poison_pill")
def poison_pill(t: Ticket) -> float:
    if t.attributes.get("poison"):
        raise RuntimeError("cannot score this ticket")
    return 0.0


def test_many_threads_with_raising_listeners_each_call_gets_its_own_outcome() -> None:
    """Producers submit good and poisoned tickets, agents pull, accept and
    complete, listeners raise on a third of the events: every call returns
    or raises exactly what it did, every listener error reaches the hook,
    and every good ticket is completed exactly once."""
    clock = ManualClock(0.0)
    agents = [Agent(f"a{i}", capacity=2) for i in range(4)]
    d = Dispatcher(
        TicketQueue(Policy.lexicographic(Emergency(), poison_pill), clock=clock),
        agents,
        offer_timeout=None,
        on_listener_error=lambda event, error: hooked.append((event.seq, str(error))),
    )
    hooked: list[tuple[int, str]] = []
    raised: list[int] = []
    lock = threading.Lock()

    def grumpy(event: Any) -> None:
        if event.seq % 3 == 0:
            with lock:
                raised.append(event.seq)
            raise RuntimeError(f"listener failed on #{event.seq}")

    heard = Recorder()
    d.subscribe(grumpy)
    d.subscribe(heard)
    producers, per_producer = 4, 150
    wrong: list[str] = []
    good: set[str] = set()
    completed: list[str] = []
    producing = threading.Event()
    producing.set()

    def produce(p: int) -> None:
        rng = random.Random(p)
        for i in range(per_producer):
            ticket_id = f"P{p}-{i}"
            poisoned = rng.random() < 0.3
            try:
                offer = d.submit(Ticket(ticket_id, 0.0, attributes={"poison": poisoned}))
            except RuleError as exc:
                if not poisoned or exc.ticket_id != ticket_id:
                    wrong.append(f"{ticket_id}: unexpected {exc!r}")
                elif ticket_id in d.queue:
                    wrong.append(f"{ticket_id}: refused but queued")
            except Exception as exc:
                wrong.append(f"{ticket_id}: foreign error {exc!r}")
            else:
                if poisoned:
                    wrong.append(f"{ticket_id}: poisoned ticket accepted")
                elif offer is not None and offer.ticket.id != ticket_id:
                    wrong.append(f"{ticket_id}: got the offer of {offer.ticket.id}")
                else:
                    with lock:
                        good.add(ticket_id)

    def work(agent_id: str) -> None:
        while True:
            try:
                offer = d.wait_for_ticket(agent_id, timeout=0.01)
            except Exception as exc:
                wrong.append(f"{agent_id}: foreign error {exc!r}")
                return
            if offer is None:
                if not producing.is_set() and not len(d.queue):
                    return
                continue
            try:
                ticket = d.accept(offer)
                if ticket.id != offer.ticket.id:
                    wrong.append(f"{agent_id}: accepted {offer.ticket.id}, got {ticket.id}")
                done = d.complete(ticket.id, agent_id)
                if done.id != ticket.id:
                    wrong.append(f"{agent_id}: completed {ticket.id}, got {done.id}")
                with lock:
                    completed.append(ticket.id)
            except Exception as exc:
                wrong.append(f"{agent_id}: foreign error {exc!r}")

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    workers = [threading.Thread(target=work, args=(a.id,)) for a in agents]
    for t in threads + workers:
        t.start()
    for t in threads:
        t.join()
    producing.clear()
    for t in workers:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in workers)
    d.tick()
    assert wrong == []
    assert sorted(completed) == sorted(good)  # each good ticket completed exactly once
    assert len(good) > 0.5 * producers * per_producer
    assert sorted(seq for seq, _ in hooked) == sorted(raised)  # every listener error reached the hook
    assert all(message == f"listener failed on #{seq}" for seq, message in hooked)
    seqs = [e.seq for e in heard.events]
    assert len(seqs) == len(set(seqs))  # no event heard twice...
    assert set(seqs) == set(range(min(seqs), d.events[-1].seq + 1))  # ...and none lost since subscribing
    d._check()


def test_a_failed_accept_is_never_reported_as_a_success_nor_the_reverse() -> None:
    d, _ = make_dispatcher([Agent("ana"), Agent("bo")], offer_timeout=10, on_listener_error=lambda e, x: None)

    def fail_always(event: Any) -> None:
        raise RuntimeError("listener down")

    d.subscribe(fail_always)
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None
    assert d.accept(offer).id == "T-1"  # success although every listener call failed
    assert d.status("T-1") == "assigned"


# == ids and numbers that cannot be used ===========================================

TICKET_OPS = ["status", "cancel", "complete", "transfer", "explain_assignment", "update"]
AGENT_OPS = ["next_for", "offers_for", "remove_agent", "assigned", "wait_for_ticket", "update_agent"]


@pytest.mark.parametrize("operation", TICKET_OPS + AGENT_OPS + ["set_status"])
@pytest.mark.parametrize("bad_id", [[], {}, {1, 2}, [["deep"]]])
def test_an_unhashable_id_gets_invalid_key_naming_the_parameter_and_changes_nothing(operation: str, bad_id: Any) -> None:
    d, _ = make_dispatcher([Agent("ana"), Agent("bo", skills=["api"])])
    d.submit(Ticket("T-1", 0.0))
    d.submit(Ticket("T-2", 0.0, skills=["api"]))
    d.submit(Ticket("T-3", 0.0, skills=["api"]))
    before = snapshot(d, ["T-1", "T-2", "T-3"])
    args: tuple[Any, ...] = (bad_id, "away") if operation == "set_status" else (bad_id,)
    with pytest.raises(InvalidKey) as caught:
        getattr(d, operation)(*args)
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, InvalidArgument)
    assert caught.value.field == ("ticket_id" if operation in TICKET_OPS else "agent_id")
    assert "cannot be looked up" in str(caught.value)
    assert snapshot(d, ["T-1", "T-2", "T-3"]) == before
    d._check()


def test_an_unhashable_agent_id_on_complete_and_transfer_names_agent_id() -> None:
    d, _ = make_dispatcher([Agent("ana")])
    d.accept(d.submit(Ticket("T-1", 0.0)))  # type: ignore[arg-type]
    for operation in (d.complete, d.transfer):
        with pytest.raises(InvalidKey, match="agent_id"):
            operation("T-1", [])  # type: ignore[arg-type]
    assert d.status("T-1") == "assigned"


@pytest.mark.parametrize("agents", [None, 5, "ana", b"ana", Agent("ana")])
def test_agents_that_are_not_a_roster_or_agents_are_refused(agents: Any) -> None:
    queue = TicketQueue(clock=lambda: 0.0)
    with pytest.raises(InvalidArgument) as caught:
        Dispatcher(queue, agents)
    assert caught.value.field == "agents"
    Dispatcher(queue, [Agent("ana")])  # the queue is still free for a good attempt


@pytest.mark.parametrize("option", ["offer_timeout", "affinity_wait", "retry_after", "sla_warning"])
@pytest.mark.parametrize("value", [10**400, -(10**400), float("nan"), float("inf"), True, "30", [30]])
def test_huge_or_wrong_seconds_in_the_constructor_are_refused_by_name(option: str, value: Any) -> None:
    with pytest.raises(InvalidArgument) as caught:
        Dispatcher(TicketQueue(clock=lambda: 0.0), **{option: value})
    assert caught.value.field == option
    assert len(str(caught.value)) < 400  # a 401-digit int is not printed whole


@pytest.mark.parametrize("value", [10**400, -(10**400), float("nan"), -1, "1", True])
def test_wait_for_ticket_refuses_a_bad_timeout(value: Any) -> None:
    d, _ = make_dispatcher([Agent("ana")])
    with pytest.raises(InvalidArgument, match="timeout"):
        d.wait_for_ticket("ana", timeout=value)


def test_async_next_ticket_refuses_a_huge_timeout() -> None:
    import asyncio

    from triage_queue import AsyncDispatcher

    d, _ = make_dispatcher([Agent("ana")])
    with pytest.raises(InvalidArgument, match="timeout"):
        asyncio.run(AsyncDispatcher(d).next_ticket("ana", timeout=10**400))
    with pytest.raises(InvalidKey, match="agent_id"):
        asyncio.run(AsyncDispatcher(d).next_ticket([], timeout=0))  # type: ignore[arg-type]


def test_a_bad_listener_error_hook_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="on_listener_error"):
        Dispatcher(TicketQueue(clock=lambda: 0.0), on_listener_error=5)  # type: ignore[arg-type]


# == unroutable tickets ===============================================================


def kinds_for(d: Dispatcher, ticket_id: str) -> list[str]:
    return [e.kind.value for e in d.events if e.ticket_id == ticket_id]


def test_a_ticket_no_agent_could_ever_take_is_reported_once_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    d, clock = make_dispatcher([Agent("ana", skills={"billing": 2}), Agent("bo", status="offline", skills={"api": 1})])
    with caplog.at_level(logging.WARNING, logger="triage_queue.dispatch"):
        d.submit(Ticket("T-1", 0.0, skills={"german": 1}))
    d.submit(Ticket("T-2", 0.0, skills={"api": 1}))  # bo is offline but on the roster: routable
    d.submit(Ticket("T-3", 0.0, skills={"billing": 1}, preferred_skills={"billing": 5}, relax_after=60))  # relaxes to ana
    assert kinds_for(d, "T-1") == ["submitted", "unroutable"]
    assert "unroutable" not in kinds_for(d, "T-2") + kinds_for(d, "T-3")
    [event] = [e for e in d.events if e.kind is EventKind.UNROUTABLE]
    assert event.detail == "no agent on the roster has skills 'german' >= 1"
    assert d.stats().unroutable == 1
    assert d.stats().to_dict()["unroutable"] == 1
    assert any("'T-1' is unroutable" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    # Time passing, ticks and other calls do not repeat it.
    clock.advance(100)
    d.tick()
    d.update("T-1", severity="high")
    assert kinds_for(d, "T-1").count("unroutable") == 1


def test_the_roster_changing_makes_a_ticket_routable_and_unroutable_again() -> None:
    d, _ = make_dispatcher([Agent("ana")])
    d.accept(d.submit(Ticket("BUSY", 0.0)))  # type: ignore[arg-type]
    d.submit(Ticket("T-1", 0.0, skills={"german": 2}))
    d.add_agent(Agent("bo", skills={"german": 1}))  # not enough
    assert d.stats().unroutable == 1
    d.add_agent(Agent("cy", skills={"german": 3}))
    assert kinds_for(d, "T-1") == ["submitted", "unroutable", "routable", "offered"]
    assert d.stats().unroutable == 0
    d.set_status("cy", "away")  # the offer goes back; cy is still on the roster
    assert d.stats().unroutable == 0
    d.remove_agent("cy")
    assert kinds_for(d, "T-1")[-1] == "unroutable"
    assert d.stats().unroutable == 1
    d.update("T-1", skills={"german": 1})  # its requirement changed: bo can take it
    assert kinds_for(d, "T-1")[-3:] == ["routable", "offered", "updated"]
    assert d.stats().unroutable == 0
    d._check()


def test_a_channel_nobody_takes_and_zero_capacity_make_a_ticket_unroutable() -> None:
    d, _ = make_dispatcher([Agent("ana", capacity={"chat": 2}), Agent("bo", capacity={"phone": 0})])
    d.submit(Ticket("T-1", 0.0, channel="phone"))
    [event] = [e for e in d.events if e.kind is EventKind.UNROUTABLE]
    assert event.detail == "no agent on the roster with its skills takes tickets on channel 'phone'"
    d.update_agent("bo", capacity={"phone": 1})
    assert "routable" in kinds_for(d, "T-1") and d.status("T-1") == "offered"


def test_a_cancelled_unroutable_ticket_is_no_longer_counted() -> None:
    d, _ = make_dispatcher([Agent("ana")])
    d.submit(Ticket("T-1", 0.0, skills=["api"]))
    d.submit(Ticket("T-2", 0.0, skills=["api"]))
    d.cancel("T-1")
    d.queue.remove("T-2")  # behind the dispatcher's back
    assert d.stats().unroutable == 0


def test_refuse_unroutable_still_says_duplicate_for_a_duplicate_id() -> None:
    from triage_queue import DuplicateTicket

    d, _ = make_dispatcher([Agent("ana", status="away")], refuse_unroutable=True)
    d.submit(Ticket("X", 0.0))
    with pytest.raises(DuplicateTicket):
        d.submit(Ticket("X", 0.0, skills=["zz"]))


def test_a_ticket_reusing_the_id_of_one_removed_through_the_queue_is_flagged_again() -> None:
    d, _ = make_dispatcher([Agent("ana")])
    d.submit(Ticket("X", 0.0, skills=["zz"]))
    d.queue.remove("X")
    d.submit(Ticket("X", 1.0, skills=["zz"]))
    assert [e.kind.value for e in d.events if e.ticket_id == "X"].count("unroutable") == 2
    assert d.stats().unroutable == 1


def test_refuse_unroutable_refuses_at_submit_and_changes_nothing() -> None:
    d, _ = make_dispatcher([Agent("ana", skills={"billing": 1})], refuse_unroutable=True)
    d.submit(Ticket("T-0", 0.0))
    before = snapshot(d, ["T-0", "T-1"])
    with pytest.raises(Unroutable) as caught:
        d.submit(Ticket("T-1", 0.0, skills={"billing": 3}))
    assert caught.value.ticket_id == "T-1"
    assert str(caught.value) == "ticket 'T-1' is unroutable: no agent on the roster has skills 'billing' >= 3"
    assert isinstance(caught.value, TriageError) and isinstance(caught.value, ValueError)
    assert snapshot(d, ["T-0", "T-1"]) == before
    assert d.submit(Ticket("T-2", 0.0, skills={"billing": 1})) is None  # routable: waits as usual


def test_routability_is_checked_for_the_tickets_a_dispatcher_starts_with() -> None:
    clock = ManualClock(0.0)
    queue = TicketQueue(clock=clock)
    queue.push(Ticket("T-1", 0.0, skills=["api"]))
    d = Dispatcher(queue, [Agent("ana")])
    assert d.stats().unroutable == 1


def test_zero_capacity_is_warned_for_agents_given_at_construction_and_changed_to_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="triage_queue.dispatch"):
        d, _ = make_dispatcher([Agent("zero", capacity=0), Agent("ana")])
        d.update_agent("ana", capacity=0)
    messages = [r.getMessage() for r in caplog.records]
    assert "agent 'zero' joined with capacity 0 on every channel: it can take no ticket" in messages
    assert "agent 'ana' was changed to capacity 0 on every channel: it can take no ticket" in messages
    assert [e.detail for e in d.events if e.agent_id == "ana"][-1] == (
        "changed capacity; capacity 0 on every channel: it can take no ticket"
    )


def test_paused_keeps_the_blocks_own_error(caplog: pytest.LogCaptureFixture) -> None:
    clock = JumpyClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana")])
    with pytest.raises(KeyError, match="mine"), caplog.at_level(logging.ERROR, logger="triage_queue.dispatch"), d.paused():
        d.submit(Ticket("T-1", 0.0))
        clock.now = float("nan")
        raise KeyError("mine")
    assert any("paused() failed" in r.getMessage() for r in caplog.records)
    clock.now = 1.0
    d.tick()
    assert d.status("T-1") == "offered"  # the backlog is assigned on the next call
    d._check()


def test_an_agent_with_zero_capacity_everywhere_is_accepted_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="triage_queue.dispatch"):
        d, _ = make_dispatcher()
        d.add_agent(Agent("ana", capacity=0))
    assert any("'ana' joined with capacity 0" in r.getMessage() for r in caplog.records)
    [event] = [e for e in d.events if e.agent_id == "ana"]
    assert event.detail == "joined, available; capacity 0 on every channel: it can take no ticket"
    d.submit(Ticket("T-1", 0.0))
    assert d.stats().unroutable == 1


# == a clock that goes back ===========================================================


class JumpyClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_clock_going_back_holds_the_desks_time_still_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    clock = JumpyClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana"), Agent("bo")], offer_timeout=30)
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.agent_id == "ana"
    clock.now = 20.0
    d.tick()
    with caplog.at_level(logging.WARNING, logger="triage_queue.dispatch"):
        clock.now = 5.0
        d.tick()
        clock.now = 3.0
        d.tick()
    anomalies = [e for e in d.events if e.kind is EventKind.CLOCK_WENT_BACK]
    assert len(anomalies) == 1  # one episode, one event
    assert anomalies[0].time == 20.0 and "time held at 20.0" in anomalies[0].detail
    assert sum("clock went back" in r.getMessage() for r in caplog.records) == 1
    assert d.stats().now == 20.0  # reads report the held time
    clock.now = 29.0
    d.tick()
    assert d.status("T-1") == "offered"  # not expired early, not decided twice
    clock.now = 30.0
    d.tick()
    assert [e.kind.value for e in d.events][-2:] == ["expired", "offered"]
    # A new episode after the clock caught up is reported again.
    clock.now = 10.0
    d.tick()
    assert len([e for e in d.events if e.kind is EventKind.CLOCK_WENT_BACK]) == 2
    d._check()


@pytest.mark.parametrize("reading", [float("nan"), None, "soon", float("inf"), float("-inf"), 10**400, -(10**400), True])
def test_a_clock_reading_that_is_not_a_finite_number_is_refused_by_name(reading: Any) -> None:
    clock = JumpyClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana"), Agent("bo", status="away")])
    d.submit(Ticket("T-1", 0.0))  # offered to ana
    d.submit(Ticket("T-2", 0.0))  # waits
    before = snapshot(d, ["T-1", "T-2"])
    clock.now = reading
    for operation in (d.tick, lambda: d.status("T-1"), lambda: d.submit(Ticket("T-3", 0.0))):
        with pytest.raises(InvalidArgument) as caught:
            operation()
        assert caught.value.field == "clock"
    clock.now = 0.0
    assert snapshot(d, ["T-1", "T-2"]) == before  # nothing lost on the way
    d._check()


def test_a_dispatcher_refuses_a_clock_it_cannot_read_and_leaves_the_queue_free() -> None:
    clock = JumpyClock(float("inf"))
    queue = TicketQueue(clock=clock)
    with pytest.raises(InvalidArgument, match="clock"):
        Dispatcher(queue, [Agent("ana")])
    clock.now = 0.0
    Dispatcher(queue, [Agent("ana")])


def test_an_offer_timeout_too_small_for_the_clock_still_expires_after_now() -> None:
    """At epoch seconds, now + 1e-7 rounds back to now: the offer must still
    expire strictly later, or expiring and re-offering would never end."""
    clock = ManualClock(1.7e9)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana")], offer_timeout=1e-7, retry_after=0)
    offer = d.submit(Ticket("T-1", 1.7e9))
    assert offer is not None and offer.expires_at > offer.created_at
    clock.advance(1)
    d.tick()  # returns
    assert d.status("T-1") == "offered"
    d._check()


def test_after_the_clock_goes_back_the_queue_and_roster_read_the_held_time() -> None:
    clock = JumpyClock(0.0)
    d = Dispatcher(
        TicketQueue(clock=clock),
        [Agent("ana", skills={"billing": 1}), Agent("bo", skills={"billing": 1}, status="away")],
        offer_timeout=None,
        retry_after=None,
    )
    d.submit(Ticket("T-1", 0.0, skills={"billing": 1}, preferred_skills={"german": 1}, relax_after=10))
    clock.now = 20.0
    d.tick()  # relaxed, offered to ana
    assert d.offers_for("ana")[0].ticket.id == "T-1"
    clock.now = 5.0
    d.decline(d.offers_for("ana")[0])
    assert "german" not in d.explain_assignment("T-1").verdicts[1].reason  # still relaxed: bo lacks only status
    d.set_status("bo", "available")  # bo now qualifies: the relaxed ticket goes to bo
    assert d.status("T-1") == "offered" and d.offers_for("bo")[0].ticket.id == "T-1"
    assert [e.kind.value for e in d.events if e.ticket_id == "T-1"].count("released") == 1
    assert d.roster.state("bo").idle_since == 20.0  # the desk's time, not the clock's 5
    d._check()


def test_a_clock_catching_up_exactly_ends_the_episode() -> None:
    clock = JumpyClock(20.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana")])
    for reading in (5.0, 20.0, 5.0, 21.0, 5.0):
        clock.now = reading
        d.tick()
    assert len([e for e in d.events if e.kind is EventKind.CLOCK_WENT_BACK]) == 3


# == cancel of an offered ticket ======================================================


def test_cancelling_an_offered_ticket_revokes_the_offer_then_cancels() -> None:
    d, _ = make_dispatcher([Agent("ana")])
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None
    d.cancel("T-1")
    revoked, cancelled = [e for e in d.events if e.ticket_id == "T-1"][-2:]
    assert (revoked.kind, revoked.offer_id, revoked.agent_id, revoked.detail) == (
        EventKind.REVOKED,
        offer.id,
        "ana",
        "ticket cancelled",
    )
    assert cancelled.kind is EventKind.CANCELLED
