"""Tests of Policy: lexicographic and weighted composition, the default
policy, explanations, time steps, and every RuleError/InvalidPolicy path."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from queue_models import SlaWarning
from strategies import TIERS, tickets, times
from triage_queue import (
    DEFAULT_TIERS,
    Aging,
    BaseRule,
    Complexity,
    Composition,
    Contribution,
    Emergency,
    Explanation,
    FeedbackOrder,
    FunctionRule,
    InvalidPolicy,
    Policy,
    Rule,
    RuleError,
    SlaDeadline,
    Ticket,
    Vip,
    rule,
)

NOW = 10_000.0


def _cmp(x: Any, y: Any) -> int:
    return (x > y) - (x < y)


# -- helper rules ----------------------------------------------------------------


@attrs.frozen(slots=True)
class Returns(BaseRule):
    """A rule whose key is a fixed value, or which raises it if it is an exception."""

    value: Any
    name: str = "probe"

    def key(self, ticket: Ticket, now: float) -> Any:
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value


@attrs.frozen(slots=True)
class Stepper(BaseRule):
    """A rule whose next_change is whatever ``step`` returns (or raises)."""

    step: Callable[[Ticket, float], Any]
    name: str = "stepper"

    def key(self, ticket: Ticket, now: float) -> float:
        return 0

    def next_change(self, ticket: Ticket, now: float) -> Any:
        return self.step(ticket, now)


class ProtocolRule:
    """A rule that follows the Rule protocol without subclassing BaseRule."""

    name = "protocol"

    def key(self, ticket: Ticket, now: float) -> float:
        return float(ticket.complexity)

    def next_change(self, ticket: Ticket, now: float) -> float | None:
        return None

    def explain(self, ticket: Ticket, now: float) -> Contribution:
        return Contribution(self.name, float(ticket.complexity), "protocol says so")


# -- lexicographic ---------------------------------------------------------------

RULE_POOL: list[Rule] = [
    Emergency(),
    Vip(),
    Complexity(),
    Complexity(prefer="simple", name="simple_first"),
    FeedbackOrder(follow_up_bonus=60),
    Aging(rate=0.5),
    SlaDeadline(),
    Emergency("high", name="high_or_worse"),
]

rule_lists = st.lists(st.sampled_from(range(len(RULE_POOL))), unique=True, min_size=1, max_size=5).map(
    lambda idx: [RULE_POOL[i] for i in idx]
)


def lexicographic_cmp(rules: list[Rule], a: Ticket, b: Ticket, now: float) -> int:
    """Hand-written lexicographic order: -1 if a is served first, 1 if b, 0 if tied."""
    for r in rules:
        ka, kb = r.key(a, now), r.key(b, now)
        if ka != kb:
            return -1 if ka > kb else 1
    return 0


@given(rule_lists, tickets(), tickets(), times())
def test_lexicographic_order_is_decided_by_the_first_differing_rule(rules: list[Rule], a: Ticket, b: Ticket, now: float) -> None:
    """sort_key orders tickets as a hand-written comparison of rule keys in rule order does."""
    policy = Policy.lexicographic(*rules)
    ka, kb = policy.sort_key(a, now), policy.sort_key(b, now)
    assert ka == tuple(-r.key(a, now) for r in rules)
    assert _cmp(ka, kb) == lexicographic_cmp(rules, a, b, now)


def test_earlier_rules_dominate_later_ones() -> None:
    """A later rule cannot overturn an earlier one, however large its difference."""
    policy = Policy.lexicographic(Complexity(), FeedbackOrder())
    complex_new = Ticket("A", 9_000.0, complexity=2)
    simple_ancient = Ticket("B", 0.0, complexity=1)
    assert policy.sort_key(complex_new, NOW) < policy.sort_key(simple_ancient, NOW)
    flipped = Policy.lexicographic(FeedbackOrder(), Complexity())
    assert flipped.sort_key(simple_ancient, NOW) < flipped.sort_key(complex_new, NOW)


def test_lexicographic_allows_infinite_keys() -> None:
    """A lexicographic policy accepts infinite keys: a ticket without an SLA goes after those with one."""
    policy = Policy.lexicographic(SlaDeadline())
    assert policy.sort_key(Ticket("A", 0.0), NOW) == (math.inf,)
    assert policy.sort_key(Ticket("B", 0.0, sla_due=5.0), NOW) < policy.sort_key(Ticket("A", 0.0), NOW)
    assert Policy.lexicographic(Returns(-math.inf)).sort_key(Ticket("C", 0.0), NOW) == (math.inf,)


# -- weighted --------------------------------------------------------------------

WEIGHTED_POOL: list[Rule] = [
    Emergency(),
    Vip(),
    Complexity(),
    FeedbackOrder(follow_up_bonus=60),
    Aging(rate=2),
    SlaDeadline(default_target=3_600),
]

INTEGRAL = st.integers(0, 1_000_000).map(float)
integral_tickets = tickets(created_at=INTEGRAL, sla_due=st.one_of(st.none(), INTEGRAL))


@given(
    st.lists(
        st.tuples(st.sampled_from(range(len(WEIGHTED_POOL))), st.integers(-100, 100)),
        min_size=1,
        max_size=6,
        unique_by=lambda p: p[0],
    ),
    integral_tickets,
    integral_tickets,
)
def test_weighted_order_equals_weighted_sum_order(pairs: list[tuple[int, int]], a: Ticket, b: Ticket) -> None:
    """A weighted policy orders by the exact weighted sum of keys; negating the weights reverses the order."""
    weights = [(WEIGHTED_POOL[i], float(w)) for i, w in pairs]
    policy = Policy.weighted(weights)

    def exact_sum(ticket: Ticket) -> Fraction:
        return sum((Fraction(w) * Fraction(r.key(ticket, NOW)) for r, w in weights), Fraction(0))

    ka, kb = policy.sort_key(a, NOW), policy.sort_key(b, NOW)
    assert len(ka) == 1
    assert _cmp(ka, kb) == -_cmp(exact_sum(a), exact_sum(b))
    # negating every weight reverses every strict preference
    negated = Policy.weighted([(r, -w) for r, w in weights])
    assert _cmp(negated.sort_key(a, NOW), negated.sort_key(b, NOW)) == -_cmp(ka, kb)


def test_negative_weight_inverts_a_rule() -> None:
    """A negative weight on Complexity serves simple tickets first."""
    simple, complex_ = Ticket("A", 0.0, complexity=1), Ticket("B", 0.0, complexity=5)
    complex_first = Policy.weighted([(Complexity(), 1.0)])
    simple_first = Policy.weighted([(Complexity(), -1.0)])
    assert complex_first.sort_key(complex_, NOW) < complex_first.sort_key(simple, NOW)
    assert simple_first.sort_key(simple, NOW) < simple_first.sort_key(complex_, NOW)


def test_weighted_trades_rules_off_against_each_other() -> None:
    """Vip x600 against 1 point/s of waiting: gold leads until the other waited 1200 s longer (then they tie)."""
    policy = Policy.weighted([(Vip(), 600.0), (Aging(), 1.0)])
    gold = Ticket("G", 5_000.0, customer_tier="gold")
    assert policy.sort_key(gold, NOW) < policy.sort_key(Ticket("S1", 3_900.0), NOW)
    assert policy.sort_key(gold, NOW) == policy.sort_key(Ticket("S2", 3_800.0), NOW)
    assert policy.sort_key(Ticket("S3", 3_700.0), NOW) < policy.sort_key(gold, NOW)
    assert policy.weights == (600.0, 1.0)
    assert policy.composition is Composition.WEIGHTED


# -- default policy --------------------------------------------------------------


def test_default_policy_has_the_four_seed_rules_in_order() -> None:
    """Policy.default() is Emergency > Vip (default tiers) > Complexity > FeedbackOrder, with no time steps."""
    policy = Policy.default()
    assert [r.name for r in policy.rules] == ["emergency", "vip", "complexity", "feedback_order"]
    assert [type(r) for r in policy.rules] == [Emergency, Vip, Complexity, FeedbackOrder]
    assert policy.composition is Composition.LEXICOGRAPHIC
    assert policy.weights is None
    assert dict(policy.rules[1].tiers) == dict(DEFAULT_TIERS) == {"standard": 0, "silver": 1, "gold": 2, "platinum": 3}
    assert policy.time_stepped is False
    assert policy == Policy.default()


def test_default_policy_tier_ladder() -> None:
    """Under the default policy equal tickets go platinum, gold, silver, then standard and no-tier tied."""
    policy = Policy.default()
    by_tier = {tier: policy.sort_key(Ticket(f"T-{tier}", 0.0, customer_tier=tier), NOW) for tier in TIERS}
    assert by_tier["platinum"] < by_tier["gold"] < by_tier["silver"] < by_tier["standard"]
    assert by_tier[None] == by_tier["standard"]


def test_default_policy_priorities_cascade() -> None:
    """Emergency beats platinum, tier beats complexity, complexity beats age, and age breaks the last ties."""
    policy = Policy.default()
    order = [
        Ticket("emergency", 9_000.0, severity="critical"),
        Ticket("platinum", 8_000.0, customer_tier="platinum"),
        Ticket("gold-complex", 7_000.0, customer_tier="gold", complexity=5),
        Ticket("gold-simple-early", 100.0, customer_tier="gold"),
        Ticket("gold-simple-late", 200.0, customer_tier="gold"),
        Ticket("standard", 0.0),
    ]
    keys = [policy.sort_key(t, NOW) for t in order]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    # HIGH is not an emergency under the default threshold
    assert policy.sort_key(Ticket("high", 0.0, severity="high"), NOW)[0] == 0


def test_default_policy_accepts_tiers_and_default_rank() -> None:
    """Policy.default(tiers, default_rank=...) passes them to its Vip rule."""
    policy = Policy.default({"enterprise": 10, "startup": 1}, default_rank=0.5)
    vip = policy.rules[1]
    assert isinstance(vip, Vip)
    assert dict(vip.tiers) == {"enterprise": 10, "startup": 1}
    assert vip.key(Ticket("A", 0.0, customer_tier="gold"), NOW) == 0.5
    assert Policy.default(default_rank=0).rules[1].key(Ticket("A", 0.0, customer_tier="x"), NOW) == 0
    with pytest.raises(RuleError):
        Policy.default().sort_key(Ticket("A", 0.0, customer_tier="enterprise"), NOW)


# -- explain ---------------------------------------------------------------------


def test_lexicographic_explanation_lists_rules_in_order() -> None:
    """A lexicographic explanation lists every rule in order with weight 1, no total, as text and as data."""
    e = Policy.default().explain(Ticket("T", 0.0, customer_tier="gold"), 30.0)
    assert isinstance(e, Explanation)
    assert (e.ticket_id, e.now, e.composition, e.total, e.position) == ("T", 30.0, Composition.LEXICOGRAPHIC, None, None)
    assert e.contributions == (
        Contribution("emergency", 0, "severity NORMAL < CRITICAL: not an emergency", 1.0),
        Contribution("vip", 2, "customer tier 'gold': rank 2", 1.0),
        Contribution("complexity", 1, "complexity 1/5, complex tickets first", 1.0),
        Contribution("feedback_order", 30.0, "first contact 30 s ago", 1.0),
    )
    assert str(e) == (
        "ticket 'T'\n"
        "  rules in order of importance (earlier rules dominate):\n"
        "  1. emergency: severity NORMAL < CRITICAL: not an emergency\n"
        "  2. vip: customer tier 'gold': rank 2\n"
        "  3. complexity: complexity 1/5, complex tickets first\n"
        "  4. feedback_order: first contact 30 s ago"
    )
    data = e.to_dict()
    assert data == {
        "ticket_id": "T",
        "now": 30.0,
        "composition": "lexicographic",
        "contributions": [
            {"rule": "emergency", "score": 0, "reason": "severity NORMAL < CRITICAL: not an emergency", "weight": 1.0},
            {"rule": "vip", "score": 2, "reason": "customer tier 'gold': rank 2", "weight": 1.0},
            {"rule": "complexity", "score": 1, "reason": "complexity 1/5, complex tickets first", "weight": 1.0},
            {"rule": "feedback_order", "score": 30.0, "reason": "first contact 30 s ago", "weight": 1.0},
        ],
        "total": None,
        "position": None,
        "wait_bound": None,
    }
    assert json.loads(json.dumps(data)) == data


def test_weighted_explanation_shows_weights_products_and_total() -> None:
    """A weighted explanation shows each weight, weight x score, and the weighted total."""
    policy = Policy.weighted([(Vip(), 600.0), (Aging(), 1.0)])
    e = policy.explain(Ticket("T", 0.0, customer_tier="gold"), 30.0)
    assert e.composition is Composition.WEIGHTED
    assert [(c.rule, c.weight, c.score) for c in e.contributions] == [("vip", 600.0, 2), ("aging", 1.0, 30.0)]
    assert e.total == 1230.0
    assert str(e) == (
        "ticket 'T'\n"
        "  weighted total 1230:\n"
        "  - vip: 600 x 2 = 1200 (customer tier 'gold': rank 2)\n"
        "  - aging: 1 x 30 = 30 (waited 30 s at 1/s)"
    )
    data = e.to_dict()
    assert data["composition"] == "weighted"
    assert data["total"] == 1230.0
    assert [c["weight"] for c in data["contributions"]] == [600.0, 1.0]


@given(tickets(), times())
def test_explanation_covers_every_rule_of_the_default_policy(ticket: Ticket, now: float) -> None:
    """For any ticket, the explanation holds each rule's own contribution, in rule order."""
    policy = Policy.default()
    e = policy.explain(ticket, now)
    assert [c.rule for c in e.contributions] == [r.name for r in policy.rules]
    assert [attrs.evolve(c, weight=1.0) for c in e.contributions] == [r.explain(ticket, now) for r in policy.rules]
    assert e.ticket_id == ticket.id


def test_explain_surfaces_rule_errors() -> None:
    """explain() raises RuleError like sort_key, and wraps an error in a rule's explain() with its cause."""
    with pytest.raises(RuleError, match="not a known tier"):
        Policy.default().explain(Ticket("T", 0.0, customer_tier="bronze"), NOW)

    class BadExplain(Returns):
        def explain(self, ticket: Ticket, now: float) -> Contribution:
            raise KeyError("oops")

    with pytest.raises(RuleError, match="explain raised") as info:
        Policy.lexicographic(BadExplain(1.0)).explain(Ticket("T-3", 0.0), NOW)
    assert (info.value.rule, info.value.ticket_id) == ("probe", "T-3")
    assert isinstance(info.value.__cause__, KeyError)


# -- next_change and time steps --------------------------------------------------


def test_builtin_policies_have_no_time_steps() -> None:
    """Policies of built-in rules are not time_stepped and their next_change is None."""
    ticket = Ticket("T", 0.0, sla_due=100.0)
    for policy in (
        Policy.default(),
        Policy.lexicographic(SlaDeadline(), Aging()),
        Policy.weighted([(Vip(), 1.0), (FeedbackOrder(), 2.0)]),
    ):
        assert policy.time_stepped is False
        assert policy.next_change(ticket, 0.0) is None


def test_next_change_is_the_earliest_step_over_all_rules() -> None:
    """next_change is the earliest upcoming step of any rule (None once all passed) and keys change then."""
    policy = Policy.lexicographic(
        SlaWarning(600.0, name="early"), SlaWarning(60.0, name="late"), FeedbackOrder()
    )
    assert policy.time_stepped is True
    ticket = Ticket("T", 0.0, sla_due=1_000.0)
    assert policy.next_change(ticket, 0.0) == 400.0
    assert policy.next_change(ticket, 400.0) == 940.0
    assert policy.next_change(ticket, 950.0) is None
    assert policy.next_change(Ticket("U", 0.0), 0.0) is None
    assert policy.sort_key(ticket, 399.0)[:2] == (0, 0)
    assert policy.sort_key(ticket, 400.0)[:2] == (-1, 0)
    assert policy.sort_key(ticket, 940.0)[:2] == (-1, -1)


@given(st.lists(st.integers(1, 5_000).map(float), min_size=1, max_size=4), times(0, 5_000), times(0, 10_000))
def test_next_change_equals_min_of_rule_steps(leads: list[float], now: float, due: float) -> None:
    """Policy.next_change equals the minimum of the rules' own upcoming steps."""
    rules = [SlaWarning(lead, name=f"esc{i}") for i, lead in enumerate(leads)]
    policy = Policy.lexicographic(*rules)
    ticket = Ticket("T", 0.0, sla_due=due)
    steps = [s for r in rules if (s := r.next_change(ticket, now)) is not None]
    assert policy.next_change(ticket, now) == (min(steps) if steps else None)


def test_protocol_rules_count_as_time_stepped() -> None:
    """A rule that is not a BaseRule may step in time, so the policy asks it for next_change."""
    policy = Policy.lexicographic(ProtocolRule(), Emergency())
    assert policy.time_stepped is True
    assert policy.next_change(Ticket("T", 0.0), 0.0) is None
    assert policy.sort_key(Ticket("T", 0.0, complexity=4), 0.0) == (-4.0, 0)
    assert policy.explain(Ticket("T", 0.0), 0.0).contributions[0].reason == "protocol says so"


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(lambda t, now: now, id="equal-to-now"),
        pytest.param(lambda t, now: now - 1, id="in-the-past"),
        pytest.param(lambda t, now: math.nan, id="nan"),
        pytest.param(lambda t, now: "soon", id="string"),
        pytest.param(lambda t, now: True, id="bool"),
        pytest.param(lambda t, now: Decimal(now + 1), id="decimal"),
    ],
)
def test_next_change_rejects_times_not_after_now(step: Callable[[Ticket, float], Any]) -> None:
    """A next_change that is not a real number later than now raises RuleError naming rule and ticket."""
    policy = Policy.lexicographic(Stepper(step))
    with pytest.raises(RuleError, match="expected a time after now") as info:
        policy.next_change(Ticket("T-5", 0.0), 100.0)
    assert (info.value.rule, info.value.ticket_id) == ("stepper", "T-5")


def test_next_change_accepts_ints_and_fractions_as_float() -> None:
    """A later instant given as an int or Fraction is returned as a float."""
    assert Policy.lexicographic(Stepper(lambda t, now: 150)).next_change(Ticket("T", 0.0), 100.0) == 150.0
    result = Policy.lexicographic(Stepper(lambda t, now: Fraction(301, 2))).next_change(Ticket("T", 0.0), 100.0)
    assert result == 150.5 and type(result) is float


def test_next_change_that_raises_is_a_rule_error_with_cause() -> None:
    """An exception in next_change becomes RuleError with the original as __cause__."""

    def boom(ticket: Ticket, now: float) -> float:
        raise LookupError("calendar missing")

    with pytest.raises(RuleError, match="next_change raised") as info:
        Policy.lexicographic(Stepper(boom)).next_change(Ticket("T-6", 0.0), 0.0)
    assert (info.value.rule, info.value.ticket_id) == ("stepper", "T-6")
    assert isinstance(info.value.__cause__, LookupError)


# -- RuleError from sort_key -----------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["lexicographic", "weighted"])
def test_rule_that_raises_becomes_rule_error_with_cause(weighted: bool) -> None:
    """A rule that raises makes sort_key raise RuleError with .rule, .ticket_id and the original as cause."""
    original = ZeroDivisionError("division by zero")
    rules = [Emergency(), Returns(original)]
    policy = Policy.weighted([(r, 1.0) for r in rules]) if weighted else Policy.lexicographic(*rules)
    with pytest.raises(RuleError, match="rule 'probe' on ticket 'T-9': raised ZeroDivisionError") as info:
        policy.sort_key(Ticket("T-9", 0.0), NOW)
    assert info.value.rule == "probe"
    assert info.value.ticket_id == "T-9"
    assert info.value.__cause__ is original


@pytest.mark.parametrize("bonus", [0.0, 60.0])
def test_builtin_rule_that_raises_is_a_rule_error_with_cause(bonus: float) -> None:
    """A built-in rule that raises (float overflow) gives RuleError naming it, with the cause chained."""
    # Ticket refuses contacts beyond 2**53 (test_hostile_values), so plant the
    # huge count past validation to reach the rule's own failure.
    ticket = Ticket("T-10", 0.0)
    object.__setattr__(ticket, "contacts", 10**400)
    policy = Policy.lexicographic(Emergency(), FeedbackOrder(follow_up_bonus=bonus))
    with pytest.raises(RuleError, match="raised OverflowError") as info:
        policy.sort_key(ticket, NOW)
    assert (info.value.rule, info.value.ticket_id) == ("feedback_order", "T-10")
    assert isinstance(info.value.__cause__, OverflowError)


def test_rule_error_raised_by_a_rule_passes_through_unchanged() -> None:
    """A RuleError raised by a rule itself (Vip's unknown tier) is not re-wrapped."""
    with pytest.raises(RuleError, match="not a known tier") as info:
        Policy.default().sort_key(Ticket("T-1", 0.0, customer_tier="Platinum"), NOW)
    assert info.value.rule == "vip"
    assert info.value.__cause__ is None


@pytest.mark.parametrize("weighted", [False, True], ids=["lexicographic", "weighted"])
@pytest.mark.parametrize(
    ("value", "match"),
    [
        pytest.param(math.nan, "returned NaN", id="nan"),
        pytest.param(-math.nan, "returned NaN", id="negative-nan"),
        pytest.param("high", "not a real number", id="string"),
        pytest.param(None, "not a real number", id="none"),
        pytest.param(Decimal("1.5"), "not a real number", id="decimal"),
        pytest.param(Decimal("NaN"), "not a real number", id="decimal-nan"),
        pytest.param(1j, "not a real number", id="complex"),
        pytest.param([1], "not a real number", id="list"),
    ],
)
def test_rule_returning_an_unorderable_value_is_a_rule_error(value: Any, match: str, weighted: bool) -> None:
    """A rule returning NaN or a non-real makes sort_key and explain raise RuleError naming rule and ticket."""
    rules = [Complexity(), Returns(value)]
    policy = Policy.weighted([(r, 1.0) for r in rules]) if weighted else Policy.lexicographic(*rules)
    ticket = Ticket("T-2", 0.0)
    with pytest.raises(RuleError, match=match) as info:
        policy.sort_key(ticket, NOW)
    assert (info.value.rule, info.value.ticket_id) == ("probe", "T-2")
    with pytest.raises(RuleError):
        policy.explain(ticket, NOW)


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_weighted_policy_rejects_infinite_keys(value: float) -> None:
    """An infinite key is a RuleError in a weighted policy but accepted in a lexicographic one."""
    with pytest.raises(RuleError, match="needs finite scores") as info:
        Policy.weighted([(Returns(value), 1.0)]).sort_key(Ticket("T-4", 0.0), NOW)
    assert (info.value.rule, info.value.ticket_id) == ("probe", "T-4")
    assert Policy.lexicographic(Returns(value)).sort_key(Ticket("T-4", 0.0), NOW) == (-value,)
    with pytest.raises(RuleError, match="sla_deadline"):
        Policy.weighted([(SlaDeadline(), 1.0)]).sort_key(Ticket("T-4", 0.0), NOW)


def test_weighted_total_overflow_is_a_rule_error() -> None:
    """Finite keys whose weighted sum overflows raise RuleError instead of ordering by infinity."""
    policy = Policy.weighted([(Returns(1e308), 10.0), (Returns(1e308, name="probe2"), 10.0)])
    with pytest.raises(RuleError, match="overflowed") as info:
        policy.sort_key(Ticket("T-8", 0.0), NOW)
    assert info.value.rule == "weighted total"
    assert info.value.ticket_id == "T-8"


@pytest.mark.parametrize("weighted", [False, True], ids=["lexicographic", "weighted"])
def test_other_real_number_types_are_accepted_as_floats(weighted: bool) -> None:
    """A rule may return any numbers.Real (a Fraction): it is converted to float and ordered as such."""
    rules = [Returns(Fraction(1, 3))]
    policy = Policy.weighted([(r, 1.0) for r in rules]) if weighted else Policy.lexicographic(*rules)
    (key,) = policy.sort_key(Ticket("T", 0.0), NOW)
    assert type(key) is float
    assert key == -(1 / 3)
    plain = Policy.lexicographic(Returns(1 / 3)) if not weighted else Policy.weighted([(Returns(1 / 3), 1.0)])
    assert policy.sort_key(Ticket("T", 0.0), NOW) == plain.sort_key(Ticket("T", 0.0), NOW)


def test_bool_keys_count_as_zero_and_one() -> None:
    """A rule returning a bool is ordered as 1 (True) and 0 (False)."""

    @rule("is_german")
    def is_german(ticket: Ticket) -> float:
        return ticket.attributes.get("language") == "de"

    policy = Policy.lexicographic(is_german)
    de, en = Ticket("A", 0.0, attributes={"language": "de"}), Ticket("B", 0.0)
    assert policy.sort_key(de, NOW) == (-1,)
    assert policy.sort_key(en, NOW) == (0,)


# -- InvalidPolicy ---------------------------------------------------------------


def _f(ticket: Ticket) -> float:
    return 0.0


NOT_A_RULE = object()
PLAIN_FUNCTION = lambda t, now: 1.0  # noqa: E731
NAMELESS = FunctionRule("", _f)
NUMBERED = FunctionRule(7, _f)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "field", "value"),
    [
        pytest.param(Policy.lexicographic, "rules", (), id="no-rules"),
        pytest.param(lambda: Policy([]), "rules", (), id="empty-list"),
        pytest.param(lambda: Policy.weighted([]), "rules", (), id="weighted-empty"),
        pytest.param(lambda: Policy.lexicographic(Emergency(), Emergency("high")), "rules", "emergency", id="duplicate-names"),
        pytest.param(lambda: Policy.lexicographic(Vip(), NOT_A_RULE), "rules", NOT_A_RULE, id="object"),
        pytest.param(lambda: Policy.lexicographic("emergency"), "rules", "emergency", id="string"),
        pytest.param(lambda: Policy.lexicographic(PLAIN_FUNCTION), "rules", PLAIN_FUNCTION, id="function"),
        pytest.param(lambda: Policy.lexicographic(Emergency), "rules", Emergency, id="rule-class"),
        pytest.param(lambda: Policy.lexicographic(NAMELESS), "rules", NAMELESS, id="empty-name"),
        pytest.param(lambda: Policy.lexicographic(NUMBERED), "rules", NUMBERED, id="non-str-name"),
        pytest.param(lambda: Policy([Emergency(), Vip()], [1.0]), "weights", (1.0,), id="too-few-weights"),
        pytest.param(lambda: Policy([Emergency()], [1.0, 2.0]), "weights", (1.0, 2.0), id="too-many-weights"),
        pytest.param(lambda: Policy.weighted([(Vip(), math.nan)]), "weights", math.nan, id="nan-weight"),
        pytest.param(lambda: Policy.weighted([(Vip(), math.inf)]), "weights", math.inf, id="inf-weight"),
        pytest.param(lambda: Policy.weighted([(Vip(), True)]), "weights", True, id="bool-weight"),
        pytest.param(lambda: Policy.weighted([(Vip(), "1")]), "weights", "1", id="str-weight"),
        pytest.param(lambda: Policy.weighted([(Vip(), Decimal(1))]), "weights", Decimal(1), id="decimal-weight"),
    ],
)
def test_invalid_policy_configuration(build: Callable[[], Policy], field: str, value: Any) -> None:
    """Bad rules (none, duplicate, non-rule, class, bad name) or weights raise InvalidPolicy naming the parameter."""
    with pytest.raises(InvalidPolicy, match=rf"^{field}=") as info:
        build()
    assert info.value.field == field
    assert info.value.value is value or info.value.value == value
    assert isinstance(info.value, ValueError)


def test_policies_are_values() -> None:
    """Policies with the same rules and weights are equal; different ones are not."""
    assert Policy.lexicographic(Emergency(), Vip()) == Policy.lexicographic(Emergency(), Vip())
    assert Policy.lexicographic(Emergency(), Vip()) != Policy.lexicographic(Vip(), Emergency())
    assert Policy.weighted([(Vip(), 1.0)]) != Policy.weighted([(Vip(), 2.0)])
    assert Policy.weighted([(Vip(), 1.0)]) != Policy.lexicographic(Vip())
    policy = Policy.default()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.rules = ()  # type: ignore[misc]


def test_policies_are_hashable_values() -> None:
    """Two default policies are equal and hash alike (usable as dict keys)."""
    assert Policy.default() == Policy.default()
    assert hash(Policy.default()) == hash(Policy.default())


def test_explanation_as_dict_is_strict_json() -> None:
    """as_dict() of a ticket without a deadline serialises as strict JSON (no -Infinity)."""
    policy = Policy.lexicographic(SlaDeadline(), FeedbackOrder())
    data = policy.explain(Ticket("T", 0.0), NOW).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["contributions"][0]["score"] is None
