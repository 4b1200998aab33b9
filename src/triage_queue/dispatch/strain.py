"""Strain: an agent under strain gets no new offers for a cooldown.

A :class:`StrainGuard` declares when: after ``continuous`` seconds of
continuous handling (the agent holding at least one accepted ticket all
along), after ``per_hour`` tickets completed within a rolling ``window``
(an hour by default), or after ``hard_in_a_row`` tickets of severity
``hard_severity`` (critical by default) or above completed in a row.  The
agent then gets no new offers for ``cooldown`` seconds (offers already made
stand, and it keeps the tickets it has); a ``cooldown_started`` event says
why and until when, ``cooldown_ended`` says it is over.  A cooldown resets
the counts that led to it: the streak, the window and the run start afresh
(a streak still going when the cooldown ends restarts then).  Per-agent
``overrides`` replace any of the limits for one agent (None turns a limit
off for it)::

    StrainGuard(continuous=90 * 60, per_hour=12, hard_in_a_row=3, cooldown=10 * 60,
                overrides={"ana": {"continuous": 60 * 60}})

The timers (a streak reaching its limit, a cooldown ending) are kept by the
desk's :class:`~triage_queue.dispatch.scheduler.Scheduler`, so
:meth:`~triage_queue.Dispatcher.next_due` accounts for them.

Invariants (``_check``): an agent rests (is in ``resting``) exactly when it
has a cooldown end, at that time; a resting agent has no streak running;
counts are never negative; every live timer is scheduled.

>>> guard = StrainGuard(continuous=5400, cooldown=600)
>>> guard.limits_for("ana").continuous, guard.limits_for("ana").per_hour
(5400.0, None)
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from triage_queue.dispatch.overflow import clock_text, span_text
from triage_queue.dispatch.scheduler import Scheduler
from triage_queue.errors import InvalidArgument, TriageError
from triage_queue.events import EventKind
from triage_queue.ticket import Severity, Ticket
from triage_queue.wire import Reader, number

__all__ = ["STREAK", "COOLDOWN_END", "Strain", "StrainGuard", "StrainLimits"]

STREAK, COOLDOWN_END = 0, 1
"""The codes of the strain part's timers in the scheduler: a streak reaching
its limit, a cooldown ending (keyed by agent id)."""

_INF = math.inf
_LIMIT_KEYS = ("continuous", "per_hour", "window", "hard_in_a_row", "hard_severity", "cooldown")


def _seconds(field: str, value: Any, *, allow_none: bool) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(field, value, "expected seconds (a number > 0)" + (", or None" if allow_none else ""))
    try:
        seconds = float(value)
    except OverflowError:
        seconds = _INF
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidArgument(field, value, "expected a finite number of seconds > 0")
    return seconds


def _count(field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**31:
        raise InvalidArgument(field, value, "expected a count (an int >= 1), or None")
    return value


def _severity(value: Any) -> Severity:
    if isinstance(value, Severity):
        return value
    try:
        return Severity.parse(value)
    except (TriageError, ValueError, TypeError, AttributeError):
        raise InvalidArgument("hard_severity", value, "expected a severity: low, normal, high or critical") from None


@attrs.frozen(slots=True, init=False)
class StrainLimits:
    """The limits for one agent (see the module docstring); None turns a
    limit off.  Bad values raise :class:`InvalidArgument` naming the field.

    Runtime complexity: construction O(1).

    >>> StrainLimits(per_hour=12).window, StrainLimits(per_hour=12).cooldown
    (3600.0, 600.0)
    >>> StrainLimits(continuous=-5)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: continuous=-5: expected a finite number of seconds > 0
    """

    continuous: float | None
    per_hour: int | None
    window: float
    hard_in_a_row: int | None
    hard_severity: Severity
    cooldown: float

    def __init__(
        self,
        *,
        continuous: float | None = None,
        per_hour: int | None = None,
        window: float = 3600.0,
        hard_in_a_row: int | None = None,
        hard_severity: Severity | str = Severity.CRITICAL,
        cooldown: float = 600.0,
    ) -> None:
        """Runtime complexity: O(1)."""
        set_field = object.__setattr__
        set_field(self, "continuous", _seconds("continuous", continuous, allow_none=True))
        set_field(self, "per_hour", _count("per_hour", per_hour))
        set_field(self, "window", _seconds("window", window, allow_none=False))
        set_field(self, "hard_in_a_row", _count("hard_in_a_row", hard_in_a_row))
        set_field(self, "hard_severity", _severity(hard_severity))
        set_field(self, "cooldown", _seconds("cooldown", cooldown, allow_none=False))

    def evolve(self, changes: Mapping[str, Any]) -> StrainLimits:
        """These limits with some replaced (unknown names refused).  Runtime complexity: O(1).

        >>> StrainLimits(continuous=5400).evolve({"continuous": None}).continuous is None
        True
        """
        if not isinstance(changes, Mapping):
            raise InvalidArgument("overrides", changes, "expected a mapping of limit name to value")
        for key in changes:
            if key not in _LIMIT_KEYS:
                raise InvalidArgument(str(key), changes[key], f"unknown strain limit; expected one of {', '.join(_LIMIT_KEYS)}")
        values = self.to_dict()
        values.update(changes)
        return StrainLimits(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain data.  Runtime complexity: O(1).

        >>> StrainLimits(hard_in_a_row=3).to_dict()["hard_severity"]
        'critical'
        """
        return {
            "continuous": self.continuous,
            "per_hour": self.per_hour,
            "window": self.window,
            "hard_in_a_row": self.hard_in_a_row,
            "hard_severity": self.hard_severity.name.lower(),
            "cooldown": self.cooldown,
        }

    @property
    def any(self) -> bool:
        """Whether any limit is set.  Runtime complexity: O(1)."""
        return self.continuous is not None or self.per_hour is not None or self.hard_in_a_row is not None


@attrs.frozen(slots=True, init=False)
class StrainGuard:
    """The strain limits of a desk: ``limits`` for every agent, ``overrides``
    per agent id (a mapping of the limits to change, or a
    :class:`StrainLimits`).  Keyword arguments other than ``overrides`` are
    those of :class:`StrainLimits`.  A guard with no limit at all is refused.

    Runtime complexity: construction O(overrides).

    >>> guard = StrainGuard(per_hour=12, overrides={"bo": {"per_hour": 20}})
    >>> guard.limits_for("bo").per_hour, guard.limits_for("ana").per_hour
    (20, 12)
    >>> StrainGuard(cooldown=60)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: strain=None: a strain guard needs continuous, per_hour or hard_in_a_row
    """

    limits: StrainLimits
    overrides: Mapping[str, StrainLimits]

    def __init__(self, *, overrides: Mapping[str, Mapping[str, Any] | StrainLimits] | None = None, **limits: Any) -> None:
        """Runtime complexity: O(overrides)."""
        for key, value in limits.items():
            if key not in _LIMIT_KEYS:
                raise InvalidArgument(key, value, f"unknown strain limit; expected one of {', '.join(_LIMIT_KEYS)}")
        base = StrainLimits(**limits)
        resolved: dict[str, StrainLimits] = {}
        if overrides is not None:
            if not isinstance(overrides, Mapping):
                raise InvalidArgument("overrides", overrides, "expected a mapping of agent id to limits")
            for agent_id in sorted(overrides, key=str):
                if not isinstance(agent_id, str) or not agent_id:
                    raise InvalidArgument("overrides", agent_id, "expected agent ids (non-empty strings) as keys")
                value = overrides[agent_id]
                try:
                    resolved[agent_id] = value if isinstance(value, StrainLimits) else base.evolve(value)
                except InvalidArgument as exc:
                    raise InvalidArgument(f"overrides[{agent_id!r}].{exc.field}", exc.value, exc.reason) from None
        if not base.any and not any(limits.any for limits in resolved.values()):
            raise InvalidArgument("strain", None, "a strain guard needs continuous, per_hour or hard_in_a_row")
        object.__setattr__(self, "limits", base)
        object.__setattr__(self, "overrides", resolved)

    def limits_for(self, agent_id: str) -> StrainLimits:
        """The limits that apply to an agent.  Runtime complexity: O(1)."""
        return self.overrides.get(agent_id, self.limits)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (:meth:`from_dict` reads it back).  Runtime complexity: O(overrides).

        >>> g = StrainGuard(continuous=60.0, overrides={"a": {"cooldown": 5.0}}); StrainGuard.from_dict(g.to_dict()) == g
        True
        """
        return {**self.limits.to_dict(), "overrides": {k: v.to_dict() for k, v in self.overrides.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StrainGuard:
        """The guard :meth:`to_dict` describes.  Runtime complexity: O(overrides)."""
        if not isinstance(data, Mapping):
            raise InvalidArgument("strain", data, "expected a mapping of strain limits")
        values = dict(data)
        overrides = values.pop("overrides", None)
        return cls(overrides=overrides, **values)

    def describe(self) -> str:
        """The guard in words.  Runtime complexity: O(overrides).

        >>> print(StrainGuard(continuous=5400, hard_in_a_row=3).describe())
        cooldown 10 min after 90 min continuous, or 3 critical tickets in a row
        """
        text = _limits_text(self.limits)
        for agent_id, limits in self.overrides.items():
            text += f"; for {agent_id}: {_limits_text(limits)}"
        return text


def _limits_text(limits: StrainLimits) -> str:
    parts = []
    if limits.continuous is not None:
        parts.append(f"{span_text(limits.continuous)} continuous")
    if limits.per_hour is not None:
        parts.append(f"{limits.per_hour} tickets in {span_text(limits.window)}")
    if limits.hard_in_a_row is not None:
        parts.append(f"{limits.hard_in_a_row} {limits.hard_severity.name.lower()} tickets in a row")
    if not parts:
        return "no limits"
    return f"cooldown {span_text(limits.cooldown)} after " + ", or ".join(parts)


class _AgentStrain:
    """One agent's strain."""

    __slots__ = ("busy_since", "cooldowns", "done", "handling", "run", "until", "why")

    def __init__(self) -> None:
        self.handling = 0  # accepted tickets it holds
        self.busy_since: float | None = None  # start of the current streak of continuous handling
        self.done: deque[float] = deque()  # completion times within the window
        self.run = 0  # hard tickets completed in a row
        self.until: float | None = None  # cooling down until
        self.why = ""  # what started the cooldown
        self.cooldowns = 0


class Strain:
    """The strain part of a desk: each agent's streak, recent completions,
    run of hard tickets and cooldown.  ``resting`` maps a cooling-down agent
    to the end of its cooldown (the desk's presence reads it: a resting
    agent is in no free heap).  Not thread-safe on its own: the desk's lock
    guards it."""

    __slots__ = ("agents", "emit", "guard", "resting", "sched")

    def __init__(self, guard: StrainGuard, sched: Scheduler, emit: Callable[..., None]) -> None:
        """Runtime complexity: O(1)."""
        if not isinstance(guard, StrainGuard):
            raise InvalidArgument("strain", guard, "expected a triage_queue.StrainGuard")
        self.guard = guard
        self.sched = sched
        self.emit = emit
        self.agents: dict[str, _AgentStrain] = {}
        self.resting: dict[str, float] = {}

    def _of(self, agent_id: str) -> _AgentStrain:
        st = self.agents.get(agent_id)
        if st is None:
            st = self.agents[agent_id] = _AgentStrain()
        return st

    # -- what agents do -------------------------------------------------------------

    def accepted(self, agent_id: str, now: float) -> None:
        """The agent accepted a ticket: a streak starts if it held none.
        Runtime complexity: O(log timers)."""
        st = self._of(agent_id)
        st.handling += 1
        if st.handling == 1 and st.until is None:
            self._start_streak(agent_id, st, now)

    def _start_streak(self, agent_id: str, st: _AgentStrain, at: float) -> None:
        st.busy_since = at
        continuous = self.guard.limits_for(agent_id).continuous
        if continuous is not None:
            self.sched.schedule_part(at + continuous, STREAK, agent_id)

    def finished(self, agent_id: str, ticket: Ticket, now: float, *, completed: bool) -> str | None:
        """The agent no longer holds an accepted ticket (completed, or
        cancelled or transferred when ``completed`` is false).  Return why a
        cooldown should start now, or None.  Runtime complexity: O(1) amortised."""
        st = self._of(agent_id)
        if st.handling > 0:
            st.handling -= 1
        if not st.handling:
            st.busy_since = None
        if not completed:
            return None
        limits = self.guard.limits_for(agent_id)
        if limits.per_hour is not None:
            done = st.done
            done.append(now)
            while done and done[0] <= now - limits.window:
                done.popleft()
        if limits.hard_in_a_row is not None:
            st.run = st.run + 1 if ticket.severity >= limits.hard_severity else 0
        if st.until is not None:
            return None
        if limits.per_hour is not None and len(st.done) >= limits.per_hour:
            return f"{len(st.done)} tickets in {span_text(limits.window)}"
        if limits.hard_in_a_row is not None and st.run >= limits.hard_in_a_row:
            return f"{st.run} {limits.hard_severity.name.lower()} tickets in a row"
        return None

    def forget(self, agent_id: str) -> None:
        """The agent left the roster.  Runtime complexity: O(1)."""
        self.agents.pop(agent_id, None)
        self.resting.pop(agent_id, None)

    # -- cooldowns -------------------------------------------------------------------

    def start(self, agent_id: str, at: float, now: float, why: str) -> float:
        """Start the agent's cooldown at ``at`` (``now``: the desk's time, for
        the event); return its end.  Runtime complexity: O(log timers)."""
        st = self._of(agent_id)
        limits = self.guard.limits_for(agent_id)
        until = at + limits.cooldown
        st.until, st.why = until, why
        st.cooldowns += 1
        st.busy_since = None
        st.done.clear()
        st.run = 0
        self.resting[agent_id] = until
        self.sched.schedule_part(until, COOLDOWN_END, agent_id)
        self.emit(EventKind.COOLDOWN_STARTED, now, agent_id=agent_id, detail=self.explain(agent_id) or "")
        return until

    def streak_due(self, agent_id: str, when: float) -> str | None:
        """A streak timer fell due at ``when``: why a cooldown starts, or None
        if the timer is stale (the streak ended, or the agent rests).
        Runtime complexity: O(1)."""
        st = self.agents.get(agent_id)
        continuous = self.guard.limits_for(agent_id).continuous
        if st is None or st.busy_since is None or st.until is not None or continuous is None:
            return None
        if st.busy_since + continuous != when:
            return None
        return f"{span_text(continuous)} continuous"

    def end_due(self, agent_id: str, when: float, now: float) -> bool:
        """A cooldown-end timer fell due at ``when``: end the cooldown (with
        its event) and return True, or False if the timer is stale.
        Runtime complexity: O(log timers)."""
        st = self.agents.get(agent_id)
        if st is None or st.until != when:
            return False
        st.until = None
        self.resting.pop(agent_id, None)
        self.emit(EventKind.COOLDOWN_ENDED, now, agent_id=agent_id, detail=f"cooldown after {st.why} is over")
        if st.handling:
            self._start_streak(agent_id, st, when)
        return True

    # -- reading ------------------------------------------------------------------------

    def explain(self, agent_id: str) -> str | None:
        """"cooling down until 10:42 after 90 min continuous", or None if the
        agent is not cooling down.  Runtime complexity: O(1)."""
        st = self.agents.get(agent_id)
        if st is None or st.until is None:
            return None
        return f"cooling down until {clock_text(st.until)} after {st.why}"

    def figures(self, agent_id: str) -> tuple[float | None, str | None, int]:
        """``(cooling down until, why, cooldowns so far)``.  Runtime complexity: O(1)."""
        st = self.agents.get(agent_id)
        if st is None:
            return None, None, 0
        return st.until, (st.why if st.until is not None else None), st.cooldowns

    # -- saving and restoring ------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """The guard, each agent's state and the part's timers as plain
        data (stale timers included, so the next instant is the same after
        a restore).  Runtime complexity: O(A·W + timers log timers)."""
        return {
            "guard": self.guard.to_dict(),
            "agents": [
                {
                    "agent": agent_id,
                    "busy_since": None if st.busy_since is None else number(st.busy_since),
                    "done": [number(x) for x in st.done],
                    "run": st.run,
                    "until": None if st.until is None else number(st.until),
                    "why": st.why,
                    "cooldowns": st.cooldowns,
                }
                for agent_id, st in self.agents.items()
            ],
            "timers": [[number(at), code, key] for at, code, key in sorted(self.sched.parts)],
        }

    @classmethod
    def load(cls, data: Reader, sched: Scheduler, emit: Callable[..., None], handling: Mapping[str, int]) -> Strain:
        """The part :meth:`export` described, checked; ``handling`` counts
        the accepted tickets each agent holds (from the offers section).
        Runtime complexity: O(A·W + timers log timers)."""
        try:
            guard = StrainGuard.from_dict(data.raw("guard"))
        except InvalidArgument as exc:
            raise InvalidArgument(f"{data.path}.guard.{exc.field}", exc.value, exc.reason) from None
        part = cls(guard, sched, emit)
        for item in data.seq("agents").items():
            agent_id = item.string("agent")
            if agent_id in part.agents:
                raise InvalidArgument(item.path, agent_id, "an agent listed twice")
            st = part.agents[agent_id] = _AgentStrain()
            st.busy_since = item.real("busy_since", allow_none=True)
            st.done.extend(item.seq("done").reals())
            st.run = item.integer("run")
            st.until = item.real("until", allow_none=True)
            st.why = item.string("why")
            st.cooldowns = item.integer("cooldowns")
            st.handling = handling.get(agent_id, 0)
            if st.until is not None:
                part.resting[agent_id] = st.until
            if (st.busy_since is not None) and (st.until is not None or not st.handling):
                raise InvalidArgument(item.path, item.data, "a streak running while resting or holding no ticket")
        for agent_id, count in handling.items():
            if count and agent_id not in part.agents:
                raise InvalidArgument(f"{data.path}.agents", agent_id, "an agent holding accepted tickets has no strain state")
        for entry in data.seq("timers").items():
            at, code, key = entry.fields(float, int, str)
            if code not in (STREAK, COOLDOWN_END) or at != at:
                raise InvalidArgument(entry.path, entry.data, "expected [instant, 0 (streak) or 1 (cooldown end), agent id]")
            sched.parts.append((at, code, key))
        heapq.heapify(sched.parts)
        sched.reset_due()
        scheduled = set(sched.parts)
        for agent_id, st in part.agents.items():
            if st.until is not None and (st.until, COOLDOWN_END, agent_id) not in scheduled:
                raise InvalidArgument(f"{data.path}.timers", agent_id, "a cooldown's end is not scheduled")
            if st.busy_since is not None:
                continuous = part.guard.limits_for(agent_id).continuous
                if continuous is not None and (st.busy_since + continuous, STREAK, agent_id) not in scheduled:
                    raise InvalidArgument(f"{data.path}.timers", agent_id, "the limit of a running streak is not scheduled")
        return part

    def _check(self, handling: Mapping[str, int] | None = None) -> None:
        """Assert the part's invariants (``handling``: the accepted tickets
        each agent holds, if known).  Used by the test suite."""
        timers = set(self.sched.parts)
        for agent_id, st in self.agents.items():
            assert (st.until is not None) == (agent_id in self.resting), f"{agent_id!r}: resting out of step"
            if st.until is not None:
                assert self.resting[agent_id] == st.until
                assert (st.until, COOLDOWN_END, agent_id) in timers, "a cooldown end not scheduled"
                assert st.busy_since is None, "a streak running while resting"
            assert st.handling >= 0 and st.run >= 0
            if st.busy_since is not None:
                assert st.handling > 0, "a streak with no ticket held"
                continuous = self.guard.limits_for(agent_id).continuous
                if continuous is not None:
                    assert (st.busy_since + continuous, STREAK, agent_id) in timers, "a streak's limit not scheduled"
            if handling is not None:
                assert st.handling == handling.get(agent_id, 0), f"{agent_id!r}: handling count out of step"
        assert set(self.resting) <= set(self.agents)

