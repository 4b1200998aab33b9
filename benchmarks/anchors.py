"""The rival priority queues we measure against, behind one tiny interface:
``q[key] = priority`` inserts or re-prioritises, ``q.popitem()`` removes the
smallest.  Each adapter is the way a competent user would drive that library.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

from sortedcontainers import SortedList


class HeapqRecipe:
    """The lazy-deletion priority queue from the ``heapq`` documentation
    ("Priority Queue Implementation Notes"): list entries, a REMOVED marker."""

    _REMOVED = object()

    def __init__(self) -> None:
        self._heap: list[list[Any]] = []
        self._finder: dict[Any, list[Any]] = {}
        self._counter = itertools.count()

    def __setitem__(self, key: Any, priority: Any) -> None:
        finder = self._finder
        if key in finder:
            finder.pop(key)[-1] = self._REMOVED
        entry = [priority, next(self._counter), key]
        finder[key] = entry
        heappush(self._heap, entry)

    def popitem(self) -> tuple[Any, Any]:
        heap = self._heap
        removed = self._REMOVED
        while heap:
            priority, _, key = heappop(heap)
            if key is not removed:
                del self._finder[key]
                return key, priority
        raise KeyError("pop from an empty priority queue")

    def __len__(self) -> int:
        return len(self._finder)


class SortedListDict:
    """A ``SortedList`` of ``(priority, key)`` beside a dict of priorities."""

    def __init__(self) -> None:
        self._sorted: SortedList = SortedList()
        self._priority: dict[Any, Any] = {}

    def __setitem__(self, key: Any, priority: Any) -> None:
        old = self._priority.get(key)
        if old is not None:
            self._sorted.remove((old, key))
        self._priority[key] = priority
        self._sorted.add((priority, key))

    def popitem(self) -> tuple[Any, Any]:
        priority, key = self._sorted.pop(0)
        del self._priority[key]
        return key, priority

    def __len__(self) -> int:
        return len(self._priority)


def factories() -> dict[str, Callable[[], Any]]:
    """Name -> zero-argument constructor, for every structure installed."""
    from triage_queue import IndexedHeap

    found: dict[str, Callable[[], Any]] = {"IndexedHeap": IndexedHeap}
    try:
        from pqdict import pqdict

        found["pqdict"] = pqdict
    except ImportError:  # pragma: no cover - optional anchor
        pass
    try:
        from heapdict import heapdict

        found["heapdict"] = heapdict
    except ImportError:  # pragma: no cover - optional anchor
        pass
    found["heapq recipe"] = HeapqRecipe
    found["SortedList+dict"] = SortedListDict
    return found
