"""The scheduler: the desk's time and every timed change it keeps.

The desk's time is the latest clock reading it used; it never goes back (a
clock that goes back holds it still until it catches up, said once per
episode).  The timed changes are four schedules, applied earliest first:
the queue's own (re-keys, skills relaxing, holds ending, read through the
seam), offers expiring, passes lapsing (an agent who declined or missed a
ticket may be offered it again), SLA warnings and breaches, and the
timers of the desk's optional parts (an agent's strain check or the end of
its cooldown; see :mod:`triage_queue.dispatch.strain`).  Ties between
schedules go in that order.  The scheduler says what is due next;
the desk applies it (see :meth:`Scheduler.next_source`).

Invariants (``_check``): each schedule is a heap; ``due_at`` is the
earliest head of the desk's own three; every ticket's latest SLA schedule
number has its breach entry; the desk's time is not NaN.

>>> s = Scheduler(lambda: 5.0, sla_warning=None, emit=lambda *event, **detail: None)
>>> s.read(), s.now
(5.0, 5.0)
>>> s.schedule_expiry(35.0, "offer-1"); s.due_at, s.next_instant(None)
(35.0, 35.0)
"""

from __future__ import annotations

import contextlib
import heapq
import math
from collections.abc import Callable, Iterable
from typing import Any

from triage_queue.dispatch.audit import logger
from triage_queue.errors import InvalidArgument
from triage_queue.events import EventKind
from triage_queue.ticket import Ticket
from triage_queue.wire import Reader, number

__all__ = ["Scheduler"]

_INF = math.inf

# What next_source() names: nothing due, the queue's changes, an offer
# expiring, a pass lapsing, an SLA notice, a part's timer (ties go in this order).
NOTHING, QUEUE, EXPIRY, LAPSE, SLA, PART = -1, 0, 1, 2, 3, 4


class Scheduler:
    """The time of one desk and its timers.  ``clock`` is the raw clock;
    ``emit`` the audit trail's (for ``clock_went_back``).  Not thread-safe
    on its own: the desk's lock guards it."""

    __slots__ = ("clock", "clock_held", "due_at", "emit", "expiry", "now", "parts", "queue_next", "retry", "sla",
                 "sla_count", "sla_latest", "sla_sent", "sla_warning")

    def __init__(self, clock: Callable[[], Any], *, sla_warning: float | None, emit: Callable[..., None]) -> None:
        """Runtime complexity: O(1)."""
        self.clock = clock  # the raw clock: only read() and the desk's advance judge its readings
        self.emit = emit
        self.sla_warning = sla_warning
        # The latest clock reading: the desk's time, which never goes back.
        self.now = -_INF
        self.clock_held: float | None = None  # while the clock is behind: the time the desk holds
        # The queue's next change (set when the desk attaches its queue).
        self.queue_next: Callable[[], float | None] = lambda: None
        self.expiry: list[tuple[float, str]] = []  # (expires_at, offer id), lazily cleaned
        self.retry: list[tuple[float, str, str]] = []  # (instant, ticket id, agent id): a pass lapses
        # (instant, 0 warn / 1 breach, ticket id, schedule number); a ticket's
        # latest schedule number is in sla_latest, so older entries are skipped.
        self.sla: list[tuple[float, int, str, int]] = []
        self.sla_latest: dict[str, int] = {}
        self.sla_sent: dict[str, set[tuple[int, float]]] = {}  # notices already sent per ticket
        self.sla_count = 0
        # (instant, code, key): a timer of one of the desk's parts (strain);
        # the part checks an entry against its own state when it falls due,
        # and schedules its live timers again when a snapshot is loaded.
        self.parts: list[tuple[float, int, str]] = []
        # The earliest head of expiry, retry and sla (or +inf), kept so that
        # the desk's advance is one comparison when none of them is due:
        # lowered at every push, recomputed after every pass that pops.
        self.due_at = _INF

    # -- the desk's time ------------------------------------------------------

    def desk_time(self) -> float:
        """The desk's time: the clock reading of the last operation.  Runtime complexity: O(1)."""
        return self.now

    def read(self) -> float:
        """The clock, never earlier than a reading already used (inlined in
        the desk's advance, which runs on every operation).  Lock held.
        Runtime complexity: O(1)."""
        now = self.clock()
        if now.__class__ is float and self.now <= now < _INF:
            self.now = now
            if self.clock_held is not None:
                self.clock_held = None
            return now
        return self.odd_reading(now)

    def desk_clock(self) -> float:
        """The clock the queue and roster read while the desk owns them: the
        raw clock, but never earlier than the desk's time nor a reading the
        desk would refuse (those it reports itself, on its next operation).
        Runtime complexity: O(1)."""
        now = self.clock()
        if now.__class__ is float and self.now <= now < _INF:
            return now
        try:
            value = float(now) if isinstance(now, int | float) and not isinstance(now, bool) else math.nan
        except OverflowError:
            value = math.nan
        return value if self.now <= value < _INF else self.now

    def odd_reading(self, reading: Any) -> float:
        """A reading that is not a finite float at or after the desk's time.
        An int is taken as its float; anything that is not a finite number
        is refused.  A reading earlier than the last one holds the desk's
        time still until the clock catches up, so no offer, hold or SLA is
        decided twice or in the wrong order; said once per episode by a
        ``clock_went_back`` event and a warning.  Lock held.
        Runtime complexity: O(1)."""
        value = math.nan
        if isinstance(reading, int | float) and not isinstance(reading, bool):
            with contextlib.suppress(OverflowError):
                value = float(reading)
        if not -_INF < value < _INF:  # NaN, the infinities, not a number, too large for a float
            raise InvalidArgument("clock", reading, "the clock must return a finite number of seconds")
        if value >= self.now:
            self.now = value
            self.clock_held = None
            return value
        held = self.now
        if self.clock_held is None:
            self.clock_held = held
            logger.warning(
                "the clock went back from %r to %r: the desk's time is held at %r until it catches up", held, reading, held
            )
            self.emit(
                EventKind.CLOCK_WENT_BACK,
                held,
                detail=f"clock read {reading!r:.40} after {held!r}: time held at {held!r} until it catches up",
            )
        return held

    # -- scheduling -----------------------------------------------------------

    def schedule_expiry(self, expires: float, offer_id: str) -> None:
        """An offer expires at ``expires`` (unless answered).  Runtime complexity: O(log offers)."""
        heapq.heappush(self.expiry, (expires, offer_id))
        if expires < self.due_at:  # noqa: PLR1730 - no builtin call on the hot path
            self.due_at = expires

    def schedule_lapse(self, until: float, ticket_id: str, agent_id: str) -> None:
        """An agent's pass on a ticket lapses at ``until``.  Runtime complexity: O(log passes)."""
        heapq.heappush(self.retry, (until, ticket_id, agent_id))
        self.due_at = min(self.due_at, until)

    def schedule_sla(self, ticket: Ticket) -> None:
        """(Re)schedule a ticket's SLA warning and breach at its deadline
        (none if it has none); earlier schedules of it are skipped when due.
        Runtime complexity: O(log n)."""
        due = ticket.sla_due
        if due is None:
            self.sla_latest.pop(ticket.id, None)
            return
        self.sla_count += 1
        number = self.sla_latest[ticket.id] = self.sla_count
        warning = self.sla_warning
        if warning is not None:
            heapq.heappush(self.sla, (due - warning, 0, ticket.id, number))
            self.due_at = min(self.due_at, due - warning)
        heapq.heappush(self.sla, (due, 1, ticket.id, number))
        self.due_at = min(self.due_at, due)

    def schedule_part(self, when: float, code: int, key: str) -> None:
        """A part's timer: ``(code, key)`` falls due at ``when``.  Runtime complexity: O(log timers)."""
        heapq.heappush(self.parts, (when, code, key))
        if when < self.due_at:  # noqa: PLR1730
            self.due_at = when

    def pop_part(self) -> tuple[float, int, str]:
        """The earliest part timer, taken off.  Runtime complexity: O(log timers)."""
        return heapq.heappop(self.parts)

    def reset_due(self) -> None:
        """``due_at`` from the heads of the desk's schedules (after popping).
        Runtime complexity: O(1)."""
        due = _INF
        for schedule in (self.expiry, self.retry, self.sla, self.parts):
            if schedule and schedule[0][0] < due:
                due = schedule[0][0]
        self.due_at = due

    # -- what is due ----------------------------------------------------------

    def next_instant(self, queue_at: float | None) -> float | None:
        """The clock time of the next timed change, or None; ``queue_at`` is
        the queue's next change.  (A simulator asks before every event: no
        list, no min().)  Runtime complexity: O(1)."""
        instant = queue_at
        for schedule in (self.expiry, self.sla, self.retry, self.parts):
            if schedule:
                at = schedule[0][0]
                if instant is None or at < instant:
                    instant = at
        return instant

    def next_source(self, now: float) -> tuple[float, int]:
        """The earliest change due by ``now`` and where it is (``QUEUE``,
        ``EXPIRY``, ``LAPSE``, ``SLA``), or ``(now, NOTHING)``.
        Runtime complexity: O(1)."""
        expiry, retry, sla = self.expiry, self.retry, self.sla
        when = now
        source = NOTHING
        at = self.queue_next()
        if at is not None and at <= when:
            when, source = at, QUEUE
        if expiry and (expiry[0][0] < when or (source < 0 and expiry[0][0] <= when)):
            when, source = expiry[0][0], EXPIRY
        if retry and (retry[0][0] < when or (source < 0 and retry[0][0] <= when)):
            when, source = retry[0][0], LAPSE
        if sla and (sla[0][0] < when or (source < 0 and sla[0][0] <= when)):
            when, source = sla[0][0], SLA
        parts = self.parts
        if parts and (parts[0][0] < when or (source < 0 and parts[0][0] <= when)):
            when, source = parts[0][0], PART
        return when, source

    def pop_expiry(self) -> tuple[float, str]:
        """The earliest expiry, taken off (the desk puts it back with
        :meth:`schedule_expiry` if applying it fails).  Runtime complexity: O(log offers)."""
        return heapq.heappop(self.expiry)

    def pop_lapse(self) -> tuple[float, str, str]:
        """The earliest pass lapse, taken off.  Runtime complexity: O(log passes)."""
        return heapq.heappop(self.retry)

    def pop_sla(self, unanswered: Callable[[str], Ticket | None]) -> tuple[int, str, float] | None:
        """The earliest SLA entry, taken off: ``(kind, ticket id, deadline)``
        of a notice to send (kind 0 a warning, 1 a breach), or None if the
        entry is stale, the ticket was answered (``unanswered`` gives it
        while waiting or offered) or the notice was sent already.
        Runtime complexity: O(log n)."""
        _, kind, ticket_id, number = heapq.heappop(self.sla)
        if self.sla_latest.get(ticket_id) != number:
            return None  # rescheduled since
        sent = self.sla_sent.setdefault(ticket_id, set())
        if kind == 1:
            del self.sla_latest[ticket_id]
            del self.sla_sent[ticket_id]
        ticket = unanswered(ticket_id)
        if ticket is None or ticket.sla_due is None:
            return None  # answered in time, or cancelled
        due = ticket.sla_due
        if (kind, due) in sent:
            return None  # the deadline moved and came back: said already
        sent.add((kind, due))
        return kind, ticket_id, due

    # -- saving and restoring -------------------------------------------------

    def export(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The timers (expiry and retry) and the SLA entries and notices sent,
        as plain data: every entry as it is, those made stale by later
        changes included, so that the next instant is the same after a
        restore.  Runtime complexity: O(entries log entries)."""
        latest = self.sla_latest
        sla = sorted((at, kind, ticket_id, latest.get(ticket_id) == number) for at, kind, ticket_id, number in self.sla)
        timers = {
            "expiry": [[number(at), offer_id] for at, offer_id in sorted(self.expiry)],
            "retry": [[number(at), ticket_id, agent_id] for at, ticket_id, agent_id in sorted(self.retry)],
        }
        notices = {
            "entries": [[number(at), kind, ticket_id, live] for at, kind, ticket_id, live in sla],
            "sent": [[ticket_id, kind, due] for ticket_id, sent in self.sla_sent.items() for kind, due in sorted(sent)],
        }
        return timers, notices

    def load_time(self, top: Reader) -> None:
        """The desk's time and held time from a snapshot.  Runtime complexity: O(1)."""
        now = top.real("now")
        held = top.real("clock_held", allow_none=True)
        if not -_INF < now < _INF or (held is not None and not now <= held < _INF):
            raise InvalidArgument("snapshot.now", now, "expected a finite time (and a finite clock_held not before it, or none)")
        self.now, self.clock_held = now, held

    def load(
        self, timers: Reader, sla: Reader, deadlines: Iterable[tuple[float, str]], unanswered: Callable[[str], Ticket | None]
    ) -> None:
        """Take what :meth:`export` gave (into empty schedules), checked:
        ``deadlines`` are the pending offers' ``(expires_at, id)``, each of
        which must be scheduled; ``unanswered`` gives a ticket waiting or
        offered, whose live SLA timers must stand at its deadline.
        Runtime complexity: O(entries log entries)."""
        for entry in timers.seq("expiry").items():
            self.expiry.append(entry.fields(float, str))
        for entry in timers.seq("retry").items():
            self.retry.append(entry.fields(float, str, str))
        for expires, offer_id in deadlines:
            if expires != _INF and (expires, offer_id) not in self.expiry:
                raise InvalidArgument("snapshot.timers.expiry", offer_id, "a pending offer's deadline is not scheduled")
        heapq.heapify(self.expiry)
        heapq.heapify(self.retry)
        timers_of: dict[str, list[tuple[int, float]]] = {}  # the live timers of each ticket
        for entry in sla.seq("entries").items():
            at, kind, ticket_id, live = entry.fields(float, int, str, bool)
            if kind not in (0, 1) or at != at:
                raise InvalidArgument(entry.path, entry.data, "expected [instant, 0 (warning) or 1 (breach), ticket id, live]")
            number = 0  # a stale entry: never a ticket's latest
            if live:
                timers_of.setdefault(ticket_id, []).append((kind, at))
                number = self.sla_latest.get(ticket_id, 0)
                if not number:
                    self.sla_count += 1
                    number = self.sla_latest[ticket_id] = self.sla_count
            self.sla.append((at, kind, ticket_id, number))
        heapq.heapify(self.sla)
        for entry in sla.seq("sent").items():
            ticket_id, kind, due = entry.fields(str, int, float)
            if kind not in (0, 1) or ticket_id not in timers_of:
                raise InvalidArgument(entry.path, entry.data, "a notice (0 or 1) sent for a ticket with no live SLA timer")
            self.sla_sent.setdefault(ticket_id, set()).add((kind, due))
        self._verify_sla(timers_of, sla.path + ".entries", unanswered)
        self.reset_due()

    def _verify_sla(
        self, timers_of: dict[str, list[tuple[int, float]]], path: str, unanswered: Callable[[str], Ticket | None]
    ) -> None:
        # A ticket's live SLA timers are one breach and at most one warning
        # (none without sla_warning); a ticket still unanswered has them at
        # its deadline.
        warning = self.sla_warning
        for ticket_id, timers in timers_of.items():
            kinds = sorted(kind for kind, _ in timers)
            if kinds not in ([1], [0, 1]) or (kinds[0] == 0 and warning is None):
                raise InvalidArgument(path, ticket_id, "a ticket's live SLA timers must be one breach and at most one warning")
            ticket = unanswered(ticket_id)
            if ticket is None:
                continue  # answered or gone: its timers fire and find nothing to say
            due = ticket.sla_due
            if due is None or any(at != (due if kind else due - (warning or 0.0)) for kind, at in timers):
                raise InvalidArgument(path, ticket_id, "a live SLA timer not at its ticket's deadline")

    def _check(self) -> None:
        """Assert the scheduler's invariants (used by the test suite)."""
        assert self.now == self.now, "the desk's time is NaN"
        for schedule in (self.expiry, self.retry, self.sla, self.parts):
            for i in range(1, len(schedule)):
                assert schedule[(i - 1) // 2] <= schedule[i], "a schedule is not a heap"
        heads = [s[0][0] for s in (self.expiry, self.retry, self.sla, self.parts) if s]
        assert self.due_at == min(heads, default=_INF), "due_at is not the earliest head"
        breaches = {(ticket_id, seq) for _, kind, ticket_id, seq in self.sla if kind == 1}
        for ticket_id, seq in self.sla_latest.items():
            assert 0 < seq <= self.sla_count and (ticket_id, seq) in breaches, f"SLA of {ticket_id!r} not scheduled"
