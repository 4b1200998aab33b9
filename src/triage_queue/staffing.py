"""Staffing: how many agents each interval needs to meet a service level.

From a forecast of arrivals per interval and the mean handling time, the
number of agents that meets a target such as "80% answered within 20 s"
or "average wait under 1 min", with the queueing models contact centres
use:

* **Erlang C** (M/M/N): Poisson arrivals, exponential handling times, N
  agents, customers who wait as long as it takes;
* **Erlang A** (M/M/N+M, Palm's model) when ``patience`` is given: each
  waiting customer gives up after an exponential time of that mean, so an
  overloaded interval stays finite and some customers abandon.

On top of the model: an occupancy cap (agents busy at most that share of
their time; ``max_occupancy``) and shrinkage (the share of paid time not
spent answering: breaks, training, meetings; ``shrinkage``), which turns
the agents answering into the agents to schedule.

Definitions, with lambda the arrival rate, h the mean handling time,
a = lambda * h the offered load in Erlangs, theta the mean patience:

* service level ``SL(t)``: the share of **all** arriving customers answered
  within t seconds; a customer who abandons counts as missed (as the
  simulator's SLA attainment counts them);
* ``average_wait`` (ASA, average speed of answer): the mean wait of the
  customers who are answered;
* ``occupancy``: the share of the agents' time spent handling
  (carried load / N);
* ``abandonment``: the share of customers who give up (0 for Erlang C).

Every quantity is computed in floating point through the Erlang B recursion
``B(n) = a B(n-1) / (n + a B(n-1))`` and, for Erlang A, sums over the queue
length taken in log scale around their largest term: no factorial, no
overflow, thousands of agents and any load.  The formulas are in
``docs/staffing.md``.

>>> target = ServiceTarget.parse("80% in 20s")
>>> agents_needed(100 / 1800, 180.0, target)     # 100 calls per half hour, 3 min each
14
>>> round(erlang_c(100 / 1800, 180.0, 14, within=20.0).service_level, 4)
0.8884
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import re
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs

from triage_queue.errors import InvalidArgument

__all__ = [
    "FORECAST_COLUMNS",
    "MAX_AGENTS",
    "MAX_FORECAST_BYTES",
    "MAX_FORECAST_INTERVALS",
    "MAX_FORECAST_LINE_CHARS",
    "MAX_PATIENT_ARRIVALS",
    "MAX_PLAN_TERMS",
    "MAX_SECONDS",
    "ForecastError",
    "ForecastInterval",
    "QueueFigures",
    "ServiceTarget",
    "StaffingResult",
    "agents_needed",
    "erlang_a",
    "erlang_c",
    "read_forecast",
    "staffing_plan",
]

MAX_AGENTS: Final = 10_000
"""The most agents one interval may need, answering or scheduled (after
shrinkage): a load (arrival rate times handling time) that needs more
raises :class:`InvalidArgument` naming ``target``, a shrinkage that would
schedule more names ``shrinkage``.  Finding N costs O(N) time and
memory."""

MAX_PATIENT_ARRIVALS: Final = 10_000_000
"""Erlang A: the most arrivals expected during one mean patience
(``arrival_rate * patience``).  Each evaluation sums about
``9 * sqrt(arrival_rate * patience)`` terms, so this keeps one interval
under a second or so; longer patience than that is Erlang C for every
practical purpose."""

MAX_PLAN_TERMS: Final = 100_000_000
"""Erlang A: the most series terms one :func:`staffing_plan` may sum, over
all its intervals (about 2 million terms a second on one core, so at most
a minute or so).  One interval costs about ``9 * sqrt(arrival_rate *
patience)`` terms per evaluation times the 20 to 60 evaluations of the
search (about a second at :data:`MAX_PATIENT_ARRIVALS`); intervals with
the same arrival rate and handling time are computed once.  A plan that
needs more raises :class:`InvalidArgument` naming ``forecast``."""

MAX_SECONDS: Final = 366 * 86_400
"""The longest handling time, patience, target wait or interval: a year."""

MAX_FORECAST_BYTES: Final = 4 << 20
"""The largest forecast file read: 4 MiB."""

MAX_FORECAST_INTERVALS: Final = 10_000
"""The most intervals (rows) of one forecast: 104 days of 15 minutes, 416
days of hours."""

MAX_FORECAST_LINE_CHARS: Final = 1_000
"""The longest line of a forecast file, in characters."""

_MAX_TEXT = 200  # characters of a target, duration or share to parse


# -- small readers ---------------------------------------------------------------------


def _number(field: str, value: Any, *, low: float = 0.0, low_open: bool = False, high: float = math.inf,
            high_open: bool = False, what: str = "a number") -> float:
    """``value`` as a float in the given range, else InvalidArgument(field)."""
    ok = not isinstance(value, bool) and isinstance(value, int | float)
    if ok:
        try:
            number = float(value)
        except OverflowError:
            ok = False
    if ok:
        ok = not math.isnan(number)
        ok = ok and (number > low if low_open else number >= low)
        ok = ok and (number < high if high_open else number <= high)
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise InvalidArgument(field, value, f"expected {what} in {left}{low:g}, {high:g}{right}")
    return number


_UNITS: Final = {
    "": 1.0, "ms": 0.001, "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)


def _parse_duration(field: str, text: Any) -> float:
    """Seconds from ``"20s"``, ``"1.5 min"``, ``"2h"``, ``"90"`` (seconds) or a number."""
    if not isinstance(text, str):
        return _number(field, text, high=MAX_SECONDS, what="seconds")
    match = _DURATION.fullmatch(text[: _MAX_TEXT + 1])
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS or len(text) > _MAX_TEXT:
        raise InvalidArgument(field, text, 'expected a duration such as "20s", "1.5 min", "2h" or seconds')
    seconds = float(match.group(1)) * _UNITS[unit or ""]
    if seconds > MAX_SECONDS:
        raise InvalidArgument(field, text, f"expected at most {MAX_SECONDS} seconds (a year)")
    return seconds


_SHARE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*")


def _parse_share(field: str, text: Any, *, high_open: bool) -> float:
    """A share from ``"30%"``, ``"0.3"`` or a number in [0, 1]."""
    if isinstance(text, str):
        match = _SHARE.fullmatch(text[: _MAX_TEXT + 1])
        if match is None or len(text) > _MAX_TEXT:
            raise InvalidArgument(field, text, 'expected a share such as "30%" or 0.3')
        value = float(match.group(1)) / (100.0 if match.group(2) else 1.0)
        if not (0 <= value < 1 if high_open else 0 < value <= 1):
            raise InvalidArgument(field, text, f"expected a share in {'[0%, 100%)' if high_open else '(0%, 100%]'}")
        return value
    if high_open:
        return _number(field, text, high=1.0, high_open=True, what="a share")
    return _number(field, text, low_open=True, high=1.0, what="a share")


def _human(value: float) -> str:
    """A duration for people: ``20 s``, ``1.5 min``, ``2 h``."""
    if value >= 3600 and value % 360 == 0:
        return f"{value / 3600:g} h"
    if value >= 60 and value % 6 == 0:
        return f"{value / 60:g} min"
    return f"{value:g} s"


# -- targets -----------------------------------------------------------------------------


_SL_TEXT = re.compile(
    r"\s*(?P<pct>\d+(?:\.\d*)?|\.\d+)\s*%\s*(?:of\s+(?:calls|contacts|tickets|customers)\s+)?"
    r"(?:answered\s+|served\s+)?(?:in|within|under|before|by|<=?)\s*(?P<dur>.*?)\s*",
    re.IGNORECASE,
)
_SL_SHORT = re.compile(r"\s*(?P<pct>\d+(?:\.\d*)?)\s*/\s*(?P<dur>\d+(?:\.\d*)?)\s*")
_ASA_TEXT = re.compile(
    r"\s*(?:(?:avg|average|mean)\.?\s*(?:wait(?:ing)?(?:\s+time)?|speed\s+of\s+answer)|asa)"
    r"\s*(?:<=?|under|below|within|at\s+most|of|=|:)?\s*(?P<dur>.*?)\s*",
    re.IGNORECASE,
)


def _level(value: Any) -> float | None:
    if value is None:
        return None
    return _number("level", value, low_open=True, high=1.0, high_open=True, what="a share answered")


def _within_or_none(value: Any) -> float | None:
    return None if value is None else _number("within", value, high=MAX_SECONDS, what="seconds")


def _average_wait(value: Any) -> float | None:
    return None if value is None else _number("average_wait", value, high=MAX_SECONDS, what="seconds")


@attrs.frozen(slots=True)
class ServiceTarget:
    """A service-level target: either ``level`` (a share in (0, 1)) of the
    customers answered within ``within`` seconds, or an ``average_wait``
    (ASA) of at most that many seconds.  Give one form:
    ``ServiceTarget(level=0.8, within=20.0)`` or
    ``ServiceTarget(average_wait=60.0)``; or parse the text people write.

    Runtime complexity: construction O(1).

    >>> ServiceTarget(level=0.8, within=20.0)
    ServiceTarget(level=0.8, within=20.0, average_wait=None)
    >>> ServiceTarget(level=0.8)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: within=None: expected seconds with level (80% answered within how long?)
    """

    level: float | None = attrs.field(default=None, converter=_level)
    within: float | None = attrs.field(default=None, converter=_within_or_none)
    average_wait: float | None = attrs.field(default=None, converter=_average_wait)

    def __attrs_post_init__(self) -> None:
        if self.average_wait is not None:
            if self.level is not None or self.within is not None:
                raise InvalidArgument("average_wait", self.average_wait, "give either average_wait or level and within")
            if self.average_wait <= 0:
                raise InvalidArgument("average_wait", self.average_wait, "expected seconds > 0")
            return
        if self.level is None:
            raise InvalidArgument("level", None, "expected level and within, or average_wait")
        if self.within is None:
            raise InvalidArgument(
                "within", None, f"expected seconds with level ({100 * self.level:g}% answered within how long?)"
            )

    @classmethod
    def parse(cls, text: str) -> ServiceTarget:
        """Read a target as people write it: ``"80% in 20s"``, ``"90% within
        1m"``, ``"80% of calls answered within 20 seconds"``, ``"80/20"``
        (80 % in 20 s), ``"avg wait < 1m"``, ``"average wait under 45 s"``,
        ``"ASA 30s"``.  Units: ms, s, m/min, h (none: seconds).  Anything
        else raises :class:`InvalidArgument` naming ``target``.

        Runtime complexity: O(len(text)), at most 200 characters.

        >>> ServiceTarget.parse("90% within 1m")
        ServiceTarget(level=0.9, within=60.0, average_wait=None)
        >>> ServiceTarget.parse("avg wait < 1m").average_wait
        60.0
        >>> ServiceTarget.parse("80% on 20s")
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidArgument: target='80% on 20s': expected "80% in 20s", "80/20" or "avg wait < 1m"
        """
        if not isinstance(text, str):
            raise InvalidArgument("target", text, 'expected a str such as "80% in 20s" or "avg wait < 1m"')
        short = text[: _MAX_TEXT + 1]
        found = _SL_TEXT.fullmatch(short) or _SL_SHORT.fullmatch(short)
        asa = None if found else _ASA_TEXT.fullmatch(short)
        if len(text) > _MAX_TEXT or (found is None and asa is None):
            raise InvalidArgument("target", text, 'expected "80% in 20s", "80/20" or "avg wait < 1m"')
        try:
            if asa is not None:
                return cls(average_wait=_parse_duration("average_wait", asa.group("dur")))
            assert found is not None
            level = float(found.group("pct")) / 100
            if not 0 < level < 1:
                raise InvalidArgument("target", text, "expected a percentage in (0%, 100%)")
            return cls(level=level, within=_parse_duration("within", found.group("dur")))
        except InvalidArgument as exc:
            if exc.field == "target":
                raise
            raise InvalidArgument("target", text, exc.reason) from None

    def __str__(self) -> str:
        """``80% in 20 s`` or ``average wait <= 1 min``.  O(1)."""
        if self.average_wait is not None:
            return f"average wait <= {_human(self.average_wait)}"
        assert self.level is not None and self.within is not None
        return f"{100 * self.level:g}% in {_human(self.within)}"


# -- the models ----------------------------------------------------------------------------


@attrs.frozen(slots=True)
class QueueFigures:
    """What a queueing model predicts for one interval with ``agents``
    agents answering: ``wait_probability`` (an arriving customer waits at
    all), ``service_level`` (the share of all arrivals answered within
    ``within`` seconds), ``average_wait`` (ASA: mean wait of the answered;
    ``inf`` if nobody is), ``occupancy`` (share of the agents' time spent
    handling), ``abandonment`` (share who give up; 0 for Erlang C) and
    ``load`` (offered load in Erlangs, arrival rate times handling time).
    ``stable`` is False for Erlang C at ``agents <= load`` (the queue grows
    without bound: service level 0, average wait ``inf``).

    Runtime complexity: O(1) for every attribute.

    >>> f = erlang_c(1.0, 1.0, 2)
    >>> round(f.wait_probability, 6), f.occupancy, f.stable
    (0.333333, 0.5, True)
    """

    model: str
    agents: int
    load: float
    within: float
    wait_probability: float
    service_level: float
    average_wait: float
    occupancy: float
    abandonment: float
    stable: bool


def _rate(value: Any) -> float:
    return _number("arrival_rate", value, high=1e9, what="arrivals per second")


def _handle(value: Any) -> float:
    return _number("handle_time", value, low_open=True, high=MAX_SECONDS, what="seconds")


def _agents(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AGENTS:
        raise InvalidArgument("agents", value, f"expected an int in [0, {MAX_AGENTS}] (MAX_AGENTS)")
    return value


def _within(value: Any) -> float:
    return _number("within", value, high=MAX_SECONDS, what="seconds")


class _ErlangB:
    """Erlang B blocking probabilities B(0..n) of one load, extended on
    demand: B(0) = 1, B(n) = a B(n-1) / (n + a B(n-1)), which stays in
    [0, 1] (no factorial, no overflow).  O(1) amortised per new n."""

    __slots__ = ("_load", "_values")

    def __init__(self, load: float) -> None:
        self._load = load
        self._values = [1.0]

    def __call__(self, n: int) -> float:
        values, load = self._values, self._load
        while len(values) <= n:
            b = values[-1]
            values.append(load * b / (len(values) + load * b))
        return values[n]


def _c_figures(rate: float, handle: float, agents: int, within: float, blocking: float) -> QueueFigures:
    load = rate * handle
    if rate == 0:
        return QueueFigures("erlang_c", agents, 0.0, within, 0.0, 1.0, 0.0, 0.0, 0.0, True)
    if agents <= load:
        return QueueFigures("erlang_c", agents, load, within, 1.0, 0.0, math.inf, 1.0, 0.0, False)
    wait = agents * blocking / (agents - load * (1.0 - blocking))
    spare = agents - load
    service_level = 1.0 - wait * math.exp(-spare * within / handle)
    average = wait * handle / spare
    return QueueFigures("erlang_c", agents, load, within, wait, max(0.0, service_level), average, load / agents, 0.0, True)


def erlang_c(arrival_rate: float, handle_time: float, agents: int, *, within: float = 0.0) -> QueueFigures:
    """Erlang C (M/M/N): ``agents`` agents, Poisson arrivals at
    ``arrival_rate`` per second, exponential handling times of mean
    ``handle_time`` seconds, customers who never give up.

    With load a = rate * handle_time and B the Erlang B blocking
    probability, the chance of waiting is C = N B / (N - a (1 - B)), the
    share answered within t is 1 - C exp(-(N - a) t / h) and the average
    wait C h / (N - a).  At ``agents <= load`` the queue grows without bound
    (``stable`` False).  Bad input raises :class:`InvalidArgument` naming
    the field.

    Runtime complexity: O(N).

    >>> f = erlang_c(100 / 1800, 180.0, 13, within=20.0)   # 10 Erlangs, 13 agents
    >>> round(f.wait_probability, 4), round(f.service_level, 4), round(f.average_wait, 2)
    (0.2853, 0.7956, 17.12)
    """
    rate, handle, n, t = _rate(arrival_rate), _handle(handle_time), _agents(agents), _within(within)
    if rate * handle > MAX_AGENTS:
        raise InvalidArgument("arrival_rate", arrival_rate, f"load {rate * handle:g} Erlangs is over {MAX_AGENTS} (MAX_AGENTS)")
    return _c_figures(rate, handle, n, t, _ErlangB(rate * handle)(n))


# Erlang A (M/M/N+M).  In units of the abandonment rate g = 1 / patience:
# x = N mu / g = N * patience / handle_time, y = lambda / g = lambda * patience.
# Relative to the probability of N in system, the probability of N + k is
#   t_k = y^k / ((x+1)(x+2)...(x+k)),
# and a customer who finds k waiting ahead is answered with probability
# x / (x+k+1), after a wait whose mean given answered is D_k / g with
# D_k = sum_{i=1..k+1} 1/(x+i); the share answered within t of the queued
# is a ratio of incomplete gamma functions (docs/staffing.md).


def _log_add(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    top = max(a, b)
    return top + math.log1p(math.exp(-abs(a - b)))


_EPS = 1e-17


def _window(x: float, y: float) -> tuple[float, int, list[float]]:
    """The terms t_k = y^k / prod_{i=1..k}(x+i) that matter, scaled by the
    largest: (log of the largest, first k, [t_k / largest for k from the
    first on]).  The terms rise while k <= y - x and fall after; the sum
    stops on each side when a geometric bound on the rest is below 1e-17
    of the sum.  O(sqrt(y) + 1/(1 - y/x)) terms."""
    if y == 0.0:
        return 0.0, 0, [1.0]
    peak = max(0, math.floor(y - x))
    log_peak = peak * math.log(y) - (math.lgamma(x + peak + 1) - math.lgamma(x + 1)) if peak else 0.0
    right = [1.0]
    total, term, k = 1.0, 1.0, peak
    while True:
        k += 1
        term *= y / (x + k)
        right.append(term)
        total += term
        ratio = y / (x + k + 1)
        if term * ratio < _EPS * total * (1.0 - ratio):
            break
    left: list[float] = []
    term, k = 1.0, peak
    while k > 0:
        term *= (x + k) / y
        k -= 1
        left.append(term)
        total += term
        ratio = (x + k) / y
        if term * ratio < _EPS * total * (1.0 - ratio):
            break
    left.reverse()
    return log_peak, k, left + right


def _digamma(z: float) -> float:
    """psi(z) for z > 0: recurrence up to 10, then the asymptotic series."""
    shift = 0.0
    while z < 10.0:
        shift -= 1.0 / z
        z += 1.0
    f = 1.0 / (z * z)
    tail = f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))
    return shift + math.log(z) - 0.5 / z - tail


def _harmonic(x: float, k: int) -> float:
    """D_k = sum_{i=1..k+1} 1/(x+i)."""
    if k < 20_000:
        return math.fsum(1.0 / (x + i) for i in range(1, k + 2))
    return _digamma(x + k + 2) - _digamma(x + 1)


def _a_figures(
    rate: float, handle: float, patience: float, agents: int, *, within: float, blocking: float,
    spend: Callable[[int], None] | None = None,
) -> QueueFigures:
    load = rate * handle
    if rate == 0:
        return QueueFigures("erlang_a", agents, 0.0, within, 0.0, 1.0, 0.0, 0.0, 0.0, True)
    if blocking == 0.0:  # N far above the load: nobody ever waits (B underflowed)
        return QueueFigures("erlang_a", agents, load, within, 0.0, 1.0, 0.0, load / agents, 0.0, True)
    x, y = agents * patience / handle, rate * patience
    log_peak, first, terms = _window(x, y)
    if spend is not None:
        spend(len(terms))
    answered, gave_up, waited = [], [], []
    d = _harmonic(x, first) if x > 0 else 0.0
    for offset, term in enumerate(terms):
        k = first + offset
        if offset:
            d += 1.0 / (x + k + 1)
        share = x / (x + k + 1)
        answered.append(term * share)
        gave_up.append(term * (k + 1) / (x + k + 1))
        waited.append(term * share * d)
    log_b = math.log(blocking)
    log_queued = log_peak + math.log(math.fsum(terms)) + log_b
    log_norm = _log_add(math.log1p(-blocking) if blocking < 1 else -math.inf, log_queued)

    def share_of(values: list[float]) -> float:
        total = math.fsum(values)
        return 0.0 if total <= 0 else math.exp(log_peak + math.log(total) + log_b - log_norm)

    wait_probability = math.exp(log_queued - log_norm)
    answered_late = share_of(answered)  # queued, then answered
    abandonment = share_of(gave_up)
    served = 1.0 - abandonment
    mean_wait = share_of(waited) * patience / served if served > 0 and x > 0 else math.inf
    # Queued and answered within t: x/(x+1) [E(x+1, y) - e^(y - z - (x+1) t/patience) E(x+1, z)], z = y e^(-t/patience),
    # where x/(x+1) E(x+1, y) is the queued-and-answered mass above.
    if x > 0 and within > 0:
        z = y * math.exp(-within / patience)
        late_peak, _, late_terms = _window(x + 1, z)
        if spend is not None:
            spend(len(late_terms))
        log_late = (math.log(x / (x + 1)) - y * math.expm1(-within / patience) - (x + 1) * within / patience
                    + late_peak + math.log(math.fsum(late_terms)))
        answered_within = max(0.0, answered_late - math.exp(log_late + log_b - log_norm))
    else:
        answered_within = 0.0
    service_level = min(1.0, max(0.0, 1.0 - wait_probability + answered_within))
    occupancy = min(1.0, load * served / agents) if agents else 1.0
    return QueueFigures("erlang_a", agents, load, within, wait_probability, service_level, mean_wait, occupancy,
                        min(1.0, abandonment), True)


def _patience(value: Any, rate: float) -> float:
    patience = _number("patience", value, low_open=True, high=math.inf, what="seconds")
    if math.isfinite(patience) and rate * patience > MAX_PATIENT_ARRIVALS:
        raise InvalidArgument(
            "patience", value,
            f"arrival_rate * patience = {rate * patience:g} arrivals per mean patience, over {MAX_PATIENT_ARRIVALS} "
            "(MAX_PATIENT_ARRIVALS): use Erlang C (no patience)",
        )
    return patience


def erlang_a(arrival_rate: float, handle_time: float, agents: int, patience: float, *, within: float = 0.0) -> QueueFigures:
    """Erlang A (M/M/N+M, Palm's model): as :func:`erlang_c`, but each
    waiting customer gives up after an exponential time of mean ``patience``
    seconds.  The queue is finite at any load; ``abandonment`` is the share
    who give up, ``service_level`` the share of all arrivals answered
    within ``within`` seconds (abandoned customers count as missed) and
    ``average_wait`` the mean wait of the answered.  ``patience=math.inf``
    is Erlang C.  Bad input raises :class:`InvalidArgument` naming the field.

    Runtime complexity: O(N + sqrt(lambda * patience)) (sums over the queue
    length around its most likely value).

    >>> f = erlang_a(100 / 1800, 180.0, 9, patience=180.0, within=20.0)   # 10 Erlangs on 9 agents
    >>> round(f.abandonment, 3), round(f.service_level, 3), round(f.occupancy, 3)
    (0.179, 0.455, 0.912)
    """
    rate, handle, n, t = _rate(arrival_rate), _handle(handle_time), _agents(agents), _within(within)
    theta = _patience(patience, rate)
    if rate * handle > 10 * MAX_AGENTS:
        raise InvalidArgument("arrival_rate", arrival_rate, f"load {rate * handle:g} Erlangs is over {10 * MAX_AGENTS}")
    blocking = _ErlangB(rate * handle)(n)
    if math.isinf(theta):
        if rate * handle > MAX_AGENTS:
            raise InvalidArgument(
                "arrival_rate", arrival_rate, f"load {rate * handle:g} Erlangs is over {MAX_AGENTS} (MAX_AGENTS)"
            )
        return _c_figures(rate, handle, n, t, blocking)
    return _a_figures(rate, handle, theta, n, within=t, blocking=blocking)


# -- agents needed ------------------------------------------------------------------------------


def _target(value: Any) -> ServiceTarget:
    if isinstance(value, ServiceTarget):
        return value
    if isinstance(value, str):
        return ServiceTarget.parse(value)
    raise InvalidArgument("target", value, 'expected a ServiceTarget or a str such as "80% in 20s"')


def _search(
    rate: float, handle: float, target: ServiceTarget, *, patience: float | None, max_occupancy: float,
    max_abandonment: float, spend: Callable[[int], None] | None = None,
) -> tuple[int, QueueFigures, str]:
    """The fewest agents meeting the target and the caps, their figures,
    and what decided ("target", "occupancy" or "abandonment")."""
    load = rate * handle
    within = target.within if target.within is not None else 0.0
    erlang_b = _ErlangB(load)
    erlang = patience is not None and math.isfinite(patience)

    def figures(n: int) -> QueueFigures:
        if erlang:
            assert patience is not None
            return _a_figures(rate, handle, patience, n, within=within, blocking=erlang_b(n), spend=spend)
        return _c_figures(rate, handle, n, within, erlang_b(n))

    def meets_target(f: QueueFigures) -> bool:
        if not f.stable:
            return False
        if target.average_wait is not None:
            return f.average_wait <= target.average_wait
        assert target.level is not None
        return f.service_level >= target.level

    def meets(n: int) -> bool:
        f = figures(n)
        return meets_target(f) and f.occupancy <= max_occupancy and f.abandonment <= max_abandonment

    if not erlang and load >= MAX_AGENTS:
        raise InvalidArgument(
            "arrival_rate", rate, f"load {load:g} Erlangs needs more than {MAX_AGENTS} agents (MAX_AGENTS)"
        )
    low = math.floor(load) if not erlang else 0  # fails: unstable (Erlang C), or nobody answered (N = 0)
    step, high = 1, low + 1
    while not meets(high):
        if high >= MAX_AGENTS:
            raise InvalidArgument(
                "target", str(target), f"not met with {MAX_AGENTS} agents (MAX_AGENTS) at load {load:g} Erlangs"
            )
        low, high, step = high, min(MAX_AGENTS, high + step), 2 * step
    while high - low > 1:  # meets(high), not meets(low)
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    decided = "target"
    if high > 1:
        fewer = figures(high - 1)
        if meets_target(fewer):
            decided = "occupancy" if fewer.occupancy > max_occupancy else "abandonment"
    return high, figures(high), decided


def agents_needed(
    arrival_rate: float,
    handle_time: float,
    target: ServiceTarget | str,
    *,
    patience: float | None = None,
    max_occupancy: float | str = 1.0,
    max_abandonment: float | str = 1.0,
    shrinkage: float | str = 0.0,
) -> int:
    """The fewest agents that meet ``target`` (a :class:`ServiceTarget` or
    its text) at ``arrival_rate`` arrivals per second and a mean handling
    time of ``handle_time`` seconds: Erlang C, or Erlang A with
    ``patience`` (mean seconds before a waiting customer gives up).  The
    agents must also be busy at most ``max_occupancy`` of their time, and
    (Erlang A) at most ``max_abandonment`` of the customers may give up:
    shares in (0, 1], as numbers or text (``"85%"``).  With
    ``shrinkage`` (the share of scheduled time not spent answering, in
    [0, 1)) the answer is the agents to schedule,
    ``ceil(N / (1 - shrinkage))``.  No arrivals need no agents.

    Raises :class:`InvalidArgument` naming the field for bad input,
    naming ``target`` when more than :data:`MAX_AGENTS` agents would be
    needed, and ``shrinkage`` when more would be scheduled.  Runtime complexity: O(N) for Erlang C; O(N + sqrt(lambda *
    patience) log N) for Erlang A.

    >>> agents_needed(100 / 1800, 180.0, "80% in 20s", shrinkage=0.3)
    20
    >>> agents_needed(100 / 1800, 180.0, "80% in 20s", max_occupancy=0.7)
    15
    >>> agents_needed(-1, 180.0, "80% in 20s")
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: arrival_rate=-1: expected arrivals per second in [0, 1e+09]
    """
    result = _plan_one(None, None, arrival_rate, handle_time, target, patience, max_occupancy, max_abandonment, shrinkage)
    return result.agents


@attrs.frozen(slots=True)
class StaffingResult:
    """The staffing of one interval.  ``raw_agents`` answer (the model's N,
    before shrinkage), ``agents`` are scheduled (``ceil(raw_agents / (1 -
    shrinkage))``); ``figures`` is what the model predicts with
    ``raw_agents`` answering.  ``limited_by`` says what decided:
    ``"target"``, ``"occupancy"`` or ``"abandonment"`` (that cap needed
    more agents than the target) or ``"no arrivals"``; ``target`` is the
    :class:`ServiceTarget` planned for.  ``start`` and ``length`` (seconds) come
    from the forecast (None for a single rate).

    Runtime complexity: O(1) for every attribute.

    >>> r = staffing_plan([ForecastInterval(8 * 3600, 1800, 100)], "80% in 20s", handle_time=180.0)[0]
    >>> r.raw_agents, r.agents, round(r.service_level, 3), round(r.occupancy, 3), r.limited_by
    (14, 14, 0.888, 0.714, 'target')
    """

    start: float | None
    length: float | None
    arrivals: float | None
    arrival_rate: float
    handle_time: float
    raw_agents: int
    agents: int
    shrinkage: float
    limited_by: str
    target: ServiceTarget
    figures: QueueFigures

    @property
    def load(self) -> float:
        """Offered load in Erlangs.  O(1)."""
        return self.figures.load

    @property
    def service_level(self) -> float:
        """Predicted share answered within the target's time.  O(1)."""
        return self.figures.service_level

    @property
    def average_wait(self) -> float:
        """Predicted ASA, seconds (mean wait of the answered).  O(1)."""
        return self.figures.average_wait

    @property
    def occupancy(self) -> float:
        """Predicted occupancy of the answering agents.  O(1)."""
        return self.figures.occupancy

    @property
    def abandonment(self) -> float:
        """Predicted share of customers who give up (0 for Erlang C).  O(1)."""
        return self.figures.abandonment


def _plan_one(  # noqa: PLR0917 (private: every caller passes them all)
    start: float | None,
    length: float | None,
    arrival_rate: Any,
    handle_time: Any,
    target: Any,
    patience: Any,
    max_occupancy: Any,
    max_abandonment: Any,
    shrinkage: Any,
    arrivals: float | None = None,
    spend: Callable[[int], None] | None = None,
) -> StaffingResult:
    rate, handle, goal = _rate(arrival_rate), _handle(handle_time), _target(target)
    theta = None if patience is None else _patience(patience, rate)
    cap = _parse_share("max_occupancy", max_occupancy, high_open=False)
    abandon_cap = _parse_share("max_abandonment", max_abandonment, high_open=False)
    shrink = _parse_share("shrinkage", shrinkage, high_open=True)
    within = goal.within if goal.within is not None else 0.0
    if rate == 0:
        figures = _c_figures(0.0, handle, 0, within, 1.0)
        if theta is not None and math.isfinite(theta):
            figures = attrs.evolve(figures, model="erlang_a")
        return StaffingResult(start, length, arrivals, rate, handle, 0, 0, shrink, "no arrivals", goal, figures)
    raw, figures, decided = _search(
        rate, handle, goal, patience=theta, max_occupancy=cap, max_abandonment=abandon_cap, spend=spend
    )
    scheduled = math.ceil(raw / (1.0 - shrink) - 1e-9)
    if scheduled > MAX_AGENTS:
        raise InvalidArgument(
            "shrinkage", shrinkage,
            f"{raw} agents answering need {scheduled:_} scheduled, over {MAX_AGENTS} (MAX_AGENTS)",
        )
    return StaffingResult(start, length, arrivals, rate, handle, raw, max(raw, scheduled), shrink, decided, goal, figures)


# -- forecasts ------------------------------------------------------------------------------------


def _interval_start(value: Any) -> float:
    return _number("start", value, low=-MAX_SECONDS, high=MAX_SECONDS, what="seconds")


def _interval_length(value: Any) -> float:
    return _number("length", value, low_open=True, high=MAX_SECONDS, what="seconds")


def _interval_arrivals(value: Any) -> float:
    return _number("arrivals", value, high=1e9, what="expected arrivals")


def _handle_or_none(value: Any) -> float | None:
    return None if value is None else _handle(value)


@attrs.frozen(slots=True)
class ForecastInterval:
    """One interval of a forecast: ``start`` (seconds, e.g. since
    midnight), ``length`` (seconds), ``arrivals`` expected in it, and
    optionally its own mean ``handle_time`` (seconds; None: the plan's).

    Runtime complexity: construction O(1).

    >>> ForecastInterval(8 * 3600, 1800, 100).arrival_rate * 3600
    200.0
    >>> ForecastInterval(0, 1800, -5)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: arrivals=-5: expected expected arrivals in [0, 1e+09]
    """

    start: float = attrs.field(converter=_interval_start)
    length: float = attrs.field(converter=_interval_length)
    arrivals: float = attrs.field(converter=_interval_arrivals)
    handle_time: float | None = attrs.field(default=None, converter=_handle_or_none)

    @property
    def arrival_rate(self) -> float:
        """Arrivals per second.  O(1)."""
        return self.arrivals / self.length


def staffing_plan(
    forecast: Iterable[ForecastInterval],
    target: ServiceTarget | str,
    *,
    handle_time: float | None = None,
    patience: float | None = None,
    max_occupancy: float | str = 1.0,
    max_abandonment: float | str = 1.0,
    shrinkage: float | str = 0.0,
) -> tuple[StaffingResult, ...]:
    """The staffing of every interval of ``forecast`` (each interval's
    arrivals spread over its length, each interval on its own: the
    stationary model per interval, as workforce tools do): Erlang C, or
    Erlang A with ``patience``; ``handle_time`` is the mean handling time
    of intervals that do not give their own.  Options as
    :func:`agents_needed`.  Raises :class:`InvalidArgument` naming the field
    (``forecast[i].handle_time`` when an interval has none and no default
    is given).

    Intervals with the same arrival rate and handling time are computed
    once.  Erlang A's work is bounded: a plan that needs more than
    :data:`MAX_PLAN_TERMS` series terms (about a minute) raises
    :class:`InvalidArgument` naming ``forecast``.

    Runtime complexity: O(sum over distinct intervals of N log N), plus for
    Erlang A O(sqrt(lambda * patience) log N) each (see
    :func:`agents_needed`), at most :data:`MAX_PLAN_TERMS` terms in all.

    >>> plan = staffing_plan([ForecastInterval(8 * 3600, 1800, 60), ForecastInterval(8.5 * 3600, 1800, 150)],
    ...                      "80% in 20s", handle_time=180.0, shrinkage="30%")
    >>> [(r.raw_agents, r.agents) for r in plan]
    [(9, 13), (19, 28)]
    """
    return _plan(forecast, target, handle_time=handle_time, patience=patience, max_occupancy=max_occupancy,
                 max_abandonment=max_abandonment, shrinkage=shrinkage, reached=[])


def _plan(
    forecast: Iterable[ForecastInterval], target: Any, *, handle_time: Any, patience: Any, max_occupancy: Any,
    max_abandonment: Any, shrinkage: Any, reached: list[ForecastInterval],
) -> tuple[StaffingResult, ...]:
    # staffing_plan; ``reached`` gets the interval being planned, so that the
    # CLI can name the one an error stopped at without planning again.
    goal = _target(target)
    results: list[StaffingResult] = []
    if isinstance(forecast, str | bytes) or not isinstance(forecast, Iterable):
        raise InvalidArgument("forecast", forecast, "expected an iterable of ForecastInterval")
    left = MAX_PLAN_TERMS

    def spend(terms: int) -> None:
        nonlocal left
        left -= terms
        if left < 0:
            raise InvalidArgument(
                "forecast", f"{len(results) + 1} intervals",
                f"needs more than {MAX_PLAN_TERMS:_} Erlang A terms (MAX_PLAN_TERMS): plan fewer intervals at once, "
                "or give a shorter patience (or none: Erlang C)",
            )

    done: dict[tuple[float, float], StaffingResult] = {}  # identical intervals are computed once
    for index, interval in enumerate(forecast):
        if not isinstance(interval, ForecastInterval):
            raise InvalidArgument(f"forecast[{index}]", interval, "expected a ForecastInterval")
        reached[:] = [interval]
        handle = interval.handle_time if interval.handle_time is not None else handle_time
        if handle is None:
            raise InvalidArgument(f"forecast[{index}].handle_time", None, "no handle time: give handle_time=")
        handle = _handle(handle)
        key = (interval.arrival_rate, handle)
        known = done.get(key)
        if known is None:
            known = done[key] = _plan_one(
                interval.start, interval.length, interval.arrival_rate, handle, goal, patience, max_occupancy,
                max_abandonment, shrinkage, interval.arrivals, spend,
            )
            results.append(known)
        else:
            results.append(attrs.evolve(known, start=interval.start, length=interval.length, arrivals=interval.arrivals))
    return tuple(results)


class ForecastError(InvalidArgument):
    """A forecast file has a bad value: ``path``, ``line`` (1-based; the
    header is line 1) and ``column`` (None for the whole line) say where.

    Runtime complexity: construction O(1) (the value shown is cut at 80
    characters).

    >>> str(ForecastError("day.csv", 3, "arrivals", "-2", "expected a number >= 0"))
    "day.csv, line 3, column 'arrivals': '-2': expected a number >= 0"
    """

    def __init__(self, path: str, line: int, column: str | None, value: Any, reason: str) -> None:
        super().__init__(column or "line", value, reason)
        self.path = path
        self.line = line
        self.column = column
        shown = value if not isinstance(value, str) or len(value) <= 80 else value[:80] + f"... ({len(value)} characters)"
        where = f"{path}, line {line}" + (f", column {column!r}" if column is not None else "")
        self.args = (f"{where}: {shown!r}: {reason}",)


FORECAST_COLUMNS: Final = ("start", "arrivals", "handle_time")
"""The columns a forecast CSV may have (see :func:`read_forecast`)."""
_CLOCK = re.compile(r"(\d{1,4}):([0-5]\d)(?::([0-5]\d(?:\.\d*)?))?")


def _start(raw: str) -> float:
    text = raw.strip()
    match = _CLOCK.fullmatch(text)
    if match:
        return int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3) or 0)
    try:
        value = float(text)
    except ValueError:
        raise ValueError('expected a time "HH:MM" or seconds') from None
    if not math.isfinite(value):
        raise ValueError('expected a time "HH:MM" or seconds')
    return value


def _read_bytes(path: Any) -> tuple[str, str]:
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise InvalidArgument("path", path, f"expected a file path (str or os.PathLike), not {type(path).__name__}")
    source = os.fspath(path)
    if not isinstance(source, str):
        raise InvalidArgument("path", source, "expected a str path, not bytes")
    try:
        with open(source, "rb") as stream:
            raw = stream.read(MAX_FORECAST_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise InvalidArgument("path", source, f"cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    if len(raw) > MAX_FORECAST_BYTES:
        raise InvalidArgument("path", source, f"too large: more than {MAX_FORECAST_BYTES} bytes (MAX_FORECAST_BYTES)")
    try:
        return source, raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgument("path", source, f"not UTF-8 text: {exc}") from None


def read_forecast(path: str | os.PathLike[str], *, interval: float | None = None) -> tuple[ForecastInterval, ...]:
    """Read a forecast CSV: a header line, then one interval per line.

    ==============  ======  ===============================================
    column          needed  meaning
    ==============  ======  ===============================================
    start           yes     the interval's start: ``HH:MM[:SS]`` (hours
                            past 24 for a second day) or seconds
    arrivals        yes     expected arrivals in the interval (>= 0, may
                            be fractional)
    handle_time     no      the interval's mean handling time, seconds
                            (empty: the plan's)
    ==============  ======  ===============================================

    Starts must increase.  Every interval has the same length: ``interval``
    seconds, or else the smallest gap between two starts (a larger gap is a
    closed period); a single row needs ``interval``.  One row per line (no
    quoted line breaks); blank lines are skipped.

    Bounds: :data:`MAX_FORECAST_BYTES`, :data:`MAX_FORECAST_INTERVALS` rows,
    :data:`MAX_FORECAST_LINE_CHARS` per line.  A bad row raises
    :class:`ForecastError` naming the file, line, column and value; an
    unreadable file :class:`InvalidArgument` on ``path``.

    Runtime complexity: O(size of the file).

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "f.csv"
    >>> _ = path.write_text("start,arrivals\\n08:00,100\\n08:30,150\\n")
    >>> [(i.start, i.length, i.arrivals) for i in read_forecast(path)]
    [(28800.0, 1800.0, 100.0), (30600.0, 1800.0, 150.0)]
    >>> _ = path.write_text("start,arrivals\\n08:00,lots\\n")
    >>> read_forecast(path, interval=1800)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    triage_queue.staffing.ForecastError: .../f.csv, line 2, column 'arrivals': 'lots': expected a number >= 0
    """
    length = None if interval is None else _number("interval", interval, low_open=True, high=MAX_SECONDS, what="seconds")
    source, text = _read_bytes(path)
    lines = text.splitlines()
    header_seen = False
    columns: list[str] = []
    rows: list[tuple[int, float, float, float | None]] = []
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_FORECAST_LINE_CHARS:
            raise ForecastError(source, number, None, line,
                                f"a line of more than {MAX_FORECAST_LINE_CHARS} characters (MAX_FORECAST_LINE_CHARS)")
        if not line.strip():
            continue
        try:
            cells = next(csv.reader([line]))
        except csv.Error as exc:
            raise ForecastError(source, number, None, line, f"not valid CSV: {exc}") from None
        if not header_seen:
            header_seen = True
            columns = [c.strip().lower() for c in cells]
            for name in columns:
                if name not in FORECAST_COLUMNS:
                    known = ", ".join(FORECAST_COLUMNS)
                    raise ForecastError(source, number, name, name, f"unknown column; expected some of {known}")
                if columns.count(name) > 1:
                    raise ForecastError(source, number, name, name, "column given twice")
            for name in ("start", "arrivals"):
                if name not in columns:
                    raise ForecastError(source, number, name, line, "required column missing")
            continue
        if len(cells) != len(columns):
            raise ForecastError(source, number, None, line, f"expected {len(columns)} cells (as the header), found {len(cells)}")
        if len(rows) >= MAX_FORECAST_INTERVALS:
            reason = f"more than {MAX_FORECAST_INTERVALS} intervals (MAX_FORECAST_INTERVALS)"
            raise ForecastError(source, number, None, line, reason)
        row = dict(zip(columns, cells, strict=True))
        try:
            start = _start(row["start"])
            if not -MAX_SECONDS <= start <= MAX_SECONDS:
                raise ValueError(f"expected at most {MAX_SECONDS} seconds")
        except ValueError as exc:
            raise ForecastError(source, number, "start", row["start"], str(exc)) from None
        if rows and start <= rows[-1][1]:
            raise ForecastError(source, number, "start", row["start"], "starts must increase")
        try:
            arrivals = float(row["arrivals"])
            if not 0 <= arrivals <= 1e9:
                raise ValueError
        except ValueError:
            raise ForecastError(source, number, "arrivals", row["arrivals"], "expected a number >= 0") from None
        handle: float | None = None
        if row.get("handle_time", "").strip():
            try:
                handle = _parse_duration("handle_time", row["handle_time"].strip())
                if handle <= 0:
                    raise InvalidArgument("handle_time", handle, "")
            except InvalidArgument:
                raise ForecastError(source, number, "handle_time", row["handle_time"], "expected seconds > 0") from None
        rows.append((number, start, arrivals, handle))
    if not header_seen:
        raise ForecastError(source, 1, None, "", "empty file: expected a header line (start,arrivals)")
    if not rows:
        raise ForecastError(source, 2, None, "", "no intervals")
    if length is None:
        gaps = [b[1] - a[1] for a, b in itertools.pairwise(rows)]
        if not gaps:
            raise InvalidArgument("interval", None, f"{source}: one interval only: give its length (interval=)")
        length = min(gaps)
    for before, after in itertools.pairwise(rows):
        if after[1] - before[1] < length - 1e-9:
            reason = f"starts {after[1] - before[1]:g} s after the previous one, less than the interval ({length:g} s)"
            raise ForecastError(source, after[0], "start", after[1], reason)
    return tuple(ForecastInterval(start, length, arrivals, handle) for _, start, arrivals, handle in rows)
