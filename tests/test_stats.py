"""WaitHistogram against a reference (the sorted list of every value, with
nearest-rank percentiles): percentiles within the relative precision (or
``floor`` absolute for values below it), exact count/min/max/mean, merging,
bounded memory, and invalid input rejected without a trace."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from triage_queue import InvalidArgument, WaitHistogram

# -- reference ---------------------------------------------------------------------


def exact_rank(p: float, n: int) -> int:
    """Nearest rank, computed exactly: the smallest r >= 1 with r/n >= p/100."""
    return max(1, math.ceil(Fraction(p) * n / 100))


def tolerance(reference: float, precision: float, floor: float) -> float:
    # Relative precision, plus a hair for the rounding of logarithms; values
    # below floor share one bucket, so there the error is absolute.
    if reference < floor:
        return floor
    return precision * reference * (1 + 1e-9) + 1e-300


def snapshot(h: WaitHistogram) -> tuple[Any, ...]:
    return (h.count, h.total, h.min, h.max, h.mean, len(h), tuple(h.percentile(p) for p in range(0, 101, 5)), repr(h))


# -- strategies ----------------------------------------------------------------------

precisions = st.one_of(st.just(0.01), st.sampled_from([0.001, 0.05, 0.25, 1.0]), st.floats(0.001, 1.0))
floors = st.one_of(st.just(0.001), st.sampled_from([1e-6, 0.5, 1.0, 10.0]))
values = st.one_of(
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
    st.integers(0, 10**6),
    st.floats(0, 0.02),  # around and below the default floor
    st.sampled_from([0, 0.0, 1, 60, 3600]),
)
percentiles = st.one_of(st.integers(0, 100), st.floats(0, 100), st.sampled_from([0, 50, 90, 99, 99.9, 100]))


# -- percentiles ---------------------------------------------------------------------


@given(st.lists(values, min_size=1, max_size=300), st.lists(percentiles, min_size=1, max_size=10), precisions, floors)
@example([1.0] * 3 + [1000.0] * 7, [30, 31, 100, 0], 0.01, 0.001)
def test_percentiles_within_precision(data: list[float], ps: list[float], precision: float, floor: float) -> None:
    h = WaitHistogram(precision, floor)
    for v in data:
        h.add(v)
    ordered = sorted(data)
    n = len(ordered)
    for p in ps:
        got = h.percentile(p)
        assert got is not None
        reference = ordered[exact_rank(p, n) - 1]
        note(f"p={p} got={got} reference={reference}")
        assert min(ordered) <= got <= max(ordered), "a percentile outside what was seen"
        assert abs(got - reference) <= tolerance(reference, precision, floor), (
            f"p{p}={got}, reference {reference} (precision {precision}, floor {floor})"
        )


@given(st.lists(values, min_size=1, max_size=300), precisions, floors)
def test_extremes_and_exact_figures(data: list[float], precision: float, floor: float) -> None:
    h = WaitHistogram(precision, floor)
    for v in data:
        h.add(v)
    assert h.count == len(data)
    assert h.min == min(data) and isinstance(h.min, float)
    assert h.max == max(data) and isinstance(h.max, float)
    total = 0.0
    for v in data:
        total += v
    assert h.total == total  # summed in the order added
    assert h.mean == total / len(data)
    assert h.mean == pytest.approx(math.fsum(data) / len(data), rel=1e-9, abs=1e-300)
    # Nearest rank: p0 is the minimum's bucket, p100 the maximum's, both
    # within precision of the exact value.
    for p, exact in ((0, min(data)), (100, max(data))):
        got = h.percentile(p)
        assert got is not None
        assert abs(got - exact) <= tolerance(exact, precision, floor)
    assert 1 <= len(h) <= len(set(data))


def test_empty_histogram() -> None:
    h = WaitHistogram()
    assert h.count == 0 and len(h) == 0
    assert h.mean is None
    for p in (0, 50, 100):
        assert h.percentile(p) is None


def test_one_to_hundred() -> None:
    h = WaitHistogram()
    for seconds in range(1, 101):
        h.add(seconds)
    assert (h.count, h.min, h.max, h.mean) == (100, 1.0, 100.0, 50.5)
    for p in (1, 10, 50, 90, 99, 100):
        assert h.percentile(p) == pytest.approx(p, rel=0.01)


def test_values_below_floor_are_within_floor() -> None:
    h = WaitHistogram(floor=1.0)
    for v in (0.0, 0.1, 0.2, 0.9):
        h.add(v)
    for p in (0, 25, 50, 75, 100):
        got = h.percentile(p)
        assert got is not None and 0.0 <= got <= 0.9


def test_percentile_rank_is_exact() -> None:
    h = WaitHistogram()
    for v in [1.0] * 7 + [1000.0] * 93:
        h.add(v)
    assert h.percentile(7) == pytest.approx(1.0, rel=0.01)  # the 7th smallest of 100 values is 1.0


# -- merging --------------------------------------------------------------------------


@given(st.lists(values, max_size=200), st.lists(values, max_size=200), precisions, floors)
def test_merge_equals_adding_everything(a: list[float], b: list[float], precision: float, floor: float) -> None:
    left, right, both = WaitHistogram(precision, floor), WaitHistogram(precision, floor), WaitHistogram(precision, floor)
    for v in a:
        left.add(v)
        both.add(v)
    for v in b:
        right.add(v)
        both.add(v)
    right_before = snapshot(right)
    left.merge(right)
    assert snapshot(right) == right_before, "merge changed its argument"
    assert left.count == both.count
    assert left.min == both.min and left.max == both.max
    assert len(left) == len(both)
    assert left.total == pytest.approx(both.total, rel=1e-12, abs=1e-12)
    if both.count:
        assert left.mean == pytest.approx(both.mean, rel=1e-12, abs=1e-12)
    for p in [*range(0, 101), 99.9, 0.5]:
        assert left.percentile(p) == both.percentile(p)


def test_merge_with_itself_doubles_counts() -> None:
    h = WaitHistogram()
    for v in (1.0, 2.0, 3.0):
        h.add(v)
    h.merge(h)
    assert (h.count, h.total, h.min, h.max, len(h)) == (6, 12.0, 1.0, 3.0, 3)


@given(st.lists(values, max_size=50), st.lists(values, max_size=50), st.sampled_from(["precision", "floor"]))
def test_merge_rejects_other_settings_and_changes_nothing(a: list[float], b: list[float], differ: str) -> None:
    h = WaitHistogram()
    other = WaitHistogram(precision=0.02) if differ == "precision" else WaitHistogram(floor=0.01)
    for v in a:
        h.add(v)
    for v in b:
        other.add(v)
    before, other_before = snapshot(h), snapshot(other)
    with pytest.raises(InvalidArgument):
        h.merge(other)
    with pytest.raises(InvalidArgument):
        other.merge(h)
    assert snapshot(h) == before
    assert snapshot(other) == other_before


# -- memory ------------------------------------------------------------------------------


def bucket_bound(low: float, high: float, precision: float, floor: float) -> int:
    """Buckets a range of values can use: one below floor, then one per
    factor (1 + 2 precision) from floor up to high, plus one for rounding."""
    if high < floor:
        return 1
    return 1 + math.ceil(math.log(high / max(low, floor)) / math.log1p(2 * precision)) + 1


@pytest.mark.parametrize(
    ("low", "high", "precision", "floor"),
    [
        (0.001, 365 * 86_400.0, 0.01, 0.001),  # a millisecond to a year: "about 2,000 buckets at most"
        (1.0, 1_000.0, 0.01, 0.001),
        (0.0, 5.0, 0.05, 0.1),
        (100.0, 100.5, 0.001, 0.001),
    ],
)
def test_memory_does_not_grow_with_count(low: float, high: float, precision: float, floor: float) -> None:
    rng = random.Random(f"{low}-{high}")
    bound = bucket_bound(low, high, precision, floor)
    h = WaitHistogram(precision, floor)
    sizes = []
    for _ in range(2):
        for _ in range(100_000):
            # Log-uniform where the range allows, so every bucket gets hit.
            if low > 0:
                h.add(math.exp(rng.uniform(math.log(low), math.log(high))))
            else:
                h.add(rng.uniform(low, high))
        h.add(low)
        h.add(high)
        sizes.append(len(h))
        assert len(h) <= bound, f"{len(h)} buckets for values in [{low}, {high}]; at most {bound} expected"
    assert h.count == 200_004
    assert sizes[1] <= bound
    if low == 0.001:
        assert bound <= 2_000


@given(
    st.floats(0, 1e9),
    st.floats(1, 1e6),
    st.lists(st.floats(0, 1), min_size=1, max_size=100),
    precisions,
    floors,
)
def test_bucket_count_bounded_by_range(low: float, factor: float, fractions: list[float], precision: float, floor: float) -> None:
    high = low * factor if low else factor
    h = WaitHistogram(precision, floor)
    for f in fractions:
        h.add(min(high, low + f * (high - low)))
    assert len(h) <= bucket_bound(low, high, precision, floor)


# -- invalid input ---------------------------------------------------------------------------

bad_values = st.one_of(
    st.floats(max_value=-1e-300),
    st.integers(max_value=-1),
    st.sampled_from([math.nan, math.inf, -math.inf, True, False, None, "1", b"1", 1j, [1.0], -0.5]),
)


@given(st.lists(values, max_size=30), bad_values)
def test_add_rejects_invalid_and_changes_nothing(data: list[float], bad: Any) -> None:
    h = WaitHistogram()
    for v in data:
        h.add(v)
    before = snapshot(h)
    with pytest.raises(InvalidArgument):
        h.add(bad)
    assert snapshot(h) == before


bad_percentiles = st.one_of(
    st.floats(max_value=-1e-300),
    st.floats(min_value=100.000001),
    st.integers(max_value=-1),
    st.integers(min_value=101),
    st.sampled_from([math.nan, math.inf, -math.inf, True, False, None, "50", 50j]),
)


@given(st.lists(values, max_size=30), bad_percentiles)
def test_percentile_rejects_invalid_and_changes_nothing(data: list[float], bad: Any) -> None:
    h = WaitHistogram()
    for v in data:
        h.add(v)
    before = snapshot(h)
    with pytest.raises(InvalidArgument):
        h.percentile(bad)
    assert snapshot(h) == before


@pytest.mark.parametrize("precision", [0, 0.0, -0.01, 1.0000001, 2, math.nan, math.inf, True, None, "0.01"])
def test_invalid_precision(precision: Any) -> None:
    with pytest.raises(InvalidArgument):
        WaitHistogram(precision=precision)


@pytest.mark.parametrize("floor", [0, 0.0, -1, math.nan, math.inf, True, None, "0.001"])
def test_invalid_floor(floor: Any) -> None:
    with pytest.raises(InvalidArgument):
        WaitHistogram(floor=floor)


def test_extreme_settings_are_valid() -> None:
    h = WaitHistogram(precision=1, floor=1e-300)
    for v in (0.0, 1e-310, 1e-300, 1.0, 1e5):
        h.add(v)
    assert h.count == 5
    assert h.percentile(0) == pytest.approx(0.0, abs=1e-300)
    assert abs(h.percentile(100) - 1e5) <= 1e5  # type: ignore[operator]
    fine = WaitHistogram(precision=1e-6, floor=1.0)
    for v in (1.0, 1.5, 2.0):
        fine.add(v)
    assert [fine.percentile(p) for p in (0, 50, 100)] == pytest.approx([1.0, 1.5, 2.0], rel=1e-6)


def test_add_huge_finite_value() -> None:
    h = WaitHistogram()
    h.add(1e308)
    assert h.count == 1 and h.max == 1e308
