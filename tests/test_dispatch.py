"""Example tests of the Dispatcher: one helpdesk user story each.

Time is a ManualClock throughout (nothing sleeps); after every story the
dispatcher's own invariant check (``d._check()``: loads, heaps and the
work-conserving property) must hold as well.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch_models import Recorder, brute_force_assignment, make_dispatcher, simulate_shift, snapshot
from triage_queue import (
    Agent,
    AgentBusy,
    AgentStatus,
    Dispatcher,
    DuplicateAgent,
    DuplicateTicket,
    EventKind,
    InvalidAgent,
    InvalidArgument,
    InvalidTicket,
    LeastLoaded,
    LongestIdle,
    ManualClock,
    MostProficient,
    NotAssigned,
    OfferClosed,
    OfferStatus,
    Policy,
    Roster,
    RoundRobin,
    Ticket,
    TicketQueue,
    UnknownAgent,
    UnknownOffer,
    UnknownTicket,
)


def ids(tickets: Any) -> list[str]:
    return [t.id for t in tickets]


def only_offer(d: Dispatcher, agent_id: str) -> Any:
    offers = d.offers_for(agent_id)
    assert len(offers) == 1, offers
    return offers[0]


# == offers go to the strategy's choice =======================================


def _four_way_scenario(selection: Any) -> tuple[Dispatcher, ManualClock]:
    """Four free agents who all qualify for a payments ticket, set up so
    that each strategy prefers a different one:

    * pat: proficiency 5 (the others 1-2), one of two slots in use since 10;
    * quinn: busy with one of three slots since 0, the longest idle;
    * rita: nothing in hand (load 0/1), idle since 50, offered third;
    * sam: joined at 60, never offered anything.

    Set-up tickets need a skill only their agent has, so every strategy
    builds exactly the same state.
    """
    d, clock = make_dispatcher(
        [
            Agent("pat", skills={"payments": 5, "p": 1}, capacity=2),
            Agent("quinn", skills={"payments": 2, "q": 1}, capacity=3),
            Agent("rita", skills={"payments": 2, "r": 1}, capacity=1),
        ],
        selection=selection,
        offer_timeout=None,
    )
    d.accept(d.submit(Ticket("setup-q", 0.0, skills=["q"])))
    clock.set(10.0)
    d.accept(d.submit(Ticket("setup-p", 10.0, skills=["p"])))
    clock.set(20.0)
    d.accept(d.submit(Ticket("setup-r", 20.0, skills=["r"])))
    clock.set(50.0)
    d.complete("setup-r")
    clock.set(60.0)
    d.add_agent(Agent("sam", skills={"payments": 1}, capacity=1))
    clock.set(70.0)
    return d, clock


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (LongestIdle(), "quinn"),
        (LeastLoaded(), "rita"),
        (MostProficient(), "pat"),
        (RoundRobin(), "sam"),
    ],
    ids=["longest_idle", "least_loaded", "most_proficient", "round_robin"],
)
def test_a_new_ticket_is_offered_to_the_agent_the_strategy_prefers(selection: Any, expected: str) -> None:
    d, _ = _four_way_scenario(selection)
    offer = d.submit(Ticket("T-1", 70.0, skills={"payments": 1}))
    assert offer is not None
    assert offer.agent_id == expected
    assert offer.ticket.id == "T-1"
    assert offer.created_at == 70.0
    assert offer.expires_at == math.inf  # offer_timeout=None
    assert offer.how == f"routed on arrival: {selection.name}"
    assert d.status("T-1") == "offered"
    explanation = d.explain_assignment("T-1")
    assert explanation.selection == selection.name
    assert [v.agent_id for v in explanation.verdicts if v.chosen] == [expected]
    for verdict in explanation.verdicts:
        if not verdict.chosen:
            assert verdict.qualified
            assert verdict.reason.startswith(f"qualified, but {selection.name} preferred {expected!r}")
    d._check()


def test_round_robin_takes_turns_and_longest_idle_prefers_who_waited_longest() -> None:
    d, clock = make_dispatcher([Agent("a", capacity=5), Agent("b", capacity=5), Agent("c", capacity=5)], selection=RoundRobin())
    got = [d.submit(Ticket(f"T-{i}", 0.0)).agent_id for i in range(6)]  # type: ignore[union-attr]
    assert got == ["a", "b", "c", "a", "b", "c"]

    d, clock = make_dispatcher([Agent("a"), Agent("b"), Agent("c")], offer_timeout=None)
    d.accept(d.submit(Ticket("T-1", 0.0)))  # a (joined first)
    clock.set(5.0)
    d.accept(d.submit(Ticket("T-2", 5.0)))  # b
    clock.set(10.0)
    d.complete("T-1")  # a idle since 10; c idle since 0
    assert d.submit(Ticket("T-3", 10.0)).agent_id == "c"  # type: ignore[union-attr]
    assert d.submit(Ticket("T-4", 10.0)).agent_id == "a"  # type: ignore[union-attr]
    assert d.submit(Ticket("T-5", 10.0)) is None  # everyone is busy
    d._check()


# == skills, channels, capacity and status ===================================


def test_only_agents_with_the_required_proficiency_are_offered_the_ticket() -> None:
    d, _ = make_dispatcher(
        [Agent("junior", skills={"payments": 2}), Agent("exact", skills={"payments": 3}), Agent("senior", skills={"payments": 5})]
    )
    first = d.submit(Ticket("T-1", 0.0, skills={"payments": 3}))
    second = d.submit(Ticket("T-2", 0.0, skills={"payments": 3}))
    third = d.submit(Ticket("T-3", 0.0, skills={"payments": 3}))
    assert first is not None and second is not None
    assert {first.agent_id, second.agent_id} == {"exact", "senior"}  # level 3 is enough; 2 is not
    assert third is None
    assert d.offers_for("junior") == []
    assert d.status("T-3") == "waiting"
    # A ticket the junior can do goes to the junior, though it arrived last.
    assert d.submit(Ticket("T-4", 0.0, skills={"payments": 1})).agent_id == "junior"  # type: ignore[union-attr]
    d._check()


def test_each_channel_has_its_own_capacity_and_star_covers_the_rest() -> None:
    d, _ = make_dispatcher([Agent("ana", capacity={"chat": 3, "phone": 1})], offer_timeout=None)
    chats = [d.submit(Ticket(f"chat-{i}", float(i), channel="chat")) for i in range(4)]
    assert [o is not None for o in chats] == [True, True, True, False]
    phones = [d.submit(Ticket(f"phone-{i}", 10.0 + i, channel="phone")) for i in range(2)]
    assert [o is not None for o in phones] == [True, False]
    # No "email" key and no "*": ana takes no email, nor channel-less tickets.
    assert d.submit(Ticket("email-0", 20.0, channel="email")) is None
    assert d.submit(Ticket("none-0", 21.0)) is None
    assert d.roster.state("ana").load == {"chat": 3, "phone": 1}
    assert ids(d.queue) == ["chat-3", "phone-1", "email-0", "none-0"]
    # Freeing a phone slot brings the waiting phone ticket, not a chat one.
    d.accept(phones[0])  # type: ignore[arg-type]
    d.complete("phone-0")
    assert [o.ticket.id for o in d.offers_for("ana")][-1] == "phone-1"
    assert d.status("chat-3") == "waiting"

    d, _ = make_dispatcher([Agent("bo", capacity={"chat": 1, "*": 2})], offer_timeout=None)
    assert d.submit(Ticket("chat-0", 0.0, channel="chat")) is not None
    assert d.submit(Ticket("chat-1", 1.0, channel="chat")) is None  # chat has its own limit
    assert d.submit(Ticket("email-0", 2.0, channel="email")) is not None  # counts against "*"
    assert d.submit(Ticket("none-0", 3.0)) is not None  # so does a ticket with no channel
    assert d.submit(Ticket("phone-0", 4.0, channel="phone")) is None  # "*" is full
    assert d.roster.state("bo").load == {"*": 2, "chat": 1}
    d._check()


@pytest.mark.parametrize("status", ["away", "offline", "not_responding"])
def test_agents_who_are_not_available_get_nothing_until_they_are(status: str) -> None:
    d, _ = make_dispatcher([Agent("ana", status=status)])
    assert d.submit(Ticket("T-1", 0.0)) is None
    assert d.next_for("ana") is None
    assert d.offers_for("ana") == []
    assert d.status("T-1") == "waiting"
    d.set_status("ana", "available")
    assert only_offer(d, "ana").ticket.id == "T-1"
    d._check()


def test_leaving_available_takes_back_pending_offers_but_not_assigned_tickets() -> None:
    d, _ = make_dispatcher([Agent("ana", capacity=2), Agent("bo", status="away")])
    kept = d.submit(Ticket("T-1", 0.0))
    pending = d.submit(Ticket("T-2", 1.0))
    d.accept(kept)  # type: ignore[arg-type]
    d.set_status("ana", "away")
    assert d.status("T-1") == "assigned"
    assert d.status("T-2") == "waiting"
    with pytest.raises(OfferClosed) as info:
        d.accept(pending)  # type: ignore[arg-type]
    assert info.value.status == "revoked"
    d.set_status("bo", "available")
    assert only_offer(d, "bo").ticket.id == "T-2"
    d._check()


def test_capacity_is_never_exceeded_under_a_burst() -> None:
    agents = [
        Agent("ana", skills={"billing": 3}, capacity={"chat": 2, "phone": 1}),
        Agent("bo", skills={"billing": 1, "payments": 2}, capacity=2),
        Agent("cy", skills={"payments": 4}, capacity={"*": 1, "email": 2}),
    ]
    d, _ = make_dispatcher(agents, offer_timeout=None)
    channels = ["chat", "phone", "email", None]
    skills = [{}, {"billing": 1}, {"payments": 2}, {"billing": 3}]
    for i in range(40):
        d.submit(Ticket(f"T-{i}", float(i), skills=skills[i % 4], channel=channels[(i // 4) % 4]))
        for agent in d.roster:
            state = d.roster.state(agent.id)
            for slot, limit in agent.capacity.items():
                assert state.load[slot] <= limit
        if i % 7 == 6:  # some work gets done now and then
            for agent in d.roster:
                for offer in d.offers_for(agent.id):
                    d.accept(offer)
                for ticket in d.assigned(agent.id)[:1]:
                    d.complete(ticket.id)
        d._check()
    assert sum(len(d.assigned(a.id)) for a in d.roster) > 0  # work did get done


# == agents pulling work ======================================================


def test_an_agent_who_frees_up_is_offered_the_best_waiting_ticket_it_qualifies_for() -> None:
    d, clock = make_dispatcher([Agent("ana", skills={"billing": 2})], offer_timeout=None)
    d.accept(d.submit(Ticket("busy", 0.0)))
    clock.set(100.0)
    d.submit(Ticket("old-normal", 10.0))
    d.submit(Ticket("gold", 20.0, customer_tier="gold"))
    d.submit(Ticket("critical-payments", 30.0, severity="critical", skills={"payments": 1}))
    d.submit(Ticket("critical-billing", 40.0, severity="critical", skills={"billing": 2}))
    d.submit(Ticket("critical-expert", 50.0, severity="critical", skills={"billing": 3}))
    # The policy's order, whatever the agent can do.
    assert ids(d.queue) == ["critical-payments", "critical-billing", "critical-expert", "gold", "old-normal"]
    d.complete("busy")
    assert only_offer(d, "ana").ticket.id == "critical-billing"
    d.accept(only_offer(d, "ana"))
    d.complete("critical-billing")
    assert only_offer(d, "ana").ticket.id == "gold"
    d.accept(only_offer(d, "ana"))
    d.complete("gold")
    assert only_offer(d, "ana").ticket.id == "old-normal"
    d._check()


def test_next_for_hands_out_offers_oldest_first_then_pulls_new_work() -> None:
    d, _ = make_dispatcher([Agent("ana", capacity=3)], offer_timeout=None)
    made = [d.submit(Ticket(f"T-{i}", float(i))) for i in range(3)]
    d.submit(Ticket("T-3", 3.0))
    assert [d.next_for("ana").id for _ in range(3)] == [o.id for o in made]  # type: ignore[union-attr,misc]
    assert d.next_for("ana") is None  # at capacity: nothing more
    d.accept(made[0])  # type: ignore[arg-type]
    d.complete("T-0")
    pulled = d.next_for("ana")  # T-3 was offered on completion
    assert pulled is not None and pulled.ticket.id == "T-3"
    assert d.next_for("ana") is None
    with pytest.raises(UnknownAgent):
        d.next_for("nobody")
    d._check()


def test_wait_for_ticket_times_out_with_none_or_returns_the_offer() -> None:
    d, _ = make_dispatcher([Agent("ana"), Agent("bo", skills=["api"])])
    d.submit(Ticket("T-api", 0.0, skills=["api"]))  # bo's, not ana's
    assert d.wait_for_ticket("ana", timeout=0.05) is None
    assert d.wait_for_ticket("ana", timeout=0) is None
    offer = d.wait_for_ticket("bo", timeout=0.05)
    assert offer is not None and offer.ticket.id == "T-api"
    with pytest.raises(UnknownAgent):
        d.wait_for_ticket("nobody", timeout=0.05)
    with pytest.raises(InvalidArgument) as info:
        d.wait_for_ticket("ana", timeout=-1)
    assert info.value.field == "timeout"

    # A thread blocked in wait_for_ticket gets a ticket submitted meanwhile
    # (whichever comes first, the wait or the submission, it gets it).
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(d.wait_for_ticket("ana", timeout=10)))
    waiter.start()
    d.submit(Ticket("T-1", 1.0))
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert got[0] is not None and got[0].ticket.id == "T-1"
    d._check()


# == offers: accept, decline, expiry =========================================


def _two_busy_agents(**options: Any) -> tuple[Dispatcher, ManualClock]:
    """ana and bo each hold one ticket; T-1, T-2, T-3 wait in that order.

    The three came in at the same instant with the same priority, so only
    their arrival order ranks them: going back to "the original place" then
    means exactly that place, not merely the place the priority gives.
    """
    d, clock = make_dispatcher([Agent("ana"), Agent("bo")], **options)
    d.accept(d.submit(Ticket("A", 0.0)))
    d.accept(d.submit(Ticket("B", 0.0)))
    for i in (1, 2, 3):
        d.submit(Ticket(f"T-{i}", 0.0))
    clock.set(10.0)
    return d, clock


def test_accept_assigns_the_ticket() -> None:
    d, clock = make_dispatcher([Agent("ana")], offer_timeout=30)
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.expires_at == 30.0
    clock.set(12.0)
    ticket = d.accept(offer.id)  # by id as well as by Offer
    assert ticket.id == "T-1"
    assert d.status("T-1") == "assigned"
    assert ids(d.assigned("ana")) == ["T-1"]
    assert d.offers_for("ana") == []
    clock.set(100.0)  # an accepted offer never expires
    d.tick()
    assert d.status("T-1") == "assigned"
    assert d.stats().agents["ana"].served == 1
    d._check()


def test_a_declined_ticket_goes_back_to_its_original_place_and_to_another_agent() -> None:
    d, _ = _two_busy_agents(offer_timeout=None, retry_after=100)
    d.complete("A")
    offer = only_offer(d, "ana")
    assert offer.ticket.id == "T-1"
    d.decline(offer, "not my area")
    # T-1 is back at the head of the line, not behind T-3; ana got T-2.
    assert ids(d.queue) == ["T-1", "T-3"]
    assert d.queue.position("T-1") == 0
    assert only_offer(d, "ana").ticket.id == "T-2"
    # bo frees up: bo gets T-1 (the best), not T-3.
    d.complete("B")
    assert only_offer(d, "bo").ticket.id == "T-1"
    assert ids(d.queue) == ["T-3"]
    d._check()


def test_the_decliner_is_not_offered_the_ticket_again_until_retry_after_lapses() -> None:
    d, clock = make_dispatcher([Agent("ana")], offer_timeout=None, retry_after=100)
    d.submit(Ticket("T-1", 0.0))
    d.submit(Ticket("T-2", 1.0))
    d.decline(only_offer(d, "ana"))
    assert only_offer(d, "ana").ticket.id == "T-2"  # the next one instead
    d.accept(only_offer(d, "ana"))
    d.complete("T-2")
    assert d.offers_for("ana") == []  # free, but T-1 is not offered to ana
    assert d.next_for("ana") is None
    assert d.status("T-1") == "waiting"
    d._check()  # still work-conserving: ana passed on T-1
    clock.set(99.0)
    d.tick()
    assert d.status("T-1") == "waiting"
    clock.set(100.0)  # the pass lapses 100 s after the decline
    d.tick()
    assert only_offer(d, "ana").ticket.id == "T-1"
    d._check()


def test_with_retry_after_none_the_decliner_never_gets_it_back_while_it_waits() -> None:
    d, clock = make_dispatcher([Agent("ana")], offer_timeout=None, retry_after=None)
    d.decline(d.submit(Ticket("T-1", 0.0)))  # type: ignore[arg-type]
    clock.set(1e6)
    d.tick()
    assert d.status("T-1") == "waiting"
    assert d.next_for("ana") is None
    d.add_agent(Agent("bo"))
    assert only_offer(d, "bo").ticket.id == "T-1"
    d._check()


@pytest.mark.parametrize(
    "trigger",
    [
        lambda d: d.tick(),
        lambda d: d.stats(),
        lambda d: d.offers_for("bo"),
        lambda d: d.next_for("bo"),
        lambda d: d.submit(Ticket("late", 30.0)),
        lambda d: d.explain_assignment("T-3"),
    ],
    ids=["tick", "stats", "offers_for", "next_for", "submit", "explain"],
)
def test_an_offer_not_answered_in_time_expires_and_the_ticket_goes_back_to_its_place(
    trigger: Callable[[Dispatcher], Any],
) -> None:
    d, clock = _two_busy_agents(offer_timeout=30)
    d.complete("A")  # at 10: ana is offered T-1 until 40
    offer = only_offer(d, "ana")
    assert offer.expires_at == 40.0
    clock.set(39.0)
    d.tick()
    assert d.status("T-1") == "offered"
    clock.set(40.0)
    trigger(d)
    # status() and events only read: the trigger alone applied the expiry.
    assert d.status("T-1") == "waiting"
    expired = [e for e in d.events if e.kind is EventKind.EXPIRED]
    assert [(e.ticket_id, e.agent_id, e.offer_id, e.time) for e in expired] == [("T-1", "ana", offer.id, 40.0)]
    assert ids(d.queue)[:2] == ["T-1", "T-3"]  # back at the head; ana moved on to T-2
    assert only_offer(d, "ana").ticket.id == "T-2"
    with pytest.raises(OfferClosed) as info:
        d.accept(offer)
    assert info.value.status == "expired"
    assert "expired" in str(info.value)
    stats = d.stats()
    assert stats.agents["ana"].expired == 1
    assert stats.agents["ana"].declined == 0
    assert stats.by_class["normal"].expired == 1
    assert stats.by_skills["-"].expired == 1
    assert stats.overall.expired == 1
    assert d.roster["ana"].status is AgentStatus.AVAILABLE  # not marked by default
    d._check()


def test_mark_not_responding_parks_an_agent_who_let_an_offer_expire() -> None:
    d, clock = _two_busy_agents(offer_timeout=30, mark_not_responding=True)
    d.complete("A")
    clock.set(40.0)
    d.tick()
    assert d.roster["ana"].status is AgentStatus.NOT_RESPONDING
    assert d.offers_for("ana") == []
    assert ids(d.queue) == ["T-1", "T-2", "T-3"]  # T-1 at its original place
    assert d.stats().agents["ana"].status == "not_responding"
    d.complete("B")  # bo gets the best: T-1
    assert only_offer(d, "bo").ticket.id == "T-1"
    d.set_status("ana", "available")
    assert only_offer(d, "ana").ticket.id == "T-2"
    d._check()


def test_declines_and_expiries_are_counted_per_class_and_per_agent() -> None:
    d, clock = make_dispatcher(
        [Agent("ana", skills=["api"], capacity=2), Agent("bo", skills=["api"], capacity=2)], offer_timeout=30, retry_after=None
    )
    first = d.submit(Ticket("crit", 0.0, severity="critical", skills=["api"]))
    assert first is not None and first.agent_id == "ana"
    d.decline(first)
    second = only_offer(d, "bo")
    assert second.ticket.id == "crit"
    d.decline(second)
    low = d.submit(Ticket("low", 0.0, severity="low"))
    assert low is not None
    clock.set(30.0)
    d.tick()  # low's offer expires
    stats = d.stats()
    assert (stats.by_class["critical"].declined, stats.by_class["critical"].expired) == (2, 0)
    assert (stats.by_class["low"].declined, stats.by_class["low"].expired) == (0, 1)
    assert (stats.by_skills["api"].declined, stats.by_skills["-"].expired) == (2, 1)
    assert (stats.agents["ana"].declined, stats.agents["bo"].declined) == (1, 1)
    assert stats.agents[low.agent_id].expired == 1
    assert stats.overall.declined == 2 and stats.overall.expired == 1
    d._check()


def test_answering_a_closed_or_unknown_offer_raises_and_names_why() -> None:
    d, _ = make_dispatcher([Agent("ana"), Agent("bo")], offer_timeout=None)
    accepted = d.submit(Ticket("T-1", 0.0))
    declined = d.submit(Ticket("T-2", 0.0))
    d.accept(accepted)  # type: ignore[arg-type]
    d.decline(declined)  # type: ignore[arg-type]
    for offer, status in ((accepted, "accepted"), (declined, "declined")):
        for answer in (d.accept, d.decline):
            with pytest.raises(OfferClosed) as info:
                answer(offer)  # type: ignore[operator]
            assert info.value.status == status
            assert info.value.offer_id == offer.id  # type: ignore[union-attr]
            assert status in str(info.value)
    with pytest.raises(UnknownOffer):
        d.accept("offer-999")
    with pytest.raises(UnknownOffer):
        d.decline("offer-999")
    with pytest.raises(InvalidArgument):
        d.accept(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        d.decline("offer-1", reason=3)  # type: ignore[arg-type]
    assert OfferStatus("accepted") is OfferStatus.ACCEPTED
    d._check()


def _busy_desk() -> tuple[Dispatcher, ManualClock]:
    """ana holds T-1, bo is offered T-2, T-3 and T-4 wait."""
    d, clock = make_dispatcher([Agent("ana"), Agent("bo")], offer_timeout=30)
    d.accept(d.submit(Ticket("T-1", 0.0)))
    d.submit(Ticket("T-2", 1.0))
    d.submit(Ticket("T-3", 2.0, customer_tier="gold"))
    d.submit(Ticket("T-4", 3.0, skills=["api"]))
    return d, clock


ERRORS = [
    ("complete a waiting ticket", lambda d: d.complete("T-3"), NotAssigned),
    ("complete an offered ticket", lambda d: d.complete("T-2"), NotAssigned),
    ("complete another agent's ticket", lambda d: d.complete("T-1", "bo"), NotAssigned),
    ("complete an unknown ticket", lambda d: d.complete("T-9"), UnknownTicket),
    ("transfer a waiting ticket", lambda d: d.transfer("T-3", skills=["api"]), NotAssigned),
    ("transfer another agent's ticket", lambda d: d.transfer("T-1", "bo"), NotAssigned),
    ("transfer with a bad change", lambda d: d.transfer("T-1", skills={"api": 9}), InvalidTicket),
    ("transfer with an unknown field", lambda d: d.transfer("T-1", colour="red"), InvalidTicket),
    ("accept an unknown offer", lambda d: d.accept("offer-99"), UnknownOffer),
    ("decline an unknown offer", lambda d: d.decline("offer-99"), UnknownOffer),
    ("accept a closed offer", lambda d: d.accept("offer-1"), OfferClosed),
    ("submit a duplicate waiting ticket", lambda d: d.submit(Ticket("T-3", 5.0)), DuplicateTicket),
    ("submit a duplicate offered ticket", lambda d: d.submit(Ticket("T-2", 5.0)), DuplicateTicket),
    ("submit a duplicate assigned ticket", lambda d: d.submit(Ticket("T-1", 5.0)), DuplicateTicket),
    ("submit a non-ticket", lambda d: d.submit("T-5"), InvalidArgument),
    ("cancel an unknown ticket", lambda d: d.cancel("T-9"), UnknownTicket),
    ("update an unknown ticket", lambda d: d.update("T-9", severity="high"), UnknownTicket),
    ("update with a bad value", lambda d: d.update("T-3", severity="urgent"), InvalidTicket),
    ("update an offered ticket badly", lambda d: d.update("T-2", complexity=0), InvalidTicket),
    ("status of an unknown ticket", lambda d: d.status("T-9"), UnknownTicket),
    ("explain an unknown ticket", lambda d: d.explain_assignment("T-9"), UnknownTicket),
    ("next_for an unknown agent", lambda d: d.next_for("zed"), UnknownAgent),
    ("offers_for an unknown agent", lambda d: d.offers_for("zed"), UnknownAgent),
    ("assigned of an unknown agent", lambda d: d.assigned("zed"), UnknownAgent),
    ("set_status of an unknown agent", lambda d: d.set_status("zed", "away"), UnknownAgent),
    ("set_status to a bad status", lambda d: d.set_status("ana", "busy"), InvalidAgent),
    ("update an unknown agent", lambda d: d.update_agent("zed", capacity=2), UnknownAgent),
    ("update an agent badly", lambda d: d.update_agent("bo", capacity=-1), InvalidAgent),
    ("remove an unknown agent", lambda d: d.remove_agent("zed"), UnknownAgent),
    ("remove a busy agent", lambda d: d.remove_agent("ana"), AgentBusy),
    ("add a duplicate agent", lambda d: d.add_agent(Agent("bo")), DuplicateAgent),
    ("add a non-agent", lambda d: d.add_agent("carl"), InvalidArgument),
    ("wait_for_ticket of an unknown agent", lambda d: d.wait_for_ticket("zed", timeout=0), UnknownAgent),
    ("subscribe a non-callable", lambda d: d.subscribe(42), InvalidArgument),
]


@pytest.mark.parametrize(("call", "error"), [(c, e) for _, c, e in ERRORS], ids=[name for name, _, _ in ERRORS])
def test_every_error_leaves_the_dispatcher_unchanged(call: Callable[[Dispatcher], Any], error: type[Exception]) -> None:
    d, _ = _busy_desk()
    tickets = ["T-1", "T-2", "T-3", "T-4", "T-9"]
    # offer-1 (T-1 to ana) is accepted, so closed.
    before = snapshot(d, tickets)
    with pytest.raises(error):
        call(d)
    assert snapshot(d, tickets) == before
    d._check()


def test_complete_frees_capacity_for_the_next_ticket() -> None:
    d, _ = make_dispatcher([Agent("ana", capacity={"chat": 1})], offer_timeout=None)
    d.accept(d.submit(Ticket("T-1", 0.0, channel="chat")))
    d.submit(Ticket("T-2", 1.0, channel="chat"))
    assert d.roster.state("ana").load == {"chat": 1}
    done = d.complete("T-1", "ana")
    assert done.id == "T-1"
    assert d.roster.state("ana").load == {"chat": 1}  # full again, with T-2
    assert only_offer(d, "ana").ticket.id == "T-2"
    with pytest.raises(UnknownTicket):
        d.status("T-1")  # finished tickets are forgotten
    with pytest.raises(UnknownTicket):
        d.complete("T-1")
    assert [s.ticket_id for s in d.roster.history("ana")] == ["T-1"]
    d._check()


def test_transfer_requeues_at_the_original_place_with_new_requirements() -> None:
    d, clock = make_dispatcher(
        [Agent("ana", skills={"billing": 2, "api": 1}), Agent("bo", skills={"api": 3})], offer_timeout=None
    )
    d.accept(d.submit(Ticket("X", 0.0, skills={"billing": 1})))  # ana
    d.accept(d.submit(Ticket("Y", 0.0)))  # bo
    clock.set(10.0)
    d.submit(Ticket("T-1", 0.0))
    d.submit(Ticket("T-2", 0.0))
    new = d.transfer("X", "ana", skills={"api": 2})
    assert dict(new.skills) == {"api": 2}
    # X keeps its place: ahead of the tickets that came in after it (all
    # else being equal, arrival order decides).
    assert d.status("X") == "waiting"
    assert ids(d.queue)[0] == "X"
    # ana (now free) cannot do api 2 and gets T-1; bo frees and gets X.
    assert only_offer(d, "ana").ticket.id == "T-1"
    d.complete("Y")
    offer = only_offer(d, "bo")
    assert offer.ticket.id == "X" and dict(offer.ticket.skills) == {"api": 2}
    assert d.explain_assignment("X").verdicts[0].reason == "lacks skill 'api' >= 2 (has 1)"
    d._check()


def test_transfer_does_not_hand_the_ticket_back_to_the_agent_who_transferred_it() -> None:
    d, _ = make_dispatcher([Agent("ana", skills=["api"]), Agent("bo", skills=["api"], status="away")], retry_after=None)
    d.accept(d.submit(Ticket("X", 0.0)))
    d.transfer("X", skills=["api"])
    assert d.status("X") == "waiting"  # ana is free and qualified, but passed it on
    d.set_status("bo", "available")
    assert only_offer(d, "bo").ticket.id == "X"
    d._check()


def test_cancel_withdraws_a_ticket_in_every_state() -> None:
    d, _ = make_dispatcher([Agent("ana"), Agent("bo")], offer_timeout=None)
    assigned = d.submit(Ticket("assigned", 0.0))
    d.accept(assigned)  # type: ignore[arg-type]
    offered = d.submit(Ticket("offered", 1.0))
    d.submit(Ticket("waiting", 2.0))
    d.submit(Ticket("next", 3.0))
    assert d.stats().overall.waiting == 2

    assert d.cancel("waiting").id == "waiting"
    assert ids(d.queue) == ["next"]
    assert d.stats().overall.waiting == 1

    d.cancel("offered")
    with pytest.raises(OfferClosed) as info:
        d.accept(offered)  # type: ignore[arg-type]
    assert info.value.status == "revoked"
    assert only_offer(d, "bo").ticket.id == "next"  # bo's room went to the next ticket

    d.cancel("assigned")
    assert d.assigned("ana") == []
    assert d.roster.state("ana").load == {"*": 0}
    for gone in ("waiting", "offered", "assigned"):
        with pytest.raises(UnknownTicket):
            d.status(gone)
        with pytest.raises(UnknownTicket):
            d.cancel(gone)
    cancelled = [e.ticket_id for e in d.events if e.kind is EventKind.CANCELLED]
    assert cancelled == ["waiting", "offered", "assigned"]
    d._check()


# == affinity ===================================================================


def _served_customer() -> tuple[Dispatcher, ManualClock]:
    """bo served customer acme; at 10 ana and bo are free, and ana has been
    idle longer (since 3; bo since 5), so LongestIdle alone would pick ana."""
    d, clock = make_dispatcher([Agent("ana"), Agent("bo")], offer_timeout=None, affinity_wait=60)
    d.accept(d.submit(Ticket("warmup", 0.0)))  # ana (joined first)
    d.accept(d.submit(Ticket("first", 0.0, customer_id="acme")))  # bo
    clock.set(3.0)
    d.complete("warmup")
    clock.set(5.0)
    d.complete("first")
    clock.set(10.0)
    assert d.roster.last_agent("acme") == "bo"
    return d, clock


def test_a_returning_customer_goes_to_the_agent_who_served_them() -> None:
    d, _ = _served_customer()
    # LongestIdle alone would choose ana...
    assert d.roster.state("ana").idle_since < d.roster.state("bo").idle_since
    offer = d.submit(Ticket("again", 10.0, customer_id="acme"))
    assert offer is not None and offer.agent_id == "bo"  # ...but acme goes to bo
    assert offer.how == "returning customer (affinity)"
    d._check()


def test_a_returning_customers_ticket_is_held_for_their_busy_agent() -> None:
    d, clock = _served_customer()
    d.accept(d.submit(Ticket("keeps-bo-busy", 10.0, customer_id="acme")))
    assert d.assigned("bo")[0].id == "keeps-bo-busy"
    held = d.submit(Ticket("again", 11.0, customer_id="acme"))
    assert held is None
    assert d.queue.holder("again") == "bo"
    assert d.offers_for("ana") == []  # ana is free, but the ticket waits for bo
    assert d.next_for("ana") is None
    kinds = [e.kind for e in d.events if e.ticket_id == "again"]
    assert kinds == [EventKind.SUBMITTED, EventKind.HELD]
    explanation = d.explain_assignment("again")
    assert explanation.state == "waiting"
    assert [v.reason for v in explanation.verdicts if v.agent_id == "ana"] == ["the ticket is held for 'bo' (affinity)"]
    d._check()
    # bo frees within the wait: bo gets the customer.
    clock.set(50.0)
    d.complete("keeps-bo-busy")
    offer = only_offer(d, "bo")
    assert offer.ticket.id == "again"


def test_after_affinity_wait_anyone_qualified_gets_the_held_ticket() -> None:
    d, clock = _served_customer()
    d.accept(d.submit(Ticket("keeps-bo-busy", 10.0, customer_id="acme")))
    d.submit(Ticket("again", 10.0, customer_id="acme"))  # at 10: held for bo until 70
    clock.set(69.0)
    d.tick()
    assert d.queue.holder("again") == "bo"
    assert d.offers_for("ana") == []
    clock.set(70.0)
    d.tick()
    offer = only_offer(d, "ana")
    assert offer.ticket.id == "again"
    kinds = [e.kind.value for e in d.events if e.ticket_id == "again"]
    assert kinds == ["submitted", "held", "released", "offered"]
    d._check()


def test_a_vips_ticket_goes_to_their_dedicated_agent_and_waits_for_them() -> None:
    d, clock = make_dispatcher([Agent("ana"), Agent("cy", dedicated_customers={"acme"})], offer_timeout=None, affinity_wait=120)
    assert d.roster.dedicated_agent("acme") == "cy"
    first = d.submit(Ticket("V-1", 0.0, customer_id="acme"))  # ana is longest idle, but cy owns acme
    assert first is not None and first.agent_id == "cy"
    assert "dedicated agent" in first.how
    d.accept(first)
    held = d.submit(Ticket("V-2", 1.0, customer_id="acme"))
    assert held is None and d.queue.holder("V-2") == "cy"
    assert d.offers_for("ana") == []
    # A normal ticket arriving meanwhile still goes to ana.
    assert d.submit(Ticket("N-1", 2.0)).agent_id == "ana"  # type: ignore[union-attr]
    d.accept(only_offer(d, "ana"))
    clock.set(60.0)
    d.complete("V-1")  # cy frees within the wait
    assert only_offer(d, "cy").ticket.id == "V-2"
    d.accept(only_offer(d, "cy"))
    d.complete("N-1")  # ana is free from 60
    # Past the wait, anyone qualified.
    clock.set(61.0)
    d.submit(Ticket("V-3", 61.0, customer_id="acme"))  # held for cy until 181
    assert d.queue.holder("V-3") == "cy"
    assert d.offers_for("ana") == []
    clock.set(180.0)
    d.tick()
    assert d.status("V-3") == "waiting"
    clock.set(181.0)
    d.tick()
    assert only_offer(d, "ana").ticket.id == "V-3"
    d._check()


def test_affinity_wait_zero_only_uses_the_agent_if_free_at_once() -> None:
    d, _ = make_dispatcher([Agent("ana"), Agent("cy", dedicated_customers={"acme"})], affinity_wait=0)
    d.accept(d.submit(Ticket("V-1", 0.0, customer_id="acme")))  # cy
    offer = d.submit(Ticket("V-2", 1.0, customer_id="acme"))
    assert offer is not None and offer.agent_id == "ana"
    d._check()


# == skill relaxation ==========================================================


def test_preferred_skills_are_required_until_relax_after_then_dropped_by_the_clock() -> None:
    d, clock = make_dispatcher(
        [Agent("hans", skills={"billing": 2, "german": 3}), Agent("bo", skills={"billing": 2, "german": 2})],
        offer_timeout=None,
    )
    d.accept(d.submit(Ticket("busy-hans", 0.0, skills={"german": 3})))
    clock.set(100.0)
    offer = d.submit(Ticket("T-de", 100.0, skills={"billing": 1}, preferred_skills={"german": 3}, relax_after=60))
    assert offer is None  # only a German-3 agent may take it for now; bo is free but at German 2
    assert d.offers_for("bo") == []
    assert d.explain_assignment("T-de").verdicts[1].reason == "lacks skill 'german' >= 3 (has 2)"
    clock.set(159.0)
    d.tick()
    assert d.status("T-de") == "waiting"
    assert d.next_for("bo") is None  # asking does not help
    clock.set(160.0)
    d.tick()  # nothing else happens: the clock alone widens it
    assert only_offer(d, "bo").ticket.id == "T-de"
    assert any(e.kind is EventKind.RELEASED and e.ticket_id == "T-de" for e in d.events)
    d._check()


def test_a_preferred_agent_who_frees_up_in_time_gets_the_ticket() -> None:
    d, clock = make_dispatcher([Agent("hans", skills={"german": 3}), Agent("bo", skills={"german": 1})], offer_timeout=None)
    d.accept(d.submit(Ticket("busy-hans", 0.0, skills={"german": 3})))
    d.submit(Ticket("T-de", 0.0, preferred_skills={"german": 3}, relax_after=60))
    clock.set(30.0)
    d.complete("busy-hans")
    assert only_offer(d, "hans").ticket.id == "T-de"
    assert d.offers_for("bo") == []
    d._check()


# == bounded waiting ============================================================

SERVICE = 10.0
BOUND = 60.0


def _overload(max_wait: float | None) -> Any:
    """Two agents, service time 10 s.  Two gold VIPs arrive 1 s before each
    round of completions, so at every completion a VIP waits; three normal
    tickets arrive at 0, 3 and 150."""
    d, clock = make_dispatcher([Agent("a"), Agent("b")], policy=Policy.default(max_wait=max_wait), offer_timeout=None)
    arrivals = [Ticket("V-0a", 0.0, customer_tier="gold"), Ticket("V-0b", 0.0, customer_tier="gold")]
    arrivals += [Ticket("N-1", 0.0), Ticket("N-2", 3.0), Ticket("N-3", 150.0)]
    for k in range(1, 60):
        at = k * SERVICE - 1
        arrivals += [Ticket(f"V-{k}a", at, customer_tier="gold"), Ticket(f"V-{k}b", at, customer_tier="gold")]
    # VIP-first arrivals at 0 take both agents before the normal ticket.
    return simulate_shift(d, clock, arrivals, service_time=SERVICE, until=590.0)


def test_without_a_wait_bound_a_stream_of_vips_starves_normal_tickets() -> None:
    result = _overload(None)
    assert not any(t.startswith("N-") for t in result.served)
    assert result.still_waiting["N-1"] == 590.0
    assert result.still_waiting["N-3"] == 440.0
    assert max(w for t, w in result.served.items() if t.startswith("V-")) <= 1.0


def test_with_max_wait_no_ticket_waits_longer_than_the_bound_plus_one_service_time() -> None:
    """Policy.default(max_wait=60): the same overload as above.

    The guarantee needs an assumption: tickets reaching the bound must not
    themselves outnumber what the agents serve.  Here VIPs arrive exactly as
    fast as the agents serve them and only three normal tickets come in, so
    the VIP backlog grows by one per normal ticket served and VIP waits stay
    well below the bound (checked below); only starved tickets ever become
    overdue.  No scheduler can bound waits when arrivals exceed capacity.
    """
    result = _overload(BOUND)
    waits = result.served
    assert {"N-1", "N-2", "N-3"} <= set(waits)
    vip_waits = [w for t, w in waits.items() if t.startswith("V-")]
    assert max(vip_waits) < BOUND  # the assumption holds
    for ticket_id in ("N-1", "N-2", "N-3"):
        assert BOUND <= waits[ticket_id] <= BOUND + SERVICE, (ticket_id, waits[ticket_id])
    assert max(waits.values()) <= BOUND + SERVICE
    assert all(w <= BOUND + SERVICE for w in result.still_waiting.values())
    assert result.most_held == 1


# == events =======================================================================


def test_the_audit_trail_records_every_decision_in_order() -> None:
    d, clock = make_dispatcher(
        [Agent("ana", capacity=2), Agent("bo", skills=["api"]), Agent("cy", dedicated_customers={"acme"})],
        offer_timeout=30,
        sla_warning=50,
        affinity_wait=20,
    )
    heard = Recorder()
    d.subscribe(heard)
    d.accept(d.submit(Ticket("T-1", 0.0, customer_id="acme")))  # cy: dedicated agent
    d.decline(d.submit(Ticket("T-2", 0.0, sla_due=100.0)), "lunch")  # type: ignore[arg-type]  # ana passes: bo
    clock.set(30.0)
    d.tick()  # bo lets it expire; both passed, so it waits
    d.submit(Ticket("T-3", 30.0, customer_id="acme"))  # cy is busy: held for cy
    clock.set(50.0)
    d.tick()  # the hold ends (ana takes T-3); T-2's SLA is 50 s away
    d.accept(only_offer(d, "ana"))
    clock.set(100.0)
    d.tick()  # T-2's SLA runs out
    d.complete("T-1")  # cy frees and is offered T-2
    d.update("T-3", severity="high")
    d.accept(only_offer(d, "cy"))
    d.transfer("T-3", skills=["api"])  # to bo
    d.cancel("T-3")

    trail = [(e.kind.value, e.ticket_id, e.agent_id) for e in d.events if e.kind is not EventKind.AGENT_CHANGED]
    assert trail == [
        ("submitted", "T-1", None),
        ("offered", "T-1", "cy"),
        ("accepted", "T-1", "cy"),
        ("submitted", "T-2", None),
        ("offered", "T-2", "ana"),
        ("declined", "T-2", "ana"),
        ("offered", "T-2", "bo"),
        ("expired", "T-2", "bo"),
        ("submitted", "T-3", None),
        ("held", "T-3", "cy"),
        ("released", "T-3", None),
        ("offered", "T-3", "ana"),
        ("sla_warning", "T-2", None),
        ("accepted", "T-3", "ana"),
        ("sla_breached", "T-2", None),
        ("completed", "T-1", "cy"),
        ("offered", "T-2", "cy"),
        ("updated", "T-3", None),
        ("accepted", "T-2", "cy"),
        ("transferred", "T-3", "ana"),
        ("offered", "T-3", "bo"),
        ("revoked", "T-3", "bo"),  # a cancelled offer is revoked first
        ("cancelled", "T-3", "bo"),
    ]
    events = d.events
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(events) + 1))
    assert [e.time for e in events] == sorted(e.time for e in events)
    assert [e.kind.value for e in events[:3]] == ["agent_changed"] * 3  # joined, before anyone listened
    assert heard.events == events[3:]  # the listener heard everything after it subscribed, in order
    by_kind = {e.kind: e for e in events}
    assert by_kind[EventKind.DECLINED].detail == "lunch"
    assert (by_kind[EventKind.SLA_WARNING].time, by_kind[EventKind.SLA_BREACHED].time) == (50.0, 100.0)
    assert by_kind[EventKind.UPDATED].detail == "severity"
    assert by_kind[EventKind.TRANSFERRED].detail == "skills"
    offers = [e.offer_id for e in events if e.kind is EventKind.OFFERED]
    assert len(set(offers)) == len(offers)
    assert json.loads(json.dumps([e.to_dict() for e in events]))[4]["kind"] == "offered"
    d._check()


def test_sla_events_only_for_unanswered_tickets_and_only_with_sla_warning_for_the_warning() -> None:
    d, clock = make_dispatcher([Agent("ana")], offer_timeout=None)
    d.accept(d.submit(Ticket("served", 0.0, sla_due=50.0)))
    d.submit(Ticket("waits", 0.0, sla_due=50.0))
    clock.set(50.0)
    d.tick()
    sla = [(e.kind.value, e.ticket_id) for e in d.events if e.kind.value.startswith("sla")]
    assert sla == [("sla_breached", "waits")]  # no warning configured; the served one is fine


def test_an_update_does_not_repeat_sla_events() -> None:
    d, clock = make_dispatcher([], sla_warning=50)
    d.submit(Ticket("T-1", 0.0, sla_due=100.0))
    clock.set(10.0)
    d.update("T-1", contacts=2)  # a follow-up; the SLA is unchanged
    clock.set(100.0)
    d.tick()
    sla = [(e.kind.value, e.ticket_id) for e in d.events if e.kind.value.startswith("sla")]
    assert sla == [("sla_warning", "T-1"), ("sla_breached", "T-1")]


def test_a_changed_sla_due_is_what_counts() -> None:
    d, clock = make_dispatcher([], sla_warning=10)
    d.submit(Ticket("T-1", 0.0, sla_due=100.0))
    d.update("T-1", sla_due=200.0)  # the customer agreed to more time
    clock.set(150.0)
    d.tick()
    assert [e.kind.value for e in d.events if e.kind.value.startswith("sla")] == []
    clock.set(190.0)
    d.tick()
    sla = [(e.kind.value, e.time) for e in d.events if e.kind.value.startswith("sla")]
    assert sla == [("sla_warning", 190.0)]


def test_unsubscribe_stops_the_stream() -> None:
    d, _ = make_dispatcher([Agent("ana")])
    heard = Recorder()
    stop = d.subscribe(heard)
    d.submit(Ticket("T-1", 0.0))
    assert heard.kinds() == ["submitted", "offered"]
    stop()
    stop()  # twice is harmless
    d.submit(Ticket("T-2", 0.0))
    assert heard.kinds() == ["submitted", "offered"]
    assert [e.kind.value for e in d.events][-1] == "submitted"


def test_a_failing_listener_goes_to_the_error_hook_and_the_call_returns_its_own_result() -> None:
    """A listener's exception never reaches the caller: the operation returns
    its own result, the error goes to ``on_listener_error`` with the event,
    the audit trail has every event, and the listener stays subscribed."""
    hooked: list[tuple[EventKind, str]] = []
    d, _ = make_dispatcher([Agent("ana")], on_listener_error=lambda e, exc: hooked.append((e.kind, str(exc))))
    calls = []

    def fragile(event: Any) -> None:
        calls.append(event.kind)
        if event.kind is EventKind.OFFERED:
            raise RuntimeError("pager down")

    d.subscribe(fragile)
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.ticket.id == "T-1"
    assert hooked == [(EventKind.OFFERED, "pager down")]
    assert d.status("T-1") == "offered"
    assert [e.kind for e in d.events][-2:] == [EventKind.SUBMITTED, EventKind.OFFERED]
    d._check()
    d.accept(d.offers_for("ana")[0])
    assert calls == [EventKind.SUBMITTED, EventKind.OFFERED, EventKind.ACCEPTED]


def test_a_listener_error_is_logged_by_default(caplog: pytest.LogCaptureFixture) -> None:
    d, _ = make_dispatcher([Agent("ana")])

    def fragile(event: Any) -> None:
        raise RuntimeError("pager down")

    d.subscribe(fragile)
    with caplog.at_level("ERROR", logger="triage_queue.dispatch"):
        d.submit(Ticket("T-1", 0.0))
    records = [r for r in caplog.records if r.name == "triage_queue.dispatch"]
    assert len(records) == 2  # submitted, offered
    assert "T-1" in records[0].getMessage() and "pager down" in records[0].getMessage()
    assert records[0].exc_info is not None and records[0].exc_info[0] is RuntimeError


def test_a_failing_error_hook_is_logged_and_does_not_reach_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    def bad_hook(event: Any, error: Exception) -> None:
        raise ValueError("hook down")

    d, _ = make_dispatcher([Agent("ana")], on_listener_error=bad_hook)
    d.subscribe(lambda e: 1 / 0)
    with caplog.at_level("ERROR", logger="triage_queue.dispatch"):
        assert d.submit(Ticket("T-1", 0.0)) is not None
    assert any("hook down" in r.getMessage() for r in caplog.records)


def test_a_refused_call_raises_its_own_error_not_a_listener_error() -> None:
    """The issue's reproduction: an expiry applied by a refused submit made a
    listener raise; the caller must see the RuleError for 'BAD'."""
    from triage_queue import Emergency, Policy, RuleError, rule

    @rule("fragile")
    def fragile(t: Ticket) -> float:
        if t.attributes.get("poison"):
            raise RuntimeError("x")
        return 0.0

    class ListenerBoom(Exception):
        pass

    def listener(e: Any) -> None:
        if e.kind is EventKind.EXPIRED:
            raise ListenerBoom()

    clock = ManualClock(0.0)
    hooked: list[EventKind] = []
    d = Dispatcher(
        TicketQueue(Policy.lexicographic(Emergency(), fragile), clock=clock),
        [Agent("ana")],
        offer_timeout=10,
        on_listener_error=lambda e, exc: hooked.append(e.kind),
    )
    d.subscribe(listener)
    d.submit(Ticket("T-1", 0.0))
    clock.advance(11)
    with pytest.raises(RuleError, match="BAD"):
        d.submit(Ticket("BAD", 11.0, attributes={"poison": True}))
    assert "BAD" not in d.queue
    assert hooked == [EventKind.EXPIRED]


def test_a_failing_listener_does_not_cost_other_listeners_their_events() -> None:
    d, _ = make_dispatcher([Agent("ana")], on_listener_error=lambda e, exc: None)

    def fragile(event: Any) -> None:
        if event.kind is EventKind.SUBMITTED:
            raise RuntimeError("pager down")

    d.subscribe(fragile)
    audit = Recorder()
    d.subscribe(audit)
    d.submit(Ticket("T-1", 0.0))
    assert audit.kinds() == ["submitted", "offered"]


def test_listeners_hear_an_expiry_even_when_the_call_that_applied_it_raises() -> None:
    d, clock = make_dispatcher([Agent("ana"), Agent("bo")], offer_timeout=30)
    heard = Recorder()
    d.subscribe(heard)
    offer = d.submit(Ticket("T-1", 0.0))
    clock.set(31.0)
    with pytest.raises(OfferClosed):
        d.accept(offer)  # type: ignore[arg-type]
    # The expiry and the new offer to bo happened (they are in d.events)...
    assert [e.kind.value for e in d.events][-2:] == ["expired", "offered"]
    # ...and subscribers have heard of them.
    assert heard.kinds()[-2:] == ["expired", "offered"]


# == statistics =================================================================


def test_stats_give_waiting_and_served_figures_per_class_skill_group_and_agent() -> None:
    d, clock = make_dispatcher(
        [Agent("ana", skills={"billing": 2, "payments": 2}, capacity=2), Agent("bo", status="away")],
        offer_timeout=None,
    )
    empty = d.stats()
    assert empty.overall.waiting == 0 and empty.overall.oldest_wait is None and empty.overall.wait_p50 is None
    assert empty.occupancy == 0.0
    # Two tickets served after waits of 10 and 30 seconds.
    clock.set(10.0)
    d.accept(d.submit(Ticket("S-1", 0.0, skills={"billing": 1, "payments": 1})))
    clock.set(30.0)
    d.accept(d.submit(Ticket("S-2", 0.0, severity="high")))
    # Waiting now: ana is full.
    d.submit(Ticket("W-1", 5.0, skills={"payments": 1, "billing": 1}))
    d.submit(Ticket("W-2", 20.0, severity="critical", skills={"payments": 1, "billing": 1}))
    d.submit(Ticket("W-3", 25.0, severity="high"))
    clock.set(40.0)
    s = d.stats()
    assert s.now == 40.0
    assert set(s.by_class) == {"normal", "high", "critical"}
    assert (s.by_class["normal"].waiting, s.by_class["normal"].oldest_wait) == (1, 35.0)
    assert (s.by_class["critical"].waiting, s.by_class["critical"].oldest_wait) == (1, 20.0)
    assert (s.by_class["high"].waiting, s.by_class["high"].oldest_wait) == (1, 15.0)
    assert set(s.by_skills) == {"billing+payments", "-"}
    assert (s.by_skills["billing+payments"].waiting, s.by_skills["billing+payments"].oldest_wait) == (2, 35.0)
    assert (s.by_skills["-"].waiting, s.by_skills["-"].oldest_wait) == (1, 15.0)
    assert (s.overall.waiting, s.overall.oldest_wait, s.overall.served) == (3, 35.0, 2)
    assert s.by_class["normal"].served == 1 and s.by_class["high"].served == 1
    assert s.by_class["normal"].wait_max == pytest.approx(10.0)
    assert s.by_class["high"].wait_p50 == pytest.approx(30.0, rel=0.02)
    assert s.overall.wait_p50 == pytest.approx(10.0, rel=0.02)
    assert s.overall.wait_p99 == pytest.approx(30.0, rel=0.02)
    assert s.overall.wait_max == 30.0
    assert s.occupancy == 1.0  # bo is away: only ana's capacity counts
    assert s.agents["ana"].to_dict() == {
        "status": "available",
        "load": 2,
        "capacity": 2,
        "offered": 2,
        "declined": 0,
        "expired": 0,
        "served": 2,
        # Performance (docs/analytics.md): nothing completed yet; 30 s + 10 s on
        # assigned tickets over 40 s at capacity 2.
        "handled": 0,
        "handle_mean": None,
        "handle_p90": None,
        "occupancy": 0.5,
        "sla_met": 0,
        "sla_missed": 0,
        "sla_attainment": None,
    }
    assert s.agents["bo"].status == "away"
    # A ticket served after being offered on completion leaves the waiting figures.
    d.complete("S-1")
    d.accept(only_offer(d, "ana"))  # W-2 (critical) at 40: waited 20
    s = d.stats()
    assert s.by_class["critical"].waiting == 0 and s.by_class["critical"].oldest_wait is None
    assert s.by_class["critical"].wait_max == 20.0
    assert s.by_skills["billing+payments"].oldest_wait == 35.0
    text = json.dumps(s.to_dict(), allow_nan=False)
    assert json.loads(text)["by_skills"]["billing+payments"]["waiting"] == 1


def test_stats_percentiles_follow_many_served_waits() -> None:
    d, clock = make_dispatcher([Agent("ana")], offer_timeout=None)
    for i in range(1, 101):
        clock.set(float(1000 * i))
        d.accept(d.submit(Ticket(f"T-{i}", float(1000 * i - i))))  # waited i seconds
        d.complete(f"T-{i}")
    s = d.stats().overall
    assert s.served == 100
    assert s.wait_p50 == pytest.approx(50, rel=0.02)
    assert s.wait_p90 == pytest.approx(90, rel=0.02)
    assert s.wait_p99 == pytest.approx(99, rel=0.02)
    assert s.wait_max == 100.0


def test_stats_classify_can_be_replaced() -> None:
    d, _ = make_dispatcher([], classify=lambda t: t.customer_tier or "standard")
    d.submit(Ticket("T-1", 0.0, customer_tier="gold"))
    d.submit(Ticket("T-2", 0.0))
    assert {k: v.waiting for k, v in d.stats().by_class.items()} == {"gold": 1, "standard": 1}


# == explanations ================================================================


def test_explain_assignment_gives_every_agent_its_specific_reason() -> None:
    d, _ = make_dispatcher(
        [
            Agent("gus", skills={"payments": 3}, capacity={"phone": 1}),
            Agent("ana", skills={"payments": 4}, capacity={"phone": 1}),
            Agent("hal", skills={"payments": 3}, capacity={"phone": 1}),
            Agent("dee", skills={"payments": 5, "x": 1}, capacity=1),
            Agent("bo", skills={"payments": 5}, status="offline"),
            Agent("cy", skills={"payments": 5}, status="away"),
            Agent("eve", skills={"payments": 1}, capacity=5),
            Agent("fay", skills={"payments": 5}, capacity={"chat": 1}),
        ],
        offer_timeout=None,
    )
    d.accept(d.submit(Ticket("dee-busy", 0.0, skills=["x"])))
    first = d.submit(Ticket("T-1", 0.0, skills={"payments": 3}, channel="phone"))
    assert first is not None and first.agent_id == "gus"
    d.decline(first, "on a call")
    explanation = d.explain_assignment("T-1")
    assert (explanation.state, explanation.agent_id, explanation.selection) == ("offered", "ana", "longest_idle")
    reasons = {v.agent_id: v.reason for v in explanation.verdicts}
    qualified = {v.agent_id: v.qualified for v in explanation.verdicts}
    assert [v.agent_id for v in explanation.verdicts if v.chosen] == ["ana"]
    assert reasons["ana"].startswith("chosen: routed again after an offer was given back: longest_idle")
    assert reasons["gus"] == "declined this ticket or let its offer expire"
    assert reasons["hal"].startswith("qualified, but longest_idle preferred 'ana'")
    assert reasons["dee"] == "at capacity 1/1 for '*'"
    assert reasons["bo"] == "status offline"
    assert reasons["cy"] == "status away"
    assert reasons["eve"] == "lacks skill 'payments' >= 3 (has 1)"
    assert reasons["fay"] == "takes no 'phone' tickets"
    assert qualified == {"gus": True, "ana": True, "hal": True, "dee": True, "bo": True, "cy": True, "eve": False, "fay": False}
    data = explanation.to_dict()
    assert json.loads(json.dumps(data))["agent_id"] == "ana"
    assert [v["agent_id"] for v in data["verdicts"]] == ["gus", "ana", "hal", "dee", "bo", "cy", "eve", "fay"]
    text = str(explanation)
    assert text.splitlines()[0] == (
        "ticket 'T-1' offered to 'ana' (routed again after an offer was given back: longest_idle); selection: longest_idle"
    )
    assert "  * ana: chosen:" in text
    assert "  - eve: lacks skill 'payments' >= 3 (has 1)" in text

    d.accept(only_offer(d, "ana"))
    assert d.explain_assignment("T-1").state == "assigned"


def test_explain_a_waiting_ticket() -> None:
    d, _ = make_dispatcher(
        [
            Agent("ana", skills={"payments": 1}),
            Agent("bo", skills={"payments": 3}),
            Agent("cy", skills={"payments": 5}, capacity={"chat": 2}),
        ]
    )
    d.accept(d.submit(Ticket("bo-busy", 0.0, skills={"payments": 3})))
    d.submit(Ticket("T-1", 0.0, skills={"payments": 2}))
    explanation = d.explain_assignment("T-1")
    assert (explanation.state, explanation.agent_id, explanation.how) == ("waiting", None, None)
    assert [(v.agent_id, v.chosen, v.qualified, v.reason) for v in explanation.verdicts] == [
        ("ana", False, False, "lacks skill 'payments' >= 2 (has 1)"),
        ("bo", False, True, "at capacity 1/1 for '*'"),
        ("cy", False, False, "takes no tickets without a channel"),
    ]
    assert str(explanation).splitlines()[0] == "ticket 'T-1' is waiting; selection: longest_idle"


# == paused and batch assignment ==================================================


def test_a_shift_start_assigns_the_backlog_at_once_maximally_and_in_priority_order() -> None:
    # ana can do billing and payments, bo only billing.  Routed one by one
    # in priority order, the billing ticket could take ana and strand the
    # payments ticket; the batch serves both.
    d, clock = make_dispatcher(
        [Agent("ana", skills={"billing": 1, "payments": 1}, status="offline"), Agent("bo", skills=["billing"], status="offline")],
        offer_timeout=None,
    )
    backlog = [
        Ticket("bill-crit", 0.0, severity="critical", skills=["billing"]),
        Ticket("pay-high", 1.0, severity="high", skills=["payments"]),
        Ticket("bill-normal", 2.0, skills=["billing"]),
        Ticket("pay-normal", 3.0, skills=["payments"]),
    ]
    for ticket in backlog:
        d.submit(ticket)
    clock.set(100.0)
    heard = Recorder()
    d.subscribe(heard)
    with d.paused():
        d.set_status("ana", "available")
        d.set_status("bo", "available")
        assert d.offers_for("ana") == [] and d.offers_for("bo") == []  # nothing while paused
        d._check()
    offered = {o.ticket.id: o.agent_id for a in ("ana", "bo") for o in d.offers_for(a)}
    assert offered == {"bill-crit": "bo", "pay-high": "ana"}
    order = [e.ticket_id for e in heard.of(EventKind.OFFERED)]
    assert order == ["bill-crit", "pay-high"]  # in priority order
    assert all("batch assignment" in o.how for a in ("ana", "bo") for o in d.offers_for(a))
    count, chosen = brute_force_assignment(
        backlog, [Agent("ana", skills={"billing": 1, "payments": 1}), Agent("bo", skills=["billing"])], {}, 100.0
    )
    assert count == 2 and {backlog[i].id for i in chosen} == set(offered)
    d._check()


def test_assign_all_is_idempotent_and_returns_its_offers() -> None:
    d, _ = make_dispatcher([], offer_timeout=None)
    with d.paused():
        for i in range(5):
            d.submit(Ticket(f"T-{i}", float(i)))
        d.add_agent(Agent("ana", capacity=2))
        d.add_agent(Agent("bo", capacity=2))
        offers = d.assign_all()
        assert offers == []  # still paused
    assert sorted(o.ticket.id for a in ("ana", "bo") for o in d.offers_for(a)) == ["T-0", "T-1", "T-2", "T-3"]
    assert d.assign_all() == []
    d._check()


# Few skills and low levels, so that lanes overlap and the batch often has
# to move a placed ticket to make room (an augmenting path).
SKILL_MAPS = st.dictionaries(st.sampled_from(["billing", "payments"]), st.integers(1, 2), max_size=2)
CAPACITIES = st.one_of(st.integers(0, 2), st.fixed_dictionaries({"chat": st.integers(0, 2)}, optional={"*": st.integers(0, 1)}))


@settings(deadline=None)
@given(
    agents=st.lists(st.tuples(SKILL_MAPS, CAPACITIES), min_size=1, max_size=3),
    backlog=st.lists(
        st.tuples(SKILL_MAPS, st.sampled_from([None, "chat", "email"]), st.sampled_from(["low", "normal", "high", "critical"])),
        max_size=7,
    ),
)
def test_assign_all_matches_a_brute_force_best_assignment(agents: list[Any], backlog: list[Any]) -> None:
    d, clock = make_dispatcher([], offer_timeout=None)
    roster = [Agent(f"ag-{i}", skills=skills, capacity=capacity) for i, (skills, capacity) in enumerate(agents)]
    with d.paused():
        for i, (skills, channel, severity) in enumerate(backlog):
            d.submit(Ticket(f"T-{i}", float(i), skills=skills, channel=channel, severity=severity))
        ordered = list(d.queue)
        for agent in roster:
            d.add_agent(agent)
    offers = [o for a in roster for o in d.offers_for(a.id)]
    count, chosen = brute_force_assignment(ordered, roster, {}, clock())
    assert len(offers) == count
    assert {o.ticket.id for o in offers} == {ordered[i].id for i in chosen}
    for agent in roster:
        load = d.roster.state(agent.id).load
        assert all(load[slot] <= agent.capacity[slot] for slot in agent.capacity)
    for offer in offers:
        assert offer.ticket.requirement(clock()).satisfied_by(d.roster[offer.agent_id].skills)
    d._check()


# == validation ===================================================================


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"queue": "not a queue"}, "queue"),
        ({"clock": lambda: 0.0}, "clock"),
        ({"selection": "longest"}, "selection"),
        ({"offer_timeout": 0}, "offer_timeout"),
        ({"offer_timeout": -5}, "offer_timeout"),
        ({"offer_timeout": math.nan}, "offer_timeout"),
        ({"offer_timeout": math.inf}, "offer_timeout"),
        ({"offer_timeout": "30"}, "offer_timeout"),
        ({"offer_timeout": True}, "offer_timeout"),
        ({"affinity_wait": -1}, "affinity_wait"),
        ({"affinity_wait": None}, "affinity_wait"),
        ({"retry_after": -1}, "retry_after"),
        ({"sla_warning": -0.5}, "sla_warning"),
        ({"classify": "severity"}, "classify"),
        ({"audit": -1}, "audit"),
        ({"audit": True}, "audit"),
        ({"audit": 1.5}, "audit"),
    ],
)
def test_the_dispatcher_constructor_names_the_bad_argument(options: dict[str, Any], field: str) -> None:
    queue = TicketQueue(clock=ManualClock(0.0))
    kwargs = {"queue": queue, **options}
    with pytest.raises(InvalidArgument) as info:
        Dispatcher(**kwargs)
    assert info.value.field == field
    # The queue is still free for a dispatcher.
    Dispatcher(queue, [Agent("ana")])


def test_a_queue_or_roster_serves_one_dispatcher_and_a_roster_starts_idle() -> None:
    clock = ManualClock(0.0)
    queue = TicketQueue(clock=clock)
    roster = Roster([Agent("ana")])
    d = Dispatcher(queue, roster, clock=clock)  # the queue's own clock is fine
    assert d.roster is roster and d.queue is queue
    with pytest.raises(InvalidArgument) as info:
        Dispatcher(queue)
    assert info.value.field == "queue"
    with pytest.raises(InvalidArgument) as info:
        Dispatcher(TicketQueue(clock=clock), roster)
    assert info.value.field == "agents"
    # Changing the roster directly is seen by its dispatcher.
    d.submit(Ticket("T-1", 0.0))
    roster.add(Agent("bo"))
    roster.set_status("ana", "away")
    assert d.status("T-1") == "offered" and d.offers_for("bo")[0].ticket.id == "T-1"
    d._check()


def test_a_failed_constructor_leaves_the_queue_free() -> None:
    queue = TicketQueue(clock=ManualClock(0.0))
    with pytest.raises(DuplicateAgent):
        Dispatcher(queue, [Agent("ana"), Agent("ana")])
    Dispatcher(queue, [Agent("ana")])


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Agent(""), "id"),
        (lambda: Agent("a", capacity=-1), "capacity"),
        (lambda: Agent("a", capacity=1001), "capacity"),
        (lambda: Agent("a", capacity={}), "capacity"),
        (lambda: Agent("a", capacity={"chat": "3"}), "capacity"),
        (lambda: Agent("a", capacity={"": 1}), "capacity"),
        (lambda: Agent("a", capacity=True), "capacity"),
        (lambda: Agent("a", capacity=2.0), "capacity"),
        (lambda: Agent("a", skills={"billing": 6}), "skills"),
        (lambda: Agent("a", skills={"billing": 0}), "skills"),
        (lambda: Agent("a", skills="billing"), "skills"),
        (lambda: Agent("a", status="busy"), "status"),
        (lambda: Agent("a", dedicated_customers="acme"), "dedicated_customers"),
        (lambda: Agent("a", dedicated_customers=[""]), "dedicated_customers"),
        (lambda: Agent("a").evolve(id="b"), "id"),
        (lambda: Agent("a").evolve(colour="red"), "colour"),
    ],
)
def test_agent_validation_names_the_field(make: Callable[[], Agent], field: str) -> None:
    with pytest.raises(InvalidAgent) as info:
        make()
    assert info.value.field == field


def test_roster_validation() -> None:
    roster = Roster([Agent("ana", dedicated_customers={"acme"})])
    with pytest.raises(DuplicateAgent):
        roster.add(Agent("ana"))
    with pytest.raises(InvalidAgent) as info:
        roster.add(Agent("bo", dedicated_customers={"acme", "zeta"}))
    assert info.value.field == "dedicated_customers"
    assert "acme" in str(info.value) and "ana" in str(info.value)
    assert "bo" not in roster and roster.dedicated_agent("zeta") is None
    with pytest.raises(InvalidArgument):
        roster.add("bo")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Roster(history=-1)
    with pytest.raises(UnknownAgent):
        roster.remove("bo")
    roster._check()

    d, _ = make_dispatcher([Agent("ana", dedicated_customers={"acme"}), Agent("bo")], offer_timeout=None)
    with pytest.raises(InvalidAgent) as info:
        d.update_agent("bo", dedicated_customers={"acme"})
    assert info.value.field == "dedicated_customers"
    with pytest.raises(InvalidAgent):
        d.add_agent(Agent("cy", dedicated_customers={"acme"}))
    assert d.roster.dedicated_agent("acme") == "ana"
    d.accept(d.submit(Ticket("T-1", 0.0)))  # ana
    with pytest.raises(AgentBusy) as busy:
        d.remove_agent("ana")
    assert busy.value.agent_id == "ana"
    with pytest.raises(AgentBusy):
        d.roster.remove("ana")
    assert "ana" in d.roster
    # An agent with only a pending offer may go: the offer goes to someone else.
    d.submit(Ticket("T-2", 1.0))  # bo
    assert d.remove_agent("bo").id == "bo"
    assert d.status("T-2") == "waiting"
    d.complete("T-1")
    assert only_offer(d, "ana").ticket.id == "T-2"
    d._check()


# == reported bugs and surprises ===================================================


def test_a_new_pass_is_not_cut_short_by_an_old_one() -> None:
    d, clock = make_dispatcher([Agent("ana"), Agent("bo")], offer_timeout=None, retry_after=100)
    d.decline(d.submit(Ticket("T", 0.0)))  # type: ignore[arg-type]  # ana passes until 100
    d.accept(only_offer(d, "bo"))
    clock.set(50.0)
    d.transfer("T")  # bo passes on it; ana is offered it again
    d.decline(only_offer(d, "ana"))  # ana passes again, until 150
    clock.set(100.0)
    d.tick()
    assert d.status("T") == "waiting"  # actual: offered to ana at 100, 50 s early


def test_a_reopened_ticket_is_not_skipped_by_agents_who_passed_on_the_cancelled_one() -> None:
    d, _ = make_dispatcher([Agent("ana"), Agent("bo")], offer_timeout=None, retry_after=None)
    d.decline(d.submit(Ticket("R", 0.0)))  # type: ignore[arg-type]  # ana passes; bo is offered R
    d.cancel("R")  # the customer withdrew it...
    d.set_status("bo", "away")
    reopened = d.submit(Ticket("R", 1.0))  # ...and reopened it: a new ticket, same id
    assert reopened is not None and reopened.agent_id == "ana"


def test_a_hold_ends_when_its_agent_goes_offline() -> None:
    d, _ = _served_customer()
    d.accept(d.submit(Ticket("keeps-bo-busy", 10.0, customer_id="acme")))
    d.submit(Ticket("again", 11.0, customer_id="acme"))
    assert d.queue.holder("again") == "bo"
    d.set_status("bo", "offline")
    assert d.status("again") == "offered"


def test_status_reflects_an_offer_that_has_expired() -> None:
    d, clock = make_dispatcher([Agent("ana")], offer_timeout=30)
    d.submit(Ticket("T-1", 0.0))
    clock.set(31.0)
    assert d.status("T-1") == "waiting"
