"""Written as a user would write it, and type-checked with `mypy --strict`
in CI (it is not a test module; pytest does not collect it)."""

from __future__ import annotations

from triage_queue import (
    Agent,
    Aging,
    AlreadyFinished,
    AnalyticsOptions,
    Dispatcher,
    Explanation,
    HourFigures,
    IndexedHeap,
    ManualClock,
    Policy,
    RecurringFigures,
    Severity,
    SkillSet,
    Statistics,
    Ticket,
    TicketQueue,
    TicketStatus,
    UnknownTicket,
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


# Analytics and conveniences (docs/analytics.md).
desk = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana")], analytics=AnalyticsOptions(category="topic"))
desk.submit(Ticket("T-9", 0.0, attributes={"topic": "refund"}))
where: TicketStatus = desk.status("T-9")
is_offered: bool = where == "offered"
again: Ticket = desk.follow_up("T-9")
current: Ticket = desk.ticket("T-9")
figures: Statistics = desk.stats()
handled: int = figures.agents["ana"].handled
p90: float | None = figures.agents["ana"].handle_p90
hours: tuple[HourFigures, ...] = figures.trends.get("refund", ())
recurring: RecurringFigures | None = figures.recurring.get("refund")
try:
    desk.complete("T-0")
except AlreadyFinished as finished:
    how: str = finished.status
except UnknownTicket:
    pass
