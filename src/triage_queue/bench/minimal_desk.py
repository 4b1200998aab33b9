"""``MinimalDesk``: the honest reference for the cost of a ticket's lifecycle.

A hand-written helpdesk core with the same semantics as the
:class:`~triage_queue.Dispatcher` at default settings on a plain workload,
written to be as fast as straightforward Python allows.  It is the bar the
``lifecycle`` benchmark holds the Dispatcher to (issue 10, "a lean hot
path"); it is not part of the library's API and nothing in the core uses it.

What it does (the *core semantics*):

- **Skill lanes.**  A waiting ticket sits in the lane of its required skills
  (one ``heapq`` list per distinct ``Ticket.skills``), ordered by the default
  policy's key computed the straightforward way from the ticket's fields,
  once per ticket: ``(-1 if emergency else 0, -tier rank, -complexity,
  created_at, arrival number)``, which is what ``Policy.default().sort_key``
  gives (Emergency > Vip > Complexity > FeedbackOrder, lexicographic, with
  :data:`~triage_queue.DEFAULT_TIERS`; ``contacts`` does not move a ticket
  since the follow-up bonus is 0).  Calling ``sort_key`` instead would only
  add the policy's generic machinery, which is exactly what is measured
  against.
- **Longest-idle agents.**  Agents with the same skills form a team with one
  ``heapq`` of its members that have room, keyed ``(idle_since, joined)``
  (lazy deletion: an entry is stale once its agent's stamp moved on).  A new
  ticket goes to the longest-idle free agent among the teams that qualify
  (cached per requirement), at once, without a trip through its lane.
  ``idle_since`` is set when the agent is offered a ticket and when it is
  freed, as the Dispatcher does.
- **Pulling.**  An agent freed by :meth:`complete`, or asking with
  :meth:`next_for` while nothing is in its inbox, is offered the best waiting
  tickets it qualifies for while it has room: the best head among the lanes
  its team qualifies for (the lanes are attached to the teams once, when a
  lane or a team first appears).
- **Offers with expiry.**  An offer expires ``offer_timeout`` seconds after
  it is made (30 s, the Dispatcher's default; None: never).  Deadlines are
  kept in a deque (the timeout is constant, so they arrive in order) and
  checked at the start of every call; an expired offer's ticket goes back to
  its lane at its original key, or straight to a free qualified agent, and
  the agent is freed.  Answered offers are dropped from the front of the
  deque as they are accepted, so it stays short.
- **One lock**: a ``threading.RLock`` held around every public call.

What it leaves out, and the Dispatcher does: statistics, the audit trail and
listeners, affinity (returning customers, dedicated agents), channels
(capacity is one number), agent statuses, declines and the ``retry_after``
rule (an agent who let an offer expire may be offered that ticket again when
no one else is free), skills relaxing over time, SLA events, validation and
duplicate checks (a bad call raises whatever Python raises: ``KeyError``
for an unknown offer, ticket or agent), explanations, ``assign_all``.

>>> from triage_queue import Agent, ManualClock, Ticket
>>> clock = ManualClock(0.0)
>>> desk = MinimalDesk([Agent("ana", skills={"billing": 3}), Agent("bo")], clock=clock)
>>> offer = desk.submit(Ticket("T-1", 0.0, skills={"billing": 2}))
>>> offer.agent_id, desk.next_for("ana") is offer, desk.accept(offer.id).id
('ana', True, 'T-1')
>>> desk.submit(Ticket("T-2", 0.0, skills={"billing": 1})) is None, desk.waiting   # bo lacks billing
(True, 1)
>>> desk.complete("T-1").id, desk.next_for("ana").ticket.id    # ana pulls T-2
('T-1', 'T-2')
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from heapq import heappop, heappush

from triage_queue.agents import ANY_CHANNEL, Agent
from triage_queue.rules import DEFAULT_TIERS
from triage_queue.ticket import Severity, SkillSet, Ticket

__all__ = ["MinimalDesk", "MinimalOffer"]

_TIER_RANK: dict[str | None, float] = {None: 0}
_TIER_RANK.update(DEFAULT_TIERS)
_CRITICAL = Severity.CRITICAL

# A waiting ticket: (emergency, tier, complexity, created_at, arrival, ticket);
# smaller is served sooner, the arrival number makes every entry unique.
_Entry = tuple[int, float, int, float, int, Ticket]


class MinimalOffer:
    """An offer of a ticket to an agent: ``id`` (an int), ``ticket``,
    ``agent_id`` and ``expires_at`` (``inf`` without a timeout)."""

    __slots__ = ("agent_id", "entry", "expires_at", "id", "ticket", "worker")

    def __init__(self, offer_id: int, entry: _Entry, worker: _Worker, expires_at: float) -> None:
        self.id = offer_id
        self.entry = entry
        self.ticket = entry[5]
        self.worker = worker
        self.agent_id = worker.id
        self.expires_at = expires_at

    def __repr__(self) -> str:
        return f"<MinimalOffer {self.id} {self.ticket.id!r} -> {self.agent_id!r}>"


class _Team:
    """Agents with the same skills: the lanes they qualify for, and a heap of
    ``(idle_since, joined, stamp, worker)`` for those with room."""

    __slots__ = ("free", "lanes", "skills")

    def __init__(self, skills: SkillSet) -> None:
        self.skills = skills
        self.free: list[tuple[float, int, int, _Worker]] = []
        self.lanes: list[list[_Entry]] = []


class _Worker:
    """An agent's live state."""

    __slots__ = ("capacity", "id", "idle_since", "inbox", "joined", "listed", "load", "stamp", "team")

    def __init__(self, agent_id: str, capacity: int, team: _Team, now: float, joined: int) -> None:
        self.id = agent_id
        self.capacity = capacity
        self.team = team
        self.load = 0
        self.idle_since = now
        self.joined = joined
        self.stamp = 0  # the stamp of its one valid entry in the team's heap
        self.listed = False  # whether that entry is there and current
        self.inbox: deque[MinimalOffer] = deque()


class MinimalDesk:
    """The minimal desk described in the module docstring.

    ``agents``: :class:`~triage_queue.Agent` values (their id, skills and
    ``capacity[ANY_CHANNEL]``; status and channels are ignored), joining in
    that order.  ``clock`` defaults to :func:`time.time`; ``offer_timeout``
    to 30 s (None: offers never expire).

    Runtime complexity per call: O(T log A) to place a new ticket for T
    qualifying teams, O(L + log n) to pull for L lanes an agent qualifies
    for, O(1) amortised to hand out and accept an offer.
    """

    def __init__(
        self, agents: Iterable[Agent] = (), *, clock: Callable[[], float] = time.time, offer_timeout: float | None = 30.0
    ) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._timeout = offer_timeout
        # requirement -> (its lane, the teams that qualify for it)
        self._lanes: dict[SkillSet, tuple[list[_Entry], list[_Team]]] = {}
        self._teams: dict[SkillSet, _Team] = {}
        self._workers: dict[str, _Worker] = {}
        self._free = 0  # agents with room
        self._waiting = 0
        self._seq = 0
        self._offer_seq = 0
        self._offers: dict[int, MinimalOffer] = {}  # pending
        self._assigned: dict[str, MinimalOffer] = {}  # ticket id -> the accepted offer
        self._deadlines: deque[tuple[float, int]] = deque()
        with self._lock:
            now = clock()
            for agent in agents:
                self._join(agent, now)

    @property
    def waiting(self) -> int:
        """How many tickets wait in the lanes.  O(1)."""
        return self._waiting

    # -- the four calls of a lifecycle ------------------------------------------------

    def submit(self, ticket: Ticket) -> MinimalOffer | None:
        """Offer the ticket to the longest-idle free agent who qualifies, or
        queue it in its lane; return the offer or None."""
        with self._lock:
            now = self._clock()
            deadlines = self._deadlines
            if deadlines and deadlines[0][0] <= now:
                self._expire(now)
            seq = self._seq = self._seq + 1
            entry = (
                -1 if ticket.severity >= _CRITICAL else 0,
                -_TIER_RANK[ticket.customer_tier],
                -ticket.complexity,
                ticket.created_at,
                seq,
                ticket,
            )
            return self._place(entry, now)

    def next_for(self, agent_id: str) -> MinimalOffer | None:
        """The agent's next offer not yet handed out; if none, it pulls the
        best waiting tickets it qualifies for (while it has room) first."""
        with self._lock:
            now = self._clock()
            deadlines = self._deadlines
            if deadlines and deadlines[0][0] <= now:
                self._expire(now)
            worker = self._workers[agent_id]
            inbox = worker.inbox
            if not inbox and self._waiting:
                self._fill(worker, now)
            offers = self._offers
            while inbox:
                offer = inbox.popleft()
                if offer.id in offers:
                    return offer
            return None

    def accept(self, offer_id: int) -> Ticket:
        """Accept a pending offer; return its ticket.  ``KeyError`` if the
        offer is not pending (unknown, answered or expired)."""
        with self._lock:
            now = self._clock()
            deadlines = self._deadlines
            if deadlines and deadlines[0][0] <= now:
                self._expire(now)
            offers = self._offers
            offer = offers.pop(offer_id)
            self._assigned[offer.ticket.id] = offer
            while deadlines and deadlines[0][1] not in offers:
                deadlines.popleft()  # answered: its deadline no longer matters
            return offer.ticket

    def complete(self, ticket_id: str) -> Ticket:
        """The agent holding the ticket finished it: free its room, and offer
        it the best waiting tickets it qualifies for.  Return the ticket."""
        with self._lock:
            now = self._clock()
            deadlines = self._deadlines
            if deadlines and deadlines[0][0] <= now:
                self._expire(now)
            offer = self._assigned.pop(ticket_id)
            self._release(offer.worker, now)
            return offer.ticket

    # -- internals (the lock is held) ---------------------------------------------------

    def _place(self, entry: _Entry, now: float) -> MinimalOffer | None:
        ticket = entry[5]
        requirement = ticket.skills
        found = self._lanes.get(requirement)
        if found is None:
            found = self._new_lane(requirement)
        lane, teams = found
        if self._free:
            best: tuple[float, int, int, _Worker] | None = None
            best_heap: list[tuple[float, int, int, _Worker]] = []
            for team in teams:
                heap = team.free
                while heap:
                    head = heap[0]
                    worker = head[3]
                    if worker.listed and head[2] == worker.stamp:
                        if best is None or head < best:
                            best = head
                            best_heap = heap
                        break
                    heappop(heap)  # stale: the agent is full or its key moved on
            if best is not None:
                heappop(best_heap)
                worker = best[3]
                worker.listed = False
                return self._offer(entry, worker, now)
        heappush(lane, entry)
        self._waiting += 1
        return None

    def _offer(self, entry: _Entry, worker: _Worker, now: float) -> MinimalOffer:
        offer_id = self._offer_seq = self._offer_seq + 1
        timeout = self._timeout
        if timeout is None:
            offer = MinimalOffer(offer_id, entry, worker, float("inf"))
        else:
            offer = MinimalOffer(offer_id, entry, worker, now + timeout)
            self._deadlines.append((offer.expires_at, offer_id))
        self._offers[offer_id] = offer
        worker.inbox.append(offer)
        worker.idle_since = now
        worker.load += 1
        if worker.load < worker.capacity:  # still free, at its new place
            stamp = worker.stamp = worker.stamp + 1
            heappush(worker.team.free, (now, worker.joined, stamp, worker))
            worker.listed = True
        else:
            worker.listed = False
            self._free -= 1
        return offer

    def _fill(self, worker: _Worker, now: float) -> None:
        # Offer the agent the best waiting tickets it qualifies for while it has room.
        lanes = worker.team.lanes
        while worker.load < worker.capacity and self._waiting:
            best: list[_Entry] | None = None
            for lane in lanes:
                if lane and (best is None or lane[0] < best[0]):
                    best = lane
            if best is None:
                return
            self._waiting -= 1
            self._offer(heappop(best), worker, now)

    def _release(self, worker: _Worker, now: float) -> None:
        # A ticket or offer of the agent's ended: free its room, then pull.
        if worker.load == worker.capacity:
            self._free += 1
        worker.load -= 1
        if now > worker.idle_since:
            worker.idle_since = now
            worker.listed = False
        if self._waiting:
            self._fill(worker, now)
        if not worker.listed and worker.load < worker.capacity:
            stamp = worker.stamp = worker.stamp + 1  # _list, inline: once per lifecycle
            heappush(worker.team.free, (worker.idle_since, worker.joined, stamp, worker))
            worker.listed = True

    def _list(self, worker: _Worker) -> None:
        stamp = worker.stamp = worker.stamp + 1
        heappush(worker.team.free, (worker.idle_since, worker.joined, stamp, worker))
        worker.listed = True

    def _expire(self, now: float) -> None:
        deadlines = self._deadlines
        offers = self._offers
        lapsed = []
        while deadlines and deadlines[0][0] <= now:
            offer = offers.pop(deadlines.popleft()[1], None)
            if offer is not None:
                lapsed.append(offer)
        freed = []
        for offer in lapsed:
            worker = offer.worker
            if worker.load == worker.capacity:
                self._free += 1
            worker.load -= 1
            worker.idle_since = max(worker.idle_since, now)
            worker.listed = False
            if worker.load < worker.capacity:
                self._list(worker)
            freed.append(worker)
        for offer in lapsed:
            self._place(offer.entry, now)  # to a free qualified agent, or back to its lane
        for worker in freed:
            if self._waiting:
                self._fill(worker, now)

    def _new_lane(self, requirement: SkillSet) -> tuple[list[_Entry], list[_Team]]:
        lane: list[_Entry] = []
        teams = [team for team in self._teams.values() if requirement.satisfied_by(team.skills)]
        for team in teams:
            team.lanes.append(lane)
        found = self._lanes[requirement] = (lane, teams)
        return found

    def _join(self, agent: Agent, now: float) -> None:
        capacity = dict(agent.capacity)
        if set(capacity) != {ANY_CHANNEL}:
            raise ValueError(f"MinimalDesk has no channels: agent {agent.id!r} has capacity {capacity}")
        team = self._teams.get(agent.skills)
        if team is None:
            team = self._teams[agent.skills] = _Team(agent.skills)
            for requirement, (lane, teams) in self._lanes.items():
                if requirement.satisfied_by(agent.skills):
                    team.lanes.append(lane)
                    teams.append(team)
        worker = self._workers[agent.id] = _Worker(agent.id, capacity[ANY_CHANNEL], team, now, len(self._workers))
        if worker.capacity > 0:
            self._free += 1
            self._list(worker)

    def __repr__(self) -> str:
        return f"<MinimalDesk {len(self._workers)} agents, {self._waiting} waiting, {len(self._offers)} offers pending>"

    def picture(self) -> dict[str, tuple[str, str | None]]:
        """Ticket id -> ("waiting", None), ("offered", agent id) or
        ("assigned", agent id), for every ticket on the desk (for tests and
        comparisons; not for the hot path).  O(n + offers)."""
        with self._lock:
            found: dict[str, tuple[str, str | None]] = {}
            for lane, _ in self._lanes.values():
                for entry in lane:
                    found[entry[5].id] = ("waiting", None)
            for offer in self._offers.values():
                found[offer.ticket.id] = ("offered", offer.agent_id)
            for ticket_id, offer in self._assigned.items():
                found[ticket_id] = ("assigned", offer.agent_id)
            return found
