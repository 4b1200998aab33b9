"""Stateful tests: TicketQueue against a reference model that recomputes the
whole order from scratch, at the current clock reading, on every check.

The queue caches keys (computed on push and update, re-keyed at the instants
stepped rules announce); the model caches nothing.  Any stale key, lost
ticket, wrong skill filter or half-applied failure shows up as a
disagreement.

The same goes for lanes: the model decides from scratch whether a ticket is
eligible for an agent (its requirement at this instant, preferred skills
included until they relax; its channel against the agent's channel filter;
whether it is held for another agent), whereas the queue files tickets in
partitions that it moves at the instants preferred skills relax and holds
end.  Taking a ticket out (``seam.take_best``) and putting it back
(``seam.restore``), as the dispatcher does, must leave it at exactly its
old place.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from queue_models import (
    AGENTS,
    IDS,
    QueueModel,
    agent_skills,
    agents,
    channel_filters,
    ladder_policy,
    max_wait_policy,
    preferred,
    relax_afters,
    requirements,
    sla_first_policy,
    stepped_policy,
    ticket_channels,
    tickets,
    weighted_max_wait_policy,
    weighted_policy,
)
from triage_queue import (
    DuplicateTicket,
    Empty,
    ManualClock,
    Policy,
    Severity,
    SkillSet,
    Ticket,
    TicketQueue,
    UnknownTicket,
)

ids = st.sampled_from(IDS)
# Most operations happen at the current instant; some first let time pass,
# so that the queue has to answer with keys that stepped since it last looked.
# "step" moves the clock exactly onto the earliest step any queued ticket has
# announced, "flip" onto the earliest step that changes the service order,
# "all steps" onto the latest step (crossing every one).
waits = st.one_of(
    st.just(0),
    st.sampled_from(["step", "flip"]),
    st.sampled_from([0, "all steps", 1, 30, 59.5, 60, 61]),
    st.floats(0, 150),
)
windows = st.one_of(st.just(0), st.integers(0, 300), st.floats(0, 400))
maybe_skills = st.one_of(st.none(), agent_skills)
# When a hold ends, relative to now: sometimes already over (no hold at all).
hold_ends = st.one_of(st.sampled_from([-5, 0, 1, 30, 60, 120, 240]), st.floats(-10, 300))


# (agent, skills, channels) asked for after every step.
INVARIANT_VIEWS: list[tuple[str | None, SkillSet | None, frozenset[str | None] | None]] = [
    *((agent, skills, None) for agent in (None, *AGENTS) for skills in (None, SkillSet(), SkillSet({"billing": 2, "payments": 2}))),
    ("ana", None, frozenset({None, "chat"})),
]


class QueueMachine(RuleBasedStateMachine):
    """TicketQueue versus QueueModel under one policy (set by subclasses)."""

    # How often the clock passed a queued ticket's announced step, and how
    # often that changed the order right before an operation (so the queue
    # had to re-key before answering).
    crossings: ClassVar[int] = 0
    stale_operations: ClassVar[int] = 0
    # How often the clock passed an instant at which preferred skills relax
    # or a hold ends; how often a held ticket was served to its agent; how
    # often a taken ticket was put back.
    lane_crossings: ClassVar[int] = 0
    held_serves: ClassVar[int] = 0
    restores: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(1_000.0)
        self.policy = self.make_policy()
        self.queue = TicketQueue(self.policy, clock=self.clock)
        # The dispatcher's seam: taking a ticket out and putting it back.
        self.seam = self.queue.attach("test")
        self.model = QueueModel(self.policy)
        # Tickets taken out with take_best, with their arrival sequence, that
        # may be put back with restore.
        self.taken: list[tuple[Ticket, int]] = []

    def make_policy(self) -> Policy:
        """The policy under test (subclasses choose)."""
        return Policy.default()

    @property
    def now(self) -> float:
        return self.clock()

    def _advance(self, seconds: float | str, *, before_operation: bool = False) -> None:
        pending = list(self.model.schedule(self.now).values())
        if isinstance(seconds, str):
            if seconds == "flip":
                pending = self._reorder_steps()[:1]
            if not pending:
                return
            seconds = (max(pending) if seconds == "all steps" else min(pending)) - self.now
        if not seconds:
            return
        before = self.now
        lane_steps = self._lane_steps()
        self.clock.advance(seconds)
        crossed = sum(1 for when in pending if when <= self.now)
        type(self).crossings += crossed
        type(self).lane_crossings += sum(1 for when in lane_steps if when <= self.now)
        if before_operation and crossed and self.model.ids(before) != self.model.ids(self.now):
            type(self).stale_operations += 1

    def _lane_steps(self) -> list[float]:
        """Instants ahead at which a ticket's preferred skills relax or its hold ends."""
        now = self.now
        steps = []
        for ticket, _ in self.model.entries:
            relax_at = ticket.relaxes_at()
            if relax_at is not None and relax_at > now:
                steps.append(relax_at)
            if self.model.holder(ticket.id, now) is not None:
                steps.append(self.model.holds[ticket.id][1])
        return sorted(steps)

    def _pick_id(self, data: st.DataObject) -> str:
        """Mostly the id of a queued ticket, sometimes any id (maybe unknown)."""
        queued = [t.id for t, _ in self.model.entries]
        if queued and data.draw(st.integers(0, 3)) > 0:
            return data.draw(st.sampled_from(queued))
        return data.draw(ids)

    # -- adding ---------------------------------------------------------------

    @initialize(data=st.data(), count=st.integers(0, len(IDS)))
    def fill(self, data: st.DataObject, count: int) -> None:
        """Start most runs from a populated queue."""
        for ticket_id in IDS[:count]:
            ticket = data.draw(tickets(ticket_id, self.now))
            self.queue.push(ticket)
            self.model.push(ticket)

    @precondition(lambda self: len(self.model) < len(IDS))
    @rule(data=st.data(), wait=waits)
    def push_new(self, data: st.DataObject, wait: float | str) -> None:
        self._advance(wait, before_operation=True)
        ticket_id = data.draw(st.sampled_from([i for i in IDS if i not in self.model]))
        if self.model.entries and data.draw(st.booleans()) is True:
            # A copy of a queued ticket under a new id: an exact tie, which
            # must be served in arrival order.
            twin = data.draw(st.sampled_from([t for t, _ in self.model.entries]))
            ticket = attrs.evolve(twin, id=ticket_id)
        else:
            ticket = data.draw(tickets(ticket_id, self.now))
        self.queue.push(ticket)
        self.model.push(ticket)

    @rule(data=st.data(), ticket_id=ids, wait=waits)
    def push(self, data: st.DataObject, ticket_id: str, wait: float | str) -> None:
        self._advance(wait, before_operation=True)
        ticket = data.draw(tickets(ticket_id, self.now))
        if ticket_id in self.model:
            with pytest.raises(DuplicateTicket):
                self.queue.push(ticket)
        else:
            self.queue.push(ticket)
            self.model.push(ticket)

    # -- serving --------------------------------------------------------------

    def _note_served(self, ticket: Ticket, agent: str | None) -> None:
        if agent is not None and self.model.holder(ticket.id, self.now) == agent:
            type(self).held_serves += 1

    @rule(skills=maybe_skills, wait=waits, channels=channel_filters, agent=agents)
    def pop(
        self,
        skills: Mapping[str, int] | None,
        wait: float | str,
        channels: Container[str | None] | None = None,
        agent: str | None = None,
    ) -> None:
        self._advance(wait, before_operation=True)
        expected = self.model.best(self.now, skills, channels, agent)
        if expected is None:
            with pytest.raises(Empty):
                self.queue.pop(skills, channels=channels, agent=agent)
        else:
            assert self.queue.pop(skills, channels=channels, agent=agent) == expected
            self._note_served(expected, agent)
            self.model.remove(expected.id)

    @precondition(lambda self: len(self.model) > 4)
    @rule(skills=maybe_skills, count=st.integers(2, 4), wait=waits, channels=channel_filters, agent=agents)
    def serve_several(
        self,
        skills: Mapping[str, int] | None,
        count: int,
        wait: float | str,
        channels: Container[str | None] | None,
        agent: str | None,
    ) -> None:
        """An agent takes several tickets in a row."""
        self._advance(wait, before_operation=True)
        for _ in range(count):
            expected = self.model.best(self.now, skills, channels, agent)
            if expected is None:
                with pytest.raises(Empty):
                    self.queue.pop(skills, channels=channels, agent=agent)
                return
            assert self.queue.pop(skills, channels=channels, agent=agent) == expected
            self._note_served(expected, agent)
            self.model.remove(expected.id)

    @rule(skills=maybe_skills, wait=waits, channels=channel_filters, agent=agents)
    def peek(
        self,
        skills: Mapping[str, int] | None,
        wait: float | str,
        channels: Container[str | None] | None = None,
        agent: str | None = None,
    ) -> None:
        self._advance(wait, before_operation=True)
        expected = self.model.best(self.now, skills, channels, agent)
        if expected is None:
            with pytest.raises(Empty):
                self.queue.peek(skills, channels=channels, agent=agent)
        else:
            assert self.queue.peek(skills, channels=channels, agent=agent) == expected

    # -- taking out and putting back (what a dispatcher does) -----------------

    def _take(
        self, skills: SkillSet | None, channels: Container[str | None] | None, agent: str | None
    ) -> tuple[Ticket, int] | None:
        with self.queue.lock:
            found = self.seam.take_best(skills, channels, agent)
        self.seam.relaned()  # nobody routes them here
        return found

    @rule(skills=maybe_skills, channels=channel_filters, agent=agents, keep_hold=st.booleans(), wait=waits)
    def take_and_put_back(
        self,
        skills: Mapping[str, int] | None,
        channels: Container[str | None] | None,
        agent: str | None,
        keep_hold: bool,
        wait: float | str,
    ) -> None:
        """An offer declined at once: the ticket goes back exactly where it
        was (with its hold, or without it)."""
        self._advance(wait, before_operation=True)
        before = [t.id for t in self.queue]
        expected = self.model.best(self.now, skills, channels, agent)
        found = self._take(None if skills is None else SkillSet.of(skills), channels, agent)
        if expected is None:
            assert found is None
            assert [t.id for t in self.queue] == before
            return
        assert found is not None
        ticket, seq = found
        assert ticket == expected
        assert seq == self.model.seq(ticket.id)
        assert ticket.id not in self.queue
        assert [t.id for t in self.queue] == [i for i in before if i != ticket.id]
        holder = self.model.holder(ticket.id, self.now)
        hold = self.model.holds[ticket.id] if keep_hold and holder is not None else None
        self.seam.restore(ticket, seq, hold)
        if hold is None:
            self.model.release(ticket.id)
        type(self).restores += 1
        assert [t.id for t in self.queue] == before
        assert self.queue.holder(ticket.id) == (None if hold is None else hold[0])

    @rule(skills=maybe_skills, channels=channel_filters, agent=agents, wait=waits)
    def take(
        self,
        skills: Mapping[str, int] | None,
        channels: Container[str | None] | None,
        agent: str | None,
        wait: float | str,
    ) -> None:
        """Take the ticket pop() would give, with its arrival sequence."""
        self._advance(wait, before_operation=True)
        expected = self.model.best(self.now, skills, channels, agent)
        found = self._take(None if skills is None else SkillSet.of(skills), channels, agent)
        if expected is None:
            assert found is None
            return
        assert found == (expected, self.model.seq(expected.id))
        self._note_served(expected, agent)
        self.model.remove(expected.id)
        self.taken.append(found)

    @precondition(lambda self: bool(self.taken))
    @rule(data=st.data(), wait=waits)
    def restore(self, data: st.DataObject, wait: float | str) -> None:
        """Put back a ticket taken a while ago, maybe held for an agent; it
        takes its old arrival sequence, so among equals it is ahead of the
        tickets that came after it.  If its id was queued again meanwhile,
        DuplicateTicket and nothing changes."""
        i = data.draw(st.integers(0, len(self.taken) - 1))
        ticket, seq = self.taken.pop(i)
        self._advance(wait, before_operation=True)
        hold = data.draw(st.one_of(st.none(), st.tuples(st.sampled_from(AGENTS), hold_ends.map(lambda d: self.now + d))))
        if ticket.id in self.model:
            with pytest.raises(DuplicateTicket):
                self.seam.restore(ticket, seq, hold)
            return
        self.seam.restore(ticket, seq, hold)
        self.model.restore(ticket, seq, hold)
        type(self).restores += 1

    # -- holds ------------------------------------------------------------------

    @rule(data=st.data(), agent=st.sampled_from(AGENTS), until=hold_ends, wait=waits)
    def hold(self, data: st.DataObject, agent: str, until: float, wait: float | str) -> None:
        ticket_id = self._pick_id(data)
        self._advance(wait, before_operation=True)
        self._hold(ticket_id, agent, self.now + until)

    def _hold(self, ticket_id: str, agent: str, until_at: float) -> None:
        if ticket_id not in self.model:
            with pytest.raises(UnknownTicket):
                self.queue.hold(ticket_id, agent, until_at)
            return
        self.queue.hold(ticket_id, agent, until_at)
        self.model.hold(ticket_id, agent, until_at)

    @precondition(lambda self: len(self.model) > 0)
    @rule(
        data=st.data(),
        agent=st.sampled_from(AGENTS),
        until=hold_ends,
        skills=maybe_skills,
        channels=channel_filters,
        wait=waits,
    )
    def hold_then_serve(
        self,
        data: st.DataObject,
        agent: str,
        until: float,
        skills: Mapping[str, int] | None,
        channels: Container[str | None] | None,
        wait: float | str,
    ) -> None:
        """A ticket is held for one agent; after a while (maybe past the end
        of the hold) someone else asks, then the agent it is held for."""
        # Often one of the best two, which the agent would be served anyway.
        order = self.model.ids(self.now)
        ticket_id = data.draw(st.sampled_from(order[:2] if data.draw(st.booleans()) else order))
        self._hold(ticket_id, agent, self.now + until)
        self._advance(wait, before_operation=True)
        other = next(a for a in AGENTS if a != agent)
        self.peek(skills, 0, channels, data.draw(st.sampled_from([None, other])))
        self.pop(skills, 0, channels, agent)

    @rule(data=st.data(), wait=waits)
    def release(self, data: st.DataObject, wait: float | str) -> None:
        ticket_id = self._pick_id(data)
        self._advance(wait, before_operation=True)
        if ticket_id not in self.model:
            with pytest.raises(UnknownTicket):
                self.queue.release(ticket_id)
            return
        self.queue.release(ticket_id)
        self.model.release(ticket_id)

    @rule(data=st.data(), wait=waits)
    def holder(self, data: st.DataObject, wait: float | str) -> None:
        ticket_id = self._pick_id(data)
        self._advance(wait, before_operation=True)
        if ticket_id not in self.model:
            with pytest.raises(UnknownTicket):
                self.queue.holder(ticket_id)
            return
        assert self.queue.holder(ticket_id) == self.model.holder(ticket_id, self.now)

    @precondition(lambda self: len(self.model) > 0)
    @rule(
        data=st.data(),
        action=st.sampled_from(["pop", "peek", "take", "holder", "update", "position"]),
        skills=maybe_skills,
        channels=channel_filters,
        agent=agents,
    )
    def act_right_when_a_lane_changes(
        self,
        data: st.DataObject,
        action: str,
        skills: Mapping[str, int] | None,
        channels: Container[str | None] | None,
        agent: str | None,
    ) -> None:
        """Move the clock onto (or just before or after) an instant at which
        preferred skills relax or a hold ends, then operate at once."""
        steps = self._lane_steps()
        if not steps:
            return
        when = data.draw(st.sampled_from(steps)) + data.draw(st.sampled_from([0.0, 0.0, -1e-6, 1e-6]))
        self._advance(max(0.0, when - self.now), before_operation=True)
        if action in ("pop", "peek", "take"):
            if action == "take":
                self.take(skills, channels, agent, 0)
            else:
                getattr(self, action)(skills, 0, channels, agent)
        else:
            getattr(self, action)(data, 0)

    # -- changing -------------------------------------------------------------

    @rule(data=st.data(), wait=waits)
    def update(self, data: st.DataObject, wait: float | str) -> None:
        ticket_id = self._pick_id(data)
        self._advance(wait, before_operation=True)
        old = self.model.get(ticket_id)
        contacts = 1 if old is None else old.contacts
        kind = data.draw(
            st.sampled_from(
                ["escalate", "severity", "tier", "follow_up", "skills", "sla_due", "channel", "preferred", "relax", "several"]
            )
        )
        changes: dict[str, Any] = {}
        if kind == "escalate":
            changes["severity"] = Severity.CRITICAL
        if kind in ("severity", "several"):
            changes["severity"] = data.draw(st.sampled_from(list(Severity)))
        if kind in ("tier", "several"):
            changes["customer_tier"] = data.draw(st.sampled_from(["standard", "silver", "gold", "platinum", None]))
        if kind in ("follow_up", "several"):
            changes["contacts"] = contacts + 1
        if kind in ("skills", "several"):
            changes["skills"] = data.draw(requirements)
        if kind in ("channel", "several"):
            changes["channel"] = data.draw(ticket_channels)
        if kind in ("preferred", "several"):
            changes["preferred_skills"] = data.draw(preferred)
        if kind in ("preferred", "relax", "several"):
            changes["relax_after"] = data.draw(relax_afters)
        if kind in ("sla_due", "several"):
            # Sometimes another ticket's deadline: equal deadlines must come
            # out of due_within() and breached() in service order.
            dues = sorted({t.sla_due for t, _ in self.model.entries if t.sla_due is not None})
            same_due = st.sampled_from(dues) if dues else st.none()
            changes["sla_due"] = data.draw(st.one_of(st.none(), st.integers(-60, 600).map(lambda d: self.now + d), same_due))
        if old is None:
            with pytest.raises(UnknownTicket):
                self.queue.update(ticket_id, **changes)
            return
        new = self.queue.update(ticket_id, **changes)
        assert new == self.model.update(ticket_id, **changes)
        assert self.queue[ticket_id] == new

    @rule(data=st.data(), wait=waits)
    def remove(self, data: st.DataObject, wait: float | str) -> None:
        ticket_id = self._pick_id(data)
        self._advance(wait, before_operation=True)
        if ticket_id not in self.model:
            with pytest.raises(UnknownTicket):
                self.queue.remove(ticket_id)
        else:
            assert self.queue.remove(ticket_id) == self.model.remove(ticket_id)

    # -- looking up -----------------------------------------------------------

    @rule(data=st.data(), wait=waits)
    def position(self, data: st.DataObject, wait: float | str) -> None:
        ticket_id = self._pick_id(data)
        self._advance(wait, before_operation=True)
        if ticket_id not in self.model:
            with pytest.raises(UnknownTicket):
                self.queue.position(ticket_id)
        else:
            assert self.queue.position(ticket_id) == self.model.position(ticket_id, self.now)

    @rule(data=st.data(), wait=waits)
    def explain(self, data: st.DataObject, wait: float | str) -> None:
        ticket_id = self._pick_id(data)
        self._advance(wait, before_operation=True)
        ticket = self.model.get(ticket_id)
        if ticket is None:
            with pytest.raises(UnknownTicket):
                self.queue.explain(ticket_id)
            return
        explanation = self.queue.explain(ticket_id)
        assert explanation.position == self.model.position(ticket_id, self.now)
        assert explanation.ticket_id == ticket_id
        assert explanation.now == self.now
        assert explanation.contributions == self.policy.explain(ticket, self.now).contributions
        if self.policy.max_wait is None:
            assert explanation.wait_bound is None
        else:
            assert explanation.wait_bound is not None
            overdue = self.now - ticket.created_at >= self.policy.max_wait
            assert ("past the" in explanation.wait_bound) == overdue

    @rule(data=st.data())
    def look_up(self, data: st.DataObject) -> None:
        ticket_id = self._pick_id(data)
        ticket = self.model.get(ticket_id)
        assert self.queue.get(ticket_id) == ticket
        assert (ticket_id in self.queue) == (ticket is not None)
        assert len(self.queue) == len(self.model)
        if ticket is None:
            with pytest.raises(UnknownTicket):
                self.queue[ticket_id]
        else:
            assert self.queue[ticket_id] == ticket

    @rule(seconds=windows, wait=waits)
    def due_within(self, seconds: float, wait: float | str) -> None:
        self._advance(wait, before_operation=True)
        assert self.queue.due_within(seconds) == self.model.due_within(self.now, seconds)

    @rule(wait=waits)
    def breached(self, wait: float | str) -> None:
        self._advance(wait, before_operation=True)
        assert self.queue.breached() == self.model.breached(self.now)

    def _reorder_steps(self) -> list[float]:
        """Announced step instants at which the fresh service order differs from now's."""
        order = self.model.ids(self.now)
        return [w for w in sorted(set(self.model.schedule(self.now).values())) if self.model.ids(w) != order]

    @precondition(lambda self: self.policy.time_stepped and len(self.model) > 1)
    @rule(
        data=st.data(),
        action=st.sampled_from(
            ["pop", "peek", "position", "explain", "update", "remove", "push", "due_within", "breached", "hold", "release"]
        ),
        skills=maybe_skills,
        channels=channel_filters,
        agent=agents,
    )
    def act_right_after_the_order_changed(
        self,
        data: st.DataObject,
        action: str,
        skills: Mapping[str, int] | None,
        channels: Container[str | None] | None,
        agent: str | None,
    ) -> None:
        """Move the clock onto a step that reorders the queue, then operate
        at once, before anything else has had a chance to re-key."""
        flips = self._reorder_steps()
        if not flips:
            return
        self._advance(data.draw(st.sampled_from(flips)) - self.now, before_operation=True)
        if action in ("pop", "peek"):
            getattr(self, action)(skills, 0, channels, agent)
        elif action == "hold":
            self.hold(data, data.draw(st.sampled_from(AGENTS)), data.draw(hold_ends), 0)
        elif action == "due_within":
            self.due_within(data.draw(windows), 0)
        elif action == "breached":
            self.breached(0)
        elif action == "push":
            if len(self.model) < len(IDS):
                self.push_new(data, 0)
        else:
            getattr(self, action)(data, 0)

    @precondition(lambda self: self.policy.time_stepped and len(self.model) > 1)
    @rule(data=st.data())
    def deadlines_right_after_a_tie_flipped(self, data: st.DataObject) -> None:
        """Move the clock onto a step that swaps two tickets sharing a deadline,
        then ask for that deadline: equal deadlines come out in service order."""
        flips = self._tie_flips()
        if not flips:
            return
        when, due = data.draw(st.sampled_from(flips))
        self._advance(when - self.now, before_operation=True)
        if due <= self.now:
            assert self.queue.breached() == self.model.breached(self.now)
        else:
            seconds = data.draw(st.sampled_from([due - self.now, 10_000.0]))
            assert self.queue.due_within(seconds) == self.model.due_within(self.now, seconds)

    def _tie_flips(self) -> list[tuple[float, float]]:
        """(step instant, deadline) pairs: stepping to the instant changes the
        service order of tickets sharing that deadline."""
        dues = [t.sla_due for t, _ in self.model.entries if t.sla_due is not None]
        shared = {d for d in dues if dues.count(d) > 1}
        if not shared:
            return []
        before = self.model.order(self.now)
        flips = []
        for when in sorted(set(self.model.schedule(self.now).values())):
            after = self.model.order(when)
            for due in shared:
                if [t.id for t in before if t.sla_due == due] != [t.id for t in after if t.sla_due == due]:
                    flips.append((when, due))
        return flips

    # -- time -------------------------------------------------------------------

    @rule(seconds=st.one_of(st.integers(0, 200), st.floats(0, 200)))
    def advance(self, seconds: float) -> None:
        self._advance(seconds)

    @precondition(lambda self: bool(self.model.schedule(self.now)))
    @rule(data=st.data())
    def advance_to_a_step(self, data: st.DataObject) -> None:
        """Land exactly on an announced step, or just before or after it."""
        when = data.draw(st.sampled_from(sorted(self.model.schedule(self.now).values())))
        nudge = data.draw(st.sampled_from([0.0, 0.0, -1e-6, 1e-6]))
        self._advance(max(0.0, when + nudge - self.now))

    # -- invariant ----------------------------------------------------------

    @invariant()
    def agrees_with_model(self) -> None:
        self.queue._check()
        expected = self.model.order(self.now)
        assert [t.id for t in self.queue] == [t.id for t in expected]
        assert list(self.queue) == expected
        assert len(self.queue) == len(self.model)
        schedule = {r["ticket"]["id"]: r["next"] for r in self.seam.export() if r["next"] is not None}
        assert schedule == self.model.schedule(self.now)
        for ticket in expected:
            assert self.queue.holder(ticket.id) == self.model.holder(ticket.id, self.now)

    @invariant()
    def each_agent_sees_what_the_model_allows(self) -> None:
        """Who may take what right now: anyone, each agent (and so their
        held tickets), an agent with no skills at all and one short of
        every preferred level; and one channel filter."""
        now = self.now
        order = self.model.order(now)
        for agent, skills, channels in INVARIANT_VIEWS:
            expected = next((t for t in order if self.model.eligible(t, now, skills, channels, agent)), None)
            try:
                found = self.queue.peek(skills, channels=channels, agent=agent)
            except Empty:
                found = None
            assert found == expected, (agent, skills, channels)


class DefaultPolicyMachine(QueueMachine):
    def make_policy(self) -> Policy:
        return Policy.default()


class WeightedPolicyMachine(QueueMachine):
    def make_policy(self) -> Policy:
        return weighted_policy()


class SlaFirstPolicyMachine(QueueMachine):
    def make_policy(self) -> Policy:
        return sla_first_policy()


class SteppedPolicyMachine(QueueMachine):
    def make_policy(self) -> Policy:
        return stepped_policy()


class LadderPolicyMachine(QueueMachine):
    def make_policy(self) -> Policy:
        return ladder_policy()


class MaxWaitPolicyMachine(QueueMachine):
    def make_policy(self) -> Policy:
        return max_wait_policy()


class WeightedMaxWaitPolicyMachine(QueueMachine):
    def make_policy(self) -> Policy:
        return weighted_max_wait_policy()


def _machine_settings(share: float) -> settings:
    """A share of the profile's examples, each a fairly long run of steps."""
    return settings(max_examples=max(10, int(settings().max_examples * share)), stateful_step_count=50)


@pytest.mark.parametrize(
    "machine",
    [DefaultPolicyMachine, WeightedPolicyMachine, SlaFirstPolicyMachine],
    ids=["default", "weighted", "sla-first"],
)
def test_queue_agrees_with_fresh_model(machine: type[QueueMachine]) -> None:
    """Under time-invariant policies, every queue operation matches a model that re-sorts from scratch."""
    _reset_counters(machine)
    run_state_machine_as_test(machine, settings=_machine_settings(0.5))
    _assert_lanes_were_exercised(machine)


def _reset_counters(machine: type[QueueMachine]) -> None:
    machine.crossings = 0
    machine.stale_operations = 0
    machine.lane_crossings = 0
    machine.held_serves = 0
    machine.restores = 0


def _assert_lanes_were_exercised(machine: type[QueueMachine]) -> None:
    # The runs must really have let preferred skills relax and holds end
    # between operations, served held tickets to their agents and put
    # taken tickets back.
    assert machine.lane_crossings > 0
    assert machine.held_serves > 0
    assert machine.restores > 0


@pytest.mark.parametrize(
    "machine",
    [SteppedPolicyMachine, LadderPolicyMachine, MaxWaitPolicyMachine, WeightedMaxWaitPolicyMachine],
    ids=["escalate-and-sla-warning", "weighted-ladder", "max-wait", "weighted-max-wait"],
)
def test_stepped_queue_agrees_with_fresh_model_as_clock_passes_steps(machine: type[QueueMachine]) -> None:
    """With stepped rules or a wait bound, the queue re-keys as the clock passes each step and still matches the fresh model."""
    _reset_counters(machine)
    run_state_machine_as_test(machine, settings=_machine_settings(1.0))
    # The runs must really have moved the clock past queued tickets' steps,
    # including right before an operation whose answer the step changed.
    assert machine.crossings > 0
    assert machine.stale_operations > 0
    _assert_lanes_were_exercised(machine)
