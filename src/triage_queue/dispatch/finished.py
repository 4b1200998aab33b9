"""Where a ticket stands (:class:`TicketStatus`), and a desk's bounded memory
of its most recently finished tickets, so that a call on a ticket that has
left says "already completed" rather than "unknown".

>>> memory = FinishedMemory(2)
>>> for i in range(3):
...     memory.remember(f"T-{i}", TicketStatus.COMPLETED, float(i))
>>> memory.error("T-0"), memory.error("T-2")
(UnknownTicket("unknown ticket id 'T-0'"), AlreadyFinished("ticket 'T-2' was already completed (at 2)"))
"""

from __future__ import annotations

import collections
import enum
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from triage_queue.dispatch.checks import check_key
from triage_queue.errors import AlreadyFinished, InvalidArgument, UnknownTicket
from triage_queue.wire import Reader

if TYPE_CHECKING:
    from triage_queue.dispatch.desk import Desk
    from triage_queue.ticket import Ticket

__all__ = ["DEFAULT_FINISHED_MEMORY", "MAX_FINISHED_MEMORY", "FinishedMemory", "TicketLookups", "TicketStatus"]

_T = TypeVar("_T")

DEFAULT_FINISHED_MEMORY: Final = 10_000
"""How many finished tickets a desk remembers by default."""
MAX_FINISHED_MEMORY: Final = 1_000_000
"""The largest ``finished_memory`` a desk accepts."""


class TicketStatus(enum.StrEnum):
    """Where a ticket stands.  Each value is also its string, so comparing
    with ``"waiting"`` keeps working.

    ``WAITING``: in the queue; ``OFFERED``: offered to an agent who has not
    answered; ``ASSIGNED``: accepted by an agent and not finished;
    ``COMPLETED`` and ``CANCELLED``: finished (a desk's ``status()`` raises
    :class:`~triage_queue.AlreadyFinished` for these, whose ``status`` is one
    of them).

    Its ``repr`` is its string's, so results print as they did when
    ``status()`` returned plain strings.

    >>> TicketStatus.WAITING == "waiting", f"{TicketStatus.ASSIGNED}", TicketStatus("offered").name
    (True, 'assigned', 'OFFERED')
    >>> TicketStatus.OFFERED, type(TicketStatus.OFFERED).__name__
    ('offered', 'TicketStatus')
    """

    WAITING = "waiting"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    def __repr__(self) -> str:
        return repr(self.value)


_FINISHED = (TicketStatus.COMPLETED, TicketStatus.CANCELLED)


class FinishedMemory:
    """The ids of the last ``size`` finished tickets, with how and when they
    finished; the oldest is forgotten first.  Memory O(size).

    Runtime complexity: every operation O(1) (export and load O(size)).
    """

    __slots__ = ("entries", "size")

    def __init__(self, size: int) -> None:
        """Runtime complexity: O(1)."""
        self.size = size
        self.entries: collections.OrderedDict[str, tuple[TicketStatus, float]] = collections.OrderedDict()

    def remember(self, ticket_id: str, status: TicketStatus, at: float) -> None:
        """A ticket finished.  Runtime complexity: O(1)."""
        if not self.size:
            return
        entries = self.entries
        if ticket_id in entries:  # rare: a new ticket's id is forgotten on arrival
            del entries[ticket_id]
        entries[ticket_id] = (status, at)
        if len(entries) > self.size:
            entries.popitem(last=False)

    def forget(self, ticket_id: str) -> None:
        """A new ticket reuses the id.  Runtime complexity: O(1)."""
        if self.entries:
            self.entries.pop(ticket_id, None)

    def error(self, ticket_id: str) -> UnknownTicket:
        """The error for a ticket not on the desk: :class:`AlreadyFinished`
        if remembered, else :class:`UnknownTicket`.  Runtime complexity: O(1)."""
        entry = self.entries.get(ticket_id)
        if entry is None:
            return UnknownTicket(ticket_id)
        return AlreadyFinished(ticket_id, entry[0].value, entry[1])

    def export(self) -> list[list[Any]]:
        """Oldest first, as ``[id, status, at]``.  Runtime complexity: O(size)."""
        return [[ticket_id, status.value, at] for ticket_id, (status, at) in self.entries.items()]

    def load(self, data: Reader) -> None:
        """Take what :meth:`export` gave (keeping the last ``size``).  Runtime complexity: O(entries)."""
        for entry in data.items():
            ticket_id, status, at = entry.fields(str, str, float)
            if status not in {s.value for s in _FINISHED} or not math.isfinite(at):
                raise InvalidArgument(entry.path, entry.data, "expected [ticket id, 'completed' or 'cancelled', time]")
            self.remember(ticket_id, TicketStatus(status), at)

    def _check(self) -> None:
        """Assert the bound."""
        assert len(self.entries) <= self.size


class TicketLookups:
    """The :class:`~triage_queue.Dispatcher`'s calls on one ticket by id that
    need no routing of their own: :meth:`status`, :meth:`ticket` and
    :meth:`follow_up` (kept here so the facade stays short)."""

    _desk: Desk

    def _run(self, op: Callable[..., _T], *args: Any) -> _T:
        raise NotImplementedError  # pragma: no cover - the Dispatcher's

    def status(self, ticket_id: str) -> TicketStatus:
        """Where a ticket stands: :attr:`TicketStatus.WAITING`, ``OFFERED`` or ``ASSIGNED`` (a str enum, so
        ``d.status(t) == "waiting"`` works).  Raises :class:`~triage_queue.AlreadyFinished` (an
        :class:`~triage_queue.UnknownTicket`) for a remembered finished ticket, else :class:`~triage_queue.UnknownTicket`.
        Runtime complexity: O(1).

        >>> from triage_queue import Agent, Dispatcher, Ticket, TicketQueue
        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> d.accept(d.submit(Ticket("T-1", 0.0))).id, d.status("T-1"), d.status("T-1") == "assigned"
        ('T-1', 'assigned', True)
        >>> _ = d.complete("T-1"); d.status("T-1")
        Traceback (most recent call last):
        ...
        triage_queue.errors.AlreadyFinished: ticket 'T-1' was already completed (at 0)
        """
        return self._run(self._desk.status, check_key("ticket_id", ticket_id))

    def ticket(self, ticket_id: str) -> Ticket:
        """The latest value of a ticket the desk holds: waiting, offered or assigned.  Raises as :meth:`status`.
        Runtime complexity: O(1).

        >>> from triage_queue import Agent, Dispatcher, Ticket, TicketQueue
        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", status="away")])
        >>> d.submit(Ticket("T-1", 0.0, contacts=2)); d.ticket("T-1").contacts
        2
        """
        return self._run(self._desk.ticket, check_key("ticket_id", ticket_id))

    def follow_up(self, ticket_id: str) -> Ticket:
        """The customer wrote again: one more contact (``contacts + 1``, which the feedback-order rule may weigh) wherever
        the ticket is, in one step under the lock; return the new value.  As ``update(ticket_id, contacts=...)``.  Raises
        as :meth:`status`, or :class:`~triage_queue.InvalidTicket` past the largest count.  Runtime complexity: as
        :meth:`~triage_queue.Dispatcher.update`.

        >>> from triage_queue import Dispatcher, Ticket, TicketQueue
        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0))
        >>> d.submit(Ticket("T-1", 0.0)); d.follow_up("T-1").contacts, d.follow_up("T-1").contacts
        (2, 3)
        """
        return self._run(self._desk.follow_up, check_key("ticket_id", ticket_id))
