"""Dispatcher.restore() on untrusted data: snapshots of real desks, mutated
at random places (hostile values, deleted keys, duplicated or swapped
items), either raise a TriageError or give a desk whose invariants hold
and on which a short run of operations raises nothing but TriageError."""

from __future__ import annotations

import copy
import functools
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desk_script import STRATEGIES, start
from triage_queue import Dispatcher, InvalidArgument, ManualClock, Policy, Ticket, TriageError

DERANDOMIZE = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# (seed, steps, strategy): desks with waiting, offered and assigned
# tickets, holds, passes, SLA timers and an audit trail.
DESKS = [(3, 60, "longest_idle"), (11, 120, "tied"), (5, 90, "round_robin"), (8, 150, "least_loaded"), (2, 40, "by_skill_count")]

SECTIONS = ["settings", "queue", "queue", "queue", "roster", "roster", "profiles", "offers", "offers", "offers"]
SECTIONS += ["timers", "sla", "sla", "books", "audit", "audit", "unroutable", "now", "clock_held"]

Path = tuple[str | int, ...]


@functools.cache
def base(index: int) -> tuple[str, float, str]:
    """A desk's snapshot as JSON text, its clock reading and its strategy."""
    seed, steps, strategy = DESKS[index]
    r = start(seed, strategy)
    for step in range(steps):
        r.step(step)
    return json.dumps(r.d.snapshot(), allow_nan=False), r.clock(), strategy


def paths(data: Any, at: Path = ()) -> list[Path]:
    """Every place in the data, containers and leaves alike, except the root."""
    out: list[Path] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((*at, key))
            out.extend(paths(value, (*at, key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.append((*at, i))
            out.extend(paths(value, (*at, i)))
    return out


def strings(data: Any) -> list[str]:
    """Every string in the data (ticket, agent and offer ids among them)."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in (k, *strings(v))]
    if isinstance(data, list):
        return [s for v in data for s in strings(v)]
    return []


def hostile(draw: st.DrawFn, known: list[str], old: Any) -> Any:
    kind = draw(st.integers(0, 15))
    if kind == 0:
        return None
    if kind == 1:
        return draw(st.sampled_from([2**70, -(2**70), 2**63, 10**18]))
    if kind == 2:
        return draw(st.sampled_from([-1, -1.5, 0, 1, 3, 0.5, 1e308]))
    if kind == 3:
        return draw(st.sampled_from(["inf", "-inf", "nan", "NaN", ""]))
    if kind == 4 and known:
        return draw(st.sampled_from(known))
    if kind == 5:
        return []
    if kind == 6:
        return {}
    if kind == 7:
        nested: Any = 0
        for _ in range(draw(st.integers(1, 60))):
            nested = [nested] if draw(st.booleans()) else {"x": nested}
        return nested
    if kind == 8:
        return draw(st.booleans())
    if kind == 9 and isinstance(old, int | float) and not isinstance(old, bool):
        return old + draw(st.sampled_from([-1, 1, -100, 100, 0.5]))
    if kind == 10 and isinstance(old, str):
        return old + draw(st.sampled_from(["x", "-1", "0"]))
    if kind == 11:
        return draw(st.sampled_from(["x", "offer-1", "a0", "T-0", "available", "*"]))
    if kind == 12 and isinstance(old, list) and old:
        return [old[0]] * 3
    if kind == 13 and isinstance(old, dict):
        return {**old, "extra": 1}
    return draw(st.sampled_from([1.5, -3, "x", None, [], {}, True]))


def parent_of(data: Any, path: Path) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def tamper(draw: st.DrawFn, data: dict[str, Any], known: list[str]) -> None:
    """A change that keeps the data well formed but may make it
    inconsistent: what a careless or hostile writer would do."""
    waiting = [r for r in data["queue"]["tickets"] if isinstance(r, dict)]
    agents = [a for a in data["roster"]["agents"] if isinstance(a, dict)]
    tracks = [t for t in data["offers"]["tracks"] if isinstance(t, dict)]
    ids = draw(st.sampled_from([*known[:50], "ghost"])) if known else "ghost"
    later = data["now"] + 10 if isinstance(data["now"], int | float) else 10.0
    kind = draw(st.integers(0, 9))
    if kind == 0 and waiting and agents:  # a hold, with or without its end
        record = draw(st.sampled_from(waiting))
        record["holder"] = draw(st.sampled_from([a["agent"]["id"] for a in agents] + ["ghost"]))
        record["hold_until"] = draw(st.sampled_from([None, later, "inf"]))
    elif kind == 1:  # an SLA timer for any ticket
        data["sla"]["entries"].append([later, draw(st.integers(0, 1)), ids, draw(st.booleans())])
    elif kind == 2:  # an SLA notice sent for any ticket
        data["sla"]["sent"].append([ids, draw(st.integers(0, 1)), later])
    elif kind == 3:  # a pass by any agent on any ticket
        data["offers"]["passed"].append([ids, draw(st.sampled_from([*known[:50], "ghost"])), later])
    elif kind == 4:  # the audit's counter off its last event
        data["audit"]["seq"] += draw(st.sampled_from([-1, 1, 5]))
    elif kind == 5 and tracks:  # an accepted ticket without its time, or an offer made accepted
        track = draw(st.sampled_from(tracks))
        track["assigned_at"] = draw(st.sampled_from([None, later]))
        if draw(st.booleans()):
            track["offer"] = None
    elif kind == 6 and agents:  # an agent's status or capacity changed
        agent = draw(st.sampled_from(agents))
        if draw(st.booleans()):
            agent["agent"]["status"] = draw(st.sampled_from(["available", "away", "offline"]))
        else:
            agent["agent"]["capacity"] = draw(st.sampled_from([{"*": 3}, {"*": 0}, {"chat": 1}]))
            agent["load"] = {slot: 0 for slot in agent["agent"]["capacity"]}
    elif kind == 7 and agents:  # skills changed
        agent = draw(st.sampled_from(agents))
        agent["agent"]["skills"] = draw(st.sampled_from([{}, {"billing": 3, "api": 3, "german": 3, "payments": 3}]))
    elif kind == 8:  # a retry or expiry timer for anything
        data["timers"]["retry"].append([later, ids, draw(st.sampled_from([*known[:50], "ghost"]))])
    elif kind == 9 and waiting:  # a waiting ticket's scheduled change moved
        draw(st.sampled_from(waiting))["next"] = draw(st.sampled_from([None, later, "inf", -1.0]))


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Any, float, str, list[str]]:
    index = draw(st.integers(0, len(DESKS) - 1))
    text, now, strategy = base(index)
    data = json.loads(text)
    known = sorted(set(strings(data)))
    tampered = draw(st.booleans())
    if tampered:
        tamper(draw, data, known)
    for _ in range(draw(st.integers(0 if tampered else 1, 2))):
        # A section first (the big ones would take most draws otherwise),
        # then any place in it.
        section = draw(st.sampled_from(SECTIONS))
        places = [p for p in paths(data) if p[0] == section] if section in data else []
        if not places:
            continue
        path = draw(st.sampled_from(places))
        parent, key = parent_of(data, path), path[-1]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate", "swap"]))
        if action == "replace":
            parent[key] = hostile(draw, known, parent[key])
        elif action == "delete":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif action == "swap" and isinstance(parent, list) and len(parent) > 1:
            other = draw(st.integers(0, len(parent) - 1))
            parent[key], parent[other] = parent[other], parent[key]
    return data, now, strategy, known


def exercise(d: Dispatcher, clock: ManualClock, known: list[str]) -> None:
    """A short run of operations: each may raise only a TriageError, and
    the desk's invariants must hold after each."""

    def attempt(op: Any, *args: Any) -> Any:
        try:
            return op(*args)
        except TriageError:
            return None
        finally:
            d._check()

    attempt(d.submit, Ticket("F-1", clock(), skills={"billing": 1}))
    attempt(d.submit, Ticket("F-2", clock()))
    clock.advance(31.0)
    attempt(d.tick)
    for agent in list(d.roster):
        offer = attempt(d.next_for, agent.id)
        if offer is not None:
            attempt(d.accept, offer)
        for ticket in attempt(d.assigned, agent.id) or []:
            attempt(d.complete, ticket.id)
    clock.advance(700.0)
    attempt(d.tick)
    attempt(d.stats)
    for ticket_id in [t.id for t in d.queue][:5] + known[:20]:
        attempt(d.explain_assignment, ticket_id)
    attempt(d.snapshot)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=mutated())
def test_a_tampered_snapshot_is_refused_or_restores_a_sound_desk(case: tuple[Any, float, str, list[str]]) -> None:
    data, now, strategy, known = case
    clock = ManualClock(now)
    try:
        d = Dispatcher.restore(data, clock=clock, policy=Policy.default(max_wait=600), selection=STRATEGIES[strategy]())
    except TriageError:
        return
    d._check()
    exercise(d, clock, known)


def test_the_untampered_snapshots_restore() -> None:
    for index in range(len(DESKS)):
        text, now, strategy = base(index)
        clock = ManualClock(now)
        d = Dispatcher.restore(
            json.loads(text), clock=clock, policy=Policy.default(max_wait=600), selection=STRATEGIES[strategy]()
        )
        d._check()
        exercise(d, clock, [])


def _hold_without_end(d: dict[str, Any]) -> None:
    d["queue"]["tickets"][0].update(holder="a4", hold_until=None)


def _hold_for_a_stranger(d: dict[str, Any]) -> None:
    record = d["queue"]["tickets"][0]
    record.update(holder="ghost", hold_until=record["next"])


def _audit_ahead(d: dict[str, Any]) -> None:
    d["audit"]["seq"] += 1


def _assigned_without_time(d: dict[str, Any]) -> None:
    d["offers"]["tracks"][0].update(offer=None, assigned_at=None)


def _everyone_available(d: dict[str, Any]) -> None:
    for agent in d["roster"]["agents"]:
        agent["agent"]["status"] = "available"


def _sla_moved(d: dict[str, Any]) -> None:
    d["sla"]["entries"][-1][0] += 1


TAMPERINGS: list[tuple[Any, str]] = [
    (_hold_without_end, "snapshot.queue.tickets[0].hold_until"),
    (_hold_for_a_stranger, "snapshot.queue"),
    (lambda d: d["sla"]["sent"].append(["ghost", 1, 5.0]), "snapshot.sla.sent[0]"),
    (_sla_moved, "snapshot.sla.entries"),
    (lambda d: d["offers"]["passed"].append(["ghost", "a4", 1.0]), "snapshot.offers.passed"),
    (_audit_ahead, "snapshot.audit.seq"),
    (_assigned_without_time, "snapshot.offers"),
    (_everyone_available, "snapshot.queue"),
]


@pytest.mark.parametrize(("tamper_with", "where"), TAMPERINGS)
def test_a_consistently_tampered_snapshot_is_refused_naming_the_place(tamper_with: Any, where: str) -> None:
    text, now, strategy = base(1)
    data = json.loads(text)
    tamper_with(data)
    with pytest.raises(InvalidArgument) as caught:
        Dispatcher.restore(data, clock=ManualClock(now), policy=Policy.default(max_wait=600), selection=STRATEGIES[strategy]())
    assert caught.value.field.endswith(where)
