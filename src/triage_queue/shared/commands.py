"""The command codec of a shared desk: every Dispatcher operation as plain
JSON data, and every result or error as plain data.

A command is ``{"op": name, "id": client-chosen id, "args": {...}}`` (plus
``"reply": true`` when a thin client waits for the result to be
published).  Tickets, agents and offers travel in their own ``to_dict``
forms (a ticket's without the fields that hold their default value, which
``Ticket.from_dict`` fills in alike); an offer is named by its id; a float
that JSON cannot hold is ``{"$float": repr}``, and a mapping of the
caller's whose only key starts with ``$`` travels as ``{"$dict": mapping}``
so that it never reads back as one of these tags.  A result is ``{"ok": value}`` or
``{"error": TriageError.to_dict()}``; an exception that is not the
library's own (a custom strategy that raises, say) is ``{"failed": class
name, "message": str}`` and is raised on the other side as
:class:`CommandFailed`.

>>> from triage_queue import Ticket
>>> command = encode("submit", {"ticket": Ticket("T-1", 0.0)}, command_id="c-1")
>>> command["op"], command["id"], command["args"]["ticket"]["$ticket"]["id"]
('submit', 'c-1', 'T-1')
>>> decode_args(command)["ticket"] == Ticket("T-1", 0.0)
True
>>> raise_or_return(encode_result("submit", None, None))
"""

from __future__ import annotations

import datetime
import enum
import math
import uuid
from collections.abc import Mapping
from typing import Any

from triage_queue.agents import Agent, AgentStatus
from triage_queue.dispatch.values import AgentVerdict, AssignmentExplanation, Offer
from triage_queue.errors import InvalidArgument, TriageError
from triage_queue.stats import Statistics
from triage_queue.ticket import Severity, Ticket

__all__ = [
    "OPERATIONS",
    "READS",
    "CommandFailed",
    "NoReply",
    "decode_args",
    "decode_result",
    "encode",
    "encode_result",
    "new_command_id",
    "raise_or_return",
]


class CommandFailed(TriageError, RuntimeError):
    """A command failed in a replica with an exception that is not one of
    the library's (a custom selection strategy or classify function that
    raised): the message names the exception's class and text.

    >>> str(CommandFailed("ValueError: boom"))
    'ValueError: boom'
    """


class NoReply(TriageError, TimeoutError):
    """No replica published the result of a thin client's command in time
    (is a desk server running?).  The command may still be applied later:
    ``command_id`` and ``op`` name it, and
    :meth:`SharedDesk.result <triage_queue.shared.SharedDesk.result>` fetches
    its result later (a new call would be a second command).

    >>> err = NoReply("no result for command 'c-1' within 5s", command_id="c-1", op="submit")
    >>> str(err), err.command_id, err.op
    ("no result for command 'c-1' within 5s", 'c-1', 'submit')
    """

    def __init__(self, message: str, *, command_id: str | None = None, op: str | None = None) -> None:
        super().__init__(message)
        self.command_id = command_id
        self.op = op


#: Operations that change the desk, and what each result is.
OPERATIONS: dict[str, str] = {
    "submit": "offer",
    "update": "ticket",
    "cancel": "ticket",
    "next_for": "offer",
    "accept": "ticket",
    "decline": "none",
    "complete": "ticket",
    "transfer": "ticket",
    "add_agent": "none",
    "remove_agent": "agent",
    "set_status": "agent",
    "update_agent": "agent",
    "tick": "none",
    "assign_all": "offers",
    "heartbeat": "none",
    "digest": "none",
    "snapshotted": "none",
    "init": "none",
}

#: Reads: applied by replicas as no-ops when a thin client asks (so that the
#: answer is the desk's state at that place in the log).
READS: dict[str, str] = {
    "status": "str",
    "assigned": "tickets",
    "offers_for": "offers",
    "stats": "stats",
    "explain_assignment": "explanation",
    "next_due": "float",
    "position": "int",
    "waiting": "int",
}


def new_command_id() -> str:
    """A fresh, unique command id.  Runtime complexity: O(1).

    >>> len(new_command_id())
    32
    """
    return uuid.uuid4().hex


# A ticket's wire form leaves out the fields that hold their default value
# (Ticket.from_dict fills them in alike): a replica's decoding of a submit,
# the hot part of applying one, costs about a third as much, and the log is
# smaller.  A value is left out only if it is the default's own type and
# equal to it (so 1.0 never stands for 1, nor True for 1).
_TICKET_DEFAULTS: tuple[tuple[str, Any], ...] = tuple(
    (key, value) for key, value in Ticket("-", 0.0).to_dict().items() if key not in ("id", "created_at")
)


def _ticket_plain(ticket: Ticket) -> dict[str, Any]:
    data = ticket.to_dict()
    for key, default in _TICKET_DEFAULTS:
        value = data[key]
        if value.__class__ is default.__class__ and value == default:
            del data[key]
    return {"$ticket": data}


def _plain(field: str, value: Any) -> Any:
    # An argument as JSON data that the library reads back as the same value.
    cls = value.__class__
    if cls is str or cls is int or cls is bool or value is None:
        return value
    if cls is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, Severity):
        return value.name.lower()
    if isinstance(value, AgentStatus):
        return value.value
    if isinstance(value, enum.Enum):
        return _plain(field, value.value)
    if isinstance(value, Ticket):
        return _ticket_plain(value)
    if isinstance(value, Agent):
        return {"$agent": value.to_dict()}
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise InvalidArgument(field, value, "a datetime must be timezone-aware")
        return value.timestamp()
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if key.__class__ is not str:
                raise InvalidArgument(field, value, "a shared desk sends mappings with string keys only")
            out[key] = _plain(f"{field}.{key}", item)
        return _escaped(out)
    if isinstance(value, set | frozenset):
        items = [_plain(field, item) for item in value]
        try:
            return sorted(items)
        except TypeError:
            raise InvalidArgument(field, value, "a set sent to a shared desk must hold comparable values") from None
    if isinstance(value, list | tuple):
        return [_plain(field, item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _plain(field, float(value) if isinstance(value, float) else int(value))
    raise InvalidArgument(field, value, "not plain data: a shared desk sends every argument as JSON")


def _escaped(out: dict[str, Any]) -> dict[str, Any]:
    # A user's mapping whose only key starts with "$" would read back as a
    # codec tag ({"$float": ...}): it travels wrapped as {"$dict": mapping}.
    if len(out) == 1 and next(iter(out)).startswith("$"):
        return {"$dict": out}
    return out


def _unplain(value: Any) -> Any:
    if value.__class__ is dict:
        if len(value) == 1:
            if "$dict" in value:
                return {k: _unplain(v) for k, v in value["$dict"].items()}
            if "$float" in value:
                return float(value["$float"])
            if "$ticket" in value:
                return Ticket.from_dict(value["$ticket"])
            if "$agent" in value:
                return Agent.from_dict(value["$agent"])
        return {k: _unplain(v) for k, v in value.items()}
    if value.__class__ is list:
        return [_unplain(v) for v in value]
    return value


def encode(op: str, args: Mapping[str, Any], *, command_id: str | None = None, reply: bool = False) -> dict[str, Any]:
    """The command for operation ``op`` with ``args`` (the Dispatcher
    method's keyword arguments; an ``Offer`` is sent as its id).  Raises
    :class:`InvalidArgument` naming an argument that is not plain data.

    Runtime complexity: O(size of the arguments).

    >>> encode("accept", {"offer": "desk-3"}, command_id="c-2")
    {'op': 'accept', 'id': 'c-2', 'args': {'offer': 'desk-3'}}
    """
    if op not in OPERATIONS and op not in READS:
        raise InvalidArgument("op", op, "not an operation of a shared desk")
    plain: dict[str, Any] = {}
    for name, value in args.items():
        plain[name] = _plain(name, value.id if isinstance(value, Offer) else value)
    command: dict[str, Any] = {"op": op, "id": new_command_id() if command_id is None else command_id, "args": plain}
    if reply:
        command["reply"] = True
    return command


def decode_args(command: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of a command as the Dispatcher method takes them.
    Runtime complexity: O(size of the arguments).

    >>> decode_args({"op": "tick", "id": "c", "args": {}})
    {}
    """
    args = command.get("args", {})
    if args.__class__ is not dict:
        raise InvalidArgument("command.args", args, "expected a mapping")
    out = {}
    for name, value in args.items():
        cls = value.__class__
        out[name] = value if cls is str or cls is int or cls is float or value is None else _unplain(value)
    return out


# -- results -----------------------------------------------------------------------


def _encode_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "offer":
        return value.to_dict()
    if kind in ("ticket", "agent", "stats", "explanation"):
        return value.to_dict()
    if kind in ("offers", "tickets"):
        return [item.to_dict() for item in value]
    if kind == "float":
        return value if math.isfinite(value) else repr(value)
    return value


def _decode_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "offer":
        return Offer.from_dict(value)
    if kind == "ticket":
        return Ticket.from_dict(value)
    if kind == "agent":
        return Agent.from_dict(value)
    if kind == "offers":
        return [Offer.from_dict(item) for item in value]
    if kind == "tickets":
        return [Ticket.from_dict(item) for item in value]
    if kind == "stats":
        return Statistics.from_dict(value)
    if kind == "explanation":
        verdicts = tuple(AgentVerdict(**v) for v in value["verdicts"])
        return AssignmentExplanation(
            value["ticket_id"], value["now"], value["state"], value["agent_id"], value["how"], value["selection"], verdicts
        )
    if kind == "float":
        return float(value)
    return value


def encode_result(op: str, value: Any, error: BaseException | None) -> dict[str, Any]:
    """The plain form of an operation's result (``value``) or ``error``.
    Runtime complexity: O(size of the result).

    >>> from triage_queue import UnknownTicket
    >>> encode_result("cancel", None, UnknownTicket("T-9"))
    {'error': {'error': 'UnknownTicket', 'message': "unknown ticket id 'T-9'", 'key': 'T-9'}}
    """
    if error is not None:
        if isinstance(error, TriageError):
            return {"error": error.to_dict()}
        return {"failed": type(error).__name__, "message": str(error)[:500]}
    kind = OPERATIONS.get(op) or READS.get(op, "none")
    return {"ok": _encode_value(kind, value)}


def decode_result(op: str, data: Mapping[str, Any]) -> tuple[Any, BaseException | None]:
    """``(value, None)`` or ``(None, error)`` from :func:`encode_result`'s
    form.  Runtime complexity: O(size of the result).

    >>> decode_result("status", {"ok": "waiting"})
    ('waiting', None)
    """
    if "ok" in data:
        kind = OPERATIONS.get(op) or READS.get(op, "none")
        return _decode_value(kind, data["ok"]), None
    if "error" in data:
        return None, TriageError.from_dict(data["error"])
    if "failed" in data:
        return None, CommandFailed(f"{data['failed']}: {data.get('message', '')}")
    raise InvalidArgument("result", data, "expected {'ok': ...}, {'error': ...} or {'failed': ...}")


def raise_or_return(result: Mapping[str, Any], op: str = "submit") -> Any:
    """The value of a plain result, or raise its error.
    Runtime complexity: O(size of the result).

    >>> raise_or_return({"ok": None}) is None
    True
    """
    value, error = decode_result(op, result)
    if error is not None:
        raise error
    return value
