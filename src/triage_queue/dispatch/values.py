"""The desk's values: offers, their status, and explanations of where a
ticket went and why.  Frozen, plain values that the other parts hand out.

>>> OfferStatus("accepted") is OfferStatus.ACCEPTED
True
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable
from typing import Any

import attrs

from triage_queue.events import Event
from triage_queue.ticket import Ticket
from triage_queue.wire import Reader, number

__all__ = ["AgentVerdict", "AssignmentExplanation", "Listener", "Offer", "OfferStatus"]

Listener = Callable[[Event], None]


class OfferStatus(enum.Enum):
    """Where an offer stands."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    REVOKED = "revoked"


@attrs.frozen(slots=True)
class Offer:
    """A ticket offered to one agent until ``expires_at`` (clock seconds;
    ``inf`` with no timeout).  ``how`` says why this agent (for the audit
    trail).  Answer it with :meth:`Dispatcher.accept` or
    :meth:`Dispatcher.decline`.
    """

    id: str
    ticket: Ticket
    agent_id: str
    created_at: float
    expires_at: float
    how: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (an offer without a timeout expires at ``"inf"``);
        what :meth:`from_dict` reads back.  Runtime complexity: O(ticket).

        >>> o = Offer("offer-1", Ticket("T-1", 0.0), "ana", 0.0, float("inf"), "routed")
        >>> Offer.from_dict(o.to_dict()) == o, o.to_dict()["expires_at"]
        (True, 'inf')
        """
        return {
            "id": self.id,
            "ticket": self.ticket.to_dict(),
            "agent_id": self.agent_id,
            "created_at": self.created_at,
            "expires_at": number(self.expires_at),
            "how": self.how,
        }

    @classmethod
    def from_dict(cls, data: Any, *, path: str = "offer") -> Offer:
        """The offer :meth:`to_dict` describes, every value checked (the
        ticket as :meth:`Ticket.from_dict` checks it); anything wrong raises
        the library's error naming its path.  Runtime complexity: O(ticket).
        """
        r = Reader(data, path)
        return cls(
            r.string("id"), Ticket.from_dict(r.raw("ticket")), r.string("agent_id"), r.real("created_at"), r.real("expires_at"),
            r.string("how"),
        )


@attrs.frozen(slots=True)
class AgentVerdict:
    """Why one agent did, or did not, get a ticket."""

    agent_id: str
    chosen: bool
    qualified: bool
    reason: str


@attrs.frozen(slots=True)
class AssignmentExplanation:
    """Why a ticket is where it is: ``state`` is ``"waiting"``,
    ``"offered"`` or ``"assigned"``; ``agent_id`` and ``how`` name the
    agent and the route when it has one; ``verdicts`` give every agent on
    the roster with the reason it was chosen or not.

    Reasons for agents other than the chosen one describe them as they are
    *now* (``now``); ask right after the decision (in an ``offered``
    listener, say) to see them as they were then.
    """

    ticket_id: str
    now: float
    state: str
    agent_id: str | None
    how: str | None
    selection: str
    verdicts: tuple[AgentVerdict, ...]

    def as_dict(self) -> dict[str, Any]:
        """Deprecated: use :meth:`to_dict`.  Runtime complexity: O(agents)."""
        warnings.warn("AssignmentExplanation.as_dict() is deprecated; use to_dict()", DeprecationWarning, stacklevel=2)
        return self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for logs and audit trails.  Runtime complexity: O(agents).

        >>> AssignmentExplanation("T-1", 0.0, "waiting", None, None, "longest_idle", ()).to_dict()["state"]
        'waiting'
        """
        return {
            "ticket_id": self.ticket_id,
            "now": self.now,
            "state": self.state,
            "agent_id": self.agent_id,
            "how": self.how,
            "selection": self.selection,
            "verdicts": [attrs.asdict(v) for v in self.verdicts],
        }

    def __str__(self) -> str:
        if self.agent_id is None:
            head = f"ticket {self.ticket_id!r} is waiting"
        else:
            head = f"ticket {self.ticket_id!r} {self.state} to {self.agent_id!r} ({self.how})"
        lines = [head + f"; selection: {self.selection}"]
        for v in self.verdicts:
            mark = "*" if v.chosen else "-"
            lines.append(f"  {mark} {v.agent_id}: {v.reason}")
        return "\n".join(lines)
