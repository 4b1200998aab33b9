"""Scenario "dispatch": the steady-state dispatch cycle, and assign_all at a shift start.

1. Dispatch cycle (per point: G skill groups, A agents, n waiting tickets).
   Tickets need one group at level 1..3 (a realistic severity, tier and
   complexity mix, no channel, no customer id); agents hold 1..3 groups at
   level 2..5 with capacity 1..3.  The backlog is pushed into the queue
   before the dispatcher and its agents exist, then every agent fills its
   capacity and accepts, topped up so that exactly n tickets wait.  The timed
   cycle, planned up front (which agent, which new ticket): the agent
   completes one of its tickets (the dispatcher offers it the best waiting
   ticket it qualifies for), takes the offer with ``next_for`` and accepts it,
   and a new ticket for one of its groups is submitted, so the backlog stays
   at n.  Four dispatcher calls per cycle.

   Anchors, measured in the same run from the same state: the bare
   TicketQueue doing the cycle's queue work (``pop(skills)`` then ``push``),
   and what a team would write by hand: a ``pqdict`` keyed by the same
   policy sort key behind one lock, serving an agent by popping tickets in
   priority order until one it qualifies for comes up and pushing the
   skipped ones back.  That scan can be very slow, so it runs within a time
   budget and is reported per cycle.

2. assign_all at a shift start: A agents (16 groups, capacity 1..3, about a
   third per channel) all AWAY, a backlog on four channels waiting (phone
   tickets scarce, and two more groups dealt to agents that no ticket needs,
   so some capacity must stay free); the timed part is leaving
   ``with d.paused():`` after setting every agent available, i.e. the batch
   assignment.  The result is checked to be maximal lane by lane (no free
   agent left with a waiting ticket it qualifies for and has room for)
   without the O(n*A) full check.

Profile one point: ``python -m triage_queue.bench.dispatch_suite --groups 256 --agents 5000``.

>>> from triage_queue._progress import Progress
>>> tiny = {"waiting": 200, "points": [[2, 3]], "cycles": 40, "repeat": 1, "anchor_budget": 0.05, "shift": [10, 2, 100]}
>>> result = run(tiny, Progress(enabled=False))
>>> result["points"]["2x3"]["misses"], result["assign_all"]["maximal"]
(0, True)
>>> markdown(result)[0]
'### Dispatcher cycle at 200 waiting tickets, us (lower is better)'
"""

from __future__ import annotations

import gc
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from triage_queue import Agent, AgentStatus, Dispatcher, ManualClock, Policy, Severity, SkillSet, Ticket, TicketQueue
from triage_queue._progress import Progress
from triage_queue.bench.anchors import first_fit
from triage_queue.bench.suite import pyplot

__all__ = [
    "NAME",
    "TITLE",
    "free_lane_violations",
    "make_agents",
    "make_backlog",
    "make_cycles",
    "markdown",
    "params",
    "plots",
    "run",
]

NAME = "dispatch"
TITLE = "Dispatcher: the steady-state cycle over 1..256 skill groups and 10..5,000 agents; assign_all at a shift start"

NOW = 1_000_000.0
# Channels of the shift backlog and their shares: phone tickets are scarce,
# so phone capacity competes for them.
CHANNELS = (None, "chat", "email", "phone")
CHANNEL_WEIGHTS = (0.45, 0.30, 0.245, 0.005)


def _group(g: int) -> str:
    return f"group{g}"


def _ticket(rnd: random.Random, ticket_id: str, requirement: SkillSet, channel: str | None = None) -> Ticket:
    severity = Severity.CRITICAL if rnd.random() < 0.02 else rnd.choice((Severity.LOW, Severity.NORMAL, Severity.HIGH))
    tier = "gold" if rnd.random() < 0.05 else "silver" if rnd.random() < 0.05 else None
    return Ticket(
        ticket_id,
        NOW - rnd.random() * 3600,
        severity=severity,
        customer_tier=tier,
        complexity=rnd.randint(1, 5),
        skills=requirement,
        channel=channel,
    )


def params(quick: bool) -> dict[str, Any]:
    """The points this scenario runs at: (groups, agents) for the cycle,
    (agents, groups, backlog) for the shift start.  O(1).

    >>> len(params(quick=False)["points"])
    20
    """
    if quick:
        return {
            "waiting": 3_000,
            "points": [[4, 10], [16, 100]],
            "cycles": 1_200,
            "repeat": 3,
            "anchor_budget": 0.1,
            "shift": [100, 16, 3_000],
        }
    return {
        "waiting": 100_000,
        "points": [[groups, agents] for groups in (1, 4, 16, 64, 256) for agents in (10, 100, 1_000, 5_000)],
        "cycles": 12_000,
        "repeat": 3,
        "anchor_budget": 1.5,
        "shift": [1_000, 16, 50_000],
    }


def make_backlog(count: int, groups: int, *, seed: int = 11, prefix: str = "T", channels: bool = False) -> list[Ticket]:
    """``count`` tickets, each needing one of ``groups`` groups at level 1..3.  O(count).

    >>> [(t.id, dict(t.skills)) for t in make_backlog(1, 1)]
    [('T0', {'group0': 2})]
    """
    rnd = random.Random(seed)
    requirements = [SkillSet({_group(g): level}) for g in range(groups) for level in (1, 2, 3)]
    return [
        _ticket(rnd, f"{prefix}{i}", rnd.choice(requirements), rnd.choices(CHANNELS, CHANNEL_WEIGHTS)[0] if channels else None)
        for i in range(count)
    ]


def make_agents(
    count: int,
    groups: int,
    *,
    seed: int = 5,
    channels: bool = False,
    status: AgentStatus = AgentStatus.AVAILABLE,
    idle_groups: int = 0,
) -> list[Agent]:
    """Agents holding 1..3 of the groups at level 2..5, capacity 1..3; with
    ``channels``, about a third have per-channel capacity.  ``idle_groups``
    more groups, which no ticket needs, are dealt out too.  O(count).

    >>> [a.id for a in make_agents(3, 4)]
    ['A0', 'A1', 'A2']
    """
    rnd = random.Random(seed)
    agents = []
    for i in range(count):
        held = rnd.sample(range(groups + idle_groups), min(groups + idle_groups, rnd.randint(1, 3)))
        capacity: int | dict[str, int] = rnd.randint(1, 3)
        if channels and rnd.random() < 1 / 3:
            capacity = rnd.choice(
                ({"chat": rnd.randint(1, 3), "email": 1}, {"phone": 1, "*": rnd.randint(1, 2)}, {"email": rnd.randint(1, 3)})
            )
        agents.append(Agent(f"A{i}", skills={_group(g): rnd.randint(2, 5) for g in held}, capacity=capacity, status=status))
    return agents


def make_cycles(agents: list[Agent], cycles: int, prefix: str, seed: int = 3) -> list[tuple[str, Ticket]]:
    """The cycle plan: (agent id, new ticket).  The new ticket needs one of
    that agent's groups at a level it has, so the backlog it can serve does
    not drain.  The same seed gives the same plan under another id prefix.
    O(cycles).

    >>> [(agent_id, t.id) for agent_id, t in make_cycles(make_agents(2, 2), 2, "N")]
    [('A0', 'N0'), ('A1', 'N1')]
    """
    rnd = random.Random(seed)
    plan = []
    for i in range(cycles):
        agent = agents[rnd.randrange(len(agents))]
        name = rnd.choice(list(agent.skills))
        level = rnd.randint(1, min(3, agent.skills[name]))
        plan.append((agent.id, _ticket(rnd, f"{prefix}{i}", SkillSet({name: level}))))
    return plan


# -- the cycle on the Dispatcher -------------------------------------------------


def _build_dispatcher(waiting: int, groups: int, agents: list[Agent]) -> tuple[Dispatcher, dict[str, deque[str]], float]:
    """A dispatcher with ``waiting`` tickets waiting and every agent busy to
    capacity (offers accepted); return it, the tickets each agent holds, and
    the mean seconds of routing a ticket of a requirement never seen before
    (each requirement is routed once here, as in a service that has run a
    while, so the timed cycles do not pay for that warm-up)."""
    capacity = sum(sum(a.capacity.values()) for a in agents)
    clock = ManualClock(NOW)
    queue = TicketQueue(Policy.default(), clock=clock)
    for ticket in make_backlog(waiting + capacity, groups):
        queue.push(ticket)
    d = Dispatcher(queue, [], offer_timeout=None, affinity_wait=0)
    held: dict[str, deque[str]] = {}
    for agent in agents:
        d.add_agent(agent)  # fills its capacity at once, best tickets first
        mine = held[agent.id] = deque()
        offer = d.next_for(agent.id)
        while offer is not None:
            mine.append(d.accept(offer).id)
            offer = d.next_for(agent.id)
    # Some capacity may have found nothing to take: top up to exactly n.
    for ticket in make_backlog(max(0, waiting - len(queue)), groups, seed=12, prefix="X"):
        d.submit(ticket)
    requirements = [SkillSet({_group(g): level}) for g in range(groups) for level in (1, 2, 3)]
    start = time.perf_counter()
    for i, requirement in enumerate(requirements):
        d.submit(Ticket(f"W{i}", NOW, skills=requirement))
        d.cancel(f"W{i}")
    warm = (time.perf_counter() - start) / len(requirements)
    return d, held, warm


def _dispatch_cycles(d: Dispatcher, plan: list[tuple[str, Ticket]], held: dict[str, deque[str]]) -> tuple[float, int]:
    """Run the plan on ``d``; return the seconds it took and how many times
    an agent found nothing to take."""
    complete, next_for, accept, submit = d.complete, d.next_for, d.accept, d.submit
    misses = 0
    start = time.perf_counter()
    for agent_id, ticket in plan:
        mine = held[agent_id]
        if mine:
            complete(mine.popleft(), agent_id)
        offer = next_for(agent_id)
        if offer is None:
            misses += 1
        else:
            mine.append(accept(offer).id)
        submit(ticket)
    return time.perf_counter() - start, misses


def _dispatch_breakdown(d: Dispatcher, plan: list[tuple[str, Ticket]], held: dict[str, deque[str]]) -> dict[str, float]:
    """The same cycle with each call timed: microseconds per call."""
    complete, next_for, accept, submit = d.complete, d.next_for, d.accept, d.submit
    clock = time.perf_counter
    spent = [0.0, 0.0, 0.0, 0.0]
    for agent_id, ticket in plan:
        mine = held[agent_id]
        t0 = clock()
        if mine:
            complete(mine.popleft(), agent_id)
        t1 = clock()
        offer = next_for(agent_id)
        t2 = clock()
        if offer is not None:
            mine.append(accept(offer).id)
        t3 = clock()
        submit(ticket)
        t4 = clock()
        spent[0] += t1 - t0
        spent[1] += t2 - t1
        spent[2] += t3 - t2
        spent[3] += t4 - t3
    names = ("complete (offers the next ticket)", "next_for", "accept", "submit")
    return {name: s / len(plan) * 1e6 for name, s in zip(names, spent, strict=True)}


# -- the anchors -------------------------------------------------------------------


def _queue_cycles(queue: TicketQueue, plan: list[tuple[str, Ticket]], skills: dict[str, SkillSet]) -> float:
    """The cycle's queue work alone: ``pop(skills)`` and ``push``."""
    pop, push = queue.pop, queue.push
    start = time.perf_counter()
    for agent_id, ticket in plan:
        try:  # noqa: SIM105 - no context manager in the timed loop
            pop(skills[agent_id])
        except LookupError:
            pass
        push(ticket)
    return time.perf_counter() - start


class _LockedPqdict:
    """The hand-written team solution: one ``pqdict`` of ticket id -> policy
    sort key (plus arrival number), one lock, and to serve an agent a scan in
    priority order (pop until a ticket the agent qualifies for comes up, then
    push the skipped ones back)."""

    def __init__(
        self, policy: Policy, clock: Callable[[], float], waiting: list[Ticket], agents: list[Agent], held: dict[str, deque[str]]
    ) -> None:
        from pqdict import pqdict

        now = clock()
        key = policy.sort_key
        self._key = key
        self._clock = clock
        self._pq: Any = pqdict({t.id: key(t, now) + (i,) for i, t in enumerate(waiting)})
        self._tickets = {t.id: t for t in waiting}
        self._seq = len(waiting)
        self._skills = {a.id: dict(a.skills) for a in agents}  # plain dicts: the fastest lookups
        self._held = {agent_id: deque(ids) for agent_id, ids in held.items()}
        self._offers: dict[str, Ticket] = {}
        self._lock = threading.Lock()
        self.scanned = 0

    def __len__(self) -> int:
        return len(self._pq)

    def complete(self, agent_id: str) -> None:
        """The agent finishes its oldest ticket and is offered the best one it qualifies for."""
        with self._lock:
            mine = self._held[agent_id]
            if mine:
                mine.popleft()
            found, looked_at = first_fit(self._pq, self._tickets, self._skills[agent_id])
            self.scanned += looked_at
            if found is not None:
                del self._tickets[found.id]
                self._offers[agent_id] = found

    def accept(self, agent_id: str) -> Ticket | None:
        with self._lock:
            ticket = self._offers.pop(agent_id, None)
            if ticket is not None:
                self._held[agent_id].append(ticket.id)
            return ticket

    def submit(self, ticket: Ticket) -> None:
        with self._lock:
            self._pq.additem(ticket.id, self._key(ticket, self._clock()) + (self._seq,))
            self._tickets[ticket.id] = ticket
            self._seq += 1


def _pqdict_cycles(team: _LockedPqdict, plan: list[tuple[str, Ticket]], budget: float) -> tuple[float, int]:
    """Run the plan on the team solution until it ends or ``budget`` seconds
    pass; return the seconds and the cycles done."""
    complete, accept, submit = team.complete, team.accept, team.submit
    clock = time.perf_counter
    start = clock()
    deadline = start + budget
    done = 0
    for agent_id, ticket in plan:
        complete(agent_id)
        accept(agent_id)
        submit(ticket)
        done += 1
        if clock() > deadline:
            break
    return clock() - start, done


# -- one point ------------------------------------------------------------------------


def _have_pqdict() -> bool:
    try:
        import pqdict  # noqa: F401
    except ImportError:  # pragma: no cover - optional anchor
        return False
    return True


def _chunks(plan: list[Any], parts: int) -> list[list[Any]]:
    size = max(1, len(plan) // parts)
    return [plan[i * size : (i + 1) * size] for i in range(parts)]


def _measure_point(
    waiting: int, groups: int, agent_count: int, *, cycles: int, repeat: int, anchor_budget: float
) -> dict[str, Any]:
    """Every figure of one (groups, agents) point; see the module docstring."""
    agents = make_agents(agent_count, groups)
    skills = {a.id: a.skills for a in agents}
    d, held, warm = _build_dispatcher(waiting, groups, agents)
    queue = d.queue
    # Best of ``repeat`` chunks, then one chunk with every call timed.
    plan = make_cycles(agents, cycles, "N")
    timed, instrumented = plan[: cycles * repeat // (repeat + 1)], plan[cycles * repeat // (repeat + 1) :]
    best = float("inf")
    misses = 0
    gc.collect()
    gc.disable()
    try:
        for chunk in _chunks(timed, repeat):
            elapsed, missed = _dispatch_cycles(d, chunk, held)
            best = min(best, elapsed / len(chunk))
            misses += missed
        breakdown = _dispatch_breakdown(d, instrumented, held)
    finally:
        gc.enable()
    row: dict[str, Any] = {
        "groups": groups,
        "agents": agent_count,
        "waiting": len(queue),
        "agent_profiles": len({(a.skills, tuple(sorted(a.capacity.items()))) for a in agents}),
        "agent_skill_sets": len({a.skills for a in agents}),
        "first_route_of_a_requirement_us": warm * 1e6,
        "cycles": len(timed),
        "dispatcher_us_per_cycle": best * 1e6,
        "dispatcher_us_per_call": best * 1e6 / 4,
        "dispatcher_breakdown_us": breakdown,
        "misses": misses,
    }
    # The anchors start from the state the dispatcher left, with fresh plans.
    snapshot = list(queue)
    held_now = {agent_id: deque(ids) for agent_id, ids in held.items()}
    del d
    queue_plan = make_cycles(agents, cycles, "Q")
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        # The dispatcher is dropped: its queue serves as a bare TicketQueue.
        for chunk in _chunks(queue_plan, repeat):
            best = min(best, _queue_cycles(queue, chunk, skills) / len(chunk))
    finally:
        gc.enable()
    row["queue_us_per_cycle"] = best * 1e6
    row["ratio_vs_queue"] = row["dispatcher_us_per_cycle"] / row["queue_us_per_cycle"]
    del queue
    row.update(dict.fromkeys(("pqdict_us_per_cycle", "pqdict_cycles", "pqdict_scanned_per_cycle", "speedup_vs_pqdict")))
    if not _have_pqdict():  # pragma: no cover - optional anchor (the bench extra)
        return row
    team = _LockedPqdict(Policy.default(), ManualClock(NOW), snapshot, agents, held_now)
    del snapshot
    team_plan = make_cycles(agents, cycles, "P")
    best = float("inf")
    done = 0
    gc.collect()
    gc.disable()
    try:
        for chunk in _chunks(team_plan, repeat):
            elapsed, count = _pqdict_cycles(team, chunk, anchor_budget / repeat)
            best = min(best, elapsed / count)
            done += count
    finally:
        gc.enable()
    row["pqdict_us_per_cycle"] = best * 1e6
    row["pqdict_cycles"] = done
    row["pqdict_scanned_per_cycle"] = team.scanned / done
    row["speedup_vs_pqdict"] = row["pqdict_us_per_cycle"] / row["dispatcher_us_per_cycle"]
    return row


# -- assign_all at a shift start ----------------------------------------------------


def free_lane_violations(d: Dispatcher) -> list[tuple[str, SkillSet, str | None]]:
    """(agent id, requirement, channel) for every available agent with room
    for a waiting ticket it qualifies for, one entry per lane.  Assumes no
    holds and no declines (true in this benchmark).  O(n + A*L) for L lanes
    (requirement and channel) among the waiting tickets, instead of the
    O(n*A) of Dispatcher._check_work_conserving.

    >>> from triage_queue import Agent, Dispatcher, ManualClock, Ticket, TicketQueue
    >>> d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), offer_timeout=None, affinity_wait=0)
    >>> with d.paused():
    ...     d.add_agent(Agent("ana", skills={"g": 3}))
    ...     d.submit(Ticket("T-1", 0.0, skills={"g": 2}))
    ...     free_lane_violations(d)
    [('ana', SkillSet({'g': 2}), None)]
    >>> free_lane_violations(d)
    []
    """
    lanes = {(t.skills, t.channel) for t in d.queue}
    roster = d.roster
    found = []
    for agent in roster:
        if agent.status is not AgentStatus.AVAILABLE:
            continue
        state = roster.state(agent.id)
        for requirement, channel in lanes:
            if state.has_room(channel) and requirement.satisfied_by(agent.skills):
                found.append((agent.id, requirement, channel))
    return found


def _measure_assign_all(agent_count: int, groups: int, backlog: int) -> dict[str, Any]:
    """Time the batch assignment of a backlog when a whole shift logs in."""
    agents = make_agents(agent_count, groups, channels=True, status=AgentStatus.AWAY, idle_groups=2)
    queue = TicketQueue(Policy.default(), clock=ManualClock(NOW))
    for ticket in make_backlog(backlog, groups, channels=True):
        queue.push(ticket)
    d = Dispatcher(queue, agents, offer_timeout=None, affinity_wait=0)
    capacity = sum(sum(a.capacity.values()) for a in agents)
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        with d.paused():
            for agent in agents:
                d.set_status(agent.id, AgentStatus.AVAILABLE)
            inside = time.perf_counter()
        end = time.perf_counter()
    finally:
        gc.enable()
    offered = backlog - len(queue)
    start_check = time.perf_counter()
    violations = free_lane_violations(d)
    check_seconds = time.perf_counter() - start_check
    room_left = sum(max(0, limit - d.roster.state(a.id).load.get(slot, 0)) for a in agents for slot, limit in a.capacity.items())
    return {
        "agents": agent_count,
        "groups": groups,
        "backlog": backlog,
        "capacity": capacity,
        "offered": offered,
        "room_left": room_left,
        "assign_all_seconds": end - inside,
        "set_status_seconds": inside - start,
        "maximal": not violations,
        "violations": len(violations),
        "check_seconds": check_seconds,
    }


# -- the suite ----------------------------------------------------------------------------


def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Every (groups, agents) point of ``params["points"]``, then assign_all
    at the shift start ``params["shift"]`` = (agents, groups, backlog).
    O(points * (waiting log waiting + cycles * repeat)).  (Example: the module docstring.)
    """
    waiting, cycles, repeat, budget = params["waiting"], params["cycles"], params["repeat"], params["anchor_budget"]
    result: dict[str, Any] = {
        "params": params,
        "workload": (
            "steady state at a constant backlog: an agent completes a ticket and is offered the best one it qualifies for,"
            " accepts it (next_for + accept), a new ticket is submitted; default policy, LongestIdle, no offer timeout,"
            " no affinity; tickets need 1 group at level 1..3, agents hold 1..3 groups at level 2..5, capacity 1..3"
        ),
        "waiting": waiting,
        "cycles": cycles,
        "anchor_budget_seconds": budget,
        "pqdict_installed": _have_pqdict(),
        "points": {},
    }
    if not result["pqdict_installed"]:
        progress.note("  pqdict: not installed (pip install '.[bench]'), the pqdict+lock anchor is left out")
    with progress.task(f"dispatch cycle at {waiting:,} waiting", total=len(params["points"])) as task:
        for groups, agent_count in params["points"]:
            row = _measure_point(waiting, groups, agent_count, cycles=cycles, repeat=repeat, anchor_budget=budget)
            result["points"][f"{groups}x{agent_count}"] = row
            task.advance()
    agent_count, groups, backlog = params["shift"]
    with progress.task(f"assign_all: {agent_count:,} agents, {backlog:,} waiting", total=None):
        result["assign_all"] = _measure_assign_all(agent_count, groups, backlog)
    return result


def markdown(result: dict[str, Any]) -> list[str]:
    """The report's tables, as markdown lines.  O(points).  (Example: the module docstring.)"""
    lines = [
        f"### Dispatcher cycle at {result['waiting']:,} waiting tickets, us (lower is better)",
        "",
        "Cycle = complete + next_for + accept + submit.  pqdict+lock: hand-written scan in priority order"
        " (see `triage_queue/bench/dispatch_suite.py`).",
        "",
        "| groups | agents | profiles | dispatcher us/cycle | us/call | queue pop+push | vs queue"
        " | pqdict+lock us/cycle (cycles, scanned/cycle) | speed-up vs pqdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["points"].values():
        anchor, speedup = "not installed", "n/a"
        if row["pqdict_cycles"]:
            anchor = f"{row['pqdict_us_per_cycle']:,.1f} ({row['pqdict_cycles']:,}, {row['pqdict_scanned_per_cycle']:,.0f})"
            speedup = f"{row['speedup_vs_pqdict']:,.2f}x"
        lines.append(
            f"| {row['groups']} | {row['agents']:,} | {row['agent_profiles']:,} | {row['dispatcher_us_per_cycle']:.1f}"
            f" | {row['dispatcher_us_per_call']:.1f} | {row['queue_us_per_cycle']:.1f} | {row['ratio_vs_queue']:.1f}x"
            f" | {anchor} | {speedup} |"
        )
    names = list(next(iter(result["points"].values()))["dispatcher_breakdown_us"])
    lines += [
        "",
        "Per call, us:",
        "",
        "| groups | agents | " + " | ".join(names) + " |",
        "|---" * (len(names) + 2) + "|",
    ]
    for row in result["points"].values():
        cells = " | ".join(f"{v:.1f}" for v in row["dispatcher_breakdown_us"].values())
        lines.append(f"| {row['groups']} | {row['agents']:,} | {cells} |")
    shift = result["assign_all"]
    lines += [
        "",
        f"### assign_all at a shift start: {shift['agents']:,} agents, {shift['groups']} groups, {shift['backlog']:,} waiting",
        "",
        f"- assign_all (leaving `paused()`): {shift['assign_all_seconds']:.3f} s;"
        f" setting every agent available inside: {shift['set_status_seconds']:.3f} s",
        f"- offered {shift['offered']:,} tickets to {shift['capacity']:,} capacity ({shift['room_left']:,} room left)",
        f"- maximal (no free agent with a waiting ticket it qualifies for): {shift['maximal']}"
        f" ({shift['violations']} violations; check {shift['check_seconds']:.3f} s)",
    ]
    return lines


def plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """``dispatch_cycle.png``: us per cycle against the number of agents, one
    colour per number of skill groups; solid the Dispatcher, dashed the
    pqdict+lock anchor.  O(points).

    >>> plots({"points": {}}, Path("unused"))
    []
    """
    plt = pyplot() if result["points"] else None
    if plt is None:
        return []
    by_groups: dict[int, list[dict[str, Any]]] = {}
    for row in result["points"].values():
        by_groups.setdefault(row["groups"], []).append(row)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, (groups, rows) in enumerate(sorted(by_groups.items())):
        rows.sort(key=lambda row: row["agents"])
        colour = f"C{index}"
        agents = [row["agents"] for row in rows]
        axes.plot(
            agents,
            [row["dispatcher_us_per_cycle"] for row in rows],
            marker="o",
            color=colour,
            label=f"Dispatcher, {groups} groups",
        )
        anchored = [row for row in rows if row["pqdict_us_per_cycle"] is not None]
        if anchored:
            axes.plot(
                [row["agents"] for row in anchored],
                [row["pqdict_us_per_cycle"] for row in anchored],
                marker="x",
                linestyle="--",
                color=colour,
                label=f"pqdict+lock, {groups} groups",
            )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("agents")
    axes.set_ylabel("microseconds per cycle (4 calls)")
    axes.set_title(f"Dispatch cycle at {result['waiting']:,} waiting tickets")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="x-small", ncol=2)
    figure.tight_layout()
    path = out_dir / "dispatch_cycle.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return [path]


def _main() -> None:
    import argparse
    import cProfile
    import pstats

    parser = argparse.ArgumentParser(description="Profile one dispatch-cycle point.")
    parser.add_argument("--groups", type=int, default=256)
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    agents = make_agents(args.agents, args.groups)
    d, held, _ = _build_dispatcher(args.waiting, args.groups, agents)
    plan = make_cycles(agents, args.cycles, "N")
    profiler = cProfile.Profile()
    profiler.enable()
    _dispatch_cycles(d, plan, held)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    _main()
