"""The ticket queue: tickets in the order a policy gives them, served
best-first, optionally restricted to what an agent's skills can handle.

>>> from triage_queue import ManualClock, Ticket, TicketQueue
>>> clock = ManualClock(100.0)
>>> q = TicketQueue(clock=clock)
>>> q.push(Ticket("T-1", 90.0))
>>> q.push(Ticket("T-2", 95.0, severity="critical", skills={"payments": 3}))
>>> q.push(Ticket("T-3", 80.0, customer_tier="gold"))
>>> [t.id for t in q]
['T-2', 'T-3', 'T-1']
>>> q.pop(skills={"billing": 2}).id      # cannot do payments: best it can take
'T-3'
>>> q.position("T-1")
1
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from typing import Any, NoReturn, Protocol, cast

import attrs

from triage_queue.clock import Clock
from triage_queue.errors import (
    DuplicateTicket,
    Empty,
    InvalidArgument,
    InvalidTicket,
    InvalidValue,
    RuleError,
    TriageError,
    UnknownTicket,
    _bad_key,
    _brief,
    _brief_text,
    _finite,
)
from triage_queue.heap import IndexedHeap
from triage_queue.policy import Explanation, Policy
from triage_queue.store import Lane, MemoryStore, TicketStore
from triage_queue.ticket import _EMPTY_SKILLS, SkillSet, SkillsLike, Ticket

__all__ = ["DeskSeam", "TicketQueue"]


class _LockLike(Protocol):
    """What :class:`TicketQueue` needs of a lock: ``threading.RLock``'s API."""

    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...

    def release(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, exc_type: Any, exc: Any, tb: Any, /) -> Any: ...


class TicketQueue:
    """Tickets ordered by a :class:`~triage_queue.Policy`, with an injected clock.

    Adding: :meth:`push`.  Serving: :meth:`pop`, :meth:`peek` (optionally for
    an agent's ``skills``, ``channels`` and id).  Changing: :meth:`update`,
    :meth:`remove`, :meth:`hold`, :meth:`release`.  Looking up: :meth:`get`,
    ``q[ticket_id]``, ``ticket_id in q``, ``len(q)``, :meth:`position`,
    :meth:`explain`, :meth:`holder`, :meth:`due_within`, :meth:`breached`.
    Iterating: ``iter(q)`` yields tickets in service order.

    The order is the policy's :meth:`~triage_queue.Policy.sort_key` followed by
    arrival sequence, so exact ties are first come, first served.  Keys are
    computed when a ticket arrives or changes; rules whose keys step in time
    are re-keyed at the instants they announce, so the order is right at
    every clock reading.  The same mechanism drops a ticket's
    ``preferred_skills`` once it has waited ``relax_after`` seconds, and ends
    a :meth:`hold` when it runs out: no call ever scans the queue for them.
    Changes falling due at the same instant are applied in arrival order
    (the order of :meth:`push`), so which tickets a dispatcher sees re-laned,
    and in what order, follows from the queue's contents alone, not from the
    history of calls that built it.

    Every failed call raises a :class:`~triage_queue.TriageError` subclass and
    leaves the queue unchanged.  With a policy whose rules step in time, any
    operation that reads the order first re-keys the tickets whose step has
    passed; if a rule raises then, that operation raises the
    :class:`~triage_queue.RuleError` (naming the ticket), the ticket keeps its
    previous place, and every later operation raises it again until the
    ticket is removed: a broken rule is never skipped silently.

    Thread safety: every public operation takes the queue's re-entrant
    :attr:`lock` for its whole (short) duration, so each is atomic.  Hold
    ``q.lock`` yourself to make several calls one atomic step.

    Runtime complexity: see each method; n tickets, P lanes (distinct
    requirement, channel and holder), Q lanes an agent's skills satisfy.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        clock: Clock = time.time,
        store: TicketStore | None = None,
        lock: _LockLike | None = None,
    ) -> None:
        """``policy`` defaults to :meth:`Policy.default`; ``clock`` to
        :func:`time.time`; ``store`` (empty) to a new :class:`MemoryStore`;
        ``lock`` to a new ``threading.RLock`` (pass any re-entrant lock with
        the same API, e.g. one shared with other objects or instrumented).

        Runtime complexity: O(1).

        >>> import threading
        >>> shared = threading.RLock()
        >>> TicketQueue(clock=lambda: 0.0, lock=shared).lock is shared
        True
        """
        if policy is None:
            policy = Policy.default()
        elif not isinstance(policy, Policy):
            raise InvalidArgument("policy", policy, "expected a triage_queue.Policy")
        if not callable(clock):
            raise InvalidArgument("clock", clock, "expected a zero-argument callable returning seconds")
        if store is None:
            store = MemoryStore()
        else:
            try:
                size = len(store)
            except Exception:
                raise InvalidArgument("store", store, "expected a TicketStore (it has no len())") from None
            if size != 0:
                raise InvalidArgument("store", store, "a queue must start from an empty store")
        self._policy = policy
        self._clock = clock
        self._store = store
        self._sort_key = policy.sort_key
        # sort_key(ticket, now) + (seq,) in one call: the stored priority.
        self._seq_key = policy._seq_key
        self._stepped = policy.time_stepped
        # The store's optional fast paths (TicketStore), or None.
        self._insert_new: Callable[[Ticket, tuple[Any, ...], Lane], bool] | None = getattr(store, "insert_new", None)
        self._pop_best: Callable[[], Ticket | None] | None = getattr(store, "pop_best", None)
        self._ordered_tickets: Callable[[], list[Ticket]] | None = getattr(store, "ordered_tickets", None)
        insert_plain: Callable[[Ticket, tuple[Any, ...]], bool] | None = getattr(store, "insert_plain", None)
        if insert_plain is None and self._insert_new is not None:
            insert_new: Callable[[Ticket, tuple[Any, ...], Lane], bool] = self._insert_new

            def insert_plain(ticket: Ticket, priority: tuple[Any, ...]) -> bool:
                return insert_new(ticket, priority, (ticket.skills, ticket.channel, None))

        self._insert_plain = insert_plain
        # Whether push may take its fast path (still only for a ticket with
        # no preferred skills while nothing is scheduled): one test per push.
        self._fast_push = not self._stepped and insert_plain is not None
        # Ticket id -> the next instant its key or lane changes; equal
        # instants are applied in arrival order (the ticket's sequence number
        # is the heap's tie-break), so the order follows from the state alone.
        self._changes: IndexedHeap[str, float] = IndexedHeap()
        # Ticket id -> (agent id, until): tickets kept for one agent.
        self._holds: dict[str, tuple[str, float]] = {}
        self._next_seq = 0
        if lock is None:
            lock = cast(_LockLike, threading.RLock())
        elif not all(callable(getattr(lock, name, None)) for name in ("acquire", "release", "__enter__", "__exit__")):
            raise InvalidArgument("lock", lock, "expected a re-entrant lock such as threading.RLock()")
        self._lock = cast(threading.RLock, lock)
        # When a dispatcher watches this queue: ids of tickets whose lane
        # changed with time (relaxed skills, a hold ended), for it to route.
        self._relaned: list[str] | None = None
        # The seam handed out by attach(), while one is attached.
        self._seam: DeskSeam | None = None
        # Whether reads apply the changes due first (DeskSeam.set_reads), and
        # the time reads that do not report at (None: the clock).
        self._advance_reads = True
        self._as_of: Callable[[], float] | None = None

    @property
    def policy(self) -> Policy:
        """The policy ordering this queue.  Runtime complexity: O(1)."""
        return self._policy

    @property
    def lock(self) -> threading.RLock:
        """The re-entrant lock every operation takes.  Runtime complexity: O(1)."""
        return self._lock

    @property
    def clock(self) -> Clock:
        """The clock this queue reads (read-only).  Runtime complexity: O(1).

        >>> TicketQueue(clock=time.monotonic).clock is time.monotonic
        True
        """
        return self._clock

    def now(self) -> float:
        """The clock's current reading.  Runtime complexity: O(1)."""
        return self._clock()

    def attach(self, owner: object) -> DeskSeam:
        """Attach a dispatcher (``owner``) to this queue and return the
        :class:`DeskSeam` it drives the queue through.  A queue serves one
        dispatcher at a time: raises :class:`InvalidArgument` if one is
        attached; ``seam.detach()`` frees the queue again.

        Runtime complexity: O(1).

        >>> q = TicketQueue(clock=lambda: 0.0)
        >>> seam = q.attach("desk")
        >>> q.attach("other desk")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidArgument: queue=<TicketQueue: ...>: this queue is already attached to 'desk'
        >>> seam.detach(); q.attach("other desk").owner
        'other desk'
        """
        with self._lock:
            if self._seam is not None or self._relaned is not None:
                holder = "a dispatcher" if self._seam is None else _brief(self._seam.owner)
                raise InvalidArgument("queue", self, f"this queue is already attached to {holder}")
            seam = DeskSeam(self, owner)
            self._relaned = []
            self._seam = seam
            return seam

    # -- adding -------------------------------------------------------------

    def push(self, ticket: Ticket) -> None:
        """Add a ticket.

        Raises :class:`DuplicateTicket` if its id is queued,
        :class:`InvalidArgument` if it is not a :class:`Ticket`, and
        :class:`RuleError` if the policy cannot score it.

        Runtime complexity: O(R + log n) amortised for R rules.

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> q.push(Ticket("T-1", 0.0)); len(q)
        1
        """
        if ticket.__class__ is not Ticket and not isinstance(ticket, Ticket):
            raise InvalidArgument("ticket", ticket, "expected a triage_queue.Ticket")
        with self._lock:
            seq = self._next_seq
            # ``is _EMPTY_SKILLS``: a SkillSet's truth is a Python-level
            # __len__ call; any other empty set takes _insert, which agrees.
            if self._fast_push and ticket.preferred_skills is _EMPTY_SKILLS and not self._changes._index:
                # _insert for the common case (nothing scheduled, nothing to
                # schedule), with the duplicate test in the store's insert.
                try:
                    priority = self._seq_key(ticket, self._clock(), seq)
                except Exception:
                    if ticket.id in self._store:  # a duplicate is reported first, as ever
                        raise DuplicateTicket(ticket.id) from None
                    raise
                if not self._insert_plain(ticket, priority):  # type: ignore[misc]
                    raise DuplicateTicket(ticket.id)
            else:
                if ticket.id in self._store:
                    raise DuplicateTicket(ticket.id)
                self._insert(ticket, seq)
            self._next_seq = seq + 1

    def _new_sequence(self) -> int:
        # An arrival number for a ticket a dispatcher hands to an agent
        # without queueing it: it keeps its place should it come back.
        seq = self._next_seq
        self._next_seq = seq + 1
        return seq

    def _insert(self, ticket: Ticket, seq: int, hold: tuple[str, float] | None = None) -> None:
        now = self._clock()
        if self._changes._index:  # the heap's dict: no Python-level __len__ call
            self._rekey_due(now)
        priority = self._seq_key(ticket, now, seq)
        when = self._policy.next_change(ticket, now) if self._stepped else None
        if hold is None and not ticket.preferred_skills:
            lane: Lane = (ticket.skills, ticket.channel, None)
        else:
            lane, lane_when = _lane(ticket, now, hold)
            if lane_when is not None and (when is None or lane_when < when):
                when = lane_when
        self._store.insert(ticket, priority, lane)
        if when is not None:
            self._changes.set_tied(ticket.id, when, seq)
        if lane[2] is not None:
            self._holds[ticket.id] = hold  # type: ignore[assignment]

    # -- serving ------------------------------------------------------------

    def pop(
        self,
        skills: SkillsLike | None = None,
        *,
        channels: Container[str | None] | None = None,
        agent: str | None = None,
    ) -> Ticket:
        """Remove and return the best ticket; with ``skills`` (an agent's
        ``{skill: proficiency}``, or skill names meaning proficiency 1), the
        best ticket those skills satisfy; with ``channels``, the best whose
        channel is in it (None stands for tickets with no channel).  Tickets
        :meth:`hold`-ing for an agent are served only with that ``agent``.

        Raises :class:`Empty` if there is none.

        Runtime complexity: O(log n) amortised with no filter; with skills
        O(Q + log n) amortised (O(P) more the first time a skill set is seen).

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> q.push(Ticket("vip", 5.0, customer_tier="gold", skills={"api": 3}))
        >>> q.push(Ticket("std", 1.0, skills=["api"]))
        >>> q.pop(skills={"api": 1}).id, q.pop().id
        ('std', 'vip')
        """
        if skills is None and channels is None and agent is None:
            # The unfiltered pop: _take_locked inlined.
            with self._lock:
                changes = self._changes
                if changes._index:  # the heap's dict: no Python-level __len__ call
                    self._rekey_due(self._clock())
                pop_best = self._pop_best
                if pop_best is not None:
                    best = pop_best()
                else:
                    popped = self._store.pop_first(None)
                    best = None if popped is None else popped[0]
                if best is None:
                    raise Empty(_empty_message(len(self._store), None))
                ticket = best
                if changes._index:
                    changes.pop(ticket.id, None)
                if self._holds:
                    self._holds.pop(ticket.id, None)
                return ticket
        _check_filters(channels, agent)
        found = self._take(None if skills is None else _to_skills(skills), channels, agent)
        if found is None:
            raise Empty(_empty_message(len(self._store), skills))
        return found[0]

    def _take(
        self, skills: SkillSet | None, channels: Container[str | None] | None, agent: str | None
    ) -> tuple[Ticket, int] | None:
        # Pop the best eligible ticket with its arrival sequence, so that a
        # dispatcher can put it back exactly where it was.
        with self._lock:
            return self._take_locked(skills, channels, agent)

    def _take_locked(
        self, skills: SkillSet | None, channels: Container[str | None] | None, agent: str | None
    ) -> tuple[Ticket, int] | None:
        # _take for a caller already holding the lock (the dispatcher).
        changes = self._changes
        if changes._index:  # the heap's dict: no Python-level __len__ call
            self._rekey_due(self._clock())
        try:
            found = self._store.pop_first(skills, channels, agent)
        except Exception as exc:
            _bad_channels(channels, exc)
        if found is None:
            return None
        ticket, priority = found
        ticket_id = ticket.id
        if changes._index:
            changes.pop(ticket_id, None)
        if self._holds:
            self._holds.pop(ticket_id, None)
        return ticket, int(priority[-1])

    def _restore(self, ticket: Ticket, seq: int, hold: tuple[str, float] | None = None) -> None:
        # Put a ticket taken by _take back at its original place (its key is
        # recomputed at the current time, its arrival sequence kept).
        with self._lock:
            if ticket.id in self._store:
                raise DuplicateTicket(ticket.id)
            self._insert(ticket, seq, hold)

    def _score_check(self, ticket: Ticket, now: float) -> None:
        # Raise RuleError now if the policy cannot place this ticket, so that
        # a caller can check before it changes anything.
        self._sort_key(ticket, now)
        if self._stepped:
            self._policy.next_change(ticket, now)

    def _sequence(self, ticket_id: str) -> int:
        return int(self._store.priority(ticket_id)[-1])

    def peek(
        self,
        skills: SkillsLike | None = None,
        *,
        channels: Container[str | None] | None = None,
        agent: str | None = None,
    ) -> Ticket:
        """Return what :meth:`pop` would return, without removing it.

        Runtime complexity: O(1) amortised with no filter, O(Q) with skills.

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> q.push(Ticket("T-1", 0.0))
        >>> q.peek().id, len(q)
        ('T-1', 1)
        """
        wanted = None if skills is None else _to_skills(skills)
        _check_filters(channels, agent)
        with self._lock:
            if self._changes._index and self._advance_reads:
                self._rekey_due(self._clock())
            try:
                ticket = self._store.first(wanted, channels, agent)
            except Exception as exc:
                _bad_channels(channels, exc)
            if ticket is None:
                raise Empty(_empty_message(len(self._store), skills))
            return ticket

    # -- changing -----------------------------------------------------------

    def update(self, ticket_id: str, **changes: Any) -> Ticket:
        """Change fields of a queued ticket and move it to its new place;
        return the new ticket.

        Typical changes: ``severity=`` (escalation), ``customer_tier=``
        (upgrade), ``contacts=`` (a follow-up), ``skills=`` (re-routing).
        The ticket keeps its arrival sequence, so among equals it keeps its
        place, and keeps any :meth:`hold`.  Raises :class:`UnknownTicket`,
        :class:`InvalidTicket` (bad field or value; the id cannot change) or
        :class:`RuleError`.

        Runtime complexity: O(R + log n) amortised.

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> q.push(Ticket("a", 0.0)); q.push(Ticket("b", 1.0))
        >>> q.update("b", severity="critical").severity.name, q.peek().id
        ('CRITICAL', 'b')
        """
        with self._lock:
            old = self._get(ticket_id)
            if old is None:
                raise UnknownTicket(ticket_id)
            return self._update_to(old.evolve(**changes))

    def _update_to(self, ticket: Ticket) -> Ticket:
        # update() with the new value already built (and validated) by the
        # caller: a dispatcher evolves it once to check its own bookkeeping.
        with self._lock:
            ticket_id = ticket.id
            now = self._clock()
            if self._changes:
                try:
                    self._rekey_due(now)
                except RuleError as exc:
                    # A broken rule on this very ticket must not stop its
                    # repair: the update re-keys it anyway.
                    if exc.ticket_id != ticket_id:
                        raise
            self._relocate(ticket, now)
            return ticket

    def _relocate(self, ticket: Ticket, now: float) -> None:
        # Recompute a queued ticket's key, lane and next change at now.
        store = self._store
        ticket_id = ticket.id
        seq = store.priority(ticket_id)[-1]
        priority = self._seq_key(ticket, now, seq)
        when = self._policy.next_change(ticket, now) if self._stepped else None
        hold = self._holds.get(ticket_id) if self._holds else None
        if hold is None and not ticket.preferred_skills:
            lane: Lane = (ticket.skills, ticket.channel, None)
        else:
            lane, lane_when = _lane(ticket, now, hold)
            if lane_when is not None and (when is None or lane_when < when):
                when = lane_when
        store.replace(ticket, priority, lane)
        if hold is not None and lane[2] is None:
            del self._holds[ticket_id]
        if when is None:
            if self._changes:
                self._changes.pop(ticket_id, None)
        else:
            self._changes.set_tied(ticket_id, when, int(seq))

    def remove(self, ticket_id: str) -> Ticket:
        """Remove a ticket (cancelled, solved elsewhere) and return it.

        Raises :class:`UnknownTicket`.

        Runtime complexity: O(log n) amortised.

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> q.push(Ticket("T-1", 0.0))
        >>> q.remove("T-1").id, "T-1" in q
        ('T-1', False)
        """
        with self._lock:
            if not self._has(ticket_id):
                raise UnknownTicket(ticket_id)
            if self._changes:
                self._changes.pop(ticket_id, None)
            if self._holds:
                self._holds.pop(ticket_id, None)
            return self._store.delete(ticket_id)

    def hold(self, ticket_id: str, agent_id: str, until: float) -> None:
        """Keep a queued ticket for one agent until clock time ``until``: only
        ``pop(..., agent=agent_id)`` can serve it before then; afterwards it
        is served to anyone as usual.  It keeps its place in the order.
        Holding again replaces the hold.  This is how a dispatcher gives a
        returning customer's agent, or a VIP's dedicated agent, a head start.

        Raises :class:`UnknownTicket`, or :class:`InvalidArgument` for an
        empty agent id or a ``until`` that is not a finite number.

        Runtime complexity: O(R + log n) amortised.

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> q.push(Ticket("T-1", 0.0)); q.hold("T-1", "ana", until=70.0)
        >>> len(q), q.holder("T-1"), q.peek(agent="ana").id
        (1, 'ana', 'T-1')
        """
        if not isinstance(agent_id, str) or not agent_id:
            raise InvalidArgument("agent_id", agent_id, "expected a non-empty string")
        until = _finite(InvalidArgument, "until", until, "expected a finite clock time")
        with self._lock:
            ticket = self._get(ticket_id)
            if ticket is None:
                raise UnknownTicket(ticket_id)
            now = self._clock()
            if self._changes:
                self._rekey_due(now)
            previous = self._holds.get(ticket_id)
            self._holds[ticket_id] = (agent_id, until)
            try:
                self._relocate(ticket, now)
            except BaseException:
                if previous is None:
                    self._holds.pop(ticket_id, None)
                else:
                    self._holds[ticket_id] = previous
                raise

    def release(self, ticket_id: str) -> None:
        """End a :meth:`hold` early (no effect if the ticket is not held).

        Raises :class:`UnknownTicket`.  Runtime complexity: O(R + log n).
        """
        with self._lock:
            ticket = self._get(ticket_id)
            if ticket is None:
                raise UnknownTicket(ticket_id)
            previous = self._holds.pop(ticket_id, None)
            if previous is None:
                return
            try:
                self._relocate(ticket, self._clock())
            except BaseException:
                self._holds[ticket_id] = previous
                raise

    def holder(self, ticket_id: str) -> str | None:
        """The agent a queued ticket is held for, or None.

        Raises :class:`UnknownTicket`.  Runtime complexity: O(1) amortised.
        """
        with self._lock:
            if not self._has(ticket_id):
                raise UnknownTicket(ticket_id)
            if self._changes._index and self._advance_reads:
                self._rekey_due(self._clock())
            hold = self._holds.get(ticket_id)
            return None if hold is None else hold[0]

    # -- looking up ---------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket | None:
        """The queued ticket with this id, or None.

        Like every operation taking an id, raises
        :class:`~triage_queue.errors.InvalidKey` (an :class:`InvalidArgument`
        and a ``TypeError``) naming ``ticket_id`` for an id that cannot be
        looked up (a list, a dict...).  Runtime complexity: O(1).
        """
        try:
            return self._store.get(ticket_id)
        except Exception as exc:
            _lookup_failed(ticket_id, exc)

    def _get(self, ticket_id: str) -> Ticket | None:
        # get() for the operations below: the same check, one call less.
        try:
            return self._store.get(ticket_id)
        except Exception as exc:
            _lookup_failed(ticket_id, exc)

    def _has(self, ticket_id: object) -> bool:
        try:
            return ticket_id in self._store
        except Exception as exc:
            _lookup_failed(ticket_id, exc)

    def __getitem__(self, ticket_id: str) -> Ticket:
        """The queued ticket with this id; :class:`UnknownTicket` if absent.

        Runtime complexity: O(1).
        """
        try:
            ticket = self._store.get(ticket_id)
        except Exception as exc:
            _lookup_failed(ticket_id, exc)
        if ticket is None:
            raise UnknownTicket(ticket_id)
        return ticket

    def __contains__(self, ticket_id: object) -> bool:
        """Whether a ticket with this id is queued.

        An id that cannot be looked up raises
        :class:`~triage_queue.errors.InvalidKey` (a ``TypeError``, as
        ``[] in {}`` does).  Runtime complexity: O(1).
        """
        try:
            return ticket_id in self._store
        except Exception as exc:
            _lookup_failed(ticket_id, exc)

    def __len__(self) -> int:
        """How many tickets are queued (held ones included).  Runtime complexity: O(1)."""
        return len(self._store)

    def position(self, ticket_id: str) -> int:
        """How many tickets are ahead of this one (0 = next to be served), for
        "you are number N in line".

        Raises :class:`UnknownTicket`.

        Runtime complexity: O(log n).  The position index is built on the
        first call (O(n log n)) and then maintained, adding O(log n) to every
        push, pop, update and remove; a queue that never asks pays nothing.

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> for i in range(3): q.push(Ticket(f"T-{i}", float(i)))
        >>> q.position("T-0"), q.position("T-2")
        (0, 2)
        """
        with self._lock:
            if not self._has(ticket_id):
                raise UnknownTicket(ticket_id)
            if self._changes._index and self._advance_reads:
                self._rekey_due(self._clock())
            return self._store.rank(ticket_id)

    def explain(self, ticket_id: str) -> Explanation:
        """The policy's explanation of a queued ticket at the current time,
        with its position.

        Raises :class:`UnknownTicket`.

        Runtime complexity: O(R + log n).

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> q.push(Ticket("T-1", 0.0, severity="critical"))
        >>> q.explain("T-1").contributions[0].reason
        'severity CRITICAL >= CRITICAL: an emergency'
        """
        with self._lock:
            ticket = self._get(ticket_id)
            if ticket is None:
                raise UnknownTicket(ticket_id)
            now = self._read_time()
            explanation = self._policy.explain(ticket, now)
            return attrs.evolve(explanation, position=self._store.rank(ticket_id))

    def due_within(self, seconds: float) -> list[Ticket]:
        """Tickets whose SLA runs out within ``seconds`` from now and has not
        run out yet (``now < sla_due <= now + seconds``), earliest due first.

        Raises :class:`InvalidArgument` for a negative or non-finite number.

        Runtime complexity: O(log n + k) for k tickets returned.

        >>> q = TicketQueue(clock=lambda: 100.0)
        >>> q.push(Ticket("soon", 0.0, sla_due=150.0)); q.push(Ticket("later", 0.0, sla_due=900.0))
        >>> [t.id for t in q.due_within(60)]
        ['soon']
        """
        reason = "expected a finite number of seconds >= 0"
        if _finite(InvalidArgument, "seconds", seconds, reason) < 0:
            raise InvalidArgument("seconds", seconds, reason)
        with self._lock:
            now = self._read_time()  # re-keys first: equal deadlines come out in service order
            return self._store.deadlines(now, now + seconds)

    def breached(self) -> list[Ticket]:
        """Tickets whose SLA has run out (``sla_due <= now``), earliest due first.

        Runtime complexity: O(log n + k) for k tickets returned.

        >>> q = TicketQueue(clock=lambda: 100.0)
        >>> q.push(Ticket("late", 0.0, sla_due=90.0)); q.push(Ticket("ok", 0.0, sla_due=900.0))
        >>> [t.id for t in q.breached()]
        ['late']
        """
        with self._lock:
            now = self._read_time()
            return self._store.deadlines(-math.inf, now)

    def __iter__(self) -> Iterator[Ticket]:
        """Iterate over a snapshot of the queued tickets in service order
        (held ones included).

        Runtime complexity: O(n log n) for the snapshot.
        """
        with self._lock:
            if self._changes._index and self._advance_reads:
                self._rekey_due(self._clock())
            ordered_tickets = self._ordered_tickets
            if ordered_tickets is not None:
                return iter(ordered_tickets())
            return iter([ticket for ticket, _ in self._store.ordered()])

    def __repr__(self) -> str:
        policy = self._policy
        return f"<TicketQueue: {len(self)} ticket(s), {policy.composition.value} policy of {len(policy.rules)} rule(s)>"

    # -- time ----------------------------------------------------------------

    def _read_time(self) -> float:
        # The instant a read reports at: by default the clock's reading, with
        # the changes due by then applied; with reads that do not advance
        # (DeskSeam.set_reads), as_of() (or the clock) and nothing applied.
        if self._advance_reads:
            now = self._clock()
            if self._changes._index:
                self._rekey_due(now)
            return now
        as_of = self._as_of
        return self._clock() if as_of is None else as_of()

    def _rekey_due(self, now: float) -> None:
        # Re-key (and re-lane) every ticket whose key or lane stepped at or
        # before now.  If a rule raises, the ticket keeps its old key and
        # stays scheduled, and the RuleError reaches the caller.
        changes = self._changes
        store = self._store
        while changes:
            ticket_id, when = changes.peekitem()
            if when > now:
                return
            ticket = store.get(ticket_id)
            assert ticket is not None
            relaned = self._relaned
            if relaned is None:
                self._relocate(ticket, now)  # moves or drops its scheduled step
            else:
                before = store.lane(ticket_id)
                self._relocate(ticket, now)
                if store.lane(ticket_id) != before:
                    relaned.append(ticket_id)

    def _check(self) -> None:
        """Assert every invariant (used by the test suite)."""
        check = getattr(self._store, "_check", None)
        if check is not None:
            check()
        self._changes._check()
        for ticket_id in self._changes:
            assert ticket_id in self._store, "a step is scheduled for a ticket not queued"
        for ticket_id, (agent_id, until) in self._holds.items():
            assert ticket_id in self._store, "a hold is kept for a ticket not queued"
            assert self._store.lane(ticket_id)[2] == agent_id, "a held ticket is not in its holder's lane"
            assert self._changes.get(ticket_id, math.inf) <= until, "a hold's end is not scheduled"
        for _, priority in self._store.ordered():
            assert priority[-1] < self._next_seq


class DeskSeam:
    """The interface a dispatcher uses to drive a :class:`TicketQueue`; not
    for application code.  Get one with :meth:`TicketQueue.attach`.

    It offers what a dispatcher needs beyond the public queue API: taking a
    ticket out with its arrival sequence and putting it back at exactly its
    place, checking a ticket before anything changes, the lanes tickets
    wait in, and the time-driven changes (re-keys, relaxed skills, ended
    holds) as explicit steps.  While attached, the queue records the ids of
    tickets whose lane changed with time (in the order it changed them), for
    the dispatcher to route: :meth:`apply_due` and :meth:`relaned` hand them
    over.

    Methods marked "lock held" expect the caller to hold ``queue.lock``;
    the others take it.  A detached seam must not be used any more.

    >>> from triage_queue import ManualClock
    >>> clock = ManualClock(0.0)
    >>> q = TicketQueue(clock=clock)
    >>> seam = q.attach("desk")
    >>> q.push(Ticket("T-1", 0.0, skills={"api": 1}, preferred_skills={"api": 3}, relax_after=60.0))
    >>> seam.lane("T-1")[0]
    SkillSet({'api': 3})
    >>> seam.next_change_at()
    60.0
    >>> seam.apply_due(60.0)
    ['T-1']
    >>> seam.lane("T-1")[0]
    SkillSet({'api': 1})
    """

    __slots__ = ("_clock", "_owner", "_queue")

    def __init__(self, queue: TicketQueue, owner: object) -> None:
        """Made by :meth:`TicketQueue.attach`.  Runtime complexity: O(1)."""
        self._queue = queue
        self._owner = owner
        self._clock = queue._clock  # the queue's own clock, given back on detach

    def __repr__(self) -> str:
        return f"<DeskSeam of {self._queue!r} for {_brief(self._owner)}>"

    @property
    def queue(self) -> TicketQueue:
        """The queue this seam drives.  Runtime complexity: O(1)."""
        return self._queue

    @property
    def owner(self) -> object:
        """Whoever attached (the dispatcher).  Runtime complexity: O(1)."""
        return self._owner

    def detach(self) -> None:
        """Free the queue: it stops recording re-laned tickets and can be
        attached again.  Raises :class:`InvalidArgument` if this seam is no
        longer attached.

        Runtime complexity: O(1).

        >>> q = TicketQueue(clock=lambda: 0.0)
        >>> seam = q.attach("desk"); seam.detach(); q.attach("desk").detach()
        """
        queue = self._queue
        with queue._lock:
            if queue._seam is not self:
                raise InvalidArgument("seam", self, "this seam is not attached to its queue any more")
            queue._seam = None
            queue._relaned = None
            queue._advance_reads = True
            queue._as_of = None
            queue._clock = self._clock

    def use_clock(self, clock: Clock) -> None:
        """Read ``clock`` instead of the queue's own while attached (a
        dispatcher's clock that never goes back, say); :meth:`detach` gives
        the queue its own clock back.  Runtime complexity: O(1).

        >>> q = TicketQueue(clock=lambda: 5.0); seam = q.attach("desk")
        >>> seam.use_clock(lambda: 7.0); q.now()
        7.0
        >>> seam.detach(); q.now()
        5.0
        """
        if not callable(clock):
            raise InvalidArgument("clock", clock, "expected a zero-argument callable returning seconds")
        queue = self._queue
        with queue._lock:
            queue._clock = clock

    # -- checking and numbering ---------------------------------------------

    def check_placeable(self, ticket: Ticket, now: float) -> None:
        """Raise the :class:`RuleError` :meth:`TicketQueue.push` would raise
        for ``ticket`` at ``now``, changing nothing, so a caller can check
        before it changes its own state.

        Runtime complexity: O(R) for R rules.

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> seam.check_placeable(Ticket("T-1", 0.0), 0.0); len(q)
        0
        """
        self._queue._score_check(ticket, now)

    def new_sequence(self) -> int:
        """A new arrival sequence number, for a ticket handed to an agent
        without being queued: should it come back (:meth:`restore`), it
        takes the place its arrival gave it.  Lock held.

        Runtime complexity: O(1).

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> q.push(Ticket("T-1", 0.0)); seam.new_sequence()
        1
        """
        return self._queue._new_sequence()

    # -- taking out and putting back -------------------------------------------

    def take(self, ticket_id: str) -> tuple[Ticket, int]:
        """Remove a queued ticket; return it with its arrival sequence (for
        :meth:`restore`).  Raises :class:`UnknownTicket`.

        Runtime complexity: O(log n) amortised.

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> q.push(Ticket("a", 0.0)); q.push(Ticket("b", 0.0))
        >>> ticket, seq = seam.take("b"); ticket.id, seq, len(q)
        ('b', 1, 1)
        """
        queue = self._queue
        with queue._lock:
            if not queue._has(ticket_id):
                raise UnknownTicket(ticket_id)
            seq = queue._sequence(ticket_id)
            return queue.remove(ticket_id), seq

    def take_best(
        self, skills: SkillSet | None, channels: Container[str | None] | None, agent: str | None
    ) -> tuple[Ticket, int] | None:
        """Remove the ticket :meth:`TicketQueue.pop` would return for these
        (already validated) filters, with its arrival sequence; None if there
        is none.  Applies the changes due first.  Lock held.

        Runtime complexity: that of :meth:`TicketQueue.pop`.

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> q.push(Ticket("a", 0.0, skills={"api": 2}))
        >>> seam.take_best(SkillSet({"api": 1}), None, None) is None
        True
        >>> with q.lock: ticket, seq = seam.take_best(SkillSet({"api": 2}), None, None)
        >>> ticket.id, seq
        ('a', 0)
        """
        return self._queue._take_locked(skills, channels, agent)

    def restore(self, ticket: Ticket, seq: int, hold: tuple[str, float] | None = None) -> None:
        """Put back a ticket taken by :meth:`take` or :meth:`take_best` (or
        numbered by :meth:`new_sequence`) at exactly its place: its key is
        recomputed at the current time, its arrival sequence ``seq`` kept;
        ``hold`` is an optional ``(agent id, until)`` as for
        :meth:`TicketQueue.hold` (not validated).  Raises
        :class:`DuplicateTicket` if its id is queued, :class:`RuleError` if
        the policy cannot place it.

        Runtime complexity: O(R + log n) amortised.

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> q.push(Ticket("a", 0.0)); q.push(Ticket("b", 0.0))
        >>> seam.restore(*seam.take("a")); [t.id for t in q]
        ['a', 'b']
        """
        self._queue._restore(ticket, seq, hold)

    def replace(self, ticket: Ticket) -> Ticket:
        """:meth:`TicketQueue.update` with the new value already built (and
        validated) by the caller: the queued ticket of the same id is
        replaced and moved to its new place, keeping its arrival sequence
        and hold.  A :class:`RuleError` of the ticket itself while applying
        due changes does not stop its repair.  Returns ``ticket``.

        Runtime complexity: O(R + log n) amortised.

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> q.push(Ticket("a", 0.0)); q.push(Ticket("b", 1.0))
        >>> seam.replace(q["b"].evolve(severity="critical")).id, q.peek().id
        ('b', 'b')
        """
        return self._queue._update_to(ticket)

    # -- reading ----------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket | None:
        """The queued ticket with this id, or None (no validation, no
        re-keying).  Runtime complexity: O(1).

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> seam.get("nope") is None
        True
        """
        return self._queue._store.get(ticket_id)

    def lane(self, ticket_id: str) -> Lane:
        """The lane ``(requirement, channel, holder)`` a queued ticket waits
        in, as of the queue's last change (no re-keying).  Raises
        :class:`UnknownTicket`.  Runtime complexity: O(1).

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> q.push(Ticket("a", 0.0, channel="chat")); q.hold("a", "ana", until=5.0)
        >>> seam.lane("a")
        (SkillSet({}), 'chat', 'ana')
        """
        return self._queue._store.lane(ticket_id)

    def held_by(self, agent_id: str) -> list[str]:
        """Ids of the tickets held for ``agent_id``, in service order.

        Runtime complexity: O(H + k log k) for H holds, k of them this agent's.

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> for i in range(3): q.push(Ticket(f"T-{i}", float(i)))
        >>> q.hold("T-2", "ana", 9.0); q.hold("T-0", "ana", 9.0); q.hold("T-1", "bo", 9.0)
        >>> seam.held_by("ana")
        ['T-0', 'T-2']
        """
        queue = self._queue
        with queue._lock:
            held = [ticket_id for ticket_id, (holder, _) in queue._holds.items() if holder == agent_id]
            if len(held) > 1:
                held.sort(key=queue._store.priority)
            return held

    def backlog(self) -> list[tuple[Ticket, Lane]]:
        """Every queued ticket with its lane, in service order, as of the
        queue's last change (no re-keying).

        Runtime complexity: O(n log n).

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> q.push(Ticket("a", 1.0)); q.push(Ticket("b", 0.0))
        >>> [(t.id, lane[2]) for t, lane in seam.backlog()]
        [('b', None), ('a', None)]
        """
        store = self._queue._store
        with self._queue._lock:
            return [(ticket, store.lane(ticket.id)) for ticket, _ in store.ordered()]

    # -- time ---------------------------------------------------------------------

    def next_change_at(self) -> float | None:
        """The clock time of the next time-driven change (a stepped key, a
        relaxed skill requirement, a hold ending), or None.

        Runtime complexity: O(1) amortised.

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> seam.next_change_at() is None
        True
        >>> q.push(Ticket("a", 0.0)); q.hold("a", "ana", until=30.0); seam.next_change_at()
        30.0
        """
        changes = self._queue._changes
        return changes.peekitem()[1] if changes._index else None

    def apply_due(self, now: float) -> list[str]:
        """Apply every change due at or before ``now`` (keys computed at
        ``now``), in the order they fall due (ties: by arrival), and return
        the ids of tickets whose lane changed since the last hand-over, in
        the order they changed: those re-laned by other queue calls first
        (see :meth:`relaned`), then those of this call.  A
        :class:`RuleError` leaves the ids collected so far for the next call.
        Lock held.

        Runtime complexity: O(k (R + log n)) for k changes due.

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> q.push(Ticket("a", 0.0)); q.hold("a", "ana", until=30.0)
        >>> seam.apply_due(29.0), seam.apply_due(30.0), seam.lane("a")[2]
        ([], ['a'], None)
        """
        queue = self._queue
        if queue._changes._index:
            queue._rekey_due(now)
        return self.relaned()

    def relaned(self) -> list[str]:
        """Hand over (and forget) the ids of tickets whose lane changed with
        time during queue calls since the last hand-over (a read or write
        that applied due changes first), in the order they changed.  Lock
        held.

        Runtime complexity: O(1).

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> seam.relaned()
        []
        """
        queue = self._queue
        relaned = queue._relaned
        if not relaned:
            return []
        queue._relaned = []
        return relaned

    def set_reads(self, advance: bool, as_of: Callable[[], float] | None = None) -> None:
        """Choose what the queue's reads (:meth:`~TicketQueue.peek`,
        :meth:`~TicketQueue.holder`, :meth:`~TicketQueue.position`,
        :meth:`~TicketQueue.explain`, :meth:`~TicketQueue.due_within`,
        :meth:`~TicketQueue.breached`, iteration) do about time.

        ``advance=True`` (the default, and what :meth:`detach` restores):
        each read first applies the changes due at the clock's reading, as
        a queue on its own does.  ``advance=False``: reads never change the
        queue; they report it as of its last operation (the dispatcher's
        last step), and the time windows of ``explain``, ``due_within`` and
        ``breached`` are taken at ``as_of()`` (the clock's reading if
        ``as_of`` is None).  Writes always apply the changes due first.
        Raises :class:`InvalidArgument` for a non-bool ``advance`` or a
        non-callable ``as_of``.

        Runtime complexity: O(1).

        >>> from triage_queue import ManualClock
        >>> clock = ManualClock(0.0); q = TicketQueue(clock=clock); seam = q.attach("desk")
        >>> q.push(Ticket("a", 0.0)); q.hold("a", "ana", until=30.0)
        >>> seam.set_reads(False, as_of=lambda: 0.0); clock.set(40.0)
        >>> q.holder("a"), seam.next_change_at()     # as of the last operation
        ('ana', 30.0)
        >>> seam.set_reads(True); q.holder("a"), seam.relaned()
        (None, ['a'])
        """
        if advance is not True and advance is not False:
            raise InvalidArgument("advance", advance, "expected True or False")
        if as_of is not None and not callable(as_of):
            raise InvalidArgument("as_of", as_of, "expected a zero-argument callable returning clock time, or None")
        queue = self._queue
        with queue._lock:
            queue._advance_reads = advance
            queue._as_of = as_of

    # -- snapshots ----------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        """The arrival sequence number the next ticket will get (for
        :meth:`load`).  Runtime complexity: O(1).

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> q.push(Ticket("a", 0.0)); seam.next_seq
        1
        """
        return self._queue._next_seq

    def export(self) -> list[dict[str, Any]]:
        """Every queued ticket as plain JSON data, in service order, as of
        the queue's last change (nothing is applied first): ``ticket``
        (:meth:`Ticket.to_dict`), ``seq`` (its arrival number), ``key`` (the
        policy key it is ordered by, a list), ``next`` (the clock time its
        key or lane next changes, or None), ``requirement`` (the skills its
        lane requires, ``{name: level}``, when preferred skills still apply;
        else None), ``holder`` and ``hold_until`` (its hold, or None).
        Infinite numbers are written as the strings ``"inf"`` and ``"-inf"``.
        With :attr:`next_seq`, :meth:`load` rebuilds the queue from it.

        Runtime complexity: O(n log n).

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> q.push(Ticket("a", 0.0)); q.hold("a", "ana", until=30.0)
        >>> record = seam.export()[0]
        >>> record["seq"], record["key"], record["next"], record["holder"], record["hold_until"]
        (0, [0, 0, -1, -0.0], 30.0, 'ana', 30.0)
        """
        queue = self._queue
        store = queue._store
        with queue._lock:
            index = queue._changes._index
            holds = queue._holds
            records = []
            for ticket, priority in store.ordered():
                ticket_id = ticket.id
                requirement = store.lane(ticket_id)[0]
                change = index.get(ticket_id)
                hold = holds.get(ticket_id)
                records.append(
                    {
                        "ticket": ticket.to_dict(),
                        "seq": int(priority[-1]),
                        "key": [_encode(part) for part in priority[:-1]],
                        "next": None if change is None else _encode(change[0]),
                        "requirement": None if requirement == ticket.skills else dict(requirement),
                        "holder": None if hold is None else hold[0],
                        "hold_until": None if hold is None else _encode(hold[1]),
                    }
                )
            return records

    def load(self, records: Iterable[Mapping[str, Any]], next_seq: int, *, path: str = "records") -> None:
        """Fill this empty queue from :meth:`export` records (after a JSON
        round trip, say) and the exporting queue's :attr:`next_seq`: the same
        order, lanes, holds and scheduled changes, and the same next
        arrival number.  The policy is not called (the keys are stored), so
        the queue must have the exporting queue's policy.  Uses the store's
        ``bulk_load`` when it has one (one heapify per lane), otherwise
        inserts one by one.  Raises :class:`InvalidArgument` for malformed
        or inconsistent data, naming the field at fault as
        ``{path}[i].field`` (``path`` is where the records sit in the
        caller's data, ``"records"`` by default; e.g. ``records[3].key``),
        or ``next_seq``; the queue is then left empty.  Also raises it if
        the queue is not empty.

        Runtime complexity: O(n) plus parsing the tickets (O(n log n) with a
        store without ``bulk_load``).

        >>> q = TicketQueue(clock=lambda: 0.0); seam = q.attach("desk")
        >>> q.push(Ticket("a", 0.0)); q.push(Ticket("b", 5.0, severity="critical"))
        >>> copy = TicketQueue(clock=lambda: 0.0); copy_seam = copy.attach("desk")
        >>> copy_seam.load(seam.export(), seam.next_seq)
        >>> [t.id for t in copy], copy_seam.next_seq
        (['b', 'a'], 2)
        """
        queue = self._queue
        if not isinstance(next_seq, int) or isinstance(next_seq, bool) or not 0 <= next_seq <= _MAX_SEQ:
            raise InvalidArgument("next_seq", next_seq, f"expected an int in [0, {_MAX_SEQ}]")
        if not isinstance(path, str):
            raise InvalidArgument("path", path, "expected a string naming where the records are")
        with queue._lock:
            if len(queue._store) or queue._changes._index or queue._holds:
                raise InvalidArgument("queue", queue, "load fills an empty queue")
            tickets, entries, lanes, changes, holds = _parse_records(
                records, next_seq, _key_length(queue._policy), path
            )
            store = queue._store
            try:
                bulk_load_entries = getattr(store, "bulk_load_entries", None)
                if bulk_load_entries is not None:
                    bulk_load_entries(tickets, entries, lanes)
                else:
                    triples = [(t, e[:-1], lane) for t, e, lane in zip(tickets, entries, lanes, strict=True)]
                    bulk_load = getattr(store, "bulk_load", None)
                    if bulk_load is not None:
                        bulk_load(triples)
                    else:
                        for ticket, priority, lane in triples:
                            store.insert(ticket, priority, lane)
            except BaseException:
                for ticket in tickets:
                    if ticket.id in store:
                        store.delete(ticket.id)
                raise
            queue._changes.load_tied(changes)
            queue._holds.update(holds)
            queue._next_seq = next_seq

    def check(self) -> None:
        """Assert every invariant of the queue (for test suites).

        Runtime complexity: O(n log n).

        >>> q = TicketQueue(clock=lambda: 0.0); q.attach("desk").check()
        """
        self._queue._check()


def _encode(number: float) -> float | str:
    """A number as JSON data: the infinities as ``"inf"`` / ``"-inf"``."""
    if number.__class__ is float and number in (math.inf, -math.inf):
        return "inf" if number > 0 else "-inf"
    return number


def _decode(value: Any) -> float:
    """The number :func:`_encode` wrote."""
    if value == "inf":
        return math.inf
    if value == "-inf":
        return -math.inf
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return value
    raise ValueError("expected a number, 'inf' or '-inf'")


_NUMBERS = frozenset((int, float))


def _entry(key: list[Any] | tuple[Any, ...], seq: int, ticket_id: str) -> tuple[Any, ...]:
    """The store's entry for an exported ``key``, ``seq`` and ticket id:
    the key's parts as :func:`_decode` reads them, ``seq``, the id.  A key
    of plain ints and floats (no NaN) is taken as it is, in C; anything else
    part by part."""
    try:
        if set(map(type, key)) <= _NUMBERS:
            total = sum(key)
            if total == total:  # no NaN (nor inf - inf: then part by part)
                return (*key, seq, ticket_id)
    except (OverflowError, TypeError):  # a huge int beside a float: part by part
        pass
    return (*(_decode(part) for part in key), seq, ticket_id)


def _key_length(policy: Policy) -> int:
    """How many parts the policy's sort keys have (without the sequence)."""
    return (1 if policy.weights is not None else len(policy.rules)) + (policy.max_wait is not None)


# Arrival numbers beyond this are refused by load (a queue counts up from 0).
_MAX_SEQ = 2**63


def _parse_records(
    records: Iterable[Mapping[str, Any]], next_seq: int, key_length: int, path: str = "records"
) -> tuple[
    list[Ticket], list[tuple[Any, ...]], list[Lane], list[tuple[str, float, int]], dict[str, tuple[str, float]]
]:
    """Tickets, their store entries ``(*priority, id)`` and lanes (three
    lists in step), scheduled changes and holds from
    DeskSeam.export records; InvalidArgument naming the field at fault,
    ``{path}[i].field``, for anything malformed or inconsistent."""
    tickets: list[Ticket] = []
    entries: list[tuple[Any, ...]] = []
    lanes: list[Lane] = []
    # One lane tuple per distinct lane, shared by its tickets: by the
    # requirement's identity (its objects live in the tickets meanwhile).
    shared_lanes: dict[tuple[int, str | None, str | None], Lane] = {}
    changes: list[tuple[str, float, int]] = []
    holds: dict[str, tuple[str, float]] = {}
    ids: dict[str, int] = {}
    seqs: dict[int, int] = {}
    from_dict = Ticket.from_dict
    try:
        iterator = iter(records)
    except Exception:
        raise InvalidArgument(path, records, "expected a list of queue records") from None
    if isinstance(records, str | bytes | Mapping):
        raise InvalidArgument(path, records, "expected a list of queue records")
    i = -1
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            break
        except Exception as exc:
            raise InvalidArgument(path, records, f"iterating over it raised {_brief_text(exc)}") from exc
        i += 1
        if record.__class__ is not dict and not isinstance(record, Mapping):
            raise InvalidArgument(f"{path}[{i}]", record, "expected a queue record (a mapping)")
        field = "ticket"
        value: Any = None
        try:
            value = data = record["ticket"]
            ticket = data if isinstance(data, Ticket) else from_dict(data)
            ticket_id = ticket.id
            field = "ticket.id"
            value = ticket_id
            if ticket_id in ids:
                raise ValueError(f"ticket id appears twice (also at {path}[{ids[ticket_id]}])")
            field = "seq"
            value = seq = record["seq"]
            if seq.__class__ is not int or not 0 <= seq < next_seq:
                raise ValueError(f"expected an int in [0, next_seq={next_seq})")
            if seq in seqs:
                raise ValueError(f"seq appears twice (also at {path}[{seqs[seq]}])")
            field = "key"
            value = key = record["key"]
            if not isinstance(key, list | tuple) or len(key) != key_length:
                raise ValueError(f"expected a list of {key_length} number(s), the policy's key length")
            entry = _entry(key, seq, ticket_id)
            field = "requirement"
            value = requirement = record.get("requirement")
            relax_at = None
            if requirement is None:
                skills = ticket.skills
            else:
                skills = SkillSet.of(requirement, field="requirement")
                if skills != ticket.skills:
                    if not ticket.preferred_skills or skills != ticket.requirement(-math.inf):
                        raise ValueError("expected None, the ticket's skills, or its skills with its preferred skills")
                    relax_at = ticket.relaxes_at()
            field = "next"
            value = when = record.get("next")
            if when is not None:
                when = _decode(when)
            if relax_at is not None and (when is None or when > relax_at):
                raise ValueError(f"the preferred skills relax at {relax_at!r}: expected a change scheduled by then")
            field = "holder"
            value = holder = record.get("holder")
            if holder is not None:
                if not isinstance(holder, str) or not holder:
                    raise ValueError("expected an agent id (a non-empty string) or None")
                field = "hold_until"
                value = record.get("hold_until")
                until = _decode(value)
                if until in (math.inf, -math.inf):
                    raise ValueError("expected a finite clock time")
                if when is None or when > until:
                    raise ValueError(f"the hold's end is not scheduled (next={_brief(when)})")
        except InvalidArgument:
            raise
        except KeyError as exc:
            raise InvalidArgument(f"{path}[{i}].{field}", None, "missing") from exc
        except InvalidValue as exc:
            if field == "ticket" and exc.field != "ticket":  # a field of the ticket: name it
                raise InvalidArgument(f"{path}[{i}].ticket.{exc.field}", exc.value, exc.reason) from exc
            raise InvalidArgument(f"{path}[{i}].{field}", value, exc.reason) from exc
        except Exception as exc:
            raise InvalidArgument(f"{path}[{i}].{field}", value, _brief_text(exc)) from exc
        ids[ticket_id] = i
        seqs[seq] = i
        if holder is not None:
            holds[ticket_id] = (holder, until)
        tickets.append(ticket)
        entries.append(entry)
        channel = ticket.channel
        lane = shared_lanes.get((id(skills), channel, holder))
        if lane is None:
            lane = shared_lanes[(id(skills), channel, holder)] = (skills, channel, holder)
        lanes.append(lane)
        if when is not None:
            changes.append((ticket_id, when, seq))
    return tickets, entries, lanes, changes, holds


def _lane(ticket: Ticket, now: float, hold: tuple[str, float] | None) -> tuple[Lane, float | None]:
    """A ticket's lane at now, and the next instant it changes (or None)."""
    when = None
    requirement = ticket.skills
    if ticket.preferred_skills:
        relax_at = ticket.relaxes_at()
        if relax_at is None or now < relax_at:
            requirement = ticket.requirement(now)
            when = relax_at
    holder = None
    if hold is not None and now < hold[1]:
        holder = hold[0]
        if when is None or hold[1] < when:
            when = hold[1]
    return (requirement, ticket.channel, holder), when


def _lookup_failed(ticket_id: object, exc: Exception) -> NoReturn:
    # The failure path of a lookup by id: a library error passes through
    # (a custom store's), anything else means the id cannot be looked up.
    if isinstance(exc, TriageError):
        raise exc
    raise _bad_key("ticket_id", ticket_id, exc) from exc


def _bad_channels(channels: object, exc: Exception) -> NoReturn:
    # The failure path of pop() and peek() with channels: a container whose
    # membership test raised (a store raises nothing else there).
    if channels is None or isinstance(exc, TriageError):
        raise exc
    raise InvalidArgument("channels", channels, f"testing a channel against it raised {_brief_text(exc)}") from exc


def _check_filters(channels: object, agent: object) -> None:
    if channels is not None and (isinstance(channels, str | bytes) or not isinstance(channels, Container)):
        raise InvalidArgument("channels", channels, "expected a collection of channel names (None for no channel), or None")
    if agent is not None and (not isinstance(agent, str) or not agent):
        raise InvalidArgument("agent", agent, "expected an agent id (a non-empty string) or None")


def _to_skills(skills: SkillsLike) -> SkillSet:
    if skills.__class__ is SkillSet:
        return skills
    try:
        return SkillSet(skills)
    except InvalidTicket as exc:
        raise InvalidArgument("skills", skills, exc.reason) from None


def _empty_message(size: int, skills: SkillsLike | None) -> str:
    if size == 0:
        return "the queue is empty"
    if skills is None:
        return f"none of the {size} queued ticket(s) is eligible"
    shown = dict(skills) if isinstance(skills, Mapping) else sorted(skills)
    return f"none of the {size} queued ticket(s) is eligible for skills {shown!r}"
