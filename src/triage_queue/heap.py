"""An indexed priority queue: a mutable mapping from keys to priorities that
hands out the key with the smallest priority first.

Design
------
The heap proper is a plain ``list`` kept in order by the C functions of
:mod:`heapq`; sifting in C is what makes this about twice as fast as the
pure-Python sift loops of ``pqdict`` and ``heapdict``.  Each heap entry is an
immutable tuple ``(priority, sequence, key)`` and a dict maps every live key to
its current entry.  Re-prioritising or removing a key only replaces or drops
its dict entry: the old tuple stays in the list as a *dead* entry, recognised
because the dict no longer points at it (an identity test, so keys are never
compared).  Dead entries are skipped when they reach the top, and the list is
compacted in one O(n) pass whenever dead entries outnumber live ones, so memory
stays within twice the live size and every operation is O(log n) amortised.

The sequence number is given when a key is first inserted and kept when it is
re-prioritised, so keys of equal priority leave in the order they were first
inserted (the heap is *stable*) and priorities that compare equal never cause
keys to be compared.

>>> h = IndexedHeap([("b", 2), ("a", 1)])
>>> h["c"] = 0
>>> h["a"] = 5          # re-prioritise
>>> [h.pop() for _ in range(len(h))]
['c', 'b', 'a']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from heapq import heapify, heappop, heappush
from typing import Any, Generic, NoReturn, Protocol, TypeVar, overload

from triage_queue.errors import DuplicateKey, Empty, InvalidArgument, InvalidPriority, UnknownKey, _bad_key, _brief, _brief_text

__all__ = ["IndexedHeap"]


class _Comparable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K")
P = TypeVar("P", bound=_Comparable)
D = TypeVar("D")

_MISSING: Any = object()

# Below this many entries compaction is not worth a pass over the list.
_COMPACT_FLOOR = 64


class IndexedHeap(MutableMapping[K, P], Generic[K, P]):
    """A min-priority queue indexed by key, usable as a ``MutableMapping``.

    Adding: ``h[key] = priority`` (insert or re-prioritise), :meth:`push`
    (insert only).  Removing: :meth:`pop`, :meth:`popitem`, ``del h[key]``,
    :meth:`clear`.  Looking up: ``h[key]``, :meth:`peek`, :meth:`peekitem`,
    ``key in h``, ``len(h)``.  Iterating: ``iter(h)`` yields keys in insertion
    order (like a dict); :meth:`ordered_items` yields them by priority.

    Priorities must be mutually comparable with ``<`` (including with a key's
    earlier priorities, which linger until compaction); keys must be hashable
    and are never compared: an unhashable key raises
    :class:`~triage_queue.errors.InvalidKey` (an ``InvalidArgument`` and a
    ``TypeError``) naming ``key``.  Equal priorities leave in first-insertion order.
    A float NaN priority is rejected; a NaN hidden inside a tuple cannot be
    detected cheaply and would misorder the heap, so do not use one.
    Not thread-safe: guard it with a lock if several threads share it.

    Runtime complexity: construction from n items O(n); push, re-prioritise,
    pop and delete O(log n) amortised; lookups O(1).

    >>> h = IndexedHeap({"x": 3, "y": 1})
    >>> h.peekitem()
    ('y', 1)
    >>> len(h), "x" in h
    (2, True)
    """

    __slots__ = ("_dead", "_heap", "_index", "_next_seq")

    def __init__(self, items: Mapping[K, P] | Iterable[tuple[K, P]] = ()) -> None:
        """Build a heap from a mapping or from ``(key, priority)`` pairs.

        A key given twice keeps its first position among equals and its last
        priority, as ``dict`` would.  Raises :class:`InvalidPriority` if a
        priority is NaN or the priorities cannot be compared,
        :class:`InvalidArgument` naming ``items`` if ``items`` is neither a
        mapping nor an iterable of pairs, and :class:`InvalidKey` for an
        unhashable key.

        Runtime complexity: O(n).

        >>> IndexedHeap([("a", 2), ("b", 1), ("a", 0)]).popitem()
        ('a', 0)
        >>> IndexedHeap(5)
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidArgument: items=5: expected a mapping, or an iterable of (key, priority) pairs
        """
        expected = "expected a mapping, or an iterable of (key, priority) pairs"
        if isinstance(items, str | bytes):
            raise InvalidArgument("items", items, expected)
        try:
            pairs = iter(items.items() if isinstance(items, Mapping) else items)
        except Exception:  # not iterable
            raise InvalidArgument("items", items, expected) from None
        index: dict[K, tuple[P, int, K]] = {}
        seq = 0
        for pair in pairs:
            try:
                key, priority = pair
            except Exception:  # not a pair
                raise InvalidArgument("items", items, f"{expected}; got the item {_brief(pair)}") from None
            _check_priority(key, priority)
            try:
                old = index.get(key)
            except Exception as exc:
                raise _bad_key("key", key, exc) from exc
            if old is None:
                index[key] = (priority, seq, key)
                seq += 1
            else:
                index[key] = (priority, old[1], key)
        heap = list(index.values())
        try:
            heapify(heap)
        except Exception as exc:
            raise InvalidPriority(
                "priority", [e[0] for e in heap[:5]], f"priorities cannot be compared: {_brief_text(exc)}"
            ) from exc
        self._heap = heap
        self._index = index
        self._next_seq = seq
        self._dead = 0

    # -- adding -------------------------------------------------------------

    def __setitem__(self, key: K, priority: P) -> None:
        """Insert ``key`` or change its priority.

        A re-prioritised key keeps its place among keys of equal priority.

        Runtime complexity: O(log n) amortised.

        >>> h = IndexedHeap({"a": 1})
        >>> h["a"] = 7
        >>> h["a"]
        7
        """
        index = self._index
        if type(priority) is float and priority != priority:
            raise InvalidPriority("priority", priority, f"NaN cannot be ordered (key {_brief(key)})")
        try:
            old = index.get(key)
        except Exception as exc:  # unhashable: checked only when it fails
            raise _bad_key("key", key, exc) from exc
        if old is None:
            entry = (priority, self._next_seq, key)
            try:
                heappush(self._heap, entry)
            except Exception as exc:
                self._undo_push(entry, exc)
            self._next_seq += 1
            index[key] = entry
            return
        entry = (priority, old[1], key)
        try:
            heappush(self._heap, entry)
        except Exception as exc:
            self._undo_push(entry, exc)
        index[key] = entry
        self._dead += 1
        if self._dead > _COMPACT_FLOOR and self._dead > len(index):
            self._compact()

    def set_tied(self, key: K, priority: P, tie: int) -> None:
        """Insert ``key`` or change its priority, like ``h[key] = priority``,
        but with ``tie`` (an int; smaller leaves first) deciding its order
        among keys of equal priority instead of first-insertion order.  Give
        keys distinct ties (an arrival number, say): the order then follows
        from the priorities and ties alone, not from the heap's history.  Do
        not mix with ``h[key] = priority`` for keys of equal priority.

        Runtime complexity: O(log n) amortised.

        >>> h = IndexedHeap()
        >>> h.set_tied("late", 5, tie=9); h.set_tied("early", 5, tie=2)
        >>> [h.pop() for _ in range(len(h))]
        ['early', 'late']
        """
        index = self._index
        if type(priority) is float and priority != priority:
            raise InvalidPriority("priority", priority, f"NaN cannot be ordered (key {_brief(key)})")
        try:
            old = index.get(key)
        except Exception as exc:  # unhashable: checked only when it fails
            raise _bad_key("key", key, exc) from exc
        entry = (priority, tie, key)
        try:
            heappush(self._heap, entry)
        except Exception as exc:
            self._undo_push(entry, exc)
        index[key] = entry
        if tie >= self._next_seq:
            self._next_seq = tie + 1
        if old is not None:
            self._dead += 1
            if self._dead > _COMPACT_FLOOR and self._dead > len(index):
                self._compact()

    def load_tied(self, items: Iterable[tuple[K, P, int]]) -> None:
        """Fill this empty heap with ``(key, priority, tie)`` triples, as
        :meth:`set_tied` for each would, in one heapify.  Keys must be
        distinct and hashable, priorities comparable and not NaN (not
        checked: for data this library wrote).  Raises ``ValueError`` if the
        heap is not empty.

        Runtime complexity: O(n).

        >>> h = IndexedHeap()
        >>> h.load_tied([("b", 5, 1), ("a", 5, 0), ("c", 1, 2)])
        >>> [h.pop() for _ in range(len(h))]
        ['c', 'a', 'b']
        """
        if self._index:
            raise ValueError("load_tied fills an empty heap")
        index = {key: (priority, tie, key) for key, priority, tie in items}
        heap = list(index.values())
        heapify(heap)
        self._heap = heap
        self._index = index
        self._dead = 0
        self._next_seq = max(self._next_seq, max((entry[1] for entry in heap), default=-1) + 1)

    def push(self, key: K, priority: P) -> None:
        """Insert a new ``key``; raise :class:`DuplicateKey` if it is present.

        Runtime complexity: O(log n).

        >>> h = IndexedHeap()
        >>> h.push("a", 1)
        >>> h.push("a", 2)
        Traceback (most recent call last):
        ...
        triage_queue.errors.DuplicateKey: duplicate key 'a': already present
        """
        try:
            present = key in self._index
        except Exception as exc:
            raise _bad_key("key", key, exc) from exc
        if present:
            raise DuplicateKey(key)
        self[key] = priority

    def _undo_push(self, entry: tuple[P, int, K], exc: Exception) -> NoReturn:
        # heappush appended the entry and may have half-sifted it: take it out
        # again and restore the heap, so a failed push changes nothing.  Any
        # exception a comparison raises counts (Decimal('NaN') raises
        # InvalidOperation, not TypeError).
        heap = self._heap
        for i in range(len(heap) - 1, -1, -1):
            if heap[i] is entry:
                del heap[i]
                break
        heapify(heap)
        raise InvalidPriority(
            "priority", entry[0], f"cannot be compared with the others (key {_brief(entry[2])}): {_brief_text(exc)}"
        ) from exc

    # -- removing -----------------------------------------------------------

    def popitem(self) -> tuple[K, P]:
        """Remove and return the ``(key, priority)`` with the smallest priority.

        Raises :class:`Empty` (a ``KeyError``) if the heap is empty.

        Runtime complexity: O(log n) amortised.

        >>> IndexedHeap({"a": 2, "b": 1}).popitem()
        ('b', 1)
        """
        heap = self._heap
        index = self._index
        while heap:
            entry = heappop(heap)
            key = entry[2]
            if index.get(key) is entry:
                del index[key]
                if not index:
                    # Only dead entries can remain: drop them at once.
                    heap.clear()
                    self._dead = 0
                return key, entry[0]
            self._dead -= 1
        raise Empty("pop from an empty IndexedHeap")

    @overload
    def pop(self) -> K: ...
    @overload
    def pop(self, key: K) -> P: ...
    @overload
    def pop(self, key: K, default: P | D) -> P | D: ...

    def pop(self, key: Any = _MISSING, default: Any = _MISSING) -> Any:
        """Without arguments, remove and return the key with the smallest
        priority (raise :class:`Empty` if none).  With a key, remove it and
        return its priority, as ``dict.pop`` does (``default`` if absent,
        otherwise :class:`UnknownKey`).

        Runtime complexity: O(log n) amortised without a key, O(1) amortised
        with one.

        >>> h = IndexedHeap({"a": 2, "b": 1, "c": 3})
        >>> h.pop(), h.pop("c"), h.pop("zz", None)
        ('b', 3, None)
        """
        if key is _MISSING:
            return self.popitem()[0]
        try:
            entry = self._index.get(key)
        except Exception as exc:
            raise _bad_key("key", key, exc) from exc
        if entry is None:
            if default is _MISSING:
                raise UnknownKey(key)
            return default
        self._discard(key)
        return entry[0]

    def __delitem__(self, key: K) -> None:
        """Remove ``key``; raise :class:`UnknownKey` (a ``KeyError``) if absent.

        Runtime complexity: O(1) amortised (the heap entry is dropped lazily).

        >>> h = IndexedHeap({"a": 1, "b": 2})
        >>> del h["a"]
        >>> list(h)
        ['b']
        """
        try:
            present = key in self._index
        except Exception as exc:
            raise _bad_key("key", key, exc) from exc
        if not present:
            raise UnknownKey(key)
        self._discard(key)

    def _discard(self, key: K) -> None:
        index = self._index
        del index[key]
        if not index:
            self._heap.clear()
            self._dead = 0
            return
        self._dead += 1
        if self._dead > _COMPACT_FLOOR and self._dead > len(index):
            self._compact()

    def clear(self) -> None:
        """Remove every key.

        Runtime complexity: O(n).

        >>> h = IndexedHeap({"a": 1})
        >>> h.clear(); len(h)
        0
        """
        self._heap.clear()
        self._index.clear()
        self._dead = 0

    def _compact(self) -> None:
        index = self._index
        live = [entry for entry in self._heap if index.get(entry[2]) is entry]
        heapify(live)
        self._heap = live
        self._dead = 0

    # -- looking up ---------------------------------------------------------

    def __getitem__(self, key: K) -> P:
        """Return the priority of ``key``; :class:`UnknownKey` if absent.

        Runtime complexity: O(1).

        >>> IndexedHeap({"a": 1})["a"]
        1
        """
        try:
            entry = self._index.get(key)
        except Exception as exc:
            raise _bad_key("key", key, exc) from exc
        if entry is None:
            raise UnknownKey(key)
        return entry[0]

    def peekitem(self) -> tuple[K, P]:
        """Return the ``(key, priority)`` with the smallest priority without
        removing it; raise :class:`Empty` if the heap is empty.

        Runtime complexity: O(1) amortised (it may discard dead entries).

        >>> IndexedHeap({"a": 2, "b": 1}).peekitem()
        ('b', 1)
        """
        heap = self._heap
        index = self._index
        while heap:
            entry = heap[0]
            if index.get(entry[2]) is entry:
                return entry[2], entry[0]
            heappop(heap)
            self._dead -= 1
        raise Empty("peek into an empty IndexedHeap")

    def peek(self) -> K:
        """Return the key with the smallest priority without removing it.

        Runtime complexity: O(1) amortised.

        >>> IndexedHeap({"a": 2, "b": 1}).peek()
        'b'
        """
        return self.peekitem()[0]

    def __len__(self) -> int:
        """Number of keys.  Runtime complexity: O(1)."""
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is present; :class:`InvalidKey` if it is
        unhashable (as ``dict`` raises ``TypeError``).  Runtime complexity: O(1)."""
        try:
            return key in self._index
        except Exception as exc:
            raise _bad_key("key", key, exc) from exc

    # -- iterating ----------------------------------------------------------

    def __iter__(self) -> Iterator[K]:
        """Iterate over keys in first-insertion order, like a dict.

        Runtime complexity: O(1) per key.
        """
        return iter(self._index)

    def ordered_items(self) -> list[tuple[K, P]]:
        """Return every ``(key, priority)`` in the order :meth:`popitem` would
        remove them, without changing the heap.

        Runtime complexity: O(n log n).

        >>> IndexedHeap({"a": 2, "b": 1, "c": 2}).ordered_items()
        [('b', 1), ('a', 2), ('c', 2)]
        """
        return [(entry[2], entry[0]) for entry in sorted(self._index.values())]

    def copy(self) -> IndexedHeap[K, P]:
        """Return a shallow copy with the same order among equal priorities.

        Runtime complexity: O(n).
        """
        clone: IndexedHeap[K, P] = IndexedHeap()
        clone._index = dict(self._index)
        clone._heap = list(clone._index.values())
        heapify(clone._heap)
        clone._next_seq = self._next_seq
        return clone

    def __repr__(self) -> str:
        items = ", ".join(f"{k!r}: {p!r}" for k, p in self.ordered_items())
        return f"{type(self).__name__}({{{items}}})"

    def _check(self) -> None:
        """Assert every internal invariant (used by the test suite)."""
        heap = self._heap
        index = self._index
        for i in range(1, len(heap)):
            assert not heap[i] < heap[(i - 1) >> 1], f"heap order broken at {i}"
        live = [entry for entry in heap if index.get(entry[2]) is entry]
        assert len(live) == len(index), "an indexed entry is missing from the heap"
        assert len(heap) - len(live) == self._dead, "dead-entry count is wrong"
        assert self._dead <= max(_COMPACT_FLOOR, len(index)), "compaction overdue"
        for key, entry in index.items():
            assert entry[2] == key and entry[1] < self._next_seq


def _check_priority(key: Any, priority: Any) -> None:
    if type(priority) is float and priority != priority:
        raise InvalidPriority("priority", priority, f"NaN cannot be ordered (key {_brief(key)})")
