"""An asyncio facade over :class:`SharedDesk`, matching
:class:`triage_queue.AsyncDispatcher`: ``await next_ticket(agent_id)``
suspends a coroutine (not a thread) until the agent has an offer; the other
operations are plain methods (one append and the apply of the command, a
millisecond or so).

>>> import asyncio, os, tempfile
>>> from triage_queue import Agent, Ticket
>>> from triage_queue.shared import SharedDesk, SqliteLog
>>> desk = SharedDesk(SqliteLog(os.path.join(tempfile.mkdtemp(), "d.db")), agents=[Agent("ana")], poll=0.01)
>>> d = AsyncSharedDesk(desk)
>>> async def main():
...     waiting = asyncio.ensure_future(d.next_ticket("ana", timeout=5))
...     await asyncio.sleep(0.05)            # ana is now waiting
...     d.submit(Ticket("T-1", 0.0))
...     return (await waiting).ticket.id
>>> asyncio.run(main())
'T-1'
>>> desk.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from triage_queue.dispatch.values import Offer
from triage_queue.errors import InvalidArgument
from triage_queue.events import Event, EventKind
from triage_queue.shared.desk import _CANNOT_OFFER, SharedDesk
from triage_queue.shared.replica import logger
from triage_queue.ticket import Ticket

__all__ = ["AsyncSharedDesk"]


class _Call:
    # A next_for on a worker thread whose waiter may be cancelled.
    __slots__ = ("abandoned", "done", "lock", "offer")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.abandoned = False
        self.offer: Offer | None = None

    def finish(self, offer: Offer | None) -> bool:
        # The worker's result; True if the waiter is gone (the worker keeps it).
        with self.lock:
            self.done, self.offer = True, offer
            return self.abandoned and offer is not None

    def abandon(self) -> Offer | None:
        # The waiter is cancelled: the offer to keep if the worker finished already.
        with self.lock:
            self.abandoned = True
            return self.offer if self.done else None


class _LogWatch:
    # A thin client's one thread that blocks on the log (XREAD BLOCK on
    # Redis, a short poll on SQLite) for every waiting coroutine of one
    # AsyncSharedDesk, and wakes them all when a command that may make an
    # offer arrives (not next_for commands nor reads: waiters would wake
    # each other forever).  It runs while someone waits.

    def __init__(self, desk: SharedDesk) -> None:
        self._desk = desk
        self._lock = threading.Lock()
        self._waiters: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
        self._thread: threading.Thread | None = None

    def add(self, loop: asyncio.AbstractEventLoop, woken: asyncio.Event) -> Callable[[], None]:
        key = id(woken)
        with self._lock:
            self._waiters[key] = (loop, woken)
            if self._thread is None:
                # The cursor is taken before the waiter's first next_for: nothing after it is missed.
                cursor = self._desk.log.last_position()
                self._thread = threading.Thread(target=self._run, args=(cursor,), name="shared-desk-watch", daemon=True)
                self._thread.start()

        def remove() -> None:
            with self._lock:
                self._waiters.pop(key, None)

        return remove

    def _run(self, cursor: int) -> None:
        log = self._desk.log
        while True:
            with self._lock:
                if not self._waiters:
                    self._thread = None
                    return
            try:
                entries = log.read(cursor, limit=1000, block=0.5)
            except Exception:  # the log cannot be reached: the waiters ask again each second anyway
                logger.warning("shared desk: a thin client's watch on the log failed; retrying", exc_info=True)
                time.sleep(0.5)
                continue
            if not entries:
                continue
            cursor = entries[-1].position
            if any(not _cannot_offer(entry.command) for entry in entries):
                with self._lock:
                    waiters = list(self._waiters.values())
                for loop, woken in waiters:
                    with contextlib.suppress(RuntimeError):  # its event loop is closed
                        loop.call_soon_threadsafe(woken.set)


def _cannot_offer(command: Any) -> bool:
    return isinstance(command, Mapping) and command.get("op") in _CANNOT_OFFER


class AsyncSharedDesk:
    """Wraps a :class:`SharedDesk` for coroutines, with the API of
    :class:`triage_queue.AsyncDispatcher`.

    :meth:`next_ticket` asks for the agent's next offer (a ``next_for``
    command, run on a worker thread) and, if there is none, waits without
    blocking the event loop until the replica applies an offer to that
    agent (or a second passes, or ``timeout``).  On a thin client, as in
    :meth:`SharedDesk.wait_for_ticket`, it wakes when a command that may
    make an offer arrives in the log (one thread per ``AsyncSharedDesk``
    blocks on the log for all its waiting coroutines), and asks again after
    a second at the latest.  If the waiting coroutine is cancelled (say by
    ``asyncio.wait_for``) while its ``next_for`` runs, an offer that call
    makes is kept and returned by the agent's next :meth:`next_ticket`.

    As in :class:`~triage_queue.AsyncDispatcher`, :meth:`submit`,
    :meth:`accept` and the other operations are plain methods: each blocks
    the event loop for one append and its apply (a millisecond or so on a
    replica; a round trip to the desk server, up to ``timeout``, on a thin
    client).  Use ``await call("submit", ticket)`` to run one on a worker
    thread instead.

    Runtime complexity: as the shared desk's operations.
    """

    def __init__(self, desk: SharedDesk) -> None:
        """Runtime complexity: O(1)."""
        if not isinstance(desk, SharedDesk):
            raise InvalidArgument("desk", desk, "expected a triage_queue.shared.SharedDesk")
        self._desk = desk
        self._undelivered: dict[str, Offer] = {}  # agent -> an offer made while its waiter was cancelled
        self._watch = _LogWatch(desk)  # a thin client's waiters wake on the log

    @property
    def desk(self) -> SharedDesk:
        """The wrapped shared desk.  Runtime complexity: O(1)."""
        return self._desk

    async def next_ticket(self, agent_id: str, timeout: float | None = None) -> Offer | None:
        """Wait until the agent has an offer and return it (see
        :meth:`SharedDesk.next_for`), or None after ``timeout`` seconds.

        Raises :class:`UnknownAgent`.  Runtime complexity: one ``next_for``
        command per wake-up.
        """
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
                raise InvalidArgument("timeout", timeout, "expected seconds >= 0, or None")
            if timeout == math.inf:
                timeout = None
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        woken = asyncio.Event()

        def hear(event: Event) -> None:
            if event.kind is EventKind.OFFERED and event.agent_id == agent_id:
                loop.call_soon_threadsafe(woken.set)

        replica = self._desk.replica
        kept = self._take_undelivered(agent_id)
        if kept is not None:
            return kept
        unsubscribe = self._watch.add(loop, woken) if replica is None else replica.subscribe(hear)
        try:
            while True:
                woken.clear()
                offer = await self._next_for(agent_id)
                if offer is not None:
                    return offer
                changes = None if replica is None else replica.changes
                while True:
                    remaining = None if deadline is None else deadline - loop.time()
                    if remaining is not None and remaining <= 0:
                        return None
                    pause = 1.0 if remaining is None else min(1.0, remaining)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(woken.wait(), pause)
                    if woken.is_set() or replica is None or replica.changes != changes:
                        # (a thin client asks again at least every second: another
                        # agent's next_for, which wakes no one, may expire offers
                        # that come to this agent)
                        break  # ask again only if something changed (no next_for a second on an idle desk)
        finally:
            unsubscribe()

    async def _next_for(self, agent_id: str) -> Offer | None:
        # The next_for command runs on to completion even if the waiter is
        # cancelled (a timeout): an offer it makes is kept for the agent's
        # next next_ticket instead of being stranded until it expires.  The
        # worker thread or the cancelled waiter, whichever comes second,
        # keeps it (so it is kept even if the event loop ends meanwhile).
        call = _Call()

        def work() -> Offer | None:
            offer = self._desk.next_for(agent_id)
            if call.finish(offer) and offer is not None:
                self._undelivered[agent_id] = offer
            return offer

        task = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            offer = call.abandon()
            if offer is not None:
                self._undelivered[agent_id] = offer
            raise

    def _take_undelivered(self, agent_id: str) -> Offer | None:
        offer = self._undelivered.pop(agent_id, None)
        if offer is None or self._desk.replica is None:
            return offer
        pending = {o.id for o in self._desk.offers_for(agent_id)}  # local read: still pending?
        return offer if offer.id in pending else None

    def submit(self, ticket: Ticket) -> Offer | None:
        """:meth:`SharedDesk.submit`.  Runtime complexity: as that method."""
        return self._desk.submit(ticket)

    def accept(self, offer: Offer | str) -> Ticket:
        """:meth:`SharedDesk.accept`.  Runtime complexity: as that method."""
        return self._desk.accept(offer)

    def decline(self, offer: Offer | str, reason: str = "") -> None:
        """:meth:`SharedDesk.decline`.  Runtime complexity: as that method."""
        self._desk.decline(offer, reason)

    def complete(self, ticket_id: str, agent_id: str | None = None) -> Ticket:
        """:meth:`SharedDesk.complete`.  Runtime complexity: as that method."""
        return self._desk.complete(ticket_id, agent_id)

    def transfer(self, ticket_id: str, agent_id: str | None = None, **changes: Any) -> Ticket:
        """:meth:`SharedDesk.transfer`.  Runtime complexity: as that method."""
        return self._desk.transfer(ticket_id, agent_id, **changes)

    def cancel(self, ticket_id: str) -> Ticket:
        """:meth:`SharedDesk.cancel`.  Runtime complexity: as that method."""
        return self._desk.cancel(ticket_id)

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run any :class:`SharedDesk` method on a worker thread, so that a
        slow engine never blocks the event loop: ``await d.call("update",
        "T-1", severity="high")``.  Runtime complexity: as that method."""
        if not isinstance(method, str) or method.startswith("_") or not callable(getattr(self._desk, method, None)):
            raise InvalidArgument("method", method, "expected the name of a SharedDesk method")
        return await asyncio.to_thread(getattr(self._desk, method), *args, **kwargs)

    def __repr__(self) -> str:
        return f"<AsyncSharedDesk over {self._desk!r}>"
