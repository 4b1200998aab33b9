"""Scenario "shared": the log under a shared desk, on both engines.

What a shared desk pays the engine for each command (issue 11), measured on
the raw :class:`~triage_queue.shared.Log` so that the engines' own costs are
known before the desk's are added:

* ``append`` from one thread (one round trip, or one transaction with
  ``synchronous=FULL`` on SQLite): commands/s and the latency of a call;
* ``append + read back``: append, then read the log after the last position
  seen until the own entry comes back, as a replica does for read-your-writes;
* ``append_many`` (pipelined on Redis, one transaction on SQLite) in batches;
* ``read``: the log read back in batches of 1000 (a replica's replay I/O);
* ``append`` from 4 threads, and from several processes at once;
* Redis only: memory per 10^5 entries of a typical command and per published
  result (``INFO memory`` before and after), and ``appendfsync always``
  against ``everysec`` (the append-only file is on in both).

Redis runs on a redis-server this scenario starts itself on a free port
(unix socket, in a temporary folder); without redis-server or redis-py the
Redis rows are left out with a note.  The desk-level figures (a SharedDesk
over each engine, thin clients, replay into a Dispatcher) are added by
appending measures to :data:`MEASURES`, each ``measure(engine, params)
-> list of rows``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from triage_queue._progress import Progress
from triage_queue.bench.suite import percentiles

__all__ = ["MEASURES", "NAME", "TITLE", "Engine", "markdown", "params", "plots", "redis_server", "run"]

NAME = "shared"
TITLE = "shared desk: the log's append and read on Redis Streams and SQLite"


def _command(i: int) -> dict[str, Any]:
    """A typical submit command (about 200 bytes of JSON)."""
    return {
        "op": "submit",
        "id": f"c-{i:09d}",
        "ticket": {"id": f"T-{i}", "priority": 2, "skills": {"billing": 1}, "customer": f"cust-{i % 977}", "created": 1.5e9},
    }


def params(quick: bool) -> dict[str, Any]:
    """The sizes this scenario runs at.  O(1).

    >>> params(quick=True)["appends"], params(quick=False)["appends"]
    (300, 10000)
    """
    if quick:
        return {"appends": 300, "batch": 100, "threads": 4, "processes": 2, "memory_entries": 5_000, "results": 2_000}
    return {"appends": 10_000, "batch": 100, "threads": 4, "processes": 4, "memory_entries": 100_000, "results": 20_000}


class Engine:
    """One engine under test: ``open()`` a log in this process, ``source``
    (Python code binding ``log``) to open it in another, and for Redis the
    client to read ``INFO`` from."""

    def __init__(self, name: str, open_: Callable[[], Any], source: str, client: Any = None) -> None:
        self.name = name
        self.open = open_
        self.source = source
        self.client = client


@contextmanager
def redis_server(fsync: str = "everysec") -> Iterator[str | None]:
    """A redis-server of its own (AOF on, ``appendfsync fsync``) in a
    temporary folder, yielding a ``unix://`` URL; ``None`` when redis-server
    is not installed.  Stopped on exit.  O(1) (starts a process)."""
    executable = shutil.which("redis-server")
    if executable is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="tq-bench-redis-") as folder:
        sock = str(Path(folder) / "redis.sock")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        proc = subprocess.Popen(
            [
                executable, "--port", str(port), "--bind", "127.0.0.1", "--unixsocket", sock, "--dir", folder,
                "--appendonly", "yes", "--appendfsync", fsync, "--save", "", "--daemonize", "no",
                "--logfile", str(Path(folder) / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(sock):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.01)
            yield f"unix://{sock}"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _row(
    engine: str, measure: str, count: int, seconds: float, latencies: list[float] | None = None, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {"engine": engine, "measure": measure, "commands": count, "commands_per_s": count / seconds}
    if latencies:
        found = percentiles(latencies, (50.0, 99.0))
        row["p50_ms"] = found["p50"] * 1000
        row["p99_ms"] = found["p99"] * 1000
    row.update(extra)
    return row


def measure_append(engine: Engine, p: dict[str, Any]) -> list[dict[str, Any]]:
    """One thread: append; append then read back; append_many; read."""
    clock = time.perf_counter
    rows = []
    log = engine.open()
    try:
        n = p["appends"]
        latencies = []
        started = clock()
        for i in range(n):
            t0 = clock()
            log.append(_command(i))
            latencies.append(clock() - t0)
        rows.append(_row(engine.name, "append, 1 thread", n, clock() - started, latencies))

        latencies = []
        cursor = log.last_position()
        started = clock()
        for i in range(n):
            t0 = clock()
            mine = log.append(_command(i)).position
            while cursor < mine:
                got = log.read(cursor, limit=1000, block=1.0)
                cursor = got[-1].position if got else cursor
            latencies.append(clock() - t0)
        rows.append(_row(engine.name, "append + read back, 1 thread", n, clock() - started, latencies))

        batch = p["batch"]
        latencies = []
        started = clock()
        for b in range(0, n, batch):
            t0 = clock()
            log.append_many([_command(i) for i in range(b, min(n, b + batch))])
            latencies.append(clock() - t0)
        rows.append(_row(engine.name, f"append_many({batch}), 1 thread (latency per batch)", n, clock() - started, latencies))

        started = clock()
        count, cursor = 0, 0
        while True:
            got = log.read(cursor, limit=1000)
            if not got:
                break
            count += len(got)
            cursor = got[-1].position
        rows.append(_row(engine.name, "read in batches of 1000 (replay I/O)", count, clock() - started))
    finally:
        log.close()
    return rows


def measure_threads(engine: Engine, p: dict[str, Any]) -> list[dict[str, Any]]:
    """``threads`` threads appending at once on one log object."""
    clock = time.perf_counter
    log = engine.open()
    per = p["appends"] // p["threads"]
    latencies: list[float] = []

    def writer(w: int) -> None:
        mine = []
        for i in range(per):
            t0 = clock()
            log.append(_command(w * per + i))
            mine.append(clock() - t0)
        latencies.extend(mine)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(p["threads"])]
    started = clock()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = clock() - started
    log.close()
    return [_row(engine.name, f"append, {p['threads']} threads", per * p["threads"], seconds, latencies)]


_CHILD = """
import json, sys, time
n, start_at = int(sys.argv[1]), float(sys.argv[2])
from triage_queue.bench.shared_suite import _command
log.append(_command(-1))  # connect before the start
while time.time() < start_at:
    time.sleep(0.001)
clock = time.perf_counter
lat = []
t = clock()
for i in range(n):
    t0 = clock()
    log.append(_command(i))
    lat.append(clock() - t0)
print(json.dumps({"seconds": clock() - t, "latencies": lat, "began": start_at, "ended": time.time()}))
"""


def measure_processes(engine: Engine, p: dict[str, Any]) -> list[dict[str, Any]]:
    """``processes`` processes appending at once (started together)."""
    count = p["processes"]
    per = p["appends"] // count
    start_at = time.time() + 1.0
    code = engine.source + "\n" + _CHILD
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(per), str(start_at)], stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    outs = [json.loads(proc.communicate(timeout=300)[0]) for proc in procs]
    seconds = max(o["ended"] for o in outs) - start_at
    latencies = [x for o in outs for x in o["latencies"]]
    return [_row(engine.name, f"append, {count} processes", per * count, seconds, latencies)]


def measure_redis_memory(engine: Engine, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Redis: bytes per 10^5 entries in the stream and per published result."""
    if engine.client is None:
        return []
    from triage_queue.shared.redis import RedisLog

    log = RedisLog(engine.client, "memory")
    m = p["memory_entries"]
    before = engine.client.info("memory")["used_memory"]
    for b in range(0, m, 1000):
        log.append_many([_command(i) for i in range(b, min(m, b + 1000))])
    after = engine.client.info("memory")["used_memory"]
    stream = engine.client.memory_usage(log.stream_key, samples=0)
    results = p["results"]
    pipe_started = time.perf_counter()
    for i in range(results):
        log.publish_result(f"c-{i:09d}", {"ok": True, "value": {"id": f"T-{i}", "agent": "A-1", "offer": f"o-{i}"}})
    publish_seconds = time.perf_counter() - pipe_started
    with_results = engine.client.info("memory")["used_memory"]
    return [
        {
            "engine": engine.name,
            "measure": "memory",
            "entries": m,
            "bytes_per_100k_entries": (after - before) * 100_000 / m,
            "stream_bytes_per_100k_entries": stream * 100_000 / m,
            "command_json_bytes": len(json.dumps(_command(0), separators=(",", ":"))),
            "bytes_per_result": (with_results - after) / results,
            "publish_result_per_s": results / publish_seconds,
        }
    ]


#: What the scenario measures on every engine, in order: each takes the
#: engine and the params and returns rows.  The SharedDesk's own measures
#: (commands through a desk, thin clients, replay, joining) go here too.
MEASURES: list[Callable[[Engine, dict[str, Any]], list[dict[str, Any]]]] = [
    measure_append,
    measure_threads,
    measure_processes,
    measure_redis_memory,
]
from triage_queue.bench.shared_desk_measures import DESK_MEASURES  # noqa: E402 - the SharedDesk's rows

MEASURES += DESK_MEASURES


def _sqlite_engine(folder: str, name: str) -> Engine | None:
    try:
        from triage_queue.shared.sqlite import SqliteLog
    except ImportError:
        return None
    path = str(Path(folder) / f"{name}.db")
    return Engine(name, lambda: SqliteLog(path), f"from triage_queue.shared.sqlite import SqliteLog\nlog = SqliteLog({path!r})")


def _redis_engine(url: str, name: str) -> Engine:
    import redis

    from triage_queue.shared.redis import RedisLog

    desk = "bench"

    def open_() -> Any:
        return RedisLog.from_url(url, desk)

    source = f"from triage_queue.shared.redis import RedisLog\nlog = RedisLog.from_url({url!r}, {desk!r})"
    return Engine(name, open_, source, client=redis.Redis.from_url(url))


def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Measure every engine available; see the module docstring.  O(appends)."""
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tq-bench-sqlite-") as folder:
        sqlite = _sqlite_engine(folder, "sqlite (synchronous=FULL)")
        if sqlite is None:
            notes.append("SQLite rows left out: triage_queue.shared.sqlite is not in this build")
        else:
            progress.note("  shared: SQLite")
            for measure in MEASURES:
                rows += measure(sqlite, params)
    try:
        import redis  # noqa: F401
    except ImportError:
        notes.append("Redis rows left out: redis-py is not installed (pip install 'triage-queue[redis]')")
        return {"params": params, "rows": rows, "notes": notes}
    for fsync in ("everysec", "always"):
        with redis_server(fsync) as url:
            if url is None:
                notes.append("Redis rows left out: redis-server is not installed (apt-get install redis-server)")
                break
            progress.note(f"  shared: Redis, appendfsync {fsync}")
            engine = _redis_engine(url, f"redis (AOF, appendfsync {fsync})")
            measures = MEASURES if fsync == "everysec" else [measure_append, measure_threads]
            for measure in measures:
                rows += measure(engine, params)
            engine.client.close()
    return {"params": params, "rows": rows, "notes": notes}


def markdown(result: dict[str, Any]) -> list[str]:
    """The report's tables, as markdown lines.  O(rows).

    >>> markdown({"params": params(True), "rows": [], "notes": ["none"]})[0]
    "### The shared desk's log: append and read (raw engine, no desk)"
    """
    lines = [
        "### The shared desk's log: append and read (raw engine, no desk)",
        "",
        f"{result['params']['appends']:,} commands of about 200 bytes of JSON per measure; latency of one call.",
        "",
        "| engine | measure | commands/s | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|",
    ]
    for row in result["rows"]:
        if row["measure"] == "memory":
            continue
        p50 = f"{row['p50_ms']:.3f}" if "p50_ms" in row else ""
        p99 = f"{row['p99_ms']:.3f}" if "p99_ms" in row else ""
        lines.append(f"| {row['engine']} | {row['measure']} | {row['commands_per_s']:,.0f} | {p50} | {p99} |")
    for row in result["rows"]:
        if row["measure"] == "memory":
            lines += [
                "",
                f"Redis memory ({row['entries']:,} entries of {row['command_json_bytes']} bytes of JSON): "
                f"{row['bytes_per_100k_entries'] / 1e6:.1f} MB per 10^5 entries (INFO used_memory; the stream key alone "
                f"{row['stream_bytes_per_100k_entries'] / 1e6:.1f} MB); a published result {row['bytes_per_result']:.0f} "
                f"bytes until it expires; publish_result {row['publish_result_per_s']:,.0f}/s from one thread.",
            ]
    lines += ["", *(f"Note: {note}." for note in result["notes"])]
    return lines


def plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """No plots: the table says it.  O(1).

    >>> plots({}, Path("."))
    []
    """
    return []
