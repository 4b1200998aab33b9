"""The load and asyncio benchmark scenarios count honestly.

What a user of the benchmark relies on: the accounting says "served exactly
once" only when that is true, and says what went wrong otherwise; the lock
wrapper behaves as a re-entrant lock (also under a Condition) while counting
contention; every desk, driven by the same threads, serves every ticket.
No test asserts a time.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage_queue import Ticket
from triage_queue._progress import Progress
from triage_queue.bench import aio_suite, load_suite
from triage_queue.bench.load_suite import InstrumentedRLock, account

ids = st.sampled_from([f"T{i}" for i in range(12)])


@given(submitted=st.lists(ids, unique=True), completed=st.lists(st.lists(ids, max_size=8), max_size=4))
def test_account_agrees_with_a_counting_model(submitted: list[str], completed: list[list[str]]) -> None:
    """Each figure is what counting every completion gives, and ok means nothing was wrong."""
    times = collections.Counter(ticket_id for ids_ in completed for ticket_id in ids_)
    result = account(submitted, completed)
    assert result["submitted"] == len(submitted)
    assert result["served_once"] == sum(1 for t in submitted if times[t] == 1)
    assert result["lost"] == sum(1 for t in submitted if times[t] == 0)
    assert result["duplicated"] == sum(1 for n in times.values() if n > 1)
    assert result["unknown"] == sum(1 for t in times if t not in submitted)
    assert result["ok"] == (all(times[t] == 1 for t in submitted) and set(times) <= set(submitted))


def test_account_fails_on_a_failed_cross_check() -> None:
    """A perfect count is not enough if the desk's own view disagrees."""
    assert account(["a"], [["a"]], checks={"queue_empty": True})["ok"] is True
    result = account(["a"], [["a"]], checks={"queue_empty": False})
    assert result["ok"] is False and result["checks"] == {"queue_empty": False}


class _BusyOnce:
    """A re-entrant lock that reports itself busy at the first try without blocking."""

    def __init__(self) -> None:
        self.inner = threading.RLock()
        self.tries = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not blocking:
            self.tries += 1
            if self.tries == 1:
                return False
        return self.inner.acquire(blocking, timeout)

    def release(self) -> None:
        self.inner.release()


def test_instrumented_lock_counts_a_contended_acquisition() -> None:
    """An acquisition that had to block is counted as contended, with its wait; others are not."""
    lock = InstrumentedRLock()
    lock._inner = _BusyOnce()  # type: ignore[assignment]
    with lock:
        pass
    with lock:
        pass
    assert (lock.acquisitions, lock.contended, len(lock.waits), lock.depth) == (2, 1, 1, 0)


def test_instrumented_lock_refuses_without_blocking_when_held_elsewhere() -> None:
    lock = InstrumentedRLock()
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock:
            holding.set()
            release.wait()

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait()
    assert lock.acquire(blocking=False) is False
    release.set()
    thread.join()
    assert (lock.acquisitions, lock.contended, lock.depth) == (1, 0, 0)


def test_instrumented_lock_under_a_condition_keeps_reentrancy() -> None:
    """Waiting on a Condition while holding the lock twice releases it fully and restores both levels."""
    lock = InstrumentedRLock()
    condition = threading.Condition(lock)  # type: ignore[arg-type]
    got: list[int] = []

    def notifier() -> None:
        with condition:
            got.append(1)
            condition.notify()

    with lock, condition:
        assert lock.depth == 2
        thread = threading.Thread(target=notifier)
        thread.start()
        assert condition.wait_for(lambda: got, timeout=30)
        assert lock.depth == 2
    thread.join()
    assert lock.depth == 0
    assert len(lock.reacquire_waits) >= 1
    assert lock.acquire(blocking=False)  # free again: nothing left held
    lock.release()


def _tiny_shape(producers: int, agents: int, updaters: int) -> Any:
    return load_suite._Shape(producers, agents, updaters, 0.2, 7)


@pytest.mark.parametrize("desk", ["library", "priority_queue", "pqdict_locked"])
def test_every_desk_serves_every_ticket_once(desk: str) -> None:
    """The same threads drive each desk; all 300 tickets are served exactly once."""
    if desk == "pqdict_locked":
        pytest.importorskip("pqdict")
    tickets = load_suite.make_tickets(300, seed=3)
    row = load_suite._measure_desk(desk, tickets, _tiny_shape(3, 4, 2))
    assert row["accounting"]["ok"], row["accounting"]
    assert row["accounting"]["served_once"] == 300
    assert row["pushes"] == row["pulls"] == 300
    assert not row["stalled"]
    assert sum(row["updates"].values()) <= 300 * 0.2


@pytest.mark.parametrize("desk", ["library", "pqdict_locked"])
def test_updates_reprioritise_waiting_tickets_only(desk: str) -> None:
    """Escalations and follow-ups change a waiting ticket; a taken or finished one is reported as such."""
    import random

    agents = load_suite.make_agents(1)
    if desk == "library":
        subject: Any = load_suite._library_desk(agents)
    else:
        pytest.importorskip("pqdict")
        subject = load_suite._PqdictDesk(agents)
    first, second = load_suite.make_tickets(2, seed=9)
    subject.submit(first)
    subject.submit(second)
    held = subject.try_pull("A0")
    waiting = second if held.id == first.id else first
    rnd = random.Random(1)
    assert [subject.update(waiting.id, choice, rnd) for choice in (0.1, 0.5, 0.9)] == ["applied"] * 3
    assert subject.update(held.id, 0.9, rnd) == "not_waiting"  # a follow-up only bumps a waiting ticket
    subject.complete("A0", held)
    assert subject.update(held.id, 0.1, rnd) == "already_completed"
    again = subject.try_pull("A0")
    assert again.id == waiting.id
    assert again.contacts == waiting.contacts + 1
    assert again.customer_tier in ("gold", "platinum")


def test_lock_instrumented_pass_checks_the_event_stream() -> None:
    """With the lock wrapped, the dispatcher still works across threads, and
    every ticket has exactly one accepted and one completed event."""
    lock = InstrumentedRLock()
    row = load_suite._run_library(load_suite.make_tickets(200, seed=4), _tiny_shape(2, 3, 1), lock)
    checks = row["accounting"]["checks"]
    assert checks["events_accepted_once_each"] and checks["events_completed_once_each"]
    assert row["accounting"]["ok"]
    assert row["lock"]["acquisitions"] == lock.acquisitions > 0
    assert lock.depth == 0


class _LosingDesk(load_suite._PriorityQueueDesk):
    """Drops every 50th ticket: the run must end and report the loss."""

    def submit(self, ticket: Ticket) -> None:
        if int(ticket.id[1:]) % 50 != 7:
            super().submit(ticket)


class _DoublingDesk(load_suite._PriorityQueueDesk):
    """Queues every 40th ticket twice."""

    def submit(self, ticket: Ticket) -> None:
        super().submit(ticket)
        if int(ticket.id[1:]) % 40 == 3:
            super().submit(ticket)


def test_accounting_reports_lost_tickets_without_hanging() -> None:
    tickets = load_suite.make_tickets(200, seed=5)
    row = load_suite._drive(_LosingDesk(), tickets, _tiny_shape(2, 2, 0), stall_s=0.3)
    assert row["stalled"]
    assert row["accounting"]["lost"] == 4
    assert not row["accounting"]["ok"]


def test_accounting_reports_duplicated_tickets() -> None:
    tickets = load_suite.make_tickets(200, seed=6)
    row = load_suite._drive(_DoublingDesk(), tickets, _tiny_shape(2, 2, 0), stall_s=0.3)
    accounting = row["accounting"]
    assert accounting["duplicated"] >= 1
    assert not accounting["ok"]


def test_skills_split_agents_in_two_halves() -> None:
    """With several agents, each ticket can go to only half of them, so the skill check matters."""
    agents = load_suite.make_agents(4)
    tickets = load_suite.make_tickets(200, seed=8)
    for ticket in tickets:
        able = [a.id for a in agents if ticket.skills.satisfied_by(a.skills)]
        assert len(able) == 2
    assert all(any(t.skills.satisfied_by(a.skills) for t in tickets) for a in agents)


def test_load_run_reports_every_section(tmp_path: Path) -> None:
    """A tiny run: every configuration and desk, the probes, the targets, markdown and plots."""
    params = dict(
        load_suite.params(quick=True),
        configs=[[1, 1], [2, 2]],
        tickets=120,
        instrumented=[[2, 2]],
        gc_freeze=[2, 2],
        probe_waiting=300,
        probe_pulls=40,
        probe_threads=[1, 2],
        profile_tickets=50,
    )
    result = load_suite.run(params, Progress(enabled=False))
    assert result["accounting"]["ok"]
    assert set(result["configs"]) == {"P1+A1", "P2+A2"}
    for row in result["configs"].values():
        assert row["library"]["ops_per_s"] > 0 and row["priority_queue"]["ops_per_s"] > 0
        assert row["library"]["pull_us"]["p99"] is not None
    assert "lock" in result["configs"]["P2+A2"]["library_lock_instrumented"]
    assert result["gc_freeze"]["library"]["accounting"]["ok"]
    assert result["backlog_probe"]["single_thread"]["waiting"] == 300
    assert result["profile"]["per_call_us_cumulative"]
    assert "| P2+A2 (1) |" in "\n".join(load_suite.markdown(result))
    pytest.importorskip("matplotlib")
    written = load_suite.plots(result, tmp_path)
    assert {p.name for p in written} == {"load_throughput.png", "load_latency_cdf.png"}
    assert all(p.stat().st_size > 0 for p in written)


def test_asyncio_run_serves_every_ticket_once(tmp_path: Path) -> None:
    """Both producer modes: every ticket woke exactly one awaiting coroutine and was served once."""
    params = dict(aio_suite.params(quick=True), coroutines=30, tickets=90, thread_rate=50_000.0)
    result = aio_suite.run(params, Progress(enabled=False))
    assert result["accounting"]["ok"]
    for mode in ("coroutines", "threads"):
        row = result["modes"][mode]
        assert row["accounting"]["served_once"] == 90
        assert row["wakeup_us"]["p50"] is not None and row["wakeup_cdf_us"]
    assert "| 4 threads" in "\n".join(aio_suite.markdown(result))
    pytest.importorskip("matplotlib")
    assert [p.name for p in aio_suite.plots(result, tmp_path)] == ["asyncio_wakeup_cdf.png"]
