"""A long, seeded, random run of every public Dispatcher operation, with
ties and custom strategies, that prints one digest per step of everything a
user can observe: each call's result or error, the events it caused, and
the desk's state (statuses, queue order and holders, offers, loads,
statistics, explanations).

Run in subprocesses under different ``PYTHONHASHSEED`` values by
tests/test_determinism.py: the digests must be identical, step for step.

    python tests/desk_script.py SEED STEPS STRATEGY
"""

from __future__ import annotations

import hashlib
import random
import sys
from typing import Any

from triage_queue import (
    Agent,
    AgentState,
    Dispatcher,
    Event,
    LeastLoaded,
    LongestIdle,
    ManualClock,
    MostProficient,
    Policy,
    RoundRobin,
    Ticket,
    TicketQueue,
    TriageError,
)

SKILLS = ["billing", "payments", "german", "api"]
CHANNELS = [None, "chat", "phone"]
CUSTOMERS = [None, None, "acme", "globex", "initech"]


class Tied:
    """A custom strategy under which every agent ties: the desk must still
    choose the same one in every process."""

    name = "tied"

    def fit(self, agent: Agent, ticket: Ticket) -> tuple[Any, ...]:
        return ()

    def order(self, state: AgentState) -> tuple[Any, ...]:
        return (0,)

    def describe(self, agent: Agent, state: AgentState, ticket: Ticket) -> str:
        return "all alike"


class BySkillCount:
    """A custom strategy with many ties: fewer skills first."""

    name = "by_skill_count"

    def fit(self, agent: Agent, ticket: Ticket) -> tuple[Any, ...]:
        return (len(agent.skills),)

    def order(self, state: AgentState) -> tuple[Any, ...]:
        return (state.total_load,)

    def describe(self, agent: Agent, state: AgentState, ticket: Ticket) -> str:
        return f"{len(agent.skills)} skills, load {state.total_load}"


STRATEGIES: dict[str, Any] = {
    "longest_idle": LongestIdle,
    "least_loaded": LeastLoaded,
    "most_proficient": MostProficient,
    "round_robin": RoundRobin,
    "tied": Tied,
    "by_skill_count": BySkillCount,
}


def skills(rng: random.Random) -> dict[str, int]:
    return {name: rng.randint(1, 3) for name in rng.sample(SKILLS, rng.randint(0, 2))}


def agent(rng: random.Random, agent_id: str) -> Agent:
    capacity: Any = rng.choice([1, 2, {"chat": 2, "*": 1}, {"phone": 1}])
    return Agent(
        agent_id,
        skills={name: rng.randint(1, 3) for name in rng.sample(SKILLS, rng.randint(0, 3))},
        capacity=capacity,
        status=rng.choice(["available", "available", "away"]),
        dedicated_customers=rng.choice([(), (), ("acme",)]) if agent_id == "a0" else (),
    )


def state_of(d: Dispatcher, known: list[str], *, with_stats: bool = True) -> str:
    """Everything observable of the desk (statistics only ``with_stats``)."""
    parts = []
    for ticket_id in known:
        try:
            parts.append(f"{ticket_id}:{d.status(ticket_id)}")
        except TriageError:
            parts.append(f"{ticket_id}:gone")
    parts.append("queue:" + ",".join(f"{t.id}@{d.queue.holder(t.id)}" for t in d.queue))
    for a in d.roster:
        s = d.roster.state(a.id)
        offers = ",".join(o.id + ">" + o.ticket.id for o in d.offers_for(a.id))
        parts.append(f"{a.id}:{a.status.value}:{sorted(s.load.items())}:{s.idle_since}:{s.offered}:{s.served}:{offers}")
    if with_stats:
        parts.append(repr(sorted(d.stats().to_dict().items())))
    return "|".join(parts)


class Run:
    """A desk and what the script knows about it, so that a run can be cut
    at any step, the desk saved and restored, and the run continued on the
    copy with the same random choices."""

    def __init__(
        self, d: Dispatcher, clock: ManualClock, rng: random.Random, known: list[str], agents: list[str], with_stats: bool = True
    ) -> None:
        self.with_stats = with_stats  # whether the digest includes statistics (a desk made with stats=False has none)
        self.d = d
        self.clock = clock
        self.rng = rng
        self.known = known
        self.agents = agents
        self.heard: list[Event] = []
        d.subscribe(self.heard.append)

    def step(self, step: int) -> str:
        """One random operation; the digest of what it did and of the desk after."""
        return hashlib.sha256(self.line(step).encode()).hexdigest()[:16]

    def line(self, step: int) -> str:
        """One random operation; what it did and the desk after, in words."""
        d, rng, known = self.d, self.rng, self.known
        op = rng.choice(
            ["submit"] * 5
            + ["accept"] * 3
            + ["complete"] * 3
            + ["decline", "next_for", "update", "cancel", "transfer", "tick", "tick", "set_status", "update_agent"]
            + ["add_agent", "remove_agent", "paused", "explain"]
        )
        try:
            result = self.apply(op, step)
        except TriageError as exc:
            result = f"{type(exc).__name__}: {exc}"
        events = ";".join(str(e) for e in self.heard)
        self.heard.clear()
        return f"{step}|{op}|{result!r}|{events}|{state_of(d, known, with_stats=self.with_stats)}"

    def apply(self, op: str, step: int) -> Any:
        d, clock, rng, known, agents = self.d, self.clock, self.rng, self.known, self.agents
        if op == "submit":
            ticket_id = f"T-{step}"
            known.append(ticket_id)
            sla = rng.choice([None, 30.0, 120.0])
            return d.submit(
                Ticket(
                    ticket_id,
                    clock(),
                    severity=rng.choice(["low", "normal", "normal", "high", "critical"]),
                    customer_tier=rng.choice([None, "gold", "silver"]),
                    skills=skills(rng),
                    preferred_skills=rng.choice([{}, {"german": 2}]),
                    relax_after=rng.choice([None, 15.0]),
                    channel=rng.choice(CHANNELS),
                    customer_id=rng.choice(CUSTOMERS),
                    sla_due=None if sla is None else clock() + sla,
                )
            )
        if op in ("accept", "decline"):
            offers = [o for a in agents if a in d.roster for o in d.offers_for(a)]
            return getattr(d, op)(rng.choice(offers)) if offers else None
        if op == "complete":
            held = [t.id for a in agents if a in d.roster for t in d.assigned(a)]
            return d.complete(rng.choice(held)) if held else None
        if op == "next_for":
            return d.next_for(rng.choice(agents))
        if op == "update" and known:
            return d.update(rng.choice(known), severity=rng.choice(["normal", "critical"]), contacts=rng.randint(1, 3))
        if op == "cancel" and known:
            return d.cancel(rng.choice(known))
        if op == "transfer":
            held = [t.id for a in agents if a in d.roster for t in d.assigned(a)]
            return d.transfer(rng.choice(held), skills=skills(rng)) if held else None
        if op == "tick":
            clock.advance(rng.choice([1.0, 5.0, 20.0, 31.0, 70.0]))
            d.tick()
            return None
        if op == "set_status":
            return d.set_status(rng.choice(agents), rng.choice(["available", "away", "offline"]))
        if op == "update_agent":
            return d.update_agent(rng.choice(agents), skills={n: rng.randint(1, 3) for n in rng.sample(SKILLS, 2)})
        if op == "add_agent":
            new_id = f"a{len(agents)}"
            d.add_agent(agent(rng, new_id))
            agents.append(new_id)
            return None
        if op == "remove_agent":
            return d.remove_agent(rng.choice(agents))
        if op == "paused":
            with d.paused():
                d.submit(Ticket(f"P-{step}", clock()))
                known.append(f"P-{step}")
            return None
        if op == "explain" and known:
            return str(d.explain_assignment(rng.choice(known)))
        return None


def start(seed: int, strategy: str) -> Run:
    """A new desk for a seeded run."""
    rng = random.Random(seed)
    clock = ManualClock(0.0)
    d = Dispatcher(
        TicketQueue(Policy.default(max_wait=600), clock=clock),
        [agent(rng, f"a{i}") for i in range(5)],
        selection=STRATEGIES[strategy](),
        offer_timeout=rng.choice([None, 30.0]),
        retry_after=rng.choice([None, 60.0]),
        sla_warning=10.0,
        affinity_wait=20.0,
    )
    return Run(d, clock, rng, [], [a.id for a in d.roster])


def run(seed: int, steps: int, strategy: str) -> list[str]:
    """Digests of a whole seeded run."""
    r = start(seed, strategy)
    digests = [r.step(step) for step in range(steps)]
    r.d._check()
    return digests


if __name__ == "__main__":
    seed, steps, strategy = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    print("\n".join(run(seed, steps, strategy)))
