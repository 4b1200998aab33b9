"""The simulation engine: replays a :class:`~triage_queue.sim.model.Day`
through the real :class:`~triage_queue.Dispatcher` and
:class:`~triage_queue.TicketQueue`, on a :class:`~triage_queue.ManualClock`.

There is no second implementation of routing: the engine only moves the
clock and calls the dispatcher the way a contact centre would.  It is a
discrete-event loop over

* **arrivals** (``submit``), in the day's order;
* **completions**, ``handling_time`` seconds after an agent accepts;
* **abandonments** (``cancel``) when a customer's patience runs out while
  the ticket still waits, and **follow-ups** (``update`` with one more
  contact) while it waits;
* **shift and break** starts and ends (``set_status``: available, away,
  offline; an agent finishes the tickets in hand but is offered no more);
* the dispatcher's **own timed changes** (holds ending, skills relaxing,
  ``max_wait`` re-keying, SLA events, offers expiring): when the next of
  them falls due before the next event above, the clock moves to that very
  instant and the dispatcher ``tick``\\ s, so they happen exactly on time.

Agents accept every offer the moment it is made (the engine learns of
offers through a dispatcher listener, whatever caused them).  At one
instant, shift and break changes come first, then completions, then
abandonments, follow-ups and arrivals (ties within a kind keep the day's
order), so an agent whose shift ends as a ticket finishes takes no new one.

The run goes on past ``day.end`` until every ticket is served or abandoned,
or nothing more can happen (no agent will be on duty again); tickets still
waiting then are reported as unanswered.

>>> from triage_queue import Agent, FeedbackOrder, Policy, Ticket
>>> from triage_queue.sim.model import Arrival, Day, Staff
>>> day = Day(
...     arrivals=[Arrival(Ticket(f"T-{i}", 10.0 * i), handling_time=15.0) for i in range(3)],
...     staff=[Staff(Agent("ana"))],
... )
>>> result = simulate(day, Policy.lexicographic(FeedbackOrder()), name="fifo")
>>> [o.wait for o in result.outcomes], result.end
([0.0, 5.0, 10.0], 45.0)
"""

from __future__ import annotations

import contextlib
import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from triage_queue._progress import Progress
from triage_queue.agents import AgentStatus
from triage_queue.clock import ManualClock
from triage_queue.dispatch import Dispatcher
from triage_queue.events import Event, EventKind
from triage_queue.policy import Policy
from triage_queue.queue import TicketQueue
from triage_queue.selection import Selection
from triage_queue.sim.model import Day, InvalidSimulation
from triage_queue.sim.results import AgentOutcome, SimulationResult, TicketOutcome
from triage_queue.ticket import Ticket

__all__ = ["DISPATCHER_OPTIONS", "PolicySource", "compare", "simulate"]

DISPATCHER_OPTIONS = frozenset(
    {"offer_timeout", "affinity_wait", "retry_after", "sla_warning", "mark_not_responding", "overflow", "strain"}
)
"""The :class:`~triage_queue.Dispatcher` options a simulation may set."""

# Kinds of scheduled events, in the order they happen at one instant.
_STATUS, _COMPLETE, _ABANDON, _FOLLOW_UP = 0, 1, 2, 3

# Where the next event comes from.
_SCHEDULED, _ARRIVAL, _DISPATCHER = 0, 1, 2

_OFFERED = EventKind.OFFERED
_PROGRESS_STEP = 1024


@runtime_checkable
class PolicySource(Protocol):
    """A policy with its settings, as loaded from a declarative file
    (:class:`triage_queue.config.PolicyFile` has this shape): a name, the
    :class:`~triage_queue.Policy`, SLA targets applied to each ticket,
    the selection strategy and dispatcher options.
    """

    @property
    def name(self) -> str:
        """The policy's name, used in results and reports."""
        ...

    @property
    def policy(self) -> Policy:
        """The ordering policy."""
        ...

    @property
    def dispatcher_options(self) -> Mapping[str, Any]:
        """Options for the dispatcher (a subset of :data:`DISPATCHER_OPTIONS`)."""
        ...

    def with_sla(self, ticket: Ticket) -> Ticket:
        """The ticket with ``sla_due`` set from its SLA target, if it has none."""
        ...

    def selection_strategy(self) -> Selection:
        """The agent selection strategy."""
        ...


class _Record:
    """What the engine knows about one ticket while it runs."""

    __slots__ = ("abandoned", "agent_id", "answered", "arrival", "completed", "contacts", "ticket")

    def __init__(self, ticket: Ticket, arrival: Any) -> None:
        self.ticket = ticket
        self.arrival = arrival
        self.answered: float | None = None
        self.completed: float | None = None
        self.abandoned: float | None = None
        self.agent_id: str | None = None
        self.contacts = ticket.contacts


def _resolve(
    policy: Policy | PolicySource,
    name: str | None,
    selection: Selection | None,
    dispatcher_options: Mapping[str, Any] | None,
) -> tuple[Policy, str, Selection | None, dict[str, Any], Any]:
    options: dict[str, Any] = {"offer_timeout": None}
    with_sla = None
    if isinstance(policy, Policy):
        ordering = policy
        label = "policy"
    elif isinstance(policy, PolicySource):
        ordering = policy.policy
        if not isinstance(ordering, Policy):
            raise InvalidSimulation("policy", ordering, "the policy file's .policy is not a triage_queue.Policy")
        label = policy.name
        with_sla = policy.with_sla
        if selection is None:
            selection = policy.selection_strategy()
        options.update(policy.dispatcher_options)
    else:
        raise InvalidSimulation("policy", policy, "expected a triage_queue.Policy or a policy file (PolicyFile)")
    if dispatcher_options is not None:
        if not isinstance(dispatcher_options, Mapping):
            raise InvalidSimulation("dispatcher_options", dispatcher_options, "expected a mapping of option names to values")
        options.update(dispatcher_options)
    for key in options:
        if key not in DISPATCHER_OPTIONS:
            raise InvalidSimulation("dispatcher_options", key, f"unknown option; expected one of {sorted(DISPATCHER_OPTIONS)}")
    if name is not None:
        if not isinstance(name, str) or not name:
            raise InvalidSimulation("name", name, "expected a non-empty string")
        label = name
    return ordering, label, selection, options, with_sla


def _status_changes(day: Day) -> list[tuple[float, int, int, str, AgentStatus]]:
    changes: list[tuple[float, int, int, str, AgentStatus]] = []
    order = 0
    for staff in day.staff:
        agent_id = staff.agent.id
        timeline: list[tuple[float, AgentStatus]] = []
        for shift in staff.shifts:
            steps = [(shift.start, AgentStatus.AVAILABLE)]
            for start, end in shift.breaks:
                steps += [(start, AgentStatus.AWAY), (end, AgentStatus.AVAILABLE)]
            steps.append((shift.end, AgentStatus.OFFLINE))
            timeline += steps
        # At one instant only the last status counts (a break starting with
        # its shift, a shift starting as the previous one ends): passing
        # through an intermediate status would let the agent take a ticket.
        for i, (at, status) in enumerate(timeline):
            if i + 1 < len(timeline) and timeline[i + 1][0] == at:
                continue
            order += 1
            changes.append((at, _STATUS, order, agent_id, status))
    return changes


def _start_of(day: Day) -> float:
    instants = [day.arrivals[0].time] if day.arrivals else []
    instants += [s.shifts[0].start for s in day.staff if s.shifts]
    return min(instants, default=0.0)


def simulate(
    day: Day,
    policy: Policy | PolicySource,
    *,
    name: str | None = None,
    selection: Selection | None = None,
    dispatcher_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    sample_every: float = 60.0,
) -> SimulationResult:
    """Run ``day`` through a real dispatcher ordering its queue by
    ``policy`` and return what happened (see the module docstring).

    ``policy`` is a :class:`~triage_queue.Policy` or a policy file (see
    :class:`PolicySource`), whose SLA targets, selection strategy and
    dispatcher options then apply; ``name`` labels the result (default: the
    file's name, or ``"policy"``); ``selection`` and ``dispatcher_options``
    (keys in :data:`DISPATCHER_OPTIONS`; ``offer_timeout`` defaults to None
    here) override the file's.  ``sample_every``: seconds between samples of
    the queue length.  ``progress`` counts arrivals on long runs.

    The result depends only on the arguments: the same day and policy give
    the same result every time.  Raises :class:`InvalidSimulation` naming a
    bad argument (and the dispatcher's errors for bad option values).

    Runtime complexity: O(E (log E + d)) for E events, d the dispatcher's
    cost per operation (see :class:`~triage_queue.Dispatcher`).

    >>> from triage_queue import Agent, Policy, Ticket
    >>> from triage_queue.sim.model import Arrival, Day, Staff
    >>> day = Day([Arrival(Ticket("T-1", 0.0), handling_time=60.0, patience=30.0),
    ...            Arrival(Ticket("T-2", 1.0), handling_time=60.0, patience=30.0)], [Staff(Agent("ana"))])
    >>> r = simulate(day, Policy.default())
    >>> [o.outcome for o in r.outcomes], r.overall.abandoned
    (['served', 'abandoned'], 1)
    """
    if not isinstance(day, Day):
        raise InvalidSimulation("day", day, "expected a triage_queue.sim.model.Day")
    if (
        isinstance(sample_every, bool)
        or not isinstance(sample_every, int | float)
        or not math.isfinite(sample_every)
        or sample_every <= 0
    ):
        raise InvalidSimulation("sample_every", sample_every, "expected a finite number of seconds > 0")
    if progress is not None and not isinstance(progress, Progress):
        raise InvalidSimulation("progress", progress, "expected a triage_queue._progress.Progress")
    ordering, label, selection, options, with_sla = _resolve(policy, name, selection, dispatcher_options)

    start = _start_of(day)
    clock = ManualClock(start)
    classes: dict[str, str] = {}
    records: dict[str, _Record] = {}
    for arrival in day.arrivals:
        ticket = arrival.ticket
        if with_sla is not None:
            ticket = with_sla(ticket)
            if not isinstance(ticket, Ticket) or ticket.id != arrival.ticket.id:
                raise InvalidSimulation("policy", label, f"with_sla returned {ticket!r} for ticket {arrival.ticket.id!r}")
        classes[ticket.id] = arrival.ticket_class
        records[ticket.id] = _Record(ticket, arrival)

    staff_agents = [s.agent.evolve(status=AgentStatus.OFFLINE if s.shifts else AgentStatus.AVAILABLE) for s in day.staff]
    # The result is computed from the engine's own records, so the
    # dispatcher keeps neither statistics nor an audit trail: neither
    # changes a decision, and both cost time on every ticket.  Overflow
    # rules judge the statistics' waiting counts: with rules, it keeps them.
    dispatcher = Dispatcher(
        TicketQueue(ordering, clock=clock),
        staff_agents,
        selection=selection,
        audit=0,
        stats=bool(options.get("overflow")),
        **options,
    )

    offered: list[Event] = []
    kind_offered = _OFFERED

    closed: set[str] = set()  # offers of this call taken back (revoked or expired) before it returned
    closing = (EventKind.REVOKED, EventKind.EXPIRED, EventKind.DECLINED)

    def listen(event: Event) -> None:
        if event.kind is kind_offered:
            offered.append(event)
        elif offered and event.kind in closing and event.offer_id is not None:
            closed.add(event.offer_id)

    dispatcher.subscribe(listen)

    # Local names for the hot loop.
    submit, accept, complete, cancel = dispatcher.submit, dispatcher.accept, dispatcher.complete, dispatcher.cancel
    update, tick, set_status = dispatcher.update, dispatcher.tick, dispatcher.set_status
    next_instant = dispatcher.next_due
    queue = dispatcher.queue
    heappush, heappop = heapq.heappush, heapq.heappop
    inf = math.inf

    schedule: list[tuple[float, int, int, str, Any]] = _status_changes(day)
    heapq.heapify(schedule)
    order = len(schedule)
    arrivals: Sequence[Any] = day.arrivals
    count = len(arrivals)
    next_arrival = 0
    arrival_at = arrivals[0].time if count else inf
    samples: list[tuple[float, int]] = []
    next_sample = start
    events = 0
    now = start
    counting = progress.task(f"simulating {label}", total=count) if progress is not None else contextlib.nullcontext(None)
    with counting as task:
        while True:
            # A patience or follow-up entry of a ticket already answered (or
            # gone) is dropped unseen: it must neither move the clock nor
            # count as an event, or a day would seem to end hours late.
            while schedule and schedule[0][1] >= _ABANDON:
                record = records[schedule[0][3]]
                if record.answered is None and record.abandoned is None:
                    break
                heappop(schedule)
            at = schedule[0][0] if schedule else inf
            due = next_instant()
            source = _SCHEDULED
            if at > arrival_at:
                at = arrival_at
                source = _ARRIVAL
            if due is not None and due < at:
                at = due
                source = _DISPATCHER
            if at == inf:
                break
            while next_sample < at:
                samples.append((next_sample, len(queue)))
                next_sample += sample_every
            if at > now:
                clock._now = now = at  # ManualClock.set, without re-validating a known finite, later instant
            events += 1
            if source == _DISPATCHER:
                tick()
            elif source == _SCHEDULED:
                _, kind, _, ticket_id, payload = heappop(schedule)
                if kind == _COMPLETE:
                    complete(ticket_id)
                    records[ticket_id].completed = now
                elif kind == _STATUS:
                    set_status(ticket_id, payload)
                else:
                    record = records[ticket_id]
                    if kind == _ABANDON:
                        cancel(ticket_id)
                        record.abandoned = now
                    else:
                        record.contacts += 1
                        update(ticket_id, contacts=record.contacts)
            else:
                arrival = arrivals[next_arrival]
                next_arrival += 1
                arrival_at = arrivals[next_arrival].time if next_arrival < count else inf
                record = records[arrival.ticket.id]
                submit(record.ticket)
                if arrival.patience is not None:
                    order += 1
                    heappush(schedule, (now + arrival.patience, _ABANDON, order, record.ticket.id, None))
                for after in arrival.follow_ups:
                    order += 1
                    heappush(schedule, (arrival.time + after, _FOLLOW_UP, order, record.ticket.id, None))
                if task is not None and not next_arrival % _PROGRESS_STEP:
                    task.advance(_PROGRESS_STEP)
            if offered:
                for event in offered:
                    record = records[event.ticket_id]  # type: ignore[index]
                    if record.abandoned is not None or event.offer_id in closed:
                        # Offered at the start of the very call that cancelled it or took the
                        # offer back (an overflow rule starting, a cooldown ending, at the
                        # instant the agent's shift ends): the offer is no longer pending.
                        continue
                    accept(event.offer_id)  # type: ignore[arg-type]
                    record.answered = now
                    record.agent_id = event.agent_id
                    order += 1
                    heappush(schedule, (now + record.arrival.handling_time, _COMPLETE, order, record.ticket.id, None))
                offered.clear()
                closed.clear()
        if task is not None:
            task.advance(count % _PROGRESS_STEP)

    end = max(now, day.end)
    while next_sample < end:
        samples.append((next_sample, len(queue)))
        next_sample += sample_every
    samples.append((end, len(queue)))
    return SimulationResult.build(
        policy=label,
        day=day.name,
        start=start,
        end=end,
        outcomes=_outcomes(day, records, classes, end),
        agents=_agents(day, records, start, end),
        queue_length=samples,
        events=events,
    )


def _outcomes(day: Day, records: dict[str, _Record], classes: dict[str, str], end: float) -> list[TicketOutcome]:
    names: dict[Any, str] = {}
    outcomes = []
    for arrival in day.arrivals:
        record = records[arrival.ticket.id]
        ticket = record.ticket
        group = names.get(ticket.skills)
        if group is None:
            group = names[ticket.skills] = "+".join(ticket.skills) if ticket.skills else "-"
        unanswered = record.answered is None and record.abandoned is None
        outcomes.append(
            TicketOutcome(
                ticket.id,
                classes[ticket.id],
                ticket.customer_tier,
                ticket.severity.name.lower(),
                group,
                arrived=arrival.time,
                answered=record.answered,
                completed=record.completed,
                abandoned=record.abandoned,
                agent_id=record.agent_id,
                contacts=record.contacts,
                sla_due=ticket.sla_due,
                waited=end - arrival.time if unanswered else None,
            )
        )
    return outcomes


def _agents(day: Day, records: dict[str, _Record], start: float, end: float) -> list[AgentOutcome]:
    served: dict[str, int] = {}
    busy: dict[str, float] = {}
    for record in records.values():
        if record.completed is not None and record.agent_id is not None and record.answered is not None:
            served[record.agent_id] = served.get(record.agent_id, 0) + 1
            busy[record.agent_id] = busy.get(record.agent_id, 0.0) + (record.completed - record.answered)
    result = []
    for staff in day.staff:
        if staff.shifts:
            on_duty = math.fsum(sh.end - sh.start - math.fsum(b - a for a, b in sh.breaks) for sh in staff.shifts)
        else:
            on_duty = end - start
        agent_id = staff.agent.id
        result.append(AgentOutcome(agent_id, served.get(agent_id, 0), busy.get(agent_id, 0.0), on_duty))
    return result


def compare(
    day: Day,
    policies: Iterable[Policy | PolicySource],
    *,
    names: Sequence[str] | None = None,
    selection: Selection | None = None,
    dispatcher_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    sample_every: float = 60.0,
) -> list[SimulationResult]:
    """Simulate the very same ``day`` (same arrivals, handling times,
    patience and follow-ups) under each policy; return the results in the
    same order.  ``names`` labels them (default: each policy's own name, or
    ``"policy 1"``, ``"policy 2"``... for plain policies).  Other arguments
    as :func:`simulate`.

    Raises :class:`InvalidSimulation` for no policies, a wrong number of
    names, or two policies with the same label (from ``names``, or two
    policy files with the same name: pass ``names`` to tell them apart),
    before simulating anything.  Runtime complexity: the sum of the
    simulations.

    >>> from triage_queue import Agent, FeedbackOrder, Policy, Ticket
    >>> from triage_queue.sim.model import Arrival, Day, Staff
    >>> day = Day([Arrival(Ticket("T-1", 0.0), 60.0), Arrival(Ticket("T-2", 1.0), 60.0),
    ...            Arrival(Ticket("T-3", 2.0, severity="critical"), 60.0)], [Staff(Agent("ana"))])
    >>> fifo, default = compare(day, [Policy.lexicographic(FeedbackOrder()), Policy.default()])
    >>> fifo.policy, fifo.outcome("T-3").wait, default.outcome("T-3").wait
    ('policy 1', 118.0, 58.0)
    >>> compare(day, [Policy.default(), Policy.default(max_wait=60)], names=["ours", "ours"])
    Traceback (most recent call last):
    ...
    triage_queue.sim.model.InvalidSimulation: names=['ours', 'ours']: policies 1 and 2 are both labelled 'ours'; \
each needs its own label
    """
    chosen = list(policies)
    if not chosen:
        raise InvalidSimulation("policies", chosen, "expected at least one policy")
    if names is not None:
        names = list(names)
        if len(names) != len(chosen):
            raise InvalidSimulation("names", names, f"expected {len(chosen)} names, one per policy")
    labels: list[str | None] = []
    for i, policy in enumerate(chosen):
        if names is not None:
            labels.append(names[i])
        elif isinstance(policy, Policy):
            labels.append(f"policy {i + 1}")
        else:
            labels.append(None)
    # Results are told apart by label alone (reports, results.json), so two
    # equal labels would merge two policies' figures downstream.
    effective = [
        label if label is not None else getattr(policy, "name", None) for policy, label in zip(chosen, labels, strict=True)
    ]
    first: dict[str, int] = {}
    for i, label in enumerate(effective):
        if not isinstance(label, str):
            continue  # simulate() names the bad policy or name
        if label in first:
            raise InvalidSimulation(
                "names",
                names if names is not None else effective,
                f"policies {first[label] + 1} and {i + 1} are both labelled {label!r}; each needs its own label"
                + ("" if names is not None else " (pass names=...)"),
            )
        first[label] = i
    return [
        simulate(
            day,
            policy,
            name=label,
            selection=selection,
            dispatcher_options=dispatcher_options,
            progress=progress,
            sample_every=sample_every,
        )
        for policy, label in zip(chosen, labels, strict=True)
    ]
