"""Staffing (issue 13 §3): Erlang C and Erlang A against independent
references, their properties, the search for the fewest agents, and the
staffing it recommends checked in triage_queue's own simulator."""

from __future__ import annotations

import math
import random
import statistics
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage_queue import (
    Agent,
    FeedbackOrder,
    ForecastInterval,
    InvalidArgument,
    Policy,
    ServiceTarget,
    Ticket,
    TriageError,
    agents_needed,
    erlang_a,
    erlang_c,
    staffing,
    staffing_plan,
)
from triage_queue.sim.engine import simulate
from triage_queue.sim.model import Arrival, Day, Staff
from triage_queue.staffing import MAX_AGENTS, MAX_PATIENT_ARRIVALS, QueueFigures

# -- independent references -------------------------------------------------------------


def exact_erlang_c(load: Fraction, agents: int) -> Fraction:
    """P(wait > 0) of M/M/N from the textbook formula, in exact rationals."""
    head = sum((load**k / math.factorial(k) for k in range(agents)), Fraction(0))
    tail = load**agents / math.factorial(agents) * agents / (agents - load)
    return tail / (head + tail)


def log_space_erlang_c(load: float, agents: int) -> float:
    """P(wait > 0) from the textbook formula with lgamma in log space: a
    different computation from the Erlang B recursion, fit for large N."""
    logs = [k * math.log(load) - math.lgamma(k + 1) for k in range(agents)]
    log_tail = agents * math.log(load) - math.lgamma(agents + 1) + math.log(agents / (agents - load))
    top = max([*logs, log_tail])
    head = math.fsum(math.exp(v - top) for v in logs)
    tail = math.exp(log_tail - top)
    return tail / (head + tail)


def ctmc_erlang_a(rate: float, handle: float, agents: int, patience: float, within: float) -> tuple[float, float, float]:
    """(P(wait > 0), share answered within ``within``, abandonment) of
    M/M/N+M by brute force: the birth-death chain's stationary law,
    truncated, and the tagged customer's absorbing chain (k ahead; served at
    rate N mu from the head, everyone ahead and the customer abandoning at
    rate 1/patience) integrated with RK4 up to ``within``.  Shares no
    formula with the library (no Erlang B, no series, no gamma functions)."""
    mu, g = 1 / handle, 1 / patience
    cap = agents + 400
    weights = [1.0]
    for n in range(1, cap):
        weights.append(weights[-1] * rate / (min(n, agents) * mu + max(0, n - agents) * g))
    total = math.fsum(weights)
    p = [w / total for w in weights]
    wait = math.fsum(p[agents:])
    abandon = g * math.fsum((n - agents) * p[n] for n in range(agents, cap)) / rate
    depth = cap - agents
    q = p[agents:]

    def derivative(state: list[float]) -> list[float]:
        return [
            -(agents * mu + (i + 1) * g) * state[i] + ((agents * mu + (i + 1) * g) * state[i + 1] if i + 1 < depth else 0.0)
            for i in range(depth)
        ]

    steps = 400
    dt = within / steps
    served = 0.0
    for _ in range(steps):
        k1 = derivative(q)
        k2 = derivative([a + dt / 2 * b for a, b in zip(q, k1, strict=True)])
        k3 = derivative([a + dt / 2 * b for a, b in zip(q, k2, strict=True)])
        k4 = derivative([a + dt * b for a, b in zip(q, k3, strict=True)])
        # Served flux N mu q_0, integrated with the same RK4 weights.
        served += dt / 6 * agents * mu * (q[0] + 2 * (q[0] + dt / 2 * k1[0]) + 2 * (q[0] + dt / 2 * k2[0]) + q[0] + dt * k3[0])
        q = [a + dt / 6 * (b + 2 * c + 2 * d + e) for a, b, c, d, e in zip(q, k1, k2, k3, k4, strict=True)]
    return wait, (1 - wait) + served, abandon


# -- published figures ----------------------------------------------------------------------


def test_the_textbook_example() -> None:
    """The worked example of the call-centre literature (Call Centre Helper,
    "Erlang C formula - made simple"): 100 calls per half hour, 3 minutes
    each (10 Erlangs), 80 % in 20 s, 85 % maximum occupancy, 30 %
    shrinkage.  With N = 11 a call waits with probability 68.21 % and the
    service level is 39.0 %; 14 agents are the first to reach 80 % (88.8 %,
    occupancy 71.4 %), and 30 % shrinkage makes it 20 to schedule."""
    rate, handle = 100 / 1800, 180.0
    eleven = erlang_c(rate, handle, 11, within=20.0)
    assert round(eleven.wait_probability, 4) == 0.6821
    assert round(eleven.service_level, 3) == 0.390
    assert agents_needed(rate, handle, "80% in 20s") == 14
    assert erlang_c(rate, handle, 13, within=20.0).service_level < 0.8 <= erlang_c(rate, handle, 14, within=20.0).service_level
    plan = staffing_plan([ForecastInterval(0, 1800, 100)], "80% in 20s", handle_time=handle, max_occupancy="85%", shrinkage="30%")
    assert (plan[0].raw_agents, plan[0].agents, round(plan[0].occupancy, 3)) == (14, 20, 0.714)
    assert plan[0].limited_by == "target"


@given(
    load=st.fractions(min_value=Fraction(1, 10), max_value=30).map(lambda f: f.limit_denominator(50)),
    extra=st.integers(1, 12),
    within=st.sampled_from([0.0, 5.0, 20.0, 60.0]),
)
def test_erlang_c_matches_the_exact_formula(load: Fraction, extra: int, within: float) -> None:
    """For small N, the chance of waiting, the service level 1 - C e^{-(N-a)t/h}
    and the average wait C h / (N - a) agree with the factorial formula
    computed in exact rationals, to 1e-12 relative."""
    agents = math.floor(load) + extra
    handle = 120.0
    c = exact_erlang_c(load, agents)
    f = erlang_c(float(load) / handle, handle, agents, within=within)
    assert f.wait_probability == pytest.approx(float(c), rel=1e-12)
    spare = agents - float(load)
    assert f.service_level == pytest.approx(1 - float(c) * math.exp(-spare * within / handle), rel=1e-12, abs=1e-15)
    assert f.average_wait == pytest.approx(float(c) * handle / spare, rel=1e-12)
    assert f.occupancy == pytest.approx(float(load) / agents)


@pytest.mark.parametrize(("load", "agents"), [(200.0, 215), (1000.0, 1040), (5000.0, 5100), (9000.0, 9080)])
def test_erlang_c_for_large_centres(load: float, agents: int) -> None:
    """Hundreds to thousands of agents: no overflow, and the chance of waiting
    agrees with an independent log-space evaluation of the textbook formula."""
    f = erlang_c(load / 300.0, 300.0, agents, within=20.0)
    assert f.wait_probability == pytest.approx(log_space_erlang_c(load, agents), rel=1e-9)
    assert 0 < f.service_level < 1 and math.isfinite(f.average_wait)


@pytest.mark.parametrize("load", [500.0, 2000.0, 9000.0])
def test_agents_needed_for_large_loads_follows_square_root_staffing(load: float) -> None:
    """At high loads the answer is a + beta sqrt(a) with a modest beta (the
    square-root staffing rule), found in bounded time."""
    n = agents_needed(load / 300.0, 300.0, "80% in 20s")
    assert load < n < load + 3 * math.sqrt(load)
    assert erlang_c(load / 300.0, 300.0, n - 1, within=20.0).service_level < 0.8 <= erlang_c(load / 300.0, 300.0, n, within=20.0).service_level


@pytest.mark.parametrize(
    ("rate", "handle", "agents", "patience", "within"),
    [(100 / 1800, 180.0, 9, 180.0, 20.0), (0.5, 4.0, 3, 2.0, 1.0), (2.0, 1.0, 1, 0.3, 0.5), (0.2, 30.0, 4, 600.0, 15.0),
     (0.05, 60.0, 5, 60.0, 20.0), (1 / 6, 60.0, 12, 90.0, 30.0)],
)
def test_erlang_a_matches_a_brute_force_chain(rate: float, handle: float, agents: int, patience: float, within: float) -> None:
    """Erlang A's chance of waiting, abandonment and share answered within t
    agree with a brute-force Markov chain (truncated stationary law, tagged
    customer integrated numerically), including overloaded cases."""
    wait, level, abandon = ctmc_erlang_a(rate, handle, agents, patience, within)
    f = erlang_a(rate, handle, agents, patience, within=within)
    assert f.wait_probability == pytest.approx(wait, rel=1e-9)
    assert f.abandonment == pytest.approx(abandon, rel=1e-9)
    assert f.service_level == pytest.approx(level, abs=2e-6)


# -- properties ------------------------------------------------------------------------------

loads = st.floats(0.05, 60.0)
handles = st.sampled_from([30.0, 180.0, 360.0])
patiences = st.sampled_from([10.0, 60.0, 180.0, 900.0])
withins = st.sampled_from([0.0, 10.0, 20.0, 60.0])


@given(load=loads, handle=handles, within=withins, patience=st.none() | patiences)
def test_more_agents_serve_better(load: float, handle: float, within: float, patience: float | None) -> None:
    """Each agent added raises the service level, lowers the average wait, the
    abandonment and the occupancy (weakly): the search relies on it."""
    rate = load / handle

    def model(n: int) -> QueueFigures:
        return erlang_a(rate, handle, n, patience, within=within) if patience else erlang_c(rate, handle, n, within=within)

    start = 1 if patience else math.floor(load) + 1
    previous = model(start)
    for n in range(start + 1, start + 25):
        f = model(n)
        assert f.service_level >= previous.service_level - 1e-12
        assert f.average_wait <= previous.average_wait * (1 + 1e-12)
        assert f.abandonment <= previous.abandonment + 1e-12
        assert 0 <= f.abandonment <= 1 and 0 <= f.service_level <= 1 - f.abandonment + 1e-12
        previous = f


def _meets(f: QueueFigures, target: ServiceTarget) -> bool:
    if not f.stable:
        return False
    if target.average_wait is not None:
        return f.average_wait <= target.average_wait
    assert target.level is not None
    return f.service_level >= target.level


targets = st.builds(ServiceTarget, level=st.floats(0.05, 0.99), within=withins) | st.builds(
    ServiceTarget, average_wait=st.sampled_from([1.0, 10.0, 30.0, 60.0, 300.0])
)


@given(load=st.floats(0.05, 40.0), handle=handles, target=targets, patience=st.none() | patiences,
       cap=st.sampled_from([1.0, 0.9, 0.8, 0.6]))
def test_agents_needed_is_the_fewest_that_meet_the_target(
    load: float, handle: float, target: ServiceTarget, patience: float | None, cap: float
) -> None:
    """agents_needed returns N meeting the target and the occupancy cap, and no
    smaller number of agents meets both (checked one by one from 1)."""
    rate = load / handle
    n = agents_needed(rate, handle, target, patience=patience, max_occupancy=cap)
    within = target.within or 0.0

    def model(k: int) -> QueueFigures:
        return erlang_a(rate, handle, k, patience, within=within) if patience else erlang_c(rate, handle, k, within=within)

    def ok(k: int) -> bool:
        f = model(k)
        return _meets(f, target) and f.occupancy <= cap

    assert ok(n)
    assert not any(ok(k) for k in range(1, n))


@given(load=st.floats(0.05, 40.0), handle=handles, extra=st.integers(1, 10), within=withins)
def test_erlang_a_with_infinite_patience_is_erlang_c(load: float, handle: float, extra: int, within: float) -> None:
    """patience = inf is Erlang C exactly; a patience of 10^5 handling times
    is within 1e-3 of it when N >= a + 1 (abandonment tends to 0; the gap
    shrinks as 1/patience, more slowly the nearer the load is to N)."""
    rate, agents = load / handle, math.ceil(load + 1) + extra - 1
    c = erlang_c(rate, handle, agents, within=within)
    inf = erlang_a(rate, handle, agents, math.inf, within=within)
    assert (inf.wait_probability, inf.service_level, inf.average_wait) == (c.wait_probability, c.service_level, c.average_wait)
    patient = erlang_a(rate, handle, agents, 1e5 * handle, within=within)
    assert patient.wait_probability == pytest.approx(c.wait_probability, abs=1e-3)
    assert patient.service_level == pytest.approx(c.service_level, abs=1e-3)
    assert patient.abandonment < 1e-3


def test_erlang_a_heavily_overloaded_follows_the_fluid_limit() -> None:
    """600 Erlangs on 100 agents with an hour's patience (sums of tens of
    thousands of terms, far from the first): as the fluid model says, the
    agents serve N/a of the customers (abandonment 5/6) and the answered
    waited theta ln(a/N), within 0.1 %; nothing overflows."""
    f = erlang_a(10.0, 60.0, 100, 3600.0, within=20.0)
    assert f.abandonment == pytest.approx(1 - 100 / 600, rel=1e-6)
    assert f.average_wait == pytest.approx(3600.0 * math.log(6), rel=1e-3)
    assert f.wait_probability == pytest.approx(1.0) and f.service_level < 1e-6


@given(
    rate=st.floats(1e-6, 1e3), handle=st.floats(0.1, 1e5), agents=st.integers(0, 3000),
    patience=st.none() | st.floats(0.01, 1e7), within=st.sampled_from([0.0, 1.0, 20.0, 1e4, 1e7]),
)
def test_figures_are_shares_or_a_clear_refusal(
    rate: float, handle: float, agents: int, patience: float | None, within: float
) -> None:
    """Over a wide range of rates, handling times, agents and patience, the
    models return shares in [0, 1] and a non-negative average wait, or
    refuse with InvalidArgument (a load or a patience beyond the bounds)."""
    try:
        f = erlang_a(rate, handle, agents, patience, within=within) if patience else erlang_c(rate, handle, agents, within=within)
    except InvalidArgument as exc:
        assert exc.field in {"arrival_rate", "patience"}
        return
    for share in (f.wait_probability, f.service_level, f.occupancy, f.abandonment):
        assert 0.0 <= share <= 1.0
    assert f.average_wait >= 0 and f.service_level <= 1 - f.abandonment + 1e-9


def test_patience_makes_an_overloaded_interval_finite() -> None:
    """Erlang C cannot staff fewer agents than the load (the queue grows
    without bound); Erlang A can, and says how many give up."""
    rate, handle = 12 / 60, 60.0  # 12 Erlangs
    assert not erlang_c(rate, handle, 10).stable
    f = erlang_a(rate, handle, 10, 120.0, within=20.0)
    assert f.stable and 0.1 < f.abandonment < 0.5 and f.occupancy < 1


def test_shrinkage_is_applied_without_rounding_artefacts() -> None:
    """7 agents answering at 30 % shrinkage are 7 / 0.7 = 10 scheduled, not 11
    (7 / 0.7 is 10.000000000000002 in floating point)."""
    rate, handle = 4.2 / 180, 180.0
    raw = agents_needed(rate, handle, "80% in 20s")
    assert raw == 7
    assert agents_needed(rate, handle, "80% in 20s", shrinkage=0.3) == 10
    assert agents_needed(rate, handle, "80% in 20s", shrinkage="31%") == 11


def test_caps_decide_when_stricter_than_the_target() -> None:
    """An occupancy cap or an abandonment cap that needs more agents than the
    target decides, and the result says so."""
    plan = staffing_plan([ForecastInterval(0, 1800, 100)], "50% in 60s", handle_time=180.0, max_occupancy=0.7)
    assert plan[0].limited_by == "occupancy" and plan[0].raw_agents == 15 and plan[0].occupancy <= 0.7
    plan = staffing_plan([ForecastInterval(0, 1800, 100)], "avg wait < 5m", handle_time=180.0, patience=60.0,
                         max_abandonment="2%")
    assert plan[0].limited_by == "abandonment" and plan[0].abandonment <= 0.02
    loose = staffing_plan([ForecastInterval(0, 1800, 100)], "avg wait < 5m", handle_time=180.0, patience=60.0)
    assert loose[0].raw_agents < plan[0].raw_agents


def test_a_plan_uses_each_intervals_handle_time_and_skips_empty_intervals() -> None:
    """Each interval is staffed on its own: its own handle time when it gives
    one, none needed when nothing arrives."""
    plan = staffing_plan(
        [ForecastInterval(0, 1800, 100), ForecastInterval(1800, 1800, 100, handle_time=360.0), ForecastInterval(3600, 1800, 0)],
        ServiceTarget(level=0.8, within=20.0),
        handle_time=180.0,
    )
    assert [r.raw_agents for r in plan] == [14, agents_needed(100 / 1800, 360.0, "80% in 20s"), 0]
    assert plan[1].raw_agents > 20 and plan[2].limited_by == "no arrivals" and plan[2].service_level == 1.0


# -- targets and bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("80% in 20s", ServiceTarget(level=0.8, within=20.0)),
        ("80 % within 20 seconds", ServiceTarget(level=0.8, within=20.0)),
        ("90% within 1m", ServiceTarget(level=0.9, within=60.0)),
        ("80% of calls answered within 20 s", ServiceTarget(level=0.8, within=20.0)),
        ("95% in 1.5 min", ServiceTarget(level=0.95, within=90.0)),
        ("80/20", ServiceTarget(level=0.8, within=20.0)),
        ("99.5% <= 2h", ServiceTarget(level=0.995, within=7200.0)),
        ("avg wait < 1m", ServiceTarget(average_wait=60.0)),
        ("average wait under 45 s", ServiceTarget(average_wait=45.0)),
        ("ASA 30s", ServiceTarget(average_wait=30.0)),
        ("mean waiting time <= 2 minutes", ServiceTarget(average_wait=120.0)),
    ],
)
def test_targets_read_as_people_write_them(text: str, expected: ServiceTarget) -> None:
    """The usual ways of writing a service-level target all parse."""
    assert ServiceTarget.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["80% on 20s", "80%", "in 20s", "180% in 20s", "0% in 20s", "100% in 20s", "80% in 20 parsecs", "80% in -5s",
     "avg wait < 0s", "avg wait", "", "x" * 10_000, "80% in 400 days"],
)
def test_bad_targets_name_the_target(text: str) -> None:
    """A target that cannot be read raises InvalidArgument on ``target`` with
    the text (shortened), never a bare Python error."""
    with pytest.raises(InvalidArgument) as caught:
        ServiceTarget.parse(text)
    assert caught.value.field == "target"
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: erlang_c(-1.0, 180.0, 5), "arrival_rate"),
        (lambda: erlang_c(math.nan, 180.0, 5), "arrival_rate"),
        (lambda: erlang_c(True, 180.0, 5), "arrival_rate"),
        (lambda: erlang_c(0.1, 0.0, 5), "handle_time"),
        (lambda: erlang_c(0.1, math.inf, 5), "handle_time"),
        (lambda: erlang_c(0.1, 180.0, -1), "agents"),
        (lambda: erlang_c(0.1, 180.0, 2.5), "agents"),  # type: ignore[arg-type]
        (lambda: erlang_c(0.1, 180.0, 5, within=-1.0), "within"),
        (lambda: erlang_a(0.1, 180.0, 5, 0.0), "patience"),
        (lambda: erlang_a(0.1, 180.0, 5, -3.0), "patience"),
        (lambda: erlang_a(100.0, 1.0, 5, 1e6), "patience"),
        (lambda: agents_needed(0.1, 180.0, 0.8), "target"),  # type: ignore[arg-type]
        (lambda: agents_needed(0.1, 180.0, "80% in 20s", shrinkage=1.0), "shrinkage"),
        (lambda: agents_needed(0.1, 180.0, "80% in 20s", shrinkage="-5%"), "shrinkage"),
        (lambda: agents_needed(0.1, 180.0, "80% in 20s", max_occupancy=0), "max_occupancy"),
        (lambda: agents_needed(0.1, 180.0, "80% in 20s", max_occupancy="120%"), "max_occupancy"),
        (lambda: agents_needed(100.0, 180.0, "80% in 20s"), "arrival_rate"),
        (lambda: ServiceTarget(level=1.5, within=20.0), "level"),
        (lambda: ServiceTarget(level=0.8), "within"),
        (lambda: ServiceTarget(average_wait=0.0), "average_wait"),
        (lambda: ServiceTarget(level=0.8, within=20.0, average_wait=5.0), "average_wait"),
        (lambda: ForecastInterval(0, 0, 10), "length"),
        (lambda: ForecastInterval(0, 1800, math.inf), "arrivals"),
        (lambda: staffing_plan([ForecastInterval(0, 1800, 10)], "80% in 20s"), "forecast[0].handle_time"),
        (lambda: staffing_plan([(0, 1800, 10)], "80% in 20s", handle_time=60.0), "forecast[0]"),  # type: ignore[list-item]
        (lambda: staffing_plan(5, "80% in 20s", handle_time=60.0), "forecast"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_names_the_field(call: object, field: str) -> None:
    """Negative rates, targets out of range, bad shares and the like raise
    InvalidArgument (a TriageError and a ValueError) naming the field."""
    assert callable(call)
    with pytest.raises(InvalidArgument) as caught:
        call()
    assert caught.value.field == field
    assert isinstance(caught.value, TriageError | ValueError)


def test_targets_beyond_reach_are_refused_in_bounded_time() -> None:
    """A target that would need more than MAX_AGENTS agents is refused, naming
    the target, after a bounded search; so is an Erlang A input whose sums
    would be too long (MAX_PATIENT_ARRIVALS)."""
    with pytest.raises(InvalidArgument, match="MAX_AGENTS") as caught:
        agents_needed((MAX_AGENTS - 5) / 60.0, 60.0, "99.99% in 0s")
    assert caught.value.field == "target"
    with pytest.raises(InvalidArgument, match="MAX_PATIENT_ARRIVALS"):
        erlang_a(MAX_PATIENT_ARRIVALS / 1000.0, 60.0, 10, 2000.0)


def test_identical_intervals_are_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long forecast of repeated Erlang A intervals costs one interval's
    work: with a plan budget of about two intervals' terms, 50 identical
    intervals are planned, each with its own start and arrivals
    (review 13a #3)."""
    monkeypatch.setattr(staffing, "MAX_PLAN_TERMS", 60_000)  # one interval below is about 26,000 terms
    forecast = [ForecastInterval(60.0 * i, 60.0, 600.0) for i in range(50)]
    plan = staffing_plan(forecast, "95% in 5s", handle_time=10.0, patience=600.0)
    single = agents_needed(10.0, 10.0, "95% in 5s", patience=600.0)
    assert [r.agents for r in plan] == [single] * 50
    assert [r.start for r in plan] == [60.0 * i for i in range(50)]
    assert {r.arrivals for r in plan} == {600.0}


def test_a_plan_beyond_its_work_budget_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """An Erlang A plan of many different heavy intervals stops with a clear
    error naming ``forecast`` and MAX_PLAN_TERMS once it has summed that
    many terms, instead of running for hours (review 13a #3)."""
    monkeypatch.setattr(staffing, "MAX_PLAN_TERMS", 60_000)
    forecast = [ForecastInterval(60.0 * i, 60.0, 600.0 + i) for i in range(50)]
    with pytest.raises(InvalidArgument, match="MAX_PLAN_TERMS") as caught:
        staffing_plan(forecast, "95% in 5s", handle_time=10.0, patience=600.0)
    assert caught.value.field == "forecast"
    assert len(staffing_plan(forecast[:2], "95% in 5s", handle_time=10.0, patience=600.0)) == 2
    assert len(staffing_plan(forecast, "95% in 5s", handle_time=10.0)) == 50  # Erlang C: no series


# -- checked in the simulator -------------------------------------------------------------------

FIFO = Policy.lexicographic(FeedbackOrder())
REPLICATIONS = 8
TICKETS = 2000
WARM_UP = 200  # tickets of each replication not counted: the day starts empty
T_999_DF7 = 5.408  # two-sided 99.9 % Student t quantile, 7 degrees of freedom


def _poisson_day(rate: float, handle: float, agents: int, patience: float | None, seed: int) -> Day:
    rng = random.Random(seed)
    now, arrivals = 0.0, []
    for i in range(TICKETS):
        now += rng.expovariate(rate)
        give_up = None if patience is None else rng.expovariate(1 / patience)
        arrivals.append(Arrival(Ticket(f"T{i}", now), handling_time=rng.expovariate(1 / handle), patience=give_up))
    return Day(arrivals, [Staff(Agent(f"A{j}")) for j in range(agents)])


def _simulated_service_level(rate: float, handle: float, agents: int, patience: float | None, within: float) -> list[float]:
    """Per replication: the share of tickets answered within ``within`` (an
    abandoned ticket is missed), FIFO, after the warm-up."""
    shares = []
    for seed in range(REPLICATIONS):
        result = simulate(_poisson_day(rate, handle, agents, patience, 1000 * agents + seed), FIFO)
        counted = sorted(result.outcomes, key=lambda o: o.arrived)[WARM_UP:]
        answered = sum(1 for o in counted if o.answered is not None and o.answered - o.arrived <= within)
        shares.append(answered / len(counted))
    return shares


@pytest.mark.parametrize(
    ("load", "patience"),
    [(3.0, None), (3.5, 60.0)],
    ids=["erlang-c", "erlang-a"],
)
def test_recommended_staffing_meets_the_target_in_simulation(load: float, patience: float | None) -> None:
    """Poisson arrivals, exponential handling (mean 60 s), FIFO, 80 % in 20 s,
    and for Erlang A exponential patience (mean 60 s): with the agents
    recommended, the simulated service level is above 80 % (lower end of a
    99.9 % interval over 8 replications of 1,800 counted tickets); with one
    agent fewer it is below (upper end).  The model's prediction lies in the
    interval both times."""
    handle, within, target = 60.0, 20.0, 0.8
    rate = load / handle
    n = agents_needed(rate, handle, ServiceTarget(level=target, within=within), patience=patience)
    for agents, must_meet in ((n, True), (n - 1, False)):
        shares = _simulated_service_level(rate, handle, agents, patience, within)
        mean = statistics.fmean(shares)
        half = T_999_DF7 * statistics.stdev(shares) / math.sqrt(len(shares))
        predicted = (erlang_a(rate, handle, agents, patience, within=within) if patience
                     else erlang_c(rate, handle, agents, within=within)).service_level
        assert mean - half <= predicted <= mean + half, (agents, predicted, mean, half)
        if must_meet:
            assert mean - half >= target, (agents, mean, half)
        else:
            assert mean + half < target, (agents, mean, half)
