"""The SQLite engine of a shared desk: a durable journal on one host.

:class:`SqliteLog` keeps the log in one SQLite file (standard library only)
in WAL mode with ``synchronous=FULL``, so an append that returned survives a
crash of the process or of the machine.  Several threads and several local
processes (gunicorn workers, say) may open the same file: appends are
serialised by SQLite's write lock, readers poll.

>>> import os, tempfile
>>> log = SqliteLog(os.path.join(tempfile.mkdtemp(), "desk.db"), clock=lambda: 5.0)
>>> log.append({"op": "tick", "id": "c-1"}).position, log.last_position()
(1, 1)
>>> [(e.position, e.time, e.command["op"]) for e in log.read(0)]
[(1, 5.0, 'tick')]
>>> log.close()
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from triage_queue.errors import InvalidArgument
from triage_queue.shared.log import Entry, StoredSnapshot

__all__ = ["SqliteLog"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (position INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, command TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (position INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (id TEXT PRIMARY KEY, time REAL NOT NULL, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
"""

_POLL_FIRST = 0.0005  # seconds between polls while blocking, doubling up to _POLL_MAX
_POLL_MAX = 0.01


def _dumps(data: Mapping[str, Any], field: str) -> str:
    try:
        return json.dumps(data, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(field, data, f"expected JSON data: {exc}"[:300]) from None


def _path_of(path: str | os.PathLike[str]) -> str:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise InvalidArgument("path", path, "expected a file path or a sqlite:///path URL")
    if path.startswith("sqlite:"):
        if not path.startswith("sqlite:///") or len(path) == len("sqlite:///"):
            raise InvalidArgument("path", path, "expected a URL of the form sqlite:///relative/path or sqlite:////absolute/path")
        path = path[len("sqlite:///") :]
    elif "://" in path:
        raise InvalidArgument("path", path, "not a SQLite path: expected a file path or a sqlite:///path URL")
    if path == ":memory:":
        raise InvalidArgument("path", path, "an in-memory database cannot be shared: give a file path")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InvalidArgument("path", path, f"the folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise InvalidArgument("path", path, "is a folder, not a database file")
    return path


class SqliteLog:
    """A :class:`~triage_queue.shared.Log` in one SQLite file.

    ``path`` is a file path or a ``sqlite:///path`` URL (the folder must
    exist; the file is created).  ``clock`` gives the wall-clock time of an
    append; a command's time is ``max(clock(), time of the last entry)``,
    read and written in the same write transaction, so time never goes back
    along the log even if the clocks of the processes sharing it disagree.
    ``snapshots_kept``: how many snapshots :meth:`store_snapshot` keeps.

    Positions are row ids that are never reused (``AUTOINCREMENT``), also
    after :meth:`trim`.  Each thread uses its own connection.

    Runtime complexity: see each method; every write is one transaction
    (one ``fsync`` of the WAL with ``synchronous=FULL``).
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time, snapshots_kept: int = 2) -> None:
        """Runtime complexity: O(1)."""
        self._path = _path_of(path)
        if not callable(clock):
            raise InvalidArgument("clock", clock, "expected a callable returning seconds")
        if isinstance(snapshots_kept, bool) or not isinstance(snapshots_kept, int) or not 1 <= snapshots_kept <= 1000:
            raise InvalidArgument("snapshots_kept", snapshots_kept, "expected an int from 1 to 1000")
        self._clock = clock
        self._kept = snapshots_kept
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        conn = self._conn()
        try:
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InvalidArgument("path", self._path, f"not a usable SQLite database: {exc}") from None

    @property
    def path(self) -> str:
        """The database file.  Runtime complexity: O(1)."""
        return self._path

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        if self._closed:
            raise InvalidArgument("log", self._path, "this log is closed")
        try:
            conn = sqlite3.connect(self._path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as exc:
            raise InvalidArgument("path", self._path, f"cannot open the database: {exc}") from None
        self._local.conn = conn
        self._local.pid = os.getpid()  # a forked child opens its own
        with self._all_lock:
            self._all.append(conn)
        return conn

    # -- the log ----------------------------------------------------------------

    def append(self, command: Mapping[str, Any]) -> Entry:
        """Append ``command`` (JSON data) in one write transaction; return
        its entry.  Runtime complexity: O(log N) plus one fsync.

        >>> import os, tempfile
        >>> log = SqliteLog(os.path.join(tempfile.mkdtemp(), "d.db"), clock=lambda: 1.0)
        >>> log.append({"op": "tick"}).time
        1.0
        """
        if not isinstance(command, Mapping):
            raise InvalidArgument("command", command, "expected a mapping of JSON data")
        text = _dumps(command, "command")
        return self._append_text([text])[0]

    def append_many(self, commands: Sequence[Mapping[str, Any]]) -> list[Entry]:
        """Append several commands in one transaction (one fsync), in order.
        Runtime complexity: O(k log N) for k commands.

        >>> import os, tempfile
        >>> log = SqliteLog(os.path.join(tempfile.mkdtemp(), "d.db"), clock=lambda: 1.0)
        >>> [e.position for e in log.append_many([{"op": "tick"}, {"op": "tick"}])]
        [1, 2]
        """
        texts = []
        for command in commands:
            if not isinstance(command, Mapping):
                raise InvalidArgument("command", command, "expected a mapping of JSON data")
            texts.append(_dumps(command, "command"))
        return self._append_text(texts) if texts else []

    def _append_text(self, texts: list[str]) -> list[Entry]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            # The last entry's time; after a trim emptied the log, the time kept in meta.
            row = conn.execute("SELECT time FROM entries ORDER BY position DESC LIMIT 1").fetchone()
            if row is None:
                row = conn.execute("SELECT value FROM meta WHERE key = 'time'").fetchone()
            last = row[0] if row is not None else -math.inf
            now = self._clock()
            if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
                raise InvalidArgument("clock", now, "the log's clock must give finite seconds")
            now = float(now)
            now = max(now, last)
            entries = []
            for text in texts:
                cursor = conn.execute("INSERT INTO entries (time, command) VALUES (?, ?)", (now, text))
                position = cursor.lastrowid
                assert position is not None
                entries.append(Entry(position, now, json.loads(text)))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return entries

    def read(self, after: int, *, limit: int = 1000, block: float | None = None) -> Sequence[Entry]:
        """Up to ``limit`` entries after position ``after``, in order; with
        ``block`` seconds, poll (every 0.5 to 10 ms) until one is there.
        Runtime complexity: O(log N + limit).
        """
        if isinstance(after, bool) or not isinstance(after, int):
            raise InvalidArgument("after", after, "expected a position (an int)")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgument("limit", limit, "expected an int >= 1")
        conn = self._conn()
        query = "SELECT position, time, command FROM entries WHERE position > ? ORDER BY position LIMIT ?"
        rows = conn.execute(query, (after, limit)).fetchall()
        if not rows and block:
            deadline = time.monotonic() + block
            pause = _POLL_FIRST
            while not rows:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(pause, left))
                pause = min(pause * 2, _POLL_MAX)
                rows = conn.execute(query, (after, limit)).fetchall()
        if not rows:
            return []
        # One parse for the whole batch: far cheaper than one per entry.
        commands = json.loads("[" + ",".join([row[2] for row in rows]) + "]")
        return [Entry(row[0], row[1], command) for row, command in zip(rows, commands, strict=True)]

    def last_position(self) -> int:
        """The position of the last entry ever appended that is still kept
        (0 when none).  Runtime complexity: O(log N)."""
        row = self._conn().execute("SELECT MAX(position) FROM entries").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def first_position(self) -> int:
        """The position of the oldest entry kept, or 0.  Runtime complexity: O(log N)."""
        row = self._conn().execute("SELECT MIN(position) FROM entries").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def trim(self, through: int) -> int:
        """Drop the entries at or before ``through`` (and the results
        published before the last of them); return how many entries were
        dropped.  Runtime complexity: O(dropped)."""
        if isinstance(through, bool) or not isinstance(through, int):
            raise InvalidArgument("through", through, "expected a position (an int)")
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT MAX(time) FROM entries WHERE position <= ?", (through,)).fetchone()
            dropped = conn.execute("DELETE FROM entries WHERE position <= ?", (through,)).rowcount
            if row and row[0] is not None:
                conn.execute("DELETE FROM results WHERE time < ?", (row[0],))
                # Kept so that time never goes back even if every entry is dropped.
                kept = conn.execute("SELECT value FROM meta WHERE key = 'time'").fetchone()
                latest = row[0] if kept is None else max(row[0], kept[0])
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('time', ?)", (latest,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return int(dropped)

    # -- snapshots ----------------------------------------------------------------

    def store_snapshot(self, position: int, data: Mapping[str, Any]) -> None:
        """Keep ``data`` as the snapshot through ``position`` (replacing one
        at the same position) and drop all but the newest ``snapshots_kept``.
        Runtime complexity: O(size of data)."""
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise InvalidArgument("position", position, "expected a position (an int >= 0)")
        if not isinstance(data, Mapping):
            raise InvalidArgument("data", data, "expected a mapping of JSON data")
        text = _dumps(data, "data")
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT OR REPLACE INTO snapshots (position, data) VALUES (?, ?)", (position, text))
            conn.execute(
                "DELETE FROM snapshots WHERE position NOT IN (SELECT position FROM snapshots ORDER BY position DESC LIMIT ?)",
                (self._kept,),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def load_snapshot(self) -> StoredSnapshot | None:
        """The newest snapshot, or None.  Runtime complexity: O(size of data)."""
        row = self._conn().execute("SELECT position, data FROM snapshots ORDER BY position DESC LIMIT 1").fetchone()
        return None if row is None else StoredSnapshot(int(row[0]), json.loads(row[1]))

    def snapshot_positions(self) -> list[int]:
        """The positions of the snapshots kept, oldest first.  Runtime complexity: O(kept)."""
        return [int(r[0]) for r in self._conn().execute("SELECT position FROM snapshots ORDER BY position")]

    # -- results ------------------------------------------------------------------

    def publish_result(self, command_id: str, result: Mapping[str, Any]) -> bool:
        """Record a command's result; the first writer wins.  Return whether
        this call wrote it.  Runtime complexity: O(log R) plus one fsync."""
        return self.publish_results([(command_id, result)]) == 1

    def publish_results(self, results: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
        """:meth:`publish_result` for many results in one transaction;
        return how many were written.

        Results are written without waiting for an fsync
        (``synchronous=NORMAL`` for this one transaction; WAL order still
        holds, and the next command appended with ``synchronous=FULL`` makes
        them durable too): a result is only a copy of what every replica
        computes from the durable log, and a replica that catches up after
        a crash publishes the results of the commands it applies again, so
        a client that retries after a power loss still gets its result.
        This spares a desk server one fsync per batch of thin clients'
        commands.

        Runtime complexity: O(k log R)."""
        rows = []
        now = self._clock()
        for command_id, result in results:
            if not isinstance(command_id, str):
                raise InvalidArgument("command_id", command_id, "expected a string")
            rows.append((command_id, float(now), _dumps(result, "result")))
        if not rows:
            return 0
        conn = self._conn()
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                before = conn.total_changes
                conn.executemany("INSERT OR IGNORE INTO results (id, time, result) VALUES (?, ?, ?)", rows)
                written = conn.total_changes - before
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute("PRAGMA synchronous=FULL")
        return written

    def fetch_result(self, command_id: str, *, block: float | None = None) -> Mapping[str, Any] | None:
        """The published result of ``command_id``, polling up to ``block``
        seconds; None if there is none.  Runtime complexity: O(log R) per poll."""
        if not isinstance(command_id, str):
            raise InvalidArgument("command_id", command_id, "expected a string")
        conn = self._conn()
        query = "SELECT result FROM results WHERE id = ?"
        row = conn.execute(query, (command_id,)).fetchone()
        if row is None and block:
            deadline = time.monotonic() + block
            pause = _POLL_FIRST
            while row is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(pause, left))
                pause = min(pause * 2, _POLL_MAX)
                row = conn.execute(query, (command_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def close(self) -> None:
        """Close every connection this object opened.  Idempotent.
        Runtime complexity: O(threads)."""
        self._closed = True
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.ProgrammingError):
                conn.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SqliteLog({self._path!r})"
