"""Helpers for the TicketQueue tests: a plain reference model of the queue,
custom time-stepped rules, the policies the queue is checked under, and
ticket strategies.

The model deliberately caches nothing: every question is answered by sorting
all tickets by ``policy.sort_key(ticket, now) + (arrival_seq,)`` at the
current clock reading, so a queue whose stored keys went stale disagrees
with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from hypothesis import strategies as st

from triage_queue import (
    Aging,
    BaseRule,
    Complexity,
    Emergency,
    FeedbackOrder,
    Policy,
    Severity,
    SkillSet,
    SlaDeadline,
    Ticket,
    TicketQueue,
    Vip,
)

# -- custom stepped rules ----------------------------------------------------


@attrs.frozen(slots=True)
class Escalate(BaseRule):
    """Key 1 once ``after`` seconds have passed since first contact, else 0."""

    after: float = 60.0
    name: str = "escalate"

    def _step(self, ticket: Ticket) -> float:
        return ticket.created_at + self.after

    def key(self, ticket: Ticket, now: float) -> float:
        return 1 if now >= self._step(ticket) else 0

    def next_change(self, ticket: Ticket, now: float) -> float | None:
        step = self._step(ticket)
        return step if now < step else None


@attrs.frozen(slots=True)
class SlaWarning(BaseRule):
    """Key 1 once a ticket is within ``lead`` seconds of its SLA deadline
    (or past it), else 0; tickets without a deadline never step."""

    lead: float = 120.0
    name: str = "sla_warning"

    def key(self, ticket: Ticket, now: float) -> float:
        if ticket.sla_due is None:
            return 0
        return 1 if now >= ticket.sla_due - self.lead else 0

    def next_change(self, ticket: Ticket, now: float) -> float | None:
        if ticket.sla_due is None:
            return None
        step = ticket.sla_due - self.lead
        return step if now < step else None


@attrs.frozen(slots=True)
class Ladder(BaseRule):
    """Key k after k whole periods of ``every`` seconds since first contact,
    up to ``levels``: a rule that steps several times per ticket."""

    every: float = 90.0
    levels: int = 4
    name: str = "ladder"

    def _steps(self, ticket: Ticket) -> list[float]:
        return [ticket.created_at + k * self.every for k in range(1, self.levels + 1)]

    def key(self, ticket: Ticket, now: float) -> float:
        return sum(1 for step in self._steps(ticket) if now >= step)

    def next_change(self, ticket: Ticket, now: float) -> float | None:
        for step in self._steps(ticket):
            if now < step:
                return step
        return None


# -- policies ----------------------------------------------------------------


def weighted_policy() -> Policy:
    """Weighted: emergencies dominate, then tier, then waiting and deadline."""
    return Policy.weighted(
        [
            (Vip(), 600.0),
            (Aging(), 1.0),
            (Emergency(), 10_000.0),
            (SlaDeadline(default_target=900.0), 1.0),
        ]
    )


def sla_first_policy() -> Policy:
    """Lexicographic with the SLA deadline deciding first."""
    return Policy.lexicographic(
        SlaDeadline(),
        Emergency(),
        Vip(),
        Complexity(prefer="simple"),
        FeedbackOrder(follow_up_bonus=30.0),
    )


def stepped_policy() -> Policy:
    """Lexicographic with two rules whose keys step in time, below Emergency."""
    return Policy.lexicographic(
        Emergency(),
        SlaWarning(lead=120.0),
        Escalate(after=300.0),
        Vip(),
        FeedbackOrder(),
    )


def ladder_policy() -> Policy:
    """Weighted, with a rule that steps several times per ticket and a
    one-step escalation: the order keeps changing as time passes."""
    return Policy.weighted(
        [
            (Ladder(every=90.0, levels=4), 500.0),
            (Vip(), 600.0),
            (Escalate(after=300.0), 250.0),
            (Aging(), 1.0),
        ]
    )


# -- the reference model -----------------------------------------------------


class QueueModel:
    """What a TicketQueue should answer, computed from scratch every time."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.entries: list[tuple[Ticket, int]] = []
        self.next_seq = 0

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, ticket_id: str) -> bool:
        return self.get(ticket_id) is not None

    def get(self, ticket_id: str) -> Ticket | None:
        for ticket, _ in self.entries:
            if ticket.id == ticket_id:
                return ticket
        return None

    def order(self, now: float) -> list[Ticket]:
        """Every ticket in service order at ``now``."""
        key = self.policy.sort_key
        ranked = sorted(self.entries, key=lambda e: key(e[0], now) + (e[1],))
        return [ticket for ticket, _ in ranked]

    def ids(self, now: float) -> list[str]:
        return [t.id for t in self.order(now)]

    def best(self, now: float, skills: Mapping[str, int] | None = None) -> Ticket | None:
        for ticket in self.order(now):
            if skills is None or ticket.skills.satisfied_by(skills):
                return ticket
        return None

    def push(self, ticket: Ticket) -> None:
        assert ticket.id not in self
        self.entries.append((ticket, self.next_seq))
        self.next_seq += 1

    def remove(self, ticket_id: str) -> Ticket:
        for i, (ticket, _) in enumerate(self.entries):
            if ticket.id == ticket_id:
                del self.entries[i]
                return ticket
        raise AssertionError(f"{ticket_id} not in model")

    def update(self, ticket_id: str, **changes: Any) -> Ticket:
        for i, (ticket, seq) in enumerate(self.entries):
            if ticket.id == ticket_id:
                new = ticket.evolve(**changes)
                self.entries[i] = (new, seq)
                return new
        raise AssertionError(f"{ticket_id} not in model")

    def position(self, ticket_id: str, now: float) -> int:
        return self.ids(now).index(ticket_id)

    def _by_due(self, now: float, keep: Any) -> list[Ticket]:
        order = self.order(now)
        picked = [(t.sla_due, i, t) for i, t in enumerate(order) if t.sla_due is not None and keep(t.sla_due)]
        picked.sort(key=lambda x: (x[0], x[1]))
        return [t for _, _, t in picked]

    def due_within(self, now: float, seconds: float) -> list[Ticket]:
        return self._by_due(now, lambda due: now < due <= now + seconds)

    def breached(self, now: float) -> list[Ticket]:
        return self._by_due(now, lambda due: due <= now)

    def schedule(self, now: float) -> dict[str, float]:
        """When each ticket's key next steps, for tickets that have a step ahead."""
        out = {}
        for ticket, _ in self.entries:
            when = self.policy.next_change(ticket, now)
            if when is not None:
                out[ticket.id] = when
        return out


def snapshot(queue: TicketQueue) -> tuple[list[tuple[str, Ticket]], int]:
    """Everything a user can see of a queue's contents: (id, ticket) in
    service order, and its length.  Checks the invariants on the way."""
    queue._check()
    return [(t.id, t) for t in queue], len(queue)


# -- strategies --------------------------------------------------------------

IDS = [f"T-{i}" for i in range(12)]
TIERS = [None, "standard", "silver", "gold", "platinum"]
REQUIREMENTS: list[dict[str, int]] = [
    {},
    {},
    {"billing": 1},
    {"billing": 3},
    {"payments": 2},
    {"payments": 2, "german": 1},
    {"german": 1},
]
SKILL_NAMES = ["billing", "payments", "german"]

agent_skills = st.one_of(
    st.dictionaries(st.sampled_from(SKILL_NAMES), st.integers(1, 5), max_size=3),
    st.dictionaries(st.sampled_from(SKILL_NAMES), st.integers(1, 5), max_size=3).map(SkillSet),
)
"""An agent's proficiencies, as a dict or a SkillSet."""

requirements = st.sampled_from(REQUIREMENTS)

# Emergencies are rarer than the rest, as in life: if most queues held one,
# the rules below Emergency would seldom decide anything.
severities = st.sampled_from([Severity.LOW, Severity.NORMAL, Severity.NORMAL, Severity.HIGH, Severity.HIGH, Severity.CRITICAL])

# Deadlines many tickets share (the clocks in these tests start at 1000).
SHARED_DUES = [1_000.0, 1_100.0, 1_200.0, 1_500.0, 2_000.0]

# Times are small integers (or halves) relative to the clock, so that ties,
# exact step instants and exact deadline boundaries come up often.
offsets = st.one_of(st.integers(-30, 400), st.sampled_from([0, 30, 60, 299.5, 300]))


@st.composite
def tickets(draw: st.DrawFn, ticket_id: str, now: float) -> Ticket:
    """A ticket with this id, created around ``now``."""
    created_at = now - draw(offsets)
    shared = st.sampled_from(SHARED_DUES)
    due = draw(st.one_of(st.none(), st.integers(-60, 600).map(lambda d: now + d), shared, shared))
    return Ticket(
        ticket_id,
        created_at,
        severity=draw(severities),
        customer_tier=draw(st.sampled_from(TIERS)),
        complexity=draw(st.integers(1, 5)),
        skills=draw(requirements),
        contacts=draw(st.integers(1, 3)),
        sla_due=due,
    )
