"""A replica of a shared desk: an ordinary Dispatcher that applies the log.

A :class:`Replica` reads the log in order and applies each command to its
own :class:`~triage_queue.Dispatcher` (built with ``advance_on_read=False``
on a clock set to each entry's time), so its
state after position p is a pure function of the log up to p (and of the
snapshot it started from).  Every replica computes the same result or
error for every command; it keeps the results of the latest
``results_kept`` commands by command id, so that a retried command is
applied once and answers with its first result.

>>> import os, tempfile
>>> from triage_queue import Agent, Ticket
>>> from triage_queue.shared.sqlite import SqliteLog
>>> from triage_queue.shared.commands import encode
>>> log = SqliteLog(os.path.join(tempfile.mkdtemp(), "d.db"), clock=lambda: 100.0)
>>> _ = log.append(init_command(agents=[Agent("ana")], name="eu"))
>>> submit = encode("submit", {"ticket": Ticket("T-1", 0.0)}, command_id="c-1")
>>> entry = log.append(submit); _ = log.append(submit)   # a retry: applied once
>>> r = Replica(log); r.catch_up()
3
>>> r.result("c-1").id, r.desk.status("T-1"), len(r.desk.queue)
('eu-1', 'offered', 0)
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from triage_queue.agents import Agent, AgentStatus
from triage_queue.clock import ManualClock
from triage_queue.dispatch.dispatcher import Dispatcher
from triage_queue.dispatch.overflow import OverflowRule
from triage_queue.dispatch.snapshot import code_name, policy_difference, policy_identity
from triage_queue.dispatch.strain import StrainGuard
from triage_queue.errors import InvalidArgument, TriageError
from triage_queue.events import Event, EventKind
from triage_queue.policy import Policy
from triage_queue.queue import TicketQueue
from triage_queue.selection import LongestIdle, Selection
from triage_queue.shared.commands import READS, decode_args, decode_result, encode_result, new_command_id
from triage_queue.shared.log import LATEST_TIME, Entry, Log
from triage_queue.ticket import Ticket

__all__ = ["SETTINGS", "SNAPSHOT_FORMAT", "Alarm", "Replica", "init_command", "settings_from_data"]

logger = logging.getLogger("triage_queue.shared")



class _ReplayFilter(logging.Filter):
    # Drops the dispatcher's warnings (and lower) logged by a thread while it
    # replays history (a replica joining, catching up or resyncing): every
    # replica logged them when the commands were first applied, and a replica
    # joining a big desk would log one "ticket ... is unroutable" per ticket
    # of the past.  Errors pass; other threads are not affected.

    def __init__(self) -> None:
        super().__init__("triage_queue.dispatch")
        self.replaying: dict[int, int] = {}  # thread ident -> nesting depth (each thread writes its own key)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or threading.get_ident() not in self.replaying

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        ident = threading.get_ident()
        replaying = self.replaying
        replaying[ident] = replaying.get(ident, 0) + 1
        try:
            yield
        finally:
            depth = replaying.pop(ident) - 1
            if depth:
                replaying[ident] = depth


_replay_filter = _ReplayFilter()
logging.getLogger("triage_queue.dispatch").addFilter(_replay_filter)

#: The format name and version of a shared desk's stored snapshots.
SNAPSHOT_FORMAT = ("triage-queue/shared", 1)

#: The Dispatcher settings a desk is created with (recorded in its ``init`` command).
SETTINGS = (
    "offer_timeout",
    "mark_not_responding",
    "affinity_wait",
    "retry_after",
    "sla_warning",
    "audit",
    "refuse_unroutable",
    "stats",
    "analytics",
    "finished_memory",
    "overflow",
    "strain",
)


def settings_from_data(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The Dispatcher settings with ``overflow`` and ``strain`` in their
    plain-data forms (what an ``init`` command records:
    :meth:`~triage_queue.OverflowRule.to_dict` of each rule, and
    :meth:`~triage_queue.StrainGuard.to_dict`, as a desk snapshot's
    ``overflow.rules`` and ``strain.guard`` sections hold them) turned back
    into :class:`~triage_queue.OverflowRule` and
    :class:`~triage_queue.StrainGuard` values; the objects themselves pass
    as they are.  A bad form raises :class:`InvalidArgument` naming the
    setting.

    Runtime complexity: O(rules + overrides).

    >>> settings_from_data({"strain": {"hard_in_a_row": 2}})["strain"].limits.hard_in_a_row
    2
    """
    out = dict(settings)
    overflow = out.get("overflow")
    if isinstance(overflow, Mapping):
        overflow = [overflow]
    if isinstance(overflow, list | tuple):
        rules = []
        for index, item in enumerate(overflow):
            try:
                rules.append(OverflowRule.from_dict(item) if isinstance(item, Mapping) else item)
            except InvalidArgument as exc:
                raise InvalidArgument(f"overflow[{index}].{exc.field}", exc.value, exc.reason) from None
        out["overflow"] = rules
    strain = out.get("strain")
    if isinstance(strain, Mapping):
        try:
            out["strain"] = StrainGuard.from_dict(strain)
        except InvalidArgument as exc:
            raise InvalidArgument(f"strain.{exc.field}", exc.value, exc.reason) from None
    return out


@attrs.frozen
class Alarm:
    """Something a replica found wrong: ``kind`` is ``"divergence"`` (its
    state digest differs from another replica's at the same position),
    ``"log_lost_entries"`` (the log no longer has entries it applied) or
    ``"resynced"`` (it reloaded a snapshot) or ``"resync_refused"`` (after
    a divergence, the only snapshot kept was written by a replica party to
    the mismatch and the log no longer starts at the desk's ``init``: it
    keeps its state); ``position`` is where.

    >>> Alarm("divergence", 12, "digest 1a2b != 3c4d").kind
    'divergence'
    """

    kind: str
    position: int
    detail: str


def init_command(
    *,
    agents: Iterable[Agent] = (),
    policy: Policy | None = None,
    selection: Selection | None = None,
    classify: Callable[[Ticket], str] | None = None,
    name: str = "desk",
    presence_grace: float | None = None,
    presence_status: str = "away",
    **settings: Any,
) -> dict[str, Any]:
    """The command that creates a desk: its settings (the Dispatcher's
    ``offer_timeout``, ``mark_not_responding``, ``affinity_wait``,
    ``retry_after``, ``sla_warning``, ``audit``, ``refuse_unroutable``,
    ``stats``, ``analytics``, ``finished_memory``, ``overflow``,
    ``strain``), its first agents, its name, presence settings and the
    identity of the code it runs with.  ``overflow`` and ``strain`` may be
    given as the objects or in their plain-data forms (see
    :func:`settings_from_data`); the command records the plain forms, and
    every replica rebuilds the objects from them.  The settings are checked
    by building a Dispatcher here, so a bad one raises before anything is
    appended.  The first ``init`` in a log wins; later ones are no-ops.

    Runtime complexity: O(A log A).

    >>> init_command(name="eu", offer_timeout=20)["args"]["settings"]["offer_timeout"]
    20.0
    >>> from triage_queue import OverflowRule
    >>> rule = OverflowRule("billing", ["general"], waiting_above=3)
    >>> init_command(overflow=rule)["args"]["settings"]["overflow"][0]["backup"]
    {'general': 1}
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise InvalidArgument(unknown[0], settings[unknown[0]], f"not a desk setting (expected one of {', '.join(SETTINGS)})")
    policy = Policy.default() if policy is None else policy
    agents = list(agents)
    if presence_grace is not None and (
        isinstance(presence_grace, bool) or not isinstance(presence_grace, int | float) or not 0 < presence_grace < math.inf
    ):
        raise InvalidArgument("presence_grace", presence_grace, "expected seconds > 0, or None (no presence)")
    status = AgentStatus(presence_status) if presence_status in ("away", "offline", "not_responding") else None
    if status is None:
        raise InvalidArgument("presence_status", presence_status, "expected 'away', 'offline' or 'not_responding'")
    probe = Dispatcher(
        TicketQueue(policy, clock=ManualClock(0.0)),
        agents,
        selection=selection,
        classify=classify,
        name=name,
        **settings_from_data(settings),
    )
    recorded = probe.snapshot()
    written = dict(recorded["settings"], advance_on_read=False)
    # The optional parts in the snapshot's own plain forms, only when set (an
    # init without them is what it was before they could travel).
    if "overflow" in recorded:
        written["overflow"] = recorded["overflow"]["rules"]
    if "strain" in recorded:
        written["strain"] = recorded["strain"]["guard"]
    return {
        "op": "init",
        "id": new_command_id(),
        "args": {
            "settings": written,
            "agents": [agent.to_dict() for agent in agents],
            "name": name,
            "policy": recorded["policy"],
            "selection": recorded["selection"],
            "classify": recorded["classify"],
            "presence_grace": None if presence_grace is None else float(presence_grace),
            "presence_status": status.value,
        },
    }


class _LogTime:
    # The replica's clock: the time of the entry being applied (set by the
    # replica only, never backwards), read by its Dispatcher.
    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# Commands the replica answers itself rather than its Dispatcher.
_REPLICA_OPS = frozenset({"heartbeat", "digest", "snapshotted", "next_due"})
# Commands that cannot make a ticket routable for a waiting agent (see Replica.changes).
_NO_CHANGE_OPS = _REPLICA_OPS | {"next_for"} | set(READS)


class _Result:
    # One command's result: raw (as this replica computed it) or plain (read
    # from a snapshot); each form made from the other when first needed.
    __slots__ = ("data", "error", "op", "value")

    def __init__(self, op: str, value: Any, error: BaseException | None, data: dict[str, Any] | None = None) -> None:
        self.op = op
        self.value = value
        self.error = error
        self.data = data

    def plain(self) -> dict[str, Any]:
        if self.data is None:
            self.data = _plain_result(self.op, self.value, self.error)
        return self.data

    def get(self) -> Any:
        if self.data is not None and self.value is None and self.error is None:
            self.value, self.error = decode_result(self.op, self.data)
        if self.error is not None:
            raise self.error
        return self.value


def _plain_result(op: str, value: Any, error: BaseException | None) -> dict[str, Any]:
    # A result as plain data; one whose encoding raises is published as that
    # error, never raised into the apply.
    try:
        return encode_result(op, value, error)
    except Exception as exc:
        return encode_result(op, None, exc)


def _call(desk: Dispatcher, op: str, a: dict[str, Any]) -> Any:
    # A command applied to the desk: the Dispatcher's own method.
    if op == "submit":
        return desk.submit(a["ticket"])
    if op == "accept":
        return desk.accept(a["offer"])
    if op == "complete":
        return desk.complete(a["ticket_id"], a.get("agent_id"))
    if op == "next_for":
        return desk.next_for(a["agent_id"])
    if op == "tick":
        desk.tick()
        return None
    if op == "decline":
        desk.decline(a["offer"], a.get("reason", ""))
        return None
    if op == "update":
        return desk.update(a["ticket_id"], **a.get("changes", {}))
    if op == "cancel":
        return desk.cancel(a["ticket_id"])
    if op == "transfer":
        return desk.transfer(a["ticket_id"], a.get("agent_id"), **a.get("changes", {}))
    if op == "add_agent":
        desk.add_agent(a["agent"])
        return None
    if op == "remove_agent":
        return desk.remove_agent(a["agent_id"])
    if op == "set_status":
        return desk.set_status(a["agent_id"], a["status"])
    if op == "update_agent":
        return desk.update_agent(a["agent_id"], **a.get("changes", {}))
    if op == "assign_all":
        return desk.assign_all()
    # Reads (a thin client's): the desk as of this place in the log.
    if op == "status":
        return desk.status(a["ticket_id"])
    if op == "assigned":
        return desk.assigned(a["agent_id"])
    if op == "offers_for":
        return desk.offers_for(a["agent_id"])
    if op == "stats":
        return desk.stats()
    if op == "explain_assignment":
        return desk.explain_assignment(a["ticket_id"])
    if op == "position":
        return desk.queue.position(a["ticket_id"])
    if op == "waiting":
        return len(desk.queue)
    raise InvalidArgument("op", op, "not an operation of a shared desk")


class Replica:
    """One process's copy of a shared desk, kept by applying the log.

    ``log``: the engine.  ``policy``, ``selection`` and ``classify``: the
    code the desk runs with (each replica must give the same; the desk's
    ``init`` command records their identity and a mismatch raises
    :class:`InvalidArgument`).  ``snapshot_every`` commands or
    ``snapshot_seconds`` of log time, whichever comes first, make
    :meth:`maybe_snapshot` store a snapshot (and, with ``trim``, trim the log
    behind the older snapshot kept).  ``results_kept``: how many recent
    commands' results are kept for retries (part of the replicated state: it
    must be the same in every replica).  ``publish``: publish the results of
    thin clients' commands.  ``on_alarm``: called with each :class:`Alarm`.

    Catching up (:meth:`catch_up`) never calls listeners; applying new
    entries afterwards (:meth:`poll`, :meth:`sync_to`) calls each listener
    once per event.

    Runtime complexity: see each method; applying a command costs what the
    Dispatcher operation costs plus decoding it.
    """

    def __init__(
        self,
        log: Log,
        *,
        policy: Policy | None = None,
        selection: Selection | None = None,
        classify: Callable[[Ticket], str] | None = None,
        snapshot_every: int = 10_000,
        snapshot_seconds: float = 300.0,
        results_kept: int = 10_000,
        publish: bool = True,
        trim: bool = True,
        batch: int = 1000,
        on_alarm: Callable[[Alarm], None] | None = None,
        on_listener_error: Callable[[Event, Exception], None] | None = None,
    ) -> None:
        """Runtime complexity: O(1)."""
        if not isinstance(log, Log):
            raise InvalidArgument("log", log, "expected a triage_queue.shared.Log (SqliteLog, RedisLog)")
        if isinstance(snapshot_every, bool) or not isinstance(snapshot_every, int) or snapshot_every < 1:
            raise InvalidArgument("snapshot_every", snapshot_every, "expected an int >= 1 (commands)")
        if isinstance(snapshot_seconds, bool) or not isinstance(snapshot_seconds, int | float) or not snapshot_seconds > 0:
            raise InvalidArgument("snapshot_seconds", snapshot_seconds, "expected seconds > 0")
        if isinstance(results_kept, bool) or not isinstance(results_kept, int) or results_kept < 1:
            raise InvalidArgument("results_kept", results_kept, "expected an int >= 1")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise InvalidArgument("batch", batch, "expected an int >= 1")
        if selection is not None and not isinstance(selection, Selection):
            raise InvalidArgument("selection", selection, "expected a selection strategy (name, fit, order, describe)")
        if policy is not None and not isinstance(policy, Policy):
            raise InvalidArgument("policy", policy, "expected a triage_queue.Policy")
        self.log = log
        self._policy = Policy.default() if policy is None else policy
        self._selection = LongestIdle() if selection is None else selection
        self._classify = classify
        self._snapshot_every = snapshot_every
        self._snapshot_seconds = float(snapshot_seconds)
        self._results_kept = results_kept
        self._publish = publish
        self._trim = trim
        self._batch = batch
        self._on_alarm = on_alarm
        self._on_listener_error = on_listener_error
        self.lock = threading.RLock()
        #: Notified (lock held) after every batch applied.
        self.applied = threading.Condition(self.lock)
        self._clock = _LogTime()
        self._desk: Dispatcher | None = None
        self._init: dict[str, Any] | None = None
        self.position = 0
        self.time = -math.inf
        self._results: OrderedDict[str, _Result] = OrderedDict()
        # Presence: agent -> the instant its grace runs out; a heap of
        # (instant, agent) with stale entries skipped.
        self._seen: dict[str, float] = {}
        self._seen_heap: list[tuple[float, str]] = []
        self._digests: OrderedDict[int, str] = OrderedDict()  # position of a digest command -> digest before it
        self._listeners: list[Callable[[Event], None]] = []
        self._outbox: list[Event] = []
        self._quiet_until = 0  # after a resync: listeners already heard the entries up to here
        self._live = False
        self._waiters = 0  # threads and coroutines waiting for an offer (they need the events)
        self._unsubscribe: Callable[[], None] | None = None  # from the desk, while events are wanted
        self._to_publish: list[tuple[str, dict[str, Any]]] = []
        self._since_snapshot = 0
        self._snapshot_time = -math.inf
        self._stored: list[int] = []  # positions of the snapshots this replica stored
        self.offered: dict[str, int] = {}  # agent -> offers made to it (live), for waiters
        self.alarms: list[Alarm] = []
        self.applied_count = 0
        #: Commands applied that may change what can be offered (not a
        #: next_for, read, heartbeat...): waiters ask again only when it moved.
        self.changes = 0
        self._diverged = False
        #: This replica's name in the digest commands and snapshots it writes.
        self.ident = new_command_id()[:16]
        self._suspects: set[str] = set()  # the replicas party to the latest digest mismatch
        self._digests_quiet_until = 0  # digest commands replayed by a resync raise no alarm
        self._replay_all = False  # rebuilding from the log's start: no snapshot
        #: The log time of the latest digest command applied.
        self.digest_time = -math.inf
        self._last_id: Any = None  # the id of the command at self.position (None: unknown)

    # -- reading the state --------------------------------------------------------

    @property
    def desk(self) -> Dispatcher:
        """The replica's Dispatcher (read it under :attr:`lock`; never call
        its operations directly, or the replica diverges).  Raises
        :class:`InvalidArgument` before the desk's ``init`` is applied.
        Runtime complexity: O(1)."""
        if self._desk is None:
            raise InvalidArgument("desk", None, "the desk is not created yet: no init command applied")
        return self._desk

    @property
    def created(self) -> bool:
        """Whether the desk's ``init`` command has been applied.  Runtime complexity: O(1)."""
        return self._desk is not None

    @property
    def settings(self) -> Mapping[str, Any]:
        """The desk's ``init`` arguments (settings, name, presence).  Runtime complexity: O(1)."""
        return {} if self._init is None else self._init

    def result(self, command_id: str) -> Any:
        """The result of an applied command, or raise its error (the same
        exception, for commands this replica applied itself).  Raises
        :class:`InvalidArgument` if the command is not among the last
        ``results_kept``.  Runtime complexity: O(1) (plus decoding)."""
        found = self._results.get(command_id)
        if found is None:
            raise InvalidArgument("command_id", command_id, "no result kept for this command")
        return found.get()

    def has_result(self, command_id: str) -> bool:
        """Whether a result is kept for ``command_id``.  Runtime complexity: O(1)."""
        return command_id in self._results

    def next_due(self) -> float | None:
        """The log time at which a ``tick`` next has something to do (the
        desk's :meth:`~triage_queue.Dispatcher.next_due`, or an agent's
        presence running out), or None.  Runtime complexity: O(1) amortised."""
        with self.lock:
            due = None if self._desk is None else self._desk.next_due()
            heap, seen = self._seen_heap, self._seen
            while heap and seen.get(heap[0][1]) != heap[0][0]:
                heapq.heappop(heap)
            if heap and (due is None or heap[0][0] < due):
                due = heap[0][0]
            return due

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener(event)`` for every event of a command applied
        live (never during catch-up or a resync); return a function that
        unsubscribes it.  Runtime complexity: O(1)."""
        if not callable(listener):
            raise InvalidArgument("listener", listener, "expected a callable taking an Event")
        with self.lock:
            self._listeners.append(listener)
            self._rewire()

        def unsubscribe() -> None:
            with self.lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
                    self._rewire()

        return unsubscribe

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """While the block runs, keep :attr:`offered` counting the offers
        made to each agent (for threads and coroutines that wait for one).
        Runtime complexity: O(1)."""
        with self.lock:
            self._waiters += 1
            self._rewire()
        try:
            yield
        finally:
            with self.lock:
                self._waiters -= 1
                self._rewire()

    def _rewire(self) -> None:
        # The desk's events are made only when someone wants them: a listener
        # or a waiter, while the replica applies live.  (A desk with no
        # listener keeps its events as cheap tuples.)  Lock held.
        want = self._desk is not None and self._live and bool(self._listeners or self._waiters)
        if want and self._unsubscribe is None:
            self._unsubscribe = self.desk.subscribe(self._deliver)
        elif not want and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def set_live(self, live: bool) -> None:
        """Whether entries applied from now on reach listeners (False while
        replaying history).  Runtime complexity: O(1)."""
        with self.lock:
            self._live = live
            self._rewire()

    def digest(self) -> str:
        """A digest of the replicated state (the desk's snapshot, the kept
        results, presence): equal in every replica at the same position.
        Runtime complexity: O(size of the state)."""
        with self.lock:
            return _digest(self._state_data(with_digests=False))

    # -- applying the log ---------------------------------------------------------

    def catch_up(self) -> int:
        """Bring the replica to the end of the log as it is now, without
        calling listeners: load the newest snapshot if the replica has no
        desk yet or is behind it past trimmed entries, then replay the tail
        in batches.  Return the position reached.  Runtime complexity:
        O(snapshot + tail).
        """
        with self.lock, _replay_filter.quiet():
            live = self._live
            self.set_live(False)
            try:
                self._check_position()
                target = self.log.last_position()
                while self.position < target:
                    entries = self._read_checked()
                    if not entries:
                        break
                    self._apply_batch(entries)
            finally:
                self.set_live(live or self._desk is not None)
            self._flush_publish()
            return self.position

    def sync_to(self, position: int, *, timeout: float = 10.0) -> None:
        """Apply the log (live) up to at least ``position``.  Raises
        :class:`InvalidArgument` if it is not in the log within ``timeout``
        seconds.  Runtime complexity: O(entries applied)."""
        with self.lock:
            waited = 0.0
            while self.position < position:
                entries = self._read_checked()
                if not entries:
                    self.log.read(self.position, limit=1, block=0.05)  # wait for it
                    waited += 0.05
                    if waited > timeout:
                        raise InvalidArgument("position", position, f"not in the log after {timeout}s")
                    continue
                self._apply_batch(entries)
            self._flush_publish()

    def poll(self, *, block: float | None = None, publish_later: bool = False) -> int:
        """Apply (live) whatever is in the log after the replica's
        position, waiting up to ``block`` seconds for something to arrive
        (without holding the lock).  Return how many entries were applied.

        Results for thin clients are published once the batch is applied;
        with ``publish_later`` they are published by the next call instead,
        in the same round trip as its read when the engine can (Redis): a
        desk server calling ``poll`` in a loop then pays one round trip per
        batch.  (:meth:`flush` publishes them at once.)

        Runtime complexity: O(entries applied)."""
        after = self.position
        arrived: Sequence[Entry] = ()
        if block:
            with self.lock:
                pending, self._to_publish = self._to_publish, []
            combined = getattr(self.log, "publish_and_read", None) if pending else None
            try:
                if combined is not None:
                    arrived = combined(pending, after, limit=self._batch, block=block)
                else:
                    if pending:
                        self._send_results(pending)
                    arrived = self.log.read(after, limit=self._batch, block=block)
            except BaseException:
                if combined is not None:
                    with self.lock:  # published or not: publishing again is harmless (first writer wins)
                        self._to_publish[:0] = pending
                raise
            if not arrived:
                return 0  # nothing arrived
        with self.lock:
            before = self.applied_count
            # What arrived follows the position it was read after; if a caller
            # applied entries meanwhile (or nothing was awaited), read again,
            # checking that the replica's last entry is still there.  (A
            # follower also checks that every second: see verify().)
            entries = arrived if arrived and self.position == after and self._desk is not None else self._read_checked()
            if entries:
                self._apply_batch(entries)
                if not (publish_later and block):
                    self._flush_publish()
            return self.applied_count - before

    def flush(self) -> None:
        """Publish the results not published yet (see :meth:`poll`).
        Runtime complexity: O(results), one round trip."""
        with self.lock:
            self._flush_publish()

    def verify(self) -> bool:
        """Check that the replica's last applied entry is still in the log
        (call it after reconnecting): if the log lost entries it applied,
        raise an alarm and resync; if entries after it were trimmed, load
        the newest snapshot.  Return whether it resynced.  Runtime
        complexity: O(1), or a resync."""
        with self.lock:
            return self._check_position()

    def resync(self, reason: str = "asked") -> None:
        """Drop the replica's state and rebuild it from the newest snapshot
        and the log's tail, without calling listeners.  After a divergence
        (see :meth:`take_divergence`), a snapshot written by either replica
        party to the mismatch is not trusted: the replica replays the log
        from its start instead, or, if the log was trimmed, keeps its state
        and raises a ``resync_refused`` alarm.  Digest commands replayed here
        raise no new divergence alarm.  Runtime complexity: O(snapshot +
        tail), or O(log) for a full replay."""
        with self.lock:
            suspects, self._suspects = self._suspects, set()
            snap = self.log.load_snapshot()
            if suspects and snap is not None and str(snap.data.get("writer")) in suspects:
                snap = None  # written by a party to the mismatch: replay the log from its start instead
                if not self._replayable():
                    self._alarm(Alarm("resync_refused", self.position, f"{reason}: no trustworthy snapshot kept"))
                    return
            self._quiet_until = max(self._quiet_until, self.position)
            self._digests_quiet_until = max(self._digests_quiet_until, self.log.last_position())
            self._reset()
            if snap is not None:
                self._load(snap.position, snap.data)
            self._alarm(Alarm("resynced", self.position, reason))
            self._replay_all = snap is None and bool(suspects)
            try:
                self.catch_up()
            finally:
                self._replay_all = False

    def _replayable(self) -> bool:
        # Whether the log still begins with the desk's init (never trimmed).
        first = self.log.read(0, limit=1)
        return bool(first) and isinstance(first[0].command, Mapping) and first[0].command.get("op") == "init"

    def _read_checked(self) -> Sequence[Entry]:
        # The next batch after the replica's position, read together with
        # the replica's own last entry: if that entry is gone (trimmed, or
        # lost by the engine), entries after it may be gone too, so the
        # replica reloads a snapshot before going on.  Lock held.
        for _ in range(3):
            position = self.position
            if position == 0 and self._desk is None:
                self._check_position()
                if self.position == 0:
                    return self.log.read(0, limit=self._batch)
                continue
            entries = self.log.read(position - 1, limit=self._batch + 1)
            if entries and entries[0].position == position and self._holds_last(entries[0]):
                return entries[1:]
            if not self._check_position():
                return [e for e in entries if e.position > position]
        return self.log.read(self.position, limit=self._batch)

    def _check_position(self) -> bool:
        # See verify().  Lock held.
        log = self.log
        if self._desk is None:
            if self._replay_all:
                return False
            snap = log.load_snapshot()
            if snap is not None and snap.position > self.position:
                self._load(snap.position, snap.data)
            return False
        if self.position == 0:
            return False
        probe = log.read(self.position - 1, limit=1)
        if probe and probe[0].position == self.position:
            if self._holds_last(probe[0]):
                return False
            return self._lost_entries(f"entry {self.position} holds another command (a log restored from a backup?)")
        if self.position > log.last_position():
            self._alarm(Alarm("log_lost_entries", self.position, f"the log ends at {log.last_position()}"))
            self._quiet_until = max(self._quiet_until, self.position)
            self._resync_quietly()
            return True
        snap = log.load_snapshot()
        if snap is not None and snap.position > self.position:
            self._quiet_until = max(self._quiet_until, self.position)
            self._reset()
            self._load(snap.position, snap.data)
            return True
        if snap is None or snap.position < self.position:
            return self._lost_entries(f"entry {self.position} is gone and no snapshot covers it")
        return False

    def _holds_last(self, entry: Entry) -> bool:
        # Whether ``entry`` (at the replica's position) is the one it applied
        # there: a position reused by a log restored from a backup is not.
        last = self._last_id
        return last is None or (isinstance(entry.command, Mapping) and entry.command.get("id") == last)

    def _lost_entries(self, detail: str) -> bool:
        # The replica's last entry is gone though no snapshot covers it (not
        # trimmed: lost, say by a Redis failover, while more was appended).
        self._alarm(Alarm("log_lost_entries", self.position, detail))
        self._quiet_until = max(self._quiet_until, self.position)
        self._resync_quietly()
        return True

    def _resync_quietly(self) -> None:
        self._reset()
        snap = self.log.load_snapshot()
        if snap is not None and snap.position <= self.log.last_position():
            self._load(snap.position, snap.data)

    def _reset(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._desk = None
        self._init = None
        self.position = 0
        self.time = -math.inf
        self._clock = _LogTime()
        self._results.clear()
        self._seen.clear()
        self._seen_heap.clear()
        self._digests.clear()
        self._outbox.clear()
        self.digest_time = -math.inf
        self._last_id = None

    def _apply_batch(self, entries: Sequence[Entry]) -> None:
        # Lock held.
        apply = self._apply
        if self.position < self._quiet_until:
            with _replay_filter.quiet():  # entries applied before a resync: history
                for entry in entries:
                    if entry.position > self.position:
                        apply(entry)
        else:
            for entry in entries:
                if entry.position > self.position:
                    apply(entry)
        self.applied.notify_all()
        if self._outbox:
            self._deliver_outbox()

    def _apply(self, entry: Entry) -> None:
        command = entry.command
        when = entry.time
        if when.__class__ is not float or not when <= LATEST_TIME:
            when = self._sane_time(entry)
        if when > self.time:
            self.time = when
            self._clock.now = when  # log time never goes back
        self.position = entry.position
        self.applied_count += 1
        self._since_snapshot += 1
        try:
            command_id = command["id"]
            op = command["op"]
        except (KeyError, TypeError):
            command_id = op = None
        self._last_id = command_id  # what the entry at self.position carries (see _holds_last)
        if command_id.__class__ is not str or op.__class__ is not str:
            # Not a command (every replica skips it alike).
            logger.warning("ignored a malformed command at position %s: %.200r", entry.position, command)
            return
        results = self._results
        kept = results.get(command_id)
        if kept is not None:  # a retry: applied once; a thin client's gets its first result again
            if command.get("reply") and self._publish:
                self._to_publish.append((command_id, kept.plain()))
            return
        if op not in _NO_CHANGE_OPS:
            self.changes += 1
        value: Any = None
        error: BaseException | None = None
        desk = self._desk
        if op == "init":
            if desk is None:
                self._create(command, when)  # code that does not match the desk's: this replica cannot serve it
            result = _Result(op, None, None)
        elif desk is None:
            result = _Result(op, None, InvalidArgument("desk", None, "the desk is not created yet: no init command applied"))
        else:
            if self._seen_heap and self._seen_heap[0][0] <= when:
                self._expire_presence(desk, when)
            try:
                if op not in _REPLICA_OPS:
                    value = _call(desk, op, decode_args(command) if command.get("args") else {})
                elif op == "heartbeat":
                    self._heartbeat(desk, command, when)
                elif op == "digest":
                    value = self._check_digest(command, entry.position)
                    self.digest_time = when
                elif op == "snapshotted":
                    # Some replica stored a snapshot here: the others need not.
                    self._since_snapshot = 0
                    self._snapshot_time = when
                else:
                    value = self.next_due()
            except Exception as exc:  # the command's error is its result, in every replica alike
                error = exc
            result = _Result(op, value, error)
        results[command_id] = result
        if len(results) > self._results_kept:
            results.popitem(last=False)
        if command.get("reply") and self._publish:
            self._to_publish.append((command_id, result.plain()))

    def _sane_time(self, entry: Entry) -> float:
        # An entry whose time is not a time (a row written by hand, an id
        # far in the future): the time of the entry before it, in every
        # replica alike.
        when = entry.time
        if when.__class__ is int and when <= LATEST_TIME:
            return float(when)
        logger.warning("an entry at position %s has time %.60r: using %r", entry.position, when, self.time)
        return self.time if self.time > -math.inf else 0.0

    def _flush_publish(self) -> None:
        pending, self._to_publish = self._to_publish, []
        if pending:
            self._send_results(pending)

    def _send_results(self, pending: list[tuple[str, dict[str, Any]]]) -> None:
        many = getattr(self.log, "publish_results", None)
        try:
            if many is not None:
                many(pending)
            else:
                for command_id, data in pending:
                    self.log.publish_result(command_id, data)
        except (ConnectionError, OSError, TriageError):  # another replica publishes them, or the client retries
            logger.warning("could not publish %d result(s)", len(pending), exc_info=True)

    # -- creating, presence, digests ---------------------------------------------

    def _create(self, command: Mapping[str, Any], when: float) -> None:
        args = command.get("args") or {}
        recorded = args.get("policy")
        difference = policy_difference(recorded, policy_identity(self._policy))
        if difference is not None:
            raise InvalidArgument("policy", self._policy, f"not the policy this desk runs with: {difference}")
        if args.get("selection") != self._selection.name:
            raise InvalidArgument("selection", self._selection, f"this desk runs with selection {args.get('selection')!r}")
        classify = "severity" if self._classify is None else code_name(self._classify)
        if args.get("classify") != classify:
            raise InvalidArgument("classify", self._classify, f"this desk runs with classify {args.get('classify')!r}")
        settings = settings_from_data(args["settings"])
        settings.pop("advance_on_read", None)
        agents = [Agent.from_dict(a) for a in args.get("agents", [])]
        self._clock.now = when
        self._desk = Dispatcher(
            TicketQueue(self._policy, clock=self._clock),
            agents,
            selection=self._selection,
            classify=self._classify,
            name=args.get("name", "desk"),
            advance_on_read=False,
            on_listener_error=self._on_listener_error,
            **settings,
        )
        self._init = dict(args)
        self._snapshot_time = when
        self._unsubscribe = None
        self._rewire()

    def _heartbeat(self, desk: Dispatcher, command: Mapping[str, Any], when: float) -> None:
        agent_id = decode_args(command)["agent_id"]
        desk.roster[agent_id]  # UnknownAgent, InvalidKey
        grace = self.settings.get("presence_grace")
        if grace is None:
            return
        deadline = when + grace
        self._seen[agent_id] = deadline
        heapq.heappush(self._seen_heap, (deadline, agent_id))

    def _expire_presence(self, desk: Dispatcher, when: float) -> None:
        # Agents whose heartbeats stopped more than the grace period ago go
        # away (their offers go back to the queue); deterministic: by
        # deadline, then agent id.
        heap, seen = self._seen_heap, self._seen
        status = self.settings.get("presence_status", "away")
        while heap and heap[0][0] <= when:
            deadline, agent_id = heapq.heappop(heap)
            if seen.get(agent_id) != deadline:
                continue
            del seen[agent_id]
            agent = desk.roster.get(agent_id)
            if agent is not None and agent.status is AgentStatus.AVAILABLE:
                try:
                    desk.set_status(agent_id, status)
                except TriageError:
                    logger.warning("presence: could not set %r %s", agent_id, status, exc_info=True)

    def _check_digest(self, command: Mapping[str, Any], position: int) -> str:
        # A digest command: record this replica's digest of the state before
        # it, and compare the digest it carries (another replica's, at an
        # earlier digest command) with this replica's own there.
        mine = _digest(self._state_data(with_digests=False))
        self._digests[position] = mine
        while len(self._digests) > 16:
            self._digests.popitem(last=False)
        args = command.get("args") or {}
        of, theirs = args.get("of"), args.get("digest")
        own = self._digests.get(of) if isinstance(of, int) else None
        if own is not None and theirs is not None and own != theirs and position > self._digests_quiet_until:
            detail = f"this replica's digest {own[:12]} != {str(theirs)[:12]} from {args.get('by')!r}"
            self._alarm(Alarm("divergence", position, detail))
            self._diverged = True
            self._suspects = {self.ident, str(args.get("replica"))}
            if self._listeners and self._live and position > self._quiet_until:
                # Listeners hear it too, after the batch, as the desk's own events.
                changes = {"position": position, "of": of, "digest": own, "theirs": str(theirs), "by": str(args.get("by", ""))}
                self._outbox.append(Event(EventKind.DESK_DIVERGED, self.time, 0, detail=detail, changes=changes))
        return mine

    def _alarm(self, alarm: Alarm) -> None:
        self.alarms.append(alarm)
        logger.warning("shared desk alarm: %s at %s: %s", alarm.kind, alarm.position, alarm.detail)
        if self._on_alarm is not None:
            try:
                self._on_alarm(alarm)
            except Exception:
                logger.exception("on_alarm raised")

    def take_divergence(self) -> bool:
        """Whether a digest check found this replica diverged since the last
        call (the caller then resyncs; see :meth:`resync`).  Runtime complexity: O(1)."""
        with self.lock:
            found, self._diverged = self._diverged, False
            return found

    def recent_digest(self) -> tuple[int, str] | None:
        """The position and digest of the latest digest command applied, or
        None.  Runtime complexity: O(1)."""
        with self.lock:
            if not self._digests:
                return None
            position = next(reversed(self._digests))
            return position, self._digests[position]

    def digest_command(self, by: str = "") -> dict[str, Any]:
        """A digest command carrying this replica's latest digest (see
        :meth:`recent_digest`).  Runtime complexity: O(1)."""
        recent = self.recent_digest()
        of, digest = (None, None) if recent is None else recent
        args = {"of": of, "digest": digest, "by": by, "replica": self.ident}
        return {"op": "digest", "id": new_command_id(), "args": args}

    def _deliver(self, event: Event) -> None:
        if event.kind.value == "offered" and event.agent_id is not None:
            self.offered[event.agent_id] = self.offered.get(event.agent_id, 0) + 1
        # Live, and not replaying what listeners heard before a resync.
        if self._listeners and self.position > self._quiet_until:
            self._outbox.append(event)

    def _deliver_outbox(self) -> None:
        # Listeners hear a batch's events once the whole batch is applied, so
        # that a listener calling the desk (which appends and applies more)
        # never runs in the middle of applying a command.  Lock held.
        while self._outbox:
            events, self._outbox = self._outbox, []
            for event in events:
                for listener in list(self._listeners):
                    try:
                        listener(event)
                    except Exception as exc:
                        handler = self._on_listener_error
                        if handler is not None:
                            handler(event, exc)
                        else:
                            logger.exception("a shared desk listener raised on %s", event)

    # -- snapshots ------------------------------------------------------------------

    def _state_data(self, *, with_digests: bool = True) -> dict[str, Any]:
        # Lock held.
        desk = self.desk
        data: dict[str, Any] = {
            "format": SNAPSHOT_FORMAT[0],
            "version": SNAPSHOT_FORMAT[1],
            "init": self._init,
            "desk": desk.snapshot(),
            "results": [[cid, r.op, r.plain()] for cid, r in self._results.items()],
            "presence": sorted([agent_id, at] for agent_id, at in self._seen.items()),
        }
        if with_digests:
            data["digests"] = [[p, d] for p, d in self._digests.items()]
        return data

    def snapshot(self) -> dict[str, Any]:
        """The replica's state as plain data (the desk's snapshot, the kept
        results, presence, recent digests, the desk's settings) with the
        position it covers under ``"position"``.  Runtime complexity:
        O(size of the state)."""
        with self.lock:
            data = self._state_data()
            data["position"] = self.position
            data["time"] = self.time
            return data

    def _load(self, position: int, data: Mapping[str, Any]) -> None:
        # Lock held.
        with _replay_filter.quiet():  # restoring history
            self._load_quietly(position, data)

    def _load_quietly(self, position: int, data: Mapping[str, Any]) -> None:
        if data.get("format") != SNAPSHOT_FORMAT[0] or data.get("version") != SNAPSHOT_FORMAT[1]:
            raise InvalidArgument(
                "snapshot.format", data.get("format"), f"not a shared desk snapshot of version {SNAPSHOT_FORMAT[1]}"
            )
        desk_data = data["desk"]
        self._clock.now = max(self._clock.now, float(desk_data["now"]))
        desk = Dispatcher.restore(
            desk_data,
            clock=self._clock,
            policy=self._policy,
            selection=self._selection,
            classify=self._classify,
            on_listener_error=self._on_listener_error,
        )
        self._desk = desk
        self._init = dict(data["init"])
        self.position = position
        self.time = float(data.get("time", desk_data["now"]))
        self._results = OrderedDict((cid, _Result(op, None, None, plain)) for cid, op, plain in data["results"])
        self._seen = {agent_id: float(at) for agent_id, at in data["presence"]}
        self._seen_heap = sorted((at, agent_id) for agent_id, at in self._seen.items())
        self._digests = OrderedDict((int(p), str(d)) for p, d in data.get("digests", []))
        self._last_id = None  # the command at the snapshot's position: not known
        self._snapshot_time = self.time
        self._since_snapshot = 0
        self._unsubscribe = None
        self._rewire()

    def snapshot_due(self) -> bool:
        """Whether ``snapshot_every`` commands or ``snapshot_seconds`` of log
        time have passed since the last snapshot.  Runtime complexity: O(1)."""
        return self._desk is not None and (
            self._since_snapshot >= self._snapshot_every
            or (self._since_snapshot > 0 and self.time - self._snapshot_time >= self._snapshot_seconds)
        )

    def maybe_snapshot(self, *, force: bool = False) -> int | None:
        """Store a snapshot if one is due (or ``force``), and trim the log
        behind the older of the two latest this replica stored; return the
        position stored, or None.  Runtime complexity: O(size of the state).
        """
        with self.lock:
            if self._desk is None or not (force or self.snapshot_due()):
                return None
            self._flush_publish()  # before the slow part: clients wait for them
            data = self._state_data()
            position = self.position
            data["time"] = self.time
            data["writer"] = self.ident
            self._since_snapshot = 0
            self._snapshot_time = self.time
        self.log.store_snapshot(position, data)
        self.log.append({"op": "snapshotted", "id": new_command_id(), "args": {"position": position}})
        self._stored.append(position)
        if self._trim and len(self._stored) >= 2:
            self.log.trim(self._stored[-2])
            del self._stored[:-2]
        return position

    def __repr__(self) -> str:
        return f"<Replica at {self.position} of {self.log!r}>"


def _digest(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()).hexdigest()
