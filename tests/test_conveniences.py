"""Conveniences for helpdesk code: d.ticket(id), a bounded memory of finished
tickets (a retried call says "already completed"), d.follow_up(id), and
d.status(id) as a TicketStatus enum; the same on AsyncDispatcher."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage_queue import (
    Agent,
    AlreadyFinished,
    AsyncDispatcher,
    Dispatcher,
    DuplicateTicket,
    FeedbackOrder,
    InvalidArgument,
    InvalidTicket,
    ManualClock,
    NotAssigned,
    Policy,
    Ticket,
    TicketQueue,
    TicketStatus,
    TriageError,
    UnknownTicket,
)
from triage_queue.ticket import MAX_CONTACTS


def desk(agents: list[Agent] | None = None, **options: Any) -> tuple[Dispatcher, ManualClock]:
    clock = ManualClock(0.0)
    d = Dispatcher(TicketQueue(clock=clock), agents if agents is not None else [Agent("ana")], offer_timeout=None, **options)
    return d, clock


# -- ticket() and status() ----------------------------------------------------------


def test_ticket_gives_the_latest_value_wherever_the_ticket_is() -> None:
    """Waiting, offered and assigned tickets are all found, with their latest value."""
    d, _ = desk([Agent("ana")])
    d.accept(d.submit(Ticket("assigned", 0.0)))  # type: ignore[arg-type]
    d.set_status("ana", "away")
    d.submit(Ticket("waiting", 1.0))
    d.update("waiting", severity="high")
    assert d.ticket("waiting").severity.name == "HIGH"
    assert d.ticket("assigned").id == "assigned"
    d.update("assigned", contacts=4)
    assert d.ticket("assigned").contacts == 4
    d.set_status("ana", "available")
    d.complete("assigned")
    assert d.status("waiting") == TicketStatus.OFFERED
    assert d.ticket("waiting").severity.name == "HIGH"
    with pytest.raises(UnknownTicket):
        d.ticket("never")


def test_status_is_a_str_enum_that_compares_with_the_old_strings() -> None:
    """status() returns a TicketStatus equal to "waiting", "offered", "assigned"."""
    d, _ = desk([Agent("ana")])
    d.submit(Ticket("T-1", 0.0))
    d.submit(Ticket("T-2", 0.0))
    status = d.status("T-1")
    assert isinstance(status, TicketStatus) and isinstance(status, str)
    assert status == "offered" and status is TicketStatus.OFFERED
    assert d.status("T-2") == "waiting"
    d.accept(d.offers_for("ana")[0])
    assert d.status("T-1") == "assigned"
    assert json.dumps({"status": d.status("T-1")}) == '{"status": "assigned"}'
    assert [s.value for s in TicketStatus] == ["waiting", "offered", "assigned", "completed", "cancelled"]


# -- the memory of finished tickets -------------------------------------------------


def test_a_retried_complete_says_already_completed() -> None:
    """The second complete raises AlreadyFinished ("already completed"), an
    UnknownTicket, so old handlers still catch it; nothing changes."""
    d, clock = desk([Agent("ana")])
    d.accept(d.submit(Ticket("T-1", 0.0)))  # type: ignore[arg-type]
    clock.set(12.0)
    d.complete("T-1")
    before = d.snapshot()
    with pytest.raises(AlreadyFinished) as info:
        d.complete("T-1")
    assert str(info.value) == "ticket 'T-1' was already completed (at 12)"
    assert (info.value.status, info.value.at, info.value.key) == ("completed", 12.0, "T-1")
    assert isinstance(info.value, UnknownTicket)
    assert d.snapshot() == before
    assert TriageError.from_dict(info.value.to_dict()).to_dict() == info.value.to_dict()


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.complete("T-1"),
        lambda d: d.cancel("T-1"),
        lambda d: d.update("T-1", severity="high"),
        lambda d: d.transfer("T-1", skills=["api"]),
        lambda d: d.follow_up("T-1"),
        lambda d: d.status("T-1"),
        lambda d: d.ticket("T-1"),
        lambda d: d.explain_assignment("T-1"),
    ],
)
def test_every_call_on_a_cancelled_ticket_says_already_cancelled(call: Any) -> None:
    """Each call naming a ticket cancelled while waiting raises AlreadyFinished
    with status "cancelled"."""
    d, _ = desk([])
    d.submit(Ticket("T-1", 0.0))
    d.cancel("T-1")
    with pytest.raises(AlreadyFinished, match="already cancelled") as info:
        call(d)
    assert info.value.status == TicketStatus.CANCELLED


def test_the_memory_is_bounded_and_forgets_the_oldest_first() -> None:
    """With finished_memory=2 the third-last finished ticket is plain unknown again."""
    d, _ = desk([Agent("ana", capacity=5)], finished_memory=2)
    for i in range(3):
        d.accept(d.submit(Ticket(f"T-{i}", 0.0)))  # type: ignore[arg-type]
        d.complete(f"T-{i}")
    with pytest.raises(UnknownTicket) as info:
        d.complete("T-0")
    assert type(info.value) is UnknownTicket
    for ticket_id in ("T-1", "T-2"):
        with pytest.raises(AlreadyFinished):
            d.complete(ticket_id)
    assert len(d._desk.finished.entries) == 2


def test_a_memory_of_zero_remembers_nothing() -> None:
    """finished_memory=0: finished tickets are unknown, as before."""
    d, _ = desk([Agent("ana")], finished_memory=0)
    d.accept(d.submit(Ticket("T-1", 0.0)))  # type: ignore[arg-type]
    d.complete("T-1")
    with pytest.raises(UnknownTicket) as info:
        d.complete("T-1")
    assert type(info.value) is UnknownTicket


def test_an_id_can_be_used_again_after_its_ticket_finished() -> None:
    """A new ticket with a finished ticket's id is a new ticket: found, and
    no longer "already completed"."""
    d, _ = desk([Agent("ana", status="away")])
    d.submit(Ticket("T-1", 0.0))
    d.cancel("T-1")
    d.submit(Ticket("T-1", 5.0, contacts=2))
    assert d.status("T-1") == "waiting"
    assert d.ticket("T-1").contacts == 2


@pytest.mark.parametrize("bad", [-1, True, 1.5, 10**7, "10"])
def test_a_bad_memory_size_is_refused(bad: Any) -> None:
    """finished_memory must be an int from 0 to MAX_FINISHED_MEMORY."""
    with pytest.raises(InvalidArgument, match="finished_memory"):
        Dispatcher(TicketQueue(clock=lambda: 0.0), finished_memory=bad)


def test_the_memory_survives_snapshot_and_restore() -> None:
    """A restored desk still says "already completed", with the same bound;
    a snapshot from before the memory loads with an empty one."""
    d, clock = desk([Agent("ana")], finished_memory=5)
    d.accept(d.submit(Ticket("T-1", 0.0)))  # type: ignore[arg-type]
    d.complete("T-1")
    data = json.loads(json.dumps(d.snapshot()))
    copy = Dispatcher.restore(data, clock=ManualClock(clock()))
    with pytest.raises(AlreadyFinished):
        copy.complete("T-1")
    assert copy._desk.finished.size == 5
    del data["finished"], data["settings"]["finished_memory"]
    old = Dispatcher.restore(data, clock=ManualClock(clock()))
    with pytest.raises(UnknownTicket) as info:
        old.complete("T-1")
    assert type(info.value) is UnknownTicket
    data["finished"] = [["T-1", "done", 0.0]]
    with pytest.raises(InvalidArgument, match=r"snapshot.finished\[0\]"):
        Dispatcher.restore(data, clock=ManualClock(clock()))


# -- follow_up() ------------------------------------------------------------------------


def test_follow_up_counts_one_more_contact_wherever_the_ticket_is() -> None:
    """Waiting, offered and assigned tickets each gain one contact, with an updated event."""
    d, _ = desk([Agent("ana")])
    d.accept(d.submit(Ticket("assigned", 0.0)))  # type: ignore[arg-type]
    d.submit(Ticket("waiting", 0.0))
    assert d.follow_up("assigned").contacts == 2
    assert d.follow_up("waiting").contacts == 2
    assert d.follow_up("waiting").contacts == 3
    assert d.events[-1].changes == {"contacts": 3}
    with pytest.raises(UnknownTicket):
        d.follow_up("never")


def test_a_follow_up_moves_a_ticket_ahead_under_feedback_order_with_a_bonus() -> None:
    """With follow_up_bonus=60, a follow-up on a ticket 30 s younger puts it first."""
    clock = ManualClock(100.0)
    d = Dispatcher(TicketQueue(Policy([FeedbackOrder(follow_up_bonus=60)]), clock=clock), [], offer_timeout=None)
    d.submit(Ticket("older", 0.0))
    d.submit(Ticket("younger", 30.0))
    assert [t.id for t in d.queue] == ["older", "younger"]
    d.follow_up("younger")
    assert [t.id for t in d.queue] == ["younger", "older"]


def test_follow_up_past_the_largest_count_is_refused_and_changes_nothing() -> None:
    """At MAX_CONTACTS a follow-up raises InvalidTicket naming contacts."""
    d, _ = desk([])
    d.submit(Ticket("T-1", 0.0, contacts=MAX_CONTACTS))
    with pytest.raises(InvalidTicket, match="contacts"):
        d.follow_up("T-1")
    assert d.ticket("T-1").contacts == MAX_CONTACTS


def test_follow_ups_from_many_threads_are_never_lost() -> None:
    """8 threads x 50 follow-ups on one ticket: exactly 400 more contacts
    (a read-then-write by the caller would lose some)."""
    d, _ = desk([])
    d.submit(Ticket("T-1", 0.0))

    def work() -> None:
        for _ in range(50):
            d.follow_up("T-1")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert d.ticket("T-1").contacts == 401
    d._check()


def test_the_async_dispatcher_offers_the_conveniences() -> None:
    """AsyncDispatcher.follow_up, ticket, status and stats call the dispatcher."""
    d, _ = desk([Agent("ana")])
    a = AsyncDispatcher(d)

    async def main() -> tuple[Any, ...]:
        a.submit(Ticket("T-1", 0.0))
        offer = await a.next_ticket("ana", timeout=1)
        assert offer is not None
        a.accept(offer)
        a.follow_up("T-1")
        status = a.status("T-1")
        contacts = a.ticket("T-1").contacts
        a.complete("T-1")
        try:
            a.complete("T-1")
        except AlreadyFinished as exc:
            return status, contacts, exc.status, a.stats().agents["ana"].handled
        raise AssertionError("a retried complete went through")

    assert asyncio.run(main()) == ("assigned", 2, "completed", 1)


# -- against a reference model ------------------------------------------------------------

OPS = st.lists(
    st.tuples(st.sampled_from(["submit", "accept", "complete", "cancel", "follow_up", "look"]), st.sampled_from("abcdef")),
    max_size=60,
)


@given(OPS)
def test_statuses_contacts_and_finished_errors_agree_with_a_reference_model(ops: list[tuple[str, str]]) -> None:
    """A reference model of each ticket (offered, assigned, or finished and
    remembered in a memory of 3) predicts every result and every error."""
    d, _ = desk([Agent("ana", capacity=100)], finished_memory=3)
    live: dict[str, list[Any]] = {}  # id -> [status, contacts]
    finished: OrderedDict[str, str] = OrderedDict()

    def expect_gone(ticket_id: str, call: Any, *args: Any) -> None:
        with pytest.raises(UnknownTicket) as info:
            call(*args)
        if ticket_id in finished:
            assert isinstance(info.value, AlreadyFinished) and info.value.status == finished[ticket_id]
        else:
            assert type(info.value) is UnknownTicket

    def finish(ticket_id: str, how: str) -> None:
        del live[ticket_id]
        finished[ticket_id] = how
        finished.move_to_end(ticket_id)
        if len(finished) > 3:
            finished.popitem(last=False)

    for op, ticket_id in ops:
        if op == "submit":
            if ticket_id in live:
                with pytest.raises(DuplicateTicket):
                    d.submit(Ticket(ticket_id, 0.0))
            else:
                d.submit(Ticket(ticket_id, 0.0))
                live[ticket_id] = ["offered", 1]
                finished.pop(ticket_id, None)
        elif ticket_id not in live:
            method = {"accept": d.complete, "complete": d.complete, "cancel": d.cancel, "follow_up": d.follow_up, "look": d.ticket}
            expect_gone(ticket_id, method[op], ticket_id)
            expect_gone(ticket_id, d.status, ticket_id)
        elif op == "accept":
            if live[ticket_id][0] == "offered":
                offer = next(o for o in d.offers_for("ana") if o.ticket.id == ticket_id)
                d.accept(offer)
                live[ticket_id][0] = "assigned"
        elif op == "complete":
            if live[ticket_id][0] == "assigned":
                d.complete(ticket_id)
                finish(ticket_id, "completed")
            else:
                with pytest.raises(NotAssigned):
                    d.complete(ticket_id)
        elif op == "cancel":
            d.cancel(ticket_id)
            finish(ticket_id, "cancelled")
        elif op == "follow_up":
            live[ticket_id][1] += 1
            assert d.follow_up(ticket_id).contacts == live[ticket_id][1]
        else:
            assert d.status(ticket_id) == live[ticket_id][0]
            assert d.ticket(ticket_id).contacts == live[ticket_id][1]
    for ticket_id, (status, contacts) in live.items():
        assert (d.status(ticket_id), d.ticket(ticket_id).contacts) == (status, contacts)
    d._check()
