"""Threads and coroutines waiting for an agent's next offer, and the
*timekeeper*: the one waiter that also wakes when the desk's next timed
change falls due, so that nobody polls and nobody is woken for nothing.

Invariants: ``sleeping`` counts the threads asleep on each agent's
condition; the timekeeper, if any, is one of the waiters; an agent with no
waiter has no async waiter list.  Not snapshotted: waiters belong to the
process, not to the desk.

>>> import threading
>>> waiters = Waiters(threading.RLock())
>>> waiters.any, waiters.keeper is None
(False, True)
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from triage_queue.dispatch.checks import check_key, check_seconds

__all__ = ["AsyncKeeper", "WaitRoom", "Waiters"]


class AsyncKeeper:
    """Stands for one waiting coroutine (its loop and current future) when it
    keeps time for the desk."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: Any) -> None:
        """Runtime complexity: O(1)."""
        self.loop = loop
        self.future: Any = None


def _gone(keeper: Any) -> bool:
    # A coroutine timekeeper whose event loop has closed will never wake.
    return isinstance(keeper, AsyncKeeper) and keeper.loop.is_closed()


def _resolve(future: Any) -> None:
    if not future.done():
        future.set_result(None)


class Waiters:
    """Who waits for which agent's offers, and who keeps time.  Every method
    runs under the desk's lock, which the conditions share."""

    __slots__ = ("async_waiters", "conditions", "keeper", "keeper_until", "lock", "sleeping")

    def __init__(self, lock: threading.RLock) -> None:
        """Runtime complexity: O(1)."""
        self.lock = lock
        self.conditions: dict[str, threading.Condition] = {}
        self.sleeping: dict[str, int] = {}  # agent id -> threads asleep
        self.keeper: Any = None  # the timekeeper's Condition, or an AsyncKeeper
        self.keeper_until = math.inf  # clock time at which it wakes anyway
        self.async_waiters: dict[str, list[tuple[Any, Any]]] = {}  # agent id -> [(loop, future)]

    @property
    def any(self) -> bool:
        """Whether any thread or coroutine waits.  Runtime complexity: O(1)."""
        return bool(self.conditions or self.async_waiters)

    def condition_for(self, agent_id: str) -> threading.Condition:
        """The condition an agent's threads sleep on.  Runtime complexity: O(1)."""
        condition = self.conditions.get(agent_id)
        if condition is None:
            condition = self.conditions[agent_id] = threading.Condition(self.lock)
        return condition

    def sleep(self, agent_id: str, condition: threading.Condition, wait: float | None) -> None:
        """Sleep on ``condition`` for at most ``wait`` seconds, counted as
        asleep for ``agent_id``.  Runtime complexity: O(1) plus the wait."""
        self.sleeping[agent_id] = self.sleeping.get(agent_id, 0) + 1
        try:
            # Checked and waited under one lock: no offer can slip in
            # between, so no wake-up is lost.
            condition.wait(wait)
        finally:
            self.sleeping[agent_id] -= 1
            if not self.sleeping[agent_id]:
                del self.sleeping[agent_id]

    def register_async(self, agent_id: str, keeper: AsyncKeeper, future: Any) -> None:
        """Wake ``future`` on the agent's next offer.  Runtime complexity: O(1)."""
        self.async_waiters.setdefault(agent_id, []).append((keeper.loop, future))
        keeper.future = future

    def unregister_async(self, agent_id: str, future: Any) -> None:
        """Runtime complexity: O(waiters of the agent)."""
        waiters = self.async_waiters.get(agent_id)
        if waiters:
            waiters[:] = [(lp, f) for lp, f in waiters if f is not future]
            if not waiters:
                del self.async_waiters[agent_id]

    def keep_time(self, waiter: Any, remaining: float | None, due_in: float | None, now: float) -> float | None:
        """Seconds ``waiter`` may sleep: until ``remaining`` runs out, and, if
        it is (or becomes) the timekeeper, until the next change falls due
        (``due_in`` seconds from ``now``).  Runtime complexity: O(1)."""
        keeper = self.keeper
        if keeper is not None and keeper is not waiter and not _gone(keeper):
            return remaining
        self.keeper = waiter
        limits = [w for w in (due_in, remaining) if w is not None]
        wait = min(limits) if limits else None
        self.keeper_until = math.inf if wait is None else now + wait
        return wait

    def leave_keeping(self, waiter: Any, anything_scheduled: bool) -> None:
        """A waiter stops waiting; if it kept time and something is still
        scheduled, wake one other waiter to take the duty over.
        Runtime complexity: O(waiting agents)."""
        if self.keeper is not waiter:
            return
        self.keeper = None
        self.keeper_until = math.inf
        if not anything_scheduled:
            return
        for agent_id in self.sleeping:
            condition = self.conditions.get(agent_id)
            if condition is not None and condition is not waiter:
                condition.notify()
                return
        for agent_id in self.async_waiters:
            self.wake(agent_id)
            return

    def wake_keeper_if_due_earlier(self, instant: float | None) -> None:
        """Something was scheduled at ``instant``, before the timekeeper means
        to wake: wake it, so it sleeps again for the right time.
        Runtime complexity: O(1)."""
        keeper = self.keeper
        if keeper is None or instant is None or instant >= self.keeper_until:
            return
        # Woken: until it sleeps again (and keep_time sets its new instant),
        # waking it once more would only flood its loop or condition.
        self.keeper_until = -math.inf
        if isinstance(keeper, AsyncKeeper):
            try:
                if keeper.future is not None:
                    keeper.loop.call_soon_threadsafe(_resolve, keeper.future)
            except RuntimeError:
                # Its event loop has closed: pass the duty to another waiter.
                self.leave_keeping(keeper, True)
        else:
            keeper.notify_all()

    def wake(self, agent_id: str) -> None:
        """Wake every thread and coroutine waiting for the agent.
        Runtime complexity: O(its waiters)."""
        condition = self.conditions.get(agent_id)
        if condition is not None:
            condition.notify_all()
        waiters = self.async_waiters.pop(agent_id, None)
        if waiters:
            for loop, future in waiters:
                # A waiter whose event loop has closed is simply dropped.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_resolve, future)

    def forget(self, agent_id: str) -> None:
        """The agent left: wake its waiters (they learn it is gone) and drop
        its condition once nobody sleeps on it.  Runtime complexity: O(its waiters)."""
        self.wake(agent_id)
        if agent_id not in self.sleeping:
            self.conditions.pop(agent_id, None)

    def _check(self) -> None:
        """Assert the waiters' invariants (used by the test suite)."""
        assert all(n > 0 for n in self.sleeping.values())
        assert all(self.async_waiters.values()), "an empty async waiter list is kept"


class WaitRoom:
    """How callers wait for an agent's next offer from one desk: threads
    (:meth:`wait`) and coroutines (:meth:`register_async`,
    :meth:`unregister_async`, :meth:`stop`).  Made by the dispatcher, which
    gives it ``pull(agent_id)`` (lock held: the agent's next offer, or None,
    the desk brought up to the clock first), ``flush(agent_id, offer)``
    (outside the lock: deliver events, keeping a handed-out offer if that
    fails), ``quiet()`` (no events wait for delivery), ``due_in()`` (seconds
    to the next timed change, or None), ``clock`` and ``scheduled()``
    (whether any timed change is scheduled).  Not for application code:
    :class:`~triage_queue.AsyncDispatcher` waits through it.

    >>> room = WaitRoom(Waiters(threading.RLock()), pull=lambda a: None, flush=lambda a, o: None,
    ...                 quiet=lambda: True, due_in=lambda: None, clock=lambda: 0.0, scheduled=lambda: False)
    >>> room.wait("ana", 0) is None
    True
    """

    __slots__ = ("_clock", "_due_in", "_flush", "_lock", "_pull", "_quiet", "_scheduled", "waiters")

    def __init__(
        self,
        waiters: Waiters,
        *,
        pull: Callable[[str], Any],
        flush: Callable[[str, Any], None],
        quiet: Callable[[], bool],
        due_in: Callable[[], float | None],
        clock: Callable[[], float],
        scheduled: Callable[[], bool],
    ) -> None:
        """Runtime complexity: O(1)."""
        self.waiters = waiters
        self._lock = waiters.lock
        self._pull, self._flush, self._quiet = pull, flush, quiet
        self._due_in, self._clock, self._scheduled = due_in, clock, scheduled

    def _keep_time(self, waiter: Any, remaining: float | None) -> float | None:
        # Seconds a waiter may sleep (see Waiters.keep_time).  Lock held.
        return self.waiters.keep_time(waiter, remaining, self._due_in(), self._clock())

    def wait(self, agent_id: str, timeout: float | None) -> Any:
        """Block until the agent has an offer and return it, or return None
        after ``timeout`` seconds (None or inf: never; else a finite number
        >= 0, or :class:`InvalidArgument`).  The thread sleeps on its
        agent's condition and is woken only by an offer to that agent, or
        (if it keeps time) when something falls due.  Runtime complexity: as
        ``pull`` per wake-up."""
        if timeout == math.inf:
            timeout = None
        if timeout is not None:
            check_seconds("timeout", timeout, allow_none=False, positive=False)
        deadline = None if timeout is None else time.monotonic() + timeout
        condition: threading.Condition | None = None
        waiters = self.waiters
        try:
            while True:
                expired = False
                with self._lock:
                    offer = self._pull(agent_id)
                    if offer is None:
                        remaining = None if deadline is None else deadline - time.monotonic()
                        expired = remaining is not None and remaining <= 0
                        if not expired and self._quiet():
                            if condition is None:
                                condition = waiters.condition_for(agent_id)
                            waiters.sleep(agent_id, condition, self._keep_time(condition, remaining))
                # Listeners of anything this thread caused run outside the lock.
                self._flush(agent_id, offer)
                if offer is not None or expired:
                    return offer
        finally:
            if condition is not None:
                with self._lock:
                    waiters.leave_keeping(condition, self._scheduled())

    def register_async(
        self, agent_id: str, keeper: AsyncKeeper, future: Any, remaining: float | None
    ) -> tuple[Any, float | None]:
        """An offer for the agent now, with ``remaining``; or else None, with
        ``future`` woken on the agent's next offer, and the seconds to wait
        at most (``keeper`` stands for the coroutine if it keeps time).
        Runtime complexity: as ``pull``."""
        check_key("agent_id", agent_id)
        offer = None
        wait = remaining
        try:
            with self._lock:
                offer = self._pull(agent_id)
                if offer is None:
                    self.waiters.register_async(agent_id, keeper, future)
                    wait = self._keep_time(keeper, remaining)
        finally:
            self._flush(agent_id, offer)
        return offer, wait

    def unregister_async(self, agent_id: str, future: Any) -> None:
        """The coroutine stops waiting on ``future``.  Runtime complexity: O(waiters of the agent)."""
        with self._lock:
            self.waiters.unregister_async(agent_id, future)

    def stop(self, keeper: AsyncKeeper) -> None:
        """The coroutine ``keeper`` stands for stops waiting (handing over
        the timekeeping, if it kept time).  Runtime complexity: O(waiting agents)."""
        with self._lock:
            self.waiters.leave_keeping(keeper, self._scheduled())
