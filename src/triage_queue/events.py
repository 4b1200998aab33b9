"""Dispatch events: the audit trail of every decision a
:class:`~triage_queue.Dispatcher` makes, and of SLA warnings and breaches.

Subscribe a listener (any callable taking an :class:`Event`) to log them,
page someone, or feed a dashboard; :meth:`Event.to_dict` gives plain data
and :meth:`Event.from_dict` reads it back.

>>> e = Event(EventKind.OFFERED, 12.0, 7, "T-1", "ana", "offer-7", "longest_idle: idle since 3")
>>> e.to_dict()["kind"], str(e)
('offered', "[12] #7 offered: ticket 'T-1' agent 'ana' offer 'offer-7': longest_idle: idle since 3")
>>> Event.from_dict(e.to_dict()) == e
True
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from triage_queue.errors import (
    _MISSING,
    InvalidArgument,
    _deprecated_as_dict,
    _json_data,
    _read_number,
    _unknown_field,
    _wire_items,
    _wire_number,
)

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
    DESK_DIVERGED = "desk_diverged"  # a shared desk's replica found its state differs from another's (then resyncs)
    OVERFLOW_STARTED = "overflow_started"  # a skill group surged: its tickets may also go to backup agents
    OVERFLOW_ENDED = "overflow_ended"  # the surge passed (below the lower thresholds): backups stop taking them
    COOLDOWN_STARTED = "cooldown_started"  # an agent under strain gets no new offers until a time
    COOLDOWN_ENDED = "cooldown_ended"  # the agent's cooldown is over: offers resume
    RECURRING = "recurring"  # tickets of one category arrived often enough to count as a recurring issue


@attrs.frozen(slots=True)
class Event:
    """One entry of the audit trail.

    ``seq`` numbers events in the order they happened (across threads);
    ``time`` is the dispatcher's clock; ``detail`` says why, in words;
    ``changes`` says what changed, as plain data: the new values of an
    update, the target and reason of a transfer... (None when nothing but
    the kind, ids and detail is needed).  It is a mapping of JSON data
    (see :meth:`to_dict`); treat it as read-only.
    """

    kind: EventKind
    time: float
    seq: int
    ticket_id: str | None = None
    agent_id: str | None = None
    offer_id: str | None = None
    detail: str = ""
    changes: Mapping[str, Any] | None = attrs.field(default=None, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, in field order: ``kind`` as its value, ``time``
        as a number (an infinite one as ``"inf"`` or ``"-inf"``, NaN as ``"nan"``), ``changes``
        as a copy with every dict's keys sorted (or None).  The same event
        always gives the same dict, and :meth:`from_dict` reads it back equal.

        Raises :class:`~triage_queue.errors.InvalidArgument` naming
        ``changes`` and the path of a value in them that is not JSON data.

        Runtime complexity: O(1), plus O(c log c) for c values in ``changes``.

        >>> Event(EventKind.UPDATED, 5.0, 2, "T-1", changes={"severity": "high"}).to_dict()
        {'kind': 'updated', 'time': 5.0, 'seq': 2, 'ticket_id': 'T-1', 'agent_id': None, 'offer_id': None, \
'detail': '', 'changes': {'severity': 'high'}}
        """
        changes = self.changes
        if changes is not None:
            if not isinstance(changes, Mapping):
                raise InvalidArgument("changes", changes, "expected a mapping of JSON data, or None")
            changes = _json_data(InvalidArgument, "changes", changes)
        return {
            "kind": self.kind.value,
            "time": _wire_number(self.time),
            "seq": self.seq,
            "ticket_id": self.ticket_id,
            "agent_id": self.agent_id,
            "offer_id": self.offer_id,
            "detail": self.detail,
            "changes": changes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """The event :meth:`to_dict` describes.  ``kind``, ``time`` and
        ``seq`` are required; the others default to None (``detail`` to "").
        Untrusted data is safe to pass: anything wrong raises
        :class:`~triage_queue.errors.InvalidArgument` naming the field.

        Runtime complexity: O(len(data)), plus O(c log c) for c values in
        ``changes``.

        >>> Event.from_dict({"kind": "accepted", "time": 9, "seq": 4, "ticket_id": "T-1", "agent_id": "ana"})
        Event(kind=<EventKind.ACCEPTED: 'accepted'>, time=9, seq=4, ticket_id='T-1', agent_id='ana', offer_id=None, \
detail='', changes=None)
        >>> Event.from_dict({"kind": "teleported", "time": 9, "seq": 4})
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidArgument: kind='teleported': expected an EventKind value (submitted, held, ...)
        """
        items = _wire_items(InvalidArgument, "event", data)
        for key, value in items.items():
            if key not in _EVENT_FIELDS:
                _unknown_field(InvalidArgument, key, value, _EVENT_FIELDS, "an event field")
        for key in ("kind", "time", "seq"):
            if key not in items:
                raise InvalidArgument(key, _MISSING, "missing: an event needs kind, time and seq")
        kind = items["kind"]
        member = _KINDS.get(kind) if kind.__class__ is str else None
        if member is None:
            raise InvalidArgument("kind", kind, "expected an EventKind value (submitted, held, ...)")
        time = _read_number(InvalidArgument, "time", items["time"], "clock seconds")
        seq = items["seq"]
        if seq.__class__ is not int or not 0 <= seq < 2**63:
            raise InvalidArgument("seq", seq, "expected an int 0..2**63-1")
        ids = []
        for key in ("ticket_id", "agent_id", "offer_id"):
            value = items.get(key)
            if value is not None and value.__class__ is not str:
                raise InvalidArgument(key, value, "expected a string or None")
            ids.append(value)
        detail = items.get("detail", "")
        if detail.__class__ is not str:
            raise InvalidArgument("detail", detail, "expected a string")
        changes = items.get("changes")
        if changes is not None:
            if changes.__class__ is not dict:
                raise InvalidArgument("changes", changes, "expected a mapping (a JSON object) or None")
            changes = _json_data(InvalidArgument, "changes", changes)
        return cls(member, time, seq, ids[0], ids[1], ids[2], detail, changes)

    def as_dict(self) -> dict[str, Any]:
        """Deprecated alias of :meth:`to_dict` (warns).  Runtime complexity: as :meth:`to_dict`."""
        return _deprecated_as_dict(self)

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


_EVENT_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(Event))
_KINDS: dict[str, EventKind] = {kind.value: kind for kind in EventKind}
