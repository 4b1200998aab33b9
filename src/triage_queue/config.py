"""Declarative policies: a routing policy, its SLA targets and the
dispatcher's options, read from a TOML file.

The file format is described in ``docs/policies.md``.  Every mistake in a
file raises :class:`~triage_queue.InvalidPolicy` whose ``field`` is the full
key path (``rules[2].weight``, ``sla.tier.gold``, ``dispatcher.selection``);
TOML syntax errors name the source, line and column.

>>> policy_file = parse_policy('''
... name = "emergencies then arrival order"
... max_wait = "1h"
... [[rules]]
... kind = "emergency"
... [[rules]]
... kind = "feedback_order"
... [sla]
... default = "4h"
... ''')
>>> [r.name for r in policy_file.policy.rules], policy_file.policy.max_wait
(['emergency', 'feedback_order'], 3600.0)
>>> parse_policy('composition = "weighted"\\n[[rules]]\\nkind = "vip"')
Traceback (most recent call last):
...
triage_queue.errors.InvalidPolicy: rules[0].weight=None: a weighted policy needs a weight for every rule
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import math
import os
import re
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from datetime import time as time_of_day
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import attrs

from triage_queue.agents import Agent
from triage_queue.analytics import AnalyticsOptions
from triage_queue.clock import Clock
from triage_queue.criteria import MAX_TIERS, ComplexityCriteria, Criteria, TierCriteria, TierLevel
from triage_queue.dispatch import Dispatcher
from triage_queue.dispatch.overflow import OverflowRule
from triage_queue.dispatch.strain import StrainGuard, StrainLimits
from triage_queue.errors import InvalidArgument, InvalidPolicy, InvalidValue
from triage_queue.policy import Composition, Policy
from triage_queue.queue import TicketQueue
from triage_queue.rules import (
    Aging,
    Complexity,
    Emergency,
    FeedbackOrder,
    Rule,
    SlaDeadline,
    Vip,
)
from triage_queue.selection import LeastLoaded, LongestIdle, MostProficient, RoundRobin, Selection
from triage_queue.ticket import Severity, Ticket

__all__ = [
    "MAX_DURATION",
    "MAX_NESTING",
    "MAX_POLICY_BYTES",
    "SELECTIONS",
    "PolicyFile",
    "SlaTargets",
    "format_duration",
    "load_policy",
    "parse_duration",
    "parse_policy",
]

_log = logging.getLogger("triage_queue.config")

MAX_POLICY_BYTES: Final = 1 << 20
"""The largest policy file (or text) read, in bytes (UTF-8): 1 MiB.  Real
policies are a few kilobytes; the bound keeps a hostile file from costing
unbounded time or memory."""

MAX_NESTING: Final = 32
"""How deeply arrays and tables may nest in a policy or staff file (and in a
JSON Lines trace row); a policy needs 3."""

MAX_DURATION: Final = 366 * 86400.0
"""The longest duration a policy may give (366 days, in seconds): a longer
SLA target, wait bound or dispatcher timeout is surely a mistake, and the
simulator would step through it."""

SELECTIONS: Final[Mapping[str, Callable[[], Selection]]] = MappingProxyType(
    {
        "longest_idle": LongestIdle,
        "least_loaded": LeastLoaded,
        "most_proficient": MostProficient,
        "round_robin": RoundRobin,
    }
)
"""The agent selection strategies a policy file may name, by name."""

_UNITS: Final = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([dhms])\s*")
_NONE: Final = "none"
_DURATION_REASON: Final = 'expected seconds (a number >= 0) or a duration such as "90s", "2m", "1h30m" (units d, h, m, s)'
_TOO_LONG: Final = "too long: at most 366 days (MAX_DURATION)"
_MAX_DURATION_TEXT: Final = 100  # characters of a duration string ("1d2h3m4.5s" is 10)
_SHORT: Final = 80  # characters of a value quoted in an error message


def _short(value: Any) -> Any:
    """``value``, or for a long string or a number of many digits a short
    stand-in, so an error message stays one readable line."""
    if isinstance(value, str) and len(value) > _SHORT:
        return value[:_SHORT] + f"... ({len(value)} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"<an integer of {value.bit_length()} bits>"
    if isinstance(value, list | dict):
        text = _bounded_repr(value)
        if text is not None:
            return text
    return value


def _bounded_repr(value: Any) -> str | None:
    # A long or deep array/table is named by its kind and size, not its text.
    if _depth(value) > 4 or len(value) > 20:
        return f"<{_type_name(value)} of {len(value)} items>"
    return None


def _depth(value: Any) -> int:
    """How deeply arrays and tables nest in a parsed value (a scalar is 0),
    without recursion.  O(size of the value)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in item)
    return deepest


# -- durations ------------------------------------------------------------


def _type_name(value: Any) -> str:
    """The TOML name of a parsed value's type, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, datetime | date | time_of_day):
        return "a date or time"
    return type(value).__name__


def _finite(value: float) -> bool:
    # TOML integers are unbounded; one too large for a float is not finite
    # for our purposes (math.isfinite would raise OverflowError).
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def parse_duration(value: Any, field: str = "duration") -> float:
    """Seconds from a number of seconds (int or float, >= 0) or a string of
    parts with units ``d``, ``h``, ``m``, ``s``: ``"90s"``, ``"2m"``,
    ``"1h30m"``, ``"1.5h"``.  Anything else raises :class:`InvalidPolicy`
    naming ``field``.

    Runtime complexity: O(length of the string).

    >>> parse_duration("1h30m"), parse_duration(45), parse_duration("0.5s")
    (5400.0, 45.0, 0.5)
    >>> parse_duration("10 minutes", "max_wait")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidPolicy: max_wait='10 minutes': expected seconds (a number >= 0) or a duration such as "90s", ...
    >>> parse_duration("400d", "sla.default")
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidPolicy: sla.default='400d': too long: at most 366 days (MAX_DURATION)

    Durations longer than :data:`MAX_DURATION` are refused.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not _finite(value) or value < 0:
            raise InvalidPolicy(field, _short(value), "expected a finite number of seconds >= 0")
        if value > MAX_DURATION:
            raise InvalidPolicy(field, _short(value), _TOO_LONG)
        return float(value)
    reason = _DURATION_REASON
    if not isinstance(value, str):
        raise InvalidPolicy(field, _short(value), f"{reason}, not {_type_name(value)}")
    if len(value) > _MAX_DURATION_TEXT:
        raise InvalidPolicy(field, _short(value), reason)
    total = 0.0
    position = 0
    text = value.strip()
    if not text:
        raise InvalidPolicy(field, value, reason)
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            raise InvalidPolicy(field, value, reason)
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not math.isfinite(total) or total > MAX_DURATION:
        raise InvalidPolicy(field, value, _TOO_LONG)
    return total


def format_duration(seconds: float) -> str | float:
    """The inverse of :func:`parse_duration`: a whole number of seconds as a
    string such as ``"1h30m"``; a fractional one as a plain float (which
    reads back exactly).

    Runtime complexity: O(1).

    >>> format_duration(5400.0), format_duration(86400 + 5), format_duration(0), format_duration(0.25)
    ('1h30m', '1d5s', '0s', 0.25)
    """
    if seconds != int(seconds) or seconds >= 2**53:
        return float(seconds)
    rest = int(seconds)
    if rest == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        count, rest = divmod(rest, int(size))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# -- SLA targets ----------------------------------------------------------


def _optional_target(value: Any) -> float | None:
    return None if value is None else parse_duration(value, "default")


def _tier_targets(value: Any) -> Mapping[str, float]:
    if not isinstance(value, Mapping):
        raise InvalidPolicy("by_tier", value, "expected a mapping of tier name to seconds")
    out: dict[str, float] = {}
    for tier, seconds in value.items():
        if not isinstance(tier, str) or not tier:
            raise InvalidPolicy("by_tier", tier, "a tier name must be a non-empty string")
        out[tier] = parse_duration(seconds, f"by_tier.{tier}")
    return MappingProxyType(out)


def _severity_targets(value: Any) -> Mapping[Severity, float]:
    if not isinstance(value, Mapping):
        raise InvalidPolicy("by_severity", value, "expected a mapping of severity to seconds")
    out: dict[Severity, float] = {}
    for key, seconds in value.items():
        severity = _parse_severity(key, f"by_severity.{key}")
        out[severity] = parse_duration(seconds, f"by_severity.{severity.name.lower()}")
    return MappingProxyType(dict(sorted(out.items())))


def _parse_severity(value: Any, field: str) -> Severity:
    try:
        return Severity.parse(value)
    except InvalidValue:
        raise InvalidPolicy(field, value, "expected a severity: low, normal, high or critical") from None


@attrs.frozen(slots=True)
class SlaTargets:
    """First-response targets in seconds: a ``default``, and targets ``by_tier``
    (customer tier name) and ``by_severity``.

    A ticket's target is the **strictest** (smallest) of its tier's and its
    severity's targets; ``default`` applies only when neither has one.  A
    ticket with no customer tier matches no tier target.  None means the
    ticket has no target.

    Runtime complexity: :meth:`target_for` O(1).

    >>> from triage_queue import Ticket
    >>> sla = SlaTargets(default=14400, by_tier={"gold": 3600}, by_severity={"critical": 900})
    >>> sla.target_for(Ticket("a", 0.0)), sla.target_for(Ticket("b", 0.0, customer_tier="gold"))
    (14400.0, 3600.0)
    >>> sla.target_for(Ticket("c", 0.0, customer_tier="gold", severity="critical"))
    900.0
    """

    default: float | None = attrs.field(default=None, converter=_optional_target)
    by_tier: Mapping[str, float] = attrs.field(factory=dict, converter=_tier_targets, hash=False)
    by_severity: Mapping[Severity, float] = attrs.field(factory=dict, converter=_severity_targets, hash=False)

    def target_for(self, ticket: Ticket) -> float | None:
        """The ticket's first-response target in seconds, or None.

        Runtime complexity: O(1).
        """
        best: float | None = None
        tier = ticket.customer_tier
        if tier is not None:
            best = self.by_tier.get(tier)
        severe = self.by_severity.get(ticket.severity)
        if severe is not None and (best is None or severe < best):
            best = severe
        return self.default if best is None else best

    def __bool__(self) -> bool:
        """Whether any target is set.  Runtime complexity: O(1)."""
        return self.default is not None or bool(self.by_tier) or bool(self.by_severity)


# -- the policy file -------------------------------------------------------

_OPTION_DEFAULTS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        # The Dispatcher's own defaults, for documentation and to_toml().
        "offer_timeout": 30.0,
        "affinity_wait": 60.0,
        "retry_after": 300.0,
        "sla_warning": None,
        "mark_not_responding": False,
        # Tables, not scalars: [[dispatcher.overflow]] and [dispatcher.strain].
        "overflow": None,
        "strain": None,
    }
)
_OPTIONAL_DURATIONS: Final = frozenset({"offer_timeout", "retry_after", "sla_warning"})
# What PolicyFile.build(**options) takes: every keyword-only Dispatcher
# argument except ``clock`` (build's own ``clock`` drives the queue).
_BUILD_OPTIONS: Final = tuple(
    name
    for name, parameter in inspect.signature(Dispatcher.__init__).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "clock"
)


_OVERFLOW_DURATIONS: Final = frozenset({"wait_above", "wait_below", "handle_time"})
_STRAIN_DURATIONS: Final = frozenset({"continuous", "window", "cooldown"})


def _read_overflow(value: Any, field: str) -> tuple[OverflowRule, ...]:
    """``[[dispatcher.overflow]]``: a list of tables (or OverflowRule values
    given from Python), each an :class:`~triage_queue.OverflowRule` with
    durations in words.  O(rules)."""
    if isinstance(value, OverflowRule):
        return (value,)
    if not isinstance(value, list | tuple):
        raise InvalidPolicy(field, value, "expected a list of overflow rules ([[dispatcher.overflow]] tables)")
    rules = []
    for index, entry in enumerate(value):
        where = f"{field}[{index}]"
        if isinstance(entry, OverflowRule):
            rules.append(entry)
            continue
        if not isinstance(entry, Mapping):
            raise InvalidPolicy(where, entry, "expected a table with skill, backup and thresholds")
        data = dict(entry)
        for key in _OVERFLOW_DURATIONS:
            if key in data and data[key] is not None:
                data[key] = parse_duration(data[key], f"{where}.{key}")
        try:
            rules.append(OverflowRule.from_dict(data))
        except InvalidArgument as exc:
            raise InvalidPolicy(f"{where}.{exc.field}", exc.value, exc.reason) from None
    skills = [rule.skill for rule in rules]
    for index, skill in enumerate(skills):
        if skill in skills[:index]:
            raise InvalidPolicy(f"{field}[{index}].skill", skill, "two overflow rules for one skill")
    return tuple(rules)


def _read_strain(value: Any, field: str) -> StrainGuard:
    """``[dispatcher.strain]``: a table of limits (durations in words,
    ``"none"`` turns a limit off) with ``[dispatcher.strain.overrides.AGENT]``
    tables, or a StrainGuard given from Python.  O(overrides)."""
    if isinstance(value, StrainGuard):
        return value
    if not isinstance(value, Mapping):
        raise InvalidPolicy(field, value, "expected a table of strain limits")

    def limits(table: Mapping[str, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in table.items():
            if item == _NONE:
                out[key] = None
            elif key in _STRAIN_DURATIONS:
                out[key] = parse_duration(item, f"{where}.{key}")
            else:
                out[key] = item
        return out

    data = dict(value)
    overrides = data.pop("overrides", None)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise InvalidPolicy(f"{field}.overrides", overrides, "expected a table of agent id to limits")
    try:
        return StrainGuard(
            overrides=None
            if overrides is None
            else {
                agent: limits(table, f"{field}.overrides.{agent}") if isinstance(table, Mapping) else table
                for agent, table in overrides.items()
            },
            **limits(data, field),
        )
    except InvalidArgument as exc:
        raise InvalidPolicy(f"{field}.{exc.field}", exc.value, exc.reason) from None


def _overflow_lines(rules: Iterable[OverflowRule]) -> list[str]:
    out: list[str] = []
    for rule in rules:
        out += ["", "[[dispatcher.overflow]]", f"skill = {_value(rule.skill)}"]
        out.append("backup = { " + ", ".join(f"{_key(n)} = {level}" for n, level in rule.backup.items()) + " }")
        if rule.waiting_above is not None:
            out += [f"waiting_above = {rule.waiting_above}", f"waiting_below = {rule.waiting_below}"]
        if rule.wait_above is not None:
            out += [f"wait_above = {_duration(rule.wait_above)}", f"wait_below = {_duration(rule.wait_below or 0.0)}"]
        out.append(f"handle_time = {_duration(rule.handle_time)}")
    return out


def _strain_lines(guard: StrainGuard) -> list[str]:
    def lines(limits: StrainLimits) -> list[str]:
        out = []
        for key, value in limits.to_dict().items():
            if value is None:
                out.append(f'{key} = "{_NONE}"')
            elif key in _STRAIN_DURATIONS:
                out.append(f"{key} = {_duration(value)}")
            else:
                out.append(f"{key} = {_value(value)}")
        return out

    out = ["", "[dispatcher.strain]", *lines(guard.limits)]
    for agent, limits in guard.overrides.items():
        out += ["", f"[dispatcher.strain.overrides.{_key(agent)}]", *lines(limits)]
    return out


def _known_tiers(rules: Iterable[Rule]) -> set[str]:
    """The tier names the policy's vip rules rank (their own ``tiers``, or
    the ``[tiers]`` table they use); SLA targets may name only these (when
    there are any), so a typo cannot go unnoticed.  The one notion of known
    tiers, for files and for :class:`PolicyFile` values alike."""
    known: set[str] = set()
    for r in rules:
        if isinstance(r, Vip):
            known.update(r.tiers)
    return known


def _unknown_tier(tier: str, known: Iterable[str]) -> str:
    return "unknown tier (not ranked by the policy's tiers)" + _did_you_mean(tier, known)


def _check_name(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidPolicy("name", value, "expected a non-empty string")


def _check_policy(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, Policy):
        raise InvalidPolicy("policy", value, "expected a triage_queue.Policy")


def _check_sla(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, SlaTargets):
        raise InvalidPolicy("sla", value, "expected SlaTargets")


def _check_description(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidPolicy("description", value, "expected a string")


def _check_selection(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, str) or value not in SELECTIONS:
        raise InvalidPolicy("dispatcher.selection", value, _expected_one_of(value, SELECTIONS))


def _to_options(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidPolicy("dispatcher", value, "expected a mapping of dispatcher option to value")
    out: dict[str, Any] = {}
    for key, option in value.items():
        field = f"dispatcher.{key}"
        if key not in _OPTION_DEFAULTS:
            raise InvalidPolicy(field, option, "unknown dispatcher option" + _did_you_mean(key, _OPTION_DEFAULTS))
        if key == "overflow":
            out[key] = _read_overflow(option, field)
            continue
        if key == "strain":
            out[key] = _read_strain(option, field)
            continue
        if key == "mark_not_responding":
            if not isinstance(option, bool):
                raise InvalidPolicy(field, option, f"expected true or false, not {_type_name(option)}")
            out[key] = option
            continue
        if option is None or option == _NONE:
            if key not in _OPTIONAL_DURATIONS:
                raise InvalidPolicy(field, option, "expected a duration; this option cannot be none")
            out[key] = None
            continue
        seconds = parse_duration(option, field)
        if key == "offer_timeout" and seconds <= 0:
            raise InvalidPolicy(field, option, 'expected a duration > 0, or "none" for no limit')
        out[key] = seconds
    return MappingProxyType(out)


# -- analytics ([analytics]) -------------------------------------------------

_ANALYTICS_KEYS: Final = ("category", "recurring_count", "recurring_window", "trend_hours", "max_categories")


def _check_analytics(_: Any, __: Any, value: Any) -> None:
    if value is not None and not isinstance(value, AnalyticsOptions):
        raise InvalidPolicy("analytics", value, "expected a triage_queue.AnalyticsOptions, or None")


def _read_analytics(value: Any) -> AnalyticsOptions | None:
    # The [analytics] table: the Dispatcher's analytics option (docs/analytics.md).
    if value is None:
        return None
    reader = _Reader(value, "analytics", _ANALYTICS_KEYS)
    options: dict[str, Any] = {}
    for key in _ANALYTICS_KEYS:
        if not reader.has(key):
            continue
        if key == "recurring_window":
            options[key] = reader.duration(key)
        else:
            options[key] = reader.take(key)
    reader.done()
    try:
        return AnalyticsOptions(**options)
    except InvalidValue as exc:
        raise InvalidPolicy(f"analytics.{exc.field}", exc.value, exc.reason) from None


def _analytics_lines(options: AnalyticsOptions | None) -> list[str]:
    if options is None:
        return []
    out = ["", "[analytics]"]
    if options.category is not None:
        out.append(f"category = {_value(options.category)}")
    out += [
        f"recurring_count = {options.recurring_count}",
        f"recurring_window = {_duration(options.recurring_window)}",
        f"trend_hours = {options.trend_hours}",
        f"max_categories = {options.max_categories}",
    ]
    return out


# -- tier and complexity criteria ([criteria]) -------------------------------

_CRITERIA_KEYS: Final = ("tier", "complexity")
_CRITERIA_TIER_KEYS: Final = ("base", "levels")
_CRITERIA_LEVEL_KEYS: Final = ("name", "monthly_spend", "employees", "years")
_CRITERIA_COMPLEXITY_KEYS: Final = ("difficulty", "effort", "overlap")


def _check_criteria(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, Criteria):
        raise InvalidPolicy("criteria", value, "expected triage_queue.Criteria")


def _check_criteria_tiers(criteria: Criteria, known: set[str]) -> None:
    """A ladder other than the default may name only tiers the policy's vip
    rules rank (when there are any), as ``[sla.tier]`` may."""
    if not known or criteria.tier == TierCriteria.default():
        return
    if criteria.tier.base not in known:
        raise InvalidPolicy("criteria.tier.base", criteria.tier.base, _unknown_tier(criteria.tier.base, known))
    for index, level in enumerate(criteria.tier.levels):
        if level.name not in known:
            raise InvalidPolicy(f"criteria.tier.levels[{index}].name", level.name, _unknown_tier(level.name, known))


def _prefixed(prefix: str, exc: InvalidValue) -> InvalidPolicy:
    return InvalidPolicy(f"{prefix}.{exc.field}", exc.value, exc.reason)


def _read_criteria(value: Any, known_tiers: set[str]) -> Criteria:
    """The ``[criteria]`` table: ``[criteria.tier]`` (``base`` and
    ``[[criteria.tier.levels]]``, lowest first) and ``[criteria.complexity]``
    (4 thresholds per fact; ``effort`` as durations).  Every error names the
    key path.  O(size of the table)."""
    reader = _Reader(value, "criteria", _CRITERIA_KEYS)
    tier_table = reader.take("tier")
    complexity_table = reader.take("complexity")
    reader.done()
    tier = TierCriteria.default()
    if tier_table is not None:
        tiers = _Reader(tier_table, "criteria.tier", _CRITERIA_TIER_KEYS)
        base = tiers.take("base", "standard")
        entries = tiers.take("levels")
        tiers.done()
        if not isinstance(entries, list) or not entries:
            raise InvalidPolicy(
                "criteria.tier.levels", entries, "expected a non-empty array of tables ([[criteria.tier.levels]]), lowest first"
            )
        if len(entries) > MAX_TIERS:
            raise InvalidPolicy("criteria.tier.levels", entries, f"at most {MAX_TIERS} tiers (MAX_TIERS)")
        levels = []
        for index, entry in enumerate(entries):
            path = f"criteria.tier.levels[{index}]"
            level = _Reader(entry, path, _CRITERIA_LEVEL_KEYS)
            name = level.take("name")
            facts = {key: level.take(key) for key in _CRITERIA_LEVEL_KEYS[1:]}
            level.done()
            for key, fact in facts.items():
                if fact is not None and (isinstance(fact, bool) or not isinstance(fact, int | float)):
                    raise InvalidPolicy(f"{path}.{key}", fact, f"expected a finite number >= 0, not {_type_name(fact)}")
            try:
                levels.append(TierLevel(name, **facts))
            except InvalidValue as exc:
                raise _prefixed(path, exc) from None
        try:
            tier = TierCriteria(levels, base)
        except InvalidValue as exc:
            raise _prefixed("criteria.tier", exc) from None
    complexity = ComplexityCriteria.default()
    if complexity_table is not None:
        table = _Reader(complexity_table, "criteria.complexity", _CRITERIA_COMPLEXITY_KEYS)
        given: dict[str, Any] = {}
        for key in _CRITERIA_COMPLEXITY_KEYS:
            thresholds = table.take(key)
            if thresholds is None:
                continue
            field = f"criteria.complexity.{key}"
            if not isinstance(thresholds, list) or len(thresholds) != 4:
                raise InvalidPolicy(field, thresholds, "expected an array of 4 thresholds, for levels 2, 3, 4 and 5")
            if key == "effort":
                thresholds = [parse_duration(item, f"{field}[{i}]") for i, item in enumerate(thresholds)]
            else:
                for i, item in enumerate(thresholds):
                    if isinstance(item, bool) or not isinstance(item, int | float):
                        raise InvalidPolicy(f"{field}[{i}]", item, f"expected a finite number >= 0, not {_type_name(item)}")
            given[key] = thresholds
        table.done()
        try:
            complexity = ComplexityCriteria(**given)
        except InvalidValue as exc:
            raise _prefixed("criteria.complexity", exc) from None
    criteria = Criteria(tier, complexity)
    _check_criteria_tiers(criteria, known_tiers)
    return criteria


def _criteria_lines(criteria: Criteria) -> list[str]:
    """The ``[criteria]`` tables of a policy file, when not the defaults."""
    out: list[str] = []
    if criteria.tier != TierCriteria.default():
        out += ["", "[criteria.tier]", f"base = {_value(criteria.tier.base)}"]
        for level in criteria.tier.levels:
            out += ["", "[[criteria.tier.levels]]", f"name = {_value(level.name)}"]
            out += [f"{key} = {_value(float(v))}" for key, v in level.thresholds().items()]
    if criteria.complexity != ComplexityCriteria.default():
        c = criteria.complexity
        out += ["", "[criteria.complexity]"]
        out.append("difficulty = [" + ", ".join(_value(float(v)) for v in c.difficulty) + "]")
        out.append("effort = [" + ", ".join(_duration(v) for v in c.effort) + "]")
        out.append("overlap = [" + ", ".join(_value(float(v)) for v in c.overlap) + "]")
    return out


@attrs.frozen(slots=True)
class PolicyFile:
    """A routing policy with its SLA targets and dispatcher options: what a
    policy TOML file holds (see :func:`load_policy`).

    ``policy`` orders tickets; ``sla`` gives first-response targets;
    ``selection`` names the agent selection strategy (a key of
    :data:`SELECTIONS`); ``dispatcher_options`` holds the
    :class:`~triage_queue.Dispatcher` keyword arguments the file set
    (``offer_timeout``, ``affinity_wait``, ``retry_after``, ``sla_warning``,
    ``mark_not_responding``; unset ones keep the dispatcher's defaults);
    ``source`` is where it was read from (not part of equality);
    ``analytics``, the ``[analytics]`` table as
    :class:`~triage_queue.AnalyticsOptions` (None if the file has none).

    Runtime complexity: construction O(number of options).

    >>> from triage_queue import ManualClock, Policy, Ticket
    >>> pf = PolicyFile.from_policy(Policy.default(), sla=SlaTargets(default="1h"), selection="least_loaded")
    >>> pf.with_sla(Ticket("T", 100.0)).sla_due
    3700.0
    >>> pf.build(ManualClock()).queue.policy == Policy.default()
    True
    """

    name: str = attrs.field(validator=_check_name)
    policy: Policy = attrs.field(validator=_check_policy)
    sla: SlaTargets = attrs.field(factory=SlaTargets, validator=_check_sla)
    selection: str = attrs.field(default="longest_idle", validator=_check_selection)
    dispatcher_options: Mapping[str, Any] = attrs.field(factory=dict, converter=_to_options, hash=False)
    description: str = attrs.field(default="", validator=_check_description)
    source: str = attrs.field(default="<python>", eq=False)
    criteria: Criteria = attrs.field(factory=Criteria, validator=_check_criteria)
    analytics: AnalyticsOptions | None = attrs.field(default=None, validator=_check_analytics)

    @classmethod
    def from_policy(
        cls,
        policy: Policy,
        *,
        name: str = "policy",
        sla: SlaTargets | None = None,
        selection: str = "longest_idle",
        dispatcher_options: Mapping[str, Any] | None = None,
        description: str = "",
        criteria: Criteria | None = None,
        analytics: AnalyticsOptions | None = None,
    ) -> PolicyFile:
        """Wrap a hand-built :class:`~triage_queue.Policy` (for the simulator
        or :meth:`to_toml`).  Invalid options raise :class:`InvalidPolicy`.

        Runtime complexity: O(number of options).

        >>> from triage_queue import Policy
        >>> PolicyFile.from_policy(Policy.default(), selection="fastest")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidPolicy: dispatcher.selection='fastest': expected one of least_loaded, longest_idle, ...
        """
        return cls(
            name,
            policy,
            sla if sla is not None else SlaTargets(),
            selection,
            dispatcher_options or {},
            description,
            criteria=criteria if criteria is not None else Criteria(),
            analytics=analytics,
        )

    def __attrs_post_init__(self) -> None:
        known = _known_tiers(self.policy.rules)
        for tier in self.sla.by_tier:
            if known and tier not in known:
                # The name is what is wrong (the target was converted to seconds already).
                raise InvalidPolicy("sla.tier", tier, _unknown_tier(tier, known))
        _check_criteria_tiers(self.criteria, known)

    def sla_target(self, ticket: Ticket) -> float | None:
        """The ticket's first-response target in seconds (see
        :meth:`SlaTargets.target_for`), or None.  Runtime complexity: O(1)."""
        return self.sla.target_for(ticket)

    def with_sla(self, ticket: Ticket) -> Ticket:
        """The ticket with ``sla_due = created_at + target`` if it has no
        ``sla_due`` yet and a target applies; otherwise the ticket itself.

        Runtime complexity: O(1) (O(fields) when it changes).

        >>> from triage_queue import Policy, Ticket
        >>> pf = PolicyFile.from_policy(Policy.default(), sla=SlaTargets(by_tier={"gold": 600}))
        >>> pf.with_sla(Ticket("g", 50.0, customer_tier="gold")).sla_due, pf.with_sla(Ticket("s", 50.0)).sla_due
        (650.0, None)
        """
        if ticket.sla_due is not None:
            return ticket
        target = self.sla.target_for(ticket)
        if target is None:
            return ticket
        return ticket.evolve(sla_due=ticket.created_at + target)

    def selection_strategy(self) -> Selection:
        """A new instance of the named selection strategy.  Runtime complexity: O(1).

        >>> from triage_queue import Policy
        >>> PolicyFile.from_policy(Policy.default(), selection="round_robin").selection_strategy()
        RoundRobin()
        """
        return SELECTIONS[self.selection]()

    def build(self, clock: Clock = time.time, agents: Iterable[Agent] = (), **options: Any) -> Dispatcher:
        """A :class:`~triage_queue.Dispatcher` over a new
        :class:`~triage_queue.TicketQueue` with this policy, clock, selection
        strategy, dispatcher options and ``[analytics]`` options.

        ``options`` are any other :class:`~triage_queue.Dispatcher` keyword
        arguments (``classify``, ``audit``, ``name``,
        ``stats``, ``advance_on_read``, ``on_listener_error``,
        ``refuse_unroutable``, ``finished_memory``...), and they override the
        file's own settings (``offer_timeout=None``, ``overflow=()``,
        ``analytics=None``...); ``selection`` may be a
        :class:`~triage_queue.Selection` or a name from :data:`SELECTIONS`.
        An unknown name raises :class:`~triage_queue.errors.InvalidArgument`
        naming it; the Dispatcher checks the values.

        The SLA targets are not applied by the dispatcher: stamp each ticket
        with :meth:`with_sla` as you submit it, ``d.submit(pf.with_sla(t))``
        (a ticket that already has an ``sla_due`` keeps it).

        Runtime complexity: O(A log A) for A agents.

        >>> from triage_queue import Agent, ManualClock, Ticket
        >>> pf = parse_policy('[[rules]]\\nkind = "emergency"\\n[sla]\\ndefault = "1h"\\n[dispatcher]\\noffer_timeout = "none"')
        >>> d = pf.build(ManualClock(), [Agent("ana")], name="desk-a", audit=0, offer_timeout=60)
        >>> d.submit(pf.with_sla(Ticket("T-1", 0.0))).ticket.sla_due
        3600.0
        >>> pf.build(ManualClock(), classfy=str)
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidArgument: classfy=<class 'str'>: not a Dispatcher option; did you mean 'classify'?
        """
        merged: dict[str, Any] = dict(self.dispatcher_options)
        if self.analytics is not None:
            merged["analytics"] = self.analytics
        for key, value in options.items():
            if key not in _BUILD_OPTIONS:
                raise InvalidArgument(key, value, "not a Dispatcher option" + _did_you_mean(key, _BUILD_OPTIONS))
        merged.update(options)
        selection = merged.pop("selection", self.selection)
        if isinstance(selection, str):
            if selection not in SELECTIONS:
                raise InvalidArgument("selection", selection, _expected_one_of(selection, SELECTIONS))
            selection = SELECTIONS[selection]()
        return Dispatcher(TicketQueue(self.policy, clock=clock), agents, selection=selection, **merged)

    def to_toml(self) -> str:
        """This policy file as TOML text that :func:`parse_policy` reads back
        into an equal value.  Rules other than the built-in kinds must be
        module-level objects (written as ``kind = "python"``); anything else
        raises :class:`InvalidPolicy`.

        Runtime complexity: O(size of the policy).

        >>> from triage_queue import Policy
        >>> pf = PolicyFile.from_policy(Policy.default(max_wait=1800), name="default")
        >>> print(pf.to_toml())  # doctest: +ELLIPSIS
        name = "default"
        composition = "lexicographic"
        max_wait = "30m"
        <BLANKLINE>
        [tiers]
        standard = 0
        ...
        >>> parse_policy(pf.to_toml()) == pf
        True
        """
        return _write(self)


# -- reading ---------------------------------------------------------------

_TOP_KEYS: Final = (
    "name", "description", "composition", "max_wait", "tiers", "rules", "sla", "dispatcher", "criteria", "analytics",
)  # fmt: skip
_SLA_KEYS: Final = ("default", "tier", "severity")
_KIND_KEYS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "emergency": ("threshold",),
        "vip": ("tiers", "default_rank"),
        "complexity": ("prefer",),
        "feedback_order": ("follow_up_bonus",),
        "aging": ("rate",),
        "sla_deadline": ("default_target",),
        "python": ("object", "args"),
    }
)
_COMMON_RULE_KEYS: Final = ("kind", "name", "weight")


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _expected_one_of(value: Any, known: Iterable[str]) -> str:
    names = sorted(known)
    hint = _did_you_mean(value, names) if isinstance(value, str) else ""
    return "expected one of " + ", ".join(names) + hint


class _Reader:
    """Takes keys out of one TOML table, and rejects whatever is left."""

    def __init__(self, table: Any, path: str, known: Iterable[str]) -> None:
        if not isinstance(table, dict):
            raise InvalidPolicy(path or "policy", table, f"expected a table, not {_type_name(table)}")
        self.table = dict(table)
        self.path = path
        self.known = tuple(known)

    def field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.table

    def take(self, key: str, default: Any = None) -> Any:
        return self.table.pop(key, default)

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.table.pop(key, default)
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidPolicy(self.field(key), value, f"expected a non-empty string, not {_type_name(value)}")
        return value

    def number(self, key: str) -> float | None:
        value = self.table.pop(key, None)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            raise InvalidPolicy(self.field(key), value, f"expected a finite number, not {_type_name(value)}")
        return value

    def duration(self, key: str) -> float | None:
        value = self.table.pop(key, None)
        return None if value is None else parse_duration(value, self.field(key))

    def done(self) -> None:
        for key, value in self.table.items():
            raise InvalidPolicy(self.field(key), value, "unknown key" + _did_you_mean(key, self.known))


def _ranks(value: Any, path: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise InvalidPolicy(path, value, f"expected a table of tier name = rank, not {_type_name(value)}")
    ranks: dict[str, float] = {}
    for tier, rank in value.items():
        if not tier:
            raise InvalidPolicy(path, tier, "a tier name must be non-empty")
        if isinstance(rank, bool) or not isinstance(rank, int | float) or not _finite(rank):
            raise InvalidPolicy(f"{path}.{tier}", rank, f"expected a finite number (the tier's rank), not {_type_name(rank)}")
        ranks[tier] = rank
    return ranks


def _reword(field: str, value: Any, call: Callable[[], Rule]) -> Rule:
    """Build a rule, naming the file's key path in any error."""
    try:
        return call()
    except InvalidValue as exc:
        raise InvalidPolicy(field, value, exc.reason) from None


def _read_rule(
    entry: Any, index: int, tiers: Mapping[str, float] | None, weighted: bool, *, source: str, allow_code: bool
) -> tuple[Rule, float | None]:
    path = f"rules[{index}]"
    if not isinstance(entry, dict):
        raise InvalidPolicy(path, entry, f"expected a table ([[rules]]), not {_type_name(entry)}")
    kind = entry.get("kind")
    if kind is None:
        raise InvalidPolicy(f"{path}.kind", None, "every rule needs a kind: " + ", ".join(_KIND_KEYS))
    if not isinstance(kind, str) or kind not in _KIND_KEYS:
        raise InvalidPolicy(f"{path}.kind", kind, _expected_one_of(kind, _KIND_KEYS))
    reader = _Reader(entry, path, _COMMON_RULE_KEYS + _KIND_KEYS[kind])
    reader.take("kind")
    weight = reader.number("weight")
    if weighted and weight is None:
        raise InvalidPolicy(reader.field("weight"), None, "a weighted policy needs a weight for every rule")
    if not weighted and weight is not None:
        raise InvalidPolicy(reader.field("weight"), weight, 'only a weighted policy takes weights (composition = "weighted")')
    name = reader.text("name")
    built: Rule
    if kind == "emergency":
        threshold = reader.take("threshold", Severity.CRITICAL)
        built = _reword(reader.field("threshold"), threshold, lambda: Emergency(threshold))
    elif kind == "vip":
        own = reader.take("tiers")
        ranks = _ranks(own, reader.field("tiers")) if own is not None else (dict(tiers) if tiers is not None else None)
        default_rank = reader.number("default_rank")
        built = Vip(ranks, default_rank) if ranks is not None else Vip(default_rank=default_rank)
    elif kind == "complexity":
        prefer = reader.take("prefer", "complex")
        built = _reword(reader.field("prefer"), prefer, lambda: Complexity(prefer))
    elif kind == "feedback_order":
        built = FeedbackOrder(reader.duration("follow_up_bonus") or 0.0)
    elif kind == "aging":
        rate = reader.number("rate")
        built = _reword(reader.field("rate"), rate, lambda: Aging(1.0 if rate is None else rate))
    elif kind == "sla_deadline":
        target = reader.duration("default_target")
        if weighted and target is None:
            raise InvalidPolicy(
                reader.field("default_target"),
                None,
                "a weighted policy needs finite scores: set default_target for tickets without sla_due",
            )
        built = SlaDeadline(target)
    else:
        built = _python_rule(reader, source, allow_code)
    if name is not None:
        if kind == "python":
            raise InvalidPolicy(reader.field("name"), name, "a python rule is named by its own code")
        built = attrs.evolve(built, name=name)  # type: ignore[misc]
    reader.done()
    return built, weight


_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def _python_rule(reader: _Reader, source: str, allow_code: bool) -> Rule:
    spec = reader.text("object")
    field = reader.field("object")
    if not allow_code:
        _log.warning("%s: %s: refused a python rule (object = %r): code is not allowed", source, reader.path, spec)
        raise InvalidPolicy(
            reader.field("kind"),
            "python",
            f"this rule would import and run code ({spec!r}); policy files may not run code unless allowed: "
            "pass allow_code=True (or --allow-code on the command line) to import and run it",
        )
    if spec is None:
        raise InvalidPolicy(field, None, 'a python rule needs object = "package.module:name"')
    module_name, _, attribute = spec.partition(":")
    if not _DOTTED.fullmatch(module_name) or not _DOTTED.fullmatch(attribute):
        raise InvalidPolicy(field, _short(spec), 'expected "package.module:name" (dotted Python names, no relative import)')
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except Exception as exc:  # the module's own code may raise anything while it is imported
        raise InvalidPolicy(field, spec, f"cannot import it: {type(exc).__name__}: {exc}") from None
    args = reader.take("args")
    if args is not None and not isinstance(args, dict):
        raise InvalidPolicy(reader.field("args"), args, f"expected a table of keyword arguments, not {_type_name(args)}")
    if isinstance(target, Rule) and not isinstance(target, type):
        if args is not None:
            raise InvalidPolicy(reader.field("args"), args, "the object is already a rule; args are for a rule class or factory")
        return target
    if not callable(target):
        raise InvalidPolicy(field, spec, "expected a rule, or a rule class or factory")
    try:
        made = target(**(args or {}))
    except InvalidValue as exc:
        raise InvalidPolicy(f"{reader.field('args')}.{exc.field}", exc.value, exc.reason) from None
    except TypeError as exc:
        raise InvalidPolicy(reader.field("args"), args, f"calling {spec} failed: {exc}") from None
    except Exception as exc:  # the factory is the user's own code
        raise InvalidPolicy(reader.field("args"), args, f"calling {spec} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(made, Rule) or isinstance(made, type):
        raise InvalidPolicy(field, spec, f"calling it returned {made!r}, not a rule")
    return made


def _read_sla(value: Any, known_tiers: set[str]) -> SlaTargets:
    reader = _Reader(value, "sla", _SLA_KEYS)
    default = reader.duration("default")
    tier_table = reader.take("tier", {})
    if not isinstance(tier_table, dict):
        raise InvalidPolicy("sla.tier", tier_table, f"expected a table of tier name = duration, not {_type_name(tier_table)}")
    by_tier: dict[str, float] = {}
    for tier, seconds in tier_table.items():
        field = f"sla.tier.{tier}"
        if known_tiers and tier not in known_tiers:
            raise InvalidPolicy(field, seconds, _unknown_tier(tier, known_tiers))
        by_tier[tier] = parse_duration(seconds, field)
    severity_table = reader.take("severity", {})
    if not isinstance(severity_table, dict):
        raise InvalidPolicy(
            "sla.severity", severity_table, f"expected a table of severity = duration, not {_type_name(severity_table)}"
        )
    by_severity: dict[Severity, float] = {}
    for key, seconds in severity_table.items():
        field = f"sla.severity.{key}"
        severity = Severity.__members__.get(key.upper()) if key == key.lower() else None
        if severity is None:
            names = [s.name.lower() for s in Severity]
            hint = _did_you_mean(key, names)
            raise InvalidPolicy(field, seconds, "unknown severity; expected low, normal, high or critical" + hint)
        by_severity[severity] = parse_duration(seconds, field)
    reader.done()
    return SlaTargets(default, by_tier, by_severity)


def _read(data: dict[str, Any], source: str, fallback_name: str, allow_code: bool = False) -> PolicyFile:
    reader = _Reader(data, "", _TOP_KEYS)
    name = reader.text("name", fallback_name) or fallback_name
    description = reader.take("description", "")
    if not isinstance(description, str):
        raise InvalidPolicy("description", description, f"expected a string, not {_type_name(description)}")
    composition_name = reader.take("composition", Composition.LEXICOGRAPHIC.value)
    if not isinstance(composition_name, str) or composition_name not in {c.value for c in Composition}:
        raise InvalidPolicy("composition", composition_name, _expected_one_of(composition_name, [c.value for c in Composition]))
    weighted = composition_name == Composition.WEIGHTED.value
    max_wait = reader.duration("max_wait")
    tiers_value = reader.take("tiers")
    tiers = _ranks(tiers_value, "tiers") if tiers_value is not None else None

    entries = reader.take("rules")
    if entries is None:
        raise InvalidPolicy("rules", None, "a policy needs at least one [[rules]] table")
    if not isinstance(entries, list) or not entries:
        raise InvalidPolicy("rules", entries, "expected a non-empty array of tables ([[rules]])")
    rules: list[Rule] = []
    weights: list[float] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        built, weight = _read_rule(entry, index, tiers, weighted, source=source, allow_code=allow_code)
        if built.name in seen:
            raise InvalidPolicy(
                f"rules[{index}].name",
                built.name,
                f"rules[{seen[built.name]}] already has this name; give one of them another name",
            )
        seen[built.name] = index
        rules.append(built)
        if weight is not None:
            weights.append(weight)
    if tiers_value is not None and not any(isinstance(entry, dict) and entry.get("kind") == "vip" and "tiers" not in entry
                                           for entry in entries):
        # Left in, the table would look like it ranks (and declares) tiers
        # for the rules and [sla.tier]; it does neither.
        raise InvalidPolicy(
            "tiers", tiers_value, "no vip rule uses this table (each has its own tiers, or there is none): remove it"
        )

    sla = _read_sla(reader.take("sla", {}), _known_tiers(rules))
    options = reader.take("dispatcher", {})
    dispatcher = _Reader(options, "dispatcher", ("selection", *_OPTION_DEFAULTS))
    selection = dispatcher.take("selection", "longest_idle")
    if not isinstance(selection, str):
        raise InvalidPolicy("dispatcher.selection", selection, f"expected a string, not {_type_name(selection)}")
    criteria = _read_criteria(reader.take("criteria", {}), _known_tiers(rules))
    analytics = _read_analytics(reader.take("analytics"))
    reader.done()
    policy = Policy(rules, weights if weighted else None, max_wait=max_wait)
    return PolicyFile(name, policy, sla, selection, dispatcher.table, description, source, criteria, analytics)


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str, source: str) -> InvalidPolicy:
    message = str(exc)
    lines = text.splitlines()
    found = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if found is None:
        found = re.search(r"\(at end of document\)", message)
        if found is None:
            return InvalidPolicy("toml", source, f"not valid TOML: {message}")
        line, column = max(len(lines), 1), len(lines[-1]) + 1 if lines else 1
    else:
        line, column = int(found.group(1)), int(found.group(2))
    line_text = lines[line - 1] if 0 < line <= len(lines) else ""
    problem = message[: found.start()].strip()
    return InvalidPolicy("toml", line_text, f"{source}, line {line}, column {column}: {problem}")


def _toml(text: str, source: str, error: Callable[[str, Any, str], Exception], syntax_prefix: str = "") -> dict[str, Any]:
    """Parse TOML ``text`` within the bounds: at most :data:`MAX_POLICY_BYTES`
    characters, arrays and tables nested at most :data:`MAX_NESTING` deep.
    Every failure raises ``error(field, value, reason)``; a TOML syntax error
    names the line and column.  Shared with staff files.  O(size of the text)."""
    if len(text) > MAX_POLICY_BYTES:
        raise error("toml", source, f"too large: {len(text)} characters, at most {MAX_POLICY_BYTES} (MAX_POLICY_BYTES)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        syntax = _syntax_error(exc, text, source)
        raise error(syntax.field, syntax.value, syntax_prefix + syntax.reason) from None
    except RecursionError:
        raise error("toml", source, f"arrays or tables nested too deeply (at most {MAX_NESTING})") from None
    except ValueError as exc:
        # tomllib lets int() fail on more than sys.get_int_max_str_digits() digits.
        raise error("toml", source, f"not valid TOML: {str(exc).split(';')[0]}") from None
    if _depth(data) > MAX_NESTING:
        raise error("toml", source, f"arrays or tables nested too deeply (at most {MAX_NESTING})")
    return data


def parse_policy(text: str, *, source: str = "<string>", allow_code: bool = False) -> PolicyFile:
    """Read a policy from TOML text (format in ``docs/policies.md``);
    ``source`` names it in errors.  Every mistake raises
    :class:`InvalidPolicy` naming the key path.

    A ``kind = "python"`` rule imports and runs the code it names, so it is
    refused (and logged as a warning on the ``triage_queue.config`` logger)
    unless ``allow_code`` is true.  Text longer than :data:`MAX_POLICY_BYTES`
    characters, nested deeper than :data:`MAX_NESTING` or with a duration
    over :data:`MAX_DURATION` is refused.

    Runtime complexity: O(size of the text).

    >>> parse_policy('[[rules]]\\nkind = "emergency"\\nthreshhold = "high"')
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidPolicy: rules[0].threshhold='high': unknown key; did you mean 'threshold'?
    >>> parse_policy('name = "x"\\nmax_wait = 1h', source="p.toml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidPolicy: toml='max_wait = 1h': p.toml, line 2, column 13: Expected newline or end of ...
    >>> parse_policy('[[rules]]\\nkind = "python"\\nobject = "mypkg.rules:big_account"')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidPolicy: rules[0].kind='python': ... pass allow_code=True (or --allow-code on the command line) ...
    """
    if not isinstance(text, str):
        raise InvalidPolicy("text", _short(text), f"expected TOML text as a str, not {type(text).__name__}")
    _check_flag(allow_code)
    text = text.removeprefix("\ufeff")  # a byte order mark left by open(..., encoding="utf-8")
    data = _toml(text, source, InvalidPolicy)
    return _checked(lambda: _read(data, source, "policy", allow_code))


def _checked(read: Callable[[], PolicyFile]) -> PolicyFile:
    """``read()``, its error's value shortened so the message stays one short line."""
    try:
        return read()
    except InvalidPolicy as exc:
        short = _short(exc.value)
        if short is exc.value:
            raise
        raise InvalidPolicy(exc.field, short, exc.reason) from None


def _check_flag(allow_code: Any) -> None:
    if not isinstance(allow_code, bool):
        raise InvalidPolicy("allow_code", _short(allow_code), "expected True or False")


def _read_file(path: Any, error: Callable[[str, Any, str], Exception], limit: int) -> tuple[str, str]:
    """The source name and UTF-8 text (a byte order mark dropped) of the file
    at ``path``, at most ``limit`` bytes; every failure raises
    ``error("path", ...)``.  Shared with staff files and traces.  O(limit)."""
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise error("path", _short(path), f"expected a file path (str or os.PathLike), not {type(path).__name__}")
    source = os.fspath(path)
    if not isinstance(source, str):
        raise error("path", _short(source), "expected a str path, not bytes")
    try:
        with open(source, "rb") as stream:
            raw = stream.read(limit + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise error("path", source, f"cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    if len(raw) > limit:
        raise error("path", source, f"too large: more than {limit} bytes")
    try:
        # Windows editors often save UTF-8 with a byte order mark, which TOML forbids.
        return source, raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error("path", source, f"not UTF-8 text: {exc}") from None


def load_policy(path: str | os.PathLike[str], *, allow_code: bool = False) -> PolicyFile:
    """Read a policy TOML file (format in ``docs/policies.md``).  The name
    defaults to the file's stem.  A missing or unreadable file, one over
    :data:`MAX_POLICY_BYTES` bytes, bad TOML or a bad key raises
    :class:`InvalidPolicy`; so does a ``kind = "python"`` rule unless
    ``allow_code`` is true (see :func:`parse_policy`).

    Runtime complexity: O(size of the file).

    >>> load_policy("no/such/policy.toml")
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidPolicy: path='no/such/policy.toml': cannot read it: No such file or directory
    >>> load_policy(5)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidPolicy: path=5: expected a file path (str or os.PathLike), not int
    """
    _check_flag(allow_code)
    source, text = _read_file(path, InvalidPolicy, MAX_POLICY_BYTES)
    data = _toml(text, source, InvalidPolicy)
    return _checked(lambda: _read(data, source, Path(source).stem or "policy", allow_code))


# -- writing ---------------------------------------------------------------

_BUILTIN_RULES: Final = frozenset({Emergency, Vip, Complexity, FeedbackOrder, Aging, SlaDeadline})
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _string(text: str) -> str:
    # TOML basic strings allow no control characters (DEL included) unescaped.
    out = ['"']
    for char in text:
        code = ord(char)
        if char in {'"', "\\"}:
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _string(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")  # pragma: no cover - callers pass plain values


def _duration(seconds: float) -> str:
    return _value(format_duration(seconds))


def _rule_lines(r: Rule, index: int, shared_tiers: Mapping[str, float] | None) -> list[str]:
    builtin = type(r) in _BUILTIN_RULES
    lines: list[str] = []
    if builtin and isinstance(r, Emergency):
        lines.append('kind = "emergency"')
        if r.threshold is not Severity.CRITICAL:
            lines.append(f"threshold = {_value(r.threshold.name.lower())}")
        default_name = "emergency"
    elif builtin and isinstance(r, Vip):
        lines.append('kind = "vip"')
        if dict(r.tiers) != dict(shared_tiers or {}):
            lines.append(f"tiers = {_value(dict(r.tiers))}")
        if r.default_rank is not None:
            lines.append(f"default_rank = {_value(r.default_rank)}")
        default_name = "vip"
    elif builtin and isinstance(r, Complexity):
        lines.append('kind = "complexity"')
        lines.append(f"prefer = {_value(r.prefer.value)}")
        default_name = "complexity"
    elif builtin and isinstance(r, FeedbackOrder):
        lines.append('kind = "feedback_order"')
        if r.follow_up_bonus:
            lines.append(f"follow_up_bonus = {_duration(r.follow_up_bonus)}")
        default_name = "feedback_order"
    elif builtin and isinstance(r, Aging):
        lines.append('kind = "aging"')
        lines.append(f"rate = {_value(float(r.rate))}")
        default_name = "aging"
    elif builtin and isinstance(r, SlaDeadline):
        lines.append('kind = "sla_deadline"')
        if r.default_target is not None:
            lines.append(f"default_target = {_duration(r.default_target)}")
        default_name = "sla_deadline"
    else:
        # A rule made by @rule replaces its function in the module under the
        # function's name, so the function says where to import it from.
        origin = r if hasattr(r, "__qualname__") else getattr(r, "function", None)
        module = getattr(origin, "__module__", None)
        qualname = getattr(origin, "__qualname__", None)
        found: Any = None
        if module and qualname:
            try:
                found = importlib.import_module(module)
                for part in qualname.split("."):
                    found = getattr(found, part)
            except (ImportError, AttributeError):
                found = None
        if found is not r:
            raise InvalidPolicy(
                f"rules[{index}]", r, "cannot be written to TOML: not a built-in rule kind nor a module-level rule object"
            )
        return ['kind = "python"', f"object = {_value(f'{module}:{qualname}')}"]
    if r.name != default_name:
        lines.insert(1, f"name = {_value(r.name)}")
    return lines


def _write(pf: PolicyFile) -> str:
    policy = pf.policy
    out = [f"name = {_value(pf.name)}"]
    if pf.description:
        out.append(f"description = {_value(pf.description)}")
    out.append(f"composition = {_value(policy.composition.value)}")
    if policy.max_wait is not None:
        out.append(f"max_wait = {_duration(policy.max_wait)}")
    shared = next((r.tiers for r in policy.rules if type(r) is Vip), None)
    if shared is not None:
        out += ["", "[tiers]"] + [f"{_key(t)} = {_value(rank)}" for t, rank in shared.items()]
    weights = policy.weights
    for index, r in enumerate(policy.rules):
        out += ["", "[[rules]]"] + _rule_lines(r, index, shared)
        if weights is not None:
            out.append(f"weight = {_value(float(weights[index]))}")
    sla = pf.sla
    if sla:
        out += ["", "[sla]"]
        if sla.default is not None:
            out.append(f"default = {_duration(sla.default)}")
        if sla.by_tier:
            out += ["", "[sla.tier]"] + [f"{_key(t)} = {_duration(s)}" for t, s in sla.by_tier.items()]
        if sla.by_severity:
            out += ["", "[sla.severity]"] + [f"{s.name.lower()} = {_duration(v)}" for s, v in sla.by_severity.items()]
    out += ["", "[dispatcher]", f"selection = {_value(pf.selection)}"]
    tables: list[str] = []
    for key, value in pf.dispatcher_options.items():
        if key == "overflow":
            tables += _overflow_lines(value)
        elif key == "strain":
            tables += _strain_lines(value)
        elif value is None:
            out.append(f'{key} = "{_NONE}"')
        elif isinstance(value, bool):
            out.append(f"{key} = {_value(value)}")
        else:
            out.append(f"{key} = {_duration(value)}")
    out += tables
    out += _criteria_lines(pf.criteria)
    out += _analytics_lines(pf.analytics)
    return "\n".join(out) + "\n"

