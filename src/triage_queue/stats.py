"""Live statistics: a bounded-memory histogram for wait-time percentiles,
and the snapshot value classes a :class:`~triage_queue.Dispatcher` returns.

>>> h = WaitHistogram()
>>> for seconds in range(1, 101):
...     h.add(seconds)
>>> h.count, h.max, abs(h.percentile(99) - 99) / 99 < 0.01   # within 1% of the exact p99
(100, 100.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import attrs

from triage_queue.errors import InvalidArgument, _finite

__all__ = ["AgentFigures", "GroupFigures", "Statistics", "WaitHistogram"]


# Finer than this, buckets would hold one value each (and the bucket number
# of a wide range of values could overflow).
_MIN_PRECISION = 1e-9


class WaitHistogram:
    """Counts of non-negative values in logarithmic buckets: percentiles
    within ``precision`` (relative) of the exact ones, in memory that grows
    with the *range* of values, never with their number (about 2,000 buckets
    at most for waits from a millisecond to a year at 1%).

    Values below ``floor`` share one bucket (absolute error below ``floor``).  ``min``, ``max``, ``mean`` and
    ``count`` are exact.

    Runtime complexity: add O(1); percentile O(B log B) for B buckets in use.
    """

    __slots__ = ("_buckets", "_floor", "_log_base", "_log_floor", "count", "max", "min", "total")

    def __init__(self, precision: float = 0.01, floor: float = 0.001) -> None:
        """Runtime complexity: O(1)."""
        if isinstance(precision, bool) or not isinstance(precision, int | float) or not _MIN_PRECISION <= precision <= 1:
            raise InvalidArgument("precision", precision, f"expected a relative precision in [{_MIN_PRECISION:g}, 1]")
        if not _finite(InvalidArgument, "floor", floor, "expected a finite number > 0") > 0:
            raise InvalidArgument("floor", floor, "expected a finite number > 0")
        self._floor = float(floor)
        self._log_floor = math.log(self._floor)
        self._log_base = math.log1p(2 * precision)
        self._buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float) -> None:
        """Record one value (seconds, say).

        Raises :class:`InvalidArgument` for a negative, NaN or infinite value.
        Runtime complexity: O(1).
        """
        _add_to_all((self,), value)

    @property
    def mean(self) -> float | None:
        """The exact mean, or None when empty.  Runtime complexity: O(1)."""
        return self.total / self.count if self.count else None

    def percentile(self, p: float) -> float | None:
        """The ``p``-th percentile (0..100, nearest rank), or None when empty.

        Runtime complexity: O(B log B).
        """
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 100:
            raise InvalidArgument("p", p, "expected a percentile 0..100")
        if not self.count:
            return None
        # Exact arithmetic: in floats 7 / 100 * 100 is 7.000000000000001,
        # which would push the rank up by one.
        rank = max(1, math.ceil(Fraction(p) * self.count / 100))
        seen = 0
        for bucket in sorted(self._buckets):
            seen += self._buckets[bucket]
            if seen >= rank:
                return self._representative(bucket)
        return self.max  # pragma: no cover - rank <= count always ends the loop

    def _representative(self, bucket: int) -> float:
        # The geometric middle of the bucket is within the precision of every
        # value in it; the exact extremes keep answers inside what was seen.
        if bucket == 0:
            middle = self._floor / 2
        else:
            try:
                middle = self._floor * math.exp((bucket - 0.5) * self._log_base)
            except OverflowError:  # a tiny floor and values near the largest float
                try:
                    middle = math.exp(self._log_floor + (bucket - 0.5) * self._log_base)
                except OverflowError:
                    middle = math.inf
        return min(max(middle, self.min), self.max)

    def merge(self, other: WaitHistogram) -> None:
        """Add every value of ``other`` (same precision and floor) to this one.

        Runtime complexity: O(B).
        """
        if not isinstance(other, WaitHistogram):
            raise InvalidArgument("other", other, "expected a WaitHistogram")
        if other._floor != self._floor or other._log_base != self._log_base:
            raise InvalidArgument("other", other, "histograms must share precision and floor to merge")
        for bucket, n in other._buckets.items():
            self._buckets[bucket] = self._buckets.get(bucket, 0) + n
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def __len__(self) -> int:
        """Number of buckets in use (the memory it takes).  Runtime complexity: O(1)."""
        return len(self._buckets)

    def __repr__(self) -> str:
        return f"<WaitHistogram: {self.count} value(s) in {len(self)} bucket(s)>"


def _add_to_all(histograms: tuple[WaitHistogram, ...], value: float) -> None:
    # WaitHistogram.add on several histograms at once: the value is checked,
    # and its bucket found, once for all that share precision and floor (a
    # dispatcher records every wait in three).
    if value.__class__ is not float or not 0.0 <= value < math.inf:
        # Any int is converted first: one too large for a float is refused
        # here, before any histogram changes.
        value = _finite(InvalidArgument, "value", value, "expected a finite number >= 0")
        if value < 0:
            raise InvalidArgument("value", value, "expected a finite number >= 0")
    shape: tuple[float, float] | None = None
    bucket = 0
    for histogram in histograms:
        if shape != (histogram._floor, histogram._log_base):
            shape = (histogram._floor, histogram._log_base)
            # log(value) - log(floor), not log(value / floor), which
            # overflows for values near the largest float.
            bucket = 0 if value < shape[0] else 1 + int((math.log(value) - histogram._log_floor) / shape[1])
        buckets = histogram._buckets
        buckets[bucket] = buckets.get(bucket, 0) + 1
        histogram.count += 1
        histogram.total += value
        if value < histogram.min:
            histogram.min = float(value)
        if value > histogram.max:
            histogram.max = float(value)


def _figure(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


@attrs.frozen(slots=True)
class GroupFigures:
    """Figures for one ticket class or skill group, at one instant.

    ``waiting``: tickets in the queue; ``oldest_wait``: seconds the oldest of
    them has waited since ``created_at`` (None if none); ``served``: tickets
    accepted by an agent; ``wait_p50/p90/p99`` and ``wait_max``: seconds from
    ``created_at`` to acceptance of served tickets (None if none);
    ``declined`` and ``expired``: offers of such tickets declined or let
    expire.
    """

    waiting: int
    oldest_wait: float | None
    served: int
    wait_p50: float | None
    wait_p90: float | None
    wait_p99: float | None
    wait_max: float | None
    declined: int
    expired: int

    def as_dict(self) -> dict[str, Any]:
        """Plain data.  Runtime complexity: O(1)."""
        return attrs.asdict(self)


@attrs.frozen(slots=True)
class AgentFigures:
    """One agent's figures: status, load and capacity now, offers made,
    declined and expired, tickets served."""

    status: str
    load: int
    capacity: int
    offered: int
    declined: int
    expired: int
    served: int

    def as_dict(self) -> dict[str, Any]:
        """Plain data.  Runtime complexity: O(1)."""
        return attrs.asdict(self)


@attrs.frozen(slots=True)
class Statistics:
    """A snapshot of a dispatcher's live figures.

    ``by_class`` and ``by_skills`` map a ticket class (see the dispatcher's
    ``classify``) or a skill group (the sorted names of the required skills,
    joined by ``+``; ``"-"`` for none) to :class:`GroupFigures`; ``overall``
    covers every ticket.  ``occupancy`` is the share of the capacity of
    available agents in use (None with no such capacity); ``agents`` maps
    agent id to :class:`AgentFigures`.  ``unroutable`` counts the waiting
    tickets no agent on the roster could ever take.
    """

    now: float
    overall: GroupFigures
    by_class: Mapping[str, GroupFigures]
    by_skills: Mapping[str, GroupFigures]
    occupancy: float | None
    agents: Mapping[str, AgentFigures]
    unroutable: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain data, ready for JSON.  Runtime complexity: O(groups + agents)."""
        return {
            "now": self.now,
            "overall": self.overall.as_dict(),
            "by_class": {k: v.as_dict() for k, v in self.by_class.items()},
            "by_skills": {k: v.as_dict() for k, v in self.by_skills.items()},
            "occupancy": self.occupancy,
            "agents": {k: v.as_dict() for k, v in self.agents.items()},
            "unroutable": self.unroutable,
        }
