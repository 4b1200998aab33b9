"""SqliteLog: the log seam on a real SQLite file, shared by threads and
processes: positions strictly increase and are never reused, time never
goes back, snapshots keep the newest few, results are first-writer-wins,
and bad paths are refused naming the path."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from triage_queue import InvalidArgument, ManualClock
from triage_queue.shared import Log, SharedDesk
from triage_queue.shared.sqlite import SqliteLog


def test_it_is_a_log(tmp_path: Path) -> None:
    """SqliteLog satisfies the Log protocol."""
    log = SqliteLog(tmp_path / "d.db")
    assert isinstance(log, Log)
    log.close()
    log.close()  # idempotent


def test_positions_are_never_reused_and_time_never_goes_back(tmp_path: Path) -> None:
    """After a trim, new entries get new positions; a clock that goes back
    does not make the log's time go back, even once every entry is gone."""
    clock = iter([10.0, 12.0, 11.0, 5.0, 3.0])
    log = SqliteLog(f"sqlite:///{tmp_path}/d.db", clock=lambda: next(clock))
    entries = [log.append({"op": "tick", "n": i}) for i in range(3)]
    assert [e.position for e in entries] == [1, 2, 3]
    assert [e.time for e in entries] == [10.0, 12.0, 12.0]
    assert log.trim(3) == 3
    assert (log.first_position(), log.last_position()) == (0, 0)
    again = log.append({"op": "tick"})
    assert again.position == 4 and again.time == 12.0
    assert [e.command for e in log.read(0)] == [{"op": "tick"}]


def test_read_batches_and_blocks(tmp_path: Path) -> None:
    """read() returns at most limit entries after a position, and waits for
    an entry appended by another thread."""
    log = SqliteLog(tmp_path / "d.db", clock=ManualClock(1.0))
    for i in range(5):
        log.append({"n": i})
    assert [e.command["n"] for e in log.read(1, limit=2)] == [1, 2]
    assert log.read(5, block=0.01) == []
    threading.Timer(0.05, lambda: log.append({"n": 5})).start()
    got = log.read(5, block=5.0)
    assert [e.command["n"] for e in got] == [5]


def test_snapshots_keep_the_newest(tmp_path: Path) -> None:
    """Only the newest snapshots_kept snapshots are kept."""
    log = SqliteLog(tmp_path / "d.db", snapshots_kept=2)
    assert log.load_snapshot() is None
    for position in (3, 9, 6):
        log.store_snapshot(position, {"at": position})
    snap = log.load_snapshot()
    assert snap is not None and (snap.position, dict(snap.data)) == (9, {"at": 9})
    assert log.snapshot_positions() == [6, 9]


def test_results_first_writer_wins(tmp_path: Path) -> None:
    """The first published result of a command is the one every reader sees."""
    log = SqliteLog(tmp_path / "d.db")
    assert log.fetch_result("c-1") is None
    assert log.publish_result("c-1", {"ok": 1}) is True
    assert log.publish_result("c-1", {"ok": 2}) is False
    assert log.fetch_result("c-1", block=0.01) == {"ok": 1}
    threading.Timer(0.05, lambda: log.publish_result("c-2", {"ok": 3})).start()
    assert log.fetch_result("c-2", block=5.0) == {"ok": 3}


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("", "expected a file path"),
        ("redis://localhost", "not a SQLite path"),
        ("sqlite://x.db", "sqlite:///"),
        (":memory:", "cannot be shared"),
        ("/no/such/folder/d.db", "does not exist"),
    ],
)
def test_bad_paths_are_refused(path: str, words: str) -> None:
    """A path SQLite cannot share is refused with InvalidArgument naming it."""
    with pytest.raises(InvalidArgument, match=words) as caught:
        SqliteLog(path)
    assert caught.value.field == "path"


def test_bad_input_is_refused(tmp_path: Path) -> None:
    """Commands that are not JSON data and bad positions name the field."""
    log = SqliteLog(tmp_path / "d.db")
    with pytest.raises(InvalidArgument, match="command"):
        log.append({"x": float("nan")})
    with pytest.raises(InvalidArgument, match="after"):
        log.read("1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="snapshots_kept"):
        SqliteLog(tmp_path / "e.db", snapshots_kept=0)
    assert log.last_position() == 0


def _append_many(path: str, who: int, count: int) -> None:
    log = SqliteLog(path)
    for i in range(count):
        log.append({"who": who, "n": i})
    log.close()


def test_processes_and_threads_share_one_file(tmp_path: Path) -> None:
    """Three processes and three threads append at once: every entry is
    there once, positions strictly increase, time never goes back, and each
    writer's entries are in its own order."""
    path = str(tmp_path / "d.db")
    SqliteLog(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(path, who, 60)) for who in range(3)]
    threads = [threading.Thread(target=_append_many, args=(path, who, 60)) for who in range(3, 6)]
    for proc in procs:
        proc.start()
    for thread in threads:
        thread.start()
    for proc in procs:
        proc.join(60)
    for thread in threads:
        thread.join(60)
    entries = list(SqliteLog(path).read(0, limit=10_000))
    assert len(entries) == 360
    assert all(a.position < b.position and a.time <= b.time for a, b in itertools.pairwise(entries))
    for who in range(6):
        assert [e.command["n"] for e in entries if e.command["who"] == who] == list(range(60))


def test_a_desk_process_killed_mid_write_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """A process submitting tickets to a SQLite desk is killed with SIGKILL
    in the middle of its writes; a process that opens the desk afterwards
    has every ticket whose submit had returned, each once, and the log is
    whole (every entry readable, positions increasing)."""
    path = str(tmp_path / "desk.db")
    acked = tmp_path / "acked.txt"
    script = f"""
import sys
from triage_queue import Agent, Ticket
from triage_queue.shared import SharedDesk, SqliteLog
desk = SharedDesk(SqliteLog({path!r}), agents=[Agent("ana", status="away")], follow=False, snapshot_every=50)
with open({str(acked)!r}, "a") as out:
    for i in range(100_000):
        desk.submit(Ticket(f"T-{{i}}", 0.0))
        out.write(f"T-{{i}}\\n"); out.flush()
        if i % 50 == 49:
            desk.replica.maybe_snapshot()
"""
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while (not acked.exists() or len(acked.read_text().split()) < 120) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    done = acked.read_text().split()
    assert len(done) >= 120
    again = SharedDesk(SqliteLog(path), follow=False)
    replica = again.replica
    assert replica is not None
    waiting = [t.id for t in replica.desk.queue]
    assert len(waiting) == len(set(waiting))
    assert set(done) <= set(waiting)  # acknowledged: kept; at most the one in flight more
    assert len(waiting) - len(done) <= 1
    entries = list(SqliteLog(path).read(0, limit=1_000_000))
    assert all(a.position < b.position for a, b in itertools.pairwise(entries))
