"""Long check of the simulator against Erlang C (M/M/c, FIFO).

``python benchmarks/erlang_c.py [--scale S] [--jobs J] [--json FILE]``

For each load (50 %, 80 %, 95 % occupancy) it runs independent, seeded
replications of an M/M/c day through the real dispatcher
(``triage_queue.sim.engine.simulate`` with ``Policy.lexicographic(FeedbackOrder())``),
each starting in the queue's stationary state (``mmc_day(steady_state=True)``),
so every arrival's expected wait is exactly Erlang C's Wq: no warm-up, no
initial bias.  The estimate is the mean over all measured tickets (equal
replication sizes); its standard error comes from the spread of the
replication means.  The check passes when the estimate is within 3 % of
Erlang C at every load, and reports the standard error so one can see it
is well below 3 % (the run lengths aim at about 1 %).

Run lengths: the relative standard error of the mean wait falls as
K / sqrt(tickets), with K measured (from replications of 200,000 tickets)
at about 12 (50 %), 14 (80 %) and 70 (95 %): near saturation the queue
length drifts slowly and the waits of many thousands of consecutive tickets
move together.  The default lengths, 1, 2.5 and 24 million tickets, give
standard errors of about 1.2, 0.9 and 1.4 %.  ``--scale 0.1`` runs a tenth
of that (standard errors about 3x larger) as a smoke run; ``--loads 0.95``
runs one load only; ``--jobs`` runs replications in parallel processes.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from triage_queue import FeedbackOrder, Policy
from triage_queue.bench.sim_suite import mmc_day
from triage_queue.sim.engine import simulate
from triage_queue.sim.results import erlang_c_wait

AGENTS = 5
SERVICE_RATE = 1 / 300.0  # a five-minute mean handling time
REPLICATION = 200_000  # tickets per replication
# (occupancy, tickets in all) -- see the module docstring for the lengths.
LOADS = ((0.5, 1_000_000), (0.8, 2_500_000), (0.95, 24_000_000))
TOLERANCE = 0.03


def replicate(load: float, tickets: int, seed: int) -> tuple[float, int, float]:
    """One replication: (mean wait of the Poisson arrivals, their number, wall seconds)."""
    arrival_rate = load * AGENTS * SERVICE_RATE
    day = mmc_day(arrival_rate, SERVICE_RATE, AGENTS, tickets, seed, steady_state=True)
    started = time.perf_counter()
    result = simulate(day, Policy.lexicographic(FeedbackOrder()), name="fifo", sample_every=1e9)
    seconds = time.perf_counter() - started
    figures = result.by_class["poisson"]
    assert figures.answered == tickets and figures.wait_mean is not None
    return figures.wait_mean, tickets, seconds


def check(scale: float, jobs: int, loads: list[float] | None = None) -> dict[str, object]:
    rows = []
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for load, total in LOADS:
            if loads and load not in loads:
                continue
            count = max(4, round(total * scale / REPLICATION))
            size = max(1000, round(total * scale / count))
            seeds = [100_003 * round(load * 100) + r for r in range(count)]
            runs = list(pool.map(replicate, [load] * count, [size] * count, seeds))
            means = [m for m, _, _ in runs]
            estimate = statistics.fmean(means)
            error = statistics.stdev(means) / math.sqrt(count)
            theory = erlang_c_wait(load * AGENTS * SERVICE_RATE, SERVICE_RATE, AGENTS)
            row = {
                "load": load,
                "agents": AGENTS,
                "replications": count,
                "tickets": count * size,
                "erlang_c_wait_s": theory,
                "simulated_wait_s": estimate,
                "relative_error": estimate / theory - 1,
                "relative_standard_error": error / theory,
                "simulate_seconds": math.fsum(s for _, _, s in runs),
                "within_3pct": abs(estimate / theory - 1) <= TOLERANCE,
            }
            rows.append(row)
            print(
                f"load {load:.0%}: M/M/{AGENTS}, {row['tickets']:,} tickets in {count} replications: "
                f"Erlang C {theory:.3f} s, simulated {estimate:.3f} s ({row['relative_error']:+.2%}, "
                f"standard error {row['relative_standard_error']:.2%}), {row['simulate_seconds']:.0f} s simulating",
                flush=True,
            )
    return {"rows": rows, "wall_seconds": time.perf_counter() - started, "passed": all(r["within_3pct"] for r in rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default run lengths (default 1)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes (default 1)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--loads", type=float, nargs="+", choices=[load for load, _ in LOADS], help="only these loads")
    args = parser.parse_args(argv)
    if not args.scale > 0 or args.jobs < 1:
        parser.error("--scale must be > 0 and --jobs >= 1")
    report = check(args.scale, args.jobs, args.loads)
    print(f"{'PASSED' if report['passed'] else 'FAILED'}: mean wait within 3% of Erlang C at every load "
          f"({report['wall_seconds']:.0f} s wall)")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
