"""The ``lifecycle`` benchmark's reference desk is an honest equivalent.

``MinimalDesk`` (triage_queue.bench.minimal_desk) is the bar the Dispatcher's
hot path is measured against, so it must do the same work: on random
workloads without ties (distinct ticket keys, a clock that moves between
calls), it offers the same tickets to the same agents, in the same order, as
a Dispatcher with default settings.  Its offers expire.  No time is
asserted here.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from triage_queue import Agent, Dispatcher, ManualClock, Severity, Ticket, TicketQueue
from triage_queue._progress import Progress
from triage_queue.bench import lifecycle_suite
from triage_queue.bench.minimal_desk import MinimalDesk

GROUPS = ("billing", "network", "german")
TIERS = (None, None, None, "standard", "silver", "gold", "platinum")


def _agents(rnd: random.Random, count: int) -> list[Agent]:
    agents = []
    for i in range(count):
        held = rnd.sample(GROUPS, rnd.randint(0, len(GROUPS)))
        agents.append(Agent(f"A{i}", skills={name: rnd.randint(1, 5) for name in held}, capacity=rnd.randint(1, 3)))
    return agents


def _ticket(rnd: random.Random, number: int) -> Ticket:
    needs = rnd.sample(GROUPS, rnd.choice((0, 1, 1, 1, 2)))
    return Ticket(
        f"T{number}",
        rnd.uniform(0.0, 1000.0),  # distinct: no two tickets tie on the policy key
        severity=rnd.choice(list(Severity)),
        customer_tier=rnd.choice(TIERS),
        complexity=rnd.randint(1, 5),
        skills={name: rnd.randint(1, 3) for name in needs},
        contacts=rnd.randint(1, 3),
    )


def _dispatcher_picture(d: Dispatcher, agent_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    found: dict[str, tuple[str, str | None]] = {t.id: ("waiting", None) for t in d.queue}
    for agent_id in agent_ids:
        for offer in d.offers_for(agent_id):
            found[offer.ticket.id] = ("offered", agent_id)
        for ticket in d.assigned(agent_id):
            if ticket.id not in found:
                found[ticket.id] = ("assigned", agent_id)
    return found


def _offered(offer: Any) -> tuple[str, str] | None:
    return None if offer is None else (offer.ticket.id, offer.agent_id)


@pytest.mark.parametrize("seed", range(40))
def test_minimal_desk_assigns_like_the_dispatcher(seed: int) -> None:
    """Same offers (ticket, agent) from every submit, next_for and complete,
    and the same waiting, offered and assigned tickets after every call."""
    rnd = random.Random(seed)
    agents = _agents(rnd, rnd.randint(1, 7))
    agent_ids = [a.id for a in agents]
    clock = ManualClock(1000.0)
    d = Dispatcher(TicketQueue(clock=clock), agents)  # default settings
    desk = MinimalDesk(agents, clock=clock)
    known: dict[str, tuple[Any, Any]] = {}  # ticket id -> (its offer on each), handed out, pending
    assigned: list[str] = []
    number = 0
    for _ in range(300):
        clock.advance(rnd.uniform(0.001, 0.08))  # moves on every call: no ties in idle time; 300 calls < 30 s
        r = rnd.random()
        if r < 0.4:
            ticket = _ticket(rnd, number)
            number += 1
            ours, theirs = d.submit(ticket), desk.submit(ticket)
            assert _offered(ours) == _offered(theirs)
            if ours is not None:
                known[ticket.id] = (ours, theirs)  # accepted before it is handed out, perhaps
        elif r < 0.65:
            agent_id = rnd.choice(agent_ids)
            ours, theirs = d.next_for(agent_id), desk.next_for(agent_id)
            assert _offered(ours) == _offered(theirs)
            if ours is not None:
                known[ours.ticket.id] = (ours, theirs)
        elif r < 0.85 and known:
            ticket_id = rnd.choice(sorted(known))
            ours, theirs = known.pop(ticket_id)
            assert d.accept(ours).id == desk.accept(theirs.id).id == ticket_id
            assigned.append(ticket_id)
        elif assigned:
            ticket_id = assigned.pop(rnd.randrange(len(assigned)))
            assert d.complete(ticket_id).id == desk.complete(ticket_id).id == ticket_id
        assert desk.picture() == _dispatcher_picture(d, agent_ids)
    assert number > 50


def test_minimal_desk_offers_expire() -> None:
    """An offer not answered in time expires: its ticket goes to the other
    free agent (or back to its lane), accepting it raises, and its agent
    is free again."""
    clock = ManualClock(0.0)
    desk = MinimalDesk([Agent("ana"), Agent("bo")], clock=clock, offer_timeout=30.0)
    first = desk.submit(Ticket("T-1", 0.0))
    assert first is not None and first.agent_id == "ana" and first.expires_at == 30.0
    clock.advance(30.0)
    assert desk.next_for("ana") is None  # the offer expired at the start of the call
    moved = desk.next_for("bo")
    assert moved is not None and moved.ticket.id == "T-1"
    with pytest.raises(KeyError):
        desk.accept(first.id)
    assert desk.accept(moved.id).id == "T-1"
    clock.advance(100.0)
    assert desk.picture() == {"T-1": ("assigned", "bo")}
    # One agent, one offer left to lapse: the ticket waits for it again.
    lone = MinimalDesk([Agent("cy", skills={"billing": 2})], clock=clock, offer_timeout=5.0)
    offer = lone.submit(Ticket("T-2", 0.0, skills={"billing": 1}))
    assert offer is not None
    assert lone.submit(Ticket("T-3", 1.0, skills={"billing": 1})) is None
    clock.advance(5.0)
    assert lone.picture() == {"T-2": ("offered", "cy"), "T-3": ("waiting", None)}  # expired, and offered again at once
    never = MinimalDesk([Agent("dee")], clock=clock, offer_timeout=None)
    assert never.submit(Ticket("T-4", 0.0)).expires_at == float("inf")  # type: ignore[union-attr]


def test_lifecycle_scenario_runs_tiny() -> None:
    """The scenario measures every contender at every size, counts calls,
    and reports restore as not available (or measured) without failing."""
    params = {
        **lifecycle_suite.params(quick=True),
        "waiting": [0, 200],
        "cycles": 200,
        "rounds": 2,
        "profile_cycles": 100,
        "restore": [500, 20],
        "restore_repeat": 1,
    }
    result = lifecycle_suite.run(params, Progress(enabled=False))
    assert [int(n) for n in result["sizes"]] == [0, 200]
    for n, row in result["sizes"].items():
        assert set(row["us_per_lifecycle"]) == set(lifecycle_suite.CONTENDERS), n
        assert all(value > 0 for value in row["us_per_lifecycle"].values()), n
        assert row["ratios"]["default_vs_minimal"] == pytest.approx(
            row["us_per_lifecycle"]["dispatcher_default"] / row["us_per_lifecycle"]["minimal"]
        )
        assert row["calls_per_lifecycle"]["minimal"]["all"] > 4, n
        assert row["calls_per_lifecycle"]["dispatcher_default"]["all"] > row["calls_per_lifecycle"]["minimal"]["all"], n
    assert result["restore"]["status"] in {"not available yet", "measured", "failed"}
    text = "\n".join(lifecycle_suite.markdown(result))
    assert "MinimalDesk" in text and "restore" in text
