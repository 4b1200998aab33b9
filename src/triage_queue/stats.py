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

from triage_queue.errors import (
    _MISSING,
    InvalidArgument,
    _brief,
    _deprecated_as_dict,
    _finite,
    _read_number,
    _unknown_field,
    _wire_items,
    _wire_number,
)
from triage_queue.wire import Reader

__all__ = ["AgentFigures", "GroupFigures", "HourFigures", "OverflowFigures", "RecurringFigures", "Statistics", "WaitHistogram"]


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

    __slots__ = ("_buckets", "_floor", "_log_base", "_log_floor", "_precision", "count", "max", "min", "total")

    def __init__(self, precision: float = 0.01, floor: float = 0.001) -> None:
        """Runtime complexity: O(1)."""
        if isinstance(precision, bool) or not isinstance(precision, int | float) or not _MIN_PRECISION <= precision <= 1:
            raise InvalidArgument("precision", precision, f"expected a relative precision in [{_MIN_PRECISION:g}, 1]")
        if not _finite(InvalidArgument, "floor", floor, "expected a finite number > 0") > 0:
            raise InvalidArgument("floor", floor, "expected a finite number > 0")
        self._precision = float(precision)
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

    def to_dict(self) -> dict[str, Any]:
        """The histogram as plain JSON data (its settings, the non-empty
        buckets in order, and the exact count, total, min and max); what
        :meth:`from_dict` reads back.  Runtime complexity: O(B log B).

        >>> h = WaitHistogram(); h.add(3.0); WaitHistogram.from_dict(h.to_dict()).percentile(50) == h.percentile(50)
        True
        """
        return {
            "precision": self._precision,
            "floor": self._floor,
            "buckets": [[bucket, self._buckets[bucket]] for bucket in sorted(self._buckets)],
            "count": self.count,
            "total": self.total,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
        }

    @classmethod
    def from_dict(cls, data: Any, *, path: str = "histogram") -> WaitHistogram:
        """The histogram :meth:`to_dict` describes, every value checked;
        anything wrong raises :class:`InvalidArgument` naming its path.
        Runtime complexity: O(B).
        """
        r = Reader(data, path)
        histogram = cls(r.real("precision"), r.real("floor"))
        total_count = 0
        for entry in r.seq("buckets").items():
            bucket, count = entry.fields(int, int)
            if count <= 0 or bucket in histogram._buckets:
                raise InvalidArgument(entry.path, entry.data, "expected a new bucket with a positive count")
            histogram._buckets[bucket] = count
            total_count += count
        histogram.count = r.integer("count")
        if histogram.count != total_count:
            raise InvalidArgument(f"{path}.count", histogram.count, f"the buckets hold {total_count} values")
        histogram.total = r.real("total")
        if histogram.count:
            histogram.min, histogram.max = r.real("min"), r.real("max")
        return histogram

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

    @staticmethod
    def add_to_all(histograms: tuple[WaitHistogram, ...], value: float) -> None:
        """:meth:`add` ``value`` to each of ``histograms`` at once: the value
        is checked, and its bucket found, once for all that share precision
        and floor (a dispatcher records every wait in three books).  A bad
        value raises :class:`InvalidArgument` before any histogram changes.

        Runtime complexity: O(len(histograms)).

        >>> a, b = WaitHistogram(), WaitHistogram()
        >>> WaitHistogram.add_to_all((a, b), 12.0)
        >>> a.count, b.count
        (1, 1)
        """
        _add_to_all(histograms, value)


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

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, in field order.  Runtime complexity: O(1).

        >>> GroupFigures(2, 30.0, 5, 10.0, 20.0, 25.0, 26.0, 1, 0).to_dict()["oldest_wait"]
        30.0
        """
        return {name: _wire_number(getattr(self, name)) for name in _GROUP_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupFigures:
        """The figures :meth:`to_dict` describes; anything wrong raises
        :class:`~triage_queue.errors.InvalidArgument` naming the field.
        Runtime complexity: O(len(data)).

        >>> g = GroupFigures(0, None, 0, None, None, None, None, 0, 0)
        >>> GroupFigures.from_dict(g.to_dict()) == g
        True
        """
        return cls(**_read_figures(data, "figures", _GROUP_FIELDS, ""))

    def as_dict(self) -> dict[str, Any]:
        """Deprecated alias of :meth:`to_dict` (warns).  Runtime complexity: O(1)."""
        return _deprecated_as_dict(self)


@attrs.frozen(slots=True)
class OverflowFigures:
    """One overflow rule's figures in :class:`Statistics` (see
    :class:`~triage_queue.OverflowRule`): whether it is on (and since when),
    the group's waiting count, expected wait (seconds; None if infinite) and
    the capacity of its own available agents at the last review, how many
    times it started, and how many offers went to backup agents."""

    active: bool
    since: float | None
    waiting: int
    expected_wait: float | None
    capacity: int
    episodes: int
    offers: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data in field order.  Runtime complexity: O(1).

        >>> OverflowFigures(True, 10.0, 34, 600.0, 12, 1, 5).to_dict()["waiting"]
        34
        """
        return {
            "active": self.active,
            "since": _wire_number(self.since),
            "waiting": self.waiting,
            "expected_wait": _wire_number(self.expected_wait),
            "capacity": self.capacity,
            "episodes": self.episodes,
            "offers": self.offers,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OverflowFigures:
        """The figures :meth:`to_dict` gives; anything wrong raises
        :class:`~triage_queue.errors.InvalidArgument` naming the field.
        Runtime complexity: O(1).

        >>> f = OverflowFigures(False, None, 0, 0.0, 3, 2, 9); OverflowFigures.from_dict(f.to_dict()) == f
        True
        """
        items = _wire_items(InvalidArgument, "overflow", data)
        if set(items) != set(_OVERFLOW_FIELDS):
            raise InvalidArgument("overflow", data, f"expected the fields {', '.join(_OVERFLOW_FIELDS)}")
        active = items["active"]
        if active.__class__ is not bool:
            raise InvalidArgument("overflow.active", active, "expected true or false")
        since, wait = items["since"], items["expected_wait"]
        return cls(
            active,
            None if since is None else _read_number(InvalidArgument, "overflow.since", since, "seconds"),
            _read_count("overflow.waiting", items["waiting"]),
            None if wait is None else _read_number(InvalidArgument, "overflow.expected_wait", wait, "seconds"),
            _read_count("overflow.capacity", items["capacity"]),
            _read_count("overflow.episodes", items["episodes"]),
            _read_count("overflow.offers", items["offers"]),
        )


@attrs.frozen(slots=True)
class AgentFigures:
    """One agent's figures: status, load and capacity now, offers made,
    declined and expired, tickets served (accepted); and its performance
    (see ``docs/analytics.md``): ``handled``, tickets it completed;
    ``handle_mean`` and ``handle_p90``, seconds from acceptance to
    completion of those (None before the first); ``occupancy``, seconds
    spent on assigned tickets over capacity-seconds on the desk while not
    offline (None before any such time); ``sla_met`` and ``sla_missed``,
    tickets with an SLA deadline it accepted by the deadline or after it,
    and ``sla_attainment``, the share met (None before the first).  The
    performance fields default to their empty values, so figures written
    by an older version still read.  On a desk with a strain guard (see
    :class:`~triage_queue.StrainGuard`) also: ``cooling_until`` (the end
    of its cooldown, or None), ``strain`` (why it cools down, or None) and
    ``cooldowns`` (how many it has had); None on other desks."""

    status: str
    load: int
    capacity: int
    offered: int
    declined: int
    expired: int
    served: int
    handled: int = 0
    handle_mean: float | None = None
    handle_p90: float | None = None
    occupancy: float | None = None
    sla_met: int = 0
    sla_missed: int = 0
    sla_attainment: float | None = None
    cooling_until: float | None = None
    strain: str | None = None
    cooldowns: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, in field order; the strain fields only on a desk
        that has a strain guard (``cooldowns`` set).  Runtime complexity: O(1).

        >>> AgentFigures("available", 1, 3, 4, 1, 0, 2).to_dict()["load"]
        1
        >>> cooling = AgentFigures("available", 0, 1, 0, 0, 0, 0, cooling_until=600.0, strain="90 min continuous", cooldowns=1)
        >>> cooling.to_dict()["cooling_until"]
        600.0
        """
        data = {name: _wire_number(getattr(self, name)) for name in _AGENT_BASE_FIELDS}
        if self.cooldowns is not None:
            data["cooling_until"] = _wire_number(self.cooling_until)
            data["strain"] = self.strain
            data["cooldowns"] = self.cooldowns
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentFigures:
        """The figures :meth:`to_dict` describes; anything wrong raises
        :class:`~triage_queue.errors.InvalidArgument` naming the field.
        Runtime complexity: O(len(data)).

        >>> a = AgentFigures("away", 0, 1, 0, 0, 0, 0)
        >>> AgentFigures.from_dict(a.to_dict()) == a
        True
        """
        return cls(**_read_agent(data, ""))

    def as_dict(self) -> dict[str, Any]:
        """Deprecated alias of :meth:`to_dict` (warns).  Runtime complexity: O(1)."""
        return _deprecated_as_dict(self)


@attrs.frozen(slots=True)
class RecurringFigures:
    """A recurring issue of one category (see ``docs/analytics.md``):
    ``detected`` counts the times ``recurring_count`` tickets of the
    category arrived within ``recurring_window`` seconds; ``last_at`` is
    the clock time of the last detection (None if none); ``in_window``,
    the arrivals of the category now counted towards the next detection.

    >>> RecurringFigures(2, 3600.0, 1).to_dict()
    {'detected': 2, 'last_at': 3600.0, 'in_window': 1}
    """

    detected: int
    last_at: float | None
    in_window: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, in field order.  Runtime complexity: O(1)."""
        return {"detected": self.detected, "last_at": _wire_number(self.last_at), "in_window": self.in_window}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecurringFigures:
        """The figures :meth:`to_dict` describes; anything wrong raises
        :class:`~triage_queue.errors.InvalidArgument` naming the field.
        Runtime complexity: O(1).

        >>> RecurringFigures.from_dict({"detected": 1, "last_at": None, "in_window": 0}).detected
        1
        """
        return cls(**_read_figures(data, "recurring figures", _RECURRING_FIELDS, ""))


@attrs.frozen(slots=True)
class HourFigures:
    """One category's figures in one clock hour (``start``: the clock time
    the hour starts, a multiple of 3600): ``arrivals``, tickets submitted;
    ``sla_met`` and ``sla_missed``, tickets with an SLA deadline accepted
    in the hour by or after their deadline.

    >>> h = HourFigures(3600.0, 4, 3, 1); h.sla_attainment, h.to_dict()["sla_attainment"]
    (0.75, 0.75)
    """

    start: float
    arrivals: int
    sla_met: int
    sla_missed: int

    @property
    def sla_attainment(self) -> float | None:
        """The share of SLA tickets answered in time, or None if none.  Runtime complexity: O(1)."""
        answered = self.sla_met + self.sla_missed
        return self.sla_met / answered if answered else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: the fields and ``sla_attainment``.  Runtime complexity: O(1)."""
        return {
            "start": _wire_number(self.start),
            "arrivals": self.arrivals,
            "sla_met": self.sla_met,
            "sla_missed": self.sla_missed,
            "sla_attainment": self.sla_attainment,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HourFigures:
        """The figures :meth:`to_dict` describes (``sla_attainment`` is
        recomputed); anything wrong raises
        :class:`~triage_queue.errors.InvalidArgument` naming the field.
        Runtime complexity: O(1).

        >>> h = HourFigures(0.0, 1, 0, 0); HourFigures.from_dict(h.to_dict()) == h
        True
        """
        items = dict(_wire_items(InvalidArgument, "hour figures", data))
        items.pop("sla_attainment", None)
        values = _read_figures(items, "hour figures", _HOUR_FIELDS, "")
        if values["start"] is None:
            raise InvalidArgument("start", None, "expected the clock time the hour starts")
        return cls(**values)


@attrs.frozen(slots=True)
class Statistics:
    """A snapshot of a dispatcher's live figures.

    ``by_class`` and ``by_skills`` map a ticket class (see the dispatcher's
    ``classify``) or a skill group (the sorted names of the required skills,
    joined by ``+``; ``"-"`` for none; each name quoted as JSON when one
    holds ``+`` or starts with ``"``, or is a lone ``-``) to :class:`GroupFigures`; ``overall``
    covers every ticket.  ``occupancy`` is the share of the capacity of
    available agents in use (None with no such capacity); ``agents`` maps
    agent id to :class:`AgentFigures`.  ``unroutable`` counts the waiting
    tickets no agent on the roster could ever take.  ``overflow`` maps the
    skill of each overflow rule to its :class:`OverflowFigures` (None on a
    desk without overflow rules, and then left out of :meth:`to_dict`);
    ``overflow_active`` counts the rules on (None without rules).
    """

    now: float
    overall: GroupFigures
    by_class: Mapping[str, GroupFigures]
    by_skills: Mapping[str, GroupFigures]
    occupancy: float | None
    agents: Mapping[str, AgentFigures]
    unroutable: int = 0
    recurring: Mapping[str, RecurringFigures] = attrs.field(factory=dict)
    trends: Mapping[str, tuple[HourFigures, ...]] = attrs.field(factory=dict)
    overflow: Mapping[str, OverflowFigures] | None = None
    overflow_active: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.overflow is not None and self.overflow_active is None:
            object.__setattr__(self, "overflow_active", sum(1 for f in self.overflow.values() if f.active))

    def to_dict(self) -> dict[str, Any]:
        """Plain data, ready for strict JSON: the groups and agents as
        :meth:`GroupFigures.to_dict` and :meth:`AgentFigures.to_dict` give
        them, keyed in sorted order (so equal snapshots give equal text).

        Runtime complexity: O((groups + agents) log(groups + agents)).

        >>> empty = GroupFigures(0, None, 0, None, None, None, None, 0, 0)
        >>> Statistics(10.0, empty, {}, {}, None, {}).to_dict()["overall"]["waiting"]
        0
        """
        return {
            "now": _wire_number(self.now),
            "overall": self.overall.to_dict(),
            "by_class": {k: self.by_class[k].to_dict() for k in sorted(self.by_class)},
            "by_skills": {k: self.by_skills[k].to_dict() for k in sorted(self.by_skills)},
            "occupancy": _wire_number(self.occupancy),
            "agents": {k: self.agents[k].to_dict() for k in sorted(self.agents)},
            "unroutable": self.unroutable,
            "recurring": {k: self.recurring[k].to_dict() for k in sorted(self.recurring)},
            "trends": {k: [h.to_dict() for h in self.trends[k]] for k in sorted(self.trends)},
            **(
                {}
                if self.overflow is None
                else {"overflow": {k: f.to_dict() for k, f in self.overflow.items()}, "overflow_active": self.overflow_active}
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Statistics:
        """The snapshot :meth:`to_dict` describes; anything wrong raises
        :class:`~triage_queue.errors.InvalidArgument` naming the field (a
        path such as ``by_class['gold'].served``).

        Runtime complexity: O(groups + agents).

        >>> empty = GroupFigures(0, None, 0, None, None, None, None, 0, 0)
        >>> s = Statistics(10.0, empty, {"gold": empty}, {}, 0.5, {"ana": AgentFigures("available", 1, 3, 4, 1, 0, 2)})
        >>> Statistics.from_dict(s.to_dict()) == s
        True
        """
        items = _wire_items(InvalidArgument, "statistics", data)
        for key, value in items.items():
            if key not in _STATISTICS_FIELDS:
                _unknown_field(InvalidArgument, key, value, _STATISTICS_FIELDS, "a statistics field")
        for key in _STATISTICS_FIELDS:
            if key not in items and key not in _OPTIONAL_STATISTICS:
                raise InvalidArgument(key, _MISSING, f"missing: expected the fields {', '.join(_STATISTICS_FIELDS)}")
        occupancy = items["occupancy"]
        return cls(
            now=_read_number(InvalidArgument, "now", items["now"], "clock seconds"),
            overall=GroupFigures(**_read_figures(items["overall"], "overall", _GROUP_FIELDS, "overall")),
            by_class=_read_groups(items["by_class"], "by_class", GroupFigures, _GROUP_FIELDS),
            by_skills=_read_groups(items["by_skills"], "by_skills", GroupFigures, _GROUP_FIELDS),
            occupancy=None if occupancy is None else _read_number(InvalidArgument, "occupancy", occupancy, "a share"),
            agents=_read_agents(items["agents"]),
            unroutable=_read_count("unroutable", items.get("unroutable", 0)),
            recurring={
                key: RecurringFigures(**_read_figures(value, "RecurringFigures", _RECURRING_FIELDS, f"recurring[{_brief(key)}]"))
                for key, value in _wire_items(InvalidArgument, "recurring", items.get("recurring", {})).items()
            },
            trends={key: _read_hours(value, f"trends[{_brief(key)}]") for key, value in _wire_items(
                InvalidArgument, "trends", items.get("trends", {})).items()},
            overflow=_read_overflow(items.get("overflow")),
        )

    def as_dict(self) -> dict[str, Any]:
        """Deprecated alias of :meth:`to_dict` (warns).  Runtime complexity: as :meth:`to_dict`."""
        return _deprecated_as_dict(self)


_GROUP_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(GroupFigures))
_AGENT_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(AgentFigures))
_AGENT_STRAIN_FIELDS: tuple[str, ...] = ("cooling_until", "strain", "cooldowns")
_AGENT_BASE_FIELDS: tuple[str, ...] = tuple(f for f in _AGENT_FIELDS if f not in _AGENT_STRAIN_FIELDS)
_STATISTICS_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(Statistics))
_RECURRING_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(RecurringFigures))
_HOUR_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(HourFigures))
# Fields that data written by an older version (or by a desk without the
# optional parts) may lack, with their defaults.
_OPTIONAL_STATISTICS = frozenset({"unroutable", "recurring", "trends", "overflow", "overflow_active"})
_OPTIONAL_FIGURES: dict[str, Any] = {
    "handled": 0,
    "handle_mean": None,
    "handle_p90": None,
    "occupancy": None,
    "sla_met": 0,
    "sla_missed": 0,
    "sla_attainment": None,
}
_OVERFLOW_FIELDS: tuple[str, ...] = ("active", "since", "waiting", "expected_wait", "capacity", "episodes", "offers")


def _read_agent(data: Any, prefix: str) -> dict[str, Any]:
    # AgentFigures' keyword arguments: the base fields, and the strain ones if present.
    items = _wire_items(InvalidArgument, prefix or "agent figures", data)
    base = {k: v for k, v in items.items() if k not in _AGENT_STRAIN_FIELDS}
    values = _read_figures(base, "AgentFigures", _AGENT_BASE_FIELDS, prefix)
    if any(k in items for k in _AGENT_STRAIN_FIELDS):
        where = f"{prefix}." if prefix else ""
        until, why, count = items.get("cooling_until"), items.get("strain"), items.get("cooldowns")
        if until is not None:
            until = _read_number(InvalidArgument, where + "cooling_until", until, "seconds")
        values["cooling_until"] = until
        if why is not None and why.__class__ is not str:
            raise InvalidArgument(where + "strain", why, "expected why the agent cools down (a string), or None")
        values["strain"] = why
        values["cooldowns"] = _read_count(where + "cooldowns", count)
    return values


def _read_agents(data: Any) -> Mapping[str, AgentFigures]:
    items = _wire_items(InvalidArgument, "agents", data)
    return {key: AgentFigures(**_read_agent(value, f"agents[{_brief(key)}]")) for key, value in items.items()}


def _read_overflow(data: Any) -> Mapping[str, OverflowFigures] | None:
    if data is None:
        return None
    items = _wire_items(InvalidArgument, "overflow", data)
    return {key: OverflowFigures.from_dict(value) for key, value in items.items()}


# The counts of the figures; the other fields are optional numbers (or, for
# an agent, its status).
_COUNTS = frozenset(
    {
        "waiting", "served", "declined", "expired", "load", "capacity", "offered", "unroutable",
        "handled", "sla_met", "sla_missed", "detected", "in_window", "arrivals",
    }
)  # fmt: skip


def _read_hours(data: Any, path: str) -> tuple[HourFigures, ...]:
    if not isinstance(data, list | tuple):
        raise InvalidArgument(path, data, "expected a list of hour figures")
    hours = []
    for i, entry in enumerate(data):
        items = dict(_wire_items(InvalidArgument, f"{path}[{i}]", entry))
        items.pop("sla_attainment", None)
        values = _read_figures(items, "HourFigures", _HOUR_FIELDS, f"{path}[{i}]")
        if values["start"] is None:
            raise InvalidArgument(f"{path}[{i}].start", None, "expected the clock time the hour starts")
        hours.append(HourFigures(**values))
    return tuple(hours)


def _read_count(field: str, value: Any) -> int:
    if value.__class__ is not int or not 0 <= value < 2**63:
        raise InvalidArgument(field, value, "expected a count: an int 0..2**63-1")
    return int(value)


def _read_figures(data: Any, what: str, fields: tuple[str, ...], prefix: str) -> dict[str, Any]:
    # The keyword arguments of GroupFigures or AgentFigures from plain data;
    # fields are named with their path (by_class['gold'].served).
    def name(field: str) -> str:
        return f"{prefix}.{field}" if prefix else field

    items = _wire_items(InvalidArgument, prefix or what, data)
    for key, value in items.items():
        if key not in fields:
            _unknown_field(InvalidArgument, key, value, fields, f"a field of {what}", prefix=f"{prefix}." if prefix else "")
    values: dict[str, Any] = {}
    for field in fields:
        value = items.get(field, _MISSING)
        if value is _MISSING and field in _OPTIONAL_FIGURES:
            value = _OPTIONAL_FIGURES[field]
        if value is _MISSING:
            raise InvalidArgument(name(field), value, f"missing: expected the fields {', '.join(fields)}")
        if field in _COUNTS:
            values[field] = _read_count(name(field), value)
        elif field == "status":
            if value.__class__ is not str:
                raise InvalidArgument(name(field), value, "expected the agent's status, a string")
            values[field] = value
        elif value is not None:
            values[field] = _read_number(InvalidArgument, name(field), value, "seconds or None")
        else:
            values[field] = None
    return values


def _read_groups(
    data: Any, field: str, kind: type[GroupFigures] | type[AgentFigures], fields: tuple[str, ...]
) -> Mapping[str, Any]:
    items = _wire_items(InvalidArgument, field, data)
    return {key: kind(**_read_figures(value, kind.__name__, fields, f"{field}[{_brief(key)}]")) for key, value in items.items()}
