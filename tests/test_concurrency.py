"""Many threads on one Dispatcher (and on one TicketQueue): every ticket is
accounted for, capacity is never exceeded, agents only get what they
qualify for, and a waiting thread is woken only by an offer to its agent.

No assertion depends on wall-clock time: threads stop when every ticket is
accounted for; a generous deadline only turns a hang into a failure.
"""

from __future__ import annotations

import contextlib
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from triage_queue import (
    Agent,
    Dispatcher,
    Empty,
    Event,
    EventKind,
    ManualClock,
    MemoryStore,
    OfferClosed,
    Policy,
    Severity,
    SkillSet,
    Ticket,
    TicketQueue,
    UnknownTicket,
    rule,
)
from triage_queue.dispatch.desk import Desk

# A hang fails the test after this long instead of blocking the suite.
DEADLINE = 60.0


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads far more often than the default 5 ms, so that races
    in unlocked code show up within a short run."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def run_threads(targets: list[Callable[[], None]], stop: threading.Event) -> None:
    """Run every target in its own thread; re-raise the first exception."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:
                errors.append(exc)
                stop.set()

        return run

    threads = [threading.Thread(target=guarded(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    end = time.monotonic() + DEADLINE
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    alive = [t for t in threads if t.is_alive()]
    stop.set()
    if errors:
        raise errors[0]
    assert not alive, f"{len(alive)} thread(s) still running after {DEADLINE}s"


@rule("yields")
def yields(ticket: Ticket) -> float:
    """A rule that gives up the GIL while it scores (as one reading a table
    or a cache might): any unlocked section around scoring gets raced."""
    time.sleep(0)
    return 0.0


def yielding_policy() -> Policy:
    return Policy.lexicographic(*Policy.default().rules, yields)


def yielding_classify(ticket: Ticket) -> str:
    """A classify callback that gives up the GIL, for the same reason."""
    time.sleep(0)
    return ticket.severity.name.lower()


def checker(check: Callable[[], None], stop: threading.Event) -> Callable[[], None]:
    """A thread target that asserts every invariant over and over while the
    others work (each check is atomic: it holds the shared lock)."""

    def run() -> None:
        while not stop.is_set():
            check()
            time.sleep(0.005)

    return run


# -- the dispatcher under many threads ------------------------------------------------

SKILL_GROUPS = [
    SkillSet(),
    SkillSet({"billing": 1}),
    SkillSet({"api": 2}),
    SkillSet({"german": 1, "billing": 1}),
    SkillSet({"api": 1}),
]
CHANNELS = [None, "chat", "email", "phone"]
TIERS = [None, None, "silver", "gold"]
AGENTS = [
    Agent("a0", skills={"billing": 3, "german": 2}, capacity=2),
    Agent("a1", skills={"billing": 2}, capacity={"chat": 2, "*": 1}),
    Agent("a2", skills={"api": 3}, capacity=2),
    Agent("a3", skills={"api": 2, "billing": 1}, capacity={"chat": 1, "email": 1, "phone": 1}),
    Agent("a4", skills={"german": 1, "billing": 1, "api": 1}, capacity={"*": 1, "phone": 1}),
    Agent("a5", skills={"api": 3, "german": 3}, capacity=3),
    Agent("a6", skills={"billing": 1, "german": 1}, capacity={"email": 2, "*": 1}),
    Agent("a7", capacity=1),
]
PRODUCERS = 8
PER_PRODUCER = 250


def slot_for(agent: Agent, channel: str | None) -> str | None:
    if channel is not None and channel in agent.capacity:
        return channel
    return "*" if "*" in agent.capacity else None


def can_take(agent: Agent, ticket: Ticket) -> bool:
    slot = slot_for(agent, ticket.channel)
    return (
        slot is not None
        and agent.capacity[slot] > 0
        and all(agent.skills.get(name, 0) >= level for name, level in ticket.skills.items())
    )


def test_every_kind_of_ticket_has_two_agents() -> None:
    # So that the stress run always terminates, even after a decline.
    for skills in SKILL_GROUPS:
        for channel in CHANNELS:
            ticket = Ticket("probe", 0.0, skills=skills, channel=channel)
            assert sum(can_take(a, ticket) for a in AGENTS) >= 2, (dict(skills), channel)
    for agent in AGENTS:
        assert any(can_take(agent, Ticket("probe", 0.0, skills=s, channel=c)) for s in SKILL_GROUPS for c in CHANNELS)


class Ledger:
    """What the threads did, under one lock of its own."""

    def __init__(self, total: int) -> None:
        self.lock = threading.Lock()
        self.total = total
        self.stop = threading.Event()
        self.submitted: dict[str, Ticket] = {}
        self.ids: list[str] = []
        self.completed: list[tuple[str, str, Ticket]] = []  # (ticket id, agent id, final ticket)
        self.cancelled: list[tuple[str, Ticket]] = []
        self.offers: list[tuple[str, str]] = []  # (ticket id, agent id) as received
        self.declined: set[str] = set()
        self.escalated: set[str] = set()
        self.follow_ups: Counter[str] = Counter()
        self.lost_to_cancel: list[str] = []  # accept/complete refused because it was cancelled

    def account(self) -> None:
        if len(self.completed) + len(self.cancelled) >= self.total:
            self.stop.set()


def test_dispatcher_stress(fast_switching: None) -> None:
    total = PRODUCERS * PER_PRODUCER
    d = Dispatcher(
        TicketQueue(yielding_policy(), clock=time.time),
        AGENTS,
        offer_timeout=None,
        retry_after=None,
        affinity_wait=0,
        classify=yielding_classify,
    )
    ledger = Ledger(total)
    events: list[Event] = []
    d.subscribe(events.append)

    def producer(n: int) -> Callable[[], None]:
        def run() -> None:
            rng = random.Random(f"producer-{n}")
            for k in range(PER_PRODUCER):
                if ledger.stop.is_set():
                    return
                ticket = Ticket(
                    f"p{n}-{k}",
                    time.time(),
                    severity=rng.choice(list(Severity)),
                    customer_tier=rng.choice(TIERS),
                    complexity=rng.randint(1, 5),
                    skills=rng.choice(SKILL_GROUPS),
                    channel=rng.choice(CHANNELS),
                )
                with ledger.lock:
                    ledger.submitted[ticket.id] = ticket
                offer = d.submit(ticket)
                assert offer is None or offer.ticket.id == ticket.id
                with ledger.lock:
                    ledger.ids.append(ticket.id)
                if k % 16 == 0:
                    time.sleep(0.0005)

        return run

    def agent_loop(agent: Agent) -> Callable[[], None]:
        def run() -> None:
            rng = random.Random(f"agent-{agent.id}")
            held: list[str] = []
            passed: set[str] = set()
            while not ledger.stop.is_set():
                offer = d.wait_for_ticket(agent.id, timeout=0.02)
                if offer is not None:
                    assert offer.agent_id == agent.id
                    tid = offer.ticket.id
                    assert tid not in passed, f"{agent.id} offered {tid} again after declining it"
                    if rng.random() < 0.3:
                        time.sleep(0.0005)  # read the ticket before answering: updates and cancels race in
                    with ledger.lock:
                        ledger.offers.append((tid, agent.id))
                        decline = tid not in ledger.declined and rng.random() < 0.1
                        if decline:
                            ledger.declined.add(tid)
                    try:
                        if decline:
                            passed.add(tid)
                            d.decline(offer, "busy")
                            continue
                        d.accept(offer)
                    except OfferClosed as exc:  # revoked: cancelled meanwhile
                        assert exc.status == "revoked"
                        with ledger.lock:
                            ledger.lost_to_cancel.append(tid)
                        continue
                    held.append(tid)
                if held:
                    time.sleep(0.001)  # work on it, outside the lock; a backlog builds up
                # Finish some of the work in hand (all of it when idle).
                while held and (offer is None or rng.random() < 0.4):
                    tid = held.pop(rng.randrange(len(held)))
                    try:
                        ticket = d.complete(tid, agent.id)
                    except UnknownTicket:  # cancelled while assigned
                        with ledger.lock:
                            ledger.lost_to_cancel.append(tid)
                        continue
                    with ledger.lock:
                        ledger.completed.append((tid, agent.id, ticket))
                        ledger.account()
            assert not held, f"{agent.id} stopped holding {held}"

        return run

    def updater(n: int) -> Callable[[], None]:
        def run() -> None:
            rng = random.Random(f"updater-{n}")
            while not ledger.stop.is_set():
                with ledger.lock:
                    tid = rng.choice(ledger.ids) if ledger.ids else None
                if tid is None:
                    time.sleep(0.001)
                    continue
                roll = rng.random()
                try:
                    if roll < 0.4:
                        d.update(tid, severity="critical")
                        with ledger.lock:
                            ledger.escalated.add(tid)
                    elif roll < 0.8:
                        # Read and update as one atomic step, so follow-ups add up.
                        with d.lock:
                            current = d.queue.get(tid)
                            if current is None:
                                track = d._desk.res.tracks.get(tid)
                                if track is None:
                                    raise UnknownTicket(tid)
                                current = track.ticket
                            d.update(tid, contacts=current.contacts + 1)
                            with ledger.lock:
                                ledger.follow_ups[tid] += 1
                    elif int(tid.rsplit("-", 1)[1]) % 5 == 3:  # about 1 ticket in 5 may be cancelled
                        ticket = d.cancel(tid)
                        with ledger.lock:
                            ledger.cancelled.append((tid, ticket))
                            ledger.account()
                except UnknownTicket:
                    pass  # completed or cancelled already
                time.sleep(0.0002)

        return run

    targets = [producer(n) for n in range(PRODUCERS)]
    targets += [agent_loop(a) for a in AGENTS]
    targets += [updater(n) for n in range(3)]
    targets.append(checker(d._check, ledger.stop))
    run_threads(targets, ledger.stop)

    # -- every ticket accounted for, once ---------------------------------------------
    completed = Counter(tid for tid, _, _ in ledger.completed)
    cancelled = Counter(tid for tid, _ in ledger.cancelled)
    assert len(ledger.submitted) == total
    assert not [t for t, n in completed.items() if n > 1], "completed twice"
    assert not [t for t, n in cancelled.items() if n > 1], "cancelled twice"
    assert not set(completed) & set(cancelled), "both completed and cancelled"
    assert set(completed) | set(cancelled) == set(ledger.submitted), "tickets lost"
    assert set(ledger.lost_to_cancel) <= set(cancelled)
    assert len(cancelled) > 0 and len(completed) > total // 2

    # The final value of each ticket carries every change made to it.
    finals = {tid: t for tid, _, t in ledger.completed} | {tid: t for tid, t in ledger.cancelled}
    for tid, final in finals.items():
        original = ledger.submitted[tid]
        assert final.contacts == 1 + ledger.follow_ups[tid], f"{tid}: follow-ups lost"
        expected = Severity.CRITICAL if tid in ledger.escalated else original.severity
        assert final.severity is expected, f"{tid}: escalation lost"
        assert (final.skills, final.channel, final.created_at) == (original.skills, original.channel, original.created_at)

    # -- agents only got what they may take ---------------------------------------------
    by_id = {a.id: a for a in AGENTS}
    for tid, agent_id in ledger.offers:
        assert can_take(by_id[agent_id], ledger.submitted[tid]), f"{agent_id} was offered {tid}"
    for tid, agent_id, _ in ledger.completed:
        assert can_take(by_id[agent_id], ledger.submitted[tid])

    # -- the audit trail: complete, and capacity never exceeded ----------------------------
    replay_events(events, ledger.submitted, by_id)
    seen = Counter((e.ticket_id, e.kind) for e in events)
    for tid in ledger.submitted:
        assert seen[(tid, EventKind.SUBMITTED)] == 1
        assert seen[(tid, EventKind.COMPLETED)] == completed[tid]
        assert seen[(tid, EventKind.CANCELLED)] == cancelled[tid]
    assert sum(1 for e in events if e.kind is EventKind.OFFERED) >= len(ledger.offers)

    # -- nothing left behind ----------------------------------------------------------------
    d._check()
    assert len(d.queue) == 0
    assert not d._desk.res.tracks and not d._desk.res.pending
    assert not d._desk.res.passed, "passes outlive their tickets"
    for agent in AGENTS:
        assert d.roster.state(agent.id).total_load == 0
    stats = d.stats()
    assert stats.overall.waiting == 0


def replay_events(events: list[Event], tickets: dict[str, Ticket], agents: dict[str, Agent]) -> None:
    """Replay the audit trail in sequence order: no event missing, every
    offer to a qualified agent with room, no ticket held twice."""
    ordered = sorted(events, key=lambda e: e.seq)
    seqs = [e.seq for e in ordered]
    assert len(set(seqs)) == len(seqs), "two events share a sequence number"
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "events missing from the trail"
    load: Counter[tuple[str, str]] = Counter()
    holder: dict[str, tuple[str, str]] = {}  # ticket id -> (agent id, slot)
    accepted: set[str] = set()
    passed: set[tuple[str, str]] = set()  # (ticket id, agent id): declined (retry_after=None)
    revoked_for_cancel: dict[str, str] = {}  # ticket id -> agent whose offer a cancellation revoked
    for e in ordered:
        tid = e.ticket_id
        if e.kind is EventKind.OFFERED:
            assert tid is not None and e.agent_id is not None
            assert tid not in holder, f"#{e.seq}: {tid} offered while already out"
            assert (tid, e.agent_id) not in passed, f"#{e.seq}: {tid} offered again to {e.agent_id}, who declined it"
            agent = agents[e.agent_id]
            assert can_take(agent, tickets[tid]), f"#{e.seq}: {e.agent_id} cannot take {tid}"
            slot = slot_for(agent, tickets[tid].channel)
            assert slot is not None
            load[(e.agent_id, slot)] += 1
            assert load[(e.agent_id, slot)] <= agent.capacity[slot], f"#{e.seq}: {e.agent_id} over capacity on {slot}"
            holder[tid] = (e.agent_id, slot)
        elif e.kind is EventKind.ACCEPTED:
            assert holder.get(tid, ("",))[0] == e.agent_id, f"#{e.seq}: accepted by {e.agent_id}, not its holder"
            assert tid not in accepted
            accepted.add(tid)  # type: ignore[arg-type]
        elif e.kind in (EventKind.DECLINED, EventKind.EXPIRED, EventKind.REVOKED):
            assert tid not in accepted
            agent_id, slot = holder.pop(tid)  # type: ignore[arg-type]
            assert agent_id == e.agent_id
            load[(agent_id, slot)] -= 1
            if e.kind is not EventKind.REVOKED:
                passed.add((tid, agent_id))  # type: ignore[arg-type]
            elif e.detail == "ticket cancelled":
                revoked_for_cancel[tid] = agent_id  # type: ignore[index]
        elif e.kind is EventKind.COMPLETED:
            assert tid in accepted, f"#{e.seq}: {tid} completed without being accepted"
            agent_id, slot = holder.pop(tid)  # type: ignore[arg-type]
            assert agent_id == e.agent_id
            load[(agent_id, slot)] -= 1
            accepted.discard(tid)  # type: ignore[arg-type]
        elif e.kind is EventKind.CANCELLED:
            out = holder.pop(tid, None)  # type: ignore[arg-type]
            if out is None:
                # Waiting, or offered: then its offer was revoked just before.
                assert e.agent_id is None or revoked_for_cancel.pop(tid, None) == e.agent_id
            else:
                assert e.agent_id == out[0]
                load[out] -= 1
            accepted.discard(tid)  # type: ignore[arg-type]
    assert not holder, f"still out at the end: {sorted(holder)[:5]}"
    assert all(v == 0 for v in load.values())


def test_changes_survive_every_hand_over() -> None:
    # The interleavings the stress test races through, one at a time: a
    # change made while a ticket is offered, assigned or waiting survives
    # every way it changes hands.
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana"), Agent("bo")], offer_timeout=30, retry_after=None)
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.agent_id == "ana"
    d.update("T-1", contacts=2)  # offered
    d.decline(offer)  # back to its place, on to bo
    (offer,) = d.offers_for("bo")
    assert offer.ticket.contacts == 2
    d.update("T-1", severity="high")  # offered to bo
    clock.advance(30)
    d.tick()  # expired: both passed, so it waits
    assert d.status("T-1") == "waiting"
    assert (d.queue["T-1"].contacts, d.queue["T-1"].severity) == (2, Severity.HIGH)
    d.update("T-1", contacts=3)  # waiting
    d.add_agent(Agent("cy"))
    (offer,) = d.offers_for("cy")
    d.update("T-1", customer_tier="gold")  # offered to cy
    d.set_status("cy", "away")  # revoked: waits again
    ticket = d.queue["T-1"]
    assert (ticket.contacts, ticket.severity, ticket.customer_tier) == (3, Severity.HIGH, "gold")
    d.set_status("cy", "available")
    (offer,) = d.offers_for("cy")
    assert d.accept(offer).customer_tier == "gold"
    d.update("T-1", contacts=4)  # assigned
    d.transfer("T-1", "cy", complexity=3)  # back to the queue, on to another agent
    assert d.status("T-1") == "offered"
    holder = d.explain_assignment("T-1").agent_id
    assert holder in {"ana", "bo"}
    (offer,) = d.offers_for(holder)
    d.update("T-1", contacts=5)
    d.accept(offer)
    final = d.complete("T-1", holder)
    assert (final.contacts, final.severity, final.customer_tier, final.complexity) == (5, Severity.HIGH, "gold", 3)
    d._check()


@pytest.mark.parametrize("how", ["complete", "cancel_assigned", "cancel_offered", "decline", "transfer", "away"])
def test_freed_capacity_is_offered_at_once(how: str) -> None:
    # However an agent's capacity frees up, the next waiting ticket is
    # offered at once (the stress test's live _check races through these).
    d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana")], offer_timeout=None, retry_after=None)
    first = d.submit(Ticket("T-1", 0.0))
    assert first is not None
    assert d.submit(Ticket("T-2", 1.0)) is None
    if how in ("complete", "cancel_assigned", "transfer"):
        d.accept(first)
    if how == "complete":
        d.complete("T-1", "ana")
    elif how in ("cancel_assigned", "cancel_offered"):
        d.cancel("T-1")
    elif how == "decline":
        d.decline(first)
    elif how == "transfer":
        d.transfer("T-1", "ana", severity="high")
    else:
        d.set_status("ana", "away")
        assert d.status("T-1") == "waiting" and d.status("T-2") == "waiting"
        d.set_status("ana", "available")
        assert d.offers_for("ana")[0].ticket.id == "T-1"
        d._check()
        return
    assert d.status("T-2") == "offered"
    assert [o.ticket.id for o in d.offers_for("ana")] == ["T-2"]
    d._check()


def test_cancel_of_an_offered_ticket_forgets_who_passed() -> None:
    # Cancelling an offered ticket forgets who declined it: a reopened
    # ticket of that id is offered to them, and no pass leaks.
    d = Dispatcher(TicketQueue(clock=ManualClock(0.0)), [Agent("ana"), Agent("bo")], offer_timeout=None, retry_after=None)
    offer = d.submit(Ticket("T-1", 0.0))
    assert offer is not None and offer.agent_id == "ana"
    d.decline(offer)  # on to bo
    d.cancel("T-1")  # withdrawn while offered to bo
    d.set_status("bo", "away")
    assert not d._desk.res.passed
    offer = d.submit(Ticket("T-1", 0.0))  # the same id again (a reopened ticket): ana is free
    assert offer is not None and offer.agent_id == "ana"


# -- the queue alone under many threads -------------------------------------------------------


def test_ticket_queue_stress(fast_switching: None) -> None:
    q = TicketQueue(yielding_policy(), clock=time.time)
    workers, per_worker = 8, 300
    lock = threading.Lock()
    pushed: dict[str, Ticket] = {}
    ids: list[str] = []
    popped: list[Ticket] = []
    removed: list[Ticket] = []
    follow_ups: Counter[str] = Counter()
    stop = threading.Event()

    def worker(n: int) -> Callable[[], None]:
        def run() -> None:
            rng = random.Random(f"queue-{n}")
            made = 0
            while made < per_worker or rng.random() < 0.3:
                roll = rng.random()
                if roll < 0.35 and made < per_worker:
                    preferred = rng.choice([None, None, {"api": 3}, {"german": 2}])
                    ticket = Ticket(
                        f"w{n}-{made}",
                        time.time(),
                        severity=rng.choice(list(Severity)),
                        customer_tier=rng.choice(TIERS),
                        skills=rng.choice(SKILL_GROUPS),
                        channel=rng.choice(CHANNELS),
                        preferred_skills=preferred,
                        relax_after=None if preferred is None else rng.choice([0.0, 0.001, 0.01]),
                    )
                    made += 1
                    with lock:
                        pushed[ticket.id] = ticket
                        ids.append(ticket.id)
                    q.push(ticket)
                    continue
                with lock:
                    tid = rng.choice(ids) if ids else None
                try:
                    if roll < 0.55:
                        skills = rng.choice([None, {"billing": 3, "german": 2}, {"api": 3}, {"api": 1, "billing": 1}])
                        channels = rng.choice([None, {"chat", None}, {"email", "phone"}])
                        agent = rng.choice([None, f"agent-{n}"])  # an agent also gets what is held for it
                        ticket = q.pop(skills, channels=channels, agent=agent)
                        if skills is not None:
                            assert ticket.skills.satisfied_by(skills)
                        if channels is not None:
                            assert ticket.channel in channels
                        with lock:
                            popped.append(ticket)
                    elif roll < 0.65 and tid is not None:
                        with q.lock:  # read and update as one step, so follow-ups add up
                            ticket = q[tid]
                            q.update(tid, contacts=ticket.contacts + 1)
                            with lock:
                                follow_ups[tid] += 1
                    elif roll < 0.75 and tid is not None:
                        q.update(tid, severity=rng.choice(list(Severity)), customer_tier=rng.choice(TIERS))
                    elif roll < 0.85 and tid is not None:
                        ticket = q.remove(tid)
                        with lock:
                            removed.append(ticket)
                    elif roll < 0.95 and tid is not None:
                        q.hold(tid, f"agent-{n}", until=time.time() + 0.002)
                    elif tid is not None:
                        q.position(tid)
                        q.explain(tid)
                except (UnknownTicket, Empty):
                    pass

        return run

    def workers_then_stop(n: int) -> Callable[[], None]:
        def run() -> None:
            worker(n)()
            with lock:
                finished.append(n)
                if len(finished) == workers:
                    stop.set()  # the checker's signal; run_threads also sets it on an error

        return run

    def locked_check() -> None:
        with q.lock:
            q._check()

    finished: list[int] = []
    run_threads([*(workers_then_stop(n) for n in range(workers)), checker(locked_check, stop)], stop)
    q._check()
    remaining = list(q)
    assert len(remaining) == len(q)
    out = Counter(t.id for t in [*popped, *removed, *remaining])
    assert not [t for t, n in out.items() if n > 1], "a ticket left twice"
    assert set(out) == set(pushed), "tickets lost"
    assert len(pushed) == workers * per_worker
    for ticket in [*popped, *removed, *remaining]:
        assert ticket.contacts == 1 + follow_ups[ticket.id], f"{ticket.id}: follow-ups lost"
        original = pushed[ticket.id]
        assert (ticket.skills, ticket.channel, ticket.created_at) == (original.skills, original.channel, original.created_at)
    # Drain what is left (held tickets too, once their short holds end).
    drained = []
    end = time.monotonic() + DEADLINE
    while q:
        try:
            drained.append(q.pop())
        except Empty:
            assert time.monotonic() < end, "held tickets never released"
            time.sleep(0.001)
    assert Counter(t.id for t in drained) == Counter(t.id for t in remaining)
    q._check()


# -- every operation holds the one lock --------------------------------------------------------


class LockCheckingStore(MemoryStore):
    """A MemoryStore that asserts its queue's lock is held by the calling
    thread whenever the order is read or changed (plain lookups by id are
    lock-free on purpose)."""

    lock: Any = None
    calls: Counter[str]

    def _owned(self, name: str) -> None:
        assert self.lock is not None and self.lock._is_owned(), f"store.{name} called without the queue's lock"
        self.calls[name] += 1

    def insert(self, *args: Any) -> Any:
        self._owned("insert")
        return super().insert(*args)

    def insert_plain(self, *args: Any) -> Any:
        self._owned("insert_plain")
        return super().insert_plain(*args)

    def insert_new(self, *args: Any) -> Any:
        self._owned("insert_new")
        return super().insert_new(*args)

    def pop_best(self, *args: Any, **kwargs: Any) -> Any:
        self._owned("pop_best")
        return super().pop_best(*args, **kwargs)

    def ordered_tickets(self, *args: Any) -> Any:
        self._owned("ordered_tickets")
        return super().ordered_tickets(*args)

    def bulk_load_entries(self, *args: Any) -> Any:
        self._owned("bulk_load_entries")
        return super().bulk_load_entries(*args)

    def replace(self, *args: Any) -> Any:
        self._owned("replace")
        return super().replace(*args)

    def delete(self, *args: Any) -> Any:
        self._owned("delete")
        return super().delete(*args)

    def first(self, *args: Any) -> Any:
        self._owned("first")
        return super().first(*args)

    def pop_first(self, *args: Any) -> Any:
        self._owned("pop_first")
        return super().pop_first(*args)

    def rank(self, *args: Any) -> Any:
        self._owned("rank")
        return super().rank(*args)

    def deadlines(self, *args: Any) -> Any:
        self._owned("deadlines")
        return super().deadlines(*args)

    def ordered(self) -> Any:
        self._owned("ordered")
        return super().ordered()


class LockCheckedDispatcher(Dispatcher):
    """A Dispatcher whose attributes may only be rebound by a thread that
    holds its lock (installed on a built dispatcher by swapping its class)."""

    def __setattr__(self, name: str, value: Any) -> None:
        assert self._lock._is_owned(), f"dispatcher.{name} rebound without the lock"  # type: ignore[attr-defined]
        super().__setattr__(name, value)


class LockCheckedDesk(Desk):
    """The same for the dispatcher's routing core (its counters, paused...)."""

    def __setattr__(self, name: str, value: Any) -> None:
        assert self.lock._is_owned(), f"desk.{name} rebound without the lock"  # type: ignore[attr-defined]
        super().__setattr__(name, value)


def checked_queue(clock: Any) -> tuple[TicketQueue, LockCheckingStore]:
    store = LockCheckingStore()
    store.calls = Counter()
    q = TicketQueue(clock=clock, store=store)
    store.lock = q.lock
    return q, store


def test_every_queue_operation_holds_the_lock() -> None:
    clock = ManualClock(100.0)
    q, store = checked_queue(clock)
    q.push(Ticket("T-1", 0.0, skills={"api": 1}, sla_due=150.0))
    q.push(Ticket("T-2", 10.0, preferred_skills={"api": 3}, relax_after=5))
    q.push(Ticket("T-3", 20.0, severity="high"))
    q.update("T-1", contacts=2)
    q.hold("T-3", "ana", until=120.0)
    assert q.holder("T-3") == "ana"
    q.release("T-3")
    q.hold("T-3", "ana", until=120.0)
    q.peek()
    q.peek(skills={"api": 1}, channels={None}, agent="ana")
    q.position("T-1")
    q.explain("T-2")
    q.due_within(100)
    q.breached()
    list(q)
    clock.advance(30)  # the hold ends, preferred skills relax
    assert q.pop(skills={"api": 1}).id == "T-1"
    q.remove("T-2")
    q.pop(agent="bo")
    q.push(Ticket("T-4", 30.0))
    assert q.pop().id == "T-4"  # the unfiltered pop's fast path
    assert len(q) == 0
    assert set(store.calls) == {
        "insert", "insert_plain", "insert_new", "replace", "delete", "first", "pop_first", "pop_best", "rank",
        "deadlines", "ordered_tickets",
    }  # fmt: skip


def test_every_dispatcher_operation_holds_the_lock() -> None:
    clock = ManualClock(0.0)
    q, store = checked_queue(clock)
    d = Dispatcher(
        q,
        [Agent("ana", capacity=2), Agent("bo", skills={"api": 2}), Agent("cy", status="away")],
        offer_timeout=30,
        retry_after=60,
        sla_warning=10,
    )
    calls: Counter[str] = Counter()
    # Every attribute the dispatcher rebinds (its outbox, counters...) is
    # rebound under the lock.
    d.__class__ = LockCheckedDispatcher
    desk = d._desk
    desk.__class__ = LockCheckedDesk
    for name in ("advance", "emit", "_offer", "_untrack", "_give_back", "_route", "_fill", "deliver"):
        original = getattr(desk, name)

        def guarded(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            assert d.lock._is_owned(), f"{_name} called without the lock"  # type: ignore[attr-defined]
            calls[_name] += 1
            return _original(*args, **kwargs)

        object.__setattr__(desk, name, guarded)

    events: list[Event] = []
    d.subscribe(events.append)
    o1 = d.submit(Ticket("T-1", 0.0, sla_due=100.0, customer_id="acme"))
    o2 = d.submit(Ticket("T-2", 0.0, skills={"api": 1}))
    assert o1 is not None and o2 is not None
    d.update("T-1", contacts=2)
    d.accept(o1)
    d.decline(o2, "busy")
    d.submit(Ticket("T-3", 1.0))
    d.submit(Ticket("T-4", 2.0))
    assert d.next_for("ana") is not None
    d.offers_for("ana")
    d.complete("T-1", "ana")
    offer = d.next_for("ana") or d.offers_for("ana")[0]
    d.accept(offer)
    d.transfer(offer.ticket.id, skills={"api": 1})
    d.cancel("T-2")
    d.set_status("cy", "available")
    d.update_agent("cy", skills={"api": 3})
    d.add_agent(Agent("dee"))
    d.set_status("dee", "away")
    d.remove_agent("dee")
    with d.paused():
        d.submit(Ticket("T-5", 3.0, customer_id="acme"))
    d.assign_all()
    d.wait_for_ticket("ana", timeout=0)
    clock.advance(100)
    d.tick()
    d.stats()
    for tid in ("T-1", "T-3", "T-4", "T-5"):
        with contextlib.suppress(UnknownTicket):
            d.explain_assignment(tid)
            d.status(tid)
    d.assigned("ana")
    d._check()
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + len(events)))
    assert {"advance", "emit", "_offer", "_untrack", "_give_back", "_route", "_fill", "deliver"} <= set(calls)
    assert store.calls["pop_first"] and store.calls["delete"] and store.calls["insert"]


# -- waking only the agent who gets the offer ------------------------------------------------


class Waiter:
    """A thread blocked in wait_for_ticket, counting its passes."""

    def __init__(self, d: Dispatcher, agent_id: str, timeout: float | None) -> None:
        self.result: Any = "not returned"
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, args=(d, agent_id, timeout), daemon=True)

    def run(self, d: Dispatcher, agent_id: str, timeout: float | None) -> None:
        try:
            self.result = d.wait_for_ticket(agent_id, timeout=timeout)
        except BaseException as exc:
            self.error = exc


def counting_deliveries(d: Dispatcher) -> Counter[str]:
    """Count every look at an agent's inbox (each pass of wait_for_ticket)."""
    calls: Counter[str] = Counter()
    deliver = d._desk.deliver

    def counted(agent_id: str) -> Any:
        calls[agent_id] += 1
        return deliver(agent_id)

    d._desk.deliver = counted  # type: ignore[method-assign]
    return calls


def wait_until_sleeping(d: Dispatcher, agent_id: str, waiters: int = 1) -> None:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        with d.lock:
            condition = d._waiters.conditions.get(agent_id)
            if condition is not None and len(condition._waiters) == waiters:  # type: ignore[attr-defined]
                return
        time.sleep(0.001)
    raise AssertionError(f"{agent_id} never waited")


def test_wait_for_ticket_wakes_only_the_agent_offered() -> None:
    d = Dispatcher(
        TicketQueue(clock=time.time),
        [Agent("bil", skills={"billing": 2}), Agent("api", skills={"api": 2})],
        offer_timeout=None,
    )
    calls = counting_deliveries(d)
    api = Waiter(d, "api", timeout=None)
    bil = Waiter(d, "bil", timeout=None)
    api.thread.start()
    bil.thread.start()
    wait_until_sleeping(d, "api")
    wait_until_sleeping(d, "bil")
    assert calls == {"api": 1, "bil": 1}

    with d.lock:  # submit and look at who was notified as one step
        offer = d.submit(Ticket("T-1", time.time(), skills={"billing": 1}))
        assert offer is not None and offer.agent_id == "bil"
        # Notified at once (CPython's Condition drops a waiter it notifies),
        # and only that agent's thread.
        assert len(d._waiters.conditions["bil"]._waiters) == 0, "the agent offered was not notified"  # type: ignore[attr-defined]
        assert len(d._waiters.conditions["api"]._waiters) == 1, "another agent's thread was notified"  # type: ignore[attr-defined]
    bil.thread.join(DEADLINE)
    assert not bil.thread.is_alive(), "the agent offered was not woken"
    assert bil.error is None and bil.result == offer
    assert calls["bil"] == 2

    # The other agent was never woken: still asleep, after one look only.
    assert api.thread.is_alive()
    assert calls["api"] == 1
    wait_until_sleeping(d, "api")

    offer = d.submit(Ticket("T-2", time.time(), skills={"api": 1}))
    assert offer is not None and offer.agent_id == "api"
    api.thread.join(DEADLINE)
    assert not api.thread.is_alive()
    assert api.error is None and api.result == offer
    assert calls["api"] == 2
    d._check()


def test_wait_for_ticket_returns_none_on_timeout_without_spurious_wakes() -> None:
    d = Dispatcher(TicketQueue(clock=time.time), [Agent("bil", skills={"billing": 2}), Agent("api", skills={"api": 2})])
    calls = counting_deliveries(d)
    api = Waiter(d, "api", timeout=0.3)
    api.thread.start()
    wait_until_sleeping(d, "api")
    # Offers to another agent, and tickets the agent cannot take, do not wake it.
    for i in range(5):
        d.submit(Ticket(f"B-{i}", time.time(), skills={"billing": 1}))
    api.thread.join(DEADLINE)
    assert api.error is None
    assert api.result is None
    assert calls["api"] == 2  # the first look, and the one after the timeout
    assert d.status("B-0") == "offered" and d.status("B-1") == "waiting"

    assert d.wait_for_ticket("api", timeout=0) is None
    assert d.wait_for_ticket("api", timeout=0.01) is None
    offer = d.wait_for_ticket("bil", timeout=0)
    assert offer is not None and offer.ticket.id == "B-0"


def test_wait_for_ticket_several_threads_one_agent() -> None:
    # Three threads wait for one agent with capacity 3: three offers wake
    # them, each gets a distinct offer.
    d = Dispatcher(TicketQueue(clock=time.time), [Agent("ana", capacity=3)], offer_timeout=None)
    waiters = [Waiter(d, "ana", timeout=None) for _ in range(3)]
    for w in waiters:
        w.thread.start()
    wait_until_sleeping(d, "ana", waiters=3)
    offers = [d.submit(Ticket(f"T-{i}", time.time())) for i in range(3)]
    for w in waiters:
        w.thread.join(DEADLINE)
        assert not w.thread.is_alive() and w.error is None
    got = sorted(w.result.ticket.id for w in waiters)
    assert got == ["T-0", "T-1", "T-2"]
    assert {o.agent_id for o in offers if o is not None} == {"ana"}


def test_concurrent_answers_to_one_offer(fast_switching: None) -> None:
    # Threads race to accept, decline and cancel the same offer: at most one
    # of accept and decline wins, cancel at most once, and something wins.
    d = Dispatcher(TicketQueue(clock=time.time), [Agent("ana"), Agent("bo")], offer_timeout=None, retry_after=0)
    lock = threading.Lock()
    for round_ in range(100):
        offer = d.submit(Ticket(f"T-{round_}", time.time()))
        assert offer is not None
        barrier = threading.Barrier(6)
        outcomes: Counter[str] = Counter()

        def answer(
            kind: str, offer: Any = offer, barrier: threading.Barrier = barrier, outcomes: Counter[str] = outcomes
        ) -> None:
            barrier.wait()
            try:
                if kind == "accept":
                    d.accept(offer)
                elif kind == "decline":
                    d.decline(offer)
                else:
                    d.cancel(offer.ticket.id)
            except (OfferClosed, UnknownTicket):
                return
            with lock:
                outcomes[kind] += 1

        kinds = ["accept", "accept", "decline", "decline", "cancel", "cancel"]
        run_threads([lambda k=k: answer(k) for k in kinds], threading.Event())
        assert outcomes["accept"] + outcomes["decline"] <= 1, outcomes
        assert outcomes["cancel"] <= 1, outcomes
        assert outcomes["accept"] + outcomes["decline"] or outcomes["cancel"], outcomes
        tid = offer.ticket.id
        try:
            status = d.status(tid)
        except UnknownTicket:
            assert outcomes["cancel"] == 1
            status = "gone"
        if status == "assigned":
            d.complete(tid)
        elif status != "gone":
            d.cancel(tid)
        d._check()
    assert not d._desk.res.tracks and len(d.queue) == 0
