"""Command line of a shared desk: ``desk`` (a desk server) and ``log export``.

``python -m triage_queue desk --log URL --policy P.toml --staff S.toml``
runs a replica of the desk on the log at URL as a service: it follows the
log, appends a ``tick`` when something falls due (offer timeouts, holds,
relaxation, SLA warnings, presence), publishes the results of thin
clients' commands, stores snapshots and trims the log behind them, and
appends digest commands that let every replica check it has not diverged.
Thin clients (``SharedDesk(log, replica=False)``, the helpdesk's web
workers) need at least one desk server running.  It logs to stderr and
stops cleanly on SIGTERM or SIGINT: it applies what is in the log, stores
a final snapshot and exits 0.  Run two or more for a hot standby: every
replica is one.

The first process to open an empty log creates the desk from its
``--policy`` and ``--staff`` (agents; their shifts are not used: agents'
presence comes from the helpdesk); a process joining an existing desk must
run with the same policy (a different one is refused, naming the
difference).

``python -m triage_queue log export --log URL --policy P.toml --out day.csv``
writes the tickets submitted to the desk (``--since``/``--until``: a time
range, as seconds since the epoch or ISO-8601) as a trace that
``python -m triage_queue simulate --trace`` replays under another policy:
arrival instants (seconds since midnight UTC of the first one), the
tickets' fields, handling times (accept to completion; the median of the
others for tickets never completed, 300 s when none was), patience (for
tickets cancelled while waiting) and follow-ups (updates that add
contacts).  The export replays the log through a replica, hence
``--policy``; it reads only the entries the log still keeps (snapshots let
replicas trim older ones: see ``docs/deployment.md``).

Examples::

  python -m triage_queue desk --log sqlite:///var/desk.db \\
      --policy examples/policies/vip-first.toml --staff examples/staff/helpdesk.toml
  python -m triage_queue desk --log redis://localhost:6379/0 --name eu \\
      --policy examples/policies/vip-first.toml --staff examples/staff/helpdesk.toml
  python -m triage_queue log export --log sqlite:///var/desk.db \\
      --policy examples/policies/vip-first.toml --out day.csv
  python -m triage_queue simulate --trace day.csv --staff examples/staff/helpdesk.toml \\
      --policy examples/policies/fifo-sla.toml --out out/replay
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import signal
import statistics
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import attrs

from triage_queue.errors import InvalidArgument, TriageError

if TYPE_CHECKING:
    from triage_queue.config import PolicyFile

__all__ = ["add_arguments", "add_log_arguments", "export_trace", "open_desk_log", "policy_settings", "run", "run_log"]

logger = logging.getLogger("triage_queue.shared.desk_server")

#: Handling time written for tickets never completed when no ticket was.
DEFAULT_HANDLING_TIME = 300.0


def open_desk_log(url: str, name: str = "desk") -> Any:
    """The log a URL names, for the desk called ``name``: ``sqlite:///path``
    (a :class:`~triage_queue.shared.SqliteLog`) or ``redis://host:port/db``,
    ``rediss://...``, ``unix:///socket`` (a ``RedisLog`` whose stream is
    named after the desk; needs the ``redis`` extra).  Raises
    :class:`InvalidArgument` naming the URL for anything else.  The same
    as :func:`triage_queue.shared.open_log`, kept for existing callers.

    Runtime complexity: O(1).

    >>> open_desk_log("ftp://x")
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: url='ftp://x': expected sqlite:///path or redis://host:port/db
    """
    from triage_queue.shared.desk import open_log

    return open_log(url, name)


# -- arguments ----------------------------------------------------------------------------


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds > 0")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer >= 1")
    return value


def _instant(text: str) -> float:
    """Seconds since the epoch, or an ISO-8601 timestamp (UTC when naive)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds since the epoch or an ISO-8601 timestamp") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``desk`` command's options.  Runtime complexity: O(1).

    >>> p = argparse.ArgumentParser(); add_arguments(p)
    >>> p.parse_args(["--log", "sqlite:///d.db", "--policy", "p.toml"]).name
    'desk'
    """
    parser.add_argument("--log", required=True, metavar="URL", help="sqlite:///path or redis://host:port/db")
    parser.add_argument("--policy", metavar="FILE", help="the desk's policy TOML file (default: the built-in policy)")
    parser.add_argument("--staff", metavar="FILE", help="a staff TOML file: the agents a new desk starts with")
    parser.add_argument("--name", default="desk", help="the desk's name (offer ids start with it; the Redis stream's name)")
    parser.add_argument("--presence-grace", type=_seconds, metavar="S", help="agents without a heartbeat for S seconds go away")
    parser.add_argument("--snapshot-every", type=_count, default=10_000, metavar="N", help="store a snapshot every N commands")
    parser.add_argument(
        "--snapshot-seconds", type=_seconds, default=300.0, metavar="S", help="... or every S seconds of log time"
    )
    parser.add_argument(
        "--digest-seconds", type=_seconds, default=60.0, metavar="S", help="append a digest check every S seconds"
    )
    parser.add_argument("--poll", type=_seconds, default=0.05, metavar="S", help="how long one read of the log waits")
    parser.add_argument(
        "--allow-code", action="store_true", help='let the policy file run the code its kind = "python" rules name'
    )


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``log`` command's options (``log export``).  Runtime complexity: O(1).

    >>> p = argparse.ArgumentParser(); add_log_arguments(p)
    >>> p.parse_args(["export", "--log", "sqlite:///d.db", "--out", "t.csv"]).since is None
    True
    """
    actions = parser.add_subparsers(dest="log_command", required=True)
    export = actions.add_parser("export", help="write the tickets of a log (or a time range of it) as a simulator trace")
    export.add_argument("--log", required=True, metavar="URL", help="sqlite:///path or redis://host:port/db")
    export.add_argument("--name", default="desk", help="the desk's name (the Redis stream's name)")
    export.add_argument("--policy", metavar="FILE", help="the desk's policy TOML file (the replay needs it)")
    export.add_argument("--since", type=_instant, metavar="T", help="tickets submitted at or after T (epoch seconds or ISO-8601)")
    export.add_argument("--until", type=_instant, metavar="T", help="tickets submitted before T")
    export.add_argument("--out", required=True, metavar="FILE", help="the trace to write: .csv or .jsonl")
    export.add_argument(
        "--allow-code", action="store_true", help='let the policy file run the code its kind = "python" rules name'
    )


# -- the desk server --------------------------------------------------------------------------


def policy_settings(pf: PolicyFile) -> dict[str, Any]:
    """The :class:`~triage_queue.shared.SharedDesk` arguments a policy file
    gives: ``policy``, ``selection``, every ``[dispatcher]`` option
    (``[[dispatcher.overflow]]`` and ``[dispatcher.strain]`` included) and
    the ``[analytics]`` table.  An option a shared desk cannot carry raises
    :class:`~triage_queue.errors.InvalidArgument` naming it, rather than
    being dropped.  Runtime complexity: O(size of the options).

    >>> from triage_queue.config import parse_policy
    >>> text = '[[rules]]\\nkind = "emergency"\\n[dispatcher]\\noffer_timeout = "20s"\\n'
    >>> pf = parse_policy(text + '[dispatcher.strain]\\nhard_in_a_row = 2')
    >>> settings = policy_settings(pf)
    >>> settings["offer_timeout"], settings["strain"].limits.hard_in_a_row
    (20.0, 2)
    """
    from triage_queue.shared.replica import SETTINGS

    settings: dict[str, Any] = {"policy": pf.policy, "selection": pf.selection_strategy()}
    for key, value in pf.dispatcher_options.items():
        if key not in SETTINGS:
            raise InvalidArgument(f"dispatcher.{key}", value, "a shared desk cannot carry this option yet")
        settings[key] = value
    if pf.analytics is not None:
        settings["analytics"] = pf.analytics
    return settings


def _desk_settings(args: argparse.Namespace) -> dict[str, Any]:
    from triage_queue.config import load_policy

    if not args.policy:
        return {}
    return policy_settings(load_policy(args.policy, allow_code=args.allow_code))


def _serve(args: argparse.Namespace, stop: threading.Event) -> int:
    """Run a desk server until ``stop`` is set; then apply what is in the
    log, store a final snapshot and return 0.  Runtime complexity: O(1) per
    command applied, for as long as it runs."""
    from triage_queue.shared.desk import SharedDesk
    from triage_queue.sim.trace import load_staff

    settings = _desk_settings(args)
    agents = [staff.agent for staff in load_staff(args.staff)] if args.staff else []
    log = open_desk_log(args.log, args.name)
    try:
        desk = SharedDesk(
            log,
            agents=agents,
            name=args.name,
            presence_grace=args.presence_grace,
            snapshot_every=args.snapshot_every,
            snapshot_seconds=args.snapshot_seconds,
            digest_seconds=args.digest_seconds,
            poll=args.poll,
            **settings,
        )
        replica = desk.replica
        assert replica is not None
        logger.info("desk %r serving %s from position %d (%d agents)", args.name, args.log, replica.position, len(agents))
        print(f"ready at {replica.position}", file=sys.stderr, flush=True)
        while not stop.wait(0.2):
            pass
        logger.info("stopping: applying the log and storing a final snapshot")
        desk.close()
        try:
            position = desk.sync()
            stored = replica.maybe_snapshot(force=True)
        except (ConnectionError, OSError, TimeoutError) as exc:
            # The log is out of reach: nothing is lost (the log has every
            # command); the next start replays from the last snapshot.
            logger.error("stopped without a final snapshot: the log cannot be reached (%s)", exc)
            return 1
        logger.info("stopped at %d (snapshot at %s)", position, stored)
        print(f"stopped at {position}", file=sys.stderr, flush=True)
    finally:
        log.close()
    return 0


def run(args: argparse.Namespace) -> int:
    """The ``desk`` command: serve until SIGTERM or SIGINT.  Exit status 0
    after a clean stop, 1 if the log could not be reached to store the
    final snapshot, 2 for bad options or files.  Runtime complexity: as
    :func:`_serve`: O(1) per command applied, for as long as it runs."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    try:
        return _serve(args, stop)
    except TriageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


# -- log export --------------------------------------------------------------------------------


@attrs.define
class _Seen:
    ticket: Any
    time: float
    accepted: float | None = None
    handling: float | None = None
    cancelled: float | None = None
    follow_ups: list[float] = attrs.field(factory=list)


def export_trace(
    log: Any,
    out: str | Path,
    *,
    policy: Any = None,
    selection: Any = None,
    since: float | None = None,
    until: float | None = None,
) -> int:
    """Write the tickets submitted to the desk on ``log`` (between
    ``since`` and ``until``, log time) as a simulator trace at ``out``
    (``.csv`` or ``.jsonl``); return how many were written.  The log is
    replayed through a replica run with ``policy`` and ``selection`` (the
    desk's), which tells which ticket each accept took.  Ticket fields the
    trace cannot hold (``attributes``, ``preferred_skills``,
    ``relax_after``) are left out.

    Runtime complexity: O(n) replayed commands plus their Dispatcher cost.

    >>> import os, tempfile
    >>> from triage_queue import Agent, Ticket
    >>> from triage_queue.shared import SharedDesk, SqliteLog
    >>> folder = tempfile.mkdtemp(); log = SqliteLog(os.path.join(folder, "d.db"))
    >>> desk = SharedDesk(log, agents=[Agent("ana")], follow=False)
    >>> _ = desk.submit(Ticket("T-1", 0.0)); desk.close()
    >>> export_trace(log, os.path.join(folder, "day.csv"))
    1
    """
    from triage_queue.shared.replica import Replica
    from triage_queue.sim.model import Arrival, Day
    from triage_queue.sim.trace import write_trace

    replica = Replica(log, policy=policy, selection=selection, results_kept=1_000_000, publish=False, trim=False)
    seen: dict[str, _Seen] = {}
    after = 0
    first = log.read(0, limit=1)
    if first and first[0].command.get("op") != "init":
        # The log was trimmed behind a snapshot: start from the snapshot.
        replica.verify()
        after = replica.position
    done: set[str] = set()
    while True:
        entries = log.read(after, limit=1000)
        if not entries:
            break
        replica.sync_to(entries[-1].position)
        for entry in entries:
            after = entry.position
            command = entry.command
            command_id = command.get("id")
            if not isinstance(command_id, str) or command_id in done:
                continue
            done.add(command_id)
            op = command.get("op")
            if op not in ("submit", "accept", "complete", "cancel", "update", "transfer"):
                continue
            try:
                result = replica.result(command_id)
            except TriageError:
                continue  # refused by the desk: it changed nothing
            _record(seen, op, command, result, entry.time, since=since, until=until)
    return _write(seen, out, Arrival, Day, write_trace)


def _record(
    seen: dict[str, _Seen], op: str, command: Any, result: Any, when: float, *, since: float | None, until: float | None
) -> None:
    args = command.get("args") or {}
    if op == "submit":
        if (since is not None and when < since) or (until is not None and when >= until):
            return
        from triage_queue.shared.commands import decode_args

        ticket = decode_args(command)["ticket"]
        seen[ticket.id] = _Seen(ticket, when)
        return
    ticket_id = result.id if op in ("accept", "transfer") and result is not None else args.get("ticket_id")
    item = seen.get(ticket_id) if isinstance(ticket_id, str) else None
    if item is None:
        return
    if op == "accept":
        item.accepted = when
    elif op == "complete" and item.accepted is not None and item.handling is None:
        item.handling = when - item.accepted
    elif op == "cancel" and item.accepted is None:
        item.cancelled = when
    elif op == "update":
        changes = args.get("changes") or {}
        if "contacts" in changes and item.accepted is None:
            item.follow_ups.append(when - item.time)


def _write(seen: dict[str, _Seen], out: str | Path, arrival_type: Any, day_type: Any, write_trace: Any) -> int:
    items = sorted(seen.values(), key=lambda s: s.time)
    handled = [s.handling for s in items if s.handling is not None and s.handling > 0]
    typical = statistics.median(handled) if handled else DEFAULT_HANDLING_TIME
    start = 0.0
    if items:
        first = dt.datetime.fromtimestamp(items[0].time, tz=dt.UTC)
        start = first.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() if items[0].time > 86_400 else 0.0
    arrivals = []
    for item in items:
        t = item.ticket
        created = round(item.time - start, 6)
        sla_due = None if t.sla_due is None else created + max(0.0, t.sla_due - t.created_at)
        ticket = attrs.evolve(t, created_at=created, sla_due=sla_due, attributes={}, relax_after=None)
        if ticket.preferred_skills:
            ticket = attrs.evolve(ticket, preferred_skills={})
        handling = item.handling if item.handling is not None and item.handling > 0 else typical
        patience = None if item.cancelled is None else max(item.cancelled - item.time, 1e-3)
        follow_ups = sorted(f for f in item.follow_ups if f > 0 and (patience is None or f < patience))
        arrivals.append(arrival_type(ticket, handling_time=handling, patience=patience, follow_ups=follow_ups))
    write_trace(day_type(arrivals, []), out)
    return len(arrivals)


def run_log(args: argparse.Namespace) -> int:
    """The ``log`` command (``log export``).  Exit status 0, or 2 for bad
    options or files (the reason on stderr).  Runtime complexity: as
    :func:`export_trace`.

    >>> p = argparse.ArgumentParser(); add_log_arguments(p)
    >>> run_log(p.parse_args(["export", "--log", "ftp://nowhere", "--out", "day.csv"]))
    2
    """
    try:
        settings = _desk_settings(args)
        log = open_desk_log(args.log, args.name)
        try:
            count = export_trace(
                log,
                args.out,
                policy=settings.get("policy"),
                selection=settings.get("selection"),
                since=args.since,
                until=args.until,
            )
        finally:
            log.close()
    except TriageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{count} tickets written to {args.out}", file=sys.stderr)
    return 0
