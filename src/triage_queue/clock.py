"""Clocks.  Everything in triage-queue that depends on time reads it from a
clock passed in, never from :func:`time.time` behind your back, so tests can
control time exactly.

A clock is any zero-argument callable returning seconds as a float; the
default is :func:`time.time` (wall-clock seconds, the scale in which helpdesk
databases store ``created_at`` and SLA deadlines).

>>> clock = ManualClock(100.0)
>>> clock()
100.0
>>> clock.advance(5)
105.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from triage_queue.errors import InvalidArgument, _finite

__all__ = ["Clock", "ManualClock"]

Clock: TypeAlias = Callable[[], float]
"""Any zero-argument callable returning the current time in seconds."""


class ManualClock:
    """A clock that moves only when told to: for tests, simulations and
    replays.  It never goes backwards.

    Runtime complexity: every operation O(1).

    >>> c = ManualClock()
    >>> c.set(30.0); c()
    30.0
    >>> c.advance(-1)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: seconds=-1.0: a clock cannot go backwards
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = _seconds("start", start)

    def __call__(self) -> float:
        """The current time.  Runtime complexity: O(1)."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time."""
        seconds = _seconds("seconds", seconds)
        if seconds < 0:
            raise InvalidArgument("seconds", seconds, "a clock cannot go backwards")
        now = self._now + seconds
        if now == float("inf"):
            raise InvalidArgument("seconds", seconds, f"the clock would overflow (it reads {self._now!r})")
        self._now = now
        return now

    def set(self, now: float) -> None:
        """Jump to ``now``, which may not be earlier than the current time."""
        now = _seconds("now", now)
        if now < self._now:
            raise InvalidArgument("now", now, f"a clock cannot go backwards (it reads {self._now!r})")
        self._now = now

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r})"


def _seconds(field: str, value: Any) -> float:
    return _finite(InvalidArgument, field, value, "expected a finite number of seconds")
