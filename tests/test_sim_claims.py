"""Service-level claims and the figures they read.

* Figures (counts, nearest-rank percentiles, mean, SLA attainment,
  abandonment, fairness) equal a naive recomputation from the outcomes.
* A claim holds exactly when the naive figure satisfies it; a failing claim
  raises AssertionError showing the measured figure and the claim.
* Text claims and ServiceLevel values agree (parse of the rendered text
  gives the same claim); units convert; malformed claims raise InvalidClaim
  naming the text.
"""

from __future__ import annotations

import math
import operator

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from triage_queue import Agent, Policy, Ticket
from triage_queue.sim.claims import InvalidClaim, ServiceLevel, assert_service_level, check_service_level
from triage_queue.sim.engine import simulate
from triage_queue.sim.model import Arrival, Day, InvalidSimulation, Shift, Staff
from triage_queue.sim.results import AgentOutcome, Fairness, SimulationResult, TicketOutcome, nearest_rank

TIERS = [None, "gold", "silver"]
CLASSES = ["chat", "email"]


@st.composite
def outcomes(draw: st.DrawFn) -> TicketOutcome:
    arrived = float(draw(st.integers(0, 1000)))
    fate = draw(st.sampled_from(["served", "abandoned", "unanswered"]))
    wait = float(draw(st.integers(0, 600)))
    sla = draw(st.none() | st.integers(0, 600).map(float))
    return TicketOutcome(
        f"T{draw(st.integers())}",
        draw(st.sampled_from(CLASSES)),
        draw(st.sampled_from(TIERS)),
        draw(st.sampled_from(["normal", "high"])),
        draw(st.sampled_from(["-", "billing"])),
        arrived=arrived,
        answered=arrived + wait if fate == "served" else None,
        completed=arrived + wait + 10 if fate == "served" else None,
        abandoned=arrived + wait if fate == "abandoned" else None,
        agent_id="ana" if fate == "served" else None,
        sla_due=None if sla is None else arrived + sla,
        waited=wait if fate == "unanswered" else None,
    )


def build(items: list[TicketOutcome]) -> SimulationResult:
    return SimulationResult.build(
        policy="p",
        day="d",
        start=0.0,
        end=2000.0,
        outcomes=items,
        agents=[AgentOutcome("ana", sum(o.completed is not None for o in items), 10.0 * len(items), 2000.0)],
        queue_length=[(0.0, 0)],
        events=2 * len(items),
    )


def naive_percentile(values: list[float], percent: float) -> float | None:
    """Nearest rank by its definition: the smallest observed v with at least percent % of values <= v."""
    for v in sorted(values):
        if sum(x <= v for x in values) * 100 >= percent * len(values) - 1e-9:
            return v
    return None


@given(st.lists(st.integers(0, 50).map(float), max_size=40), st.floats(0, 100))
def test_nearest_rank_matches_its_definition(values: list[float], percent: float) -> None:
    """nearest_rank gives the smallest observed value with at least p % of the values at or below it."""
    assert nearest_rank(sorted(values), percent) == naive_percentile(values, percent)


@given(st.lists(outcomes(), max_size=30))
def test_figures_match_a_naive_recomputation(items: list[TicketOutcome]) -> None:
    """Per tier and overall: counts, mean and max wait of answered tickets,
    SLA attainment (abandoned and unanswered count as missed), abandonment;
    Jain's index over class mean waits."""
    result = build(items)
    for tier, figures in [*((t or "standard", result.by_tier.get(t or "standard")) for t in TIERS), (None, result.overall)]:
        group = [o for o in items if tier is None or (o.tier or "standard") == tier]
        if figures is None:
            assert not group
            continue
        waits = [o.answered - o.arrived for o in group if o.answered is not None]
        assert figures.count == len(group)
        assert figures.answered == len(waits) == figures.served
        assert figures.abandoned == sum(o.abandoned is not None for o in group)
        assert figures.unanswered == figures.count - figures.answered - figures.abandoned
        assert figures.wait_max == (max(waits) if waits else None)
        assert figures.wait_mean == (pytest.approx(sum(waits) / len(waits)) if waits else None)
        assert figures.wait_p90 == naive_percentile(waits, 90)
        with_sla = [o for o in group if o.sla_due is not None]
        met = [o for o in with_sla if o.answered is not None and o.answered <= o.sla_due]  # type: ignore[operator]
        assert figures.sla_attainment == (len(met) / len(with_sla) if with_sla else None)
    # Fairness counts every ticket's wait: until answered, until abandoned,
    # or (never answered) the time it was left waiting.
    def waited(o: TicketOutcome) -> float:
        end = o.answered if o.answered is not None else o.abandoned
        return end - o.arrived if end is not None else o.waited  # type: ignore[return-value]

    means = [sum(ws) / len(ws) for c in CLASSES if (ws := [waited(o) for o in items if o.ticket_class == c])]
    if not means:
        assert result.fairness.jain_index is None
    elif any(means):
        assert result.fairness.jain_index == pytest.approx(sum(means) ** 2 / (len(means) * sum(m * m for m in means)))
    else:
        assert result.fairness.jain_index == 1.0
    all_waits = [waited(o) for o in items]
    median = naive_percentile(all_waits, 50)
    assert result.fairness.max_to_median == (pytest.approx(max(all_waits) / median) if median else None)


OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


@given(
    st.lists(outcomes(), max_size=30),
    st.integers(1, 100),
    st.sampled_from(list(OPS)),
    st.integers(0, 600),
    st.sampled_from(TIERS),
)
def test_a_wait_claim_holds_exactly_when_the_naive_figure_satisfies_it(
    items: list[TicketOutcome], percent: int, op: str, threshold: int, tier: str | None
) -> None:
    """'pNN wait of tier X <op> T s' passes iff the naive percentile of the
    tier's answered waits satisfies it; otherwise AssertionError names the
    claim and the measured value."""
    result = build(items)
    tier_name = tier or "standard"
    claim = f"p{percent} wait of tier {tier_name} {op} {threshold} s"
    waits = [o.answered - o.arrived for o in items if o.answered is not None and (o.tier or "standard") == tier_name]
    expected = naive_percentile(waits, percent)
    holds = expected is not None and OPS[op](expected, float(threshold))
    if holds:
        assert_service_level(result, claim)
    else:
        with pytest.raises(AssertionError) as caught:
            assert_service_level(result, claim)
        assert claim in str(caught.value)
        assert (f"measured {expected:.6g} s" if expected is not None else "nothing to measure") in str(caught.value)


@given(st.lists(outcomes(), min_size=1, max_size=30), st.integers(0, 100), st.sampled_from(CLASSES))
def test_share_claims_read_percent_and_fractions_alike(items: list[TicketOutcome], percent: int, cls: str) -> None:
    """'abandonment of class X <= N%' and '<= N/100' are the same claim, and
    hold iff the naive share satisfies them."""
    result = build(items)
    group = [o for o in items if o.ticket_class == cls]
    assume(group)
    share = sum(o.abandoned is not None for o in group) / len(group)
    verdicts = [
        check_service_level(result, f"abandonment of class {cls} <= {percent}%"),
        check_service_level(result, f"abandonment of class {cls} <= {percent / 100}"),
    ]
    assert verdicts[0].claim == verdicts[1].claim
    assert verdicts[0].holds == verdicts[1].holds == (share <= percent / 100 + 1e-12)
    assert verdicts[0].measured == pytest.approx(share)


@st.composite
def service_levels(draw: st.DrawFn) -> ServiceLevel:
    metric = draw(st.sampled_from(["wait_percentile", "wait_mean", "wait_max", "sla_attainment", "abandonment"]))
    threshold = draw(st.integers(0, 10_000)) if metric.startswith("wait") else draw(st.integers(0, 100)) / 100
    where = draw(
        st.lists(st.tuples(st.sampled_from(["tier", "class", "severity", "skills"]), st.sampled_from(["gold", "a+b", "x"])), max_size=2)
    )
    return ServiceLevel(
        metric,
        threshold,
        op=draw(st.sampled_from(list(OPS))),
        percentile=draw(st.integers(1, 100)) if metric == "wait_percentile" else None,
        where=tuple(where),
    )


@given(service_levels())
def test_rendered_claims_parse_back_to_the_same_claim(claim: ServiceLevel) -> None:
    """ServiceLevel's text, read by the parser, gives an equal ServiceLevel."""
    assert ServiceLevel.parse(claim.text) == claim


def test_units_and_case() -> None:
    """min and h convert to seconds; words are case-insensitive; median is p50."""
    assert ServiceLevel.parse("Mean Wait of Tier gold < 1.5 min").threshold == 90.0
    assert ServiceLevel.parse("max wait >= 2 h").threshold == 7200.0
    assert ServiceLevel.parse("median wait <= 30").percentile == 50.0
    assert ServiceLevel.parse("sla attainment of tier gold and class chat >= 95%").where == (("tier", "gold"), ("class", "chat"))


@pytest.mark.parametrize(
    "text",
    [
        "p95 of tier gold <= 120 s",  # no metric word
        "p95 wait of tier gold",  # no comparison
        "p95 wait of tier gold == 120 s",  # unknown operator
        "p0 wait <= 1 s",  # percentile out of range
        "p101 wait <= 1 s",
        "p95 wait of colour gold <= 120 s",  # unknown filter
        "p95 wait of tier <= 120 s",  # filter without a value
        "p95 wait <= 120 %",  # a wait in %
        "p95 wait <= 120 parsecs",  # unknown unit
        "abandonment <= 5 s",  # a share in seconds
        "abandonment <= 150%",  # a share above 1
        "fairness of tier gold >= 0.9",  # fairness takes no filter
        "occupancy of tier gold >= 50%",  # occupancy by agent only
    ],
)
def test_malformed_claims_raise_invalid_claim_naming_the_text(text: str) -> None:
    """Every malformed claim is a project error whose message quotes it."""
    with pytest.raises(InvalidClaim) as caught:
        assert_service_level(build([]), text)
    assert caught.value.field == "claim" and caught.value.value == text
    assert isinstance(caught.value, InvalidSimulation)


def test_a_malformed_claim_is_reported_before_anything_is_measured() -> None:
    """A good failing claim next to a malformed one: the malformed one wins."""
    with pytest.raises(InvalidClaim):
        assert_service_level(build([]), "mean wait <= 1 s", "nonsense")


def test_every_failing_claim_is_reported_at_once() -> None:
    """Two failing claims give two lines; passing claims add none."""
    items = [TicketOutcome("T", "chat", "gold", "normal", "-", arrived=0.0, answered=100.0, completed=110.0, agent_id="ana")]
    with pytest.raises(AssertionError) as caught:
        assert_service_level(build(items), "max wait <= 60 s", "mean wait <= 200 s", "p50 wait of tier gold < 1 min")
    lines = str(caught.value).splitlines()
    assert lines == [
        "service level not met: 'max wait <= 60 s': measured 100 s",
        "service level not met: 'p50 wait of tier gold < 1 min': measured 100 s",
    ]


def test_a_claim_over_nothing_fails() -> None:
    """No matching ticket (a misspelt tier, say) is not a pass."""
    items = [TicketOutcome("T", "chat", "gold", "normal", "-", arrived=0.0, answered=1.0)]
    verdict = check_service_level(build(items), "p95 wait of tier gld <= 1 h")
    assert not verdict.holds and verdict.measured is None
    assert not check_service_level(build(items), "sla attainment >= 0%").holds  # no ticket has an SLA


def test_occupancy_and_fairness_claims() -> None:
    """Occupancy over all agents or one; fairness is Jain's index."""
    result = build([TicketOutcome("T", "chat", None, "normal", "-", arrived=0.0, answered=5.0, completed=15.0, agent_id="ana")])
    assert_service_level(result, "occupancy <= 1%", "occupancy of agent ana >= 0.5%", "fairness >= 1")
    assert check_service_level(result, "occupancy of agent bo >= 0%").measured is None
    assert Fairness.of([1.0, 3.0], None).jain_index == pytest.approx(16 / 20)


def test_occupancy_claims_may_exceed_100_percent() -> None:
    """An agent with capacity 2 works two tickets at once: occupancy 2.0,
    and a claim about it may say so (other shares stay at most 1)."""
    day = Day([Arrival(Ticket(f"T{i}", 0.0), 100.0) for i in range(2)], [Staff(Agent("ana", capacity=2), [Shift(0, 100)])])
    result = simulate(day, Policy.default())
    assert result.occupancy == 2.0
    assert_service_level(result, "occupancy <= 200%", "occupancy >= 1.5", "occupancy of agent ana > 150 %")
    assert not check_service_level(result, "occupancy <= 150%").holds
    assert ServiceLevel("occupancy", 1.5, op=">=").text == "occupancy >= 150%"
    for claim in ("abandonment <= 150%", "sla attainment >= 1.2", "fairness >= 2"):
        with pytest.raises(InvalidClaim, match=r"is a fraction 0\.\.1"):
            ServiceLevel.parse(claim)


def test_fairness_sees_a_class_starved_into_abandoning() -> None:
    """Critical vip tickets take the one agent; every normal ticket gives up
    after 5 s.  Counting only answered tickets made this 'perfectly fair'
    (index 1.0); counting the abandoned tickets' 5 s waits it is not."""
    arrivals = [Arrival(Ticket(f"V{i}", 0.0, severity="critical", customer_tier="gold"), 60.0, ticket_class="vip") for i in range(10)]
    arrivals += [Arrival(Ticket(f"N{i}", 0.0), 60.0, ticket_class="normal", patience=5.0) for i in range(10)]
    result = simulate(Day(arrivals, [Staff(Agent("ana"))]), Policy.default())
    assert result.by_class["normal"].abandoned == 10 and result.by_class["normal"].answered == 0
    vip_mean = sum(60.0 * i for i in range(10)) / 10  # answered one after another, a minute each
    assert result.by_class["vip"].wait_mean == vip_mean
    assert result.fairness.jain_index == pytest.approx((5.0 + vip_mean) ** 2 / (2 * (5.0**2 + vip_mean**2)))
    assert result.fairness.jain_index < 0.6
    assert not check_service_level(result, "fairness >= 0.9").holds
    # Waits 5 s (x10), then 0, 60, ... 540 s: the median is 5 s.
    assert result.fairness.max_to_median == 540.0 / 5.0


def test_fairness_counts_tickets_still_waiting_at_the_end() -> None:
    """A ticket never answered waited until the end of the simulation (from
    ``waited``, or, built without it, from ``end``)."""
    answered = TicketOutcome("A", "chat", None, "normal", "-", arrived=0.0, answered=10.0, completed=20.0, agent_id="ana")
    for stuck in (
        TicketOutcome("B", "email", None, "normal", "-", arrived=0.0, waited=2000.0),
        TicketOutcome("B", "email", None, "normal", "-", arrived=0.0),  # build() knows end = 2000
    ):
        result = build([answered, stuck])
        assert result.fairness.jain_index == pytest.approx(2010**2 / (2 * (10**2 + 2000**2)))


def test_structured_claims_validate_their_fields() -> None:
    """Bad fields of a ServiceLevel raise InvalidClaim naming the field."""
    for kwargs, field in [
        ({"metric": "speed", "threshold": 1.0}, "metric"),
        ({"metric": "wait_mean", "threshold": 1.0, "op": "=="}, "op"),
        ({"metric": "wait_mean", "threshold": -1.0}, "threshold"),
        ({"metric": "wait_mean", "threshold": math.inf}, "threshold"),
        ({"metric": "wait_percentile", "threshold": 1.0}, "percentile"),
        ({"metric": "wait_mean", "threshold": 1.0, "where": [("colour", "red")]}, "where"),
    ]:
        with pytest.raises(InvalidClaim) as caught:
            ServiceLevel(**kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field
    with pytest.raises(InvalidSimulation):
        check_service_level("not a result", "mean wait <= 1 s")  # type: ignore[arg-type]
