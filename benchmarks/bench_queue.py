"""TicketQueue end to end, against a bare heapq push/pop of plain tuples.

Workload (per size n): n tickets waiting, requirements drawn from 16 skill
groups at levels 1..3, a realistic mix (2% emergencies, ~10% VIP tiers,
complexity 1..5).  Then a fixed plan of operations: one third push, one third
update (a follow-up or an escalation of a random waiting ticket), one third
skill-aware pop by one of 16 agent profiles, each holding 3 of the groups.
The plan is recorded once on a reference queue, so the timed replay does
nothing but call the queue.
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from triage_queue import Policy, Severity, SkillSet, Ticket, TicketQueue

GROUPS = 16
PUSH, UPDATE, POP = 0, 1, 2
NOW = 1_000_000.0


def _clock() -> float:
    return NOW


def make_tickets(count: int, start: int = 0, seed: int = 11) -> list[Ticket]:
    rnd = random.Random(seed + start)
    requirements = [SkillSet({f"group{g}": level}) for g in range(GROUPS) for level in (1, 2, 3)]
    tiers = [None] * 18 + ["silver", "gold"]
    tickets = []
    for i in range(start, start + count):
        severity = Severity.CRITICAL if rnd.random() < 0.02 else rnd.choice((Severity.LOW, Severity.NORMAL, Severity.HIGH))
        tickets.append(
            Ticket(
                f"T{i}",
                NOW - rnd.random() * 3600,
                severity=severity,
                customer_tier=rnd.choice(tiers),
                complexity=rnd.randint(1, 5),
                skills=rnd.choice(requirements),
                customer_id=f"C{rnd.randrange(count // 2 + 1)}",
            )
        )
    return tickets


def agent_profiles(seed: int = 5) -> list[SkillSet]:
    rnd = random.Random(seed)
    return [SkillSet({f"group{g}": 4 for g in rnd.sample(range(GROUPS), 3)}) for _ in range(GROUPS)]


def make_plan(n: int, ops: int, seed: int = 3) -> tuple[list[Ticket], list[tuple[int, Any]]]:
    rnd = random.Random(seed)
    fill = make_tickets(n)
    fresh = iter(make_tickets(ops, start=n))
    agents = agent_profiles()
    ref = TicketQueue(Policy.default(), clock=_clock)
    live: list[str] = []
    where: dict[str, int] = {}

    def add(ticket: Ticket) -> None:
        ref.push(ticket)
        where[ticket.id] = len(live)
        live.append(ticket.id)

    def drop(ticket_id: str) -> None:
        i = where.pop(ticket_id)
        last = live.pop()
        if last != ticket_id:
            live[i] = last
            where[last] = i

    for ticket in fill:
        add(ticket)
    plan: list[tuple[int, Any]] = []
    for _ in range(ops):
        r = rnd.random()
        if r < 1 / 3 or not live:
            ticket = next(fresh)
            add(ticket)
            plan.append((PUSH, ticket))
        elif r < 2 / 3:
            ticket_id = live[rnd.randrange(len(live))]
            if rnd.random() < 0.8:
                change = {"contacts": ref[ticket_id].contacts + 1}
            else:
                change = {"severity": Severity.HIGH}
            ref.update(ticket_id, **change)
            plan.append((UPDATE, (ticket_id, change)))
        else:
            agent = agents[rnd.randrange(len(agents))]
            try:
                drop(ref.pop(agent).id)
            except LookupError:
                pass
            plan.append((POP, agent))
    return fill, plan


def time_queue(fill: list[Ticket], plan: list[tuple[int, Any]], repeat: int = 3) -> float:
    """Best-of-``repeat`` microseconds per operation of the plan."""
    best = float("inf")
    for _ in range(repeat):
        q = TicketQueue(Policy.default(), clock=_clock)
        for ticket in fill:
            q.push(ticket)
        gc.collect()
        gc.disable()
        try:
            elapsed = _replay(q, plan)
        finally:
            gc.enable()
        best = min(best, elapsed)
    return best / len(plan) * 1e6


def _replay(q: TicketQueue, plan: list[tuple[int, Any]]) -> float:
    """Run the plan on ``q``; return the seconds it took."""
    push, update, pop = q.push, q.update, q.pop
    start = time.perf_counter()
    for kind, arg in plan:
        if kind == PUSH:
            push(arg)
        elif kind == UPDATE:
            update(arg[0], **arg[1])
        else:
            try:
                pop(arg)
            except LookupError:
                pass
    return time.perf_counter() - start


def time_positions(n: int, polls: int, seed: int = 9) -> dict[str, float]:
    """Cost of "you are number N in line": build the index once, then poll."""
    rnd = random.Random(seed)
    q = TicketQueue(Policy.default(), clock=_clock)
    tickets = make_tickets(n)
    for ticket in tickets:
        q.push(ticket)
    ids = [tickets[rnd.randrange(n)].id for _ in range(polls)]
    start = time.perf_counter()
    q.position(ids[0])
    first = time.perf_counter() - start
    gc.disable()
    try:
        start = time.perf_counter()
        for ticket_id in ids:
            q.position(ticket_id)
        per_poll = (time.perf_counter() - start) / polls
    finally:
        gc.enable()
    # With the index built, each push and pop also maintains it.
    fill, plan = make_plan(min(n, 100_000), 30_000)
    without = time_queue(fill, plan, repeat=1)
    q2 = TicketQueue(Policy.default(), clock=_clock)
    for ticket in fill:
        q2.push(ticket)
    q2.position(fill[0].id)
    gc.disable()
    try:
        with_index = _replay(q2, plan) / len(plan) * 1e6
    finally:
        gc.enable()
    return {
        "first_call_ms": first * 1e3,
        "per_poll_us": per_poll * 1e6,
        "op_us_without_index": without,
        "op_us_with_index": with_index,
    }


def bytes_per_ticket(n: int) -> dict[str, float]:
    """Queue overhead per waiting ticket (tickets made beforehand, so only
    what the queue allocates counts), and what a Ticket object itself costs."""
    tickets = make_tickets(n)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    q = TicketQueue(Policy.default(), clock=_clock)
    for ticket in tickets:
        q.push(ticket)
    queued = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del q, tickets
    return {"queue_overhead": (queued - base) / n, "ticket_object": _ticket_bytes(n)}


def _ticket_bytes(n: int) -> float:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tickets = make_tickets(n)
    total = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del tickets
    return total / n


def run(sizes: list[int], ops: int, repeat: int, memory_n: int, polls: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    from bench_heap import heapq_tuple_push_pop

    results: dict[str, Any] = {
        "workload": "1/3 push, 1/3 update (follow-up or escalation), 1/3 skill-aware pop; default policy; 16 skill groups",
        "ops": ops,
        "sizes": {},
    }
    for n in sizes:
        fill, plan = make_plan(n, ops)
        queue_us = time_queue(fill, plan, repeat)
        heapq_us = heapq_tuple_push_pop(n, ops)
        results["sizes"][str(n)] = {"TicketQueue": queue_us, "heapq tuple push/pop": heapq_us}
        log(f"  n={n:>8,}  TicketQueue {queue_us:6.2f} us/op   heapq tuple push/pop {heapq_us:5.3f} us/op   ratio {queue_us / heapq_us:5.1f}x")
        del fill, plan
    positions = time_positions(min(max(sizes), 100_000), polls)
    results["positions"] = positions
    log(
        f"  position at n={min(max(sizes), 100_000):,}: first call {positions['first_call_ms']:.1f} ms, then {positions['per_poll_us']:.2f} us/poll;"
        f" ops {positions['op_us_without_index']:.2f} -> {positions['op_us_with_index']:.2f} us with the index"
    )
    memory = bytes_per_ticket(memory_n)
    results["memory_n"] = memory_n
    results["memory_bytes_per_ticket"] = memory
    log(f"  memory n={memory_n:,}: queue overhead {memory['queue_overhead']:.0f} B/ticket, Ticket object {memory['ticket_object']:.0f} B")
    return results
