"""The audit trail: every event a desk emits, numbered in order, kept within
a bound, and delivered to listeners outside the lock.

Invariants: event numbers increase by one per event; the trail keeps at
most ``keep`` of the latest; the outbox holds events not yet delivered, and
only while someone listens.

>>> from triage_queue.events import EventKind
>>> trail = AuditTrail(keep=2, on_error=log_listener_error)
>>> trail.emit(EventKind.SUBMITTED, 0.0, "T-1"); trail.emit(EventKind.SUBMITTED, 1.0, "T-2")
>>> trail.emit(EventKind.CANCELLED, 2.0, "T-1")
>>> [(e.seq, e.kind.value) for e in trail.events()]
[(2, 'submitted'), (3, 'cancelled')]
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from triage_queue.dispatch.values import Listener
from triage_queue.errors import InvalidArgument
from triage_queue.events import Event, EventKind
from triage_queue.wire import Reader

__all__ = ["MAX_AUDIT", "AuditTrail", "log_listener_error", "logger"]

# The longest audit trail a dispatcher keeps (``audit=``): about 150 bytes
# an event, so at most some 15 GB.
MAX_AUDIT = 100_000_000

# Listener and callback errors, unroutable tickets and clock anomalies are
# logged here; the library configures no handler.
logger = logging.getLogger("triage_queue.dispatch")


def log_listener_error(event: Event, error: Exception) -> None:
    """The default ``on_listener_error``: log the event and the traceback at
    ERROR level on the ``triage_queue.dispatch`` logger.

    Runtime complexity: O(1) plus the logging handlers' cost.

    >>> log_listener_error(Event(EventKind.SUBMITTED, 0.0, 1, "T-1"), RuntimeError("pager down"))
    """
    logger.error("listener failed on event %s: %r", event, error, exc_info=error)


class AuditTrail:
    """Numbers events, keeps the latest ``keep`` of them, and queues them for
    listeners.  Events are kept as plain tuples and made into :class:`Event`
    values only when read or when someone listens: most are never read, and
    a tuple is far cheaper per call.  Not thread-safe on its own: the
    desk's lock guards it, except :meth:`deliver`, which runs outside it.
    """

    __slots__ = ("_raw", "_trail", "keep", "listeners", "on_error", "outbox", "seq")

    def __init__(self, keep: int, on_error: Callable[[Event, Exception], None]) -> None:
        """Runtime complexity: O(1)."""
        self.keep = keep
        self._trail: deque[Event | tuple[Any, ...]] = deque(maxlen=keep)
        self._raw = False  # whether the trail may hold tuples
        self.seq = 0  # the number of the latest event
        self.listeners: list[Listener] = []
        self.outbox: list[Event] = []  # events for listeners, not yet delivered
        self.on_error = on_error

    @property
    def wants_detail(self) -> bool:
        """Whether anyone can read an event's detail (so it is worth wording).
        Runtime complexity: O(1)."""
        return bool(self.keep or self.listeners)

    def emit(  # noqa: PLR0917 - called with positional ids throughout
        self,
        kind: EventKind,
        now: float,
        ticket_id: str | None = None,
        agent_id: str | None = None,
        offer_id: str | None = None,
        detail: str = "",
        changes: dict[str, Any] | None = None,
    ) -> None:
        """Record one event (``changes``: what changed, as plain data).
        Runtime complexity: O(1)."""
        seq = self.seq = self.seq + 1
        if self.listeners:
            event = Event(kind, now, seq, ticket_id, agent_id, offer_id, detail, changes)
            self._trail.append(event)
            self.outbox.append(event)
        elif self.keep:
            self._trail.append((kind, now, seq, ticket_id, agent_id, offer_id, detail, changes))
            self._raw = True

    def events(self) -> list[Event]:
        """The kept events, oldest first.  Runtime complexity: O(keep)."""
        if self._raw:
            # Made into values once, so every read returns the same objects.
            self._trail = deque([e if isinstance(e, Event) else Event(*e) for e in self._trail], maxlen=self.keep)
            self._raw = False
        return list(self._trail)  # type: ignore[arg-type]

    def subscribe(self, listener: Listener, lock: threading.RLock) -> Callable[[], None]:
        """Add a listener (the desk's ``lock`` held while the list changes);
        return a function that removes it.  Runtime complexity: O(1) (removing O(listeners))."""
        with lock:
            self.listeners.append(listener)

        def unsubscribe() -> None:
            with lock, contextlib.suppress(ValueError):
                self.listeners.remove(listener)

        return unsubscribe

    def take_outbox(self) -> tuple[list[Event], list[Listener]]:
        """The events to deliver and the listeners to deliver them to, taken
        under the lock.  Runtime complexity: O(listeners)."""
        events, self.outbox = self.outbox, []
        return events, list(self.listeners)

    def deliver(self, events: list[Event], listeners: list[Listener]) -> None:
        """Call every listener with every event, outside the lock.  Every
        listener hears every event even if one of them raises; the events
        may be another thread's (the outbox is shared), so an error goes to
        ``on_error`` and never to the caller: a call's result or error is its
        own.  Runtime complexity: O(events x listeners)."""
        for event in events:
            for listener in listeners:
                try:
                    listener(event)
                except Exception as exc:
                    self._listener_failed(event, exc)

    def _listener_failed(self, event: Event, error: Exception) -> None:
        try:
            self.on_error(event, error)
        except Exception as hook_error:
            # The hook itself failed: logged, still not the caller's business.
            logger.error("on_listener_error failed on event %s: %r", event, hook_error, exc_info=hook_error)

    def export(self) -> dict[str, Any]:
        """The trail as plain data: the latest event number and the kept
        events.  Runtime complexity: O(keep)."""
        return {"seq": self.seq, "events": [e.to_dict() for e in self.events()]}

    def load(self, data: Reader) -> None:
        """Take the trail :meth:`export` gave (into an empty trail).
        Runtime complexity: O(events)."""
        seq = data.integer("seq")
        events: list[Event] = []
        for item in data.seq("events").items():
            event = Event.from_dict(item.data)
            if (events and event.seq <= events[-1].seq) or event.seq > seq:
                raise InvalidArgument(item.path, item.data, "events must be in order and numbered up to seq")
            events.append(event)
        if events and events[-1].seq != seq:
            raise InvalidArgument(data.path + ".seq", seq, f"the last event kept is number {events[-1].seq}")
        self.seq = seq
        self._trail = deque(events[-self.keep :] if self.keep else [], maxlen=self.keep)
        self._raw = False

    def _check(self) -> None:
        """Assert the trail's invariants (used by the test suite)."""
        seqs = [e.seq if isinstance(e, Event) else e[2] for e in self._trail]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "events out of order"
        assert not seqs or seqs[-1] == self.seq, "the latest event is not the last kept"
        assert len(seqs) <= self.keep
        assert not self.outbox or self.listeners or all(isinstance(e, Event) for e in self.outbox)
