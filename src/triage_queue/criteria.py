"""Fixed criteria for customer tiers and task complexity, as
:func:`~triage_queue.classify_severity` is for emergencies: the same facts
always give the same answer, from thresholds written down in advance (in
code, or in the policy TOML's ``[criteria]`` table), never a gut feeling.

* :func:`classify_tier` gives a customer's tier (a ``Ticket.customer_tier``
  value) from monthly spend, business size (employees) and years as a
  customer: the highest tier any one of whose thresholds the customer meets.
* :func:`assess_complexity` gives a ticket's complexity 1..5 (a
  ``Ticket.complexity`` value) from technical difficulty, effort needed and
  overlap with work in progress: the highest level any one fact reaches.

Both have an ``explain_*`` twin returning a decision that says which fact and
threshold decided it, and can annotate a ticket so its explanation carries
the reason.

>>> classify_tier(monthly_spend=12_000, employees=40)
'gold'
>>> explain_tier(monthly_spend=12_000, employees=40).reason
'gold: monthly_spend 12000 >= 10000'
>>> assess_complexity(difficulty=2, effort=3 * 3600, overlap=0)
3
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final

import attrs

from triage_queue.errors import InvalidArgument, InvalidPolicy, InvalidValue, _brief, _finite
from triage_queue.ticket import Ticket

__all__ = [
    "ComplexityCriteria",
    "ComplexityDecision",
    "Criteria",
    "TierCriteria",
    "TierDecision",
    "TierLevel",
    "assess_complexity",
    "classify_tier",
    "explain_complexity",
    "explain_tier",
]

_Number = float | Decimal | Fraction  # what a money, years or effort fact may be (an int is a float here)

TIER_FACTS: Final = ("monthly_spend", "employees", "years")
"""The customer facts a tier threshold may name, in the order they are tried."""

COMPLEXITY_FACTS: Final = ("difficulty", "effort", "overlap")
"""The ticket facts a complexity threshold may name, in the order they are tried."""

MAX_TIERS: Final = 32
"""The most tiers a ladder may have above its base tier."""

# What each fact is, for error messages and documentation.
_FACT_TEXT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "monthly_spend": "a finite number >= 0 (money per month), or None if unknown",
        "employees": "an int >= 0 (the customer's head count), or None if unknown",
        "years": "a finite number >= 0 (years as a customer), or None if unknown",
        "difficulty": "an int 1..5 (1 routine, 5 needs engineering), or None if unknown",
        "effort": "a finite number of seconds >= 0 (work needed), or None if unknown",
        "overlap": "an int >= 0 (work items in progress it overlaps), or None if unknown",
    }
)


def _real(error: type[InvalidValue], field: str, value: Any, reason: str) -> float:
    """``value`` as a finite float: an int or float, or any other real
    number (``decimal.Decimal`` money, ``fractions.Fraction``, NumPy
    numbers), converted; NaN, infinities, a bool and anything too large for
    a float raise ``error(field, value, reason)`` naming the value given."""
    if value.__class__ is float or value.__class__ is int:
        return _finite(error, field, value, reason)
    if isinstance(value, Decimal) or (isinstance(value, numbers.Real) and not isinstance(value, bool | int | float)):
        try:
            number = float(value)
        except (ValueError, OverflowError, TypeError):  # a signalling NaN, a Fraction beyond a float
            raise error(field, value, reason) from None
        if not math.isfinite(number):
            raise error(field, value, reason)
        return number
    return _finite(error, field, value, reason)


def _fact(name: str, value: Any) -> float | None:
    """A customer or ticket fact, checked: None, or a number in its range."""
    if value is None:
        return None
    if name in {"employees", "overlap", "difficulty"}:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(name, value, "expected " + _FACT_TEXT[name])
        low, high = (1, 5) if name == "difficulty" else (0, None)
        if value < low or (high is not None and value > high):
            raise InvalidArgument(name, value, "out of range: expected " + _FACT_TEXT[name])
        # An int too large for a float still compares correctly with float thresholds.
        return value
    number = _real(InvalidArgument, name, value, "expected " + _FACT_TEXT[name])
    if number < 0:
        raise InvalidArgument(name, value, "out of range: expected " + _FACT_TEXT[name])
    return number


def _threshold(field: str, value: Any) -> float | None:
    if value is None:
        return None
    number = _real(InvalidPolicy, field, value, "expected a finite number >= 0, or None")
    if number < 0:
        raise InvalidPolicy(field, value, "expected a finite number >= 0, or None")
    return number


def _number_text(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- tiers -----------------------------------------------------------------


def _tier_name(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidPolicy(field, value, "expected a non-empty tier name (a string of at most 200 characters)")
    return value


@attrs.frozen(slots=True, init=False)
class TierLevel:
    """One rung of a tier ladder: the tier ``name`` and the thresholds that
    earn it.  A customer reaches the tier by meeting **any one** threshold
    (``monthly_spend >= ...``, ``employees >= ...``, ``years >= ...``); a
    threshold of None means that fact cannot earn this tier.  At least one
    threshold must be set.

    Bad values raise :class:`~triage_queue.InvalidPolicy` naming the field.

    Runtime complexity: construction O(1).

    >>> TierLevel("gold", monthly_spend=10_000, employees=1_000)
    TierLevel(name='gold', monthly_spend=10000.0, employees=1000.0, years=None)
    >>> TierLevel("gold", monthly_spend=-1)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidPolicy: monthly_spend=-1: expected a finite number >= 0, or None
    """

    name: str
    monthly_spend: float | None
    employees: float | None
    years: float | None

    def __init__(
        self, name: str, *, monthly_spend: _Number | None = None, employees: float | None = None, years: _Number | None = None
    ) -> None:
        values = {
            "name": _tier_name("name", name),
            "monthly_spend": _threshold("monthly_spend", monthly_spend),
            "employees": _threshold("employees", employees),
            "years": _threshold("years", years),
        }
        if all(values[fact] is None for fact in TIER_FACTS):
            raise InvalidPolicy("name", name, "a tier needs at least one threshold (monthly_spend, employees or years)")
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def thresholds(self) -> dict[str, float]:
        """The thresholds that are set, by fact name, in :data:`TIER_FACTS` order.

        Runtime complexity: O(1).

        >>> TierLevel("silver", years=3).thresholds()
        {'years': 3.0}
        """
        out: dict[str, float] = {}
        for fact in TIER_FACTS:
            value = getattr(self, fact)
            if value is not None:
                out[fact] = value
        return out


@attrs.frozen(slots=True)
class TierDecision:
    """What :meth:`TierCriteria.decide` found: the ``tier`` (a
    ``Ticket.customer_tier`` value), its ``rank`` on the ladder (0 for the
    base tier), the ``fact`` and ``threshold`` that earned it and the
    customer's ``value`` for that fact (all None for the base tier), and the
    ``reason`` in words.  ``str(decision)`` is the reason.

    Runtime complexity: O(1) for every attribute.

    >>> d = explain_tier(employees=2_000)
    >>> d.tier, d.rank, d.fact, d.value, d.threshold, str(d)
    ('gold', 2, 'employees', 2000, 1000.0, 'gold: employees 2000 >= 1000')
    """

    tier: str
    rank: int
    fact: str | None
    value: float | None
    threshold: float | None
    reason: str

    def __str__(self) -> str:
        return self.reason

    def apply(self, ticket: Ticket) -> Ticket:
        """The ticket with ``customer_tier`` set to this tier and the reason
        kept in its attributes under ``"tier_reason"`` (which the ``vip``
        rule's explanation and the audit trail can then show), with the tier
        it was given for under ``"tier_reason_for"``: once the ticket's tier
        changes, explanations leave the old reason out.

        Runtime complexity: O(number of attributes).

        >>> t = explain_tier(employees=2_000).apply(Ticket("T-1", 0.0))
        >>> t.customer_tier, t.attributes["tier_reason"]
        ('gold', 'gold: employees 2000 >= 1000')
        """
        attributes = {**ticket.attributes, "tier_reason": self.reason, "tier_reason_for": self.tier}
        return ticket.evolve(customer_tier=self.tier, attributes=attributes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, in field order.  Runtime complexity: O(1).

        >>> explain_tier().to_dict()["tier"]
        'standard'
        """
        return {name: getattr(self, name) for name in ("tier", "rank", "fact", "value", "threshold", "reason")}


def _to_levels(value: Any) -> tuple[TierLevel, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidPolicy("levels", _brief(value), "expected a sequence of TierLevel, lowest tier first")
    levels: list[TierLevel] = []
    for item in value:
        if not isinstance(item, TierLevel):
            raise InvalidPolicy(f"levels[{len(levels)}]", item, "expected a TierLevel")
        levels.append(item)
        if len(levels) > MAX_TIERS:
            raise InvalidPolicy("levels", f"<more than {MAX_TIERS} tiers>", f"at most {MAX_TIERS} tiers (MAX_TIERS)")
    return tuple(levels)


@attrs.frozen(slots=True)
class TierCriteria:
    """A tier ladder: ``base`` (the tier of a customer who meets no
    threshold) and ``levels`` above it, **lowest first**.  A customer gets
    the highest level any one of whose thresholds they meet.

    The default ladder (:meth:`default`), the one :func:`classify_tier` uses
    when given no criteria, uses the tier names of
    :data:`~triage_queue.DEFAULT_TIERS`:

    ==========  ===============  ============  ==================
    tier        monthly spend >=  employees >=  years as customer >=
    ==========  ===============  ============  ==================
    platinum    50,000           5,000         --
    gold        10,000           1,000         8
    silver      1,000            100           3
    standard    (anything else)
    ==========  ===============  ============  ==================

    Tier names must be distinct; a fact's thresholds must not fall going up
    the ladder (a higher tier easier to reach than a lower one would make
    the lower one unreachable by that fact).  Anything wrong raises
    :class:`~triage_queue.InvalidPolicy` naming the field.

    Runtime complexity: construction O(L) for L levels; :meth:`decide` O(L).

    >>> ladder = TierCriteria([TierLevel("vip", monthly_spend=500)], base="regular")
    >>> ladder.decide(monthly_spend=800).tier, ladder.decide(monthly_spend=100).tier
    ('vip', 'regular')
    >>> TierCriteria([TierLevel("a", years=5), TierLevel("b", years=2)])
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidPolicy: levels[1].years=2.0: below the threshold of the tier under it ('a': 5)
    """

    levels: tuple[TierLevel, ...] = attrs.field(converter=_to_levels)
    base: str = attrs.field(default="standard")

    def __attrs_post_init__(self) -> None:
        _tier_name("base", self.base)
        seen = {self.base: "base"}
        for index, level in enumerate(self.levels):
            if level.name in seen:
                raise InvalidPolicy(f"levels[{index}].name", level.name, f"the tier is named twice (also {seen[level.name]})")
            seen[level.name] = f"levels[{index}]"
        for fact in TIER_FACTS:
            below: tuple[str, float] | None = None
            for index, level in enumerate(self.levels):
                value = getattr(level, fact)
                if value is None:
                    continue
                if below is not None and value < below[1]:
                    raise InvalidPolicy(
                        f"levels[{index}].{fact}",
                        value,
                        f"below the threshold of the tier under it ({below[0]!r}: {_number_text(below[1])})",
                    )
                below = (level.name, value)

    @classmethod
    def default(cls) -> TierCriteria:
        """The documented default ladder (see the table above).  Runtime complexity: O(1).

        >>> TierCriteria.default().tiers
        ('standard', 'silver', 'gold', 'platinum')
        """
        return _DEFAULT_TIERS

    @property
    def tiers(self) -> tuple[str, ...]:
        """Every tier name, lowest (the base) first.  Runtime complexity: O(L)."""
        return (self.base, *(level.name for level in self.levels))

    def ranks(self) -> dict[str, int]:
        """The tiers' ranks (0 for the base), ready for
        :class:`~triage_queue.Vip` so the ladder and the rule agree.

        Runtime complexity: O(L).

        >>> TierCriteria.default().ranks()
        {'standard': 0, 'silver': 1, 'gold': 2, 'platinum': 3}
        """
        return {name: rank for rank, name in enumerate(self.tiers)}

    def decide(
        self, monthly_spend: _Number | None = None, employees: int | None = None, years: _Number | None = None
    ) -> TierDecision:
        """The customer's tier and why.  Unknown facts (None) earn nothing.
        A bad fact raises :class:`~triage_queue.InvalidArgument` naming it.

        Runtime complexity: O(L) for L levels.

        >>> TierCriteria.default().decide(monthly_spend=900, years=9).reason
        'gold: years 9 >= 8'
        """
        facts = {
            "monthly_spend": _fact("monthly_spend", monthly_spend),
            "employees": _fact("employees", employees),
            "years": _fact("years", years),
        }
        for rank in range(len(self.levels), 0, -1):
            level = self.levels[rank - 1]
            for fact in TIER_FACTS:
                threshold = getattr(level, fact)
                value = facts[fact]
                if threshold is not None and value is not None and value >= threshold:
                    reason = f"{level.name}: {fact} {_number_text(value)} >= {_number_text(threshold)}"
                    return TierDecision(level.name, rank, fact, value, threshold, reason)
        known = [f"{fact} {_number_text(v)}" for fact, v in facts.items() if v is not None]
        if self.levels:
            lowest = self.levels[0]
            short = ", ".join(f"{fact} < {_number_text(t)}" for fact, t in lowest.thresholds().items())
            why = f"below every threshold of {lowest.name!r} ({short})"
        else:
            why = "the ladder has no tier above it"
        given = f" ({', '.join(known)})" if known else " (no facts given)"
        return TierDecision(self.base, 0, None, None, None, f"{self.base}: {why}{given}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (the TOML ``[criteria.tier]`` table's shape).
        Runtime complexity: O(L).

        >>> TierCriteria([TierLevel("vip", years=2)]).to_dict()
        {'base': 'standard', 'levels': [{'name': 'vip', 'years': 2.0}]}
        """
        return {"base": self.base, "levels": [{"name": level.name, **level.thresholds()} for level in self.levels]}


_DEFAULT_TIERS: Final = TierCriteria(
    (
        TierLevel("silver", monthly_spend=1_000, employees=100, years=3),
        TierLevel("gold", monthly_spend=10_000, employees=1_000, years=8),
        TierLevel("platinum", monthly_spend=50_000, employees=5_000),
    )
)


def classify_tier(
    monthly_spend: _Number | None = None,
    employees: int | None = None,
    years: _Number | None = None,
    *,
    criteria: TierCriteria | None = None,
) -> str:
    """A customer's tier (a ``Ticket.customer_tier`` value) from fixed
    criteria: the highest tier of the ladder any one of whose thresholds the
    customer meets (:meth:`TierCriteria.default` unless ``criteria`` is
    given; see its table).  Facts left None count for nothing.

    ``monthly_spend`` is money per month (an int, a float, or a
    ``decimal.Decimal`` or ``fractions.Fraction``, compared as a float),
    ``employees`` the customer's head count (business size), ``years`` how
    long they have been a customer.  A bad fact raises :class:`~triage_queue.InvalidArgument` naming it.
    :func:`explain_tier` says which threshold decided.

    Runtime complexity: O(L) for L tiers.

    >>> classify_tier(monthly_spend=60_000), classify_tier(employees=150), classify_tier(years=1)
    ('platinum', 'silver', 'standard')
    >>> classify_tier(monthly_spend=-5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: monthly_spend=-5: out of range: expected a finite number >= 0 (money per month)...
    """
    return _tier_criteria(criteria).decide(monthly_spend, employees, years).tier


def explain_tier(
    monthly_spend: _Number | None = None,
    employees: int | None = None,
    years: _Number | None = None,
    *,
    criteria: TierCriteria | None = None,
) -> TierDecision:
    """:func:`classify_tier` with its reason: a :class:`TierDecision`
    naming the fact and threshold that decided.

    Runtime complexity: O(L) for L tiers.

    >>> print(explain_tier(monthly_spend=500, employees=20))
    standard: below every threshold of 'silver' (monthly_spend < 1000, employees < 100, years < 3) \
(monthly_spend 500, employees 20)
    """
    return _tier_criteria(criteria).decide(monthly_spend, employees, years)


def _tier_criteria(criteria: Any) -> TierCriteria:
    if criteria is None:
        return _DEFAULT_TIERS
    if not isinstance(criteria, TierCriteria):
        raise InvalidArgument("criteria", criteria, "expected a TierCriteria or None")
    return criteria


# -- complexity ------------------------------------------------------------

_LEVELS: Final = (2, 3, 4, 5)


def _four_thresholds(field: str, value: Any) -> tuple[float, float, float, float]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidPolicy(field, value, "expected 4 thresholds, for levels 2, 3, 4 and 5, not decreasing")
    items = []
    for item in value:
        items.append(item)
        if len(items) > 4:
            break
    if len(items) != 4:
        raise InvalidPolicy(field, _brief(value), "expected 4 thresholds, for levels 2, 3, 4 and 5, not decreasing")
    out: list[float] = []
    for index, item in enumerate(items):
        number = _threshold(f"{field}[{index}]", item)
        if number is None:
            raise InvalidPolicy(f"{field}[{index}]", item, "expected a finite number >= 0")
        if out and number < out[-1]:
            raise InvalidPolicy(
                f"{field}[{index}]",
                item,
                f"below the threshold of level {index + 1} ({_number_text(out[-1])}): must not decrease",
            )
        out.append(number)
    return out[0], out[1], out[2], out[3]


def _difficulty(value: Any) -> tuple[float, float, float, float]:
    return _four_thresholds("difficulty", value)


_MAX_EFFORT: Final = 366 * 86400.0  # config.MAX_DURATION: what a policy file can say ("366d")


def _effort(value: Any) -> tuple[float, float, float, float]:
    thresholds = _four_thresholds("effort", value)
    for index, seconds in enumerate(thresholds):
        if seconds > _MAX_EFFORT:  # the policy file written from it must read back
            raise InvalidPolicy(f"effort[{index}]", seconds, "too long: at most 366 days (MAX_DURATION)")
    return thresholds


def _overlap(value: Any) -> tuple[float, float, float, float]:
    return _four_thresholds("overlap", value)


@attrs.frozen(slots=True)
class ComplexityDecision:
    """What :meth:`ComplexityCriteria.decide` found: the ``level`` 1..5 (a
    ``Ticket.complexity`` value), the ``fact`` and ``threshold`` that
    reached it and the ticket's ``value`` for that fact (all None at level
    1), and the ``reason`` in words.  ``str(decision)`` is the reason.

    Runtime complexity: O(1) for every attribute.

    >>> d = explain_complexity(overlap=4)
    >>> d.level, d.fact, d.value, d.threshold, str(d)
    (4, 'overlap', 4, 4.0, 'complexity 4: overlap 4 >= 4 (level 4)')
    """

    level: int
    fact: str | None
    value: float | None
    threshold: float | None
    reason: str

    def __str__(self) -> str:
        return self.reason

    def apply(self, ticket: Ticket) -> Ticket:
        """The ticket with ``complexity`` set to this level and the reason kept
        in its attributes under ``"complexity_reason"``, with the level it was
        given for under ``"complexity_reason_for"``: once the ticket's
        complexity changes, explanations leave the old reason out.

        Runtime complexity: O(number of attributes).

        >>> explain_complexity(overlap=4).apply(Ticket("T-1", 0.0)).complexity
        4
        """
        attributes = {**ticket.attributes, "complexity_reason": self.reason, "complexity_reason_for": self.level}
        return ticket.evolve(complexity=self.level, attributes=attributes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, in field order.  Runtime complexity: O(1).

        >>> explain_complexity(difficulty=5).to_dict()["level"]
        5
        """
        return {name: getattr(self, name) for name in ("level", "fact", "value", "threshold", "reason")}


@attrs.frozen(slots=True)
class ComplexityCriteria:
    """The thresholds of the complexity levels 2, 3, 4 and 5 for each
    fact: a ticket's complexity is the highest level any one fact reaches
    (1 if none does).  Each is 4 numbers, not decreasing.

    The defaults (:meth:`default`, used by :func:`assess_complexity` when
    given no criteria):

    ==========  ==========================  =========  =========  =========  =========
    fact        unit                        level 2    level 3    level 4    level 5
    ==========  ==========================  =========  =========  =========  =========
    difficulty  1 routine .. 5 engineering  2          3          4          5
    effort      seconds of work             30 min     2 h        8 h        24 h
    overlap     work items in progress      1          2          4          8
    ==========  ==========================  =========  =========  =========  =========

    Difficulty: 1 a routine answer; 2 needs a look at the customer's
    account or settings; 3 needs investigation (reproduce, read logs);
    4 needs a specialist; 5 needs engineering (a code change, a vendor).
    Overlap: how many other open tickets, incidents or changes in progress
    the ticket touches.

    Bad thresholds raise :class:`~triage_queue.InvalidPolicy` naming the
    field and the position.

    Runtime complexity: construction O(1); :meth:`decide` O(1).

    >>> ComplexityCriteria(effort=(600, 3600, 7200, 14400)).decide(effort=5000).level
    3
    >>> ComplexityCriteria(overlap=(1, 3, 2, 5))
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidPolicy: overlap[2]=2: below the threshold of level 3 (3): must not decrease
    """

    difficulty: tuple[float, float, float, float] = attrs.field(default=(2, 3, 4, 5), converter=_difficulty)
    effort: tuple[float, float, float, float] = attrs.field(default=(1800, 7200, 28800, 86400), converter=_effort)
    overlap: tuple[float, float, float, float] = attrs.field(default=(1, 2, 4, 8), converter=_overlap)

    @classmethod
    def default(cls) -> ComplexityCriteria:
        """The documented defaults (see the table above).  Runtime complexity: O(1).

        >>> ComplexityCriteria.default().effort
        (1800.0, 7200.0, 28800.0, 86400.0)
        """
        return _DEFAULT_COMPLEXITY

    def decide(
        self, difficulty: int | None = None, effort: _Number | None = None, overlap: int | None = None
    ) -> ComplexityDecision:
        """The ticket's complexity and why.  Unknown facts (None) count for
        nothing.  A bad fact raises :class:`~triage_queue.InvalidArgument`
        naming it.  Ties between facts go to the first in
        :data:`COMPLEXITY_FACTS` order.

        Runtime complexity: O(1).

        >>> ComplexityCriteria.default().decide(difficulty=3, effort=30_000).reason
        'complexity 4: effort 30000 >= 28800 (level 4)'
        """
        facts = {
            "difficulty": _fact("difficulty", difficulty),
            "effort": _fact("effort", effort),
            "overlap": _fact("overlap", overlap),
        }
        best: ComplexityDecision | None = None
        for fact in COMPLEXITY_FACTS:
            value = facts[fact]
            if value is None:
                continue
            thresholds: tuple[float, ...] = getattr(self, fact)
            for level, threshold in zip(reversed(_LEVELS), reversed(thresholds), strict=True):
                if value >= threshold:
                    if best is None or level > best.level:
                        reason = f"complexity {level}: {fact} {_number_text(value)} >= {_number_text(threshold)} (level {level})"
                        best = ComplexityDecision(level, fact, value, threshold, reason)
                    break
        if best is not None:
            return best
        known = [f"{fact} {_number_text(v)}" for fact, v in facts.items() if v is not None]
        below = ", ".join(f"{fact} < {_number_text(getattr(self, fact)[0])}" for fact in COMPLEXITY_FACTS)
        given = f" ({', '.join(known)})" if known else " (no facts given)"
        return ComplexityDecision(1, None, None, None, f"complexity 1: below every level-2 threshold ({below}){given}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (the TOML ``[criteria.complexity]`` table's shape,
        effort in seconds).  Runtime complexity: O(1).

        >>> ComplexityCriteria.default().to_dict()["overlap"]
        [1.0, 2.0, 4.0, 8.0]
        """
        return {fact: list(getattr(self, fact)) for fact in COMPLEXITY_FACTS}


_DEFAULT_COMPLEXITY: Final = ComplexityCriteria()


def assess_complexity(
    difficulty: int | None = None,
    effort: _Number | None = None,
    overlap: int | None = None,
    *,
    criteria: ComplexityCriteria | None = None,
) -> int:
    """A ticket's complexity 1..5 (a ``Ticket.complexity`` value) from fixed
    criteria: the highest level any one fact reaches
    (:meth:`ComplexityCriteria.default` unless ``criteria`` is given; see
    its table).  Facts left None count for nothing.

    ``difficulty`` is the technical depth 1..5, ``effort`` the seconds of
    work needed, ``overlap`` the number of work items in progress it
    overlaps.  A bad fact raises :class:`~triage_queue.InvalidArgument`
    naming it.  :func:`explain_complexity` says which threshold decided.

    Runtime complexity: O(1).

    >>> assess_complexity(difficulty=1), assess_complexity(difficulty=1, overlap=2), assess_complexity(effort=86400)
    (1, 3, 5)
    >>> assess_complexity(difficulty=7)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: difficulty=7: out of range: expected an int 1..5 (1 routine, 5 needs engineering)...
    """
    return _complexity_criteria(criteria).decide(difficulty, effort, overlap).level


def explain_complexity(
    difficulty: int | None = None,
    effort: _Number | None = None,
    overlap: int | None = None,
    *,
    criteria: ComplexityCriteria | None = None,
) -> ComplexityDecision:
    """:func:`assess_complexity` with its reason: a
    :class:`ComplexityDecision` naming the fact and threshold that decided.

    Runtime complexity: O(1).

    >>> str(explain_complexity(difficulty=2, overlap=1))
    'complexity 2: difficulty 2 >= 2 (level 2)'
    """
    return _complexity_criteria(criteria).decide(difficulty, effort, overlap)


def _complexity_criteria(criteria: Any) -> ComplexityCriteria:
    if criteria is None:
        return _DEFAULT_COMPLEXITY
    if not isinstance(criteria, ComplexityCriteria):
        raise InvalidArgument("criteria", criteria, "expected a ComplexityCriteria or None")
    return criteria


# -- both, as a policy file declares them ------------------------------------


def _check_tier(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, TierCriteria):
        raise InvalidPolicy("tier", value, "expected a TierCriteria")


def _check_complexity(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, ComplexityCriteria):
        raise InvalidPolicy("complexity", value, "expected a ComplexityCriteria")


@attrs.frozen(slots=True)
class Criteria:
    """The tier ladder and the complexity thresholds a policy declares (the
    policy TOML's ``[criteria]`` table; see ``docs/criteria.md``), each
    the documented default unless given.  :meth:`classify_tier` and
    :meth:`assess_complexity` apply them.

    Runtime complexity: construction O(L) for L tiers.

    >>> c = Criteria(complexity=ComplexityCriteria(overlap=(1, 1, 1, 1)))
    >>> c.assess_complexity(overlap=1), c.classify_tier(years=4)
    (5, 'silver')
    """

    tier: TierCriteria = attrs.field(factory=TierCriteria.default, validator=_check_tier)
    complexity: ComplexityCriteria = attrs.field(factory=ComplexityCriteria.default, validator=_check_complexity)

    def classify_tier(
        self, monthly_spend: _Number | None = None, employees: int | None = None, years: _Number | None = None
    ) -> str:
        """:func:`~triage_queue.classify_tier` with this ladder.  Runtime complexity: O(L).

        >>> Criteria().classify_tier(monthly_spend=1_500), Criteria().classify_tier()
        ('silver', 'standard')
        """
        return self.tier.decide(monthly_spend, employees, years).tier

    def assess_complexity(
        self, difficulty: int | None = None, effort: _Number | None = None, overlap: int | None = None
    ) -> int:
        """:func:`~triage_queue.assess_complexity` with these thresholds.  Runtime complexity: O(1).

        >>> Criteria().assess_complexity(effort=3 * 3600), Criteria().assess_complexity()
        (3, 1)
        """
        return self.complexity.decide(difficulty, effort, overlap).level

    def is_default(self) -> bool:
        """Whether both are the documented defaults.  Runtime complexity: O(L).

        >>> Criteria().is_default()
        True
        """
        return self.tier == _DEFAULT_TIERS and self.complexity == _DEFAULT_COMPLEXITY
