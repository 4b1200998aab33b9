"""Routability: the waiting tickets that no agent on the roster, in any
status, could ever take (no one has the skills, or no one with them takes
tickets on its channel), in the order they became so.  Each is said once,
by an ``unroutable`` event and a warning, and again (``routable``) when the
roster changes so that someone could; with ``refuse_unroutable`` a new
ticket of that kind is refused instead.

Invariants (``_check``): flags are ticket ids, each once.  Entries for
tickets that left the queue another way are dropped lazily
(:meth:`Routability.count`).

>>> from triage_queue.dispatch.presence import Presence
>>> from triage_queue.selection import LongestIdle
>>> r = Routability(Presence(LongestIdle()), refuse=False, emit=lambda *event, **detail: None)
>>> r.why(Ticket("T-1", 0.0), roster_size=0)
'the roster is empty'
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable

from triage_queue.dispatch.audit import logger
from triage_queue.dispatch.presence import Presence
from triage_queue.errors import InvalidArgument
from triage_queue.events import EventKind
from triage_queue.ticket import Ticket
from triage_queue.wire import Reader

__all__ = ["Routability"]


class Routability:
    """The unroutable waiting tickets of one desk; ``presence`` says who
    could take what, ``emit`` is the audit trail's."""

    __slots__ = ("emit", "presence", "refuse", "unroutable")

    def __init__(self, presence: Presence, *, refuse: bool, emit: Callable[..., None]) -> None:
        """Runtime complexity: O(1)."""
        self.presence = presence
        self.refuse = refuse  # refuse_unroutable: refuse a new ticket no one could ever take
        self.emit = emit
        self.unroutable: dict[str, None] = {}  # ticket ids, in the order they became so

    def why(self, ticket: Ticket, roster_size: int) -> str:
        """Why no agent on the roster could ever take ``ticket``.  Runtime complexity: O(G)."""
        skills = ticket.skills
        if not roster_size:
            return "the roster is empty"
        if not self.presence.anyone_has(skills):
            needs = ", ".join(f"{name!r} >= {level}" for name, level in skills.items())
            return f"no agent on the roster has skills {needs}"
        channel = "without a channel" if ticket.channel is None else f"on channel {ticket.channel!r}"
        return f"no agent on the roster with its skills takes tickets {channel}"

    def check(self, ticket: Ticket, now: float, roster_size: int, why: str = "") -> None:
        """A ticket now waiting (new, updated or handed back): flag it, once,
        if no agent could ever take it; clear the flag if one now could.
        Runtime complexity: O(1) memoised, else O(G)."""
        ticket_id = ticket.id
        if self.presence.routable(ticket.skills, ticket.channel):
            if self.unroutable and ticket_id in self.unroutable:
                del self.unroutable[ticket_id]
                self.emit(EventKind.ROUTABLE, now, ticket_id, detail=why or "an agent can take it")
            return
        if ticket_id in self.unroutable:
            return
        self.unroutable[ticket_id] = None
        reason = self.why(ticket, roster_size)
        logger.warning("ticket %r is unroutable: %s", ticket_id, reason)
        self.emit(EventKind.UNROUTABLE, now, ticket_id, detail=reason)

    def recheck(self, now: float, waiting: Callable[[str], Ticket | None], queue: Iterable[Ticket], roster_size: int) -> None:
        """After a roster change: if some profile gained its first agent,
        flagged tickets may be routable now; if one lost its last, waiting
        tickets may have become unroutable (a scan of the ``queue``, but only
        then: the last agent with a skill leaving is rare).  ``waiting``
        gives a ticket while it waits.  Runtime complexity: O(1) usually;
        O(flagged) or O(n) after such a change."""
        presence = self.presence
        widened, narrowed = presence.widened, presence.narrowed
        if not (widened or narrowed):
            return
        presence.widened = presence.narrowed = False
        presence.routable_memo.clear()
        if widened and self.unroutable:
            for ticket_id in list(self.unroutable):
                ticket = waiting(ticket_id)
                if ticket is None:
                    del self.unroutable[ticket_id]  # no longer waiting
                elif presence.routable(ticket.skills, ticket.channel):
                    del self.unroutable[ticket_id]
                    self.emit(EventKind.ROUTABLE, now, ticket_id, detail="the roster changed: an agent can take it")
        if narrowed:
            for ticket in queue:
                if ticket.id not in self.unroutable and not presence.routable(ticket.skills, ticket.channel):
                    self.check(ticket, now, roster_size)

    def forget(self, ticket_id: str) -> None:
        """The ticket left the queue (or an old one of its id did).  Runtime complexity: O(1)."""
        if self.unroutable:
            self.unroutable.pop(ticket_id, None)

    def count(self, still_waiting: Callable[[str], bool]) -> int:
        """How many tickets are unroutable, after dropping those that left
        the queue another way.  Runtime complexity: O(flagged)."""
        for ticket_id in [t for t in self.unroutable if not still_waiting(t)]:
            del self.unroutable[ticket_id]  # left the queue (cancelled through the queue, say)
        return len(self.unroutable)

    def export(self, still_waiting: Callable[[str], bool]) -> list[str]:
        """The flagged ticket ids still waiting, in order (what :meth:`load`
        accepts).  Runtime complexity: O(flagged)."""
        return [ticket_id for ticket_id in self.unroutable if still_waiting(ticket_id)]

    def load(self, data: Reader, waiting: Container[str]) -> None:
        """Take what :meth:`export` gave; each must be ``waiting``.  Runtime complexity: O(flagged)."""
        for item in data.items():
            if not isinstance(item.data, str) or item.data not in waiting:
                raise InvalidArgument(item.path, item.data, "expected the id of a waiting ticket")
            self.unroutable[item.data] = None

    def _check(self) -> None:
        """Assert the flags are ticket ids (used by the test suite).  Whether
        a flagged ticket is still unroutable is not an invariant: a restored
        snapshot or a ticket changed through the queue may flag one that an
        agent could take, until it is next checked."""
        assert all(isinstance(ticket_id, str) for ticket_id in self.unroutable), "a flag that is not a ticket id"
