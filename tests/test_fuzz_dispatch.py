"""Hostile values at every public operation of the Dispatcher and the
AsyncDispatcher: only the library's errors, in bounded time, and a refused
call leaves the desk exactly as it was."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch_models import make_dispatcher, snapshot
from triage_queue import Agent, AsyncDispatcher, Dispatcher, Ticket, TicketQueue, TriageError

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=os.environ.get("CI", "").lower() in {"1", "true", "yes"},
    suppress_health_check=[HealthCheck.too_slow],
)


class Spiteful:
    """Hashes, compares and prints by raising."""

    def __hash__(self) -> int:
        raise RuntimeError("no hash for you")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no equality for you")

    def __lt__(self, other: object) -> bool:
        raise RuntimeError("no order for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def deep(n: int) -> Any:
    value: Any = []
    for _ in range(n):
        value = [value]
    return value


# Values hypothesis cannot print (a repr that raises, 10,000 levels of
# nesting) are made from a name, so a failing example is still readable.
MADE: dict[str, Callable[[], Any]] = {
    "deep list": lambda: deep(10_000),
    "spiteful": Spiteful,
    "object": object,
    "agent": lambda: Agent("zed"),
    "ticket": lambda: Ticket("T-new", 0.0),
    "long string": lambda: "x" * 100_000,
}

hostile = st.one_of(
    st.sampled_from(
        [None, True, False, 0, -1, 10**400, -(10**400), float("nan"), float("inf"), float("-inf"), -0.0, "", "T-1", "ana",
         b"T-1", [], {}, set(), ()]
    ),
    st.sampled_from(sorted(MADE)).map(lambda name: MADE[name]()),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)

OPERATIONS: dict[str, int] = {
    # name: how many positional arguments it takes (hostile values fill them)
    "submit": 1,
    "update": 1,
    "cancel": 1,
    "status": 1,
    "assigned": 1,
    "next_for": 1,
    "offers_for": 1,
    "accept": 1,
    "decline": 2,
    "complete": 2,
    "transfer": 2,
    "add_agent": 1,
    "remove_agent": 1,
    "set_status": 2,
    "update_agent": 1,
    "explain_assignment": 1,
    "wait_for_ticket": 2,
    "subscribe": 1,
}

IDS = ["T-1", "T-2", "T-3", "T-4", "T-new"]


def desk() -> Dispatcher:
    d, _ = make_dispatcher(
        [Agent("ana", capacity=2), Agent("bo", skills=["api"]), Agent("cy", status="away")],
        offer_timeout=30,
        on_listener_error=lambda e, x: None,
    )
    d.accept(d.submit(Ticket("T-1", 0.0)))  # type: ignore[arg-type]
    d.submit(Ticket("T-2", 0.0))  # offered to ana
    d.submit(Ticket("T-3", 0.0, skills=["api"]))  # offered to bo
    d.submit(Ticket("T-4", 0.0, skills=["api"]))  # waits
    return d


@FUZZ
@given(operation=st.sampled_from(sorted(OPERATIONS)), values=st.lists(hostile, min_size=2, max_size=2), use=st.integers(1, 2))
def test_hostile_arguments_get_library_errors_and_change_nothing(operation: str, values: list[Any], use: int) -> None:
    d = desk()
    before = snapshot(d, IDS)
    arity = OPERATIONS[operation]
    args = values[: max(min(arity, use), 2 if operation == "set_status" else 1)]
    if operation == "wait_for_ticket" and len(args) == 1:
        args.append(0)  # never block
    if operation == "wait_for_ticket":
        args[1] = args[1] if isinstance(args[1], int | float) and not isinstance(args[1], bool) and args[1] <= 0 else 0
    try:
        getattr(d, operation)(*args)
    except TriageError:
        assert snapshot(d, IDS) == before
    d._check()


@FUZZ
@given(field=st.sampled_from(["severity", "skills", "sla_due", "relax_after", "created_at", "channel", "contacts", "id"]), value=hostile)
def test_hostile_changes_to_update_and_transfer_are_refused_whole(field: str, value: Any) -> None:
    d = desk()
    before = snapshot(d, IDS)
    for ticket_id, operation in (("T-4", d.update), ("T-2", d.update), ("T-1", d.transfer)):
        try:
            operation(ticket_id, **{field: value})
        except TriageError:
            assert snapshot(d, IDS) == before
        else:
            before = snapshot(d, IDS)
        d._check()


@FUZZ
@given(option=st.sampled_from(
    ["offer_timeout", "affinity_wait", "retry_after", "sla_warning", "audit", "selection", "classify", "mark_not_responding",
     "refuse_unroutable", "on_listener_error", "agents", "clock"]
), value=hostile)
def test_hostile_constructor_options_get_library_errors(option: str, value: Any) -> None:
    queue = TicketQueue(clock=lambda: 0.0)
    queue.push(Ticket("T-1", 0.0))
    try:
        if option == "agents":
            Dispatcher(queue, value)
        else:
            Dispatcher(queue, [Agent("ana")], **{option: value})
    except TriageError:
        # Refused: the queue is untouched and free for another dispatcher.
        assert [t.id for t in queue] == ["T-1"]
        Dispatcher(queue, [Agent("ana")])


@settings(FUZZ, max_examples=100)
@given(agent_id=hostile, timeout=hostile)
def test_async_next_ticket_with_hostile_arguments(agent_id: Any, timeout: Any) -> None:
    d = desk()
    before = snapshot(d, IDS)
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout == timeout and timeout > 0.01:
        timeout = 0.0  # never block long
    try:
        asyncio.run(AsyncDispatcher(d).next_ticket(agent_id, timeout=timeout))
    except TriageError:
        assert snapshot(d, IDS) == before
    d._check()


class ScriptedClock:
    def __init__(self) -> None:
        self.now: Any = 0.0

    def __call__(self) -> Any:
        return self.now


clock_readings = st.one_of(
    st.floats(min_value=0, max_value=2e9),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 10**400, -(10**400), 1.7e308, -1.0, None, "soon", 3]),
)


@settings(FUZZ, max_examples=200)
@given(
    steps=st.lists(st.tuples(clock_readings, st.sampled_from(["tick", "submit", "accept", "decline", "complete", "status"])), max_size=25),
    timeout=st.sampled_from([None, 1e-7, 0.5, 30.0]),
    retry_after=st.sampled_from([None, 0.0, 10.0]),
)
def test_a_hostile_clock_never_loses_a_ticket_nor_hangs(steps: list[tuple[Any, str]], timeout: float | None, retry_after: float | None) -> None:
    """Whatever the clock says (backwards, NaN, infinite, huge, not a
    number), every call returns or raises a library error, in bounded time,
    and every ticket stays known exactly once."""
    clock = ScriptedClock()
    d = Dispatcher(TicketQueue(clock=clock), [Agent("ana"), Agent("bo")], offer_timeout=timeout, retry_after=retry_after)
    submitted: list[str] = []
    completed: set[str] = set()
    for i, (reading, operation) in enumerate(steps):
        clock.now = reading
        try:
            if operation == "tick":
                d.tick()
            elif operation == "submit":
                d.submit(Ticket(f"T-{i}", 0.0))
                submitted.append(f"T-{i}")
            elif operation == "status" and submitted:
                d.status(submitted[0])
            elif operation in ("accept", "decline"):
                offers = d.offers_for("ana") + d.offers_for("bo")
                if offers:
                    getattr(d, operation)(offers[0])
            elif operation == "complete":
                for agent_id in ("ana", "bo"):
                    for ticket in d.assigned(agent_id):
                        d.complete(ticket.id)
                        completed.add(ticket.id)
        except TriageError:
            pass
    clock.now = 2e9 + 1
    d.tick()
    for ticket_id in submitted:
        if ticket_id not in completed:
            assert d.status(ticket_id) in ("waiting", "offered", "assigned"), ticket_id
    d._check()
