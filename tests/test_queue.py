"""Focused tests of TicketQueue: error paths leave the queue untouched, and
the behaviours a helpdesk relies on (follow-ups, escalation, FIFO ties,
skill-aware serving, positions, deadlines, explanations, time steps)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

import triage_queue
from queue_models import Escalate, snapshot, stepped_policy, weighted_policy
from triage_queue import (
    BaseRule,
    Complexity,
    DuplicateTicket,
    Emergency,
    Empty,
    FeedbackOrder,
    InvalidArgument,
    InvalidTicket,
    ManualClock,
    MemoryStore,
    Policy,
    RuleError,
    Severity,
    SkillSet,
    SlaDeadline,
    Ticket,
    TicketQueue,
    TicketStore,
    UnknownTicket,
    Vip,
)

NOW = 1_000.0


def ids(queue: TicketQueue) -> list[str]:
    return [t.id for t in queue]


def make_queue(policy: Policy | None = None, now: float = NOW) -> tuple[TicketQueue, ManualClock]:
    clock = ManualClock(now)
    return TicketQueue(policy, clock=clock), clock


def filled(policy: Policy | None = None) -> tuple[TicketQueue, ManualClock]:
    """A queue with a mix of tickets, some needing skills, some with deadlines."""
    queue, clock = make_queue(policy)
    queue.push(Ticket("T-1", 900.0, skills={"billing": 1}, sla_due=1_100.0))
    queue.push(Ticket("T-2", 950.0, severity="critical", skills={"payments": 3}, sla_due=1_300.0))
    queue.push(Ticket("T-3", 800.0, customer_tier="gold", sla_due=1_050.0))
    queue.push(Ticket("T-4", 990.0, complexity=4, sla_due=1_500.0))
    queue.position("T-4")  # build the position index, so it is checked too
    return queue, clock


# A rule that misbehaves on request, for the RuleError paths.
@triage_queue.rule("moody")
def moody(ticket: Ticket) -> float:
    if ticket.attributes.get("raise"):
        raise ZeroDivisionError("moody rule failed")
    if ticket.attributes.get("nan"):
        return math.nan
    return 0.0


MOODY_POLICY = Policy.lexicographic(Emergency(), moody, FeedbackOrder())


@attrs.frozen(slots=True)
class BadStep(BaseRule):
    """A stepped rule whose next_change is wrong for tickets marked "bad_step"."""

    name: str = "bad_step"

    def key(self, ticket: Ticket, now: float) -> float:
        return 0

    def next_change(self, ticket: Ticket, now: float) -> float | None:
        mode = ticket.attributes.get("bad_step")
        if mode == "past":
            return now  # not after now
        if mode == "raise":
            raise RuntimeError("no idea when")
        return None


BAD_STEP_POLICY = Policy.lexicographic(Emergency(), BadStep(), FeedbackOrder())


# -- the docstring scenario -----------------------------------------------------


def test_docstring_scenario() -> None:
    """The module docstring's story holds: emergency first, gold next, skill-aware pop, positions."""
    clock = ManualClock(100.0)
    q = TicketQueue(clock=clock)
    q.push(Ticket("T-1", 90.0))
    q.push(Ticket("T-2", 95.0, severity="critical", skills={"payments": 3}))
    q.push(Ticket("T-3", 80.0, customer_tier="gold"))
    assert ids(q) == ["T-2", "T-3", "T-1"]
    assert q.pop(skills={"billing": 2}).id == "T-3"
    assert q.position("T-1") == 1
    assert ids(q) == ["T-2", "T-1"]


# -- failures change nothing -------------------------------------------------------


@pytest.mark.parametrize("thing", [None, "T-9", {"id": "T-9", "created_at": 0.0}, 42, ("T-9", 0.0)])
def test_push_of_a_non_ticket_is_rejected_and_changes_nothing(thing: Any) -> None:
    """Pushing something that is not a Ticket raises InvalidArgument naming 'ticket' and leaves the queue as it was."""
    q, _ = filled()
    before = snapshot(q)
    with pytest.raises(InvalidArgument) as err:
        q.push(thing)
    assert err.value.field == "ticket"
    assert snapshot(q) == before


def test_duplicate_push_is_rejected_and_keeps_the_original() -> None:
    """Pushing an id already queued raises DuplicateTicket and the queued ticket is not replaced."""
    q, _ = filled()
    original = q["T-4"]
    before = snapshot(q)
    with pytest.raises(DuplicateTicket) as err:
        q.push(Ticket("T-4", 0.0, severity="critical", customer_tier="platinum"))
    assert err.value.key == "T-4"
    assert isinstance(err.value, KeyError)
    assert q["T-4"] is original
    assert snapshot(q) == before


PUSH_RULE_FAILURES = [
    pytest.param(MOODY_POLICY, Ticket("T-9", 0.0, attributes={"raise": True}), "moody", id="rule-raises"),
    pytest.param(MOODY_POLICY, Ticket("T-9", 0.0, attributes={"nan": True}), "moody", id="rule-returns-nan"),
    pytest.param(Policy.default(), Ticket("T-9", 0.0, customer_tier="diamond"), "vip", id="unknown-vip-tier"),
    pytest.param(
        Policy.weighted([(SlaDeadline(), 1.0), (Vip(), 600.0)]), Ticket("T-9", 0.0), "sla_deadline", id="weighted-infinity"
    ),
    pytest.param(BAD_STEP_POLICY, Ticket("T-9", 0.0, attributes={"bad_step": "past"}), "bad_step", id="step-not-after-now"),
    pytest.param(BAD_STEP_POLICY, Ticket("T-9", 0.0, attributes={"bad_step": "raise"}), "bad_step", id="step-raises"),
]


@pytest.mark.parametrize(("policy", "ticket", "rule_name"), PUSH_RULE_FAILURES)
def test_push_that_a_rule_cannot_score_raises_rule_error_and_changes_nothing(
    policy: Policy, ticket: Ticket, rule_name: str
) -> None:
    """A rule that raises, returns NaN, meets an unknown tier or announces a bad step fails the push cleanly."""
    q, _ = filled(policy)
    before = snapshot(q)
    with pytest.raises(RuleError) as err:
        q.push(ticket)
    assert err.value.rule == rule_name
    assert err.value.ticket_id == "T-9"
    assert "T-9" not in q
    assert snapshot(q) == before


def test_rule_error_keeps_the_rules_own_exception_as_cause() -> None:
    """When a rule raises, the RuleError chains the original exception for debugging."""
    q, _ = make_queue(MOODY_POLICY)
    with pytest.raises(RuleError) as err:
        q.push(Ticket("T-9", 0.0, attributes={"raise": True}))
    assert isinstance(err.value.__cause__, ZeroDivisionError)


UPDATE_RULE_FAILURES = [
    pytest.param(MOODY_POLICY, {"attributes": {"raise": True}}, "moody", id="rule-raises"),
    pytest.param(MOODY_POLICY, {"attributes": {"nan": True}}, "moody", id="rule-returns-nan"),
    pytest.param(Policy.default(), {"customer_tier": "diamond"}, "vip", id="unknown-vip-tier"),
    pytest.param(Policy.default(), {"customer_tier": "diamond", "severity": "critical"}, "vip", id="unknown-tier-with-more"),
    pytest.param(BAD_STEP_POLICY, {"attributes": {"bad_step": "past"}}, "bad_step", id="step-not-after-now"),
    pytest.param(BAD_STEP_POLICY, {"attributes": {"bad_step": "raise"}}, "bad_step", id="step-raises"),
]


@pytest.mark.parametrize(("policy", "changes", "rule_name"), UPDATE_RULE_FAILURES)
def test_update_that_a_rule_cannot_score_raises_rule_error_and_changes_nothing(
    policy: Policy, changes: dict[str, Any], rule_name: str
) -> None:
    """An update the policy cannot score fails with RuleError and the old ticket stays, in its old place."""
    q, _ = filled(policy)
    old = q["T-1"]
    before = snapshot(q)
    with pytest.raises(RuleError) as err:
        q.update("T-1", **changes)
    assert err.value.rule == rule_name
    assert err.value.ticket_id == "T-1"
    assert q["T-1"] is old
    assert snapshot(q) == before


def test_update_that_makes_a_weighted_score_infinite_changes_nothing() -> None:
    """Dropping the deadline of a ticket under a weighted SLA rule fails with RuleError and keeps the ticket."""
    q, _ = filled(Policy.weighted([(SlaDeadline(), 1.0), (Vip(), 600.0)]))
    before = snapshot(q)
    with pytest.raises(RuleError):
        q.update("T-1", sla_due=None)
    assert q["T-1"].sla_due == 1_100.0
    assert snapshot(q) == before


def test_update_of_an_unknown_id_raises_unknown_ticket_and_changes_nothing() -> None:
    """Updating an id that is not queued raises UnknownTicket and adds nothing."""
    q, _ = filled()
    before = snapshot(q)
    with pytest.raises(UnknownTicket) as err:
        q.update("T-9", severity="critical")
    assert err.value.key == "T-9"
    assert "T-9" not in q
    assert snapshot(q) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"complexity": 9}, "complexity"),
        ({"severity": "apocalypse"}, "severity"),
        ({"contacts": 0}, "contacts"),
        ({"sla_due": math.nan}, "sla_due"),
        ({"skills": {"billing": 9}}, "skills"),
        ({"customer_tier": 3}, "customer_tier"),
        ({"colour": "red"}, "colour"),
        ({"id": "T-99"}, "id"),
        # A valid change next to an invalid one: neither is applied.
        ({"severity": "critical", "complexity": 0}, "complexity"),
    ],
)
def test_update_with_an_invalid_change_raises_invalid_ticket_and_changes_nothing(changes: dict[str, Any], field: str) -> None:
    """A bad value, an unknown field or an id change fails with InvalidTicket naming the field, nothing half-applied."""
    q, _ = filled()
    old = q["T-1"]
    before = snapshot(q)
    with pytest.raises(InvalidTicket) as err:
        q.update("T-1", **changes)
    assert err.value.field == field
    assert q["T-1"] is old
    assert "T-99" not in q
    assert snapshot(q) == before


def test_update_that_repeats_the_id_is_allowed() -> None:
    """Passing the ticket's own id to update is not an id change."""
    q, _ = filled()
    assert q.update("T-4", id="T-4", complexity=5).complexity == 5


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda q: q.remove("T-9"), id="remove"),
        pytest.param(lambda q: q.position("T-9"), id="position"),
        pytest.param(lambda q: q.explain("T-9"), id="explain"),
        pytest.param(lambda q: q["T-9"], id="getitem"),
    ],
)
def test_unknown_id_raises_unknown_ticket_and_changes_nothing(operation: Any) -> None:
    """remove, position, explain and q[id] of an id not queued raise UnknownTicket naming it."""
    q, _ = filled()
    before = snapshot(q)
    with pytest.raises(UnknownTicket) as err:
        operation(q)
    assert err.value.key == "T-9"
    assert "T-9" in str(err.value)
    assert snapshot(q) == before


def test_get_and_in_of_an_unknown_id_answer_quietly() -> None:
    """get() returns None and `in` is False for an id not queued, without raising."""
    q, _ = filled()
    assert q.get("T-9") is None
    assert "T-9" not in q
    assert q.get("T-1") is not None
    assert "T-1" in q


@pytest.mark.parametrize("serve", ["pop", "peek"])
def test_serving_from_an_empty_queue_raises_empty(serve: str) -> None:
    """pop() and peek() on an empty queue raise Empty (a LookupError) saying the queue is empty."""
    q, _ = make_queue()
    with pytest.raises(Empty) as err:
        getattr(q, serve)()
    assert isinstance(err.value, LookupError)
    assert "empty" in str(err.value)
    with pytest.raises(Empty):
        getattr(q, serve)(skills={"billing": 5})
    assert len(q) == 0


@pytest.mark.parametrize("serve", ["pop", "peek"])
def test_serving_an_agent_who_can_take_nothing_raises_empty_and_changes_nothing(serve: str) -> None:
    """When no queued ticket suits the agent's skills, Empty says so and every ticket stays queued."""
    q, _ = make_queue()
    q.push(Ticket("T-1", 900.0, skills={"payments": 3}))
    q.push(Ticket("T-2", 950.0, skills={"billing": 2, "german": 1}))
    before = snapshot(q)
    with pytest.raises(Empty) as err:
        getattr(q, serve)(skills={"billing": 5, "payments": 2})
    message = str(err.value)
    assert "eligible" in message
    assert "2 queued" in message
    assert snapshot(q) == before


BAD_SKILLS = [{"billing": 9}, {"billing": 0}, {"billing": True}, {"billing": "3"}, {"": 1}, [""], "billing", 42]


@pytest.mark.parametrize("serve", ["pop", "peek"])
@pytest.mark.parametrize("skills", BAD_SKILLS)
def test_serving_with_invalid_skills_raises_invalid_argument_and_changes_nothing(serve: str, skills: Any) -> None:
    """Skills that are not a {name: 1..5} mapping raise InvalidArgument naming 'skills', even on an empty queue."""
    q, _ = filled()
    before = snapshot(q)
    with pytest.raises(InvalidArgument) as err:
        getattr(q, serve)(skills=skills)
    assert err.value.field == "skills"
    assert snapshot(q) == before
    empty, _ = make_queue()
    with pytest.raises(InvalidArgument):
        getattr(empty, serve)(skills=skills)


@pytest.mark.parametrize("seconds", [-1, -0.5, math.nan, math.inf, -math.inf, "10", None, True])
def test_due_within_rejects_a_bad_window(seconds: Any) -> None:
    """due_within() of a negative, non-finite or non-numeric window raises InvalidArgument naming 'seconds'."""
    q, _ = filled()
    before = snapshot(q)
    with pytest.raises(InvalidArgument) as err:
        q.due_within(seconds)
    assert err.value.field == "seconds"
    assert snapshot(q) == before


def test_a_queue_will_not_start_from_a_non_empty_store() -> None:
    """Handing the queue a store that already holds tickets raises InvalidArgument and leaves the store alone."""
    store = MemoryStore()
    ticket = Ticket("X", 0.0)
    store.insert(ticket, (0.0, 0), (ticket.skills, ticket.channel, None))
    with pytest.raises(InvalidArgument) as err:
        TicketQueue(store=store)
    assert err.value.field == "store"
    assert len(store) == 1
    assert store.get("X") == Ticket("X", 0.0)


@pytest.mark.parametrize("policy", ["default", [Emergency(), FeedbackOrder()], Emergency(), 42])
def test_a_queue_needs_a_policy_object(policy: Any) -> None:
    """Anything but a Policy (a name, a list of rules, a bare rule) is rejected with InvalidArgument naming 'policy'."""
    with pytest.raises(InvalidArgument) as err:
        TicketQueue(policy)
    assert err.value.field == "policy"


def test_a_queue_needs_a_callable_clock() -> None:
    """A clock that cannot be called is rejected up front rather than on the first push."""
    with pytest.raises(InvalidArgument) as err:
        TicketQueue(clock=1_000.0)  # type: ignore[arg-type]
    assert err.value.field == "clock"


# -- behaviour ---------------------------------------------------------------------


def test_a_follow_up_keeps_the_tickets_place() -> None:
    """A customer writing again (contacts+1) keeps the ticket's place, even among exact ties."""
    q, _ = make_queue()
    for name in ["A", "B", "C", "D"]:
        q.push(Ticket(name, 500.0))
    q.push(Ticket("E", 400.0))
    assert ids(q) == ["E", "A", "B", "C", "D"]
    for name in ["A", "C", "E", "D"]:
        updated = q.update(name, contacts=q[name].contacts + 1)
        assert updated.contacts == 2
        assert q[name] == updated
        assert ids(q) == ["E", "A", "B", "C", "D"]
    q._check()


def test_a_follow_up_bonus_moves_a_ticket_forward_never_back() -> None:
    """With a follow-up bonus, each follow-up moves a ticket ahead of tickets up to that much older."""
    q, _ = make_queue(Policy.lexicographic(Emergency(), FeedbackOrder(follow_up_bonus=60.0)))
    q.push(Ticket("A", 100.0))
    q.push(Ticket("B", 130.0))
    q.push(Ticket("C", 170.0))
    q.update("C", contacts=2)  # as if created at 110
    assert ids(q) == ["A", "C", "B"]
    q.update("C", contacts=3)  # as if created at 50
    assert ids(q) == ["C", "A", "B"]


def test_escalation_to_critical_moves_a_ticket_to_the_front() -> None:
    """Raising a ticket's severity to CRITICAL serves it next, ahead of older and VIP tickets."""
    q, _ = filled()
    assert ids(q) == ["T-2", "T-3", "T-4", "T-1"]
    escalated = q.update("T-1", severity=Severity.CRITICAL)
    assert escalated.severity is Severity.CRITICAL
    # Both emergencies are simple and standard: the older one, T-1, leads.
    assert ids(q) == ["T-1", "T-2", "T-3", "T-4"]
    assert q.position("T-1") == 0
    assert q.pop().id == "T-1"


def test_escalation_keeps_ties_in_arrival_order() -> None:
    """Escalated to the same level as an earlier twin, a ticket stays behind the twin that arrived first."""
    q, _ = make_queue()
    q.push(Ticket("A", 500.0, severity="critical"))
    q.push(Ticket("B", 500.0))
    q.push(Ticket("C", 500.0))
    q.update("C", severity="critical")
    assert ids(q) == ["A", "C", "B"]


@pytest.mark.parametrize(
    "policy", [Policy.default(), weighted_policy(), stepped_policy()], ids=["default", "weighted", "stepped"]
)
def test_equal_tickets_are_served_first_come_first_served(policy: Policy) -> None:
    """Tickets that no rule tells apart leave in the order they arrived, under any policy."""
    q, _ = make_queue(policy)
    names = ["K", "B", "Z", "A", "M", "C"]
    for name in names:
        q.push(Ticket(name, 950.0, customer_tier="silver", sla_due=1_200.0))
    assert [q.pop().id for _ in names] == names


def test_skill_aware_pop_takes_the_best_eligible_ticket_and_leaves_better_ones() -> None:
    """An agent gets the best ticket they can handle; better tickets they cannot handle keep their places."""
    q, _ = make_queue()
    q.push(Ticket("P-1", 900.0, severity="critical", skills={"payments": 3}))
    q.push(Ticket("P-2", 900.0, customer_tier="gold", skills={"billing": 2}))
    q.push(Ticket("P-3", 910.0, skills={"billing": 1}))
    q.push(Ticket("P-4", 920.0))
    q.push(Ticket("P-5", 905.0, skills={"billing": 1, "german": 1}))
    assert ids(q) == ["P-1", "P-2", "P-5", "P-3", "P-4"]
    assert q.peek(skills={"billing": 1}).id == "P-3"
    assert q.pop(skills={"billing": 1}).id == "P-3"
    assert ids(q) == ["P-1", "P-2", "P-5", "P-4"]
    assert q.pop(skills=SkillSet({"billing": 4, "german": 2})).id == "P-2"
    assert q.pop(skills={}).id == "P-4"
    assert q.pop(skills={"payments": 5, "billing": 1}).id == "P-1"
    assert ids(q) == ["P-5"]
    q._check()


def test_position_is_the_number_of_tickets_ahead() -> None:
    """position() is 0 for the next ticket and counts the tickets ahead of any other; serving the head moves all up."""
    q, _ = filled()
    order = ids(q)
    assert q.position(order[0]) == 0
    assert [q.position(i) for i in order] == list(range(len(order)))
    q.pop()
    assert [q.position(i) for i in order[1:]] == list(range(len(order) - 1))


def _churn(q: TicketQueue) -> None:
    """Pushes, pops, updates and removes of every kind."""
    for i in range(12):
        q.push(
            Ticket(
                f"N-{i}",
                900.0 + (i * 7) % 40,
                customer_tier=["gold", None, "silver"][i % 3],
                complexity=1 + i % 5,
                skills=[{}, {"billing": 2}, {"payments": 1}][i % 3],
                sla_due=1_000.0 + 30 * i,
            )
        )
    q.pop()
    q.pop(skills={"billing": 3})
    q.update("N-4", severity="critical")
    q.update("N-5", customer_tier="platinum", skills={"billing": 1})
    q.update("N-7", contacts=3)
    q.update("N-8", complexity=5, sla_due=None)
    q.remove("N-10")
    q.remove("T-3")
    q.push(Ticket("N-99", 800.0))


def test_position_agrees_with_iteration_whether_the_index_was_built_early_or_late() -> None:
    """Positions match the service order both when first asked after many changes and when kept up since early on."""
    early, _ = filled()
    early.position("T-1")  # index built now, then maintained through the churn
    late, _ = make_queue()
    for t in list(early):
        late.push(t)
    _churn(early)
    _churn(late)  # index built only below
    for q in (early, late):
        q._check()
        order = ids(q)
        assert [q.position(i) for i in order] == list(range(len(order)))
        q._check()
    assert ids(early) == ids(late)
    # And once built, it keeps up with further changes.
    late.pop()
    late.update("N-1", severity="critical")
    late.remove("N-2")
    order = ids(late)
    assert [late.position(i) for i in order] == list(range(len(order)))
    late._check()


def test_due_within_and_breached_respect_their_boundaries_and_sort_by_deadline() -> None:
    """due_within(s) is now < due <= now+s and breached() is due <= now, each earliest deadline first."""
    q, clock = make_queue()
    q.push(Ticket("late-critical", 900.0, severity="critical", sla_due=1_060.0))
    q.push(Ticket("just-past", 900.0, sla_due=1_060.5))
    q.push(Ticket("due-now", 900.0, sla_due=1_000.0))
    q.push(Ticket("long-gone", 900.0, sla_due=990.0))
    q.push(Ticket("next", 900.0, customer_tier="gold", sla_due=1_000.5))
    q.push(Ticket("soon", 900.0, sla_due=1_030.0))
    q.push(Ticket("no-sla", 900.0))
    assert [t.id for t in q.due_within(60)] == ["next", "soon", "late-critical"]
    assert [t.id for t in q.due_within(60.5)] == ["next", "soon", "late-critical", "just-past"]
    assert q.due_within(0) == []
    assert [t.id for t in q.due_within(10**9)] == ["next", "soon", "late-critical", "just-past"]
    assert [t.id for t in q.breached()] == ["long-gone", "due-now"]
    clock.advance(0.5)
    assert [t.id for t in q.breached()] == ["long-gone", "due-now", "next"]
    assert [t.id for t in q.due_within(60)] == ["soon", "late-critical", "just-past"]


def test_equal_deadlines_come_out_in_service_order() -> None:
    """Tickets sharing a deadline are listed in the order they will be served."""
    q, _ = make_queue()
    q.push(Ticket("plain", 900.0, sla_due=1_100.0))
    q.push(Ticket("gold", 950.0, customer_tier="gold", sla_due=1_100.0))
    q.push(Ticket("critical", 990.0, severity="critical", sla_due=1_100.0))
    assert [t.id for t in q.due_within(100)] == ["critical", "gold", "plain"]


def test_explain_gives_the_rules_reasons_and_the_position() -> None:
    """explain() shows each rule's contribution and how many tickets are ahead, as text and as data."""
    q, clock = filled()
    e = q.explain("T-3")
    assert e.position == 1 == q.position("T-3")
    assert e.ticket_id == "T-3"
    assert e.now == clock()
    assert [c.rule for c in e.contributions] == ["emergency", "vip", "complexity", "feedback_order"]
    text = str(e)
    assert "'T-3': 1 ticket(s) ahead" in text
    assert "customer tier 'gold'" in text
    data = e.to_dict()
    assert data["position"] == 1
    assert data["ticket_id"] == "T-3"
    assert data["composition"] == "lexicographic"
    assert q.explain(ids(q)[0]).position == 0


def test_explain_of_a_weighted_policy_shows_the_total() -> None:
    """Under a weighted policy, explain() reports the weighted total and the position."""
    q, _ = filled(weighted_policy())
    head = ids(q)[0]
    e = q.explain(head)
    assert e.position == 0
    assert e.total is not None
    assert "weighted total" in str(e)
    assert e.to_dict()["total"] == e.total


def test_a_stepped_rule_reorders_the_queue_exactly_when_the_clock_passes_the_step() -> None:
    """A ticket whose 'escalate after 60 s' step is passed overtakes a gold ticket at that instant, not before."""
    q, clock = make_queue(Policy.lexicographic(Escalate(after=60.0), Vip(), FeedbackOrder()), now=30.0)
    q.push(Ticket("old", 0.0))  # escalates at 60
    q.push(Ticket("gold", 10.0, customer_tier="gold"))  # escalates at 70
    assert q.peek().id == "gold"
    clock.set(59.999)
    assert q.peek().id == "gold"
    clock.set(60.0)
    assert q.peek().id == "old"  # asked first thing after the step
    assert q.position("gold") == 1
    clock.set(70.0)
    assert q.position("gold") == 0  # both escalated: gold leads again
    assert ids(q) == ["gold", "old"]


def test_pop_order_changes_after_the_clock_advances_past_a_step() -> None:
    """Identical queues pop in different orders when one's injected clock has passed a step."""
    policy = Policy.lexicographic(Escalate(after=60.0), Vip(), FeedbackOrder())
    orders = []
    for wait in (0.0, 19.9, 20.0, 25.0, 30.0):
        q, clock = make_queue(policy, now=40.0)
        q.push(Ticket("old", 0.0))  # escalates at 60
        q.push(Ticket("gold", 10.0, customer_tier="gold"))  # escalates at 70
        clock.advance(wait)
        orders.append([q.pop().id, q.pop().id])
    assert orders == [["gold", "old"], ["gold", "old"], ["old", "gold"], ["old", "gold"], ["gold", "old"]]


def test_equal_deadlines_follow_a_stepped_reorder_at_once() -> None:
    """Right after a step reorders two tickets sharing a deadline, due_within() and breached() list them in the new order."""
    policy = Policy.lexicographic(Escalate(after=60.0), Vip(), FeedbackOrder())
    q, clock = make_queue(policy, now=0.0)
    q.push(Ticket("gold", 0.0, customer_tier="gold", sla_due=500.0))
    q.push(Ticket("plain", -10.0, sla_due=500.0))  # escalates at 50
    assert [t.id for t in q.due_within(1_000)] == ["gold", "plain"]
    clock.set(55.0)
    assert [t.id for t in q.due_within(1_000)] == ["plain", "gold"]
    q2, clock2 = make_queue(policy, now=0.0)
    q2.push(Ticket("gold", 0.0, customer_tier="gold", sla_due=20.0))
    q2.push(Ticket("plain", -10.0, sla_due=20.0))
    clock2.set(55.0)
    assert [t.id for t in q2.breached()] == ["plain", "gold"]


def test_the_step_schedule_is_dropped_when_a_ticket_leaves() -> None:
    """Popped and removed tickets are no longer scheduled for re-keying, and later steps still work."""
    q, clock = make_queue(stepped_policy(), now=0.0)
    seam = q.attach("test")

    def scheduled() -> set[str]:
        return {r["ticket"]["id"] for r in seam.export() if r["next"] is not None}

    q.push(Ticket("A", 0.0, severity="critical"))  # steps at 300
    q.push(Ticket("B", 10.0))  # steps at 310
    q.push(Ticket("C", 20.0, sla_due=200.0))  # steps at 80 (SLA warning) and 320
    q.push(Ticket("D", 30.0, customer_tier="gold"))  # steps at 330
    assert scheduled() == {"A", "B", "C", "D"}
    assert q.pop().id == "A"
    assert q.remove("B").id == "B"
    assert scheduled() == {"C", "D"}
    q._check()
    clock.set(100.0)
    assert ids(q) == ["C", "D"]
    clock.set(400.0)
    assert ids(q) == ["C", "D"]
    assert scheduled() == set() and seam.next_change_at() is None
    q._check()


def test_a_rule_failing_at_a_later_step_loses_no_ticket() -> None:
    """If a stepped rule raises when re-keying, the call fails with RuleError and every ticket is still queued."""

    @attrs.frozen(slots=True)
    class Fragile(BaseRule):
        name: str = "fragile"

        def key(self, ticket: Ticket, now: float) -> float:
            if ticket.attributes.get("fragile") and now >= ticket.created_at + 60:
                raise ValueError("cannot score after a minute")
            return 0

        def next_change(self, ticket: Ticket, now: float) -> float | None:
            step = ticket.created_at + 60
            return step if now < step else None

    q, clock = make_queue(Policy.lexicographic(Fragile(), FeedbackOrder()), now=0.0)
    q.push(Ticket("A", 0.0))
    q.push(Ticket("B", 5.0, attributes={"fragile": True}))
    q.push(Ticket("C", 10.0))
    clock.set(100.0)
    with pytest.raises(RuleError) as err:
        q.pop()
    assert err.value.ticket_id == "B"
    assert len(q) == 3
    assert all(q.get(i) is not None for i in "ABC")
    q._check()
    q.remove("B")
    assert [q.pop().id, q.pop().id] == ["A", "C"]


def test_iteration_is_a_snapshot() -> None:
    """Changing the queue while iterating over it is safe; the loop sees the order as it was."""
    q, _ = filled()
    order = ids(q)
    seen = []
    for ticket in q:
        seen.append(ticket.id)
        q.remove(ticket.id)
        q.push(Ticket(ticket.id + "-again", 0.0))
    assert seen == order
    assert sorted(ids(q)) == sorted(i + "-again" for i in order)
    q._check()


def test_a_queue_works_on_an_explicit_memory_store() -> None:
    """TicketQueue(store=MemoryStore()) serves, positions and watches deadlines like the default."""
    store = MemoryStore()
    q = TicketQueue(clock=ManualClock(NOW), store=store)
    q.push(Ticket("T-1", 900.0, sla_due=1_010.0))
    q.push(Ticket("T-2", 950.0, severity="critical"))
    assert len(store) == 2
    assert q.position("T-1") == 1
    assert [t.id for t in q.due_within(60)] == ["T-1"]
    assert q.pop().id == "T-2"
    assert len(store) == 1


class RecordingStore:
    """A TicketStore that delegates to a MemoryStore and records which methods the queue calls."""

    PROTOCOL = frozenset(name for name in vars(TicketStore) if not name.startswith("_") or name in ("__len__", "__contains__"))

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.calls: list[str] = []

    def __len__(self) -> int:
        self.calls.append("__len__")
        return len(self.inner)

    def __contains__(self, ticket_id: object) -> bool:
        self.calls.append("__contains__")
        return ticket_id in self.inner

    def __getattr__(self, name: str) -> Any:
        if name not in self.PROTOCOL:  # private, or optional (insert_new, pop_best...): the queue falls back
            raise AttributeError(name)
        method = getattr(self.inner, name)

        def call(*args: Any) -> Any:
            self.calls.append(name)
            return method(*args)

        return call

    def __iter__(self) -> Iterator[Any]:
        raise AssertionError("the queue should not iterate its store directly")


def test_a_queue_uses_only_the_store_protocol() -> None:
    """Any object following TicketStore can back a queue: every operation works through the protocol alone."""
    store = RecordingStore()
    q = TicketQueue(clock=ManualClock(NOW), store=store)
    q.push(Ticket("T-1", 900.0, skills={"billing": 1}, sla_due=990.0))
    q.push(Ticket("T-2", 950.0, severity="critical", skills={"payments": 2}))
    q.push(Ticket("T-3", 960.0, sla_due=1_020.0))
    q.update("T-3", customer_tier="gold")
    assert ids(q) == ["T-2", "T-3", "T-1"]
    assert q.position("T-1") == 2
    assert q.explain("T-3").position == 1
    assert [t.id for t in q.breached()] == ["T-1"]
    assert [t.id for t in q.due_within(30)] == ["T-3"]
    assert q.peek(skills={"billing": 1}).id == "T-3"
    assert q.pop(skills={"billing": 1}).id == "T-3"
    assert q.remove("T-1").id == "T-1"
    assert q.pop().id == "T-2"
    q._check()
    assert set(store.calls) <= RecordingStore.PROTOCOL
    assert len(store.inner) == 0


def test_the_default_clock_is_wall_time() -> None:
    """Without an injected clock the queue reads time.time(): a ticket created now can be pushed and popped."""
    q = TicketQueue()
    ticket = Ticket("T-1", time.time())
    q.push(ticket)
    assert isinstance(q.now(), float)
    assert q.pop() is ticket
    assert len(q) == 0


def test_the_default_policy_is_the_four_seed_rules() -> None:
    """A queue built without a policy orders by Emergency > Vip > Complexity > FeedbackOrder."""
    q, _ = make_queue()
    assert q.policy == Policy.default()
    q.push(Ticket("simple-old", 100.0))
    q.push(Ticket("complex", 200.0, complexity=5))
    q.push(Ticket("silver", 300.0, customer_tier="silver"))
    q.push(Ticket("critical", 400.0, severity="critical"))
    assert ids(q) == ["critical", "silver", "complex", "simple-old"]


def test_complexity_direction_is_configurable() -> None:
    """With Complexity(prefer='simple') quick tickets go first instead of complex ones."""
    q, _ = make_queue(Policy.lexicographic(Complexity(prefer="simple"), FeedbackOrder()))
    q.push(Ticket("complex", 100.0, complexity=5))
    q.push(Ticket("simple", 200.0, complexity=1))
    assert ids(q) == ["simple", "complex"]


def test_agent_skills_may_be_given_as_names() -> None:
    """An agent's skills given as names mean proficiency 1, as for tickets."""
    q = TicketQueue(clock=ManualClock(100.0))
    q.push(Ticket("hard", 0.0, skills={"billing": 2}))
    q.push(Ticket("easy", 50.0, skills=["billing"]))
    assert q.peek(skills=["billing"]).id == "easy"
    assert q.pop(skills=("billing",)).id == "easy"


def test_empty_partitions_are_pruned_so_memory_tracks_live_skill_sets() -> None:
    """A stream of one-off skill combinations does not grow the store without bound, and serving stays right."""
    store = MemoryStore()
    q = TicketQueue(clock=ManualClock(1_000.0), store=store)
    agent = {f"s{i}": 5 for i in range(40)} | {"common": 5}
    q.push(Ticket("keep", 0.0, skills={"common": 1}))
    for i in range(1_000):
        # Each ticket needs a pair of skills no other ticket needs.
        q.push(Ticket(f"T{i}", 1.0 + i, complexity=5, skills={f"s{i % 40}": 1 + i % 5, f"x{i}": 1}))
        assert q.pop(skills=agent | {f"x{i}": 1}).id == f"T{i}"
        if i % 97 == 0:
            store._check()
    store._check()
    assert len(store._partitions) <= 2 * 256 + 2
    assert q.pop(skills=agent).id == "keep"
