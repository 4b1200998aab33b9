"""Named synthetic days for ``python -m triage_queue simulate --scenario NAME``.

=============  =============================================================
mmc            one class, Poisson arrivals, exponential handling, c
               identical agents on duty all day, no abandonment: the M/M/c
               queue of theory (compare with
               :func:`~triage_queue.sim.results.erlang_c_wait`)
helpdesk-day   08:00 to 18:00 at a helpdesk: billing, technical and account
               tickets plus rare security emergencies, a morning peak, 10 %
               of customers gold or silver, chat, email and phone, impatient
               chat and phone customers, follow-ups, early and late shifts
               with staggered breaks
surge          the helpdesk day hit by an incident at 10:30: an extra hour
               of urgent technical tickets from customers who chase them
=============  =============================================================

Each is a function of ``seed`` and ``scale`` (arrival rates and team sizes
multiplied by ``scale``; for ``mmc`` the length of the day) returning a
:class:`~triage_queue.sim.model.Day`.  Times are seconds since midnight.

>>> day = build_scenario("mmc", seed=1, scale=0.25)
>>> day.name, len(day.staff), day.end
('mmc', 10, 7200.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

import attrs

from triage_queue.agents import Agent
from triage_queue.sim.generate import (
    Choice,
    Customers,
    Exponential,
    Lognormal,
    RateProfile,
    Team,
    TicketClass,
    build_staff,
    generate_day,
)
from triage_queue.sim.model import MAX_AGENTS, MAX_HOURS, Day, InvalidSimulation, Staff

__all__ = [
    "MAX_SCALE",
    "SCENARIOS",
    "Scenario",
    "build_scenario",
    "helpdesk_classes",
    "helpdesk_teams",
    "mmc_day",
    "scenario",
]

HOUR = 3600.0
OPEN = 8 * HOUR  # 08:00
CLOSE = 18 * HOUR  # 18:00
# Share of the mean hourly rate in each opening hour, 08:00 to 18:00: a
# morning peak, a lunch dip and a quiet end of day.
_DAY_SHAPE = (0.7, 1.3, 1.4, 1.1, 0.8, 0.9, 1.0, 0.9, 0.7, 0.5)


MAX_SCALE = 100.0
"""The largest ``scale`` of a scenario: helpdesk-day at 100 is about 250,000
tickets and 4,600 agents, mmc 800 hours."""


def _check_scale(scale: float, field: str = "scale", limit: float = MAX_SCALE) -> float:
    if isinstance(scale, bool) or not isinstance(scale, int | float):
        raise InvalidSimulation(field, scale, "expected a number > 0")
    try:
        finite = math.isfinite(scale)
    except OverflowError:
        finite = False
    if not finite or scale <= 0:
        raise InvalidSimulation(field, scale, "expected a number > 0")
    if scale > limit:
        raise InvalidSimulation(field, scale, f"expected at most {limit:g}")
    return float(scale)


def mmc_day(
    agents: int = 10,
    load: float = 0.8,
    *,
    mean_handling: float = 300.0,
    hours: float = 8.0,
    seed: int = 0,
) -> Day:
    """An M/M/c day: Poisson arrivals at rate ``load * agents /
    mean_handling`` for ``hours``, exponential handling times of mean
    ``mean_handling`` seconds, ``agents`` generalists (capacity 1, on duty
    throughout), one class ``"mmc"``, normal severity, no tiers, no
    patience, no follow-ups.  ``load`` is the offered occupancy, in (0, 1).

    Runtime complexity: O(n log n) for n arrivals.

    >>> day = mmc_day(agents=2, load=0.5, mean_handling=60.0, hours=1.0, seed=3)
    >>> {a.ticket_class for a in day.arrivals}, [s.agent.id for s in day.staff]
    ({'mmc'}, ['agent-01', 'agent-02'])
    """
    if isinstance(agents, bool) or not isinstance(agents, int) or not 1 <= agents <= MAX_AGENTS:
        raise InvalidSimulation("agents", agents, f"expected an int 1..{MAX_AGENTS} (MAX_AGENTS)")
    if isinstance(load, bool) or not isinstance(load, int | float) or not 0 < load < 1:
        raise InvalidSimulation("load", load, "expected an offered occupancy in (0, 1)")
    duration = _check_scale(hours, "hours", MAX_HOURS) * HOUR
    per_hour = load * agents / mean_handling * HOUR
    mmc = TicketClass("mmc", RateProfile.constant(per_hour, 0.0, duration), Exponential(mean_handling))
    width = max(2, len(str(agents)))
    staff = [Staff(Agent(f"agent-{i:0{width}d}")) for i in range(1, agents + 1)]
    return generate_day([mmc], staff, seed=seed, name="mmc", end=duration)


def _shape(per_hour: float, scale: float) -> RateProfile:
    return RateProfile.hourly([per_hour * scale * share for share in _DAY_SHAPE], start=OPEN)


def helpdesk_classes(scale: float = 1.0) -> list[TicketClass]:
    """The ticket classes of ``helpdesk-day`` (about 2,500 tickets at scale
    1; rates multiplied by ``scale``).  Runtime complexity: O(1).

    >>> [c.name for c in helpdesk_classes()]
    ['billing', 'technical', 'account', 'security']
    """
    scale = _check_scale(scale)
    return [
        TicketClass(
            "billing",
            _shape(90.0, scale),
            Lognormal(360.0, 0.6),
            severity=Choice({"low": 0.3, "normal": 0.6, "high": 0.1}),
            complexity=Choice({1: 0.5, 2: 0.3, 3: 0.2}),
            skills=Choice({"billing:1": 0.6, "billing:2": 0.3, "billing:3;refunds:2": 0.1}),
            channel=Choice({"chat": 0.6, "email": 0.4}),
            patience=Lognormal(1200.0, 0.8),
            follow_ups_per_hour=0.5,
        ),
        TicketClass(
            "technical",
            _shape(125.0, scale),
            Lognormal(600.0, 0.7),
            severity=Choice({"low": 0.1, "normal": 0.6, "high": 0.3}),
            complexity=Choice({1: 0.2, 2: 0.3, 3: 0.3, 4: 0.15, 5: 0.05}),
            skills=Choice({"tech:1": 0.5, "tech:2": 0.3, "tech:3": 0.15, "tech:3;german:1": 0.05}),
            channel=Choice({"phone": 0.5, "chat": 0.3, "email": 0.2}),
            patience=Lognormal(900.0, 0.8),
            follow_ups_per_hour=1.0,
        ),
        TicketClass(
            "account",
            _shape(55.0, scale),
            Exponential(300.0),
            severity=Choice({"low": 0.5, "normal": 0.5}),
            skills="account:1",
            channel=Choice({"email": 0.7, "chat": 0.3}),
            follow_ups_per_hour=0.3,
        ),
        TicketClass(
            "security",
            RateProfile.constant(1.0 * scale, OPEN, CLOSE),
            Lognormal(1800.0, 0.5),
            severity="critical",
            complexity=Choice({4: 0.5, 5: 0.5}),
            skills="tech:3",
            channel="phone",
        ),
    ]


def helpdesk_teams(scale: float = 1.0) -> list[Team]:
    """The staff of ``helpdesk-day`` as teams (46 agents at scale 1; sizes
    multiplied by ``scale``, at least 1 each).  ``examples/staff/helpdesk.toml``
    describes the same roster.  Runtime complexity: O(1).

    >>> sum(t.size for t in helpdesk_teams())
    46
    """
    scale = _check_scale(scale)

    def size(n: int) -> int:
        return max(1, round(n * scale))

    front = {"chat": 2, "*": 1}  # two chats at once, or one email or call
    early, late = (7.75 * HOUR, 16.25 * HOUR), (9.75 * HOUR, 18.25 * HOUR)
    return [
        Team("front-early", size(10), "billing:3;refunds:2;account:2", front, *early,
             breaks=[(12 * HOUR, 12.5 * HOUR)], break_groups=3, break_stagger=1800.0),
        Team("front-late", size(8), "billing:2;account:2", front, *late,
             breaks=[(13.5 * HOUR, 14 * HOUR)], break_groups=2, break_stagger=1800.0),
        Team("tech-early", size(12), "tech:3", 1, *early,
             breaks=[(11.5 * HOUR, 12 * HOUR)], break_groups=3, break_stagger=1800.0),
        Team("tech-late", size(10), "tech:3", 1, *late,
             breaks=[(14 * HOUR, 14.5 * HOUR)], break_groups=2, break_stagger=1800.0),
        Team("tech-senior", size(6), "tech:5;german:2;billing:2", 1, 8 * HOUR, 17 * HOUR,
             breaks=[(12.5 * HOUR, 13 * HOUR)], break_groups=2, break_stagger=1800.0),
    ]


def _customers(scale: float) -> Customers:
    return Customers(max(10, round(3000 * scale)), tiers={"gold": 0.03, "silver": 0.07}, skew=0.8)


def _helpdesk_day(seed: int, scale: float) -> Day:
    return generate_day(
        helpdesk_classes(scale), build_staff(helpdesk_teams(scale)), seed=seed, customers=_customers(scale),
        name="helpdesk-day",
    )


def _surge_day(seed: int, scale: float) -> Day:
    incident = TicketClass(
        "incident",
        RateProfile.constant(150.0 * scale, 10.5 * HOUR, 11.5 * HOUR),
        Lognormal(240.0, 0.5),
        severity="high",
        skills="tech:1",
        channel=Choice({"chat": 0.5, "phone": 0.5}),
        patience=Lognormal(600.0, 0.7),
        follow_ups_per_hour=3.0,
    )
    return generate_day(
        [*helpdesk_classes(scale), incident], build_staff(helpdesk_teams(scale)), seed=seed,
        customers=_customers(scale), name="surge",
    )


def _mmc(seed: int, scale: float) -> Day:
    return mmc_day(seed=seed, hours=8.0 * scale)


@attrs.frozen
class Scenario:
    """A named synthetic day: ``make(seed, scale)`` builds it.

    Runtime complexity: :meth:`day` as the generator, O(n log n).

    >>> scenario("surge").name
    'surge'
    """

    name: str
    description: str
    make: Callable[[int, float], Day] = attrs.field(repr=False)

    def day(self, seed: int = 0, scale: float = 1.0) -> Day:
        """Build the day for ``seed`` at ``scale``.  O(n log n)."""
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidSimulation("seed", seed, "expected an int")
        return self.make(seed, _check_scale(scale))


SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        "mmc": Scenario(
            "mmc",
            "M/M/c: one class, Poisson arrivals, exponential handling (mean 300 s), 10 agents at 80 % load, "
            "8 hours, no abandonment (scale: hours x scale)",
            _mmc,
        ),
        "helpdesk-day": Scenario(
            "helpdesk-day",
            "08:00-18:00: billing, technical, account and security tickets (~2,500), morning peak, 10 % gold/silver "
            "customers, chat/email/phone, patience and follow-ups, 46 agents in early/late shifts with breaks",
            _helpdesk_day,
        ),
        "surge": Scenario(
            "surge",
            "helpdesk-day plus an incident at 10:30-11:30: ~150 extra urgent technical tickets from impatient "
            "customers who chase them",
            _surge_day,
        ),
    }
)
"""Every named scenario, by name."""


def scenario(name: str) -> Scenario:
    """The scenario called ``name``; :class:`InvalidSimulation` names the
    known ones otherwise.  Runtime complexity: O(1).

    >>> scenario("nope")
    Traceback (most recent call last):
    ...
    triage_queue.sim.model.InvalidSimulation: scenario='nope': expected one of helpdesk-day, mmc, surge
    """
    found = SCENARIOS.get(name)
    if found is None:
        raise InvalidSimulation("scenario", name, f"expected one of {', '.join(sorted(SCENARIOS))}")
    return found


def build_scenario(name: str, *, seed: int = 0, scale: float = 1.0) -> Day:
    """The day of scenario ``name`` for ``seed`` and ``scale``.

    Runtime complexity: O(n log n) for n arrivals.

    >>> len(build_scenario("helpdesk-day", seed=2, scale=0.05).staff)
    5
    """
    return scenario(name).day(seed, scale)
