"""How a helpdesk team tests its routing policy: copy this file into your
tests and change the policy path, the properties and the service levels.

Needs ``pip install 'triage-queue[testing]'`` (hypothesis).  The fixtures
``triage_clock``, ``triage_queue`` and ``triage_dispatcher`` come from the
pytest plugin installed with triage-queue; nothing to configure.

triage-queue's own test suite runs this file, so it stays correct.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from triage_queue import Agent, Dispatcher, FeedbackOrder, Policy, Severity, Ticket, TicketQueue
from triage_queue.config import PolicyFile, load_policy
from triage_queue.sim.engine import simulate
from triage_queue.sim.results import SimulationResult
from triage_queue.sim.scenarios import build_scenario
from triage_queue.testing import FakeClock, assert_service_level, check_service_level
from triage_queue.testing.strategies import ticket_lists

# Your policy file; here, the example shipped next to this file.
POLICY_PATH = Path(__file__).parent / "policies" / "vip-first.toml"
OUR_POLICY: PolicyFile = load_policy(POLICY_PATH)


# -- 1. Examples with the fixtures ---------------------------------------------------


@pytest.mark.triage_policy(POLICY_PATH)
def test_an_outage_jumps_the_queue(triage_queue: TicketQueue, triage_clock: FakeClock) -> None:
    triage_queue.push(Ticket("gold-question", triage_clock(), customer_tier="gold"))
    triage_clock.advance(minutes=10)
    triage_queue.push(Ticket("outage", triage_clock(), severity="critical"))
    assert triage_queue.pop().id == "outage"
    assert triage_queue.pop().id == "gold-question"


@pytest.mark.triage_policy(POLICY_PATH)
@pytest.mark.triage_agents([Agent("ana", skills={"billing": 3}), Agent("bo")])
def test_billing_goes_to_an_agent_who_knows_billing(triage_dispatcher: Dispatcher) -> None:
    offer = triage_dispatcher.submit(Ticket("invoice", 0.0, skills={"billing": 2}))
    assert offer is not None and offer.agent_id == "ana"


# -- 2. Properties over random tickets --------------------------------------------------


@settings(max_examples=100)
@given(ticket_lists(max_size=12))
def test_an_emergency_is_never_served_after_a_non_emergency(batch: list[Ticket]) -> None:
    queue = TicketQueue(OUR_POLICY.policy, clock=FakeClock(86_400.0))
    for ticket in batch:
        queue.push(ticket)
    served = [queue.pop() for _ in batch]
    critical = [t.severity is Severity.CRITICAL for t in served]
    assert critical == sorted(critical, reverse=True), [t.id for t in served]


@settings(max_examples=100)
@given(ticket_lists(max_size=12, severity=["low", "normal", "high"], tiers=["standard", "gold"]))
def test_among_non_emergencies_gold_goes_first(batch: list[Ticket]) -> None:
    queue = TicketQueue(OUR_POLICY.policy, clock=FakeClock(86_400.0))
    for ticket in batch:
        queue.push(ticket)
    gold = [queue.pop().customer_tier == "gold" for _ in batch]
    assert gold == sorted(gold, reverse=True)


# -- 3. Service levels over a simulated day -----------------------------------------------


@pytest.fixture(scope="module")
def busy_day_result() -> SimulationResult:
    """One simulated helpdesk day (a fifth of full size), shared by the tests below."""
    day = build_scenario("helpdesk-day", seed=7, scale=0.2)
    return simulate(day, OUR_POLICY)


def test_our_service_levels_hold(busy_day_result: SimulationResult) -> None:
    assert_service_level(
        busy_day_result,
        "p90 wait of tier gold <= 5 min",
        "max wait of severity critical <= 2 min",
        "sla attainment of tier gold >= 95%",
        "abandonment <= 10%",
    )


def test_gold_waits_less_than_under_arrival_order(busy_day_result: SimulationResult) -> None:
    same_day = build_scenario("helpdesk-day", seed=7, scale=0.2)
    arrival_order = simulate(same_day, Policy.lexicographic(FeedbackOrder()))
    ours = check_service_level(busy_day_result, "p90 wait of tier gold <= 1 h").measured
    theirs = check_service_level(arrival_order, "p90 wait of tier gold <= 1 h").measured
    assert ours is not None and theirs is not None and ours < theirs
