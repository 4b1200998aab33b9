"""Exceptions raised by triage-queue.

Every exception the library raises on purpose derives from :class:`TriageError`,
so ``except TriageError`` catches all of them.  Each one also derives from the
built-in exception a Python programmer would expect (``KeyError`` for an
unknown key, ``ValueError`` for a bad value), so existing handlers keep working.

A call that raises leaves every structure exactly as it was before the call.

>>> from triage_queue import UnknownTicket
>>> err = UnknownTicket("T-9")
>>> str(err)
"unknown ticket id 'T-9'"
>>> isinstance(err, KeyError)
True
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgentBusy",
    "DuplicateAgent",
    "DuplicateKey",
    "DuplicateTicket",
    "Empty",
    "InvalidAgent",
    "InvalidArgument",
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
]


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
        super().__init__(f"{field}={value!r}: {reason}")


class InvalidTicket(InvalidValue):
    """A ticket field has an invalid value (``field`` names it)."""


class InvalidPolicy(InvalidValue):
    """A rule or policy was configured with an invalid parameter."""


class InvalidAgent(InvalidValue):
    """An agent field (skills, capacity, status...) has an invalid value."""


class InvalidArgument(InvalidValue):
    """An argument to a queue or heap operation is invalid."""


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
        super().__init__(f"rule {rule!r} on ticket {ticket_id!r}: {problem}")


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
        super().__init__(f"unknown {what} {key!r}")


class UnknownTicket(UnknownKey):
    """No ticket with this id is in the queue."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(ticket_id, "ticket id")


class DuplicateKey(TriageError, KeyError):
    """A key is already present and the operation would not replace it."""

    def __init__(self, key: Any, what: str = "key") -> None:
        self.key = key
        super().__init__(f"duplicate {what} {key!r}: already present")


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
        super().__init__(f"offer {offer_id!r} is {status}; only a pending offer can be answered")


class NotAssigned(TriageError, KeyError):
    """The ticket is not assigned (accepted) to an agent, or not to this one."""

    def __init__(self, ticket_id: str, detail: str) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"ticket {ticket_id!r} {detail}")


class AgentBusy(TriageError, ValueError):
    """The agent still has offers or tickets, so it cannot be removed."""

    def __init__(self, agent_id: str, detail: str) -> None:
        self.agent_id = agent_id
        super().__init__(f"agent {agent_id!r} {detail}")
