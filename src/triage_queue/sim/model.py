"""What a simulation runs on: the tickets that arrive and the people on duty.

These are plain, frozen values so that two policies can be compared on
exactly the same day: every random draw (arrival instants, handling times,
patience, follow-ups) is made once, when the :class:`Day` is built, never
while it is simulated.

>>> from triage_queue import Agent, Ticket
>>> day = Day(
...     arrivals=[Arrival(Ticket("T-1", 5.0), handling_time=120.0, ticket_class="billing")],
...     staff=[Staff(Agent("ana"), shifts=[Shift(0.0, 3600.0, breaks=[(1800.0, 1900.0)])])],
... )
>>> day.end, day.arrivals[0].time
(3600.0, 5.0)
>>> Shift(10.0, 5.0)
Traceback (most recent call last):
...
triage_queue.sim.model.InvalidSimulation: end=5.0: a shift must end after it starts (start=10.0)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any, Final

import attrs

from triage_queue.agents import Agent
from triage_queue.errors import InvalidValue
from triage_queue.ticket import Ticket

__all__ = ["MAX_AGENTS", "MAX_HOURS", "MAX_TEAM_SIZE", "Arrival", "Day", "InvalidSimulation", "Shift", "Staff"]

MAX_HOURS: Final = 24 * 366
"""The longest stretch of simulated time, in hours (a leap year): every
instant and duration of an arrival or shift (arrival time, ``sla_due``,
handling time, patience, follow-ups, shift and break times) is at most
``MAX_HOURS * 3600`` seconds.  The simulator samples the queue every minute
through the whole day, so an unbounded time would mean unbounded work."""

MAX_TEAM_SIZE: Final = 10_000
"""The most members a :class:`~triage_queue.sim.generate.Team` may have."""

MAX_AGENTS: Final = 10_000
"""The most agents a staff file (or a scenario) may put on duty."""

_MAX_SECONDS: Final = MAX_HOURS * 3600.0


class InvalidSimulation(InvalidValue):
    """A simulation input (arrival, shift, scenario, distribution) has an
    invalid value; ``field`` names it, ``value`` is what was given."""


def _seconds(field: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise InvalidSimulation(field, value, "expected a finite number of seconds")
    if value < 0 or (positive and value == 0):
        raise InvalidSimulation(field, value, "expected seconds > 0" if positive else "expected seconds >= 0")
    _check_horizon(field, value)
    return float(value)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _check_horizon(field: str, value: float) -> None:
    if abs(value) > _MAX_SECONDS:
        raise InvalidSimulation(field, value, f"more than {MAX_HOURS} hours (MAX_HOURS): at most {_MAX_SECONDS:.0f} seconds")


def _sequence(field: str, value: Any, reason: str) -> tuple[Any, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidSimulation(field, value, reason)
    return tuple(value)


def _to_handling_time(value: Any) -> float:
    return _seconds("handling_time", value, positive=True)


def _to_patience(value: Any) -> float | None:
    return None if value is None else _seconds("patience", value, positive=True)


def _to_start(value: Any) -> float:
    return _seconds("start", value)


def _to_end(value: Any) -> float:
    return _seconds("end", value)


def _to_day_end(value: Any) -> float | None:
    return None if value is None else _seconds("end", value)


def _follow_ups(value: Any) -> tuple[float, ...]:
    values = _sequence("follow_ups", value, "expected a sequence of seconds after arrival")
    return tuple(sorted(_seconds("follow_ups", v, positive=True) for v in values))


def _ticket(value: Any) -> Ticket:
    if not isinstance(value, Ticket):
        raise InvalidSimulation("ticket", value, "expected a triage_queue.Ticket")
    _check_horizon("created_at", value.created_at)
    for field in ("sla_due", "relax_after"):
        seconds = getattr(value, field)
        if seconds is not None:
            _check_horizon(field, seconds)
    return value


def _class_name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidSimulation("ticket_class", value, "expected a non-empty string")
    return value


@attrs.frozen
class Arrival:
    """One ticket arriving, with everything the simulation will need to know
    about it decided in advance.

    =============  ========================================================
    ticket         the :class:`~triage_queue.Ticket`; its ``created_at`` is
                   the arrival instant
    handling_time  seconds of an agent's work once it is accepted (> 0)
    ticket_class   the class it is reported under (``"billing"``, ``"vip"``)
    patience       seconds the customer waits before giving up (the ticket
                   is cancelled and counted as abandoned), or None
    follow_ups     seconds after arrival at which the customer writes again
                   while still waiting (each adds one to ``contacts``)
    =============  ========================================================

    Runtime complexity: construction O(f log f) for f follow-ups.
    """

    ticket: Ticket = attrs.field(converter=_ticket)
    handling_time: float = attrs.field(converter=_to_handling_time)
    ticket_class: str = attrs.field(default="default", converter=_class_name)
    patience: float | None = attrs.field(default=None, converter=_to_patience)
    follow_ups: tuple[float, ...] = attrs.field(default=(), converter=_follow_ups)

    @property
    def time(self) -> float:
        """The arrival instant (the ticket's ``created_at``).  O(1)."""
        return self.ticket.created_at


def _breaks(value: Any) -> tuple[tuple[float, float], ...]:
    result = []
    for pair in _sequence("breaks", value, "expected a sequence of (start, end) pairs"):
        try:
            start, end = pair
        except (TypeError, ValueError):
            raise InvalidSimulation("breaks", pair, "expected a (start, end) pair") from None
        start, end = _seconds("breaks", start), _seconds("breaks", end)
        if end <= start:
            raise InvalidSimulation("breaks", pair, "a break must end after it starts")
        result.append((start, end))
    return tuple(sorted(result))


@attrs.frozen
class Shift:
    """An agent's time on duty, ``start`` to ``end`` seconds, with breaks
    (``(start, end)`` pairs inside it) during which the agent is away.
    An agent finishes the tickets in hand when a shift or break begins but
    is offered no new ones.

    Runtime complexity: construction O(b log b) for b breaks.
    """

    start: float = attrs.field(converter=_to_start)
    end: float = attrs.field(converter=_to_end)
    breaks: tuple[tuple[float, float], ...] = attrs.field(default=(), converter=_breaks)

    def __attrs_post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidSimulation("end", self.end, f"a shift must end after it starts (start={self.start})")
        for pair in self.breaks:
            if pair[0] < self.start or pair[1] > self.end:
                raise InvalidSimulation("breaks", pair, f"a break must lie within its shift {self.start}..{self.end}")
        for earlier, later in itertools.pairwise(self.breaks):
            if later[0] < earlier[1]:
                raise InvalidSimulation("breaks", later, f"overlaps the break {earlier}")


def _agent(value: Any) -> Agent:
    if not isinstance(value, Agent):
        raise InvalidSimulation("agent", value, "expected a triage_queue.Agent")
    return value


def _shifts(value: Any) -> tuple[Shift, ...]:
    if isinstance(value, Shift):
        value = (value,)
    given = _sequence("shifts", value, "expected a sequence of Shift values")
    for s in given:
        if not isinstance(s, Shift):
            raise InvalidSimulation("shifts", s, "expected Shift values")
    shifts = tuple(sorted(given, key=lambda s: s.start))
    for earlier, later in itertools.pairwise(shifts):
        if later.start < earlier.end:
            raise InvalidSimulation("shifts", later, f"overlaps the shift {earlier.start}..{earlier.end}")
    return shifts


@attrs.frozen
class Staff:
    """One agent and when they work.  No shifts means on duty for the whole
    simulated day.  The agent's own ``status`` is ignored: the shifts decide.

    Runtime complexity: construction O(s log s) for s shifts.
    """

    agent: Agent = attrs.field(converter=_agent)
    shifts: tuple[Shift, ...] = attrs.field(default=(), converter=_shifts)


def _arrivals(value: Any) -> tuple[Arrival, ...]:
    arrivals = _sequence("arrivals", value, "expected a sequence of Arrival values")
    seen: set[str] = set()
    for a in arrivals:
        if not isinstance(a, Arrival):
            raise InvalidSimulation("arrivals", a, "expected Arrival values")
        if a.ticket.id in seen:
            raise InvalidSimulation("arrivals", a.ticket.id, "ticket ids must be unique within a day")
        seen.add(a.ticket.id)
    return tuple(sorted(arrivals, key=lambda a: a.time))


def _staff(value: Any) -> tuple[Staff, ...]:
    staff = _sequence("staff", value, "expected a sequence of Staff values")
    seen: set[str] = set()
    for s in staff:
        if not isinstance(s, Staff):
            raise InvalidSimulation("staff", s, "expected Staff values")
        if s.agent.id in seen:
            raise InvalidSimulation("staff", s.agent.id, "agent ids must be unique within a day")
        seen.add(s.agent.id)
    return staff


@attrs.frozen
class Day:
    """A whole simulated period: arrivals (kept sorted by time) and staff.

    ``end`` defaults to the later of the last arrival and the last shift end;
    the simulation keeps running past it until every ticket is served,
    abandoned, or no agent will ever be on duty again.

    Runtime complexity: construction O(n log n) for n arrivals.
    """

    arrivals: tuple[Arrival, ...] = attrs.field(converter=_arrivals)
    staff: tuple[Staff, ...] = attrs.field(converter=_staff)
    name: str = "day"
    end: float = attrs.field(default=None, converter=_to_day_end)

    def __attrs_post_init__(self) -> None:
        if self.end is None:
            last_arrival = self.arrivals[-1].time if self.arrivals else 0.0
            last_shift = max((sh.end for s in self.staff for sh in s.shifts), default=0.0)
            object.__setattr__(self, "end", max(last_arrival, last_shift))
