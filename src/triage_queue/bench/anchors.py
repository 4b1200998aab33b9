"""The rival priority queues the data-structure scenario measures against.

Each sits behind one tiny interface, :class:`PriorityMap`: ``q[key] = priority``
inserts or re-prioritises, ``q.popitem()`` removes the smallest.  Each adapter
drives its library the way a competent user would.  ``pqdict`` and
``heapdict`` are optional (the ``bench`` extra); :func:`structures` maps them
to ``None`` when they are not installed, so the report can say so.

>>> q = HeapqRecipe()
>>> q["a"], q["b"], q["a"] = 3.0, 2.0, 1.0
>>> q.popitem(), len(q)
(('a', 1.0), 1)
>>> sorted(name for name, factory in structures().items() if factory is not None) >= ["IndexedHeap", "SortedList+dict"]
True
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from heapq import heappop, heappush
from typing import Any, Protocol

from sortedcontainers import SortedList

from triage_queue.ticket import Ticket

__all__ = ["HeapqRecipe", "PriorityMap", "SortedListDict", "first_fit", "structures"]


class PriorityMap(Protocol):
    """What every measured structure offers: set a key's priority, pop the smallest."""

    def __setitem__(self, key: Any, priority: Any, /) -> None: ...

    def popitem(self) -> tuple[Any, Any]: ...

    def __len__(self) -> int: ...


class HeapqRecipe:
    """The lazy-deletion priority queue from the ``heapq`` documentation
    ("Priority Queue Implementation Notes"): list entries, a REMOVED marker.

    Runtime complexity: O(log m) per set and amortised per pop, m being the
    heap's length including entries made stale by re-prioritising.

    >>> q = HeapqRecipe()
    >>> q[1] = 0.5
    >>> q[2] = 0.25
    >>> q.popitem()
    (2, 0.25)
    """

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
        """Remove and return the (key, priority) of the smallest priority.  O(log m) amortised."""
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
    """A ``SortedList`` of ``(priority, key)`` beside a dict of priorities.

    Runtime complexity: O(log n) per set and per pop.

    >>> q = SortedListDict()
    >>> q["x"], q["y"] = 2, 1
    >>> q.popitem(), len(q)
    (('y', 1), 1)
    """

    def __init__(self) -> None:
        self._sorted: SortedList[tuple[Any, Any]] = SortedList()
        self._priority: dict[Any, Any] = {}

    def __setitem__(self, key: Any, priority: Any) -> None:
        old = self._priority.get(key)
        if old is not None:
            self._sorted.remove((old, key))
        self._priority[key] = priority
        self._sorted.add((priority, key))

    def popitem(self) -> tuple[Any, Any]:
        """Remove and return the (key, priority) of the smallest priority.  O(log n)."""
        priority, key = self._sorted.pop(0)
        del self._priority[key]
        return key, priority

    def __len__(self) -> int:
        return len(self._priority)


def first_fit(pq: Any, tickets: Mapping[str, Ticket], skills: Mapping[str, int]) -> tuple[Ticket | None, int]:
    """The hand-written skill scan a team would put behind one lock: pop
    ``pq`` (a pqdict of ticket id -> priority) in priority order until a
    ticket of ``tickets`` whose skills ``skills`` satisfy turns up, push the
    skipped ones back, and return (that ticket or None, tickets looked at).
    The ticket found stays in ``tickets``.

    Runtime complexity: O(s log n) for s tickets skipped.

    >>> from pqdict import pqdict
    >>> from triage_queue import Ticket
    >>> tickets = {"a": Ticket("a", 0.0, skills=["api"]), "b": Ticket("b", 1.0)}
    >>> pq = pqdict({"a": 0, "b": 1})
    >>> found, looked_at = first_fit(pq, tickets, {})
    >>> found.id, looked_at, list(pq)
    ('b', 2, ['a'])
    """
    skipped = []
    found = None
    while pq:
        ticket_id, priority = pq.popitem()
        ticket = tickets[ticket_id]
        if ticket.skills.satisfied_by(skills):
            found = ticket
            break
        skipped.append((ticket_id, priority))
    for ticket_id, priority in skipped:
        pq.additem(ticket_id, priority)
    return found, len(skipped) + 1


def structures() -> dict[str, Callable[[], PriorityMap] | None]:
    """Name -> zero-argument constructor of every measured structure, or
    ``None`` for an optional anchor that is not installed.  O(1).

    >>> list(structures())
    ['IndexedHeap', 'pqdict', 'heapdict', 'heapq recipe', 'SortedList+dict']
    """
    from triage_queue import IndexedHeap

    found: dict[str, Callable[[], PriorityMap] | None] = {"IndexedHeap": IndexedHeap, "pqdict": None, "heapdict": None}
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
