"""Contact centre under load: producer, agent and updater threads on one dispatcher.

Per configuration (P producers, A agents, U updaters) the same ``tickets``
tickets are pushed, pulled, reprioritised and completed, and each ticket is
checked to have been served exactly once.  Three desks are driven by the very
same thread code:

* ``library``: a :class:`~triage_queue.Dispatcher` (default policy,
  :class:`~triage_queue.LongestIdle`, 30 s offer timeout).  An agent thread
  asks with ``next_for`` and, when nothing is there, blocks in
  ``wait_for_ticket``; it then ``accept``-s the offer and ``complete``-s the
  ticket at once (no service time: the desk itself is what is measured).
  Updater threads escalate (``update`` severity or customer tier) and add
  follow-ups (``contacts + 1`` under ``d.lock``) on recently submitted tickets.
* ``priority_queue``: ``queue.PriorityQueue`` of ``(key, seq, ticket)``;
  ``get_nowait`` then ``get(timeout)``.  No skills (an agent takes whatever
  is first) and no reprioritisation, so it has no updater threads.
* ``pqdict_locked``: what a team would write by hand: a ``pqdict`` keyed by
  the policy's sort key behind one ``threading.Condition``; an agent scans in
  priority order for a ticket it qualifies for (popping and pushing back the
  others), and waits on the condition when there is none (``notify_all`` on
  every push, since any agent may be the one who qualifies).

Workload: tickets need one of 16 skill groups at level 1..3; about 1% are
emergencies (critical), 10% VIP (gold or platinum), the rest low, normal or
high; channels none/chat/email/phone.  With one agent it holds every group;
otherwise agent i holds the 8 groups of half ``i % 2`` at level 3..5, so the
skill check matters.  Capacity 1: an agent holds at most one ticket.

Figures (see ``DEFINITIONS``): operations/s = (pushes + pulls) per second of
wall time from the start signal to the last completion; tickets completed/s;
push and pull latency percentiles; a separate pass with the lock wrapped in
an :class:`InstrumentedRLock` measures lock wait and hold time (and the
wrapper's own overhead, as that pass's throughput against the plain one).
Then, with ``probe_waiting`` tickets already waiting, the pull latency of
single-thread cycles and of a threaded run.
"""

from __future__ import annotations

import gc
import itertools
import math
import queue as queue_module
import random
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from triage_queue import Agent, Dispatcher, Event, EventKind, Policy, Severity, Ticket, TicketQueue, UnknownTicket
from triage_queue._progress import Progress
from triage_queue.bench.anchors import first_fit
from triage_queue.bench.suite import pyplot

__all__ = [
    "DEFINITIONS",
    "NAME",
    "TITLE",
    "InstrumentedRLock",
    "EventTally",
    "GcWatch",
    "account",
    "dispatcher_checks",
    "make_agents",
    "make_tickets",
    "markdown",
    "params",
    "percentiles",
    "triple",
    "plots",
    "run",
]

NAME = "load"
TITLE = "Contact centre under load: P producers, A agents and U updaters on threads"

GROUPS = 16
CHANNELS: tuple[str | None, ...] = (None, "chat", "email", "phone")
CHANNEL_WEIGHTS = (0.40, 0.30, 0.25, 0.05)
# Quantiles kept for the CDF plots (the JSON stays small whatever the run size).
CDF_QUANTILES = tuple(i / 200 for i in range(1, 200)) + (0.999,)

DEFINITIONS = {
    "ops_per_s": "(pushes + pulls) / wall seconds; a pull ends with the agent holding an accepted ticket",
    "completed_per_s": "tickets completed / wall seconds (the library and pqdict also complete and update in that time)",
    "calls_per_s": "every desk call (submit, next_for/wait_for_ticket, accept, complete, update) / wall seconds",
    "wall": "from releasing every thread at once to the last completion (threads leaving afterwards are not counted)",
    "push_us": "duration of one submit / put call, microseconds",
    "pull_us": "from an agent asking for work to holding an accepted ticket, idle waiting for work included",
    "pull_call_us": "the same, for pulls that found work at once (no blocking): the cost of the calls themselves",
    "lock_wait_us": "time a thread waited to acquire the shared lock when it was taken by another thread",
    "lock_held_share": "share of wall time the lock was held (by anyone): the serial part of the work",
}

_VIP_TIERS = ("gold", "platinum")
_PLAIN = (Severity.LOW, Severity.NORMAL, Severity.NORMAL, Severity.HIGH)


# -- workload ---------------------------------------------------------------------


def _group(g: int) -> str:
    return f"group{g}"


def make_tickets(count: int, seed: int = 11, prefix: str = "T", now: float = 0.0) -> list[Ticket]:
    """``count`` tickets of the contact-centre mix, created just before ``now``.

    About 1% critical, 10% VIP (gold or platinum), one of 16 skill groups at
    level 1..3, channel none/chat/email/phone.  Same seed, same tickets.
    Runtime complexity: O(count).

    >>> tickets = make_tickets(1000, now=100.0)
    >>> len({t.id for t in tickets}), all(len(t.skills) == 1 for t in tickets)
    (1000, True)
    >>> 50 < sum(t.customer_tier in ("gold", "platinum") for t in tickets) < 150
    True
    """
    rnd = random.Random(seed)
    tickets = []
    for i in range(count):
        severity = Severity.CRITICAL if rnd.random() < 0.01 else rnd.choice(_PLAIN)
        tier = rnd.choice(_VIP_TIERS) if rnd.random() < 0.10 else None
        tickets.append(
            Ticket(
                f"{prefix}{i}",
                now - rnd.random(),
                severity=severity,
                customer_tier=tier,
                complexity=rnd.randint(1, 5),
                skills={_group(rnd.randrange(GROUPS)): rnd.randint(1, 3)},
                channel=rnd.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
            )
        )
    return tickets


def make_agents(count: int, seed: int = 5) -> list[Agent]:
    """``count`` agents of capacity 1: a lone agent holds all 16 groups;
    otherwise agent i holds the 8 groups of half ``i % 2``, at level 3..5.

    Runtime complexity: O(count).

    >>> [sorted(a.skills)[0] for a in make_agents(2)]
    ['group0', 'group10']
    >>> len(make_agents(1)[0].skills)
    16
    """
    rnd = random.Random(seed)
    agents = []
    for i in range(count):
        held = range(GROUPS) if count == 1 else range((i % 2) * 8, (i % 2) * 8 + 8)
        agents.append(Agent(f"A{i}", skills={_group(g): rnd.randint(3, 5) for g in held}, capacity=1))
    return agents


# -- figures ------------------------------------------------------------------------


def percentiles(values: Sequence[float], scale: float = 1e6) -> dict[str, float | None]:
    """p50, p99, p99.9, max and mean of ``values`` (seconds), times ``scale``
    (microseconds by default), nearest-rank; None for an empty sample.

    Runtime complexity: O(n log n).

    >>> percentiles([0.001 * i for i in range(1, 1001)], scale=1e3)["p99"]
    991.0
    >>> percentiles([])["p50"] is None
    True
    """
    if not values:
        return dict.fromkeys(("p50", "p99", "p99.9", "max", "mean"))
    ordered = sorted(values)
    n = len(ordered)

    def at(q: float) -> float:
        return round(ordered[min(n - 1, int(q * n))] * scale, 3)

    return {
        "p50": at(0.50),
        "p99": at(0.99),
        "p99.9": at(0.999),
        "max": round(ordered[-1] * scale, 3),
        "mean": round(sum(ordered) / n * scale, 3),
    }


def _quantiles(values: Sequence[float], scale: float = 1e6) -> list[float]:
    if not values:
        return []
    ordered = sorted(values)
    n = len(ordered)
    return [round(ordered[min(n - 1, int(q * n))] * scale, 3) for q in CDF_QUANTILES]


def account(
    submitted: Iterable[str], completed: Iterable[Iterable[str]], *, checks: dict[str, bool] | None = None
) -> dict[str, Any]:
    """Whether every submitted ticket was served exactly once.

    ``completed`` holds, per agent thread, the ids it completed.  ``lost``:
    submitted, never completed; ``duplicated``: completed more than once;
    ``unknown``: completed but never submitted.  ``checks`` are further
    named cross-checks (the dispatcher's own view), all of which must hold
    for ``ok``.  Runtime complexity: O(total ids).

    >>> account(["a", "b", "c"], [["a"], ["b", "c"]])
    {'submitted': 3, 'served_once': 3, 'lost': 0, 'duplicated': 0, 'unknown': 0, 'checks': {}, 'ok': True}
    >>> r = account(["a", "b", "c"], [["a", "b"], ["b"]]); (r["lost"], r["duplicated"], r["ok"])
    (1, 1, False)
    """
    wanted = set(submitted)
    times: dict[str, int] = {}
    for ids in completed:
        for ticket_id in ids:
            times[ticket_id] = times.get(ticket_id, 0) + 1
    served_once = sum(1 for ticket_id, n in times.items() if n == 1 and ticket_id in wanted)
    duplicated = sum(1 for n in times.values() if n > 1)
    lost = sum(1 for ticket_id in wanted if ticket_id not in times)
    unknown = sum(1 for ticket_id in times if ticket_id not in wanted)
    checks = dict(checks or {})
    ok = served_once == len(wanted) and not lost and not duplicated and not unknown and all(checks.values())
    return {
        "submitted": len(wanted),
        "served_once": served_once,
        "lost": lost,
        "duplicated": duplicated,
        "unknown": unknown,
        "checks": checks,
        "ok": ok,
    }


class GcWatch:
    """Counts the garbage collector's passes per generation, and their
    total and longest pause, while the ``with`` block runs.  Runtime
    complexity: O(1) per collection.

    >>> with GcWatch() as watch:
    ...     _ = gc.collect()
    >>> watch.figures()["2"]["collections"] >= 1
    True
    """

    def __init__(self) -> None:
        self._clock = time.perf_counter
        self._started = 0.0
        self.collections = [0, 0, 0]
        self.paused = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self._clock()
            return
        generation = int(info["generation"])
        pause = self._clock() - self._started
        self.collections[generation] += 1
        self.paused[generation] += pause
        self.longest[generation] = max(self.longest[generation], pause)

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def figures(self) -> dict[str, dict[str, float]]:
        """Per generation: collections, total and longest pause (ms).  Runtime complexity: O(1)."""
        return {
            str(g): {
                "collections": self.collections[g],
                "total_ms": round(self.paused[g] * 1e3, 3),
                "longest_ms": round(self.longest[g] * 1e3, 3),
            }
            for g in range(3)
        }


class InstrumentedRLock:
    """A re-entrant lock that counts contention: how often, and for how long,
    a thread waited for it, and how long it was held.

    It stands in for ``threading.RLock`` wherever one is expected, including
    under a ``threading.Condition`` (it forwards the private hooks a
    condition uses).  Its counters are only changed by the thread holding
    the lock, so they need no lock of their own.  Runtime complexity: O(1)
    per acquire or release, plus two clock reads when contended or when the
    outermost hold ends.

    >>> lock = InstrumentedRLock()
    >>> with lock:
    ...     with lock:
    ...         pass
    >>> lock.acquisitions, lock.contended, lock.depth
    (2, 0, 0)
    >>> condition = threading.Condition(lock)
    >>> with condition:                 # taking it back after the wait counts too
    ...     condition.wait(0.001)
    False
    >>> lock.depth, lock.acquisitions, len(lock.reacquire_waits)
    (0, 4, 1)
    """

    def __init__(self) -> None:
        self._inner = threading.RLock()
        self._clock = time.perf_counter
        self.acquisitions = 0
        self.contended = 0
        self.waits: list[float] = []  # seconds waited, one per contended acquisition
        self.reacquire_waits: list[float] = []  # seconds to get the lock back after a condition wait
        self.held = 0.0  # total seconds held, outermost holds only
        self.depth = 0
        self._since = 0.0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """As ``RLock.acquire``.  Runtime complexity: O(1)."""
        inner = self._inner
        if inner.acquire(False):
            waited = None
        elif not blocking:
            return False
        else:
            started = self._clock()
            if not inner.acquire(True, timeout):
                return False
            waited = self._clock() - started
        self.acquisitions += 1
        if waited is not None:
            self.contended += 1
            self.waits.append(waited)
        if self.depth == 0:
            self._since = self._clock()
        self.depth += 1
        return True

    def release(self) -> None:
        """As ``RLock.release``.  Runtime complexity: O(1)."""
        self.depth -= 1
        if self.depth == 0:
            self.held += self._clock() - self._since
        self._inner.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # The hooks threading.Condition uses to release a re-entrant lock fully
    # while it waits, and to take it back at the same depth.
    def _is_owned(self) -> bool:
        return self._inner._is_owned()  # type: ignore[attr-defined,no-any-return]

    def _release_save(self) -> Any:
        depth = self.depth
        self.held += self._clock() - self._since
        self.depth = 0
        return (self._inner._release_save(), depth)  # type: ignore[attr-defined]

    def _acquire_restore(self, saved: Any) -> None:
        state, depth = saved
        started = self._clock()
        self._inner._acquire_restore(state)  # type: ignore[attr-defined]
        self._since = now = self._clock()
        self.reacquire_waits.append(now - started)
        self.depth = depth
        self.acquisitions += 1

    def figures(self, wall: float) -> dict[str, Any]:
        """Contention figures over a run of ``wall`` seconds.  Runtime complexity: O(n log n)."""
        return {
            "acquisitions": self.acquisitions,
            "contended": self.contended,
            "contended_share": self.contended / self.acquisitions if self.acquisitions else 0.0,
            "lock_wait_us": percentiles(self.waits),
            "lock_wait_total_s": sum(self.waits),
            "reacquire_after_wakeup_us": percentiles(self.reacquire_waits),
            "lock_held_s": self.held,
            "lock_held_share": self.held / wall if wall > 0 else None,
        }


# -- the desks ----------------------------------------------------------------------


class _LibraryDesk:
    """The Dispatcher, as an agent thread drives it."""

    name = "library"
    updates = True

    def __init__(self, d: Dispatcher, tally: EventTally | None = None) -> None:
        self.d = d
        self.tally = tally
        if tally is not None:
            d.subscribe(tally)

    def submit(self, ticket: Ticket) -> None:
        self.d.submit(ticket)

    def try_pull(self, agent_id: str) -> Ticket | None:
        offer = self.d.next_for(agent_id)
        return None if offer is None else self.d.accept(offer)

    def wait_pull(self, agent_id: str, timeout: float) -> Ticket | None:
        offer = self.d.wait_for_ticket(agent_id, timeout)
        return None if offer is None else self.d.accept(offer)

    def complete(self, agent_id: str, ticket: Ticket) -> str:
        return self.d.complete(ticket.id, agent_id).id

    def update(self, ticket_id: str, choice: float, rnd: random.Random) -> str:
        d = self.d
        try:
            if choice < 0.4:
                d.update(ticket_id, severity=Severity.CRITICAL if rnd.random() < 0.05 else Severity.HIGH)
            elif choice < 0.6:
                d.update(ticket_id, customer_tier=rnd.choice(_VIP_TIERS))
            else:
                # A follow-up: read and bump as one atomic step.
                with d.lock:
                    ticket = d.queue.get(ticket_id)
                    if ticket is None:
                        return "not_waiting"
                    d.update(ticket_id, contacts=ticket.contacts + 1)
        except UnknownTicket:
            return "already_completed"
        return "applied"

    def cross_checks(self, submitted: list[str]) -> dict[str, bool]:
        return dispatcher_checks(self.d, submitted, self.tally)


class EventTally:
    """A dispatcher listener keeping the ticket id of every ``accepted`` and
    ``completed`` event, for the accounting (list appends are atomic, so
    listeners on several threads need no lock).  Runtime complexity: O(1)
    per event.

    >>> from triage_queue import Agent
    >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")]); tally = EventTally()
    >>> _ = d.subscribe(tally); _ = d.complete(d.accept(d.submit(Ticket("T-1", 0.0))).id)
    >>> tally.accepted, tally.completed
    (['T-1'], ['T-1'])
    """

    def __init__(self) -> None:
        self.accepted: list[str | None] = []
        self.completed: list[str | None] = []

    def __call__(self, event: Event) -> None:
        if event.kind is EventKind.ACCEPTED:
            self.accepted.append(event.ticket_id)
        elif event.kind is EventKind.COMPLETED:
            self.completed.append(event.ticket_id)


def dispatcher_checks(d: Dispatcher, submitted: list[str], tally: EventTally | None = None) -> dict[str, bool]:
    """The dispatcher's own view after a run in which every ticket of
    ``submitted`` should have been completed: nothing waiting, offered or
    assigned (``status`` of each raises :class:`UnknownTicket`); agents'
    served counts adding up; and with a ``tally`` subscribed for the run,
    exactly one ``accepted`` and one ``completed`` event per ticket.
    Runtime complexity: O(events + tickets + agents).

    >>> from triage_queue import Agent
    >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
    >>> _ = d.accept(d.submit(Ticket("T-1", 0.0))); _ = d.complete("T-1")
    >>> all(dispatcher_checks(d, ["T-1"]).values()), all(dispatcher_checks(d, ["T-1", "T-2"]).values())
    (True, False)
    """
    gone = 0
    for ticket_id in submitted:
        try:
            d.status(ticket_id)
        except UnknownTicket:
            gone += 1
    served = sum(figures.served for figures in d.stats().agents.values())
    checks = {
        "dispatcher_holds_nothing": len(d.queue) == 0 and gone == len(submitted),
        "stats_served_total": served == len(submitted),
    }
    if tally is not None:
        wanted = sorted(submitted)
        checks["events_accepted_once_each"] = sorted(tally.accepted, key=str) == wanted
        checks["events_completed_once_each"] = sorted(tally.completed, key=str) == wanted
    return checks


def _library_desk(agents: list[Agent], lock: InstrumentedRLock | None = None, tally: EventTally | None = None) -> _LibraryDesk:
    # The queue's lock is the one the roster and dispatcher share.
    q = TicketQueue(Policy.default(), clock=time.monotonic, lock=lock)
    return _LibraryDesk(Dispatcher(q, agents, affinity_wait=0), tally)


class _PriorityQueueDesk:
    """``queue.PriorityQueue``: no skills, no reprioritisation."""

    name = "priority_queue"
    updates = False

    def __init__(self) -> None:
        self.q: queue_module.PriorityQueue[tuple[tuple[int, int], int, Ticket]] = queue_module.PriorityQueue()
        self.seq = itertools.count()

    def submit(self, ticket: Ticket) -> None:
        # The key a user would write: emergencies, then VIPs, then arrival.
        key = (0 if ticket.severity is Severity.CRITICAL else 1, 0 if ticket.customer_tier else 1)
        self.q.put((key, next(self.seq), ticket))

    def try_pull(self, agent_id: str) -> Ticket | None:
        try:
            return self.q.get_nowait()[2]
        except queue_module.Empty:
            return None

    def wait_pull(self, agent_id: str, timeout: float) -> Ticket | None:
        try:
            return self.q.get(timeout=timeout)[2]
        except queue_module.Empty:
            return None

    def complete(self, agent_id: str, ticket: Ticket) -> str:
        return ticket.id

    def update(self, ticket_id: str, choice: float, rnd: random.Random) -> str:  # pragma: no cover - never called
        raise NotImplementedError

    def cross_checks(self, submitted: list[str]) -> dict[str, bool]:
        return {"queue_empty": self.q.empty()}


class _PqdictDesk:
    """A ``pqdict`` behind one condition, with a linear skill scan."""

    name = "pqdict_locked"
    updates = True

    def __init__(self, agents: list[Agent]) -> None:
        from pqdict import pqdict  # optional anchor: the bench extra

        self.policy = Policy.default()
        self.pq: Any = pqdict()
        self.tickets: dict[str, Ticket] = {}
        self.seq: dict[str, int] = {}
        self.counter = 0
        self.skills = {a.id: dict(a.skills) for a in agents}
        self.holding: dict[str, str] = {}
        self.condition = threading.Condition(threading.Lock())
        self.scanned = 0

    def submit(self, ticket: Ticket) -> None:
        with self.condition:
            self.counter += 1
            self.seq[ticket.id] = self.counter
            self.tickets[ticket.id] = ticket
            self.pq.additem(ticket.id, self.policy.sort_key(ticket, time.monotonic()) + (self.counter,))
            self.condition.notify_all()

    def _scan(self, agent_id: str) -> Ticket | None:
        found, looked_at = first_fit(self.pq, self.tickets, self.skills[agent_id])
        self.scanned += looked_at
        if found is not None:
            del self.tickets[found.id]
            del self.seq[found.id]
            self.holding[found.id] = agent_id
        return found

    def try_pull(self, agent_id: str) -> Ticket | None:
        with self.condition:
            return self._scan(agent_id)

    def wait_pull(self, agent_id: str, timeout: float) -> Ticket | None:
        with self.condition:
            found = self._scan(agent_id)
            if found is None:
                self.condition.wait(timeout)
                found = self._scan(agent_id)
            return found

    def complete(self, agent_id: str, ticket: Ticket) -> str:
        with self.condition:
            if self.holding.pop(ticket.id, None) != agent_id:
                raise AssertionError(f"{ticket.id} was not held by {agent_id}")
            return ticket.id

    def update(self, ticket_id: str, choice: float, rnd: random.Random) -> str:
        with self.condition:
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                return "not_waiting" if ticket_id in self.holding else "already_completed"
            if choice < 0.4:
                ticket = ticket.evolve(severity=Severity.CRITICAL if rnd.random() < 0.05 else Severity.HIGH)
            elif choice < 0.6:
                ticket = ticket.evolve(customer_tier=rnd.choice(_VIP_TIERS))
            else:
                ticket = ticket.evolve(contacts=ticket.contacts + 1)
            self.tickets[ticket_id] = ticket
            self.pq.updateitem(ticket_id, self.policy.sort_key(ticket, time.monotonic()) + (self.seq[ticket_id],))
            return "applied"

    def cross_checks(self, submitted: list[str]) -> dict[str, bool]:
        return {"nothing_waiting_or_held": not self.pq and not self.tickets and not self.holding}


Desk = _LibraryDesk | _PriorityQueueDesk | _PqdictDesk


def _have_pqdict() -> bool:
    try:
        import pqdict  # noqa: F401
    except ImportError:  # pragma: no cover - the bench extra is not installed
        return False
    return True


# -- the threaded driver ------------------------------------------------------------


@attrs.frozen
class _Shape:
    """One configuration: thread counts, the share of tickets updated, the seed."""

    producers: int
    agents: int
    updaters: int
    update_share: float
    seed: int


def _drive(desk: Desk, tickets: list[Ticket], shape: _Shape, stall_s: float = 5.0) -> dict[str, Any]:
    """Run one configuration on ``desk``; every figure and the accounting."""
    producers, agents, updaters = shape.producers, shape.agents, shape.updaters
    update_share, seed = shape.update_share, shape.seed
    clock = time.perf_counter
    total = len(tickets)
    done = itertools.count(1)
    finished = threading.Event()
    finished_at = [math.inf]
    barrier = threading.Barrier(producers + agents + updaters + 1)
    submitted_ids: list[str] = []  # appended by producers after each submit (atomic under the GIL)
    push_times: list[list[float]] = [[] for _ in range(producers)]
    pull_times: list[list[float]] = [[] for _ in range(agents)]
    pull_call_times: list[list[float]] = [[] for _ in range(agents)]
    completed: list[list[str]] = [[] for _ in range(agents)]
    last_done = [0.0] * agents
    outcomes: list[dict[str, int]] = [{} for _ in range(updaters)]
    errors: list[BaseException] = []

    def producer(index: int) -> None:
        mine = tickets[index::producers]
        times = push_times[index]
        submit = desk.submit
        barrier.wait()
        try:
            for ticket in mine:
                started = clock()
                submit(ticket)
                times.append(clock() - started)
                submitted_ids.append(ticket.id)
        except BaseException as exc:  # pragma: no cover - reported in the result
            errors.append(exc)
            finished.set()

    def agent(index: int) -> None:
        agent_id = f"A{index}"
        try_pull, wait_pull, complete = desk.try_pull, desk.wait_pull, desk.complete
        waits, calls, mine = pull_times[index], pull_call_times[index], completed[index]
        barrier.wait()
        try:
            while not finished.is_set():
                started = clock()
                ticket = try_pull(agent_id)
                blocked = ticket is None
                while ticket is None and not finished.is_set():
                    ticket = wait_pull(agent_id, 0.02)
                if ticket is None:
                    break
                held = clock() - started
                waits.append(held)
                if not blocked:
                    calls.append(held)
                mine.append(complete(agent_id, ticket))
                last_done[index] = clock()
                if next(done) == total:
                    finished_at[0] = clock()
                    finished.set()
        except BaseException as exc:  # pragma: no cover - reported in the result
            errors.append(exc)
            finished.set()

    def updater(index: int) -> None:
        rnd = random.Random(seed * 1000 + index)
        quota = int(total * update_share / updaters)
        counts = outcomes[index]
        update = desk.update
        barrier.wait()
        try:
            done_here = 0
            while done_here < quota and not finished.is_set():
                n = len(submitted_ids)
                # Paced with the producers: one update per 1/update_share submits.
                if n == 0 or (done_here + 1) * updaters > n * update_share:
                    if n >= total:
                        break
                    time.sleep(0.0005)
                    continue
                ticket_id = submitted_ids[n - 1 - rnd.randrange(min(n, 256))]
                outcome = update(ticket_id, rnd.random(), rnd)
                counts[outcome] = counts.get(outcome, 0) + 1
                done_here += 1
        except BaseException as exc:  # pragma: no cover - reported in the result
            errors.append(exc)
            finished.set()

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(producers)]
    threads += [threading.Thread(target=agent, args=(i,)) for i in range(agents)]
    threads += [threading.Thread(target=updater, args=(i,)) for i in range(updaters)]
    watch = GcWatch()
    for thread in threads:
        thread.start()
    barrier.wait()
    started = clock()
    watch.__enter__()
    # A desk that loses tickets would keep the agents waiting for ever: with
    # no completion for ``stall_s`` seconds the run ends and the accounting
    # reports what is missing.
    stalled = False
    seen = -1
    while not finished.wait(stall_s):
        now_done = sum(len(c) for c in completed)
        if now_done == seen:
            stalled = True
            finished.set()
            break
        seen = now_done
    watch.__exit__()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    ended = finished_at[0] if finished_at[0] < math.inf else max(last_done, default=clock())
    wall = max(ended - started, 1e-9)
    pushes = sum(len(t) for t in push_times)
    pulls = sum(len(t) for t in pull_times)
    update_counts: dict[str, int] = {}
    for counts in outcomes:
        for key, value in counts.items():
            update_counts[key] = update_counts.get(key, 0) + value
    updates_done = sum(update_counts.values())
    # submit; next_for, wait_for_ticket at least once when blocked, accept; complete; update.
    blocked_pulls = pulls - sum(len(t) for t in pull_call_times)
    calls = pushes + pulls * 3 + blocked_pulls + updates_done if desk.name != "priority_queue" else pushes + pulls + blocked_pulls
    all_push = [x for t in push_times for x in t]
    all_pull = [x for t in pull_times for x in t]
    all_call = [x for t in pull_call_times for x in t]
    submitted = [t.id for t in tickets]
    return {
        "wall_s": wall,
        "stalled": stalled,
        "pushes": pushes,
        "pulls": pulls,
        "pulls_without_waiting_share": len(all_call) / pulls if pulls else None,
        "ops_per_s": (pushes + pulls) / wall,
        "completed_per_s": sum(len(c) for c in completed) / wall,
        "calls_per_s": calls / wall,
        "updates": update_counts,
        "gc": watch.figures(),
        "push_us": percentiles(all_push),
        "pull_us": percentiles(all_pull),
        "pull_call_us": percentiles(all_call),
        "push_cdf_us": _quantiles(all_push),
        "pull_cdf_us": _quantiles(all_pull),
        "accounting": account(submitted, completed, checks=desk.cross_checks(submitted)),
    }


def _updaters_for(producers: int) -> int:
    return max(1, producers // 4)


def _run_library(tickets: list[Ticket], shape: _Shape, lock: InstrumentedRLock | None = None) -> dict[str, Any]:
    # The event tally adds a listener call per event: only in the
    # instrumented pass, which is not the headline figure anyway.
    desk = _library_desk(make_agents(shape.agents), lock, EventTally() if lock is not None else None)
    gc.collect()
    row = _drive(desk, tickets, shape)
    if lock is not None:
        row["lock"] = lock.figures(row["wall_s"])
    return row


def _measure_desk(desk: str, tickets: list[Ticket], shape: _Shape) -> dict[str, Any]:
    if desk == "library":
        return _run_library(tickets, shape)
    if desk == "priority_queue":
        # It cannot reprioritise: no updater threads.
        return _drive(_PriorityQueueDesk(), tickets, attrs.evolve(shape, updaters=0, update_share=0.0))
    return _drive(_PqdictDesk(make_agents(shape.agents)), tickets, shape)


# -- a large backlog --------------------------------------------------------------------


def _backlog_dispatcher(waiting: int, agent_count: int, seed: int) -> tuple[Dispatcher, dict[str, str]]:
    """A dispatcher with ``waiting`` tickets waiting and every agent holding one."""
    now = time.monotonic()
    q = TicketQueue(Policy.default(), clock=time.monotonic)
    for ticket in make_tickets(waiting + agent_count, seed=seed, prefix="B", now=now):
        q.push(ticket)  # before the dispatcher exists: no routing per push
    d = Dispatcher(q, make_agents(agent_count), affinity_wait=0, audit=1024)
    holding = {}
    for agent in d.roster:
        offer = d.next_for(agent.id)
        if offer is not None:
            holding[agent.id] = d.accept(offer).id
    return d, holding


def _probe_single(waiting: int, pulls: int, seed: int) -> dict[str, Any]:
    """Single thread at a constant backlog: an agent completes its ticket
    (the dispatcher routes it the best waiting one it qualifies for), takes
    it (next_for + accept), and a new ticket is submitted."""
    agent_count = 8
    d, holding = _backlog_dispatcher(waiting, agent_count, seed)
    fresh = make_tickets(pulls, seed=seed + 1, prefix="F", now=time.monotonic())
    order = [f"A{i % agent_count}" for i in range(pulls)]
    clock = time.perf_counter
    full: list[float] = []
    take: list[float] = []
    finish: list[float] = []
    push: list[float] = []
    complete, next_for, accept, submit = d.complete, d.next_for, d.accept, d.submit
    gc.collect()
    for agent_id, ticket in zip(order, fresh, strict=True):
        t0 = clock()
        complete(holding[agent_id], agent_id)
        t1 = clock()
        offer = next_for(agent_id)
        if offer is None:  # pragma: no cover - the backlog never runs dry
            raise AssertionError(f"{agent_id} found nothing in a backlog of {len(d.queue)}")
        holding[agent_id] = accept(offer).id
        t2 = clock()
        submit(ticket)
        t3 = clock()
        full.append(t2 - t0)
        finish.append(t1 - t0)
        take.append(t2 - t1)
        push.append(t3 - t2)
    return {
        "waiting": len(d.queue),
        "pulls": pulls,
        "pull_us": percentiles(full),
        "complete_us": percentiles(finish),
        "next_for_accept_us": percentiles(take),
        "push_us": percentiles(push),
    }


def _probe_threads(waiting: int, tickets: int, producers: int, agents: int, seed: int) -> dict[str, Any]:
    """Threads on top of a standing backlog: as the load run, but the agents
    always find ``waiting`` tickets ahead of the new ones."""
    d, holding = _backlog_dispatcher(waiting, agents, seed)
    desk = _LibraryDesk(d)
    for agent_id, ticket_id in holding.items():
        d.complete(ticket_id, agent_id)  # free: each is offered a waiting ticket at once
    # Agents stop after serving ``tickets`` pulls; the accounting of this
    # probe is over the whole backlog, so it is not reported.
    fresh = make_tickets(tickets, seed=seed + 2, prefix="G", now=time.monotonic())
    gc.collect()
    clock = time.perf_counter
    stop = threading.Event()
    left = itertools.count(1)
    pull_times: list[list[float]] = [[] for _ in range(agents)]
    push_times: list[list[float]] = [[] for _ in range(producers)]
    barrier = threading.Barrier(producers + agents)

    def producer(index: int) -> None:
        times = push_times[index]
        barrier.wait()
        for ticket in fresh[index::producers]:
            t0 = clock()
            d.submit(ticket)
            times.append(clock() - t0)

    def agent(index: int) -> None:
        agent_id = f"A{index}"
        times = pull_times[index]
        barrier.wait()
        while not stop.is_set():
            t0 = clock()
            ticket = desk.try_pull(agent_id)
            while ticket is None and not stop.is_set():
                ticket = desk.wait_pull(agent_id, 0.02)
            if ticket is None:
                break
            times.append(clock() - t0)
            d.complete(ticket.id, agent_id)
            if next(left) >= tickets:
                stop.set()

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(producers)]
    threads += [threading.Thread(target=agent, args=(i,)) for i in range(agents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "waiting_at_start": waiting,
        "waiting_at_end": len(d.queue),
        "producers": producers,
        "agents": agents,
        "pulls": sum(len(t) for t in pull_times),
        "pull_us": percentiles([x for t in pull_times for x in t]),
        "push_us": percentiles([x for t in push_times for x in t]),
    }


# -- the scenario -----------------------------------------------------------------------


def params(quick: bool) -> dict[str, Any]:
    """The sizes of a run: every (P, A) configuration, tickets per run, and
    the backlog probe.  Runtime complexity: O(1).

    >>> params(quick=True)["configs"]
    [[1, 1], [4, 4]]
    """
    if quick:
        return {
            "configs": [[1, 1], [4, 4]],
            "tickets": 1500,
            "update_share": 0.1,
            "instrumented": [[1, 1], [4, 4]],
            "gc_freeze": [4, 4],
            "probe_waiting": 5_000,
            "probe_pulls": 500,
            "probe_threads": [2, 2],
            "repeat_diagonal": 1,
            "profile_tickets": 1000,
            "seed": 20261123,
        }
    threads = (1, 4, 8, 16)
    return {
        "configs": [[p, a] for p in threads for a in threads],
        "tickets": 20_000,
        "update_share": 0.1,
        "instrumented": [[n, n] for n in threads],
        "gc_freeze": [8, 8],
        "probe_waiting": 100_000,
        "probe_pulls": 20_000,
        "probe_threads": [4, 4],
        "repeat_diagonal": 3,
        "profile_tickets": 5000,
        "seed": 20261123,
    }


def _key(p: int, a: int) -> str:
    return f"P{p}+A{a}"


def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Measure every configuration on the library and both baselines, the
    lock-instrumented passes, the gc.freeze() pass and the backlog probes.

    Runtime complexity: O(configs * tickets * per-operation cost).

    >>> small = dict(params(True), configs=[[1, 2]], tickets=60, instrumented=[[1, 2]], gc_freeze=None,
    ...              probe_waiting=200, probe_pulls=20, probe_threads=[1, 1])
    >>> result = run(small, Progress(enabled=False))
    >>> result["accounting"]["ok"], result["configs"]["P1+A2"]["library"]["accounting"]["served_once"]
    (True, 60)
    """
    seed = int(params["seed"])
    n = int(params["tickets"])
    share = float(params["update_share"])
    configs = [(int(p), int(a)) for p, a in params["configs"]]
    instrumented = {(int(p), int(a)) for p, a in params.get("instrumented") or []}
    freeze = params.get("gc_freeze")
    tickets = make_tickets(n, seed=seed, now=time.monotonic())
    have_pqdict = _have_pqdict()
    result: dict[str, Any] = {
        "params": dict(params),
        "workload": __doc__.split("\n\n", 1)[1].strip() if __doc__ else "",
        "definitions": DEFINITIONS,
        "gc": "enabled (default thresholds) in every pass but the gc.freeze() one",
        "switch_interval_s": _switch_interval(),
        "configs": {},
    }
    ledger: dict[str, Any] = {}
    repeat = max(1, int(params.get("repeat_diagonal", 1)))

    def runs(p: int, a: int) -> int:
        return repeat if p == a else 1

    steps = (
        sum(runs(p, a) for p, a in configs) * (3 if have_pqdict else 2)
        + len(instrumented & set(configs))
        + (1 if freeze else 0)
        + 3
    )
    with progress.task("load: threads on one dispatcher", total=steps) as task:
        for p, a in configs:
            u = _updaters_for(p)
            key = _key(p, a)
            row: dict[str, Any] = {"producers": p, "agents": a, "updaters": u, "tickets": n, "repeats": runs(p, a)}
            shape = _Shape(p, a, u, share, seed)
            desks = ["library", "priority_queue"]
            if have_pqdict:
                desks.append("pqdict_locked")
            else:
                row["pqdict_locked"] = None
            for desk in desks:
                tries = []
                for attempt in range(runs(p, a)):
                    gc.collect()
                    tries.append(_measure_desk(desk, tickets, shape))
                    ledger[f"{key} {desk}" + (f" #{attempt + 1}" if attempt else "")] = tries[-1]["accounting"]
                    task.advance()
                # The median run by throughput stands for the configuration.
                tries.sort(key=lambda r: r["ops_per_s"])
                row[desk] = tries[len(tries) // 2]
                row[desk]["ops_per_s_all_runs"] = [r["ops_per_s"] for r in tries]
            if (p, a) in instrumented:
                row["library_lock_instrumented"] = _run_library(tickets, shape, InstrumentedRLock())
                # A ratio, not a difference: two noisy runs can put the wrapped one ahead.
                row["instrumented_throughput_ratio"] = row["library_lock_instrumented"]["ops_per_s"] / row["library"]["ops_per_s"]
                ledger[f"{key} library_lock_instrumented"] = row["library_lock_instrumented"]["accounting"]
                task.advance()
            result["configs"][key] = row
            lib = row["library"]
            progress.note(
                f"  {key} U{u}: library {lib['ops_per_s']:,.0f} ops/s, PriorityQueue {row['priority_queue']['ops_per_s']:,.0f}"
                + (f", pqdict+lock {row['pqdict_locked']['ops_per_s']:,.0f}" if row["pqdict_locked"] else "")
                + f"; pull p99 {lib['pull_us']['p99']} us; served once: {lib['accounting']['ok']}"
            )
        if freeze:
            p, a = int(freeze[0]), int(freeze[1])
            gc.collect()
            gc.freeze()
            try:
                frozen = _run_library(tickets, _Shape(p, a, _updaters_for(p), share, seed))
            finally:
                gc.unfreeze()
            plain = result["configs"].get(_key(p, a), {}).get("library")
            result["gc_freeze"] = {
                "config": _key(p, a),
                "library": frozen,
                "ops_ratio_vs_plain": frozen["ops_per_s"] / plain["ops_per_s"] if plain else None,
            }
            ledger[f"{_key(p, a)} library gc.freeze"] = frozen["accounting"]
            task.advance()
        waiting = int(params["probe_waiting"])
        result["backlog_probe"] = {"single_thread": _probe_single(waiting, int(params["probe_pulls"]), seed)}
        task.advance()
        tp, ta = (int(x) for x in params["probe_threads"])
        result["backlog_probe"]["threads"] = _probe_threads(waiting, int(params["probe_pulls"]), tp, ta, seed)
        task.advance()
        result["profile"] = _profile(tickets[: int(params.get("profile_tickets", 2000))], seed)
        task.advance()
    result["targets"] = _targets(result)
    result["accounting"] = {"ok": all(entry["ok"] for entry in ledger.values()), "by_run": ledger}
    return result


def _profile(tickets: list[Ticket], seed: int) -> dict[str, Any]:
    """Where the time goes: the 1+1 run under cProfile (one thread at a time
    is profiled, so this is the agent's and producer's own cost, not waiting)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    desk = _library_desk(make_agents(1))
    clock = time.perf_counter
    started = clock()
    profiler.enable()
    for ticket in tickets:
        desk.submit(ticket)
        got = desk.try_pull("A0")
        if got is not None:
            desk.complete("A0", got)
    profiler.disable()
    wall = clock() - started
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values()) or 1.0
    top = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:15]
    calls = {
        name: entries.get(name)
        for name in entries
        if name[2] in ("submit", "next_for", "accept", "complete") and name[0].endswith(("dispatch.py", "dispatcher.py"))
    }
    return {
        "workload": (
            "one thread: submit a ticket, then next_for + accept + complete (the 1+1 cycle without threads), under cProfile"
        ),
        "tickets": len(tickets),
        "wall_s_profiled": wall,
        # Spread thin or one hot spot?  Function calls per ticket tells.
        "function_calls_per_ticket": round(stats.total_calls / max(1, len(tickets)), 1),  # type: ignore[attr-defined]
        "per_call_us_cumulative": {
            name[2]: round(entry[3] / max(1, entry[1]) * 1e6, 2) for name, entry in calls.items() if entry
        },
        "top_own_time": [
            {"function": f"{Path(name[0]).name}:{name[1]}({name[2]})", "calls": entry[1], "own_share": round(entry[2] / total, 4)}
            for name, entry in top
        ],
    }


def _switch_interval() -> float:
    import sys

    return sys.getswitchinterval()


def _targets(result: dict[str, Any]) -> dict[str, Any]:
    configs = result["configs"]
    targets: dict[str, Any] = {}
    base = configs.get(_key(1, 1))
    top = configs.get(_key(8, 8))
    if base and top:
        own = top["library"]["ops_per_s"] / base["library"]["ops_per_s"]
        vs_pq = top["library"]["ops_per_s"] / top["priority_queue"]["ops_per_s"]
        pq_scaling = top["priority_queue"]["ops_per_s"] / base["priority_queue"]["ops_per_s"]
        targets["8+8_vs_own_1+1"] = {"value": own, "target": 0.8, "met": own >= 0.8}
        targets["8+8_vs_priority_queue"] = {"value": vs_pq, "target": 2.0, "met": vs_pq >= 2.0}
        targets["priority_queue_8+8_vs_1+1"] = {"value": pq_scaling, "target": None, "met": None}
        if top.get("pqdict_locked"):
            vs_pqd = top["library"]["ops_per_s"] / top["pqdict_locked"]["ops_per_s"]
            targets["8+8_vs_pqdict_locked"] = {"value": vs_pqd, "target": None, "met": None}
    probe = result.get("backlog_probe", {})
    single = probe.get("single_thread")
    if single:
        p99_ms = single["pull_us"]["p99"] / 1000
        targets["pull_p99_ms_at_backlog_single_thread"] = {
            "value": p99_ms,
            "target": 1.0,
            "met": p99_ms < 1.0,
            "waiting": single["waiting"],
        }
    threaded = probe.get("threads")
    if threaded and threaded["pull_us"]["p99"] is not None:
        p99_ms = threaded["pull_us"]["p99"] / 1000
        targets["pull_p99_ms_at_backlog_threads"] = {
            "value": p99_ms,
            "target": 1.0,
            "met": p99_ms < 1.0,
            "waiting": threaded["waiting_at_start"],
        }
    return targets


# -- reporting --------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float | None) -> str:
    return "n/a" if not denominator else f"{numerator / denominator:.2f}x"


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.0%}"


def triple(figures: dict[str, float | None], digits: int = 1) -> str:
    """``"p50 / p99 / p99.9"`` of a :func:`percentiles` result.  Runtime complexity: O(1).

    >>> triple({"p50": 1.0, "p99": 20.25, "p99.9": None})
    '1.0 / 20.2 / n/a'
    """
    return " / ".join(_fmt(figures[name], digits) for name in ("p50", "p99", "p99.9"))


def _fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def markdown(result: dict[str, Any]) -> list[str]:
    """The summary tables: throughput and latency per configuration, lock
    contention, the backlog probe, and every target met or not.

    Runtime complexity: O(configs).

    >>> lines = markdown({"configs": {}, "targets": {}, "accounting": {"ok": True, "by_run": {}}})
    >>> lines[0]
    '### Contact centre under load (threads)'
    """
    lines = [
        "### Contact centre under load (threads)",
        "",
        "ops/s = (pushes + pulls) per second; a pull ends with the agent holding an accepted ticket.  "
        "Latencies in microseconds; pull includes waiting for work, pull call only pulls that found work at once.",
        "",
        "| P+A (U) | library ops/s | done/s | PriorityQueue ops/s | pqdict+lock ops/s | vs PQ | vs pqdict"
        " | push p50/p99/p99.9 | pull p50/p99/p99.9 | pull call p50/p99 | served once |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, row in result["configs"].items():
        lib, pq, pqd = row["library"], row["priority_queue"], row.get("pqdict_locked")
        push, pull, call = lib["push_us"], lib["pull_us"], lib["pull_call_us"]
        lines.append(
            f"| {key} ({row['updaters']}) | {lib['ops_per_s']:,.0f} | {lib['completed_per_s']:,.0f} | {pq['ops_per_s']:,.0f}"
            f" | {_fmt(pqd['ops_per_s'] if pqd else None)} | {lib['ops_per_s'] / pq['ops_per_s']:.2f}x"
            f" | {_ratio(lib['ops_per_s'], pqd['ops_per_s'] if pqd else None)}"
            f" | {triple(push)} | {triple(pull)}"
            f" | {_fmt(call['p50'], 1)} / {_fmt(call['p99'], 1)} | {'yes' if lib['accounting']['ok'] else 'NO'} |"
        )
    locked = [(key, row) for key, row in result["configs"].items() if "library_lock_instrumented" in row]
    if locked:
        lines += [
            "",
            "Lock contention (a separate pass with the shared RLock wrapped; last column: its throughput over the plain pass's):",
            "",
            "| P+A | acquisitions | contended | wait p50/p99/p99.9 us | total wait s | lock held share | wrapped / plain |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, row in locked:
            lock = row["library_lock_instrumented"]["lock"]
            wait = lock["lock_wait_us"]
            lines.append(
                f"| {key} | {lock['acquisitions']:,} | {lock['contended_share']:.1%} | {triple(wait)}"
                f" | {lock['lock_wait_total_s']:.2f} | {_percent(lock['lock_held_share'])}"
                f" | {row['instrumented_throughput_ratio']:.2f}x |"
            )
    frozen = result.get("gc_freeze")
    if frozen:
        lib = frozen["library"]
        lines += [
            "",
            f"gc.freeze() before the {frozen['config']} run: {lib['ops_per_s']:,.0f} ops/s"
            f" ({_fmt(frozen['ops_ratio_vs_plain'], 2)}x the run with gc as usual), pull p99 {lib['pull_us']['p99']} us.",
        ]
        plain = result["configs"].get(frozen["config"], {}).get("library")
        if plain and "gc" in plain:
            usual, after = plain["gc"]["2"], lib["gc"]["2"]
            lines[-1] += (
                f"  Generation-2 collections during the run: {usual['collections']} (longest {usual['longest_ms']:,.1f} ms)"
                f" as usual, {after['collections']} (longest {after['longest_ms']:,.1f} ms) after gc.freeze()."
            )
    probe = result.get("backlog_probe")
    if probe:
        single, threaded = probe["single_thread"], probe["threads"]
        lines += [
            "",
            f"With {single['waiting']:,} tickets waiting, single thread (complete -> next_for -> accept, then submit):"
            f" pull p50/p99/p99.9 {triple(single['pull_us'])} us"
            f" (next_for + accept alone p99 {single['next_for_accept_us']['p99']} us; submit p99 {single['push_us']['p99']} us).",
            f"With {threaded['waiting_at_start']:,} waiting, {threaded['producers']}+{threaded['agents']} threads:"
            f" pull p50/p99/p99.9 {triple(threaded['pull_us'])} us,"
            f" push p99 {threaded['push_us']['p99']} us.",
        ]
    profile = result.get("profile")
    if profile:
        per_call = ", ".join(f"{name} {us} us" for name, us in profile["per_call_us_cumulative"].items())
        lines += [
            "",
            f"Where the time goes (one thread under cProfile, {profile['tickets']:,} tickets,"
            f" {profile['function_calls_per_ticket']:,} Python function calls per ticket):"
            f" {per_call} (cumulative, profiler overhead included); largest own time:",
            "",
        ]
        lines += [
            f"- {entry['function']}: {entry['own_share']:.1%} ({entry['calls']:,} calls)" for entry in profile["top_own_time"][:8]
        ]
    if result.get("targets"):
        lines += ["", "| target | value | goal | met |", "|---|---|---|---|"]
        for name, target in result["targets"].items():
            goal = "" if target["target"] is None else (f"< {target['target']}" if "ms" in name else f">= {target['target']}x")
            met = "" if target["met"] is None else ("yes" if target["met"] else "**no**")
            lines.append(f"| {name} | {target['value']:.3f} | {goal} | {met} |")
    accounting = result["accounting"]
    bad = [name for name, entry in accounting["by_run"].items() if not entry["ok"]]
    lines += [
        "",
        f"Accounting: every ticket served exactly once in all {len(accounting['by_run'])} runs."
        if accounting["ok"]
        else f"Accounting FAILED in: {', '.join(bad)}.",
    ]
    return lines


def plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Throughput vs threads (P = A) with both baselines, and push and pull
    latency CDFs per configuration, as PNG files in ``out_dir``.  Return the
    paths; ``[]`` without matplotlib.  Runtime complexity: O(configs).

    >>> import tempfile
    >>> plots({"configs": {}}, Path(tempfile.mkdtemp()))
    []
    """
    plt = pyplot()
    if plt is None:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    diagonal = [(row["producers"], row) for row in result["configs"].values() if row["producers"] == row["agents"]]
    if diagonal:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        threads = [n for n, _ in diagonal]
        series = [
            ("library", "triage_queue Dispatcher", "o-"),
            ("priority_queue", "queue.PriorityQueue (no skills)", "s--"),
            ("pqdict_locked", "pqdict + lock, skill scan", "^:"),
        ]
        for desk, label, style in series:
            values = [row[desk]["ops_per_s"] if row.get(desk) else math.nan for _, row in diagonal]
            ax.plot(threads, values, style, label=label)
        ax.plot(
            threads,
            [row["library"]["completed_per_s"] for _, row in diagonal],
            "o-",
            alpha=0.4,
            label="library: tickets completed/s",
        )
        ax.set_xscale("log", base=2)
        ax.set_xticks(threads, [f"{n}+{n}" for n in threads])
        ax.set_xlabel("producer + agent threads")
        ax.set_yscale("log")  # the baselines are an order of magnitude apart
        ax.set_ylabel("operations/s (pushes + pulls), log scale")
        ax.set_title("Throughput under load")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        path = out_dir / "load_throughput.png"
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    if result["configs"]:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
        quantiles = [q * 100 for q in CDF_QUANTILES]
        for ax, what, title in (
            (axes[0], "push_cdf_us", "push (submit)"),
            (axes[1], "pull_cdf_us", "pull (ask -> holding an accepted ticket)"),
        ):
            for key, row in result["configs"].items():
                values = row["library"][what]
                if values:
                    ax.plot(values, quantiles, label=key)
            ax.set_xscale("log")
            ax.set_xlabel("microseconds")
            ax.set_title(f"library {title}")
            ax.grid(True, alpha=0.3, which="both")
        axes[0].set_ylabel("percentile")
        axes[1].legend(fontsize=7, ncol=2)
        path = out_dir / "load_latency_cdf.png"
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written
