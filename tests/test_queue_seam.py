"""The seam a dispatcher drives a TicketQueue through (``TicketQueue.attach``).

Each seam method is checked against the private path it replaces: two
queues with the same policy and clock get the same random operations, one
through the seam, the other through the private members the dispatcher
used before the seam existed; their answers and their whole state must
agree after every step.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queue_models import (
    AGENTS,
    IDS,
    agent_skills,
    agents,
    channel_filters,
    ladder_policy,
    max_wait_policy,
    stepped_policy,
    tickets,
    weighted_policy,
)
from triage_queue import DuplicateTicket, InvalidArgument, ManualClock, Policy, SkillSet, Ticket, TicketQueue, UnknownTicket
from triage_queue.queue import DeskSeam

POLICIES = {
    "default": Policy.default,
    "weighted": weighted_policy,
    "stepped": stepped_policy,
    "ladder": ladder_policy,
    "max-wait": max_wait_policy,
}
policy_names = st.sampled_from(sorted(POLICIES))


# -- attaching ------------------------------------------------------------------


def test_attach_returns_a_seam_and_a_second_attach_is_refused() -> None:
    q = TicketQueue(clock=lambda: 0.0)
    seam = q.attach("desk")
    assert isinstance(seam, DeskSeam)
    assert seam.queue is q and seam.owner == "desk"
    with pytest.raises(InvalidArgument, match="already attached to 'desk'"):
        q.attach("another desk")
    assert q._seam is seam  # the refused attach changed nothing


def test_detach_frees_the_queue_and_stops_recording_relaned_tickets() -> None:
    q = TicketQueue(clock=lambda: 0.0)
    seam = q.attach("desk")
    assert q._relaned == []
    seam.detach()
    assert q._relaned is None and q._seam is None
    with pytest.raises(InvalidArgument, match="not attached"):
        seam.detach()
    again = q.attach("desk 2")
    with pytest.raises(InvalidArgument, match="not attached"):
        seam.detach()  # the old seam cannot detach the new one
    again.detach()


def test_attach_is_refused_while_a_dispatcher_watches_through_the_private_path() -> None:
    q = TicketQueue(clock=lambda: 0.0)
    q._relaned = []  # what a dispatcher not yet on the seam does
    with pytest.raises(InvalidArgument, match="already attached to a dispatcher"):
        q.attach("desk")


def test_lock_and_clock_are_public() -> None:
    lock = threading.RLock()
    clock = ManualClock(5.0)
    q = TicketQueue(clock=clock, lock=lock)
    assert q.lock is lock and q.clock is clock
    with pytest.raises(AttributeError):
        q.clock = clock  # type: ignore[misc]
    with pytest.raises(InvalidArgument, match="re-entrant lock"):
        TicketQueue(lock=object())  # type: ignore[arg-type]
    assert isinstance(TicketQueue().lock, type(threading.RLock()))


# -- small cases ----------------------------------------------------------------


def test_take_of_an_unknown_ticket_raises_and_restore_of_a_queued_one_too() -> None:
    q = TicketQueue(clock=lambda: 0.0)
    seam = q.attach("desk")
    with pytest.raises(UnknownTicket):
        seam.take("nope")
    q.push(Ticket("a", 0.0))
    ticket, seq = seam.take("a")
    q.push(ticket)
    with pytest.raises(DuplicateTicket):
        seam.restore(ticket, seq)


def test_check_placeable_raises_what_push_would_and_changes_nothing() -> None:
    def broken(ticket: Ticket) -> float:
        raise ValueError("no")

    from triage_queue import FunctionRule, RuleError

    q = TicketQueue(Policy([FunctionRule("broken", broken)]), clock=lambda: 0.0)
    seam = q.attach("desk")
    with pytest.raises(RuleError):
        seam.check_placeable(Ticket("a", 0.0), 0.0)
    with pytest.raises(RuleError):
        q._score_check(Ticket("a", 0.0), 0.0)
    assert len(q) == 0 and seam.new_sequence() == 0


def test_held_by_lists_an_agents_held_tickets_in_service_order() -> None:
    q = TicketQueue(clock=lambda: 0.0)
    seam = q.attach("desk")
    for i in range(6):
        q.push(Ticket(f"T-{i}", float(i)))
    for i in (4, 1, 5, 0):
        q.hold(f"T-{i}", "ana" if i != 5 else "ben", until=50.0)
    assert seam.held_by("ana") == ["T-0", "T-1", "T-4"]
    assert seam.held_by("ben") == ["T-5"]
    assert seam.held_by("cy") == []


# -- the seam against the private paths -------------------------------------------


class Twins:
    """Two queues fed the same operations: ``a`` through the seam, ``b``
    through the private members (watched as a dispatcher did)."""

    def __init__(self, policy_name: str) -> None:
        self.clock = ManualClock(1_000.0)
        self.a = TicketQueue(POLICIES[policy_name](), clock=self.clock)
        self.b = TicketQueue(POLICIES[policy_name](), clock=self.clock)
        self.seam = self.a.attach("desk")
        self.b._relaned = []
        self.taken: list[tuple[Ticket, int]] = []

    def drain_b(self) -> list[str]:
        relaned = self.b._relaned or []
        self.b._relaned = []
        return relaned

    def agree(self) -> None:
        a, b = self.a, self.b
        a._check()
        b._check()
        assert dict(a._changes.items()) == dict(b._changes.items())
        assert a._holds == b._holds
        assert a._next_seq == b._next_seq
        assert a._store.ordered() == b._store.ordered()
        assert self.seam.backlog() == [(t, b._store.lane(t.id)) for t, _ in b._store.ordered()]
        changes = b._changes
        assert self.seam.next_change_at() == (changes.peekitem()[1] if changes else None)
        for ticket_id in IDS:
            assert self.seam.get(ticket_id) == b._store.get(ticket_id)
            if ticket_id in b:
                assert self.seam.lane(ticket_id) == b._store.lane(ticket_id)
        for agent in AGENTS:
            scan = [t for t, (holder, _) in b._holds.items() if holder == agent]
            assert self.seam.held_by(agent) == sorted(scan, key=b._store.priority)


# How often the random runs really did each interesting thing.
SEEN = {"taken": 0, "restored": 0, "relaned": 0, "held": 0}


def _call(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the same error on both sides
        return "raised", (type(exc), str(exc))


@settings(max_examples=100, deadline=None)
@given(policy_name=policy_names, data=st.data())
def test_every_seam_method_matches_the_private_path_it_replaces(policy_name: str, data: st.DataObject) -> None:
    twins = Twins(policy_name)
    a, b, seam = twins.a, twins.b, twins.seam
    ops = st.sampled_from(
        ["push", "push", "push", "hold", "advance", "take_best", "take", "restore", "replace", "apply_due", "sequence", "check"]
    )
    for _ in range(data.draw(st.integers(5, 40), label="steps")):
        op = data.draw(ops, label="op")
        now = twins.clock()
        if op == "push":
            ticket_id = data.draw(st.sampled_from(IDS))
            ticket = data.draw(tickets(ticket_id, now))
            assert _call(a.push, ticket) == _call(b.push, ticket)
        elif op == "hold" and len(b):
            ticket_id = data.draw(st.sampled_from([t.id for t, _ in b._store.ordered()]))
            agent = data.draw(st.sampled_from(AGENTS))
            until = now + data.draw(st.sampled_from([-5, 0, 1, 30, 60, 240]))
            assert _call(a.hold, ticket_id, agent, until) == _call(b.hold, ticket_id, agent, until)
        elif op == "advance":
            twins.clock.advance(data.draw(st.sampled_from([0, 1, 30, 59.5, 60, 61, 150, 300])))
        elif op == "take_best":
            skills = data.draw(st.one_of(st.none(), agent_skills.map(SkillSet.of)))
            channels = data.draw(channel_filters)
            who = data.draw(agents)
            with a.lock:
                got = _call(seam.take_best, skills, channels, who)
            assert got == _call(b._take_locked, skills, channels, who)
            if got[0] == "ok" and got[1] is not None:
                twins.taken.append(got[1])
                SEEN["taken"] += 1
        elif op == "take":
            ticket_id = data.draw(st.sampled_from(IDS))
            got = _call(seam.take, ticket_id)
            if ticket_id in b:
                seq = b._sequence(ticket_id)
                expected = ("ok", (b.remove(ticket_id), seq))
            else:
                expected = _call(b.remove, ticket_id)
            assert got == expected
            if got[0] == "ok":
                twins.taken.append(got[1])
        elif op == "restore" and twins.taken:
            ticket, seq = twins.taken.pop(data.draw(st.integers(0, len(twins.taken) - 1)))
            hold = data.draw(st.one_of(st.none(), st.tuples(st.sampled_from(AGENTS), st.sampled_from([now + 1, now + 60]))))
            got = _call(seam.restore, ticket, seq, hold)
            assert got == _call(b._restore, ticket, seq, hold)
            SEEN["restored"] += got[0] == "ok"
        elif op == "replace" and len(b):
            ticket_id = data.draw(st.sampled_from([t.id for t, _ in b._store.ordered()]))
            new = data.draw(tickets(ticket_id, now))
            assert _call(seam.replace, new) == _call(b._update_to, new)
        elif op == "apply_due":
            when = twins.clock()

            def private(when: float) -> list[str]:
                if b._changes:
                    b._rekey_due(when)
                return twins.drain_b()

            got = _call(seam.apply_due, when)
            assert got == _call(private, when)
            SEEN["relaned"] += bool(got[0] == "ok" and got[1])
        elif op == "sequence":
            assert seam.new_sequence() == b._new_sequence()
        elif op == "check":
            ticket = data.draw(tickets("T-new", now))
            assert _call(seam.check_placeable, ticket, now) == _call(b._score_check, ticket, now)
        # Both queues' relaned tickets are the same, in the same order.
        relaned = seam.relaned()
        assert relaned == twins.drain_b()
        SEEN["relaned"] += bool(relaned)
        twins.agree()
        SEEN["held"] += bool(b._holds)


def test_the_random_runs_exercised_every_path() -> None:
    """Runs after the property test (file order): it must have taken,
    restored, re-laned and held tickets."""
    if not any(SEEN.values()):
        pytest.skip("the property test did not run in this session")
    assert all(SEEN.values()), SEEN


# -- determinism: equal instants are applied in arrival order ----------------------


@settings(max_examples=50, deadline=None)
@given(order=st.permutations(range(6)), until=st.sampled_from([10.0, 30.0]), extra=st.lists(st.integers(0, 5), max_size=6))
def test_changes_at_the_same_instant_are_applied_in_arrival_order_whatever_the_history(
    order: list[int], until: float, extra: list[int]
) -> None:
    """Holds ending together come back in arrival order, not in the order they
    were set (nor re-set): the order follows from the queue's state alone."""
    q = TicketQueue(clock=ManualClock(0.0))
    seam = q.attach("desk")
    for i in range(6):
        q.push(Ticket(f"T-{i}", 0.0))
    for i in order:
        q.hold(f"T-{i}", "ana", until=until)
    for i in extra:
        q.hold(f"T-{i}", "ana", until=until)  # again: same instant, later in history
    assert seam.relaned() == []
    assert seam.apply_due(until) == [f"T-{i}" for i in range(6)]
    q._check()


def test_tickets_relaxing_at_the_same_instant_are_relaned_in_arrival_order() -> None:
    clock = ManualClock(0.0)
    q = TicketQueue(clock=clock)
    seam = q.attach("desk")
    # Arrival order b, a; the later-created ticket relaxes at the same instant.
    q.push(Ticket("b", 30.0, skills={"api": 1}, preferred_skills={"api": 3}, relax_after=30.0))
    q.push(Ticket("a", 0.0, skills={"api": 1}, preferred_skills={"api": 3}, relax_after=60.0))
    q.hold("a", "ana", until=60.0)
    q.hold("b", "ana", until=60.0)
    clock.set(60.0)
    assert seam.apply_due(60.0) == ["b", "a"]


# -- reads that do not write (DeskSeam.set_reads) ------------------------------------


def internal_dump(q: TicketQueue) -> Any:
    """Every internal structure of a queue on a MemoryStore, as plain data
    (partitions named by their lane, so two queues compare too)."""
    store: Any = q._store
    parts = store._partitions
    lane_of = {id(p): lane for lane, p in parts.items()}
    return {
        "changes": (list(q._changes._heap), dict(q._changes._index), q._changes._dead, q._changes._next_seq),
        "holds": dict(q._holds),
        "next_seq": q._next_seq,
        "relaned": None if q._relaned is None else list(q._relaned),
        "tickets": list(store._tickets.items()),
        "odd": dict(store._odd),
        "partitions": [(lane, list(p.heap), dict(p.index), p.dead, p.top) for lane, p in parts.items()],
        "heads": [(lane_of.get(id(e[2])), e[0], e[1]) for e in store._heads],
        "stale": [lane_of.get(id(p)) for p in store._stale],
        "eligible": {k: [lane_of.get(id(p)) for p in v] for k, v in store._eligible.items()},
        "held": {k: [lane_of.get(id(p)) for p in v] for k, v in store._held.items()},
        "empty": store._empty,
        "deadlines": list(store._deadlines),
        "ranks": None if store._ranks is None else list(store._ranks),
    }


def every_read(q: TicketQueue) -> Any:
    """The answers of every read, for every ticket and a few agents."""
    from triage_queue import Empty

    out: list[Any] = [[t.id for t in q], q.breached(), q.due_within(120.0)]
    for skills in (None, SkillSet(), SkillSet({"billing": 3, "payments": 3, "german": 2})):
        for agent in (None, *AGENTS):
            try:
                out.append(q.peek(skills, agent=agent).id)
            except Empty:
                out.append(None)
    for ticket_id in sorted(t.id for t in q):
        out.append((q.holder(ticket_id), q.position(ticket_id), q.explain(ticket_id)))
    return out


def random_queue(data: st.DataObject, policy_name: str) -> tuple[TicketQueue, ManualClock]:
    """A queue of up to 10 random tickets, some held, pushed as the clock moves."""
    clock = ManualClock(1_000.0)
    q = TicketQueue(POLICIES[policy_name](), clock=clock)
    for ticket_id in data.draw(st.lists(st.sampled_from(IDS), unique=True, max_size=10), label="ids"):
        clock.advance(data.draw(st.sampled_from([0, 0, 1, 20])))
        q.push(data.draw(tickets(ticket_id, clock()), label="ticket"))
        if data.draw(st.booleans(), label="hold?"):
            q.hold(ticket_id, data.draw(st.sampled_from(AGENTS)), clock() + data.draw(st.sampled_from([1, 30, 60, 200])))
    return q, clock  # its last operation was at the clock's reading


def build_twice(data: st.DataObject, policy_name: str) -> tuple[TicketQueue, ManualClock, TicketQueue, ManualClock]:
    """Two equal queues from the same random draws."""
    draws: list[Any] = []

    class Replay:
        def draw(self, strategy: Any, label: Any = None) -> Any:
            value = data.draw(strategy, label=label)
            draws.append(value)
            return value

    class Again:
        def draw(self, strategy: Any, label: Any = None) -> Any:
            return draws.pop(0)

    a, clock_a = random_queue(Replay(), policy_name)  # type: ignore[arg-type]
    b, clock_b = random_queue(Again(), policy_name)  # type: ignore[arg-type]
    return a, clock_a, b, clock_b


later = st.sampled_from([0.5, 1, 30, 60, 61, 120, 300, 1_000])


@settings(max_examples=60, deadline=None)
@given(policy_name=policy_names, data=st.data(), waits=st.lists(later, min_size=1, max_size=4))
def test_reads_that_do_not_advance_change_nothing_and_report_the_last_operation(
    policy_name: str, data: st.DataObject, waits: list[float]
) -> None:
    """With advance=False, reads at later clock readings leave every internal
    structure as it was, and answer as the same queue would at the time of
    its last operation (as_of)."""
    a, clock_a, b, clock_b = build_twice(data, policy_name)
    seam = a.attach("desk")
    last_op = clock_a()
    seam.set_reads(False, as_of=lambda: last_op)
    every_read(a)  # warm the caches the reads keep (position index, eligibility memo)
    before = internal_dump(a)
    expected = every_read(b)  # b's clock stays at the last operation
    for wait in waits:
        clock_a.advance(wait)
        assert every_read(a) == expected
        assert internal_dump(a) == before
        a._check()
    # A write applies what fell due meanwhile, as it always did.
    seam.set_reads(True)
    clock_b.set(clock_a())
    assert every_read(a) == every_read(b)


@settings(max_examples=40, deadline=None)
@given(policy_name=policy_names, data=st.data(), waits=st.lists(later, min_size=1, max_size=4))
def test_reads_advance_by_default_as_they_always_did(policy_name: str, data: st.DataObject, waits: list[float]) -> None:
    """The default (and set_reads(True)) keeps today's behaviour: a read
    applies the changes due at the clock's reading, exactly like a queue
    with no seam."""
    a, clock_a, b, clock_b = build_twice(data, policy_name)
    seam = a.attach("desk")
    seam.set_reads(False)
    seam.set_reads(True, None)
    for wait in waits:
        clock_a.advance(wait)
        clock_b.advance(wait)
        assert every_read(a) == every_read(b)
        dump_a, dump_b = internal_dump(a), internal_dump(b)
        dump_a.pop("relaned"), dump_b.pop("relaned")
        assert dump_a == dump_b


def test_set_reads_validates_and_detach_restores_the_default() -> None:
    clock = ManualClock(0.0)
    q = TicketQueue(clock=clock)
    seam = q.attach("desk")
    with pytest.raises(InvalidArgument):
        seam.set_reads(0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        seam.set_reads(False, as_of=5.0)  # type: ignore[arg-type]
    q.push(Ticket("a", 0.0, sla_due=10.0))
    seam.set_reads(False)  # as_of None: windows at the clock's reading
    clock.set(20.0)
    assert [t.id for t in q.breached()] == ["a"]
    seam.set_reads(False, as_of=lambda: 5.0)
    assert q.breached() == [] and [t.id for t in q.due_within(5.0)] == ["a"]
    seam.detach()
    assert q._advance_reads is True and q._as_of is None


# -- export and load (snapshots) ------------------------------------------------------


def draw_op(data: st.DataObject, q: TicketQueue) -> tuple[Any, ...]:
    """One random operation on ``q`` (its arguments drawn once, so it can be
    applied to two queues)."""
    now = q.clock()
    queued = [t.id for t, _ in q._store.ordered()]
    kind = data.draw(st.sampled_from(["push", "push", "pop", "take_best", "update", "hold", "release", "advance", "remove"]))
    if kind == "push":
        return kind, data.draw(tickets(data.draw(st.sampled_from(IDS)), now))
    if kind in ("pop", "take_best"):
        skills = data.draw(st.one_of(st.none(), agent_skills.map(SkillSet.of)))
        return kind, skills, data.draw(channel_filters), data.draw(agents)
    if kind == "advance":
        return kind, data.draw(st.sampled_from([0.5, 1, 30, 60, 61, 120, 300]))
    if not queued:
        return ("noop",)
    ticket_id = data.draw(st.sampled_from(queued))
    if kind == "update":
        new = data.draw(tickets(ticket_id, now))
        return kind, ticket_id, {"severity": new.severity, "skills": new.skills, "preferred_skills": new.preferred_skills, "sla_due": new.sla_due}
    if kind == "hold":
        return kind, ticket_id, data.draw(st.sampled_from(AGENTS)), now + data.draw(st.sampled_from([-1, 1, 30, 60, 200]))
    return kind, ticket_id


def apply_op(q: TicketQueue, seam: DeskSeam, clock: ManualClock, op: tuple[Any, ...]) -> Any:
    kind = op[0]
    if kind == "push":
        return _call(q.push, op[1])
    if kind == "pop":
        return _call(lambda: q.pop(op[1], channels=op[2], agent=op[3]))
    if kind == "take_best":
        with q.lock:
            return _call(seam.take_best, op[1], op[2], op[3])
    if kind == "advance":
        clock.advance(op[1])
        return _call(seam.apply_due, clock())
    if kind == "update":
        return _call(lambda: q.update(op[1], **op[2]))
    if kind == "hold":
        return _call(q.hold, op[1], op[2], op[3])
    if kind == "release":
        return _call(q.release, op[1])
    if kind == "remove":
        return _call(q.remove, op[1])
    return None


def round_trip(q: TicketQueue, seam: DeskSeam, policy_name: str) -> tuple[TicketQueue, DeskSeam, ManualClock]:
    """Export ``q``, pass the records through JSON, load them into a fresh
    queue with the same policy, clock reading and reads mode."""
    import json

    text = json.dumps({"records": seam.export(), "next_seq": seam.next_seq}, allow_nan=False)
    data = json.loads(text)
    clock = ManualClock(q.clock())
    copy = TicketQueue(POLICIES[policy_name](), clock=clock)
    copy_seam = copy.attach("desk")
    copy_seam.load(data["records"], data["next_seq"])
    return copy, copy_seam, clock


@settings(max_examples=80, deadline=None)
@given(policy_name=policy_names, data=st.data())
def test_export_json_load_rebuilds_a_queue_that_behaves_identically(policy_name: str, data: st.DataObject) -> None:
    """Random queue -> export -> JSON -> load into a fresh queue: the same
    order, lanes, holds, schedule and sequence numbers, and the same answer
    to every operation of a random continuation."""
    clock = ManualClock(1_000.0)
    q = TicketQueue(POLICIES[policy_name](), clock=clock)
    seam = q.attach("desk")
    for _ in range(data.draw(st.integers(0, 25), label="before")):
        apply_op(q, seam, clock, draw_op(data, q))
    copy, copy_seam, copy_clock = round_trip(q, seam, policy_name)
    copy_seam.check()
    assert copy_seam.export() == seam.export()
    assert copy_seam.next_seq == seam.next_seq
    assert copy_seam.backlog() == seam.backlog()
    assert dict(copy._changes.items()) == dict(q._changes.items())
    assert copy._holds == q._holds
    for _ in range(data.draw(st.integers(1, 25), label="after")):
        op = draw_op(data, q)
        assert apply_op(copy, copy_seam, copy_clock, op) == apply_op(q, seam, clock, op)
        assert copy_seam.relaned() == seam.relaned()
        assert list(copy) == list(q)
        copy._check()
        assert copy_seam.export() == seam.export()
    assert copy_seam.new_sequence() == seam.new_sequence()


def test_load_never_calls_the_policy() -> None:
    from triage_queue import FunctionRule

    calls = []

    def counted(ticket: Ticket) -> float:
        calls.append(ticket.id)
        return ticket.created_at

    q = TicketQueue(Policy([FunctionRule("age", counted)]), clock=lambda: 0.0)
    seam = q.attach("desk")
    for i in range(5):
        q.push(Ticket(f"T-{i}", float(-i)))
    records, next_seq = seam.export(), seam.next_seq
    calls.clear()
    copy = TicketQueue(Policy([FunctionRule("age", counted)]), clock=lambda: 0.0)
    copy.attach("desk").load(records, next_seq)
    assert calls == []
    assert copy._store.ordered() == q._store.ordered()


def test_load_refuses_bad_data_and_a_non_empty_queue() -> None:
    q = TicketQueue(clock=lambda: 0.0)
    seam = q.attach("desk")
    q.push(Ticket("a", 0.0))
    q.hold("a", "ana", until=1e300)
    good = seam.export()
    fresh = TicketQueue(clock=lambda: 0.0)
    fresh_seam = fresh.attach("desk")
    with pytest.raises(InvalidArgument, match="next_seq"):
        fresh_seam.load(good, -1)
    for bad, why in [
        ([{**good[0], "seq": 5}], "seq"),
        ([good[0], good[0]], "twice"),
        ([{**good[0], "key": []}], "key"),
        ([{**good[0], "key": ["nan"]}], "key"),
        ([{**good[0], "ticket": {"id": "a"}}], "created_at"),
        ([{**good[0], "hold_until": None}], "hold_until"),
        ([{"seq": 0}], "ticket"),
    ]:
        with pytest.raises(InvalidArgument, match=why):
            fresh_seam.load(bad, 1)
        assert len(fresh) == 0 and not fresh._holds and not fresh._changes
    with pytest.raises(InvalidArgument, match="empty queue"):
        seam.load(good, 1)


def test_export_writes_infinite_numbers_as_strings() -> None:
    from triage_queue import FunctionRule

    q = TicketQueue(Policy([FunctionRule("inf", lambda t: float("inf"))]), clock=lambda: 0.0)
    seam = q.attach("desk")
    q.push(Ticket("a", 0.0))
    assert seam.export()[0]["key"] == ["-inf"]  # larger scores first: keys are negated
    copy = TicketQueue(Policy([FunctionRule("inf", lambda t: float("inf"))]), clock=lambda: 0.0)
    copy.attach("desk").load(seam.export(), 1)
    assert copy._store.priority("a") == (-float("inf"), 0)
