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
from typing import Any, Final

from triage_queue.errors import AlreadyFinished, InvalidArgument, UnknownTicket
from triage_queue.wire import Reader

__all__ = ["DEFAULT_FINISHED_MEMORY", "MAX_FINISHED_MEMORY", "FinishedMemory", "TicketStatus"]

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
