"""Batch assignment as a matching: which tickets of a backlog the free
capacity should take, so that as many as possible are served and no ticket
is left out for a later one.

Tickets come in priority order, each with a *lane* (tickets of one lane may
use exactly the same nodes); *nodes* are groups of interchangeable agent
capacity, each with a count of free room.  :func:`priority_matching` is the
greedy algorithm of a transversal matroid: take tickets best first, and add
each one that fits, moving already placed tickets along an augmenting path
if needed.  The result is a maximum matching, and among maximum matchings
the one whose set of tickets is best in priority order.

>>> room = {"billing": 1, "general": 1}
>>> lanes = {"billing-only": ["billing"], "any": ["billing", "general"]}
>>> tickets = [("T-1", "any"), ("T-2", "billing-only"), ("T-3", "any")]
>>> sorted(priority_matching(tickets, room, lanes.__getitem__).items())
[('T-1', 'general'), ('T-2', 'billing')]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from triage_queue.errors import InvalidArgument, _brief

__all__ = ["priority_matching"]

T = TypeVar("T", bound=Hashable)
L = TypeVar("L", bound=Hashable)
N = TypeVar("N", bound=Hashable)


def priority_matching(
    tickets: Sequence[tuple[T, L]],
    room: dict[N, int],
    adjacent: Callable[[L], Sequence[N]],
    prefer: Callable[[T, N], Any] | None = None,
) -> dict[T, N]:
    """Map tickets (best first, each with its lane) to nodes with room.

    ``adjacent(lane)`` gives the nodes a lane's tickets may use; ``prefer``
    (smaller is better) chooses among nodes with room when a ticket can be
    placed directly.  ``room`` is not modified.

    Runtime complexity: O(D) per ticket placed directly, for D nodes
    adjacent to its lane; an augmenting search costs O(L·D) for L lanes;
    at most one search fails per lane, because a lane that cannot take one
    more ticket never can again (the placed set only grows).  It stops as
    soon as all room is used.

    Raises :class:`~triage_queue.InvalidArgument` naming ``room`` unless it
    maps hashable nodes to ints >= 0, and naming ``tickets`` for an item
    that is not a ``(ticket, lane)`` pair of hashable values.

    >>> priority_matching([("T-1", "a")], {"n": -1}, lambda lane: ["n"])
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidArgument: room={'n': -1}: the room of node 'n' is -1; expected an int >= 0
    """
    try:
        free = dict(room)
    except Exception:
        raise InvalidArgument("room", room, "expected a mapping of node to free room (an int >= 0)") from None
    for node, count in free.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidArgument("room", room, f"the room of node {_brief(node)} is {_brief(count)}; expected an int >= 0")
    try:
        return _match(tickets, free, adjacent, prefer)
    except Exception:
        _check_tickets(tickets)  # names a malformed item, if that is what failed
        raise


def _check_tickets(tickets: Any) -> None:
    try:
        items = list(tickets)
    except Exception:
        raise InvalidArgument("tickets", tickets, "expected a sequence of (ticket, lane) pairs") from None
    for item in items:
        try:
            ticket, lane = item
            hash(ticket)
            hash(lane)
        except Exception:
            raise InvalidArgument("tickets", tickets, f"{_brief(item)} is not a (ticket, lane) pair of hashable values") from None


def _match(
    tickets: Sequence[tuple[T, L]],
    free: dict[N, int],
    adjacent: Callable[[L], Sequence[N]],
    prefer: Callable[[T, N], Any] | None,
) -> dict[T, N]:
    total = sum(free.values())
    placed: dict[N, dict[L, list[T]]] = {node: {} for node in free}
    where: dict[T, N] = {}
    failed: set[L] = set()
    for ticket, lane in tickets:
        if len(where) >= total:
            break
        if lane in failed:
            continue
        nodes = adjacent(lane)
        best = None
        best_key: Any = None
        for node in nodes:
            if free.get(node, 0) > 0:
                if prefer is None:
                    best = node
                    break
                key = prefer(ticket, node)
                if best is None or key < best_key:
                    best, best_key = node, key
        if best is not None:
            free[best] -= 1
            placed[best].setdefault(lane, []).append(ticket)
            where[ticket] = best
            continue
        path = _augmenting_path(nodes, free, placed, adjacent)
        if path is None:
            failed.add(lane)
            continue
        # Move one placed ticket along each step of the path, back to front,
        # then place this one in the first node.
        free[path[-1][0]] -= 1
        for i in range(len(path) - 1, 0, -1):
            node, via_lane = path[i]
            assert via_lane is not None  # only the first step has no lane
            via: L = via_lane
            previous = path[i - 1][0]
            moved = placed[previous][via].pop()
            if not placed[previous][via]:
                del placed[previous][via]
            placed[node].setdefault(via, []).append(moved)
            where[moved] = node
        first = path[0][0]
        placed[first].setdefault(lane, []).append(ticket)
        where[ticket] = first
    return where


def _augmenting_path(
    start: Sequence[N],
    free: dict[N, int],
    placed: dict[N, dict[L, list[T]]],
    adjacent: Callable[[L], Sequence[N]],
) -> list[tuple[N, L | None]] | None:
    """Breadth-first search from the nodes a new ticket may use to a node
    with room, each step moving one placed ticket (of the lane named) into
    the next node.  Returns ``[(node, lane moved into it), ...]``, the first
    lane None, or None if there is no such path."""
    parent: dict[N, tuple[N | None, L | None]] = {}
    frontier: deque[N] = deque()
    for node in start:
        if node in free and node not in parent:
            parent[node] = (None, None)
            frontier.append(node)
    seen_lanes: set[L] = set()
    while frontier:
        node = frontier.popleft()
        if free[node] > 0:
            path: list[tuple[N, L | None]] = []
            current: N | None = node
            while current is not None:
                previous, lane = parent[current]
                path.append((current, lane))
                current = previous
            path.reverse()
            return path
        for lane in list(placed[node]):
            if lane in seen_lanes:
                continue
            seen_lanes.add(lane)
            for nxt in adjacent(lane):
                if nxt in free and nxt not in parent:
                    parent[nxt] = (node, lane)
                    frontier.append(nxt)
    return None
