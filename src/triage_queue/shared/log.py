"""The log seam: what a shared desk needs of the engine that orders its commands.

A shared desk is a set of replicas, each an ordinary in-memory
:class:`~triage_queue.Dispatcher`, that apply one totally ordered log of
commands.  The engine behind the log (Redis Streams for many hosts, SQLite for
one host) is reached only through the small protocol below, so that the
replica, the thin client and every test are written once for both engines.

Positions and time
    Every entry has a *position*, an ``int`` that increases strictly along the
    log and is never reused (after a trim the surviving entries keep theirs),
    and a *time* in seconds that never decreases along the log: the command's
    time, the only clock the replicas read.  Redis: position
    ``ms * 2**20 + seq`` from the stream id ``ms-seq``, time ``ms / 1000``.
    SQLite: the row id, and the wall clock held monotonic in the same
    transaction as the append.

Commands and results
    A command is a JSON-able ``dict`` (never pickle).  Results of commands are
    published by replicas for thin clients under the command's client-chosen
    id; the first writer wins, later writers are ignored.

Snapshots
    A snapshot is a JSON-able ``dict`` together with the position of the last
    entry it covers.  Engines keep the newest few; :meth:`Log.trim` drops
    entries at or before a position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = ["LATEST_TIME", "Entry", "Log", "StoredSnapshot", "POSITION_SEQ_BITS", "malformed"]

#: Redis positions pack the stream id ``ms-seq`` as ``ms << POSITION_SEQ_BITS | seq``.
POSITION_SEQ_BITS = 20

#: The latest entry time a replica accepts (seconds, about the year 2286): a
#: later or non-finite time is a malformed entry's, and the replica keeps the
#: time of the entry before it.
LATEST_TIME = 1e10


def malformed(reason: str) -> dict[str, Any]:
    """The command an engine reads back for an entry that is not a command
    (not JSON, not a JSON object, nested too deeply, no command field): a
    placeholder with no ``op`` and no ``id``, which every replica skips
    alike.  Runtime complexity: O(1).

    >>> malformed("not JSON")
    {'malformed': 'not JSON'}
    """
    return {"malformed": str(reason)[:200]}


@attrs.frozen
class Entry:
    """One command in the log: its position, its time (seconds) and the
    command itself (plain data).

    >>> Entry(3, 12.5, {"op": "tick", "id": "c-1"}).position
    3
    """

    position: int
    time: float
    command: Mapping[str, Any]


@attrs.frozen
class StoredSnapshot:
    """A snapshot read back from the log: the position of the last entry it
    covers and the data.

    >>> StoredSnapshot(7, {"desk": {}}).position
    7
    """

    position: int
    data: Mapping[str, Any]


@runtime_checkable
class Log(Protocol):
    """The engine of a shared desk.  Every method may raise
    :class:`~triage_queue.errors.TriageError` subclasses for bad input and
    the engine's own ``ConnectionError``/``OSError`` when the engine cannot be
    reached; a caller retries an append with the same command id (the desk
    applies it once)."""

    def append(self, command: Mapping[str, Any]) -> Entry:
        """Append ``command`` atomically at the end of the log; return its
        entry (position and time assigned by the engine).  Runtime complexity: O(1)."""
        ...

    def read(self, after: int, *, limit: int = 1000, block: float | None = None) -> Sequence[Entry]:
        """Up to ``limit`` entries with a position greater than ``after``, in
        log order.  With ``block`` (seconds), wait up to that long for the
        first entry when none is there yet.  Runtime complexity: O(limit)."""
        ...

    def last_position(self) -> int:
        """The position of the last entry, or 0 when the log has none.  Runtime complexity: O(1)."""
        ...

    def first_position(self) -> int:
        """The position of the oldest entry still kept, or 0 when none.  Runtime complexity: O(1)."""
        ...

    def store_snapshot(self, position: int, data: Mapping[str, Any]) -> None:
        """Keep ``data`` as the snapshot covering the log up to ``position``
        (the engine keeps the newest few).  Runtime complexity: O(size of data)."""
        ...

    def load_snapshot(self) -> StoredSnapshot | None:
        """The newest snapshot kept, or ``None``.  Runtime complexity: O(size of data)."""
        ...

    def trim(self, through: int) -> int:
        """Drop the entries at or before position ``through``; return how
        many were dropped.  Runtime complexity: O(dropped)."""
        ...

    def publish_result(self, command_id: str, result: Mapping[str, Any]) -> bool:
        """Record the result of command ``command_id`` for thin clients;
        the first writer wins.  Return whether this call wrote it.  Runtime complexity: O(1)."""
        ...

    def fetch_result(self, command_id: str, *, block: float | None = None) -> Mapping[str, Any] | None:
        """The published result of ``command_id``, waiting up to ``block``
        seconds for it; ``None`` when there is none yet.  Runtime complexity: O(1)."""
        ...

    def close(self) -> None:
        """Release the connection.  Idempotent.  Runtime complexity: O(1)."""
        ...
