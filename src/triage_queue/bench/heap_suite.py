"""Scenario "heap": IndexedHeap against pqdict, heapdict, SortedList+dict and
the heapq lazy-deletion recipe, in the same run.

Workload (per size n): fill the structure with n random priorities, then run
a fixed plan of operations, 40% re-prioritise a random live key, 30% pop the
smallest, 30% push a new key.  The plan is generated once (outside the timed
region) so every structure does exactly the same operations, and the timed
loop is the same two statements for all of them.  Times are the best of
``repeat`` runs with the garbage collector paused; a bare ``heapq`` push/pop
of plain tuples at the same size is the floor every Python queue is held to.
Memory per entry counts only what the structure allocates (``tracemalloc``).

>>> from triage_queue._progress import Progress
>>> result = run({"sizes": [200], "ops": 300, "repeat": 1, "memory_n": 200}, Progress(enabled=False))
>>> result["sizes"]["200"]["us_per_op"]["IndexedHeap"] > 0
True
>>> markdown(result)[0]
'### IndexedHeap mixed workload (40% update / 30% pop / 30% push), us/op, lower is better'
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from triage_queue._progress import Progress
from triage_queue.bench.anchors import HeapqRecipe, PriorityMap, structures
from triage_queue.bench.suite import loglog_plot

__all__ = [
    "NAME",
    "POP",
    "PUSH",
    "TITLE",
    "UPDATE",
    "bytes_per_entry",
    "heapq_tuple_push_pop",
    "make_plan",
    "markdown",
    "params",
    "plots",
    "run",
    "time_plan",
]

NAME = "heap"
TITLE = "IndexedHeap against pqdict, heapdict, SortedList+dict and the heapq recipe"
UPDATE, POP, PUSH = 0, 1, 2
FLOOR = "heapq tuple push/pop"
SUBJECT = "IndexedHeap"

Fill = list[tuple[int, float]]
Plan = list[tuple[int, int, float]]


def params(quick: bool) -> dict[str, Any]:
    """The sizes this scenario runs at.  O(1).

    >>> params(quick=False)["sizes"]
    [1000, 10000, 100000, 1000000]
    """
    if quick:
        return {"sizes": [1_000, 10_000], "ops": 20_000, "repeat": 1, "memory_n": 20_000}
    return {"sizes": [1_000, 10_000, 100_000, 1_000_000], "ops": 200_000, "repeat": 3, "memory_n": 1_000_000}


def make_plan(n: int, ops: int, seed: int = 20261123) -> tuple[Fill, Plan]:
    """Return the initial fill and an operation plan for a queue of n keys.

    The plan keeps the size near n (pops and pushes balance) and only
    re-prioritises keys that are live at that point of the plan; live keys are
    tracked with a reference heapq so the plan is exact.  O((n + ops) log n).

    >>> fill, plan = make_plan(10, 5)
    >>> len(fill), len(plan), {kind for kind, _, _ in plan} <= {UPDATE, POP, PUSH}
    (10, 5, True)
    """
    rnd = random.Random(seed)
    fill = [(k, rnd.random()) for k in range(n)]
    ref = HeapqRecipe()
    live: list[int] = []
    where: dict[int, int] = {}
    for k, p in fill:
        ref[k] = p
        where[k] = len(live)
        live.append(k)
    next_key = n
    plan: Plan = []
    for _ in range(ops):
        r = rnd.random()
        if r < 0.4 and live:
            k = live[rnd.randrange(len(live))]
            p = rnd.random()
            ref[k] = p
            plan.append((UPDATE, k, p))
        elif r < 0.7 and live:
            k, _ = ref.popitem()
            i = where.pop(k)
            last = live.pop()
            if last != k:
                live[i] = last
                where[last] = i
            plan.append((POP, -1, 0.0))
        else:
            k = next_key
            next_key += 1
            p = rnd.random()
            ref[k] = p
            where[k] = len(live)
            live.append(k)
            plan.append((PUSH, k, p))
    return fill, plan


def time_plan(factory: Callable[[], PriorityMap], fill: Fill, plan: Plan, repeat: int = 3) -> float:
    """Best-of-``repeat`` microseconds per operation of ``plan`` after ``fill``.
    O(repeat * (n + ops) log n).

    >>> fill, plan = make_plan(50, 100)
    >>> time_plan(HeapqRecipe, fill, plan, repeat=1) > 0
    True
    """
    best = float("inf")
    for _ in range(repeat):
        q = factory()
        for k, p in fill:
            q[k] = p
        popitem = q.popitem
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            for kind, k, p in plan:
                if kind == POP:
                    popitem()
                else:
                    q[k] = p
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        best = min(best, elapsed)
        del q
    return best / len(plan) * 1e6


def bytes_per_entry(factory: Callable[[], PriorityMap], n: int) -> float:
    """Bytes allocated per entry by the structure itself: keys and priorities
    are created before measuring, so only the index overhead is counted.
    O(n log n).

    >>> bytes_per_entry(HeapqRecipe, 100) > 0
    True
    """
    keys = list(range(n))
    rnd = random.Random(1)
    prios = [rnd.random() for _ in range(n)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        q = factory()
        for k, p in zip(keys, prios, strict=True):
            q[k] = p
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del q
    return (after - before) / n


def heapq_tuple_push_pop(n: int, ops: int, seed: int = 7) -> float:
    """Microseconds per operation of a bare heapq push / pop of plain tuples
    at size n (half pushes, half pops): the floor any Python queue is held to.
    O(n log n + ops log n).

    >>> heapq_tuple_push_pop(100, 200) > 0
    True
    """
    from heapq import heappop, heappush

    rnd = random.Random(seed)
    heap = [(rnd.random(), i) for i in range(n)]
    heap.sort()
    items = [(rnd.random(), n + i) for i in range(max(1, ops // 2))]
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for item in items:
            heappush(heap, item)
            heappop(heap)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed / (2 * len(items)) * 1e6


def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Measure every installed structure at every size, then memory per
    entry at ``memory_n``.  O(sizes * structures * repeat * ops log n).
    (Example: the module docstring.)
    """
    available = structures()
    installed = {name: factory for name, factory in available.items() if factory is not None}
    result: dict[str, Any] = {
        "params": params,
        "workload": "40% update / 30% pop / 30% push",
        "not_installed": sorted(name for name, factory in available.items() if factory is None),
        "sizes": {},
    }
    for name in result["not_installed"]:
        progress.note(f"  {name}: not installed (pip install '.[bench]'), left out")
    for n in params["sizes"]:
        with progress.task(f"heap n={n:,}", total=len(installed) + 1) as task:
            fill, plan = make_plan(n, params["ops"])
            times: dict[str, float] = {}
            for name, factory in installed.items():
                times[name] = time_plan(factory, fill, plan, params["repeat"])
                task.advance()
            times[FLOOR] = heapq_tuple_push_pop(n, params["ops"])
            task.advance()
            del fill, plan
        ours = times[SUBJECT]
        result["sizes"][str(n)] = {
            "us_per_op": times,
            "ratio_to_IndexedHeap": {name: value / ours for name, value in times.items() if name != SUBJECT},
        }
    memory_n = params["memory_n"]
    with progress.task(f"heap memory n={memory_n:,}", total=len(installed)) as task:
        memory: dict[str, float] = {}
        for name, factory in installed.items():
            memory[name] = bytes_per_entry(factory, memory_n)
            task.advance()
    result["memory_bytes_per_entry"] = memory
    sizes = [int(n) for n in result["sizes"]]
    if len(sizes) > 1:
        first, last = result["sizes"][str(sizes[0])]["us_per_op"], result["sizes"][str(sizes[-1])]["us_per_op"]
        result["growth_first_to_last"] = {name: last[name] / first[name] for name in last}
    return result


def markdown(result: dict[str, Any]) -> list[str]:
    """The summary tables: us/op per structure and size, each anchor's time
    as a multiple of IndexedHeap's, memory per entry.  O(sizes * structures).
    (Example: the module docstring.)
    """
    rows = result["sizes"]
    names = list(next(iter(rows.values()))["us_per_op"])
    lines = [
        f"### IndexedHeap mixed workload ({result['workload']}), us/op, lower is better",
        "",
        "| n | " + " | ".join(names) + " | anchor time / IndexedHeap time |",
        "|---" * (len(names) + 2) + "|",
    ]
    for n, row in rows.items():
        cells = [f"{row['us_per_op'][name]:.3f}" for name in names]
        ratios = ", ".join(f"{name} {ratio:.2f}x" for name, ratio in row["ratio_to_IndexedHeap"].items())
        lines.append(f"| {int(n):,} | " + " | ".join(cells) + f" | {ratios} |")
    for name in result["not_installed"]:
        lines.append(f"| {name} | not installed | | |")
    if "growth_first_to_last" in result:
        growth = ", ".join(f"{name} {value:.1f}x" for name, value in result["growth_first_to_last"].items())
        lines += ["", f"Growth of the cost per operation from the smallest to the largest n: {growth}."]
    memory = result["memory_bytes_per_entry"]
    lines += [
        "",
        f"Memory per entry at n = {result['params']['memory_n']:,} (bytes the structure allocates beyond keys and priorities):",
        "",
        "| " + " | ".join(memory) + " |",
        "|---" * len(memory) + "|",
        "| " + " | ".join(f"{value:.1f} B" for value in memory.values()) + " |",
    ]
    return lines


def plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """``heap_scaling.png``: us/op against n for every structure, log-log,
    with an O(log n) reference.  O(sizes * structures).

    >>> plots({"sizes": {"10": {"us_per_op": {"IndexedHeap": 1.0}}}}, Path("unused"))
    []
    """
    sizes = [int(n) for n in result["sizes"]]
    if len(sizes) < 2:
        return []
    names = list(result["sizes"][str(sizes[0])]["us_per_op"])
    series = {name: [result["sizes"][str(n)]["us_per_op"][name] for n in sizes] for name in names}
    written = loglog_plot(
        out_dir / "heap_scaling.png",
        "Mixed workload, time per operation",
        sizes,
        series,
        ylabel="microseconds per operation",
        reference=SUBJECT,
    )
    return [written] if written is not None else []
