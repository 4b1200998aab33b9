"""IndexedHeap against pqdict, heapdict, SortedList+dict and the heapq recipe.

Workload (per size n): fill the structure with n random priorities, then run
a fixed plan of operations, 40% re-prioritise a random live key, 30% pop the
smallest, 30% push a new key.  The plan is generated once (outside the timed
region) so every structure does exactly the same operations, and the timed
loop is the same two statements for all of them.
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

UPDATE, POP, PUSH = 0, 1, 2


def make_plan(n: int, ops: int, seed: int = 20261123) -> tuple[list[tuple[int, float]], list[tuple[int, int, float]]]:
    """Return the initial fill and an operation plan for a queue of n keys.

    The plan keeps the size near n (pops and pushes balance) and only
    re-prioritises keys that are live at that point of the plan; live keys are
    tracked with a reference heapq so the plan is exact.
    """
    rnd = random.Random(seed)
    fill = [(k, rnd.random()) for k in range(n)]
    from anchors import HeapqRecipe

    ref = HeapqRecipe()
    live: list[int] = []
    where: dict[int, int] = {}
    for k, p in fill:
        ref[k] = p
        where[k] = len(live)
        live.append(k)
    next_key = n
    plan: list[tuple[int, int, float]] = []
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


def time_plan(factory: Callable[[], Any], fill: list[tuple[int, float]], plan: list[tuple[int, int, float]], repeat: int = 3) -> float:
    """Best-of-``repeat`` microseconds per operation of ``plan`` after ``fill``."""
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


def bytes_per_entry(factory: Callable[[], Any], n: int) -> float:
    """Bytes allocated per entry by the structure itself: keys and priorities
    are created before measuring, so only the index overhead is counted."""
    keys = list(range(n))
    prios = [random.random() for _ in range(n)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    q = factory()
    for k, p in zip(keys, prios):
        q[k] = p
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del q
    return (after - before) / n


def heapq_tuple_push_pop(n: int, ops: int, seed: int = 7) -> float:
    """Microseconds per operation of a bare heapq push / pop of plain tuples
    at size n (half pushes, half pops): the floor any Python queue is held to."""
    from heapq import heappop, heappush

    rnd = random.Random(seed)
    heap = [(rnd.random(), i) for i in range(n)]
    heap.sort()
    items = [(rnd.random(), n + i) for i in range(ops // 2)]
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


def run(sizes: list[int], ops: int, repeat: int, memory_n: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    from anchors import factories

    structures = factories()
    results: dict[str, Any] = {"workload": "40% update / 30% pop / 30% push", "ops": ops, "sizes": {}}
    for n in sizes:
        fill, plan = make_plan(n, ops)
        row: dict[str, float] = {}
        for name, factory in structures.items():
            row[name] = time_plan(factory, fill, plan, repeat)
            log(f"  n={n:>8,}  {name:<16} {row[name]:7.3f} us/op")
        row["heapq tuple push/pop"] = heapq_tuple_push_pop(n, ops)
        results["sizes"][str(n)] = row
        del fill, plan
    memory: dict[str, float] = {}
    for name, factory in structures.items():
        memory[name] = bytes_per_entry(factory, memory_n)
        log(f"  memory n={memory_n:,} {name:<16} {memory[name]:6.1f} B/entry")
    results["memory_n"] = memory_n
    results["memory_bytes_per_entry"] = memory
    return results
