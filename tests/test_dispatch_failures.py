"""Regression tests for the dispatcher failures found in review: one user
story each.

* a rule that cannot score a ticket, a selection strategy or ``classify``
  that raises: the call raises, and no ticket is ever lost (it is always
  waiting, offered or assigned until completed or cancelled);
* offers the agent no longer qualifies for are revoked, and loads follow
  the capacity key each ticket counts against;
* a listener's exception does not lose a delivered offer; SLA events are
  not repeated; closed event loops are dropped; ``status()`` delivers the
  events it applies;
* waiters wake for time-driven changes (one *timekeeper* does), and nobody
  else is woken.

Time is a ManualClock except in the wake-up stories, which use the real
clock with short timeouts and assert only generous bounds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from triage_queue import (
    Agent,
    AgentState,
    AsyncDispatcher,
    BaseRule,
    Dispatcher,
    EventKind,
    LongestIdle,
    ManualClock,
    OfferClosed,
    Policy,
    Roster,
    RuleError,
    Ticket,
    TicketQueue,
    UnknownTicket,
    rule,
)

# A hang fails the test after this long instead of blocking the suite.
DEADLINE = 30.0


# == helpers ====================================================================


def places(d: Dispatcher, ticket_id: str) -> list[str]:
    """Everywhere the dispatcher has this ticket, read without applying
    anything due (which may raise while a rule is broken)."""
    with d.lock:
        found = []
        if ticket_id in d.queue:
            found.append("waiting")
        found += [f"offered to {o.agent_id}" for o in d._desk.res.pending.values() if o.ticket.id == ticket_id]
        for agent in d.roster:
            if ticket_id in [t.id for t in d.assigned(agent.id)]:
                found.append(f"assigned to {agent.id}")
        return found


def assert_books_match_the_queue(d: Dispatcher) -> None:
    stats = d.stats()
    waiting = len(d.queue)
    assert stats.overall.waiting == waiting
    assert sum(g.waiting for g in stats.by_class.values()) == waiting
    assert sum(g.waiting for g in stats.by_skills.values()) == waiting


def kinds(events: list[Any]) -> list[str]:
    return [e.kind.value for e in events]


@rule("seats")
def seats(ticket: Ticket) -> float:
    """A rule that cannot score a ticket marked ``boom``."""
    if ticket.attributes.get("boom"):
        raise ValueError("bad seats")
    return 0.0


class BreaksAtTen(BaseRule):
    """A time-stepped rule that fails, from t=10 on, for tickets marked ``bad``."""

    name = "breaks_at_ten"

    def key(self, ticket: Ticket, now: float) -> float:
        if now >= 10 and ticket.attributes.get("bad"):
            raise ValueError("broken at 10")
        return 0.0

    def next_change(self, ticket: Ticket, now: float) -> float | None:
        return 10.0 if now < 10 else None


class TeamSelection(LongestIdle):
    """A strategy whose describe reads an agent attribute that may be missing."""

    name = "team"

    def __init__(self) -> None:
        self.broken = True

    def describe(self, agent: Any, state: Any, ticket: Ticket) -> str:
        if self.broken:
            return f"team {agent.attributes['team']}"  # KeyError: no agent has a team
        return super().describe(agent, state, ticket)


# == a rule that cannot score a ticket (r1, r1b, r2) ============================


def test_updating_an_offered_ticket_to_values_the_policy_cannot_score_is_refused() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(Policy.lexicographic(seats), clock=clock), [Agent("ana"), Agent("bo")])
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.agent_id == "ana"

    with pytest.raises(RuleError) as caught:
        d.update("T-1", attributes={"boom": True})
    assert caught.value.ticket_id == "T-1"

    # Nothing changed: still offered to ana, with its old value.
    assert places(d, "T-1") == ["offered to ana"]
    assert d.offers_for("ana") == [offer]
    assert d.explain_assignment("T-1").agent_id == "ana"
    assert "updated" not in kinds(d.events)
    # So declining it later cannot lose it: it goes to bo.
    d.decline(offer)
    assert places(d, "T-1") == ["offered to bo"]
    d._check()


def test_updating_or_transferring_an_assigned_ticket_to_unscorable_values_is_refused() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(Policy.lexicographic(seats), clock=clock), [Agent("ana"), Agent("bo")])
    d.accept(d.submit(Ticket("T-1", 0.0)))  # type: ignore[arg-type]

    with pytest.raises(RuleError):
        d.update("T-1", attributes={"boom": True})
    with pytest.raises(RuleError):
        d.transfer("T-1", attributes={"boom": True})

    assert places(d, "T-1") == ["assigned to ana"]
    assert d.assigned("ana")[0].attributes == {}
    assert d.roster.state("ana").total_load == 1
    assert not {"updated", "transferred"} & set(kinds(d.events))
    # A valid transfer still works, and bo gets the ticket.
    d.transfer("T-1", attributes={"seats": 2})
    assert places(d, "T-1") == ["offered to bo"]
    d._check()


def test_a_rule_breaking_for_an_offered_ticket_never_loses_it_on_decline() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(Policy.lexicographic(BreaksAtTen()), clock=clock), [Agent("ana"), Agent("bo")])
    offer = d.submit(Ticket("BAD", 0.0, attributes={"bad": True}))
    assert offer is not None and offer.agent_id == "ana"
    clock.set(11.0)

    with pytest.raises(RuleError):
        d.decline(offer)
    assert places(d, "BAD") == ["offered to ana"]
    assert d.offers_for("ana") == [offer]  # still pending: ana may accept it after all

    # Cancelling that very ticket works while its rule is broken.
    assert d.cancel("BAD").id == "BAD"
    assert places(d, "BAD") == []
    with pytest.raises(OfferClosed):
        d.accept(offer)
    assert d.submit(Ticket("T-2", 11.0)) is not None  # the dispatcher works on
    d._check()


def test_a_rule_breaking_for_an_offered_ticket_never_loses_it_on_expiry() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(Policy.lexicographic(BreaksAtTen()), clock=clock), [Agent("ana"), Agent("bo")], offer_timeout=30)
    offer = d.submit(Ticket("BAD", 0.0, attributes={"bad": True}))
    assert offer is not None and offer.agent_id == "ana"
    clock.set(31.0)  # the offer expires at 30, but the ticket cannot be put back

    with pytest.raises(RuleError):
        d.tick()
    assert places(d, "BAD") == ["offered to ana"]
    # An unrelated call raises too, and changes nothing.
    with pytest.raises(RuleError):
        d.submit(Ticket("T-2", 31.0))
    assert places(d, "T-2") == []
    assert places(d, "BAD") == ["offered to ana"]

    # Repairing that very ticket works while its rule is broken; then the
    # expiry goes through and bo gets it.
    d.update("BAD", attributes={})
    d.tick()
    assert places(d, "BAD") == ["offered to bo"]
    assert "expired" in kinds(d.events)
    # ana let BAD expire and is free again: the next ticket goes to her.
    assert d.submit(Ticket("T-2", 31.0)).agent_id == "ana"  # type: ignore[union-attr]
    d._check()


def test_a_rule_breaking_for_an_assigned_ticket_never_loses_it_on_transfer() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(Policy.lexicographic(BreaksAtTen()), clock=clock), [Agent("ana"), Agent("bo")])
    d.accept(d.submit(Ticket("BAD", 0.0, attributes={"bad": True})))  # type: ignore[arg-type]
    clock.set(11.0)

    with pytest.raises(RuleError):
        d.transfer("BAD", skills=["api"])
    assert places(d, "BAD") == ["assigned to ana"]
    assert d.roster.state("ana").total_load == 1
    assert d.complete("BAD", "ana").id == "BAD"
    assert places(d, "BAD") == []
    d._check()


@pytest.mark.parametrize("way_out", ["cancel", "repair"])
def test_a_broken_stepped_rule_on_a_waiting_ticket_can_be_cancelled_or_repaired(way_out: str) -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(Policy.lexicographic(BreaksAtTen()), clock=clock), [Agent("ana", status="away")])
    d.submit(Ticket("BAD", 0.0, attributes={"bad": True}))
    d.submit(Ticket("ok", 0.0))
    clock.set(11.0)  # BAD's key steps at 10, and the rule fails

    # Every other call raises, and changes nothing.
    with pytest.raises(RuleError):
        d.set_status("ana", "available")
    assert d.roster["ana"].status.value == "away"
    with pytest.raises(RuleError):
        d.submit(Ticket("new", 11.0))
    assert places(d, "new") == []
    with pytest.raises(RuleError):
        d.tick()
    assert places(d, "BAD") == ["waiting"] and places(d, "ok") == ["waiting"]

    # The dispatcher's own way out works on that very ticket.
    if way_out == "cancel":
        assert d.cancel("BAD").id == "BAD"
        assert places(d, "BAD") == []
    else:
        assert d.update("BAD", attributes={}).attributes == {}
        assert places(d, "BAD") == ["waiting"]

    # After which the dispatcher works again.
    d.tick()
    d.set_status("ana", "available")
    offers = d.offers_for("ana")
    assert len(offers) == 1
    assert offers[0].ticket.id == ("ok" if way_out == "cancel" else "BAD")
    d._check()


# == a selection strategy or classify that raises (r14, r15) ==================


def test_a_selection_whose_describe_raises_leaves_the_ticket_waiting() -> None:
    clock = ManualClock(0.0)
    selection = TeamSelection()
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana")], selection=selection)

    with pytest.raises(KeyError):
        d.submit(Ticket("T-1", 0.0))
    assert places(d, "T-1") == ["waiting"]
    assert d.status("T-1") == "waiting"
    assert d.offers_for("ana") == []
    assert d.roster.state("ana").total_load == 0
    assert_books_match_the_queue(d)

    # Pulling or batch-assigning fails the same way, and loses nothing.
    with pytest.raises(KeyError):
        d.next_for("ana")
    with pytest.raises(KeyError):
        d.assign_all()
    assert places(d, "T-1") == ["waiting"]
    assert d.roster.state("ana").total_load == 0
    assert_books_match_the_queue(d)

    # Once the strategy works, ana gets the ticket.
    selection.broken = False
    offer = d.next_for("ana")
    assert offer is not None and offer.ticket.id == "T-1"
    assert_books_match_the_queue(d)
    d._check()


def test_a_selection_raising_as_an_agent_frees_up_leaves_the_ticket_waiting() -> None:
    clock = ManualClock(0.0)
    selection = TeamSelection()
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana", status="away")], selection=selection)
    d.submit(Ticket("T-1", 0.0))

    with pytest.raises(KeyError):
        d.set_status("ana", "available")
    assert places(d, "T-1") == ["waiting"]
    assert d.roster.state("ana").total_load == 0
    assert_books_match_the_queue(d)

    selection.broken = False
    assert d.next_for("ana").ticket.id == "T-1"  # type: ignore[union-attr]
    d._check()


@pytest.mark.parametrize("given_back_by", ["decline", "expiry"])
def test_a_selection_raising_when_an_offer_is_given_back_does_not_lose_the_ticket(given_back_by: str) -> None:
    clock = ManualClock(0.0)
    selection = TeamSelection()
    selection.broken = False
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana"), Agent("bo")], selection=selection, offer_timeout=30)
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.agent_id == "ana"
    selection.broken = True

    with pytest.raises(KeyError):  # re-routing T-1 to bo fails
        if given_back_by == "decline":
            d.decline(offer)
        else:
            clock.set(31.0)
            d.tick()
    assert len(places(d, "T-1")) == 1
    assert d.roster.state("bo").total_load == 0
    assert_books_match_the_queue(d)

    selection.broken = False
    got = d.next_for("bo")
    assert got is not None and got.ticket.id == "T-1"
    assert places(d, "T-1") == ["offered to bo"]
    d._check()


def test_a_classify_that_raises_on_submit_never_queues_the_ticket() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana", status="away")], classify=lambda t: t.attributes["product"])

    with pytest.raises(KeyError):
        d.submit(Ticket("T-1", 0.0))
    assert places(d, "T-1") == []
    with pytest.raises(UnknownTicket):
        d.status("T-1")
    assert_books_match_the_queue(d)
    d._check()

    # The dispatcher goes on: other tickets are queued, counted and offered.
    d.submit(Ticket("T-2", 0.0, attributes={"product": "billing"}))
    assert d.stats().by_class["billing"].waiting == 1
    d.set_status("ana", "available")
    assert places(d, "T-2") == ["offered to ana"]
    assert_books_match_the_queue(d)
    d._check()


def test_a_classify_that_raises_on_update_or_transfer_changes_nothing() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(
        TicketQueue(clock=clock),
        [Agent("ana", capacity=2)],
        classify=lambda t: t.attributes["product"],
    )
    waiting = Ticket("W", 0.0, skills=["api"], attributes={"product": "x"})
    d.submit(waiting)
    offer = d.submit(Ticket("O", 0.0, attributes={"product": "x"}))
    d.accept(d.submit(Ticket("A", 0.0, attributes={"product": "x"})))  # type: ignore[arg-type]
    before = {tid: places(d, tid) for tid in ("W", "O", "A")}
    assert before == {"W": ["waiting"], "O": ["offered to ana"], "A": ["assigned to ana"]}

    for tid in ("W", "O", "A"):
        with pytest.raises(KeyError):
            d.update(tid, attributes={})
    with pytest.raises(KeyError):
        d.transfer("A", attributes={})

    assert {tid: places(d, tid) for tid in ("W", "O", "A")} == before
    assert d.queue["W"] == waiting
    assert d.offers_for("ana") == [offer]
    assert d.assigned("ana")[0].attributes == {"product": "x"}
    assert not {"updated", "transferred"} & set(kinds(d.events))
    assert_books_match_the_queue(d)
    d._check()


def test_a_classify_failing_as_an_agent_frees_up_leaves_the_ticket_waiting() -> None:
    down = [False]

    def classify(ticket: Ticket) -> str:
        if down[0]:
            raise LookupError("product database down")
        return "billing"

    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana", status="away")], classify=classify)
    d.submit(Ticket("T-1", 0.0))
    down[0] = True

    with pytest.raises(LookupError):
        d.set_status("ana", "available")
    with pytest.raises(LookupError):
        d.next_for("ana")
    assert places(d, "T-1") == ["waiting"]
    assert d.roster.state("ana").total_load == 0

    down[0] = False
    assert_books_match_the_queue(d)
    assert d.next_for("ana").ticket.id == "T-1"  # type: ignore[union-attr]
    assert_books_match_the_queue(d)
    d._check()


# == offers and loads follow changes of tickets and agents (r3, r13, r4) =========


def test_updating_an_offered_tickets_channel_revokes_the_offer_and_reroutes_it() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(
        TicketQueue(clock=clock),
        [Agent("ana", capacity={"chat": 1}), Agent("bo", capacity={"chat": 1, "email": 1})],
    )
    offer = d.submit(Ticket("Y", 0.0, channel="chat"))
    assert offer is not None and offer.agent_id == "ana"

    d.update("Y", channel="email")  # ana takes no email tickets

    assert places(d, "Y") == ["offered to bo"]
    assert d.offers_for("bo")[0].ticket.channel == "email"
    with pytest.raises(OfferClosed, match="revoked"):
        d.accept(offer)
    assert d.roster.state("ana").total_load == 0
    assert d.roster.state("bo").load == {"chat": 0, "email": 1}
    d._check()


def test_updating_an_offered_tickets_skills_revokes_the_offer_and_reroutes_it() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana"), Agent("bo", skills=["api"])])
    offer = d.submit(Ticket("X", 0.0))
    assert offer is not None and offer.agent_id == "ana"

    d.update("X", skills=["api"])

    assert places(d, "X") == ["offered to bo"]
    with pytest.raises(OfferClosed, match="revoked"):
        d.accept(offer)
    assert d.accept(d.offers_for("bo")[0]).skills["api"] == 1
    assert d.roster.state("ana").total_load == 0
    d._check()


def test_updating_an_offered_ticket_to_a_channel_no_one_takes_puts_it_back_waiting() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana", capacity={"chat": 1})])
    offer = d.submit(Ticket("Y", 0.0, channel="chat"))
    assert offer is not None

    d.update("Y", channel="email")

    assert places(d, "Y") == ["waiting"]
    assert d.queue["Y"].channel == "email"
    with pytest.raises(OfferClosed, match="revoked"):
        d.accept(offer)
    assert d.roster.state("ana").total_load == 0
    d._check()


def test_updating_an_assigned_tickets_channel_moves_its_load_to_the_new_key() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana", capacity={"chat": 1, "phone": 1})])
    d.accept(d.submit(Ticket("T-1", 0.0, channel="chat")))  # type: ignore[arg-type]

    d.update("T-1", channel="phone")  # the chat turned into a call

    assert places(d, "T-1") == ["assigned to ana"]  # an accepted ticket stays with its agent
    assert d.roster.state("ana").load == {"chat": 0, "phone": 1}
    # ana is on the phone: a second call is not offered to her...
    assert d.submit(Ticket("T-2", 0.0, channel="phone")) is None
    # ...until the first one ends.
    d.complete("T-1")
    assert places(d, "T-2") == ["offered to ana"]
    assert d.roster.state("ana").load == {"chat": 0, "phone": 1}
    d._check()


def _assigned_ticket_moves_channel() -> tuple[Dispatcher, str]:
    d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana", capacity={"chat": 1, "phone": 1})])
    d.accept(d.submit(Ticket("T-1", 0.0, channel="chat")))  # type: ignore[arg-type]
    d.submit(Ticket("C", 0.0, channel="chat"))  # waits: ana's chat slot is taken
    d.update("T-1", channel="phone")  # frees ana's chat slot
    return d, "C"


def _offered_ticket_moves_to_a_channel_the_agent_lacks() -> tuple[Dispatcher, str]:
    d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana", capacity={"chat": 1}), Agent("bo", capacity={"email": 1})])
    d.submit(Ticket("Y", 0.0, channel="chat"))  # offered to ana
    d.submit(Ticket("C", 0.0, channel="chat"))  # waits: ana's chat slot is taken
    d.update("Y", channel="email")  # revoked from ana, offered to bo
    return d, "C"


def _offered_ticket_needs_a_skill_the_agent_lacks() -> tuple[Dispatcher, str]:
    d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana"), Agent("bo", skills=["api"])])
    d.submit(Ticket("X", 0.0))  # ana
    d.submit(Ticket("X2", 1.0))  # bo
    d.submit(Ticket("Z", 2.0))  # waits: both busy
    d.update("X", skills=["api"])  # revoked from ana; waits for bo
    return d, "Z"


@pytest.mark.parametrize(
    "scenario",
    [
        _assigned_ticket_moves_channel,
        _offered_ticket_moves_to_a_channel_the_agent_lacks,
        _offered_ticket_needs_a_skill_the_agent_lacks,
    ],
    ids=["assigned-ticket-changes-channel", "offered-ticket-changes-channel", "offered-ticket-needs-new-skill"],
)
def test_an_agent_freed_by_a_ticket_update_is_offered_the_next_waiting_ticket(
    scenario: Callable[[], tuple[Dispatcher, str]],
) -> None:
    d, waiting = scenario()
    assert places(d, waiting) == ["offered to ana"]
    d._check()


def test_an_agent_losing_a_skill_has_the_offers_needing_it_revoked() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(
        TicketQueue(clock=clock),
        [Agent("ana", skills=["api"], capacity=2), Agent("bo", skills=["api"], status="away")],
    )
    d.accept(d.submit(Ticket("A", 0.0, skills=["api"])))  # type: ignore[arg-type]
    offer = d.submit(Ticket("T-1", 0.0, skills=["api"]))
    assert offer is not None and offer.agent_id == "ana"

    d.update_agent("ana", skills=[])  # ana moved to another team

    assert places(d, "T-1") == ["waiting"]
    assert places(d, "A") == ["assigned to ana"]  # accepted work stays with her
    with pytest.raises(OfferClosed, match="revoked"):
        d.accept(offer)
    d.set_status("bo", "available")
    assert places(d, "T-1") == ["offered to bo"]
    d._check()


def test_an_agent_losing_a_channel_has_the_offers_on_it_revoked() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(
        TicketQueue(clock=clock),
        [Agent("ana", capacity={"chat": 1, "phone": 1}), Agent("bo", capacity={"chat": 1}, status="away")],
    )
    offer = d.submit(Ticket("C", 0.0, channel="chat"))
    assert offer is not None and offer.agent_id == "ana"
    d.submit(Ticket("P", 0.0, channel="phone"))
    assert places(d, "P") == ["offered to ana"]

    d.update_agent("ana", capacity={"phone": 1})  # ana no longer takes chats

    assert places(d, "C") == ["waiting"]
    assert places(d, "P") == ["offered to ana"]  # she still qualifies for this one
    with pytest.raises(OfferClosed, match="revoked"):
        d.accept(offer)
    d.set_status("bo", "available")
    assert places(d, "C") == ["offered to bo"]
    d._check()


@pytest.mark.parametrize("accepted", [True, False], ids=["assigned", "offered"])
def test_rekeying_an_agents_capacity_moves_its_load_so_capacity_is_never_exceeded(accepted: bool) -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana", capacity=1)], offer_timeout=None)  # {"*": 1}
    offer = d.submit(Ticket("T-1", 0.0, channel="chat"))
    assert offer is not None
    if accepted:
        d.accept(offer)

    d.update_agent("ana", capacity={"chat": 1})  # still one chat at a time

    assert places(d, "T-1") == [("assigned to ana" if accepted else "offered to ana")]
    assert d.roster.state("ana").load.get("chat") == 1
    assert d.submit(Ticket("T-2", 0.0, channel="chat")) is None  # she has no room for a second chat
    holding = len(d.assigned("ana")) + len(d.offers_for("ana"))
    assert holding == 1 == d.roster["ana"].capacity["chat"]
    d._check()

    # Her room comes back from the key the ticket counts against.
    if accepted:
        d.complete("T-1")
    else:
        d.decline(offer)
    assert places(d, "T-2") == ["offered to ana"]
    assert d.roster.state("ana").load.get("chat") == 1
    d._check()


# == a listener raising does not lose a delivered offer (r5) =====================


def _listener_failing_on_breaches() -> tuple[Dispatcher, ManualClock, Any]:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana")], offer_timeout=None, on_listener_error=lambda e, exc: None)

    def pager(event: Any) -> None:
        if event.kind is EventKind.SLA_BREACHED:
            raise RuntimeError("pager down")

    d.subscribe(pager)
    d.submit(Ticket("OTHER", 0.0, skills=["api"], sla_due=5.0))  # nobody can take it; breaches at 5
    offer = d.submit(Ticket("T-1", 0.0))  # in ana's inbox
    assert offer is not None and offer.agent_id == "ana"
    clock.set(6.0)
    return d, clock, offer


def test_a_listener_raising_during_next_for_does_not_lose_the_offer() -> None:
    d, _, offer = _listener_failing_on_breaches()
    assert d.next_for("ana") == offer  # the pager's error went to the hook
    assert d.next_for("ana") is None  # once
    assert d.accept(offer).id == "T-1"
    d._check()


def test_a_listener_raising_during_wait_for_ticket_does_not_lose_the_offer() -> None:
    d, _, offer = _listener_failing_on_breaches()
    assert d.wait_for_ticket("ana", timeout=0) == offer
    assert d.accept(offer).id == "T-1"
    d._check()


# == SLA events once per deadline (r6) ============================================


def _sla_events(d: Dispatcher) -> list[tuple[str, str | None]]:
    seen: list[tuple[str, str | None]] = []

    def listener(event: Any) -> None:
        if event.kind in {EventKind.SLA_WARNING, EventKind.SLA_BREACHED}:
            seen.append((event.kind.value, event.ticket_id))

    d.subscribe(listener)
    return seen


def test_sla_events_fire_once_when_a_deadline_is_changed_and_changed_back() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana", status="away")], sla_warning=10)
    seen = _sla_events(d)
    d.submit(Ticket("T-2", 0.0, sla_due=100.0))
    d.update("T-2", sla_due=200.0)
    d.update("T-2", sla_due=100.0)
    for t in (50.0, 91.0, 101.0, 150.0, 250.0):
        clock.set(t)
        d.tick()
    assert Counter(seen) == {("sla_warning", "T-2"): 1, ("sla_breached", "T-2"): 1}


def test_sla_events_fire_once_for_each_ticket_reusing_an_id() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana")], sla_warning=10)
    seen = _sla_events(d)
    # T-1 is answered in time and completed: no SLA event for it.
    d.accept(d.submit(Ticket("T-1", 0.0, sla_due=100.0)))  # type: ignore[arg-type]
    clock.set(5.0)
    d.complete("T-1")
    d.set_status("ana", "away")
    # The customer reopens it, with the same deadline: it now waits past it.
    d.submit(Ticket("T-1", 0.0, sla_due=100.0))
    for t in (91.0, 101.0, 150.0):
        clock.set(t)
        d.tick()
    assert seen == [("sla_warning", "T-1"), ("sla_breached", "T-1")]

    # Cancelled after its breach and reopened again with a new deadline:
    # this one gets its own events, once.
    seen.clear()
    d.cancel("T-1")
    d.submit(Ticket("T-1", 150.0, sla_due=200.0))
    for t in (191.0, 201.0, 300.0):
        clock.set(t)
        d.tick()
    assert seen == [("sla_warning", "T-1"), ("sla_breached", "T-1")]


def test_an_sla_warning_already_sent_is_not_repeated_when_the_deadline_comes_back() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana", status="away")], sla_warning=10)
    seen = _sla_events(d)
    d.submit(Ticket("T-2", 0.0, sla_due=100.0))
    clock.set(95.0)
    d.tick()  # warned: the SLA runs out at 100
    d.update("T-2", sla_due=200.0)
    clock.set(96.0)
    d.update("T-2", sla_due=100.0)  # the edit is undone
    clock.set(101.0)
    d.tick()
    assert Counter(seen) == {("sla_warning", "T-2"): 1, ("sla_breached", "T-2"): 1}


# == a waiter whose event loop was closed (r8) =====================================


def _abandon_waiter(d: Dispatcher, agent_id: str) -> None:
    """A coroutine waits for the agent, then its event loop is closed
    (a worker shut down) without the coroutine finishing."""
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(AsyncDispatcher(d).next_ticket(agent_id))
        loop.run_until_complete(asyncio.sleep(0.01))
    finally:
        loop.close()
    # Abandoned on purpose: no "Task was destroyed but it is pending!" report.
    task._log_destroy_pending = False  # type: ignore[attr-defined]
    with d.lock:
        assert agent_id in d._waiters.async_waiters


def test_a_waiter_whose_loop_closed_does_not_break_a_later_offer() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana"), Agent("bo", status="away")])
    _abandon_waiter(d, "ana")

    offer = d.submit(Ticket("T-1", 0.0))

    assert offer is not None and offer.agent_id == "ana"
    assert places(d, "T-1") == ["offered to ana"]
    assert d.next_for("ana") == offer  # a live caller picks it up
    d._check()


def test_a_waiter_whose_loop_closed_does_not_break_filling_an_agent() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana", capacity=2, status="away")])
    d.submit(Ticket("T-1", 0.0))
    d.submit(Ticket("T-2", 0.0))
    _abandon_waiter(d, "ana")

    d.set_status("ana", "available")

    assert places(d, "T-1") == ["offered to ana"] and places(d, "T-2") == ["offered to ana"]
    d._check()


# == status() delivers what it applies (r11) =======================================


def test_status_delivers_the_events_it_applies_to_listeners() -> None:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana")], offer_timeout=30)
    heard: list[str] = []
    d.subscribe(lambda e: heard.append(e.kind.value))
    d.submit(Ticket("T-1", 0.0, sla_due=20.0))
    heard.clear()
    clock.set(31.0)

    assert d.status("T-1") == "waiting"  # the offer expired; ana passed on it

    assert sorted(heard) == ["expired", "sla_breached"]  # heard now, not with some later call
    assert kinds(d.events)[-2:] == heard


# == waking for time-driven changes, and only then (r12, r12b) =====================


def _until(predicate: Callable[[], bool]) -> None:
    end = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < end, "condition never met"
        time.sleep(0.001)


def _sleeping(d: Dispatcher, agent_id: str) -> bool:
    # One thread blocked on the agent's condition (as in test_concurrency).
    with d.lock:
        condition = d._waiters.conditions.get(agent_id)
        return condition is not None and len(condition._waiters) == 1  # type: ignore[attr-defined]


def _bo_free_ana_busy_and_acme_hers(*agents: Agent) -> Dispatcher:
    """ana served customer acme and is busy; bo is free.  A new acme ticket
    is held for ana for 0.3 s, then anyone (bo) may take it."""
    d = Dispatcher(
        TicketQueue(clock=time.time),
        [Agent("ana"), Agent("bo", status="away"), *agents],
        affinity_wait=0.3,
        offer_timeout=None,
    )
    d.accept(d.submit(Ticket("old", time.time(), customer_id="acme")))  # type: ignore[arg-type]
    d.complete("old", "ana")
    d.accept(d.submit(Ticket("busy", time.time())))  # type: ignore[arg-type]
    assert d.assigned("ana")[0].id == "busy"
    d.set_status("bo", "available")
    return d


class _Waiter:
    """A thread blocked in wait_for_ticket, timing its wait."""

    def __init__(self, d: Dispatcher, agent_id: str, timeout: float | None) -> None:
        self.result: Any = "not returned"
        self.error: BaseException | None = None
        self.returned_at = 0.0
        self.thread = threading.Thread(target=self.run, args=(d, agent_id, timeout), daemon=True)
        self.thread.start()

    def run(self, d: Dispatcher, agent_id: str, timeout: float | None) -> None:
        try:
            self.result = d.wait_for_ticket(agent_id, timeout=timeout)
        except BaseException as exc:
            self.error = exc
        self.returned_at = time.monotonic()


def test_a_waiting_thread_gets_a_ticket_when_a_hold_for_another_agent_ends() -> None:
    d = _bo_free_ana_busy_and_acme_hers()
    bo = _Waiter(d, "bo", timeout=3.0)
    _until(lambda: _sleeping(d, "bo"))  # asleep with nothing due

    submitted = time.monotonic()
    assert d.submit(Ticket("T-acme", time.time(), customer_id="acme")) is None
    assert d.queue.holder("T-acme") == "ana"

    bo.thread.join(DEADLINE)
    assert not bo.thread.is_alive() and bo.error is None
    assert bo.result is not None and bo.result.ticket.id == "T-acme" and bo.result.agent_id == "bo"
    assert bo.returned_at - submitted < 2.0, "bo slept through the end of the hold"
    d._check()


def test_a_waiting_coroutine_gets_a_ticket_when_a_hold_for_another_agent_ends() -> None:
    d = _bo_free_ana_busy_and_acme_hers()
    ad = AsyncDispatcher(d)

    async def main() -> tuple[Any, float]:
        task = asyncio.ensure_future(ad.next_ticket("bo", timeout=3.0))
        end = time.monotonic() + DEADLINE
        while "bo" not in d._waiters.async_waiters:  # asleep with nothing due
            assert time.monotonic() < end
            await asyncio.sleep(0.001)
        submitted = time.monotonic()
        assert ad.submit(Ticket("T-acme", time.time(), customer_id="acme")) is None
        assert d.queue.holder("T-acme") == "ana"
        offer = await asyncio.wait_for(task, DEADLINE)
        return offer, time.monotonic() - submitted

    offer, after = asyncio.run(main())
    assert offer is not None and offer.ticket.id == "T-acme" and offer.agent_id == "bo"
    assert after < 2.0, "bo slept through the end of the hold"
    d._check()


def test_a_waiter_whose_loop_closed_does_not_stop_others_waking_on_time() -> None:
    d = _bo_free_ana_busy_and_acme_hers(Agent("cy", status="away"))
    _abandon_waiter(d, "cy")  # it was waiting first
    bo = _Waiter(d, "bo", timeout=2.0)
    _until(lambda: _sleeping(d, "bo"))

    submitted = time.monotonic()
    assert d.submit(Ticket("T-acme", time.time(), customer_id="acme")) is None

    bo.thread.join(DEADLINE)
    assert bo.error is None
    assert bo.result is not None and bo.result.ticket.id == "T-acme"
    assert bo.returned_at - submitted < 1.5, "bo slept through the end of the hold"


def test_a_single_waiting_thread_is_not_woken_by_an_unrelated_offer_with_an_expiry() -> None:
    d = Dispatcher(
        TicketQueue(clock=time.time),
        [Agent("bil", skills={"billing": 2}), Agent("api", skills={"api": 2})],
        offer_timeout=30,
    )
    looks: Counter[str] = Counter()
    deliver = d._desk.deliver

    def counted(agent_id: str) -> Any:
        looks[agent_id] += 1
        return deliver(agent_id)

    d._desk.deliver = counted  # type: ignore[method-assign]
    api = _Waiter(d, "api", timeout=0.3)
    _until(lambda: _sleeping(d, "api"))  # the only waiter: it keeps time

    offer = d.submit(Ticket("B-0", time.time(), skills={"billing": 1}))
    assert offer is not None and offer.agent_id == "bil" and offer.expires_at < float("inf")  # an expiry is scheduled
    for i in range(1, 4):
        d.submit(Ticket(f"B-{i}", time.time(), skills={"billing": 1}))

    api.thread.join(DEADLINE)
    assert api.error is None and api.result is None
    assert looks["api"] == 2  # the first look, and the one after its timeout: never woken in between
    assert places(d, "B-0") == ["offered to bil"]


def _affinity_after_an_expiry(tick_at: list[float]) -> str | None:
    """ana served acme; ana's offer of T-1 expires at 30 while acme's new T-2
    is held for her until 60; bo is free.  Returns who has T-2 after the ticks."""
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana"), Agent("bo", status="away")], offer_timeout=30, affinity_wait=60)
    offer = d.submit(Ticket("old", 0.0, customer_id="acme"))
    assert offer is not None
    d.accept(offer)
    d.complete("old")
    d.submit(Ticket("T-1", 0.0))
    d.submit(Ticket("T-2", 0.0, customer_id="acme"))
    d.set_status("bo", "available")
    assert d.queue.holder("T-2") == "ana"
    for instant in tick_at:
        clock.set(instant)
        d.tick()
    d._check()
    return next((o.agent_id for a in ("ana", "bo") for o in d.offers_for(a) if o.ticket.id == "T-2"), None)


def test_changes_that_fell_due_since_the_last_call_are_applied_in_time_order() -> None:
    """A long gap between calls gives the same result as a timer ticking every second: ana, free again
    at 30 when her offer expired, gets her returning customer's ticket before its hold ends at 60."""
    assert _affinity_after_an_expiry([31.0]) == "ana"
    assert _affinity_after_an_expiry([59.0]) == "ana"
    assert _affinity_after_an_expiry([61.0]) == "ana"  # the hold had ended by 61, but ana was free at 30
    assert _affinity_after_an_expiry([float(t) for t in range(1, 60)]) == "ana"


def test_a_returning_customer_is_not_held_for_an_agent_with_no_room_on_its_channel() -> None:
    """ana served acme, but takes no phone calls now: acme's phone ticket goes straight to bo, not held for ana."""
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana", capacity={"phone": 1, "chat": 1}), Agent("bo", capacity={"phone": 1})])
    offer = d.submit(Ticket("old", 0.0, customer_id="acme", channel="chat"))
    assert offer is not None and offer.agent_id == "ana"
    d.accept(offer)
    d.complete("old")
    d.update_agent("ana", capacity={"phone": 0, "chat": 1})
    offer = d.submit(Ticket("call", 1.0, customer_id="acme", channel="phone"))
    assert offer is not None and offer.agent_id == "bo"
    assert not [e for e in d.events if e.kind is EventKind.HELD]
    d._check()


# == a selection strategy whose order raises while the roster changes ==============


class BoomOrder(LongestIdle):
    """A custom strategy that cannot order an agent with the skill "boom"."""

    name = "boom"

    def __init__(self) -> None:
        self.armed = True

    def order(self, state: AgentState) -> tuple[Any, ...]:
        if self.armed and "boom" in state.agent.skills:
            raise RuntimeError("cannot order a boom agent")
        return super().order(state)


def test_a_strategy_raising_on_an_agent_change_leaves_roster_and_desk_as_they_were() -> None:
    clock = ManualClock(0.0)
    selection = BoomOrder()
    agents = [Agent("ana", status="away"), Agent("cy", status="away", capacity={"chat": 1, "*": 1})]
    d = Dispatcher(TicketQueue(clock=clock), agents, selection=selection, offer_timeout=None)
    d.submit(Ticket("T-1", 0.0))
    clock.advance(5.0)
    attempts: list[Callable[[], object]] = [
        lambda: d.add_agent(Agent("bo", skills=["boom"], dedicated_customers=["acme"])),
        lambda: d.update_agent("ana", skills=["boom"], status="available"),  # a move to another profile
        lambda: d.update_agent("cy", skills=["boom"], capacity={"chat": 2, "phone": 1}, status="available"),
    ]
    for attempt in attempts:
        before = d.snapshot()
        with pytest.raises(RuntimeError, match="cannot order a boom agent"):
            attempt()
        d._check()
        assert d.snapshot() == before
    d.update_agent("ana", skills=["boom"])  # away: nobody to order
    before = d.snapshot()
    with pytest.raises(RuntimeError, match="cannot order a boom agent"):
        d.set_status("ana", "available")
    d._check()
    assert d.snapshot() == before
    assert d.roster["ana"].status.value == "away" and d.status("T-1") == "waiting"
    assert "bo" not in d.roster and d.roster.dedicated_agent("acme") is None

    selection.armed = False  # the strategy's trouble is over
    d.add_agent(Agent("bo", skills=["boom"], dedicated_customers=["acme"]))
    d._check()
    assert d.status("T-1") == "offered" and [o.ticket.id for o in d.offers_for("bo")] == ["T-1"]
    assert [e.agent_id for e in d.events if e.kind is EventKind.AGENT_CHANGED][-1] == "bo"


def test_a_roster_change_its_observer_refuses_is_undone_and_one_it_took_stays() -> None:
    roster = Roster([Agent("ana", dedicated_customers=["acme"]), Agent("bo"), Agent("cy", capacity={"chat": 1})])
    before = roster.to_dict()
    refuse = True

    def observer(agent_id: str, old: Agent | None, new: Agent | None) -> None:
        if not refuse:
            seam.take()
        raise RuntimeError("refused")

    seam = roster.attach(observer)
    for change in (
        lambda: roster.remove("ana"),
        lambda: roster.add(Agent("dd", dedicated_customers=["zeta"])),
        lambda: roster.update("cy", capacity={"chat": 2, "phone": 1}, dedicated_customers=["acme2"], status="away"),
    ):
        with pytest.raises(RuntimeError, match="refused"):
            change()
        roster._check()
        assert roster.to_dict() == before  # the same agents, in the order they joined, with the same customers
    refuse = False
    with pytest.raises(RuntimeError, match="refused"):
        roster.remove("ana")
    assert "ana" not in roster and roster.dedicated_agent("acme") is None
