"""An asyncio facade over :class:`~triage_queue.Dispatcher`, for async web
back ends: ``await next_ticket(agent_id)`` suspends a coroutine (not a
thread) until the agent has an offer.

>>> import asyncio
>>> from triage_queue import Agent, Dispatcher, ManualClock, Ticket, TicketQueue
>>> d = AsyncDispatcher(Dispatcher(TicketQueue(clock=ManualClock()), [Agent("ana")]))
>>> async def main():
...     waiting = asyncio.ensure_future(d.next_ticket("ana"))
...     await asyncio.sleep(0)            # ana is now waiting
...     d.submit(Ticket("T-1", 0.0))
...     return (await waiting).ticket.id
>>> asyncio.run(main())
'T-1'
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from triage_queue.dispatch.dispatcher import Dispatcher, Offer
from triage_queue.dispatch.finished import TicketStatus
from triage_queue.dispatch.waiting import AsyncKeeper
from triage_queue.errors import InvalidArgument
from triage_queue.stats import Statistics
from triage_queue.ticket import Ticket

__all__ = ["AsyncDispatcher"]


class AsyncDispatcher:
    """Wraps a :class:`Dispatcher` for coroutines.

    :meth:`next_ticket` waits without blocking the event loop; a waiting
    coroutine is woken only when an offer is made to its agent (or
    something is due, such as an offer expiring).  The other operations are
    quick and never block, so they are plain methods that call the
    dispatcher directly.  Threads and coroutines may share one dispatcher.

    Runtime complexity: as the dispatcher's operations.
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        """Runtime complexity: O(1)."""
        if not isinstance(dispatcher, Dispatcher):
            raise InvalidArgument("dispatcher", dispatcher, "expected a triage_queue.Dispatcher")
        self._dispatcher = dispatcher

    @property
    def dispatcher(self) -> Dispatcher:
        """The wrapped dispatcher.  Runtime complexity: O(1)."""
        return self._dispatcher

    async def next_ticket(self, agent_id: str, timeout: float | None = None) -> Offer | None:
        """Wait until the agent has an offer and return it (see
        :meth:`Dispatcher.next_for`), or None after ``timeout`` seconds.

        Raises :class:`UnknownAgent`.  Runtime complexity: as
        :meth:`Dispatcher.next_for` per wake-up.
        """
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
                raise InvalidArgument("timeout", timeout, "expected seconds >= 0, or None")
            if timeout == math.inf:
                timeout = None
            elif timeout.__class__ is not float:
                try:
                    timeout = float(timeout)
                except OverflowError:  # an int too large for a float
                    raise InvalidArgument("timeout", timeout, "expected a finite number of seconds >= 0, or None") from None
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        waits = self._dispatcher.waits
        keeper = AsyncKeeper(loop)
        try:
            while True:
                future: asyncio.Future[None] = loop.create_future()
                remaining = None if deadline is None else max(0.0, deadline - loop.time())
                offer: Offer | None
                offer, wait = waits.register_async(agent_id, keeper, future, remaining)
                if offer is not None:
                    return offer
                if remaining is not None and remaining <= 0:
                    waits.unregister_async(agent_id, future)
                    return None
                try:
                    await asyncio.wait((future,), timeout=wait)
                finally:
                    waits.unregister_async(agent_id, future)
        finally:
            waits.stop(keeper)

    def submit(self, ticket: Ticket) -> Offer | None:
        """:meth:`Dispatcher.submit`.  Runtime complexity: as that method."""
        return self._dispatcher.submit(ticket)

    def accept(self, offer: Offer | str) -> Ticket:
        """:meth:`Dispatcher.accept`.  Runtime complexity: as that method."""
        return self._dispatcher.accept(offer)

    def decline(self, offer: Offer | str, reason: str = "") -> None:
        """:meth:`Dispatcher.decline`.  Runtime complexity: as that method."""
        self._dispatcher.decline(offer, reason)

    def complete(self, ticket_id: str, agent_id: str | None = None) -> Ticket:
        """:meth:`Dispatcher.complete`.  Runtime complexity: as that method."""
        return self._dispatcher.complete(ticket_id, agent_id)

    def transfer(self, ticket_id: str, agent_id: str | None = None, **changes: Any) -> Ticket:
        """:meth:`Dispatcher.transfer`.  Runtime complexity: as that method."""
        return self._dispatcher.transfer(ticket_id, agent_id, **changes)

    def cancel(self, ticket_id: str) -> Ticket:
        """:meth:`Dispatcher.cancel`.  Runtime complexity: as that method."""
        return self._dispatcher.cancel(ticket_id)

    def follow_up(self, ticket_id: str) -> Ticket:
        """:meth:`Dispatcher.follow_up`.  Runtime complexity: as that method."""
        return self._dispatcher.follow_up(ticket_id)

    def ticket(self, ticket_id: str) -> Ticket:
        """:meth:`Dispatcher.ticket`.  Runtime complexity: O(1)."""
        return self._dispatcher.ticket(ticket_id)

    def status(self, ticket_id: str) -> TicketStatus:
        """:meth:`Dispatcher.status`.  Runtime complexity: O(1)."""
        return self._dispatcher.status(ticket_id)

    def stats(self) -> Statistics:
        """:meth:`Dispatcher.stats`.  Runtime complexity: as that method."""
        return self._dispatcher.stats()

    def __repr__(self) -> str:
        return f"<AsyncDispatcher over {self._dispatcher!r}>"
