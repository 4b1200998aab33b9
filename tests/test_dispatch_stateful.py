"""Stateful test: a Dispatcher on a ManualClock driven by random helpdesk
days, checked against bookkeeping of our own.

The machine keeps its own record of every ticket (waiting, offered,
assigned, completed or cancelled), every agent's value and load per
capacity key, pending offers, affinity holds and who passed on what.  It
learns what the dispatcher decided only from the audit trail (a subscribed
listener), and checks each decision as it replays it, in order:

* an offer goes only to an available agent whose skills satisfy the
  ticket's requirement at that instant (preferred skills included until
  they relax), who takes that channel and has room on that capacity key;
* never to an agent who passed on the ticket before ``retry_after`` lapsed,
  never to anyone but the holder while a hold lasts, and never for a ticket
  already assigned, completed or cancelled;
* SLA events only for tickets not yet answered.

After every step the record must agree with the dispatcher (``status``,
queue membership, offers, assignments, loads, agents, holders), and the
dispatcher's own ``_check`` (loads, heaps, work conservation) must pass.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from dispatch_models import snapshot
from triage_queue import (
    Agent,
    AgentStatus,
    Dispatcher,
    Event,
    EventKind,
    LeastLoaded,
    LongestIdle,
    ManualClock,
    MostProficient,
    NotAssigned,
    OfferClosed,
    Policy,
    RoundRobin,
    Ticket,
    TicketQueue,
    UnknownAgent,
    UnknownTicket,
)

AGENT_IDS = ("ana", "bo", "cy", "dee")
SKILLS = ("billing", "payments", "german")
CUSTOMERS = (None, "acme", "acme", "zeta", "omni")
SELECTIONS = {
    "longest_idle": LongestIdle,
    "least_loaded": LeastLoaded,
    "most_proficient": MostProficient,
    "round_robin": RoundRobin,
}

agent_skills = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=3)
capacities = st.one_of(
    st.integers(1, 2),
    st.integers(0, 2),
    st.dictionaries(st.sampled_from(["chat", "phone", "*"]), st.integers(0, 2), min_size=1, max_size=3),
)
statuses = st.sampled_from([AgentStatus.AVAILABLE] * 3 + [AgentStatus.AWAY, AgentStatus.OFFLINE, AgentStatus.NOT_RESPONDING])
ticket_skills = st.one_of(st.just({}), st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=2))
preferred = st.one_of(st.just({}), st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), min_size=1, max_size=1))
channels = st.sampled_from([None, "chat", "phone", "email"])
# Whole seconds only: created_at + relax_after and now - created_at are then
# exact, so "relaxed at this instant" means the same thing to us and to the
# queue.
waits = st.sampled_from([0] * 8 + [1, 10, 29, 30, 31, 60, 100, 301])
LIVE = ("waiting", "offered", "assigned")
# A pass forgotten when the ticket was accepted once lapsed at its old instant,
# cutting short a later pass (see test_a_new_pass_is_not_cut_short_by_an_old_one).
# Fixed; the switch stays so the check below can be loosened if it is ever
# needed for a diagnosis.
TOLERATE_STALE_PASS_LAPSE = False
CLOSING = {
    EventKind.DECLINED: "declined",
    EventKind.EXPIRED: "expired",
    EventKind.REVOKED: "revoked",
}


class DispatchMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(1_000.0)
        self.heard: list[Event] = []
        self.tickets: dict[str, Ticket] = {}
        self.state: dict[str, str] = {}
        self.offer: dict[str, tuple[str, str, str, float]] = {}  # ticket -> (offer id, agent, slot, expires)
        self.holder: dict[str, tuple[str, str]] = {}  # assigned ticket -> (agent, slot)
        self.closed: dict[str, str] = {}  # offer id -> status
        self.passes: dict[str, dict[str, float]] = {}  # ticket -> agent -> instant the pass lapses
        self.pass_log: dict[tuple[str, str], list[float]] = {}  # every lapse instant ever set
        self.stale_lapse: dict[tuple[str, str], float] = {}  # an old lapse still pending at a new pass
        self.holds: dict[str, tuple[str, float]] = {}  # ticket -> (agent, until)
        self.unroutable: set[str] = set()  # waiting tickets flagged as no agent could ever take them
        self.agents: dict[str, Agent] = {}
        self.load: dict[str, dict[str, int]] = {}
        self.pending_change: dict[str, dict[str, Any]] = {}
        self.expect_not_responding: set[str] = set()
        self.count = 0
        self.arrival: dict[str, int] = {}  # ticket -> submission order

    # -- set-up ------------------------------------------------------------

    @initialize(
        team=st.lists(st.tuples(agent_skills, capacities, statuses), min_size=2, max_size=4),
        dedicated=st.sampled_from([True, True, False]),
        selection=st.sampled_from(sorted(SELECTIONS)),
        offer_timeout=st.sampled_from([None, 30.0, 120.0]),
        mark_not_responding=st.booleans(),
        affinity_wait=st.sampled_from([0.0, 60.0]),
        retry_after=st.sampled_from([None, 0.0, 100.0]),
        max_wait=st.sampled_from([None, 300.0]),
    )
    def start(
        self,
        team: list[Any],
        dedicated: bool,
        selection: str,
        offer_timeout: float | None,
        mark_not_responding: bool,
        affinity_wait: float,
        retry_after: float | None,
        max_wait: float | None,
    ) -> None:
        agents = []
        for i, (skills, capacity, status) in enumerate(team):
            owns = {"acme"} if dedicated and i == len(team) - 1 else set()
            agents.append(Agent(AGENT_IDS[i], skills=skills, capacity=capacity, status=status, dedicated_customers=owns))
        self.policy = Policy.default(max_wait=max_wait)
        self.offer_timeout = offer_timeout
        self.mark_not_responding = mark_not_responding
        self.affinity_wait = affinity_wait
        self.retry_after = retry_after
        queue = TicketQueue(self.policy, clock=self.clock)
        self.d = Dispatcher(
            queue,
            agents,
            selection=SELECTIONS[selection](),
            offer_timeout=offer_timeout,
            mark_not_responding=mark_not_responding,
            affinity_wait=affinity_wait,
            retry_after=retry_after,
            sla_warning=20.0,
        )
        self.d.subscribe(self.heard.append)
        for agent in agents:
            self.agents[agent.id] = agent
            self.load[agent.id] = {}

    # -- replaying the audit trail ---------------------------------------------

    def sync(self) -> None:
        """Replay what the dispatcher reported since the last sync."""
        events, self.heard[:] = list(self.heard), []
        for event in events:
            self.replay(event)
        for agent_id, changes in self.pending_change.items():
            # The change was a no-op for the roster (nothing reported).
            self.agents[agent_id] = self.agents[agent_id].evolve(**changes)
        self.pending_change.clear()

    def replay(self, event: Event) -> None:
        kind, t, now = event.kind, event.ticket_id, event.time
        if kind is EventKind.SUBMITTED:
            assert self.state[t] == "new"
            self.state[t] = "waiting"
        elif kind is EventKind.OFFERED:
            self.check_offer(event)
        elif kind is EventKind.ACCEPTED:
            assert self.state[t] == "offered"
            offer_id, agent_id, slot, _ = self.offer.pop(t)
            assert (event.offer_id, event.agent_id) == (offer_id, agent_id)
            self.closed[offer_id] = "accepted"
            self.state[t] = "assigned"
            self.holder[t] = (agent_id, slot)
            self.passes.pop(t, None)
        elif kind in CLOSING:
            assert self.state[t] == "offered", (t, self.state[t], event)
            offer_id, agent_id, slot, _ = self.offer.pop(t)
            assert (event.offer_id, event.agent_id) == (offer_id, agent_id)
            self.closed[offer_id] = CLOSING[kind]
            self.state[t] = "waiting"
            self.load[agent_id][slot] -= 1
            if kind is not EventKind.REVOKED:
                self.record_pass(t, agent_id, now)
            if kind is EventKind.EXPIRED and self.mark_not_responding:
                agent = self.agents[agent_id]
                if agent.status is AgentStatus.AVAILABLE:
                    self.agents[agent_id] = agent.evolve(status=AgentStatus.NOT_RESPONDING)
                    self.expect_not_responding.add(agent_id)
        elif kind is EventKind.COMPLETED:
            assert self.state[t] == "assigned"
            agent_id, slot = self.holder.pop(t)
            assert event.agent_id == agent_id
            self.load[agent_id][slot] -= 1
            self.state[t] = "completed"
        elif kind is EventKind.TRANSFERRED:
            assert self.state[t] == "assigned"
            agent_id, slot = self.holder.pop(t)
            self.load[agent_id][slot] -= 1
            self.state[t] = "waiting"
            self.record_pass(t, agent_id, now)
        elif kind is EventKind.CANCELLED:
            assert self.state[t] in LIVE
            if self.state[t] == "offered":
                offer_id, agent_id, slot, _ = self.offer.pop(t)
                self.closed[offer_id] = "revoked"
                self.load[agent_id][slot] -= 1
            elif self.state[t] == "assigned":
                agent_id, slot = self.holder.pop(t)
                self.load[agent_id][slot] -= 1
            self.state[t] = "cancelled"
            self.passes.pop(t, None)
            self.holds.pop(t, None)
            self.unroutable.discard(t)
        elif kind is EventKind.HELD:
            assert self.state[t] == "waiting"
            self.holds[t] = (event.agent_id, now + self.affinity_wait)  # type: ignore[assignment]
        elif kind is EventKind.RELEASED:
            assert self.state[t] == "waiting"
            hold = self.holds.pop(t, None)
            # A hold ends at its time, or early when its agent goes offline or leaves.
            gone = hold is not None and (hold[0] not in self.d.roster or self.d.roster[hold[0]].status is AgentStatus.OFFLINE)
            assert hold is None or now >= hold[1] or gone, f"hold of {t} ended early at {now}: {hold}"
        elif kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED):
            assert self.state[t] in ("waiting", "offered"), f"SLA event for a {self.state[t]} ticket"
            due = self.tickets[t].sla_due
            assert due is not None
            assert now >= (due - 20.0 if kind is EventKind.SLA_WARNING else due)
        elif kind is EventKind.AGENT_CHANGED:
            agent_id = event.agent_id
            assert agent_id is not None and event.detail.startswith("changed"), event
            if agent_id in self.expect_not_responding:
                self.expect_not_responding.discard(agent_id)
            else:
                changes = self.pending_change.pop(agent_id)
                self.agents[agent_id] = self.agents[agent_id].evolve(**changes)
                self.reslot(agent_id)
        elif kind is EventKind.UNROUTABLE:
            assert self.state[t] == "waiting" and t not in self.unroutable
            assert not self.routable(t), f"{t} flagged unroutable, but an agent could take it"
            self.unroutable.add(t)
        elif kind is EventKind.ROUTABLE:
            assert self.state[t] == "waiting" and t in self.unroutable
            self.unroutable.discard(t)
        else:
            assert kind is EventKind.UPDATED, event

    def routable(self, t: str) -> bool:
        # Some agent on the roster, in any status, could ever take it.
        ticket = self.tickets[t]
        return any(
            ticket.skills.satisfied_by(agent.skills) and agent.capacity_for(ticket.channel) > 0 for agent in self.agents.values()
        )

    def reslot(self, agent_id: str) -> None:
        """After an agent's capacity changed, its tickets count against the
        capacity key their channel now maps to (if it still has one)."""
        agent = self.agents[agent_id]
        for t, (offer_id, holder, slot, expires) in list(self.offer.items()):
            new = agent.slot_for(self.tickets[t].channel)
            if holder == agent_id and new is not None and new != slot:
                self.load[agent_id][slot] -= 1
                self.load[agent_id][new] = self.load[agent_id].get(new, 0) + 1
                self.offer[t] = (offer_id, holder, new, expires)
        for t, (holder, slot) in list(self.holder.items()):
            new = agent.slot_for(self.tickets[t].channel)
            if holder == agent_id and new is not None and new != slot:
                self.load[agent_id][slot] -= 1
                self.load[agent_id][new] = self.load[agent_id].get(new, 0) + 1
                self.holder[t] = (holder, new)

    def record_pass(self, ticket_id: str, agent_id: str, now: float) -> None:
        lapses = float("inf") if self.retry_after is None else now + self.retry_after
        self.passes.setdefault(ticket_id, {})[agent_id] = lapses
        log = self.pass_log.setdefault((ticket_id, agent_id), [])
        pending = [old for old in log if old > now]
        if pending:
            self.stale_lapse[(ticket_id, agent_id)] = min(pending)
        else:
            self.stale_lapse.pop((ticket_id, agent_id), None)
        log.append(lapses)

    def check_offer(self, event: Event) -> None:
        t, agent_id, now = event.ticket_id, event.agent_id, event.time
        assert t is not None and agent_id is not None
        assert self.state[t] == "waiting", f"{t} offered while {self.state[t]}"
        ticket = self.tickets[t]
        agent = self.agents[agent_id]
        assert agent.status is AgentStatus.AVAILABLE, f"{t} offered to {agent_id}, who is {agent.status.value}"
        requirement = ticket.requirement(now)
        assert requirement.satisfied_by(agent.skills), f"{t} needs {dict(requirement)}; {agent_id} has {dict(agent.skills)}"
        slot = agent.slot_for(ticket.channel)
        assert slot is not None, f"{agent_id} takes no {ticket.channel!r} tickets"
        used = self.load[agent_id].get(slot, 0)
        assert used < agent.capacity[slot], f"{agent_id} at {used}/{agent.capacity[slot]} on {slot!r} got {t}"
        lapses = self.passes.get(t, {}).get(agent_id)
        if lapses is not None and now < lapses:
            stale = self.stale_lapse.get((t, agent_id))
            known = TOLERATE_STALE_PASS_LAPSE and stale is not None and now >= stale
            assert known, f"{t} offered at {now} to {agent_id}, who passed until {lapses}"
        hold = self.holds.pop(t, None)
        assert hold is None or now >= hold[1] or hold[0] == agent_id, f"{t} held for {hold}, offered to {agent_id}"
        self.load[agent_id][slot] = used + 1
        expires = float("inf") if self.offer_timeout is None else now + self.offer_timeout
        self.offer[t] = (event.offer_id, agent_id, slot, expires)  # type: ignore[assignment]
        self.state[t] = "offered"

    # -- helpers -----------------------------------------------------------------

    def wait(self, seconds: float) -> None:
        # Time passes without a tick: the next operation applies what is due.
        if seconds:
            self.clock.advance(seconds)

    def in_state(self, *states: str) -> list[str]:
        return sorted(t for t, s in self.state.items() if s in states)

    def change_agent(self, agent_id: str, **changes: Any) -> None:
        self.pending_change[agent_id] = changes
        try:
            if set(changes) == {"status"}:
                self.d.set_status(agent_id, changes["status"])
            else:
                self.d.update_agent(agent_id, **changes)
        finally:
            self.sync()

    def answer(self, ticket_id: str, how: str, by_object: bool) -> None:
        offer_id, agent_id, _, expires = self.offer[ticket_id]
        target: Any = offer_id
        if by_object:
            matches = [o for o in self.d.offers_for(agent_id) if o.id == offer_id]
            self.sync()
            if not matches:  # it expired on the way; answer by id
                assert self.clock() >= expires or self.mark_not_responding
            else:
                target = matches[0]
        try:
            if how == "accept":
                accepted = self.d.accept(target)
                assert accepted == self.tickets[ticket_id]
            else:
                self.d.decline(target, "busy")
        except OfferClosed as closed:
            self.d.tick()  # events of the failed call reach listeners on the next one
            self.sync()
            assert self.closed[offer_id] == closed.status
            if self.clock() >= expires:
                assert closed.status in ("expired", "revoked")
            else:
                assert closed.status == "revoked" and self.mark_not_responding
            return
        self.sync()
        assert self.clock() < expires
        assert self.closed[offer_id] == ("accepted" if how == "accept" else "declined")

    # -- rules -----------------------------------------------------------------

    @rule(
        skills=ticket_skills,
        extra=preferred,
        relax_after=st.sampled_from([None, 0, 30, 60]),
        channel=channels,
        severity=st.sampled_from(["low", "normal", "high", "critical"]),
        tier=st.sampled_from([None, "silver", "gold"]),
        customer=st.sampled_from(CUSTOMERS),
        age=st.sampled_from([0, 0, 0, 10, 60, 120]),
        sla=st.sampled_from([None, None, 10, 50, 400]),
        wait=waits,
    )
    def submit(
        self,
        skills: dict[str, int],
        extra: dict[str, int],
        relax_after: int | None,
        channel: str | None,
        severity: str,
        tier: str | None,
        customer: str | None,
        age: int,
        sla: int | None,
        wait: float,
    ) -> None:
        self.wait(wait)
        now = self.clock()
        ticket_id = f"T-{self.count}"
        self.count += 1
        ticket = Ticket(
            ticket_id,
            now - age,
            severity=severity,
            customer_tier=tier,
            skills=skills,
            channel=channel,
            customer_id=customer,
            preferred_skills=extra,
            relax_after=relax_after,
            sla_due=None if sla is None else now + sla,
        )
        self.tickets[ticket_id] = ticket
        self.state[ticket_id] = "new"
        self.arrival[ticket_id] = len(self.arrival)
        offer = self.d.submit(ticket)
        self.sync()
        if offer is None:
            assert self.state[ticket_id] == "waiting"
        else:
            assert self.state[ticket_id] == "offered"
            assert self.offer[ticket_id][:2] == (offer.id, offer.agent_id)
            assert offer.ticket == ticket

    @precondition(lambda self: any(s == "offered" for s in self.state.values()))
    @rule(data=st.data(), wait=waits, by_object=st.booleans())
    def accept(self, data: st.DataObject, wait: float, by_object: bool) -> None:
        ticket_id = data.draw(st.sampled_from(self.in_state("offered")))
        self.wait(wait)
        self.answer(ticket_id, "accept", by_object)

    @precondition(lambda self: any(s == "offered" for s in self.state.values()))
    @rule(data=st.data(), wait=waits, by_object=st.booleans())
    def decline(self, data: st.DataObject, wait: float, by_object: bool) -> None:
        ticket_id = data.draw(st.sampled_from(self.in_state("offered")))
        self.wait(wait)
        self.answer(ticket_id, "decline", by_object)

    @precondition(lambda self: any(s == "assigned" for s in self.state.values()))
    @rule(data=st.data(), wait=waits, name_agent=st.booleans())
    def complete(self, data: st.DataObject, wait: float, name_agent: bool) -> None:
        ticket_id = data.draw(st.sampled_from(self.in_state("assigned")))
        self.wait(wait)
        agent_id = self.holder[ticket_id][0] if name_agent else None
        done = self.d.complete(ticket_id, agent_id)
        self.sync()
        assert done == self.tickets[ticket_id]
        assert self.state[ticket_id] == "completed"

    @precondition(lambda self: any(s == "assigned" for s in self.state.values()))
    @rule(data=st.data(), skills=ticket_skills, wait=waits)
    def transfer(self, data: st.DataObject, skills: dict[str, int], wait: float) -> None:
        ticket_id = data.draw(st.sampled_from(self.in_state("assigned")))
        self.wait(wait)
        self.tickets[ticket_id] = self.tickets[ticket_id].evolve(skills=skills)
        new = self.d.transfer(ticket_id, skills=skills)
        self.sync()
        assert new == self.tickets[ticket_id]
        assert self.state[ticket_id] in ("waiting", "offered")

    @precondition(lambda self: any(s in LIVE for s in self.state.values()))
    @rule(data=st.data(), wait=waits)
    def cancel(self, data: st.DataObject, wait: float) -> None:
        ticket_id = data.draw(st.sampled_from(self.in_state(*LIVE)))
        self.wait(wait)
        self.d.cancel(ticket_id)
        self.sync()
        assert self.state[ticket_id] == "cancelled"

    @precondition(lambda self: any(s in LIVE for s in self.state.values()))
    @rule(
        data=st.data(),
        severity=st.sampled_from(["low", "normal", "high", "critical"]),
        tier=st.sampled_from([None, "silver", "gold", "platinum"]),
        wait=waits,
    )
    def escalate(self, data: st.DataObject, severity: str, tier: str | None, wait: float) -> None:
        ticket_id = data.draw(st.sampled_from(self.in_state(*LIVE)))
        self.wait(wait)
        self.tickets[ticket_id] = self.tickets[ticket_id].evolve(severity=severity, customer_tier=tier)
        new = self.d.update(ticket_id, severity=severity, customer_tier=tier)
        self.sync()
        assert new == self.tickets[ticket_id]

    @rule(data=st.data(), status=statuses, wait=waits)
    def set_status(self, data: st.DataObject, status: AgentStatus, wait: float) -> None:
        agent_id = data.draw(st.sampled_from(sorted(self.agents)))
        self.wait(wait)
        self.change_agent(agent_id, status=status)

    @rule(data=st.data(), skills=agent_skills, capacity=capacities, wait=waits)
    def update_agent(self, data: st.DataObject, skills: dict[str, int], capacity: Any, wait: float) -> None:
        agent_id = data.draw(st.sampled_from(sorted(self.agents)))
        self.wait(wait)
        change = data.draw(st.sampled_from(["skills", "capacity", "both"]))
        changes: dict[str, Any] = {}
        if change in ("skills", "both"):
            changes["skills"] = skills
        if change in ("capacity", "both"):
            changes["capacity"] = capacity
        self.change_agent(agent_id, **changes)

    @rule(seconds=st.sampled_from([1, 10, 20, 29, 30, 31, 60, 100, 301]))
    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.d.tick()
        self.sync()

    @rule(data=st.data(), finish=st.booleans())
    def busy_hour(self, data: st.DataObject, finish: bool) -> None:
        """Agents accept every pending offer, and perhaps finish their work."""
        for ticket_id in self.in_state("offered"):
            if self.state[ticket_id] == "offered":  # still (an accept may cause others)
                self.answer(ticket_id, "accept", by_object=False)
        if finish:
            for ticket_id in self.in_state("assigned")[: data.draw(st.integers(1, 3))]:
                self.d.complete(ticket_id)
                self.sync()

    @rule(data=st.data(), wait=waits)
    def next_for(self, data: st.DataObject, wait: float) -> None:
        agent_id = data.draw(st.sampled_from(sorted(self.agents)))
        self.wait(wait)
        offer = self.d.next_for(agent_id)
        self.sync()
        if offer is not None:
            assert offer.agent_id == agent_id
            assert self.offer[offer.ticket.id][:2] == (offer.id, agent_id)

    @rule(data=st.data(), wait=waits)
    def shift_start(self, data: st.DataObject, wait: float) -> None:
        """Inside paused(): agents come and go, tickets arrive, nothing is
        offered; on leaving, assign_all offers the backlog at once."""
        self.wait(wait)
        with self.d.paused():
            for _ in range(data.draw(st.integers(0, 3))):
                if data.draw(st.booleans()):
                    agent_id = data.draw(st.sampled_from(sorted(self.agents)))
                    self.change_agent(agent_id, status=data.draw(statuses))
                else:
                    ticket_id = f"T-{self.count}"
                    self.count += 1
                    ticket = Ticket(
                        ticket_id,
                        self.clock(),
                        skills=data.draw(ticket_skills),
                        channel=data.draw(channels),
                        customer_id=data.draw(st.sampled_from(CUSTOMERS)),
                    )
                    self.tickets[ticket_id] = ticket
                    self.state[ticket_id] = "new"
                    self.arrival[ticket_id] = len(self.arrival)
                    assert self.d.submit(ticket) is None
                    self.sync()
                assert not any(e.kind is EventKind.OFFERED for e in self.heard)
                self.d._check()
        self.sync()
        # Afterwards the dispatcher is work-conserving, so a batch finds
        # nothing more to offer.
        assert self.d.assign_all() == []

    @precondition(lambda self: bool(self.state))
    @rule(data=st.data())
    def misuse(self, data: st.DataObject) -> None:
        """Calls that must fail, and change nothing."""
        ticket_id = data.draw(st.sampled_from(sorted(self.state)))
        before = snapshot(self.d, self.state)
        self.sync()
        state = self.state[ticket_id]
        if state == "assigned":
            owner = self.holder[ticket_id][0]
            other = data.draw(st.sampled_from([a for a in AGENT_IDS if a != owner]))
            expected: type[Exception] = NotAssigned

            def call() -> Any:
                return self.d.complete(ticket_id, other)
        elif state in ("waiting", "offered"):
            expected = NotAssigned

            def call() -> Any:
                return self.d.transfer(ticket_id, skills=["billing"])
        else:
            expected = UnknownTicket

            def call() -> Any:
                return self.d.complete(ticket_id)

        try:
            call()
        except expected:
            pass
        else:
            raise AssertionError(f"expected {expected.__name__} for a {state} ticket")
        try:
            self.d.next_for("nobody")
        except UnknownAgent:
            pass
        else:
            raise AssertionError("expected UnknownAgent")
        if self.closed:
            offer_id = data.draw(st.sampled_from(sorted(self.closed)))
            try:
                self.d.accept(offer_id)
            except OfferClosed as closed:
                assert closed.status == self.closed[offer_id]
            else:
                raise AssertionError("accepted a closed offer")
        assert snapshot(self.d, self.state) == before
        self.sync()

    # -- invariants -------------------------------------------------------------

    @invariant()
    def agrees_with_the_dispatcher(self) -> None:
        if not hasattr(self, "d"):
            return
        d = self.d
        d._check()
        d.tick()  # deliver anything _check applied, and what a failed call left
        self.sync()
        assert not self.expect_not_responding and not self.pending_change
        pending: dict[str, set[str]] = {a: set() for a in self.agents}
        assigned: dict[str, set[str]] = {a: set() for a in self.agents}
        for ticket_id, state in self.state.items():
            assert state != "new"
            if state in LIVE:
                assert d.status(ticket_id) == state, ticket_id
            else:
                try:
                    d.status(ticket_id)
                except UnknownTicket:
                    pass
                else:
                    raise AssertionError(f"{ticket_id} is {state} but the dispatcher still knows it")
            assert (ticket_id in d.queue) == (state == "waiting")
            if state == "offered":
                pending[self.offer[ticket_id][1]].add(self.offer[ticket_id][0])
            elif state == "assigned":
                assigned[self.holder[ticket_id][0]].add(ticket_id)
        for agent_id, agent in self.agents.items():
            assert d.roster[agent_id] == agent
            assert d.roster[agent_id].capacity == agent.capacity
            assert {o.id for o in d.offers_for(agent_id)} == pending[agent_id]
            assert {t.id for t in d.assigned(agent_id)} == assigned[agent_id]
            live_load = {slot: n for slot, n in d.roster.state(agent_id).load.items() if n}
            assert live_load == {slot: n for slot, n in self.load[agent_id].items() if n}
        now = self.clock()
        # The queue order is the policy's, arrival order breaking ties: a
        # ticket given back, expired or transferred is at its original place.
        expected = sorted(self.in_state("waiting"), key=lambda t: (self.policy.sort_key(self.tickets[t], now), self.arrival[t]))
        assert [t.id for t in d.queue] == expected
        # Exactly the waiting tickets no agent could ever take are flagged (once).
        assert self.unroutable == {t for t in self.in_state("waiting") if not self.routable(t)}
        assert d.stats().unroutable == len(self.unroutable)
        for ticket_id in self.in_state("waiting"):
            hold = self.holds.get(ticket_id)
            if hold is not None and now < hold[1]:
                assert d.queue.holder(ticket_id) == hold[0]
            else:
                assert d.queue.holder(ticket_id) is None
        self.sync()


DispatchMachine.TestCase.settings = settings(settings.default, stateful_step_count=50, deadline=None)
TestDispatchMachine = DispatchMachine.TestCase
