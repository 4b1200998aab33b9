"""Regression tests for the independent review of the shared desk (issue 11).

Each test names the finding it covers (H1..H4, M1..M4, L1..L4) and runs
against real engines: a SQLite file and the session's redis-server.
"""

from __future__ import annotations

import logging
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from triage_queue import Agent, Ticket
from triage_queue.shared import SharedDesk, SqliteLog

logging.getLogger("triage_queue.shared").setLevel(logging.CRITICAL)

DEEP = "[" * 100_000 + "]" * 100_000


def _sqlite_desk(tmp_path: Path, **options: Any) -> tuple[str, SharedDesk]:
    path = str(tmp_path / "desk.db")
    options.setdefault("agents", [Agent("ana")])
    return path, SharedDesk(SqliteLog(path), follow=False, **options)


def _insert(path: str, when: Any, text: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO entries (time, command) VALUES (?, ?)", (when, text))
    conn.commit()
    conn.close()


# -- H1: a malformed entry is skipped by every replica ----------------------------------


@pytest.mark.parametrize("text", ["{not json", DEEP, "[1,2]", '"just a string"', '{"op": "tick"}'])
def test_h1_sqlite_malformed_entry_is_skipped_and_replicas_still_join(tmp_path: Path, text: str) -> None:
    path, desk = _sqlite_desk(tmp_path)
    _insert(path, time.time(), text)
    offer = desk.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.agent_id == "ana"
    joined = SharedDesk(SqliteLog(path), follow=False)
    assert joined.status("T-1") == "offered"
    assert joined.replica is not None and desk.replica is not None
    assert joined.replica.digest() == desk.replica.digest()


@pytest.mark.parametrize("when", ["soon", 1e300, b"\x00"])
def test_h1_sqlite_entry_with_a_bad_time_does_not_pin_the_desk_clock(tmp_path: Path, when: Any) -> None:
    path, desk = _sqlite_desk(tmp_path, offer_timeout=30)
    _insert(path, when, '{"op":"tick","id":"x"}')
    offer = desk.submit(Ticket("T-1", 0.0))
    assert offer is not None
    assert desk.accept(offer).id == "T-1"  # not expired at once
    assert desk.log.append({"op": "tick", "id": "y"}).time < 1e10
    joined = SharedDesk(SqliteLog(path), follow=False)
    assert joined.status("T-1") == "assigned"


@pytest.mark.parametrize("fields", [{"c": "{not json"}, {"c": "[1,2]"}, {"c": DEEP}, {"x": "no c field"}])
def test_h1_redis_malformed_entry_is_skipped_and_replicas_still_join(
    redis_log_factory: Callable[..., Any], fields: dict[str, str]
) -> None:
    log = redis_log_factory("h1")
    desk = SharedDesk(log, agents=[Agent("ana")], follow=False, timeout=2)
    log.client.xadd(log.stream_key, fields)
    offer = desk.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.agent_id == "ana"
    joined = SharedDesk(redis_log_factory("h1"), follow=False, timeout=2)
    assert joined.status("T-1") == "offered"


# -- H2: user data shaped like a codec tag stays the user's data -------------------------


TAGGED = [
    {"$float": "1e999"},
    {"$ticket": {"id": "X", "created_at": 1}},
    {"$agent": {"id": "zed"}},
    {"$dict": {"a": 1}},
    {"$other": [1, {"$float": "nan"}]},
]


def test_h2_tag_shaped_attributes_are_stored_as_given_and_snapshots_still_work(tmp_path: Path) -> None:
    from triage_queue import Dispatcher

    path, desk = _sqlite_desk(tmp_path)
    plain = Dispatcher(agents=[Agent("ana")])
    desk.submit(Ticket("T-1", 0.0))
    plain.submit(Ticket("T-1", 0.0))
    attributes = {f"k{i}": value for i, value in enumerate(TAGGED)}
    shared = desk.update("T-1", attributes=attributes)
    local = plain.update("T-1", attributes=attributes)
    assert shared.attributes == local.attributes == attributes
    assert desk.replica is not None
    assert desk.replica.maybe_snapshot(force=True) is not None
    joined = SharedDesk(SqliteLog(path), follow=False)  # loads that snapshot
    desk.sync()
    assert joined.replica is not None and joined.replica.digest() == desk.replica.digest()
    assert joined.update("T-1", severity="high").attributes == attributes


def test_h2_thin_client_gets_a_reply_after_tag_shaped_data(tmp_path: Path) -> None:
    path, desk = _sqlite_desk(tmp_path)
    desk.submit(Ticket("T-1", 0.0))
    server = SharedDesk(SqliteLog(path), follow=True, poll=0.01, snapshot_every=3)
    thin = SharedDesk(SqliteLog(path), replica=False, timeout=3)
    try:
        ticket = thin.update("T-1", attributes={"form": {"$ticket": {"id": "X", "created_at": 1}}})
        assert ticket.attributes == {"form": {"$ticket": {"id": "X", "created_at": 1}}}
        assert thin.update("T-1", severity="high").severity.name == "HIGH"
    finally:
        server.close()


# -- H4: lost entries are noticed even after later appends -------------------------------


def test_h4_entries_lost_then_appended_after_are_detected(redis_log_factory: Callable[..., Any]) -> None:
    from triage_queue.shared import Alarm

    alarms: list[Alarm] = []
    log = redis_log_factory("h4")
    a = SharedDesk(log, agents=[Agent("ana", capacity=5)], follow=False, on_alarm=alarms.append)
    for i in range(3):
        a.submit(Ticket(f"T-{i}", 0.0))
    last = [row[0] for row in log.client.xrevrange(log.stream_key, count=2)]
    log.client.xdel(log.stream_key, *last)  # a failover lost the last two submits
    b = SharedDesk(redis_log_factory("h4"), follow=False)
    b.submit(Ticket("T-9", 0.0))  # appended before A reconnects
    assert a.replica is not None and a.replica.verify() is True
    assert "log_lost_entries" in [alarm.kind for alarm in alarms]
    a.sync()
    b.sync()
    assert a.status("T-9") == "offered"
    with pytest.raises(Exception, match="T-2"):
        a.status("T-2")
    assert b.replica is not None and a.replica.digest() == b.replica.digest()


# -- H3: divergence handling neither spreads a diverged state nor loops ------------------


def _digest_round(writer: SharedDesk, *desks: SharedDesk) -> None:
    assert writer.replica is not None
    writer.log.append(writer.replica.digest_command("x"))
    for desk in desks:
        desk.sync()


def test_h3_a_healthy_replica_does_not_adopt_the_diverged_replicas_snapshot(tmp_path: Path) -> None:
    from triage_queue.shared import Alarm

    path = str(tmp_path / "desk.db")
    alarms: list[Alarm] = []
    a = SharedDesk(SqliteLog(path), agents=[Agent("ana"), Agent("bo")], follow=False)
    b = SharedDesk(SqliteLog(path), follow=False, on_alarm=alarms.append)
    ra, rb = a.replica, b.replica
    assert ra is not None and rb is not None
    a.submit(Ticket("T-1", 0.0))
    b.sync()
    with ra.lock:
        ra.desk.cancel("T-1")  # A diverges behind the log's back
    ra.maybe_snapshot(force=True)  # and stores the newest snapshot
    for writer in (a, b, a):
        _digest_round(writer, a, b)
    assert ra.take_divergence() and rb.take_divergence()
    ra.resync("divergence")
    rb.resync("divergence")
    a.sync()
    b.sync()
    assert a.status("T-1") == b.status("T-1") == "offered"  # what a full replay says
    assert ra.digest() == rb.digest()
    for writer in (a, b, a):
        _digest_round(writer, a, b)
    assert not ra.take_divergence() and not rb.take_divergence()
    assert [alarm.kind for alarm in alarms] == ["divergence", "resynced"]


def test_h3_resync_after_a_divergence_does_not_loop(redis_log_factory: Callable[..., Any]) -> None:
    from triage_queue.shared import Alarm

    alarms: list[Alarm] = []
    a = SharedDesk(redis_log_factory("h3"), agents=[Agent("ana")], follow=False)
    b = SharedDesk(redis_log_factory("h3"), follow=False, on_alarm=alarms.append)
    ra, rb = a.replica, b.replica
    assert ra is not None and rb is not None
    a.submit(Ticket("T-1", 0.0))
    b.sync()
    rb.maybe_snapshot(force=True)  # a healthy snapshot, before the divergence
    with ra.lock:
        ra.desk.cancel("T-1")
    for writer in (a, b, a, b):
        _digest_round(writer, a, b)
    resyncs = 0
    for _ in range(5):  # what the follower does each round
        if rb.take_divergence():
            resyncs += 1
            rb.resync("divergence")
        b.sync()
    assert resyncs == 1
    assert b.status("T-1") == "offered"
    assert [alarm.kind for alarm in alarms] == ["divergence", "resynced"]


# -- M3: a thin client retries after NoReply with the same command id --------------------


def test_m3_thin_client_fetches_the_result_after_no_reply(tmp_path: Path) -> None:
    from triage_queue.shared.commands import NoReply

    path, creator = _sqlite_desk(tmp_path, agents=[Agent("ana", capacity=2)])
    thin = SharedDesk(SqliteLog(path), replica=False, timeout=0.2)
    with pytest.raises(NoReply) as caught:
        thin.submit(Ticket("T-1", 0.0))  # no desk server yet
    err = caught.value
    assert err.command_id is not None and err.op == "submit"
    server = SharedDesk(SqliteLog(path), follow=True, poll=0.01)
    try:
        offer = thin.result(err.command_id, err.op, timeout=3)
        assert offer.ticket.id == "T-1" and offer.agent_id == "ana"
        server.sync()
        assert [o.id for o in server.offers_for("ana")] == [offer.id]
        assert creator.result(err.command_id, err.op).id == offer.id  # a replica answers too
    finally:
        server.close()


# -- M4: Redis outages: retried until the call's timeout; a hung server times out --------


class _OwnRedis:
    """A redis-server of the test's own (AOF on), restartable on the same socket."""

    def __init__(self, executable: str, folder: Path) -> None:
        self.executable = executable
        self.folder = folder
        self.socket = str(folder / "redis.sock")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.executable, "--port", "0", "--unixsocket", self.socket, "--dir", str(self.folder),
             "--appendonly", "yes", "--save", "", "--daemonize", "no", "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as conn:
                    conn.settimeout(0.2)
                    conn.connect(self.socket)
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path, redis_server_path: str) -> Iterator[_OwnRedis]:
    server = _OwnRedis(redis_server_path, tmp_path)
    server.start()
    yield server
    server.close()


def test_m4_a_call_rides_out_a_redis_restart_within_its_timeout(own_redis: _OwnRedis) -> None:
    from triage_queue.shared import RedisLog

    desk = SharedDesk(
        RedisLog.from_url("unix://" + own_redis.socket, "m4"), agents=[Agent("ana", capacity=9)], follow=False, timeout=6
    )
    desk.submit(Ticket("T-0", 0.0))
    own_redis.signal(signal.SIGTERM)
    assert own_redis.proc is not None
    own_redis.proc.wait(timeout=10)
    restart = threading.Timer(1.5, own_redis.start)
    restart.start()
    try:
        offer = desk.submit(Ticket("T-1", 0.0))
    finally:
        restart.join()
    assert offer is not None and offer.ticket.id == "T-1"
    assert desk.status("T-1") == "offered"
    desk.log.close()


def test_m4_a_hung_redis_server_raises_instead_of_blocking_for_ever(own_redis: _OwnRedis) -> None:
    from triage_queue.shared import RedisLog

    desk = SharedDesk(RedisLog.from_url("unix://" + own_redis.socket, "m4"), agents=[Agent("ana")], follow=False, timeout=1)
    own_redis.signal(signal.SIGSTOP)
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            desk.submit(Ticket("T-1", 0.0))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(9)
    own_redis.signal(signal.SIGCONT)
    caller.join(10)
    assert outcome and isinstance(outcome[0], ConnectionError), outcome
    desk.log.close()


# -- M1: one thread's odd string fails neither its command nor the others' ----------------


def test_m1_redis_lone_surrogate_is_accepted_and_fails_no_other_thread(redis_log_factory: Callable[..., Any]) -> None:
    desk = SharedDesk(redis_log_factory("m1"), agents=[Agent("ana", capacity=1000)], follow=False)
    offer = desk.submit(Ticket("T-bad", 0.0, attributes={"note": "caf\udce9"}))
    assert offer is not None and desk.accept(offer).attributes == {"note": "caf\udce9"}
    failures: list[BaseException] = []

    def good(i: int) -> None:
        for j in range(15):
            try:
                desk.submit(Ticket(f"G-{i}-{j}", 0.0))
            except BaseException as exc:
                failures.append(exc)

    def odd() -> None:
        for j in range(60):
            desk.submit(Ticket(f"B-{j}", 0.0, attributes={"note": "\udce9"}))

    threads = [threading.Thread(target=good, args=(i,)) for i in range(6)] + [threading.Thread(target=odd)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    desk.sync()
    statuses = {desk.status(f"G-{i}-{j}") for i in range(6) for j in range(15)} | {desk.status(f"B-{j}") for j in range(60)}
    assert statuses <= {"offered", "assigned", "waiting"}


# -- M2: a cancelled next_ticket does not strand the offer it made ----------------------


def test_m2_cancelled_next_ticket_keeps_its_offer_for_the_next_call(tmp_path: Path) -> None:
    import asyncio

    from triage_queue.shared import AsyncSharedDesk

    _, desk = _sqlite_desk(tmp_path, offer_timeout=30)
    waiting = AsyncSharedDesk(desk)

    async def main() -> Any:
        desk.submit(Ticket("T-1", 0.0))
        for delay in (0.0, 0.0005, 0.001, 0.002):
            try:
                return await asyncio.wait_for(waiting.next_ticket("ana"), delay)
            except TimeoutError:
                pass
        return None  # the event loop ends while the cancelled calls' threads still run

    offer = asyncio.run(main()) or asyncio.run(waiting.next_ticket("ana", timeout=0.5))
    assert offer is not None and offer.ticket.id == "T-1"
    assert desk.accept(offer).id == "T-1"


# -- L4: the replica moves its clock through ManualClock's public API ---------------------


def test_l4_replica_does_not_touch_the_clocks_private_state() -> None:
    import ast
    import inspect

    from triage_queue.shared import replica

    tree = ast.parse(inspect.getsource(replica))
    private = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "_now"]
    assert private == []


# -- L1: a log clock a little behind the desk's does not delay timed events by a second ---


def test_l1_offer_expires_on_time_when_the_log_clock_is_behind(tmp_path: Path) -> None:
    log = SqliteLog(str(tmp_path / "desk.db"), clock=lambda: time.time() - 0.05)  # 50 ms behind
    desk = SharedDesk(log, agents=[Agent("ana")], offer_timeout=0.2, poll=0.01, clock=time.time)
    try:
        desk.submit(Ticket("T-1", 0.0))
        started = time.monotonic()
        while desk.status("T-1") == "offered" and time.monotonic() - started < 3:
            time.sleep(0.005)
        assert desk.status("T-1") != "offered"
        assert time.monotonic() - started < 0.6
    finally:
        desk.close()


# -- L2: agents waiting on an idle desk do not fill the log with next_for ------------------


def test_l2_waiting_agents_append_nothing_more_on_an_idle_desk(tmp_path: Path) -> None:
    import asyncio

    from triage_queue.shared import AsyncSharedDesk

    log = SqliteLog(str(tmp_path / "desk.db"))
    desk = SharedDesk(log, agents=[Agent(f"a{i}") for i in range(6)], poll=0.01, digest_seconds=None)
    try:
        before = log.last_position()
        waiters = [threading.Thread(target=desk.wait_for_ticket, args=(f"a{i}", 2.3)) for i in range(5)]
        for waiter in waiters:
            waiter.start()
        asyncio.run(AsyncSharedDesk(desk).next_ticket("a5", timeout=2.3))
        for waiter in waiters:
            waiter.join()
        ops = [entry.command["op"] for entry in log.read(before, limit=1000)]
        assert ops.count("next_for") == 6  # one each, not one a second
        offered = desk.submit(Ticket("T-1", 0.0))  # and a waiter still wakes for a new ticket
        assert offered is not None
    finally:
        desk.close()


def test_l2_a_waiting_agent_still_gets_a_ticket_submitted_later(tmp_path: Path) -> None:
    log = SqliteLog(str(tmp_path / "desk.db"))
    desk = SharedDesk(log, agents=[Agent("ana", status="away")], poll=0.01, digest_seconds=None)
    other = SharedDesk(SqliteLog(str(tmp_path / "desk.db")), follow=False)
    try:
        got: list[Any] = []
        waiter = threading.Thread(target=lambda: got.append(desk.wait_for_ticket("ana", 5)))
        waiter.start()
        time.sleep(0.1)
        other.submit(Ticket("T-1", 0.0))  # waits: ana is away
        time.sleep(0.1)
        other.set_status("ana", "available")  # routes T-1 to ana in that command
        waiter.join(6)
        assert got and got[0] is not None and got[0].ticket.id == "T-1"
    finally:
        desk.close()


# -- L3: the documented differences from an in-process Dispatcher -------------------------


def test_l3_non_json_attribute_values_behave_as_documented(tmp_path: Path) -> None:
    import datetime

    from triage_queue.errors import InvalidArgument

    _, desk = _sqlite_desk(tmp_path)
    desk.submit(Ticket("T-1", 0.0))
    aware = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    ticket = desk.update("T-1", attributes={"pair": (1, 2), "when": aware, "plain": {"a": [1, "x", None, True, 2.5]}})
    assert ticket.attributes == {"pair": [1, 2], "when": aware.timestamp(), "plain": {"a": [1, "x", None, True, 2.5]}}
    for bad in (datetime.datetime(2026, 1, 1), b"x", {1: "x"}):
        with pytest.raises(InvalidArgument, match="attributes"):
            desk.update("T-1", attributes={"k": bad})
    with pytest.raises(InvalidArgument, match="ticket_id"):
        desk.update(object(), severity="high")  # type: ignore[arg-type]
    assert desk.status("T-1") == "offered"  # state unchanged


def test_h4_a_log_restored_from_a_backup_is_noticed_though_positions_are_reused(tmp_path: Path) -> None:
    from triage_queue.shared import Alarm

    alarms: list[Alarm] = []
    path, a = _sqlite_desk(tmp_path, agents=[Agent("ana", capacity=5)], on_alarm=alarms.append)
    a.submit(Ticket("T-0", 0.0))
    backup = sqlite3.connect(str(tmp_path / "backup.db"))
    live = sqlite3.connect(path)
    live.backup(backup)  # a backup taken here...
    a.submit(Ticket("T-1", 0.0))
    backup.backup(live)  # ...restored: T-1's submit is gone
    live.close()
    backup.close()
    b = SharedDesk(SqliteLog(path), follow=False)
    b.submit(Ticket("T-9", 0.0))  # lands at the position T-1's submit had
    assert a.replica is not None and a.replica.verify() is True
    assert [alarm.kind for alarm in alarms] == ["log_lost_entries"]
    a.sync()
    assert a.status("T-9") == "offered"
    with pytest.raises(Exception, match="T-1"):
        a.status("T-1")
