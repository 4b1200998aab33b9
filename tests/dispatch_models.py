"""Helpers for the dispatcher tests: building a dispatcher on a manual
clock, snapshots for "an error changes nothing", an independent brute-force
batch assignment, and a discrete-event simulation of a helpdesk shift.

Everything here is written from the documented behaviour, not from the
dispatcher's internals, so that the tests compare the code against a second
opinion rather than against itself.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from triage_queue import (
    Agent,
    Dispatcher,
    Event,
    EventKind,
    ManualClock,
    Offer,
    Policy,
    Ticket,
    TicketQueue,
    UnknownTicket,
)

__all__ = [
    "Recorder",
    "SimulationResult",
    "brute_force_assignment",
    "make_dispatcher",
    "qualifies",
    "simulate_shift",
    "snapshot",
]


def make_dispatcher(
    agents: Iterable[Agent] = (),
    *,
    start: float = 0.0,
    policy: Policy | None = None,
    **options: Any,
) -> tuple[Dispatcher, ManualClock]:
    """A dispatcher over a fresh queue on a ManualClock at ``start``."""
    clock = ManualClock(start)
    queue = TicketQueue(policy, clock=clock)
    return Dispatcher(queue, list(agents), **options), clock


class Recorder:
    """A listener that keeps every event it hears."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self, ticket_id: str | None = None) -> list[str]:
        """Event kinds, optionally only those about one ticket."""
        return [e.kind.value for e in self.events if ticket_id is None or e.ticket_id == ticket_id]

    def of(self, kind: EventKind) -> list[Event]:
        return [e for e in self.events if e.kind is kind]


def qualifies(agent: Agent, ticket: Ticket, now: float) -> bool:
    """Whether ``agent`` may take ``ticket`` at ``now`` by skills and channel
    (its status and room aside)."""
    return ticket.requirement(now).satisfied_by(agent.skills) and agent.slot_for(ticket.channel) is not None


def snapshot(d: Dispatcher, ticket_ids: Iterable[str]) -> dict[str, Any]:
    """Everything a failed call must leave as it was: where each ticket is,
    each agent's value and load, the queue order with holders, pending
    offers, the statistics' counters and the number of events."""
    statuses = {}
    for ticket_id in ticket_ids:
        try:
            statuses[ticket_id] = d.status(ticket_id)
        except UnknownTicket:
            statuses[ticket_id] = "gone"
    agents = {}
    offers = {}
    for agent in d.roster:
        state = d.roster.state(agent.id)
        agents[agent.id] = (agent, dict(state.load), state.idle_since, state.offered, state.declined, state.expired)
        offers[agent.id] = [o.id for o in d.offers_for(agent.id)]
    order = [(t.id, d.queue.holder(t.id)) for t in d.queue]
    stats = d.stats().to_dict()
    stats.pop("now")
    return {
        "statuses": statuses,
        "agents": agents,
        "offers": offers,
        "order": order,
        "stats": stats,
        "events": len(d.events),
    }


# -- batch assignment: brute force ------------------------------------------


def brute_force_assignment(
    tickets: Sequence[Ticket], agents: Sequence[Agent], loads: dict[str, dict[str, int]], now: float
) -> tuple[int, tuple[int, ...]]:
    """The best batch assignment by exhaustive search.

    ``tickets`` are in priority order.  Every assignment of tickets to
    agents that respects skills, channels and free room per capacity key is
    tried; the best serves the most tickets and, among those, leaves out no
    ticket for a later one: its sorted list of ticket indexes is
    lexicographically smallest.  Returns (count, indexes).
    """
    room = {a.id: {slot: a.capacity[slot] - loads.get(a.id, {}).get(slot, 0) for slot in a.capacity} for a in agents}
    best: tuple[int, tuple[int, ...]] = (0, ())

    def better(candidate: tuple[int, ...]) -> bool:
        return len(candidate) > best[0] or (len(candidate) == best[0] and candidate < best[1])

    def search(i: int, chosen: list[int]) -> None:
        nonlocal best
        if i == len(tickets):
            if better(tuple(chosen)):
                best = (len(chosen), tuple(chosen))
            return
        ticket = tickets[i]
        for agent in agents:
            slot = agent.slot_for(ticket.channel)
            if slot is None or room[agent.id][slot] <= 0 or not ticket.requirement(now).satisfied_by(agent.skills):
                continue
            room[agent.id][slot] -= 1
            chosen.append(i)
            search(i + 1, chosen)
            chosen.pop()
            room[agent.id][slot] += 1
        search(i + 1, chosen)

    search(0, [])
    return best


# -- a helpdesk shift as a discrete-event simulation --------------------------


@attrs.define
class SimulationResult:
    """Waits of served tickets (created_at to acceptance), waits so far of
    tickets still waiting at the end, and the largest number of tickets any
    agent held at once."""

    served: dict[str, float]
    still_waiting: dict[str, float]
    most_held: int


def simulate_shift(
    d: Dispatcher,
    clock: ManualClock,
    arrivals: Sequence[Ticket],
    *,
    service_time: float,
    until: float,
) -> SimulationResult:
    """Run a shift: tickets arrive at their ``created_at``; every agent
    accepts each offer at once and completes it ``service_time`` later.
    Completions at an instant are applied before arrivals at that instant.
    ``d._check()`` (every invariant, work conservation included) runs after
    every instant.
    """
    served: dict[str, float] = {}
    busy: list[tuple[float, str]] = []  # (completion instant, ticket id)
    pending = sorted(arrivals, key=lambda t: t.created_at)
    next_arrival = 0
    most_held = 0

    def accept_everything(now: float) -> None:
        nonlocal most_held
        for agent in d.roster:
            for offer in d.offers_for(agent.id):
                ticket = d.accept(offer)
                served[ticket.id] = now - ticket.created_at
                heapq.heappush(busy, (now + service_time, ticket.id))
            most_held = max(most_held, len(d.assigned(agent.id)))

    while True:
        instants = []
        if next_arrival < len(pending):
            instants.append(pending[next_arrival].created_at)
        if busy:
            instants.append(busy[0][0])
        if not instants or min(instants) > until:
            break
        now = min(instants)
        clock.set(now)
        while busy and busy[0][0] == now:
            _, ticket_id = heapq.heappop(busy)
            d.complete(ticket_id)
            accept_everything(now)
        while next_arrival < len(pending) and pending[next_arrival].created_at == now:
            offer: Offer | None = d.submit(pending[next_arrival])
            next_arrival += 1
            if offer is not None:
                accept_everything(now)
        d._check()
    clock.set(until)
    d.tick()
    still_waiting = {t.id: until - t.created_at for t in d.queue}
    return SimulationResult(served, still_waiting, most_held)
