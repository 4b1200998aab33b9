"""The simulation engine: exact agreement with simple reference models, and
the invariants every simulated day must keep.

* With FIFO order and c identical agents always on duty, every ticket's
  answer time equals the textbook recursion (each ticket, in arrival order,
  takes the earliest free agent; with c = 1 this is Lindley's recursion),
  with customers who give up when their patience runs out, and follow-ups
  counted while waiting.
* The queue length sampled over the day equals the number of tickets
  arrived and not yet answered or abandoned at each sample instant.
* With shifts and breaks, no agent answers a ticket while off duty or on a
  break, nor holds more tickets than its capacity; every ticket ends exactly
  once (served, abandoned or never answered), and a never-answered one
  found every qualified agent on duty full (work conservation).
* Time-driven dispatcher changes (skills relaxing, affinity holds ending)
  happen at their exact instant.
* Results are deterministic, and compare() runs every policy on exactly the
  same day.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage_queue import Agent, FeedbackOrder, InvalidArgument, LongestIdle, OverflowRule, Policy, Selection, StrainGuard, Ticket
from triage_queue.bench.sim_suite import mmc_day
from triage_queue.sim.engine import PolicySource, compare, simulate
from triage_queue.sim.model import Arrival, Day, InvalidSimulation, Shift, Staff
from triage_queue.sim.results import SimulationResult

FIFO = Policy.lexicographic(FeedbackOrder())

# Whole seconds, so that simultaneous events (ties) are common.
instants = st.integers(0, 300).map(float)
durations = st.integers(1, 60).map(float)


@st.composite
def fifo_days(draw: st.DrawFn) -> Day:
    """Arrivals with optional patience and follow-ups, and 1..3 agents on duty throughout."""
    count = draw(st.integers(0, 25))
    arrivals = []
    for i in range(count):
        arrivals.append(
            Arrival(
                Ticket(f"T{i}", draw(instants)),
                handling_time=draw(durations),
                patience=draw(st.none() | durations),
                follow_ups=draw(st.lists(durations, max_size=3)),
            )
        )
    agents = draw(st.integers(1, 3))
    return Day(arrivals, [Staff(Agent(f"A{j}")) for j in range(agents)])


def reference_fifo(day: Day) -> dict[str, tuple[float | None, float | None, int]]:
    """Ticket id -> (answered, abandoned, contacts) for FIFO with c identical
    agents: in arrival order, a ticket takes the earliest free agent, unless
    that agent frees up only after the customer's patience ran out (at the
    same instant, the agent frees up first).  A follow-up counts if it comes
    strictly before the ticket is answered or abandoned."""
    free = [0.0] * len(day.staff)
    found = {}
    for arrival in day.arrivals:
        start = max(arrival.time, free[0])
        answered: float | None = start
        abandoned: float | None = None
        if arrival.patience is not None and start > arrival.time + arrival.patience:
            answered, abandoned = None, arrival.time + arrival.patience
        else:
            heapq.heapreplace(free, start + arrival.handling_time)
        left = answered if answered is not None else abandoned
        assert left is not None
        contacts = 1 + sum(1 for f in arrival.follow_ups if arrival.time + f < left)
        found[arrival.ticket.id] = (answered, abandoned, contacts)
    return found


@given(fifo_days())
def test_fifo_matches_the_earliest_free_agent_recursion(day: Day) -> None:
    """Every ticket is answered (or abandoned) exactly when the reference
    FIFO recursion says, with the same number of contacts; served tickets
    complete one handling time after they are answered."""
    result = simulate(day, FIFO)
    expected = reference_fifo(day)
    handling = {a.ticket.id: a.handling_time for a in day.arrivals}
    for o in result.outcomes:
        answered, abandoned, contacts = expected[o.ticket_id]
        assert (o.answered, o.abandoned, o.contacts) == (answered, abandoned, contacts), o
        if answered is not None:
            assert o.completed == answered + handling[o.ticket_id]
            assert o.outcome == "served"
        else:
            assert o.outcome == "abandoned" and o.agent_id is None and o.completed is None
    assert result.overall.count == len(day.arrivals)


@given(fifo_days(), st.sampled_from([7.0, 30.0, 60.0]))
def test_queue_length_samples_count_the_waiting_tickets(day: Day, every: float) -> None:
    """At every sample instant s, the queue length is the number of tickets
    that arrived by s and were neither answered nor abandoned by s; samples
    come every ``every`` seconds from the start, and one at the end."""
    result = simulate(day, FIFO, sample_every=every)
    instants_seen = [s for s, _ in result.queue_length]
    assert instants_seen[-1] == result.end
    assert instants_seen[:-1] == [result.start + k * every for k in range(len(instants_seen) - 1)]
    for at, length in result.queue_length:
        waiting = 0
        for o in result.outcomes:
            left = o.answered if o.answered is not None else o.abandoned
            if o.arrived <= at and (left is None or left > at):
                waiting += 1
        assert length == waiting, at


@st.composite
def shift_days(draw: st.DrawFn) -> Day:
    """Agents with skills, capacities, shifts and breaks; tickets needing skills."""
    skills = ["billing", "tech"]
    staff = []
    for j in range(draw(st.integers(1, 3))):
        shifts = []
        at = draw(instants)
        for _ in range(draw(st.integers(0, 2))):
            start = at + draw(st.integers(0, 50))
            end = start + draw(st.integers(20, 200))
            breaks = []
            if draw(st.booleans()) and end - start > 10:
                b = draw(st.integers(int(start), int(end) - 5))
                breaks.append((float(b), float(min(end, b + draw(st.integers(1, 30))))))
            shifts.append(Shift(float(start), float(end), breaks=breaks))
            at = end
        agent = Agent(f"A{j}", skills=draw(st.sets(st.sampled_from(skills))), capacity=draw(st.integers(1, 2)))
        staff.append(Staff(agent, shifts=shifts))
    arrivals = [
        Arrival(
            Ticket(f"T{i}", draw(instants), skills=draw(st.sets(st.sampled_from(skills), max_size=1))),
            handling_time=draw(durations),
            patience=draw(st.none() | st.integers(1, 400).map(float)),
        )
        for i in range(draw(st.integers(0, 20)))
    ]
    return Day(arrivals, staff)


def _on_duty(staff: Staff, at: float) -> bool:
    if not staff.shifts:
        return True
    for shift in staff.shifts:
        if shift.start <= at < shift.end:
            return not any(b0 <= at < b1 for b0, b1 in shift.breaks)
    return False


@given(shift_days())
def test_shifts_breaks_and_capacity_are_respected(day: Day) -> None:
    """No ticket is answered by an agent off duty or on a break, or lacking
    its skills; no agent ever holds more tickets than its capacity; every
    ticket ends exactly once; a ticket never answered nor abandoned found
    every qualified agent on duty full (work conservation); abandonments
    happen exactly when patience runs out."""
    result = simulate(day, FIFO)
    staff = {s.agent.id: s for s in day.staff}
    arrivals = {a.ticket.id: a for a in day.arrivals}
    assert [o.ticket_id for o in result.outcomes] == [a.ticket.id for a in day.arrivals]
    for o in result.outcomes:
        assert o.outcome in {"served", "abandoned", "unanswered"}
        arrival = arrivals[o.ticket_id]
        if o.answered is not None:
            assert o.agent_id is not None
            member = staff[o.agent_id]
            assert _on_duty(member, o.answered), o
            assert arrival.ticket.skills.satisfied_by(member.agent.skills)
            assert o.answered >= o.arrived
        elif o.abandoned is not None:
            assert arrival.patience is not None and o.abandoned == o.arrived + arrival.patience
        else:
            # Never answered: work conservation.  Whenever a qualified agent
            # was on duty after it arrived (checked at every instant where
            # duty or load changes), that agent was full.
            instants = {o.arrived} | {x.completed for x in result.outcomes if x.completed is not None}
            for s in day.staff:
                for sh in s.shifts:
                    instants |= {sh.start, sh.end, *(b for pair in sh.breaks for b in pair)}
            for s in day.staff:
                if not arrival.ticket.skills.satisfied_by(s.agent.skills):
                    continue
                for at in sorted(t for t in instants if t >= o.arrived):
                    if _on_duty(s, at):
                        assert _in_hand(result.outcomes, s.agent.id, at) >= s.agent.capacity_for(None), (o, s, at)
    for agent_id, member in staff.items():
        for o in result.outcomes:
            if o.agent_id == agent_id and o.answered is not None:
                assert _in_hand(result.outcomes, agent_id, o.answered) <= member.agent.capacity_for(None)


def _in_hand(outcomes: Any, agent_id: str, at: float) -> int:
    return sum(
        1 for o in outcomes if o.agent_id == agent_id and o.answered <= at and (o.completed is None or at < o.completed)
    )


def test_an_agent_finishes_tickets_after_the_shift_ends_but_takes_no_new_one() -> None:
    """A ticket in hand at the end of a shift is completed; the next one
    waits for the next shift."""
    day = Day(
        [Arrival(Ticket("T1", 0.0), 100.0), Arrival(Ticket("T2", 10.0), 10.0)],
        [Staff(Agent("ana"), shifts=[Shift(0.0, 50.0), Shift(200.0, 300.0)])],
    )
    r = simulate(day, FIFO)
    assert (r.outcome("T1").completed, r.outcome("T2").answered) == (100.0, 200.0)
    assert r.agents[0].on_duty == 150.0 and r.agents[0].busy == 110.0


def test_breaks_keep_tickets_waiting_until_the_agent_is_back() -> None:
    """During a break the agent is away: a ticket arriving then waits for
    the break to end."""
    day = Day([Arrival(Ticket("T1", 20.0), 5.0)], [Staff(Agent("ana"), shifts=[Shift(0.0, 100.0, breaks=[(10.0, 40.0)])])])
    assert simulate(day, FIFO).outcome("T1").answered == 40.0


def test_skill_relaxation_happens_at_its_exact_instant() -> None:
    """A ticket preferring German is answered by a non-German agent exactly
    when its preference lapses, not at the next event."""
    ticket = Ticket("T1", 0.0, skills={"billing": 1}, preferred_skills={"german": 2}, relax_after=37.5)
    day = Day([Arrival(ticket, 10.0), Arrival(Ticket("T2", 500.0), 10.0)], [Staff(Agent("bo", skills={"billing": 3}))])
    r = simulate(day, FIFO)
    assert r.outcome("T1").answered == 37.5
    assert r.events == 4 + 1  # 2 arrivals, 2 completions, and the dispatcher's own instant


def test_affinity_hold_ends_at_its_exact_instant() -> None:
    """A returning customer's ticket is held for their busy agent for
    ``affinity_wait`` seconds, then goes to a free agent at that instant."""
    day = Day(
        [
            Arrival(Ticket("T1", 0.0, customer_id="acme"), 20.0),
            Arrival(Ticket("T2", 1.0), 500.0),  # keeps bo busy: ana serves T1 (longest idle)
            Arrival(Ticket("T3", 30.0), 500.0),  # ana is busy with this when acme writes again
            Arrival(Ticket("T4", 40.0, customer_id="acme"), 10.0),
            Arrival(Ticket("T5", 41.0), 1.0),
        ],
        [Staff(Agent("ana")), Staff(Agent("bo")), Staff(Agent("cy"), shifts=[Shift(35.0, 1000.0)])],
    )
    r = simulate(day, FIFO, dispatcher_options={"affinity_wait": 15.0})
    t4 = r.outcome("T4")
    assert r.outcome("T1").agent_id == "ana" and r.outcome("T3").agent_id == "ana"
    assert (t4.answered, t4.agent_id) == (55.0, "cy")
    assert r.outcome("T5").answered == 41.0  # the held ticket kept no one else waiting


def test_follow_ups_raise_priority_when_the_policy_says_so() -> None:
    """With a follow-up bonus, a ticket whose customer wrote again overtakes
    one that arrived earlier; the follow-up is counted in its contacts."""
    day = Day(
        [
            Arrival(Ticket("T0", 0.0), 100.0),
            Arrival(Ticket("T1", 1.0), 10.0),
            Arrival(Ticket("T2", 2.0), 10.0, follow_ups=[5.0]),
        ],
        [Staff(Agent("ana"))],
    )
    bonus = simulate(day, Policy.lexicographic(FeedbackOrder(follow_up_bonus=60.0)))
    plain = simulate(day, FIFO)
    assert bonus.outcome("T2").answered == 100.0 and bonus.outcome("T2").contacts == 2
    assert plain.outcome("T1").answered == 100.0 and plain.outcome("T2").contacts == 2


def test_patience_and_follow_ups_of_an_answered_ticket_leave_no_trace() -> None:
    """A customer answered at once never gives up or writes again: their
    patience and follow-up instants hours later neither stretch the day
    (its end, the queue-length series, the on-duty time of an agent without
    shifts) nor count as events."""
    day = Day(
        [Arrival(Ticket("T0", 0.0), 60.0, patience=30_000.0, follow_ups=[3_600.0, 28_800.0])],
        [Staff(Agent("ana"))],
    )
    result = simulate(day, FIFO, sample_every=600.0)
    assert result.end == 60.0, "the day ends with its last real event, the completion"
    assert result.events == 2, "one arrival and one completion"
    assert result.queue_length[-1][0] == 60.0
    assert result.agents[0].on_duty == 60.0
    assert result.outcome("T0").contacts == 1 and result.outcome("T0").abandoned is None


@settings(max_examples=50)
@given(fifo_days())
def test_same_day_same_result(day: Day) -> None:
    """Simulating twice gives equal results (the engine draws nothing)."""
    assert simulate(day, FIFO) == simulate(day, FIFO)


def test_compare_runs_every_policy_on_the_same_arrivals() -> None:
    """compare() gives one result per policy, in order, on identical
    arrivals; a priority policy changes who waits, not what arrives."""
    day = mmc_day(0.9, 1 / 3, 3, 300, seed=4)
    fifo, lifo = compare(day, [FIFO, Policy.weighted([(FeedbackOrder(), -1.0)])], names=["fifo", "lifo"])
    assert (fifo.policy, lifo.policy) == ("fifo", "lifo")
    assert [(o.ticket_id, o.arrived) for o in fifo.outcomes] == [(o.ticket_id, o.arrived) for o in lifo.outcomes]
    assert fifo.outcomes != lifo.outcomes
    # Order does not change the total work: both serve everyone with equal busy time.
    assert math.isclose(sum(a.busy for a in fifo.agents), sum(a.busy for a in lifo.agents))
    assert fifo.overall.served == lifo.overall.served == 300


def test_events_count_arrivals_and_completions_on_mmc() -> None:
    """On M/M/c, an event is an arrival or a completion: 2 per ticket."""
    result = simulate(mmc_day(1.0, 0.5, 3, 200, seed=9), FIFO)
    assert result.events == 400
    assert result.occupancy is not None and 0 < result.occupancy < 1


class FakePolicyFile:
    """The shape of config.PolicyFile that the engine relies on."""

    def __init__(self, targets: Mapping[str, float], options: Mapping[str, Any]) -> None:
        self.name = "from-file"
        self.policy = FIFO
        self.targets = targets
        self.dispatcher_options = options

    def with_sla(self, ticket: Ticket) -> Ticket:
        target = self.targets.get(ticket.customer_tier or "standard")
        if ticket.sla_due is not None or target is None:
            return ticket
        return ticket.evolve(sla_due=ticket.created_at + target)

    def selection_strategy(self) -> Selection:
        return LongestIdle()


def test_a_policy_file_sets_sla_targets_name_and_options() -> None:
    """A policy file's SLA targets are applied to each ticket and counted in
    SLA attainment; its name labels the result; its dispatcher options apply
    unless overridden."""
    day = Day(
        [
            Arrival(Ticket("G1", 0.0, customer_tier="gold"), 50.0),
            Arrival(Ticket("G2", 1.0, customer_tier="gold"), 50.0),
            Arrival(Ticket("S1", 2.0), 50.0),
        ],
        [Staff(Agent("ana"))],
    )
    source = FakePolicyFile({"gold": 60.0}, {"affinity_wait": 0.0})
    assert isinstance(source, PolicySource)
    r = simulate(day, source)
    assert r.policy == "from-file"
    assert r.outcome("G1").sla_target == 60.0 and r.outcome("S1").sla_target is None
    assert (r.outcome("G1").sla_met, r.outcome("G2").sla_met) == (True, True)
    assert r.by_tier["gold"].sla_attainment == 1.0 and r.by_tier["standard"].sla_attainment is None
    tight = simulate(day, FakePolicyFile({"gold": 30.0}, {}), name="tight")
    assert tight.policy == "tight" and tight.by_tier["gold"].sla_attainment == 0.5
    with pytest.raises(InvalidSimulation, match="dispatcher_options"):
        simulate(day, FakePolicyFile({}, {"bogus": 1}))
    with pytest.raises(InvalidArgument, match="affinity_wait"):
        simulate(day, source, dispatcher_options={"affinity_wait": -1})


def test_a_real_policy_file_drives_the_simulation() -> None:
    """config.PolicyFile fits the engine's PolicySource: its SLA targets,
    selection strategy and options apply, and its name labels the result."""
    from triage_queue.config import PolicyFile, SlaTargets

    source = PolicyFile.from_policy(
        FIFO, name="fifo-file", sla=SlaTargets(by_tier={"gold": 60}), selection="least_loaded",
        dispatcher_options={"affinity_wait": 0},
    )
    assert isinstance(source, PolicySource)
    day = Day(
        [Arrival(Ticket(f"G{i}", float(i), customer_tier="gold"), 50.0) for i in range(3)],
        [Staff(Agent("ana"))],
    )
    r = simulate(day, source)
    assert r.policy == "fifo-file"
    assert [o.sla_met for o in r.outcomes] == [True, True, False]  # answered at 0, 50, 100; due at 60, 61, 62
    assert r.by_tier["gold"].sla_attainment == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda day: simulate("not a day", FIFO), "day"),  # type: ignore[arg-type]
        (lambda day: simulate(day, "fifo"), "policy"),  # type: ignore[arg-type]
        (lambda day: simulate(day, FIFO, sample_every=0), "sample_every"),
        (lambda day: simulate(day, FIFO, name=""), "name"),
        (lambda day: compare(day, []), "policies"),
        (lambda day: compare(day, [FIFO], names=["a", "b"]), "names"),
    ],
)
def test_bad_arguments_raise_a_project_error_naming_them(call: Any, field: str) -> None:
    """Every bad argument raises InvalidSimulation naming it."""
    day = Day([Arrival(Ticket("T1", 0.0), 1.0)], [Staff(Agent("ana"))])
    with pytest.raises(InvalidSimulation) as caught:
        call(day)
    assert caught.value.field == field


def test_compare_refuses_two_policies_with_one_label() -> None:
    """Two results with one label would be merged by the report and by
    results.json: equal names, two policy files with the same name, or a
    file named like a plain policy's default label are refused, naming both
    positions, before anything is simulated."""
    from triage_queue.config import PolicyFile

    day = Day([Arrival(Ticket("T1", 0.0), 1.0)], [Staff(Agent("ana"))])
    ours, theirs = PolicyFile.from_policy(FIFO, name="ours"), PolicyFile.from_policy(Policy.default(), name="ours")
    calls = [
        (lambda: compare(day, [FIFO, Policy.default()], names=["x", "x"]), ["x", "x"], "policies 1 and 2 are both labelled 'x'"),
        (lambda: compare(day, [ours, FIFO, theirs]), ["ours", "policy 2", "ours"], "policies 1 and 3 are both labelled 'ours'"),
        (lambda: compare(day, [FIFO, PolicyFile.from_policy(FIFO, name="policy 1")]), ["policy 1", "policy 1"], "(pass names=...)"),
    ]
    for call, value, reason in calls:
        with pytest.raises(InvalidSimulation) as caught:
            call()
        assert (caught.value.field, caught.value.value) == ("names", value)
        assert reason in caught.value.reason
    # Distinct names make the same policies comparable.
    assert [r.policy for r in compare(day, [ours, theirs], names=["ours", "ours (2)"])] == ["ours", "ours (2)"]


def test_an_empty_day_gives_an_empty_result() -> None:
    """No arrivals: nothing measured, every agent idle."""
    r = simulate(Day([], [Staff(Agent("ana"), shifts=[Shift(0.0, 60.0)])]), FIFO)
    assert isinstance(r, SimulationResult)
    assert (r.overall.count, r.overall.wait_mean, r.occupancy, r.end) == (0, None, 0.0, 60.0)


def test_progress_reports_the_run() -> None:
    """With a Progress, the run is reported as one task named after the policy."""
    import io

    from triage_queue._progress import Progress

    stream = io.StringIO()
    simulate(mmc_day(1.0, 0.5, 3, 50, seed=1), FIFO, name="fifo", progress=Progress(stream=stream, bars=False))
    assert "simulating fifo" in stream.getvalue()
    with pytest.raises(InvalidSimulation, match="progress"):
        simulate(mmc_day(1.0, 0.5, 3, 5, seed=1), FIFO, progress="yes")  # type: ignore[arg-type]


def test_an_offer_taken_back_by_the_call_that_made_it_is_not_accepted() -> None:
    # ana's cooldown (strain) ends at 100, the instant her shift ends: the set_status call
    # offers her A1 as it starts and takes it back as she goes offline.  bo answers it at 500.
    day = Day(
        arrivals=(Arrival(Ticket("A0", 0.0), handling_time=50.0), Arrival(Ticket("A1", 60.0), handling_time=10.0)),
        staff=(Staff(Agent("ana"), shifts=(Shift(0.0, 100.0),)), Staff(Agent("bo"), shifts=(Shift(500.0, 900.0),))),
        end=1000.0,
    )
    result = simulate(day, Policy.default(), dispatcher_options={"strain": StrainGuard(per_hour=1, cooldown=50.0)})
    answered = {o.ticket_id: (o.answered, o.agent_id) for o in result.outcomes}
    assert answered == {"A0": (0.0, "ana"), "A1": (500.0, "bo")}


def test_the_simulator_runs_overflow_rules() -> None:
    day = Day(
        arrivals=(Arrival(Ticket("B0", 0.0, skills={"billing": 1}), handling_time=1000.0),
                  Arrival(Ticket("B1", 50.0, skills={"billing": 1}), handling_time=100.0)),
        staff=(Staff(Agent("bill", skills={"billing": 1})),
               Staff(Agent("gen", skills={"general": 2}), shifts=(Shift(0.0, 100.0),))),
        end=2000.0,
    )
    opts = {"overflow": [OverflowRule("billing", {"general": 2}, waiting_above=0)]}
    result = simulate(day, Policy.default(), dispatcher_options=opts)
    assert {o.ticket_id for o in result.outcomes if o.completed is not None} == {"B0", "B1"}
