"""The desk: the routing core that applies one operation by asking the parts.

A :class:`Desk` owns the parts of one dispatcher (the queue and roster
through their seams, :class:`~triage_queue.dispatch.presence.Presence`,
:class:`~triage_queue.dispatch.offers.Reservations`, the statistics books,
the audit trail, the :class:`~triage_queue.dispatch.scheduler.Scheduler`,
:class:`~triage_queue.dispatch.routability.Routability` and the waiters) and
combines them: routing a ticket on arrival, filling an agent that frees up,
giving an offer back, holding a returning customer's ticket for its agent,
reacting to roster changes, and applying the timed changes as they fall
due.  Every method expects the caller (the facade) to hold the lock; the
facade validates arguments and delivers events.

Invariants (``_check``): every part's own, plus what no part can see
alone: each agent's load equals its offered and assigned tickets per
capacity key, no ticket is both waiting and out, and (unless paused) the
desk is work-conserving: no available agent with room qualifies for a
waiting ticket it has not passed on and that is not held for another.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Container, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from triage_queue.agents import ANY_CHANNEL, Agent, AgentState, AgentStatus, Roster, RosterSeam
from triage_queue.analytics import AnalyticsOptions
from triage_queue.dispatch.analytics import Analytics, NoAnalytics
from triage_queue.dispatch.audit import MAX_AUDIT, AuditTrail, log_listener_error, logger
from triage_queue.dispatch.batch import Batch
from triage_queue.dispatch.books import Books, Books3, NoBooks
from triage_queue.dispatch.checks import check_overflow, check_seconds, check_strain
from triage_queue.dispatch.explain import judge_agents
from triage_queue.dispatch.finished import DEFAULT_FINISHED_MEMORY, FinishedMemory, TicketStatus
from triage_queue.dispatch.finished import MAX_FINISHED_MEMORY as MAX_FINISHED
from triage_queue.dispatch.offers import Reservations, Track
from triage_queue.dispatch.overflow import Overflow, OverflowRule
from triage_queue.dispatch.presence import Presence, profile_key
from triage_queue.dispatch.routability import Routability
from triage_queue.dispatch.scheduler import EXPIRY, LAPSE, NOTHING, PART, QUEUE, Scheduler
from triage_queue.dispatch.snapshot import export_desk, load_desk
from triage_queue.dispatch.strain import COOLDOWN_END, Strain, StrainGuard
from triage_queue.dispatch.values import AgentVerdict, AssignmentExplanation, Offer, OfferStatus
from triage_queue.dispatch.waiting import Waiters, WaitRoom
from triage_queue.errors import AgentBusy, DuplicateTicket, InvalidArgument, RuleError, TriageError, UnknownTicket, Unroutable
from triage_queue.events import Event, EventKind
from triage_queue.queue import DeskSeam, TicketQueue
from triage_queue.selection import LongestIdle, Selection
from triage_queue.stats import AgentFigures, Statistics, WaitHistogram
from triage_queue.ticket import SkillSet, Ticket
from triage_queue.wire import Reader

__all__ = ["Desk"]

_T = TypeVar("_T")

_INF = math.inf
_CLOSING_EVENT = {
    OfferStatus.DECLINED: EventKind.DECLINED,
    OfferStatus.EXPIRED: EventKind.EXPIRED,
    OfferStatus.REVOKED: EventKind.REVOKED,
}


class _RoomFilter:
    """The channels an agent has room for now (a live view)."""

    __slots__ = ("state",)

    def __init__(self, state: AgentState) -> None:
        self.state = state

    def __contains__(self, channel: object) -> bool:
        return self.state.has_room(channel)  # type: ignore[arg-type]


class Desk:
    """The routing core of one dispatcher (see the module docstring).
    Settings arrive checked by the facade."""

    def __init__(
        self,
        queue: TicketQueue | None,
        clock: Callable[[], float] | None,
        selection: Selection | None,
        *,
        offer_timeout: float | None,
        mark_not_responding: bool,
        affinity_wait: float,
        retry_after: float | None,
        sla_warning: float | None,
        classify: Callable[[Ticket], str] | None,
        audit: int,
        refuse_unroutable: bool,
        on_listener_error: Callable[[Event, Exception], None] | None,
        advance_on_read: bool,
        name: str,
        stats: bool,
        analytics: AnalyticsOptions | Mapping[str, Any] | None = None,
        finished_memory: int = DEFAULT_FINISHED_MEMORY,
        overflow: OverflowRule | Iterable[OverflowRule] | None = None,
        strain: StrainGuard | None = None,
    ) -> None:
        """Check the settings (each bad one raises :class:`InvalidArgument`
        naming it, in the order of the parameters).  Without ``queue``, a new
        one on ``clock`` (default ``time.time``).  ``overflow`` and ``strain``
        configure the optional parts (see :mod:`~triage_queue.dispatch.overflow`
        and :mod:`~triage_queue.dispatch.strain`).  Runtime complexity: O(1)."""
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
        check_seconds("offer_timeout", offer_timeout, allow_none=True, positive=True)
        check_seconds("affinity_wait", affinity_wait, allow_none=False, positive=False)
        check_seconds("retry_after", retry_after, allow_none=True, positive=False)
        check_seconds("sla_warning", sla_warning, allow_none=True, positive=False)
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
        if isinstance(analytics, Mapping):  # plain data, as AnalyticsOptions.to_dict gives it
            analytics = AnalyticsOptions.from_dict(analytics)
        elif analytics is not None and not isinstance(analytics, AnalyticsOptions):
            raise InvalidArgument("analytics", analytics, "expected a triage_queue.AnalyticsOptions (or its to_dict()), or None")
        if isinstance(finished_memory, bool) or not isinstance(finished_memory, int) or not 0 <= finished_memory <= MAX_FINISHED:
            raise InvalidArgument("finished_memory", finished_memory, f"expected an int from 0 to {MAX_FINISHED:_}")
        rules = check_overflow(overflow, stats=stats)
        check_strain(strain)
        self.queue = queue
        self.lock: threading.RLock = queue.lock
        self.selection = selection
        self.offer_timeout = None if offer_timeout is None else float(offer_timeout)
        self.mark_not_responding = bool(mark_not_responding)
        self.affinity_wait = float(affinity_wait)
        self.retry_after = None if retry_after is None else float(retry_after)
        self.advance_on_read = bool(advance_on_read)
        self.name = name
        self.paused = 0
        # The audit trail keeps events as plain tuples, made into Event
        # values only when read (most are never read): far cheaper per call.
        self.trail = AuditTrail(audit, log_listener_error if on_listener_error is None else on_listener_error)
        self.emit = self.trail.emit  # bound once: called several times per ticket
        self.sched = Scheduler(queue.clock, sla_warning=None if sla_warning is None else float(sla_warning), emit=self.emit)
        self.res = Reservations(name)
        self.presence = Presence(selection)
        self.routes = Routability(self.presence, refuse=bool(refuse_unroutable), emit=self.emit)
        # With stats=False nothing is counted (NoBooks) and the hot paths
        # skip the books altogether; stats() then refuses.
        self.stats_on = stats
        self.books = (Books if stats else NoBooks)(classify, queue.get)
        # Per-agent performance, recurring issues and trends (analytics.py);
        # the last finished tickets, so a retried call says "already completed".
        self.analytics = (Analytics if stats else NoAnalytics)(analytics or AnalyticsOptions(), self.emit)
        self.finished = FinishedMemory(finished_memory)
        # Waiting threads and coroutines sleep until an offer is made to their
        # agent.  One of them, the *timekeeper*, also wakes when the next
        # time-driven change falls due, and applies it (which wakes exactly
        # the agents who get offers): no one else is woken by time.
        self.waiters = Waiters(self.lock)
        self.room = WaitRoom(
            self.waiters, pull=self.pull, flush=self.flush_keeping, quiet=lambda: not self.trail.outbox,
            due_in=self.seconds_to_due, clock=self.sched.clock, scheduled=lambda: self.next_instant() is not None,
        )  # fmt: skip
        # The optional parts (issue 13): None when not configured (or loaded
        # from a snapshot's sections, see load_desk).  A resting agent (cooling
        # down) is in no free heap: presence shares the strain part's map.
        self.overflow: Overflow | None = Overflow(rules, self.emit) if rules else None
        self.strain: Strain | None = None
        if strain is not None:
            self.strain = Strain(strain, self.sched, self.emit)
            self.presence.resting = self.strain.resting
        self.seam: DeskSeam  # set by attach()
        self.roster: Roster
        self.rseam: RosterSeam
        self.states: dict[str, AgentState]

    # -- attaching --------------------------------------------------------------

    def adopt(self, agents: Roster | Iterable[Agent]) -> tuple[Roster, RosterSeam]:
        """Attach a roster (given, or built from ``agents``) to this desk: its
        seam, with :meth:`on_agent_change` as its observer.  Raises
        :class:`InvalidArgument` for a roster with another dispatcher or
        with load, or for ``agents`` that are not agents.  Runtime complexity: O(A)."""
        if isinstance(agents, Roster):
            try:
                rseam = agents.attach(self.on_agent_change)
            except InvalidArgument:
                raise InvalidArgument("agents", agents, "this roster already has a dispatcher") from None
            if any(s.total_load for s in rseam.states.values()):
                rseam.detach()
                raise InvalidArgument("agents", agents, "roster agents must start with no load")
            return agents, rseam
        if agents is None or isinstance(agents, str | bytes | Agent) or not isinstance(agents, Iterable):
            raise InvalidArgument("agents", agents, "expected a Roster or an iterable of triage_queue.Agent")
        # Built (and validated) before anything is attached, so a bad agent
        # leaves the queue free for another attempt.
        roster = Roster(agents, clock=self.queue.clock)
        return roster, roster.attach(self.on_agent_change)

    def attach(self, roster: Roster, rseam: RosterSeam) -> None:
        """Take over the queue and ``roster`` (attached by the caller as
        ``rseam``): index the agents, count and schedule the waiting
        tickets, and assign the backlog.  On failure both are left as they
        were.  Lock held.  Runtime complexity: O(A log A + n)."""
        self.roster, self.rseam, self.states = roster, rseam, rseam.states
        sched, queue = self.sched, self.queue
        try:
            now = sched.read()  # a clock that cannot be read refuses the dispatcher
            self.seam = seam = queue.attach(self)
        except InvalidArgument as exc:
            rseam.detach()
            if exc.field != "queue":
                raise
            raise InvalidArgument("queue", queue, "this queue already has a dispatcher") from None
        except BaseException:
            rseam.detach()
            raise
        sched.queue_next = seam.next_change_at
        if not self.advance_on_read:
            seam.set_reads(False, as_of=sched.desk_time)
        # The queue and roster read the desk's time, which never goes back.
        seam.use_clock(sched.desk_clock)
        rseam.use(lock=self.lock, clock=sched.desk_clock)
        try:
            for agent_id, state in rseam.states.items():
                self.presence.place(state)
                self.emit(EventKind.AGENT_CHANGED, now, agent_id=agent_id, detail=_joined(state.agent))
                self.analytics.agent_changed(agent_id, state.agent, now)
                if not state.total_capacity:
                    _warn_no_capacity(agent_id, "joined with")
            self.presence.widened = self.presence.narrowed = False
            for ticket in queue:
                self.books.enter(ticket)
                sched.schedule_sla(ticket)
                self.routes.check(ticket, now, len(roster))
            self.assign_all()
        except BaseException:
            # A rule failing on a queued ticket: leave queue and roster as they were.
            seam.detach()
            rseam.detach()
            raise

    # -- after an operation ------------------------------------------------------

    def flush(self) -> None:
        """After an operation, outside the lock: wake the timekeeper if
        something now falls due before it would wake, then deliver queued
        events to listeners.  Runtime complexity: O(1) when nobody waits or
        listens; else O(events x listeners)."""
        waiters, trail = self.waiters, self.trail
        if waiters.keeper is not None:
            with self.lock:
                waiters.wake_keeper_if_due_earlier(self.next_instant())
        if not trail.outbox:
            return
        with self.lock:
            events, listeners = trail.take_outbox()
        trail.deliver(events, listeners)

    def flush_keeping(self, agent_id: str, offer: Offer | None) -> None:
        """:meth:`flush` for calls that hand out an offer: if a listener
        raises, the offer goes back to the front of the agent's inbox rather
        than being lost between the desk and the caller.  Runtime complexity: as :meth:`flush`."""
        if not self.trail.outbox and self.waiters.keeper is None:
            return  # flush has nothing to do
        try:
            self.flush()
        except BaseException:
            if offer is not None:
                with self.lock:
                    self.res.put_back(agent_id, offer.id)
            raise

    def resume(self) -> None:
        """The end of one ``paused()`` block: when the last ends, the backlog
        is assigned at once (:meth:`assign_all`).  Lock held.  Runtime complexity: as :meth:`assign_all`."""
        self.paused -= 1
        if not self.paused:
            try:
                self.advance()
            except BaseException:
                # The backlog is still assigned (at the desk's time), or it
                # would wait for an assign_all() nobody calls.
                with contextlib.suppress(Exception):
                    self.assign_all()
                raise
            self.assign_all()

    # -- time -------------------------------------------------------------------

    def advance(self) -> float:
        """Apply everything due by now, in the order it fell due (so a long
        gap between calls gives the same result as frequent ticks); return
        now.  Lock held.  Runtime complexity: O(1) when nothing is due."""
        sched = self.sched
        now = sched.clock()
        if now.__class__ is float and sched.now <= now < _INF:
            sched.now = now
            if sched.clock_held is not None:
                sched.clock_held = None  # caught up
        else:
            now = sched.odd_reading(now)
        seam = self.seam
        # Nothing is due in the usual case: then no loop over the schedules.
        if now >= sched.due_at or ((at := seam.next_change_at()) is not None and at <= now):
            try:
                self._apply_due(now)
            finally:
                sched.reset_due()
        relaned = seam.relaned()  # lanes changed by queue calls since the last time
        if relaned:
            self._route_relaned(relaned, now)
        if self.overflow is not None:
            self._review_overflow(now)
        return now

    def settle(self) -> None:
        """After an operation that succeeded: review the overflow rules again
        on the figures it left (at the desk's time), so that the submit that
        takes a group over its threshold starts the rule and a free backup
        helps at once, not at the next call.  Lock held.  Runtime complexity:
        O(rules · groups), plus O(A) when a rule starts or the roster changed."""
        if self.overflow is not None:
            self._review_overflow(self.sched.now)

    def _review_overflow(self, now: float) -> None:
        # Start or end overflow rules on the live figures; backups free when
        # a rule starts take the surging tickets at once.
        overflow = self.overflow
        assert overflow is not None
        if overflow.review(now, self.books.by_skills, self.states, self.presence.resting) and not self.paused:
            for agent_id, state in self.states.items():
                if overflow.augmented(state.agent.skills) is not None:
                    self._fill(agent_id, "overflow started")

    def _part_due(self, when: float, code: int, agent_id: str, now: float) -> None:
        # A strain timer fell due: a streak at its limit, or a cooldown's end.
        strain = self.strain
        if strain is None:
            return
        if code == COOLDOWN_END:
            if strain.end_due(agent_id, when, now):
                state = self.states.get(agent_id)
                if state is not None:
                    self.presence.refresh(state)
                    if self.overflow is not None:
                        self.overflow.roster_changed()
                    self._fill(agent_id, "cooldown ended")
            return
        why = strain.streak_due(agent_id, when)
        if why is not None:
            self._cool_down(agent_id, when, now, why)

    def _cool_down(self, agent_id: str, at: float, now: float, why: str) -> None:
        # The strain part says the agent needs a rest: no new offers until it ends.
        assert self.strain is not None
        self.strain.start(agent_id, at, now, why)
        state = self.states.get(agent_id)
        if state is not None:
            self.presence.refresh(state)
        if self.overflow is not None:
            self.overflow.roster_changed()  # its capacity no longer counts

    def _strain_finished(self, track: Track, now: float, completed: bool) -> None:
        # An accepted ticket left its agent: strain counts and overflow samples.
        if self.overflow is not None and completed and track.assigned_at is not None:
            self.overflow.served(track.ticket.skills, now - track.assigned_at)
        strain = self.strain
        if strain is not None and track.assigned_at is not None and track.agent_id in self.states:
            why = strain.finished(track.agent_id, track.ticket, now, completed=completed)
            if why is not None:
                self._cool_down(track.agent_id, now, now, why)

    def advance_for(self, ticket_id: str) -> float:
        """:meth:`advance` for an operation on one ticket: a broken rule on
        that very ticket must not stop the call that cancels or repairs it."""
        try:
            return self.advance()
        except RuleError as exc:
            if exc.ticket_id != ticket_id:
                raise
            return self.sched.now

    def advanced(self, change: Callable[..., _T], *args: Any) -> _T:
        """``change(*args)`` with the desk brought up to the clock first (a
        roster change, to which the desk reacts as the roster's observer; or
        a batch assignment).  Lock held."""
        self.advance()
        return change(*args)

    def read_time(self) -> float:
        """What a read does first: bring the desk up to the clock, or (with
        advance_on_read=False) report it as of the last operation."""
        return self.advance() if self.advance_on_read else self.sched.now

    def next_instant(self) -> float | None:
        """The clock time of the next time-driven change, or None.  Runtime complexity: O(1)."""
        return self.sched.next_instant(self.seam.next_change_at())

    def seconds_to_due(self) -> float | None:
        """Seconds until the next time-driven change, by the raw clock."""
        instant = self.next_instant()
        return None if instant is None else max(0.001, instant - self.sched.clock())

    def _apply_due(self, now: float) -> None:
        # Everything due by now, earliest first (see advance).
        sched, seam = self.sched, self.seam
        while True:
            when, source = sched.next_source(now)
            if source == NOTHING:
                break
            if source == QUEUE:
                self._route_relaned(seam.apply_due(when), now)
            elif source == EXPIRY:
                expires, offer_id = sched.pop_expiry()
                offer = self.res.pending.get(offer_id)
                if offer is not None:
                    try:
                        self._give_back(offer, OfferStatus.EXPIRED, now, "not answered in time")
                    except BaseException:
                        sched.schedule_expiry(expires, offer_id)  # tried again on the next call
                        raise
            elif source == PART:
                when, code, key = sched.pop_part()
                self._part_due(when, code, key, now)
            elif source == LAPSE:
                until, ticket_id, agent_id = sched.pop_lapse()
                # Not if forgotten, or passed on again later.
                if self.res.lapse(ticket_id, agent_id, until) and ticket_id in self.queue and not self.paused:
                    self._route(ticket_id, "routed again after a pass lapsed")
            else:
                notice = sched.pop_sla(self.unanswered)
                if notice is not None:
                    kind, ticket_id, due = notice
                    if kind == 0:
                        self.emit(EventKind.SLA_WARNING, now, ticket_id, detail=f"SLA runs out at {due:g}")
                    else:
                        self.emit(EventKind.SLA_BREACHED, now, ticket_id, detail=f"SLA ran out at {due:g}")

    def _route_relaned(self, relaned: list[str], now: float) -> None:
        queue = self.queue
        for ticket_id in relaned:
            if ticket_id in queue and ticket_id not in self.res.tracks:
                if queue.holder(ticket_id) is None:
                    self.emit(EventKind.RELEASED, now, ticket_id, detail="hold ended or skills relaxed")
                if not self.paused:
                    self._route(ticket_id, "routed when its requirements widened")

    def unanswered(self, ticket_id: str) -> Ticket | None:
        """A ticket not yet answered: waiting, or offered but not accepted."""
        track = self.res.tracks.get(ticket_id)
        if track is not None:
            return track.ticket if track.offer is not None else None
        return self.queue.get(ticket_id)

    def _waiting(self, ticket_id: str) -> Ticket | None:
        return self.queue.get(ticket_id) if ticket_id not in self.res.tracks else None

    # -- tickets ----------------------------------------------------------------

    def submit(self, ticket: Ticket) -> Offer | None:
        """Dispatcher.submit.  Runtime complexity: O(R + log n + G log A)."""
        now = self.advance()
        if not isinstance(ticket, Ticket):
            raise InvalidArgument("ticket", ticket, "expected a triage_queue.Ticket")
        if ticket.id in self.res.tracks:
            raise DuplicateTicket(ticket.id)
        if self.routes.refuse and not self.presence.routable(ticket.skills, ticket.channel):
            if ticket.id in self.queue:
                raise DuplicateTicket(ticket.id)  # what push would say: the more basic mistake
            raise Unroutable(ticket.id, self.routes.why(ticket, len(self.roster)))
        books = self.books.of(ticket)  # a failing classify raises before anything changes
        customer = ticket.customer_id
        if (
            self.presence.free
            and not self.paused
            # No agent to keep it for (see _affinity): routed as any other.
            and (customer is None or self.rseam.affinity_agent(customer) is None)
        ):
            offer = self._submit_to_free_agent(ticket, books, now)
            if offer is not None:
                return offer
        self.queue.push(ticket)
        self._admit(ticket, books, now)
        offer = self._affinity(ticket, now)
        # No free agent at all (the usual state under load): nothing
        # to route to, not even a holder (it would be free).
        if offer is None and not self.paused and self.presence.free and ticket.id in self.queue:
            offer = self._route(ticket.id, "routed on arrival")
        return offer

    def _submit_to_free_agent(self, ticket: Ticket, books: Books3, now: float) -> Offer | None:
        """submit() of a ticket with no affinity while some agent is free:
        if a free agent qualifies, offer the ticket to it straight away,
        without the round trip through the queue (push, then take out again)
        that the same outcome would otherwise cost.  None if no free agent
        qualifies, and nothing has changed then."""
        queue = self.queue
        if ticket.id in queue:
            raise DuplicateTicket(ticket.id)
        self.seam.check_placeable(ticket, now)  # what push would raise, before anything changes
        try:
            agent_id = self.presence.pick(ticket, ticket.requirement(now), ticket.channel, self.res.passed.get(ticket.id))
        except BaseException:
            # The strategy raised: as on the usual path, the ticket waits.
            self.queue.push(ticket)
            self._admit(ticket, books, now)
            raise
        if agent_id is None:
            return None
        seq = self.seam.new_sequence()
        self._admit(ticket, books, now, waiting=False)
        try:
            return self._offer(ticket, seq, agent_id, f"routed on arrival: {self.selection.name}", self.sched.now, books)
        except BaseException:
            self._requeue(ticket, seq, books)
            raise

    def _admit(self, ticket: Ticket, books: Books3, now: float, waiting: bool = True) -> None:
        # A new ticket is in: counted (if it waits), announced, its SLA scheduled.
        sched = self.sched
        sched.sla_sent.pop(ticket.id, None)  # a new ticket reusing an id
        self.routes.forget(ticket.id)  # an old one of that id, removed through the queue
        if waiting:
            self.books.enter(ticket, books)
        self.emit(EventKind.SUBMITTED, now, ticket.id)
        self.finished.forget(ticket.id)
        self.analytics.arrived(ticket, books[0].label, now)
        if ticket.sla_due is not None or sched.sla_latest:
            sched.schedule_sla(ticket)
        if waiting:
            self.routes.check(ticket, now, len(self.roster))

    def update(self, ticket_id: str, changes: dict[str, Any]) -> Ticket:
        """Dispatcher.update.  Runtime complexity: O(R + log n + G log A)."""
        now = self.advance_for(ticket_id)
        track = self.res.tracks.get(ticket_id)
        if track is not None:
            old = track.ticket
            new = old.evolve(**changes)
            # Checked now, so that a ticket handed back later can
            # always be put back in its place.
            self.seam.check_placeable(new, now)
            books = self.books.of(new)
            track.ticket = new
            track.books = books
            self._recheck_track(track, now)
            # A load moved to another capacity key, or an offer taken
            # back, may leave the agent room for a waiting ticket.
            self._fill(track.agent_id, "freed by an update")
        else:
            found = self.queue.get(ticket_id)
            if found is None:
                raise self.finished.error(ticket_id)
            old = found
            new = old.evolve(**changes)
            books = self.books.of(new)
            self.seam.replace(new)
            self.books.leave(old)
            self.books.enter(new, books)
            if new.skills != old.skills or new.channel != old.channel:
                self.routes.check(new, now, len(self.roster), "its requirements changed")
            if not self.paused:
                self._route(ticket_id, "routed after an update")
        if new.sla_due != old.sla_due:
            self.sched.schedule_sla(new)
        self.emit(EventKind.UPDATED, now, ticket_id, detail=", ".join(sorted(changes)), changes=_changed(new, changes))
        return new

    def cancel(self, ticket_id: str) -> Ticket:
        """Dispatcher.cancel.  Runtime complexity: O(log n + G log A)."""
        now = self.advance_for(ticket_id)
        track = self.res.tracks.get(ticket_id)
        if track is None:
            if ticket_id not in self.queue:
                raise self.finished.error(ticket_id)
            ticket = self.queue.remove(ticket_id)
            self.books.leave(ticket)
            self.res.passed.pop(ticket_id, None)
            self.routes.forget(ticket_id)
            self.emit(EventKind.CANCELLED, now, ticket_id)
            self.finished.remember(ticket_id, TicketStatus.CANCELLED, now)
            return ticket
        offer = track.offer
        if offer is not None:
            self.res.close(offer, OfferStatus.REVOKED)
            self.emit(EventKind.REVOKED, now, ticket_id, offer.agent_id, offer.id, "ticket cancelled")
        self._finish(track, now, EventKind.CANCELLED, "freed by a cancellation")
        return track.ticket

    def status(self, ticket_id: str) -> TicketStatus:
        """Dispatcher.status.  Runtime complexity: O(1)."""
        self.read_time()
        track = self.res.tracks.get(ticket_id)
        if track is not None:
            return TicketStatus.OFFERED if track.offer is not None else TicketStatus.ASSIGNED
        if ticket_id in self.queue:
            return TicketStatus.WAITING
        raise self.finished.error(ticket_id)

    def ticket(self, ticket_id: str) -> Ticket:
        """Dispatcher.ticket.  Runtime complexity: O(1)."""
        self.read_time()
        track = self.res.tracks.get(ticket_id)
        if track is not None:
            return track.ticket
        found = self.queue.get(ticket_id)
        if found is None:
            raise self.finished.error(ticket_id)
        return found

    def follow_up(self, ticket_id: str) -> Ticket:
        """Dispatcher.follow_up.  Runtime complexity: as :meth:`update`."""
        self.advance_for(ticket_id)
        track = self.res.tracks.get(ticket_id)
        current = track.ticket if track is not None else self.queue.get(ticket_id)
        if current is None:
            raise self.finished.error(ticket_id)
        return self.update(ticket_id, {"contacts": current.contacts + 1})

    def transfer(self, ticket_id: str, agent_id: str | None, changes: dict[str, Any]) -> Ticket:
        """Dispatcher.transfer.  Runtime complexity: O(R + log n + G log A)."""
        now = self.advance()
        track = self.assigned_track(ticket_id, agent_id)
        new = track.ticket.evolve(**changes)
        self.seam.check_placeable(new, now)  # raises before anything changes
        books = self.books.of(new)
        self._untrack(track, now)
        self.analytics.ended(track.agent_id, track.assigned_at, now, False)
        if self.strain is not None:
            self._strain_finished(track, now, completed=False)
        self._pass_on(ticket_id, track.agent_id, now)
        self._requeue(new, track.seq, books)
        self.emit(
            EventKind.TRANSFERRED,
            now,
            ticket_id,
            track.agent_id,
            detail=", ".join(sorted(changes)),
            changes={"from_agent": track.agent_id, **_changed(new, changes)},
        )
        self.routes.check(new, now, len(self.roster))
        if not self.paused:
            self._route(ticket_id, "routed after a transfer")
        self._fill(track.agent_id, "freed by a transfer")
        return new

    # -- offers -----------------------------------------------------------------

    def deliver(self, agent_id: str) -> Offer | None:
        """The agent's next offer (see Dispatcher.next_for), handed out.  Runtime complexity: O(1) or O(Q + log n)."""
        self.rseam.state(agent_id)
        if not self.res.inbox.get(agent_id):
            self._fill(agent_id, "pulled by the agent")
        return self.res.hand_out(agent_id)

    def pull(self, agent_id: str) -> Offer | None:
        """The agent's next offer (:meth:`deliver`), the desk brought up to the clock first.  Lock held."""
        self.rseam.state(agent_id)
        self.advance()
        return self.deliver(agent_id)

    def offers_for(self, agent_id: str) -> list[Offer]:
        """Dispatcher.offers_for.  Runtime complexity: O(pending offers)."""
        self.read_time()
        if agent_id not in self.states:
            self.rseam.state(agent_id)  # raises UnknownAgent
        return self.res.offers_to(agent_id)

    def accept(self, offer: Offer | str) -> Ticket:
        """Dispatcher.accept.  Runtime complexity: O(log n) amortised."""
        now = self.advance()
        res = self.res
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
        if self.stats_on:
            books = track.books
            WaitHistogram.add_to_all((books[0].waits, books[1].waits, books[2].waits), waited)
            self.analytics.accepted(track.agent_id, ticket, books[0].label, now)
        self.rseam.record_service(self.states[track.agent_id], ticket.id, ticket.customer_id, now)
        if self.strain is not None:
            self.strain.accepted(track.agent_id, now)
        if res.passed:
            res.passed.pop(ticket.id, None)
        # The detail is worded only if someone can read it.
        detail = f"waited {waited:g}s" if self.trail.wants_detail else ""
        self.emit(EventKind.ACCEPTED, now, ticket.id, track.agent_id, pending.id, detail)
        return ticket

    def decline(self, offer: Offer | str, reason: str) -> None:
        """Dispatcher.decline (a ``reason`` that is not a str refused first).  Runtime complexity: O(R + log n + G log A)."""
        if not isinstance(reason, str):
            raise InvalidArgument("reason", reason, "expected a string")
        now = self.advance()
        self._give_back(self.res.pending_offer(offer), OfferStatus.DECLINED, now, reason or "declined")

    def complete(self, ticket_id: str, agent_id: str | None) -> Ticket:
        """Dispatcher.complete.  Runtime complexity: O(Q + log n + log A)."""
        now = self.advance()
        track = self.res.tracks.get(ticket_id)
        if track is None or track.offer is not None or (agent_id is not None and agent_id != track.agent_id):
            track = self.assigned_track(ticket_id, agent_id)  # raises the right error
        self._finish(track, now, EventKind.COMPLETED, "freed by a completion")
        return track.ticket

    def assigned(self, agent_id: str) -> list[Ticket]:
        """Dispatcher.assigned.  Runtime complexity: O(tracks)."""
        self.rseam.state(agent_id)
        return self.res.assigned_to(agent_id)

    def assigned_track(self, ticket_id: str, agent_id: str | None) -> Track:
        """The track of an assigned ticket, or the right error."""
        try:
            return self.res.assigned_track(ticket_id, agent_id, ticket_id in self.queue)
        except UnknownTicket:
            raise self.finished.error(ticket_id) from None

    # -- routing ----------------------------------------------------------------

    def _affinity(self, ticket: Ticket, now: float) -> Offer | None:
        customer = ticket.customer_id
        if customer is None:
            return None
        roster = self.roster
        agent_id = roster.dedicated_agent(customer)
        why = "dedicated agent"
        if agent_id is None:
            agent_id = roster.last_agent(customer)
            why = "returning customer"
        if agent_id is None:
            return None  # as RosterSeam.affinity_agent says
        state = self.states[agent_id]
        agent = state.agent
        requirement = ticket.requirement(now)
        # An agent who cannot take the ticket at all (skills, or no capacity
        # on its channel) gets no head start: holding would only delay it.
        if not requirement.satisfied_by(agent.skills) or agent.capacity_for(ticket.channel) == 0:
            return None
        if (
            agent.status is AgentStatus.AVAILABLE
            and state.has_room(ticket.channel)
            and not self.paused
            and agent_id not in self.presence.resting
        ):
            return self._offer_waiting(ticket.id, agent_id, f"{why} (affinity)", now)
        if self.affinity_wait > 0 and agent.status is not AgentStatus.OFFLINE:
            self.queue.hold(ticket.id, agent_id, now + self.affinity_wait)
            self.emit(EventKind.HELD, now, ticket.id, agent_id, detail=f"{why}: kept {self.affinity_wait:g}s")
        return None

    def _requeue(self, ticket: Ticket, seq: int, books: Books3 | None = None) -> None:
        self.seam.restore(ticket, seq)
        self.books.enter(ticket, books)

    def _route(self, ticket_id: str, how: str) -> Offer | None:
        """Offer a waiting ticket to the best free qualified agent, if any."""
        requirement, channel, holder = self.seam.lane(ticket_id)
        ticket = self.seam.get(ticket_id)
        assert ticket is not None
        passed = self.res.passed.get(ticket_id)
        if holder is not None:
            state = self.states.get(holder)
            if (
                state is not None
                and state.agent.status is AgentStatus.AVAILABLE
                and state.has_room(channel)
                and requirement.satisfied_by(state.agent.skills)
                and not (passed and holder in passed)
                and holder not in self.presence.resting
            ):
                return self._offer_waiting(ticket_id, holder, "held for this agent (affinity)", self.sched.now)
            return None
        best_agent = self.presence.pick(ticket, requirement, channel, passed)
        if best_agent is None:
            overflow = self.overflow
            if overflow is not None and overflow.active:
                # No agent of its own skills is free: a backup, if a rule is on.
                for index, alternative in overflow.alternatives(requirement):
                    backup = self.presence.pick(ticket, alternative, channel, passed)
                    if backup is not None:
                        how = f"{how}: {self.selection.name}; {overflow.note(index)}"
                        return self._offer_waiting(ticket_id, backup, how, self.sched.now)
            return None
        return self._offer_waiting(ticket_id, best_agent, f"{how}: {self.selection.name}", self.sched.now)

    def _offer_waiting(self, ticket_id: str, agent_id: str, how: str, now: float) -> Offer:
        # Take a waiting ticket out of the queue and offer it; if a user
        # callback (the strategy's describe, say) raises, it goes back.
        ticket, seq = self.seam.take(ticket_id)
        books = self.books.leave(ticket)
        try:
            return self._offer(ticket, seq, agent_id, how, now, books)
        except BaseException:
            self._requeue(ticket, seq, books)
            raise

    def _fill(self, agent_id: str, how: str) -> int:
        """Offer an agent the best waiting tickets it has room for; return
        how many offers were made."""
        if self.paused:
            return 0
        state = self.states.get(agent_id)
        if state is None or state.agent.status is not AgentStatus.AVAILABLE or agent_id in self.presence.resting:
            return 0
        agent = state.agent
        skills = agent.skills
        overflow = self.overflow
        if overflow is not None and overflow.active:
            # A backup while a rule is on: routed with the rule's skill too.
            skills = overflow.augmented(agent.skills) or skills
        simple = len(agent.capacity) == 1 and ANY_CHANNEL in agent.capacity
        channels: Container[str | None] | None = None if simple else _RoomFilter(state)
        skipped: list[tuple[Ticket, int]] = []
        queue, seam = self.queue, self.seam
        passed_by = self.res.passed
        now = self.sched.now
        offered = 0
        try:
            while True:
                if simple and state.load[ANY_CHANNEL] >= agent.capacity[ANY_CHANNEL]:
                    break
                if not len(queue):
                    break  # nothing waits: the usual state of a calm desk, O(1)
                found = seam.take_best(skills, channels, agent_id)  # the lock is held
                if found is None:
                    break
                ticket, seq = found
                passed = passed_by.get(ticket.id)
                if passed and agent_id in passed:
                    skipped.append(found)
                    continue
                index = None
                if skills is not agent.skills:
                    requirement = ticket.requirement(now)
                    if not requirement.satisfied_by(agent.skills):
                        # The augmented skills join every rule on: one rule alone must allow it.
                        index = overflow.rule_used(requirement, agent.skills)  # type: ignore[union-attr]
                        if index is None:
                            skipped.append(found)
                            continue
                # A user callback (classify, the strategy) that raises must not
                # lose the ticket: the finally below puts it back.
                try:
                    books = self.books.leave(ticket)
                except BaseException:
                    skipped.append(found)
                    raise
                why = f"{how}: best waiting ticket for this agent"
                if index is not None:
                    why = f"{why}; {overflow.note(index)}"  # type: ignore[union-attr]
                try:
                    self._offer(ticket, seq, agent_id, why, now, books)
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
        state = self.states[agent_id]
        agent = state.agent
        channel = ticket.channel
        capacity = agent.capacity
        # Agent.slot_for, inline: this runs once per offer.
        slot = channel if channel is not None and channel in capacity else ANY_CHANNEL
        assert slot in capacity
        selection = self.selection
        # For LongestIdle only idle_since is kept, worded by idle_note if explained.
        note = state.idle_since if selection.__class__ is LongestIdle else selection.describe(agent, state, ticket)
        res = self.res
        count = res.count = res.count + 1  # Reservations.next_id, inline
        offer_id = f"{res.name}-{count}"
        timeout = self.offer_timeout
        if timeout is None:
            expires = math.inf
        else:
            expires = now + timeout
            if expires <= now:  # a timeout too small to register at this clock's magnitude
                expires = math.nextafter(now, _INF)
        offer = Offer(offer_id, ticket, agent_id, now, expires, how)
        res.pending[offer_id] = offer
        if self.routes.unroutable:  # an unroutable ticket a backup takes through overflow
            self.routes.forget(ticket.id)
        res.tracks[ticket.id] = Track(ticket, seq, agent_id, slot, offer, note, how, books)
        if timeout is not None:
            sched = self.sched  # Scheduler.schedule_expiry, inline (once per offer)
            heapq.heappush(sched.expiry, (expires, offer_id))
            if expires < sched.due_at:  # noqa: PLR1730 - no builtin call on the hot path
                sched.due_at = expires
        state.load[slot] += 1  # the roster keeps a load entry for every capacity key
        state.offered += 1
        state.last_offer = count
        state.idle_since = now
        self.presence.refresh(state)
        inbox = res.inbox.get(agent_id)  # Reservations.post, inline
        if inbox is None:
            res.inbox[agent_id] = deque((offer_id,))
        else:
            inbox.append(offer_id)
        self.emit(EventKind.OFFERED, now, ticket.id, agent_id, offer_id, how)
        waiters = self.waiters
        if waiters.conditions or waiters.async_waiters:  # Waiters.any, inline
            waiters.wake(agent_id)
        return offer

    def _give_back(self, offer: Offer, status: OfferStatus, now: float, detail: str) -> None:
        """Decline, expiry or revocation: the ticket goes back to its place."""
        track = self.res.tracks[offer.ticket.id]
        # If the policy cannot place the ticket (a rule raising), or classify
        # fails, say so before anything changes: the offer stays pending.
        self.seam.check_placeable(track.ticket, now)
        books = self.books.of(track.ticket)
        agent_id = offer.agent_id
        self.res.close(offer, status)
        self._untrack(track, now)
        ticket = track.ticket
        state = self.states.get(agent_id)
        if status is not OfferStatus.REVOKED:
            self._pass_on(ticket.id, agent_id, now)
            if status is OfferStatus.DECLINED:
                Books.count_declined(books)
                if state is not None:
                    state.declined += 1
            else:
                Books.count_expired(books)
                if state is not None:
                    state.expired += 1
        self._requeue(ticket, track.seq, books)
        self.emit(_CLOSING_EVENT[status], now, ticket.id, agent_id, offer.id, detail)
        self.routes.check(ticket, now, len(self.roster))  # its agent may have changed so that nobody can take it
        if (
            status is OfferStatus.EXPIRED
            and self.mark_not_responding
            and state is not None
            and state.agent.status is AgentStatus.AVAILABLE
        ):
            self.roster.replace(state.agent.evolve(status=AgentStatus.NOT_RESPONDING))
        if not self.paused:
            if ticket.id in self.queue:
                self._route(ticket.id, "routed again after an offer was given back")
            if status is not OfferStatus.REVOKED:
                self._fill(agent_id, "freed by giving an offer back")

    def _recheck_track(self, track: Track, now: float) -> None:
        """After a ticket or its agent changed: move the load to the right
        capacity key, and take back an offer the agent no longer qualifies for."""
        state = self.states.get(track.agent_id)
        if state is None:
            return
        agent = state.agent
        ticket = track.ticket
        slot = agent.slot_for(ticket.channel)
        if slot is not None and slot != track.slot:
            state.load[track.slot] -= 1
            state.load[slot] = state.load.get(slot, 0) + 1
            track.slot = slot
            self.presence.refresh(state)
        offer = track.offer
        if offer is not None and (slot is None or not self.may_hold(ticket, agent)):
            self._give_back(offer, OfferStatus.REVOKED, now, "the agent no longer qualifies")

    def may_hold(self, ticket: Ticket, agent: Agent) -> bool:
        """Whether an offer of ``ticket`` to ``agent`` stays valid: by its
        skills, or by an overflow rule's backup skills (an offer made through
        overflow stands after the rule ends).  Runtime complexity: O(k) for k
        required skills, plus O(rules) with overflow."""
        if ticket.skills.satisfied_by(agent.skills):
            return True
        return self.overflow is not None and self.overflow.could_take(ticket.skills, agent.skills)

    def _pass_on(self, ticket_id: str, agent_id: str, now: float) -> None:
        # The agent passed on the ticket: not offered it again for a while.
        until = math.inf if self.retry_after is None else now + self.retry_after
        self.res.pass_on(ticket_id, agent_id, until)
        if self.retry_after is not None:
            self.sched.schedule_lapse(until, ticket_id, agent_id)

    def _finish(self, track: Track, now: float, kind: EventKind, how: str) -> None:
        # A ticket leaves for good (completed or cancelled): free its agent,
        # who may get the next waiting ticket at once.
        state = self._untrack(track, now, refresh=False)
        offered = 0
        try:
            self.res.forget_passes(track.ticket.id)
            self.emit(kind, now, track.ticket.id, track.agent_id)
            completed = kind is EventKind.COMPLETED
            self.analytics.ended(track.agent_id, track.assigned_at, now, completed)
            self.finished.remember(track.ticket.id, TicketStatus.COMPLETED if completed else TicketStatus.CANCELLED, now)
            if self.strain is not None or self.overflow is not None:
                self._strain_finished(track, now, completed=completed)
            offered = self._fill(track.agent_id, how)
        finally:
            # An offer refreshed the agent's place in the free heaps already;
            # otherwise it is done once here, not before and after the fill.
            if state is not None and not offered:
                self.presence.refresh(state)

    def _untrack(self, track: Track, now: float, refresh: bool = True) -> AgentState | None:
        """Forget a ticket's offer or assignment and free the agent's room
        (its place in the free heaps refreshed unless ``refresh`` is false:
        then the caller must refresh it).  Return the agent's state."""
        del self.res.tracks[track.ticket.id]
        state = self.states.get(track.agent_id)
        if state is not None:
            state.load[track.slot] -= 1
            state.idle_since = max(state.idle_since, now)
            if refresh:
                self.presence.refresh(state)
        return state

    def _revoke_offers(self, agent_id: str, now: float, detail: str) -> None:
        for offer in self.res.offers_to(agent_id):
            self._give_back(offer, OfferStatus.REVOKED, now, detail)

    # -- agents -----------------------------------------------------------------

    def remove_agent(self, agent_id: str) -> Agent:
        """Dispatcher.remove_agent.  Runtime complexity: O(C log A + pending)."""
        now = self.advance()
        state = self.rseam.state(agent_id)
        if any(t.agent_id == agent_id and t.offer is None for t in self.res.tracks.values()):
            raise AgentBusy(agent_id, "still has assigned tickets: complete or transfer them first")
        original = state.agent
        if original.status is AgentStatus.AVAILABLE:
            # Going offline first gives its offers back to other agents.
            self.roster.replace(original.evolve(status=AgentStatus.OFFLINE))
        self._revoke_offers(agent_id, now, "agent removed")
        self.roster.remove(agent_id)
        return original

    def on_agent_change(self, agent_id: str, old: Agent | None, new: Agent | None) -> None:
        """The roster's observer: called under the lock after every change
        (perhaps made on the roster directly, with no advance before).

        The presence step comes first: it is the one that calls the
        selection strategy, and it changes nothing if the strategy raises,
        so the error leaves the desk as it was and the roster undoes its
        change.  Once it is done the desk has taken the change: an error
        later on (a strategy's describe, a rule) leaves it made."""
        now = self.sched.read()
        size = len(self.roster)
        moved = old is not None and new is not None and profile_key(old) != profile_key(new)
        if new is None:
            self.presence.unplace(agent_id)
        elif old is None or moved:
            self.presence.place(self.states[agent_id])  # joined, or moved to another profile
        else:
            self.presence.refresh(self.states[agent_id])
        self.rseam.take()
        self.analytics.agent_changed(agent_id, new, now)
        if self.overflow is not None:
            self.overflow.roster_changed()
        if new is None:
            if self.strain is not None:
                self.strain.forget(agent_id)
            self.emit(EventKind.AGENT_CHANGED, now, agent_id=agent_id, detail="left")
            self.routes.recheck(now, self._waiting, self.queue, size)
            self._release_holds(agent_id, now)
            self.waiters.forget(agent_id)  # its waiting threads and coroutines learn it is gone
            return
        state = self.states[agent_id]
        if old is None:
            self.emit(EventKind.AGENT_CHANGED, now, agent_id=agent_id, detail=_joined(new))
            self.routes.recheck(now, self._waiting, self.queue, size)
            if not state.total_capacity:
                _warn_no_capacity(agent_id, "joined with")
        else:
            changed = [f.name for f in attrs.fields(Agent) if getattr(old, f.name) != getattr(new, f.name)]
            detail = "changed " + ", ".join(changed)
            if any(old.capacity.values()) and not any(new.capacity.values()):
                detail += "; capacity 0 on every channel: it can take no ticket"
                _warn_no_capacity(agent_id, "was changed to")
            self.emit(EventKind.AGENT_CHANGED, now, agent_id=agent_id, detail=detail)
            self.routes.recheck(now, self._waiting, self.queue, size)
            if moved:
                for track in self.res.tracks_of(agent_id):
                    if track.ticket.id in self.res.tracks:  # a revocation may have routed others
                        self._recheck_track(track, now)
            if new.status is not AgentStatus.AVAILABLE:
                self._revoke_offers(agent_id, now, f"agent is {new.status.value}")
            if new.status is AgentStatus.OFFLINE:
                self._release_holds(agent_id, now)
        if new.status is AgentStatus.AVAILABLE:
            self._fill(agent_id, "agent became able to take work")

    def _release_holds(self, agent_id: str, now: float) -> None:
        # Tickets kept for an agent who went offline or left go to anyone.
        queue = self.queue
        for ticket_id in self.seam.held_by(agent_id):
            queue.release(ticket_id)
            self.emit(EventKind.RELEASED, now, ticket_id, agent_id, detail="its agent is no longer available")
            if not self.paused:
                self._route(ticket_id, "routed when its hold was released")

    # -- batch assignment -------------------------------------------------------

    def assign_all(self) -> list[Offer]:
        """Dispatcher.assign_all, the lock held and the desk advanced: held
        tickets to their holders, then the rest as one priority matching
        (:class:`~triage_queue.dispatch.batch.Batch`), then tickets some agent
        declined, one by one.  Runtime complexity: see Dispatcher.assign_all."""
        if self.paused:
            return []
        queue = self.queue
        offers: list[Offer] = []
        batch = Batch(self.presence, self.states)
        if not batch.nodes:
            return offers
        plain: list[tuple[Ticket, Any]] = []  # (ticket, lane)
        held: list[Ticket] = []
        declined: list[str] = []
        for ticket, lane in self.seam.backlog():
            if lane[2] is not None:
                held.append(ticket)
            elif self.res.passed.get(ticket.id):
                declined.append(ticket.id)
            else:
                plain.append((ticket, lane))
        for ticket in held:
            if ticket.id in queue:
                offer = self._route(ticket.id, "batch assignment (held for this agent)")
                if offer is not None:
                    offers.append(offer)
                    batch.taken(offer.agent_id, self.res.tracks[ticket.id].slot)
        how = f"batch assignment: {self.selection.name}"
        for ticket, agent_id in batch.placements(plain):
            offers.append(self._offer_waiting(ticket.id, agent_id, how, self.sched.now))
        for ticket_id in declined:
            if ticket_id in queue:
                offer = self._route(ticket_id, "batch assignment (after a decline)")
                if offer is not None:
                    offers.append(offer)
        overflow = self.overflow
        if overflow is not None and overflow.active and len(queue):
            # Backups take what their own skills left: surging tickets while a rule is on.
            for agent_id, state in self.states.items():
                if overflow.augmented(state.agent.skills) is not None:
                    before = {o.id for o in self.res.offers_to(agent_id)}
                    if self._fill(agent_id, "batch assignment (overflow)"):
                        offers.extend(o for o in self.res.offers_to(agent_id) if o.id not in before)
        return offers

    # -- reading ----------------------------------------------------------------

    def stats(self) -> Statistics:
        """Dispatcher.stats, the lock held (refused by a desk made with ``stats=False``, before anything else).
        Runtime complexity: O(A + groups · B log B)."""
        if not self.stats_on:
            raise InvalidArgument("stats", False, "this desk keeps no statistics: it was made with Dispatcher(stats=False)")
        now = self.read_time()
        books = self.books
        figures = books.figures
        by_class = {name: figures(book, now) for name, book in sorted(books.by_class.items())}
        by_skills = {name: figures(book, now) for name, book in sorted(books.by_skills.items())}
        overall = figures(books.overall, now)
        agents = {}
        used = room = 0
        tracks, queue = self.res.tracks, self.queue
        analytics = self.analytics
        spent: dict[str, float] = {}  # seconds so far on assignments not yet ended, per agent
        for track in tracks.values():
            if track.assigned_at is not None and now > track.assigned_at:
                spent[track.agent_id] = spent.get(track.agent_id, 0.0) + (now - track.assigned_at)
        strain = self.strain
        for agent_id, state in self.states.items():
            load, capacity = state.total_load, state.total_capacity
            if state.agent.status is AgentStatus.AVAILABLE:
                used += load
                room += capacity
            figures_of = AgentFigures(
                state.agent.status.value,
                load,
                capacity,
                state.offered,
                state.declined,
                state.expired,
                state.served,
                **analytics.agent_figures(agent_id, spent.get(agent_id, 0.0), now),
            )
            if strain is not None:
                until, why, cooldowns = strain.figures(agent_id)
                figures_of = attrs.evolve(figures_of, cooling_until=until, strain=why, cooldowns=cooldowns)
            agents[agent_id] = figures_of
        occupancy = used / room if room else None
        unroutable = self.routes.count(lambda t: t not in tracks and t in queue)
        overflow = None if self.overflow is None else self.overflow.figures()
        return Statistics(
            now,
            overall,
            by_class,
            by_skills,
            occupancy,
            agents,
            unroutable,
            analytics.recurring_figures(now),
            analytics.trend_figures(now),
            overflow=overflow,
        )

    def explain(self, ticket_id: str) -> AssignmentExplanation:
        """Dispatcher.explain_assignment, the lock held.  Runtime complexity: O(A·k)."""
        now = self.read_time()
        track = self.res.tracks.get(ticket_id)
        holder = None
        note = ""
        if track is not None:
            note = track.note if isinstance(track.note, str) else LongestIdle.idle_note(track.note)
            ticket = track.ticket
            state_name = "offered" if track.offer is not None else "assigned"
            chosen = track.agent_id
            offer_time = track.offer.created_at if track.offer is not None else track.assigned_at
            requirement = ticket.requirement(offer_time if offer_time is not None else now)
            how = track.how
        else:
            found = self.queue.get(ticket_id)
            if found is None:
                raise self.finished.error(ticket_id)
            ticket = found
            state_name = "waiting"
            chosen = None
            requirement = self.seam.lane(ticket_id)[0]
            holder = self.queue.holder(ticket_id)
            how = None
        selection = self.selection
        verdicts = judge_agents(
            ticket,
            requirement,
            self.states.values(),
            chosen=chosen,
            how=how,
            note=note,
            holder=holder,
            passed=self.res.passed.get(ticket_id, {}),
            selection=selection,
        )
        if self.strain is not None and self.strain.resting:
            verdicts = self._resting_verdicts(verdicts)
        if self.overflow is not None and self.overflow.active and chosen is None:
            verdicts = self._backup_verdicts(ticket, requirement, verdicts, holder)
        return AssignmentExplanation(ticket_id, now, state_name, chosen, how, selection.name, verdicts)

    def _backup_verdicts(
        self, ticket: Ticket, requirement: SkillSet, verdicts: tuple[AgentVerdict, ...], holder: str | None
    ) -> tuple[AgentVerdict, ...]:
        # A waiting ticket while an overflow rule is on: a backup agent that
        # lacks the ticket's own skills is judged by the rule's requirement
        # instead (skills, channel, status, room, passes, holds), then by its
        # rest (strain) as a qualified agent would be.
        overflow = self.overflow
        assert overflow is not None
        alternatives = overflow.alternatives(requirement)
        if not alternatives:
            return verdicts
        passed = self.res.passed.get(ticket.id, {})
        out = []
        for verdict in verdicts:
            state = self.states[verdict.agent_id]
            skills = state.agent.skills
            backups = [(i, alt) for i, alt in alternatives if overflow.rules[i].backup.satisfied_by(skills)]
            if verdict.qualified or not backups:
                out.append(verdict)
                continue
            # The first rule whose requirement the agent meets, else the first it is a backup of.
            index, alternative = next(((i, alt) for i, alt in backups if alt.satisfied_by(skills)), backups[0])
            (judged,) = judge_agents(
                ticket, alternative, (state,), chosen=None, how=None, note="", holder=holder, passed=passed,
                selection=self.selection,
            )  # fmt: skip
            reason = judged.reason
            if judged.qualified and self.strain is not None and state.agent.status is AgentStatus.AVAILABLE:
                reason = self.strain.explain(verdict.agent_id) or reason
            lead = f"a backup for {overflow.rules[index].skill} (overflow on)"
            reason = f"{lead}, but {reason}" if reason.startswith("lacks") else f"{lead}: {reason}"
            out.append(attrs.evolve(verdict, reason=reason))
        return tuple(out)

    def _resting_verdicts(self, verdicts: tuple[AgentVerdict, ...]) -> tuple[AgentVerdict, ...]:
        # A qualified agent cooling down: that is why it has no offer.
        assert self.strain is not None
        out = []
        for verdict in verdicts:
            why = None if verdict.chosen or not verdict.qualified else self.strain.explain(verdict.agent_id)
            if why is not None and self.states[verdict.agent_id].agent.status is AgentStatus.AVAILABLE:
                out.append(attrs.evolve(verdict, reason=why))
            else:
                out.append(verdict)
        return tuple(out)

    # -- saving and restoring -----------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Dispatcher.snapshot, the lock held: refused while paused; reads as a read does."""
        if self.paused:
            raise InvalidArgument("snapshot", None, "a desk cannot be saved inside paused()")
        self.read_time()
        return self.export()

    def assigned_counts(self) -> dict[str, int]:
        """How many accepted tickets each agent holds (agents holding none
        left out).  Runtime complexity: O(T) for T tickets out of the queue."""
        counts: dict[str, int] = {}
        for track in self.res.tracks.values():
            if track.offer is None:
                counts[track.agent_id] = counts.get(track.agent_id, 0) + 1
        return counts

    def describe(self) -> str:
        """How many tickets wait, are offered and assigned, and how many agents there are (for repr)."""
        res = self.res
        return (
            f"{len(self.queue)} waiting, {len(res.pending)} offered, "
            f"{len(res.tracks) - len(res.pending)} assigned, {len(self.roster)} agent(s)"
        )

    def export(self) -> dict[str, Any]:
        """The whole desk as a snapshot (see :func:`~triage_queue.dispatch.snapshot.export_desk`)."""
        return export_desk(self)

    def load(self, top: Reader) -> None:
        """Fill this new, empty desk from a snapshot (see :func:`~triage_queue.dispatch.snapshot.load_desk`).  Lock held."""
        load_desk(self, top)

    # -- invariants -------------------------------------------------------------

    def _check(self) -> None:
        """Assert every part's invariants and the cross-part ones (used by
        the test suite; the caller has applied what is due)."""
        self.seam.check()
        self.roster._check()
        self.trail._check()
        self.waiters._check()
        self.res._check()
        self.sched._check()
        self.routes._check()
        self.analytics._check(self.states)
        self.finished._check()
        load: dict[tuple[str, str], int] = {}
        for ticket_id, track in self.res.tracks.items():
            assert ticket_id not in self.queue, "a ticket is both waiting and out"
            load[(track.agent_id, track.slot)] = load.get((track.agent_id, track.slot), 0) + 1
        for agent_id, state in self.states.items():
            for slot, used in state.load.items():
                assert used == load.get((agent_id, slot), 0), f"load of {agent_id!r} on {slot!r} is wrong"
        self.presence._check(self.states)
        self.books._check(len(self.queue))
        if self.overflow is not None:
            self.overflow._check()
        if self.strain is not None:
            assert self.presence.resting is self.strain.resting, "presence and strain disagree on who rests"
            self.strain._check(self.assigned_counts())
        if not self.paused:
            self.check_work_conserving()

    def check_work_conserving(self) -> None:
        """Assert that no available agent with room has a waiting ticket it
        may take (except ones it passed on, or held for another agent)."""
        now = self.sched.clock()
        overflow = self.overflow if self.overflow is not None and self.overflow.active else None
        for ticket in self.queue:
            requirement, channel, holder = self.seam.lane(ticket.id)
            passed = self.res.passed.get(ticket.id, {})
            for agent_id, state in self.states.items():
                agent = state.agent
                # While an overflow rule is on, a backup of one rule that allows
                # the ticket counts as qualified (not for held tickets).
                if (
                    agent.status is AgentStatus.AVAILABLE
                    and state.has_room(channel)
                    and (
                        requirement.satisfied_by(agent.skills)
                        or (overflow is not None and holder is None and overflow.rule_used(requirement, agent.skills) is not None)
                    )
                    and agent_id not in passed
                    and (holder is None or holder == agent_id)
                    and agent_id not in self.presence.resting
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

