"""The Dispatcher facade: each public operation checks its arguments, takes the lock, asks the
:class:`~triage_queue.dispatch.desk.Desk` (which brings the desk up to the clock and combines the parts), and delivers the
events to listeners outside the lock."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from triage_queue.agents import Agent, AgentStatus, Roster
from triage_queue.dispatch.audit import MAX_AUDIT, log_listener_error, logger
from triage_queue.dispatch.checks import check_key
from triage_queue.dispatch.desk import Desk
from triage_queue.dispatch.finished import DEFAULT_FINISHED_MEMORY, TicketLookups
from triage_queue.dispatch.overflow import OverflowRule
from triage_queue.dispatch.snapshot import read_snapshot
from triage_queue.dispatch.strain import StrainGuard
from triage_queue.dispatch.values import AgentVerdict, AssignmentExplanation, Listener, Offer, OfferStatus
from triage_queue.dispatch.waiting import WaitRoom
from triage_queue.errors import InvalidArgument
from triage_queue.events import Event
from triage_queue.policy import Policy
from triage_queue.queue import TicketQueue
from triage_queue.selection import Selection
from triage_queue.stats import Statistics
from triage_queue.ticket import Ticket

__all__ = ["MAX_AUDIT", "AgentVerdict", "AssignmentExplanation", "Dispatcher", "Offer", "OfferStatus", "log_listener_error"]

_T = TypeVar("_T")


class Dispatcher(TicketLookups):
    """Offers tickets from a queue to agents on a roster.

    ``agents`` is a :class:`Roster` or an iterable of :class:`Agent`; ``clock`` defaults to the queue's (pass it only to build
    a new queue).  ``selection`` picks among free qualified agents.  ``offer_timeout``: seconds an agent has to answer (None:
    no limit).  ``mark_not_responding``: set an agent who lets an offer expire to NOT_RESPONDING.  ``affinity_wait``: seconds
    a returning customer's ticket waits for the agent who last served them, and a VIP's for their dedicated agent (0: only if
    that agent is free at once).  ``retry_after``: seconds before a ticket an agent declined or let expire may be offered to
    that agent again (None: not while it waits).  ``sla_warning``: seconds before an SLA runs out to emit an ``sla_warning``
    event (None: none).  ``classify``: a ticket's class for statistics (default: severity name).  ``stats``: keep the
    statistics :meth:`stats` reports (the default); with False nothing is counted (a ticket's lifecycle costs less),
    ``classify`` is never called, :meth:`stats` raises :class:`InvalidArgument`, and a snapshot records empty statistics (and
    the setting, which a restore keeps).  Per-agent counters (offered, declined, expired, served) are the roster's and are
    kept either way.  ``audit``: how many recent events :attr:`events` keeps.  ``refuse_unroutable``: refuse (with
    :class:`Unroutable`) a new ticket that no agent on the roster could ever take; by default it waits, with an ``unroutable``
    event and a warning.  ``advance_on_read``: whether reads (:meth:`status`, :meth:`offers_for`, :meth:`stats`,
    :meth:`explain_assignment`) first apply what fell due, showing the desk as of now (the default); with False they report
    the desk as of the last operation and change nothing, so that replicas that read at different moments stay identical
    (time-driven changes then happen only through operations and :meth:`tick`; see :meth:`next_due`).  ``name``: the desk's
    name; offer ids are ``f"{name}-{number}"``.  ``on_listener_error``: called as ``on_listener_error(event, error)`` when a
    listener raises (default :func:`log_listener_error`, which logs it); a listener's error never reaches the caller of an
    operation, whose result or error is always its own.  ``analytics`` (an :class:`AnalyticsOptions`) and ``finished_memory``
    (finished tickets remembered, so a call on one raises :class:`AlreadyFinished`): see ``docs/analytics.md``.  ``overflow``:
    an :class:`OverflowRule` or a sequence of them (one per skill): a surging skill group's tickets may also go to backup
    agents (needs ``stats=True``; see ``docs/overflow.md``).  ``strain``: a :class:`StrainGuard`: an agent under strain gets no
    new offers for a cooldown (see ``docs/strain.md``).  Both are saved in a snapshot and restored with it.

    Time-driven changes (offer expiry, holds ending, skills relaxing, SLA events) happen at the start of every operation; call
    :meth:`tick` from a timer to make them happen on time when nothing else is going on.  Runtime complexity: see each method;
    n waiting tickets, A agents, G agent profiles (distinct skills and capacity keys), Q queue lanes an agent qualifies for.
    """

    def __init__(
        self, queue: TicketQueue | None = None, agents: Roster | Iterable[Agent] = (), *,
        clock: Callable[[], float] | None = None, selection: Selection | None = None,
        offer_timeout: float | None = 30.0, mark_not_responding: bool = False, affinity_wait: float = 60.0,
        retry_after: float | None = 300.0, sla_warning: float | None = None, classify: Callable[[Ticket], str] | None = None,
        audit: int = 10_000, refuse_unroutable: bool = False, on_listener_error: Callable[[Event, Exception], None] | None = None,
        advance_on_read: bool = True, name: str = "offer", stats: bool = True, analytics: Any = None,
        finished_memory: int = DEFAULT_FINISHED_MEMORY, overflow: OverflowRule | Iterable[OverflowRule] | None = None,
        strain: StrainGuard | None = None,
    ) -> None:  # fmt: skip
        """Runtime complexity: O(A log A + n)."""
        self._desk = desk = Desk(  # checks the settings, in this order
            queue, clock, selection, offer_timeout=offer_timeout, mark_not_responding=mark_not_responding, name=name, stats=stats,
            affinity_wait=affinity_wait, retry_after=retry_after, sla_warning=sla_warning, classify=classify, audit=audit,
            refuse_unroutable=refuse_unroutable, on_listener_error=on_listener_error, advance_on_read=advance_on_read,
            analytics=analytics, finished_memory=finished_memory, overflow=overflow, strain=strain,
        )  # fmt: skip
        roster, rseam = desk.adopt(agents)
        self._queue, self._lock, self._selection = desk.queue, desk.lock, desk.selection
        self._trail, self._waiters = desk.trail, desk.waiters  # what _run needs, bound once
        with self._lock:
            desk.attach(roster, rseam)
        desk.flush()

    @property
    def queue(self) -> TicketQueue:
        """The ticket queue.  Runtime complexity: O(1)."""
        return self._queue

    @property
    def roster(self) -> Roster:
        """The roster of agents.  Runtime complexity: O(1)."""
        return self._desk.roster

    @property
    def selection(self) -> Selection:
        """The selection strategy.  Runtime complexity: O(1)."""
        return self._selection

    @property
    def lock(self) -> threading.RLock:
        """The one lock shared with the queue and roster.  Runtime complexity: O(1)."""
        return self._lock

    @property
    def events(self) -> list[Event]:
        """The most recent events (the audit trail), oldest first.  Runtime complexity: O(audit size).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", status="away")]); d.submit(Ticket("T-1", 0.0))
        >>> [str(e) for e in d.events]
        ["[0] #1 agent_changed: agent 'ana': joined, away", "[0] #2 submitted: ticket 'T-1'"]
        """
        with self._lock:
            return self._trail.events()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event from now on; return a function that unsubscribes it.  Listeners run after
        the operation that caused the event, outside the lock, on a thread calling the dispatcher (usually that operation's).
        An exception in a listener goes to ``on_listener_error`` (by default, logged), never to the caller: the operation's
        own result or error is what it returns.  Runtime complexity: O(1) (unsubscribing O(listeners)).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", status="away")]); seen = []
        >>> stop = d.subscribe(seen.append); d.submit(Ticket("T-1", 0.0)); stop()
        >>> [e.kind.value for e in seen]
        ['submitted']
        """
        if not callable(listener):
            raise InvalidArgument("listener", listener, "expected a callable taking an Event")
        return self._trail.subscribe(listener, self._lock)

    def submit(self, ticket: Ticket) -> Offer | None:
        """Queue a ticket and offer it at once if a free agent qualifies; return that offer, or None if the ticket waits.  A
        returning customer's ticket (``customer_id`` served before) is offered to that agent, and a dedicated customer's to
        their agent, if free; if not, it is held for them for ``affinity_wait`` seconds.  Raises as :meth:`TicketQueue.push`
        does.  Runtime complexity: O(R + log n + G log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", skills=["billing"])])
        >>> d.submit(Ticket("T-1", 0.0, skills=["billing"])).agent_id, d.submit(Ticket("T-2", 0.0))
        ('ana', None)
        """
        return self._run(self._desk.submit, ticket)

    def update(self, ticket_id: str, **changes: Any) -> Ticket:
        """Change a ticket wherever it is (waiting, offered or assigned) and return the new value; a waiting ticket moves to
        its new place and is offered if a free agent now qualifies.  Raises :class:`UnknownTicket` or as
        :meth:`TicketQueue.update`.  Runtime complexity: O(R + log n + G log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0))
        >>> d.submit(Ticket("T-1", 0.0)); d.update("T-1", severity="critical").severity.name
        'CRITICAL'
        """
        return self._run(self._desk.update, check_key("ticket_id", ticket_id), changes)

    def cancel(self, ticket_id: str) -> Ticket:
        """Withdraw a ticket wherever it is (waiting, offered or assigned); an agent holding it gets its capacity back.
        Return the ticket.  Raises :class:`UnknownTicket`.  Runtime complexity: O(log n + G log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0))
        >>> d.submit(Ticket("T-1", 0.0)); d.cancel("T-1").id, len(d.queue)
        ('T-1', 0)
        """
        return self._run(self._desk.cancel, check_key("ticket_id", ticket_id))

    def assigned(self, agent_id: str) -> list[Ticket]:
        """The tickets an agent has accepted and not yet finished.  Raises :class:`UnknownAgent`.  Runtime complexity: O(T)
        for T tickets out of the queue.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> _ = d.accept(d.submit(Ticket("T-1", 0.0))); [t.id for t in d.assigned("ana")]
        ['T-1']
        """
        check_key("agent_id", agent_id)
        with self._lock:
            return self._desk.assigned(agent_id)

    def next_for(self, agent_id: str) -> Offer | None:
        """The agent's next offer: one made to it and not yet handed out, or else the best waiting ticket it qualifies for and
        has room for, now offered to it.  None if there is nothing for it.  Raises :class:`UnknownAgent`.  Runtime complexity:
        O(1) for an offer already made; else O(Q + log n).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> d.submit(Ticket("T-1", 0.0)).id == d.next_for("ana").id, d.next_for("ana")
        (True, None)
        """
        check_key("agent_id", agent_id)
        try:
            offer = None
            with self._lock:
                self._desk.advance()
                offer = self._desk.deliver(agent_id)
        finally:
            self._desk.flush_keeping(agent_id, offer)
        return offer

    def offers_for(self, agent_id: str) -> list[Offer]:
        """Every pending offer to an agent, oldest first.  Raises :class:`UnknownAgent`.  Runtime complexity: O(pending
        offers).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", capacity=2)])
        >>> _ = d.submit(Ticket("T-1", 0.0)), d.submit(Ticket("T-2", 1.0))
        >>> [o.ticket.id for o in d.offers_for("ana")]
        ['T-1', 'T-2']
        """
        return self._run(self._desk.offers_for, check_key("agent_id", agent_id))

    def accept(self, offer: Offer | str) -> Ticket:
        """Accept a pending offer: the ticket is assigned to the agent.  Return the ticket (its latest value).  Raises
        :class:`UnknownOffer`, or :class:`OfferClosed` if it was already accepted, declined, revoked or has expired (an offer
        past its time expires before the answer is considered).  Runtime complexity: O(log n) amortised.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> offer = d.submit(Ticket("T-1", 0.0)); d.accept(offer).id
        'T-1'
        >>> d.accept(offer)
        Traceback (most recent call last):
        ...
        triage_queue.errors.OfferClosed: offer 'offer-1' is accepted; only a pending offer can be answered
        """
        return self._run(self._desk.accept, offer)

    def decline(self, offer: Offer | str, reason: str = "") -> None:
        """Decline a pending offer: the ticket goes back to its original place in the queue and is offered to another
        qualified agent (never again to this one while it waits); the agent may get other work.  Raises as :meth:`accept`.
        Runtime complexity: O(R + log n + G log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana"), Agent("bo")])
        >>> offer = d.submit(Ticket("T-1", 0.0)); offer.agent_id
        'ana'
        >>> d.decline(offer, "on a call"); d.offers_for("bo")[0].ticket.id
        'T-1'
        """
        self._run(self._desk.decline, offer, reason)

    def complete(self, ticket_id: str, agent_id: str | None = None) -> Ticket:
        """The agent finished the ticket: free its capacity and return the ticket.  With ``agent_id``, check that this agent
        holds it.  Raises :class:`NotAssigned` if the ticket is not assigned (or only offered, or assigned to another agent),
        :class:`AlreadyFinished` if it was completed or cancelled (a retry), :class:`UnknownTicket` if it is not known at all.
        Runtime complexity: O(Q + log n + log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> _ = d.accept(d.submit(Ticket("T-1", 0.0))); d.submit(Ticket("T-2", 0.0))
        >>> d.complete("T-1").id, d.offers_for("ana")[0].ticket.id     # ana is offered T-2 at once
        ('T-1', 'T-2')
        """
        check_key("ticket_id", ticket_id)
        return self._run(self._desk.complete, ticket_id, agent_id if agent_id is None else check_key("agent_id", agent_id))

    def transfer(self, ticket_id: str, agent_id: str | None = None, **changes: Any) -> Ticket:
        """Send an assigned ticket back to the queue, at its original place, with ``changes`` (typically ``skills=`` for the
        team it needs); another agent gets it.  Return the new ticket.  Raises as :meth:`complete`, or :class:`InvalidTicket`
        for a bad change (then nothing changes).  Runtime complexity: O(R + log n + G log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana"), Agent("bo", skills=["api"])])
        >>> _ = d.accept(d.submit(Ticket("T-1", 0.0)))
        >>> d.transfer("T-1", skills=["api"]).skills["api"], d.offers_for("bo")[0].ticket.id
        (1, 'T-1')
        """
        check_key("ticket_id", ticket_id)
        if agent_id is not None:
            check_key("agent_id", agent_id)
        return self._run(self._desk.transfer, ticket_id, agent_id, changes)

    def add_agent(self, agent: Agent) -> None:
        """Add an agent to the roster; if available, it gets work at once.  Raises as :meth:`Roster.add`.  Runtime complexity:
        O(G + C log A + Q + log n).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0)); d.submit(Ticket("T-1", 0.0))
        >>> d.add_agent(Agent("ana")); d.status("T-1")
        'offered'
        """
        self._run(self._desk.advanced, self.roster.add, agent)

    def remove_agent(self, agent_id: str) -> Agent:
        """Take an agent off the roster; its pending offers go back to the queue first.  Raises :class:`UnknownAgent`, or
        :class:`AgentBusy` if it has assigned tickets.  Runtime complexity: O(C log A + pending).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> _ = d.submit(Ticket("T-1", 0.0)); d.remove_agent("ana").id, d.status("T-1")
        ('ana', 'waiting')
        """
        return self._run(self._desk.remove_agent, check_key("agent_id", agent_id))

    def set_status(self, agent_id: str, status: AgentStatus | str) -> Agent:
        """Set an agent's status.  Leaving AVAILABLE takes back its pending offers (assigned tickets stay); becoming AVAILABLE
        gets it work.  Raises :class:`UnknownAgent` or :class:`InvalidAgent`.  Runtime complexity: O(C log A + Q + log n) plus
        O(pending offers).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", status="away")])
        >>> d.submit(Ticket("T-1", 0.0)); _ = d.set_status("ana", "available"); d.status("T-1")
        'offered'
        """
        agent: Agent = self._run(self._desk.advanced, self.roster.set_status, check_key("agent_id", agent_id), status)
        return agent

    def update_agent(self, agent_id: str, **changes: Any) -> Agent:
        """Change an agent's fields (skills, capacity, status, dedicated customers...); the dispatcher re-indexes it and
        reacts.  Raises :class:`UnknownAgent` or :class:`InvalidAgent`.  Runtime complexity: O(G + C log A + Q + log n).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> d.submit(Ticket("T-1", 0.0, skills=["api"])); _ = d.update_agent("ana", skills=["api"]); d.status("T-1")
        'offered'
        """
        check_key("agent_id", agent_id)
        agent: Agent = self._run(self._desk.advanced, lambda: self.roster.update(agent_id, **changes))
        return agent

    def tick(self) -> None:
        """Apply everything due by now: expire offers, end holds, relax skills, emit SLA events.  Call it from a timer.
        Runtime complexity: O((k + 1) log n) for k things due.

        >>> from triage_queue import ManualClock
        >>> clock = ManualClock(); d = Dispatcher(TicketQueue(clock=clock), [Agent("ana")], offer_timeout=30)
        >>> _ = d.submit(Ticket("T-1", 0.0)); clock.advance(30); d.tick(); d.status("T-1")
        30.0
        'waiting'
        """
        self._run(self._desk.advance)

    def next_due(self) -> float | None:
        """The clock instant at which the next time-driven change falls due (an offer expiring, a hold ending, skills
        relaxing, a pass lapsing, an SLA warning or breach, an agent's strain limit or the end of its cooldown), or None if
        nothing is scheduled: call :meth:`tick` once the clock reaches it.  The instant may turn out to change nothing (an
        offer answered since, say): such a tick is harmless.  Reads no clock and changes nothing.  Runtime complexity: O(1).

        >>> from triage_queue import ManualClock
        >>> d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana")], offer_timeout=30)
        >>> d.next_due(), d.submit(Ticket("T-1", 0.0)).expires_at, d.next_due()
        (None, 30.0, 30.0)
        """
        with self._lock:
            return self._desk.next_instant()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hold back every offer while the block runs (a shift starting: agents logging in, a backlog imported); when it ends,
        :meth:`assign_all` assigns the backlog to the free capacity at once.  Runtime complexity: O(1) on entry;
        :meth:`assign_all` on exit.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", status="away")])
        >>> with d.paused():
        ...     d.submit(Ticket("T-1", 0.0))
        ...     _ = d.set_status("ana", "available")
        ...     d.status("T-1")
        'waiting'
        >>> d.status("T-1")
        'offered'
        """
        with self._lock:
            self._desk.paused += 1
        try:
            yield
        except BaseException:
            # The block's error is what the caller sees; the backlog's assignment is still tried, a failure only logged.
            try:
                self._run(self._desk.resume)
            except Exception:
                logger.exception("assigning the backlog after paused() failed while the block raised")
            raise
        else:
            self._run(self._desk.resume)

    def assign_all(self) -> list[Offer]:
        """Offer waiting tickets to all free capacity at once, and return the offers.

        The set of tickets offered is *maximum* (no other assignment of the same backlog to the same free capacity serves more
        tickets) and *priority-optimal* (among maximum ones, it never leaves out a ticket in favour of a later one in the
        queue's order).  It is built by taking tickets in priority order and adding each one that an augmenting path can fit,
        as for any transversal matroid.  Within what that allows, the selection strategy chooses the agents.  Tickets held for
        an agent go to that agent if it has room; tickets some agent declined are offered one by one afterwards.  Runtime
        complexity: O(n log n) to read the backlog, plus O(G) per ticket placed directly and O(L·G) per augmenting search (L
        lanes); at most one failed search per lane, since a lane that cannot fit one more ticket never can.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0))
        >>> with d.paused():
        ...     for i in range(3): d.submit(Ticket(f"T-{i}", 0.0))
        ...     d.add_agent(Agent("ana", capacity=2))
        >>> sorted(o.ticket.id for o in d.offers_for("ana"))
        ['T-0', 'T-1']
        """
        offers: list[Offer] = self._run(self._desk.advanced, self._desk.assign_all)
        return offers

    def wait_for_ticket(self, agent_id: str, timeout: float | None = None) -> Offer | None:
        """Block until the agent has an offer (see :meth:`next_for`) and return it, or return None after ``timeout`` seconds.
        The thread sleeps on a condition of its own and is woken only when an offer is made to this agent, or when something
        is due (an offer expiring, a hold ending), never by polling.  Raises :class:`UnknownAgent`.  Runtime complexity: as
        :meth:`next_for` per wake-up.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> d.wait_for_ticket("ana", timeout=0.01) is None
        True
        """
        offer: Offer | None = self._desk.room.wait(check_key("agent_id", agent_id), timeout)
        return offer

    @property
    def waits(self) -> WaitRoom:
        """How :class:`AsyncDispatcher` (and :meth:`wait_for_ticket`) wait for offers; not for application code.  Runtime
        complexity: O(1)."""
        return self._desk.room

    def stats(self) -> Statistics:
        """A snapshot of the live figures per ticket class and skill group, and per agent.  Runtime complexity: O(A + groups ·
        B log B) for B histogram buckets, plus O(log n) amortised per ticket that left a group since the last call.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0)); d.submit(Ticket("T-1", 0.0, skills=["api"]))
        >>> s = d.stats(); s.overall.waiting, s.by_class["normal"].waiting, list(s.by_skills)
        (1, 1, ['api'])

        A desk made with ``stats=False`` keeps no statistics and refuses:

        >>> Dispatcher(TicketQueue(clock=lambda: 0.0), stats=False).stats()
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidArgument: stats=False: this desk keeps no statistics: it was made with Dispatcher(stats=False)
        """
        return self._run(self._desk.stats)

    def explain_assignment(self, ticket_id: str) -> AssignmentExplanation:
        """Why a ticket went to its agent, and for every other agent why not (status, missing skill, channel, capacity,
        declined, held for another agent, or less suited by the selection strategy); for a waiting ticket, why no agent has it
        yet.  Raises :class:`UnknownTicket`.  Runtime complexity: O(A·k) for k required skills.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", status="away"), Agent("bo")])
        >>> d.submit(Ticket("T-1", 0.0, skills=["api"])); [v.reason for v in d.explain_assignment("T-1").verdicts]
        ["lacks skill 'api' >= 1 (has 0)", "lacks skill 'api' >= 1 (has 0)"]
        """
        return self._run(self._desk.explain, check_key("ticket_id", ticket_id))

    def snapshot(self) -> dict[str, Any]:
        """The whole desk as plain, JSON-serialisable data with a schema version: the waiting tickets at their exact places
        (arrival numbers, keys, lanes, holds, scheduled changes), the agents with their live state and the customers they
        served, the offers and assignments with their deadlines, the passes, every timer, the counters (offer and event
        numbers), the statistics and the audit trail, and the identity of the policy, selection strategy and classify function
        it ran with.  :meth:`restore` gives a desk that behaves exactly as this one from here on.  Reads the desk as a read
        does (see ``advance_on_read``); raises :class:`InvalidArgument` inside :meth:`paused`.  Runtime complexity: O(n log n
        + A·H + offers + audit).

        >>> import json
        >>> from triage_queue import ManualClock
        >>> d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana")])
        >>> d.submit(Ticket("T-1", 0.0)).id
        'offer-1'
        >>> copy = Dispatcher.restore(json.loads(json.dumps(d.snapshot())), clock=ManualClock(0.0))
        >>> copy.status("T-1"), copy.submit(Ticket("T-2", 0.0)), copy.offers_for("ana")[0].id
        ('offered', None, 'offer-1')
        """
        return self._run(self._desk.snapshot)

    @classmethod
    def restore(
        cls, data: Any, *, clock: Callable[[], float], policy: Policy | None = None, selection: Selection | None = None,
        classify: Callable[[Ticket], str] | None = None, on_listener_error: Callable[[Event, Exception], None] | None = None,
    ) -> Dispatcher:  # fmt: skip
        """A desk that behaves exactly as the one that made ``data`` (see :meth:`snapshot`) from the moment it was made: the
        same results, events, offer ids and event numbers for the same operations at the same clock readings.  Its settings
        come from the snapshot; the code it ran with must be given again: ``policy`` (default :meth:`Policy.default`),
        ``selection`` (default :class:`LongestIdle`) and ``classify``, and must match what the snapshot records (rule names
        and parameters; strategy and function names), or :class:`InvalidArgument` names the difference.  No listener is called
        while restoring.  The data is checked: anything malformed or inconsistent raises :class:`InvalidArgument` (or the
        error of the value it describes) naming its path, and a snapshot of another schema version is refused naming it.
        Runtime complexity: O(n + A·H + offers + audit) plus parsing.
        """
        top, queue, options = read_snapshot(data, clock, policy, selection, classify)  # the queue and settings to restore
        copy = cls(queue, (), classify=classify, on_listener_error=on_listener_error, **options)
        with copy._lock:
            copy._desk.load(top)
        return copy

    def _run(self, op: Callable[..., _T], *args: Any) -> _T:
        # One operation: under the lock, then the events delivered outside it.
        try:
            with self._lock:
                result = op(*args)
                if self._desk.overflow is not None:
                    self._desk.settle()  # the rules judged on what the operation left
                return result
        finally:
            if self._trail.outbox or self._waiters.keeper is not None:  # else flush has nothing to do
                self._desk.flush()

    def __repr__(self) -> str:
        return f"<Dispatcher: {self._desk.describe()}>"

    def _check(self) -> None:
        """Apply what is due, then assert every part's invariants and the cross-part ones (used by the test suite)."""
        with self._lock:
            self._desk.advance()
            self._desk._check()

