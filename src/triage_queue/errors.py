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
"""

from __future__ import annotations

import math
import reprlib
from itertools import islice
from typing import Any

__all__ = [
    "AgentBusy",
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
    """Base class of every error triage-queue raises on purpose."""

    def __str__(self) -> str:
        # KeyError.__str__ would print repr(args[0]); we always want the message.
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidValue(TriageError, ValueError):
    """A value is out of range or of the wrong type.

    ``field`` names what was wrong, ``value`` is the value that was given and
    ``reason`` says what was expected.
    """

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

    def __init__(self, key: Any, what: str = "key") -> None:
        self.key = key
        super().__init__(f"unknown {what} {_brief(key)}")


class UnknownTicket(UnknownKey):
    """No ticket with this id is in the queue."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(ticket_id, "ticket id")


class DuplicateKey(TriageError, KeyError):
    """A key is already present and the operation would not replace it."""

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

    def __init__(self, offer_id: str, status: str) -> None:
        self.offer_id = offer_id
        self.status = status
        super().__init__(f"offer {_brief(offer_id)} is {status}; only a pending offer can be answered")


class NotAssigned(TriageError, KeyError):
    """The ticket is not assigned (accepted) to an agent, or not to this one."""

    def __init__(self, ticket_id: str, detail: str) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"ticket {_brief(ticket_id)} {detail}")


class AgentBusy(TriageError, ValueError):
    """The agent still has offers or tickets, so it cannot be removed."""

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

    def __init__(self, ticket_id: str, reason: str) -> None:
        self.ticket_id = ticket_id
        self.reason = reason
        super().__init__(f"ticket {_brief(ticket_id)} is unroutable: {reason}")
