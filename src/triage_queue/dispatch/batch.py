"""Batch assignment: a whole backlog against all free capacity at once.

Free room is counted per *node*, an (agent profile, capacity key) pair:
agents alike in skills and capacity keys are interchangeable for the
matching, so the graph has G·C nodes however many agents there are.
Tickets are taken in priority order and each one an augmenting path can
fit is added (:func:`~triage_queue.matching.priority_matching`): the result
is maximum and priority-optimal.  Within a node, the selection strategy's
best free agent gets the ticket, chosen when the offer is made.

A :class:`Batch` lives for one assignment: it has no state between calls.

>>> from triage_queue.agents import Agent, Roster
>>> from triage_queue.dispatch.presence import Presence
>>> from triage_queue.selection import LongestIdle
>>> roster = Roster([Agent("ana", capacity=2)]); presence = Presence(LongestIdle())
>>> presence.place(roster.state("ana"))
>>> batch = Batch(presence, {"ana": roster.state("ana")}); batch.nodes
{(0, '*'): 2}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from triage_queue.agents import AgentState, AgentStatus
from triage_queue.dispatch.presence import Presence, Profile
from triage_queue.matching import priority_matching
from triage_queue.ticket import SkillSet, Ticket

__all__ = ["Batch"]

Node = tuple[int, str]  # (profile number, capacity key)


class Batch:
    """The free room of a desk's agents per node, and the matching of a
    backlog to it.  ``states`` are the roster's live states."""

    __slots__ = ("node_profile", "nodes", "presence")

    def __init__(self, presence: Presence, states: Mapping[str, AgentState]) -> None:
        """Runtime complexity: O(A·C)."""
        self.presence = presence
        self.nodes: dict[Node, int] = {}  # node -> free room
        self.node_profile: dict[Node, Profile] = {}
        for profile in presence.profiles.values():
            for slot in profile.capacity:
                room = 0
                for agent_id in profile.agents:
                    state = states[agent_id]
                    if state.agent.status is AgentStatus.AVAILABLE and agent_id not in presence.resting:
                        room += max(0, state.agent.capacity.get(slot, 0) - state.load.get(slot, 0))
                if room:
                    node = (profile.number, slot)
                    self.nodes[node] = room
                    self.node_profile[node] = profile

    def taken(self, agent_id: str, slot: str) -> None:
        """An agent took a ticket on ``slot`` outside the matching (a held
        ticket given to its holder): one less room in its node.  Runtime complexity: O(1)."""
        node = (self.presence.profile_of[agent_id].number, slot)
        if node in self.nodes:
            self.nodes[node] -= 1

    def placements(self, plain: list[tuple[Ticket, Any]]) -> Iterator[tuple[Ticket, str]]:
        """Match ``plain`` (tickets with their lanes, in priority order) to
        the free room, and yield each placed ticket with its agent, in
        priority order: the strategy's best free agent of its node *when
        yielded* (make each offer before taking the next).

        Runtime complexity: O(G) per ticket placed directly and O(L·G) per
        augmenting search (L lanes)."""
        node_profile = self.node_profile
        adjacency: dict[tuple[SkillSet, str | None], list[Node]] = {}

        def adjacent(lane_key: tuple[SkillSet, str | None]) -> list[Node]:
            found = adjacency.get(lane_key)
            if found is None:
                requirement, channel = lane_key
                found = []
                for profile in self.presence.eligible(requirement):
                    slot = profile.slot_for(channel)
                    if slot is not None and (profile.number, slot) in node_profile:
                        found.append((profile.number, slot))
                adjacency[lane_key] = found
            return found

        fit = self.presence.selection.fit
        by_id = {t.id: t for t, _ in plain}

        def prefer(ticket_id: str, node: Node) -> tuple[Any, ...]:
            # The strategy's key of the best free agent in the node.
            profile = node_profile[node]
            heap = profile.free[node[1]]
            return (fit(profile.sample, by_id[ticket_id]), heap.peekitem()[1] if heap else ())

        # Ticket ids, not tickets, as keys: ids hash in O(1).
        where = priority_matching([(t.id, (lane[0], lane[1])) for t, lane in plain], self.nodes, adjacent, prefer)
        # Concrete agents, in priority order, each the strategy's best in its node.
        for ticket, _ in plain:
            target = where.get(ticket.id)
            if target is not None:
                yield ticket, node_profile[target].free[target[1]].peekitem()[0]

    def _check(self) -> None:
        """Assert that every node has room it can count (used by the test suite)."""
        for node, room in self.nodes.items():
            assert room >= 0, f"negative room in node {node}"
            profile = self.node_profile[node]
            assert profile.number == node[0] and node[1] in profile.capacity
