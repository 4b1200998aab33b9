"""The simulator against SimPy, on the same M/M/c day.

Model: one ticket class, Poisson arrivals, exponential handling times,
c identical agents, first come first served (``FeedbackOrder``).  The day
(every arrival instant and handling time) is drawn once; our simulator runs
it through the real dispatcher (:func:`triage_queue.sim.engine.simulate`,
with results computed) and SimPy runs the same draws as a ``Resource`` with
c servers.  FIFO waits are fixed by the arrival and handling times alone,
so both must report the same mean wait: the run checks it.

An **event** is defined identically for both: one arrival or one service
completion, so 2 per ticket (our engine's ``events`` counter agrees on
this model).  Events per second = 2 x tickets / wall seconds; tickets per
second = tickets / wall seconds.  Day construction is not timed for
either.  A second measurement runs one day of 200 agents and 100,000
tickets of a realistic mix under ``Policy.default()`` (see
:func:`helpdesk_day`; wall time, and the peak memory traced by ``tracemalloc`` in a
second, untimed run).  Times are CPU seconds (``time.process_time``), the
best of ``rounds`` rounds in which the two simulators alternate.
"""

from __future__ import annotations

import gc
import math
import random
import time
import tracemalloc
from pathlib import Path
from typing import Any

from triage_queue._progress import Progress
from triage_queue.agents import Agent
from triage_queue.policy import Policy
from triage_queue.rules import FeedbackOrder
from triage_queue.sim.engine import simulate
from triage_queue.sim.model import Arrival, Day, Staff
from triage_queue.sim.results import erlang_c
from triage_queue.ticket import Ticket

__all__ = ["NAME", "TITLE", "helpdesk_day", "markdown", "mmc_day", "params", "plots", "run", "simpy_mmc", "stationary_in_system"]

NAME = "simulator"
TITLE = "Simulator: M/M/c through the real dispatcher vs the same model in SimPy"


def mmc_day(
    arrival_rate: float,
    service_rate: float,
    agents: int,
    tickets: int,
    seed: int,
    *,
    steady_state: bool = False,
) -> Day:
    """An M/M/c day: ``tickets`` Poisson arrivals at ``arrival_rate`` per
    second from 0, exponential handling times at ``service_rate`` per
    second, ``agents`` identical agents on duty throughout.  Every draw
    comes from ``random.Random(seed)``.  The Poisson arrivals are ticket
    class ``"poisson"``.

    With ``steady_state``, the day starts in the queue's stationary state
    rather than empty: a number of tickets drawn from the stationary
    distribution of the number in system (class ``"initial"``, at instant
    0, with exponential handling times, which by memorylessness is also
    right for those already in service).  Every Poisson arrival then sees
    the stationary queue (PASTA), so its expected wait is exactly Erlang C's
    Wq: no warm-up to discard, no initial bias.

    Raises :class:`~triage_queue.sim.model.InvalidSimulation` for an
    unstable load with ``steady_state``.  Runtime complexity:
    O(tickets + agents + initial tickets).

    >>> day = mmc_day(0.5, 1.0, 2, 10, seed=1)
    >>> len(day.arrivals), len(day.staff), day == mmc_day(0.5, 1.0, 2, 10, seed=1)
    (10, 2, True)
    >>> len(mmc_day(0.5, 1.0, 2, 10, seed=1, steady_state=True).arrivals) >= 10
    True
    """
    rng = random.Random(seed)
    expovariate = rng.expovariate
    arrivals = []
    if steady_state:
        for i in range(stationary_in_system(arrival_rate, service_rate, agents, rng)):
            arrivals.append(Arrival(Ticket(f"I{i}", 0.0), handling_time=expovariate(service_rate), ticket_class="initial"))
    now = 0.0
    for i in range(tickets):
        now += expovariate(arrival_rate)
        arrivals.append(Arrival(Ticket(f"T{i}", now), handling_time=expovariate(service_rate), ticket_class="poisson"))
    return Day(arrivals, [Staff(Agent(f"A{j}")) for j in range(agents)], name=f"M/M/{agents}")


def stationary_in_system(arrival_rate: float, service_rate: float, agents: int, rng: random.Random) -> int:
    """Draw the number in system of a stationary M/M/c queue:
    P(n) is proportional to a^n / n! below c and to a^c / c! * rho^(n-c)
    from c on (a = arrival_rate / service_rate, rho = a / c).

    Raises :class:`~triage_queue.sim.model.InvalidSimulation` for an
    unstable load.  Runtime complexity: O(c + drawn number).

    >>> stationary_in_system(0.5, 1.0, 1, random.Random(3)) >= 0
    True
    """
    erlang_c(arrival_rate, service_rate, agents)  # validates, raises for an unstable load
    load = arrival_rate / service_rate
    rho = load / agents
    weights = [1.0]
    for n in range(1, agents + 1):
        weights.append(weights[-1] * load / n)
    below = math.fsum(weights[:agents])
    tail = weights[agents] / (1 - rho)  # n >= c: geometric
    u = rng.random() * (below + tail)
    for n in range(agents):
        if u < weights[n]:
            return n
        u -= weights[n]
    # Inside the geometric tail: n - c is geometric with ratio rho.
    extra = 0 if rho == 0 else int(math.log(1 - rng.random()) / math.log(rho))
    return agents + extra


_SKILL_GROUPS = ("billing", "tech", "account", "shipping")


def helpdesk_day(agents: int, tickets: int, seed: int, *, occupancy: float = 0.85) -> Day:
    """One simulated day (24 h) of ``tickets`` Poisson arrivals for the
    default policy: each needs one of four skills, 10 % are gold-tier
    customers, 2 % critical, complexity 1..5; handling times exponential
    with the mean that gives ``occupancy``; each agent has two of the four
    skills (every pair equally often), on duty all day.

    Runtime complexity: O(tickets + agents).

    >>> day = helpdesk_day(6, 100, seed=1)
    >>> len(day.arrivals), len(day.staff), day.arrivals[-1].time < 86_400
    (100, 6, True)
    """
    rng = random.Random(seed)
    rate = tickets / 86_400.0
    mean_handling = occupancy * agents / rate
    pairs = [(a, b) for i, a in enumerate(_SKILL_GROUPS) for b in _SKILL_GROUPS[i + 1 :]]
    staff = [Staff(Agent(f"A{j}", skills=dict.fromkeys(pairs[j % len(pairs)], 3))) for j in range(agents)]
    arrivals = []
    now = 0.0
    for i in range(tickets):
        now += rng.expovariate(rate)
        ticket = Ticket(
            f"T{i}",
            now,
            severity="critical" if rng.random() < 0.02 else rng.choice(("low", "normal", "high")),
            customer_tier="gold" if rng.random() < 0.1 else None,
            complexity=rng.randint(1, 5),
            skills={rng.choice(_SKILL_GROUPS): rng.randint(1, 3)},
        )
        handling = rng.expovariate(1 / mean_handling)
        arrivals.append(Arrival(ticket, handling_time=handling, ticket_class=ticket.severity.name.lower()))
    return Day(arrivals, staff, name=f"helpdesk day, {agents} agents")


def simpy_mmc(day: Day) -> tuple[float, int]:
    """Run ``day`` (one class, agents on duty throughout) as an M/M/c
    model in SimPy: a ``Resource`` with one server per agent, FIFO.
    Return (mean wait, events processed) with events counted as for our
    simulator (arrivals and completions).  Needs the ``bench`` extra.

    Runtime complexity: O(n log n) for n tickets.

    >>> mean, events = simpy_mmc(mmc_day(0.5, 1.0, 1, 50, seed=2))
    >>> events, mean >= 0
    (100, True)
    """
    import simpy  # benchmark-only dependency

    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=len(day.staff))
    waits: list[float] = []
    done = [0]

    def customer(env: Any, handling: float) -> Any:
        arrived = env.now
        with servers.request() as request:
            yield request
            waits.append(env.now - arrived)
            yield env.timeout(handling)
        done[0] += 1

    def source(env: Any) -> Any:
        for arrival in day.arrivals:
            yield env.timeout(arrival.time - env.now)
            env.process(customer(env, arrival.handling_time))

    env.process(source(env))
    env.run()
    return (math.fsum(waits) / len(waits) if waits else 0.0), len(waits) + done[0]


def params(quick: bool) -> dict[str, Any]:
    """Sizes: M/M/c runs at 80 % load, and the 200-agent day.  O(1)."""
    if quick:
        return {"agents": 10, "load": 0.8, "tickets": 10_000, "day_agents": 200, "day_tickets": 5_000, "seed": 7, "rounds": 1}
    return {"agents": 10, "load": 0.8, "tickets": 200_000, "day_agents": 200, "day_tickets": 100_000, "seed": 7, "rounds": 3}


def _timed(action: Any) -> tuple[Any, float]:
    # CPU time: a shared machine's other work moves it less than wall time.
    gc.collect()
    started = time.process_time()
    value = action()
    return value, time.process_time() - started


def _simpy_installed() -> bool:
    try:
        import simpy  # noqa: F401 - only asking whether the benchmark-only dependency is there
    except ImportError:
        return False
    return True


def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Measure both simulators on the same day; then the 200-agent day.
    Runtime complexity: O(tickets log tickets)."""
    agents, load, tickets, seed = params["agents"], params["load"], params["tickets"], params["seed"]
    service_rate = 1 / 300.0  # five minutes a ticket
    arrival_rate = load * agents * service_rate
    day = mmc_day(arrival_rate, service_rate, agents, tickets, seed)
    fifo = Policy.lexicographic(FeedbackOrder())
    rounds = params.get("rounds", 1)
    installed = _simpy_installed()
    if not installed:
        progress.note("  SimPy is not installed (pip install 'triage-queue[bench]'): measuring ours only")
    # The two alternate in every round (who goes first too); each keeps its best.
    ours_s = simpy_s = math.inf
    for r in range(rounds):
        for turn in (r % 2, 1 - r % 2):
            if turn == 0:
                with progress.task(f"M/M/{agents} ours, {tickets} tickets, round {r + 1}/{rounds}"):
                    ours, seconds = _timed(lambda: simulate(day, fifo, name="fifo"))
                ours_s = min(ours_s, seconds)
            elif installed:
                with progress.task(f"M/M/{agents} SimPy, {tickets} tickets, round {r + 1}/{rounds}"):
                    (simpy_wait, simpy_events), seconds = _timed(lambda: simpy_mmc(day))
                simpy_s = min(simpy_s, seconds)
    ours_wait = ours.overall.wait_mean or 0.0
    theirs: dict[str, Any] | None = None
    if installed:
        if not math.isclose(ours_wait, simpy_wait, rel_tol=1e-9, abs_tol=1e-9):
            raise AssertionError(f"mean waits differ on the same M/M/c day: ours {ours_wait}, SimPy {simpy_wait}")
        theirs = {
            "seconds": simpy_s,
            "events": simpy_events,
            "events_per_s": 2 * tickets / simpy_s,
            "tickets_per_s": tickets / simpy_s,
        }

    day_agents, day_tickets = params["day_agents"], params["day_tickets"]
    big = helpdesk_day(day_agents, day_tickets, seed + 1)
    default = Policy.default()
    with progress.task(f"one day: {day_agents} agents, {day_tickets} tickets"):
        big_result, big_s = _timed(lambda: simulate(big, default, name="default"))
    # Memory is traced in a second run: tracing slows Python down severalfold,
    # so the timed run above is not traced.
    with progress.task("the same day, memory traced"):
        gc.collect()
        tracemalloc.start()
        simulate(big, default, name="default")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "params": params,
        "mean_wait": ours_wait,
        "ours": {
            "seconds": ours_s,
            "events": ours.events,
            "events_per_s": 2 * tickets / ours_s,
            "tickets_per_s": tickets / ours_s,
        },
        "simpy": theirs,  # None when SimPy is not installed
        "speed_ratio": None if theirs is None else theirs["seconds"] / ours_s,
        "day": {
            "agents": day_agents,
            "tickets": day_tickets,
            "simulated_hours": (big_result.end - big_result.start) / 3600,
            "seconds": big_s,
            "peak_mib_traced": peak / 2**20,
            "occupancy": big_result.occupancy,
        },
    }


def markdown(result: dict[str, Any]) -> list[str]:
    """The summary table.  O(1)."""
    p = result["params"]
    ours, theirs, day = result["ours"], result["simpy"], result["day"]
    if theirs is None:
        simpy_row = "| SimPy | not installed | | |"
        verdict = f"SimPy is not installed: no ratio.  Mean wait {result['mean_wait']:.2f} s."
    else:
        simpy_row = f"| SimPy | {theirs['seconds']:.2f} | {theirs['events_per_s']:,.0f} | {theirs['tickets_per_s']:,.0f} |"
        verdict = (
            f"Speed relative to SimPy: {result['speed_ratio']:.2f}x (target: at least 1x).  Both report the same mean wait "
            f"({result['mean_wait']:.2f} s)."
        )
    return [
        f"M/M/{p['agents']} at {p['load']:.0%} load, {p['tickets']:,} tickets; an event is one arrival or one "
        "completion (2 per ticket), counted the same way for both; CPU seconds, best of "
        f"{p.get('rounds', 1)} round(s) with the two alternating.",
        "",
        "| simulator | CPU s | events/s | tickets/s |",
        "|---|---:|---:|---:|",
        f"| triage-queue (real dispatcher) | {ours['seconds']:.2f} | {ours['events_per_s']:,.0f} "
        f"| {ours['tickets_per_s']:,.0f} |",
        simpy_row,
        "",
        verdict,
        "",
        f"One helpdesk day under the default policy, {day['agents']} agents and {day['tickets']:,} tickets "
        f"({day['simulated_hours']:.1f} simulated hours, "
        f"occupancy {day['occupancy']:.0%}): {day['seconds']:.1f} s, peak traced memory {day['peak_mib_traced']:.0f} MiB.",
    ]


def plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """A bar chart of events per second, ours and SimPy's.  O(1)."""
    from triage_queue.bench.suite import pyplot

    plt = pyplot()
    if plt is None:
        return []
    figure, axes = plt.subplots(figsize=(5, 3.5))
    names, values = ["triage-queue"], [result["ours"]["events_per_s"]]
    if result["simpy"] is not None:
        names.append("SimPy")
        values.append(result["simpy"]["events_per_s"])
    axes.bar(names, values, color=["tab:blue", "tab:grey"][: len(names)])
    axes.set_ylabel("events per second")
    axes.set_title(f"M/M/{result['params']['agents']} simulation speed")
    figure.tight_layout()
    path = out_dir / "simulator_speed.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return [path]
