"""Stateful tests: TicketQueue against a reference model that recomputes the
whole order from scratch, at the current clock reading, on every check.

The queue caches keys (computed on push and update, re-keyed at the instants
stepped rules announce); the model caches nothing.  Any stale key, lost
ticket, wrong skill filter or half-applied failure shows up as a
disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    IDS,
    QueueModel,
    agent_skills,
    ladder_policy,
    requirements,
    sla_first_policy,
    stepped_policy,
    tickets,
    weighted_policy,
)
from triage_queue import (
    DuplicateTicket,
    Empty,
    ManualClock,
    Policy,
    Severity,
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


class QueueMachine(RuleBasedStateMachine):
    """TicketQueue versus QueueModel under one policy (set by subclasses)."""

    # How often the clock passed a queued ticket's announced step, and how
    # often that changed the order right before an operation (so the queue
    # had to re-key before answering).
    crossings: ClassVar[int] = 0
    stale_operations: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(1_000.0)
        self.policy = self.make_policy()
        self.queue = TicketQueue(self.policy, clock=self.clock)
        self.model = QueueModel(self.policy)

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
        self.clock.advance(seconds)
        crossed = sum(1 for when in pending if when <= self.now)
        type(self).crossings += crossed
        if before_operation and crossed and self.model.ids(before) != self.model.ids(self.now):
            type(self).stale_operations += 1

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

    @rule(skills=maybe_skills, wait=waits)
    def pop(self, skills: Mapping[str, int] | None, wait: float | str) -> None:
        self._advance(wait, before_operation=True)
        expected = self.model.best(self.now, skills)
        if expected is None:
            with pytest.raises(Empty):
                self.queue.pop(skills)
        else:
            assert self.queue.pop(skills) == expected
            self.model.remove(expected.id)

    @precondition(lambda self: len(self.model) > 4)
    @rule(skills=maybe_skills, count=st.integers(2, 4), wait=waits)
    def serve_several(self, skills: Mapping[str, int] | None, count: int, wait: float | str) -> None:
        """An agent takes several tickets in a row."""
        self._advance(wait, before_operation=True)
        for _ in range(count):
            expected = self.model.best(self.now, skills)
            if expected is None:
                with pytest.raises(Empty):
                    self.queue.pop(skills)
                return
            assert self.queue.pop(skills) == expected
            self.model.remove(expected.id)

    @rule(skills=maybe_skills, wait=waits)
    def peek(self, skills: Mapping[str, int] | None, wait: float | str) -> None:
        self._advance(wait, before_operation=True)
        expected = self.model.best(self.now, skills)
        if expected is None:
            with pytest.raises(Empty):
                self.queue.peek(skills)
        else:
            assert self.queue.peek(skills) == expected

    # -- changing -------------------------------------------------------------

    @rule(data=st.data(), wait=waits)
    def update(self, data: st.DataObject, wait: float | str) -> None:
        ticket_id = self._pick_id(data)
        self._advance(wait, before_operation=True)
        old = self.model.get(ticket_id)
        contacts = 1 if old is None else old.contacts
        kind = data.draw(st.sampled_from(["escalate", "severity", "tier", "follow_up", "skills", "sla_due", "several"]))
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
        action=st.sampled_from(["pop", "peek", "position", "explain", "update", "remove", "push", "due_within", "breached"]),
        skills=maybe_skills,
    )
    def act_right_after_the_order_changed(self, data: st.DataObject, action: str, skills: Mapping[str, int] | None) -> None:
        """Move the clock onto a step that reorders the queue, then operate
        at once, before anything else has had a chance to re-key."""
        flips = self._reorder_steps()
        if not flips:
            return
        self._advance(data.draw(st.sampled_from(flips)) - self.now, before_operation=True)
        if action in ("pop", "peek"):
            getattr(self, action)(skills, 0)
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
        if self.policy.time_stepped:
            assert dict(self.queue._changes.items()) == self.model.schedule(self.now)


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
    run_state_machine_as_test(machine, settings=_machine_settings(0.5))


@pytest.mark.parametrize(
    "machine",
    [SteppedPolicyMachine, LadderPolicyMachine],
    ids=["escalate-and-sla-warning", "weighted-ladder"],
)
def test_stepped_queue_agrees_with_fresh_model_as_clock_passes_steps(machine: type[QueueMachine]) -> None:
    """With stepped rules, the queue re-keys as the clock passes each step and still matches the fresh model."""
    machine.crossings = 0
    machine.stale_operations = 0
    run_state_machine_as_test(machine, settings=_machine_settings(1.0))
    # The runs must really have moved the clock past queued tickets' steps,
    # including right before an operation whose answer the step changed.
    assert machine.crossings > 0
    assert machine.stale_operations > 0
