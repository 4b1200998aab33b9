"""Stateful test: SharedDesk with three replicas on one log (SQLite, and a
real Redis when its fixture is there) against one in-process Dispatcher
given the same operations at the same times.

Every operation goes to a random replica; its result (or its error: same
class, same message) must equal the in-process desk's, and so must the
events the replica's listeners hear for it.  After every step every
replica, caught up, has the in-process desk's state (its whole snapshot)
and all replicas have one digest.  Now and then a replica stores a
snapshot (and trims the log) and a fresh replica joins from it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from test_shared_desk import engine_log_factory
from triage_queue import Agent, Dispatcher, Event, ManualClock, Ticket, TicketQueue
from triage_queue.shared import SharedDesk, SqliteLog
from triage_queue.shared.log import Log

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
AGENTS = ("ana", "bo", "cy", "dee")
SKILLS = ("billing", "api")
SETTINGS: dict[str, Any] = {"offer_timeout": 30.0, "retry_after": 60.0, "affinity_wait": 20.0, "sla_warning": 10.0}


def team() -> list[Agent]:
    return [Agent("ana", skills=["billing"]), Agent("bo", capacity=2), Agent("cy", skills={"api": 2}, status="away")]


class SharedMachine(RuleBasedStateMachine):
    make_log: Callable[[], Log]
    clock: ManualClock | None  # the SQLite log's clock, or None (Redis: the server's)

    def __init__(self) -> None:
        super().__init__()
        self.desks = [SharedDesk(self.make_log(), agents=team(), name="eu", follow=False, snapshot_every=7, **SETTINGS)]
        self.desks += [SharedDesk(self.make_log(), follow=False, snapshot_every=7) for _ in range(2)]
        first = self.desks[0].replica
        assert first is not None
        self.time = ManualClock(first.time)
        self.one = Dispatcher(TicketQueue(clock=self.time), team(), name="eu", advance_on_read=False, **SETTINGS)
        self.heard_one: list[Event] = []
        self.one.subscribe(self.heard_one.append)
        self.heard: list[list[Event]] = [[] for _ in self.desks]
        for desk, heard in zip(self.desks, self.heard, strict=True):
            desk.subscribe(heard.append)
        self.count = 0

    def both(self, who: int, call: Callable[[Any], Any]) -> None:
        desk = self.desks[who]
        for heard in self.heard:
            heard.clear()
        self.heard_one.clear()
        try:
            got: Any = call(desk)
        except Exception as exc:
            got = exc
        replica = desk.replica
        assert replica is not None
        self.time.set(replica.time)
        try:
            expected: Any = call(self.one)
        except Exception as exc:
            assert type(got) is type(exc), (got, exc)
            assert str(got) == str(exc)
        else:
            assert got == expected
        assert self.heard[who] == self.heard_one

    def wait(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.advance(seconds)

    @rule(who=st.integers(0, 2), skills=st.sampled_from([[], ["billing"], ["api"]]), wait=st.sampled_from([0, 1, 5, 31]))
    def submit(self, who: int, skills: list[str], wait: float) -> None:
        self.wait(wait)
        ticket_id = f"T-{self.count}"
        self.count += 1
        self.both(who, lambda d: d.submit(Ticket(ticket_id, 0.0, skills=skills, sla_due=None if wait else 1e12)))

    @rule(who=st.integers(0, 2), n=st.integers(1, 30), accept=st.booleans())
    def answer(self, who: int, n: int, accept: bool) -> None:
        offer = f"eu-{n}"
        if accept:
            self.both(who, lambda d: d.accept(offer))
        else:
            self.both(who, lambda d: d.decline(offer, "busy"))

    @rule(who=st.integers(0, 2), n=st.integers(0, 30), op=st.sampled_from(["complete", "cancel", "transfer", "update"]))
    def ticket_op(self, who: int, n: int, op: str) -> None:
        ticket_id = f"T-{n}"
        if op == "transfer":
            self.both(who, lambda d: d.transfer(ticket_id, skills=["api"]))
        elif op == "update":
            self.both(who, lambda d: d.update(ticket_id, severity="critical"))
        else:
            self.both(who, lambda d: getattr(d, op)(ticket_id))

    @rule(who=st.integers(0, 2), agent=st.sampled_from(AGENTS), status=st.sampled_from(["available", "away", "offline"]))
    def set_status(self, who: int, agent: str, status: str) -> None:
        self.both(who, lambda d: d.set_status(agent, status))

    @rule(who=st.integers(0, 2), agent=st.sampled_from(AGENTS), skills=st.sampled_from([[], ["api"], ["billing", "api"]]))
    def agents(self, who: int, agent: str, skills: list[str]) -> None:
        if agent == "dee":
            self.both(who, lambda d: d.add_agent(Agent("dee", skills=skills)))
        else:
            self.both(who, lambda d: d.update_agent(agent, skills=skills))

    @rule(who=st.integers(0, 2), agent=st.sampled_from(AGENTS))
    def next_for_or_remove(self, who: int, agent: str) -> None:
        if agent == "dee":
            self.both(who, lambda d: d.remove_agent(agent))
        else:
            self.both(who, lambda d: d.next_for(agent))

    @rule(who=st.integers(0, 2), wait=st.sampled_from([1, 11, 31, 61]))
    def tick(self, who: int, wait: float) -> None:
        self.wait(wait)
        self.both(who, lambda d: d.tick())

    @rule(who=st.integers(0, 2))
    def snapshot_and_join(self, who: int) -> None:
        """A replica stores a snapshot (trimming the log); a new one joins
        from it and takes the place of another."""
        replica = self.desks[who].replica
        assert replica is not None
        replica.maybe_snapshot(force=True)
        fresh = SharedDesk(self.make_log(), follow=False)
        assert fresh.replica is not None
        slot = (who + 1) % 3
        self.desks[slot].close()
        self.desks[slot] = fresh
        fresh.subscribe(self.heard[slot].append)

    @invariant()
    def replicas_hold_the_one_desk(self) -> None:
        expected = self.one.snapshot()
        digests = set()
        for desk in self.desks:
            desk.sync()
            replica = desk.replica
            assert replica is not None
            with replica.lock:
                assert replica.desk.snapshot() == expected
            digests.add(replica.digest())
        assert len(digests) == 1

    def teardown(self) -> None:
        for desk in self.desks:
            desk.close()
            desk.log.close()


def test_shared_desk_on_sqlite_behaves_as_one_dispatcher() -> None:
    """Three replicas on a SQLite log, on a manual clock: every result,
    error, event and state equals one in-process Dispatcher's."""
    clocks: list[ManualClock] = []

    paths: list[str] = []

    def make_log() -> Log:
        # One fresh file per example; every handle of an example shares it.
        return SqliteLog(paths[-1], clock=clocks[-1])

    class Fresh(SharedMachine):
        def __init__(self) -> None:
            paths.append(os.path.join(tempfile.mkdtemp(), "desk.db"))
            clocks.append(ManualClock(1000.0))
            type(self).clock = clocks[-1]
            super().__init__()

    Fresh.make_log = staticmethod(make_log)
    run_state_machine_as_test(Fresh, settings=settings(max_examples=15, stateful_step_count=25, deadline=None, derandomize=CI))


def test_shared_desk_on_redis_behaves_as_one_dispatcher(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The same machine on a real Redis (the server's clock gives the times)."""
    counter = [0]

    class Fresh(SharedMachine):
        clock = None

        def __init__(self) -> None:
            counter[0] += 1
            make = engine_log_factory(request, tmp_path, "redis", name=f"stateful-{counter[0]}")
            type(self).make_log = staticmethod(make)
            super().__init__()

    engine_log_factory(request, tmp_path, "redis")  # skips (or fails under CI) without the fixture
    run_state_machine_as_test(Fresh, settings=settings(max_examples=8, stateful_step_count=20, deadline=None, derandomize=CI))
