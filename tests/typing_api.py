"""Written as a user would write it, and type-checked with `mypy --strict`
in CI (it is not a test module; pytest does not collect it)."""

from __future__ import annotations

from triage_queue import (
    Aging,
    Explanation,
    IndexedHeap,
    ManualClock,
    Policy,
    Severity,
    SkillSet,
    Ticket,
    TicketQueue,
    Vip,
    rule,
)

heap: IndexedHeap[str, float] = IndexedHeap({"a": 1.0})
heap["b"] = 0.5
key: str = heap.pop()
item: tuple[str, float] = heap.popitem() if heap else ("none", 0.0)
priority: float = heap.pop("zz", 0.0)


@rule("seats")
def seats(ticket: Ticket) -> float:
    return float(ticket.attributes.get("seats", 0))


clock = ManualClock(0.0)
policy: Policy = Policy.weighted([(Vip(), 600.0), (Aging(), 1.0), (seats, 1.0)])
queue = TicketQueue(policy, clock=clock)
queue.push(Ticket("T-1", 0.0, severity=Severity.HIGH, skills={"billing": 2}))
served: Ticket = queue.pop(skills=SkillSet({"billing": 3}))
why: Explanation | None = None
position: int | None = queue.position("T-1") if "T-1" in queue else None
