"""The SharedDesk's rows of the ``shared`` scenario (issue 11's targets).

Each measure takes an :class:`~triage_queue.bench.shared_suite.Engine` and
the scenario's params and returns rows, on a log of its own (a fresh
SQLite file beside the engine's, or a fresh Redis stream on its server):

* ``SharedDesk, 1 process``: a replica in this process, one thread, the
  cycle submit -> accept -> complete (3 commands), against the in-process
  Dispatcher on the same cycle in the same run (target on SQLite: 2k
  commands/s with ``synchronous=FULL``);
* ``4 thin-client processes + 1 desk server``: the ``desk`` server's
  replica in a child process, four thin-client processes running the same
  cycle at once (target on Redis: 10k commands/s, p99 under 5 ms);
* ``replay``: a fresh replica applying that log from the start (target:
  50k commands/s);
* ``join``: a replica joining a desk of ``join_waiting`` waiting tickets
  from its newest snapshot plus a tail of 1000 commands (target at 10^5:
  under 3 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from triage_queue.bench.suite import percentiles

__all__ = ["DESK_MEASURES", "measure_desk_one_process", "measure_join", "measure_thin_clients"]

_AGENTS = 4


def _fresh(engine: Any, name: str) -> tuple[Any, str]:
    # A new, empty log on the engine's server or folder: (log, Python source binding `log`).
    source = str(engine.source)
    sqlite = ".db'" in source
    source = source.replace(".db'", f"-{name}.db'") if sqlite else source.replace("'bench')", f"'bench-{name}')")
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # the engine's own opening code, as in its child processes
    return namespace["log"], source


def _row(engine: str, measure: str, count: int, seconds: float, latencies: list[float] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"engine": engine, "measure": measure, "commands": count, "commands_per_s": count / seconds}
    if latencies:
        found = percentiles(latencies, (50.0, 99.0))
        row["p50_ms"] = found["p50"] * 1000
        row["p99_ms"] = found["p99"] * 1000
    return row


def _cycle(desk: Any, prefix: str, cycles: int) -> tuple[float, list[float]]:
    from triage_queue import Ticket

    clock = time.perf_counter
    latencies: list[float] = []
    began = clock()
    for i in range(cycles):
        ticket_id = f"{prefix}-{i}"
        t0 = clock()
        offer = desk.submit(Ticket(ticket_id, float(i)))
        t1 = clock()
        desk.accept(offer.id)
        t2 = clock()
        desk.complete(ticket_id)
        t3 = clock()
        latencies += [t1 - t0, t2 - t1, t3 - t2]
    return clock() - began, latencies


def _commands(p: dict[str, Any]) -> int:
    # Commands per desk measure: the scenario's size, at most 6000 (a
    # synchronous=FULL append costs a few ms on a slow disk).
    return int(p.get("desk_commands", min(p["appends"], 6000)))


def _agents() -> list[Any]:
    from triage_queue import Agent

    return [Agent(f"a{i}", capacity=1000) for i in range(_AGENTS)]


def measure_desk_one_process(engine: Any, p: dict[str, Any]) -> list[dict[str, Any]]:
    """One replica in this process, one thread; the in-process Dispatcher
    on the same cycle; then a fresh replica replaying the whole log."""
    from triage_queue import Dispatcher, ManualClock, TicketQueue
    from triage_queue.shared import SharedDesk
    from triage_queue.shared.replica import Replica

    cycles = max(1, _commands(p) // 3)
    rows = []
    local = Dispatcher(TicketQueue(clock=ManualClock(0.0)), _agents(), name="bench", offer_timeout=None)
    seconds, latencies = _cycle(local, "L", cycles)
    rows.append(_row(engine.name, "Dispatcher in process (same cycle, for the ratio)", 3 * cycles, seconds, latencies))

    log, _ = _fresh(engine, "one")
    try:
        desk = SharedDesk(log, agents=_agents(), name="bench", follow=False, offer_timeout=None, digest_seconds=None)
        seconds, latencies = _cycle(desk, "S", cycles)
        rows.append(_row(engine.name, "SharedDesk, 1 process (a replica), 1 thread", 3 * cycles, seconds, latencies))
        desk.close()
        replica = Replica(log, publish=False, trim=False, batch=1000)
        began = time.perf_counter()
        replica.catch_up()
        seconds = time.perf_counter() - began
        rows.append(_row(engine.name, "replay: a fresh replica applies the whole log", replica.applied_count, seconds))
    finally:
        log.close()
    return rows


_SERVER = """
import sys, time
from triage_queue import Agent
from triage_queue.shared import SharedDesk
agents = [Agent(f"a{i}", capacity=1000) for i in range(4)]
desk = SharedDesk(log, agents=agents, name="bench", offer_timeout=None, digest_seconds=None, snapshot_every=10**9,
                  snapshot_seconds=10**9, poll=0.05)
print("ready", flush=True)
sys.stdin.read()  # until the parent closes it
desk.close()
"""

_CLIENT = """
import json, sys, time
from triage_queue.bench.shared_desk_measures import _cycle
from triage_queue.shared import SharedDesk
cycles, start_at, prefix = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
desk = SharedDesk(log, replica=False, timeout=30.0)
desk.log.last_position()  # connect before the start
while time.time() < start_at:
    time.sleep(0.001)
began = time.time()
seconds, lat = _cycle(desk, prefix, cycles)
print(json.dumps({"latencies": lat, "began": began, "ended": time.time()}))
"""


def measure_thin_clients(engine: Any, p: dict[str, Any]) -> list[dict[str, Any]]:
    """A desk server (one replica) in a child process and four thin-client
    processes running the cycle at once: aggregate commands/s, latency of
    a call."""
    clients = 4
    cycles = max(1, _commands(p) // 3 // clients)
    log, source = _fresh(engine, "thin")
    log.close()
    server = subprocess.Popen(
        [sys.executable, "-c", source + "\n" + _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            return []
        start_at = time.time() + 3.0
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", source + "\n" + _CLIENT, str(cycles), str(start_at), f"C{c}"],
                stdout=subprocess.PIPE,
                text=True,
            )
            for c in range(clients)
        ]
        outs = [json.loads(proc.communicate(timeout=600)[0]) for proc in procs]
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(30)
    seconds = max(o["ended"] for o in outs) - min(o["began"] for o in outs)
    latencies = [x for o in outs for x in o["latencies"]]
    label = f"SharedDesk, {clients} thin-client processes + 1 desk server"
    return [_row(engine.name, label, 3 * cycles * clients, seconds, latencies)]


def measure_join(engine: Any, p: dict[str, Any]) -> list[dict[str, Any]]:
    """A replica joins a desk of ``join_waiting`` waiting tickets: newest
    snapshot plus a tail of 1000 commands."""
    from triage_queue import Agent, Ticket
    from triage_queue.shared import SharedDesk
    from triage_queue.shared.commands import encode
    from triage_queue.shared.replica import Replica

    waiting = p.get("join_waiting", 100_000 if p["appends"] >= 10_000 else 5_000)
    tail = 1000
    log, _ = _fresh(engine, "join")
    try:
        # One agent, away: every ticket waits (and stays routable).
        SharedDesk(log, agents=[Agent("a0", status="away")], name="bench", follow=False, digest_seconds=None).close()
        append_many = getattr(log, "append_many", None)
        for start in range(0, waiting, 1000):
            batch = [encode("submit", {"ticket": Ticket(f"W-{i}", float(i))}) for i in range(start, min(waiting, start + 1000))]
            if append_many is not None:
                append_many(batch)
            else:
                for command in batch:
                    log.append(command)
        builder = Replica(log, publish=False, trim=False)
        builder.catch_up()
        builder.maybe_snapshot(force=True)
        for i in range(tail):
            log.append(encode("submit", {"ticket": Ticket(f"X-{i}", float(waiting + i))}))
        began = time.perf_counter()
        joiner = Replica(log, publish=False, trim=False)
        joiner.catch_up()
        seconds = time.perf_counter() - began
        assert joiner.position == log.last_position()
    finally:
        log.close()
    label = f"join a desk of {waiting:,} waiting: snapshot + {tail:,}-command tail, {seconds:.2f} s"
    return [_row(engine.name, label, waiting + tail, seconds)]


#: The SharedDesk's measures, appended to the scenario's MEASURES.
DESK_MEASURES = [measure_desk_one_process, measure_thin_clients, measure_join]
