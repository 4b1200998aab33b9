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
Tickets are partitioned by their *lane*: the exact
:class:`~triage_queue.SkillSet` they need now, their channel, and the agent
holding them, if any (a ticket held for one agent is served to no one else).  Each partition is a
heap of flat entries ``(*priority, ticket_id)`` indexed by ticket id.  A
heapq list holds the head entry of every non-empty partition, so the best
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

from collections.abc import Container, Iterable
from heapq import heapify, heappop, heappush, heapreplace
from typing import Any, Protocol, cast

from sortedcontainers import SortedList

from triage_queue.errors import UnknownTicket
from triage_queue.ticket import SkillSet, Ticket

__all__ = ["Lane", "MemoryStore", "Priority", "TicketStore"]

Priority = tuple[float, ...]
"""A ticket's place in the order: smaller is served sooner; unique per ticket."""

Entry = tuple[Any, ...]
"""A priority with the ticket id appended: what the partitions hold."""

Lane = tuple[SkillSet, "str | None", "str | None"]
"""Where a ticket waits: ``(requirement, channel, holder)``.  The requirement
is the skill set an agent needs now, the channel is the ticket's, and the
holder is the id of the one agent it is kept for, or None."""

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
# Beyond this many distinct agent skill sets the eligibility memo starts
# over.  Well above the number of agents of a large contact centre (each
# agent has at most one skill set), so a roster never thrashes it.
_MAX_MEMO = 65_536
# Empty partitions are pruned once there are more than this many, and they
# are over half of all partitions.
_MAX_EMPTY = 256


class TicketStore(Protocol):
    """What a :class:`~triage_queue.TicketQueue` needs from its storage.

    The queue validates every argument before calling a store, and calls
    only these methods, so a store may assume ids are present or absent as
    documented.

    Optional: ``bulk_load(entries)``, filling an empty store with
    ``(ticket, priority, lane)`` triples (ids and priorities unique) in one
    pass, as :meth:`MemoryStore.bulk_load` does; a queue restoring a
    snapshot uses it when present and falls back to :meth:`insert`.
    Optional too, for speed: ``insert_new(ticket, priority, lane) -> bool``
    (:meth:`insert` for an id that may be held: False, changing nothing,
    if it is), ``insert_plain(ticket, priority) -> bool`` (``insert_new``
    into the lane ``(ticket.skills, ticket.channel, None)``) and
    ``pop_best() -> Ticket | None`` (``pop_first(None)`` without the
    priority), ``ordered_tickets() -> list[Ticket]`` (:meth:`ordered`
    without the priorities) and ``bulk_load_entries(tickets, entries,
    lanes)`` (``bulk_load`` from three lists in step, the entries being
    ``(*priority, ticket.id)``), as :class:`MemoryStore` has; a queue uses
    them when present.
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

    def lane(self, ticket_id: str) -> Lane:
        """The lane of a held ticket."""
        ...

    def insert(self, ticket: Ticket, priority: Priority, lane: Lane) -> None:
        """Add a ticket whose id is not held, in ``lane``."""
        ...

    def replace(self, ticket: Ticket, priority: Priority, lane: Lane) -> None:
        """Replace the held ticket of the same id, its priority and lane."""
        ...

    def delete(self, ticket_id: str) -> Ticket:
        """Remove a held ticket and return it."""
        ...

    def first(
        self,
        skills: SkillSet | None,
        channels: Container[str | None] | None = None,
        holder: str | None = None,
    ) -> Ticket | None:
        """The best ticket not held for an agent, or held for ``holder``,
        whose requirement ``skills`` satisfy (any, if None) and whose channel
        is in ``channels`` (any, if None); None if there is none."""
        ...

    def pop_first(
        self,
        skills: SkillSet | None,
        channels: Container[str | None] | None = None,
        holder: str | None = None,
    ) -> tuple[Ticket, Priority] | None:
        """Remove what :meth:`first` would return; return it with its priority."""
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
    """The tickets of one lane: a heapq list of flat entries
    ``(*priority, ticket_id)`` with lazy deletion, as in
    :class:`~triage_queue.IndexedHeap`.

    Flat entries are compared in one pass (a nested ``(priority, seq, key)``
    tuple would scan the priority prefix twice per comparison), which makes
    the sift on the serving path markedly cheaper.
    """

    __slots__ = ("channel", "dead", "heap", "holder", "index", "lane", "requirement", "serial", "top")

    def __init__(self, lane: Lane, serial: int) -> None:
        self.lane = lane
        # Unique per store: breaks ties between equal heads in the heads
        # heap (a ticket that moved lanes keeps its priority), so partitions
        # are never compared.
        self.serial = serial
        self.requirement, self.channel, self.holder = lane
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
    """The in-process store: tickets partitioned by lane.

    Runtime complexity (n tickets, P lanes, Q lanes an agent's skills
    satisfy, H lanes held for that agent, k results): insert, replace,
    delete O(log n + log P) amortised (+ O(log n) each for the deadline and
    position indexes when in use); first() and pop_first() O(log P + log n)
    with no filter and O(Q + H + log n) with skills (O(P) more the first time
    a skill set is seen, and O(P) when filtering by channel alone); rank
    O(log n) (O(n log n) on the first call); deadlines O(log n + k); ordered
    O(n log n).
    """

    def __init__(self) -> None:
        self._tickets: dict[str, Ticket] = {}
        # Lanes that differ from (ticket.skills, ticket.channel, None): held
        # or not yet relaxed.  Most tickets need no entry here.
        self._odd: dict[str, Lane] = {}
        self._partitions: dict[Lane, _Partition] = {}
        # (id(requirement), channel) -> the unheld partition of that lane,
        # for insert_plain: a tuple of an int and a str hashes without the
        # Python-level SkillSet.__hash__.  Only partitions whose requirement
        # is that very object are entered, so the id cannot be reused while
        # the entry lives; cleared whenever partitions are dropped.
        self._plain: dict[tuple[int, str | None], _Partition] = {}
        # The heads of non-empty partitions not held for an agent, for the
        # best ticket overall: a heapq list of (head entry, serial,
        # partition), with lazy deletion: an item is live while its entry is
        # still its partition's top (an identity test).  It is brought up to
        # date only when asked: serving by skill, the hot path, never needs
        # it, so a partition whose head changed is noted in _stale.
        self._heads: list[tuple[Entry, int, _Partition]] = []
        self._serial = 0
        # An insertion-ordered dict used as a set, so the heads heap is built
        # in the same order on every run (a set would follow identity hashes).
        self._stale: dict[_Partition, None] = {}
        # Agent skill set -> the unheld partitions those skills satisfy.
        self._eligible: dict[SkillSet, list[_Partition]] = {}
        # Agent id -> the partitions held for that agent.
        self._held: dict[str, list[_Partition]] = {}
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

    def lane(self, ticket_id: str) -> Lane:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise UnknownTicket(ticket_id)
        return self._lane_of(ticket)

    def _lane_of(self, ticket: Ticket) -> Lane:
        odd = self._odd.get(ticket.id)
        return (ticket.skills, ticket.channel, None) if odd is None else odd

    def _entry(self, ticket_id: str) -> Entry:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise UnknownTicket(ticket_id)
        return self._partitions[self._lane_of(ticket)].index[ticket_id]

    def _best(
        self,
        skills: SkillSet | None,
        channels: Container[str | None] | None,
        holder: str | None,
    ) -> _Partition | None:
        """The partition holding the best eligible ticket."""
        held = self._held.get(holder) if holder is not None else None
        best: Entry | None = None
        found = None
        if skills is None and channels is None:
            if len(self._partitions) == 1 and not held:
                # One lane (the common single-skill-group queue): no heads
                # heap to consult.
                for partition in self._partitions.values():
                    if partition.holder is None and partition.top is not None:
                        return partition
                return None
            if self._stale:
                self._sync_heads()
            heads = self._heads
            while heads:
                item = heads[0]
                if item[2].top is item[0]:
                    found = item[2]
                    best = item[0]
                    break
                heappop(heads)
        else:
            if skills is None:
                pool: list[_Partition] = [p for p in self._partitions.values() if p.holder is None]
            else:
                eligible = self._eligible.get(skills)
                pool = self._remember(skills) if eligible is None else eligible
            if channels is None:
                for partition in pool:
                    top = partition.top
                    if top is not None and (best is None or top < best):
                        best = top
                        found = partition
            else:
                for partition in pool:
                    top = partition.top
                    if top is not None and (best is None or top < best) and partition.channel in channels:
                        best = top
                        found = partition
        if held:
            for partition in held:
                top = partition.top
                if (
                    top is not None
                    and (best is None or top < best)
                    and (channels is None or partition.channel in channels)
                    and (skills is None or partition.requirement.satisfied_by(skills))
                ):
                    best = top
                    found = partition
        return found

    def first(
        self,
        skills: SkillSet | None,
        channels: Container[str | None] | None = None,
        holder: str | None = None,
    ) -> Ticket | None:
        partition = self._best(skills, channels, holder)
        if partition is None:
            return None
        return self._tickets[partition.top[-1]]  # type: ignore[index]

    def pop_first(
        self,
        skills: SkillSet | None,
        channels: Container[str | None] | None = None,
        holder: str | None = None,
    ) -> tuple[Ticket, Priority] | None:
        partition = self._best(skills, channels, holder)
        if partition is None:
            return None
        entry = partition.pop_head()
        ticket_id = entry[-1]
        ticket = self._tickets.pop(ticket_id)
        if self._odd:
            self._odd.pop(ticket_id, None)
        self._refresh_head(partition)
        if ticket.sla_due is not None or self._ranks is not None:
            self._unindex(ticket, entry)
        return ticket, entry[:-1]

    def pop_best(self) -> Ticket | None:
        """``pop_first(None)``, returning the ticket alone: the best ticket
        not held for an agent, removed; None if there is none.

        Runtime complexity: O(log P + log n) amortised.

        >>> from triage_queue import Ticket
        >>> store, a, b = MemoryStore(), Ticket("a", 0.0), Ticket("b", 0.0, channel="chat")
        >>> store.insert(a, (1.0, 0), (a.skills, None, None)); store.insert(b, (0.0, 1), (b.skills, "chat", None))
        >>> store.pop_best().id, store.pop_best().id, store.pop_best()
        ('b', 'a', None)
        """
        partitions = self._partitions
        if len(partitions) == 1:
            for partition in partitions.values():
                top = partition.top
                if partition.holder is not None or top is None:
                    return None
            # partition.pop_head() and self._refresh_head(), inlined.  The
            # cached top is the best live entry, so whatever the heap yields
            # before it is dead: no index lookup to tell.
            heap = partition.heap
            index = partition.index
            entry = heappop(heap)
            while entry is not top:
                partition.dead -= 1
                entry = heappop(heap)
            ticket_id = entry[-1]
            del index[ticket_id]
            while heap:
                head = heap[0]
                if index.get(head[-1]) is head:
                    partition.top = head
                    self._stale[partition] = None
                    break
                heappop(heap)
                partition.dead -= 1
            else:
                self._refresh_head(partition)
        else:
            if self._stale:
                self._sync_heads()
            heads = self._heads
            while True:
                if not heads:
                    return None
                item = heads[0]
                partition = item[2]
                top = partition.top
                if top is item[0]:
                    break
                heappop(heads)
            # partition.pop_head() and partition.head(), inlined (entries
            # before the cached top are dead, as above).
            heap = partition.heap
            index = partition.index
            entry = heappop(heap)
            while entry is not top:
                partition.dead -= 1
                entry = heappop(heap)
            ticket_id = entry[-1]
            del index[ticket_id]
            while heap:
                head = heap[0]
                if index.get(head[-1]) is head:
                    # The partition's heads item is at the top: replace it in place.
                    partition.top = head
                    heapreplace(heads, (head, partition.serial, partition))
                    break
                heappop(heap)
                partition.dead -= 1
            else:
                self._refresh_head(partition)
        ticket = self._tickets.pop(ticket_id)
        if self._odd:
            self._odd.pop(ticket_id, None)
        if ticket.sla_due is not None or self._ranks is not None:
            self._unindex(ticket, entry)
        return ticket

    def _remember(self, skills: SkillSet) -> list[_Partition]:
        if len(self._eligible) >= _MAX_MEMO:
            self._eligible.clear()
        eligible = [p for p in self._partitions.values() if p.holder is None and p.requirement.satisfied_by(skills)]
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

    def ordered_tickets(self) -> list[Ticket]:
        """Every ticket in service order: :meth:`ordered` without the
        priorities (no pair or priority tuple made per ticket).

        Runtime complexity: O(n log n).

        >>> from triage_queue import Ticket
        >>> store, a, b = MemoryStore(), Ticket("a", 0.0), Ticket("b", 0.0)
        >>> store.insert(a, (1.0, 0), (a.skills, None, None)); store.insert(b, (0.0, 1), (b.skills, None, None))
        >>> [t.id for t in store.ordered_tickets()]
        ['b', 'a']
        """
        tickets = self._tickets
        entries = [e for part in self._partitions.values() for e in part.index.values()]
        entries.sort()
        return [tickets[e[-1]] for e in entries]

    # -- writing ------------------------------------------------------------

    def bulk_load(self, entries: Iterable[tuple[Ticket, Priority, Lane]]) -> None:
        """Fill this empty store with ``(ticket, priority, lane)`` triples
        (unique ids and priorities, as for :meth:`insert`), building each
        partition's heap with one heapify.  Raises ``ValueError`` if the
        store is not empty.

        Runtime complexity: O(n + D log D) for D tickets with a deadline,
        against O(n log n) for n inserts.

        >>> from triage_queue import Ticket
        >>> store = MemoryStore()
        >>> a, b = Ticket("a", 0.0), Ticket("b", 0.0, sla_due=9.0)
        >>> store.bulk_load([(a, (1.0, 0), (a.skills, None, None)), (b, (0.0, 1), (b.skills, None, None))])
        >>> [t.id for t, _ in store.ordered()], store.first(None).id
        (['b', 'a'], 'b')
        """
        if self._tickets or self._partitions:
            raise ValueError("bulk_load fills an empty store")
        tickets: list[Ticket] = []
        flat: list[Entry] = []
        lanes: list[Lane] = []
        for ticket, priority, lane in entries:
            tickets.append(ticket)
            flat.append(priority + (ticket.id,))
            lanes.append(lane)
        self.bulk_load_entries(tickets, flat, lanes)

    def bulk_load_entries(self, tickets: list[Ticket], entries: list[Entry], lanes: list[Lane]) -> None:
        """:meth:`bulk_load` from three lists in step: the tickets, their
        entries ``(*priority, ticket.id)`` and their lanes (lanes equal in
        value may be one shared tuple).  Makes no tuple per ticket beyond
        the entries given, which a queue restoring a snapshot builds as it
        reads them.  Raises ``ValueError`` if the store is not empty.

        Runtime complexity: as :meth:`bulk_load`.

        >>> from triage_queue import Ticket
        >>> store, a = MemoryStore(), Ticket("a", 0.0)
        >>> store.bulk_load_entries([a], [(0.0, 0, "a")], [(a.skills, None, None)])
        >>> store.priority("a")
        (0.0, 0)
        """
        if self._tickets or self._partitions:
            raise ValueError("bulk_load fills an empty store")
        by_id = self._tickets
        odd = self._odd
        partitions = self._partitions
        deadlines = []
        lane: Lane | None = None
        partition: _Partition | None = None
        for ticket, entry, next_lane in zip(tickets, entries, lanes, strict=True):
            ticket_id = entry[-1]
            if next_lane is not lane:
                lane = next_lane
                partition = partitions.get(lane)
                if partition is None:
                    partition = partitions[lane] = _Partition(lane, self._serial)
                    self._serial += 1
            assert partition is not None and lane is not None
            partition.heap.append(entry)
            partition.index[ticket_id] = entry
            by_id[ticket_id] = ticket
            if lane[2] is not None or lane[1] != ticket.channel or (lane[0] is not ticket.skills and lane[0] != ticket.skills):
                odd[ticket_id] = lane
            if ticket.sla_due is not None:
                deadlines.append((ticket.sla_due, entry))
        for partition in partitions.values():
            heapify(partition.heap)
            partition.top = partition.heap[0]
            if partition.holder is None:
                self._stale[partition] = None
            else:
                self._held.setdefault(partition.holder, []).append(partition)
        if deadlines:
            deadlines.sort()
            self._deadlines = SortedList(deadlines)

    def insert(self, ticket: Ticket, priority: Priority, lane: Lane) -> None:
        self.insert_new(ticket, priority, lane)

    def insert_new(self, ticket: Ticket, priority: Priority, lane: Lane) -> bool:
        """:meth:`insert`, unless a ticket of this id is held: then return
        False and change nothing (one lookup where a caller would otherwise
        test ``in`` first).

        Runtime complexity: as :meth:`insert`.

        >>> from triage_queue import Ticket
        >>> store, a = MemoryStore(), Ticket("a", 0.0)
        >>> store.insert_new(a, (0.0, 0), (a.skills, None, None)), store.insert_new(a, (0.0, 1), (a.skills, None, None))
        (True, False)
        """
        tickets = self._tickets
        ticket_id = ticket.id
        if ticket_id in tickets:
            return False
        entry: Entry = priority + (ticket_id,)
        partition = self._partitions.get(lane)
        if partition is None:
            partition = self._new_partition(lane)
        elif partition.top is None:
            self._empty -= 1
        heappush(partition.heap, entry)  # partition.add, inlined
        partition.index[ticket_id] = entry
        tickets[ticket_id] = ticket
        # ``is`` first: SkillSet equality is a Python-level call.
        if lane[2] is not None or lane[1] != ticket.channel or (lane[0] is not ticket.skills and lane[0] != ticket.skills):
            self._odd[ticket_id] = lane
        top = partition.top
        if top is None or entry < top:
            partition.top = entry
            if partition.holder is None:
                self._stale[partition] = None
        if ticket.sla_due is not None:
            self._deadlines.add((ticket.sla_due, entry))
        if self._ranks is not None:
            self._ranks.add(entry)
        return True

    def insert_plain(self, ticket: Ticket, priority: Priority) -> bool:
        """:meth:`insert_new` into the ticket's ordinary lane,
        ``(ticket.skills, ticket.channel, None)``: False, changing nothing,
        if a ticket of this id is held.

        Runtime complexity: as :meth:`insert`.

        >>> from triage_queue import Ticket
        >>> store, a = MemoryStore(), Ticket("a", 0.0, channel="chat")
        >>> store.insert_plain(a, (0.0, 0)), store.insert_plain(a, (0.0, 1)), store.lane("a")[1:]
        (True, False, ('chat', None))
        """
        tickets = self._tickets
        ticket_id = ticket.id
        if ticket_id in tickets:
            return False
        skills = ticket.skills
        channel = ticket.channel
        entry: Entry = priority + (ticket_id,)
        partition = self._plain.get((id(skills), channel))
        if partition is None or partition.requirement is not skills:
            lane: Lane = (skills, channel, None)
            partition = self._partitions.get(lane)
            if partition is None:
                partition = self._new_partition(lane)
                self._empty += 1  # undone below, as for any empty partition
            if partition.requirement is skills:
                self._plain[(id(skills), channel)] = partition
        top = partition.top
        if top is None:
            self._empty -= 1
            partition.top = entry
            self._stale[partition] = None
        elif entry < top:
            partition.top = entry
            self._stale[partition] = None
        heappush(partition.heap, entry)
        partition.index[ticket_id] = entry
        tickets[ticket_id] = ticket
        if ticket.sla_due is not None:
            self._deadlines.add((ticket.sla_due, entry))
        if self._ranks is not None:
            self._ranks.add(entry)
        return True

    def delete(self, ticket_id: str) -> Ticket:
        ticket = self._tickets.pop(ticket_id)
        lane = self._odd.pop(ticket_id, None) if self._odd else None
        if lane is None:
            lane = (ticket.skills, ticket.channel, None)
        partition = self._partitions[lane]
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

    def replace(self, ticket: Ticket, priority: Priority, lane: Lane) -> None:
        # Ticket, priority and lane are validated by the queue, so nothing
        # here can fail half-way.
        ticket_id = ticket.id
        old = self._tickets[ticket_id]
        old_lane = self._lane_of(old)
        if old_lane != lane:
            self.delete(ticket_id)
            self.insert(ticket, priority, lane)
            return
        # Same partition: re-point the entry in place (the old one goes dead).
        partition = self._partitions[old_lane]
        entry: Entry = priority + (ticket_id,)
        old_entry = partition.supersede(entry)
        self._tickets[ticket_id] = ticket
        if lane[2] is not None or lane[1] != ticket.channel or (lane[0] is not ticket.skills and lane[0] != ticket.skills):
            self._odd[ticket_id] = lane
        elif self._odd:
            self._odd.pop(ticket_id, None)
        top = partition.top
        if top is old_entry:
            self._refresh_head(partition)
        elif entry < top:  # type: ignore[operator]
            partition.top = entry
            if partition.holder is None:
                self._stale[partition] = None
        if old.sla_due is not None:
            self._deadlines.remove((old.sla_due, old_entry))
        if ticket.sla_due is not None:
            self._deadlines.add((ticket.sla_due, entry))
        if self._ranks is not None:
            self._ranks.remove(old_entry)
            self._ranks.add(entry)

    def _new_partition(self, lane: Lane) -> _Partition:
        partition = _Partition(lane, self._serial)
        self._serial += 1
        self._partitions[lane] = partition
        if partition.holder is None:
            requirement = partition.requirement
            for skills, eligible in self._eligible.items():
                if requirement.satisfied_by(skills):
                    eligible.append(partition)
        else:
            self._held.setdefault(partition.holder, []).append(partition)
        return partition

    def _refresh_head(self, partition: _Partition) -> None:
        head = partition.head()
        partition.top = head
        if partition.holder is None:
            self._stale[partition] = None
        if head is None:
            self._empty += 1
            if self._empty > _MAX_EMPTY and 2 * self._empty > len(self._partitions):
                self._prune()

    def _sync_heads(self) -> None:
        heads = self._heads
        for partition in self._stale:
            top = partition.top
            if top is not None:
                heappush(heads, (top, partition.serial, partition))
        self._stale.clear()
        if len(heads) > 2 * len(self._partitions) + _COMPACT_FLOOR:
            # Mostly superseded heads: rebuild from the live ones.
            live = [(p.top, p.serial, p) for p in self._partitions.values() if p.holder is None and p.top is not None]
            heapify(live)
            self._heads = live

    def _prune(self) -> None:
        # Empty partitions are kept so that a lane seen again reuses its
        # place in every eligibility memo; once they pile up (many one-off
        # skill combinations, or many holds), drop them and start afresh.
        self._sync_heads()
        self._partitions = {lane: p for lane, p in self._partitions.items() if p.top is not None}
        self._plain.clear()
        self._eligible.clear()
        held: dict[str, list[_Partition]] = {}
        for p in self._partitions.values():
            if p.holder is not None:
                held.setdefault(p.holder, []).append(p)
        self._held = held
        self._empty = 0

    def _check(self) -> None:
        """Assert every invariant (used by the test suite)."""
        seen = 0
        entries = []
        for lane, partition in self._partitions.items():
            partition._check()
            assert partition.lane == lane
            for ticket_id, entry in partition.index.items():
                assert entry[-1] == ticket_id
                assert self._lane_of(self._tickets[ticket_id]) == lane, "ticket filed under the wrong lane"
                entries.append(entry)
            seen += len(partition.index)
            head = partition.head()
            assert partition.top is head, "cached partition head is stale"
            if partition.holder is None and partition not in self._stale and head is not None:
                assert any(item[0] is head and item[2] is partition for item in self._heads), "heads heap out of step"
        for (ident, channel), partition in self._plain.items():
            assert self._partitions.get(partition.lane) is partition, "a plain-lane shortcut to a dropped partition"
            assert id(partition.requirement) == ident and partition.channel == channel and partition.holder is None
        for ticket_id, lane in self._odd.items():
            ticket = self._tickets[ticket_id]
            assert lane != (ticket.skills, ticket.channel, None), "an ordinary lane is recorded as odd"
        heads = self._heads
        for i, (_, serial, partition) in enumerate(heads):
            assert partition.holder is None, "a held partition is in the heads heap"
            assert serial == partition.serial
            assert i == 0 or not heads[i] < heads[(i - 1) >> 1], "heads heap order broken"
        assert len({p.serial for p in self._partitions.values()}) == len(self._partitions), "serials not unique"
        assert seen == len(self._tickets), "a ticket is in no partition or in two"
        assert self._empty == sum(1 for p in self._partitions.values() if p.top is None), "empty count is wrong"
        assert len(set(e[:-1] for e in entries)) == len(entries), "priorities are not unique"
        for skills, eligible in self._eligible.items():
            assert len(eligible) == len(set(map(id, eligible)))
            assert {id(p) for p in eligible} == {
                id(p) for p in self._partitions.values() if p.holder is None and p.requirement.satisfied_by(skills)
            }, "eligibility memo out of step"
        held_now = {id(p) for lst in self._held.values() for p in lst}
        assert held_now == {id(p) for p in self._partitions.values() if p.holder is not None}, "held lists out of step"
        for holder, lst in self._held.items():
            assert all(p.holder == holder for p in lst)
        expected = sorted(
            (t.sla_due, self._entry(t.id)) for t in self._tickets.values() if t.sla_due is not None
        )
        assert list(self._deadlines) == expected, "deadline index out of step"
        if self._ranks is not None:
            assert list(self._ranks) == sorted(entries), "position index out of step"
