"""Tests of the built-in scoring rules, custom rules and rule configuration."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies import tickets, times
from triage_queue import (
    DEFAULT_TIERS,
    Aging,
    BaseRule,
    Complexity,
    Contribution,
    Emergency,
    FeedbackOrder,
    FunctionRule,
    InvalidPolicy,
    Prefer,
    Rule,
    RuleError,
    Severity,
    SlaDeadline,
    Ticket,
    Vip,
    rule,
)

NOW = 1_000.0


def t(ticket_id: str = "T", created_at: float = 0.0, **fields: Any) -> Ticket:
    return Ticket(ticket_id, created_at, **fields)


def keys_by(r: Rule, field: str, values: list[Any]) -> dict[Any, float]:
    """The rule's key for tickets that differ only in ``field``."""
    return {v: r.key(t(**{field: v}), NOW) for v in values}


# -- Emergency -------------------------------------------------------------------


def test_emergency_puts_only_critical_first_by_default() -> None:
    """By default CRITICAL gets key 1 and every other severity ties at 0."""
    assert keys_by(Emergency(), "severity", list(Severity)) == {
        Severity.LOW: 0,
        Severity.NORMAL: 0,
        Severity.HIGH: 0,
        Severity.CRITICAL: 1,
    }


@pytest.mark.parametrize("threshold", [Severity.HIGH, "high", "HIGH", 3])
def test_emergency_threshold_is_configurable(threshold: Any) -> None:
    """With threshold HIGH (given any way), HIGH and CRITICAL tie at 1 and LOW and NORMAL at 0."""
    rule_ = Emergency(threshold)
    assert rule_.threshold is Severity.HIGH
    assert keys_by(rule_, "severity", list(Severity)) == {
        Severity.LOW: 0,
        Severity.NORMAL: 0,
        Severity.HIGH: 1,
        Severity.CRITICAL: 1,
    }


def test_emergency_explains_itself() -> None:
    """Emergency's contribution scores 1/0 and says whether the ticket is an emergency."""
    yes = Emergency().explain(t(severity="critical"), NOW)
    no = Emergency().explain(t(severity="high"), NOW)
    assert yes == Contribution("emergency", 1, "severity CRITICAL >= CRITICAL: an emergency", 1.0)
    assert no == Contribution("emergency", 0, "severity HIGH < CRITICAL: not an emergency", 1.0)


# -- Vip -------------------------------------------------------------------------


def test_vip_ranks_follow_the_default_ladder_and_no_tier_is_standard() -> None:
    """Default ranks are platinum 3 > gold 2 > silver 1 > standard 0, and no tier ties with standard."""
    assert keys_by(Vip(), "customer_tier", [None, "standard", "silver", "gold", "platinum"]) == {
        None: 0,
        "standard": 0,
        "silver": 1,
        "gold": 2,
        "platinum": 3,
    }
    assert dict(Vip().tiers) == dict(DEFAULT_TIERS)


def test_vip_custom_tiers_and_ties() -> None:
    """Custom tiers give their own ranks; tiers of equal rank tie."""
    vip = Vip({"bronze": 1, "silver": 1, "key_account": 7.5})
    assert keys_by(vip, "customer_tier", [None, "bronze", "silver", "key_account"]) == {
        None: 0,
        "bronze": 1,
        "silver": 1,
        "key_account": 7.5,
    }


def test_vip_unknown_tier_raises_rule_error_naming_it() -> None:
    """An unknown tier raises RuleError naming the tier, rule and ticket, so a typo never demotes a VIP."""
    ticket = t("T-7", customer_tier="Gold")
    with pytest.raises(RuleError, match="customer_tier='Gold' is not a known tier") as info:
        Vip().key(ticket, NOW)
    assert info.value.rule == "vip"
    assert info.value.ticket_id == "T-7"
    with pytest.raises(RuleError):
        Vip().explain(ticket, NOW)


def test_vip_default_rank_covers_unknown_tiers() -> None:
    """With default_rank set, an unknown tier gets that rank instead of an error."""
    vip = Vip(default_rank=1.5)
    assert vip.key(t(customer_tier="diamond"), NOW) == 1.5
    assert vip.key(t(customer_tier="gold"), NOW) == 2
    assert vip.key(t(customer_tier=None), NOW) == 0


def test_vip_copies_its_tier_mapping() -> None:
    """Changing the mapping a Vip rule was built from does not change the rule."""
    tiers = {"gold": 2}
    vip = Vip(tiers)
    tiers["gold"] = 0
    tiers["silver"] = 1
    assert vip.key(t(customer_tier="gold"), NOW) == 2
    with pytest.raises(RuleError):
        vip.key(t(customer_tier="silver"), NOW)


def test_vip_explains_itself() -> None:
    """Vip's contribution gives the rank and names the tier."""
    assert Vip().explain(t(customer_tier="gold"), NOW) == Contribution("vip", 2, "customer tier 'gold': rank 2")
    assert Vip().explain(t(), NOW) == Contribution("vip", 0, "standard customer (no tier): rank 0")


# -- Complexity ------------------------------------------------------------------


def test_complexity_puts_complex_tickets_first_by_default() -> None:
    """By default the key grows with complexity, so 5 is served before 1."""
    rule_ = Complexity()
    assert rule_.prefer is Prefer.COMPLEX
    assert keys_by(rule_, "complexity", [1, 2, 3, 4, 5]) == {1: 1, 2: 2, 3: 3, 4: 4, 5: 5}
    assert rule_.key(t("A", complexity=3), NOW) == rule_.key(t("B", 99.0, complexity=3), NOW)


@pytest.mark.parametrize("prefer", ["simple", Prefer.SIMPLE])
def test_complexity_can_put_simple_tickets_first(prefer: Any) -> None:
    """prefer='simple' reverses the order: complexity 1 is served first."""
    rule_ = Complexity(prefer=prefer)
    assert rule_.prefer is Prefer.SIMPLE
    assert keys_by(rule_, "complexity", [1, 2, 3, 4, 5]) == {1: -1, 2: -2, 3: -3, 4: -4, 5: -5}
    assert rule_.explain(t(complexity=2), NOW).reason == "complexity 2/5, simple tickets first"
    assert Complexity().explain(t(complexity=4), NOW) == Contribution("complexity", 4, "complexity 4/5, complex tickets first")


# -- FeedbackOrder ---------------------------------------------------------------


def test_feedback_order_serves_the_earliest_contact_first() -> None:
    """Earlier first contact gets a higher key; equal created_at ties whatever the contacts (no bonus)."""
    rule_ = FeedbackOrder()
    early, late = t("A", 10.0), t("B", 20.0)
    assert rule_.key(early, NOW) > rule_.key(late, NOW)
    assert rule_.key(t("C", 10.0, contacts=4), NOW) == rule_.key(early, NOW)


@given(tickets(), st.floats(min_value=0, max_value=1e4), times())
def test_a_follow_up_never_moves_a_ticket_back(ticket: Ticket, bonus: float, now: float) -> None:
    """One more contact never lowers the key, and with a bonus of 1 s or more it raises it."""
    rule_ = FeedbackOrder(follow_up_bonus=bonus)
    followed_up = ticket.evolve(contacts=ticket.contacts + 1)
    assert rule_.key(followed_up, now) >= rule_.key(ticket, now)
    if bonus >= 1.0:
        assert rule_.key(followed_up, now) > rule_.key(ticket, now)


def test_follow_up_bonus_moves_a_ticket_forward_by_the_bonus() -> None:
    """Each follow-up adds follow_up_bonus seconds of seniority: 30 s younger overtakes, 60 s younger ties."""
    rule_ = FeedbackOrder(follow_up_bonus=60)
    older = t("A", 100.0)
    assert rule_.key(t("B", 130.0, contacts=2), NOW) > rule_.key(older, NOW)
    assert rule_.key(t("C", 160.0, contacts=2), NOW) == rule_.key(older, NOW)
    assert rule_.key(t("D", 161.0, contacts=2), NOW) < rule_.key(older, NOW)
    assert rule_.key(t("E", 100.0, contacts=3), 400.0) == 20.0


def test_feedback_order_explains_waiting_time_and_follow_ups() -> None:
    """The score is the effective waiting time and the reason mentions the follow-ups."""
    rule_ = FeedbackOrder(follow_up_bonus=60)
    c = rule_.explain(t(created_at=100.0, contacts=3), 400.0)
    assert c.score == 300.0 + 120.0
    assert c.reason == "first contact 300 s ago, 2 follow-up(s) add 120 s"
    assert FeedbackOrder().explain(t(created_at=100.0, contacts=2), 400.0).reason == "first contact 300 s ago, 1 follow-up(s)"
    assert FeedbackOrder().explain(t(created_at=100.0), 400.0) == Contribution("feedback_order", 300.0, "first contact 300 s ago")


# -- Aging -----------------------------------------------------------------------

INTEGRAL_TIMES = st.integers(0, 1_000_000).map(float)


@given(
    INTEGRAL_TIMES,
    INTEGRAL_TIMES,
    st.lists(INTEGRAL_TIMES, min_size=2, max_size=2),
    st.one_of(st.sampled_from([0.0, 1 / 60, 0.5, 1.0, 3.0]), st.floats(min_value=1e-3, max_value=100)),
)
def test_aging_key_orders_as_waiting_time_at_any_instant(c1: float, c2: float, instants: list[float], rate: float) -> None:
    """For any two tickets and instants, Aging's score difference has the sign of its key difference."""
    a, b = t("A", c1), t("B", c2)
    rule_ = Aging(rate=rate)
    key_sign = _sign(rule_.key(a, 0.0) - rule_.key(b, 0.0))
    for now in instants:
        assert _sign(rule_.explain(a, now).score - rule_.explain(b, now).score) == key_sign
        assert rule_.key(a, now) == rule_.key(a, 0.0)  # the key does not depend on now


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def test_aging_explains_points_earned() -> None:
    """The score is rate x seconds waited, and the reason states both."""
    c = Aging(rate=0.5).explain(t(created_at=100.0), 160.0)
    assert c == Contribution("aging", 30.0, "waited 60 s at 0.5/s")
    assert Aging().key(t("A", 10.0), NOW) > Aging().key(t("B", 20.0), NOW)


# -- SlaDeadline -----------------------------------------------------------------


def test_sla_deadline_serves_the_earliest_due_first_and_no_sla_last() -> None:
    """Earlier sla_due gets a higher key, equal deadlines tie, and no SLA comes after every deadline."""
    rule_ = SlaDeadline()
    soon, later = t("A", 50.0, sla_due=300.0), t("B", 0.0, sla_due=900.0)
    same = t("C", 999.0, sla_due=300.0)
    none = t("D", 0.0)
    assert rule_.key(soon, NOW) > rule_.key(later, NOW)
    assert rule_.key(soon, NOW) == rule_.key(same, NOW)
    assert rule_.key(none, NOW) == -math.inf
    assert rule_.key(none, NOW) < rule_.key(t("E", 0.0, sla_due=1e12), NOW)
    assert rule_.key(none, NOW) == rule_.key(t("F", 500.0), NOW)


def test_sla_default_target_gives_tickets_without_sla_a_deadline() -> None:
    """default_target makes a ticket without sla_due rank as if due that long after creation."""
    rule_ = SlaDeadline(default_target=600)
    implicit = t("A", 100.0)
    explicit = t("B", 0.0, sla_due=700.0)
    assert rule_.key(implicit, NOW) == rule_.key(explicit, NOW) == -700.0
    assert rule_.key(t("C", 0.0, sla_due=650.0), NOW) > rule_.key(implicit, NOW)
    # an explicit sla_due wins over the default target
    assert rule_.key(t("D", 0.0, sla_due=5000.0), NOW) == -5000.0


def test_sla_deadline_explains_time_left_or_breach() -> None:
    """Reasons say 'due in', 'breached ... ago' or 'no SLA deadline'; the score is seconds past due."""
    rule_ = SlaDeadline()
    due = t("A", 0.0, sla_due=300.0)
    assert rule_.explain(due, 240.0) == Contribution("sla_deadline", -60.0, "due in 60 s")
    assert rule_.explain(due, 330.0) == Contribution("sla_deadline", 30.0, "SLA breached 30 s ago")
    assert rule_.explain(due, 300.0).reason == "SLA breached 0 s ago"
    none = rule_.explain(t("B", 0.0), 240.0)
    assert none.reason == "no SLA deadline" and none.score == -math.inf


@given(tickets(), st.lists(times(), min_size=1, max_size=3))
def test_builtin_rules_announce_no_time_steps(ticket: Ticket, instants: list[float]) -> None:
    """Built-in rule keys do not depend on now and next_change is None, so stored order never goes stale."""
    for rule_ in (Emergency(), Vip(default_rank=0), Complexity(), FeedbackOrder(5), Aging(2.0), SlaDeadline(60)):
        base = rule_.key(ticket, 0.0)
        for now in instants:
            assert rule_.next_change(ticket, now) is None
            assert rule_.key(ticket, now) == base
            assert isinstance(rule_.explain(ticket, now), Contribution)
            assert rule_.explain(ticket, now).rule == rule_.name


# -- custom rules ----------------------------------------------------------------


def test_rule_decorator_makes_a_time_independent_rule() -> None:
    """@rule makes a named, time-independent Rule from a function, explained as 'name = value'."""

    @rule("language")
    def language(ticket: Ticket) -> float:
        return 1.0 if ticket.attributes.get("language") == "de" else 0.0

    assert isinstance(language, FunctionRule)
    assert isinstance(language, Rule)
    assert language.name == "language"
    de = t(attributes={"language": "de"})
    assert language.key(de, 0.0) == language.key(de, 1e6) == 1.0
    assert language.key(t(), 0.0) == 0.0
    assert language.next_change(de, 0.0) is None
    assert language.explain(de, 5.0) == Contribution("language", 1.0, "language = 1")


def test_rule_decorator_uses_describe_for_the_reason() -> None:
    """A describe callback supplies the explanation sentence."""

    @rule("seats", describe=lambda tk: f"{tk.attributes.get('seats', 0)} seats")
    def seats(ticket: Ticket) -> float:
        return ticket.attributes.get("seats", 0) / 100

    c = seats.explain(t(attributes={"seats": 250}), 0.0)
    assert c == Contribution("seats", 2.5, "250 seats")


@pytest.mark.parametrize("bad", ["", None, 3])
def test_rule_decorator_needs_a_name(bad: Any) -> None:
    """@rule with an empty or non-string name raises InvalidPolicy naming 'name'."""
    with pytest.raises(InvalidPolicy, match=r"^name=") as info:
        rule(bad)
    assert info.value.field == "name"
    assert info.value.value is bad


@attrs.frozen(slots=True)
class SeatCount(BaseRule):
    """A custom attrs rule: more seats first, with a custom score."""

    per_seat: float = 1.0
    name: str = "seat_count"

    def key(self, ticket: Ticket, now: float) -> float:
        return self.per_seat * ticket.attributes.get("seats", 0)

    def score(self, ticket: Ticket, now: float) -> float:
        return float(ticket.attributes.get("seats", 0))


def test_subclassing_base_rule_with_attrs() -> None:
    """A BaseRule subclass needs only name and key(): no time steps, explanation from score(), generic reason."""
    r = SeatCount(per_seat=0.5)
    big = t(attributes={"seats": 40})
    assert isinstance(r, Rule)
    assert r.key(big, 0.0) == 20.0
    assert r.key(big, 0.0) > r.key(t(attributes={"seats": 2}), 0.0)
    assert r.next_change(big, 0.0) is None
    assert r.explain(big, 0.0) == Contribution("seat_count", 40.0, "seat_count = 40", 1.0)
    assert SeatCount(name="seats2").name == "seats2"


def test_base_rule_requires_key() -> None:
    """A BaseRule subclass that does not implement key() cannot be instantiated."""

    class NoKey(BaseRule):
        name = "no_key"

    with pytest.raises(TypeError, match="abstract"):
        NoKey()  # type: ignore[abstract]


# -- invalid configuration -------------------------------------------------------


BAD_CONFIGS: list[tuple[Any, str, Any]] = [
    (lambda v: Aging(rate=v), "rate", -1.0),
    (lambda v: Aging(rate=v), "rate", math.nan),
    (lambda v: Aging(rate=v), "rate", math.inf),
    (lambda v: Aging(rate=v), "rate", "1"),
    (lambda v: Aging(rate=v), "rate", True),
    (lambda v: FeedbackOrder(follow_up_bonus=v), "follow_up_bonus", math.nan),
    (lambda v: FeedbackOrder(follow_up_bonus=v), "follow_up_bonus", -60),
    (lambda v: FeedbackOrder(follow_up_bonus=v), "follow_up_bonus", None),
    (lambda v: Complexity(prefer=v), "prefer", "hard"),
    (lambda v: Complexity(prefer=v), "prefer", "COMPLEX"),
    (lambda v: Complexity(prefer=v), "prefer", None),
    (lambda v: Complexity(prefer=v), "prefer", []),
    (lambda v: Vip(tiers=v), "tiers", [("gold", 2)]),
    (lambda v: Vip(tiers=v), "tiers", "gold"),
    (lambda v: Vip(tiers=v), "tiers", {"": 1}),
    (lambda v: Vip(tiers=v), "tiers", {1: 1}),
    (lambda v: Vip(tiers=v), "tiers", {"gold": math.nan}),
    (lambda v: Vip(tiers=v), "tiers", {"gold": math.inf}),
    (lambda v: Vip(tiers=v), "tiers", {"gold": True}),
    (lambda v: Vip(tiers=v), "tiers", {"gold": "2"}),
    (lambda v: Vip(default_rank=v), "default_rank", math.nan),
    (lambda v: Vip(default_rank=v), "default_rank", "1"),
    (lambda v: Vip(default_rank=v), "default_rank", True),
    (lambda v: SlaDeadline(default_target=v), "default_target", -1.0),
    (lambda v: SlaDeadline(default_target=v), "default_target", math.nan),
    (lambda v: Emergency(threshold=v), "threshold", "extreme"),
    (lambda v: Emergency(threshold=v), "threshold", 0),
]


@pytest.mark.parametrize(("make", "field", "bad"), BAD_CONFIGS, ids=[f"{f}={b!r}" for _, f, b in BAD_CONFIGS])
def test_invalid_rule_configuration_raises_invalid_policy(make: Any, field: str, bad: Any) -> None:
    """Each invalid rule parameter raises InvalidPolicy with .field naming it and .value holding it."""
    with pytest.raises(InvalidPolicy, match=f"^{field}=") as info:
        make(bad)
    assert info.value.field == field
    assert info.value.value is bad
    assert isinstance(info.value, ValueError)


@given(tickets(), st.floats(min_value=0, max_value=600))
def test_zero_rate_aging_ties_everything(ticket: Ticket, now: float) -> None:
    """Aging(rate=0) is allowed and gives every ticket the same key and a zero score."""
    rule_ = Aging(rate=0)
    assert rule_.key(ticket, now) == 0
    assert rule_.explain(ticket, now).score == 0


def test_vip_tiers_are_read_only_so_the_rule_stays_valid() -> None:
    """A frozen Vip's tier ranks cannot be changed behind its validation."""
    vip = Vip({"gold": 2})
    with pytest.raises(TypeError):
        vip.tiers["gold"] = float("nan")  # type: ignore[index]
    with pytest.raises(TypeError):
        DEFAULT_TIERS["gold"] = 9  # type: ignore[index]
    assert hash(vip) == hash(Vip({"gold": 2}))
