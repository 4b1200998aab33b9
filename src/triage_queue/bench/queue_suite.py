"""Scenario "queue": TicketQueue end to end, against a bare heapq push/pop of
plain tuples, and the cost of ``position()``.

Workload (per size n): n tickets waiting, requirements drawn from 16 skill
groups at levels 1..3, a realistic mix (2% emergencies, ~10% VIP tiers,
complexity 1..5).  Then a fixed plan of operations: one third push, one third
update (a follow-up or an escalation of a random waiting ticket), one third
skill-aware pop by one of 16 agent profiles, each holding 3 of the groups.
The plan is recorded once on a reference queue, so the timed replay does
nothing but call the queue.  Memory per waiting ticket and per-call latency
tails are in the "scale" scenario, which replays this same workload.

A second measurement, :func:`push_pop`, is the queue's mixed operation
alone: with n tickets waiting, push one and pop the best (no filter), so
n stays put, against a bare ``heapq`` push and pop of the very priority
tuples the queue orders by (the policy's key and arrival number), in the
same run: the contenders alternate in every round on the same tickets, and
each keeps its best round (in CPU time, which a shared machine disturbs less).  It runs with every ticket in one lane (no
skills) and with the mix above (48 lanes, served through the heads heap).

>>> from triage_queue._progress import Progress
>>> options = {"sizes": [300], "ops": 600, "repeat": 1, "positions_n": 300, "polls": 100}
>>> options.update(push_pop_sizes=[300], push_pop_ops=100, push_pop_rounds=2)
>>> result = run(options, Progress(enabled=False))
>>> result["sizes"]["300"]["ratio_to_heapq"] > 1
True
>>> markdown(result)[0]
'### TicketQueue end to end, us/op, lower is better'
>>> result["push_pop"]["300"]["one lane"]["ratio"] > 1
True
"""

from __future__ import annotations

import gc
import random
import time
from pathlib import Path
from typing import Any

from triage_queue import Policy, Severity, SkillSet, Ticket, TicketQueue
from triage_queue._progress import Progress
from triage_queue.bench.heap_suite import heapq_tuple_push_pop
from triage_queue.bench.suite import loglog_plot

__all__ = [
    "GROUPS",
    "NAME",
    "NOW",
    "POP",
    "PUSH",
    "TITLE",
    "UPDATE",
    "agent_profiles",
    "make_plan",
    "make_tickets",
    "markdown",
    "new_queue",
    "params",
    "plots",
    "push_pop",
    "replay",
    "run",
    "time_positions",
    "time_queue",
]

NAME = "queue"
TITLE = "TicketQueue end to end: push, update, skill-aware pop; position()"
GROUPS = 16
PUSH, UPDATE, POP = 0, 1, 2
NOW = 1_000_000.0

Plan = list[tuple[int, Any]]


def _clock() -> float:
    return NOW


def new_queue() -> TicketQueue:
    """An empty queue with the default policy and a clock frozen at ``NOW``.  O(1).

    >>> len(new_queue())
    0
    """
    return TicketQueue(Policy.default(), clock=_clock)


def params(quick: bool) -> dict[str, Any]:
    """The sizes this scenario runs at.  O(1).

    >>> params(quick=True)["sizes"]
    [1000, 10000]
    """
    if quick:
        return {
            "sizes": [1_000, 10_000],
            "ops": 20_000,
            "repeat": 1,
            "positions_n": 10_000,
            "polls": 20_000,
            "push_pop_sizes": [10_000],
            "push_pop_ops": 5_000,
            "push_pop_rounds": 3,
        }
    return {
        "sizes": [1_000, 10_000, 100_000, 1_000_000],
        "ops": 200_000,
        "repeat": 3,
        "positions_n": 100_000,
        "polls": 100_000,
        "push_pop_sizes": [100_000, 1_000_000],
        "push_pop_ops": 50_000,
        "push_pop_rounds": 7,
    }


def make_tickets(count: int, start: int = 0, seed: int = 11, *, lanes: bool = True) -> list[Ticket]:
    """``count`` tickets numbered from ``start``: the realistic mix above
    (without ``lanes``, the same mix with no skills: every ticket in one
    lane).  O(count).

    >>> [t.id for t in make_tickets(2, start=5)], len(make_tickets(1, lanes=False)[0].skills)
    (['T5', 'T6'], 0)
    """
    rnd = random.Random(seed + start)
    # Mappings, as an application reading tickets from JSON passes them: the
    # Ticket shares one SkillSet per distinct requirement across calls.
    requirements = [{f"group{g}": level} for g in range(GROUPS) for level in (1, 2, 3)]
    tiers = [None] * 18 + ["silver", "gold"]
    tickets = []
    for i in range(start, start + count):
        severity = Severity.CRITICAL if rnd.random() < 0.02 else rnd.choice((Severity.LOW, Severity.NORMAL, Severity.HIGH))
        tier, complexity, requirement = rnd.choice(tiers), rnd.randint(1, 5), rnd.choice(requirements)
        tickets.append(
            Ticket(
                f"T{i}",
                NOW - rnd.random() * 3600,
                severity=severity,
                customer_tier=tier,
                complexity=complexity,
                skills=requirement if lanes else None,
                customer_id=f"C{rnd.randrange(count // 2 + 1)}",
            )
        )
    return tickets


def agent_profiles(seed: int = 5) -> list[SkillSet]:
    """The 16 agent profiles that pop, each holding 3 groups at level 4.  O(1).

    >>> len(agent_profiles()), len(agent_profiles()[0])
    (16, 3)
    """
    rnd = random.Random(seed)
    return [SkillSet({f"group{g}": 4 for g in rnd.sample(range(GROUPS), 3)}) for _ in range(GROUPS)]


def make_plan(n: int, ops: int, seed: int = 3) -> tuple[list[Ticket], Plan]:
    """The fill (``make_tickets(n)``) and a plan of ``ops`` operations, each
    ``(PUSH, ticket)``, ``(UPDATE, (ticket id, changes))`` or ``(POP, skills)``,
    recorded on a reference queue so every update names a waiting ticket.
    O((n + ops) log n).

    >>> fill, plan = make_plan(30, 60)
    >>> len(fill), len(plan), sorted({kind for kind, _ in plan}) == [PUSH, UPDATE, POP]
    (30, 60, True)
    """
    rnd = random.Random(seed)
    fill = make_tickets(n)
    fresh = iter(make_tickets(ops, start=n))
    agents = agent_profiles()
    ref = new_queue()
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
    plan: Plan = []
    for _ in range(ops):
        r = rnd.random()
        if r < 1 / 3 or not live:
            ticket = next(fresh)
            add(ticket)
            plan.append((PUSH, ticket))
        elif r < 2 / 3:
            ticket_id = live[rnd.randrange(len(live))]
            change: dict[str, Any] = (
                {"contacts": ref[ticket_id].contacts + 1} if rnd.random() < 0.8 else {"severity": Severity.HIGH}
            )
            ref.update(ticket_id, **change)
            plan.append((UPDATE, (ticket_id, change)))
        else:
            agent = agents[rnd.randrange(len(agents))]
            try:  # noqa: SIM105 - same spelling as the timed replay
                drop(ref.pop(agent).id)
            except LookupError:
                pass
            plan.append((POP, agent))
    return fill, plan


def replay(q: TicketQueue, plan: Plan) -> float:
    """Run the plan on ``q``; return the seconds it took.  O(ops log n).

    >>> fill, plan = make_plan(20, 30)
    >>> q = new_queue()
    >>> for ticket in fill:
    ...     q.push(ticket)
    >>> replay(q, plan) > 0
    True
    """
    push, update, pop = q.push, q.update, q.pop
    start = time.perf_counter()
    for kind, arg in plan:
        if kind == PUSH:
            push(arg)
        elif kind == UPDATE:
            update(arg[0], **arg[1])
        else:
            try:  # noqa: SIM105 - no context manager in the timed loop
                pop(arg)
            except LookupError:
                pass
    return time.perf_counter() - start


def time_queue(fill: list[Ticket], plan: Plan, repeat: int = 3) -> float:
    """Best-of-``repeat`` microseconds per operation of the plan, the garbage
    collector paused.  O(repeat * (n + ops) log n).

    >>> time_queue(*make_plan(20, 30), repeat=1) > 0
    True
    """
    best = float("inf")
    for _ in range(repeat):
        q = new_queue()
        for ticket in fill:
            q.push(ticket)
        gc.collect()
        gc.disable()
        try:
            elapsed = replay(q, plan)
        finally:
            gc.enable()
        best = min(best, elapsed)
    return best / len(plan) * 1e6


def push_pop(n: int, ops: int, rounds: int, *, lanes: bool = True) -> dict[str, float]:
    """The queue's mixed operation at n waiting: push a ticket, then pop the
    best (unfiltered), against a bare ``heapq`` push and pop of the same
    priority tuples (``policy.sort_key(ticket, NOW) + (arrival number,)``,
    built beforehand); per round ``ops`` pairs each, the two alternating
    which goes first, on fresh tickets (both stay at n), the collector
    paused, timed in CPU time (``time.process_time``: a shared machine's
    other work moves it less than wall time).  Returns the best round's
    microseconds per operation (a push or a pop: half a pair) for each,
    and their ratio.
    O((n + ops * rounds) log n).

    >>> figures = push_pop(200, 100, 2)
    >>> sorted(figures), figures["ratio"] > 1
    (['TicketQueue', 'heapq push/pop, same keys', 'ratio'], True)
    """
    from heapq import heapify, heappop, heappush

    fill = make_tickets(n, lanes=lanes)
    fresh = make_tickets(ops * rounds, start=n, lanes=lanes)
    q = new_queue()
    for ticket in fill:
        q.push(ticket)
    sort_key = q.policy.sort_key
    heap = [(*sort_key(ticket, NOW), seq) for seq, ticket in enumerate(fill)]
    heapify(heap)
    items = [(*sort_key(ticket, NOW), n + seq) for seq, ticket in enumerate(fresh)]
    del fill
    push, pop = q.push, q.pop
    best_queue = best_heapq = float("inf")
    for r in range(rounds):
        batch, keys = fresh[r * ops : (r + 1) * ops], items[r * ops : (r + 1) * ops]
        gc.collect()
        gc.disable()
        try:
            for turn in (r % 2, 1 - r % 2):
                start = time.process_time()
                if turn == 0:
                    for ticket in batch:
                        push(ticket)
                        pop()
                    best_queue = min(best_queue, time.process_time() - start)
                else:
                    for item in keys:
                        heappush(heap, item)
                        heappop(heap)
                    best_heapq = min(best_heapq, time.process_time() - start)
        finally:
            gc.enable()
    queue_us, heapq_us = best_queue / (2 * ops) * 1e6, best_heapq / (2 * ops) * 1e6
    return {"TicketQueue": queue_us, "heapq push/pop, same keys": heapq_us, "ratio": queue_us / heapq_us}


def time_positions(n: int, polls: int, ops: int, seed: int = 9) -> dict[str, float]:
    """Cost of "you are number N in line": build the index once, then poll;
    and what maintaining the index adds to the mixed workload.
    O(n log n + polls log n + ops log n).

    >>> sorted(time_positions(50, 20, 60))
    ['first_call_ms', 'op_us_with_index', 'op_us_without_index', 'per_poll_us']
    """
    rnd = random.Random(seed)
    q = new_queue()
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
    del q, tickets
    # With the index built, each push and pop also maintains it.
    fill, plan = make_plan(n, ops)
    without = time_queue(fill, plan, repeat=1)
    indexed = new_queue()
    for ticket in fill:
        indexed.push(ticket)
    indexed.position(fill[0].id)
    gc.collect()
    gc.disable()
    try:
        with_index = replay(indexed, plan) / len(plan) * 1e6
    finally:
        gc.enable()
    return {
        "first_call_ms": first * 1e3,
        "per_poll_us": per_poll * 1e6,
        "op_us_without_index": without,
        "op_us_with_index": with_index,
    }


def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Measure the mixed workload at every size against the heapq floor, then
    ``position()``.  O(sizes * repeat * ops log n).  (Example: the module docstring.)
    """
    result: dict[str, Any] = {
        "params": params,
        "workload": "1/3 push, 1/3 update (follow-up or escalation), 1/3 skill-aware pop; default policy; 16 skill groups",
        "sizes": {},
    }
    ops = params["ops"]
    for n in params["sizes"]:
        with progress.task(f"queue n={n:,}", total=2) as task:
            fill, plan = make_plan(n, ops)
            queue_us = time_queue(fill, plan, params["repeat"])
            task.advance()
            heapq_us = heapq_tuple_push_pop(n, ops)
            task.advance()
            del fill, plan
        result["sizes"][str(n)] = {
            "TicketQueue": queue_us,
            "heapq tuple push/pop": heapq_us,
            "ratio_to_heapq": queue_us / heapq_us,
        }
    result["push_pop"] = {}
    for n in params["push_pop_sizes"]:
        with progress.task(f"queue push+pop n={n:,}", total=2) as task:
            row = {}
            for layout, lanes in (("one lane", False), ("48 lanes", True)):
                row[layout] = push_pop(n, params["push_pop_ops"], params["push_pop_rounds"], lanes=lanes)
                task.advance()
        result["push_pop"][str(n)] = row
    with progress.task(f"queue position() n={params['positions_n']:,}", total=None):
        result["positions"] = time_positions(params["positions_n"], params["polls"], min(ops, 30_000))
    return result


def markdown(result: dict[str, Any]) -> list[str]:
    """The summary table: us/op per size, the heapq floor, their ratio; the
    cost of positions.  O(sizes).  (Example: the module docstring.)
    """
    lines = [
        "### TicketQueue end to end, us/op, lower is better",
        "",
        f"Workload: {result['workload']}.",
        "",
        "| n waiting | TicketQueue | bare heapq push/pop | TicketQueue / heapq |",
        "|---|---|---|---|",
    ]
    for n, row in result["sizes"].items():
        lines.append(
            f"| {int(n):,} | {row['TicketQueue']:.2f} | {row['heapq tuple push/pop']:.3f} | {row['ratio_to_heapq']:.1f}x |"
        )
    if result.get("push_pop"):
        lines += [
            "",
            "#### TicketQueue push + pop against bare heapq, us per operation (target: at most 3x)",
            "",
            "With n waiting, push one ticket and pop the best (no filter); bare heapq pushes and pops the same"
            " priority tuples; contenders alternate in every round, best round each, in CPU time.",
            "",
            "| n waiting | lanes | TicketQueue | heapq, same keys | TicketQueue / heapq | met |",
            "|---|---|---|---|---|---|",
        ]
        for n, row in result["push_pop"].items():
            for layout, figures in row.items():
                lines.append(
                    f"| {int(n):,} | {layout} | {figures['TicketQueue']:.2f} | {figures['heapq push/pop, same keys']:.3f}"
                    f" | {figures['ratio']:.2f}x | {'yes' if figures['ratio'] <= 3 else '**no**'} |"
                )
    positions = result["positions"]
    lines += [
        "",
        f"`position()` at n = {result['params']['positions_n']:,}:"
        f" first call (builds the index) {positions['first_call_ms']:.1f} ms,"
        f" then {positions['per_poll_us']:.2f} us per call; with the index kept, the mixed workload costs"
        f" {positions['op_us_with_index']:.2f} us/op instead of {positions['op_us_without_index']:.2f}.",
    ]
    return lines


def plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """``queue_scaling.png``: TicketQueue's and the heapq floor's us/op
    against n, log-log, with an O(log n) reference.  O(sizes).

    >>> plots({"sizes": {"10": {}}}, Path("unused"))
    []
    """
    sizes = [int(n) for n in result["sizes"]]
    if len(sizes) < 2:
        return []
    series = {name: [result["sizes"][str(n)][name] for n in sizes] for name in ("TicketQueue", "heapq tuple push/pop")}
    written = loglog_plot(
        out_dir / "queue_scaling.png",
        "TicketQueue mixed workload, time per operation",
        sizes,
        series,
        ylabel="microseconds per operation",
        reference="TicketQueue",
    )
    return [written] if written is not None else []
