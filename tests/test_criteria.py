"""Fixed criteria for customer tiers and task complexity: the documented
tables, monotonicity, explanations, and the policy file's ``[criteria]``
tables (parsed, written back, bad ones refused naming the key path)."""

from __future__ import annotations

import importlib
import inspect
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage_queue import (
    ComplexityCriteria,
    Criteria,
    InvalidArgument,
    InvalidPolicy,
    Policy,
    PolicyFile,
    Ticket,
    TierCriteria,
    TierLevel,
    Vip,
    assess_complexity,
    classify_tier,
    explain_complexity,
    explain_tier,
    parse_policy,
)
from triage_queue.config import MAX_DURATION

# -- the documented tables ---------------------------------------------------

TIER_TABLE = [
    # (monthly_spend, employees, years) -> tier, as docs/criteria.md lists them
    ((None, None, None), "standard"),
    ((0, 0, 0), "standard"),
    ((999.99, 99, 2.99), "standard"),
    ((1_000, None, None), "silver"),
    ((None, 100, None), "silver"),
    ((None, None, 3), "silver"),
    ((9_999, 999, 7.9), "silver"),
    ((10_000, None, None), "gold"),
    ((None, 1_000, None), "gold"),
    ((None, None, 8), "gold"),
    ((None, None, 80), "gold"),  # loyalty alone never makes platinum
    ((50_000, None, None), "platinum"),
    ((None, 5_000, None), "platinum"),
    ((0, 5_000, 0), "platinum"),
]


@pytest.mark.parametrize(("facts", "tier"), TIER_TABLE)
def test_default_tiers_follow_the_documented_table(facts: tuple[Any, Any, Any], tier: str) -> None:
    """classify_tier gives the tier the table in docs/criteria.md gives."""
    assert classify_tier(*facts) == tier
    assert explain_tier(*facts).tier == tier


HOUR = 3600
COMPLEXITY_TABLE = [
    # (difficulty, effort, overlap) -> level
    ((None, None, None), 1),
    ((1, 0, 0), 1),
    ((1, 30 * 60 - 1, 0), 1),
    ((2, None, None), 2),
    ((None, 30 * 60, None), 2),
    ((None, None, 1), 2),
    ((3, None, None), 3),
    ((None, 2 * HOUR, None), 3),
    ((None, None, 2), 3),
    ((None, None, 3), 3),
    ((4, None, None), 4),
    ((None, 8 * HOUR, None), 4),
    ((None, None, 4), 4),
    ((5, None, None), 5),
    ((None, 24 * HOUR, None), 5),
    ((None, None, 8), 5),
    ((1, 8 * HOUR, 1), 4),  # the highest level any fact reaches
]


@pytest.mark.parametrize(("facts", "level"), COMPLEXITY_TABLE)
def test_default_complexity_follows_the_documented_table(facts: tuple[Any, Any, Any], level: int) -> None:
    """assess_complexity gives the level the table in docs/criteria.md gives."""
    assert assess_complexity(*facts) == level
    assert explain_complexity(*facts).level == level


def test_results_go_straight_into_a_ticket() -> None:
    """The tier and the complexity are valid Ticket fields, and apply() keeps the reason."""
    ticket = Ticket("T-1", 0.0, customer_tier=classify_tier(monthly_spend=2_000), complexity=assess_complexity(difficulty=5))
    assert (ticket.customer_tier, ticket.complexity) == ("silver", 5)
    annotated = explain_complexity(overlap=2).apply(explain_tier(years=9).apply(ticket))
    assert annotated.customer_tier == "gold"
    assert annotated.complexity == 3
    assert annotated.attributes["tier_reason"] == "gold: years 9 >= 8"
    assert annotated.attributes["complexity_reason"] == "complexity 3: overlap 2 >= 2 (level 3)"
    # The vip rule ranks the default ladder's answers.
    ranks = TierCriteria.default().ranks()
    assert all(Vip().key(Ticket("x", 0.0, customer_tier=t), 0.0) == ranks[t] for t in ranks)


def test_a_changed_tier_or_complexity_drops_the_stale_reason() -> None:
    """An explanation never gives a reason for a value the ticket no longer
    has: once the tier or complexity is changed (evolve, desk.update, a
    snapshot round trip), the old decision's reason is left out, and a
    reason kept for the current value is still shown (review 13a #2)."""
    ticket = explain_complexity(overlap=4).apply(explain_tier(employees=2_000).apply(Ticket("T-2", 0.0)))

    def reasons(t: Ticket) -> list[str]:
        return [c.reason for c in Policy.default().explain(t, now=0.0).contributions[1:3]]

    assert reasons(ticket) == [
        "customer tier 'gold': rank 2 (gold: employees 2000 >= 1000)",
        "complexity 4/5, complex tickets first (complexity 4: overlap 4 >= 4 (level 4))",
    ]
    assert reasons(Ticket.from_dict(ticket.to_dict())) == reasons(ticket)
    upgraded = ticket.evolve(customer_tier="platinum", complexity=1)
    assert reasons(upgraded) == ["customer tier 'platinum': rank 3", "complexity 1/5, complex tickets first"]
    assert reasons(ticket.evolve(complexity=2))[0] == reasons(ticket)[0]
    # A reason kept without its value (an older snapshot) is shown only if it names the current value.
    old = {k: v for k, v in ticket.attributes.items() if not k.endswith("_for")}
    assert reasons(ticket.evolve(attributes=old)) == reasons(ticket)
    assert reasons(upgraded.evolve(attributes=old)) == reasons(upgraded)


def test_money_as_decimal_or_fraction_is_a_number() -> None:
    """Money as decimal.Decimal (a DecimalField) or fractions.Fraction is
    classified like the same float, in facts and thresholds; a Decimal NaN,
    infinity, signalling NaN, one beyond a float, or a negative one is
    refused naming the field and the value given (review 13a #8)."""
    assert classify_tier(monthly_spend=Decimal("12000.00")) == classify_tier(monthly_spend=12_000.0) == "gold"
    assert classify_tier(monthly_spend=Fraction(2_001, 2)) == "silver"
    assert explain_tier(years=Decimal("8")).reason == "gold: years 8 >= 8"
    assert assess_complexity(effort=Decimal("36000")) == 4
    assert TierLevel("gold", monthly_spend=Decimal("10000")).monthly_spend == 10_000.0
    for bad in (Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"), Decimal("1e400"), Decimal("-0.01"), Fraction(10**400)):
        with pytest.raises(InvalidArgument) as caught:
            classify_tier(monthly_spend=bad)
        assert caught.value.field == "monthly_spend" and caught.value.value is bad


def test_explanations_name_the_deciding_threshold() -> None:
    """A decision names the fact, the customer's value and the threshold that decided."""
    decision = explain_tier(monthly_spend=500, employees=1_200, years=1)
    assert (decision.tier, decision.rank, decision.fact, decision.value, decision.threshold) == ("gold", 2, "employees", 1_200, 1_000)
    assert str(decision) == "gold: employees 1200 >= 1000"
    assert decision.to_dict()["reason"] == decision.reason
    base = explain_tier(monthly_spend=10)
    assert (base.tier, base.rank, base.fact, base.threshold) == ("standard", 0, None, None)
    assert "monthly_spend < 1000" in base.reason
    low = explain_complexity(difficulty=1)
    assert (low.level, low.fact) == (1, None)
    assert "below every level-2 threshold" in low.reason


# -- monotonicity and soundness, for any ladder -----------------------------

facts_values = st.one_of(st.none(), st.floats(min_value=0, max_value=1e7, allow_nan=False))
counts = st.one_of(st.none(), st.integers(min_value=0, max_value=100_000))


@st.composite
def ladders(draw: st.DrawFn) -> TierCriteria:
    """Any valid ladder: 0..5 levels, each fact's thresholds not falling."""
    size = draw(st.integers(0, 5))
    facts = ("monthly_spend", "employees", "years")
    columns = {fact: sorted(draw(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=size, max_size=size))) for fact in facts}
    levels = []
    for index in range(size):
        # Each level keeps at least one of its thresholds; a column's kept values still rise.
        kept = draw(st.lists(st.booleans(), min_size=3, max_size=3).filter(any))
        thresholds = {fact: columns[fact][index] if keep else None for fact, keep in zip(facts, kept, strict=True)}
        levels.append(TierLevel(f"tier{index}", **thresholds))
    return TierCriteria(levels)


@given(ladders(), facts_values, counts, facts_values, st.sampled_from(["monthly_spend", "employees", "years"]), st.floats(0, 1e6))
def test_more_of_any_fact_never_gives_a_lower_tier(
    ladder: TierCriteria, spend: float | None, employees: int | None, years: float | None, fact: str, more: float
) -> None:
    """Raising spend, head count or years (or learning one that was unknown) never lowers the tier."""
    facts: dict[str, Any] = {"monthly_spend": spend, "employees": employees, "years": years}
    before = ladder.decide(**facts)
    current = facts[fact]
    facts[fact] = (int(more) if fact == "employees" else more) + (current or 0)
    after = ladder.decide(**facts)
    assert after.rank >= before.rank
    assert ladder.tiers[after.rank] == after.tier


@given(ladders(), facts_values, counts, facts_values)
def test_the_tier_is_the_highest_whose_threshold_is_met(
    ladder: TierCriteria, spend: float | None, employees: int | None, years: float | None
) -> None:
    """The decision is exactly the highest level with some threshold met, and says which."""
    facts: dict[str, Any] = {"monthly_spend": spend, "employees": employees, "years": years}
    decision = ladder.decide(**facts)
    met = [
        rank
        for rank, level in enumerate(ladder.levels, start=1)
        if any(facts[f] is not None and facts[f] >= t for f, t in level.thresholds().items())
    ]
    assert decision.rank == max(met, default=0)
    if decision.rank:
        assert decision.fact is not None and decision.value is not None and decision.threshold is not None
        assert decision.value >= decision.threshold == getattr(ladder.levels[decision.rank - 1], decision.fact)


@st.composite
def complexity_criteria(draw: st.DrawFn) -> ComplexityCriteria:
    """Any valid thresholds: 4 non-decreasing numbers per fact."""

    def four(high: float) -> tuple[float, ...]:
        return tuple(sorted(draw(st.lists(st.floats(0, high, allow_nan=False), min_size=4, max_size=4))))

    return ComplexityCriteria(difficulty=four(6), effort=four(1e6), overlap=four(50))


difficulties = st.one_of(st.none(), st.integers(1, 5))
efforts = st.one_of(st.none(), st.floats(0, 2e6, allow_nan=False))
overlaps = st.one_of(st.none(), st.integers(0, 100))


@given(complexity_criteria(), difficulties, efforts, overlaps, st.sampled_from(["difficulty", "effort", "overlap"]), st.integers(0, 100))
def test_more_of_any_fact_never_gives_a_lower_complexity(
    criteria: ComplexityCriteria, difficulty: int | None, effort: float | None, overlap: int | None, fact: str, more: int
) -> None:
    """More difficulty, effort or overlap never lowers the complexity; it stays in 1..5."""
    facts: dict[str, Any] = {"difficulty": difficulty, "effort": effort, "overlap": overlap}
    before = criteria.decide(**facts)
    current = facts[fact]
    facts[fact] = min(5, (current or 1) + more % 5) if fact == "difficulty" else (current or 0) + more
    after = criteria.decide(**facts)
    assert 1 <= before.level <= after.level <= 5
    if after.level > 1:
        assert after.fact is not None and after.value is not None and after.threshold is not None
        assert after.value >= after.threshold == getattr(criteria, after.fact)[after.level - 2]


# -- bad facts and bad thresholds in Python ---------------------------------


@pytest.mark.parametrize(
    ("call", "field", "value"),
    [
        (lambda: classify_tier(monthly_spend=-1), "monthly_spend", -1),
        (lambda: classify_tier(monthly_spend=math.nan), "monthly_spend", "nan"),
        (lambda: classify_tier(monthly_spend=math.inf), "monthly_spend", math.inf),
        (lambda: classify_tier(monthly_spend="100"), "monthly_spend", "100"),  # type: ignore[arg-type]
        (lambda: classify_tier(employees=2.5), "employees", 2.5),  # type: ignore[arg-type]
        (lambda: classify_tier(employees=True), "employees", True),
        (lambda: classify_tier(years=-0.5), "years", -0.5),
        (lambda: classify_tier(years=10**400), "years", 10**400),
        (lambda: classify_tier(criteria="gold"), "criteria", "gold"),  # type: ignore[arg-type]
        (lambda: assess_complexity(difficulty=0), "difficulty", 0),
        (lambda: assess_complexity(difficulty=6), "difficulty", 6),
        (lambda: assess_complexity(effort=-1), "effort", -1),
        (lambda: assess_complexity(overlap=-3), "overlap", -3),
        (lambda: assess_complexity(overlap=1.5), "overlap", 1.5),  # type: ignore[arg-type]
        (lambda: assess_complexity(criteria=TierCriteria.default()), "criteria", None),  # type: ignore[arg-type]
    ],
)
def test_bad_facts_are_refused_naming_the_fact(call: Any, field: str, value: Any) -> None:
    """A bad fact raises InvalidArgument naming the fact and its value."""
    with pytest.raises(InvalidArgument) as info:
        call()
    assert info.value.field == field
    if value == "nan":
        assert math.isnan(info.value.value)
    elif value is not None:
        assert info.value.value == value


def test_huge_counts_are_facts_like_any_other() -> None:
    """An int head count too large for a float still compares (a platinum customer, not an error)."""
    assert classify_tier(employees=10**400) == "platinum"
    assert assess_complexity(overlap=10**400) == 5


@pytest.mark.parametrize(
    ("make", "field", "reason"),
    [
        (lambda: TierLevel("gold"), "name", "at least one threshold"),
        (lambda: TierLevel("", years=1), "name", "non-empty tier name"),
        (lambda: TierLevel("gold", years=math.nan), "years", "finite number"),
        (lambda: TierLevel("gold", employees=-1), "employees", ">= 0"),
        (lambda: TierCriteria([TierLevel("a", years=1), TierLevel("a", years=2)]), "levels[1].name", "named twice"),
        (lambda: TierCriteria([TierLevel("standard", years=1)]), "levels[0].name", "named twice"),
        (lambda: TierCriteria([TierLevel("a", monthly_spend=9), TierLevel("b", monthly_spend=5)]), "levels[1].monthly_spend", "below"),
        (lambda: TierCriteria([TierLevel("a", years=1)] * 33), "levels", "at most 32"),
        (lambda: TierCriteria(["gold"]), "levels[0]", "TierLevel"),
        (lambda: TierCriteria("gold"), "levels", "sequence"),
        (lambda: ComplexityCriteria(effort=(1, 2, 3)), "effort", "4 thresholds"),
        (lambda: ComplexityCriteria(overlap=(1, 2, 3, math.inf)), "overlap[3]", "finite"),
        (lambda: ComplexityCriteria(difficulty=(3, 2, 4, 5)), "difficulty[1]", "must not decrease"),
        (lambda: Criteria(tier=ComplexityCriteria()), "tier", "TierCriteria"),  # type: ignore[arg-type]
    ],
)
def test_bad_thresholds_are_refused_naming_the_field(make: Any, field: str, reason: str) -> None:
    """A bad threshold raises InvalidPolicy naming the field (and position)."""
    with pytest.raises(InvalidPolicy) as info:
        make()
    assert info.value.field == field
    assert reason in info.value.reason


# -- the policy file ----------------------------------------------------------

RULES = '[[rules]]\nkind = "vip"\n'
LADDER = """
[criteria.tier]
base = "standard"
[[criteria.tier.levels]]
name = "silver"
monthly_spend = 500
employees = 50
[[criteria.tier.levels]]
name = "gold"
monthly_spend = 5000
years = 5
"""


def test_policy_file_declares_the_thresholds() -> None:
    """[criteria] tables replace the defaults, and PolicyFile.criteria applies them."""
    pf = parse_policy(RULES + LADDER + '[criteria.complexity]\neffort = ["15m", "1h", "4h", "2d"]\noverlap = [1, 1, 3, 6]\n')
    assert pf.criteria.tier.tiers == ("standard", "silver", "gold")
    assert pf.criteria.classify_tier(employees=60) == "silver"
    assert pf.criteria.classify_tier(monthly_spend=499, years=5) == "gold"
    assert pf.criteria.complexity.effort == (900.0, 3600.0, 14400.0, 172800.0)
    assert pf.criteria.complexity.difficulty == ComplexityCriteria.default().difficulty
    assert pf.criteria.assess_complexity(overlap=1) == 3
    assert classify_tier(monthly_spend=600, criteria=pf.criteria.tier) == "silver"


def test_policy_without_criteria_uses_the_defaults_and_writes_none() -> None:
    """A file without [criteria] gets the documented defaults, and to_toml adds no table."""
    pf = parse_policy(RULES)
    assert pf.criteria == Criteria() and pf.criteria.is_default()
    assert "[criteria" not in pf.to_toml()


def test_criteria_survive_to_toml_and_back() -> None:
    """A policy's criteria are written by to_toml and read back equal."""
    pf = parse_policy(RULES + LADDER + "[criteria.complexity]\ndifficulty = [1, 2, 2.5, 4]\neffort = [60, 90.5, 7200, 86400]\n")
    text = pf.to_toml()
    assert "[[criteria.tier.levels]]" in text
    again = parse_policy(text)
    assert again == pf
    assert again.criteria == pf.criteria
    custom = PolicyFile.from_policy(
        Policy.default(), criteria=Criteria(complexity=ComplexityCriteria(overlap=(0, 0, 1, 1)))
    )
    assert parse_policy(custom.to_toml()).criteria == custom.criteria


def test_effort_thresholds_are_what_a_policy_file_can_hold() -> None:
    """An effort threshold over 366 days (MAX_DURATION) is refused in Python
    as in TOML, naming it, so every accepted criteria's policy file reads
    back; 366 days is accepted and round-trips (review 13a #7)."""
    with pytest.raises(InvalidPolicy, match="MAX_DURATION") as caught:
        ComplexityCriteria(effort=(1800, 7200, 28800, 400 * 86400))
    assert caught.value.field == "effort[3]"
    assert MAX_DURATION == 366 * 86400
    longest = Criteria(complexity=ComplexityCriteria(effort=(1800, 7200, 28800, MAX_DURATION)))
    written = PolicyFile.from_policy(Policy.default(), criteria=longest).to_toml()
    assert parse_policy(written).criteria == longest


BAD_CRITERIA = [
    ("[criteria]\ntier = 3\n", "criteria.tier", 3, "expected a table"),
    ("[criteria]\nteir = {}\n", "criteria.teir", {}, "did you mean 'tier'"),
    ("[criteria.tier]\nbase = 'standard'\n", "criteria.tier.levels", None, "non-empty array"),
    ("[criteria.tier]\nlevels = []\n", "criteria.tier.levels", [], "non-empty array"),
    ("[criteria.tier]\nbase = ''\nlevels = [{name = 'gold', years = 1}]\n", "criteria.tier.base", "", "non-empty tier name"),
    ("[criteria.tier]\nbase = 7\nlevels = [{name = 'gold', years = 1}]\n", "criteria.tier.base", 7, "non-empty tier name"),
    ("[criteria.tier]\nlevels = [{name = 'gold'}]\n", "criteria.tier.levels[0].name", "gold", "at least one threshold"),
    ("[criteria.tier]\nlevels = [{years = 1}]\n", "criteria.tier.levels[0].name", None, "non-empty tier name"),
    ("[criteria.tier]\nlevels = [{name = 'gold', yeras = 1}]\n", "criteria.tier.levels[0].yeras", 1, "did you mean 'years'"),
    ("[criteria.tier]\nlevels = [{name = 'gold', years = -1}]\n", "criteria.tier.levels[0].years", -1, ">= 0"),
    ("[criteria.tier]\nlevels = [{name = 'gold', years = '5'}]\n", "criteria.tier.levels[0].years", "5", "not a string"),
    ("[criteria.tier]\nlevels = [{name = 'gold', years = true}]\n", "criteria.tier.levels[0].years", True, "not a boolean"),
    ("[criteria.tier]\nlevels = [{name = 'gold', monthly_spend = nan}]\n", "criteria.tier.levels[0].monthly_spend", "nan", "finite"),
    ("[criteria.tier]\nlevels = [{name = 'gold', monthly_spend = inf}]\n", "criteria.tier.levels[0].monthly_spend", math.inf, "finite"),
    (
        "[criteria.tier]\nlevels = [{name = 'silver', years = 9}, {name = 'gold', years = 2}]\n",
        "criteria.tier.levels[1].years",
        2.0,
        "below the threshold of the tier under it ('silver': 9)",
    ),
    (
        "[criteria.tier]\nlevels = [{name = 'gold', years = 1}, {name = 'gold', years = 2}]\n",
        "criteria.tier.levels[1].name",
        "gold",
        "named twice",
    ),
    ("[criteria.tier]\nlevels = [3]\n", "criteria.tier.levels[0]", 3, "expected a table"),
    ("[criteria.tier]\nlevels = [{name = 'golld', years = 1}]\n", "criteria.tier.levels[0].name", "golld", "did you mean 'gold'"),
    ("[criteria.tier]\nbase = 'basic'\nlevels = [{name = 'gold', years = 1}]\n", "criteria.tier.base", "basic", "unknown tier"),
    ("[criteria.complexity]\neffort = '2h'\n", "criteria.complexity.effort", "2h", "array of 4"),
    ("[criteria.complexity]\noverlap = [1, 2, 3]\n", "criteria.complexity.overlap", [1, 2, 3], "array of 4"),
    ("[criteria.complexity]\noverlap = [1, 2, 3, 4, 5]\n", "criteria.complexity.overlap", [1, 2, 3, 4, 5], "array of 4"),
    ("[criteria.complexity]\noverlap = [1, 2, 'x', 4]\n", "criteria.complexity.overlap[2]", "x", "not a string"),
    ("[criteria.complexity]\ndifficulty = [1, 2, -3, 4]\n", "criteria.complexity.difficulty[2]", -3, ">= 0"),
    ("[criteria.complexity]\ndifficulty = [4, 3, 4, 5]\n", "criteria.complexity.difficulty[1]", 3, "must not decrease"),
    ("[criteria.complexity]\neffort = ['1h', '30m', '2h', '3h']\n", "criteria.complexity.effort[1]", 1800.0, "must not decrease"),
    ("[criteria.complexity]\neffort = ['1h', '2 hours', '2h', '3h']\n", "criteria.complexity.effort[1]", "2 hours", "duration"),
    ("[criteria.complexity]\neffort = ['1h', '2h', '3h', '400d']\n", "criteria.complexity.effort[3]", "400d", "at most 366 days"),
    ("[criteria.complexity]\nefort = [1, 2, 3, 4]\n", "criteria.complexity.efort", [1, 2, 3, 4], "did you mean 'effort'"),
]


@pytest.mark.parametrize(("table", "field", "value", "reason"), BAD_CRITERIA, ids=[f"{f}-{i}" for i, (_, f, _, _) in enumerate(BAD_CRITERIA)])
def test_bad_criteria_tables_are_refused_naming_the_key_path(table: str, field: str, value: Any, reason: str) -> None:
    """Every mistake in [criteria] raises InvalidPolicy with the key path, the value and what was expected."""
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(RULES + table)
    assert info.value.field == field
    if value == "nan":
        assert math.isnan(info.value.value)
    else:
        assert info.value.value == value
    assert reason in info.value.reason


def test_hostile_criteria_tables_cost_bounded_work() -> None:
    """Too many tiers, huge numbers and long names are refused with a short message."""
    many = "[criteria.tier]\n" + "".join(f"[[criteria.tier.levels]]\nname = 't{i}'\nyears = {i}\n" for i in range(33))
    with pytest.raises(InvalidPolicy) as info:
        parse_policy('[[rules]]\nkind = "feedback_order"\n' + many)
    assert info.value.field == "criteria.tier.levels"
    assert "at most 32" in info.value.reason
    assert len(str(info.value)) < 300
    with pytest.raises(InvalidPolicy) as info:
        parse_policy('[[rules]]\nkind = "feedback_order"\n[criteria.tier]\nlevels = [{name = "a", years = ' + "9" * 400 + "}]\n")
    assert info.value.field == "criteria.tier.levels[0].years"
    assert len(str(info.value)) < 300
    with pytest.raises(InvalidPolicy) as info:
        parse_policy('[[rules]]\nkind = "feedback_order"\n[criteria.tier]\nlevels = [{name = "' + "x" * 10_000 + '", years = 1}]\n')
    assert info.value.field == "criteria.tier.levels[0].name"
    assert len(str(info.value)) < 300


def test_ladder_need_not_match_tiers_without_vip_rules() -> None:
    """Without a vip rule, any tier names may be used; with one, the ladder must use its tiers."""
    pf = parse_policy('[[rules]]\nkind = "feedback_order"\n[criteria.tier]\nbase = "basic"\nlevels = [{name = "premium", years = 1}]\n')
    assert pf.criteria.classify_tier(years=2) == "premium"
    with pytest.raises(InvalidPolicy) as info:
        PolicyFile.from_policy(Policy([Vip()]), criteria=pf.criteria)
    assert info.value.field == "criteria.tier.base"
    own = parse_policy('[[rules]]\nkind = "vip"\ntiers = { basic = 0, premium = 1 }\n[criteria.tier]\nbase = "basic"\n'
                       'levels = [{name = "premium", years = 1}]\n')
    assert own.criteria.tier.ranks() == {"basic": 0, "premium": 1}


def test_policy_explanations_say_which_threshold_decided() -> None:
    """A ticket annotated by apply() has the deciding thresholds in its vip and complexity explanations."""
    ticket = explain_complexity(effort=3 * HOUR).apply(explain_tier(monthly_spend=20_000).apply(Ticket("T-1", 0.0)))
    reasons = {c.rule: c.reason for c in Policy.default().explain(ticket, 10.0).contributions}
    assert reasons["vip"] == "customer tier 'gold': rank 2 (gold: monthly_spend 20000 >= 10000)"
    assert reasons["complexity"] == "complexity 3/5, complex tickets first (complexity 3: effort 10800 >= 7200 (level 3))"
    plain = {c.rule: c.reason for c in Policy.default().explain(Ticket("T-2", 0.0, customer_tier="gold"), 10.0).contributions}
    assert plain["vip"] == "customer tier 'gold': rank 2"


def _undocumented(module_name: str) -> list[str]:
    """The public names (and public methods of public classes) of a module
    whose docstring lacks a complexity or a doctest."""
    module = importlib.import_module(module_name)
    missing = []
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        items: list[tuple[str, Any]] = [(name, obj)]
        if inspect.isclass(obj):
            items += [(f"{name}.{k}", v) for k, v in vars(obj).items() if not k.startswith("_") and inspect.isfunction(v)]
        for label, item in items:
            doc = item.__doc__ or ""
            if "omplexity" not in doc or ">>>" not in doc:
                missing.append(label)
    return missing


@pytest.mark.parametrize(
    "module_name", ["triage_queue.criteria", "triage_queue.staffing", "triage_queue.staffing_cli", "triage_queue.board"]
)
def test_public_names_state_their_complexity_and_have_a_doctest(module_name: str) -> None:
    """Every public class, function and method of the criteria, staffing
    and board modules states its runtime complexity and has a doctest, as
    the house rules ask (review 13a #12)."""
    assert _undocumented(module_name) == []
