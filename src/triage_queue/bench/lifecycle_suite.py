"""Scenario "lifecycle": what one ticket's life costs in the Dispatcher, against a minimal desk.

Issue 10 section 5 ("a lean hot path"): a ticket's lifecycle (submit,
next_for, accept, complete) should cost at most 2x a minimal hand-written
desk with the same core semantics at default settings, and at most 1.3x
with statistics and the audit trail switched off; restoring 10^5 waiting
tickets with 1,000 agents should take at most 2 s.

Contenders, built from the same agents and fed the very same Ticket objects:

- ``minimal``: :class:`~triage_queue.bench.minimal_desk.MinimalDesk`, the
  honest reference (skill lanes, the default policy key, longest-idle
  agents, offers with a 30 s expiry, one RLock; no statistics, audit or
  affinity), written to be fast;
- ``dispatcher_default``: ``Dispatcher(agents=...)`` with default settings
  (default policy, LongestIdle, 30 s offers, audit of 10,000 events,
  statistics);
- ``dispatcher_lean``: the same with ``audit=0``, no listener, and
  ``stats=False`` if the Dispatcher accepts such an option when this runs
  (checked with :func:`inspect.signature`; reported otherwise).

Workload: 16 skill groups; a ticket needs one group at level 1 (16 lanes), a
realistic mix of severity (2% critical), tier (~10% VIP) and complexity;
64 agents of 4 skill profiles, each holding all 16 groups (so an agent pulls
from all 16 lanes), capacity 1; the clock is :func:`time.time`, as by
default.  At each waiting-queue size n:

- n = 0: every submit finds a free agent.  One lifecycle: ``offer =
  submit(t)``, ``next_for(offer.agent_id)``, ``accept(offer.id)``,
  ``complete(t.id)``.
- n > 0: every agent holds an accepted ticket and n tickets wait.  One
  lifecycle (the backlog stays at n): ``submit(t)`` (it waits), the agent
  busy longest completes its ticket (and at once pulls the best waiting
  ticket it qualifies for), ``next_for(agent)``, ``accept(offer.id)``.

Timing: ``rounds`` rounds of ``cycles`` lifecycles, each round on fresh
tickets run by every contender in turn, the order rotating each round so
none always goes first; best round per contender, garbage collector paused
while timing.  Then ``profile_cycles`` more lifecycles per contender under
cProfile: function calls per lifecycle (the driver loop's own calls left
out), and for the Dispatcher the functions that take the most time.

Restore: if ``Dispatcher.snapshot`` and ``Dispatcher.restore`` exist, the
best of ``restore_repeat`` restores of a desk with ``restore`` = (waiting,
agents) (garbage collector on, as in a service); otherwise "not available
yet".

>>> from triage_queue._progress import Progress
>>> tiny = {**params(quick=True), "waiting": [0, 50], "cycles": 50, "rounds": 1, "profile_cycles": 20, "restore": [50, 4]}
>>> result = run(tiny, Progress(enabled=False))
>>> sorted(result["sizes"]), result["sizes"]["0"]["ratios"]["default_vs_minimal"] > 0
(['0', '50'], True)
>>> print(markdown(result)[0])
### A ticket's lifecycle (submit, next_for, accept, complete), us per ticket (lower is better)
"""

from __future__ import annotations

import cProfile
import gc
import inspect
import json
import pstats
import random
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from triage_queue import Agent, Dispatcher, Severity, SkillSet, Ticket
from triage_queue._progress import Progress
from triage_queue.bench.minimal_desk import MinimalDesk

__all__ = [
    "CONTENDERS",
    "NAME",
    "TARGET_DEFAULT",
    "TARGET_LEAN",
    "TARGET_RESTORE_SECONDS",
    "TITLE",
    "lean_options",
    "make_agents",
    "make_tickets",
    "markdown",
    "params",
    "plots",
    "run",
]

NAME = "lifecycle"
TITLE = "A ticket's lifecycle in the Dispatcher against a minimal hand-written desk; restore of a snapshot"

CONTENDERS = ("minimal", "dispatcher_default", "dispatcher_lean")
TARGET_DEFAULT = 2.0  # Dispatcher at default settings, per lifecycle, over MinimalDesk
TARGET_LEAN = 1.3  # with statistics and the audit trail off
TARGET_RESTORE_SECONDS = 2.0  # 10^5 waiting, 1,000 agents
TARGET_RESTORE_SIZE = (100_000, 1_000)
GROUPS = 16
PROFILES = 4

Desk = Any  # a MinimalDesk or a Dispatcher: the same four methods
Busy = deque[tuple[str, str]]  # (agent id, the ticket it holds), busy longest first


def params(quick: bool) -> dict[str, Any]:
    """The sizes this scenario runs at.  O(1).

    >>> params(quick=True)["waiting"], params(quick=False)["waiting"]
    ([0, 1000], [0, 1000, 100000])
    """
    common = {"agents": 64, "groups": GROUPS, "profiles": PROFILES}
    if quick:
        return {
            **common,
            "waiting": [0, 1_000],
            "cycles": 2_000,
            "rounds": 3,
            "profile_cycles": 1_000,
            "restore": [10_000, 100],
            "restore_repeat": 1,
        }
    return {
        **common,
        "waiting": [0, 1_000, 100_000],
        "cycles": 20_000,
        "rounds": 7,
        "profile_cycles": 5_000,
        "restore": list(TARGET_RESTORE_SIZE),
        "restore_repeat": 3,
    }


def lean_options() -> tuple[dict[str, Any], str | None]:
    """The Dispatcher options that switch the audit trail (and, when the
    Dispatcher has such an option, statistics) off; and the name of the
    statistics option, or None if there is none yet.  O(1).

    >>> options, stats_option = lean_options()
    >>> options["audit"]
    0
    """
    accepted = inspect.signature(Dispatcher).parameters
    options: dict[str, Any] = {"audit": 0}
    for name in ("stats", "statistics"):
        if name in accepted:
            options[name] = False
            return options, name
    return options, None


def make_agents(count: int, groups: int = GROUPS, profiles: int = PROFILES, seed: int = 5) -> list[Agent]:
    """``count`` agents of ``profiles`` skill profiles, each holding every
    group at level 1..3, capacity 1.  O(count * groups).

    >>> [(a.id, len(a.skills)) for a in make_agents(2, groups=3)]
    [('A0', 3), ('A1', 3)]
    """
    rnd = random.Random(seed)
    skills = [{f"group{g}": rnd.randint(1, 3) for g in range(groups)} for _ in range(profiles)]
    return [Agent(f"A{i}", skills=skills[i % profiles], capacity=1) for i in range(count)]


def make_tickets(count: int, prefix: str, now: float, groups: int = GROUPS, seed: int = 11) -> list[Ticket]:
    """``count`` tickets, each needing one group at level 1, created in the
    hour before ``now``.  O(count).

    >>> [(t.id, dict(t.skills)) for t in make_tickets(1, "T", 0.0, groups=1)]
    [('T0', {'group0': 1})]
    """
    rnd = random.Random(f"{seed}/{prefix}")
    requirements = [SkillSet({f"group{g}": 1}) for g in range(groups)]
    tickets = []
    for i in range(count):
        severity = Severity.CRITICAL if rnd.random() < 0.02 else rnd.choice((Severity.LOW, Severity.NORMAL, Severity.HIGH))
        tier = "gold" if rnd.random() < 0.05 else "silver" if rnd.random() < 0.05 else None
        tickets.append(
            Ticket(
                f"{prefix}{i}",
                now - rnd.random() * 3600,
                severity=severity,
                customer_tier=tier,
                complexity=rnd.randint(1, 5),
                skills=rnd.choice(requirements),
            )
        )
    return tickets


# -- the timed loops (the same statements for every contender) ---------------------------


def _free_cycles(desk: Desk, tickets: list[Ticket], busy: Busy) -> float:
    """Nothing waits: each ticket goes to a free agent, is picked up, accepted, completed."""
    submit, next_for, accept, complete = desk.submit, desk.next_for, desk.accept, desk.complete
    start = time.perf_counter()
    for ticket in tickets:
        offer = submit(ticket)
        offer = next_for(offer.agent_id)
        accept(offer.id)
        complete(ticket.id)
    return time.perf_counter() - start


def _pull_cycles(desk: Desk, tickets: list[Ticket], busy: Busy) -> float:
    """n wait: a ticket arrives and waits; the agent busy longest completes
    and pulls the best waiting ticket, picks it up and accepts it."""
    submit, next_for, accept, complete = desk.submit, desk.next_for, desk.accept, desk.complete
    popleft, append = busy.popleft, busy.append
    start = time.perf_counter()
    for ticket in tickets:
        submit(ticket)
        agent_id, ticket_id = popleft()
        complete(ticket_id)
        offer = next_for(agent_id)
        append((agent_id, accept(offer.id).id))
    return time.perf_counter() - start


def _build(kind: str, agents: list[Agent], backlog: list[Ticket], fill: list[Ticket]) -> tuple[Desk, Busy]:
    """A contender with every agent busy on an accepted ticket from ``fill``
    and ``backlog`` waiting (with no backlog: every agent free)."""
    desk: Desk
    if kind == "minimal":
        desk = MinimalDesk(agents)
    elif kind == "dispatcher_default":
        desk = Dispatcher(agents=agents)
    else:
        desk = Dispatcher(agents=agents, **lean_options()[0])
    busy: Busy = deque()
    if not backlog:
        return desk, busy
    for ticket in fill:
        offer = desk.submit(ticket)
        if offer is None:  # pragma: no cover - every agent qualifies for every lane
            raise AssertionError(f"{kind}: no free agent for {ticket.id}")
        picked = desk.next_for(offer.agent_id)
        busy.append((picked.agent_id, desk.accept(picked.id).id))
    for ticket in backlog:
        if desk.submit(ticket) is not None:  # pragma: no cover
            raise AssertionError(f"{kind}: {ticket.id} was offered while every agent is busy")
    return desk, busy


# -- counting calls ---------------------------------------------------------------------------


def _label(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    return name if filename == "~" else f"{Path(filename).name}:{line}({name})"


def _profile(
    loop: Callable[[Desk, list[Ticket], Busy], float], desk: Desk, busy: Busy, tickets: list[Ticket], top: int
) -> dict[str, Any]:
    """Function calls per lifecycle under cProfile, the driver loop's own
    calls (the loop itself, its deque and clock calls) left out; the ``top``
    functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    loop(desk, tickets, busy)
    profiler.disable()
    stats: dict[tuple[str, int, str], Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    driver = {func for func in stats if func[2] == loop.__name__ and func[0].endswith("lifecycle_suite.py")}
    counted = {}
    for func, (_, total, total_own, _, callers) in stats.items():
        if func in driver or "_lsprof.Profiler" in func[2]:
            continue
        # A builtin the driver called (deque.popleft, perf_counter) is not the desk's.
        from_driver = sum(callers[caller][1] for caller in driver if caller in callers) if func[0] == "~" else 0
        if total > from_driver:
            counted[func] = (total - from_driver, total_own * (total - from_driver) / total)
    count = len(tickets)
    own_total = sum(own for _, own in counted.values()) or 1.0
    ranked = sorted(counted.items(), key=lambda item: item[1][1], reverse=True)[:top]
    return {
        "all": sum(calls for calls, _ in counted.values()) / count,
        "python": sum(calls for func, (calls, _) in counted.items() if func[0] != "~") / count,
        "top": [
            {"function": _label(func), "calls_per_lifecycle": calls / count, "own_time_share": own / own_total}
            for func, (calls, own) in ranked
        ],
    }


# -- one size -----------------------------------------------------------------------------------


def _measure_size(waiting: int, agents: list[Agent], p: dict[str, Any], now: float, progress: Any) -> dict[str, Any]:
    groups = p["groups"]
    backlog = make_tickets(waiting, f"W{waiting}-", now, groups)
    fill = make_tickets(len(agents), f"F{waiting}-", now, groups) if waiting else []
    desks = {kind: _build(kind, agents, backlog, fill) for kind in CONTENDERS}
    del backlog, fill
    loop = _pull_cycles if waiting else _free_cycles
    best = dict.fromkeys(CONTENDERS, float("inf"))
    gc.collect()
    for round_number in range(p["rounds"]):
        tickets = make_tickets(p["cycles"], f"R{waiting}-{round_number}-", now, groups)
        shift = round_number % len(CONTENDERS)
        for kind in CONTENDERS[shift:] + CONTENDERS[:shift]:
            desk, busy = desks[kind]
            gc.disable()
            try:
                elapsed = loop(desk, tickets, busy)
            finally:
                gc.enable()
            best[kind] = min(best[kind], elapsed / len(tickets))
        progress.advance()
    for kind, (desk, _) in desks.items():
        left = desk.waiting if kind == "minimal" else len(desk.queue)
        if left != waiting:  # pragma: no cover - the backlog must stay constant
            raise AssertionError(f"{kind}: {left} waiting after the rounds, expected {waiting}")
    calls = {}
    profiled = make_tickets(p["profile_cycles"], f"P{waiting}-", now, groups)
    for kind in CONTENDERS:
        desk, busy = desks[kind]
        calls[kind] = _profile(loop, desk, busy, profiled, top=10 if kind == "dispatcher_default" else 5)
    us = {kind: seconds * 1e6 for kind, seconds in best.items()}
    return {
        "waiting": waiting,
        "us_per_lifecycle": us,
        "ratios": {
            "default_vs_minimal": us["dispatcher_default"] / us["minimal"],
            "lean_vs_minimal": us["dispatcher_lean"] / us["minimal"],
            "default_vs_lean": us["dispatcher_default"] / us["dispatcher_lean"],
        },
        "calls_per_lifecycle": calls,
    }


# -- restore -------------------------------------------------------------------------------------


def _measure_restore(waiting: int, agent_count: int, repeat: int, now: float) -> dict[str, Any]:
    """Best of ``repeat`` restores of a desk with ``waiting`` tickets waiting
    and ``agent_count`` agents, each busy on one; "not available yet" when
    the Dispatcher cannot snapshot and restore."""
    row: dict[str, Any] = {"waiting": waiting, "agents": agent_count, "target_seconds": TARGET_RESTORE_SECONDS}
    try:
        agents = make_agents(agent_count)
        backlog = make_tickets(waiting, "S", now)
        fill = make_tickets(agent_count, "SF", now)
        desk, _ = _build("dispatcher_default", agents, backlog, fill)
        del backlog, fill
        started = time.perf_counter()
        snapshot = desk.snapshot()
        snapshot_seconds = time.perf_counter() - started
        # Through JSON, as a desk saved to a file and read back would be.
        data = json.loads(json.dumps(snapshot))
        best = float("inf")
        restored: Any = None
        for _ in range(repeat):
            restored = None
            gc.collect()
            started = time.perf_counter()
            restored = Dispatcher.restore(data, clock=time.time, policy=desk.queue.policy)
            best = min(best, time.perf_counter() - started)
        restored_waiting = len(restored.queue)
    except Exception as exc:  # an API still being built must not fail the scenario
        return {**row, "status": "failed", "error": f"{type(exc).__name__}: {exc}", "seconds": None, "met": None}
    at_target_size = (waiting, agent_count) == TARGET_RESTORE_SIZE
    return {
        **row,
        "status": "measured",
        "seconds": best,
        "snapshot_seconds": snapshot_seconds,
        "restored_waiting": restored_waiting,
        "met": best <= TARGET_RESTORE_SECONDS if at_target_size else None,
    }


# -- the suite ---------------------------------------------------------------------------------------


def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Every waiting size of ``params["waiting"]``, then restore.  O(sizes *
    (n log n + rounds * cycles * contenders)).  (Example: the module docstring.)"""
    options, stats_option = lean_options()
    now = time.time()
    agents = make_agents(params["agents"], params["groups"], params["profiles"])
    result: dict[str, Any] = {
        "params": params,
        "workload": (
            f"{params['groups']} skill lanes (a ticket needs one group at level 1), {params['agents']} agents of"
            f" {params['profiles']} profiles holding every group, capacity 1; default policy key, longest idle first,"
            " 30 s offers, clock time.time"
        ),
        "lean_options": options,
        "stats_option": stats_option,
        "targets": {"default_vs_minimal": TARGET_DEFAULT, "lean_vs_minimal": TARGET_LEAN},
        "sizes": {},
    }
    sizes = params["waiting"]
    with progress.task("lifecycle rounds", total=len(sizes) * params["rounds"]) as task:
        for waiting in sizes:
            result["sizes"][str(waiting)] = _measure_size(waiting, agents, params, now, task)
    waiting, agent_count = params["restore"]
    with progress.task(f"restore: {waiting:,} waiting, {agent_count:,} agents", total=None):
        result["restore"] = _measure_restore(waiting, agent_count, params["restore_repeat"], now)
    return result


def _met(ratio: float, target: float) -> str:
    return f"{ratio:.2f}x {'yes' if ratio <= target else '**no**'}"


def markdown(result: dict[str, Any]) -> list[str]:
    """The report's tables, as markdown lines.  O(sizes).  (Example: the module docstring.)"""
    params = result["params"]
    options = ", ".join(f"{name}={value!r}" for name, value in result["lean_options"].items())
    stats_note = "" if result["stats_option"] else " (stats=False: not available yet, statistics stay on)"
    lines = [
        "### A ticket's lifecycle (submit, next_for, accept, complete), us per ticket (lower is better)",
        "",
        f"{result['workload']}.  Best of {params['rounds']} rounds of {params['cycles']:,} lifecycles, contenders"
        " alternating.  MinimalDesk: the honest hand-written reference (`triage_queue/bench/minimal_desk.py`).",
        f"Lean: `Dispatcher({options})`, no listener{stats_note}.",
        "",
        f"| waiting | MinimalDesk | Dispatcher default | Dispatcher lean | default / minimal (target {TARGET_DEFAULT:g}x)"
        f" | lean / minimal (target {TARGET_LEAN:g}x) |",
        "|---:|---:|---:|---:|---|---|",
    ]
    for row in result["sizes"].values():
        us, ratios = row["us_per_lifecycle"], row["ratios"]
        lines.append(
            f"| {row['waiting']:,} | {us['minimal']:.2f} | {us['dispatcher_default']:.2f} | {us['dispatcher_lean']:.2f}"
            f" | {_met(ratios['default_vs_minimal'], TARGET_DEFAULT)} | {_met(ratios['lean_vs_minimal'], TARGET_LEAN)} |"
        )
    lines += [
        "",
        "Function calls per lifecycle (cProfile; all calls / Python-level functions):",
        "",
        "| waiting | MinimalDesk | Dispatcher default | Dispatcher lean |",
        "|---:|---:|---:|---:|",
    ]
    for row in result["sizes"].values():
        cells = " | ".join(
            f"{row['calls_per_lifecycle'][kind]['all']:.1f} / {row['calls_per_lifecycle'][kind]['python']:.1f}"
            for kind in CONTENDERS
        )
        lines.append(f"| {row['waiting']:,} | {cells} |")
    for row in result["sizes"].values():
        lines += [
            "",
            f"Dispatcher default at {row['waiting']:,} waiting, functions by own time (cProfile):",
            "",
            "| function | calls per lifecycle | share of own time |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| `{entry['function']}` | {entry['calls_per_lifecycle']:.1f} | {entry['own_time_share']:.0%} |"
            for entry in row["calls_per_lifecycle"]["dispatcher_default"]["top"]
        ]
    restore = result["restore"]
    size = f"{restore['waiting']:,} waiting, {restore['agents']:,} agents"
    if restore["status"] == "measured":
        verdict = "n/a (not the target size)" if restore["met"] is None else ("yes" if restore["met"] else "**no**")
        text = (
            f"{restore['seconds']:.3f} s (best of {params['restore_repeat']}; snapshot {restore['snapshot_seconds']:.3f} s),"
            f" target {TARGET_RESTORE_SECONDS:g} s at 100,000 waiting and 1,000 agents: {verdict}"
        )
    elif restore["status"] == "failed":
        text = f"failed: {restore['error']}"
    else:
        text = "not available yet (Dispatcher.snapshot / Dispatcher.restore do not exist)"
    lines += ["", f"### Dispatcher restore of a snapshot ({size})", "", f"- {text}"]
    return lines


def plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """No plot: the figures are a handful of ratios, in the tables.  O(1).

    >>> plots({}, Path("unused"))
    []
    """
    return []
