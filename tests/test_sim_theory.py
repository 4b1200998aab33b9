"""The simulator against queueing theory: M/M/c with FIFO order.

One ticket class, Poisson arrivals, exponential handling times, c identical
agents, ``Policy.lexicographic(FeedbackOrder())`` (earliest arrival first).
Erlang C then gives, for an arriving ticket in the stationary queue,

* P(wait > 0) = C(c, a),
* P(wait > t) = C(c, a) * exp(-(c*mu - lambda) * t),
* mean wait Wq = C(c, a) / (c*mu - lambda).

Method: R independent, seeded replications per load; each starts in the
stationary state (``mmc_day(steady_state=True)``), so every Poisson arrival
sees the stationary queue (PASTA) and its expected wait is exactly Wq: no
warm-up bias.  Each replication gives one estimate of each quantity (its
tickets' average); the R estimates are independent, so a Student-t interval
at 99.9 % over them is a sound confidence interval, and the theory value
must lie inside it.  Three quantities at three loads: with a correct engine
the chance of any false alarm is below 1 %, and the seeds are fixed, so the
test is deterministic.

The check has power: ``test_the_check_catches_planted_bugs`` feeds it the
results of a wrong engine (handling times 10 % too long, last come first
served, one agent missing) and requires it to reject each one.  LIFO has the
same mean wait as FIFO (any order that does not look at handling times has),
so it is the distribution check, P(wait > 1 / (c*mu - lambda)), that catches
it.
"""

from __future__ import annotations

import math
import statistics

import pytest

from triage_queue import FeedbackOrder, Policy
from triage_queue.bench.sim_suite import mmc_day, stationary_in_system
from triage_queue.sim.engine import simulate
from triage_queue.sim.model import Day, InvalidSimulation
from triage_queue.sim.results import erlang_c, erlang_c_wait

FIFO = Policy.lexicographic(FeedbackOrder())
LIFO = Policy.weighted([(FeedbackOrder(), -1.0)])
AGENTS = 5
SERVICE_RATE = 1.0  # time unit: one mean handling time
REPLICATIONS = 10
# Student t quantile for a two-sided 99.9 % interval with REPLICATIONS - 1 = 9 degrees of freedom.
T_999_DF9 = 4.781


def _estimates(days: list[Day], policy: Policy, arrival_rate: float) -> dict[str, list[float]]:
    """Per replication: mean wait, share waiting, share waiting longer than 1 / (c*mu - lambda)."""
    threshold = 1 / (AGENTS * SERVICE_RATE - arrival_rate)
    found: dict[str, list[float]] = {"mean wait": [], "P(wait > 0)": [], "P(wait > t*)": []}
    for day in days:
        result = simulate(day, policy)
        waits = [o.wait for o in result.outcomes if o.ticket_class == "poisson"]
        assert all(o.outcome == "served" for o in result.outcomes)
        found["mean wait"].append(math.fsum(waits) / len(waits))
        found["P(wait > 0)"].append(sum(w > 0 for w in waits) / len(waits))
        found["P(wait > t*)"].append(sum(w > threshold for w in waits) / len(waits))
    return found


def _theory(arrival_rate: float) -> dict[str, float]:
    c = erlang_c(arrival_rate, SERVICE_RATE, AGENTS)
    return {"mean wait": erlang_c_wait(arrival_rate, SERVICE_RATE, AGENTS), "P(wait > 0)": c, "P(wait > t*)": c / math.e}


def _rejections(estimates: dict[str, list[float]], theory: dict[str, float]) -> list[str]:
    """The quantities whose theory value lies outside the 99.9 % interval."""
    rejected = []
    for name, values in estimates.items():
        mean = statistics.fmean(values)
        half = T_999_DF9 * statistics.stdev(values) / math.sqrt(len(values))
        if not mean - half <= theory[name] <= mean + half:
            rejected.append(f"{name}: theory {theory[name]:.4g} outside {mean:.4g} +- {half:.3g}")
    return rejected


def _days(load: float, tickets: int, *, agents: int = AGENTS, handling_scale: float = 1.0) -> list[Day]:
    arrival_rate = load * AGENTS * SERVICE_RATE
    days = []
    for replication in range(REPLICATIONS):
        day = mmc_day(arrival_rate, SERVICE_RATE, AGENTS, tickets, seed=7919 * replication + int(load * 1000), steady_state=True)
        if handling_scale != 1.0 or agents != AGENTS:
            day = Day(
                [type(a)(a.ticket, a.handling_time * handling_scale, a.ticket_class) for a in day.arrivals],
                day.staff[:agents],
                name=day.name,
            )
        days.append(day)
    return days


@pytest.mark.parametrize(("load", "tickets"), [(0.5, 600), (0.8, 1200), (0.95, 2500)])
def test_fifo_waits_match_erlang_c(load: float, tickets: int) -> None:
    """At 50, 80 and 95 % occupancy, the mean wait, the share of tickets that
    wait and the share waiting longer than 1 / (c*mu - lambda) all agree with
    Erlang C within a 99.9 % confidence interval over seeded replications."""
    arrival_rate = load * AGENTS * SERVICE_RATE
    estimates = _estimates(_days(load, tickets), FIFO, arrival_rate)
    assert _rejections(estimates, _theory(arrival_rate)) == []


@pytest.mark.parametrize(
    ("bug", "policy", "agents", "handling_scale"),
    [
        ("handling times 10 % too long", FIFO, AGENTS, 1.1),
        ("last come first served", LIFO, AGENTS, 1.0),
        ("one agent missing", FIFO, AGENTS - 1, 1.0),
    ],
)
def test_the_check_catches_planted_bugs(bug: str, policy: Policy, agents: int, handling_scale: float) -> None:
    """The same check, run on what a wrong engine would produce at 80 %
    load, rejects the theory: it would catch that bug."""
    load = 0.8
    arrival_rate = load * AGENTS * SERVICE_RATE
    days = _days(load, 1200, agents=agents, handling_scale=handling_scale)
    assert _rejections(_estimates(days, policy, arrival_rate), _theory(arrival_rate)) != [], bug


def test_erlang_c_known_values() -> None:
    """Erlang C matches closed forms: M/M/1 waits with probability rho and
    Wq = rho / (mu - lambda); M/M/2 at a = 1 has C = 1/3."""
    for rho in (0.1, 0.5, 0.9):
        assert erlang_c(rho, 1.0, 1) == pytest.approx(rho)
        assert erlang_c_wait(rho, 1.0, 1) == pytest.approx(rho / (1.0 - rho))
    assert erlang_c(1.0, 1.0, 2) == pytest.approx(1 / 3)
    # The textbook call-centre example: 100 calls/h... in seconds: a = 10 Erlang, 11 agents.
    assert erlang_c(10 / 180, 1 / 180, 11) == pytest.approx(0.6821, abs=1e-4)


def test_erlang_c_rejects_unstable_or_bad_input() -> None:
    """An unstable load or a bad rate is a project error naming the field."""
    with pytest.raises(InvalidSimulation, match="arrival_rate"):
        erlang_c(2.0, 1.0, 2)
    with pytest.raises(InvalidSimulation, match="service_rate"):
        erlang_c(1.0, 0.0, 2)
    with pytest.raises(InvalidSimulation, match="agents"):
        erlang_c_wait(1.0, 1.0, 0)


def test_stationary_start_has_the_stationary_mean() -> None:
    """The initial number in system is drawn from the M/M/c stationary law:
    its average over many draws matches L = a + lambda * Wq."""
    import random

    rng = random.Random(5)
    arrival_rate, agents = 4.0, AGENTS
    draws = [stationary_in_system(arrival_rate, SERVICE_RATE, agents, rng) for _ in range(40_000)]
    expected = arrival_rate / SERVICE_RATE + arrival_rate * erlang_c_wait(arrival_rate, SERVICE_RATE, agents)
    spread = statistics.stdev(draws) / math.sqrt(len(draws))
    assert abs(statistics.fmean(draws) - expected) < 4 * spread
