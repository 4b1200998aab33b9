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

from heapq import heapify, heappop, heappush
from typing import Any, Protocol, cast

from sortedcontainers import SortedList

from triage_queue.errors import UnknownTicket
from triage_queue.heap import IndexedHeap
from triage_queue.ticket import SkillSet, Ticket

__all__ = ["MemoryStore", "Priority", "TicketStore"]

Priority = tuple[float, ...]
"""A ticket's place in the order: smaller is served sooner; unique per ticket."""

Entry = tuple[Any, ...]
"""A priority with the ticket id appended: what the partitions hold."""

# Below this many dead entries compaction is not worth a pass over a heap.
_COMPACT_FLOOR = 64



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
# Empty partitions are pruned once there are more than this many, and they
# are over half of all partitions.
_MAX_EMPTY = 256


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

    def first(self, skills: SkillSet | None) -> Ticket | None:
        """The best ticket overall, or the best whose requirement ``skills``
        satisfy; None if there is none."""
        ...

    def pop_first(self, skills: SkillSet | None) -> Ticket | None:
        """Remove and return what :meth:`first` would return."""
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


class _Partition:
    """The tickets of one requirement: a heapq list of flat entries
    ``(*priority, ticket_id)`` with lazy deletion, as in IndexedHeap.

    Flat entries are compared in one pass (a nested ``(priority, seq, key)``
    tuple would scan the priority prefix twice per comparison), which makes
    the sift on the serving path markedly cheaper.
    """

    __slots__ = ("dead", "heap", "index", "requirement", "top")

    def __init__(self, requirement: SkillSet) -> None:
        self.requirement = requirement
        self.heap: list[Entry] = []
        self.index: dict[str, Entry] = {}
        self.dead = 0
        # The best live entry, cached so that comparing partition heads needs
        # no hashing: None when the partition is empty.
        self.top: Entry | None = None

    def add(self, entry: Entry) -> None:
        heappush(self.heap, entry)
        self.index[entry[-1]] = entry

    def discard(self, ticket_id: str) -> Entry:
        index = self.index
        entry = index.pop(ticket_id)
        if not index:
            self.heap.clear()
            self.dead = 0
        else:
            self._one_more_dead()
        return entry

    def supersede(self, entry: Entry) -> Entry:
        """Put ``entry`` in place of the live entry of the same ticket; return
        the old one, which stays in the heap as a dead entry."""
        old = self.index[entry[-1]]
        self.add(entry)
        self._one_more_dead()
        return old

    def _one_more_dead(self) -> None:
        self.dead += 1
        if self.dead > _COMPACT_FLOOR and self.dead > len(self.index):
            self.compact()

    def compact(self) -> None:
        index = self.index
        live = [e for e in self.heap if index.get(e[-1]) is e]
        heapify(live)
        self.heap = live
        self.dead = 0

    def head(self) -> Entry | None:
        heap = self.heap
        index = self.index
        while heap:
            entry = heap[0]
            if index.get(entry[-1]) is entry:
                return entry
            heappop(heap)
            self.dead -= 1
        return None

    def pop_head(self) -> Entry:
        heap = self.heap
        index = self.index
        while True:
            entry = heappop(heap)
            ticket_id = entry[-1]
            if index.get(ticket_id) is entry:
                del index[ticket_id]
                return entry
            self.dead -= 1

    def _check(self) -> None:
        heap = self.heap
        for i in range(1, len(heap)):
            assert not heap[i] < heap[(i - 1) >> 1], "partition heap order broken"
        live = [e for e in heap if self.index.get(e[-1]) is e]
        assert len(live) == len(self.index), "an indexed entry is missing from its partition heap"
        assert len(heap) - len(live) == self.dead, "dead-entry count is wrong"


class MemoryStore:
    """The in-process store: tickets partitioned by requirement.

    Runtime complexity (n tickets, P partitions, Q partitions an agent's
    skills satisfy, k results): insert, replace, delete O(log n + log P)
    amortised (+ O(log n) each for the deadline and position indexes when in
    use); first() and pop_first() O(log P + log n) without skills and
    O(Q + log n) with them (O(P) more the first time a skill set is seen);
    rank O(log n) (O(n log n) on the first call); deadlines O(log n + k);
    ordered O(n log n).
    """

    def __init__(self) -> None:
        self._tickets: dict[str, Ticket] = {}
        self._partitions: dict[SkillSet, _Partition] = {}
        # The heads of non-empty partitions, for the best ticket overall.
        # Partitions hash by identity (cheap).  It is brought up to date only
        # when asked: serving by skill, the hot path, never needs it, so a
        # partition whose head changed is just noted in _stale.
        self._heads: IndexedHeap[_Partition, Entry] = IndexedHeap()
        self._stale: set[_Partition] = set()
        self._eligible: dict[SkillSet, list[_Partition]] = {}
        self._empty = 0  # partitions holding no ticket
        self._deadlines: SortedList[tuple[float, Entry]] = SortedList()
        self._ranks: SortedList[Entry] | None = None

    # -- reading ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._tickets)

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._tickets

    def get(self, ticket_id: str) -> Ticket | None:
        return self._tickets.get(ticket_id)

    def priority(self, ticket_id: str) -> Priority:
        return self._entry(ticket_id)[:-1]

    def _entry(self, ticket_id: str) -> Entry:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise UnknownTicket(ticket_id)
        return self._partitions[ticket.skills].index[ticket_id]

    def _best(self, skills: SkillSet | None) -> _Partition | None:
        """The partition holding the best eligible ticket."""
        if skills is None:
            if self._stale:
                self._sync_heads()
            return self._heads.peek() if self._heads else None
        eligible = self._eligible.get(skills)
        if eligible is None:
            eligible = self._remember(skills)
        best: Entry | None = None
        found = None
        for partition in eligible:
            top = partition.top
            if top is not None and (best is None or top < best):
                best = top
                found = partition
        return found

    def first(self, skills: SkillSet | None) -> Ticket | None:
        partition = self._best(skills)
        if partition is None:
            return None
        return self._tickets[partition.top[-1]]  # type: ignore[index]

    def pop_first(self, skills: SkillSet | None) -> Ticket | None:
        partition = self._best(skills)
        if partition is None:
            return None
        entry = partition.pop_head()
        ticket = self._tickets.pop(entry[-1])
        self._refresh_head(partition)
        self._unindex(ticket, entry)
        return ticket

    def _remember(self, skills: SkillSet) -> list[_Partition]:
        if len(self._eligible) >= _MAX_MEMO:
            self._eligible.clear()
        eligible = [p for req, p in self._partitions.items() if req.satisfied_by(skills)]
        self._eligible[skills] = eligible
        return eligible

    def rank(self, ticket_id: str) -> int:
        entry = self._entry(ticket_id)
        ranks = self._ranks
        if ranks is None:
            ranks = SortedList(e for part in self._partitions.values() for e in part.index.values())
            self._ranks = ranks
        return ranks.bisect_left(entry)

    def deadlines(self, after: float, until: float) -> list[Ticket]:
        if until <= after:
            return []
        tickets = self._tickets
        # _TOP sorts after every entry, so (t, _TOP) bounds all entries due at t.
        low = cast(tuple[float, Entry], (after, _TOP))
        high = cast(tuple[float, Entry], (until, _TOP))
        return [tickets[item[1][-1]] for item in self._deadlines.irange(low, high, inclusive=(False, True))]

    def ordered(self) -> list[tuple[Ticket, Priority]]:
        tickets = self._tickets
        entries = [e for part in self._partitions.values() for e in part.index.values()]
        entries.sort()
        return [(tickets[e[-1]], e[:-1]) for e in entries]

    # -- writing ------------------------------------------------------------

    def insert(self, ticket: Ticket, priority: Priority) -> None:
        entry: Entry = priority + (ticket.id,)
        requirement = ticket.skills
        partition = self._partitions.get(requirement)
        if partition is None:
            partition = self._new_partition(requirement)
        elif partition.top is None:
            self._empty -= 1
        partition.add(entry)
        self._tickets[ticket.id] = ticket
        top = partition.top
        if top is None or entry < top:
            partition.top = entry
            self._stale.add(partition)
        if ticket.sla_due is not None:
            self._deadlines.add((ticket.sla_due, entry))
        if self._ranks is not None:
            self._ranks.add(entry)

    def delete(self, ticket_id: str) -> Ticket:
        ticket = self._tickets.pop(ticket_id)
        requirement = ticket.skills
        partition = self._partitions[requirement]
        entry = partition.discard(ticket_id)
        if partition.top is entry:
            self._refresh_head(partition)
        self._unindex(ticket, entry)
        return ticket

    def _unindex(self, ticket: Ticket, entry: Entry) -> None:
        if ticket.sla_due is not None:
            self._deadlines.remove((ticket.sla_due, entry))
        if self._ranks is not None:
            self._ranks.remove(entry)

    def replace(self, ticket: Ticket, priority: Priority) -> None:
        # Ticket and priority are validated by the queue, so nothing here can
        # fail half-way.
        ticket_id = ticket.id
        old = self._tickets[ticket_id]
        requirement = ticket.skills
        if old.skills is not requirement and old.skills != requirement:
            self.delete(ticket_id)
            self.insert(ticket, priority)
            return
        # Same partition: re-point the entry in place (the old one goes dead).
        partition = self._partitions[requirement]
        entry: Entry = priority + (ticket_id,)
        old_entry = partition.supersede(entry)
        self._tickets[ticket_id] = ticket
        top = partition.top
        if top is old_entry:
            self._refresh_head(partition)
        elif entry < top:  # type: ignore[operator]
            partition.top = entry
            self._stale.add(partition)
        if old.sla_due is not None:
            self._deadlines.remove((old.sla_due, old_entry))
        if ticket.sla_due is not None:
            self._deadlines.add((ticket.sla_due, entry))
        if self._ranks is not None:
            self._ranks.remove(old_entry)
            self._ranks.add(entry)

    def _new_partition(self, requirement: SkillSet) -> _Partition:
        partition = _Partition(requirement)
        self._partitions[requirement] = partition
        for skills, eligible in self._eligible.items():
            if requirement.satisfied_by(skills):
                eligible.append(partition)
        return partition

    def _refresh_head(self, partition: _Partition) -> None:
        head = partition.head()
        partition.top = head
        self._stale.add(partition)
        if head is None:
            self._empty += 1
            if self._empty > _MAX_EMPTY and 2 * self._empty > len(self._partitions):
                self._prune()

    def _sync_heads(self) -> None:
        heads = self._heads
        for partition in self._stale:
            top = partition.top
            if top is None:
                heads.pop(partition, None)
            elif heads.get(partition) is not top:
                heads[partition] = top
        self._stale.clear()

    def _prune(self) -> None:
        # Empty partitions are kept so that a requirement seen again reuses
        # its place in every eligibility memo; once they pile up (many
        # one-off skill combinations), drop them and start the memo afresh.
        self._sync_heads()
        self._partitions = {req: p for req, p in self._partitions.items() if p.top is not None}
        self._eligible.clear()
        self._empty = 0

    def _check(self) -> None:
        """Assert every invariant (used by the test suite)."""
        seen = 0
        entries = []
        for requirement, partition in self._partitions.items():
            partition._check()
            for ticket_id, entry in partition.index.items():
                assert entry[-1] == ticket_id
                assert self._tickets[ticket_id].skills == requirement
                entries.append(entry)
            seen += len(partition.index)
            assert partition.requirement == requirement
            head = partition.head()
            assert partition.top is head, "cached partition head is stale"
            if partition not in self._stale:
                assert self._heads.get(partition) is head, "heads heap out of step"
        for partition in self._heads:
            assert partition in self._stale or partition.top is not None
        assert seen == len(self._tickets), "a ticket is in no partition or in two"
        assert self._empty == sum(1 for p in self._partitions.values() if p.top is None), "empty count is wrong"
        assert len(set(e[:-1] for e in entries)) == len(entries), "priorities are not unique"
        self._heads._check()
        for skills, eligible in self._eligible.items():
            assert len(eligible) == len(set(map(id, eligible)))
            assert {id(p) for p in eligible} == {
                id(p) for r, p in self._partitions.items() if r.satisfied_by(skills)
            }, "eligibility memo out of step"
        expected = sorted(
            (t.sla_due, self._entry(t.id)) for t in self._tickets.values() if t.sla_due is not None
        )
        assert list(self._deadlines) == expected, "deadline index out of step"
        if self._ranks is not None:
            assert list(self._ranks) == sorted(entries), "position index out of step"
