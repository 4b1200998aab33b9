"""The queue's fast paths on a MemoryStore (insert_new, pop_best, the heads
heap as a plain heapq list) agree with the protocol-only paths."""

from __future__ import annotations

import random

import pytest

from triage_queue import DuplicateTicket, Empty, FunctionRule, ManualClock, Policy, RuleError, SkillSet, Ticket, TicketQueue
from triage_queue.store import MemoryStore


def test_duplicate_push_is_reported_before_a_rule_error() -> None:
    def picky(ticket: Ticket) -> float:
        if ticket.attributes.get("bad"):
            raise ValueError("no")
        return 0.0

    q = TicketQueue(Policy([FunctionRule("picky", picky)]), clock=lambda: 0.0)
    q.push(Ticket("a", 0.0))
    with pytest.raises(DuplicateTicket):
        q.push(Ticket("a", 0.0, attributes={"bad": True}))
    with pytest.raises(RuleError):
        q.push(Ticket("b", 0.0, attributes={"bad": True}))
    with pytest.raises(DuplicateTicket):
        q.push(Ticket("a", 0.0))
    assert len(q) == 1 and q._next_seq == 1
    q._check()


def test_insert_new_refuses_a_held_id_and_changes_nothing() -> None:
    store = MemoryStore()
    a = Ticket("a", 0.0)
    lane = (a.skills, None, None)
    assert store.insert_new(a, (1.0, 0), lane)
    assert not store.insert_new(Ticket("a", 5.0), (0.0, 1), lane)
    assert store.get("a") is a and store.priority("a") == (1.0, 0)
    store._check()


def test_pop_best_skips_held_lanes_and_moved_tickets() -> None:
    q = TicketQueue(clock=ManualClock(0.0))
    for i in range(6):
        q.push(Ticket(f"T-{i}", float(i), skills={f"g{i % 3}": 1}))
    q.hold("T-0", "ana", until=100.0)
    # Moving a ticket to another lane keeps its priority: equal heads in the
    # heads heap are told apart by partition serial, never compared.
    q.update("T-1", skills={"g0": 1})
    q._check()
    assert [q.pop().id for _ in range(5)] == ["T-1", "T-2", "T-3", "T-4", "T-5"]
    assert q.pop(agent="ana").id == "T-0"
    assert len(q) == 0
    q._check()


@pytest.mark.parametrize("seed", range(4))
def test_random_workload_matches_a_protocol_only_store(seed: int) -> None:
    """Push, update, hold, skill pops and plain pops on a MemoryStore and on
    a store exposing only the protocol: the same tickets come out in the
    same order, and the heads heap stays bounded."""

    class Plain:
        def __init__(self) -> None:
            self.inner = MemoryStore()

        def __len__(self) -> int:
            return len(self.inner)

        def __contains__(self, ticket_id: object) -> bool:
            return ticket_id in self.inner

        def __getattr__(self, name: str) -> object:
            if name in ("insert_new", "pop_best", "bulk_load") or name.startswith("_"):
                raise AttributeError(name)
            return getattr(self.inner, name)

    rnd = random.Random(seed)
    fast = TicketQueue(clock=ManualClock(1000.0))
    plain = TicketQueue(clock=ManualClock(1000.0), store=Plain())  # type: ignore[arg-type]
    assert fast._pop_best is not None and plain._pop_best is None
    out: list[list[str]] = [[], []]
    live: list[str] = []
    for step in range(3000):
        r = rnd.random()
        if r < 0.5 or not live:
            severity = rnd.choice(["low", "normal", "high"])
            t = Ticket(f"T-{step}", rnd.random() * 1000, severity=severity, skills={f"g{rnd.randrange(8)}": 1})
            for q in (fast, plain):
                q.push(t)
            live.append(t.id)
        elif r < 0.6:
            ticket_id = rnd.choice(live)
            change = {"skills": {f"g{rnd.randrange(8)}": 1}} if rnd.random() < 0.5 else {"severity": "critical"}
            for q in (fast, plain):
                q.update(ticket_id, **change)
        elif r < 0.75:
            skills = SkillSet({f"g{rnd.randrange(8)}": 1})
            got: list[str | None] = []
            for q in (fast, plain):
                try:
                    got.append(q.pop(skills=skills).id)
                except Empty:
                    got.append(None)
            assert got[0] == got[1]
            if got[0] is not None:
                live.remove(got[0])
        else:
            for k, q in enumerate((fast, plain)):
                out[k].append(q.pop().id)
            live.remove(out[0][-1])
        assert len(fast._store._heads) <= 2 * len(fast._store._partitions) + 64 + 1  # type: ignore[attr-defined]
        if step % 500 == 0:
            fast._check()
    assert out[0] == out[1]
    assert [t.id for t in fast] == [t.id for t in plain]
    fast._check()
    plain._check()
