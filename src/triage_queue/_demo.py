"""``python -m triage_queue demo``: a morning at a small helpdesk.

Nine tickets arrive over twenty minutes (an outage, a VIP, a complex
integration problem, ordinary questions and two follow-ups); three agents
with different skills take the best ticket each of them can handle whenever
they free up.  Every assignment is printed with the policy's explanation.
The clock is a ManualClock, so the run is the same every time.
"""

from __future__ import annotations

from collections.abc import Callable

from triage_queue.clock import ManualClock
from triage_queue.errors import Empty
from triage_queue.policy import Policy
from triage_queue.queue import TicketQueue
from triage_queue.ticket import Impact, IssueKind, Ticket, classify_severity

START = 9 * 3600.0  # 09:00 on the demo's clock


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


AGENTS: dict[str, dict[str, int]] = {
    "Ana (payments, billing)": {"payments": 4, "billing": 3, "general": 2},
    "Ben (api expert)": {"api": 5, "payments": 2, "general": 1},
    "Cai (first line)": {"general": 3, "billing": 1},
}


def run(out: Callable[[str], object] = print) -> list[tuple[str, str]]:
    """Run the scenario, print it through ``out``, and return the
    ``(ticket id, agent)`` assignments in order."""
    clock = ManualClock(START)
    queue = TicketQueue(Policy.default(), clock=clock)
    out("triage-queue demo: default policy = Emergency > Vip > Complexity (complex first) > FeedbackOrder\n")
    for ticket in _arrivals():
        clock.set(ticket.created_at)
        queue.push(ticket)
        extra = f", tier {ticket.customer_tier}" if ticket.customer_tier else ""
        out(f"{_hhmm(clock())}  arrives  {ticket.id}  {ticket.severity.name.lower()}{extra}, needs {dict(ticket.skills)}")
    clock.set(START + 600)
    for ticket_id in ("T-101", "T-102"):
        updated = queue.update(ticket_id, contacts=queue[ticket_id].contacts + 1)
        out(f"{_hhmm(clock())}  follow-up on {ticket_id} (contact #{updated.contacts}): it keeps its place")
    out(f"\n{_hhmm(clock())}  the queue, best first: {', '.join(t.id for t in queue)}\n")

    # Agents free up in turns; each takes the best ticket its skills allow.
    free_at = {name: START + 600 + 120 * i for i, name in enumerate(AGENTS)}
    handling = 300.0
    assignments: list[tuple[str, str]] = []
    while queue:
        name = min(free_at, key=lambda n: (free_at[n], n))
        clock.set(max(clock(), free_at[name]))
        try:
            ticket = queue.peek(skills=AGENTS[name])
        except Empty:
            # Nothing this agent can take: it waits for the next one to free up.
            later = [t for n, t in free_at.items() if n != name and t > free_at[name]]
            if not later:
                break
            free_at[name] = min(later) + 1
            continue
        explanation = queue.explain(ticket.id)
        queue.pop(skills=AGENTS[name])
        assignments.append((ticket.id, name))
        waited = clock() - ticket.created_at
        ahead = explanation.position
        out(f"{_hhmm(clock())}  {name} takes {ticket.id} (waited {waited / 60:.0f} min, {ahead} ahead of it in the whole queue)")
        for line in str(explanation).splitlines()[1:]:
            out(f"         {line.strip()}")
        free_at[name] = clock() + handling * ticket.complexity
    for ticket in queue:
        out(f"left waiting: {ticket.id} (no agent has the skills {dict(ticket.skills)})")
    return assignments
