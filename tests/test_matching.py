"""Batch assignment as a matching: ``priority_matching`` against brute force
on small random instances, and ``Dispatcher.assign_all`` (run when a
``paused()`` block ends) against brute force over ticket -> agent
assignments.

The brute force enumerates every set of tickets that can be served at once
(every independent set of the transversal matroid); the answer must be a
valid assignment, of maximum size, and among maximum sets the one that is
best in priority order (its sorted list of priority indices is
lexicographically smallest: the greedy-optimal basis).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import cache
from typing import Any

from hypothesis import given, note
from hypothesis import strategies as st

from triage_queue import (
    Agent,
    Dispatcher,
    EventKind,
    ManualClock,
    Severity,
    SkillSet,
    Ticket,
    TicketQueue,
    priority_matching,
)

# -- brute force -------------------------------------------------------------


def servable_sets(options: Sequence[Sequence[Hashable]], room: Mapping[Hashable, int]) -> set[frozenset[int]]:
    """Every set of ticket indices that can all be placed at once: ticket i
    may use any node in ``options[i]`` (nodes missing from ``room`` have
    none), each node at most ``room[node]`` times."""
    nodes = sorted(room, key=repr)
    index = {node: k for k, node in enumerate(nodes)}
    n = len(options)

    @cache
    def rec(i: int, left: tuple[int, ...]) -> frozenset[frozenset[int]]:
        if i == n:
            return frozenset({frozenset()})
        found = set(rec(i + 1, left))  # ticket i left out
        for node in set(options[i]):
            k = index.get(node)
            if k is None or left[k] == 0:
                continue
            fewer = left[:k] + (left[k] - 1,) + left[k + 1 :]
            found.update(s | {i} for s in rec(i + 1, fewer))
        return frozenset(found)

    return set(rec(0, tuple(room[node] for node in nodes)))


def best_servable(options: Sequence[Sequence[Hashable]], room: Mapping[Hashable, int]) -> tuple[int, ...]:
    """The sorted indices of the maximum servable set that is best in
    priority order (index 0 is served first)."""
    sets = servable_sets(options, room)
    size = max(len(s) for s in sets)
    return min(tuple(sorted(s)) for s in sets if len(s) == size)


def assert_valid_assignment(
    where: Mapping[Any, Hashable],
    tickets: Sequence[tuple[Any, Hashable]],
    room: Mapping[Hashable, int],
    adjacent: Callable[[Any], Sequence[Hashable]],
) -> None:
    lanes = dict(tickets)
    assert set(where) <= set(lanes), "placed a ticket that was not given"
    for ticket, node in where.items():
        assert node in adjacent(lanes[ticket]), f"{ticket!r} placed on {node!r}, not adjacent to its lane"
    for node, used in Counter(where.values()).items():
        assert used <= room.get(node, 0), f"node {node!r} used {used} times, room {room.get(node, 0)}"


# -- priority_matching on its own ---------------------------------------------


@st.composite
def matching_instances(draw: st.DrawFn) -> dict[str, Any]:
    nodes = [f"n{k}" for k in range(draw(st.integers(1, 4)))]
    room = {node: draw(st.integers(0, 2)) for node in nodes}
    if draw(st.booleans()):
        # Nodes without room may also be left out of ``room`` altogether.
        room = {node: r for node, r in room.items() if r}
    lane_names = [f"L{j}" for j in range(draw(st.integers(1, 4)))]
    # Adjacency lists in random order (the order matters when prefer is None).
    lanes = {lane: draw(st.lists(st.sampled_from(nodes), unique=True, min_size=int(j > 0))) for j, lane in enumerate(lane_names)}
    size = draw(st.one_of(st.integers(0, 7), st.integers(4, 7)))
    tickets = [(f"t{i}", draw(st.sampled_from(lane_names))) for i in range(size)]
    prefer = None
    if draw(st.booleans()):
        keys = {(t, node): draw(st.integers(0, 3)) for t, _ in tickets for node in nodes}
        prefer = lambda ticket, node: keys[(ticket, node)]  # noqa: E731
    return {"tickets": tickets, "room": room, "lanes": lanes, "prefer": prefer}


@given(matching_instances())
def test_priority_matching_is_maximum_and_priority_optimal(instance: dict[str, Any]) -> None:
    tickets, room, lanes, prefer = instance["tickets"], instance["room"], instance["lanes"], instance["prefer"]
    room_before = dict(room)
    calls: list[Any] = []

    def adjacent(lane: str) -> list[str]:
        calls.append(lane)
        return lanes[lane]

    where = priority_matching(tickets, room, adjacent, prefer)
    note(f"where={where}")
    assert room == room_before, "room was modified"
    assert set(calls) <= set(lanes)
    assert_valid_assignment(where, tickets, room, lanes.__getitem__)
    order = {t: i for i, (t, _) in enumerate(tickets)}
    got = tuple(sorted(order[t] for t in where))
    expected = best_servable([lanes[lane] for _, lane in tickets], room)
    assert len(got) == len(expected), f"served {len(got)} tickets; {len(expected)} can be served"
    assert got == expected, f"served {got}; the priority-optimal maximum set is {expected}"


def test_augmenting_path_serves_more_than_greedy() -> None:
    # Greedy alone puts "any" on billing (first adjacent node with room) and
    # then cannot place the billing-only ticket: 1 ticket instead of 2.
    room = {"billing": 1, "general": 1}
    lanes = {"billing-only": ["billing"], "any": ["billing", "general"]}
    tickets = [("T-1", "any"), ("T-2", "billing-only")]
    assert priority_matching(tickets, room, lanes.__getitem__) == {"T-1": "general", "T-2": "billing"}


def test_augmenting_path_keeps_priority_order() -> None:
    # Greedy alone would serve T-1 and T-3 and leave out T-2, which comes first.
    room = {"billing": 1, "general": 1}
    lanes = {"billing-only": ["billing"], "any": ["billing", "general"]}
    tickets = [("T-1", "any"), ("T-2", "billing-only"), ("T-3", "any")]
    assert priority_matching(tickets, room, lanes.__getitem__) == {"T-1": "general", "T-2": "billing"}


def test_augmenting_path_through_several_nodes() -> None:
    # T-3 fits only if T-2 moves b -> c and T-1 moves a -> b.
    room = {"a": 1, "b": 1, "c": 1}
    lanes = {"ab": ["a", "b"], "bc": ["b", "c"], "a": ["a"]}
    tickets = [("T-1", "ab"), ("T-2", "bc"), ("T-3", "a")]
    prefer = {"a": 0, "b": 1, "c": 2}
    where = priority_matching(tickets, room, lanes.__getitem__, lambda t, node: prefer[node])
    assert where == {"T-1": "b", "T-2": "c", "T-3": "a"}


def test_prefer_chooses_among_nodes_with_room() -> None:
    room = {"x": 1, "y": 1, "z": 0}
    lanes = {"any": ["x", "y", "z"]}
    keys = {"x": 2, "y": 1, "z": 0}
    assert priority_matching([("T-1", "any")], room, lanes.__getitem__, lambda t, node: keys[node]) == {"T-1": "y"}


def test_no_room_or_no_tickets() -> None:
    lanes = {"any": ["x"]}
    assert priority_matching([("T-1", "any")], {"x": 0}, lanes.__getitem__) == {}
    assert priority_matching([("T-1", "any")], {}, lanes.__getitem__) == {}
    assert priority_matching([], {"x": 2}, lanes.__getitem__) == {}


# -- through the Dispatcher ---------------------------------------------------------

SKILLS = ("billing", "api", "german")
CHANNELS = (None, "chat", "email", "phone")


def slot_for(capacity: Mapping[str, int], channel: str | None) -> str | None:
    """The capacity key a ticket counts against (written out independently
    of the library)."""
    if channel is not None and channel in capacity:
        return channel
    return "*" if "*" in capacity else None


def qualifies(agent: Agent, ticket: Ticket) -> bool:
    return all(agent.skills.get(name, 0) >= level for name, level in ticket.skills.items())


capacities = st.one_of(
    st.integers(1, 2),
    st.integers(0, 2),
    st.fixed_dictionaries({"chat": st.integers(0, 2), "*": st.integers(0, 2)}),
    st.fixed_dictionaries({"chat": st.integers(0, 2), "email": st.integers(0, 2)}),
    st.fixed_dictionaries({"phone": st.integers(0, 2)}),
)


@st.composite
def agent_lists(draw: st.DrawFn) -> list[Agent]:
    agents = []
    for k in range(draw(st.one_of(st.integers(1, 4), st.integers(2, 4)))):
        names = draw(st.lists(st.sampled_from(SKILLS), unique=True, min_size=2, max_size=3))
        skills = {name: draw(st.integers(1, 3)) for name in names}
        agents.append(Agent(f"ag{k}", skills=skills, capacity=draw(capacities), status="away"))
    return agents


@st.composite
def batch_tickets(draw: st.DrawFn) -> list[Ticket]:
    tickets = []
    for i in range(draw(st.one_of(st.integers(0, 7), st.integers(4, 7)))):
        # Mostly light requirements, so that several agents qualify and
        # which one takes a ticket matters.
        skills = draw(
            st.one_of(
                st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 2), max_size=1),
                st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=2),
            )
        )
        tickets.append(
            Ticket(
                f"T-{i}",
                float(draw(st.integers(0, 100))),
                severity=draw(st.sampled_from(Severity)),
                customer_tier=draw(st.sampled_from([None, "gold"])),
                complexity=draw(st.integers(1, 5)),
                skills=skills,
                channel=draw(st.sampled_from(CHANNELS)),
            )
        )
    return tickets


def run_batch(agents: list[Agent], tickets: list[Ticket]) -> tuple[Dispatcher, list[str], list[tuple[str, str]]]:
    """Submit ``tickets`` and make ``agents`` available inside one paused
    block; return the dispatcher, the queue's order before the batch ran,
    and the (ticket id, agent id) offers the batch made."""
    d = Dispatcher(TicketQueue(clock=ManualClock(1_000.0)), agents, offer_timeout=None)
    events = []
    d.subscribe(events.append)
    with d.paused():
        for ticket in tickets:
            assert d.submit(ticket) is None, "an offer was made while paused"
        for agent in agents:
            d.set_status(agent.id, "available")
        order = [t.id for t in d.queue]
        assert not [e for e in events if e.kind is EventKind.OFFERED]
    offers = [(e.ticket_id, e.agent_id) for e in events if e.kind is EventKind.OFFERED]
    assert all(t is not None and a is not None for t, a in offers)
    return d, order, offers  # type: ignore[return-value]


@given(agent_lists(), batch_tickets())
def test_assign_all_is_maximum_and_priority_optimal(agents: list[Agent], tickets: list[Ticket]) -> None:
    d, order, offers = run_batch(agents, tickets)
    note(f"order={order} offers={offers}")
    by_id = {t.id: t for t in tickets}
    by_agent = {a.id: a for a in agents}
    assert sorted(order) == sorted(by_id)

    # Each offer respects skills and the capacity of its channel.
    used: Counter[tuple[str, str]] = Counter()
    for ticket_id, agent_id in offers:
        ticket, agent = by_id[ticket_id], by_agent[agent_id]
        assert qualifies(agent, ticket), f"{agent_id} lacks the skills of {ticket_id}"
        slot = slot_for(agent.capacity, ticket.channel)
        assert slot is not None, f"{agent_id} takes no {ticket.channel!r} tickets"
        used[(agent_id, slot)] += 1
        assert used[(agent_id, slot)] <= agent.capacity[slot], f"{agent_id} over capacity on {slot!r}"
    offered = [t for t, _ in offers]
    assert len(offered) == len(set(offered)), "a ticket was offered twice"

    # Maximum and priority-optimal, by brute force over ticket -> (agent, slot).
    room = {(a.id, slot): limit for a in agents for slot, limit in a.capacity.items()}
    options = []
    for ticket_id in order:
        ticket = by_id[ticket_id]
        options.append(
            [(a.id, slot) for a in agents if qualifies(a, ticket) and (slot := slot_for(a.capacity, ticket.channel)) is not None]
        )
    expected = best_servable(options, room)
    position = {ticket_id: i for i, ticket_id in enumerate(order)}
    got = tuple(sorted(position[t] for t in offered))
    assert len(got) == len(expected), f"offered {len(got)} tickets; {len(expected)} can be served"
    assert got == expected, f"offered positions {got}; the priority-optimal maximum set is {expected}"

    # The rest still waits, in order; everything is consistent.
    assert [t.id for t in d.queue] == [t for t in order if t not in set(offered)]
    for ticket_id in offered:
        assert d.status(ticket_id) == "offered"
    d._check()


def test_assign_all_serves_more_than_greedy() -> None:
    # ana (joined first, equally idle) is the strategy's choice for T-1, but
    # T-2 needs billing: only the matching serves both.
    agents = [
        Agent("ana", skills={"billing": 1}, status="away"),
        Agent("bo", skills={"api": 1}, status="away"),
    ]
    tickets = [Ticket("T-1", 0.0, severity="high"), Ticket("T-2", 5.0, skills={"billing": 1})]
    d, order, offers = run_batch(agents, tickets)
    assert order == ["T-1", "T-2"]
    assert sorted(offers) == [("T-1", "bo"), ("T-2", "ana")]
    assert len(d.queue) == 0
    d._check()


def test_assign_all_keeps_priority_over_later_tickets() -> None:
    # One billing agent and one general agent; greedy alone would give ana
    # T-1 and bo T-3, leaving T-2 (earlier than T-3) waiting.
    agents = [
        Agent("ana", skills={"billing": 2, "api": 1}, status="away"),
        Agent("bo", skills={"api": 1, "german": 1}, status="away"),
    ]
    tickets = [
        Ticket("T-1", 0.0, severity="critical"),
        Ticket("T-2", 0.0, severity="high", skills={"billing": 2}),
        Ticket("T-3", 0.0, severity="normal"),
    ]
    d, order, offers = run_batch(agents, tickets)
    assert order == ["T-1", "T-2", "T-3"]
    assert sorted(offers) == [("T-1", "bo"), ("T-2", "ana")]
    assert [t.id for t in d.queue] == ["T-3"]
    d._check()


def test_assign_all_respects_channel_capacity() -> None:
    # ana takes chat only (2), bo anything (1).  Three tickets can be
    # served; the three chats come before the phone ticket, so they are.
    agents = [
        Agent("ana", capacity={"chat": 2}, status="away"),
        Agent("bo", capacity=1, status="away"),
    ]
    tickets = [
        Ticket("C-1", 0.0, severity="critical", channel="chat"),
        Ticket("C-2", 1.0, severity="critical", channel="chat"),
        Ticket("C-3", 2.0, severity="critical", channel="chat"),
        Ticket("P-1", 3.0, channel="phone"),
    ]
    d, order, offers = run_batch(agents, tickets)
    assert order == ["C-1", "C-2", "C-3", "P-1"]
    assert {t for t, _ in offers} == {"C-1", "C-2", "C-3"}
    assert Counter(a for _, a in offers) == {"ana": 2, "bo": 1}
    assert [t.id for t in d.queue] == ["P-1"]
    d._check()


def test_requirement_sets_are_hashed_as_lanes() -> None:
    # Tickets with equal requirements written differently share a lane.
    assert SkillSet({"api": 1}) == SkillSet(["api"])
    agents = [Agent("ana", skills={"api": 1}, capacity=2, status="away")]
    tickets = [Ticket("T-1", 0.0, skills=["api"]), Ticket("T-2", 0.0, skills={"api": 1}), Ticket("T-3", 0.0, skills=["api"])]
    _, _, offers = run_batch(agents, tickets)
    assert sorted(offers) == [("T-1", "ana"), ("T-2", "ana")]
