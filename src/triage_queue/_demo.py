"""``python -m triage_queue demo``: a morning at a small helpdesk.

Nine tickets arrive before the shift starts (an outage, a VIP, a complex
integration problem, ordinary questions and two follow-ups).  At 09:10 three
agents with different skills log in and the dispatcher assigns the backlog
at once; from then on every agent who finishes is offered the best ticket it
can handle.  One agent declines an offer, and a returning customer's new
ticket goes back to the agent who served them.  Every decision is printed
with its reason.  The clock is a ManualClock, so the run is the same every
time.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from triage_queue.agents import Agent
from triage_queue.clock import ManualClock
from triage_queue.dispatch import Dispatcher, Offer
from triage_queue.events import Event, EventKind
from triage_queue.policy import Policy
from triage_queue.queue import TicketQueue
from triage_queue.ticket import Impact, IssueKind, Ticket, classify_severity

START = 9 * 3600.0  # 09:00 on the demo's clock
HANDLING = 300.0  # seconds of work per point of complexity


def _hhmm(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _arrivals() -> list[Ticket]:
    t = START
    return [
        Ticket("T-101", t + 0, complexity=1, skills=["general"], customer_id="acme"),
        Ticket("T-102", t + 60, complexity=2, skills={"billing": 2}, customer_id="globex"),
        Ticket(
            "T-103",
            t + 120,
            complexity=4,
            skills={"api": 3},
            customer_tier="gold",
            customer_id="initech",
            sla_due=t + 120 + 3600,
        ),
        Ticket(
            "T-104",
            t + 180,
            severity=classify_severity(Impact.EVERYONE, IssueKind.OUTAGE),
            complexity=3,
            skills={"payments": 3},
            customer_id="umbrella",
            sla_due=t + 180 + 900,
        ),
        Ticket("T-105", t + 240, complexity=1, skills=["general"], customer_id="hooli"),
        Ticket("T-106", t + 300, complexity=5, skills={"api": 4, "payments": 2}, customer_id="stark"),
        Ticket("T-107", t + 360, complexity=1, skills=["general"], customer_tier="silver", customer_id="wayne"),
        Ticket("T-108", t + 420, complexity=2, skills={"billing": 1}, customer_id="wonka"),
        Ticket("T-109", t + 480, complexity=1, skills=["general"], customer_id="tyrell"),
    ]


def _returning() -> Ticket:
    """A new ticket from a customer served earlier in the morning."""
    return Ticket("T-110", START + 1500, complexity=1, skills=["general"], customer_id="acme")


AGENTS: dict[str, dict[str, int]] = {
    "Ana (payments, billing)": {"payments": 4, "billing": 3, "general": 2},
    "Ben (api expert)": {"api": 5, "payments": 2, "general": 1},
    "Cai (first line)": {"general": 3, "billing": 1},
}
DECLINER = "Cai (first line)"  # declines its first offer: finishing a call


def run(out: Callable[[str], object] = print) -> list[tuple[str, str]]:
    """Run the scenario, print it through ``out``, and return the
    ``(ticket id, agent)`` assignments in the order they were accepted."""
    clock = ManualClock(START)
    queue = TicketQueue(Policy.default(), clock=clock)
    desk = Dispatcher(
        queue,
        [Agent(name, skills=skills, status="away") for name, skills in AGENTS.items()],
        offer_timeout=120,
        affinity_wait=600,
    )
    offers: list[Offer] = []

    def heard(event: Event) -> None:
        if event.kind is EventKind.OFFERED:
            offers.extend(o for o in desk.offers_for(event.agent_id or "") if o.id == event.offer_id)

    desk.subscribe(heard)
    out("triage-queue demo: default policy = Emergency > Vip > Complexity (complex first) > FeedbackOrder\n")
    for ticket in _arrivals():
        clock.set(ticket.created_at)
        desk.submit(ticket)
        extra = f", tier {ticket.customer_tier}" if ticket.customer_tier else ""
        out(f"{_hhmm(clock())}  arrives  {ticket.id}  {ticket.severity.name.lower()}{extra}, needs {dict(ticket.skills)}")
    clock.set(START + 600)
    for ticket_id in ("T-101", "T-102"):
        updated = desk.update(ticket_id, contacts=queue[ticket_id].contacts + 1)
        out(f"{_hhmm(clock())}  follow-up on {ticket_id} (contact #{updated.contacts}): it keeps its place")
    out(f"\n{_hhmm(clock())}  the queue, best first: {', '.join(t.id for t in queue)}")
    out(f"{_hhmm(clock())}  the shift starts: three agents log in and the backlog is assigned at once\n")
    with desk.paused():
        for name in AGENTS:
            desk.set_status(name, "available")

    assignments: list[tuple[str, str]] = []
    finishing: list[tuple[float, str, str]] = []  # (when, ticket id, agent)
    declined = False
    returning: Ticket | None = _returning()
    while True:
        # Answer the offers made so far, oldest first.
        while offers:
            offer = offers.pop(0)
            if desk.status(offer.ticket.id) != "offered":
                continue
            if offer.agent_id == DECLINER and not declined:
                declined = True
                out(f"{_hhmm(clock())}  {offer.agent_id} declines {offer.ticket.id}: finishing a call")
                desk.decline(offer, "finishing a call")
                continue
            if offer.ticket.id == "T-110":
                out(f"{_hhmm(clock())}  why {offer.ticket.id} is offered to {offer.agent_id}:")
                for line in str(desk.explain_assignment(offer.ticket.id)).splitlines()[1:]:
                    out(f"       {line}")
            ticket = desk.accept(offer)
            assignments.append((ticket.id, offer.agent_id))
            waited = clock() - ticket.created_at
            out(f"{_hhmm(clock())}  {offer.agent_id} takes {ticket.id} (waited {waited / 60:.0f} min; {offer.how})")
            for line in str(queue.policy.explain(ticket, clock())).splitlines()[2:]:
                out(f"         {line.strip()}")
            heapq.heappush(finishing, (clock() + HANDLING * ticket.complexity, ticket.id, offer.agent_id))
        if returning is not None and (not finishing or finishing[0][0] > returning.created_at):
            clock.set(max(clock(), returning.created_at))
            out(f"{_hhmm(clock())}  arrives  {returning.id}  from a returning customer ({returning.customer_id})")
            offer_now = desk.submit(returning)
            if offer_now is None:
                out(f"         held for {queue.holder(returning.id)}, who served {returning.customer_id} before")
            returning = None
            continue
        if not finishing:
            break
        when, ticket_id, agent = heapq.heappop(finishing)
        clock.set(max(clock(), when))
        desk.complete(ticket_id, agent)
        out(f"{_hhmm(clock())}  {agent} finishes {ticket_id}")

    figures = desk.stats()
    overall = figures.overall
    out(
        f"\n{overall.served} tickets served; wait p50 {(overall.wait_p50 or 0) / 60:.0f} min, "
        f"max {(overall.wait_max or 0) / 60:.0f} min; {overall.declined} offer declined"
    )
    for ticket in queue:
        out(f"left waiting: {ticket.id} (no agent has the skills {dict(ticket.skills)})")
    return assignments
