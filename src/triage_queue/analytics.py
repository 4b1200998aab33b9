"""Analytics options: which ticket attribute names a ticket's category, when
tickets of one category count as a recurring issue, and how much trend
history a desk keeps (see ``docs/analytics.md``).

>>> options = AnalyticsOptions(category="topic", recurring_count=5, recurring_window=3600)
>>> options.describe_recurring()
'5 in 1h'
>>> AnalyticsOptions.from_dict(options.to_dict()) == options
True
>>> AnalyticsOptions(recurring_count=1)
Traceback (most recent call last):
...
triage_queue.errors.InvalidArgument: recurring_count=1: expected an int from 2 to 10000
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import attrs

from triage_queue.errors import InvalidArgument
from triage_queue.wire import Reader

__all__ = ["MAX_CATEGORIES", "MAX_TREND_HOURS", "NO_CATEGORY", "OTHER_CATEGORY", "AnalyticsOptions"]

MAX_CATEGORIES: Final = 10_000
"""The largest ``max_categories`` a desk accepts."""
MAX_TREND_HOURS: Final = 24 * 31
"""The largest ``trend_hours`` a desk accepts (a month of hours)."""
OTHER_CATEGORY: Final = "(other)"
"""The trend bucket of the categories beyond ``max_categories``."""
NO_CATEGORY: Final = "(none)"
"""The category of a ticket without the category attribute."""
_MAX_RECURRING = 10_000
_MAX_LABEL = 200


def _count(low: int, high: int) -> Any:
    def check(_: Any, attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidArgument(attribute.name, value, f"expected an int from {low} to {high}")

    return check


def _category(_: Any, __: Any, value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value or len(value) > _MAX_LABEL):
        raise InvalidArgument("category", value, f"expected a ticket attribute name (1 to {_MAX_LABEL} characters), or None")


def _window(_: Any, __: Any, value: Any) -> None:
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if not bad:
        try:
            bad = not math.isfinite(value) or value <= 0
        except OverflowError:
            bad = True
    if bad:
        raise InvalidArgument("recurring_window", value, "expected a finite number of seconds > 0")


@attrs.frozen(slots=True)
class AnalyticsOptions:
    """What a :class:`~triage_queue.Dispatcher` (option ``analytics``) counts
    beyond its statistics books.

    ``category``: the ticket attribute (``ticket.attributes[category]``)
    naming a ticket's category, or None: then trends are kept per ticket
    class (the dispatcher's ``classify``) and no recurring issue is
    detected.  ``recurring_count`` tickets of one category arriving within
    ``recurring_window`` seconds are a recurring issue: a ``recurring``
    event says so ("refund-delay: 5 in 1h") and
    :attr:`~triage_queue.Statistics.recurring` counts it; the count starts
    again after each detection.  ``trend_hours``: how many clock hours of
    arrivals and SLA attainment per category the desk keeps.
    ``max_categories``: how many categories get their own trend and
    recurring counter; the trends of further ones are summed under
    :data:`OTHER_CATEGORY`, and the recurring counter least recently
    arrived is forgotten to make room.

    Memory: O(max_categories · (trend_hours + recurring_count)), whatever
    the traffic.  Bad values raise :class:`~triage_queue.InvalidArgument`.

    Runtime complexity: construction O(1).
    """

    category: str | None = attrs.field(default=None, validator=_category)
    recurring_count: int = attrs.field(default=5, validator=_count(2, _MAX_RECURRING))
    recurring_window: float = attrs.field(default=3600.0, validator=_window)
    trend_hours: int = attrs.field(default=24, validator=_count(1, MAX_TREND_HOURS))
    max_categories: int = attrs.field(default=50, validator=_count(1, MAX_CATEGORIES))

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "recurring_window", float(self.recurring_window))

    def describe_recurring(self) -> str:
        """The recurring rule in words, as events word it ("5 in 1h").
        Runtime complexity: O(1).

        >>> AnalyticsOptions(recurring_count=3, recurring_window=90).describe_recurring()
        '3 in 1m30s'
        """
        return f"{self.recurring_count} in {duration_words(self.recurring_window)}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, in field order.  Runtime complexity: O(1).

        >>> AnalyticsOptions().to_dict()["trend_hours"]
        24
        """
        return {
            "category": self.category,
            "recurring_count": self.recurring_count,
            "recurring_window": self.recurring_window,
            "trend_hours": self.trend_hours,
            "max_categories": self.max_categories,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "analytics") -> AnalyticsOptions:
        """The options :meth:`to_dict` describes; anything wrong raises
        :class:`~triage_queue.InvalidArgument` naming the field.
        Runtime complexity: O(1).

        >>> AnalyticsOptions.from_dict({"category": "topic"}).category
        'topic'
        """
        r = Reader(data, path)
        if not isinstance(data, Mapping):
            raise InvalidArgument(path, data, "expected a mapping of analytics options")
        known = {"category", "recurring_count", "recurring_window", "trend_hours", "max_categories"}
        for key in data:
            if key not in known:
                expected = ", ".join(sorted(known))
                raise InvalidArgument(f"{path}.{key}", data[key], f"unknown analytics option: expected {expected}")
        default = cls()
        return cls(
            category=r.string("category", allow_none=True) if "category" in data else None,
            recurring_count=r.integer("recurring_count") if "recurring_count" in data else default.recurring_count,
            recurring_window=r.real("recurring_window") if "recurring_window" in data else default.recurring_window,
            trend_hours=r.integer("trend_hours") if "trend_hours" in data else default.trend_hours,
            max_categories=r.integer("max_categories") if "max_categories" in data else default.max_categories,
        )


def duration_words(seconds: float) -> str:
    """Seconds in words: ``3600`` is ``"1h"``, ``90`` is ``"1m30s"``.
    Runtime complexity: O(1).

    >>> duration_words(3600.0), duration_words(5400), duration_words(0.5)
    ('1h', '1h30m', '0.5s')
    """
    if seconds != int(seconds) or seconds < 1:
        return f"{seconds:g}s"
    rest = int(seconds)
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out
