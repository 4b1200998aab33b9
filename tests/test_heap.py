"""Tests of IndexedHeap against a reference model, as a state machine, and on
every error path."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from strategies import HEAP_KEYS, heap_keys, priorities
from triage_queue import DuplicateKey, Empty, IndexedHeap, InvalidPriority, TriageError, UnknownKey

# -- reference model ---------------------------------------------------------


class HeapModel:
    """The obvious specification: key -> (priority, first-insertion number).

    Pops follow (priority, first-insertion number); iteration follows dict
    (first-insertion) order.  A removed key that comes back is a new insertion.
    """

    def __init__(self) -> None:
        self.entries: dict[Any, tuple[Any, int]] = {}
        self.seq = 0

    def set(self, key: Any, priority: Any) -> None:
        old = self.entries.get(key)
        if old is None:
            self.entries[key] = (priority, self.seq)
            self.seq += 1
        else:
            self.entries[key] = (priority, old[1])

    def ordered(self) -> list[tuple[Any, Any]]:
        ranked = sorted(self.entries.items(), key=lambda kv: (kv[1][0], kv[1][1]))
        return [(k, p) for k, (p, _) in ranked]

    def pop_min(self) -> tuple[Any, Any]:
        key, priority = self.ordered()[0]
        del self.entries[key]
        return key, priority

    def copy(self) -> HeapModel:
        clone = HeapModel()
        clone.entries = dict(self.entries)
        clone.seq = self.seq
        return clone


def assert_matches(heap: IndexedHeap[Any, Any], model: HeapModel) -> None:
    """The heap is internally consistent and agrees with the model on
    everything a user can observe."""
    heap._check()
    assert len(heap) == len(model.entries)
    assert list(heap) == list(model.entries)
    assert heap.ordered_items() == model.ordered()
    for key, (priority, _) in model.entries.items():
        assert key in heap
        assert heap[key] == priority
    for key in HEAP_KEYS:
        if key not in model.entries:
            assert key not in heap
            assert heap.get(key) is None


def snapshot(heap: IndexedHeap[Any, Any]) -> tuple[Any, ...]:
    """Everything observable about a heap, to compare before/after a failed call."""
    heap._check()
    return (len(heap), list(heap), heap.ordered_items(), dict(heap))


# -- operation interpreter used by the random-sequence property --------------

OPS = st.one_of(
    st.tuples(st.just("set"), heap_keys(), priorities()),
    st.tuples(st.just("push"), heap_keys(), priorities()),
    st.tuples(st.just("pop")),
    st.tuples(st.just("pop_key"), heap_keys()),
    st.tuples(st.just("pop_default"), heap_keys()),
    st.tuples(st.just("popitem")),
    st.tuples(st.just("peekitem")),
    st.tuples(st.just("peek")),
    st.tuples(st.just("del"), heap_keys()),
    st.tuples(st.just("get"), heap_keys()),
    st.tuples(st.just("contains"), heap_keys()),
    st.tuples(st.just("clear")),
    st.tuples(st.just("copy")),
)

_DEFAULT = object()


def apply_op(heap: IndexedHeap[Any, Any], model: HeapModel, op: tuple[Any, ...]) -> IndexedHeap[Any, Any]:
    """Apply ``op`` to both heap and model, asserting identical results.
    Returns the heap to continue with (``copy`` continues on the copy)."""
    name = op[0]
    if name == "set":
        heap[op[1]] = op[2]
        model.set(op[1], op[2])
    elif name == "push":
        if op[1] in model.entries:
            before = snapshot(heap)
            with pytest.raises(DuplicateKey, match="duplicate key") as info:
                heap.push(op[1], op[2])
            assert info.value.key == op[1]
            assert snapshot(heap) == before
        else:
            heap.push(op[1], op[2])
            model.set(op[1], op[2])
    elif name in ("pop", "popitem", "peek", "peekitem"):
        if not model.entries:
            method = getattr(heap, name)
            with pytest.raises(Empty):
                method()
        elif name == "pop":
            assert heap.pop() == model.pop_min()[0]
        elif name == "popitem":
            assert heap.popitem() == model.pop_min()
        elif name == "peek":
            assert heap.peek() == model.ordered()[0][0]
        else:
            assert heap.peekitem() == model.ordered()[0]
    elif name == "pop_key":
        if op[1] in model.entries:
            assert heap.pop(op[1]) == model.entries.pop(op[1])[0]
        else:
            with pytest.raises(UnknownKey):
                heap.pop(op[1])
    elif name == "pop_default":
        expected = model.entries.pop(op[1])[0] if op[1] in model.entries else _DEFAULT
        assert heap.pop(op[1], _DEFAULT) == expected
    elif name == "del":
        if op[1] in model.entries:
            del heap[op[1]]
            del model.entries[op[1]]
        else:
            with pytest.raises(UnknownKey):
                del heap[op[1]]
    elif name == "get":
        expected = model.entries[op[1]][0] if op[1] in model.entries else None
        assert heap.get(op[1]) == expected
    elif name == "contains":
        assert (op[1] in heap) == (op[1] in model.entries)
    elif name == "clear":
        heap.clear()
        model.entries.clear()
    elif name == "copy":
        clone = heap.copy()
        assert_matches(clone, model)
        # The original must be independent of the copy: drain the original
        # and check the copy is still whole.
        drained = [heap.popitem() for _ in range(len(heap))]
        assert drained == model.ordered()
        assert_matches(clone, model)
        return clone
    else:  # pragma: no cover - the strategy only produces the names above
        raise AssertionError(name)
    return heap


# -- (a) properties against the model ------------------------------------------


@given(st.lists(OPS, max_size=60))
def test_random_operation_sequences_match_the_reference_model(ops: list[tuple[Any, ...]]) -> None:
    """Random operation sequences give the model's results, contents, iteration order and pop order."""
    heap: IndexedHeap[str, Any] = IndexedHeap()
    model = HeapModel()
    for op in ops:
        heap = apply_op(heap, model, op)
        assert_matches(heap, model)
    drained = [heap.popitem() for _ in range(len(heap))]
    assert drained == model.ordered()
    assert len(heap) == 0


@given(st.lists(st.tuples(heap_keys(), priorities()), max_size=30))
def test_construction_from_pairs_equals_inserting_them_in_order(pairs: list[tuple[str, Any]]) -> None:
    """Building from pairs (repeated keys included) equals inserting them one by one: last priority, first place."""
    model = HeapModel()
    for key, priority in pairs:
        model.set(key, priority)
    heap = IndexedHeap(pairs)
    assert_matches(heap, model)
    assert [heap.popitem() for _ in range(len(heap))] == model.ordered()


@given(st.dictionaries(heap_keys(), priorities(), max_size=6))
def test_construction_from_a_mapping_follows_its_order(mapping: dict[str, Any]) -> None:
    """Building from a mapping keeps its order among equal priorities and pops by priority."""
    model = HeapModel()
    for key, priority in mapping.items():
        model.set(key, priority)
    heap = IndexedHeap(mapping)
    assert_matches(heap, model)
    assert dict(heap) == mapping


def test_construction_with_a_repeated_key_keeps_first_position_and_last_priority() -> None:
    """A key given twice keeps its first place among equals and its last priority."""
    heap = IndexedHeap([("a", 1), ("b", 1), ("a", 1), ("c", 0), ("b", 5)])
    assert list(heap) == ["a", "b", "c"]
    assert heap["b"] == 5
    assert heap.ordered_items() == [("c", 0), ("a", 1), ("b", 5)]


def test_copy_is_independent_and_keeps_tie_order() -> None:
    """A copy keeps the tie order, and changes to the copy or the original do not leak into the other."""
    heap = IndexedHeap([("a", 1), ("b", 1), ("c", 1)])
    heap["a"] = 1  # re-prioritised to an equal value: a dead entry now exists
    clone = heap.copy()
    clone["d"] = 0
    del clone["b"]
    heap["c"] = -1
    assert heap.ordered_items() == [("c", -1), ("a", 1), ("b", 1)]
    assert clone.ordered_items() == [("d", 0), ("a", 1), ("c", 1)]
    clone["z"] = 1  # a new key in the copy goes after the existing equals
    assert clone.ordered_items()[-1] == ("z", 1)
    heap._check()
    clone._check()


# -- (b) stateful ------------------------------------------------------------


class IndexedHeapMachine(RuleBasedStateMachine):
    """Drives one heap with random operations, including long bursts of
    re-prioritisation of a few keys so that lazy compaction runs."""

    def __init__(self) -> None:
        super().__init__()
        self.heap: IndexedHeap[str, Any] = IndexedHeap()
        self.model = HeapModel()

    @rule(key=heap_keys(), priority=priorities())
    def set_priority(self, key: str, priority: Any) -> None:
        self.heap[key] = priority
        self.model.set(key, priority)

    @rule(key=heap_keys(), priority=priorities())
    def push(self, key: str, priority: Any) -> None:
        apply_op(self.heap, self.model, ("push", key, priority))

    @rule(
        keys=st.lists(st.sampled_from(HEAP_KEYS[:3]), min_size=1, max_size=4),
        levels=st.lists(priorities(), min_size=1, max_size=6),
        count=st.integers(1, 200),
    )
    def reprioritise_burst(self, keys: list[str], levels: list[Any], count: int) -> None:
        # Up to 200 re-prioritisations of at most three keys: enough dead
        # entries (floor 64) to trigger lazy compaction, often several times.
        for i in range(count):
            key = keys[i % len(keys)]
            priority = levels[(i * 5 + i // len(keys)) % len(levels)]
            self.heap[key] = priority
            self.model.set(key, priority)
            if i % 16 == 0:
                self.heap._check()

    @rule(keys=st.lists(heap_keys(), min_size=1, max_size=40))
    def insert_delete_churn(self, keys: list[str]) -> None:
        # Removing and re-inserting keys leaves dead entries too.
        for key in keys:
            if key in self.model.entries:
                del self.heap[key]
                del self.model.entries[key]
            else:
                self.heap[key] = 0
                self.model.set(key, 0)

    @precondition(lambda self: bool(self.model.entries))
    @rule()
    def pop(self) -> None:
        assert self.heap.pop() == self.model.pop_min()[0]

    @rule()
    def popitem(self) -> None:
        apply_op(self.heap, self.model, ("popitem",))

    @rule()
    def peekitem(self) -> None:
        apply_op(self.heap, self.model, ("peekitem",))
        apply_op(self.heap, self.model, ("peek",))

    @rule(key=heap_keys())
    def pop_key(self, key: str) -> None:
        apply_op(self.heap, self.model, ("pop_key", key))

    @rule(key=heap_keys())
    def pop_default(self, key: str) -> None:
        apply_op(self.heap, self.model, ("pop_default", key))

    @rule(key=heap_keys())
    def delete(self, key: str) -> None:
        apply_op(self.heap, self.model, ("del", key))

    @rule(key=heap_keys())
    def incomparable_priority_changes_nothing(self, key: str) -> None:
        if not self.model.entries:
            return
        before = snapshot(self.heap)
        with pytest.raises(InvalidPriority):
            self.heap[key] = "not a number"
        assert snapshot(self.heap) == before

    @rule()
    def copy(self) -> None:
        clone = self.heap.copy()
        assert_matches(clone, self.model)
        clone["zz"] = -100
        assert "zz" not in self.heap

    @precondition(lambda self: len(self.model.entries) > 4)
    @rule()
    def clear(self) -> None:
        self.heap.clear()
        self.model.entries.clear()

    @invariant()
    def consistent_with_model(self) -> None:
        assert_matches(self.heap, self.model)


IndexedHeapMachine.TestCase.settings = settings(IndexedHeapMachine.TestCase.settings, stateful_step_count=40)
TestIndexedHeapMachine = IndexedHeapMachine.TestCase


def test_lazy_compaction_bounds_the_dead_entries() -> None:
    """Thousands of re-prioritisations keep the internal list within the compaction floor and the order right."""
    heap: IndexedHeap[str, int] = IndexedHeap({"a": 0, "b": 0, "c": 0})
    longest = 0
    for i in range(3000):
        heap["abc"[i % 3]] = (i * 7) % 5
        longest = max(longest, len(heap._heap))
        heap._check()
    assert longest <= len(heap) + 65
    # last priorities set: a=(2997*7)%5=4, b=(2998*7)%5=1, c=(2999*7)%5=3
    assert dict(heap) == {"a": 4, "b": 1, "c": 3}
    assert [heap.pop() for _ in range(3)] == ["b", "c", "a"]


def test_compaction_after_many_deletions_keeps_every_live_key() -> None:
    """Deleting most of a large heap compacts it without losing or reordering any live key."""
    heap = IndexedHeap((i, i % 10) for i in range(1000))
    for i in range(0, 1000, 3):
        heap.pop(i)
    for i in range(1, 1000, 3):
        del heap[i]
    heap._check()
    assert len(heap) == 333
    assert len(heap._heap) - len(heap) <= max(64, len(heap))
    expected = sorted((i for i in range(2, 1000, 3)), key=lambda i: (i % 10, i))
    assert [heap.pop() for _ in range(len(heap))] == expected


# -- (c) stability -----------------------------------------------------------


@given(st.lists(heap_keys(), unique=True, min_size=1), st.integers(-2, 2))
def test_equal_priorities_leave_in_first_insertion_order(keys: list[str], priority: int) -> None:
    """Keys of equal priority are popped in the order they were first inserted."""
    heap: IndexedHeap[str, int] = IndexedHeap()
    for key in keys:
        heap[key] = priority
    assert [heap.pop() for _ in range(len(heap))] == keys


def test_reprioritising_to_an_equal_priority_keeps_the_place() -> None:
    """Re-setting a key to an equal priority (or away and back) keeps its place ahead of later equals."""
    heap = IndexedHeap([("a", 1), ("b", 1), ("c", 1)])
    heap["a"] = 1
    heap["b"] = 9
    heap["b"] = 1
    assert heap.ordered_items() == [("a", 1), ("b", 1), ("c", 1)]
    assert [heap.pop() for _ in range(3)] == ["a", "b", "c"]


def test_a_removed_key_that_returns_goes_behind_its_equals() -> None:
    """A deleted and re-inserted key is a new arrival among equals."""
    heap = IndexedHeap([("a", 1), ("b", 1)])
    del heap["a"]
    heap["a"] = 1
    assert list(heap) == ["b", "a"]
    assert [heap.pop() for _ in range(2)] == ["b", "a"]


class Unorderable:
    """A hashable key that fails the test if it is ever ordered."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unorderable) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __lt__(self, other: object) -> bool:
        raise AssertionError("keys must never be compared")

    __le__ = __gt__ = __ge__ = __lt__

    def __repr__(self) -> str:
        return f"Unorderable({self.name!r})"


def test_keys_are_never_compared() -> None:
    """With equal priorities every operation works without ever ordering the keys, even equal-but-distinct ones."""
    keys = [Unorderable(str(i)) for i in range(100)]
    heap: IndexedHeap[Unorderable, int] = IndexedHeap((k, 1) for k in keys[:50])
    for k in keys[50:]:
        heap.push(k, 1)
    for k in keys[::2]:
        heap[k] = 1
    for k in keys[1::4]:
        heap[Unorderable(k.name)] = 1  # equal, not identical
    heap._check()
    assert heap.peek() is keys[0]
    assert heap.copy().ordered_items() == [(k, 1) for k in keys]
    del heap[keys[0]]
    assert heap.pop(keys[1]) == 1
    assert [heap.pop() for _ in range(len(heap))] == keys[2:]


# -- (d) error paths -------------------------------------------------------------


@pytest.mark.parametrize("method", ["pop", "popitem", "peek", "peekitem"])
def test_empty_heap_raises_empty_which_is_a_key_error(method: str) -> None:
    """pop/popitem/peek/peekitem on an empty heap raise Empty, a KeyError, LookupError and TriageError."""
    heap: IndexedHeap[str, int] = IndexedHeap()
    with pytest.raises(Empty, match="empty IndexedHeap") as info:
        getattr(heap, method)()
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, TriageError)


def test_heap_emptied_by_deletions_raises_empty() -> None:
    """A heap emptied by deletions reports Empty instead of returning a stale, removed key."""
    heap = IndexedHeap({"a": 1, "b": 2})
    heap["a"] = 3
    del heap["a"]
    del heap["b"]
    with pytest.raises(Empty):
        heap.popitem()
    with pytest.raises(Empty):
        heap.peek()


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(lambda h: h["zz"], id="getitem"),
        pytest.param(lambda h: h.__delitem__("zz"), id="delitem"),
        pytest.param(lambda h: h.pop("zz"), id="pop-key"),
    ],
)
def test_unknown_key_raises_unknown_key(action: Any) -> None:
    """Getting, deleting or popping an absent key raises UnknownKey (a KeyError) naming it and changes nothing."""
    heap = IndexedHeap({"a": 1, "b": 0})
    before = snapshot(heap)
    with pytest.raises(UnknownKey, match="unknown key 'zz'") as info:
        action(heap)
    assert info.value.key == "zz"
    assert isinstance(info.value, KeyError)
    assert snapshot(heap) == before


def test_pop_with_default_returns_it_for_an_absent_key() -> None:
    """pop(key, default) returns the default (even None) for an absent key."""
    heap = IndexedHeap({"a": 1})
    assert heap.pop("zz", None) is None
    assert heap.pop("zz", 42) == 42
    assert heap.pop("a", 42) == 1
    assert len(heap) == 0


def test_push_of_a_present_key_raises_duplicate_key_and_changes_nothing() -> None:
    """push() never replaces: a present key raises DuplicateKey and keeps its priority."""
    heap = IndexedHeap({"a": 1, "b": 2})
    before = snapshot(heap)
    with pytest.raises(DuplicateKey, match="duplicate key 'a'") as info:
        heap.push("a", 0)
    assert info.value.key == "a"
    assert isinstance(info.value, KeyError)
    assert snapshot(heap) == before


@pytest.mark.parametrize("key", ["a", "new"], ids=["reprioritise", "insert"])
def test_nan_priority_is_rejected_and_changes_nothing(key: str) -> None:
    """A NaN priority (new or existing key, [] or push) raises InvalidPriority and leaves the heap unchanged."""
    heap = IndexedHeap({"a": 1.0, "b": 2.0})
    before = snapshot(heap)
    with pytest.raises(InvalidPriority, match="NaN") as info:
        heap[key] = math.nan
    assert info.value.field == "priority"
    assert math.isnan(info.value.value)
    assert isinstance(info.value, ValueError)
    assert snapshot(heap) == before
    if key == "new":
        with pytest.raises(InvalidPriority):
            heap.push(key, math.nan)
        assert snapshot(heap) == before


def test_nan_priority_is_rejected_even_in_an_empty_heap() -> None:
    """NaN is refused even where there is nothing to compare it with."""
    heap: IndexedHeap[str, float] = IndexedHeap()
    with pytest.raises(InvalidPriority):
        heap["a"] = math.nan
    assert len(heap) == 0
    heap._check()


def test_construction_with_nan_raises_invalid_priority() -> None:
    """A NaN among the initial priorities is refused at construction."""
    with pytest.raises(InvalidPriority, match="NaN") as info:
        IndexedHeap([("a", 1.0), ("b", math.nan)])
    assert info.value.field == "priority"


@given(
    st.lists(st.tuples(heap_keys(), st.integers(-3, 3)), min_size=1, max_size=20),
    st.lists(heap_keys(), max_size=8),
    st.sampled_from(HEAP_KEYS + ("new",)),
    st.sampled_from(["str", (1, 2), None, 1j]),
)
def test_incomparable_priority_leaves_the_heap_exactly_as_before(
    pairs: list[tuple[str, int]], removed: list[str], key: str, bad: Any
) -> None:
    """After any churn, an incomparable priority raises InvalidPriority and leaves the heap exactly as it was."""
    heap = IndexedHeap(pairs)
    for k, p in pairs:
        heap[k] = p  # re-prioritise: leave dead entries behind
    for k in removed:
        if len(heap) > 1:
            heap.pop(k, None)
    before = snapshot(heap)
    with pytest.raises(InvalidPriority, match="cannot be compared") as info:
        heap[key] = bad
    assert info.value.field == "priority"
    assert info.value.value == bad
    assert isinstance(info.value.__cause__, TypeError)
    assert snapshot(heap) == before
    if key not in heap:
        with pytest.raises(InvalidPriority):
            heap.push(key, bad)
        assert snapshot(heap) == before
    # and the heap keeps working normally afterwards
    assert [heap.popitem() for _ in range(len(heap))] == before[2]


class ExplodingPriority:
    """A priority whose comparisons raise something other than TypeError."""

    def __lt__(self, other: object) -> bool:
        raise ValueError("cannot order this")

    __gt__ = __le__ = __ge__ = __lt__


@pytest.mark.parametrize(
    ("start", "bad"),
    [
        pytest.param({"a": Decimal(1), "b": Decimal(2)}, Decimal("NaN"), id="decimal-nan"),
        pytest.param({"a": 1, "b": 2}, ExplodingPriority(), id="raising-comparison"),
    ],
)
@pytest.mark.parametrize("key", ["a", "new"], ids=["reprioritise", "insert"])
def test_priority_whose_comparison_raises_leaves_the_heap_usable(start: dict[str, Any], bad: Any, key: str) -> None:
    """A priority whose comparison raises any error (Decimal NaN) is InvalidPriority and the heap stays intact."""
    heap = IndexedHeap(start)
    before = snapshot(heap)
    with pytest.raises(InvalidPriority) as info:
        heap[key] = bad
    assert info.value.value is bad
    assert info.value.__cause__ is not None
    assert snapshot(heap) == before
    assert [heap.pop() for _ in range(len(heap))] == [k for k, _ in before[2]]


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([("a", 1), ("b", "x")], id="int-and-str"),
        pytest.param({"a": 1, "b": None, "c": 3}, id="int-and-none"),
        pytest.param([("a", Decimal(1)), ("b", Decimal("NaN"))], id="decimal-nan"),
    ],
)
def test_construction_with_incomparable_priorities_raises_invalid_priority(items: Any) -> None:
    """Initial priorities that cannot be ordered are refused at construction."""
    with pytest.raises(InvalidPriority, match="cannot be compared") as info:
        IndexedHeap(items)
    assert info.value.field == "priority"


def test_mapping_protocol_helpers_work() -> None:
    """The MutableMapping helpers (update, setdefault, get, items, ==, repr) behave as on a dict."""
    heap: IndexedHeap[str, int] = IndexedHeap()
    heap.update({"a": 3, "b": 1})
    assert heap.setdefault("a", 0) == 3
    assert heap.setdefault("c", 2) == 2
    assert heap.get("zz", -1) == -1
    assert dict(heap.items()) == {"a": 3, "b": 1, "c": 2}
    assert heap == {"a": 3, "b": 1, "c": 2}
    assert repr(heap) == "IndexedHeap({'b': 1, 'c': 2, 'a': 3})"
    heap._check()
