"""What a simulation produces: one outcome per ticket, and figures computed
from the outcomes exactly (no histograms, no sampling).

A :class:`SimulationResult` holds every :class:`TicketOutcome`, the queue
length over the day, each agent's occupancy, and :class:`Figures` overall
and per ticket class, skill group, customer tier and severity.

Definitions used throughout:

* **wait** of a ticket: seconds from arrival to being answered (accepted by
  an agent); for an abandoned ticket, to the moment the customer gave up;
  for a ticket never answered, to the end of the simulation.  The wait
  *figures* (percentiles, mean, max) are over **answered** tickets only,
  the "speed of answer" contact centres report.
* **percentiles** are *nearest-rank*: the p-th percentile is the smallest
  observed wait w such that at least p % of the waits are <= w (so it is
  always one of the observed waits; p0 is the minimum, p100 the maximum).
* **SLA attainment**: among tickets with an SLA deadline, the share answered
  by it; abandoned and never-answered tickets count as missed.
* **abandonment**: abandoned tickets / all tickets of the group.
* **occupancy** of an agent: seconds of handling work on tickets it
  answered / seconds on duty (shifts minus breaks, or the whole simulated
  period with no shifts).  It may exceed 1 for an agent with capacity above
  one, or one who works past the end of a shift.
* **fairness** (:class:`Fairness`): unlike the wait figures, over **every**
  ticket's wait (answered, abandoned and never answered alike), so a class
  starved until its customers give up counts as waiting, not as absent.
  Jain's index over the mean waits of the k ticket classes,
  ``(sum x)^2 / (k * sum x^2)``: 1.0 when every class waits the same on
  average, down to 1/k when one class does all the waiting (1.0 when nobody
  waits); and the ratio of the longest wait to the median wait (None when
  the median is 0).

>>> r = SimulationResult.build(
...     policy="fifo", day="tiny", start=0.0, end=100.0,
...     outcomes=[
...         TicketOutcome("T-1", "chat", None, "normal", "-", arrived=0.0, answered=0.0, completed=30.0, agent_id="ana"),
...         TicketOutcome("T-2", "chat", "gold", "normal", "-", arrived=10.0, answered=30.0, completed=60.0, agent_id="ana",
...                       sla_due=20.0),
...     ],
...     agents=[AgentOutcome("ana", served=2, busy=60.0, on_duty=100.0)],
...     queue_length=[(0.0, 0), (60.0, 0), (100.0, 0)], events=6,
... )
>>> r.overall.count, r.overall.wait_max, r.by_tier["gold"].sla_attainment, r.occupancy
(2, 20.0, 0.0, 0.6)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from triage_queue.errors import _deprecated_as_dict
from triage_queue.sim.model import InvalidSimulation

__all__ = [
    "AgentOutcome",
    "Fairness",
    "Figures",
    "SimulationResult",
    "TicketOutcome",
    "erlang_c",
    "erlang_c_wait",
    "nearest_rank",
]

STANDARD_TIER = "standard"
"""The tier label of tickets with no ``customer_tier``."""


def nearest_rank(ordered: tuple[float, ...] | list[float], percent: float) -> float | None:
    """The nearest-rank ``percent``-th percentile of ``ordered`` (sorted
    ascending): the smallest value v with at least ``percent`` % of the
    values <= v.  None for no values.

    Raises :class:`InvalidSimulation` for a percent outside 0..100.
    Runtime complexity: O(1).

    >>> nearest_rank([1.0, 2.0, 3.0, 4.0], 50), nearest_rank([1.0, 2.0, 3.0, 4.0], 51), nearest_rank([], 50)
    (2.0, 3.0, None)
    """
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
        raise InvalidSimulation("percentile", percent, "expected a number 0..100")
    if not ordered:
        return None
    rank = max(1, math.ceil(percent / 100 * len(ordered) - 1e-9))
    return ordered[rank - 1]


@attrs.frozen(slots=True)
class TicketOutcome:
    """What happened to one ticket.

    ``answered`` is when an agent accepted it (None if never), ``completed``
    when the agent finished it, ``abandoned`` when the customer gave up
    (None if not).  ``sla_due`` is the instant it had to be answered by
    (None: no SLA).  ``waited`` is set by the simulator for tickets never
    answered nor abandoned (seconds until the end); leave it None otherwise.

    Runtime complexity: O(1) for every property.

    >>> TicketOutcome("T-1", "chat", None, "normal", "-", arrived=5.0, answered=65.0).wait
    60.0
    """

    ticket_id: str
    ticket_class: str
    tier: str | None
    severity: str
    skill_group: str
    arrived: float
    answered: float | None = None
    completed: float | None = None
    abandoned: float | None = None
    agent_id: str | None = None
    contacts: int = 1
    sla_due: float | None = None
    waited: float | None = None

    @property
    def wait(self) -> float:
        """Seconds waited: until answered, until abandoned, or (never
        answered) until the end of the simulation.  O(1)."""
        if self.answered is not None:
            return self.answered - self.arrived
        if self.abandoned is not None:
            return self.abandoned - self.arrived
        return self.waited if self.waited is not None else 0.0

    @property
    def outcome(self) -> str:
        """``"served"`` (completed), ``"in_service"``, ``"abandoned"`` or
        ``"unanswered"``.  O(1)."""
        if self.completed is not None:
            return "served"
        if self.answered is not None:
            return "in_service"
        if self.abandoned is not None:
            return "abandoned"
        return "unanswered"

    @property
    def tier_name(self) -> str:
        """The tier, or ``"standard"`` for none.  O(1)."""
        return self.tier if self.tier is not None else STANDARD_TIER

    @property
    def sla_target(self) -> float | None:
        """Seconds from arrival to the SLA deadline, or None.  O(1)."""
        return None if self.sla_due is None else self.sla_due - self.arrived

    @property
    def sla_met(self) -> bool | None:
        """True if answered by the SLA deadline, False if answered later,
        abandoned or never answered; None without an SLA.  O(1)."""
        if self.sla_due is None:
            return None
        return self.answered is not None and self.answered <= self.sla_due


@attrs.frozen(slots=True)
class Figures:
    """Service figures of a group of tickets (see the module docstring for
    every definition).  ``waits`` are the answered tickets' waits, sorted.

    Build with :meth:`of`.  Runtime complexity: :meth:`percentile` O(1).

    >>> f = Figures.of([TicketOutcome("T", "c", None, "normal", "-", arrived=0.0, answered=3.0)])
    >>> f.count, f.answered, f.wait_p50, f.percentile(99), f.sla_attainment
    (1, 1, 3.0, 3.0, None)
    """

    count: int
    answered: int
    served: int
    abandoned: int
    unanswered: int
    waits: tuple[float, ...] = attrs.field(repr=False)
    wait_mean: float | None
    wait_p50: float | None
    wait_p90: float | None
    wait_p99: float | None
    wait_max: float | None
    sla_count: int
    sla_met: int

    @classmethod
    def of(cls, outcomes: Iterable[TicketOutcome]) -> Figures:
        """Figures of these outcomes.  Runtime complexity: O(n log n)."""
        count = answered = served = abandoned = sla_count = sla_met = 0
        waits: list[float] = []
        for o in outcomes:
            count += 1
            if o.answered is not None:
                answered += 1
                waits.append(o.answered - o.arrived)
                if o.completed is not None:
                    served += 1
            elif o.abandoned is not None:
                abandoned += 1
            if o.sla_due is not None:
                sla_count += 1
                if o.answered is not None and o.answered <= o.sla_due:
                    sla_met += 1
        waits.sort()
        ordered = tuple(waits)
        return cls(
            count,
            answered,
            served,
            abandoned,
            count - answered - abandoned,
            ordered,
            math.fsum(ordered) / len(ordered) if ordered else None,
            nearest_rank(ordered, 50),
            nearest_rank(ordered, 90),
            nearest_rank(ordered, 99),
            ordered[-1] if ordered else None,
            sla_count,
            sla_met,
        )

    def percentile(self, percent: float) -> float | None:
        """The nearest-rank percentile of the answered waits (None if none).
        Runtime complexity: O(1).

        >>> Figures.of([]).percentile(95) is None
        True
        """
        return nearest_rank(self.waits, percent)

    @property
    def sla_attainment(self) -> float | None:
        """Share of tickets with an SLA answered by it, or None.  O(1)."""
        return self.sla_met / self.sla_count if self.sla_count else None

    @property
    def abandonment(self) -> float | None:
        """Share of tickets abandoned, or None for an empty group.  O(1)."""
        return self.abandoned / self.count if self.count else None

    def as_dict(self) -> dict[str, Any]:
        """Deprecated alias of :meth:`to_dict` (warns).  Runtime complexity: O(1)."""
        return _deprecated_as_dict(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (without the list of waits).  Runtime complexity: O(1).

        >>> Figures.of([]).to_dict()["count"]
        0
        """
        return {
            "count": self.count,
            "answered": self.answered,
            "served": self.served,
            "abandoned": self.abandoned,
            "unanswered": self.unanswered,
            "wait_mean": self.wait_mean,
            "wait_p50": self.wait_p50,
            "wait_p90": self.wait_p90,
            "wait_p99": self.wait_p99,
            "wait_max": self.wait_max,
            "sla_count": self.sla_count,
            "sla_attainment": self.sla_attainment,
            "abandonment": self.abandonment,
        }


@attrs.frozen(slots=True)
class AgentOutcome:
    """One agent over the day: tickets served, seconds of handling work
    (``busy``), seconds on duty, and their ratio (see the module docstring).

    Runtime complexity: O(1).

    >>> AgentOutcome("ana", served=3, busy=1800.0, on_duty=3600.0).occupancy
    0.5
    """

    agent_id: str
    served: int
    busy: float
    on_duty: float

    @property
    def occupancy(self) -> float | None:
        """busy / on_duty, or None if never on duty.  O(1)."""
        return self.busy / self.on_duty if self.on_duty > 0 else None


@attrs.frozen(slots=True)
class Fairness:
    """How evenly waiting is shared, over every ticket's wait, abandoned
    and never-answered tickets included (see the module docstring):
    ``jain_index`` over the ticket classes' mean waits (1.0 = equal; None
    with no tickets) and ``max_to_median`` = longest wait / median wait
    (None when the median is 0 or there are no tickets).

    Runtime complexity: O(1).

    >>> Fairness.of([10.0, 10.0]).jain_index, Fairness.of([10.0, 0.0]).jain_index
    (1.0, 0.5)
    >>> starved = Fairness.of([5.0, 270.0], waits=[5.0, 5.0, 30.0, 510.0])
    >>> round(starved.jain_index, 3), starved.max_to_median
    (0.519, 102.0)
    """

    jain_index: float | None
    max_to_median: float | None

    @classmethod
    def of(cls, class_means: Iterable[float], waits: Iterable[float] | None = None) -> Fairness:
        """From the per-class mean waits and every ticket's wait (in any
        order; None or empty: no ratio).  O(k + n log n) for k classes and
        n waits."""
        means = list(class_means)
        jain: float | None = None
        if means:
            squares = math.fsum(x * x for x in means)
            jain = 1.0 if squares == 0 else math.fsum(means) ** 2 / (len(means) * squares)
        ordered = sorted(waits) if waits is not None else []
        median = nearest_rank(ordered, 50)
        ratio = ordered[-1] / median if median else None
        return cls(jain, ratio)


def _group(outcomes: tuple[TicketOutcome, ...], key: Callable[[TicketOutcome], str]) -> dict[str, Figures]:
    groups: dict[str, list[TicketOutcome]] = {}
    for o in outcomes:
        groups.setdefault(key(o), []).append(o)
    return {name: Figures.of(groups[name]) for name in sorted(groups)}


def _fairness(outcomes: tuple[TicketOutcome, ...], end: float) -> Fairness:
    by_class: dict[str, list[float]] = {}
    waits = []
    for o in outcomes:
        # A never-answered outcome built by hand may lack ``waited``: it
        # waited until the end.
        still_waiting = o.answered is None and o.abandoned is None and o.waited is None
        wait = max(0.0, end - o.arrived) if still_waiting else o.wait
        waits.append(wait)
        by_class.setdefault(o.ticket_class, []).append(wait)
    return Fairness.of((math.fsum(w) / len(w) for w in by_class.values()), waits)


_FILTERS: dict[str, Callable[[TicketOutcome], str]] = {
    "class": lambda o: o.ticket_class,
    "tier": lambda o: o.tier_name,
    "severity": lambda o: o.severity,
    "skills": lambda o: o.skill_group,
    "agent": lambda o: o.agent_id or "",
}


@attrs.frozen(slots=True)
class SimulationResult:
    """Everything one simulation measured.  Build with :meth:`build` (the
    simulator does); every field is immutable.

    ==============  ======================================================
    policy          the policy's name
    day             the simulated day's name
    start, end      first and last instant simulated (seconds)
    outcomes        one :class:`TicketOutcome` per ticket, in arrival order
    agents          one :class:`AgentOutcome` per agent, in roster order
    queue_length    ``(instant, tickets waiting)`` every ``sample_every``
                    seconds from ``start``, and at ``end``; the count after
                    every event at that instant
    events          events the simulation processed (arrivals, completions,
                    abandonments, follow-ups, shift and break changes, and
                    the dispatcher's own timed changes)
    overall         :class:`Figures` of every ticket
    by_class, by_skills, by_tier, by_severity
                    :class:`Figures` per group, keys sorted
    occupancy       total busy seconds / total on-duty seconds, or None
    fairness        :class:`Fairness`
    ==============  ======================================================

    Runtime complexity: :meth:`build` O(n log n) for n tickets.
    """

    policy: str
    day: str
    start: float
    end: float
    outcomes: tuple[TicketOutcome, ...] = attrs.field(repr=False)
    agents: tuple[AgentOutcome, ...] = attrs.field(repr=False)
    queue_length: tuple[tuple[float, int], ...] = attrs.field(repr=False)
    events: int
    overall: Figures = attrs.field(repr=False)
    by_class: Mapping[str, Figures] = attrs.field(repr=False)
    by_skills: Mapping[str, Figures] = attrs.field(repr=False)
    by_tier: Mapping[str, Figures] = attrs.field(repr=False)
    by_severity: Mapping[str, Figures] = attrs.field(repr=False)
    occupancy: float | None
    fairness: Fairness

    @classmethod
    def build(
        cls,
        *,
        policy: str,
        day: str,
        start: float,
        end: float,
        outcomes: Iterable[TicketOutcome],
        agents: Iterable[AgentOutcome],
        queue_length: Iterable[tuple[float, int]],
        events: int,
    ) -> SimulationResult:
        """Compute every figure from the outcomes.  O(n log n)."""
        outs = tuple(outcomes)
        agent_outs = tuple(agents)
        overall = Figures.of(outs)
        by_class = _group(outs, _FILTERS["class"])
        busy = math.fsum(a.busy for a in agent_outs)
        duty = math.fsum(a.on_duty for a in agent_outs)
        fairness = _fairness(outs, end)
        return cls(
            policy,
            day,
            start,
            end,
            outs,
            agent_outs,
            tuple(queue_length),
            events,
            overall,
            _ReadOnly(by_class),
            _ReadOnly(_group(outs, _FILTERS["skills"])),
            _ReadOnly(_group(outs, _FILTERS["tier"])),
            _ReadOnly(_group(outs, _FILTERS["severity"])),
            busy / duty if duty > 0 else None,
            fairness,
        )

    def select(self, **criteria: str) -> Figures:
        """Figures of the tickets matching every criterion: ``class``
        (``ticket_class`` also accepted), ``tier`` (``"standard"`` for none),
        ``severity`` (lower-case name), ``skills`` (skill group, e.g.
        ``"billing+german"``, ``"-"`` for none) or ``agent``.

        Raises :class:`InvalidSimulation` naming an unknown criterion.
        Runtime complexity: O(n log n).

        >>> r = SimulationResult.build(policy="p", day="d", start=0.0, end=1.0, agents=[], queue_length=[], events=0,
        ...     outcomes=[TicketOutcome("T", "chat", "gold", "high", "-", arrived=0.0, answered=1.0)])
        >>> r.select(tier="gold", ticket_class="chat").count, r.select(tier="silver").count
        (1, 0)
        """
        tests = []
        for name, wanted in criteria.items():
            key = _FILTERS.get("class" if name == "ticket_class" else name)
            if key is None:
                raise InvalidSimulation(name, wanted, f"unknown criterion; expected one of {sorted(_FILTERS)}")
            tests.append((key, wanted))
        return Figures.of(o for o in self.outcomes if all(key(o) == wanted for key, wanted in tests))

    def figures_by(self, dimension: str) -> Mapping[str, Figures]:
        """The figures per ``"class"``, ``"skills"``, ``"tier"`` or
        ``"severity"``.  Raises :class:`InvalidSimulation` for another name.
        Runtime complexity: O(1).

        >>> SimulationResult.build(policy="p", day="d", start=0.0, end=0.0, outcomes=[], agents=[],
        ...     queue_length=[], events=0).figures_by("tier")
        {}
        """
        table = {"class": self.by_class, "skills": self.by_skills, "tier": self.by_tier, "severity": self.by_severity}
        found = table.get(dimension)
        if found is None:
            raise InvalidSimulation("dimension", dimension, f"expected one of {sorted(table)}")
        return found

    def outcome(self, ticket_id: str) -> TicketOutcome:
        """The outcome of one ticket.  Raises :class:`InvalidSimulation` for
        an unknown id.  Runtime complexity: O(n).

        >>> SimulationResult.build(policy="p", day="d", start=0.0, end=0.0, outcomes=[], agents=[],
        ...     queue_length=[], events=0).outcome("T-9")
        Traceback (most recent call last):
        ...
        triage_queue.sim.model.InvalidSimulation: ticket_id='T-9': no such ticket in this result
        """
        for o in self.outcomes:
            if o.ticket_id == ticket_id:
                return o
        raise InvalidSimulation("ticket_id", ticket_id, "no such ticket in this result")

    def summary(self) -> dict[str, Any]:
        """Plain, JSON-ready figures (no per-ticket outcomes).
        Runtime complexity: O(groups + agents).

        >>> SimulationResult.build(policy="p", day="d", start=0.0, end=0.0, outcomes=[], agents=[],
        ...     queue_length=[], events=0).summary()["overall"]["count"]
        0
        """
        return {
            "policy": self.policy,
            "day": self.day,
            "start": self.start,
            "end": self.end,
            "events": self.events,
            "occupancy": self.occupancy,
            "fairness": {"jain_index": self.fairness.jain_index, "max_to_median": self.fairness.max_to_median},
            "overall": self.overall.to_dict(),
            "by_class": {k: v.to_dict() for k, v in self.by_class.items()},
            "by_skills": {k: v.to_dict() for k, v in self.by_skills.items()},
            "by_tier": {k: v.to_dict() for k, v in self.by_tier.items()},
            "by_severity": {k: v.to_dict() for k, v in self.by_severity.items()},
            "agents": {
                a.agent_id: {"served": a.served, "busy": a.busy, "on_duty": a.on_duty, "occupancy": a.occupancy}
                for a in self.agents
            },
        }


class _ReadOnly(Mapping[str, Figures]):
    """A read-only mapping (so a frozen result stays unchanged)."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Figures]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Figures:
        return self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)

    def __eq__(self, other: object) -> bool:
        return dict(self._data) == (dict(other) if isinstance(other, Mapping) else other)

    __hash__ = None  # type: ignore[assignment]


# -- queueing theory -----------------------------------------------------------


def _rates(arrival_rate: float, service_rate: float, agents: int) -> float:
    for field, value in (("arrival_rate", arrival_rate), ("service_rate", service_rate)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise InvalidSimulation(field, value, "expected a finite rate > 0 (per second)")
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
        raise InvalidSimulation("agents", agents, "expected an int >= 1")
    load = arrival_rate / service_rate
    if load >= agents:
        raise InvalidSimulation("arrival_rate", arrival_rate, f"unstable: load {load:g} >= {agents} agents")
    return load


def erlang_c(arrival_rate: float, service_rate: float, agents: int) -> float:
    """The Erlang C probability that an arriving customer must wait in an
    M/M/c queue (Poisson arrivals at ``arrival_rate``, exponential service
    at ``service_rate`` per agent, ``agents`` = c servers, FIFO).

    Computed through the numerically stable Erlang B recursion.
    Raises :class:`InvalidSimulation` for bad rates or an unstable load
    (``arrival_rate >= agents * service_rate``).  Runtime complexity: O(c).

    >>> round(erlang_c(1.0, 1.0, 2), 6)     # a = 1, c = 2: 1/3
    0.333333
    """
    load = _rates(arrival_rate, service_rate, agents)
    blocking = 1.0  # Erlang B with 0 servers
    for servers in range(1, agents + 1):
        blocking = load * blocking / (servers + load * blocking)
    rho = load / agents
    return blocking / (1 - rho + rho * blocking)


def erlang_c_wait(arrival_rate: float, service_rate: float, agents: int) -> float:
    """The mean wait in queue Wq of an M/M/c queue, over all customers
    (those served at once count as 0): ``C(c, a) / (c*mu - lambda)``.

    Raises as :func:`erlang_c`.  Runtime complexity: O(c).

    >>> erlang_c_wait(0.5, 1.0, 1)     # M/M/1 at 50 %: rho / (mu - lambda) = 1 s
    1.0
    """
    return erlang_c(arrival_rate, service_rate, agents) / (agents * service_rate - arrival_rate)
