"""Reading plain data that comes from outside (a snapshot file, a log
entry): every value is checked for its type and range before use, and
anything wrong raises :class:`~triage_queue.errors.InvalidArgument` whose
field is the value's path in the data (``snapshot.offers.pending[3].id``),
in time bounded by the size of the data.

Internal plumbing for :meth:`Dispatcher.snapshot` and
:meth:`Dispatcher.restore` and the parts they ask; not part of the public
API.

>>> r = Reader({"n": 3, "xs": [1.5, "inf"]}, "snapshot")
>>> r.integer("n"), r.child("xs").reals()
(3, [1.5, inf])
>>> r.string("name")
Traceback (most recent call last):
...
triage_queue.errors.InvalidArgument: snapshot.name=<missing>: missing
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from triage_queue.errors import InvalidArgument

__all__ = ["Reader", "number", "read_number"]

_MAX_INT = 2**63


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def number(value: float) -> float | str:
    """A float for strict JSON: the infinities as ``"inf"``/``"-inf"``.
    Runtime complexity: O(1).

    >>> number(2.0), number(float("-inf"))
    (2.0, '-inf')
    """
    if value == math.inf:
        return "inf"
    if value == -math.inf:
        return "-inf"
    return value


def read_number(value: Any, path: str, *, allow_none: bool = False) -> Any:
    """What :func:`number` gave, read back as a float (not NaN), or
    InvalidArgument naming ``path``.  Runtime complexity: O(1)."""
    if value is None and allow_none:
        return None
    if value == "inf":
        return math.inf
    if value == "-inf":
        return -math.inf
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidArgument(path, value, "expected a number (or 'inf', '-inf')")
    if isinstance(value, int) and not -_MAX_INT <= value <= _MAX_INT:
        raise InvalidArgument(path, value, "expected a number of at most 64 bits")
    return float(value)


class Reader:
    """A view of one mapping or list of untrusted data, with its path."""

    __slots__ = ("data", "path")

    def __init__(self, data: Any, path: str) -> None:
        """Runtime complexity: O(1)."""
        self.data = data
        self.path = path

    def _at(self, key: str | int) -> str:
        return f"{self.path}[{key}]" if isinstance(key, int) else f"{self.path}.{key}"

    def raw(self, key: str, default: Any = MISSING) -> Any:
        """The value under ``key`` (this must be a mapping).  Runtime complexity: O(1)."""
        if not isinstance(self.data, Mapping):
            raise InvalidArgument(self.path, self.data, "expected a mapping")
        value = self.data.get(key, default)
        if value is MISSING:
            raise InvalidArgument(self._at(key), MISSING, "missing")
        return value

    def child(self, key: str | int) -> Reader:
        """A reader of the value under ``key``.  Runtime complexity: O(1)."""
        if isinstance(key, int):
            return Reader(self.data[key], self._at(key))
        return Reader(self.raw(key), self._at(key))

    def string(self, key: str, *, allow_none: bool = False) -> Any:
        """Runtime complexity: O(1)."""
        value = self.raw(key, None if allow_none else MISSING)
        if value is None and allow_none:
            return None
        if not isinstance(value, str):
            raise InvalidArgument(self._at(key), value, "expected a string")
        return value

    def integer(self, key: str, *, low: int = 0, high: int = _MAX_INT) -> int:
        """Runtime complexity: O(1)."""
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidArgument(self._at(key), value, f"expected an int from {low} to {high}")
        return value

    def flag(self, key: str) -> bool:
        """Runtime complexity: O(1)."""
        value = self.raw(key)
        if not isinstance(value, bool):
            raise InvalidArgument(self._at(key), value, "expected true or false")
        return value

    def real(self, key: str, *, allow_none: bool = False) -> Any:
        """A number (``"inf"``/``"-inf"`` allowed), or None if allowed.
        Runtime complexity: O(1)."""
        return read_number(self.raw(key, None if allow_none else MISSING), self._at(key), allow_none=allow_none)

    def seq(self, key: str) -> Reader:
        """A reader of the list under ``key``.  Runtime complexity: O(1)."""
        value = self.raw(key)
        if not isinstance(value, list):
            raise InvalidArgument(self._at(key), value, "expected a list")
        return Reader(value, self._at(key))

    def table(self, key: str) -> Reader:
        """A reader of the mapping under ``key``.  Runtime complexity: O(1)."""
        value = self.raw(key)
        if not isinstance(value, Mapping):
            raise InvalidArgument(self._at(key), value, "expected a mapping")
        return Reader(value, self._at(key))

    def items(self) -> Iterator[Reader]:
        """Readers of the items of this list.  Runtime complexity: O(1) each."""
        if not isinstance(self.data, list):
            raise InvalidArgument(self.path, self.data, "expected a list")
        for i in range(len(self.data)):
            yield Reader(self.data[i], self._at(i))

    def reals(self) -> list[float]:
        """This list as numbers.  Runtime complexity: O(length)."""
        return [read_number(r.data, r.path) for r in self.items()]

    def fields(self, *kinds: Any) -> tuple[Any, ...]:
        """This list as a tuple of values of the given kinds (``float`` reads
        numbers as :func:`read_number` does; ``type(None)`` allows None).
        Runtime complexity: O(length)."""
        if not isinstance(self.data, list) or len(self.data) != len(kinds):
            raise InvalidArgument(self.path, self.data, f"expected a list of {len(kinds)} values")
        out = []
        for i, (value, kind) in enumerate(zip(self.data, kinds, strict=True)):
            if kind is float:
                out.append(read_number(value, self._at(i)))
            elif kind is int and (isinstance(value, bool) or not isinstance(value, int) or abs(value) > _MAX_INT):
                raise InvalidArgument(self._at(i), value, "expected an int")
            elif kind is not int and not isinstance(value, kind):
                raise InvalidArgument(self._at(i), value, f"expected {getattr(kind, '__name__', kind)!s}")
            else:
                out.append(value)
        return tuple(out)
