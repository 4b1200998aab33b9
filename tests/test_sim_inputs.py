"""Simulator inputs: synthetic days (rates, distributions, customers,
follow-ups, staff), scenarios, traces (parsing errors, timestamps, round
trip) and staff files."""

from __future__ import annotations

import itertools
import json
import math
import random
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage_queue import Agent, Severity, Ticket
from triage_queue.sim import (
    SCENARIOS,
    Arrival,
    Choice,
    Customers,
    Day,
    Exponential,
    Fixed,
    InvalidSimulation,
    Lognormal,
    RateProfile,
    Shift,
    Staff,
    Team,
    TicketClass,
    TraceError,
    build_scenario,
    build_staff,
    default_staff,
    generate_arrivals,
    generate_day,
    helpdesk_teams,
    load_staff,
    mmc_day,
    parse_skills,
    parse_staff,
    read_trace,
    write_trace,
)
from triage_queue.sim.model import MAX_HOURS

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600.0


def _within(observed: float, expected: float, sigma: float, k: float = 5.0) -> bool:
    return abs(observed - expected) <= k * sigma


# -- arrival rates --------------------------------------------------------------------


def test_piecewise_rates_are_honoured_per_segment() -> None:
    """Arrivals per segment match rate x length (within 5 Poisson standard
    deviations over 20 seeds), and a zero-rate segment gets none."""
    profile = RateProfile([(0.0, 100.0), (2 * HOUR, 400.0), (3 * HOUR, 0.0), (4 * HOUR, 50.0)], 6 * HOUR)
    expected = [200.0, 400.0, 0.0, 100.0]
    bounds = [0.0, 2 * HOUR, 3 * HOUR, 4 * HOUR, 6 * HOUR]
    totals = [0] * 4
    for seed in range(20):
        for t in profile.instants(random.Random(seed)):
            assert 0.0 <= t < 6 * HOUR
            index = next(i for i in range(4) if bounds[i] <= t < bounds[i + 1])
            totals[index] += 1
    for total, mean in zip(totals, expected, strict=True):
        mu = 20 * mean
        if mu == 0:
            assert total == 0
        else:
            assert _within(total, mu, math.sqrt(mu)), (total, mu)
    assert profile.expected_count() == sum(expected)


def test_arrival_gaps_are_exponential() -> None:
    """Gaps of a constant-rate profile have mean 1/rate and a coefficient of
    variation near 1 (Poisson arrivals), not regular spacing."""
    instants = RateProfile.constant(360.0, 0.0, 100 * HOUR).instants(random.Random(5))
    gaps = [b - a for a, b in itertools.pairwise(instants)]
    mean = statistics.fmean(gaps)
    assert _within(mean, 10.0, 10.0 / math.sqrt(len(gaps)))
    assert 0.95 < statistics.pstdev(gaps) / mean < 1.05


def test_rate_profile_helpers() -> None:
    """hourly() lays one rate per hour; rate_at reads the segment; scaled multiplies."""
    p = RateProfile.hourly([10.0, 0.0, 30.0], start=HOUR)
    assert [p.rate_at(t) for t in (0.0, HOUR, 2.5 * HOUR, 3.9 * HOUR, 4 * HOUR)] == [0.0, 10.0, 0.0, 30.0, 0.0]
    assert p.scaled(2).expected_count() == 80.0


@pytest.mark.parametrize(
    ("segments", "end", "field"),
    [
        ([(0.0, 10.0), (0.0, 5.0)], 100.0, "segments"),
        ([(0.0, -1.0)], 100.0, "tickets per hour"),
        ([], 100.0, "segments"),
        ([(50.0, 1.0)], 50.0, "end"),
        ("nope", 10.0, "segments"),
    ],
)
def test_rate_profile_rejects_bad_segments(segments: Any, end: float, field: str) -> None:
    """A bad profile raises InvalidSimulation naming the field."""
    with pytest.raises(InvalidSimulation) as info:
        RateProfile(segments, end)
    assert info.value.field == field


# -- distributions --------------------------------------------------------------------


def test_handling_distributions_have_the_stated_mean() -> None:
    """Exponential and lognormal samples average their stated mean (5 standard
    errors); the lognormal's median is mean * exp(-sigma^2/2); Fixed is fixed."""
    rng = random.Random(11)
    n = 20_000
    exp_samples = [Exponential(300.0).sample(rng) for _ in range(n)]
    assert all(x > 0 for x in exp_samples)
    assert _within(statistics.fmean(exp_samples), 300.0, 300.0 / math.sqrt(n))
    sigma = 0.5
    log = Lognormal(300.0, sigma)
    log_samples = [log.sample(rng) for _ in range(n)]
    sd = 300.0 * math.sqrt(math.exp(sigma**2) - 1)
    assert _within(statistics.fmean(log_samples), 300.0, sd / math.sqrt(n))
    assert abs(statistics.median(log_samples) / log.median - 1) < 0.03
    assert Fixed(42).sample(rng) == 42.0


def test_choice_frequencies_follow_weights() -> None:
    """Each option is drawn with its share of the weights (5 binomial sd)."""
    choice = Choice({"chat": 6, "email": 3, "phone": 1})
    rng = random.Random(3)
    n = 20_000
    counts = Counter(choice.sample(rng) for _ in range(n))
    for value, weight in (("chat", 0.6), ("email", 0.3), ("phone", 0.1)):
        assert _within(counts[value], n * weight, math.sqrt(n * weight * (1 - weight)))
        assert choice.probability(value) == pytest.approx(weight)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Exponential(0), "mean"),
        (lambda: Lognormal(100, -1), "sigma"),
        (lambda: Fixed(math.inf), "value"),
        (lambda: Choice({}), "options"),
        (lambda: Choice({"a": -1}), "weight of 'a'"),
        (lambda: TicketClass("x", RateProfile.constant(1, 0, 10), "slow"), "handling"),
        (lambda: TicketClass("x", RateProfile.constant(1, 0, 10), 60, severity="urgent"), "severity"),
        (lambda: TicketClass("x", RateProfile.constant(1, 0, 10), 60, complexity=Choice({9: 1})), "complexity"),
        (lambda: TicketClass("x", RateProfile.constant(1, 0, 10), 60, skills="billing:7"), "skills"),
        (lambda: TicketClass("", RateProfile.constant(1, 0, 10), 60), "name"),
        (lambda: TicketClass("x", 5.0, 60), "rate"),  # type: ignore[arg-type]
        (lambda: Customers(0), "count"),
        (lambda: Customers(10, tiers={"gold": 0.8, "silver": 0.5}), "tiers"),
        (lambda: Team("t", 0), "size"),
        (lambda: Team("t", 2, break_stagger=-5), "break_stagger"),
    ],
)
def test_generator_inputs_are_validated(make: Any, field: str) -> None:
    """Bad generator inputs raise InvalidSimulation naming the field."""
    with pytest.raises(InvalidSimulation) as info:
        make()
    assert info.value.field == field


def test_parse_skills_notation() -> None:
    """The compact notation reads levels (default 1) and rejects bad ones."""
    assert dict(parse_skills("billing:3;refunds, german:2")) == {"billing": 3, "refunds": 1, "german": 2}
    assert dict(parse_skills("")) == {}
    for bad in ("billing:0", "billing:x", ":3", "billing;billing:2"):
        with pytest.raises(InvalidSimulation):
            parse_skills(bad)


# -- generated days --------------------------------------------------------------------


def _classes() -> list[TicketClass]:
    return [
        TicketClass(
            "billing",
            RateProfile.hourly([60.0, 120.0], start=8 * HOUR),
            Lognormal(300.0, 0.5),
            severity=Choice({"normal": 0.9, "high": 0.1}),
            complexity=Choice({1: 0.5, 3: 0.5}),
            skills=Choice({"billing:2": 0.7, "billing:3;refunds": 0.3}),
            channel=Choice({"chat": 0.5, "email": 0.5}),
            patience=Exponential(900.0),
            follow_ups_per_hour=2.0,
        ),
        TicketClass("tech", RateProfile.constant(30.0, 8 * HOUR, 10 * HOUR), Exponential(600.0), skills="tech:1",
                    tier="gold"),
    ]


def test_same_seed_same_day_and_another_seed_another_day() -> None:
    """generate_day is a pure function of its arguments and seed."""
    staff = build_staff([Team("desk", 3, skills="billing:3;tech:2", start=8 * HOUR, end=10 * HOUR)])
    customers = Customers(200, tiers={"gold": 0.1})
    a = generate_day(_classes(), staff, seed=4, customers=customers)
    b = generate_day(_classes(), staff, seed=4, customers=customers)
    c = generate_day(_classes(), staff, seed=5, customers=customers)
    assert a == b
    assert a.arrivals != c.arrivals


def test_generated_tickets_follow_their_class() -> None:
    """Tickets carry values their class allows, ids follow arrival order,
    and every arrival lies in its class's profile."""
    arrivals = generate_arrivals(_classes(), seed=8, customers=Customers(100))
    assert [a.ticket.id for a in arrivals] == [f"T-{i:06d}" for i in range(1, len(arrivals) + 1)]
    assert [a.time for a in arrivals] == sorted(a.time for a in arrivals)
    billing = [a for a in arrivals if a.ticket_class == "billing"]
    tech = [a for a in arrivals if a.ticket_class == "tech"]
    assert billing and tech
    assert {a.ticket.severity for a in billing} <= {Severity.NORMAL, Severity.HIGH}
    assert {a.ticket.complexity for a in billing} == {1, 3}
    assert {a.ticket.channel for a in billing} == {"chat", "email"}
    assert {dict(a.ticket.skills).get("billing") for a in billing} == {2, 3}
    assert all(a.patience is not None for a in billing)
    assert {a.ticket.customer_tier for a in tech} == {"gold"}, "a class tier overrides the customer's"
    assert all(a.patience is None and a.follow_ups == () for a in tech)
    assert all(8 * HOUR <= a.time < 10 * HOUR for a in tech)


def test_follow_ups_arrive_at_their_rate_while_waiting() -> None:
    """With patience fixed at one hour and 2 follow-ups per waiting hour, a
    ticket gets 2 follow-ups on average, all before the customer gives up."""
    cls = TicketClass("q", RateProfile.constant(500.0, 0, 10 * HOUR), 60, patience=Fixed(HOUR), follow_ups_per_hour=2.0)
    arrivals = generate_arrivals([cls], seed=2)
    counts = [len(a.follow_ups) for a in arrivals]
    assert _within(statistics.fmean(counts), 2.0, math.sqrt(2.0 / len(counts)))
    assert all(0 < f < HOUR for a in arrivals for f in a.follow_ups)


def test_customers_repeat_and_tiers_have_their_share() -> None:
    """A skewed population gives repeat customers (the most active first);
    the tier shares are exact among customers."""
    customers = Customers(1000, tiers={"gold": 0.05, "silver": 0.1}, skew=1.0)
    ids, tiers, _ = customers.population(random.Random(1))
    assert Counter(tiers) == {None: 850, "silver": 100, "gold": 50}
    cls = TicketClass("q", RateProfile.constant(2000.0, 0, HOUR), 60)
    arrivals = generate_arrivals([cls], seed=1, customers=customers)
    seen = Counter(a.ticket.customer_id for a in arrivals)
    assert len(seen) < len(arrivals), "some customers write more than once"
    assert seen.most_common(1)[0][0] == ids[0]
    tier_of = dict(zip(ids, tiers, strict=True))
    assert all(a.ticket.customer_tier == tier_of[a.ticket.customer_id or ""] for a in arrivals)


def test_team_shifts_and_staggered_breaks_are_valid() -> None:
    """A team's members share the shift; breaks are staggered by group and
    stay inside the shift; ids are unique; proficiency jitter lowers levels
    only and is seeded."""
    team = Team("desk", 5, skills={"billing": 4}, capacity={"chat": 2, "*": 1}, start=8 * HOUR, end=16 * HOUR,
                breaks=[(12 * HOUR, 12.5 * HOUR)], break_groups=3, break_stagger=1800.0, proficiency_jitter=2)
    staff = build_staff([team], seed=3)
    assert len({s.agent.id for s in staff}) == 5
    starts = [s.shifts[0].breaks[0][0] for s in staff]
    assert starts == [12 * HOUR, 12.5 * HOUR, 13 * HOUR, 12 * HOUR, 12.5 * HOUR]
    for s in staff:
        (shift,) = s.shifts
        assert shift.start == 8 * HOUR and shift.end == 16 * HOUR
        assert all(shift.start <= b0 < b1 <= shift.end for b0, b1 in shift.breaks)
        assert 2 <= s.agent.skills["billing"] <= 4
        assert s.agent.capacity_for("chat") == 2
    assert build_staff([team], seed=3) == staff
    with pytest.raises(InvalidSimulation):
        build_staff([Team("late", 3, start=0, end=HOUR, breaks=[(3000, 3500)], break_groups=2, break_stagger=600)])
    assert build_staff([Team("all-day", 2)])[0].shifts == ()


def test_default_staff_covers_every_skill_and_the_load() -> None:
    """The default roster holds every skill of the trace and enough agents
    for the offered load at the target occupancy."""
    arrivals = [
        Arrival(Ticket(f"T{i}", 30.0 * i, skills={"billing": 2} if i % 2 else {"tech": 4}), handling_time=200.0)
        for i in range(200)
    ]
    staff = default_staff(arrivals, occupancy=0.8)
    work = 200 * 200.0
    span = 30.0 * 199
    assert len(staff) * span * 0.8 >= work
    assert (len(staff) - 1) * span * 0.8 < work
    assert all(dict(s.agent.skills) == {"billing": 5, "tech": 5} and not s.shifts for s in staff)
    assert default_staff([]) == ()
    with pytest.raises(InvalidSimulation):
        default_staff(arrivals, occupancy=1.5)


# -- scenarios ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_are_reproducible_and_valid(name: str) -> None:
    """Every scenario gives the same day for the same seed, and shifts that
    hold every agent's breaks."""
    a = build_scenario(name, seed=3, scale=0.2)
    assert a == build_scenario(name, seed=3, scale=0.2)
    assert a.arrivals and a.staff
    assert a.arrivals != build_scenario(name, seed=4, scale=0.2).arrivals
    assert SCENARIOS[name].description


def test_mmc_day_offers_the_stated_load() -> None:
    """The M/M/c day's arrival count matches load * c / mean * duration."""
    day = mmc_day(agents=8, load=0.9, mean_handling=120.0, hours=10.0, seed=9)
    expected = 0.9 * 8 / 120.0 * 10 * HOUR
    assert _within(len(day.arrivals), expected, math.sqrt(expected))
    assert len(day.staff) == 8 and all(s.shifts == () for s in day.staff)
    assert _within(statistics.fmean(a.handling_time for a in day.arrivals), 120.0, 120.0 / math.sqrt(len(day.arrivals)))
    for bad in ({"load": 1.0}, {"agents": 0}):
        with pytest.raises(InvalidSimulation):
            mmc_day(**bad)


def test_surge_adds_an_incident_hour_to_the_helpdesk_day() -> None:
    """The surge day is the helpdesk day plus incident tickets between 10:30 and 11:30."""
    surge = build_scenario("surge", seed=1, scale=0.5)
    incident = [a for a in surge.arrivals if a.ticket_class == "incident"]
    assert incident and all(10.5 * HOUR <= a.time < 11.5 * HOUR for a in incident)
    others = Counter(a.ticket_class for a in surge.arrivals if a.ticket_class != "incident")
    assert set(others) == {"billing", "technical", "account", "security"}


def test_scale_grows_rates_and_teams() -> None:
    """scale multiplies arrivals (about) and team sizes."""
    small = build_scenario("helpdesk-day", seed=1, scale=0.5)
    large = build_scenario("helpdesk-day", seed=1, scale=1.0)
    assert len(large.staff) == sum(t.size for t in helpdesk_teams()) > len(small.staff)
    assert 1.6 < len(large.arrivals) / len(small.arrivals) < 2.4
    with pytest.raises(InvalidSimulation):
        build_scenario("helpdesk-day", scale=0)
    with pytest.raises(InvalidSimulation) as info:
        build_scenario("weekend")
    assert info.value.field == "scenario"


# -- traces ---------------------------------------------------------------------------

GOOD_ROW = {
    "id": "T-1",
    "created": "100",
    "class": "billing",
    "severity": "high",
    "tier": "gold",
    "complexity": "2",
    "skills": "billing:3;refunds",
    "customer": "C-1",
    "channel": "chat",
    "handling_time": "300",
    "patience": "900",
    "follow_ups": "60;120",
    "contacts": "1",
    "sla_due": "400",
}
COLUMNS = list(GOOD_ROW)


def _csv(tmp_path: Path, rows: list[dict[str, str]], columns: list[str] = COLUMNS, name: str = "day.csv") -> Path:
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_good_trace_reads_every_column(tmp_path: Path) -> None:
    """Every column lands where it belongs."""
    day = read_trace(_csv(tmp_path, [GOOD_ROW]))
    (a,) = day.arrivals
    t = a.ticket
    assert (t.id, t.created_at, t.severity, t.customer_tier, t.complexity) == ("T-1", 100.0, Severity.HIGH, "gold", 2)
    assert dict(t.skills) == {"billing": 3, "refunds": 1}
    assert (t.customer_id, t.channel, t.contacts, t.sla_due) == ("C-1", "chat", 1, 400.0)
    assert (a.ticket_class, a.handling_time, a.patience, a.follow_ups) == ("billing", 300.0, 900.0, (60.0, 120.0))
    assert day.name == "day" and day.staff == ()


BAD_CELLS = [
    ("created", "yesterday"),
    ("created", "-5"),
    ("handling_time", "0"),
    ("handling_time", "nan"),
    ("severity", "urgent"),
    ("complexity", "7"),
    ("complexity", "two"),
    ("skills", "billing:9"),
    ("patience", "-1"),
    ("follow_ups", "30;soon"),
    ("contacts", "0"),
    ("sla_due", "tomorrow"),
]


@pytest.mark.parametrize(("column", "value"), BAD_CELLS)
def test_every_bad_csv_cell_names_file_line_and_column(tmp_path: Path, column: str, value: str) -> None:
    """A bad cell on the third line raises TraceError with that line, column and value."""
    bad = dict(GOOD_ROW, id="T-2", **{column: value})
    path = _csv(tmp_path, [GOOD_ROW, bad])
    with pytest.raises(TraceError) as info:
        read_trace(path)
    err = info.value
    assert (err.line, err.column, err.value) == (3, column, value)
    assert str(path) in str(err) and "line 3" in str(err) and repr(column) in str(err)


@pytest.mark.parametrize(("column", "value"), [*BAD_CELLS, ("handling_time", True), ("follow_ups", ["x"])])
def test_every_bad_jsonl_value_names_line_and_column(tmp_path: Path, column: str, value: Any) -> None:
    """The same for JSON Lines, where line 1 is the first record."""
    path = tmp_path / "day.jsonl"
    bad = dict(GOOD_ROW, id="T-2", **{column: value})
    path.write_text(json.dumps(GOOD_ROW) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert (info.value.line, info.value.column) == (3, column)


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    """A repeated id is reported on its second line, naming the first."""
    with pytest.raises(TraceError) as info:
        read_trace(_csv(tmp_path, [GOOD_ROW, dict(GOOD_ROW)]))
    assert (info.value.line, info.value.column) == (3, "id")
    assert "line 2" in info.value.reason


def test_header_and_shape_errors(tmp_path: Path) -> None:
    """Unknown or missing columns are reported on line 1; a row of the wrong
    length on its own line; JSON that is not an object likewise."""
    with pytest.raises(TraceError) as info:
        read_trace(_csv(tmp_path, [GOOD_ROW], [*COLUMNS, "priorty"]))
    assert (info.value.line, info.value.column) == (1, "priorty")
    day = read_trace(_csv(tmp_path, [GOOD_ROW], [*COLUMNS, "priorty"]), ignore_unknown_columns=True)
    assert len(day.arrivals) == 1
    with pytest.raises(TraceError) as info:
        read_trace(_csv(tmp_path, [GOOD_ROW], [c for c in COLUMNS if c != "handling_time"]))
    assert (info.value.line, info.value.column) == (1, "handling_time")
    path = tmp_path / "short.csv"
    path.write_text("created,handling_time\n1,2\n3\n")
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert (info.value.line, info.value.column) == (3, None)
    path = tmp_path / "list.jsonl"
    path.write_text('{"created": 1, "handling_time": 2}\n[1, 2]\n{"created": 1\n')
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.line == 2
    path.write_text('{"created": 1, "handling_time": 2}\n{"created": 1\n')
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.line == 2 and "JSON" in info.value.reason
    path.write_text('{"created": 1}\n')
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert (info.value.line, info.value.column) == (1, "handling_time")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TraceError):
        read_trace(tmp_path / "empty.csv")


def test_format_comes_from_the_extension_or_the_argument(tmp_path: Path) -> None:
    """.csv and .jsonl are recognised; another extension needs format=;
    a missing file raises InvalidSimulation naming the path."""
    path = _csv(tmp_path, [GOOD_ROW], name="day.txt")
    with pytest.raises(InvalidSimulation) as info:
        read_trace(path)
    assert info.value.field == "format"
    assert len(read_trace(path, format="csv").arrivals) == 1
    with pytest.raises(InvalidSimulation) as info:
        read_trace(tmp_path / "missing.csv")
    assert info.value.field == "path"


def test_iso_timestamps_count_from_midnight_of_the_earliest(tmp_path: Path) -> None:
    """ISO-8601 instants become seconds since midnight of the earliest
    timestamp's date, in its offset; later days keep counting; the offsets
    are honoured; sla_due follows the same rule."""
    rows = [
        {"created": "2026-03-02T09:00:00+01:00", "handling_time": "60", "sla_due": "2026-03-02T10:00:00+01:00"},
        {"created": "2026-03-02T08:30:00+01:00", "handling_time": "60"},
        {"created": "2026-03-03T07:30:00+00:00", "handling_time": "60"},
    ]
    day = read_trace(_csv(tmp_path, rows, ["created", "handling_time", "sla_due"]))
    assert [a.time for a in day.arrivals] == [8.5 * HOUR, 9 * HOUR, 24 * HOUR + 8.5 * HOUR]
    assert day.arrivals[1].ticket.sla_due == 10 * HOUR
    naive = read_trace(_csv(tmp_path, [{"created": "2026-03-02 08:15:30", "handling_time": "5"}], ["created", "handling_time"]))
    assert naive.arrivals[0].time == 8 * HOUR + 15 * 60 + 30


@pytest.mark.parametrize(
    "second",
    ["120", "2026-03-02T08:00:00+00:00"],
)
def test_instants_of_one_kind_only(tmp_path: Path, second: str) -> None:
    """Numbers, naive and zone-aware timestamps cannot be mixed; the row
    that breaks the rule is named."""
    first = "2026-03-02T08:00:00" if second[0] == "2" else "2026-03-02T08:00:00+00:00"
    rows = [{"created": first, "handling_time": "1"}, {"id": "b", "created": second, "handling_time": "1"}]
    with pytest.raises(TraceError) as info:
        read_trace(_csv(tmp_path, rows, ["id", "created", "handling_time"]))
    assert (info.value.line, info.value.column) == (3, "created")


def test_column_aliases_and_empty_cells(tmp_path: Path) -> None:
    """created_at, ticket_class, customer_tier and customer_id name the same
    columns; empty cells take the defaults; ids default to the line."""
    path = tmp_path / "day.csv"
    path.write_text("created_at,ticket_class,customer_tier,customer_id,handling_time,severity\n5,,gold,,60,\n")
    (a,) = read_trace(path).arrivals
    assert (a.ticket.id, a.ticket_class, a.ticket.customer_tier, a.ticket.customer_id, a.ticket.severity) == (
        "L2", "default", "gold", None, Severity.NORMAL,
    )


def test_severity_may_be_a_number_as_documented(tmp_path: Path) -> None:
    """Severity 1..4 reads from a CSV cell (text, spaces allowed) and from
    JSON as an int or a whole float; other numbers are refused by name."""
    path = tmp_path / "day.csv"
    path.write_text("created,handling_time,severity\n0,10,3\n1,10, 4 \n2,10,1\n")
    assert [a.ticket.severity for a in read_trace(path).arrivals] == [Severity.HIGH, Severity.CRITICAL, Severity.LOW]
    lines = path.with_suffix(".jsonl")
    lines.write_text('{"created": 0, "handling_time": 10, "severity": 4.0}\n{"created": 1, "handling_time": 10, "severity": 2}\n')
    assert [a.ticket.severity for a in read_trace(lines).arrivals] == [Severity.CRITICAL, Severity.NORMAL]
    for bad in ("5", "0", "2.5", "-1", "³"):
        path.write_text(f"created,handling_time,severity\n0,10,{bad}\n")
        with pytest.raises(TraceError) as info:
            read_trace(path)
        assert (info.value.line, info.value.column, info.value.value) == (2, "severity", bad)
    lines.write_text('{"created": 0, "handling_time": 10, "severity": 4.5}\n')
    with pytest.raises(TraceError) as info:
        read_trace(lines)
    assert (info.value.column, info.value.value) == ("severity", 4.5)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_jsonl_lines_end_only_at_newline(tmp_path: Path, separator: str) -> None:
    """A character that str.splitlines() treats as a line end but JSON
    allows raw inside a string stays in the value, and later lines keep
    their numbers (CRLF lines read too)."""
    path = tmp_path / "day.jsonl"
    record = '{"created": 0, "handling_time": 10, "tier": "gold' + separator + 'x"}'
    path.write_text(record + "\r\n" + '{"created": 1, "handling_time": 10}\r\n', newline="")
    day = read_trace(path)
    assert [(a.ticket.id, a.ticket.customer_tier) for a in day.arrivals] == [("L1", "gold" + separator + "x"), ("L2", None)]
    path.write_text(record + "\n" + '{"created": 1, "handling_time": "soon"}\n')
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert (info.value.line, info.value.column) == (2, "handling_time")


@pytest.mark.parametrize("control", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e"])
def test_jsonl_control_characters_do_not_cut_a_line(tmp_path: Path, control: str) -> None:
    """JSON forbids these raw in a string: the error shows the whole line
    as written, and a record after one is not read as a separate line."""
    path = tmp_path / "day.jsonl"
    record = '{"created": 0, "handling_time": 10, "tier": "gold' + control + 'x"}'
    path.write_text(record + "\n")
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert (info.value.line, info.value.column, info.value.value) == (1, None, record)
    path.write_text('{"created": 0, "handling_time": 10}' + control + '{"created": 1, "handling_time": 10}\n')
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.line == 1 and "JSON" in info.value.reason


def test_a_quoted_multi_line_csv_row_is_named_by_its_first_line(tmp_path: Path) -> None:
    """A row whose quoted cell spans lines is reported, and named by
    default, at the line where it starts; the rows after keep their own lines."""
    path = tmp_path / "day.csv"
    path.write_text('created,handling_time,tier\n0,x,"go\nld"\n')
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert (info.value.line, info.value.column) == (2, "handling_time")
    assert "line 2," in str(info.value)
    path.write_text('created,handling_time,customer\n0,10,"a\nb"\n1,10,c\n')
    assert [(a.ticket.id, a.ticket.customer_id) for a in read_trace(path).arrivals] == [("L2", "a\nb"), ("L4", "c")]


@pytest.mark.parametrize("value", [True, False, [0], {"at": 0}])
def test_an_instant_that_is_not_a_number_or_text_says_what_is_expected(tmp_path: Path, value: Any) -> None:
    """JSON true is no instant (not 1 second, not "expected text")."""
    path = tmp_path / "day.jsonl"
    path.write_text(json.dumps({"created": value, "handling_time": 5}) + "\n")
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert (info.value.column, info.value.value) == ("created", value)
    assert info.value.reason == "expected seconds >= 0 or an ISO-8601 timestamp"


_NAME = st.text(alphabet="abcXYZ019-_ ,\"'./é", min_size=1, max_size=8).filter(lambda s: s == s.strip())
_SKILL = st.text(alphabet="abcxyz_-", min_size=1, max_size=6)
_SECONDS = st.floats(min_value=0.0, max_value=MAX_HOURS * 3600.0, allow_nan=False, allow_infinity=False)
_POSITIVE = st.floats(min_value=1e-6, max_value=1e7, allow_nan=False, allow_infinity=False)


@st.composite
def _arrivals(draw: Any) -> tuple[Arrival, ...]:
    count = draw(st.integers(0, 6))
    ids = draw(st.lists(_NAME, min_size=count, max_size=count, unique=True))
    result = []
    for ticket_id in ids:
        created = draw(_SECONDS)
        ticket = Ticket(
            ticket_id,
            created,
            severity=draw(st.sampled_from(list(Severity))),
            customer_tier=draw(st.none() | _NAME),
            complexity=draw(st.integers(1, 5)),
            skills=draw(st.dictionaries(_SKILL, st.integers(1, 5), max_size=3)),
            contacts=draw(st.integers(1, 5)),
            sla_due=draw(st.none() | _SECONDS),
            customer_id=draw(st.none() | _NAME),
            channel=draw(st.none() | _NAME),
        )
        result.append(
            Arrival(
                ticket,
                handling_time=draw(_POSITIVE),
                ticket_class=draw(_NAME),
                patience=draw(st.none() | _POSITIVE),
                follow_ups=draw(st.lists(_POSITIVE, max_size=3)),
            )
        )
    return tuple(result)


@given(arrivals=_arrivals(), fmt=st.sampled_from(["csv", "jsonl"]))
def test_write_then_read_gives_the_same_arrivals(tmp_path_factory: pytest.TempPathFactory, arrivals: tuple[Arrival, ...], fmt: str) -> None:
    """write_trace then read_trace reproduces every arrival exactly, in CSV and JSON Lines."""
    path = tmp_path_factory.mktemp("trace") / f"day.{fmt}"
    day = Day(arrivals, [])
    write_trace(day, path)
    assert read_trace(path).arrivals == day.arrivals


def test_generated_days_round_trip(tmp_path: Path) -> None:
    """A scenario's day survives a trace round trip."""
    day = build_scenario("surge", seed=2, scale=0.1)
    write_trace(day, tmp_path / "surge.csv")
    assert read_trace(tmp_path / "surge.csv", staff=day.staff, name=day.name).arrivals == day.arrivals


def test_write_trace_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    """Attributes and preferred skills have no column: nothing is written."""
    day = Day([Arrival(Ticket("T", 0.0, attributes={"vip": True}), 10.0)], [])
    path = tmp_path / "x.csv"
    with pytest.raises(InvalidSimulation):
        write_trace(day, path)
    assert not path.exists()


@pytest.mark.parametrize(
    ("field", "ticket", "arrival_options"),
    [
        ("tier", Ticket("T-1", 0.0, customer_tier=" gold"), {}),
        ("customer", Ticket("T-1", 0.0, customer_id="c 1 "), {}),
        ("channel", Ticket("T-1", 0.0, channel="chat\n"), {}),
        ("channel", Ticket("T-1", 0.0, channel="\u2028chat"), {}),
        ("class", Ticket("T-1", 0.0), {"ticket_class": "billing "}),
        ("id", Ticket("T-1 ", 0.0), {}),
        ("skills", Ticket("T-1", 0.0, skills={"de:ch": 2}), {}),
        ("skills", Ticket("T-1", 0.0, skills=["billing;refunds"]), {}),
        ("skills", Ticket("T-1", 0.0, skills=["a,b"]), {}),
        ("skills", Ticket("T-1", 0.0, skills=[" german"]), {}),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_write_trace_refuses_values_that_would_read_back_different(
    tmp_path: Path, field: str, ticket: Ticket, arrival_options: dict[str, Any], fmt: str
) -> None:
    """Text with surrounding spaces (read back stripped) and skill names
    holding a separator (read back split) raise InvalidSimulation naming
    the field and the ticket, and nothing is written."""
    path = tmp_path / f"day.{fmt}"
    day = Day([Arrival(Ticket("T-0", 0.0), 10.0), Arrival(ticket, 10.0, **arrival_options)], [])
    with pytest.raises(InvalidSimulation) as info:
        write_trace(day, path)
    assert info.value.field == field
    assert repr(ticket.id) in str(info.value)
    assert not path.exists()


_ANY_TEXT = st.text(alphabet="ab :;,\n\r\t\u2028\x85", min_size=1, max_size=5)


@given(
    tier=st.none() | _ANY_TEXT,
    customer=st.none() | _ANY_TEXT,
    channel=st.none() | _ANY_TEXT,
    ticket_class=_ANY_TEXT,
    skills=st.dictionaries(_ANY_TEXT, st.integers(1, 5), max_size=2),
    fmt=st.sampled_from(["csv", "jsonl"]),
)
def test_what_write_trace_accepts_reads_back_equal(
    tmp_path_factory: pytest.TempPathFactory,
    tier: str | None,
    customer: str | None,
    channel: str | None,
    ticket_class: str,
    skills: dict[str, int],
    fmt: str,
) -> None:
    """For text full of spaces, separators and line breaks, write_trace
    either refuses the day (writing nothing) or keeps its promise that
    read_trace gives the same arrivals back."""
    path = tmp_path_factory.mktemp("trace") / f"day.{fmt}"
    ticket = Ticket("T-1", 0.0, customer_tier=tier, customer_id=customer, channel=channel, skills=skills)
    day = Day([Arrival(ticket, 10.0, ticket_class=ticket_class)], [])
    try:
        write_trace(day, path)
    except InvalidSimulation:
        assert not path.exists()
        return
    assert read_trace(path).arrivals == day.arrivals


def test_example_trace_is_the_documented_generated_day() -> None:
    """examples/traces/example-day.csv is the helpdesk day of seed 7, as
    docs/simulation.md says, and stays under 500 KB."""
    path = ROOT / "examples" / "traces" / "example-day.csv"
    assert path.stat().st_size < 500_000
    assert read_trace(path).arrivals == build_scenario("helpdesk-day", seed=7).arrivals
    assert "--scenario helpdesk-day --seed 7 --save-trace examples/traces/example-day.csv" in (
        ROOT / "docs" / "simulation.md"
    ).read_text()


# -- staff files ----------------------------------------------------------------------


def test_example_staff_file_is_the_helpdesk_roster() -> None:
    """examples/staff/helpdesk.toml describes the helpdesk-day scenario's staff."""
    assert load_staff(ROOT / "examples" / "staff" / "helpdesk.toml") == build_staff(helpdesk_teams())


def test_staff_file_agents_and_times() -> None:
    """Single agents with several shifts, TOML local times and seconds."""
    staff = parse_staff(
        """
        [[agent]]
        id = "ana"
        skills = "billing:3"
        capacity = { chat = 3, phone = 1 }
        dedicated_customers = ["C-1"]
        shifts = [{ start = 08:00:00, end = "12:00", breaks = [["10:00", 36900]] }, { start = "13:00", end = "17:30" }]
        """
    )
    (ana,) = staff
    assert ana.agent == Agent("ana", skills={"billing": 3}, capacity={"chat": 3, "phone": 1}, dedicated_customers={"C-1"})
    assert ana.shifts == (Shift(8 * HOUR, 12 * HOUR, breaks=[(10 * HOUR, 36900.0)]), Shift(13 * HOUR, 17.5 * HOUR))
    assert isinstance(ana, Staff)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[[team]]\nname = "a"\nsize = 2\nsklls = "x"\n', "team[1].sklls"),
        ('[[team]]\nname = "a"\n', "team[1].size"),
        ('[[team]]\nname = "a"\nsize = 1\nshift = ["08:00", "25:99"]\n', "team[1].shift"),
        ('[[team]]\nname = "a"\nsize = 1\nshift = ["18:00", "08:00"]\n', "team[1].shift"),
        ('[[team]]\nname = "a"\nsize = 1\nshift = ["08:00"]\n', "team[1].shift"),
        ('[[team]]\nname = "a"\nsize = 1\nshift = "08:00-16:00"\n', "team[1].shift"),
        ('[[agent]]\nid = "a"\nshifts = {start = "08:00", end = "16:00"}\n', "agent[1].shifts"),
        ('[[agent]]\nid = "a"\nshifts = "08:00-16:00"\n', "agent[1].shifts"),
        ('[[team]]\nname = "a"\nsize = 1\nbreaks = [["10:00", "10:15"]]\n', "team[1].breaks"),
        ('[[team]]\nname = "a"\nsize = 1\nskills = "billing:8"\n', "team[1].skills"),
        ('[[team]]\nname = "a"\nsize = 1\ncapacity = -1\n', "team[1].capacity"),
        ('[[agent]]\nid = "a"\nshifts = [{start = "09:00", end = "08:00"}]\n', "agent[1].shifts[0].end"),
        ('[[agent]]\nid = "a"\n[[agent]]\nid = "a"\n', "agent id"),
        ('[[agent]]\nname = "a"\n', "agent[1].name"),
        ("seed = 1\n", "staff"),
        ("[[crew]]\n", "staff.crew"),
    ],
)
def test_staff_file_errors_name_the_key(text: str, field: str) -> None:
    """Every mistake in a staff file names its key, after the file name."""
    with pytest.raises(InvalidSimulation) as info:
        parse_staff(text, source="staff.toml")
    assert info.value.field == f"staff.toml: {field}"
    assert str(info.value).startswith("staff.toml: ")


@pytest.mark.parametrize(
    ("text", "field", "written", "reason"),
    [
        ('[[team]]\nname = "a"\nsize = 1\nshift = ["18:00", "08:00"]\n', "team[1].shift", ["18:00", "08:00"], "end after"),
        ('[[team]]\nname = "a"\nsize = 1\nshift = ["08:00", "25:99"]\n', "team[1].shift", ["08:00", "25:99"], "'25:99'"),
        ('[[agent]]\nid = "a"\nshifts = {start = "08:00", end = "16:00"}\n', "agent[1].shifts",
         {"start": "08:00", "end": "16:00"}, "expected an array of tables"),
        ('[[agent]]\nid = "a"\nshifts = [{start = "18:00", end = "08:00"}]\n', "agent[1].shifts[0].end", "08:00", "end after"),
    ],
)
def test_staff_file_errors_show_the_value_as_written(text: str, field: str, written: Any, reason: str) -> None:
    """A shift mistake shows what the user wrote under the key they wrote
    it (a team's single ``shift`` pair; an agent's ``shifts`` array), not a
    converted number or a key the file does not have."""
    with pytest.raises(InvalidSimulation) as info:
        parse_staff(text, source="staff.toml")
    assert info.value.field == f"staff.toml: {field}"
    assert info.value.value == written
    assert reason in info.value.reason


def test_staff_file_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    """A staff file saved as "UTF-8 with BOM" reads like any other."""
    path = tmp_path / "staff.toml"
    path.write_bytes(b'\xef\xbb\xbf[[agent]]\nid = "ana"\nskills = "billing:2"\n')
    (ana,) = load_staff(path)
    assert ana.agent == Agent("ana", skills={"billing": 2})


def test_staff_file_syntax_and_missing_file(tmp_path: Path) -> None:
    """Bad TOML and an unreadable file raise InvalidSimulation naming the file."""
    with pytest.raises(InvalidSimulation) as info:
        parse_staff("[[team]\n", source="s.toml")
    assert "s.toml" in str(info.value)
    with pytest.raises(InvalidSimulation) as info:
        load_staff(tmp_path / "none.toml")
    assert info.value.field == "path"
