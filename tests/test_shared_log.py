"""The Log contract (triage_queue.shared.log), tested alike on both engines:
RedisLog on a real redis-server and SqliteLog on a real SQLite file.

Every test runs once per engine.  The SQLite runs are skipped with a message
until ``triage_queue.shared.sqlite`` exists; the Redis runs are skipped
without redis-server (a failure under CI=true, see conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from triage_queue.errors import InvalidArgument, TriageError
from triage_queue.shared import Entry, Log


class Engine:
    """How a test opens a log on one engine, in this process (``open``) and
    in another (``source``: Python code that binds ``log``)."""

    def __init__(self, kind: str, open_: Callable[[str], Any], source: Callable[[str], str]) -> None:
        self.kind = kind
        self._open = open_
        self._source = source

    def open(self, name: str = "desk") -> Any:
        return self._open(name)

    def source(self, name: str = "desk") -> str:
        return self._source(name)


@pytest.fixture(params=["redis", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    opened: list[Any] = []
    if request.param == "redis":
        make = request.getfixturevalue("redis_log_factory")
        url = request.getfixturevalue("redis_server_info")["url"]

        def open_redis(name: str) -> Any:
            return make(name)

        def redis_source(name: str) -> str:
            return f"from triage_queue.shared.redis import RedisLog\nlog = RedisLog.from_url({url!r}, {name!r})"

        yield Engine("redis", open_redis, redis_source)
    else:
        try:
            from triage_queue.shared.sqlite import SqliteLog
        except ImportError:
            pytest.skip("triage_queue.shared.sqlite (SqliteLog) does not exist yet: the SQLite engine is not tested")

        def open_sqlite(name: str) -> Any:
            log = SqliteLog(tmp_path / f"{name}.db")
            opened.append(log)
            return log

        def sqlite_source(name: str) -> str:
            return f"from triage_queue.shared.sqlite import SqliteLog\nlog = SqliteLog({str(tmp_path / f'{name}.db')!r})"

        yield Engine("sqlite", open_sqlite, sqlite_source)
    for log in opened:
        log.close()


def run_processes(engine: Engine, body: str, count: int, name: str = "desk", timeout: float = 60) -> list[Any]:
    """Run ``body`` (with ``log`` and ``worker`` bound, printing one JSON
    line) in ``count`` fresh Python processes at once; their outputs, parsed."""
    code = engine.source(name) + "\nimport json, sys, time\nworker = int(sys.argv[1])\n" + textwrap.dedent(body)
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(count)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return outputs


def test_is_a_log(engine: Engine) -> None:
    """Both engines satisfy the Log protocol as the desk sees it."""
    assert isinstance(engine.open(), Log)


def test_positions_increase_and_time_never_goes_back(engine: Engine) -> None:
    """Appends get strictly increasing positions and non-decreasing times,
    and read gives back exactly what append returned, in that order."""
    log = engine.open()
    assert log.last_position() == 0 and log.first_position() == 0 and log.read(0) == []
    appended = [log.append({"op": "tick", "id": f"c-{i}"}) for i in range(50)]
    positions = [e.position for e in appended]
    times = [e.time for e in appended]
    assert positions == sorted(set(positions)) and positions[0] > 0
    assert times == sorted(times)
    assert abs(times[-1] - time.time()) < 60  # seconds since the epoch, from the engine's clock
    assert list(log.read(0)) == appended
    assert log.first_position() == positions[0] and log.last_position() == positions[-1]


def test_read_after_with_limit(engine: Engine) -> None:
    """read(after, limit) returns at most limit entries strictly after the position."""
    log = engine.open()
    entries = [log.append({"n": i}) for i in range(6)]
    assert [e.command["n"] for e in log.read(entries[1].position, limit=2)] == [2, 3]
    assert [e.command["n"] for e in log.read(entries[1].position, limit=100)] == [2, 3, 4, 5]
    assert log.read(entries[-1].position) == []
    assert [e.command["n"] for e in log.read(0, limit=1)] == [0]


def test_read_blocks_until_an_entry_arrives(engine: Engine) -> None:
    """A blocking read returns as soon as another writer appends, and after
    about the given time when nothing comes."""
    log = engine.open()
    last = log.append({"n": 0}).position
    started = time.monotonic()
    assert log.read(last, block=0.3) == []
    assert 0.25 <= time.monotonic() - started < 2.0

    writer = engine.open()
    timer = threading.Timer(0.2, lambda: writer.append({"n": 1}))
    timer.start()
    started = time.monotonic()
    got = log.read(last, block=10)
    waited = time.monotonic() - started
    timer.join()
    assert [e.command["n"] for e in got] == [1]
    assert waited < 2.0


def test_positions_are_never_reused_after_trim(engine: Engine) -> None:
    """trim drops the entries at or before a position and says how many; the
    survivors keep their positions and later appends never reuse a dropped one."""
    log = engine.open()
    entries = [log.append({"n": i}) for i in range(5)]
    assert log.trim(entries[2].position) == 3
    assert [e.position for e in log.read(0)] == [e.position for e in entries[3:]]
    assert log.first_position() == entries[3].position
    assert log.trim(entries[2].position) == 0  # nothing left to drop there
    assert log.trim(entries[-1].position) == 2
    assert log.read(0) == [] and log.first_position() == 0
    later = log.append({"n": 5})
    assert later.position > entries[-1].position and later.time >= entries[-1].time
    assert list(log.read(0)) == [later]


def test_snapshots_keep_the_newest(engine: Engine) -> None:
    """load_snapshot gives the snapshot with the highest position; only the
    newest few (two by default) are kept."""
    log = engine.open()
    assert log.load_snapshot() is None
    log.store_snapshot(10, {"v": 10})
    log.store_snapshot(30, {"v": 30, "nested": {"list": [1, 2.5, None, True, "é"]}})
    log.store_snapshot(20, {"v": 20})
    snap = log.load_snapshot()
    assert snap is not None and snap.position == 30
    assert snap.data == {"v": 30, "nested": {"list": [1, 2.5, None, True, "é"]}}
    log.store_snapshot(40, {"v": 40})
    assert (log.load_snapshot().position, log.load_snapshot().data) == (40, {"v": 40})
    if hasattr(log, "snapshot_positions"):
        assert log.snapshot_positions() == [30, 40]


def test_publish_result_first_writer_wins_across_processes(engine: Engine) -> None:
    """Several processes publish a result for one command at once: exactly one
    wins, and every reader sees the winner's result."""
    log = engine.open()
    outputs = run_processes(
        engine,
        """
        wrote = log.publish_result("cmd-1", {"writer": worker})
        print(json.dumps({"wrote": wrote, "seen": log.fetch_result("cmd-1")}))
        """,
        count=4,
    )
    winners = [i for i, out in enumerate(outputs) if out["wrote"]]
    assert len(winners) == 1
    assert all(out["seen"] == {"writer": winners[0]} for out in outputs)
    assert log.fetch_result("cmd-1") == {"writer": winners[0]}
    assert log.publish_result("cmd-1", {"writer": 99}) is False
    assert log.fetch_result("cmd-1") == {"writer": winners[0]}


def test_fetch_result_waits_for_the_publisher(engine: Engine) -> None:
    """fetch_result with block returns as soon as the result is published
    (also to several waiters), and None after about the given time otherwise."""
    log = engine.open()
    assert log.fetch_result("absent") is None
    started = time.monotonic()
    assert log.fetch_result("absent", block=0.3) is None
    assert 0.25 <= time.monotonic() - started < 2.0

    publisher = engine.open()
    got: list[Any] = []
    waiters = [threading.Thread(target=lambda: got.append(log.fetch_result("cmd-2", block=10))) for _ in range(3)]
    started = time.monotonic()
    for waiter in waiters:
        waiter.start()
    time.sleep(0.2)
    assert publisher.publish_result("cmd-2", {"ok": True, "result": [1, 2]})
    for waiter in waiters:
        waiter.join(timeout=15)
    assert got == [{"ok": True, "result": [1, 2]}] * 3
    assert time.monotonic() - started < 3.0


def test_concurrent_appends_from_threads_land_once_in_one_order(engine: Engine) -> None:
    """Four threads appending at once: every command lands exactly once, the
    log has one order, and each thread's own appends keep their order."""
    log = engine.open()
    returned: dict[int, list[Entry]] = {}

    def writer(worker: int) -> None:
        returned[worker] = [log.append({"worker": worker, "n": n}) for n in range(100)]

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = list(log.read(0, limit=10_000))
    assert len(entries) == 400
    assert sorted((e.command["worker"], e.command["n"]) for e in entries) == [(w, n) for w in range(4) for n in range(100)]
    assert [e.position for e in entries] == sorted({e.position for e in entries})
    assert [e.time for e in entries] == sorted(e.time for e in entries)
    assert {e.position: e for e in entries} == {e.position: e for mine in returned.values() for e in mine}
    for worker, mine in returned.items():
        assert [e.command["n"] for e in mine] == list(range(100)), worker


def test_concurrent_appends_from_processes_land_once_in_one_order(engine: Engine) -> None:
    """Three processes appending at once: every command lands exactly once,
    at the position its append returned, and everyone reads one order."""
    log = engine.open()
    outputs = run_processes(
        engine,
        """
        positions = [log.append({"worker": worker, "n": n}).position for n in range(150)]
        print(json.dumps(positions))
        """,
        count=3,
    )
    entries = list(log.read(0, limit=10_000))
    assert len(entries) == 450
    by_position = {e.position: (e.command["worker"], e.command["n"]) for e in entries}
    assert len(by_position) == 450
    for worker, positions in enumerate(outputs):
        assert [by_position[p] for p in positions] == [(worker, n) for n in range(150)]
    assert [e.position for e in entries] == sorted(by_position)
    assert [e.time for e in entries] == sorted(e.time for e in entries)


def test_commands_round_trip_as_json(engine: Engine) -> None:
    """A command comes back as its JSON round trip: nested data, unicode,
    big ints and floats intact, tuples as lists; what append returns is what
    read returns."""
    log = engine.open()
    command = {
        "op": "submit",
        "id": "c-é-🎫",
        "ticket": {"id": "T-1", "priority": [3, -0.5, 1e300], "tags": ("a", "b"), "big": 2**62, "none": None, "ok": True},
        "text": 'line\nbreak "quoted" \\ \u0000 nul',
    }
    entry = log.append(command)
    expected = json.loads(json.dumps(command))
    assert entry.command == expected
    assert log.read(0)[0].command == expected
    big = {"op": "submit", "blob": "x" * 1_000_000}
    assert log.read(log.append(big).position - 1)[0].command == big


@pytest.mark.parametrize(
    "command",
    [
        {"op": "submit", "when": object()},
        {"op": "submit", "tags": {"a", "b"}},
        {"op": "submit", "x": float("nan")},
        {"op": "submit", "x": float("inf")},
        {1j: "complex key"},
        ["not", "a", "mapping"],
        "a string",
    ],
    ids=["object", "set", "nan", "inf", "complex-key", "list", "str"],
)
def test_a_command_that_is_not_json_is_refused_and_nothing_appended(engine: Engine, command: Any) -> None:
    """A command that is not plain JSON data raises InvalidArgument naming it,
    with a short message, and the log is unchanged."""
    log = engine.open()
    before = log.append({"op": "tick"}).position
    with pytest.raises(InvalidArgument) as info:
        log.append(command)
    assert len(str(info.value)) < 1000
    assert log.last_position() == before
    with pytest.raises(TriageError):
        log.store_snapshot(1, command)
    assert log.load_snapshot() is None
    if isinstance(command, dict):  # (SqliteLog accepts a list or a string as a result)
        with pytest.raises(TriageError):
            log.publish_result("cmd-x", command)
        assert log.fetch_result("cmd-x") is None


@pytest.mark.parametrize("bad", ["5", 1.5, None, True])
def test_bad_positions_and_limits_are_refused(engine: Engine, bad: Any) -> None:
    """A position, limit or block that makes no sense raises InvalidArgument."""
    log = engine.open()
    log.append({"op": "tick"})
    with pytest.raises(InvalidArgument):
        log.read(bad)
    with pytest.raises(InvalidArgument):
        log.trim(bad)
    if bad is not None:
        with pytest.raises(InvalidArgument):
            log.read(0, limit=bad if bad != 1.5 else 0)
    assert len(log.read(0)) == 1


def test_huge_and_odd_names_are_refused_clearly(engine: Engine, tmp_path: Path) -> None:
    """A huge or malformed desk name (Redis) or path (SQLite) raises
    InvalidArgument with a short message, before touching the engine."""
    if engine.kind == "redis":
        import redis as redis_py

        from triage_queue.shared.redis import RedisLog

        client = redis_py.Redis()
        for name in ["x" * 1_000_000, "", "has space", "brace{tag}", "new\nline", 42]:
            with pytest.raises(InvalidArgument) as info:
                RedisLog(client, name)  # type: ignore[arg-type]
            assert info.value.field == "name" and len(str(info.value)) < 400
        for url in ["http://localhost", "redis://", "redis://host:notaport", "redis://host/db0", "x" * 100_000, ""]:
            with pytest.raises(InvalidArgument) as info:
                RedisLog.from_url(url, "desk")
            assert info.value.field == "url" and len(str(info.value)) < 600
        log = engine.open()
        with pytest.raises(InvalidArgument):
            log.publish_result("x" * 100_000, {"ok": 1})
        with pytest.raises(InvalidArgument):
            log.fetch_result("", block=0.1)
    else:
        from triage_queue.shared.sqlite import SqliteLog

        for path in [str(tmp_path / ("x" * 1_000_000)), "", "http://host/db", str(tmp_path)]:
            with pytest.raises(InvalidArgument) as info:
                SqliteLog(path)
            assert len(str(info.value)) < 600


def test_append_many_lands_contiguously_in_order(engine: Engine) -> None:
    """append_many (both engines offer it) lands a batch in order with no
    other writer's entry in between, even while other threads append."""
    log = engine.open()
    stop = threading.Event()

    def noise() -> None:
        other = engine.open()
        while not stop.is_set():
            other.append({"noise": True})

    noisy = threading.Thread(target=noise)
    noisy.start()
    try:
        batches = [log.append_many([{"batch": b, "n": n} for n in range(50)]) for b in range(5)]
    finally:
        stop.set()
        noisy.join()
    entries = list(log.read(0, limit=100_000))
    index = {e.position: i for i, e in enumerate(entries)}
    for b, batch in enumerate(batches):
        assert [e.command for e in batch] == [{"batch": b, "n": n} for n in range(50)]
        first = index[batch[0].position]
        assert [e.command for e in entries[first : first + 50]] == [{"batch": b, "n": n} for n in range(50)]
    assert log.append_many([]) == []


def test_redis_refuses_a_position_that_does_not_fit(redis_log_factory: Any) -> None:
    """When the server's clock is behind the stream's last id (it stepped
    back) and the sequence part would not fit in a position, the append is
    refused with a clear error and nothing is appended."""
    from triage_queue.shared import POSITION_SEQ_BITS

    log = redis_log_factory("clock")
    future_ms = int(time.time() * 1000) + 10**7
    log.client.xadd(log.stream_key, {"c": '{"op":"tick"}'}, id=f"{future_ms}-{(1 << POSITION_SEQ_BITS) - 1}")
    before = log.last_position()
    assert before == future_ms << POSITION_SEQ_BITS | ((1 << POSITION_SEQ_BITS) - 1)
    for call in (lambda: log.append({"op": "tick"}), lambda: log.append_many([{"op": "tick"}] * 3)):
        with pytest.raises(TriageError, match="nothing was appended"):
            call()
        assert log.last_position() == before
        assert len(log.read(0)) == 1


def test_the_redis_engine_is_imported_only_when_named() -> None:
    """Importing triage_queue or triage_queue.shared never imports redis-py;
    naming RedisLog does (the core needs no Redis)."""
    code = (
        "import sys, triage_queue, triage_queue.shared as s\n"
        "assert 'redis' not in sys.modules, 'redis imported eagerly'\n"
        "assert s.RedisLog.__module__ == 'triage_queue.shared.redis' and 'redis' in sys.modules\n"
        "assert issubclass(s.RedisLogConnectionError, ConnectionError)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
