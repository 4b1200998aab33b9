"""Ticket storage: where a :class:`~triage_queue.TicketQueue` keeps its
tickets in order.  The queue decides *what* the order is (policy, clock,
validation); a store only keeps tickets sorted by the priority tuples the
queue hands it, and answers questions about that order.

:class:`TicketStore` is the protocol a store follows, so another backend
(a shared Redis one, say) can replace :class:`MemoryStore` without the queue
changing.  Priority tuples are unique (the queue ends each with its arrival
sequence number) and smaller means served sooner.

How :class:`MemoryStore` is laid out
------------------------------------
Tickets are partitioned by their *requirement*, the exact
:class:`~triage_queue.SkillSet` they need.  Each partition is an
:class:`~triage_queue.IndexedHeap` from ticket id to priority.  A second
IndexedHeap holds the head priority of every non-empty partition, so the best
ticket overall is found in O(log P) for P partitions.  For an agent's skills,
the store remembers which partitions those skills satisfy (computed once per
distinct skill set and kept up to date as partitions appear), and compares
only the heads of those: O(Q) for the Q partitions the agent qualifies for,
never a scan of the tickets.  A sorted list of deadlines answers SLA
questions in O(log n + k), and a sorted list of all priorities, built the
first time a position is asked for and maintained from then on, answers
positions in O(log n).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, cast

from sortedcontainers import SortedList

from triage_queue.errors import UnknownTicket
from triage_queue.heap import IndexedHeap
from triage_queue.ticket import SkillSet, Ticket

__all__ = ["MemoryStore", "Priority", "TicketStore"]

Priority = tuple[float, ...]
"""A ticket's place in the order: smaller is served sooner; unique per ticket."""



class _Top:
    """Compares greater than anything: an upper bound for index searches."""

    __slots__ = ()

    def __lt__(self, other: Any) -> bool:
        return False

    def __le__(self, other: Any) -> bool:
        return other is self

    def __gt__(self, other: Any) -> bool:
        return other is not self

    def __ge__(self, other: Any) -> bool:
        return True


_TOP = _Top()
# Beyond this many distinct agent skill sets the eligibility memo starts over.
_MAX_MEMO = 4096


class TicketStore(Protocol):
    """What a :class:`~triage_queue.TicketQueue` needs from its storage.

    The queue validates every argument before calling a store, and calls
    only these methods, so a store may assume ids are present or absent as
    documented.
    """

    def __len__(self) -> int:
        """Number of tickets held."""
        ...

    def __contains__(self, ticket_id: object) -> bool:
        """Whether a ticket with this id is held."""
        ...

    def get(self, ticket_id: str) -> Ticket | None:
        """The ticket with this id, or None."""
        ...

    def priority(self, ticket_id: str) -> Priority:
        """The priority of a held ticket."""
        ...

    def insert(self, ticket: Ticket, priority: Priority) -> None:
        """Add a ticket whose id is not held."""
        ...

    def replace(self, ticket: Ticket, priority: Priority) -> None:
        """Replace the held ticket of the same id and its priority."""
        ...

    def delete(self, ticket_id: str) -> Ticket:
        """Remove a held ticket and return it."""
        ...

    def first(self, skills: SkillSet | None) -> tuple[Ticket, Priority] | None:
        """The best ticket overall, or the best whose requirement ``skills``
        satisfy; None if there is none."""
        ...

    def rank(self, ticket_id: str) -> int:
        """How many held tickets come before this one."""
        ...

    def deadlines(self, after: float, until: float) -> list[Ticket]:
        """Tickets with ``after < sla_due <= until``, earliest due first."""
        ...

    def ordered(self) -> list[tuple[Ticket, Priority]]:
        """Every ticket with its priority, in service order."""
        ...


class MemoryStore:
    """The in-process store: partitions by requirement, each an IndexedHeap.

    Runtime complexity (n tickets, P partitions, Q partitions an agent's
    skills satisfy, k results): insert, replace, delete O(log n + log P)
    amortised (+ O(log n) each for the deadline and position indexes when in
    use); first() O(log P) without skills, O(Q) with them (O(P) the first time
    a skill set is seen); rank O(log n) (O(n log n) on the first call);
    deadlines O(log n + k); ordered O(n log n).
    """

    def __init__(self) -> None:
        self._tickets: dict[str, Ticket] = {}
        self._partitions: dict[SkillSet, IndexedHeap[str, Priority]] = {}
        self._heads: IndexedHeap[SkillSet, Priority] = IndexedHeap()
        self._head_of: dict[SkillSet, Priority] = {}
        self._eligible: dict[SkillSet, list[SkillSet]] = {}
        self._deadlines: SortedList[tuple[float, Priority, str]] = SortedList()
        self._ranks: SortedList[Priority] | None = None

    # -- reading ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._tickets)

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._tickets

    def get(self, ticket_id: str) -> Ticket | None:
        return self._tickets.get(ticket_id)

    def priority(self, ticket_id: str) -> Priority:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise UnknownTicket(ticket_id)
        return self._partitions[ticket.skills][ticket_id]

    def first(self, skills: SkillSet | None) -> tuple[Ticket, Priority] | None:
        if skills is None:
            if not self._head_of:
                return None
            requirement = self._heads.peek()
        else:
            eligible = self._eligible.get(skills)
            if eligible is None:
                eligible = self._remember(skills)
            head_of = self._head_of
            best: Priority | None = None
            requirement = None
            for req in eligible:
                head = head_of.get(req)
                if head is not None and (best is None or head < best):
                    best = head
                    requirement = req
            if requirement is None:
                return None
        assert requirement is not None
        ticket_id, priority = self._partitions[requirement].peekitem()
        return self._tickets[ticket_id], priority

    def _remember(self, skills: SkillSet) -> list[SkillSet]:
        if len(self._eligible) >= _MAX_MEMO:
            self._eligible.clear()
        eligible = [req for req in self._partitions if req.satisfied_by(skills)]
        self._eligible[skills] = eligible
        return eligible

    def rank(self, ticket_id: str) -> int:
        priority = self.priority(ticket_id)
        ranks = self._ranks
        if ranks is None:
            ranks = SortedList(p for part in self._partitions.values() for p in part.values())
            self._ranks = ranks
        return ranks.bisect_left(priority)

    def deadlines(self, after: float, until: float) -> list[Ticket]:
        if until <= after:
            return []
        tickets = self._tickets
        # _TOP sorts after every priority, so (t, _TOP) bounds all entries due at t.
        low = cast(tuple[float, Priority, str], (after, _TOP))
        high = cast(tuple[float, Priority, str], (until, _TOP))
        return [tickets[entry[2]] for entry in self._deadlines.irange(low, high, inclusive=(False, True))]

    def ordered(self) -> list[tuple[Ticket, Priority]]:
        tickets = self._tickets
        pairs = [(p, tid) for part in self._partitions.values() for tid, p in part.items()]
        pairs.sort()
        return [(tickets[tid], p) for p, tid in pairs]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tickets)

    # -- writing ------------------------------------------------------------

    def insert(self, ticket: Ticket, priority: Priority) -> None:
        ticket_id = ticket.id
        requirement = ticket.skills
        partition = self._partitions.get(requirement)
        if partition is None:
            partition = self._new_partition(requirement)
        partition[ticket_id] = priority
        self._tickets[ticket_id] = ticket
        head = self._head_of.get(requirement)
        if head is None or priority < head:
            self._heads[requirement] = priority
            self._head_of[requirement] = priority
        if ticket.sla_due is not None:
            self._deadlines.add((ticket.sla_due, priority, ticket_id))
        if self._ranks is not None:
            self._ranks.add(priority)

    def delete(self, ticket_id: str) -> Ticket:
        ticket = self._tickets.pop(ticket_id)
        requirement = ticket.skills
        partition = self._partitions[requirement]
        priority = partition.pop(ticket_id)
        if self._head_of[requirement] is priority:
            self._refresh_head(requirement, partition)
        if ticket.sla_due is not None:
            self._deadlines.remove((ticket.sla_due, priority, ticket_id))
        if self._ranks is not None:
            self._ranks.remove(priority)
        return ticket

    def replace(self, ticket: Ticket, priority: Priority) -> None:
        # Ticket and priority are validated by the queue, so delete + insert
        # cannot fail half-way.
        self.delete(ticket.id)
        self.insert(ticket, priority)

    def _new_partition(self, requirement: SkillSet) -> IndexedHeap[str, Priority]:
        partition: IndexedHeap[str, Priority] = IndexedHeap()
        self._partitions[requirement] = partition
        for skills, eligible in self._eligible.items():
            if requirement.satisfied_by(skills):
                eligible.append(requirement)
        return partition

    def _refresh_head(self, requirement: SkillSet, partition: IndexedHeap[str, Priority]) -> None:
        if partition:
            head = partition.peekitem()[1]
            self._heads[requirement] = head
            self._head_of[requirement] = head
        else:
            del self._heads[requirement]
            del self._head_of[requirement]

    def _check(self) -> None:
        """Assert every invariant (used by the test suite)."""
        seen = 0
        all_priorities = []
        for requirement, partition in self._partitions.items():
            partition._check()
            for ticket_id, priority in partition.items():
                assert self._tickets[ticket_id].skills == requirement
                all_priorities.append(priority)
            seen += len(partition)
            if partition:
                head = partition.peekitem()[1]
                assert self._head_of[requirement] == head == self._heads[requirement]
            else:
                assert requirement not in self._head_of and requirement not in self._heads
        assert seen == len(self._tickets), "a ticket is in no partition or in two"
        assert len(set(all_priorities)) == len(all_priorities), "priorities are not unique"
        self._heads._check()
        assert len(self._heads) == len(self._head_of)
        for skills, eligible in self._eligible.items():
            assert set(eligible) == {r for r in self._partitions if r.satisfied_by(skills)}
        expected = sorted((t.sla_due, self.priority(t.id), t.id) for t in self._tickets.values() if t.sla_due is not None)
        assert list(self._deadlines) == expected, "deadline index out of step"
        if self._ranks is not None:
            assert list(self._ranks) == sorted(all_priorities), "position index out of step"
