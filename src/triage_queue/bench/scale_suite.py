"""Scenario "scale": cost per operation, its tail, and memory per waiting
ticket, from 10^3 to 10^6 waiting tickets.

At each size n, for TicketQueue it replays the "queue" scenario's mixed
workload (push, update, skill-aware pop) and for IndexedHeap the "heap"
scenario's (push, re-prioritise, pop), timing **every call** on its own, so
that the mean per kind of operation and the tail (p99, p99.9, worst) are
both known.  Each replay runs twice on identical fresh copies:

- ``gc_on``: the garbage collector enabled, as in a default process: with
  n tickets waiting, a full collection walks all of them, and that pause
  lands on whichever call triggers it;
- ``gc_frozen``: ``gc.freeze()`` after loading, which moves everything loaded
  so far out of the collector's sight (what a service can do after start-up).

Memory per waiting ticket is measured with ``tracemalloc`` at each n: what the
queue allocates per ticket pushed (the tickets exist beforehand), plus what
making the ``Ticket`` objects themselves allocated (id and customer strings
included; requirement ``SkillSet`` objects are shared).  The anchors'
time per operation at each n is in the "heap" scenario, measured in the
same run.

>>> from triage_queue._progress import Progress
>>> result = run({"sizes": [200, 400], "ops": 300}, Progress(enabled=False))
>>> sorted(result["sizes"]["200"])
['IndexedHeap', 'TicketQueue', 'memory_bytes_per_ticket']
>>> result["sizes"]["400"]["TicketQueue"]["gc_frozen"]["pop"]["mean"] > 0
True
>>> markdown(result)[0]
'### Scale: per-call cost against the number of waiting tickets, us'
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from triage_queue import IndexedHeap, Ticket, TicketQueue
from triage_queue._progress import Progress
from triage_queue.bench import heap_suite, queue_suite
from triage_queue.bench.suite import loglog_plot, percentiles

__all__ = ["MEMORY_TARGET", "NAME", "TITLE", "latency", "markdown", "memory_per_ticket", "params", "plots", "run"]

NAME = "scale"
TITLE = "Scale: per-call cost and its tail (GC on and frozen), memory per waiting ticket, 10^3..10^6"
MEMORY_TARGET = 400.0
MODES = ("gc_on", "gc_frozen")
QUEUE_KINDS = {queue_suite.PUSH: "push", queue_suite.UPDATE: "update", queue_suite.POP: "pop"}
HEAP_KINDS = {heap_suite.PUSH: "push", heap_suite.UPDATE: "update", heap_suite.POP: "pop"}


def params(quick: bool) -> dict[str, Any]:
    """The sizes this scenario runs at; ``ops`` calls are timed per replay.  O(1).

    >>> params(quick=False)
    {'sizes': [1000, 10000, 100000, 1000000], 'ops': 60000}
    """
    if quick:
        return {"sizes": [1_000, 10_000], "ops": 6_000}
    return {"sizes": [1_000, 10_000, 100_000, 1_000_000], "ops": 60_000}


def memory_per_ticket(fill: list[Ticket]) -> tuple[dict[str, float], TicketQueue]:
    """Bytes per waiting ticket: the queue's own (pushing ``fill``), the
    ``Ticket`` object's (making as many again), and their sum; also return
    the filled queue.  O(n log n).

    >>> memory, queue = memory_per_ticket(queue_suite.make_tickets(100))
    >>> len(queue), memory["total"] == memory["queue_overhead"] + memory["ticket_object"]
    (100, True)
    """
    n = len(fill)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        twins = queue_suite.make_tickets(n)
        ticket_bytes = tracemalloc.get_traced_memory()[0] - base
        del twins
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        queue = queue_suite.new_queue()
        for ticket in fill:
            queue.push(ticket)
        queue_bytes = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    overhead, own = queue_bytes / n, ticket_bytes / n
    return {"queue_overhead": overhead, "ticket_object": own, "total": overhead + own}, queue


def _queue_calls(queue: TicketQueue, plan: queue_suite.Plan) -> list[list[float]]:
    """Replay the queue plan timing every call; seconds per call, by kind."""
    push, update, pop = queue.push, queue.update, queue.pop
    clock = time.perf_counter
    samples: list[list[float]] = [[], [], []]
    for kind, arg in plan:
        if kind == queue_suite.PUSH:
            start = clock()
            push(arg)
            end = clock()
        elif kind == queue_suite.UPDATE:
            start = clock()
            update(arg[0], **arg[1])
            end = clock()
        else:
            start = clock()
            try:  # noqa: SIM105 - no context manager in the timed call
                pop(arg)
            except LookupError:
                pass
            end = clock()
        samples[kind].append(end - start)
    return samples


def _heap_calls(heap: IndexedHeap[int, float], plan: heap_suite.Plan) -> list[list[float]]:
    """Replay the heap plan timing every call; seconds per call, by kind."""
    popitem = heap.popitem
    clock = time.perf_counter
    samples: list[list[float]] = [[], [], []]
    for kind, key, priority in plan:
        if kind == heap_suite.POP:
            start = clock()
            popitem()
            end = clock()
        else:
            start = clock()
            heap[key] = priority
            end = clock()
        samples[kind].append(end - start)
    return samples


def latency(
    load: Callable[[], Any], replay: Callable[[Any], list[list[float]]], kinds: dict[int, str], *, frozen: bool
) -> dict[str, Any]:
    """Load a fresh structure, replay its plan timing every call with the
    collector enabled (and everything loaded frozen out of its sight when
    ``frozen``); per kind: mean, p50, p99, p99.9 and worst, in us.
    O(n log n + ops log n).

    >>> fill, plan = heap_suite.make_plan(50, 90)
    >>> def load():
    ...     return IndexedHeap(fill)
    >>> figures = latency(load, lambda heap: _heap_calls(heap, plan), HEAP_KINDS, frozen=True)
    >>> sorted(figures["pop"])
    ['calls', 'max', 'mean', 'p50', 'p99', 'p99.9']
    """
    structure = load()
    gc.collect()
    if frozen:
        gc.freeze()
    try:
        samples = replay(structure)
    finally:
        if frozen:
            gc.unfreeze()
    figures: dict[str, Any] = {}
    for kind, name in kinds.items():
        us = [seconds * 1e6 for seconds in samples[kind]]
        if us:
            figures[name] = {"calls": len(us), "mean": sum(us) / len(us), **percentiles(us)}
    return figures


def _timer_overhead_us(calls: int = 20_000) -> float:
    """What two perf_counter calls around nothing cost, included in every sample."""
    clock = time.perf_counter
    best = float("inf")
    for _ in range(3):
        start = clock()
        for _ in range(calls):
            clock()
            clock()
        best = min(best, (clock() - start) / calls)
    return best * 1e6


def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Memory and per-call latency (GC on and frozen) of TicketQueue and
    IndexedHeap at every size.  O(sizes * (n log n + ops log n)).
    (Example: the module docstring.)
    """
    ops = params["ops"]
    result: dict[str, Any] = {
        "params": params,
        "memory_target_bytes": MEMORY_TARGET,
        "timer_overhead_us": _timer_overhead_us(),
        "sizes": {},
    }
    for n in params["sizes"]:
        row: dict[str, Any] = {}
        with progress.task(f"scale n={n:,}", total=5) as task:
            fill, plan = queue_suite.make_plan(n, ops)
            memory, loaded = memory_per_ticket(fill)
            row["memory_bytes_per_ticket"] = memory
            task.advance()

            def load_queue(fill: list[Ticket] = fill) -> TicketQueue:
                queue = queue_suite.new_queue()
                for ticket in fill:
                    queue.push(ticket)
                return queue

            def replay_queue(queue: TicketQueue, plan: queue_suite.Plan = plan) -> list[list[float]]:
                return _queue_calls(queue, plan)

            # The queue filled under tracemalloc serves the first replay.
            spare = [loaded]
            row["TicketQueue"] = {
                "gc_on": latency(spare.pop, replay_queue, QUEUE_KINDS, frozen=False),
            }
            task.advance()
            row["TicketQueue"]["gc_frozen"] = latency(load_queue, replay_queue, QUEUE_KINDS, frozen=True)
            task.advance()
            del fill, plan, loaded
            heap_fill, heap_plan = heap_suite.make_plan(n, ops)

            def load_heap(heap_fill: heap_suite.Fill = heap_fill) -> IndexedHeap[int, float]:
                return IndexedHeap(heap_fill)

            def replay_heap(heap: IndexedHeap[int, float], heap_plan: heap_suite.Plan = heap_plan) -> list[list[float]]:
                return _heap_calls(heap, heap_plan)

            row["IndexedHeap"] = {mode: latency(load_heap, replay_heap, HEAP_KINDS, frozen=mode == "gc_frozen") for mode in MODES}
            task.advance(2)
            del heap_fill, heap_plan
        result["sizes"][str(n)] = row
    return result


def markdown(result: dict[str, Any]) -> list[str]:
    """The summary tables: mean and tail per kind and size, GC on and
    frozen; memory per waiting ticket against the target (MEMORY_TARGET, 400 B since issue 10).
    O(sizes).  (Example: the module docstring.)
    """
    lines = [
        "### Scale: per-call cost against the number of waiting tickets, us",
        "",
        f"Every call timed on its own (the timer's own cost, {result['timer_overhead_us']:.2f} us, is included).",
        "`gc_on`: collector enabled; `gc_frozen`: `gc.freeze()` after loading.",
        "",
        "| structure | n | call | mean | p50 | p99 | p99.9, gc_on | p99.9, gc_frozen | worst, gc_on | worst, gc_frozen |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for structure in ("TicketQueue", "IndexedHeap"):
        for n, row in result["sizes"].items():
            on, frozen = row[structure]["gc_on"], row[structure]["gc_frozen"]
            for kind, figures in frozen.items():
                lines.append(
                    f"| {structure} | {int(n):,} | {kind} | {figures['mean']:.2f} | {figures['p50']:.2f} | {figures['p99']:.2f}"
                    f" | {on[kind]['p99.9']:,.1f} | {figures['p99.9']:,.1f} | {on[kind]['max']:,.0f} | {figures['max']:,.0f} |"
                )
    lines += [
        "",
        "(mean, p50 and p99 with the collector frozen.)",
        "",
        f"Memory per waiting ticket (target: at most {result['memory_target_bytes']:.0f} B at 10^6, Ticket included):",
        "",
        "| n | queue overhead | Ticket object | total | vs target |",
        "|---|---|---|---|---|",
    ]
    for n, row in result["sizes"].items():
        memory = row["memory_bytes_per_ticket"]
        lines.append(
            f"| {int(n):,} | {memory['queue_overhead']:.0f} B | {memory['ticket_object']:.0f} B | {memory['total']:.0f} B"
            f" | {memory['total'] / result['memory_target_bytes']:.2f}x |"
        )
    return lines


def plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """``scale_mean.png`` (mean us per call by kind, log-log, O(log n)
    reference), ``scale_tail.png`` (p99.9 and worst, GC on and frozen) and
    ``scale_memory.png`` (bytes per waiting ticket, MEMORY_TARGET line).
    O(sizes).

    >>> plots({"sizes": {"10": {}}}, Path("unused"))
    []
    """
    sizes = [int(n) for n in result["sizes"]]
    if len(sizes) < 2:
        return []
    rows = [result["sizes"][str(n)] for n in sizes]
    mean = {
        f"{structure} {kind}": [row[structure]["gc_frozen"][kind]["mean"] for row in rows]
        for structure in ("TicketQueue", "IndexedHeap")
        for kind in ("push", "update", "pop")
    }
    tail: dict[str, list[float]] = {}
    for mode in MODES:
        figures = [row["TicketQueue"][mode] for row in rows]
        tail[f"p99.9 (slowest kind), {mode}"] = [max(each[kind]["p99.9"] for kind in each) for each in figures]
        tail[f"worst call, {mode}"] = [max(each[kind]["max"] for kind in each) for each in figures]
    memory = {
        name: [row["memory_bytes_per_ticket"][key] for row in rows]
        for name, key in (("total", "total"), ("queue overhead", "queue_overhead"), ("Ticket object", "ticket_object"))
    }
    written = [
        loglog_plot(
            out_dir / "scale_mean.png",
            "Mean cost per call (collector frozen)",
            sizes,
            mean,
            ylabel="microseconds per call",
            reference="TicketQueue pop",
        ),
        loglog_plot(out_dir / "scale_tail.png", "TicketQueue tail latency: GC on vs frozen", sizes, tail, ylabel="microseconds"),
        loglog_plot(
            out_dir / "scale_memory.png",
            "Memory per waiting ticket",
            sizes,
            memory,
            ylabel="bytes",
            hline=(f"target {result['memory_target_bytes']:.0f} B", result["memory_target_bytes"]),
        ),
    ]
    return [path for path in written if path is not None]
