"""Helpers for the TicketQueue tests: a plain reference model of the queue,
custom time-stepped rules, the policies the queue is checked under, and
ticket strategies.

The model deliberately caches nothing: every question is answered by sorting
all tickets by the policy's rule keys at the current clock reading (with the
policy's wait bound applied here, from its definition) plus the arrival
sequence, so a queue whose stored keys went stale disagrees with it.  Who
may take a ticket is decided from scratch too: the skills it requires now
(preferred skills included until it has waited ``relax_after``), its channel
against the agent's filter, and whether a hold for another agent is still
running.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
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


def max_wait_policy() -> Policy:
    """The default rules with a wait bound: a ticket that has waited 240 s
    overtakes every ticket that has not, emergencies and VIPs included."""
    return Policy.default(max_wait=240.0)


def weighted_max_wait_policy() -> Policy:
    """The weighted policy with a wait bound."""
    return weighted_policy().with_max_wait(180.0)


# -- the reference model -----------------------------------------------------


def model_requirement(ticket: Ticket, now: float) -> dict[str, int]:
    """The skills an agent needs for ``ticket`` at ``now``, from the
    definition: ``skills``, raised to ``preferred_skills`` until the ticket
    has waited ``relax_after`` seconds (forever if that is None)."""
    needs = dict(ticket.skills)
    waited = now - ticket.created_at
    if ticket.relax_after is None or waited < ticket.relax_after:
        for name, level in ticket.preferred_skills.items():
            needs[name] = max(needs.get(name, 0), level)
    return needs


class QueueModel:
    """What a TicketQueue should answer, computed from scratch every time.

    The wait bound of a policy is modelled here, not taken from
    ``policy.sort_key``: tickets that have waited ``max_wait`` come first,
    oldest first (then by the rules), the others after them by the rules.
    Eligibility is modelled too: requirement, channel and holds.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.rules_only = policy.with_max_wait(None)
        self.max_wait = policy.max_wait
        self.entries: list[tuple[Ticket, int]] = []
        # Ticket id -> (agent id, until), as last set; a hold whose until has
        # passed is over (the clock never goes back).
        self.holds: dict[str, tuple[str, float]] = {}
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

    def seq(self, ticket_id: str) -> int:
        for ticket, seq in self.entries:
            if ticket.id == ticket_id:
                return seq
        raise AssertionError(f"{ticket_id} not in model")

    def key(self, ticket: Ticket, seq: int, now: float) -> tuple[Any, ...]:
        rules = self.rules_only.sort_key(ticket, now)
        if self.max_wait is None:
            return rules + (seq,)
        if now - ticket.created_at >= self.max_wait:
            return (0, ticket.created_at) + rules + (seq,)
        return (1, 0.0) + rules + (seq,)

    def order(self, now: float) -> list[Ticket]:
        """Every ticket in service order at ``now`` (held ones included)."""
        ranked = sorted(self.entries, key=lambda e: self.key(e[0], e[1], now))
        return [ticket for ticket, _ in ranked]

    def ids(self, now: float) -> list[str]:
        return [t.id for t in self.order(now)]

    def holder(self, ticket_id: str, now: float) -> str | None:
        hold = self.holds.get(ticket_id)
        if hold is None or not now < hold[1]:
            return None
        return hold[0]

    def eligible(
        self,
        ticket: Ticket,
        now: float,
        skills: Mapping[str, int] | None = None,
        channels: Container[str | None] | None = None,
        agent: str | None = None,
    ) -> bool:
        if skills is not None:
            for name, level in model_requirement(ticket, now).items():
                if skills.get(name, 0) < level:
                    return False
        if channels is not None and ticket.channel not in channels:
            return False
        holder = self.holder(ticket.id, now)
        return holder is None or holder == agent

    def best(
        self,
        now: float,
        skills: Mapping[str, int] | None = None,
        channels: Container[str | None] | None = None,
        agent: str | None = None,
    ) -> Ticket | None:
        for ticket in self.order(now):
            if self.eligible(ticket, now, skills, channels, agent):
                return ticket
        return None

    def push(self, ticket: Ticket) -> None:
        assert ticket.id not in self
        self.entries.append((ticket, self.next_seq))
        self.next_seq += 1

    def restore(self, ticket: Ticket, seq: int, hold: tuple[str, float] | None = None) -> None:
        """Put a taken ticket back with its old arrival sequence."""
        assert ticket.id not in self
        assert seq < self.next_seq and all(s != seq for _, s in self.entries)
        self.entries.append((ticket, seq))
        if hold is not None:
            self.holds[ticket.id] = hold

    def remove(self, ticket_id: str) -> Ticket:
        for i, (ticket, _) in enumerate(self.entries):
            if ticket.id == ticket_id:
                del self.entries[i]
                self.holds.pop(ticket_id, None)
                return ticket
        raise AssertionError(f"{ticket_id} not in model")

    def update(self, ticket_id: str, **changes: Any) -> Ticket:
        for i, (ticket, seq) in enumerate(self.entries):
            if ticket.id == ticket_id:
                new = ticket.evolve(**changes)
                self.entries[i] = (new, seq)
                return new
        raise AssertionError(f"{ticket_id} not in model")

    def hold(self, ticket_id: str, agent_id: str, until: float) -> None:
        assert ticket_id in self
        self.holds[ticket_id] = (agent_id, until)

    def release(self, ticket_id: str) -> None:
        self.holds.pop(ticket_id, None)

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
        """When each ticket's order or eligibility next changes (a rule's
        step, reaching the wait bound, dropping preferred skills, a hold
        ending), for tickets that have such an instant ahead."""
        out = {}
        for ticket, _ in self.entries:
            instants = [self.rules_only.next_change(ticket, now)]
            if self.max_wait is not None:
                instants.append(ticket.created_at + self.max_wait)
            if ticket.preferred_skills and ticket.relax_after is not None:
                instants.append(ticket.created_at + ticket.relax_after)
            hold = self.holds.get(ticket.id)
            if hold is not None:
                instants.append(hold[1])
            ahead = [w for w in instants if w is not None and w > now]
            if ahead:
                out[ticket.id] = min(ahead)
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
# Mostly none: a preferred skill narrows who may take a ticket for a while.
PREFERRED: list[dict[str, int]] = [{}, {}, {}, {"german": 1}, {"billing": 3}, {"payments": 3, "german": 2}]
RELAX_AFTERS: list[float | None] = [None, 0.0, 30.0, 60.0, 120.0, 299.5]
SKILL_NAMES = ["billing", "payments", "german"]
CHANNELS: list[str | None] = [None, "chat", "email", "phone"]
AGENTS = ["ana", "ben"]

agent_skills = st.one_of(
    st.dictionaries(st.sampled_from(SKILL_NAMES), st.integers(1, 5), max_size=3),
    st.dictionaries(st.sampled_from(SKILL_NAMES), st.integers(1, 5), max_size=3).map(SkillSet),
)
"""An agent's proficiencies, as a dict or a SkillSet."""

requirements = st.sampled_from(REQUIREMENTS)
preferred = st.sampled_from(PREFERRED)
relax_afters = st.sampled_from(RELAX_AFTERS)
ticket_channels = st.sampled_from([None, None, "chat", "email", "phone"])

channel_filters = st.one_of(
    st.none(),
    st.none(),
    st.frozensets(st.sampled_from(CHANNELS), max_size=3),
    st.lists(st.sampled_from(CHANNELS), max_size=3).map(tuple),
)
"""The channels an agent serves (None inside means tickets with no
channel), as a frozenset or a tuple, or None for any channel."""

agents = st.sampled_from([None, None, *AGENTS])
"""Who is asking: no one in particular, or one of a few agents."""

# Emergencies are rarer than the rest, as in life: if most queues held one,
# the rules below Emergency would seldom decide anything.
severities = st.sampled_from([Severity.LOW, Severity.NORMAL, Severity.NORMAL, Severity.HIGH, Severity.HIGH, Severity.CRITICAL])

# Deadlines many tickets share (the clocks in these tests start at 1000).
SHARED_DUES = [1_000.0, 1_100.0, 1_200.0, 1_500.0, 2_000.0]

# Times are small integers (or halves) relative to the clock, so that ties,
# exact step instants and exact deadline boundaries come up often.
offsets = st.one_of(st.integers(-30, 400), st.sampled_from([0, 30, 60, 299.5, 300]))


def on_grid(seconds: float) -> float:
    """``seconds`` rounded down to a 1/1024 s grid.  Creation times on the
    grid keep ``created_at + delay`` exact, so the instant a wait bound or
    relaxation steps is the same however it is computed (the clock itself
    may read any float)."""
    return math.floor(seconds * 1024) / 1024


@st.composite
def tickets(draw: st.DrawFn, ticket_id: str, now: float) -> Ticket:
    """A ticket with this id, created around ``now``."""
    created_at = on_grid(now - draw(offsets))
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
        channel=draw(ticket_channels),
        preferred_skills=draw(preferred),
        relax_after=draw(relax_afters),
    )
