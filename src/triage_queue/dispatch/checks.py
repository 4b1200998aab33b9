"""Argument checks shared by the dispatcher's facade and parts: each raises
the library's error naming the parameter, before anything changes.

>>> check_key("ticket_id", "T-1")
'T-1'
>>> check_seconds("offer_timeout", 0, allow_none=True, positive=True)
Traceback (most recent call last):
...
triage_queue.errors.InvalidArgument: offer_timeout=0: expected a finite number of seconds > 0, or None
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from triage_queue.dispatch.overflow import Overflow, OverflowRule
from triage_queue.dispatch.strain import StrainGuard
from triage_queue.errors import InvalidArgument, InvalidKey

__all__ = ["check_key", "check_overflow", "check_seconds", "check_strain"]


def check_key(field: str, value: Any) -> Any:
    """Return ``value``, an id to look up: any str, or else anything
    hashable (it is then simply unknown); an unhashable one raises
    :class:`InvalidKey` naming ``field`` rather than a bare TypeError.
    Runtime complexity: O(1)."""
    if value.__class__ is not str:
        try:
            hash(value)
        except Exception as exc:
            raise InvalidKey(field, value, f"cannot be looked up: {exc}") from None
    return value


def check_seconds(field: str, value: Any, *, allow_none: bool, positive: bool) -> None:
    """Raise :class:`InvalidArgument` naming ``field`` unless ``value`` is a
    finite number of seconds (> 0 if ``positive``; or None if ``allow_none``).
    Runtime complexity: O(1)."""
    if value is None and allow_none:
        return
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if not bad:
        try:
            bad = not math.isfinite(value)
        except OverflowError:  # an int too large for a float
            bad = True
    if bad or value < 0 or (positive and value == 0):
        expected = "a finite number of seconds " + ("> 0" if positive else ">= 0") + (", or None" if allow_none else "")
        raise InvalidArgument(field, value, f"expected {expected}")


def check_overflow(value: Any, *, stats: bool) -> tuple[OverflowRule, ...]:
    """The ``overflow`` setting as a tuple of rules: None (no rules), an
    :class:`OverflowRule` or an iterable of them, one per skill; rules need
    ``stats`` (they judge the live figures).  Raises :class:`InvalidArgument`
    naming ``overflow`` or the bad rule.  Runtime complexity: O(rules).

    >>> check_overflow(OverflowRule("billing", {"general": 2}, waiting_above=20), stats=True)[0].skill
    'billing'
    """
    if value is None:
        return ()
    if isinstance(value, OverflowRule):
        rules: tuple[OverflowRule, ...] = (value,)
    elif isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidArgument("overflow", value, "expected an OverflowRule or a sequence of them, or None")
    else:
        rules = tuple(value)
        Overflow(rules, lambda *args, **kwargs: None)  # raises naming a bad rule or a skill ruled twice
    if rules and not stats:
        raise InvalidArgument("overflow", value, "overflow rules judge the live figures: they need stats=True")
    return rules


def check_strain(value: Any) -> None:
    """Raise :class:`InvalidArgument` naming ``strain`` unless it is a
    :class:`StrainGuard` or None.  Runtime complexity: O(1).

    >>> check_strain(None)
    """
    if value is not None and not isinstance(value, StrainGuard):
        raise InvalidArgument("strain", value, "expected a triage_queue.StrainGuard, or None")
