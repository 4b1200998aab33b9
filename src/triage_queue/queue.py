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
import time
from collections.abc import Iterator
from typing import Any

from triage_queue.clock import Clock
from triage_queue.errors import (
    DuplicateTicket,
    Empty,
    InvalidArgument,
    InvalidTicket,
    UnknownTicket,
)
from triage_queue.heap import IndexedHeap
from triage_queue.policy import Explanation, Policy
from triage_queue.store import MemoryStore, TicketStore
from triage_queue.ticket import SkillSet, SkillsLike, Ticket

__all__ = ["TicketQueue"]


class TicketQueue:
    """Tickets ordered by a :class:`~triage_queue.Policy`, with an injected clock.

    Adding: :meth:`push`.  Serving: :meth:`pop`, :meth:`peek` (optionally for
    an agent's ``skills``).  Changing: :meth:`update`, :meth:`remove`.
    Looking up: :meth:`get`, ``q[ticket_id]``, ``ticket_id in q``, ``len(q)``,
    :meth:`position`, :meth:`explain`, :meth:`due_within`, :meth:`breached`.
    Iterating: ``iter(q)`` yields tickets in service order.

    The order is the policy's :meth:`~triage_queue.Policy.sort_key` followed by
    arrival sequence, so exact ties are first come, first served.  Keys are
    computed when a ticket arrives or changes; rules whose keys step in time
    are re-keyed at the instants they announce, so the order is right at
    every clock reading.

    Every failed call raises a :class:`~triage_queue.TriageError` subclass and
    leaves the queue unchanged.  With a policy whose rules step in time, any
    operation that reads the order first re-keys the tickets whose step has
    passed; if a rule raises then, that operation raises the
    :class:`~triage_queue.RuleError` (naming the ticket), the ticket keeps its
    previous place, and every later operation raises it again until the
    ticket is removed: a broken rule is never skipped silently.

    Not thread-safe yet: share it between threads only under a lock.

    Runtime complexity: see each method; n tickets, P requirement sets,
    Q requirement sets an agent's skills satisfy.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        clock: Clock = time.time,
        store: TicketStore | None = None,
    ) -> None:
        """``policy`` defaults to :meth:`Policy.default`; ``clock`` to
        :func:`time.time`; ``store`` (empty) to a new :class:`MemoryStore`.

        Runtime complexity: O(1).
        """
        if policy is None:
            policy = Policy.default()
        elif not isinstance(policy, Policy):
            raise InvalidArgument("policy", policy, "expected a triage_queue.Policy")
        if not callable(clock):
            raise InvalidArgument("clock", clock, "expected a zero-argument callable returning seconds")
        if store is None:
            store = MemoryStore()
        elif len(store) != 0:
            raise InvalidArgument("store", store, "a queue must start from an empty store")
        self._policy = policy
        self._clock = clock
        self._store = store
        self._sort_key = policy.sort_key
        self._stepped = policy.time_stepped
        self._changes: IndexedHeap[str, float] = IndexedHeap()
        self._next_seq = 0

    @property
    def policy(self) -> Policy:
        """The policy ordering this queue.  Runtime complexity: O(1)."""
        return self._policy

    def now(self) -> float:
        """The clock's current reading.  Runtime complexity: O(1)."""
        return self._clock()

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
        store = self._store
        if ticket.id in store:
            raise DuplicateTicket(ticket.id)
        now = self._clock()
        if self._stepped:
            self._rekey_due(now)
        priority = self._sort_key(ticket, now) + (self._next_seq,)
        when = self._policy.next_change(ticket, now) if self._stepped else None
        store.insert(ticket, priority)
        self._next_seq += 1
        if when is not None:
            self._changes[ticket.id] = when

    # -- serving ------------------------------------------------------------

    def pop(self, skills: SkillsLike | None = None) -> Ticket:
        """Remove and return the best ticket; with ``skills`` (an agent's
        ``{skill: proficiency}``, or skill names meaning proficiency 1), the
        best ticket those skills satisfy.

        Raises :class:`Empty` if there is none.

        Runtime complexity: O(log n) amortised without skills; with skills
        O(Q + log n) amortised (O(P) more the first time a skill set is seen).

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> q.push(Ticket("vip", 5.0, customer_tier="gold", skills={"api": 3}))
        >>> q.push(Ticket("std", 1.0, skills=["api"]))
        >>> q.pop(skills={"api": 1}).id, q.pop().id
        ('std', 'vip')
        """
        agent = None if skills is None else _to_skills(skills)
        if self._stepped:
            self._rekey_due(self._clock())
        ticket = self._store.pop_first(agent)
        if ticket is None:
            raise Empty(_empty_message(len(self._store), agent))
        if self._stepped:
            self._changes.pop(ticket.id, None)
        return ticket

    def peek(self, skills: SkillsLike | None = None) -> Ticket:
        """Return what :meth:`pop` would return, without removing it.

        Runtime complexity: O(1) amortised without skills, O(Q) with them.

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> q.push(Ticket("T-1", 0.0))
        >>> q.peek().id, len(q)
        ('T-1', 1)
        """
        agent = None if skills is None else _to_skills(skills)
        if self._stepped:
            self._rekey_due(self._clock())
        ticket = self._store.first(agent)
        if ticket is None:
            raise Empty(_empty_message(len(self._store), agent))
        return ticket

    # -- changing -----------------------------------------------------------

    def update(self, ticket_id: str, **changes: Any) -> Ticket:
        """Change fields of a queued ticket and move it to its new place;
        return the new ticket.

        Typical changes: ``severity=`` (escalation), ``customer_tier=``
        (upgrade), ``contacts=`` (a follow-up), ``skills=`` (re-routing).
        The ticket keeps its arrival sequence, so among equals it keeps its
        place.  Raises :class:`UnknownTicket`, :class:`InvalidTicket` (bad
        field or value; the id cannot change) or :class:`RuleError`.

        Runtime complexity: O(R + log n) amortised.

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> q.push(Ticket("a", 0.0)); q.push(Ticket("b", 1.0))
        >>> q.update("b", severity="critical").severity.name, q.peek().id
        ('CRITICAL', 'b')
        """
        store = self._store
        old = store.get(ticket_id)
        if old is None:
            raise UnknownTicket(ticket_id)
        ticket = old.evolve(**changes)
        now = self._clock()
        if self._stepped:
            self._rekey_due(now)
        seq = store.priority(ticket_id)[-1]
        priority = self._sort_key(ticket, now) + (seq,)
        when = self._policy.next_change(ticket, now) if self._stepped else None
        store.replace(ticket, priority)
        if self._stepped:
            if when is None:
                self._changes.pop(ticket_id, None)
            else:
                self._changes[ticket_id] = when
        return ticket

    def remove(self, ticket_id: str) -> Ticket:
        """Remove a ticket (cancelled, solved elsewhere) and return it.

        Raises :class:`UnknownTicket`.

        Runtime complexity: O(log n) amortised.

        >>> q = TicketQueue(clock=lambda: 10.0)
        >>> q.push(Ticket("T-1", 0.0))
        >>> q.remove("T-1").id, "T-1" in q
        ('T-1', False)
        """
        if ticket_id not in self._store:
            raise UnknownTicket(ticket_id)
        if self._stepped:
            self._changes.pop(ticket_id, None)
        return self._store.delete(ticket_id)

    # -- looking up ---------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket | None:
        """The queued ticket with this id, or None.  Runtime complexity: O(1)."""
        return self._store.get(ticket_id)

    def __getitem__(self, ticket_id: str) -> Ticket:
        """The queued ticket with this id; :class:`UnknownTicket` if absent.

        Runtime complexity: O(1).
        """
        ticket = self._store.get(ticket_id)
        if ticket is None:
            raise UnknownTicket(ticket_id)
        return ticket

    def __contains__(self, ticket_id: object) -> bool:
        """Whether a ticket with this id is queued.  Runtime complexity: O(1)."""
        return ticket_id in self._store

    def __len__(self) -> int:
        """How many tickets are queued.  Runtime complexity: O(1)."""
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
        if ticket_id not in self._store:
            raise UnknownTicket(ticket_id)
        if self._stepped:
            self._rekey_due(self._clock())
        return self._store.rank(ticket_id)

    def explain(self, ticket_id: str) -> Explanation:
        """The policy's explanation of a queued ticket at the current time,
        with its position.

        Raises :class:`UnknownTicket`.

        Runtime complexity: O(R + log n).
        """
        ticket = self._store.get(ticket_id)
        if ticket is None:
            raise UnknownTicket(ticket_id)
        now = self._clock()
        if self._stepped:
            self._rekey_due(now)
        explanation = self._policy.explain(ticket, now)
        return Explanation(
            explanation.ticket_id,
            explanation.now,
            explanation.composition,
            explanation.contributions,
            explanation.total,
            self._store.rank(ticket_id),
        )

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
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
            raise InvalidArgument("seconds", seconds, "expected a finite number of seconds >= 0")
        now = self._clock()
        if self._stepped:
            self._rekey_due(now)  # equal deadlines come out in service order
        return self._store.deadlines(now, now + seconds)

    def breached(self) -> list[Ticket]:
        """Tickets whose SLA has run out (``sla_due <= now``), earliest due first.

        Runtime complexity: O(log n + k) for k tickets returned.

        >>> q = TicketQueue(clock=lambda: 100.0)
        >>> q.push(Ticket("late", 0.0, sla_due=90.0)); q.push(Ticket("ok", 0.0, sla_due=900.0))
        >>> [t.id for t in q.breached()]
        ['late']
        """
        now = self._clock()
        if self._stepped:
            self._rekey_due(now)
        return self._store.deadlines(-math.inf, now)

    def __iter__(self) -> Iterator[Ticket]:
        """Iterate over a snapshot of the queued tickets in service order.

        Runtime complexity: O(n log n) for the snapshot.
        """
        if self._stepped:
            self._rekey_due(self._clock())
        return iter([ticket for ticket, _ in self._store.ordered()])

    def __repr__(self) -> str:
        policy = self._policy
        return f"<TicketQueue: {len(self)} ticket(s), {policy.composition.value} policy of {len(policy.rules)} rule(s)>"

    # -- time ----------------------------------------------------------------

    def _rekey_due(self, now: float) -> None:
        # Re-key every ticket whose key stepped at or before now.  If a rule
        # raises, the ticket keeps its old key and stays scheduled, and the
        # RuleError reaches the caller.
        changes = self._changes
        store = self._store
        while changes:
            ticket_id, when = changes.peekitem()
            if when > now:
                return
            ticket = store.get(ticket_id)
            assert ticket is not None
            seq = store.priority(ticket_id)[-1]
            priority = self._sort_key(ticket, now) + (seq,)
            next_when = self._policy.next_change(ticket, now)
            store.replace(ticket, priority)
            if next_when is None:
                del changes[ticket_id]
            else:
                changes[ticket_id] = next_when

    def _check(self) -> None:
        """Assert every invariant (used by the test suite)."""
        check = getattr(self._store, "_check", None)
        if check is not None:
            check()
        self._changes._check()
        for ticket_id in self._changes:
            assert ticket_id in self._store, "a step is scheduled for a ticket not queued"
        for _, priority in self._store.ordered():
            assert priority[-1] < self._next_seq


def _to_skills(skills: SkillsLike) -> SkillSet:
    if skills.__class__ is SkillSet:
        return skills
    try:
        return SkillSet(skills)
    except InvalidTicket as exc:
        raise InvalidArgument("skills", skills, exc.reason) from None


def _empty_message(size: int, skills: SkillSet | None) -> str:
    if size == 0:
        return "the queue is empty"
    return f"none of the {size} queued ticket(s) is eligible for skills {dict(skills or {})!r}"
