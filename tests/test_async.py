"""AsyncDispatcher: thousands of coroutines waiting at once, timeouts,
cancellation leaving no waiter behind, and threads and coroutines sharing
one dispatcher.  Plain tests driving ``asyncio.run`` (no pytest plugin)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import threading
import time
from collections import Counter
from typing import Any

import pytest

from triage_queue import (
    Agent,
    AsyncDispatcher,
    Dispatcher,
    InvalidArgument,
    ManualClock,
    Offer,
    Ticket,
    TicketQueue,
    UnknownAgent,
)

# A hang fails the test after this long instead of blocking the suite.
DEADLINE = 60.0


def waiting_coroutines(d: Dispatcher) -> int:
    with d.lock:
        return sum(len(w) for w in d._waiters.async_waiters.values())


async def until(predicate: Any) -> None:
    end = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < end, "condition never met"
        await asyncio.sleep(0.001)


def test_thousands_of_waiting_coroutines() -> None:
    n = 2_000
    d = Dispatcher(TicketQueue(clock=time.time), [Agent(f"a{i}") for i in range(n)], offer_timeout=None)
    ad = AsyncDispatcher(d)

    async def agent(agent_id: str) -> str:
        offer = await ad.next_ticket(agent_id)  # no timeout: only an offer wakes it
        assert offer is not None, f"{agent_id} got nothing"
        assert offer.agent_id == agent_id
        ticket = ad.accept(offer)
        assert ad.complete(ticket.id, agent_id) == ticket
        return ticket.id

    async def main() -> list[str]:
        tasks = [asyncio.create_task(agent(f"a{i}")) for i in range(n)]
        await until(lambda: waiting_coroutines(d) == n)
        rng = random.Random(7)
        for k in range(n):
            ad.submit(Ticket(f"T-{k}", time.time(), severity=rng.choice(["low", "normal", "high", "critical"])))
            if k % 100 == 99:
                await asyncio.sleep(0)  # let some agents finish while tickets still arrive
        return await asyncio.wait_for(asyncio.gather(*tasks), DEADLINE)

    got = asyncio.run(main())
    assert len(got) == n
    assert Counter(got) == Counter(f"T-{k}" for k in range(n)), "a ticket lost or served twice"
    assert d._waiters.async_waiters == {}
    assert len(d.queue) == 0 and not d._desk.res.tracks
    assert d.stats().overall.served == n
    d._check()


async def spin(turns: int = 20) -> None:
    """Let the event loop run a few times (no timers involved)."""
    for _ in range(turns):
        await asyncio.sleep(0)


def test_next_ticket_wakes_only_the_agent_offered() -> None:
    d = Dispatcher(
        TicketQueue(clock=time.time),
        [Agent("bil", skills={"billing": 2}), Agent("api", skills={"api": 2})],
        offer_timeout=None,
    )
    ad = AsyncDispatcher(d)

    async def main() -> None:
        bil = asyncio.create_task(ad.next_ticket("bil"))
        api = asyncio.create_task(ad.next_ticket("api"))
        await until(lambda: waiting_coroutines(d) == 2)
        api_future = d._waiters.async_waiters["api"][0][1]
        offer = ad.submit(Ticket("T-1", time.time(), skills={"billing": 1}))
        assert offer is not None and offer.agent_id == "bil"
        await spin()
        # Woken promptly by the offer (no timer: it waits with no timeout)...
        assert bil.done() and bil.result() == offer
        # ...and the other agent was not woken at all: same future, still pending.
        assert not api.done()
        assert [f for _, f in d._waiters.async_waiters["api"]] == [api_future] and not api_future.done()
        offer = ad.submit(Ticket("T-2", time.time(), skills={"api": 1}))
        await spin()
        assert api.done() and api.result() == offer
        assert d._waiters.async_waiters == {}

    asyncio.run(main())


def test_next_ticket_returns_an_offer_already_made() -> None:
    d = Dispatcher(TicketQueue(clock=ManualClock()), [Agent("ana", capacity=2)])
    ad = AsyncDispatcher(d)
    first = ad.submit(Ticket("T-1", 0.0))
    second = ad.submit(Ticket("T-2", 0.0))

    async def main() -> list[Offer | None]:
        return [await ad.next_ticket("ana"), await ad.next_ticket("ana"), await ad.next_ticket("ana", timeout=0)]

    assert asyncio.run(main()) == [first, second, None]
    assert d._waiters.async_waiters == {}


def test_next_ticket_timeout_returns_none() -> None:
    d = Dispatcher(TicketQueue(clock=time.time), [Agent("ana"), Agent("bo", skills=["api"])])
    ad = AsyncDispatcher(d)

    async def main() -> None:
        assert await ad.next_ticket("ana", timeout=0) is None
        # A ticket only bo may take does not end ana's wait.
        waiting = asyncio.create_task(ad.next_ticket("ana", timeout=0.1))
        await until(lambda: "ana" in d._waiters.async_waiters)
        offer = ad.submit(Ticket("T-1", time.time(), skills=["api"]))
        assert offer is not None and offer.agent_id == "bo"
        assert await waiting is None
        assert d._waiters.async_waiters == {}
        got = await ad.next_ticket("bo", timeout=0.1)
        assert got == offer

    asyncio.run(main())


@pytest.mark.parametrize("timeout", [-1, -0.5, math.nan, True, "1", [1]])
def test_next_ticket_rejects_bad_timeout(timeout: Any) -> None:
    ad = AsyncDispatcher(Dispatcher(TicketQueue(clock=ManualClock()), [Agent("ana")]))

    async def main() -> None:
        with pytest.raises(InvalidArgument):
            await ad.next_ticket("ana", timeout=timeout)

    asyncio.run(main())
    assert ad.dispatcher._waiters.async_waiters == {}


def test_next_ticket_unknown_agent() -> None:
    ad = AsyncDispatcher(Dispatcher(TicketQueue(clock=ManualClock()), [Agent("ana")]))

    async def main() -> None:
        with pytest.raises(UnknownAgent):
            await ad.next_ticket("nobody", timeout=1)

    asyncio.run(main())
    assert ad.dispatcher._waiters.async_waiters == {}


def test_async_dispatcher_rejects_non_dispatcher() -> None:
    with pytest.raises(InvalidArgument):
        AsyncDispatcher(object())  # type: ignore[arg-type]


def test_cancelled_next_ticket_leaves_no_waiter() -> None:
    d = Dispatcher(TicketQueue(clock=time.time), [Agent("ana"), Agent("bo")], offer_timeout=None)
    ad = AsyncDispatcher(d)

    async def main() -> None:
        tasks = [asyncio.create_task(ad.next_ticket(agent_id)) for agent_id in ("ana", "ana", "bo")]
        await until(lambda: waiting_coroutines(d) == 3)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert task.cancelled()
        assert d._waiters.async_waiters == {}
        # The agents are still free: a ticket is offered and picked up later.
        offer = ad.submit(Ticket("T-1", time.time()))
        assert offer is not None
        assert await ad.next_ticket(offer.agent_id, timeout=1) == offer

    asyncio.run(main())
    assert d._waiters.async_waiters == {}


def test_offer_to_a_cancelled_waiter_is_not_lost() -> None:
    # The offer resolves the waiter's future, but the task is cancelled
    # before it runs: the offer stays in the agent's inbox.
    d = Dispatcher(TicketQueue(clock=time.time), [Agent("ana")], offer_timeout=None)
    ad = AsyncDispatcher(d)

    async def main() -> None:
        task = asyncio.create_task(ad.next_ticket("ana"))
        await until(lambda: "ana" in d._waiters.async_waiters)
        offer = ad.submit(Ticket("T-1", time.time()))
        assert offer is not None and offer.agent_id == "ana"
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert d._waiters.async_waiters == {}
        assert d.status("T-1") == "offered"
        assert await ad.next_ticket("ana", timeout=1) == offer
        assert ad.accept(offer).id == "T-1"

    asyncio.run(main())


def test_wait_for_timeout_cancels_cleanly() -> None:
    # asyncio.wait_for cancels next_ticket on its own timeout.
    d = Dispatcher(TicketQueue(clock=time.time), [Agent("ana")])
    ad = AsyncDispatcher(d)

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ad.next_ticket("ana"), timeout=0.02)
        assert d._waiters.async_waiters == {}

    asyncio.run(main())


def test_several_coroutines_one_agent() -> None:
    d = Dispatcher(TicketQueue(clock=time.time), [Agent("ana", capacity=3)], offer_timeout=None)
    ad = AsyncDispatcher(d)

    async def main() -> list[Offer | None]:
        tasks = [asyncio.create_task(ad.next_ticket("ana", timeout=DEADLINE)) for _ in range(3)]
        await until(lambda: waiting_coroutines(d) == 3)
        for i in range(3):
            ad.submit(Ticket(f"T-{i}", time.time()))
        return await asyncio.gather(*tasks)

    offers = asyncio.run(main())
    assert sorted(o.ticket.id for o in offers if o is not None) == ["T-0", "T-1", "T-2"]
    assert d._waiters.async_waiters == {}


def test_threads_and_coroutines_share_a_dispatcher() -> None:
    thread_agents = [Agent(f"t{i}", capacity=2) for i in range(4)]
    coro_agents = [Agent(f"c{i}", capacity=1 + i % 2) for i in range(50)]
    d = Dispatcher(TicketQueue(clock=time.time), thread_agents + coro_agents, offer_timeout=None)
    ad = AsyncDispatcher(d)
    per_source = 500
    total = 2 * per_source
    lock = threading.Lock()
    done = threading.Event()
    completed: list[tuple[str, str]] = []  # (ticket id, agent id)
    errors: list[BaseException] = []

    def finish(ticket_id: str, agent_id: str) -> None:
        with lock:
            completed.append((ticket_id, agent_id))
            if len(completed) >= total:
                done.set()

    def thread_agent(agent_id: str) -> None:
        try:
            while not done.is_set():
                offer = d.wait_for_ticket(agent_id, timeout=0.02)
                if offer is not None:
                    assert offer.agent_id == agent_id
                    d.accept(offer)
                    finish(d.complete(offer.ticket.id, agent_id).id, agent_id)
        except BaseException as exc:
            errors.append(exc)
            done.set()

    def thread_producer() -> None:
        try:
            for k in range(per_source):
                d.submit(Ticket(f"th-{k}", time.time()))
                if k % 25 == 0:
                    time.sleep(0.001)
        except BaseException as exc:
            errors.append(exc)
            done.set()

    async def coro_agent(agent_id: str) -> None:
        while not done.is_set():
            offer = await ad.next_ticket(agent_id, timeout=0.05)
            if offer is not None:
                assert offer.agent_id == agent_id
                ad.accept(offer)
                await asyncio.sleep(0)  # "work", letting others run
                finish(ad.complete(offer.ticket.id, agent_id).id, agent_id)

    async def coro_producer() -> None:
        for k in range(per_source):
            ad.submit(Ticket(f"co-{k}", time.time()))
            if k % 10 == 0:
                await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.wait_for(
            asyncio.gather(coro_producer(), *(coro_agent(a.id) for a in coro_agents)),
            timeout=DEADLINE,
        )

    threads = [threading.Thread(target=thread_agent, args=(a.id,), daemon=True) for a in thread_agents]
    threads.append(threading.Thread(target=thread_producer, daemon=True))
    for thread in threads:
        thread.start()
    try:
        asyncio.run(main())
    finally:
        done.set()
        for thread in threads:
            thread.join(DEADLINE)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)

    ids = Counter(tid for tid, _ in completed)
    expected = {f"th-{k}" for k in range(per_source)} | {f"co-{k}" for k in range(per_source)}
    assert set(ids) == expected, "tickets lost"
    assert all(n == 1 for n in ids.values()), "a ticket completed twice"
    by_agent = Counter(agent_id for _, agent_id in completed)
    assert any(a.startswith("t") for a in by_agent) and any(a.startswith("c") for a in by_agent)
    assert d._waiters.async_waiters == {}
    assert len(d.queue) == 0 and not d._desk.res.tracks
    d._check()


def test_the_timekeeping_coroutine_is_woken_once_per_earlier_change_not_once_per_call() -> None:
    """Once the timekeeper has been woken for an earlier deadline, later
    calls do not wake it again before it has slept.  Every wake is a write to
    the event loop's self-pipe: one per offer is needed, and the redundant
    keeper wakes once added five more per ticket."""
    agents = 100
    tickets = 1_000
    d = Dispatcher(TicketQueue(clock=time.time), [Agent(f"a{i}") for i in range(agents)], offer_timeout=30.0)
    ad = AsyncDispatcher(d)
    served: list[str] = []
    wakes = 0

    async def agent(agent_id: str) -> None:
        while True:
            offer = await ad.next_ticket(agent_id)  # no timeout: the timekeeper sleeps until the next offer expiry
            assert offer is not None
            ticket = ad.accept(offer)
            ad.complete(ticket.id, agent_id)
            served.append(ticket.id)

    async def main() -> None:
        nonlocal wakes
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal wakes
            wakes += 1
            return original(*args, **kwargs)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        workers = [asyncio.create_task(agent(f"a{i}")) for i in range(agents)]
        await until(lambda: waiting_coroutines(d) == agents)
        for i in range(tickets):
            ad.submit(Ticket(f"T{i}", 0.0))
            await asyncio.sleep(0)
        await until(lambda: len(served) >= tickets)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    asyncio.run(main())
    assert sorted(served) == sorted(f"T{i}" for i in range(tickets))
    assert wakes <= 2 * tickets, f"{wakes} loop wake-ups for {tickets} tickets"
