"""RedisLog when redis-server goes away mid-load and comes back.

Each test starts its own redis-server (on a free port, in a temporary
folder, with the append-only file on) rather than the session's shared
one, stops it with SIGTERM or kills it with SIGKILL while writers append,
and restarts it on the same folder.  What the tests prove:

- clients see a ``ConnectionError`` (RedisLogConnectionError) while the
  server is down, and the same calls succeed once it is back;
- nothing appended and acknowledged is lost with ``appendfsync always``,
  nor with ``everysec`` when only the server process dies (Redis writes the
  AOF before it replies; ``everysec`` defers only the fsync, so only an
  operating-system crash or power loss can lose its last second, which
  these tests cannot produce);
- positions keep increasing across the restart (never reused) and times
  never go back;
- a reader blocked in ``read`` and a thin client blocked in
  ``fetch_result`` get the error, and resume from where they were.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


class Server:
    """A redis-server process of our own, restartable on the same folder and port."""

    def __init__(self, executable: str, folder: Path, fsync: str) -> None:
        self.executable = executable
        self.folder = folder
        self.fsync = fsync
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.executable,
                "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                "--appendonly", "yes", "--appendfsync", self.fsync, "--save", "",
                "--logfile", str(self.folder / "redis.log"), "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start: {(self.folder / 'redis.log').read_text()[-2000:]}")

    def stop(self, sig: int) -> float:
        """Send ``sig`` and wait for the process to end; the seconds it took."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        return time.monotonic() - started

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def server_factory(tmp_path: Path, redis_server_path: str) -> Iterator[Any]:
    executable = redis_server_path
    servers: list[Server] = []

    def make(fsync: str) -> Server:
        server = Server(executable, tmp_path, fsync)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.close()


class Writer(threading.Thread):
    """Appends numbered commands as fast as it can; on a connection error it
    waits a little and retries the same command (as a desk client would,
    with the same command id).  Records what was acknowledged."""

    def __init__(self, url: str, worker: int) -> None:
        super().__init__(daemon=True)
        from triage_queue.shared.redis import RedisLog

        self.log = RedisLog.from_url(url, "desk", socket_timeout=2.0)
        self.worker = worker
        self.acked: dict[str, int] = {}  # command id -> position acknowledged
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            command_id = f"w{self.worker}-{n}"
            try:
                entry = self.log.append({"op": "tick", "id": command_id})
            except ConnectionError as exc:
                self.errors.append(exc)
                time.sleep(0.02)
                continue
            self.acked[command_id] = entry.position
            n += 1
        self.log.close()


def run_fault(server: Server, sig: int, writers: int = 2) -> dict[str, Any]:
    """Load the server, hit it with ``sig``, restart it, load it some more;
    then account for every acknowledged append."""
    from triage_queue.shared.redis import RedisLog, RedisLogConnectionError

    threads = [Writer(server.url, w) for w in range(writers)]
    for thread in threads:
        thread.start()
    time.sleep(0.4)
    before = sum(len(t.acked) for t in threads)
    stop_seconds = server.stop(sig)
    time.sleep(0.3)  # clients keep trying while the server is down
    down_errors = sum(len(t.errors) for t in threads)
    server.start()
    time.sleep(0.4)
    for thread in threads:
        thread.stopping.set()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()

    with RedisLog.from_url(server.url, "desk") as log:
        entries = list(log.read(0, limit=10**7))
    seen: dict[str, list[int]] = {}
    for entry in entries:
        seen.setdefault(entry.command["id"], []).append(entry.position)
    acked = {cid: pos for t in threads for cid, pos in t.acked.items()}
    lost = [cid for cid, pos in acked.items() if pos not in seen.get(cid, [])]
    errors = [e for t in threads for e in t.errors]
    return {
        "acked": len(acked),
        "acked_before_fault": before,
        "lost": lost,
        "duplicates": sum(len(p) - 1 for p in seen.values()),
        "errors": errors,
        "down_errors": down_errors,
        "all_ours": all(isinstance(e, RedisLogConnectionError) for e in errors),
        "positions": [e.position for e in entries],
        "times": [e.time for e in entries],
        "stop_seconds": stop_seconds,
    }


def check(result: dict[str, Any]) -> None:
    assert result["acked_before_fault"] > 50, "the load did not get going"
    assert result["acked"] > result["acked_before_fault"], "no append succeeded after the restart"
    assert result["down_errors"] > 0 and result["all_ours"], "clients must see a ConnectionError while the server is down"
    assert result["positions"] == sorted(set(result["positions"])), "positions must keep increasing across the restart"
    assert result["times"] == sorted(result["times"])


@pytest.mark.parametrize(
    ("sig", "fsync"),
    [(signal.SIGTERM, "always"), (signal.SIGKILL, "always"), (signal.SIGTERM, "everysec"), (signal.SIGKILL, "everysec")],
    ids=["SIGTERM-always", "SIGKILL-always", "SIGTERM-everysec", "SIGKILL-everysec"],
)
def test_server_stopped_or_killed_mid_load_loses_nothing_acknowledged(server_factory: Any, sig: int, fsync: str) -> None:
    """redis-server stopped (SIGTERM) or killed (SIGKILL) under load, with the
    AOF on: writers get ConnectionError, retry, and succeed after the
    restart; every acknowledged append is in the log afterwards.

    With ``everysec`` a killed server process loses nothing either (the AOF
    is written before the reply); what ``everysec`` can lose is the last
    second on an OS crash or power loss, not produced here.  A retried
    append whose first try landed but was not acknowledged appears twice
    (the desk applies a command id once): counted, not an error."""
    server = server_factory(fsync)
    result = run_fault(server, sig)
    print(
        f"\n{signal.Signals(sig).name} appendfsync {fsync}: {result['acked']} appends acknowledged "
        f"({result['acked_before_fault']} before the fault), {len(result['lost'])} lost, "
        f"{result['duplicates']} duplicated by retries, {len(result['errors'])} connection errors seen, "
        f"server stopped in {result['stop_seconds']:.2f} s"
    )
    check(result)
    assert result["lost"] == []


def test_blocked_reader_and_waiter_see_the_error_and_resume(server_factory: Any) -> None:
    """A replica blocked in read() and a thin client blocked in
    fetch_result() get ConnectionError when the server is killed; after the
    restart the reader continues from its last position with no gap and the
    waiter gets its result."""
    from triage_queue.shared.redis import RedisLog

    server = server_factory("always")
    log = RedisLog.from_url(server.url, "desk")
    first = log.append({"op": "tick", "id": "a"})
    outcomes: dict[str, Any] = {}

    def reader() -> None:
        try:
            outcomes["read"] = log.read(first.position, block=30)
        except ConnectionError as exc:
            outcomes["read"] = exc

    def waiter() -> None:
        try:
            outcomes["fetch"] = log.fetch_result("cmd-1", block=30)
        except ConnectionError as exc:
            outcomes["fetch"] = exc

    threads = [threading.Thread(target=reader), threading.Thread(target=waiter)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    server.stop(signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert isinstance(outcomes["read"], ConnectionError) and isinstance(outcomes["fetch"], ConnectionError)
    with pytest.raises(ConnectionError):
        log.append({"op": "tick", "id": "b"})

    server.start()
    second = log.append({"op": "tick", "id": "b"})
    assert second.position > first.position
    assert [e.command["id"] for e in log.read(first.position, block=5)] == ["b"]
    threading.Timer(0.2, lambda: log.publish_result("cmd-1", {"ok": True})).start()
    assert log.fetch_result("cmd-1", block=10) == {"ok": True}
    log.close()


def test_unreachable_server_is_a_connection_error_at_once(server_factory: Any) -> None:
    """With no server at the address, every call raises ConnectionError
    promptly (no hidden retries), and nothing else."""
    from triage_queue.shared.redis import RedisLog

    server = server_factory("everysec")
    server.stop(signal.SIGTERM)
    log = RedisLog.from_url(server.url, "desk")
    started = time.monotonic()
    for call in (
        lambda: log.append({"op": "tick"}),
        lambda: log.read(0),
        log.last_position,
        lambda: log.store_snapshot(1, {}),
        log.load_snapshot,
        lambda: log.trim(1),
        lambda: log.publish_result("c", {}),
        lambda: log.fetch_result("c", block=1),
    ):
        with pytest.raises(ConnectionError) as info:
            call()
        assert isinstance(info.value, OSError)
    assert time.monotonic() - started < 5
