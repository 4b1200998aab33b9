"""SharedDesk: the Dispatcher's API over a log shared by many processes.

Every state change is a command appended to the log; a call returns once
the caller's own replica has applied it, with the result or the error one
in-process Dispatcher would give.  A thin client (``replica=False``) keeps
no replica: it appends and waits for the result a replica publishes.

>>> import os, tempfile
>>> from triage_queue import Agent, Ticket
>>> from triage_queue.shared import SharedDesk, SqliteLog
>>> log = SqliteLog(os.path.join(tempfile.mkdtemp(), "desk.db"))
>>> desk = SharedDesk(log, agents=[Agent("ana")], name="eu", follow=False)
>>> offer = desk.submit(Ticket("T-1", 0.0)); offer.id
'eu-1'
>>> desk.accept(offer).id, desk.status("T-1")
('T-1', 'assigned')
>>> desk.close()
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from triage_queue.agents import Agent, AgentStatus
from triage_queue.dispatch.values import AssignmentExplanation, Offer
from triage_queue.errors import InvalidArgument, TriageError
from triage_queue.events import Event
from triage_queue.policy import Policy
from triage_queue.selection import Selection
from triage_queue.shared.commands import READS, NoReply, encode, raise_or_return
from triage_queue.shared.log import Entry, Log
from triage_queue.shared.replica import Alarm, Replica, init_command, logger
from triage_queue.stats import Statistics
from triage_queue.ticket import Ticket

__all__ = ["SharedDesk", "open_log"]

_RETRY_PAUSE_MAX = 0.5  # seconds between append retries, doubling from 0.05

# Commands after which a waiting agent need not ask again: they make no offer.
_CANNOT_OFFER = frozenset({"next_for", "heartbeat", "digest", "snapshotted", "init"} | set(READS))


def open_log(url: str, name: str = "desk") -> Log:
    """The log a URL names, for the desk called ``name``: ``sqlite:///path``
    (a :class:`SqliteLog`) or ``redis://host[:port][/db]``, ``rediss://...``,
    ``unix:///socket`` (a ``RedisLog`` whose stream is named after the desk,
    with the ``redis`` extra; ``name`` is not used by SQLite, which holds one
    desk per file).  Raises :class:`InvalidArgument` for anything else.
    Runtime complexity: O(1).

    >>> open_log("ftp://x")
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: url='ftp://x': expected sqlite:///path or redis://host:port/db
    """
    if not isinstance(url, str):
        raise InvalidArgument("url", url, "expected sqlite:///path or redis://host:port/db")
    if url.startswith("sqlite:"):
        from triage_queue.shared.sqlite import SqliteLog

        return SqliteLog(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from triage_queue.shared.redis import RedisLog

        return RedisLog.from_url(url, name)
    raise InvalidArgument("url", url, "expected sqlite:///path or redis://host:port/db")


class _Slot:
    __slots__ = ("command", "done", "entry", "error")

    def __init__(self, command: dict[str, Any]) -> None:
        self.command = command
        self.done = threading.Event()
        self.entry: Entry | None = None
        self.error: BaseException | None = None


class _GroupCommit:
    """Appends from many threads, batched: the first thread to arrive
    appends every command queued meanwhile in one call (one transaction,
    one fsync on SQLite; one pipeline on Redis), the others wait for it.
    One thread alone pays one append per command, as without it."""

    def __init__(self, log: Log) -> None:
        self._log = log
        self._many: Callable[[list[dict[str, Any]]], list[Entry]] | None = getattr(log, "append_many", None)
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._leading = False

    def append(self, command: dict[str, Any]) -> Entry:
        slot = _Slot(command)
        with self._lock:
            self._queue.append(slot)
            lead = not self._leading
            if lead:
                self._leading = True
        if lead:
            self._lead()
        else:
            slot.done.wait()
        if slot.error is not None:
            raise slot.error
        assert slot.entry is not None
        return slot.entry

    def _lead(self) -> None:
        while True:
            with self._lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._leading = False
                    return
            try:
                if self._many is not None and len(batch) > 1:
                    entries = list(self._many([slot.command for slot in batch]))
                else:
                    entries = [self._log.append(slot.command) for slot in batch]
            except BaseException as exc:
                if len(batch) > 1 and not isinstance(exc, ConnectionError | OSError | TimeoutError):
                    self._one_by_one(batch)  # one command's bad data must not fail the others
                    continue
                for slot in batch:
                    slot.error = exc
                    slot.done.set()
                continue
            for slot, entry in zip(batch, entries, strict=True):
                slot.entry = entry
                slot.done.set()


    def _one_by_one(self, batch: list[_Slot]) -> None:
        for slot in batch:
            try:
                slot.entry = self._log.append(slot.command)
            except BaseException as exc:
                slot.error = exc
            slot.done.set()


class SharedDesk:
    """One desk shared by every process that opens the same log.

    ``log``: the engine (:class:`SqliteLog`, ``RedisLog``).  ``policy``,
    ``selection``, ``classify``: the code the desk runs with (the same in
    every process).  ``agents``, ``name``, ``offer_timeout``,
    ``mark_not_responding``, ``affinity_wait``, ``retry_after``,
    ``sla_warning``, ``audit``, ``refuse_unroutable``, ``stats``,
    ``analytics``, ``finished_memory``, ``overflow`` (an
    :class:`~triage_queue.OverflowRule` or a sequence of them), ``strain``
    (a :class:`~triage_queue.StrainGuard`): the Dispatcher's settings, used
    only by the process that creates the desk (the first ``init`` command
    in the log wins, recording them as plain data; later processes read
    them from the log and rebuild them).  ``presence_grace``: seconds after an agent's last
    :meth:`heartbeat` at which it is set to ``presence_status`` (None: no
    presence).

    ``replica``: keep a replica in this process (reads are local; results
    come from it).  With False this is a *thin client*: every call, reads
    included, is appended and answered by a replica elsewhere (a desk
    server), which publishes the result.  ``follow``: run a background
    thread that applies other processes' commands as they arrive (so
    listeners and waiters hear them), appends a ``tick`` when
    :meth:`next_due` passes, appends a digest command every
    ``digest_seconds`` and stores snapshots (every ``snapshot_every``
    commands or ``snapshot_seconds``).  ``clock``: the wall clock that
    decides when to tick (the log's time source).  ``timeout``: seconds a
    call waits for its result, and for the engine to come back (appends are
    retried with the same command id until then).  ``on_alarm``: called with every
    :class:`Alarm` (divergence, lost entries, resync).

    Runtime complexity: each operation costs one append and the apply of
    every command before it not yet applied, plus the Dispatcher's own cost.
    """

    def __init__(
        self,
        log: Log,
        *,
        policy: Policy | None = None,
        selection: Selection | None = None,
        classify: Callable[[Ticket], str] | None = None,
        agents: Iterable[Agent] = (),
        name: str = "desk",
        replica: bool = True,
        follow: bool = True,
        presence_grace: float | None = None,
        presence_status: str = "away",
        snapshot_every: int = 10_000,
        snapshot_seconds: float = 300.0,
        results_kept: int = 10_000,
        digest_seconds: float | None = 60.0,
        poll: float = 0.05,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        on_alarm: Callable[[Alarm], None] | None = None,
        on_listener_error: Callable[[Event, Exception], None] | None = None,
        **settings: Any,
    ) -> None:
        """Runtime complexity: O(snapshot + tail) to join a desk."""
        if not isinstance(log, Log):
            raise InvalidArgument("log", log, "expected a triage_queue.shared.Log (SqliteLog, RedisLog)")
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0:
            raise InvalidArgument("timeout", timeout, "expected seconds > 0")
        if not isinstance(poll, int | float) or isinstance(poll, bool) or not poll > 0:
            raise InvalidArgument("poll", poll, "expected seconds > 0")
        if digest_seconds is not None and (
            isinstance(digest_seconds, bool) or not isinstance(digest_seconds, int | float) or not digest_seconds > 0
        ):
            raise InvalidArgument("digest_seconds", digest_seconds, "expected seconds > 0, or None")
        if not callable(clock):
            raise InvalidArgument("clock", clock, "expected a callable returning seconds")
        self.log = log
        self._name = name
        self._timeout = float(timeout)
        self._poll = float(poll)
        self._clock = clock
        self._digest_seconds = digest_seconds
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_asked: tuple[float, float] | None = None  # (due instant, wall time to ask again)
        self._replica: Replica | None = None
        self._group = _GroupCommit(log)
        # A thin client's one-round-trip path (append, then wait for the result
        # on the same connection), when the engine offers it (Redis).
        self._append_and_fetch: Callable[..., Mapping[str, Any] | None] | None = getattr(log, "append_and_fetch", None)
        create = init_command(
            agents=agents,
            policy=policy,
            selection=selection,
            classify=classify,
            name=name,
            presence_grace=presence_grace,
            presence_status=presence_status,
            **settings,
        )
        if not replica:
            return
        r = Replica(
            log,
            policy=policy,
            selection=selection,
            classify=classify,
            snapshot_every=snapshot_every,
            snapshot_seconds=snapshot_seconds,
            results_kept=results_kept,
            on_alarm=on_alarm,
            on_listener_error=on_listener_error,
        )
        self._replica = r
        r.catch_up()
        if not r.created:
            entry = self._append(create)
            with r.lock:
                r.set_live(False)  # creating the desk: its first events are history too
                try:
                    r.sync_to(entry.position)
                finally:
                    r.set_live(True)
        if follow:
            self._thread = threading.Thread(target=self._follow, name=f"shared-desk-{name}", daemon=True)
            self._thread.start()

    # -- plumbing -------------------------------------------------------------------

    @property
    def replica(self) -> Replica | None:
        """This process's replica (None for a thin client).  Runtime complexity: O(1)."""
        return self._replica

    def _append(self, command: dict[str, Any]) -> Entry:
        # Append, retrying with the same command id when the engine cannot be
        # reached (the replicas apply it once however often it lands).
        return self._retry(lambda: self._group.append(command))  # type: ignore[no-any-return]

    def _retry(self, call: Callable[[], Any]) -> Any:
        # Until the call's timeout: an engine restart takes seconds.
        delay = 0.05
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return call()
            except (ConnectionError, OSError, TimeoutError):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                logger.warning("append failed; retrying", exc_info=True)
                time.sleep(min(delay, left))
                delay = min(delay * 2, _RETRY_PAUSE_MAX)

    def _do(self, op: str, args: dict[str, Any]) -> Any:
        r = self._replica
        if r is None:
            command = encode(op, args, reply=True)
            fast = self._append_and_fetch
            if fast is None:
                self._append(command)
                return self._fetch(command["id"], op, self._timeout)
            result = self._retry(lambda: fast(command, block=self._timeout))
            if result is None:
                raise self._no_reply(command["id"], op, self._timeout)
            return raise_or_return(result, op)
        command = encode(op, args)
        entry = self._append(command)
        with r.lock:
            r.sync_to(entry.position, timeout=self._timeout)
            return r.result(command["id"])

    def _fetch(self, command_id: str, op: str, timeout: float) -> Any:
        # A thin client's wait for the result a replica publishes.
        result = self.log.fetch_result(command_id, block=timeout)
        if result is None:
            raise self._no_reply(command_id, op, timeout)
        return raise_or_return(result, op)

    @staticmethod
    def _no_reply(command_id: str, op: str, timeout: float) -> NoReply:
        return NoReply(
            f"no result for command {command_id!r} ({op}) within {timeout:g}s: is a desk server running?",
            command_id=command_id,
            op=op,
        )

    def result(self, command_id: str, op: str, *, timeout: float | None = None) -> Any:
        """The result of an earlier command ``command_id`` (operation ``op``),
        or raise its error: after a :class:`NoReply`, pass its
        ``command_id`` and ``op`` instead of calling again (which would be
        a second command: ``DuplicateTicket`` for a submit, a second
        ``next_for``).  Waits up to ``timeout`` seconds (default: the desk's)
        and raises :class:`NoReply` again if there is still none.  On a
        replica the result must be among the last ``results_kept``.
        Runtime complexity: O(1) plus the wait.

        >>> import os, tempfile
        >>> from triage_queue.shared import SqliteLog
        >>> from triage_queue.shared.commands import NoReply
        >>> path = os.path.join(tempfile.mkdtemp(), "d.db")
        >>> SharedDesk(SqliteLog(path), follow=False).close()   # creates the desk
        >>> thin = SharedDesk(SqliteLog(path), replica=False, timeout=0.05)
        >>> try:
        ...     thin.tick()
        ... except NoReply as err:
        ...     lost = err
        >>> server = SharedDesk(SqliteLog(path), poll=0.01)     # a desk server comes up
        >>> thin.result(lost.command_id, lost.op, timeout=5) is None
        True
        >>> server.close()
        """
        if not isinstance(command_id, str) or not command_id:
            raise InvalidArgument("command_id", command_id, "expected the id of a command (NoReply.command_id)")
        if not isinstance(op, str):
            raise InvalidArgument("op", op, "expected the operation's name (NoReply.op)")
        wait = self._timeout if timeout is None else timeout
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not wait >= 0:
            raise InvalidArgument("timeout", timeout, "expected seconds >= 0, or None")
        r = self._replica
        if r is None:
            return self._fetch(command_id, op, float(wait))
        deadline = time.monotonic() + wait
        while True:
            with r.lock:
                self.sync()
                if r.has_result(command_id):
                    return r.result(command_id)
            if time.monotonic() >= deadline:
                raise NoReply(f"no result kept for command {command_id!r} ({op})", command_id=command_id, op=op)
            time.sleep(min(self._poll, max(0.0, deadline - time.monotonic())))

    def _read(self, op: str, args: dict[str, Any], local: Callable[[], Any]) -> Any:
        r = self._replica
        if r is None:
            return self._do(op, args)
        with r.lock:
            return local()

    def _desk(self) -> Any:
        r = self._replica
        assert r is not None
        return r.desk

    # -- tickets --------------------------------------------------------------------

    def submit(self, ticket: Ticket) -> Offer | None:
        """:meth:`Dispatcher.submit <triage_queue.Dispatcher.submit>` as a
        command.  Runtime complexity: one append plus the Dispatcher's cost."""
        return self._do("submit", {"ticket": ticket})  # type: ignore[no-any-return]

    def update(self, ticket_id: str, **changes: Any) -> Ticket:
        """:meth:`Dispatcher.update <triage_queue.Dispatcher.update>` as a
        command.  Runtime complexity: one append plus the Dispatcher's cost."""
        return self._do("update", {"ticket_id": ticket_id, "changes": changes})  # type: ignore[no-any-return]

    def cancel(self, ticket_id: str) -> Ticket:
        """:meth:`Dispatcher.cancel <triage_queue.Dispatcher.cancel>` as a
        command.  Runtime complexity: one append plus the Dispatcher's cost."""
        return self._do("cancel", {"ticket_id": ticket_id})  # type: ignore[no-any-return]

    def status(self, ticket_id: str) -> str:
        """:meth:`Dispatcher.status <triage_queue.Dispatcher.status>`, read
        from this process's replica as of the last command it applied (a
        thin client asks through the log).  Runtime complexity: O(1)."""
        return self._read("status", {"ticket_id": ticket_id}, lambda: self._desk().status(ticket_id))  # type: ignore[no-any-return]

    def assigned(self, agent_id: str) -> list[Ticket]:
        """:meth:`Dispatcher.assigned <triage_queue.Dispatcher.assigned>`, read
        as :meth:`status` is.  Runtime complexity: O(T)."""
        return self._read("assigned", {"agent_id": agent_id}, lambda: self._desk().assigned(agent_id))  # type: ignore[no-any-return]

    def position(self, ticket_id: str) -> int:
        """How many tickets are ahead of this waiting one (0 = next to be
        served): ``Dispatcher.queue.position``, read as :meth:`status` is.
        Raises :class:`UnknownTicket` for a ticket that is not in the queue
        (offered, assigned, completed, cancelled or never submitted).
        Runtime complexity: O(log n) (the first call builds the replica's
        position index, O(n log n)).

        >>> import os, tempfile
        >>> from triage_queue.shared import SqliteLog
        >>> desk = SharedDesk(SqliteLog(os.path.join(tempfile.mkdtemp(), "d.db")), follow=False)
        >>> for i in range(3): _ = desk.submit(Ticket(f"T-{i}", float(i)))
        >>> desk.position("T-0"), desk.position("T-2"), desk.waiting()
        (0, 2, 3)
        >>> desk.close()
        """
        return self._read("position", {"ticket_id": ticket_id}, lambda: self._desk().queue.position(ticket_id))  # type: ignore[no-any-return]

    def waiting(self) -> int:
        """How many tickets are in the queue (``len(Dispatcher.queue)``: not
        yet offered, or held for an agent), read as :meth:`status` is.
        Runtime complexity: O(1)."""
        return self._read("waiting", {}, lambda: len(self._desk().queue))  # type: ignore[no-any-return]

    # -- offers ---------------------------------------------------------------------

    def next_for(self, agent_id: str) -> Offer | None:
        """:meth:`Dispatcher.next_for <triage_queue.Dispatcher.next_for>` as
        a command.  Runtime complexity: one append plus the Dispatcher's cost."""
        return self._do("next_for", {"agent_id": agent_id})  # type: ignore[no-any-return]

    def offers_for(self, agent_id: str) -> list[Offer]:
        """:meth:`Dispatcher.offers_for <triage_queue.Dispatcher.offers_for>`,
        read as :meth:`status` is.  Runtime complexity: O(pending offers)."""
        return self._read("offers_for", {"agent_id": agent_id}, lambda: self._desk().offers_for(agent_id))  # type: ignore[no-any-return]

    def accept(self, offer: Offer | str) -> Ticket:
        """:meth:`Dispatcher.accept <triage_queue.Dispatcher.accept>` as a
        command (an Offer is sent as its id).  Runtime complexity: one append
        plus the Dispatcher's cost."""
        return self._do("accept", {"offer": offer})  # type: ignore[no-any-return]

    def decline(self, offer: Offer | str, reason: str = "") -> None:
        """:meth:`Dispatcher.decline <triage_queue.Dispatcher.decline>` as a
        command.  Runtime complexity: one append plus the Dispatcher's cost."""
        self._do("decline", {"offer": offer, "reason": reason})

    def complete(self, ticket_id: str, agent_id: str | None = None) -> Ticket:
        """:meth:`Dispatcher.complete <triage_queue.Dispatcher.complete>` as
        a command.  Runtime complexity: one append plus the Dispatcher's cost."""
        return self._do("complete", {"ticket_id": ticket_id, "agent_id": agent_id})  # type: ignore[no-any-return]

    def transfer(self, ticket_id: str, agent_id: str | None = None, **changes: Any) -> Ticket:
        """:meth:`Dispatcher.transfer <triage_queue.Dispatcher.transfer>` as
        a command.  Runtime complexity: one append plus the Dispatcher's cost."""
        return self._do("transfer", {"ticket_id": ticket_id, "agent_id": agent_id, "changes": changes})  # type: ignore[no-any-return]

    # -- agents ---------------------------------------------------------------------

    def add_agent(self, agent: Agent) -> None:
        """:meth:`Dispatcher.add_agent <triage_queue.Dispatcher.add_agent>` as
        a command.  Runtime complexity: one append plus the Dispatcher's cost."""
        self._do("add_agent", {"agent": agent})

    def remove_agent(self, agent_id: str) -> Agent:
        """:meth:`Dispatcher.remove_agent <triage_queue.Dispatcher.remove_agent>`
        as a command.  Runtime complexity: one append plus the Dispatcher's cost."""
        return self._do("remove_agent", {"agent_id": agent_id})  # type: ignore[no-any-return]

    def set_status(self, agent_id: str, status: AgentStatus | str) -> Agent:
        """:meth:`Dispatcher.set_status <triage_queue.Dispatcher.set_status>`
        as a command.  Runtime complexity: one append plus the Dispatcher's cost."""
        return self._do("set_status", {"agent_id": agent_id, "status": status})  # type: ignore[no-any-return]

    def update_agent(self, agent_id: str, **changes: Any) -> Agent:
        """:meth:`Dispatcher.update_agent <triage_queue.Dispatcher.update_agent>`
        as a command.  Runtime complexity: one append plus the Dispatcher's cost."""
        return self._do("update_agent", {"agent_id": agent_id, "changes": changes})  # type: ignore[no-any-return]

    def heartbeat(self, agent_id: str) -> None:
        """Say that the process holding this agent is alive: with
        ``presence_grace``, an agent with no heartbeat for that long is set
        to ``presence_status`` (its pending offers go back to their places)
        at the next command or tick.  Raises :class:`UnknownAgent`.
        Runtime complexity: one append plus O(log A)."""
        self._do("heartbeat", {"agent_id": agent_id})

    # -- time, batch, statistics ------------------------------------------------------

    def tick(self) -> None:
        """Append a ``tick``: every replica applies what is due by the
        tick's log time (duplicate ticks are harmless).  Runtime complexity:
        one append plus O((k + 1) log n) for k things due."""
        self._do("tick", {})

    def assign_all(self) -> list[Offer]:
        """:meth:`Dispatcher.assign_all <triage_queue.Dispatcher.assign_all>`
        as a command.  Runtime complexity: as that method."""
        return self._do("assign_all", {})  # type: ignore[no-any-return]

    def next_due(self) -> float | None:
        """The log time at which a :meth:`tick` next has something to do
        (including an agent's presence running out), or None.
        Runtime complexity: O(1)."""
        r = self._replica
        if r is None:
            return self._do("next_due", {})  # type: ignore[no-any-return]
        return r.next_due()

    def stats(self) -> Statistics:
        """:meth:`Dispatcher.stats <triage_queue.Dispatcher.stats>`, read as
        :meth:`status` is.  Runtime complexity: as that method."""
        return self._read("stats", {}, lambda: self._desk().stats())  # type: ignore[no-any-return]

    def explain_assignment(self, ticket_id: str) -> AssignmentExplanation:
        """:meth:`Dispatcher.explain_assignment
        <triage_queue.Dispatcher.explain_assignment>`, read as :meth:`status`
        is.  Runtime complexity: as that method."""
        return self._read(  # type: ignore[no-any-return]
            "explain_assignment", {"ticket_id": ticket_id}, lambda: self._desk().explain_assignment(ticket_id)
        )

    def sync(self) -> int:
        """Apply everything in the log now (live), so that reads see every
        process's latest commands; return the position reached.  Runtime
        complexity: O(entries applied)."""
        r = self._replica
        if r is None:
            return self.log.last_position()
        r.sync_to(self.log.last_position(), timeout=self._timeout)
        return r.position

    # -- listeners and waiting ---------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener(event)`` once for every event this process's
        replica applies live (never for history replayed when it joins or
        resyncs); return a function that unsubscribes it.  Every replica
        hears every event: act on an event in the process that should (the
        one holding the agent's connection, say).  A thin client has no
        replica and raises :class:`InvalidArgument`.  Runtime complexity: O(1)."""
        r = self._replica
        if r is None:
            raise InvalidArgument("listener", listener, "a thin client (replica=False) hears no events: subscribe on a replica")
        return r.subscribe(listener)

    def wait_for_ticket(self, agent_id: str, timeout: float | None = None) -> Offer | None:
        """Block until the agent has an offer (see :meth:`next_for`) and
        return it, or None after ``timeout`` seconds.  On a replica the
        thread sleeps until the replica applies an offer to this agent, or
        a second passes in which the desk changed (an idle desk gets no
        ``next_for`` commands from waiters); a thin client blocks on the log
        until a command that may make an offer arrives (not other agents'
        ``next_for`` commands nor reads), or ``poll`` x 4 seconds pass.  Raises :class:`UnknownAgent`.  Runtime complexity: one
        :meth:`next_for` per wake-up."""
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0):
            raise InvalidArgument("timeout", timeout, "expected seconds >= 0, or None")
        deadline = None if timeout is None or timeout == float("inf") else time.monotonic() + timeout
        r = self._replica
        with contextlib.ExitStack() as stack:
            if r is not None:
                stack.enter_context(r.waiting())
            return self._wait_for_ticket(r, agent_id, deadline)

    def _wait_for_ticket(self, r: Replica | None, agent_id: str, deadline: float | None) -> Offer | None:
        while True:
            seen = 0 if r is None else r.offered.get(agent_id, 0)
            cursor = self.log.last_position() if r is None else 0
            offer = self.next_for(agent_id)
            if offer is not None:
                return offer
            changes = 0 if r is None else r.changes
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                pause = 1.0 if remaining is None else min(1.0, remaining)
                if r is None:
                    # At most poll x 4 seconds: another agent's next_for (which
                    # does not wake it) may have expired offers that come here.
                    self._await_change(cursor, min(pause, self._poll * 4))
                    break
                if self._wait_for_offer(r, agent_id, seen, pause) or r.changes != changes:
                    break  # ask again only if something changed (no next_for a second on an idle desk)

    @staticmethod
    def _wait_for_offer(r: Replica, agent_id: str, seen: int, pause: float) -> bool:
        # Whether the replica applied an offer to the agent within ``pause`` seconds.
        until = time.monotonic() + pause
        with r.lock:
            while r.offered.get(agent_id, 0) == seen:
                left = until - time.monotonic()
                if left <= 0:
                    return False
                r.applied.wait(left)  # woken after every batch the replica applies
        return True

    def _await_change(self, cursor: int, pause: float) -> None:
        # A thin client waiting for an offer: block on the log (XREAD BLOCK
        # on Redis, a short poll on SQLite) until a command that may make
        # one arrives after ``cursor``, or ``pause`` seconds pass.  Other
        # waiters' next_for commands and reads do not wake it (else waiters
        # would wake each other forever).
        until = time.monotonic() + pause
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            entries = self.log.read(cursor, limit=1000, block=left)
            if not entries:
                return
            cursor = entries[-1].position
            for entry in entries:
                if entry.command.get("op") not in _CANNOT_OFFER:
                    return

    # -- the background follower ---------------------------------------------------------

    def _follow(self) -> None:
        r = self._replica
        assert r is not None
        last_digest = time.monotonic()
        last_verify = time.monotonic()
        while not self._closed.is_set():
            try:
                r.poll(block=self._poll, publish_later=True)  # published with the next read
                now = time.monotonic()
                if now - last_verify >= 1.0:
                    last_verify = now
                    r.verify()
                self._maybe_tick()
                if r.take_divergence():
                    r.resync("a digest check found this replica diverged")
                if (
                    self._digest_seconds is not None
                    and now - last_digest >= self._digest_seconds
                    and r.time - r.digest_time >= self._digest_seconds
                ):
                    # Only if no replica appended one lately: each costs every replica a digest.
                    last_digest = now
                    self.log.append(r.digest_command(self._name))
                r.maybe_snapshot()
            except (ConnectionError, OSError, TimeoutError):
                logger.warning("shared desk follower: the log cannot be reached; retrying", exc_info=True)
                self._closed.wait(0.5)
                with contextlib.suppress(ConnectionError, OSError, TimeoutError, TriageError):
                    r.verify()
            except Exception:
                logger.exception("shared desk follower failed; retrying")
                self._closed.wait(0.5)

    def _maybe_tick(self) -> None:
        r = self._replica
        assert r is not None
        due = r.next_due()
        if due is None or due > self._clock():
            return
        asked = self._tick_asked
        wall = time.monotonic()
        if asked is not None and asked[0] == due and wall < asked[1]:
            return  # asked already; wait for it to be applied
        entry = self.log.append(encode("tick", {}))
        self._tick_asked = (due, wall + self._tick_pause(due, entry.time))

    @staticmethod
    def _tick_pause(due: float, landed: float) -> float:
        # How long to wait before asking again for the tick due at ``due``: a
        # second for one applied in time; if the log's clock is behind this
        # process's, the tick landed early (a no-op) and another is asked
        # once the log's clock has passed ``due``.
        return 1.0 if landed >= due else min(1.0, max(0.005, due - landed))

    def close(self) -> None:
        """Stop the follower thread (the log stays open: close it yourself).
        Idempotent.  Runtime complexity: O(1)."""
        self._closed.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)

    def __enter__(self) -> SharedDesk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "thin client" if self._replica is None else f"replica at {self._replica.position}"
        return f"<SharedDesk {self._name!r}: {kind} of {self.log!r}>"
