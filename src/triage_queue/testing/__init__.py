"""Testing kit for your own routing policies.

* :class:`FakeClock`: a clock your test moves by hand.
* :mod:`triage_queue.testing.strategies`: hypothesis strategies for tickets,
  agents, rosters and policies (install the ``testing`` extra:
  ``pip install 'triage-queue[testing]'``).
* :mod:`triage_queue.testing.plugin`: the pytest fixtures ``triage_clock``,
  ``triage_queue`` and ``triage_dispatcher``, loaded automatically once the
  package is installed.
* Service-level assertions over a simulation result (``assert_service_level``
  and friends), re-exported from :mod:`triage_queue.sim.claims`, which is
  imported only when you first use one of them.

A guide with a worked example is in ``docs/testing-policies.md``.

>>> from triage_queue import Ticket, TicketQueue
>>> clock = FakeClock()
>>> queue = TicketQueue(clock=clock)
>>> queue.push(Ticket("T-1", clock()))
>>> clock.advance(minutes=5)
300.0
>>> queue.explain("T-1").contributions[-1].reason
'first contact 300 s ago'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from triage_queue.clock import ManualClock
from triage_queue.errors import InvalidArgument

if TYPE_CHECKING:
    from triage_queue.sim.claims import InvalidClaim, ServiceLevel, Verdict, assert_service_level, check_service_level

__all__ = ["FakeClock", "InvalidClaim", "ServiceLevel", "Verdict", "assert_service_level", "check_service_level"]


class FakeClock(ManualClock):
    """A :class:`~triage_queue.ManualClock` for tests: it starts at ``start``
    (0 by default) and moves only when told to, never backwards.
    :meth:`advance` also takes minutes and hours, which reads better in a
    test about waiting times.

    Pass it wherever a clock is expected (``TicketQueue(clock=...)``,
    ``PolicyFile.build(clock)``); the ``triage_clock`` pytest fixture is one.

    Runtime complexity: every operation O(1).

    >>> clock = FakeClock(100.0)
    >>> clock.advance(30), clock.advance(minutes=1.5), clock.advance(hours=1)
    (130.0, 220.0, 3820.0)
    >>> clock.set(4000.0); clock()
    4000.0
    >>> clock.advance(minutes=-1)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: seconds=-60.0: a clock cannot go backwards
    """

    __slots__ = ()

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0) -> float:
        """Move forward by ``seconds + 60 * minutes + 3600 * hours`` (>= 0)
        and return the new time.  Raises :class:`~triage_queue.InvalidArgument`
        for a negative or non-finite step, leaving the clock as it was.

        Runtime complexity: O(1).
        """
        for field, value in (("minutes", minutes), ("hours", hours)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidArgument(field, value, "expected a finite number")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            return super().advance(seconds)  # the base class names the bad value
        return super().advance(seconds + 60.0 * minutes + 3600.0 * hours)

    def __repr__(self) -> str:
        return f"FakeClock({self()!r})"


# The service-level assertions live with the simulator; they are imported
# only when a test first asks for one, so that `import triage_queue.testing`
# (and the pytest plugin, loaded in every pytest run) stays cheap.
_CLAIMS: Final = frozenset({"InvalidClaim", "ServiceLevel", "Verdict", "assert_service_level", "check_service_level"})


def __getattr__(name: str) -> Any:
    if name in _CLAIMS:
        import importlib

        return getattr(importlib.import_module("triage_queue.sim.claims"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _CLAIMS)
