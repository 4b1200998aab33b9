"""Dispatch events: the audit trail of every decision a
:class:`~triage_queue.Dispatcher` makes, and of SLA warnings and breaches.

Subscribe a listener (any callable taking an :class:`Event`) to log them,
page someone, or feed a dashboard; :meth:`Event.as_dict` gives plain data.

>>> e = Event(EventKind.OFFERED, 12.0, 7, "T-1", "ana", "offer-7", "longest_idle: idle since 3")
>>> e.as_dict()["kind"], str(e)
('offered', "[12] #7 offered: ticket 'T-1' agent 'ana' offer 'offer-7': longest_idle: idle since 3")
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

__all__ = ["Event", "EventKind"]


class EventKind(enum.Enum):
    """What happened."""

    SUBMITTED = "submitted"  # a ticket entered the queue
    HELD = "held"  # kept for its returning customer's or dedicated agent
    RELEASED = "released"  # a hold ended: anyone qualified may take it
    OFFERED = "offered"
    ACCEPTED = "accepted"  # the ticket is assigned to the agent
    DECLINED = "declined"
    EXPIRED = "expired"  # an offer ran out; the ticket went back to its place
    REVOKED = "revoked"  # an offer was withdrawn (agent left or no longer qualifies, ticket cancelled)
    COMPLETED = "completed"
    TRANSFERRED = "transferred"  # sent back to the queue with new requirements
    UPDATED = "updated"
    CANCELLED = "cancelled"
    SLA_WARNING = "sla_warning"  # the SLA runs out within the warning time
    SLA_BREACHED = "sla_breached"
    AGENT_CHANGED = "agent_changed"  # joined, left, or changed status, skills or capacity
    UNROUTABLE = "unroutable"  # no agent on the roster could ever take this waiting ticket
    ROUTABLE = "routable"  # a roster change made an unroutable ticket routable again
    CLOCK_WENT_BACK = "clock_went_back"  # a clock reading earlier than the last: time held still


@attrs.frozen(slots=True)
class Event:
    """One entry of the audit trail.

    ``seq`` numbers events in the order they happened (across threads);
    ``time`` is the dispatcher's clock; ``detail`` says why, in words.
    """

    kind: EventKind
    time: float
    seq: int
    ticket_id: str | None = None
    agent_id: str | None = None
    offer_id: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain data for logs.  Runtime complexity: O(1)."""
        return {
            "kind": self.kind.value,
            "time": self.time,
            "seq": self.seq,
            "ticket_id": self.ticket_id,
            "agent_id": self.agent_id,
            "offer_id": self.offer_id,
            "detail": self.detail,
        }

    def __str__(self) -> str:
        parts = [f"[{self.time:g}] #{self.seq} {self.kind.value}:"]
        if self.ticket_id is not None:
            parts.append(f"ticket {self.ticket_id!r}")
        if self.agent_id is not None:
            parts.append(f"agent {self.agent_id!r}")
        if self.offer_id is not None:
            parts.append(f"offer {self.offer_id!r}")
        text = " ".join(parts)
        return f"{text}: {self.detail}" if self.detail else text
