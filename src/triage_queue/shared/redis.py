"""The Redis engine of a shared desk: :class:`RedisLog`, the log on a Redis
stream (many processes on many hosts).

Needs the ``redis`` extra (``pip install 'triage-queue[redis]'``: redis-py,
and hiredis to parse replies faster).  Only this module imports redis-py;
the core never does, and ``triage_queue.shared`` imports this module only
when ``RedisLog`` is first named.

Layout, for a desk called ``NAME`` (the braces make every key of one desk
live in the same Redis Cluster slot):

``tq:{NAME}:log``
    The stream.  Each entry has one field, ``c``, the command as compact
    JSON.  Appends use ``XADD *``, so Redis stamps the entry with its own
    clock: the id ``ms-seq`` gives the position ``ms << 20 | seq`` and the
    time ``ms / 1000`` (never decreasing along the stream, even if the
    server's clock steps back).
``tq:{NAME}:snapshots``
    A hash from a position (decimal) to a snapshot (JSON): the newest
    ``snapshots_kept`` are kept.
``tq:{NAME}:result:ID``
    A list holding the one published result of command ``ID`` (JSON); the
    first writer creates it, later writers leave it alone, and it expires
    ``result_ttl`` seconds after it was written.  A thin client waiting for
    it blocks on the list (``BLMOVE`` from the list to itself, which reads
    without removing), so it wakes as soon as the result lands, with no
    polling and no subscription to keep.

Connection failures (refused, reset, timed out, server loading its data
after a restart) raise :class:`RedisLogConnectionError`, which is both
redis-py's ``redis.exceptions.ConnectionError`` and Python's built-in
``ConnectionError`` (an ``OSError``): retry the call once the server is
back, with the same command id (the desk applies a command once).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn
from urllib.parse import urlsplit

from triage_queue.errors import InvalidArgument, InvalidValue
from triage_queue.shared.log import POSITION_SEQ_BITS, Entry, StoredSnapshot

try:
    import redis
    import redis.exceptions
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("triage_queue.shared.RedisLog needs redis-py: pip install 'triage-queue[redis]'") from exc

__all__ = ["RedisLog", "RedisLogConnectionError"]


_SEQ_MASK = (1 << POSITION_SEQ_BITS) - 1
_DECODE = json.JSONDecoder().decode
_NAME = re.compile(r"[A-Za-z0-9._:-]{1,200}")
_MAX_COMMAND_ID = 256
# A blocking call waits in slices of at most this long, so that a client's
# socket timeout (redis-py's default is 5 s) never fires during a long wait.
_BLOCK_SLICE = 1.0

# Append the commands ARGV[2..] atomically and contiguously, and refuse
# (removing what this call added, in the same step) an id whose sequence
# part does not fit in POSITION_SEQ_BITS bits (ARGV[1] is 2**bits): that
# happens only when more than a million entries share one millisecond, for
# instance after the server's clock stepped back a long way under load.
_APPEND = """
local ids = {}
local limit = tonumber(ARGV[1])
for i = 2, #ARGV do
  local id = redis.call('XADD', KEYS[1], '*', 'c', ARGV[i])
  ids[#ids + 1] = id
  if tonumber(string.match(id, '-(%d+)$')) >= limit then
    for _, added in ipairs(ids) do redis.call('XDEL', KEYS[1], added) end
    return redis.error_reply('TQSEQ ' .. id)
  end
end
return ids
"""

# First writer wins: create the result list only if it does not exist yet.
_PUBLISH = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class RedisLogConnectionError(redis.exceptions.ConnectionError, ConnectionError):
    """Redis could not be reached (refused, reset, timed out, or still
    loading its data after a restart).  Both redis-py's
    ``ConnectionError`` and Python's built-in ``ConnectionError``; the
    original exception is chained as ``__cause__``.  Retry the call later.

    >>> issubclass(RedisLogConnectionError, ConnectionError), issubclass(RedisLogConnectionError, OSError)
    (True, True)
    """


def _connection_lost(exc: Exception) -> NoReturn:
    raise RedisLogConnectionError(f"redis unreachable: {exc}") from exc


_LOST = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, TimeoutError)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _encode(field: str, value: Any) -> str:
    if not isinstance(value, Mapping):
        raise InvalidArgument(field, value, "expected a mapping of plain JSON data")
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidArgument(field, value, f"expected plain JSON data (never pickle): {exc}") from None


def _position(stream_id: str) -> int:
    ms, _, seq = stream_id.partition("-")
    s = int(seq)
    if s > _SEQ_MASK:
        raise InvalidValue("stream id", stream_id, f"sequence {s} does not fit in {POSITION_SEQ_BITS} bits of a position")
    return int(ms) << POSITION_SEQ_BITS | s


def _stream_id(position: int) -> str:
    return f"{position >> POSITION_SEQ_BITS}-{position & _SEQ_MASK}"


def _check_position(field: str, value: Any) -> int:
    if value.__class__ is not int or value < 0:
        raise InvalidArgument(field, value, "expected a log position, an int >= 0")
    return int(value)


def _check_block(value: Any) -> float | None:
    if value is None:
        return None
    if value.__class__ not in (int, float) or not math.isfinite(value) or value < 0:
        raise InvalidArgument("block", value, "expected None or a finite number of seconds >= 0")
    return float(value)


def _check_command_id(value: Any) -> str:
    if value.__class__ is not str or not 0 < len(value) <= _MAX_COMMAND_ID:
        raise InvalidArgument("command_id", value, f"expected a non-empty string of at most {_MAX_COMMAND_ID} characters")
    return str(value)


class RedisLog:
    """The log of the shared desk ``name`` on a Redis stream, through the
    redis-py ``client`` given (or :meth:`from_url`).  Implements
    :class:`~triage_queue.shared.Log`; safe to share between threads (each
    call takes a connection from the client's pool) and usable after
    ``fork`` (redis-py opens new connections in the child).

    ``snapshots_kept`` (>= 1) is how many snapshots are kept; ``result_ttl``
    (seconds, > 0) how long a published result stays readable: long enough
    for a thin client to retry after a reconnect, short enough that results
    do not pile up (about 150 bytes each, so ``rate * result_ttl`` of them).

    Runtime complexity: O(1) to create (no round trip).

    >>> import redis
    >>> log = RedisLog(redis.Redis(), "helpdesk")
    >>> log.stream_key
    'tq:{helpdesk}:log'
    >>> RedisLog(redis.Redis(), "no spaces")
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: name='no spaces': expected 1 to 200 characters among A-Z a-z 0-9 . _ : -
    """

    __slots__ = (
        "_append_script",
        "_block_slice",
        "_client",
        "_closed",
        "_owns_client",
        "_publish_script",
        "_result_ttl_ms",
        "name",
        "result_prefix",
        "snapshot_key",
        "snapshots_kept",
        "stream_key",
    )

    def __init__(
        self, client: redis.Redis, name: str, *, snapshots_kept: int = 2, result_ttl: float = 120.0, _owns_client: bool = False
    ) -> None:
        if name.__class__ is not str or not _NAME.fullmatch(name):
            raise InvalidArgument("name", name, "expected 1 to 200 characters among A-Z a-z 0-9 . _ : -")
        if snapshots_kept.__class__ is not int or snapshots_kept < 1:
            raise InvalidArgument("snapshots_kept", snapshots_kept, "expected an int >= 1")
        if result_ttl.__class__ not in (int, float) or not math.isfinite(result_ttl) or result_ttl < 0.001:
            raise InvalidArgument("result_ttl", result_ttl, "expected a finite number of seconds >= 0.001")
        if not isinstance(client, redis.Redis):
            raise InvalidArgument("client", client, "expected a redis.Redis client")
        self._client = client
        self.name = name
        self.stream_key = f"tq:{{{name}}}:log"
        self.snapshot_key = f"tq:{{{name}}}:snapshots"
        self.result_prefix = f"tq:{{{name}}}:result:"
        self.snapshots_kept = snapshots_kept
        self._result_ttl_ms = max(1, round(result_ttl * 1000))
        self._owns_client = _owns_client
        self._closed = False
        self._append_script = client.register_script(_APPEND)
        self._publish_script = client.register_script(_PUBLISH)
        timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
        self._block_slice = _BLOCK_SLICE if not timeout else max(0.01, min(_BLOCK_SLICE, timeout / 2))

    @classmethod
    def from_url(
        cls, url: str, name: str, *, snapshots_kept: int = 2, result_ttl: float = 120.0, **client_options: Any
    ) -> RedisLog:
        """A log on the server at ``url``: ``redis://[user:password@]host[:port][/db]``,
        ``rediss://...`` (TLS) or ``unix:///path/to/socket[?db=N]``.

        The client it makes does not retry by itself (redis-py's default
        retries ten times with growing pauses, which hides an outage for
        seconds and may append a command twice): a failure raises
        :class:`RedisLogConnectionError` at once, and the caller decides.
        ``client_options`` go to ``redis.Redis.from_url`` (``retry``,
        ``socket_timeout``...).  :meth:`close` closes this client.

        Runtime complexity: O(len(url)); no round trip until first used.

        >>> RedisLog.from_url("redis://127.0.0.1:6379/0", "helpdesk").name
        'helpdesk'
        >>> RedisLog.from_url("http://127.0.0.1", "helpdesk")
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidArgument: url='http://127.0.0.1': expected redis://host[:port][/db], \
rediss://host[:port][/db] or unix:///path/to/socket
        """
        expected = "expected redis://host[:port][/db], rediss://host[:port][/db] or unix:///path/to/socket"
        if url.__class__ is not str or len(url) > 4096:
            raise InvalidArgument("url", url, expected)
        try:
            parts = urlsplit(url)
            if parts.scheme in ("redis", "rediss"):
                if not parts.hostname:
                    raise ValueError("no host")
                parts.port  # noqa: B018 - raises ValueError on a bad port
                path = parts.path.strip("/")
                if path and not path.isdigit():
                    raise ValueError(f"database {path!r} is not a number")
            elif parts.scheme == "unix":
                if not parts.path:
                    raise ValueError("no socket path")
            else:
                raise ValueError("unknown scheme")
            options: dict[str, Any] = {"retry": Retry(NoBackoff(), 0), "socket_connect_timeout": 5.0}
            options.update(client_options)
            client = redis.Redis.from_url(url, **options)
        except ValueError as exc:
            reason = expected if str(exc) == "unknown scheme" else f"{expected} ({exc})"
            raise InvalidArgument("url", url, reason) from None
        try:
            return cls(client, name, snapshots_kept=snapshots_kept, result_ttl=result_ttl, _owns_client=True)
        except BaseException:
            client.close()
            raise

    @property
    def client(self) -> redis.Redis:
        """The redis-py client.  O(1).

        >>> import redis
        >>> client = redis.Redis()
        >>> RedisLog(client, "d").client is client
        True
        """
        return self._client

    # --- appending and reading -------------------------------------------------

    def append(self, command: Mapping[str, Any]) -> Entry:
        """Append ``command`` (a mapping of plain JSON data) at the end of
        the log in one round trip; return its entry, whose command is the
        JSON round trip of ``command`` (what every reader gets).

        Runtime complexity: O(size of command).
        """
        return self.append_many([command])[0]

    def append_many(self, commands: Iterable[Mapping[str, Any]]) -> list[Entry]:
        """Append ``commands`` in order, in one round trip and one atomic
        step: they land contiguously (no other client's append between
        them), or none does.  Every command is checked before anything is
        sent.  Redis is busy for the whole batch: keep batches to a few
        thousand.  Not part of :class:`~triage_queue.shared.Log` (both
        engines offer it: a speed-up for batching clients).

        Runtime complexity: O(total size of the commands).
        """
        texts = [_encode("command", command) for command in commands]
        if not texts:
            return []
        try:
            ids = self._append_script(keys=[self.stream_key], args=[1 << POSITION_SEQ_BITS, *texts])
        except _LOST as exc:
            _connection_lost(exc)
        except redis.exceptions.ResponseError as exc:
            if "TQSEQ" in str(exc):
                raise InvalidValue(
                    "stream id",
                    str(exc).split()[-1],
                    f"more than 2**{POSITION_SEQ_BITS} entries in one millisecond of the server's clock (it stepped back?): "
                    "nothing was appended; retry once the clock has caught up",
                ) from None
            raise
        entries = []
        for stream_id, text in zip(ids, texts, strict=True):
            ms = _text(stream_id).partition("-")[0]
            entries.append(Entry(_position(_text(stream_id)), int(ms) / 1000, json.loads(text)))
        return entries

    def read(self, after: int, *, limit: int = 1000, block: float | None = None) -> Sequence[Entry]:
        """Up to ``limit`` entries after position ``after``, in log order (one
        ``XREAD``); with ``block`` seconds, wait that long at most for the
        first one.

        Runtime complexity: O(limit + log(n)).
        """
        _check_position("after", after)
        if limit.__class__ is not int or limit < 1:
            raise InvalidArgument("limit", limit, "expected an int >= 1")
        wait = _check_block(block)
        start = _stream_id(after)
        deadline = None if not wait else time.monotonic() + wait
        try:
            while True:
                if deadline is None:
                    reply = self._client.xread({self.stream_key: start}, count=limit)
                else:
                    left = deadline - time.monotonic()
                    ms = max(1, round(min(left, self._block_slice) * 1000))
                    reply = self._client.xread({self.stream_key: start}, count=limit, block=ms)
                if reply or deadline is None or time.monotonic() >= deadline:
                    break
        except _LOST as exc:
            _connection_lost(exc)
        if not reply:
            return []
        got: Any = reply
        # RESP2: [[key, [(id, fields), ...]]]; RESP3: {key: [[(id, fields), ...]]}.
        rows = next(iter(got.values()))[0] if isinstance(got, dict) else got[0][1]
        return self._entries(rows)

    def _entries(self, rows: Iterable[tuple[Any, Any]]) -> list[Entry]:
        # The replay path: about 4 us per entry, mostly json decoding.
        decode, bits, mask = _DECODE, POSITION_SEQ_BITS, _SEQ_MASK
        entries: list[Entry] = []
        append = entries.append
        for stream_id, fields in rows:
            sid = stream_id.decode() if stream_id.__class__ is bytes else stream_id
            ms, _, seq = sid.partition("-")
            m, s = int(ms), int(seq)
            if s > mask:
                _position(sid)  # raises, saying why
            raw = fields.get(b"c") or fields.get("c")
            try:
                command = decode(raw.decode() if raw.__class__ is bytes else raw)
            except (AttributeError, TypeError, ValueError):
                command = None
            if command.__class__ is not dict:
                raise InvalidValue("entry", sid, f"{self.stream_key} holds an entry that is not a command")
            append(Entry(m << bits | s, m / 1000, command))
        return entries

    def _edge(self, newest: bool) -> int:
        try:
            rows: Any = (
                self._client.xrevrange(self.stream_key, count=1) if newest else self._client.xrange(self.stream_key, count=1)
            )
        except _LOST as exc:
            _connection_lost(exc)
        return _position(_text(rows[0][0])) if rows else 0

    def last_position(self) -> int:
        """The position of the last entry, or 0 when the log has none (also
        after everything was trimmed).  Runtime complexity: O(1), one round trip."""
        return self._edge(newest=True)

    def first_position(self) -> int:
        """The position of the oldest entry kept, or 0 when none.
        Runtime complexity: O(1), one round trip."""
        return self._edge(newest=False)

    def trim(self, through: int) -> int:
        """Drop the entries at or before position ``through`` (``XTRIM
        MINID``); return how many were dropped.  Later appends never reuse
        a dropped position.  Runtime complexity: O(dropped)."""
        _check_position("through", through)
        try:
            return int(self._client.xtrim(self.stream_key, minid=_stream_id(through + 1), approximate=False))
        except _LOST as exc:
            _connection_lost(exc)

    # --- snapshots -------------------------------------------------------------

    def store_snapshot(self, position: int, data: Mapping[str, Any]) -> None:
        """Keep ``data`` as the snapshot covering the log up to ``position``;
        drop all but the newest ``snapshots_kept`` (concurrent writers never
        drop one of the newest).  Runtime complexity: O(size of data), two
        round trips."""
        _check_position("position", position)
        text = _encode("data", data)
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.hset(self.snapshot_key, str(position), text)
            pipe.hkeys(self.snapshot_key)
            _, keys = pipe.execute()
            old = sorted((int(_text(k)) for k in keys), reverse=True)[self.snapshots_kept :]
            if old:
                self._client.hdel(self.snapshot_key, *(str(p) for p in old))
        except _LOST as exc:
            _connection_lost(exc)

    def load_snapshot(self) -> StoredSnapshot | None:
        """The newest snapshot kept, or ``None``.  Runtime complexity:
        O(size of data), two round trips."""
        try:
            for _ in range(10):
                keys = self._client.hkeys(self.snapshot_key)
                if not keys:
                    return None
                newest = max(int(_text(k)) for k in keys)
                text = self._client.hget(self.snapshot_key, str(newest))
                if text is not None:  # else dropped meanwhile by a newer one: look again
                    return StoredSnapshot(newest, json.loads(text))
        except _LOST as exc:
            _connection_lost(exc)
        return None  # pragma: no cover - ten snapshots stored during one load

    def snapshot_positions(self) -> list[int]:
        """The positions of the snapshots kept, oldest first (for tests and
        operators).  Runtime complexity: O(snapshots_kept)."""
        try:
            return sorted(int(_text(k)) for k in self._client.hkeys(self.snapshot_key))
        except _LOST as exc:
            _connection_lost(exc)

    # --- results for thin clients ----------------------------------------------

    def publish_result(self, command_id: str, result: Mapping[str, Any]) -> bool:
        """Record ``result`` for command ``command_id`` unless a result is
        already there (first writer wins, atomically); wake every client
        waiting for it.  Return whether this call wrote it.  Runtime
        complexity: O(size of result), one round trip."""
        key = self.result_prefix + _check_command_id(command_id)
        text = _encode("result", result)
        try:
            return bool(self._publish_script(keys=[key], args=[text, self._result_ttl_ms]))
        except _LOST as exc:
            _connection_lost(exc)

    def fetch_result(self, command_id: str, *, block: float | None = None) -> Mapping[str, Any] | None:
        """The result published for ``command_id``, waiting up to ``block``
        seconds for it (woken by the publisher, no polling); ``None`` when
        there is none yet.  Runtime complexity: O(size of result)."""
        key = self.result_prefix + _check_command_id(command_id)
        wait = _check_block(block)
        try:
            text = self._client.lindex(key, 0)
            if text is None and wait:
                deadline = time.monotonic() + wait
                while text is None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    # BLMOVE from the list to itself: wakes on the push and
                    # leaves the result in place for other waiters.
                    timeout: Any = min(left, self._block_slice)  # seconds, a float (typed int)
                    text = self._client.blmove(key, key, timeout, "RIGHT", "LEFT")
        except _LOST as exc:
            _connection_lost(exc)
        return None if text is None else dict(json.loads(text))

    def publish_results(self, results: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
        """:meth:`publish_result` for many results in one round trip (a
        pipeline; each one first writer wins); return how many this call
        wrote.  A replica publishes a whole batch's results this way.  Not
        part of :class:`~triage_queue.shared.Log` (both engines offer it).
        Runtime complexity: O(total size of the results), one round trip.
        """
        rows = [(self.result_prefix + _check_command_id(cid), _encode("result", result)) for cid, result in results]
        if not rows:
            return 0
        try:
            pipe = self._client.pipeline(transaction=False)
            for key, text in rows:
                pipe.eval(_PUBLISH, 1, key, text, self._result_ttl_ms)  # EVAL: never NOSCRIPT (Redis caches it by hash)
            return sum(int(written) for written in pipe.execute())
        except _LOST as exc:
            _connection_lost(exc)

    def publish_and_read(
        self, results: Sequence[tuple[str, Mapping[str, Any]]], after: int, *, limit: int = 1000, block: float | None = None
    ) -> Sequence[Entry]:
        """:meth:`publish_results` then :meth:`read`, in one round trip (one
        pipeline): a desk server publishes a batch's results and waits for
        the next batch at once.  Not part of :class:`~triage_queue.shared.Log`.

        Runtime complexity: O(size of the results + limit + log(n)).
        """
        _check_position("after", after)
        if limit.__class__ is not int or limit < 1:
            raise InvalidArgument("limit", limit, "expected an int >= 1")
        wait = _check_block(block)
        rows = [(self.result_prefix + _check_command_id(cid), _encode("result", result)) for cid, result in results]
        started = time.monotonic()
        try:
            pipe = self._client.pipeline(transaction=False)
            for key, text in rows:
                pipe.eval(_PUBLISH, 1, key, text, self._result_ttl_ms)  # EVAL: never NOSCRIPT (Redis caches it by hash)
            if wait:
                pipe.xread(
                    {self.stream_key: _stream_id(after)}, count=limit, block=max(1, round(min(wait, self._block_slice) * 1000))
                )
            else:
                pipe.xread({self.stream_key: _stream_id(after)}, count=limit)
            reply: Any = pipe.execute()[-1]
        except _LOST as exc:
            _connection_lost(exc)
        if not reply:
            left = None if not wait else wait - (time.monotonic() - started)
            return self.read(after, limit=limit, block=left) if left is not None and left > 0 else []
        rows_read = next(iter(reply.values()))[0] if isinstance(reply, dict) else reply[0][1]
        return self._entries(rows_read)

    def append_and_fetch(self, command: Mapping[str, Any], *, block: float) -> Mapping[str, Any] | None:
        """Append ``command`` and wait up to ``block`` seconds for the result
        a replica publishes for it (:meth:`fetch_result` of its ``id``), in
        one round trip: the append and a blocking read of the result go in
        one pipeline, so a thin client pays one round trip per command.
        ``None`` when no result came in time.  Not part of
        :class:`~triage_queue.shared.Log`.

        Runtime complexity: O(size of command + size of result).
        """
        text = _encode("command", command)
        key = self.result_prefix + _check_command_id(command.get("id"))
        wait = _check_block(block) or 0.0
        deadline = time.monotonic() + wait
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.eval(_APPEND, 1, self.stream_key, 1 << POSITION_SEQ_BITS, text)
            first: Any = max(0.001, min(wait, self._block_slice))  # seconds, a float (typed int)
            pipe.blmove(key, key, first, "RIGHT", "LEFT")
            found = pipe.execute()[1]
        except redis.exceptions.ResponseError as exc:
            if "TQSEQ" in str(exc):
                raise InvalidValue(
                    "stream id", str(exc).split()[-1], "too many entries in one millisecond: nothing was appended"
                ) from None
            raise
        except _LOST as exc:
            _connection_lost(exc)
        if found is not None:
            return dict(json.loads(found))
        left = deadline - time.monotonic()
        return self.fetch_result(command["id"], block=left) if left > 0 else self.fetch_result(command["id"])

    def close(self) -> None:
        """Close the client if :meth:`from_url` made it (a client passed in
        stays the caller's).  Idempotent.  Runtime complexity: O(connections)."""
        if not self._closed:
            self._closed = True
            if self._owns_client:
                self._client.close()

    def __enter__(self) -> RedisLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RedisLog({self.name!r})"
