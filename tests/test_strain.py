"""Strain limits (issue 13 §2): after long continuous handling, many tickets
in a rolling window or a run of hard tickets, an agent gets no new offers
for a cooldown; events, explanations, statistics, timers, overrides, policy
files and snapshots."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage_queue import (
    Agent,
    Dispatcher,
    EventKind,
    InvalidArgument,
    InvalidPolicy,
    ManualClock,
    StrainGuard,
    StrainLimits,
    Ticket,
    TicketQueue,
    parse_policy,
)

DERANDOMIZE = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
START = 9 * 3600.0  # 09:00


def desk(guard: StrainGuard, *agents: Agent) -> tuple[Dispatcher, ManualClock]:
    clock = ManualClock(START)
    return Dispatcher(TicketQueue(clock=clock), list(agents), strain=guard, offer_timeout=None), clock


def details(d: Dispatcher, kind: EventKind) -> list[tuple[str | None, str]]:
    return [(e.agent_id, e.detail) for e in d.events if e.kind is kind]


def serve(d: Dispatcher, clock: ManualClock, agent_id: str, ticket: Ticket, seconds: float = 0.0) -> None:
    """Submit a ticket only this agent can take, accept it, handle it for ``seconds``, complete it."""
    offer = d.submit(ticket)
    assert offer is not None and offer.agent_id == agent_id
    d.accept(offer)
    clock.advance(seconds)
    d.complete(ticket.id)


# -- limits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"continuous": 0}, "continuous", "> 0"),
        ({"continuous": "90m"}, "continuous", "seconds"),
        ({"per_hour": 0}, "per_hour", ">= 1"),
        ({"per_hour": 2.5}, "per_hour", "count"),
        ({"hard_in_a_row": 3, "hard_severity": "dire"}, "hard_severity", "a severity"),
        ({"per_hour": 3, "window": -1}, "window", "> 0"),
        ({"per_hour": 3, "cooldown": float("inf")}, "cooldown", "finite"),
        ({"cooldown": 60}, "strain", "needs continuous, per_hour or hard_in_a_row"),
        ({"per_hour": 3, "cool_down": 60}, "cool_down", "unknown strain limit"),
        ({"per_hour": 3, "overrides": {"ana": {"per_hour": -1}}}, "overrides['ana'].per_hour", "count"),
        ({"per_hour": 3, "overrides": {"": {}}}, "overrides", "agent ids"),
    ],
)
def test_bad_limits_are_refused_naming_the_field(kwargs: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        StrainGuard(**kwargs)
    assert info.value.field == field
    assert fragment in info.value.reason


def test_the_dispatcher_refuses_a_strain_that_is_not_a_guard() -> None:
    with pytest.raises(InvalidArgument, match="StrainGuard"):
        Dispatcher(TicketQueue(clock=ManualClock(0.0)), strain={"continuous": 60})  # type: ignore[arg-type]


# -- the three limits ------------------------------------------------------------------------


def test_continuous_handling_starts_a_cooldown_on_time_and_offers_resume_after_it() -> None:
    d, clock = desk(StrainGuard(continuous=90 * 60, cooldown=12 * 60), Agent("ana"), Agent("bo", status="away"))
    d.accept(d.submit(Ticket("A", START)))
    assert d.next_due() == START + 90 * 60  # the streak's limit is a timer
    clock.advance(90 * 60)
    d.tick()
    assert details(d, EventKind.COOLDOWN_STARTED) == [("ana", "cooling down until 10:42 after 90 min continuous")]
    d.complete("A")  # ana is free, but rests: a new ticket waits for bo
    d.submit(Ticket("B", clock()))
    assert d.status("B") == "waiting"
    verdicts = {v.agent_id: v.reason for v in d.explain_assignment("B").verdicts}
    assert verdicts["ana"] == "cooling down until 10:42 after 90 min continuous"
    figures = d.stats().agents["ana"]
    assert (figures.cooling_until, figures.strain, figures.cooldowns) == (START + 102 * 60, "90 min continuous", 1)
    assert d.next_due() == START + 102 * 60
    d._check()
    clock.advance(12 * 60)
    d.tick()
    assert details(d, EventKind.COOLDOWN_ENDED) == [("ana", "cooldown after 90 min continuous is over")]
    assert d.offers_for("ana")[0].ticket.id == "B"
    assert d.stats().agents["ana"].cooling_until is None
    d._check()


def test_a_streak_breaks_when_the_agent_holds_nothing() -> None:
    d, clock = desk(StrainGuard(continuous=600), Agent("ana"))
    for i in range(5):  # 5 tickets of 100 s with 60 s gaps: never 600 s in a row
        serve(d, clock, "ana", Ticket(f"T-{i}", clock()), 100)
        clock.advance(60)
    d.tick()
    assert details(d, EventKind.COOLDOWN_STARTED) == []
    d._check()


def test_many_tickets_in_a_rolling_window_start_a_cooldown() -> None:
    d, clock = desk(StrainGuard(per_hour=3, cooldown=300), Agent("ana"))
    serve(d, clock, "ana", Ticket("T-0", clock()), 60)
    clock.advance(3600)  # T-0 leaves the window
    serve(d, clock, "ana", Ticket("T-1", clock()), 60)
    serve(d, clock, "ana", Ticket("T-2", clock()), 60)
    assert details(d, EventKind.COOLDOWN_STARTED) == []
    serve(d, clock, "ana", Ticket("T-3", clock()), 60)
    assert details(d, EventKind.COOLDOWN_STARTED) == [("ana", "cooling down until 10:09 after 3 tickets in 1 h")]


def test_a_run_of_hard_tickets_starts_a_cooldown_and_an_easier_one_breaks_the_run() -> None:
    d, clock = desk(StrainGuard(hard_in_a_row=2, hard_severity="high", cooldown=600), Agent("ana"))
    serve(d, clock, "ana", Ticket("T-0", clock(), severity="critical"), 60)
    serve(d, clock, "ana", Ticket("T-1", clock(), severity="normal"), 60)
    serve(d, clock, "ana", Ticket("T-2", clock(), severity="high"), 60)
    assert details(d, EventKind.COOLDOWN_STARTED) == []
    serve(d, clock, "ana", Ticket("T-3", clock(), severity="critical"), 60)
    assert details(d, EventKind.COOLDOWN_STARTED) == [("ana", "cooling down until 09:14 after 2 high tickets in a row")]


def test_per_agent_overrides_replace_the_limits_for_that_agent() -> None:
    guard = StrainGuard(per_hour=2, cooldown=600, overrides={"ana": {"per_hour": None, "hard_in_a_row": 1}})
    d, clock = desk(guard, Agent("ana", skills=["a"]), Agent("bo", skills=["b"]))
    for i in range(3):
        serve(d, clock, "ana", Ticket(f"A-{i}", clock(), skills=["a"]), 10)
    assert details(d, EventKind.COOLDOWN_STARTED) == []
    serve(d, clock, "ana", Ticket("A-9", clock(), skills=["a"], severity="critical"), 10)
    serve(d, clock, "bo", Ticket("B-0", clock(), skills=["b"]), 10)
    serve(d, clock, "bo", Ticket("B-1", clock(), skills=["b"]), 10)
    assert [agent for agent, _ in details(d, EventKind.COOLDOWN_STARTED)] == ["ana", "bo"]
    assert guard.limits_for("ana") == StrainLimits(hard_in_a_row=1, cooldown=600)


def test_a_cooldown_keeps_offers_already_made_and_an_agent_leaving_forgets_it() -> None:
    d, clock = desk(StrainGuard(per_hour=1, cooldown=600), Agent("ana", capacity=2), Agent("bo", status="away"))
    d.accept(d.submit(Ticket("T-0", clock())))
    waiting = d.submit(Ticket("T-1", clock()))
    assert waiting is not None and waiting.agent_id == "ana"
    d.complete("T-0")  # the cooldown starts; the pending offer of T-1 stands
    assert d.status("T-1") == "offered"
    d.accept(waiting)
    d.complete("T-1")
    d.remove_agent("ana")
    assert d.stats().agents.keys() == {"bo"}
    d._check()


# -- a property: nobody cooling down gets an offer ----------------------------------------------------


@settings(max_examples=60, deadline=None, derandomize=DERANDOMIZE)
@given(
    ops=st.lists(st.tuples(st.sampled_from(["submit", "hard", "accept", "complete", "wait", "status"]), st.integers(0, 2)),
                 max_size=70),
    per_hour=st.integers(1, 4),
    run=st.integers(1, 3),
)
def test_a_cooling_agent_gets_no_offer_and_cooldowns_follow_a_reference_model(
    ops: list[tuple[str, int]], per_hour: int, run: int
) -> None:
    window, cooldown = 300.0, 120.0
    guard = StrainGuard(per_hour=per_hour, window=window, hard_in_a_row=run, cooldown=cooldown)
    agents = [Agent("a0", capacity=2), Agent("a1"), Agent("a2", capacity=3)]
    d, clock = desk(guard, *agents)
    seen: list[Any] = []
    d.subscribe(seen.append)
    # The reference: per agent, completion times in the window, the run, the end of its cooldown.
    done: dict[str, list[float]] = {a.id: [] for a in agents}
    hard_run = {a.id: 0 for a in agents}
    until: dict[str, float] = {}
    expected_starts: list[tuple[str, float]] = []
    severity: dict[str, str] = {}
    for op, arg in ops:
        agent_id = agents[arg].id
        now = clock()
        for other, end in list(until.items()):
            if end <= now:
                del until[other]
        if op in ("submit", "hard"):
            ticket_id = f"T-{len(severity)}"
            severity[ticket_id] = "critical" if op == "hard" else "normal"
            d.submit(Ticket(ticket_id, now, severity=severity[ticket_id]))
        elif op == "accept":  # every pending offer
            for a in agents:
                for offer in d.offers_for(a.id):
                    d.accept(offer)
        elif op == "complete":  # the agent's oldest ticket, or the first agent's that has one
            holder = next((a.id for a in [agents[arg], *agents] if d.assigned(a.id)), None)
            if holder is not None:
                agent_id = holder
                mine = d.assigned(agent_id)
                d.complete(mine[0].id)
                done[agent_id] = [t for t in [*done[agent_id], now] if t > now - window]
                hard_run[agent_id] = hard_run[agent_id] + 1 if severity[mine[0].id] == "critical" else 0
                if agent_id not in until and (len(done[agent_id]) >= per_hour or hard_run[agent_id] >= run):
                    until[agent_id] = now + cooldown
                    expected_starts.append((agent_id, now))
                    done[agent_id], hard_run[agent_id] = [], 0
        elif op == "wait":
            clock.advance(30.0 * (arg + 1))
            d.tick()
        else:
            status = d.roster[agent_id].status.value
            d.set_status(agent_id, "away" if status == "available" else "available")
        d._check()
    assert [(e.agent_id, e.time) for e in seen if e.kind is EventKind.COOLDOWN_STARTED] == expected_starts
    resting: dict[str, bool] = {}
    for event in seen:
        if event.kind is EventKind.COOLDOWN_STARTED:
            resting[event.agent_id] = True
        elif event.kind is EventKind.COOLDOWN_ENDED:
            resting[event.agent_id] = False
        elif event.kind is EventKind.OFFERED:
            assert not resting.get(event.agent_id, False), f"{event.agent_id} got an offer while cooling down"


# -- snapshots and policy files ------------------------------------------------------------------------


def test_a_desk_saved_during_a_cooldown_restores_exactly() -> None:
    d, clock = desk(StrainGuard(continuous=600, per_hour=5, cooldown=300), Agent("ana"), Agent("bo"))
    d.accept(d.submit(Ticket("T-0", clock())))
    d.accept(d.submit(Ticket("T-1", clock())))
    clock.advance(400)
    d.complete("T-1")  # bo's streak is over (a stale timer stays behind); ana's goes on
    clock.advance(200)
    d.tick()  # ana: 600 s continuous
    data = json.loads(json.dumps(d.snapshot(), allow_nan=False))
    assert data["strain"]["agents"][0]["until"] == START + 900
    copy_clock = ManualClock(clock())
    copy = Dispatcher.restore(data, clock=copy_clock)
    assert copy.snapshot() == d.snapshot()
    assert copy.next_due() == d.next_due() == START + 900
    for desk_, its_clock in ((d, clock), (copy, copy_clock)):
        desk_.submit(Ticket("T-2", its_clock()))
        its_clock.advance(300)
        desk_.tick()
    assert [str(e) for e in copy.events] == [str(e) for e in d.events]
    assert any(e.kind is EventKind.COOLDOWN_ENDED for e in copy.events)
    assert copy.snapshot() == d.snapshot()
    copy._check()


def test_an_older_snapshot_without_a_strain_section_loads_and_a_tampered_one_is_refused() -> None:
    d, clock = desk(StrainGuard(per_hour=1, cooldown=300), Agent("ana"))
    serve(d, clock, "ana", Ticket("T-0", clock()), 10)
    data = json.loads(json.dumps(d.snapshot()))
    broken = json.loads(json.dumps(data))
    broken["strain"]["timers"] = []
    with pytest.raises(InvalidArgument) as info:
        Dispatcher.restore(broken, clock=ManualClock(clock()))
    assert info.value.field == "snapshot.strain.timers"
    del data["strain"]
    copy = Dispatcher.restore(data, clock=ManualClock(clock()))
    assert copy.stats().agents["ana"].cooldowns is None
    assert copy.submit(Ticket("T-1", clock())) is not None  # without the guard, nobody rests


def test_a_policy_file_declares_strain_limits_with_overrides() -> None:
    text = """
[[rules]]
kind = "feedback_order"

[dispatcher.strain]
continuous = "90m"
per_hour = 12
hard_in_a_row = 3
cooldown = "10m"

[dispatcher.strain.overrides.ana]
continuous = "1h"
per_hour = "none"
"""
    pf = parse_policy(text)
    guard = pf.dispatcher_options["strain"]
    assert guard == StrainGuard(continuous=5400, per_hour=12, hard_in_a_row=3, cooldown=600,
                                overrides={"ana": {"continuous": 3600, "per_hour": None}})
    assert parse_policy(pf.to_toml()) == pf
    d = pf.build(ManualClock(0.0), [Agent("ana")])
    assert d.stats().agents["ana"].cooldowns == 0
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(text.replace('cooldown = "10m"', 'cooldown = "0s"'))
    assert info.value.field == "dispatcher.strain.cooldown"


def test_a_snapshot_with_a_running_streak_but_no_timer_for_its_limit_is_refused() -> None:
    d, clock = desk(StrainGuard(continuous=600, cooldown=300), Agent("ana"))
    d.accept(d.submit(Ticket("T-0", clock())))  # a streak runs: its limit at 600
    clock.advance(10)
    data = json.loads(json.dumps(d.snapshot()))
    assert [a["busy_since"] is not None for a in data["strain"]["agents"]] == [True]
    Dispatcher.restore(json.loads(json.dumps(data)), clock=ManualClock(clock()))._check()
    data["strain"]["timers"] = []
    with pytest.raises(InvalidArgument) as info:
        Dispatcher.restore(data, clock=ManualClock(clock()))
    assert (info.value.field, info.value.value) == ("snapshot.strain.timers", "ana")
