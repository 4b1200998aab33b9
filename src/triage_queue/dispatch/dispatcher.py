"""The Dispatcher facade: each public operation takes the lock, brings the
desk up to the clock, asks the parts, and delivers the events."""

from __future__ import annotations

import contextlib
import heapq
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator
from typing import Any

import attrs

from triage_queue.agents import ANY_CHANNEL, Agent, AgentState, AgentStatus, Roster
from triage_queue.dispatch.audit import MAX_AUDIT, AuditTrail, log_listener_error, logger
from triage_queue.dispatch.books import Books, Books3, NoBooks, default_classify
from triage_queue.dispatch.explain import judge_agents
from triage_queue.dispatch.offers import Reservations, Track
from triage_queue.dispatch.presence import Presence, Profile, profile_key
from triage_queue.dispatch.snapshot import SCHEMA, VERSION, code_name, policy_difference, policy_identity
from triage_queue.dispatch.values import AgentVerdict, AssignmentExplanation, Listener, Offer, OfferStatus
from triage_queue.dispatch.waiting import AsyncKeeper, Waiters
from triage_queue.errors import (
    AgentBusy,
    DuplicateTicket,
    InvalidArgument,
    InvalidKey,
    RuleError,
    TriageError,
    UnknownTicket,
    Unroutable,
)
from triage_queue.events import Event, EventKind
from triage_queue.matching import priority_matching
from triage_queue.policy import Policy
from triage_queue.queue import TicketQueue
from triage_queue.selection import LongestIdle, Selection, _idle_note
from triage_queue.stats import AgentFigures, Statistics, _add_to_all
from triage_queue.ticket import SkillSet, Ticket
from triage_queue.wire import Reader, number

__all__ = ["MAX_AUDIT", "AgentVerdict", "AssignmentExplanation", "Dispatcher", "Offer", "OfferStatus", "log_listener_error"]


_INF = math.inf


class _RoomFilter:
    """The channels an agent has room for now (a live view)."""

    __slots__ = ("state",)

    def __init__(self, state: AgentState) -> None:
        self.state = state

    def __contains__(self, channel: object) -> bool:
        return self.state.has_room(channel)  # type: ignore[arg-type]


class Dispatcher:
    """Offers tickets from a queue to agents on a roster.

    ``agents`` is a :class:`Roster` or an iterable of :class:`Agent`;
    ``clock`` defaults to the queue's (pass it only to build a new queue).
    ``selection`` picks among free qualified agents.  ``offer_timeout``:
    seconds an agent has to answer (None: no limit).  ``mark_not_responding``:
    set an agent who lets an offer expire to NOT_RESPONDING.
    ``affinity_wait``: seconds a returning customer's ticket waits for the
    agent who last served them, and a VIP's for their dedicated agent (0:
    only if that agent is free at once).  ``retry_after``: seconds before a
    ticket an agent declined or let expire may be offered to that agent
    again (None: not while it waits).  ``sla_warning``: seconds before an
    SLA runs out to emit an ``sla_warning`` event (None: none).
    ``classify``: a ticket's class for statistics (default: severity name).
    ``stats``: keep the statistics :meth:`stats` reports (the default); with
    False nothing is counted (a ticket's lifecycle costs less), ``classify``
    is never called, :meth:`stats` raises :class:`InvalidArgument`, and a
    snapshot records empty statistics (and the setting, which a restore
    keeps).  Per-agent counters (offered, declined, expired, served) are the
    roster's and are kept either way.
    ``audit``: how many recent events :attr:`events` keeps.
    ``refuse_unroutable``: refuse (with :class:`Unroutable`) a new ticket that
    no agent on the roster could ever take; by default it waits, with an
    ``unroutable`` event and a warning.
    ``advance_on_read``: whether reads (:meth:`status`, :meth:`offers_for`,
    :meth:`stats`, :meth:`explain_assignment`) first apply what fell due,
    showing the desk as of now (the default); with False they report the
    desk as of the last operation and change nothing, so that replicas
    that read at different moments stay identical (time-driven changes then
    happen only through operations and :meth:`tick`; see :meth:`next_due`).
    ``name``: the desk's name; offer ids are ``f"{name}-{number}"``.
    ``on_listener_error``: called as ``on_listener_error(event, error)`` when
    a listener raises (default :func:`log_listener_error`, which logs it);
    a listener's error never reaches the caller of an operation, whose
    result or error is always its own.

    Time-driven changes (offer expiry, holds ending, skills relaxing, SLA
    events) happen at the start of every operation; call :meth:`tick` from a
    timer to make them happen on time when nothing else is going on.

    Runtime complexity: see each method; n waiting tickets, A agents, G
    agent profiles (distinct skills and capacity keys), Q queue lanes an
    agent qualifies for.
    """

    def __init__(
        self,
        queue: TicketQueue | None = None,
        agents: Roster | Iterable[Agent] = (),
        *,
        clock: Callable[[], float] | None = None,
        selection: Selection | None = None,
        offer_timeout: float | None = 30.0,
        mark_not_responding: bool = False,
        affinity_wait: float = 60.0,
        retry_after: float | None = 300.0,
        sla_warning: float | None = None,
        classify: Callable[[Ticket], str] | None = None,
        audit: int = 10_000,
        refuse_unroutable: bool = False,
        on_listener_error: Callable[[Event, Exception], None] | None = None,
        advance_on_read: bool = True,
        name: str = "offer",
        stats: bool = True,
    ) -> None:
        """Runtime complexity: O(A log A + n)."""
        if queue is None:
            queue = TicketQueue(clock=clock if clock is not None else time.time)
        elif not isinstance(queue, TicketQueue):
            raise InvalidArgument("queue", queue, "expected a triage_queue.TicketQueue")
        elif clock is not None and clock is not queue.clock:
            raise InvalidArgument("clock", clock, "a dispatcher uses its queue's clock; pass the clock to the queue")
        if selection is None:
            selection = LongestIdle()
        elif not isinstance(selection, Selection):
            raise InvalidArgument("selection", selection, "expected a selection strategy (name, fit, order, describe)")
        _check_seconds("offer_timeout", offer_timeout, allow_none=True, positive=True)
        _check_seconds("affinity_wait", affinity_wait, allow_none=False, positive=False)
        _check_seconds("retry_after", retry_after, allow_none=True, positive=False)
        _check_seconds("sla_warning", sla_warning, allow_none=True, positive=False)
        if classify is not None and not callable(classify):
            raise InvalidArgument("classify", classify, "expected a callable taking a Ticket and returning a str")
        if isinstance(audit, bool) or not isinstance(audit, int) or not 0 <= audit <= MAX_AUDIT:
            raise InvalidArgument("audit", audit, f"expected an int from 0 to {MAX_AUDIT:_} (events kept)")
        if not isinstance(stats, bool):
            raise InvalidArgument("stats", stats, "expected True (keep statistics) or False")
        if not isinstance(name, str) or not name or len(name) > 200:
            raise InvalidArgument("name", name, "expected a non-empty string of at most 200 characters")
        if on_listener_error is not None and not callable(on_listener_error):
            raise InvalidArgument("on_listener_error", on_listener_error, "expected a callable taking an Event and an exception")
        if isinstance(agents, Roster):
            roster = agents
            try:
                rseam = roster.attach(self._on_agent_change)
            except InvalidArgument:
                raise InvalidArgument("agents", roster, "this roster already has a dispatcher") from None
            if any(s.total_load for s in rseam.states.values()):
                rseam.detach()
                raise InvalidArgument("agents", roster, "roster agents must start with no load")
        else:
            if agents is None or isinstance(agents, str | bytes | Agent) or not isinstance(agents, Iterable):
                raise InvalidArgument("agents", agents, "expected a Roster or an iterable of triage_queue.Agent")
            # Built (and validated) before anything is attached, so a bad agent
            # leaves the queue free for another attempt.
            roster = Roster(agents, clock=queue.clock)
            rseam = roster.attach(self._on_agent_change)
        self._queue = queue
        self._clock = queue.clock  # the raw clock: only _advance and _read_clock judge its readings
        self._lock = queue.lock
        self._roster = roster
        self._rseam = rseam
        self._selection = selection
        self._offer_timeout = None if offer_timeout is None else float(offer_timeout)
        self._mark_not_responding = bool(mark_not_responding)
        self._advance_on_read = bool(advance_on_read)
        self._name = name
        self._affinity_wait = float(affinity_wait)
        self._retry_after = None if retry_after is None else float(retry_after)
        self._sla_warning = None if sla_warning is None else float(sla_warning)
        # The latest clock reading: the desk's time, which never goes back.
        self._now = -math.inf
        self._clock_held: float | None = None  # while the clock is behind: the time the desk holds

        self._res = Reservations(name)
        self._expiry: list[tuple[float, str]] = []  # (expires_at, offer id), lazily cleaned
        self._retry: list[tuple[float, str, str]] = []  # (instant, ticket id, agent id): a pass lapses
        self._presence = Presence(selection)
        self._paused = 0
        # (instant, 0 warn / 1 breach, ticket id, schedule number); a ticket's
        # latest schedule number is in _sla_latest, so older entries are skipped.
        self._sla: list[tuple[float, int, str, int]] = []
        self._sla_latest: dict[str, int] = {}
        self._sla_sent: dict[str, set[tuple[int, float]]] = {}  # events already sent per ticket
        self._sla_count = 0
        # The earliest head of _expiry, _retry and _sla (or +inf), kept so
        # that _advance is one comparison when none of them is due: lowered
        # at every push, recomputed after every pass that pops.
        self._due_at = _INF
        # The audit trail keeps events as plain tuples, made into Event
        # values only when read (most are never read): far cheaper per call.
        self._trail = AuditTrail(audit, log_listener_error if on_listener_error is None else on_listener_error)
        self._emit = self._trail.emit  # bound once: called several times per ticket
        # Waiting tickets that no agent on the roster (in any status) could
        # ever take, in the order they became so; and whether a ticket of a
        # (required skills, channel) kind could, memoised until some profile
        # gains its first agent or loses its last.
        self._refuse_unroutable = bool(refuse_unroutable)
        self._unroutable: dict[str, None] = {}
        # With stats=False nothing is counted (NoBooks) and the hot paths
        # skip the books altogether; stats() then refuses.
        self._stats = stats
        self._books = (Books if stats else NoBooks)(classify, queue.get)
        # Waiting threads and coroutines sleep until an offer is made to their
        # agent.  One of them, the *timekeeper*, also wakes when the next
        # time-driven change falls due, and applies it (which wakes exactly
        # the agents who get offers): no one else is woken by time.
        self._waiters = Waiters(self._lock)

        with self._lock:
            try:
                now = self._read_clock()  # a clock that cannot be read refuses the dispatcher
                self._seam = seam = queue.attach(self)
            except InvalidArgument as exc:
                rseam.detach()
                if exc.field != "queue":
                    raise
                raise InvalidArgument("queue", queue, "this queue already has a dispatcher") from None
            except BaseException:
                rseam.detach()
                raise
            if not self._advance_on_read:
                seam.set_reads(False, as_of=self._desk_time)
            # The queue and roster read the desk's time, which never goes back.
            seam.use_clock(self._desk_clock)
            rseam.use(lock=self._lock, clock=self._desk_clock)
            try:
                for agent_id, state in rseam.states.items():
                    self._presence.place(state)
                    self._emit(EventKind.AGENT_CHANGED, now, agent_id=agent_id, detail=_joined(state.agent))
                    if not state.total_capacity:
                        _warn_no_capacity(agent_id, "joined with")
                self._presence.widened = self._presence.narrowed = False
                for ticket in queue:
                    self._books.enter(ticket)
                    self._schedule_sla(ticket, now)
                    self._check_routable(ticket, now)
                self._assign_all_locked()
            except BaseException:
                # A rule failing on a queued ticket: leave queue and roster as they were.
                seam.detach()
                rseam.detach()
                raise
        self._flush()

    # -- properties -----------------------------------------------------------

    @property
    def queue(self) -> TicketQueue:
        """The ticket queue.  Runtime complexity: O(1)."""
        return self._queue

    @property
    def roster(self) -> Roster:
        """The roster of agents.  Runtime complexity: O(1)."""
        return self._roster

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
        """The most recent events (the audit trail), oldest first.

        Runtime complexity: O(audit size).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", status="away")]); d.submit(Ticket("T-1", 0.0))
        >>> [str(e) for e in d.events]
        ["[0] #1 agent_changed: agent 'ana': joined, away", "[0] #2 submitted: ticket 'T-1'"]
        """
        with self._lock:
            return self._trail.events()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event from now on; return a
        function that unsubscribes it.  Listeners run after the operation
        that caused the event, outside the lock, on a thread calling the
        dispatcher (usually that operation's).  An exception in a listener
        goes to ``on_listener_error`` (by default, logged), never to the
        caller: the operation's own result or error is what it returns.

        Runtime complexity: O(1) (unsubscribing O(listeners)).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", status="away")]); seen = []
        >>> stop = d.subscribe(seen.append); d.submit(Ticket("T-1", 0.0)); stop()
        >>> [e.kind.value for e in seen]
        ['submitted']
        """
        if not callable(listener):
            raise InvalidArgument("listener", listener, "expected a callable taking an Event")
        with self._lock:
            self._trail.listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._trail.listeners.remove(listener)

        return unsubscribe

    # -- tickets --------------------------------------------------------------

    def submit(self, ticket: Ticket) -> Offer | None:
        """Queue a ticket and offer it at once if a free agent qualifies;
        return that offer, or None if the ticket waits.

        A returning customer's ticket (``customer_id`` served before) is
        offered to that agent, and a dedicated customer's to their agent, if
        free; if not, it is held for them for ``affinity_wait`` seconds.

        Raises as :meth:`TicketQueue.push` does.  Runtime complexity:
        O(R + log n + G log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", skills=["billing"])])
        >>> d.submit(Ticket("T-1", 0.0, skills=["billing"])).agent_id, d.submit(Ticket("T-2", 0.0))
        ('ana', None)
        """
        try:
            with self._lock:
                now = self._advance()
                if not isinstance(ticket, Ticket):
                    raise InvalidArgument("ticket", ticket, "expected a triage_queue.Ticket")
                if ticket.id in self._res.tracks:
                    raise DuplicateTicket(ticket.id)
                if self._refuse_unroutable and not self._presence.routable(ticket.skills, ticket.channel):
                    if ticket.id in self._queue:
                        raise DuplicateTicket(ticket.id)  # what push would say: the more basic mistake
                    raise Unroutable(ticket.id, self._why_unroutable(ticket))
                books = self._books.of(ticket)  # a failing classify raises before anything changes
                customer = ticket.customer_id
                if (
                    self._presence.free
                    and not self._paused
                    # No agent to keep it for (see _affinity): routed as any other.
                    and (customer is None or self._rseam.affinity_agent(customer) is None)
                ):
                    offer = self._submit_to_free_agent(ticket, books, now)
                    if offer is not None:
                        return offer
                self._queue.push(ticket)
                self._admit(ticket, books, now)
                offer = self._affinity(ticket, now)
                # No free agent at all (the usual state under load): nothing
                # to route to, not even a holder (it would be free).
                if offer is None and not self._paused and self._presence.free and ticket.id in self._queue:
                    offer = self._route(ticket.id, "routed on arrival")
        finally:
            if self._trail.outbox or self._waiters.keeper is not None:  # else _flush has nothing to do
                self._flush()
        return offer

    def _submit_to_free_agent(self, ticket: Ticket, books: Books3, now: float) -> Offer | None:
        """submit() of a ticket with no affinity while some agent is free:
        if a free agent qualifies, offer the ticket to it straight away,
        without the round trip through the queue (push, then take out again)
        that the same outcome would otherwise cost.  None if no free agent
        qualifies, and nothing has changed then."""
        queue = self._queue
        if ticket.id in queue:
            raise DuplicateTicket(ticket.id)
        self._seam.check_placeable(ticket, now)  # what push would raise, before anything changes
        try:
            agent_id = self._presence.pick(ticket, ticket.requirement(now), ticket.channel, self._res.passed.get(ticket.id))
        except BaseException:
            # The strategy raised: as on the usual path, the ticket waits.
            self._queue.push(ticket)
            self._admit(ticket, books, now)
            raise
        if agent_id is None:
            return None
        seq = self._seam.new_sequence()
        self._admit(ticket, books, now, waiting=False)
        try:
            return self._offer(ticket, seq, agent_id, f"routed on arrival: {self._selection.name}", self._now, books)
        except BaseException:
            self._requeue(ticket, seq, books)
            raise

    def _admit(self, ticket: Ticket, books: Books3, now: float, waiting: bool = True) -> None:
        # A new ticket is in: counted (if it waits), announced, its SLA scheduled.
        self._sla_sent.pop(ticket.id, None)  # a new ticket reusing an id
        if self._unroutable:
            self._unroutable.pop(ticket.id, None)  # an old one of that id, removed through the queue
        if waiting:
            self._books.enter(ticket, books)
        self._emit(EventKind.SUBMITTED, now, ticket.id)
        if ticket.sla_due is not None or self._sla_latest:
            self._schedule_sla(ticket, now)
        if waiting:
            self._check_routable(ticket, now)

    def update(self, ticket_id: str, **changes: Any) -> Ticket:
        """Change a ticket wherever it is (waiting, offered or assigned) and
        return the new value; a waiting ticket moves to its new place and is
        offered if a free agent now qualifies.

        Raises :class:`UnknownTicket` or as :meth:`TicketQueue.update`.
        Runtime complexity: O(R + log n + G log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0))
        >>> d.submit(Ticket("T-1", 0.0)); d.update("T-1", severity="critical").severity.name
        'CRITICAL'
        """
        if ticket_id.__class__ is not str:
            _check_key("ticket_id", ticket_id)
        try:
            with self._lock:
                now = self._advance_for(ticket_id)
                track = self._res.tracks.get(ticket_id)
                if track is not None:
                    old = track.ticket
                    new = old.evolve(**changes)
                    # Checked now, so that a ticket handed back later can
                    # always be put back in its place.
                    self._seam.check_placeable(new, now)
                    books = self._books.of(new)
                    track.ticket = new
                    track.books = books
                    self._recheck_track(track, now)
                    # A load moved to another capacity key, or an offer taken
                    # back, may leave the agent room for a waiting ticket.
                    self._fill(track.agent_id, "freed by an update")
                else:
                    found = self._queue.get(ticket_id)
                    if found is None:
                        raise UnknownTicket(ticket_id)
                    old = found
                    new = old.evolve(**changes)
                    books = self._books.of(new)
                    self._seam.replace(new)
                    self._books.leave(old)
                    self._books.enter(new, books)
                    if new.skills != old.skills or new.channel != old.channel:
                        self._check_routable(new, now, "its requirements changed")
                    if not self._paused:
                        self._route(ticket_id, "routed after an update")
                if new.sla_due != old.sla_due:
                    self._schedule_sla(new, now)
                self._emit(EventKind.UPDATED, now, ticket_id, detail=", ".join(sorted(changes)), changes=_changed(new, changes))
        finally:
            self._flush()
        return new

    def cancel(self, ticket_id: str) -> Ticket:
        """Withdraw a ticket wherever it is (waiting, offered or assigned);
        an agent holding it gets its capacity back.  Return the ticket.

        Raises :class:`UnknownTicket`.  Runtime complexity: O(log n + G log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0))
        >>> d.submit(Ticket("T-1", 0.0)); d.cancel("T-1").id, len(d.queue)
        ('T-1', 0)
        """
        if ticket_id.__class__ is not str:
            _check_key("ticket_id", ticket_id)
        try:
            with self._lock:
                now = self._advance_for(ticket_id)
                track = self._res.tracks.get(ticket_id)
                if track is None:
                    if ticket_id not in self._queue:
                        raise UnknownTicket(ticket_id)
                    ticket = self._queue.remove(ticket_id)
                    self._books.leave(ticket)
                    self._res.passed.pop(ticket_id, None)
                    self._unroutable.pop(ticket_id, None)
                    self._emit(EventKind.CANCELLED, now, ticket_id)
                else:
                    ticket = track.ticket
                    offer = track.offer
                    if offer is not None:
                        self._close(offer, OfferStatus.REVOKED, now, "ticket cancelled")
                        self._emit(EventKind.REVOKED, now, ticket_id, offer.agent_id, offer.id, "ticket cancelled")
                    self._finish(track, now, EventKind.CANCELLED, "freed by a cancellation")
        finally:
            self._flush()
        return ticket

    def status(self, ticket_id: str) -> str:
        """``"waiting"``, ``"offered"`` or ``"assigned"``.

        Raises :class:`UnknownTicket`.  Runtime complexity: O(1).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> d.accept(d.submit(Ticket("T-1", 0.0))).id, d.status("T-1")
        ('T-1', 'assigned')
        """
        if ticket_id.__class__ is not str:
            _check_key("ticket_id", ticket_id)
        try:
            with self._lock:
                self._read_advance()
                track = self._res.tracks.get(ticket_id)
                if track is not None:
                    return "offered" if track.offer is not None else "assigned"
                if ticket_id in self._queue:
                    return "waiting"
                raise UnknownTicket(ticket_id)
        finally:
            self._flush()

    def assigned(self, agent_id: str) -> list[Ticket]:
        """The tickets an agent has accepted and not yet finished.

        Raises :class:`UnknownAgent`.  Runtime complexity: O(T) for T
        tickets out of the queue.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> _ = d.accept(d.submit(Ticket("T-1", 0.0))); [t.id for t in d.assigned("ana")]
        ['T-1']
        """
        if agent_id.__class__ is not str:
            _check_key("agent_id", agent_id)
        with self._lock:
            self._rseam.state(agent_id)
            return self._res.assigned_to(agent_id)

    # -- offers ---------------------------------------------------------------

    def next_for(self, agent_id: str) -> Offer | None:
        """The agent's next offer: one made to it and not yet handed out, or
        else the best waiting ticket it qualifies for and has room for, now
        offered to it.  None if there is nothing for it.

        Raises :class:`UnknownAgent`.  Runtime complexity: O(1) for an offer
        already made; else O(Q + log n).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> d.submit(Ticket("T-1", 0.0)).id == d.next_for("ana").id, d.next_for("ana")
        (True, None)
        """
        if agent_id.__class__ is not str:
            _check_key("agent_id", agent_id)
        try:
            offer = None
            with self._lock:
                self._advance()
                offer = self._deliver(agent_id)
        finally:
            self._flush_keeping(agent_id, offer)
        return offer

    def offers_for(self, agent_id: str) -> list[Offer]:
        """Every pending offer to an agent, oldest first.

        Raises :class:`UnknownAgent`.  Runtime complexity: O(pending offers).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", capacity=2)])
        >>> _ = d.submit(Ticket("T-1", 0.0)), d.submit(Ticket("T-2", 1.0))
        >>> [o.ticket.id for o in d.offers_for("ana")]
        ['T-1', 'T-2']
        """
        if agent_id.__class__ is not str:
            _check_key("agent_id", agent_id)
        try:
            with self._lock:
                self._read_advance()
                if agent_id not in self._rseam.states:
                    self._rseam.state(agent_id)  # raises UnknownAgent
                offers = self._res.offers_to(agent_id)
        finally:
            if self._trail.outbox or self._waiters.keeper is not None:  # else _flush has nothing to do
                self._flush()
        return offers

    def accept(self, offer: Offer | str) -> Ticket:
        """Accept a pending offer: the ticket is assigned to the agent.
        Return the ticket (its latest value).

        Raises :class:`UnknownOffer`, or :class:`OfferClosed` if it was
        already accepted, declined, revoked or has expired (an offer past
        its time expires before the answer is considered).  Runtime
        complexity: O(log n) amortised.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> offer = d.submit(Ticket("T-1", 0.0)); d.accept(offer).id
        'T-1'
        >>> d.accept(offer)
        Traceback (most recent call last):
        ...
        triage_queue.errors.OfferClosed: offer 'offer-1' is accepted; only a pending offer can be answered
        """
        try:
            with self._lock:
                now = self._advance()
                res = self._res
                # Reservations.pending_offer's usual cases, inline (once per ticket).
                if offer.__class__ is Offer:
                    pending = res.pending.get(offer.id)
                elif offer.__class__ is str:
                    pending = res.pending.get(offer)
                else:
                    pending = None
                if pending is None:
                    pending = res.pending_offer(offer)  # raises the right error
                track = res.tracks[pending.ticket.id]
                res.close(pending, OfferStatus.ACCEPTED)
                track.offer = None
                track.assigned_at = now
                ticket = track.ticket
                waited = now - ticket.created_at
                if waited <= 0.0:  # noqa: PLR1730 - max() without the call; -0.0 too
                    waited = 0.0
                if self._stats:
                    books = track.books
                    _add_to_all((books[0].waits, books[1].waits, books[2].waits), waited)
                state = self._rseam.states[track.agent_id]
                self._rseam.record_service(state, ticket.id, ticket.customer_id, now)
                if res.passed:
                    res.passed.pop(ticket.id, None)
                # The detail is worded only if someone can read it.
                detail = f"waited {waited:g}s" if self._trail.wants_detail else ""
                self._emit(EventKind.ACCEPTED, now, ticket.id, track.agent_id, pending.id, detail)
        finally:
            if self._trail.outbox or self._waiters.keeper is not None:  # else _flush has nothing to do
                self._flush()
        return ticket

    def decline(self, offer: Offer | str, reason: str = "") -> None:
        """Decline a pending offer: the ticket goes back to its original
        place in the queue and is offered to another qualified agent (never
        again to this one while it waits); the agent may get other work.

        Raises as :meth:`accept`.  Runtime complexity: O(R + log n + G log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana"), Agent("bo")])
        >>> offer = d.submit(Ticket("T-1", 0.0)); offer.agent_id
        'ana'
        >>> d.decline(offer, "on a call"); d.offers_for("bo")[0].ticket.id
        'T-1'
        """
        if not isinstance(reason, str):
            raise InvalidArgument("reason", reason, "expected a string")
        try:
            with self._lock:
                now = self._advance()
                pending = self._pending(offer)
                self._give_back(pending, OfferStatus.DECLINED, now, reason or "declined")
        finally:
            self._flush()

    def complete(self, ticket_id: str, agent_id: str | None = None) -> Ticket:
        """The agent finished the ticket: free its capacity and return the
        ticket.  With ``agent_id``, check that this agent holds it.

        Raises :class:`NotAssigned` if the ticket is not assigned (or only
        offered, or assigned to another agent), :class:`UnknownTicket` if it
        is not known at all.  Runtime complexity: O(Q + log n + log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> _ = d.accept(d.submit(Ticket("T-1", 0.0))); d.submit(Ticket("T-2", 0.0))
        >>> d.complete("T-1").id, d.offers_for("ana")[0].ticket.id     # ana is offered T-2 at once
        ('T-1', 'T-2')
        """
        if ticket_id.__class__ is not str:
            _check_key("ticket_id", ticket_id)
        if agent_id is not None and agent_id.__class__ is not str:
            _check_key("agent_id", agent_id)
        try:
            with self._lock:
                now = self._advance()
                track = self._res.tracks.get(ticket_id)
                if track is None or track.offer is not None or (agent_id is not None and agent_id != track.agent_id):
                    track = self._assigned(ticket_id, agent_id)  # raises the right error
                self._finish(track, now, EventKind.COMPLETED, "freed by a completion")
        finally:
            if self._trail.outbox or self._waiters.keeper is not None:  # else _flush has nothing to do
                self._flush()
        return track.ticket

    def transfer(self, ticket_id: str, agent_id: str | None = None, **changes: Any) -> Ticket:
        """Send an assigned ticket back to the queue, at its original place,
        with ``changes`` (typically ``skills=`` for the team it needs);
        another agent gets it.  Return the new ticket.

        Raises as :meth:`complete`, or :class:`InvalidTicket` for a bad
        change (then nothing changes).  Runtime complexity:
        O(R + log n + G log A).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana"), Agent("bo", skills=["api"])])
        >>> _ = d.accept(d.submit(Ticket("T-1", 0.0)))
        >>> d.transfer("T-1", skills=["api"]).skills["api"], d.offers_for("bo")[0].ticket.id
        (1, 'T-1')
        """
        if ticket_id.__class__ is not str:
            _check_key("ticket_id", ticket_id)
        if agent_id is not None and agent_id.__class__ is not str:
            _check_key("agent_id", agent_id)
        try:
            with self._lock:
                now = self._advance()
                track = self._assigned(ticket_id, agent_id)
                new = track.ticket.evolve(**changes)
                self._seam.check_placeable(new, now)  # raises before anything changes
                books = self._books.of(new)
                self._untrack(track, now)
                self._pass(ticket_id, track.agent_id, now)
                self._requeue(new, track.seq, books)
                self._emit(
                    EventKind.TRANSFERRED,
                    now,
                    ticket_id,
                    track.agent_id,
                    detail=", ".join(sorted(changes)),
                    changes={"from_agent": track.agent_id, **_changed(new, changes)},
                )
                self._check_routable(new, now)
                if not self._paused:
                    self._route(ticket_id, "routed after a transfer")
                self._fill(track.agent_id, "freed by a transfer")
        finally:
            self._flush()
        return new

    # -- agents ---------------------------------------------------------------

    def add_agent(self, agent: Agent) -> None:
        """Add an agent to the roster; if available, it gets work at once.
        Raises as :meth:`Roster.add`.  Runtime complexity: O(G + C log A + Q + log n).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0)); d.submit(Ticket("T-1", 0.0))
        >>> d.add_agent(Agent("ana")); d.status("T-1")
        'offered'
        """
        try:
            with self._lock:
                self._advance()
                self._roster.add(agent)
        finally:
            self._flush()

    def remove_agent(self, agent_id: str) -> Agent:
        """Take an agent off the roster; its pending offers go back to the
        queue first.  Raises :class:`UnknownAgent`, or :class:`AgentBusy`
        if it has assigned tickets.  Runtime complexity: O(C log A + pending).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> _ = d.submit(Ticket("T-1", 0.0)); d.remove_agent("ana").id, d.status("T-1")
        ('ana', 'waiting')
        """
        if agent_id.__class__ is not str:
            _check_key("agent_id", agent_id)
        try:
            with self._lock:
                now = self._advance()
                state = self._rseam.state(agent_id)
                if any(t.agent_id == agent_id and t.offer is None for t in self._res.tracks.values()):
                    raise AgentBusy(agent_id, "still has assigned tickets: complete or transfer them first")
                original = state.agent
                if original.status is AgentStatus.AVAILABLE:
                    # Going offline first gives its offers back to other agents.
                    self._roster.replace(original.evolve(status=AgentStatus.OFFLINE))
                self._revoke_offers(agent_id, now, "agent removed")
                self._roster.remove(agent_id)
        finally:
            self._flush()
        return original

    def set_status(self, agent_id: str, status: AgentStatus | str) -> Agent:
        """Set an agent's status.  Leaving AVAILABLE takes back its pending
        offers (assigned tickets stay); becoming AVAILABLE gets it work.

        Raises :class:`UnknownAgent` or :class:`InvalidAgent`.
        Runtime complexity: O(C log A + Q + log n) plus O(pending offers).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", status="away")])
        >>> d.submit(Ticket("T-1", 0.0)); _ = d.set_status("ana", "available"); d.status("T-1")
        'offered'
        """
        if agent_id.__class__ is not str:
            _check_key("agent_id", agent_id)
        try:
            with self._lock:
                self._advance()
                agent = self._roster.set_status(agent_id, status)
        finally:
            self._flush()
        return agent

    def update_agent(self, agent_id: str, **changes: Any) -> Agent:
        """Change an agent's fields (skills, capacity, status, dedicated
        customers...); the dispatcher re-indexes it and reacts.

        Raises :class:`UnknownAgent` or :class:`InvalidAgent`.
        Runtime complexity: O(G + C log A + Q + log n).

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> d.submit(Ticket("T-1", 0.0, skills=["api"])); _ = d.update_agent("ana", skills=["api"]); d.status("T-1")
        'offered'
        """
        if agent_id.__class__ is not str:
            _check_key("agent_id", agent_id)
        try:
            with self._lock:
                self._advance()
                agent = self._roster.update(agent_id, **changes)
        finally:
            self._flush()
        return agent

    # -- time -----------------------------------------------------------------

    def tick(self) -> None:
        """Apply everything due by now: expire offers, end holds, relax
        skills, emit SLA events.  Call it from a timer.

        Runtime complexity: O((k + 1) log n) for k things due.

        >>> from triage_queue import ManualClock
        >>> clock = ManualClock(); d = Dispatcher(TicketQueue(clock=clock), [Agent("ana")], offer_timeout=30)
        >>> _ = d.submit(Ticket("T-1", 0.0)); clock.advance(30); d.tick(); d.status("T-1")
        30.0
        'waiting'
        """
        try:
            with self._lock:
                self._advance()
        finally:
            self._flush()

    # -- batch ----------------------------------------------------------------

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hold back every offer while the block runs (a shift starting:
        agents logging in, a backlog imported); when it ends, :meth:`assign_all`
        assigns the backlog to the free capacity at once.

        Runtime complexity: O(1) on entry; :meth:`assign_all` on exit.

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
            self._paused += 1
        try:
            yield
        except BaseException:
            # The block's own error is what the caller sees; assigning the
            # backlog is still tried, and its failure only logged (the next
            # operation meets it again).
            try:
                self._resume()
            except Exception:
                logger.exception("assigning the backlog after paused() failed while the block raised")
            raise
        else:
            self._resume()

    def _resume(self) -> None:
        try:
            with self._lock:
                self._paused -= 1
                if not self._paused:
                    try:
                        self._advance()
                    except BaseException:
                        # The backlog is still assigned (at the desk's time), or
                        # it would wait for an assign_all() nobody calls.
                        with contextlib.suppress(Exception):
                            self._assign_all_locked()
                        raise
                    self._assign_all_locked()
        finally:
            self._flush()

    def assign_all(self) -> list[Offer]:
        """Offer waiting tickets to all free capacity at once, and return the
        offers.

        The set of tickets offered is *maximum* (no other assignment of the
        same backlog to the same free capacity serves more tickets) and
        *priority-optimal* (among maximum ones, it never leaves out a ticket
        in favour of a later one in the queue's order).  It is built by
        taking tickets in priority order and adding each one that an
        augmenting path can fit, as for any transversal matroid.  Within
        what that allows, the selection strategy chooses the agents.
        Tickets held for an agent go to that agent if it has room; tickets
        some agent declined are offered one by one afterwards.

        Runtime complexity: O(n log n) to read the backlog, plus
        O(G) per ticket placed directly and O(L·G) per augmenting search
        (L lanes); at most one failed search per lane, since a lane that
        cannot fit one more ticket never can.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0))
        >>> with d.paused():
        ...     for i in range(3): d.submit(Ticket(f"T-{i}", 0.0))
        ...     d.add_agent(Agent("ana", capacity=2))
        >>> sorted(o.ticket.id for o in d.offers_for("ana"))
        ['T-0', 'T-1']
        """
        try:
            with self._lock:
                self._advance()
                offers = self._assign_all_locked()
        finally:
            self._flush()
        return offers

    # -- blocking and waking ---------------------------------------------------

    def wait_for_ticket(self, agent_id: str, timeout: float | None = None) -> Offer | None:
        """Block until the agent has an offer (see :meth:`next_for`) and
        return it, or return None after ``timeout`` seconds.

        The thread sleeps on a condition of its own and is woken only when
        an offer is made to this agent, or when something is due (an offer
        expiring, a hold ending), never by polling.  Raises
        :class:`UnknownAgent`.  Runtime complexity: as :meth:`next_for` per
        wake-up.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana")])
        >>> d.wait_for_ticket("ana", timeout=0.01) is None
        True
        """
        if agent_id.__class__ is not str:
            _check_key("agent_id", agent_id)
        if timeout == math.inf:
            timeout = None
        if timeout is not None:
            _check_seconds("timeout", timeout, allow_none=False, positive=False)
        deadline = None if timeout is None else time.monotonic() + timeout
        condition: threading.Condition | None = None
        try:
            while True:
                expired = False
                with self._lock:
                    self._rseam.state(agent_id)
                    self._advance()
                    offer = self._deliver(agent_id)
                    if offer is None:
                        remaining = None if deadline is None else deadline - time.monotonic()
                        expired = remaining is not None and remaining <= 0
                        if not expired and not self._trail.outbox:
                            if condition is None:
                                condition = self._waiters.condition_for(agent_id)
                            wait = self._keep_time(condition, remaining)
                            self._waiters.sleep(agent_id, condition, wait)
                # Listeners of anything this thread caused run outside the lock.
                self._flush_keeping(agent_id, offer)
                if offer is not None or expired:
                    return offer
        finally:
            if condition is not None:
                with self._lock:
                    self._leave_keeping(condition)

    def _register_async(
        self, agent_id: str, keeper: AsyncKeeper, future: Any, remaining: float | None
    ) -> tuple[Offer | None, float | None]:
        # For AsyncDispatcher: an offer now; or else the future is woken on
        # the next offer, and the seconds to wait at most are returned.
        if agent_id.__class__ is not str:
            _check_key("agent_id", agent_id)
        offer = None
        wait = remaining
        try:
            with self._lock:
                self._rseam.state(agent_id)
                self._advance()
                offer = self._deliver(agent_id)
                if offer is None:
                    self._waiters.register_async(agent_id, keeper, future)
                    wait = self._keep_time(keeper, remaining)
        finally:
            self._flush_keeping(agent_id, offer)
        return offer, wait

    def _unregister_async(self, agent_id: str, future: Any) -> None:
        with self._lock:
            self._waiters.unregister_async(agent_id, future)

    def _stop_waiting(self, keeper: AsyncKeeper) -> None:
        with self._lock:
            self._leave_keeping(keeper)

    def _flush_keeping(self, agent_id: str, offer: Offer | None) -> None:
        # _flush for calls that hand out an offer: if a listener raises, the
        # offer goes back to the front of the agent's inbox rather than being
        # lost between the dispatcher and the caller.
        if not self._trail.outbox and self._waiters.keeper is None:
            return  # _flush has nothing to do
        try:
            self._flush()
        except BaseException:
            if offer is not None:
                with self._lock:
                    self._res.put_back(agent_id, offer.id)
            raise

    def _keep_time(self, waiter: Any, remaining: float | None) -> float | None:
        # Seconds a waiter may sleep (see Waiters.keep_time).  Lock held.
        return self._waiters.keep_time(waiter, remaining, self._next_due(), self._clock())

    def _leave_keeping(self, waiter: Any) -> None:
        self._waiters.leave_keeping(waiter, self._next_instant() is not None)

    def _wake_keeper_if_due_earlier(self) -> None:
        self._waiters.wake_keeper_if_due_earlier(self._next_instant())

    def next_due(self) -> float | None:
        """The clock instant at which the next time-driven change falls due
        (an offer expiring, a hold ending, skills relaxing, a pass lapsing,
        an SLA warning or breach), or None if nothing is scheduled: call
        :meth:`tick` once the clock reaches it.  The instant may turn out to
        change nothing (an offer answered since, say): such a tick is
        harmless.  Reads no clock and changes nothing.

        Runtime complexity: O(1).

        >>> from triage_queue import ManualClock
        >>> d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana")], offer_timeout=30)
        >>> d.next_due(), d.submit(Ticket("T-1", 0.0)).expires_at, d.next_due()
        (None, 30.0, 30.0)
        """
        with self._lock:
            return self._next_instant()

    def _read_advance(self) -> float:
        # What a read does first: bring the desk up to the clock, or (with
        # advance_on_read=False) report it as of the last operation.
        return self._advance() if self._advance_on_read else self._now

    def _next_instant(self) -> float | None:
        # The clock time of the next time-driven change, or None.  (A
        # simulator asks before every event: no list, no min().)
        instant = self._seam.next_change_at()
        for schedule in (self._expiry, self._sla, self._retry):
            if schedule:
                at = schedule[0][0]
                if instant is None or at < instant:
                    instant = at
        return instant

    def _next_due(self) -> float | None:
        # Seconds until the next time-driven change, by the dispatcher's clock.
        instant = self._next_instant()
        return None if instant is None else max(0.001, instant - self._clock())

    # -- statistics and explanations -------------------------------------------

    def stats(self) -> Statistics:
        """A snapshot of the live figures per ticket class and skill group,
        and per agent.

        Runtime complexity: O(A + groups · B log B) for B histogram buckets,
        plus O(log n) amortised per ticket that left a group since the last
        call.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0)); d.submit(Ticket("T-1", 0.0, skills=["api"]))
        >>> s = d.stats(); s.overall.waiting, s.by_class["normal"].waiting, list(s.by_skills)
        (1, 1, ['api'])

        A desk made with ``stats=False`` keeps no statistics and refuses:

        >>> Dispatcher(TicketQueue(clock=lambda: 0.0), stats=False).stats()
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidArgument: stats=False: this desk keeps no statistics: it was made with Dispatcher(stats=False)
        """
        if not self._stats:
            raise InvalidArgument("stats", False, "this desk keeps no statistics: it was made with Dispatcher(stats=False)")
        try:
            with self._lock:
                now = self._read_advance()
                figures = self._books.figures
                by_class = {name: figures(book, now) for name, book in sorted(self._books.by_class.items())}
                by_skills = {name: figures(book, now) for name, book in sorted(self._books.by_skills.items())}
                overall = figures(self._books.overall, now)
                agents = {}
                used = room = 0
                for agent_id, state in self._rseam.states.items():
                    load, capacity = state.total_load, state.total_capacity
                    if state.agent.status is AgentStatus.AVAILABLE:
                        used += load
                        room += capacity
                    agents[agent_id] = AgentFigures(
                        state.agent.status.value, load, capacity, state.offered, state.declined, state.expired, state.served
                    )
                occupancy = used / room if room else None
                unroutable = self._unroutable_count()
        finally:
            self._flush()
        return Statistics(now, overall, by_class, by_skills, occupancy, agents, unroutable)

    def explain_assignment(self, ticket_id: str) -> AssignmentExplanation:
        """Why a ticket went to its agent, and for every other agent why
        not (status, missing skill, channel, capacity, declined, held for
        another agent, or less suited by the selection strategy); for a
        waiting ticket, why no agent has it yet.

        Raises :class:`UnknownTicket`.  Runtime complexity: O(A·k) for k
        required skills.

        >>> d = Dispatcher(TicketQueue(clock=lambda: 0.0), [Agent("ana", status="away"), Agent("bo")])
        >>> d.submit(Ticket("T-1", 0.0, skills=["api"])); [v.reason for v in d.explain_assignment("T-1").verdicts]
        ["lacks skill 'api' >= 1 (has 0)", "lacks skill 'api' >= 1 (has 0)"]
        """
        if ticket_id.__class__ is not str:
            _check_key("ticket_id", ticket_id)
        try:
            with self._lock:
                now = self._read_advance()
                track = self._res.tracks.get(ticket_id)
                holder = None
                note = ""
                if track is not None:
                    note = track.note if isinstance(track.note, str) else _idle_note(track.note)
                    ticket = track.ticket
                    state_name = "offered" if track.offer is not None else "assigned"
                    chosen = track.agent_id
                    offer_time = track.offer.created_at if track.offer is not None else track.assigned_at
                    requirement = ticket.requirement(offer_time if offer_time is not None else now)
                    how = track.how
                else:
                    ticket = self._queue[ticket_id]
                    state_name = "waiting"
                    chosen = None
                    requirement = self._seam.lane(ticket_id)[0]
                    holder = self._queue.holder(ticket_id)
                    how = None
                selection = self._selection
                verdicts = judge_agents(
                    ticket,
                    requirement,
                    self._rseam.states.values(),
                    chosen=chosen,
                    how=how,
                    note=note,
                    holder=holder,
                    passed=self._res.passed.get(ticket_id, {}),
                    selection=selection,
                )
        finally:
            self._flush()
        return AssignmentExplanation(ticket_id, now, state_name, chosen, how, selection.name, verdicts)

    # == internals ==============================================================

    def _advance(self) -> float:
        """Apply everything due by now, in the order it fell due (so a long
        gap between calls gives the same result as frequent ticks); return
        now.  Lock held."""
        now = self._clock()
        if now.__class__ is float and self._now <= now < _INF:
            self._now = now
            if self._clock_held is not None:
                self._clock_held = None  # caught up
        else:
            now = self._odd_reading(now)
        seam = self._seam
        if now < self._due_at:
            at = seam.next_change_at()
            if at is None or at > now:
                # Nothing is due (the usual case): no loop over the schedules.
                relaned = seam.relaned()  # lanes changed by queue calls since the last time
                if relaned:
                    self._route_relaned(relaned, now)
                return now
        try:
            self._apply_due(now)
        finally:
            self._reset_due()
        relaned = seam.relaned()  # lanes changed by queue calls since the last time
        if relaned:
            self._route_relaned(relaned, now)
        return now

    def _reset_due(self) -> None:
        # _due_at from the heads of the desk's own schedules.
        due = _INF
        for schedule in (self._expiry, self._retry, self._sla):
            if schedule and schedule[0][0] < due:
                due = schedule[0][0]
        self._due_at = due

    def _apply_due(self, now: float) -> None:
        # Everything due by now, earliest first (see _advance).
        seam = self._seam
        expiry, retry, sla = self._expiry, self._retry, self._sla
        while True:
            # The earliest due item of the four schedules (ties: in this order).
            when = now
            source = -1
            at = seam.next_change_at()
            if at is not None and at <= when:
                when, source = at, 0
            if expiry and (expiry[0][0] < when or (source < 0 and expiry[0][0] <= when)):
                when, source = expiry[0][0], 1
            if retry and (retry[0][0] < when or (source < 0 and retry[0][0] <= when)):
                when, source = retry[0][0], 2
            if sla and (sla[0][0] < when or (source < 0 and sla[0][0] <= when)):
                when, source = sla[0][0], 3
            if source < 0:
                break
            if source == 0:
                self._route_relaned(seam.apply_due(when), now)
            elif source == 1:
                self._expire_one(now)
            elif source == 2:
                self._lapse_one()
            else:
                self._sla_one(now)

    def _desk_time(self) -> float:
        # The desk's time: the clock reading of the last operation.
        return self._now

    def _read_clock(self) -> float:
        # The clock, never earlier than a reading already used (inlined in
        # _advance, which runs several times per ticket).  Lock held.
        now = self._clock()
        if now.__class__ is float and self._now <= now < _INF:
            self._now = now
            if self._clock_held is not None:
                self._clock_held = None
            return now
        return self._odd_reading(now)

    def _desk_clock(self) -> float:
        """The clock the queue and roster read while this dispatcher owns
        them: the raw clock, but never earlier than the desk's time nor a
        reading the dispatcher would refuse (those it reports itself, on
        its next operation)."""
        now = self._clock()
        if now.__class__ is float and self._now <= now < _INF:
            return now
        try:
            value = float(now) if isinstance(now, int | float) and not isinstance(now, bool) else math.nan
        except OverflowError:
            value = math.nan
        return value if self._now <= value < _INF else self._now

    def _odd_reading(self, reading: Any) -> float:
        """A reading that is not a finite float at or after the desk's time.
        An int is taken as its float; anything that is not a finite number
        is refused.  A reading earlier than the last one holds the desk's
        time still until the clock catches up, so no offer, hold or SLA is
        decided twice or in the wrong order; said once per episode by a
        ``clock_went_back`` event and a warning.  Lock held."""
        value = math.nan
        if isinstance(reading, int | float) and not isinstance(reading, bool):
            with contextlib.suppress(OverflowError):
                value = float(reading)
        if not -_INF < value < _INF:  # NaN, the infinities, not a number, too large for a float
            raise InvalidArgument("clock", reading, "the clock must return a finite number of seconds")
        if value >= self._now:
            self._now = value
            self._clock_held = None
            return value
        held = self._now
        if self._clock_held is None:
            self._clock_held = held
            logger.warning(
                "the clock went back from %r to %r: the desk's time is held at %r until it catches up", held, reading, held
            )
            self._emit(
                EventKind.CLOCK_WENT_BACK,
                held,
                detail=f"clock read {reading!r:.40} after {held!r}: time held at {held!r} until it catches up",
            )
        return held

    def _route_relaned(self, relaned: list[str], now: float) -> None:
        queue = self._queue
        for ticket_id in relaned:
            if ticket_id in queue and ticket_id not in self._res.tracks:
                if queue.holder(ticket_id) is None:
                    self._emit(EventKind.RELEASED, now, ticket_id, detail="hold ended or skills relaxed")
                if not self._paused:
                    self._route(ticket_id, "routed when its requirements widened")

    def _expire_one(self, now: float) -> None:
        expires, offer_id = heapq.heappop(self._expiry)
        offer = self._res.pending.get(offer_id)
        if offer is None:
            return
        try:
            self._give_back(offer, OfferStatus.EXPIRED, now, "not answered in time")
        except BaseException:
            heapq.heappush(self._expiry, (expires, offer_id))  # tried again on the next call
            self._due_at = min(self._due_at, expires)
            raise

    def _lapse_one(self) -> None:
        until, ticket_id, agent_id = heapq.heappop(self._retry)
        if not self._res.lapse(ticket_id, agent_id, until):
            return  # forgotten, or passed on again later
        if ticket_id in self._queue and not self._paused:
            self._route(ticket_id, "routed again after a pass lapsed")

    def _sla_one(self, now: float) -> None:
        _, kind, ticket_id, number = heapq.heappop(self._sla)
        if self._sla_latest.get(ticket_id) != number:
            return  # rescheduled since
        sent = self._sla_sent.setdefault(ticket_id, set())
        if kind == 1:
            del self._sla_latest[ticket_id]
            del self._sla_sent[ticket_id]
        ticket = self._waiting_ticket(ticket_id)
        if ticket is None or ticket.sla_due is None:
            return  # answered in time, or cancelled
        due = ticket.sla_due
        if (kind, due) in sent:
            return  # the deadline moved and came back: said already
        sent.add((kind, due))
        if kind == 0:
            self._emit(EventKind.SLA_WARNING, now, ticket_id, detail=f"SLA runs out at {due:g}")
        else:
            self._emit(EventKind.SLA_BREACHED, now, ticket_id, detail=f"SLA ran out at {due:g}")

    def _advance_for(self, ticket_id: str) -> float:
        # _advance for an operation on one ticket: a broken rule on that very
        # ticket must not stop the call that cancels or repairs it.
        try:
            return self._advance()
        except RuleError as exc:
            if exc.ticket_id != ticket_id:
                raise
            return self._now

    def _waiting_ticket(self, ticket_id: str) -> Ticket | None:
        # A ticket not yet answered: waiting, or offered but not accepted.
        track = self._res.tracks.get(ticket_id)
        if track is not None:
            return track.ticket if track.offer is not None else None
        return self._queue.get(ticket_id)

    def _schedule_sla(self, ticket: Ticket, now: float) -> None:
        due = ticket.sla_due
        if due is None:
            self._sla_latest.pop(ticket.id, None)
            return
        self._sla_count += 1
        number = self._sla_latest[ticket.id] = self._sla_count
        warning = self._sla_warning
        if warning is not None:
            heapq.heappush(self._sla, (due - warning, 0, ticket.id, number))
            self._due_at = min(self._due_at, due - warning)
        heapq.heappush(self._sla, (due, 1, ticket.id, number))
        self._due_at = min(self._due_at, due)

    def _affinity(self, ticket: Ticket, now: float) -> Offer | None:
        customer = ticket.customer_id
        if customer is None:
            return None
        roster = self._roster
        agent_id = roster.dedicated_agent(customer)
        why = "dedicated agent"
        if agent_id is None:
            agent_id = roster.last_agent(customer)
            why = "returning customer"
        if agent_id is None:
            return None  # as Roster._affinity_agent says
        state = self._rseam.states[agent_id]
        agent = state.agent
        requirement = ticket.requirement(now)
        # An agent who cannot take the ticket at all (skills, or no capacity
        # on its channel) gets no head start: holding would only delay it.
        if not requirement.satisfied_by(agent.skills) or agent.capacity_for(ticket.channel) == 0:
            return None
        if agent.status is AgentStatus.AVAILABLE and state.has_room(ticket.channel) and not self._paused:
            return self._offer_waiting(ticket.id, agent_id, f"{why} (affinity)", now)
        if self._affinity_wait > 0 and agent.status is not AgentStatus.OFFLINE:
            self._queue.hold(ticket.id, agent_id, now + self._affinity_wait)
            self._emit(EventKind.HELD, now, ticket.id, agent_id, detail=f"{why}: kept {self._affinity_wait:g}s")
        return None

    def _take_waiting(self, ticket_id: str) -> tuple[Ticket, int, Books3]:
        ticket, seq = self._seam.take(ticket_id)
        return ticket, seq, self._books.leave(ticket)

    def _requeue(self, ticket: Ticket, seq: int, books: Books3 | None = None) -> None:
        self._seam.restore(ticket, seq)
        self._books.enter(ticket, books)

    def _route(self, ticket_id: str, how: str) -> Offer | None:
        """Offer a waiting ticket to the best free qualified agent, if any."""
        requirement, channel, holder = self._seam.lane(ticket_id)
        ticket = self._seam.get(ticket_id)
        assert ticket is not None
        passed = self._res.passed.get(ticket_id)
        if holder is not None:
            state = self._rseam.states.get(holder)
            if (
                state is not None
                and state.agent.status is AgentStatus.AVAILABLE
                and state.has_room(channel)
                and requirement.satisfied_by(state.agent.skills)
                and not (passed and holder in passed)
            ):
                return self._offer_waiting(ticket_id, holder, "held for this agent (affinity)", self._now)
            return None
        best_agent = self._presence.pick(ticket, requirement, channel, passed)
        if best_agent is None:
            return None
        return self._offer_waiting(ticket_id, best_agent, f"{how}: {self._selection.name}", self._now)

    def _offer_waiting(self, ticket_id: str, agent_id: str, how: str, now: float) -> Offer:
        # Take a waiting ticket out of the queue and offer it; if a user
        # callback (the strategy's describe, say) raises, it goes back.
        ticket, seq, books = self._take_waiting(ticket_id)
        try:
            return self._offer(ticket, seq, agent_id, how, now, books)
        except BaseException:
            self._requeue(ticket, seq, books)
            raise

    def _fill(self, agent_id: str, how: str) -> int:
        """Offer an agent the best waiting tickets it has room for; return
        how many offers were made."""
        if self._paused:
            return 0
        state = self._rseam.states.get(agent_id)
        if state is None or state.agent.status is not AgentStatus.AVAILABLE:
            return 0
        agent = state.agent
        simple = len(agent.capacity) == 1 and ANY_CHANNEL in agent.capacity
        channels: Container[str | None] | None = None if simple else _RoomFilter(state)
        skipped: list[tuple[Ticket, int]] = []
        queue, seam = self._queue, self._seam
        passed_by = self._res.passed
        now = self._now
        offered = 0
        try:
            while True:
                if simple and state.load[ANY_CHANNEL] >= agent.capacity[ANY_CHANNEL]:
                    break
                if not len(queue):
                    break  # nothing waits: the usual state of a calm desk, O(1)
                found = seam.take_best(agent.skills, channels, agent_id)  # the lock is held
                if found is None:
                    break
                ticket, seq = found
                passed = passed_by.get(ticket.id)
                if passed and agent_id in passed:
                    skipped.append(found)
                    continue
                # A user callback (classify, the strategy) that raises must not
                # lose the ticket: the finally below puts it back.
                try:
                    books = self._books.leave(ticket)
                except BaseException:
                    skipped.append(found)
                    raise
                try:
                    self._offer(ticket, seq, agent_id, f"{how}: best waiting ticket for this agent", now, books)
                except BaseException:
                    Books.undo_leave(books)
                    skipped.append(found)
                    raise
                offered += 1
        finally:
            for ticket, seq in skipped:
                seam.restore(ticket, seq)
        return offered

    def _offer(self, ticket: Ticket, seq: int, agent_id: str, how: str, now: float, books: Books3) -> Offer:  # noqa: PLR0917
        state = self._rseam.states[agent_id]
        agent = state.agent
        channel = ticket.channel
        capacity = agent.capacity
        # Agent.slot_for, inline: this runs once per offer.
        slot = channel if channel is not None and channel in capacity else ANY_CHANNEL
        assert slot in capacity
        selection = self._selection
        # For LongestIdle only idle_since is kept, worded by _idle_note if explained.
        note = state.idle_since if selection.__class__ is LongestIdle else selection.describe(agent, state, ticket)
        res = self._res
        count = res.count = res.count + 1  # Reservations.next_id, inline
        offer_id = f"{res.name}-{count}"
        timeout = self._offer_timeout
        if timeout is None:
            expires = math.inf
        else:
            expires = now + timeout
            if expires <= now:  # a timeout too small to register at this clock's magnitude
                expires = math.nextafter(now, _INF)
        offer = Offer(offer_id, ticket, agent_id, now, expires, how)
        res.pending[offer_id] = offer
        res.tracks[ticket.id] = Track(ticket, seq, agent_id, slot, offer, note, how, books)
        if timeout is not None:
            heapq.heappush(self._expiry, (expires, offer_id))
            if expires < self._due_at:  # noqa: PLR1730 - no builtin call on the hot path
                self._due_at = expires
        state.load[slot] += 1  # the roster keeps a load entry for every capacity key
        state.offered += 1
        state.last_offer = count
        state.idle_since = now
        self._presence.refresh(state)
        inbox = res.inbox.get(agent_id)  # Reservations.post, inline
        if inbox is None:
            res.inbox[agent_id] = deque((offer_id,))
        else:
            inbox.append(offer_id)
        self._emit(EventKind.OFFERED, now, ticket.id, agent_id, offer_id, how)
        waiters = self._waiters
        if waiters.conditions or waiters.async_waiters:  # Waiters.any, inline
            waiters.wake(agent_id)
        return offer

    def _deliver(self, agent_id: str) -> Offer | None:
        self._rseam.state(agent_id)
        if not self._res.inbox.get(agent_id):
            self._fill(agent_id, "pulled by the agent")
        return self._res.hand_out(agent_id)

    def _pending(self, offer: Offer | str) -> Offer:
        return self._res.pending_offer(offer)

    def _close(self, offer: Offer, status: OfferStatus, now: float, detail: str) -> None:
        self._res.close(offer, status)

    def _give_back(self, offer: Offer, status: OfferStatus, now: float, detail: str) -> None:
        """Decline, expiry or revocation: the ticket goes back to its place."""
        track = self._res.tracks[offer.ticket.id]
        # If the policy cannot place the ticket (a rule raising), or classify
        # fails, say so before anything changes: the offer stays pending.
        self._seam.check_placeable(track.ticket, now)
        books = self._books.of(track.ticket)
        agent_id = offer.agent_id
        self._close(offer, status, now, detail)
        self._untrack(track, now)
        ticket = track.ticket
        state = self._rseam.states.get(agent_id)
        if status is not OfferStatus.REVOKED:
            self._pass(ticket.id, agent_id, now)
            if status is OfferStatus.DECLINED:
                Books.count_declined(books)
                if state is not None:
                    state.declined += 1
            else:
                Books.count_expired(books)
                if state is not None:
                    state.expired += 1
        kind = {
            OfferStatus.DECLINED: EventKind.DECLINED,
            OfferStatus.EXPIRED: EventKind.EXPIRED,
            OfferStatus.REVOKED: EventKind.REVOKED,
        }[status]
        self._requeue(ticket, track.seq, books)
        self._emit(kind, now, ticket.id, agent_id, offer.id, detail)
        self._check_routable(ticket, now)  # its agent may have changed so that nobody can take it
        if (
            status is OfferStatus.EXPIRED
            and self._mark_not_responding
            and state is not None
            and state.agent.status is AgentStatus.AVAILABLE
        ):
            self._roster.replace(state.agent.evolve(status=AgentStatus.NOT_RESPONDING))
        if not self._paused:
            if ticket.id in self._queue:
                self._route(ticket.id, "routed again after an offer was given back")
            if status is not OfferStatus.REVOKED:
                self._fill(agent_id, "freed by giving an offer back")

    def _recheck_track(self, track: Track, now: float) -> None:
        """After a ticket or its agent changed: move the load to the right
        capacity key, and take back an offer the agent no longer qualifies for."""
        state = self._rseam.states.get(track.agent_id)
        if state is None:
            return
        agent = state.agent
        ticket = track.ticket
        slot = agent.slot_for(ticket.channel)
        if slot is not None and slot != track.slot:
            state.load[track.slot] -= 1
            state.load[slot] = state.load.get(slot, 0) + 1
            track.slot = slot
            self._presence.refresh(state)
        offer = track.offer
        if offer is not None and (slot is None or not ticket.skills.satisfied_by(agent.skills)):
            self._give_back(offer, OfferStatus.REVOKED, now, "the agent no longer qualifies")

    def _recheck_agent(self, agent_id: str, now: float) -> None:
        for track in self._res.tracks_of(agent_id):
            if track.ticket.id in self._res.tracks:  # a revocation may have routed others
                self._recheck_track(track, now)

    def _pass(self, ticket_id: str, agent_id: str, now: float) -> None:
        # The agent passed on the ticket: not offered it again for a while.
        until = math.inf if self._retry_after is None else now + self._retry_after
        self._res.pass_on(ticket_id, agent_id, until)
        if self._retry_after is not None:
            heapq.heappush(self._retry, (until, ticket_id, agent_id))
            self._due_at = min(self._due_at, until)

    def _finish(self, track: Track, now: float, kind: EventKind, how: str) -> None:
        # A ticket leaves for good (completed or cancelled): free its agent,
        # who may get the next waiting ticket at once.
        state = self._untrack(track, now, refresh=False)
        offered = 0
        try:
            self._res.forget_passes(track.ticket.id)
            self._emit(kind, now, track.ticket.id, track.agent_id)
            offered = self._fill(track.agent_id, how)
        finally:
            # An offer refreshed the agent's place in the free heaps already;
            # otherwise it is done once here, not before and after the fill.
            if state is not None and not offered:
                self._presence.refresh(state)

    def _untrack(self, track: Track, now: float, refresh: bool = True) -> AgentState | None:
        """Forget a ticket's offer or assignment and free the agent's room
        (its place in the free heaps refreshed unless ``refresh`` is false:
        then the caller must call _refresh).  Return the agent's state."""
        del self._res.tracks[track.ticket.id]
        state = self._rseam.states.get(track.agent_id)
        if state is not None:
            state.load[track.slot] -= 1
            state.idle_since = max(state.idle_since, now)
            if refresh:
                self._presence.refresh(state)
        return state

    def _assigned(self, ticket_id: str, agent_id: str | None) -> Track:
        return self._res.assigned_track(ticket_id, agent_id, ticket_id in self._queue)

    def _revoke_offers(self, agent_id: str, now: float, detail: str) -> None:
        for offer in self._res.offers_to(agent_id):
            self._give_back(offer, OfferStatus.REVOKED, now, detail)

    # -- agent index -------------------------------------------------------------

    def _on_agent_change(self, agent_id: str, old: Agent | None, new: Agent | None) -> None:
        # Called by the roster, under the lock, after every change (perhaps
        # made on the roster directly, with no _advance before).
        now = self._read_clock()
        if new is None:
            self._presence.unplace(agent_id)
            self._emit(EventKind.AGENT_CHANGED, now, agent_id=agent_id, detail="left")
            self._recheck_routability(now)
            self._release_holds(agent_id, now)
            self._waiters.forget(agent_id)  # its waiting threads and coroutines learn it is gone
            return
        state = self._rseam.states[agent_id]
        if old is None:
            self._presence.place(state)
            self._emit(EventKind.AGENT_CHANGED, now, agent_id=agent_id, detail=_joined(new))
            self._recheck_routability(now)
            if not state.total_capacity:
                _warn_no_capacity(agent_id, "joined with")
        else:
            moved = profile_key(old) != profile_key(new)
            if moved:
                self._presence.unplace(agent_id)
                self._presence.place(state)
            else:
                self._presence.refresh(state)
            changed = [f.name for f in attrs.fields(Agent) if getattr(old, f.name) != getattr(new, f.name)]
            detail = "changed " + ", ".join(changed)
            if any(old.capacity.values()) and not any(new.capacity.values()):
                detail += "; capacity 0 on every channel: it can take no ticket"
                _warn_no_capacity(agent_id, "was changed to")
            self._emit(EventKind.AGENT_CHANGED, now, agent_id=agent_id, detail=detail)
            self._recheck_routability(now)
            if moved:
                self._recheck_agent(agent_id, now)
            if new.status is not AgentStatus.AVAILABLE:
                self._revoke_offers(agent_id, now, f"agent is {new.status.value}")
            if new.status is AgentStatus.OFFLINE:
                self._release_holds(agent_id, now)
        if new.status is AgentStatus.AVAILABLE:
            self._fill(agent_id, "agent became able to take work")

    def _release_holds(self, agent_id: str, now: float) -> None:
        # Tickets kept for an agent who went offline or left go to anyone.
        queue = self._queue
        held = self._seam.held_by(agent_id)
        for ticket_id in held:
            queue.release(ticket_id)
            self._emit(EventKind.RELEASED, now, ticket_id, agent_id, detail="its agent is no longer available")
            if not self._paused:
                self._route(ticket_id, "routed when its hold was released")

    # -- routability --------------------------------------------------------------

    def _why_unroutable(self, ticket: Ticket) -> str:
        skills = ticket.skills
        if not len(self._roster):
            return "the roster is empty"
        if not self._presence.anyone_has(skills):
            needs = ", ".join(f"{name!r} >= {level}" for name, level in skills.items())
            return f"no agent on the roster has skills {needs}"
        channel = "without a channel" if ticket.channel is None else f"on channel {ticket.channel!r}"
        return f"no agent on the roster with its skills takes tickets {channel}"

    def _check_routable(self, ticket: Ticket, now: float, why: str = "") -> None:
        # A ticket now waiting (new, updated or handed back): flag it, once,
        # if no agent could ever take it; clear the flag if one now could.
        ticket_id = ticket.id
        if self._presence.routable(ticket.skills, ticket.channel):
            if self._unroutable and ticket_id in self._unroutable:
                del self._unroutable[ticket_id]
                self._emit(EventKind.ROUTABLE, now, ticket_id, detail=why or "an agent can take it")
            return
        if ticket_id in self._unroutable:
            return
        self._unroutable[ticket_id] = None
        reason = self._why_unroutable(ticket)
        logger.warning("ticket %r is unroutable: %s", ticket_id, reason)
        self._emit(EventKind.UNROUTABLE, now, ticket_id, detail=reason)

    def _recheck_routability(self, now: float) -> None:
        """After a roster change: if some profile gained its first agent,
        flagged tickets may be routable now; if one lost its last, waiting
        tickets may have become unroutable (a scan of the queue, but only
        then: the last agent with a skill leaving is rare)."""
        presence = self._presence
        widened, narrowed = presence.widened, presence.narrowed
        if not (widened or narrowed):
            return
        presence.widened = presence.narrowed = False
        presence.routable_memo.clear()
        queue = self._queue
        if widened and self._unroutable:
            for ticket_id in list(self._unroutable):
                ticket = queue.get(ticket_id) if ticket_id not in self._res.tracks else None
                if ticket is None:
                    del self._unroutable[ticket_id]  # no longer waiting
                elif self._presence.routable(ticket.skills, ticket.channel):
                    del self._unroutable[ticket_id]
                    self._emit(EventKind.ROUTABLE, now, ticket_id, detail="the roster changed: an agent can take it")
        if narrowed:
            for ticket in queue:
                if ticket.id not in self._unroutable and not self._presence.routable(ticket.skills, ticket.channel):
                    self._check_routable(ticket, now)

    def _unroutable_count(self) -> int:
        queue, tracks = self._queue, self._res.tracks
        for ticket_id in [t for t in self._unroutable if t in tracks or t not in queue]:
            del self._unroutable[ticket_id]  # left the queue (cancelled through the queue, say)
        return len(self._unroutable)

    # -- batch assignment ----------------------------------------------------------

    def _assign_all_locked(self) -> list[Offer]:
        if self._paused:
            return []
        queue = self._queue
        now = self._now
        offers: list[Offer] = []
        # 1. Held tickets go to their holder if it has room.
        # 2. The rest: greedy in priority order with augmenting paths over
        #    nodes (agent profile, capacity key) whose free room is counted.
        nodes: dict[tuple[int, str], int] = {}  # (profile id, slot) -> free room
        node_profile: dict[tuple[int, str], Profile] = {}
        for profile in self._presence.profiles.values():
            for slot in profile.capacity:
                room = 0
                for agent_id in profile.agents:
                    state = self._rseam.states[agent_id]
                    if state.agent.status is AgentStatus.AVAILABLE:
                        room += max(0, state.agent.capacity.get(slot, 0) - state.load.get(slot, 0))
                if room:
                    node = (profile.number, slot)
                    nodes[node] = room
                    node_profile[node] = profile
        if not nodes:
            return offers
        backlog = self._seam.backlog()
        plain: list[tuple[Ticket, Any]] = []  # (ticket, lane)
        held: list[Ticket] = []
        declined: list[str] = []
        for ticket, lane in backlog:
            if lane[2] is not None:
                held.append(ticket)
            elif self._res.passed.get(ticket.id):
                declined.append(ticket.id)
            else:
                plain.append((ticket, lane))
        for ticket in held:
            if ticket.id in queue:
                offer = self._route(ticket.id, "batch assignment (held for this agent)")
                if offer is not None:
                    offers.append(offer)
                    node = (self._presence.profile_of[offer.agent_id].number, self._res.tracks[ticket.id].slot)
                    if node in nodes:
                        nodes[node] -= 1
        adjacency: dict[tuple[SkillSet, str | None], list[tuple[int, str]]] = {}

        def adjacent(lane_key: tuple[SkillSet, str | None]) -> list[tuple[int, str]]:
            found = adjacency.get(lane_key)
            if found is None:
                requirement, channel = lane_key
                found = []
                for profile in self._presence.eligible(requirement):
                    slot = profile.slot_for(channel)
                    if slot is not None and (profile.number, slot) in node_profile:
                        found.append((profile.number, slot))
                adjacency[lane_key] = found
            return found

        fit = self._selection.fit

        by_id = {t.id: t for t, _ in plain}

        def prefer(ticket_id: str, node: tuple[int, str]) -> tuple[Any, ...]:
            # The strategy's key of the best free agent in the node.
            profile = node_profile[node]
            heap = profile.free[node[1]]
            return (fit(profile.sample, by_id[ticket_id]), heap.peekitem()[1] if heap else ())

        # Ticket ids, not tickets, as keys: ids hash in O(1).
        where = priority_matching([(t.id, (lane[0], lane[1])) for t, lane in plain], nodes, adjacent, prefer)
        # Concrete agents, in priority order, each the strategy's best in its node.
        for ticket, _ in plain:
            target = where.get(ticket.id)
            if target is None:
                continue
            agent_id = node_profile[target].free[target[1]].peekitem()[0]
            offers.append(self._offer_waiting(ticket.id, agent_id, f"batch assignment: {self._selection.name}", now))
        for ticket_id in declined:
            if ticket_id in queue:
                offer = self._route(ticket_id, "batch assignment (after a decline)")
                if offer is not None:
                    offers.append(offer)
        return offers

    # -- events ---------------------------------------------------------------------

    def _flush(self) -> None:
        # Wake waiters if something now falls due before they would wake, then
        # deliver queued events to listeners, outside the lock.
        if self._waiters.keeper is not None:
            with self._lock:
                self._wake_keeper_if_due_earlier()
        if not self._trail.outbox:
            return
        with self._lock:
            events, listeners = self._trail.take_outbox()
        self._trail.deliver(events, listeners)

    # -- saving and restoring -----------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole desk as plain, JSON-serialisable data with a schema
        version: the waiting tickets at their exact places (arrival numbers,
        keys, lanes, holds, scheduled changes), the agents with their live
        state and the customers they served, the offers and assignments with
        their deadlines, the passes, every timer, the counters (offer and
        event numbers), the statistics and the audit trail, and the identity
        of the policy, selection strategy and classify function it ran with.
        :meth:`restore` gives a desk that behaves exactly as this one from
        here on.  Reads the desk as a read does (see ``advance_on_read``);
        raises :class:`InvalidArgument` inside :meth:`paused`.

        Runtime complexity: O(n log n + A·H + offers + audit).

        >>> import json
        >>> from triage_queue import ManualClock
        >>> d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana")])
        >>> d.submit(Ticket("T-1", 0.0)).id
        'offer-1'
        >>> copy = Dispatcher.restore(json.loads(json.dumps(d.snapshot())), clock=ManualClock(0.0))
        >>> copy.status("T-1"), copy.submit(Ticket("T-2", 0.0)), copy.offers_for("ana")[0].id
        ('offered', None, 'offer-1')
        """
        try:
            with self._lock:
                if self._paused:
                    raise InvalidArgument("snapshot", None, "a desk cannot be saved inside paused()")
                self._read_advance()
                return self._export()
        finally:
            self._flush()

    def _export(self) -> dict[str, Any]:
        latest = self._sla_latest
        # The timers as they are, entries made stale by later changes
        # included, so that next_due() is the same after a restore.
        sla = sorted((at, kind, ticket_id, latest.get(ticket_id) == number) for at, kind, ticket_id, number in self._sla)
        classify = self._books.classify
        return {
            "schema": SCHEMA,
            "version": VERSION,
            "name": self._name,
            "now": number(self._now),
            "clock_held": self._clock_held,
            "settings": {
                "offer_timeout": self._offer_timeout,
                "mark_not_responding": self._mark_not_responding,
                "affinity_wait": self._affinity_wait,
                "retry_after": self._retry_after,
                "sla_warning": self._sla_warning,
                "audit": self._trail.keep,
                "refuse_unroutable": self._refuse_unroutable,
                "advance_on_read": self._advance_on_read,
                "stats": self._stats,
            },
            "policy": policy_identity(self._queue.policy),
            "selection": self._selection.name,
            "classify": "severity" if classify is default_classify else code_name(classify),
            "queue": {"next_seq": self._seam.next_seq, "tickets": self._seam.export()},
            "roster": self._roster.to_dict(),
            "profiles": self._presence.export(),
            "offers": self._res.export(),
            "timers": {
                "expiry": [[number(at), offer_id] for at, offer_id in sorted(self._expiry)],
                "retry": [[number(at), ticket_id, agent_id] for at, ticket_id, agent_id in sorted(self._retry)],
            },
            "sla": {
                "entries": [[number(at), kind, ticket_id, live] for at, kind, ticket_id, live in sla],
                "sent": [[ticket_id, kind, due] for ticket_id, sent in self._sla_sent.items() for kind, due in sorted(sent)],
            },
            "books": self._books.export(),
            "audit": self._trail.export(),
            "unroutable": list(self._unroutable),
        }

    @classmethod
    def restore(
        cls,
        data: Any,
        *,
        clock: Callable[[], float],
        policy: Policy | None = None,
        selection: Selection | None = None,
        classify: Callable[[Ticket], str] | None = None,
        on_listener_error: Callable[[Event, Exception], None] | None = None,
    ) -> Dispatcher:
        """A desk that behaves exactly as the one that made ``data`` (see
        :meth:`snapshot`) from the moment it was made: the same results,
        events, offer ids and event numbers for the same operations at the
        same clock readings.  Its settings come from the snapshot; the code
        it ran with must be given again: ``policy`` (default
        :meth:`Policy.default`), ``selection`` (default :class:`LongestIdle`)
        and ``classify``, and must match what the snapshot records (rule
        names and parameters; strategy and function names), or
        :class:`InvalidArgument` names the difference.  No listener is
        called while restoring.  The data is checked: anything malformed or
        inconsistent raises :class:`InvalidArgument` (or the error of the
        value it describes) naming its path, and a snapshot of another
        schema version is refused naming it.

        Runtime complexity: O(n + A·H + offers + audit) plus parsing.
        """
        top = Reader(data, "snapshot")
        if top.raw("schema", None) != SCHEMA:
            raise InvalidArgument("snapshot.schema", top.raw("schema", None), f"not a desk snapshot (expected {SCHEMA!r})")
        version = top.raw("version", None)
        if version != VERSION:
            raise InvalidArgument(
                "snapshot.version", version, f"this library reads desk snapshots of version {VERSION}, not {version!r}"
            )
        policy = Policy.default() if policy is None else policy
        if not isinstance(policy, Policy):
            raise InvalidArgument("policy", policy, "expected a triage_queue.Policy")
        difference = policy_difference(top.raw("policy"), policy_identity(policy))
        if difference is not None:
            raise InvalidArgument("policy", policy, f"not the policy the snapshot was made with: {difference}")
        selection = LongestIdle() if selection is None else selection
        recorded = top.string("selection")
        if not isinstance(selection, Selection) or selection.name != recorded:
            raise InvalidArgument("selection", selection, f"the snapshot was made with selection {recorded!r}")
        recorded = top.string("classify")
        given = "severity" if classify is None else code_name(classify)
        if given != recorded:
            raise InvalidArgument("classify", classify, f"the snapshot was made with classify {recorded!r}, not {given!r}")
        settings = top.table("settings")
        desk = cls(
            TicketQueue(policy, clock=clock),
            (),
            selection=selection,
            offer_timeout=settings.real("offer_timeout", allow_none=True),
            mark_not_responding=settings.flag("mark_not_responding"),
            affinity_wait=settings.real("affinity_wait"),
            retry_after=settings.real("retry_after", allow_none=True),
            sla_warning=settings.real("sla_warning", allow_none=True),
            classify=classify,
            audit=settings.integer("audit", high=MAX_AUDIT),
            refuse_unroutable=settings.flag("refuse_unroutable"),
            advance_on_read=settings.flag("advance_on_read"),
            name=top.string("name"),
            stats=settings.flag("stats") if "stats" in settings.data else True,
            on_listener_error=on_listener_error,
        )
        with desk._lock:
            desk._load(top)
        return desk

    def _load(self, top: Reader) -> None:
        # Fill this new, empty desk from a snapshot.  Lock held.
        now = top.real("now")
        held = top.real("clock_held", allow_none=True)
        if not -_INF < now < _INF or (held is not None and not now <= held < _INF):
            raise InvalidArgument("snapshot.now", now, "expected a finite time (and a finite clock_held not before it, or none)")
        self._now, self._clock_held = now, held
        roster = Roster.from_dict(top.raw("roster"), clock=self._desk_clock, path="snapshot.roster")
        self._rseam.detach()
        self._rseam = rseam = roster.attach(self._on_agent_change)
        rseam.use(lock=self._lock, clock=self._desk_clock)
        self._roster = roster
        self._presence.load(top.seq("profiles"))
        for state in rseam.states.values():
            self._presence.place(state)
        self._presence.widened = self._presence.narrowed = False
        queue = top.table("queue")
        records = queue.seq("tickets").data
        next_seq = queue.integer("next_seq")
        try:
            self._seam.load(records, next_seq, path=f"{queue.path}.tickets")
        except TriageError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, RecursionError) as exc:
            # Data the queue's own checks let through: still the library's error.
            raise InvalidArgument(queue.path, type(exc).__name__, f"the queue's tickets do not load: {exc}"[:300]) from None
        self._books.load(top.table("books"))
        get, enter = self._queue.get, self._books.enter
        for record in records:  # checked by the load: each names a ticket now waiting
            ticket = get(record["ticket"]["id"])
            assert ticket is not None
            enter(ticket)
        self._res.load(top.table("offers"), self._books.of)
        timers = top.table("timers")
        for entry in timers.seq("expiry").items():
            self._expiry.append(entry.fields(float, str))
        for entry in timers.seq("retry").items():
            self._retry.append(entry.fields(float, str, str))
        for offer in self._res.pending.values():
            if offer.expires_at != _INF and (offer.expires_at, offer.id) not in self._expiry:
                raise InvalidArgument("snapshot.timers.expiry", offer.id, "a pending offer's deadline is not scheduled")
        heapq.heapify(self._expiry)
        heapq.heapify(self._retry)
        sla = top.table("sla")
        timers_of: dict[str, list[tuple[int, float]]] = {}  # the live timers of each ticket
        for entry in sla.seq("entries").items():
            at, kind, ticket_id, live = entry.fields(float, int, str, bool)
            if kind not in (0, 1) or at != at:
                raise InvalidArgument(entry.path, entry.data, "expected [instant, 0 (warning) or 1 (breach), ticket id, live]")
            number = 0  # a stale entry: never a ticket's latest
            if live:
                timers_of.setdefault(ticket_id, []).append((kind, at))
                number = self._sla_latest.get(ticket_id, 0)
                if not number:
                    self._sla_count += 1
                    number = self._sla_latest[ticket_id] = self._sla_count
            self._sla.append((at, kind, ticket_id, number))
        heapq.heapify(self._sla)
        for entry in sla.seq("sent").items():
            ticket_id, kind, due = entry.fields(str, int, float)
            if kind not in (0, 1) or ticket_id not in timers_of:
                raise InvalidArgument(entry.path, entry.data, "a notice (0 or 1) sent for a ticket with no live SLA timer")
            self._sla_sent.setdefault(ticket_id, set()).add((kind, due))
        self._verify_sla(timers_of, sla.path + ".entries")
        self._reset_due()
        self._trail.load(top.table("audit"))
        for item in top.seq("unroutable").items():
            if not isinstance(item.data, str) or item.data not in self._queue:
                raise InvalidArgument(item.path, item.data, "expected the id of a waiting ticket")
            self._unroutable[item.data] = None
        self._verify_loaded(top.path)

    def _verify_sla(self, timers_of: dict[str, list[tuple[int, float]]], path: str) -> None:
        # A ticket's live SLA timers are one breach and at most one warning
        # (none without sla_warning); a ticket still unanswered has them at
        # its deadline.
        warning = self._sla_warning
        for ticket_id, timers in timers_of.items():
            kinds = sorted(kind for kind, _ in timers)
            if kinds not in ([1], [0, 1]) or (kinds[0] == 0 and warning is None):
                raise InvalidArgument(path, ticket_id, "a ticket's live SLA timers must be one breach and at most one warning")
            ticket = self._waiting_ticket(ticket_id)
            if ticket is None:
                continue  # answered or gone: its timers fire and find nothing to say
            due = ticket.sla_due
            if due is None or any(at != (due if kind else due - (warning or 0.0)) for kind, at in timers):
                raise InvalidArgument(path, ticket_id, "a live SLA timer not at its ticket's deadline")

    def _verify_loaded(self, path: str) -> None:
        # What the parts cannot check alone: tracks, loads and the queue agree.
        load: dict[tuple[str, str], int] = {}
        for ticket_id, track in self._res.tracks.items():
            state = self._rseam.states.get(track.agent_id)
            if state is None or track.slot not in state.load or ticket_id in self._queue:
                raise InvalidArgument(f"{path}.offers", ticket_id, "an offered or assigned ticket with no agent to hold it")
            if (track.offer is None) == (track.assigned_at is None):
                raise InvalidArgument(f"{path}.offers", ticket_id, "a ticket must be either offered or assigned (with its time)")
            agent, ticket = state.agent, track.ticket
            slot = agent.slot_for(ticket.channel)
            if slot not in (None, track.slot) or (
                track.offer is not None
                and (slot is None or agent.status is not AgentStatus.AVAILABLE or not ticket.skills.satisfied_by(agent.skills))
            ):
                raise InvalidArgument(
                    f"{path}.offers", ticket_id, "out on the wrong capacity key, or offered to an agent who cannot take it"
                )
            load[(track.agent_id, track.slot)] = load.get((track.agent_id, track.slot), 0) + 1
        joined = [state.joined for state in self._rseam.states.values()]
        if len(set(joined)) != len(joined):
            raise InvalidArgument(f"{path}.roster", joined, "two agents with one join number")
        for agent_id, state in self._rseam.states.items():
            for slot, used in state.load.items():
                if used != load.get((agent_id, slot), 0):
                    raise InvalidArgument(f"{path}.roster", agent_id, f"its load on {slot!r} disagrees with its tickets")
        for ticket_id in self._res.passed:
            if ticket_id not in self._res.tracks and ticket_id not in self._queue:
                raise InvalidArgument(f"{path}.offers.passed", ticket_id, "a pass on a ticket neither waiting nor out")
        self._verify_waiting(path)

    def _verify_waiting(self, path: str) -> None:
        # Each waiting ticket has a key the policy can compute and a holder
        # on the roster, and the desk is work-conserving as a saved desk
        # always is: no available agent with room qualifies for a waiting
        # ticket it has not passed on and that is not held for another.
        # By lane, so that a sound desk costs O(n·R + lanes·agents + passes
        # + holds·agents).
        now, sort_key, states = self._now, self._queue.policy.sort_key, self._rseam.states
        lanes: dict[tuple[SkillSet, str | None], list[tuple[str, str | None]]] = {}
        for ticket in self._queue:
            try:
                sort_key(ticket, now)
            except RuleError as exc:
                raise InvalidArgument(f"{path}.queue", ticket.id, f"the policy cannot place it: {exc}"[:300]) from None
            requirement, channel, holder = self._seam.lane(ticket.id)
            if holder is not None and (holder not in states or states[holder].agent.status is AgentStatus.OFFLINE):
                raise InvalidArgument(f"{path}.queue", ticket.id, f"held for {holder!r}, who is not on the roster or offline")
            lanes.setdefault((requirement, channel), []).append((ticket.id, holder))
        passed = self._res.passed
        for (requirement, channel), tickets in lanes.items():
            for agent_id, state in states.items():
                agent = state.agent
                if not (
                    agent.status is AgentStatus.AVAILABLE and state.has_room(channel) and requirement.satisfied_by(agent.skills)
                ):
                    continue
                for ticket_id, holder in tickets:
                    if agent_id not in passed.get(ticket_id, ()) and holder in (None, agent_id):
                        raise InvalidArgument(f"{path}.queue", ticket_id, f"waiting while agent {agent_id!r} is free to take it")

    def __repr__(self) -> str:
        return (
            f"<Dispatcher: {len(self._queue)} waiting, {len(self._res.pending)} offered, "
            f"{len(self._res.tracks) - len(self._res.pending)} assigned, {len(self._roster)} agent(s)>"
        )

    def _check(self) -> None:
        """Apply what is due, then assert every invariant (used by the test suite)."""
        with self._lock:
            self._advance()
            self._queue._check()
            self._roster._check()
            self._trail._check()
            self._waiters._check()
            self._res._check()
            load: dict[tuple[str, str], int] = {}
            for ticket_id, track in self._res.tracks.items():
                assert ticket_id not in self._queue, "a ticket is both waiting and out"
                load[(track.agent_id, track.slot)] = load.get((track.agent_id, track.slot), 0) + 1
            for agent_id, state in self._rseam.states.items():
                for slot, used in state.load.items():
                    assert used == load.get((agent_id, slot), 0), f"load of {agent_id!r} on {slot!r} is wrong"
            self._presence._check(self._rseam.states)
            waiting = len(self._queue)
            self._books._check(waiting)
            if not self._paused:
                self._check_work_conserving()

    def _check_work_conserving(self) -> None:
        # No available agent with room has a waiting ticket it may take
        # (except ones it passed on, or held for another agent).
        now = self._clock()
        for ticket in self._queue:
            requirement, channel, holder = self._seam.lane(ticket.id)
            passed = self._res.passed.get(ticket.id, {})
            for agent_id, state in self._rseam.states.items():
                agent = state.agent
                if (
                    agent.status is AgentStatus.AVAILABLE
                    and state.has_room(channel)
                    and requirement.satisfied_by(agent.skills)
                    and agent_id not in passed
                    and (holder is None or holder == agent_id)
                ):
                    raise AssertionError(f"agent {agent_id!r} is free for waiting ticket {ticket.id!r} at {now}")


def _changed(ticket: Ticket, changes: dict[str, Any]) -> dict[str, Any]:
    # The new values of the changed fields, as plain data (for the event).
    if not changes:
        return {}
    try:
        data = ticket.to_dict()
    except TriageError:  # attributes that are not JSON data: the changed fields in words
        return {name: repr(getattr(ticket, name, None))[:200] for name in sorted(changes)}
    return {name: data[name] for name in sorted(changes) if name in data}


def _warn_no_capacity(agent_id: str, how: str) -> None:
    logger.warning("agent %r %s capacity 0 on every channel: it can take no ticket", agent_id, how)


def _joined(agent: Agent) -> str:
    detail = f"joined, {agent.status.value}"
    if not any(agent.capacity.values()):
        detail += "; capacity 0 on every channel: it can take no ticket"
    return detail


def _check_key(field: str, value: Any) -> None:
    # An id that is not a str: fine if hashable (it is simply unknown), else
    # the library's error naming the parameter rather than a bare TypeError.
    try:
        hash(value)
    except Exception as exc:
        raise InvalidKey(field, value, f"cannot be looked up: {exc}") from None


def _check_seconds(field: str, value: Any, *, allow_none: bool, positive: bool) -> None:
    if value is None and allow_none:
        return
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if not bad:
        try:
            bad = not math.isfinite(value)
        except OverflowError:  # an int too large for a float
            bad = True
    if bad or value < 0 or (positive and value == 0):
        expected = "a finite number of seconds " + ("> 0" if positive else ">= 0") + (", or None" if allow_none else "")
        raise InvalidArgument(field, value, f"expected {expected}")
