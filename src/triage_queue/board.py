"""A live board for supervisors: one web page that shows a desk now.

Waiting tickets by class with the oldest wait, SLA at risk and breached,
agents with their status and load (and any further per-agent figures the
desk reports, such as strain), overflow when the desk reports it, the
waiting tickets in service order and the recent events.  The page updates
live through server-sent events (``/events``, fed by the desk's
``subscribe()``) and polls ``/state`` (JSON) as a fallback.

Standard library only (:mod:`http.server`); the core never imports this
module.  Serve it on its own thread::

    server = Board(desk).serve()          # 127.0.0.1, a free port
    print(server.url)
    ...
    server.close()

or mount :func:`board_app` (a WSGI application) in your own web app.

>>> from triage_queue import Agent, Dispatcher, ManualClock, Ticket, TicketQueue
>>> desk = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana", status="away")])
>>> board = Board(desk, title="Support desk")
>>> desk.submit(Ticket("T-1", 0.0))
>>> board.state()["stats"]["by_class"]["normal"]["waiting"]
1
>>> board.close()
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import hashlib
import importlib.resources
import ipaddress
import itertools
import json
import logging
import math
import re
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, runtime_checkable

from triage_queue.errors import InvalidArgument, TriageError
from triage_queue.events import Event, EventKind
from triage_queue.stats import Statistics

__all__ = ["Board", "BoardApp", "BoardDesk", "BoardServer", "BoardStream", "board_app"]

_log = logging.getLogger("triage_queue.board")

MAX_PATH = 2048  # longest request target accepted (bytes of the path and query)
_MAX_TEXT = 300  # longest id or detail text sent to the page (cut with "...")
_MAX_IDS = 20  # ids listed per agent (offers, assigned) and per SLA list
_MAX_TRACKED = 100_000  # tickets remembered as at risk or breached


@runtime_checkable
class BoardDesk(Protocol):
    """What a board needs from a desk: ``stats()`` (a
    :class:`~triage_queue.Statistics`) and ``subscribe(listener)`` (returns
    a function that unsubscribes).  A :class:`~triage_queue.Dispatcher` is
    one.  The board also uses, when the desk has them, ``events`` (the
    recent audit trail, to start with), ``queue`` (the waiting tickets in
    service order, with ``holder(ticket_id)``), ``offers_for(agent_id)`` and
    ``assigned(agent_id)``.

    Runtime complexity: that of the desk's methods (the board calls
    ``stats()`` once per ``/state`` and ``subscribe`` once).

    >>> from triage_queue import Dispatcher
    >>> isinstance(Dispatcher(), BoardDesk)
    True
    """

    def stats(self) -> Statistics:
        """The desk's live figures.  Runtime complexity: the desk's.

        >>> from triage_queue import Dispatcher
        >>> Dispatcher().stats().overall.waiting
        0
        """
        ...  # pragma: no cover

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener(event)`` for every event; return an unsubscriber.
        Runtime complexity: the desk's.

        >>> from triage_queue import Dispatcher
        >>> unsubscribe = Dispatcher().subscribe(print); unsubscribe()
        """
        ...  # pragma: no cover


# -- the page -------------------------------------------------------------------


def _load_page() -> tuple[bytes, str]:
    text = importlib.resources.files("triage_queue").joinpath("board.html").read_text(encoding="utf-8")

    def digest(tag: str) -> str:
        match = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
        if match is None:  # pragma: no cover - the shipped page has both
            raise RuntimeError(f"board.html has no <{tag}>")
        return "'sha256-" + base64.b64encode(hashlib.sha256(match.group(1).encode("utf-8")).digest()).decode("ascii") + "'"

    # Only the page's own inline script and style may run: nothing injected
    # into it could execute, load an image or send data elsewhere.
    policy = (
        f"default-src 'none'; script-src {digest('script')}; style-src {digest('style')}; "
        "connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return text.encode("utf-8"), policy


@functools.cache
def _page() -> tuple[bytes, str]:
    return _load_page()  # read once, on first use


def _common_headers() -> list[tuple[str, str]]:
    return [
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ]


class _Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: HTTPStatus, headers: list[tuple[str, str]], body: bytes | BoardStream) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def _text(status: HTTPStatus, message: str) -> _Response:
    body = (message + "\n").encode("utf-8")
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *_common_headers()]
    return _Response(status, headers, body)


# -- plain data for the page ---------------------------------------------------


def _cut(value: Any) -> Any:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _event_data(event: Event) -> dict[str, Any]:
    # What the page shows of an event: no ``changes`` (any size), texts cut.
    return {
        "kind": event.kind.value,
        "time": _number(event.time),
        "seq": event.seq,
        "ticket_id": _cut(event.ticket_id),
        "agent_id": _cut(event.agent_id),
        "offer_id": _cut(event.offer_id),
        "detail": _cut(event.detail),
    }


def _json(data: Any) -> bytes:
    return json.dumps(data, allow_nan=False, separators=(",", ":"), default=str).encode("utf-8")


def _finite(data: Any, cut: bool = False) -> Any:
    # The same data with every non-finite float (a difference of extreme
    # times, a figure of the desk's stats) as None: JSON has no inf or NaN.
    # With ``cut``, every text (mapping keys too: agent ids, class names) is
    # cut at _MAX_TEXT characters, as everything else sent to the page.
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, str):
        return _cut(data) if cut else data
    if isinstance(data, dict):
        return {(_cut(key) if cut and isinstance(key, str) else key): _finite(value, cut) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value, cut) for value in data]
    return data


def _check_count(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(name, value, f"expected an int from {low} to {high:_}")
    return value


def _check_seconds(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidArgument(name, value, f"expected seconds from {low:g} to {high:g}")
    return float(value)


# -- the board ------------------------------------------------------------------


class Board:
    """A live board over a desk (any :class:`BoardDesk`, such as a
    :class:`~triage_queue.Dispatcher`).

    It subscribes to the desk at once and keeps, in bounded memory, the last
    ``buffer`` events (for the live stream and the ``recent`` shown) and the
    tickets that had an SLA warning or breach and are not yet answered.  The
    figures themselves are read from the desk at each request.

    Options: ``title`` (the page's heading); ``recent``: events shown;
    ``tickets``: waiting tickets listed (the first ones in service order);
    ``heartbeat``: seconds between keep-alive comments on an idle stream;
    ``max_clients``: live streams at once (more get 503 and poll);
    ``buffer``: events kept for streams that fall behind (at least
    ``recent``; a client further behind is told to reload the state);
    ``cache``: seconds a computed ``/state`` is reused for other requests
    while no event arrived.

    Serving: :meth:`serve` runs an HTTP server on its own thread;
    :meth:`wsgi` (or :func:`board_app`) gives a WSGI application to mount;
    :meth:`handler_class` an :mod:`http.server` handler class.  Reading:
    :meth:`state` is what ``/state`` returns.  :meth:`close` unsubscribes
    and ends the live streams.

    SLA at risk and breached come from the desk's ``sla_warning`` and
    ``sla_breached`` events (a ticket leaves the lists when it is accepted,
    completed or cancelled, or its deadline changes): a desk made without
    ``sla_warning`` has none at risk.  The board starts from the desk's
    recent ``events``, so it knows what happened before it was made, as far
    back as the desk's audit trail goes.

    Runtime complexity: construction O(E) for E events in the desk's audit
    trail; each event heard O(1) (the listener runs on the desk's calling
    thread: it only records the event and wakes the streams); :meth:`state`
    O(stats() + n log n) for n waiting tickets (the queue's snapshot).

    >>> from triage_queue import Agent, Dispatcher, ManualClock, Ticket, TicketQueue
    >>> desk = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana")])
    >>> with Board(desk) as board:
    ...     _ = desk.submit(Ticket("T-1", 0.0))
    ...     [a["id"] for a in board.state()["agents"]], [e["kind"] for e in board.state()["recent"]][-2:]
    (['ana'], ['submitted', 'offered'])
    """

    def __init__(
        self,
        desk: BoardDesk,
        *,
        title: str = "triage-queue board",
        recent: int = 50,
        tickets: int = 50,
        heartbeat: float = 15.0,
        max_clients: int = 32,
        buffer: int = 1024,
        cache: float = 0.25,
    ) -> None:
        """Runtime complexity: O(E) for E events in the desk's audit trail."""
        if not callable(getattr(desk, "stats", None)) or not callable(getattr(desk, "subscribe", None)):
            raise InvalidArgument("desk", desk, "expected a desk with stats() and subscribe(listener), such as a Dispatcher")
        if not isinstance(title, str) or not 0 < len(title) <= 200:
            raise InvalidArgument("title", title, "expected a non-empty string of at most 200 characters")
        self._recent = _check_count("recent", recent, 0, 1000)
        self._tickets = _check_count("tickets", tickets, 0, 1000)
        self._heartbeat = _check_seconds("heartbeat", heartbeat, 0.05, 300.0)
        self._max_clients = _check_count("max_clients", max_clients, 0, 1000)
        self._cache_seconds = _check_seconds("cache", cache, 0.0, 60.0)
        buffer = _check_count("buffer", buffer, 1, 1_000_000)
        self._desk = desk
        self._title = title
        self._epoch = secrets.token_hex(4)  # stream ids of another board are never taken for ours
        self._cond = threading.Condition(threading.Lock())
        self._ring: collections.deque[tuple[int, Event]] = collections.deque(maxlen=max(buffer, self._recent))
        self._count = 0  # events recorded; the last one's number
        self._at_risk: dict[str, None] = {}
        self._breached: dict[str, None] = {}
        self._clients = 0
        self._closed = False
        self._early: list[Event] | None = []  # events heard before the history was read
        self._state_cache: tuple[int, float, bytes] | None = None
        self._unsubscribe = desk.subscribe(self._hear)
        try:
            history = [e for e in getattr(desk, "events", ()) if isinstance(e, Event)]
        except (TriageError, TypeError):  # no audit trail to read
            history = []
        with self._cond:
            early, self._early = self._early or [], None
            told = {e.seq for e in history}
            for event in itertools.chain(history, (e for e in early if e.seq not in told)):
                self._record(event)

    # -- events -----------------------------------------------------------------

    def _hear(self, event: Event) -> None:
        # The desk's listener: records and wakes; never blocks on a client.
        if not isinstance(event, Event):
            return
        with self._cond:
            if self._closed:
                return
            if self._early is not None:
                self._early.append(event)
                return
            self._record(event)
            self._cond.notify_all()

    def _record(self, event: Event) -> None:
        self._count += 1
        self._ring.append((self._count, event))
        ticket_id = event.ticket_id
        if ticket_id is None:
            return
        kind = event.kind
        if kind is EventKind.SLA_WARNING:
            if ticket_id not in self._breached:
                _remember(self._at_risk, ticket_id)
        elif kind is EventKind.SLA_BREACHED:
            self._at_risk.pop(ticket_id, None)
            _remember(self._breached, ticket_id)
        elif kind in _ANSWERED or (kind is EventKind.UPDATED and event.changes is not None and "sla_due" in event.changes):
            self._at_risk.pop(ticket_id, None)
            self._breached.pop(ticket_id, None)

    # -- reading ----------------------------------------------------------------

    @property
    def title(self) -> str:
        """The page's heading.  Runtime complexity: O(1)."""
        return self._title

    @property
    def desk(self) -> BoardDesk:
        """The desk shown.  Runtime complexity: O(1)."""
        return self._desk

    def state(self) -> dict[str, Any]:
        """What ``/state`` returns, as plain JSON data: ``title``; ``now``
        (the desk's time); ``stats`` (``stats().to_dict()``, or None with the
        reason in ``stats_error``); ``agents`` (a list, in the desk's order:
        id, the agent's figures, and the ids of its pending ``offers`` and
        ``assigned`` tickets when the desk says); ``waiting`` (the first
        ``tickets`` waiting tickets in service order: id, severity, tier,
        skills, channel, seconds ``waited``, seconds until the SLA ``sla_in``,
        ``held_for``) and ``waiting_total``; ``sla`` (``at_risk`` and
        ``breached`` ids, the first 20, and their counts); ``recent``
        (events, oldest first) and ``cursor`` (events heard so far).

        Runtime complexity: O(stats() + A·(offers + assigned) + n log n).

        >>> from triage_queue import Dispatcher, ManualClock, TicketQueue
        >>> sorted(Board(Dispatcher(TicketQueue(clock=ManualClock(0.0)))).state())  # doctest: +NORMALIZE_WHITESPACE
        ['agents', 'cursor', 'now', 'recent', 'sla', 'stats', 'stats_error', 'title', 'waiting', 'waiting_total']
        """
        desk = self._desk
        with self._cond:
            cursor = self._count
        stats: Statistics | None = None
        stats_data: dict[str, Any] | None = None
        error: str | None = None
        try:
            stats = desk.stats()
            stats_data = _finite(stats.to_dict(), cut=True)
        except TriageError as exc:
            error = _cut(str(exc))
        queue = getattr(desk, "queue", None)
        now = stats.now if stats is not None else _desk_now(queue)
        agents = self._agents(stats)
        waiting: list[dict[str, Any]] = []
        total: int | None = None
        if queue is not None:
            with contextlib.suppress(TriageError, TypeError, AttributeError):  # not a TicketQueue after all
                total = len(queue)
                holder = getattr(queue, "holder", None)
                for ticket in itertools.islice(iter(queue), self._tickets):
                    waiting.append(_ticket_data(ticket, now, holder))
        with self._cond:
            at_risk, breached = list(self._at_risk), list(self._breached)
            recent = [_event_data(e) for _, e in itertools.islice(self._ring, max(0, len(self._ring) - self._recent), None)]
        return {
            "title": self._title,
            "now": _number(now),
            "stats": stats_data,
            "stats_error": error,
            "agents": agents,
            "waiting": waiting,
            "waiting_total": total,
            "sla": {
                "at_risk": [_cut(t) for t in at_risk[:_MAX_IDS]],
                "at_risk_count": len(at_risk),
                "breached": [_cut(t) for t in breached[:_MAX_IDS]],
                "breached_count": len(breached),
            },
            "recent": recent if self._recent else [],
            "cursor": cursor,
        }

    def _agents(self, stats: Statistics | None) -> list[dict[str, Any]]:
        desk = self._desk
        rows: list[dict[str, Any]] = []
        if stats is not None:
            for agent_id, figures in stats.agents.items():
                rows.append({"id": _cut(agent_id), **figures.to_dict(), "_key": agent_id})
        else:
            roster = getattr(desk, "roster", None)
            with contextlib.suppress(TriageError, TypeError, AttributeError):
                for agent in roster if roster is not None else ():
                    assert roster is not None
                    live = roster.state(agent.id)
                    rows.append(
                        {
                            "id": _cut(agent.id),
                            "status": agent.status.value,
                            "load": live.total_load,
                            "capacity": live.total_capacity,
                            "_key": agent.id,
                        }
                    )
        offers_for = getattr(desk, "offers_for", None)
        assigned = getattr(desk, "assigned", None)
        for row in rows:
            key = row.pop("_key")
            if callable(offers_for):
                with contextlib.suppress(TriageError):
                    row["offers"] = [_cut(o.ticket.id) for o in offers_for(key)[:_MAX_IDS]]
            if callable(assigned):
                with contextlib.suppress(TriageError):
                    row["assigned"] = [_cut(t.id) for t in assigned(key)[:_MAX_IDS]]
        return rows

    def _state_bytes(self) -> bytes:
        # /state, reused for ``cache`` seconds while no event arrived: many
        # pages refreshing after the same event cost one reading of the desk.
        with self._cond:
            cached, cursor = self._state_cache, self._count
        now = time.monotonic()
        if cached is not None and cached[0] == cursor and now - cached[1] < self._cache_seconds:
            return cached[2]
        data = self.state()
        try:
            body = _json(data)
        except ValueError:  # an inf or NaN somewhere (such as stats' oldest_wait): sent as null
            body = _json(_finite(data))
        with self._cond:
            self._state_cache = (cursor, now, body)
        return body

    # -- the live stream --------------------------------------------------------

    def stream(self, last_event_id: str | None = None, stop: Callable[[], bool] | None = None) -> BoardStream:
        """The ``/events`` stream (``text/event-stream``), chunk by chunk:
        a ``desk`` event (the event's plain data, as in :meth:`state`'s
        ``recent``) for each event the desk emits, a comment every
        ``heartbeat`` seconds while idle, ``resync`` when the client fell
        more than ``buffer`` events behind (it should reload ``/state``),
        and ``bye`` when the board closes.  ``last_event_id`` (the browser's
        ``Last-Event-ID``) resumes a broken stream where it stopped.
        ``stop()`` is asked at every wake-up, to end the stream early.
        Closing the iterator frees its place.

        Raises :class:`InvalidArgument` (nothing started) when ``max_clients``
        streams are open already, or the board is closed.

        Runtime complexity: O(1) per event and per heartbeat.

        >>> from triage_queue import Dispatcher, ManualClock, TicketQueue
        >>> board = Board(Dispatcher(TicketQueue(clock=ManualClock(0.0))))
        >>> chunks = board.stream(); next(chunks)
        b'retry: 2000\\n\\n'
        >>> board.close(); next(chunks)
        b'event: bye\\ndata: {}\\n\\n'
        """
        with self._cond:
            if self._closed:
                raise InvalidArgument("board", self, "the board is closed")
            if self._clients >= self._max_clients:
                raise InvalidArgument("max_clients", self._max_clients, "that many live streams are open already")
            cursor = self._count
            resync = False
            if last_event_id is not None:
                # Any header resumes or resyncs, never fails: only ASCII digits
                # of a sane length are read as a number ("²".isdigit() is True).
                epoch, _, number = last_event_id.partition("-")
                oldest = self._ring[0][0] if self._ring else self._count + 1
                if (
                    epoch == self._epoch
                    and number.isascii()
                    and number.isdigit()
                    and len(number) <= 20
                    and oldest - 1 <= int(number) <= self._count
                ):
                    cursor = int(number)
                else:
                    resync = True
            self._clients += 1  # counted last: nothing above may leak a place
        return BoardStream(self, self._frames(cursor, resync, stop))

    def _frames(self, cursor: int, resync: bool, stop: Callable[[], bool] | None) -> Iterator[bytes]:
        # Its place in max_clients is freed by BoardStream, started or not.
        yield b"retry: 2000\n\n"
        if resync:
            yield b"event: resync\ndata: {}\n\n"
        while True:
            with self._cond:
                self._cond.wait_for(functools.partial(self._ready, cursor, stop), self._heartbeat)
                if self._closed or (stop is not None and stop()):
                    break
                batch: list[tuple[int, Event]] = []
                lagged = False
                if self._count > cursor:
                    oldest = self._ring[0][0]
                    if cursor + 1 < oldest:
                        lagged = True
                    else:
                        batch = list(itertools.islice(self._ring, cursor + 1 - oldest, None))
                    cursor = self._count
            if lagged:
                yield f"id: {self._epoch}-{cursor}\nevent: resync\ndata: {{}}\n\n".encode()
            elif batch:
                yield b"".join(
                    f"id: {self._epoch}-{number}\nevent: desk\ndata: ".encode() + _json(_event_data(event)) + b"\n\n"
                    for number, event in batch
                )
            else:
                yield b": heartbeat\n\n"
        yield b"event: bye\ndata: {}\n\n"

    def _ready(self, cursor: int, stop: Callable[[], bool] | None) -> bool:
        # Called with the condition held: something for a stream at ``cursor``.
        return self._closed or self._count > cursor or (stop is not None and stop())

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- serving ------------------------------------------------------------------

    def _respond(self, method: str, target: str, headers: Mapping[str, str], stop: Callable[[], bool] | None = None) -> _Response:
        # One request, whatever serves it: GET or HEAD of /, /state, /events.
        if len(target) > MAX_PATH:
            return _text(HTTPStatus.REQUEST_URI_TOO_LONG, "request target too long")
        if method not in {"GET", "HEAD"}:
            response = _text(HTTPStatus.METHOD_NOT_ALLOWED, "this board is read-only: GET or HEAD")
            response.headers.append(("Allow", "GET, HEAD"))
            return response
        length = headers.get("content-length") or "0"
        if length.strip() not in {"", "0"} or headers.get("transfer-encoding"):
            return _text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "this board takes no request body")
        path = urllib.parse.urlsplit(target).path
        if path in {"", "/", "/index.html"}:
            page, policy = _page()
            return _Response(
                HTTPStatus.OK,
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", str(len(page))),
                    ("Content-Security-Policy", policy),
                    *_common_headers(),
                ],
                page,
            )
        if path == "/state":
            body = self._state_bytes()
            return _Response(
                HTTPStatus.OK,
                [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *_common_headers()],
                body,
            )
        if path == "/events":
            sse = [("Content-Type", "text/event-stream; charset=utf-8"), ("X-Accel-Buffering", "no"), *_common_headers()]
            if method == "HEAD":
                return _Response(HTTPStatus.OK, sse, b"")
            try:
                chunks = self.stream(headers.get("last-event-id"), stop)
            except InvalidArgument as exc:
                response = _text(HTTPStatus.SERVICE_UNAVAILABLE, exc.reason)
                response.headers.append(("Retry-After", "10"))
                return response
            return _Response(HTTPStatus.OK, sse, chunks)
        return _text(HTTPStatus.NOT_FOUND, "not found: the board serves /, /state and /events")

    def handler_class(self, allowed_hosts: Iterable[str] | None = None) -> type[BaseHTTPRequestHandler]:
        """A :class:`http.server.BaseHTTPRequestHandler` subclass serving this
        board, for your own :mod:`http.server` (use a threading server: each
        live stream holds a thread).  ``allowed_hosts``: the ``Host`` header
        values accepted (None: any).

        Runtime complexity: O(1).

        >>> from triage_queue import Dispatcher
        >>> Board(Dispatcher()).handler_class().__name__
        'BoardHandler'
        """
        hosts = None if allowed_hosts is None else frozenset(h.lower() for h in allowed_hosts)
        return type("BoardHandler", (_Handler,), {"board": self, "allowed_hosts": hosts})

    def wsgi(self) -> BoardApp:
        """This board as a WSGI application (see :class:`BoardApp`).

        Runtime complexity: O(1).

        >>> from triage_queue import Dispatcher
        >>> Board(Dispatcher()).wsgi().board.title
        'triage-queue board'
        """
        return BoardApp(self)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, max_connections: int | None = None,
        header_timeout: float = 10.0,
    ) -> BoardServer:
        """Start an HTTP server for this board on a thread of its own and
        return it, already accepting requests (``port=0``: a free port; see
        :attr:`BoardServer.url`).  Bound to the loopback interface by
        default; there, requests must name it in their ``Host`` header
        (against DNS rebinding).  Pass ``host="0.0.0.0"`` only behind your
        own authentication: the board has none.

        At most ``max_connections`` connections are served at once (default
        ``max_clients + 64``; each holds a thread): more are answered 503
        and closed at once.  A connection has ``header_timeout`` seconds to
        send a whole request line and headers (and an idle keep-alive
        connection that long to send its next request), however slowly it
        trickles them, or it is closed.

        Raises :class:`InvalidArgument` for a bad host, port,
        ``max_connections`` (1 to 10,000) or ``header_timeout`` (0.01 to
        3600 seconds), and :class:`OSError` if the address cannot be bound.

        Runtime complexity: O(1).

        >>> from triage_queue import Dispatcher
        >>> with Board(Dispatcher()).serve() as server:
        ...     server.url.startswith("http://127.0.0.1:")
        True
        """
        if not isinstance(host, str) or not host or len(host) > 255:
            raise InvalidArgument("host", host, "expected a host name or address")
        _check_count("port", port, 0, 65535)
        if max_connections is None:
            max_connections = self._max_clients + 64
        _check_count("max_connections", max_connections, 1, 10_000)
        header_timeout = _check_seconds("header_timeout", header_timeout, 0.01, 3600.0)
        return BoardServer(self, host, port, max_connections=max_connections, header_timeout=header_timeout)

    def close(self) -> None:
        """Unsubscribe from the desk and end every live stream (each gets
        ``bye``).  Idempotent.  Runtime complexity: O(clients).

        >>> from triage_queue import Dispatcher
        >>> board = Board(Dispatcher()); board.close(); board.close()
        >>> board.stream()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidArgument: board=<Board ...>: the board is closed
        """
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._unsubscribe()

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Board {self._title!r}: {self._count} event(s) heard, {self._clients} live stream(s)>"


class BoardStream:
    """A live stream from :meth:`Board.stream`: an iterator of
    ``text/event-stream`` chunks, and :meth:`close`, which frees its place
    in the board's ``max_clients`` (as does reaching its end), even if it
    never started.  WSGI servers close it when the client goes away.

    Runtime complexity: O(1) per chunk, plus the events it carries.

    >>> from triage_queue import Dispatcher
    >>> board = Board(Dispatcher(), max_clients=1); board.stream().close(); next(board.stream())
    b'retry: 2000\\n\\n'
    """

    __slots__ = ("_board", "_chunks", "_open")

    def __init__(self, board: Board, chunks: Iterator[bytes]) -> None:
        self._board = board
        self._chunks = chunks
        self._open = True

    def __iter__(self) -> BoardStream:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self._release()
            raise

    def close(self) -> None:
        """End the stream and free its place.  Idempotent.  Runtime complexity: O(1).

        >>> from triage_queue import Dispatcher
        >>> board = Board(Dispatcher(), max_clients=1)
        >>> stream = board.stream(); stream.close(); stream.close()
        >>> board.stream().close()  # its place was given back
        """
        close = getattr(self._chunks, "close", None)
        try:
            if close is not None:
                close()
        finally:
            self._release()

    def _release(self) -> None:
        board = self._board
        with board._cond:
            if self._open:
                self._open = False
                board._clients -= 1


_ANSWERED = frozenset({EventKind.ACCEPTED, EventKind.COMPLETED, EventKind.CANCELLED})


def _remember(ids: dict[str, None], ticket_id: str) -> None:
    ids[ticket_id] = None
    if len(ids) > _MAX_TRACKED:
        del ids[next(iter(ids))]


def _desk_now(queue: Any) -> float | None:
    now = getattr(queue, "now", None)
    if callable(now):
        with contextlib.suppress(TriageError, TypeError, ValueError):
            return _number(now())
    return None


def _ticket_data(ticket: Any, now: float | None, holder: Callable[[str], str | None] | None) -> dict[str, Any]:
    created, due = _number(ticket.created_at), _number(ticket.sla_due)
    held = None
    if callable(holder):
        with contextlib.suppress(TriageError):
            held = holder(ticket.id)
    return {
        "id": _cut(ticket.id),
        "severity": ticket.severity.name.lower(),
        "tier": _cut(ticket.customer_tier),
        "skills": {_cut(name): level for name, level in itertools.islice(ticket.skills.items(), 10)},
        "channel": _cut(ticket.channel),
        "waited": None if now is None or created is None else _number(max(0.0, now - created)),
        "sla_in": None if now is None or due is None else _number(due - now),
        "held_for": _cut(held),
    }


# -- HTTP ---------------------------------------------------------------------------


_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 32\r\n"
    b"Retry-After: 10\r\nConnection: close\r\n\r\ntoo many connections, try later\n"
)


class _Handler(BaseHTTPRequestHandler):
    board: Board
    allowed_hosts: frozenset[str] | None = None
    server_version = "triage-queue-board"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60  # a stream nobody reads is dropped (and BoardServer's header_timeout bounds each request)

    def handle_one_request(self) -> None:
        # From waiting for the request line to the end of its headers, the
        # connection has a deadline (BoardServer's header_timeout), whatever
        # the per-read timeout: a client trickling bytes cannot hold it.
        reading = getattr(self.server, "_reading", None)
        if reading is not None:
            reading(self.connection, True)
        try:
            super().handle_one_request()
        finally:
            if reading is not None:
                reading(self.connection, False)

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        reading = getattr(self.server, "_reading", None)
        # The request is in: answering (a stream) has no deadline.  One cut
        # short by its deadline (what was read ends early) is not answered.
        if reading is not None and not reading(self.connection, False):
            self.close_connection = True
            return False
        return parsed

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        if headers.get("content-length", "0").strip() not in {"", "0"} or "transfer-encoding" in headers:
            self.close_connection = True  # the body is never read
        hosts = self.allowed_hosts
        if hosts is not None and headers.get("host", "").lower() not in hosts:
            response = _text(HTTPStatus.FORBIDDEN, "unexpected Host header")
        else:
            server = self.server
            stop = getattr(server, "_stopping", None)
            response = self.board._respond(method, self.path, headers, stop.is_set if stop is not None else None)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        body = response.body
        if isinstance(body, bytes):
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(body)
            return
        # A stream: no length, so the connection ends with it.
        self.close_connection = True
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            if method == "HEAD":
                return
            for chunk in body:
                self.wfile.write(chunk)
                self.wfile.flush()
        except OSError:  # the client went away (or stopped reading)
            pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)


class BoardServer(ThreadingHTTPServer):
    """A running board server (from :meth:`Board.serve`): ``url`` to open,
    :meth:`close` to stop it (live streams end; the board stays subscribed
    until :meth:`Board.close`).  A context manager.

    It serves at most ``max_connections`` connections at once (a thread
    each; more get 503 and are closed at once) and closes a connection that
    has not sent a whole request line and headers within ``header_timeout``
    seconds (see :meth:`Board.serve`).

    Runtime complexity: construction and :meth:`close` O(1) (plus the
    handler threads ending); each accepted connection O(1), and
    O(connections reading) every 0.2 s to enforce ``header_timeout``.

    >>> from triage_queue import Dispatcher
    >>> server = Board(Dispatcher()).serve(); server.close(); server.closed
    True
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, board: Board, host: str, port: int, *, max_connections: int = 96,
                 header_timeout: float = 10.0) -> None:
        """Runtime complexity: O(1)."""
        self.board = board
        self._stopping = threading.Event()
        self.closed = False
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        self._deadlines: dict[Any, float] = {}  # connection -> when it must have sent its request
        self._deadlines_lock = threading.Lock()
        address_family = ThreadingHTTPServer.address_family
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host.strip("[]")).version == 6:
                address_family = socket.AF_INET6
        self.address_family = address_family
        hosts = None
        loopback = host in {"localhost"}
        with contextlib.suppress(ValueError):
            loopback = loopback or ipaddress.ip_address(host.strip("[]")).is_loopback
        super().__init__((host.strip("[]"), port), _Handler)
        self.port = int(self.server_address[1])
        if loopback:
            names = ["127.0.0.1", "localhost", "[::1]", host.lower()]
            hosts = [f"{name}:{self.port}" for name in names] + ([*names] if self.port == 80 else [])
        self.RequestHandlerClass = board.handler_class(hosts)
        shown = f"[{host.strip('[]')}]" if address_family != ThreadingHTTPServer.address_family else host
        if shown in {"0.0.0.0", "[::]"}:  # every interface: the URL names the loopback one
            shown = "127.0.0.1" if shown == "0.0.0.0" else "[::1]"
        self.url = f"http://{shown}:{self.port}/"
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="triage-board", daemon=True
        )
        self._thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve ``request`` on a thread of its own if fewer than
        ``max_connections`` are served; otherwise answer 503 (without
        waiting for the client) and close it.  Runtime complexity: O(1).

        >>> from triage_queue import Dispatcher
        >>> with Board(Dispatcher()).serve(max_connections=8) as server:
        ...     server.max_connections, server.header_timeout
        (8, 10.0)
        """
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(_BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection, then give its place back.  Runtime
        complexity: that of the requests served.

        >>> import urllib.request
        >>> from triage_queue import Dispatcher
        >>> with Board(Dispatcher()).serve(max_connections=1) as server:
        ...     with urllib.request.urlopen(server.url + "state") as response:
        ...         response.status
        200
        """
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._reading(request, False)
            self._slots.release()

    def _reading(self, connection: Any, reading: bool) -> bool:
        # Called by the handler: the connection waits for a request (the
        # deadline starts) or has read it (False if its deadline passed).
        with self._deadlines_lock:
            if reading:
                self._deadlines[connection] = time.monotonic() + self.header_timeout
                return True
            return self._deadlines.pop(connection, None) is not None

    def service_actions(self) -> None:
        """Close the connections past their ``header_timeout`` (called by
        ``serve_forever`` every 0.2 s).  Runtime complexity: O(connections
        reading a request).

        >>> from triage_queue import Dispatcher
        >>> with Board(Dispatcher()).serve() as server:
        ...     server.service_actions()  # nobody is late
        """
        now = time.monotonic()
        with self._deadlines_lock:
            late = [c for c, deadline in self._deadlines.items() if deadline <= now]
            for connection in late:
                del self._deadlines[connection]
        for connection in late:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # the handler's read ends; the handler closes it

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A request failed: a client that went away is logged at DEBUG,
        anything else at ERROR with its traceback, on the
        ``triage_queue.board`` logger (never printed to stderr).
        Runtime complexity: O(1).

        >>> from triage_queue import Dispatcher
        >>> with Board(Dispatcher()).serve() as server:
        ...     try:
        ...         raise ConnectionResetError("gone")
        ...     except OSError:
        ...         server.handle_error(None, ("127.0.0.1", 1))  # logged at DEBUG
        """
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            _log.debug("board: connection from %s ended: %r", client_address, error)
        else:
            _log.error("board: request from %s failed", client_address, exc_info=True)

    def close(self) -> None:
        """Stop serving: live streams end, the listening socket closes.
        Idempotent.  Runtime complexity: O(1).

        >>> from triage_queue import Dispatcher
        >>> server = Board(Dispatcher()).serve(); server.close(); server.close(); server.closed
        True
        """
        if self.closed:
            return
        self.closed = True
        self._stopping.set()
        self.board._wake()
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BoardServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- WSGI -----------------------------------------------------------------------------


class BoardApp:
    """A board as a WSGI application, to mount in a web app (under a
    prefix such as ``/board``: the page uses relative links).  Each live
    stream holds one worker thread of the server for as long as the page is
    open; servers that run WSGI apps in a thread pool (Starlette's or
    a2wsgi's ``WSGIMiddleware``, gunicorn with threads, waitress) suit it;
    ``wsgiref``'s single-threaded server does not.

    Runtime complexity: per request as :meth:`Board.state` (``/state``) or
    O(1) (the page, the stream per chunk).

    >>> from triage_queue import Dispatcher
    >>> app = board_app(Dispatcher()); seen = []
    >>> body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/state"}, lambda status, headers: seen.append(status))
    >>> seen, b"".join(body).startswith(b'{"title"')
    (['200 OK'], True)
    """

    def __init__(self, board: Board) -> None:
        """Runtime complexity: O(1)."""
        if not isinstance(board, Board):
            raise InvalidArgument("board", board, "expected a triage_queue.board.Board")
        self.board = board

    def __call__(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Serve one request.  Runtime complexity: see the class."""
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", ""))
        if path == "":
            # Mounted at /board and asked for /board: the page's relative
            # links need the trailing slash.
            location = urllib.parse.quote(str(environ.get("SCRIPT_NAME", ""))) + "/"
            start_response("308 Permanent Redirect", [("Location", location), ("Content-Length", "0"), *_common_headers()])
            return [b""]
        query = str(environ.get("QUERY_STRING", ""))
        target = urllib.parse.quote(path) + (f"?{query}" if query else "")
        headers = {key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = str(environ["CONTENT_LENGTH"])
        response = self.board._respond(method, target, headers)
        start_response(f"{response.status.value} {response.status.phrase}", response.headers)
        if isinstance(response.body, bytes):
            return [b""] if method == "HEAD" else [response.body]
        if method == "HEAD":
            response.body.close()
            return [b""]
        return response.body


def board_app(desk: BoardDesk | Board, **options: Any) -> BoardApp:
    """A WSGI application showing ``desk``'s board (a new :class:`Board`
    with ``options``, or the given board).  Mount it in your web app, e.g.
    in FastAPI/Starlette with ``app.mount("/board", WSGIMiddleware(board_app(desk)))``.

    Runtime complexity: as :class:`Board`.

    >>> from triage_queue import Dispatcher
    >>> board_app(Dispatcher(), title="Desk 1").board.title
    'Desk 1'
    """
    if isinstance(desk, Board):
        if options:
            raise InvalidArgument("options", sorted(options), "options are for a new Board, not for an existing one")
        return BoardApp(desk)
    return BoardApp(Board(desk, **options))
