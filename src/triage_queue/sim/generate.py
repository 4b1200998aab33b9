"""Synthetic days: ticket classes with arrival rates over the day, handling
times, patience and follow-ups, and a roster built from teams with shifts.

Every random draw comes from one ``random.Random(seed)``, made when the
:class:`~triage_queue.sim.model.Day` is built, so the same seed gives the
same day and two policies can be compared on exactly the same arrivals.
Times are seconds; the scenarios count them from midnight.

>>> billing = TicketClass("billing", RateProfile.constant(30.0, 0.0, 3600.0), Exponential(240.0),
...                       skills={"billing": 2}, channel="chat")
>>> team = Team("desk", size=3, skills={"billing": 3}, start=0.0, end=3600.0)
>>> day = generate_day([billing], build_staff([team]), seed=1)
>>> day == generate_day([billing], build_staff([team]), seed=1)
True
>>> len(day.staff), day.arrivals[0].ticket_class, day.arrivals[0].ticket.channel
(3, 'billing', 'chat')
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from triage_queue.agents import Agent
from triage_queue.errors import InvalidValue
from triage_queue.sim.model import MAX_TEAM_SIZE, Arrival, Day, InvalidSimulation, Shift, Staff
from triage_queue.ticket import Severity, SkillSet, Ticket

__all__ = [
    "Choice",
    "Customers",
    "Distribution",
    "Exponential",
    "Fixed",
    "Lognormal",
    "RateProfile",
    "Team",
    "TicketClass",
    "build_staff",
    "default_staff",
    "generate_arrivals",
    "generate_day",
    "parse_skills",
]

# Follow-ups are drawn over at most this long a wait when a ticket has no
# patience: the engine ignores those that fall after the ticket is served.
_FOLLOW_UP_HORIZON = 8 * 3600.0
_MAX_FOLLOW_UPS = 50


def _positive(field: str, value: Any, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise InvalidSimulation(field, value, "expected a finite number")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidSimulation(field, value, "expected a number >= 0" if allow_zero else "expected a number > 0")
    return float(value)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


# -- distributions ---------------------------------------------------------------


def _to_mean(value: Any) -> float:
    return _positive("mean", value)


def _to_sigma(value: Any) -> float:
    return _positive("sigma", value)


def _to_value(value: Any) -> float:
    return _positive("value", value)


@runtime_checkable
class Distribution(Protocol):
    """What a handling-time or patience distribution offers: ``mean`` and
    ``sample(rng)`` (seconds, > 0)."""

    @property
    def mean(self) -> float:
        """The distribution's mean, in seconds."""

    def sample(self, rng: random.Random) -> float:
        """One draw, using only ``rng``."""


@attrs.frozen
class Exponential:
    """Exponentially distributed seconds with the given ``mean`` (rate 1/mean).

    Runtime complexity: O(1) per sample.

    >>> Exponential(60.0).sample(random.Random(0)) > 0
    True
    """

    mean: float = attrs.field(converter=_to_mean)

    def sample(self, rng: random.Random) -> float:
        """One draw.  O(1)."""
        # expovariate can return 0.0 (a ticket of no work): keep it positive.
        return max(rng.expovariate(1.0 / self.mean), 1e-9)


@attrs.frozen
class Lognormal:
    """Lognormally distributed seconds parametrised by their **mean** (not
    the median) and ``sigma``, the standard deviation of the underlying
    normal: ``mu = ln(mean) - sigma**2 / 2`` so that ``E[X] == mean``.
    The median is ``mean * exp(-sigma**2 / 2)``.

    Runtime complexity: O(1) per sample.

    >>> d = Lognormal(300.0, 0.5)
    >>> round(d.median, 1)
    264.7
    """

    mean: float = attrs.field(converter=_to_mean)
    sigma: float = attrs.field(converter=_to_sigma)

    @property
    def median(self) -> float:
        """``mean * exp(-sigma**2 / 2)``.  O(1)."""
        return self.mean * math.exp(-self.sigma**2 / 2)

    def sample(self, rng: random.Random) -> float:
        """One draw.  O(1)."""
        return rng.lognormvariate(math.log(self.mean) - self.sigma**2 / 2, self.sigma)


@attrs.frozen
class Fixed:
    """Always ``value`` seconds.  Runtime complexity: O(1).

    >>> Fixed(90).sample(random.Random(0))
    90.0
    """

    value: float = attrs.field(converter=_to_value)

    @property
    def mean(self) -> float:
        """The value itself.  O(1)."""
        return self.value

    def sample(self, rng: random.Random) -> float:
        """The value (``rng`` is not consumed).  O(1)."""
        return self.value


def _distribution(field: str, value: Any) -> Distribution | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Distribution):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Fixed(value)
        raise InvalidSimulation(field, value, "expected Exponential, Lognormal, Fixed or a number of seconds")
    return value


def _to_handling(value: Any) -> Distribution:
    found = _distribution("handling", value)
    if found is None:
        raise InvalidSimulation("handling", None, "a ticket class needs a handling-time distribution")
    return found


def _to_patience(value: Any) -> Distribution | None:
    return _distribution("patience", value)


def _to_options(value: Any) -> dict[Any, float]:
    if not isinstance(value, Mapping):
        raise InvalidSimulation("options", value, "expected a mapping of value to weight")
    return dict(value)


@attrs.frozen
class Choice:
    """A discrete distribution: ``options`` maps each value to its weight
    (weights > 0, need not sum to 1).

    Runtime complexity: construction O(k); a sample O(log k).

    >>> c = Choice({"chat": 3, "email": 1})
    >>> rng = random.Random(4)
    >>> sorted({c.sample(rng) for _ in range(50)})
    ['chat', 'email']
    """

    options: Mapping[Any, float] = attrs.field(converter=_to_options)
    _values: tuple[Any, ...] = attrs.field(init=False, repr=False, eq=False)
    _cumulative: tuple[float, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if not self.options:
            raise InvalidSimulation("options", self.options, "expected at least one option")
        total = 0.0
        cumulative = []
        for value, weight in self.options.items():
            _positive(f"weight of {value!r}", weight)
            total += weight
            cumulative.append(total)
        object.__setattr__(self, "_values", tuple(self.options))
        object.__setattr__(self, "_cumulative", tuple(cumulative))

    def probability(self, value: Any) -> float:
        """The share of draws giving ``value``.  O(1).

        >>> Choice({"a": 3, "b": 1}).probability("a")
        0.75
        """
        return float(self.options.get(value, 0.0)) / self._cumulative[-1]

    def sample(self, rng: random.Random) -> Any:
        """One value.  O(log k)."""
        if len(self._values) == 1:
            return self._values[0]
        index = bisect.bisect_right(self._cumulative, rng.random() * self._cumulative[-1])
        return self._values[min(index, len(self._values) - 1)]


def _choice_of(field: str, convert: Callable[[Any], Any], value: Any) -> Choice:
    try:
        if isinstance(value, Choice):
            return Choice({convert(k): w for k, w in value.options.items()})
        return Choice({convert(value): 1.0})
    except InvalidValue as exc:
        raise InvalidSimulation(field, exc.value, exc.reason) from None


def _optional_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidSimulation("name", value, "expected a non-empty string or None")
    return value


def _complexity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidSimulation("complexity", value, "expected an int 1..5")
    return value


def parse_skills(text: str, *, field: str = "skills") -> SkillSet:
    """Read the compact skills notation ``"billing:3;refunds"`` (a level
    defaults to 1; ``;`` or ``,`` separate skills; empty means none).

    Raises :class:`InvalidSimulation` naming ``field``.
    Runtime complexity: O(k log k) for k skills.

    >>> dict(parse_skills("billing:3; refunds"))
    {'billing': 3, 'refunds': 1}
    >>> parse_skills("billing:high")
    Traceback (most recent call last):
    ...
    triage_queue.sim.model.InvalidSimulation: skills='billing:high': level of 'billing' must be an int 1..5
    """
    levels: dict[str, int] = {}
    for raw_part in text.replace(",", ";").split(";"):
        part = raw_part.strip()
        if not part:
            continue
        name, sep, level_text = part.partition(":")
        name = name.strip()
        if not name:
            raise InvalidSimulation(field, text, f"skill {part!r} has no name")
        if name in levels:
            raise InvalidSimulation(field, text, f"skill {name!r} appears twice")
        level = 1
        if sep:
            try:
                level = int(level_text.strip())
            except ValueError:
                raise InvalidSimulation(field, text, f"level of {name!r} must be an int 1..5") from None
        if not 1 <= level <= 5:
            raise InvalidSimulation(field, text, f"level of {name!r} must be an int 1..5")
        levels[name] = level
    return SkillSet(levels)


def _skills(value: Any) -> SkillSet:
    if isinstance(value, str):
        return parse_skills(value)
    try:
        return SkillSet.of(value)
    except InvalidValue as exc:
        raise InvalidSimulation("skills", value, exc.reason) from None


def _severity(value: Any) -> Severity:
    try:
        return Severity.parse(value)
    except InvalidValue as exc:
        raise InvalidSimulation("severity", value, exc.reason) from None


# -- arrival rates ---------------------------------------------------------------


def _to_severity_choice(value: Any) -> Choice:
    return _choice_of("severity", _severity, value)


def _to_complexity_choice(value: Any) -> Choice:
    return _choice_of("complexity", _complexity, value)


def _to_skills_choice(value: Any) -> Choice:
    return _choice_of("skills", _skills, value)


def _to_channel_choice(value: Any) -> Choice:
    return _choice_of("channel", _optional_name, value)


def _to_tier_choice(value: Any) -> Choice | None:
    return None if value is None else _choice_of("tier", _optional_name, value)


def _to_follow_up_rate(value: Any) -> float:
    return _positive("follow_ups_per_hour", value, allow_zero=True)


def _to_end(value: Any) -> float:
    return _positive("end", value, allow_zero=True)


def _to_skew(value: Any) -> float:
    return _positive("skew", value, allow_zero=True)


def _to_breaks(value: Any) -> tuple[tuple[float, float], ...]:
    try:
        return tuple((float(start), float(end)) for start, end in value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidSimulation("breaks", value, "expected (start, end) pairs of seconds") from None


def _segments(value: Any) -> tuple[tuple[float, float], ...]:
    try:
        pairs = [(float(start), float(rate)) for start, rate in value]
    except (TypeError, ValueError, OverflowError):
        raise InvalidSimulation("segments", value, "expected (start seconds, tickets per hour) pairs") from None
    if not pairs:
        raise InvalidSimulation("segments", value, "expected at least one segment")
    for start, rate in pairs:
        _positive("start", start, allow_zero=True)
        _positive("tickets per hour", rate, allow_zero=True)
    for earlier, later in itertools.pairwise(pairs):
        if later[0] <= earlier[0]:
            raise InvalidSimulation("segments", value, "segment starts must increase")
    return tuple(pairs)


@attrs.frozen
class RateProfile:
    """A piecewise-constant arrival rate: ``segments`` are
    ``(start seconds, tickets per hour)`` pairs in increasing start order,
    each rate holding until the next start, the last one until ``end``.
    No arrivals before the first start.

    Runtime complexity: construction O(s) for s segments.

    >>> p = RateProfile.hourly([10, 40, 20], start=8 * 3600)
    >>> p.expected_count(), p.rate_at(9.5 * 3600)
    (70.0, 40.0)
    """

    segments: tuple[tuple[float, float], ...] = attrs.field(converter=_segments)
    end: float = attrs.field(converter=_to_end)

    def __attrs_post_init__(self) -> None:
        if self.end <= self.segments[-1][0]:
            raise InvalidSimulation("end", self.end, f"must be after the last segment start {self.segments[-1][0]}")

    @classmethod
    def constant(cls, per_hour: float, start: float, end: float) -> RateProfile:
        """``per_hour`` tickets per hour from ``start`` to ``end``.  O(1).

        >>> RateProfile.constant(60, 0, 1800).expected_count()
        30.0
        """
        return cls([(start, per_hour)], end)

    @classmethod
    def hourly(cls, per_hour: Sequence[float], *, start: float = 0.0) -> RateProfile:
        """One rate per hour, the first hour beginning at ``start``.  O(h)."""
        return cls([(start + 3600.0 * i, rate) for i, rate in enumerate(per_hour)], start + 3600.0 * len(per_hour))

    def scaled(self, factor: float) -> RateProfile:
        """Every rate multiplied by ``factor`` (>= 0).  O(s).

        >>> RateProfile.constant(10, 0, 3600).scaled(2.5).expected_count()
        25.0
        """
        _positive("factor", factor, allow_zero=True)
        return RateProfile([(start, rate * factor) for start, rate in self.segments], self.end)

    def rate_at(self, t: float) -> float:
        """Tickets per hour at instant ``t`` (0 outside the profile).  O(log s)."""
        if t < self.segments[0][0] or t >= self.end:
            return 0.0
        index = bisect.bisect_right([start for start, _ in self.segments], t) - 1
        return self.segments[index][1]

    def expected_count(self) -> float:
        """The mean number of arrivals over the whole profile.  O(s)."""
        bounds = [start for start, _ in self.segments[1:]] + [self.end]
        return sum(rate * (stop - start) / 3600.0 for (start, rate), stop in zip(self.segments, bounds, strict=True))

    def instants(self, rng: random.Random) -> list[float]:
        """Poisson arrival instants following the profile, in increasing order.

        Each segment is a homogeneous Poisson process: exponential gaps at
        its rate, restarted at the segment's start (exact, by the
        memorylessness of the exponential).  Runtime complexity: O(s + n)
        for n arrivals.
        """
        result: list[float] = []
        bounds = [start for start, _ in self.segments[1:]] + [self.end]
        for (start, per_hour), stop in zip(self.segments, bounds, strict=True):
            if per_hour <= 0:
                continue
            rate = per_hour / 3600.0
            t = start + rng.expovariate(rate)
            while t < stop:
                result.append(t)
                t += rng.expovariate(rate)
        return result


# -- customers ----------------------------------------------------------------------


def _tier_shares(value: Any) -> dict[str, float]:
    shares = dict(value)
    for tier, share in shares.items():
        if not isinstance(tier, str) or not tier:
            raise InvalidSimulation("tiers", value, f"tier name {tier!r} must be a non-empty string")
        _positive(f"share of tier {tier!r}", share)
    if sum(shares.values()) > 1.0 + 1e-9:
        raise InvalidSimulation("tiers", value, "shares of customers in tiers must sum to at most 1")
    return shares


@attrs.frozen
class Customers:
    """The population tickets come from: ``count`` customers ``C-00001``...,
    of whom the share given in ``tiers`` (``{"gold": 0.05}``) belong to a
    tier (the rest are standard: tier None).  A ticket's customer is drawn
    with a Zipf-like weight ``1 / rank**skew``, so a few customers write
    often (repeat customers) and most rarely; ``skew=0`` draws uniformly.

    Runtime complexity: the population is built in O(count) per day.

    >>> Customers(100, tiers={"gold": 0.1}).count
    100
    """

    count: int = attrs.field()
    tiers: Mapping[str, float] = attrs.field(factory=dict, converter=_tier_shares)
    skew: float = attrs.field(default=1.0, converter=_to_skew)

    @count.validator
    def _check_count(self, attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidSimulation("count", value, "expected an int >= 1")

    def population(self, rng: random.Random) -> tuple[list[str], list[str | None], list[float]]:
        """Ids, tiers and cumulative draw weights of every customer.  O(count)."""
        width = max(5, len(str(self.count)))
        ids = [f"C-{i:0{width}d}" for i in range(1, self.count + 1)]
        tiers: list[str | None] = [None] * self.count
        order = list(range(self.count))
        rng.shuffle(order)  # which customers are VIPs is independent of how often they write
        position = 0
        for tier, share in self.tiers.items():
            members = round(share * self.count)
            for index in order[position : position + members]:
                tiers[index] = tier
            position += members
        cumulative = list(itertools.accumulate(1.0 / (rank + 1) ** self.skew for rank in range(self.count)))
        return ids, tiers, cumulative


# -- ticket classes --------------------------------------------------------------------


@attrs.frozen
class TicketClass:
    """A kind of ticket and how it arrives.

    ==================  ====================================================
    name                the class reported in results (``"billing"``)
    rate                :class:`RateProfile` of arrivals
    handling            :class:`Exponential`, :class:`Lognormal`,
                        :class:`Fixed` (or a number of seconds)
    severity            a severity or a :class:`Choice` of them
    complexity          an int 1..5 or a :class:`Choice` of them
    skills              required skills (``{"billing": 2}``,
                        ``"billing:2;refunds"``) or a :class:`Choice` of them
    channel             ``"chat"``... or None, or a :class:`Choice`
    patience            distribution of seconds a customer waits before
                        abandoning, or None (never abandons)
    follow_ups_per_hour  rate at which a waiting customer writes again
                        (Poisson, per hour of waiting); 0 for none
    tier                None: the customer's tier; else a tier name or a
                        :class:`Choice` overriding it
    ==================  ====================================================

    Runtime complexity: construction O(k) for k options.
    """

    name: str = attrs.field()
    rate: RateProfile = attrs.field()
    handling: Distribution = attrs.field(converter=_to_handling)
    severity: Choice = attrs.field(factory=lambda: Choice({Severity.NORMAL: 1.0}), converter=_to_severity_choice)
    complexity: Choice = attrs.field(factory=lambda: Choice({1: 1.0}), converter=_to_complexity_choice)
    skills: Choice = attrs.field(factory=lambda: Choice({SkillSet(): 1.0}), converter=_to_skills_choice)
    channel: Choice = attrs.field(factory=lambda: Choice({None: 1.0}), converter=_to_channel_choice)
    patience: Distribution | None = attrs.field(default=None, converter=_to_patience)
    follow_ups_per_hour: float = attrs.field(default=0.0, converter=_to_follow_up_rate)
    tier: Choice | None = attrs.field(default=None, converter=_to_tier_choice)

    @name.validator
    def _check_name(self, attribute: Any, value: Any) -> None:
        if not isinstance(value, str) or not value:
            raise InvalidSimulation("name", value, "expected a non-empty string")

    @rate.validator
    def _check_rate(self, attribute: Any, value: Any) -> None:
        if not isinstance(value, RateProfile):
            raise InvalidSimulation("rate", value, "expected a RateProfile")



def _follow_up_instants(rng: random.Random, per_hour: float, within: float) -> list[float]:
    result: list[float] = []
    if per_hour <= 0:
        return result
    rate = per_hour / 3600.0
    t = rng.expovariate(rate)
    while t < within and len(result) < _MAX_FOLLOW_UPS:
        result.append(t)
        t += rng.expovariate(rate)
    return result


def _millis(seconds: float) -> float:
    # Kept short in traces; a draw below a millisecond still takes one.
    return max(round(seconds, 3), 0.001)


def generate_arrivals(
    classes: Iterable[TicketClass],
    *,
    seed: int | random.Random = 0,
    customers: Customers | None = None,
    id_prefix: str = "T-",
) -> tuple[Arrival, ...]:
    """Draw every class's arrivals and ticket details; ids ``T-000001``...
    in arrival order.  Instants and durations are rounded to the
    millisecond (at least 1 ms), so traces stay short.  Classes are drawn one after the other from the same
    generator, so adding a class at the end leaves earlier ones unchanged.

    Runtime complexity: O(n log n) for n arrivals (plus O(log m) per
    customer draw among m customers).

    >>> cls = TicketClass("q", RateProfile.constant(120, 0, 600), Fixed(60), patience=Fixed(300))
    >>> arrivals = generate_arrivals([cls], seed=3)
    >>> arrivals[0].ticket.id, {a.patience for a in arrivals}
    ('T-000001', {300.0})
    """
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    classes = list(classes)
    names = [c.name for c in classes]
    if len(set(names)) != len(names):
        raise InvalidSimulation("classes", names, "ticket class names must be unique")
    ids: list[str] = []
    tiers: list[str | None] = []
    cumulative: list[float] = []
    if customers is not None:
        ids, tiers, cumulative = customers.population(rng)
    drafts: list[tuple[float, int, TicketClass, dict[str, Any], float, float | None, list[float]]] = []
    for class_index, cls in enumerate(classes):
        for t in cls.rate.instants(rng):
            fields: dict[str, Any] = {
                "severity": cls.severity.sample(rng),
                "complexity": cls.complexity.sample(rng),
                "skills": cls.skills.sample(rng),
                "channel": cls.channel.sample(rng),
            }
            if customers is not None:
                index = min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(ids) - 1)
                fields["customer_id"] = ids[index]
                fields["customer_tier"] = tiers[index]
            if cls.tier is not None:
                fields["customer_tier"] = cls.tier.sample(rng)
            handling = cls.handling.sample(rng)
            patience = cls.patience.sample(rng) if cls.patience is not None else None
            within = patience if patience is not None else _FOLLOW_UP_HORIZON
            follow_ups = _follow_up_instants(rng, cls.follow_ups_per_hour, within)
            drafts.append(
                (
                    round(t, 3),
                    class_index,
                    cls,
                    fields,
                    _millis(handling),
                    None if patience is None else _millis(patience),
                    [_millis(f) for f in follow_ups],
                )
            )
    drafts.sort(key=lambda d: (d[0], d[1]))
    width = max(6, len(str(len(drafts))))
    return tuple(
        Arrival(
            Ticket(f"{id_prefix}{n:0{width}d}", t, **fields),
            handling_time=handling,
            ticket_class=cls.name,
            patience=patience,
            follow_ups=follow_ups,
        )
        for n, (t, _, cls, fields, handling, patience, follow_ups) in enumerate(drafts, start=1)
    )


def generate_day(
    classes: Iterable[TicketClass],
    staff: Iterable[Staff],
    *,
    seed: int = 0,
    customers: Customers | None = None,
    name: str = "day",
    end: float | None = None,
) -> Day:
    """A :class:`~triage_queue.sim.model.Day` of arrivals drawn from
    ``classes`` (see :func:`generate_arrivals`) worked by ``staff``.
    The same arguments and seed give an equal Day.

    Runtime complexity: O(n log n) for n arrivals.

    >>> cls = TicketClass("q", RateProfile.constant(60, 0, 3600), Exponential(120))
    >>> len(generate_day([cls], [], seed=0).arrivals) > 0
    True
    """
    return Day(generate_arrivals(classes, seed=seed, customers=customers), tuple(staff), name=name, end=end)


# -- staffing ---------------------------------------------------------------------------


def _capacity(value: Any) -> int | dict[str, int]:
    if isinstance(value, Mapping):
        return dict(value)
    return value  # type: ignore[no-any-return]


def _customer_ids(value: Any) -> frozenset[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidSimulation("dedicated_customers", value, "expected a collection of customer ids")
    try:
        return frozenset(value)
    except TypeError:
        raise InvalidSimulation("dedicated_customers", value, "expected a collection of customer ids") from None


@attrs.frozen
class Team:
    """``size`` alike agents ``{name}-01``... with ``skills`` (proficiency
    1..5) and ``capacity`` (an int, or per channel), on one shift from
    ``start`` to ``end`` with ``breaks`` (absolute ``(start, end)`` pairs).
    Members are split round-robin into ``break_groups`` groups whose breaks
    are ``break_stagger`` seconds apart, so the desk is never empty at once.
    ``proficiency_jitter`` lowers each member's level of each skill by 0..j
    at random (never below 1), for rosters whose people differ.  ``size``
    is at most :data:`~triage_queue.sim.model.MAX_TEAM_SIZE`.

    Runtime complexity: building it O(size * k) for k skills.

    >>> [s.agent.id for s in build_staff([Team("night", 2, start=0, end=3600)])]
    ['night-01', 'night-02']
    """

    name: str
    size: int
    skills: Any = ()
    capacity: Any = attrs.field(default=1, converter=_capacity)
    start: float = 0.0
    end: float | None = None
    breaks: tuple[tuple[float, float], ...] = attrs.field(default=(), converter=_to_breaks)
    break_groups: int = 1
    break_stagger: float = 0.0
    proficiency_jitter: int = 0
    dedicated_customers: frozenset[str] = attrs.field(factory=frozenset, converter=_customer_ids)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidSimulation("name", self.name, "expected a non-empty string")
        for field in ("size", "break_groups", "proficiency_jitter"):
            value = getattr(self, field)
            low = 0 if field == "proficiency_jitter" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidSimulation(field, value, f"expected an int >= {low}")
        if self.size > MAX_TEAM_SIZE:
            raise InvalidSimulation("size", self.size, f"expected at most {MAX_TEAM_SIZE} members (MAX_TEAM_SIZE)")
        _positive("break_stagger", self.break_stagger, allow_zero=True)

    def members(self, rng: random.Random | None = None) -> list[Staff]:
        """The team's Staff; ``rng`` is needed only with a proficiency jitter.

        Runtime complexity: O(size * (k + b)) for k skills and b breaks.
        """
        skills = _skills(self.skills)
        width = max(2, len(str(self.size)))
        result = []
        for i in range(self.size):
            levels = dict(skills)
            if self.proficiency_jitter:
                if rng is None:
                    raise InvalidSimulation("proficiency_jitter", self.proficiency_jitter, "needs a seeded generator")
                levels = {name: max(1, level - rng.randint(0, self.proficiency_jitter)) for name, level in levels.items()}
            try:
                agent = Agent(
                    f"{self.name}-{i + 1:0{width}d}",
                    skills=levels,
                    capacity=self.capacity,
                    dedicated_customers=self.dedicated_customers,
                )
            except InvalidValue as exc:
                raise InvalidSimulation(exc.field, exc.value, exc.reason) from None
            shifts: tuple[Shift, ...] = ()
            if self.end is not None:
                offset = (i % self.break_groups) * self.break_stagger
                breaks = [(b0 + offset, b1 + offset) for b0, b1 in self.breaks]
                shifts = (Shift(self.start, self.end, breaks=breaks),)
            result.append(Staff(agent, shifts))
        return result


def build_staff(teams: Iterable[Team], *, seed: int | None = None) -> tuple[Staff, ...]:
    """Every team's members, in order.  ``seed`` drives the proficiency
    jitter (teams without one draw nothing).

    Runtime complexity: O(total size * k).

    >>> staff = build_staff([Team("a", 2, skills="billing:3", start=0, end=3600, breaks=[(1000, 1300)],
    ...                          break_groups=2, break_stagger=600)])
    >>> [s.shifts[0].breaks for s in staff]
    [((1000.0, 1300.0),), ((1600.0, 1900.0),)]
    """
    rng = random.Random(seed) if seed is not None else None
    result: list[Staff] = []
    for team in teams:
        result.extend(team.members(rng))
    return tuple(result)


def default_staff(arrivals: Sequence[Arrival], *, occupancy: float = 0.85) -> tuple[Staff, ...]:
    """A rough roster for a trace that comes without one: generalists
    ``agent-001``... holding every skill the arrivals need at level 5, one
    ticket at a time, on duty all day, as many as keep the mean
    ``occupancy`` at or below the target (total handling time over the span
    of arrivals, divided by the target).  For a first look only: give the
    real roster for anything you will act on.

    Runtime complexity: O(n * k) for n arrivals of k skills.

    >>> a = [Arrival(Ticket(f"T{i}", i * 60.0, skills={"billing": 2}), handling_time=240.0) for i in range(60)]
    >>> staff = default_staff(a, occupancy=0.8)
    >>> len(staff), dict(staff[0].agent.skills)
    (6, {'billing': 5})
    """
    if not 0 < occupancy <= 1:
        raise InvalidSimulation("occupancy", occupancy, "expected a share in (0, 1]")
    if not arrivals:
        return ()
    skills = sorted({name for a in arrivals for name in a.ticket.skills})
    work = sum(a.handling_time for a in arrivals)
    times = [a.time for a in arrivals]
    span = max(max(times) - min(times), *(a.handling_time for a in arrivals), 1.0)
    count = max(1, math.ceil(work / span / occupancy))
    width = max(3, len(str(count)))
    return tuple(
        Staff(Agent(f"agent-{i:0{width}d}", skills=dict.fromkeys(skills, 5), capacity=1))
        for i in range(1, count + 1)
    )
