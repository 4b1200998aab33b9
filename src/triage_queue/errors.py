"""Exceptions raised by triage-queue.

Every exception the library raises on purpose derives from :class:`TriageError`,
so ``except TriageError`` catches all of them.  Each one also derives from the
built-in exception a Python programmer would expect (``KeyError`` for an
unknown key, ``ValueError`` for a bad value), so existing handlers keep working.

A call that raises leaves every structure exactly as it was before the call.

Messages stay short whatever the value: a value's repr is cut to about
200 characters (a 401-digit int, a megabyte string or a deeply nested list
costs bounded time and memory to report), and a repr that itself raises is
replaced by ``<type instance at 0x...>``.

>>> from triage_queue import UnknownTicket
>>> err = UnknownTicket("T-9")
>>> str(err)
"unknown ticket id 'T-9'"
>>> isinstance(err, KeyError)
True

Every error also travels as plain data (:meth:`TriageError.to_dict`,
:meth:`TriageError.from_dict`), so a refused command's error can be sent to
another process and raised there as the same class with the same message:

>>> TriageError.from_dict(err.to_dict())
UnknownTicket("unknown ticket id 'T-9'")
"""

from __future__ import annotations

import difflib
import math
import reprlib
import warnings
from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any, ClassVar, NoReturn, Self

__all__ = [
    "AgentBusy",
    "AlreadyFinished",
    "DuplicateAgent",
    "DuplicateKey",
    "DuplicateTicket",
    "Empty",
    "InvalidAgent",
    "InvalidArgument",
    "InvalidKey",
    "InvalidPolicy",
    "InvalidPriority",
    "InvalidTicket",
    "InvalidValue",
    "NotAssigned",
    "OfferClosed",
    "RuleError",
    "TriageError",
    "UnknownAgent",
    "UnknownKey",
    "UnknownOffer",
    "UnknownTicket",
    "Unroutable",
]


# Longest repr of a value in a message: the rest is elided with "...".
_MAX_REPR = 200
# Ints longer than this many bits are described, not printed: printing a
# huge int is quadratic (and refused beyond sys.get_int_max_str_digits()).
_MAX_INT_BITS = 2000


class _ShortRepr(reprlib.Repr):
    """reprlib with room for ordinary values, dicts kept in insertion order
    (as repr shows them), and huge ints described by their size."""

    def __init__(self) -> None:
        super().__init__()
        self.maxtuple = self.maxlist = self.maxset = self.maxfrozenset = self.maxdeque = 12
        self.maxdict = 12
        self.maxstring = self.maxlong = self.maxother = _MAX_REPR

    def repr_int(self, x: int, level: int) -> str:
        bits = x.bit_length()
        if bits > _MAX_INT_BITS:
            digits = int(bits * math.log10(2)) + 1
            return f"<{'negative ' if x < 0 else ''}int of about {digits} digits>"
        return super().repr_int(x, level)

    def repr_set(self, x: set[Any], level: int) -> str:
        # Unsorted (reprlib sorts the whole set): the first items, at once.
        return "set()" if not x else self._first_items(x, level, "{", "}")

    def repr_frozenset(self, x: frozenset[Any], level: int) -> str:
        return "frozenset()" if not x else self._first_items(x, level, "frozenset({", "})")

    def _first_items(self, x: set[Any] | frozenset[Any], level: int, left: str, right: str) -> str:
        if level <= 0:
            return left + self.fillvalue + right
        pieces = [self.repr1(item, level - 1) for item in islice(x, self.maxset)]
        if len(x) > self.maxset:
            pieces.append(self.fillvalue)
        return left + ", ".join(pieces) + right

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{" + self.fillvalue + "}"
        pieces = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}" for k, v in islice(x.items(), self.maxdict)]
        if len(x) > self.maxdict:
            pieces.append(self.fillvalue)
        return "{" + ", ".join(pieces) + "}"


_short_repr = _ShortRepr()


def _brief(value: Any) -> str:
    """``repr(value)`` cut to about 200 characters, in bounded time and
    memory for any value (huge ints, long strings, deep nesting, a
    ``__repr__`` that raises).  Library messages quote user values with it.

    Runtime complexity: O(1) for ints, strings, lists, tuples, sets and
    dicts (only their first items are shown); otherwise that of the value's
    own ``__repr__``, whose result is then cut.

    >>> len(_brief(10**400)), "..." in _brief(10**400)
    (200, True)
    >>> _brief(10**5000), _brief([[[[[[[[1]]]]]]]])
    ('<int of about 5001 digits>', '[[[[[[...]]]]]]')
    """
    try:
        text = _short_repr.repr(value)
    except Exception:  # a hostile __len__, __iter__, ... inside a container
        text = f"<{type(value).__name__} instance at {id(value):#x}>"
    if len(text) > _MAX_REPR + 3:
        text = text[: _MAX_REPR // 2] + "..." + text[-(_MAX_REPR // 2) :]
    return text


class TriageError(Exception):
    """Base class of every error triage-queue raises on purpose.

    :meth:`to_dict` and :meth:`from_dict` turn any of them into JSON data
    and back (same class, same message, same structured attributes).
    """

    # The structured attributes to_dict() carries, in the order it gives them.
    _wire_fields: ClassVar[tuple[str, ...]] = ()

    def __str__(self) -> str:
        # KeyError.__str__ would print repr(args[0]); we always want the message.
        return str(self.args[0]) if self.args else self.__class__.__name__

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: ``{"error": class name, "message": str(self)}``
        plus the error's structured attributes (``field``, ``value`` and
        ``reason`` of an :class:`InvalidValue`; ``key`` of an
        :class:`UnknownKey`; ``rule``, ``ticket_id`` and ``problem`` of a
        :class:`RuleError`...).  An attribute that is not a plain value
        (``None``, a bool, a string of at most 200 characters, an int of at
        most 64 bits, a finite float) is given as its bounded repr, a string:
        ``float("inf")`` as ``"inf"``, a list as ``"[1, 2]"``.

        Runtime complexity: O(1) (every repr is bounded).

        >>> InvalidTicket("complexity", 9, "out of range: expected 1..5").to_dict()
        {'error': 'InvalidTicket', 'message': 'complexity=9: out of range: expected 1..5', \
'field': 'complexity', 'value': 9, 'reason': 'out of range: expected 1..5'}
        """
        data: dict[str, Any] = {"error": self.__class__.__name__, "message": str(self)}
        for name in self._wire_fields:
            data[name] = _plain(getattr(self, name, None))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild the error :meth:`to_dict` gave: an instance of the class
        named by ``data["error"]`` (a class of :mod:`triage_queue.errors`
        derived from the class this is called on), with the same ``str()``
        and attributes.  Anything else raises :class:`InvalidArgument`
        naming the offending key (``error`` for an unknown class name).

        Runtime complexity: O(len(data)).

        >>> e = TriageError.from_dict({"error": "UnknownAgent", "message": "unknown agent id 'zed'", "key": "zed"})
        >>> isinstance(e, UnknownAgent), isinstance(e, KeyError), str(e), e.key
        (True, True, "unknown agent id 'zed'", 'zed')
        >>> InvalidValue.from_dict({"error": "Empty", "message": "empty"})
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidArgument: error='Empty': expected the name of a triage_queue.errors class \
derived from InvalidValue (InvalidAgent, InvalidArgument, InvalidKey, InvalidPolicy, InvalidPriority, ...)
        """
        items = _wire_items(InvalidArgument, "error", data)
        name = items.get("error", _MISSING)
        klass = _ERROR_CLASSES.get(name) if name.__class__ is str else None
        if klass is None or not issubclass(klass, cls):
            known = sorted(n for n, k in _ERROR_CLASSES.items() if issubclass(k, cls))
            shown = ", ".join(known[:5]) + (", ..." if len(known) > 5 else "")
            raise InvalidArgument(
                "error", name, f"expected the name of a triage_queue.errors class derived from {cls.__name__} ({shown})"
            )
        message = items.get("message", _MISSING)
        if message.__class__ is not str:
            raise InvalidArgument("message", message, "expected the error's message, a string")
        fields = klass._wire_fields
        allowed = ("error", "message", *fields)
        for key, value in items.items():
            if key not in allowed:
                _unknown_field(InvalidArgument, key, value, allowed, f"a field of {klass.__name__}")
        values = []
        for field in fields:
            value = items.get(field, _MISSING)
            if value is _MISSING:
                raise InvalidArgument(field, value, f"missing: {klass.__name__} data has {', '.join(allowed)}")
            if _plain(value) is not value:
                raise InvalidArgument(field, value, "expected plain data: None, a bool, a string, an int or a finite float")
            values.append(value)
        error = klass.__new__(klass)
        Exception.__init__(error, message)
        for field, value in zip(fields, values, strict=True):
            setattr(error, field, value)
        return error


class InvalidValue(TriageError, ValueError):
    """A value is out of range or of the wrong type.

    ``field`` names what was wrong, ``value`` is the value that was given and
    ``reason`` says what was expected.
    """

    _wire_fields = ("field", "value", "reason")

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={_brief(value)}: {reason}")


class InvalidTicket(InvalidValue):
    """A ticket field has an invalid value (``field`` names it)."""


class InvalidPolicy(InvalidValue):
    """A rule or policy was configured with an invalid parameter."""


class InvalidAgent(InvalidValue):
    """An agent field (skills, capacity, status...) has an invalid value."""


class InvalidArgument(InvalidValue):
    """An argument to a queue or heap operation is invalid."""


class InvalidKey(InvalidArgument, TypeError):
    """An id or key cannot be looked up: it is not hashable (a list, a
    dict...), or hashing or comparing it raised.

    It is an :class:`InvalidArgument` naming the parameter (``ticket_id``,
    ``key``...), and also a ``TypeError``, which is what a ``dict`` raises
    for such a key.

    >>> from triage_queue import TicketQueue
    >>> TicketQueue().get([])
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidKey: ticket_id=[]: cannot be looked up: unhashable type: 'list'
    """


class InvalidPriority(InvalidValue):
    """A priority cannot be ordered (NaN, or not comparable with the others)."""


class RuleError(TriageError, ValueError):
    """A scoring rule raised, or returned a value that cannot be ordered.

    ``rule`` is the rule's name, ``ticket_id`` the ticket being scored.  The
    original exception, if any, is chained as ``__cause__``.
    """

    _wire_fields = ("rule", "ticket_id", "problem")

    def __init__(self, rule: str, ticket_id: str, problem: str) -> None:
        self.rule = rule
        self.ticket_id = ticket_id
        self.problem = problem
        super().__init__(f"rule {_brief(rule)} on ticket {_brief(ticket_id)}: {problem}")


class Empty(TriageError, KeyError):
    """Nothing to pop or peek: the structure is empty, or nothing in it is
    eligible for the skills given.

    It derives from ``KeyError`` (as ``MutableMapping.popitem`` requires) and
    therefore from ``LookupError``.
    """


class UnknownKey(TriageError, KeyError):
    """A key is not present (``key`` holds it)."""

    _wire_fields: ClassVar[tuple[str, ...]] = ("key",)

    def __init__(self, key: Any, what: str = "key") -> None:
        self.key = key
        super().__init__(f"unknown {what} {_brief(key)}")


class UnknownTicket(UnknownKey):
    """No ticket with this id is in the queue."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(ticket_id, "ticket id")


class AlreadyFinished(UnknownTicket):
    """The ticket has left the desk: it was completed or cancelled
    (``status``: ``"completed"`` or ``"cancelled"``) at clock time ``at``.
    A desk remembers its most recently finished tickets (its
    ``finished_memory``) so that a retried call says so; it derives from
    :class:`UnknownTicket`, so handlers written for that still work.

    >>> e = AlreadyFinished("T-1", "completed", 12.0); str(e), isinstance(e, UnknownTicket), e.status
    ("ticket 'T-1' was already completed (at 12)", True, 'completed')
    """

    _wire_fields: ClassVar[tuple[str, ...]] = ("key", "status", "at")

    def __init__(self, ticket_id: str, status: str, at: float) -> None:
        self.key = ticket_id
        self.status = status
        self.at = at
        Exception.__init__(self, f"ticket {_brief(ticket_id)} was already {status} (at {at:g})")


class DuplicateKey(TriageError, KeyError):
    """A key is already present and the operation would not replace it."""

    _wire_fields = ("key",)

    def __init__(self, key: Any, what: str = "key") -> None:
        self.key = key
        super().__init__(f"duplicate {what} {_brief(key)}: already present")


class DuplicateTicket(DuplicateKey):
    """A ticket with this id is already in the queue."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(ticket_id, "ticket id")


class UnknownAgent(UnknownKey):
    """No agent with this id is on the roster."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(agent_id, "agent id")


class DuplicateAgent(DuplicateKey):
    """An agent with this id is already on the roster."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(agent_id, "agent id")


class UnknownOffer(UnknownKey):
    """No offer with this id was ever made by this dispatcher."""

    def __init__(self, offer_id: str) -> None:
        super().__init__(offer_id, "offer id")


class OfferClosed(TriageError, ValueError):
    """The offer can no longer be answered: it was accepted, declined,
    expired or revoked (``status`` says which)."""

    _wire_fields = ("offer_id", "status")

    def __init__(self, offer_id: str, status: str) -> None:
        self.offer_id = offer_id
        self.status = status
        super().__init__(f"offer {_brief(offer_id)} is {status}; only a pending offer can be answered")


class NotAssigned(TriageError, KeyError):
    """The ticket is not assigned (accepted) to an agent, or not to this one."""

    _wire_fields = ("ticket_id",)

    def __init__(self, ticket_id: str, detail: str) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"ticket {_brief(ticket_id)} {detail}")


class AgentBusy(TriageError, ValueError):
    """The agent still has offers or tickets, so it cannot be removed."""

    _wire_fields = ("agent_id",)

    def __init__(self, agent_id: str, detail: str) -> None:
        self.agent_id = agent_id
        super().__init__(f"agent {_brief(agent_id)} {detail}")


# -- checks shared by the modules -------------------------------------------


def _bad_key(field: str, value: Any, exc: BaseException) -> InvalidKey:
    """The error for an id or key whose lookup raised ``exc``: raise it
    ``from exc``.  Call it only on the failure path (in an ``except``
    around the dict operation), so lookups of good ids cost nothing more.

    Runtime complexity: O(1).

    >>> try:
    ...     {}.get([])
    ... except TypeError as exc:
    ...     str(_bad_key("ticket_id", [], exc))
    "ticket_id=[]: cannot be looked up: unhashable type: 'list'"
    """
    return InvalidKey(field, value, f"cannot be looked up: {_brief_text(exc)}")


def _brief_text(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = type(exc).__name__
    return text if len(text) <= _MAX_REPR else text[:_MAX_REPR] + "..."


def _finite(error: type[InvalidValue], field: str, value: Any, reason: str) -> float:
    """``value`` as a finite float, or raise ``error(field, value, reason)``.

    Accepts ``int`` and ``float`` (and their subclasses) but not ``bool``;
    an int too large for a float (``10**400``), NaN and the infinities are
    refused with the library's error, never ``OverflowError``.  A float is
    returned as is after one subtraction, so callers may use it on a hot
    path.  Range checks (``>= 0``...) are the caller's, on the result.

    Runtime complexity: O(1).

    >>> _finite(InvalidArgument, "timeout", 3, "expected a finite number of seconds")
    3.0
    >>> _finite(InvalidArgument, "timeout", 2**2001, "expected a finite number of seconds")
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: timeout=<int of about 603 digits>: expected a finite number of seconds
    """
    number: float
    if value.__class__ is float:
        number = value
    else:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise error(field, value, reason)
        try:
            number = float(value)
        except OverflowError:
            raise error(field, value, reason) from None
    if number - number != 0.0:  # NaN and the infinities give NaN
        raise error(field, value, reason)
    return number


class Unroutable(TriageError, ValueError):
    """No agent on the roster, in any status, could ever take this ticket (a
    skill nobody has, a channel nobody takes); raised by a dispatcher built
    with ``refuse_unroutable=True``.  ``ticket_id`` names the ticket and
    ``reason`` says what is missing.
    """

    _wire_fields = ("ticket_id", "reason")

    def __init__(self, ticket_id: str, reason: str) -> None:
        self.ticket_id = ticket_id
        self.reason = reason
        super().__init__(f"ticket {_brief(ticket_id)} is unroutable: {reason}")


# -- plain data: the wire format's shared checks -------------------------------

# JSON data in attributes and event changes: nested at most this deep, and
# at most this many values in all (a list holding the same list twice, 30
# levels down, is a billion values to walk and to write).
MAX_JSON_DEPTH = 32
MAX_JSON_VALUES = 1_000_000
# Ints wider than this are refused in plain data: Python's json writes any
# int, but other readers (and json.loads past 4300 digits) do not.
_MAX_WIRE_INT_BITS = 64


class _Missing:
    """The value of a key a mapping lacks, as error messages show it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _plain(value: Any) -> Any:
    """``value`` itself if it is a plain JSON scalar (None, a bool, a string
    of at most 200 characters, an int of at most 64 bits, a finite float),
    else its bounded repr: what an error's attribute becomes on the wire.

    Runtime complexity: O(1).

    >>> _plain(3), _plain(float("-inf")), _plain([1, 2]), _plain(10**400)[:12]
    (3, '-inf', '[1, 2]', '100000000000')
    """
    cls = value.__class__
    if value is None or cls is bool:
        return value
    if cls is str:
        return value if len(value) <= _MAX_REPR + 3 else _brief(value)  # _brief gives at most 203
    if cls is int:
        return value if value.bit_length() <= _MAX_WIRE_INT_BITS else _brief(value)
    if cls is float:
        return value if value - value == 0.0 else _brief(value)
    return _brief(value)


def _wire_items(error: Callable[[str, Any, str], InvalidValue], what: str, data: Any) -> dict[str, Any]:
    """The items of ``data``, a mapping with string keys given to a
    ``from_dict``, as a dict; else raise ``error(what, data, ...)``.

    Runtime complexity: O(len(data)).
    """
    if not isinstance(data, Mapping):
        raise error(what, data, "expected a mapping (a JSON object) of field names to values")
    try:
        items = dict(data)
    except Exception as exc:  # a mapping whose keys(), __getitem__ or keys misbehave
        raise error(what, data, f"cannot be read as a mapping ({_brief_text(exc)})") from exc
    for key in items:
        if key.__class__ is not str:
            raise error(what, key, "field names must be strings")
    return items


def _unknown_field(
    error: Callable[[str, Any, str], InvalidValue],
    key: str,
    value: Any,
    fields: tuple[str, ...],
    what: str,
    *,
    prefix: str = "",
) -> NoReturn:
    """Raise ``error(prefix + key, value, ...)`` for a key that is not
    ``what`` (one of ``fields``), suggesting the closest field name.

    Runtime complexity: O(len(fields)) (long keys are not compared).
    """
    close = difflib.get_close_matches(key, fields, n=1) if len(key) <= 64 else []
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(fields)}"
    raise error(prefix + (_brief(key) if len(key) > _MAX_REPR else key), value, f"not {what}; {hint}")


def _json_data(error: Callable[[str, Any, str], InvalidValue], field: str, value: Any) -> Any:
    """A copy of ``value`` as JSON data, with every dict's keys sorted (so
    equal values give the same text), or raise ``error(field, ...)`` naming
    the path of the first value that is not JSON data.

    JSON data is ``None``, a bool, a str, an int of at most 64 bits, a
    finite float, and lists and dicts (or read-only mapping proxies) of
    them with string keys, at most :data:`MAX_JSON_DEPTH` deep and
    :data:`MAX_JSON_VALUES` values in all.  Tuples, sets, NaN and the
    infinities, and subclasses (an enum member) are refused: they would not
    read back equal.

    Runtime complexity: O(n log n) for n values (keys are sorted).

    >>> _json_data(InvalidTicket, "attributes", {"b": [1, 2.5], "a": None})
    {'a': None, 'b': [1, 2.5]}
    >>> _json_data(InvalidTicket, "attributes", {"seats": [1, (2, 3)]})
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidTicket: attributes=(2, 3): attributes['seats'][1] is a tuple, which is not JSON data \
(expected None, bool, str, int, float, list, or dict with str keys)
    """
    budget = [MAX_JSON_VALUES]
    return _copy_json(error, field, value, (), budget)


def _copy_json(
    error: Callable[[str, Any, str], InvalidValue], field: str, value: Any, path: tuple[Any, ...], budget: list[int]
) -> Any:
    budget[0] -= 1
    cls = value.__class__
    if value is None or cls is str or cls is bool:
        return value
    if cls is int:
        if value.bit_length() > _MAX_WIRE_INT_BITS:
            raise error(field, value, f"{_path(field, path)} is an int of more than {_MAX_WIRE_INT_BITS} bits")
        return value
    if cls is float:
        if value - value != 0.0:
            raise error(field, value, f"{_path(field, path)} is {value!r}; JSON has no NaN or infinity")
        return value
    if budget[0] < 0:
        raise error(field, value, f"{_path(field, path)}: more than {MAX_JSON_VALUES} values")
    if len(path) >= MAX_JSON_DEPTH and (cls is list or cls is dict):
        raise error(field, value, f"{_path(field, path)} is nested deeper than {MAX_JSON_DEPTH} levels")
    if cls is list:
        return [_copy_json(error, field, item, (*path, i), budget) for i, item in enumerate(value)]
    if cls is _MappingProxy:  # a read-only view: of any mapping, whose iteration may raise
        try:
            value = dict(value)
        except Exception as exc:
            raise error(field, value, f"{_path(field, path)} cannot be read ({_brief_text(exc)})") from exc
        cls = dict
    if cls is dict:
        for key in value:
            if key.__class__ is not str:
                raise error(field, key, f"{_path(field, path)} has key {_brief(key)}; JSON object keys are strings")
        return {key: _copy_json(error, field, value[key], (*path, key), budget) for key in sorted(value)}
    raise error(
        field,
        value,
        f"{_path(field, path)} is a{'n' if cls.__name__[:1] in 'aeiouAEIOU' else ''} {cls.__name__}, which is not "
        "JSON data (expected None, bool, str, int, float, list, or dict with str keys)",
    )


_MappingProxy = type(type.__dict__)
_WIRE_SPECIALS = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _wire_number(value: Any) -> Any:
    """A number for strict JSON: an infinite float as ``"inf"`` or
    ``"-inf"``, NaN as ``"nan"``, anything else as it is.

    Runtime complexity: O(1).

    >>> _wire_number(2.5), _wire_number(float("-inf")), _wire_number(float("nan"))
    (2.5, '-inf', 'nan')
    """
    if value.__class__ is float and value - value != 0.0:
        return "nan" if value != value else "inf" if value > 0 else "-inf"
    return value


def _read_number(error: Callable[[str, Any, str], InvalidValue], field: str, value: Any, what: str) -> Any:
    """What :func:`_wire_number` gave, read back: a float, an int of at most
    64 bits, or ``"inf"``, ``"-inf"``, ``"nan"``; else raise ``error``.

    Runtime complexity: O(1).
    """
    cls = value.__class__
    if cls is float:
        return value
    if cls is int and value.bit_length() <= _MAX_WIRE_INT_BITS:
        return value
    if cls is str:
        special = _WIRE_SPECIALS.get(value)
        if special is not None:
            return special
    raise error(field, value, f'expected {what}: a number, "inf", "-inf" or "nan"')


def _path(field: str, path: tuple[Any, ...]) -> str:
    return field + "".join(f"[{_brief(step)}]" for step in path)


def _deprecated_as_dict(value: Any) -> dict[str, Any]:
    """``value.to_dict()``, with a DeprecationWarning for the old name
    ``as_dict()``.  Runtime complexity: that of ``to_dict``."""
    name = value.__class__.__name__
    warnings.warn(f"{name}.as_dict() is deprecated; use {name}.to_dict()", DeprecationWarning, stacklevel=3)
    result: dict[str, Any] = value.to_dict()
    return result


# Every class from_dict can rebuild: the library's own errors, by name.
_ERROR_CLASSES: dict[str, type[TriageError]] = {
    name: obj
    for name, obj in list(globals().items())
    if isinstance(obj, type) and issubclass(obj, TriageError) and obj.__module__ == __name__ and not name.startswith("_")
}
