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
from typing import Any

from triage_queue.errors import InvalidArgument, InvalidKey

__all__ = ["check_key", "check_seconds"]


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
