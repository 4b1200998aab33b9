"""Service-level claims over a simulation result, checked in tests.

Write a claim as a short sentence and assert it::

    assert_service_level(result, "p95 wait of tier gold <= 2 min",
                                 "sla attainment of tier gold >= 95%",
                                 "abandonment of class chat <= 5%")

or build the same thing as a value with :class:`ServiceLevel`.  A claim
that does not hold raises ``AssertionError`` with the measured figure and
the claim; a claim that cannot be read raises :class:`InvalidClaim` naming
its text.

Grammar (case-insensitive; words separated by spaces)::

    claim      = metric [ "of" filter { "and" filter } ] op number [unit]
    metric     = "p" NUMBER " wait"                  nearest-rank percentile, 0 < NUMBER <= 100
               | "median wait" | "mean wait" | "max wait"
               | "sla attainment" | "abandonment"    shares of tickets
               | "occupancy"                         of every agent, or "of agent ID"
               | "fairness"                          Jain's index over ticket classes
    filter     = ("tier" | "class" | "severity" | "skills" | "agent") VALUE
    op         = "<=" | "<" | ">=" | ">"
    unit       = "s" | "min" | "h" (waits; seconds if omitted)
               | "%"                (shares; a plain number is a fraction:
                                     0..1, but occupancy may exceed 1, e.g.
                                     "occupancy <= 150%" or "<= 1.5")

Waits are of answered tickets (see :mod:`triage_queue.sim.results` for every
definition); a filter value is matched exactly (tier ``standard`` for
tickets with none; skills as the group name, e.g. ``billing+german``).  A
claim over a group with nothing to measure (no such tickets, none answered,
none with an SLA) fails: a vacuous pass would hide a misspelt filter.

>>> from triage_queue.sim.results import SimulationResult, TicketOutcome
>>> result = SimulationResult.build(policy="p", day="d", start=0.0, end=90.0, agents=[], queue_length=[], events=2,
...     outcomes=[TicketOutcome("T1", "chat", "gold", "high", "-", arrived=0.0, answered=30.0),
...               TicketOutcome("T2", "chat", None, "normal", "-", arrived=0.0, answered=90.0)])
>>> assert_service_level(result, "p95 wait of tier gold <= 1 min", "abandonment <= 5%")
>>> assert_service_level(result, "max wait of class chat < 60 s")
Traceback (most recent call last):
...
AssertionError: service level not met: 'max wait of class chat < 60 s': measured 90 s
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from typing import Any

import attrs

from triage_queue.sim.model import InvalidSimulation
from triage_queue.sim.results import SimulationResult

__all__ = ["InvalidClaim", "ServiceLevel", "Verdict", "assert_service_level", "check_service_level"]


class InvalidClaim(InvalidSimulation):
    """A service-level claim cannot be read; ``value`` is its text."""


_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_WAITS = frozenset({"wait_percentile", "wait_mean", "wait_max"})
_SHARES = frozenset({"sla_attainment", "abandonment", "occupancy", "fairness"})
_DIMENSIONS = ("tier", "class", "severity", "skills", "agent")
_UNITS = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0,
}  # fmt: skip

_CLAIM = re.compile(
    r"""^\s*
    (?: p(?P<pct>\d+(?:\.\d+)?) \s+ wait
      | (?P<named>median\s+wait|mean\s+wait|max\s+wait|sla\s+attainment|abandonment|occupancy|fairness) )
    (?: \s+ of \s+ (?P<filters>.+?) )?
    \s* (?P<op><=|>=|<|>) \s*
    (?P<value>\d+(?:\.\d+)?|\.\d+) \s* (?P<unit>%|[a-z]+)? \s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_NAMED = {
    "median wait": ("wait_percentile", 50.0),
    "mean wait": ("wait_mean", None),
    "max wait": ("wait_max", None),
    "sla attainment": ("sla_attainment", None),
    "abandonment": ("abandonment", None),
    "occupancy": ("occupancy", None),
    "fairness": ("fairness", None),
}


def _where(value: Any) -> tuple[tuple[str, str], ...]:
    pairs = tuple(value.items()) if isinstance(value, dict) else tuple(tuple(p) for p in value)
    for pair in pairs:
        if len(pair) != 2 or pair[0] not in _DIMENSIONS or not isinstance(pair[1], str) or not pair[1]:
            raise InvalidClaim("where", value, f"expected (dimension, value) pairs with a dimension in {list(_DIMENSIONS)}")
    return pairs


@attrs.frozen(slots=True)
class ServiceLevel:
    """One claim as a value: ``metric`` (``"wait_percentile"`` with
    ``percentile``, ``"wait_mean"``, ``"wait_max"``, ``"sla_attainment"``,
    ``"abandonment"``, ``"occupancy"``, ``"fairness"``), ``where`` (filter
    pairs such as ``(("tier", "gold"),)``), ``op`` (``"<="``, ``"<"``,
    ``">="``, ``">"``) and ``threshold`` (seconds for waits, a fraction for
    the others: at most 1, except occupancy, which may exceed 1).  ``text`` is the claim in words (rendered if not given).

    Raises :class:`InvalidClaim` for an inconsistent claim.
    Runtime complexity: construction O(1); :meth:`measure` O(n log n).

    >>> claim = ServiceLevel("wait_percentile", 120.0, op="<=", percentile=95, where={"tier": "gold"})
    >>> claim.text, claim == ServiceLevel.parse("P95 wait of tier gold <= 2 min")
    ('p95 wait of tier gold <= 120 s', True)
    """

    metric: str
    threshold: float
    op: str = "<="
    percentile: float | None = None
    where: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_where)
    text: str = attrs.field(default="", eq=False)

    def __attrs_post_init__(self) -> None:
        if self.metric not in _WAITS | _SHARES:
            raise InvalidClaim("metric", self.metric, f"expected one of {sorted(_WAITS | _SHARES)}")
        if self.op not in _OPS:
            raise InvalidClaim("op", self.op, f"expected one of {list(_OPS)}")
        threshold = self.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold) or threshold < 0:
            raise InvalidClaim("threshold", threshold, "expected a finite number >= 0")
        object.__setattr__(self, "threshold", float(threshold))
        if (self.metric == "wait_percentile") != (self.percentile is not None):
            raise InvalidClaim("percentile", self.percentile, "a percentile goes with, and only with, wait_percentile")
        if self.percentile is not None and (
            isinstance(self.percentile, bool) or not isinstance(self.percentile, int | float) or not 0 < self.percentile <= 100
        ):
            raise InvalidClaim("percentile", self.percentile, "expected a number in (0, 100]")
        if self.metric == "fairness" and self.where:
            raise InvalidClaim("where", self.where, "fairness is over all tickets: no filter")
        if self.metric == "occupancy" and any(d != "agent" for d, _ in self.where):
            raise InvalidClaim("where", self.where, "occupancy can be filtered by agent only")
        # Occupancy exceeds 1 for an agent with capacity above one, or one
        # working past a shift's end; the other shares cannot.
        if self.metric in _SHARES and self.metric != "occupancy" and self.threshold > 1:
            raise InvalidClaim("threshold", self.threshold, f"{self.metric} is a fraction 0..1 (write 95% or 0.95)")
        if not self.text:
            object.__setattr__(self, "text", self._render())

    @classmethod
    def parse(cls, text: str) -> ServiceLevel:
        """Read a claim written in the grammar of the module docstring.

        Raises :class:`InvalidClaim` naming the text.  Runtime complexity:
        O(length of text).

        >>> ServiceLevel.parse("abandonment of class chat <= 5%").threshold
        0.05
        >>> ServiceLevel.parse("p95 of tier gold <= 120 s")
        Traceback (most recent call last):
        ...
        triage_queue.sim.claims.InvalidClaim: claim='p95 of tier gold <= 120 s': not a claim: expected e.g. \
'p95 wait of tier gold <= 120 s'
        """
        if not isinstance(text, str):
            raise InvalidClaim("claim", text, "expected the claim as a string")
        match = _CLAIM.match(text)
        if match is None:
            raise InvalidClaim("claim", text, "not a claim: expected e.g. 'p95 wait of tier gold <= 120 s'")
        percentile: float | None = None
        if match["pct"] is not None:
            metric, percentile = "wait_percentile", float(match["pct"])
        else:
            metric, percentile = _NAMED[" ".join(match["named"].lower().split())]
        where = []
        if match["filters"] is not None:
            for part in re.split(r"\s+and\s+", match["filters"].strip(), flags=re.IGNORECASE):
                dimension, _, value = part.strip().partition(" ")
                if dimension.lower() not in _DIMENSIONS or not value.strip():
                    raise InvalidClaim("claim", text, f"bad filter {part!r}: expected one of {list(_DIMENSIONS)} and a value")
                where.append((dimension.lower(), value.strip()))
        threshold = float(match["value"])
        unit = match["unit"]
        if metric in _WAITS:
            if unit == "%":
                raise InvalidClaim("claim", text, "a wait is in s, min or h, not %")
            scale = _UNITS.get((unit or "s").lower())
            if scale is None:
                raise InvalidClaim("claim", text, f"unknown unit {unit!r}: expected s, min or h")
            threshold *= scale
        elif unit == "%":
            threshold /= 100
        elif unit is not None:
            raise InvalidClaim("claim", text, f"{metric} is a share: write it in % or as a fraction, not in {unit!r}")
        try:
            return cls(metric, threshold, match["op"], percentile, tuple(where), text.strip())
        except InvalidClaim as exc:
            raise InvalidClaim("claim", text, exc.reason) from None

    def measure(self, result: SimulationResult) -> float | None:
        """The claimed figure measured on ``result``, or None if there is
        nothing to measure.  Runtime complexity: O(n log n) (O(agents) for
        occupancy, O(1) for fairness)."""
        if self.metric == "fairness":
            return result.fairness.jain_index
        if self.metric == "occupancy":
            agents = [a for a in result.agents if all(a.agent_id == v for _, v in self.where)]
            duty = math.fsum(a.on_duty for a in agents)
            return math.fsum(a.busy for a in agents) / duty if duty > 0 else None
        figures = result.select(**dict(self.where))
        if self.metric == "wait_percentile":
            assert self.percentile is not None
            return figures.percentile(self.percentile)
        if self.metric == "wait_mean":
            return figures.wait_mean
        if self.metric == "wait_max":
            return figures.wait_max
        if self.metric == "sla_attainment":
            return figures.sla_attainment
        return figures.abandonment

    def check(self, result: SimulationResult) -> Verdict:
        """Measure and compare, without raising.  Runtime complexity: as
        :meth:`measure`.

        >>> from triage_queue.sim.results import SimulationResult
        >>> empty = SimulationResult.build(policy="p", day="d", start=0.0, end=0.0, outcomes=[], agents=[],
        ...     queue_length=[], events=0)
        >>> ServiceLevel.parse("mean wait <= 10 s").check(empty).holds
        False
        """
        measured = self.measure(result)
        holds = measured is not None and _OPS[self.op](measured, self.threshold)
        return Verdict(self, measured, holds)

    def format(self, value: float) -> str:
        """A measured or claimed value in this claim's unit.  O(1).

        >>> ServiceLevel.parse("sla attainment >= 95%").format(0.9512)
        '95.12%'
        """
        if self.metric in _WAITS:
            return f"{value:.6g} s"
        if self.metric == "fairness":
            return f"{value:.4g}"
        return f"{value * 100:.4g}%"

    def _render(self) -> str:
        if self.metric == "wait_percentile":
            head = f"p{self.percentile:g} wait"
        else:
            head = {v[0]: k for k, v in _NAMED.items() if v[0] != "wait_percentile"}[self.metric]
        if self.where:
            head += " of " + " and ".join(f"{d} {v}" for d, v in self.where)
        return f"{head} {self.op} {self.format(self.threshold)}"


@attrs.frozen(slots=True)
class Verdict:
    """A claim checked on a result: the figure ``measured`` (None if there
    was nothing to measure) and whether the claim ``holds``.

    Runtime complexity: O(1).
    """

    claim: ServiceLevel
    measured: float | None
    holds: bool

    def __str__(self) -> str:
        if self.measured is None:
            found = "nothing to measure (no matching tickets, none answered, or none with an SLA)"
        else:
            found = f"measured {self.claim.format(self.measured)}"
        return f"{'holds' if self.holds else 'service level not met'}: {self.claim.text!r}: {found}"


def _claim(claim: str | ServiceLevel) -> ServiceLevel:
    if isinstance(claim, ServiceLevel):
        return claim
    return ServiceLevel.parse(claim)


def check_service_level(result: SimulationResult, claim: str | ServiceLevel) -> Verdict:
    """Check one claim (text or :class:`ServiceLevel`) without raising on
    failure.  Raises :class:`InvalidClaim` for a malformed claim, and
    :class:`InvalidSimulation` if ``result`` is not a result.
    Runtime complexity: as :meth:`ServiceLevel.measure`.

    >>> from triage_queue.sim.results import SimulationResult
    >>> empty = SimulationResult.build(policy="p", day="d", start=0.0, end=0.0, outcomes=[], agents=[],
    ...     queue_length=[], events=0)
    >>> str(check_service_level(empty, "fairness >= 0.9"))
    "service level not met: 'fairness >= 0.9': nothing to measure (no matching tickets, none answered, or none with an SLA)"
    """
    parsed = _claim(claim)
    if not isinstance(result, SimulationResult):
        raise InvalidSimulation("result", result, "expected a SimulationResult")
    return parsed.check(result)


def assert_service_level(result: SimulationResult, *claims: str | ServiceLevel) -> None:
    """Assert every claim on ``result``.  All claims are read first (a
    malformed one raises :class:`InvalidClaim` before anything is
    measured); every failing claim is then reported in one
    ``AssertionError``, one line each, with the figure measured.

    Runtime complexity: O(k n log n) for k claims.

    >>> from triage_queue.sim.results import SimulationResult
    >>> empty = SimulationResult.build(policy="p", day="d", start=0.0, end=0.0, outcomes=[], agents=[],
    ...     queue_length=[], events=0)
    >>> assert_service_level(empty, "p95 wait <= 2 fortnights")
    Traceback (most recent call last):
    ...
    triage_queue.sim.claims.InvalidClaim: claim='p95 wait <= 2 fortnights': unknown unit 'fortnights': expected s, min or h
    """
    parsed = [_claim(c) for c in claims]
    failures = [str(v) for v in (check_service_level(result, c) for c in parsed) if not v.holds]
    if failures:
        raise AssertionError("\n".join(failures))
