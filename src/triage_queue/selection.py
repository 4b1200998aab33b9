"""Agent selection strategies: which of several free, qualified agents gets
a ticket.

A strategy is a small object with two keys, smaller meaning *chosen first*:

* ``fit(agent, ticket)`` may look at the ticket, but only at the agent's
  ``skills`` and ``capacity`` (agents alike in those are grouped, and the
  key is computed once per group);
* ``order(state)`` may look at the agent's live :class:`AgentState` (load,
  idle time, last offer), but not at the ticket, so the dispatcher can keep
  free agents in heaps ordered by it.

An agent is chosen by ``(fit, order)``.  ``describe(agent, state, ticket)``
says in words where the agent stands, for explanations.

>>> from triage_queue import Agent, Ticket
>>> a = Agent("ana", skills={"payments": 5})
>>> MostProficient().fit(a, Ticket("T", 0.0, skills={"payments": 2}))
(-5,)
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from triage_queue.agents import Agent, AgentState
from triage_queue.ticket import Ticket

__all__ = ["LeastLoaded", "LongestIdle", "MostProficient", "RoundRobin", "Selection"]


@runtime_checkable
class Selection(Protocol):
    """The protocol of an agent selection strategy."""

    @property
    def name(self) -> str:
        """Short name used in explanations."""
        ...

    def fit(self, agent: Agent, ticket: Ticket) -> tuple[Any, ...]:
        """Ticket-dependent key; may read only ``agent.skills`` and ``agent.capacity``."""
        ...

    def order(self, state: AgentState) -> tuple[Any, ...]:
        """Ticket-independent key from the agent's live state."""
        ...

    def describe(self, agent: Agent, state: AgentState, ticket: Ticket) -> str:
        """Where the agent stands by this strategy, in words."""
        ...


class LongestIdle:
    """The agent idle the longest goes first (the default, as in most
    contact-centre routers): earliest ``idle_since``, then who joined first.

    Runtime complexity: O(1) per key.
    """

    name = "longest_idle"

    def fit(self, agent: Agent, ticket: Ticket) -> tuple[Any, ...]:
        """Runtime complexity: O(1)."""
        return ()

    def order(self, state: AgentState) -> tuple[Any, ...]:
        """Runtime complexity: O(1)."""
        return (state.idle_since, state.joined)

    def describe(self, agent: Agent, state: AgentState, ticket: Ticket) -> str:
        """Runtime complexity: O(1)."""
        return _idle_note(state.idle_since)

    def __repr__(self) -> str:
        return "LongestIdle()"

    @staticmethod
    def idle_note(idle_since: float) -> str:
        """The words :meth:`describe` uses for an agent idle since
        ``idle_since`` (a dispatcher keeps only that instant per offer and
        words it when an explanation is asked for).

        Runtime complexity: O(1).

        >>> LongestIdle.idle_note(90.0)
        'idle since 90'
        """
        return _idle_note(idle_since)


def _idle_note(idle_since: float) -> str:
    # LongestIdle.describe; a dispatcher keeps only ``idle_since`` per offer
    # and words it with this when an explanation is asked for.
    return f"idle since {idle_since:g}"


class LeastLoaded:
    """The agent using the smallest share of its capacity goes first, then
    the longest idle.

    Runtime complexity: O(C) per key for C capacity keys.
    """

    name = "least_loaded"

    def fit(self, agent: Agent, ticket: Ticket) -> tuple[Any, ...]:
        """Runtime complexity: O(1)."""
        return ()

    def order(self, state: AgentState) -> tuple[Any, ...]:
        """Runtime complexity: O(C)."""
        capacity = state.total_capacity
        share = state.total_load / capacity if capacity else 1.0
        return (share, state.idle_since, state.joined)

    def describe(self, agent: Agent, state: AgentState, ticket: Ticket) -> str:
        """Runtime complexity: O(C)."""
        return f"load {state.total_load}/{state.total_capacity}, idle since {state.idle_since:g}"

    def __repr__(self) -> str:
        return "LeastLoaded()"


class MostProficient:
    """The agent with the highest total proficiency in the ticket's required
    skills goes first, then the longest idle.

    Runtime complexity: O(k) per key for k required skills.
    """

    name = "most_proficient"

    def fit(self, agent: Agent, ticket: Ticket) -> tuple[Any, ...]:
        """Runtime complexity: O(k)."""
        skills = agent.skills
        return (-sum(skills.get(name, 0) for name in ticket.skills),)

    def order(self, state: AgentState) -> tuple[Any, ...]:
        """Runtime complexity: O(1)."""
        return (state.idle_since, state.joined)

    def describe(self, agent: Agent, state: AgentState, ticket: Ticket) -> str:
        """Runtime complexity: O(k)."""
        total = -self.fit(agent, ticket)[0]
        return f"proficiency {total} in the ticket's skills, idle since {state.idle_since:g}"

    def __repr__(self) -> str:
        return "MostProficient()"


class RoundRobin:
    """Agents take turns: the one whose last offer is oldest goes first
    (agents never offered go first, in the order they joined).

    Runtime complexity: O(1) per key.
    """

    name = "round_robin"

    def fit(self, agent: Agent, ticket: Ticket) -> tuple[Any, ...]:
        """Runtime complexity: O(1)."""
        return ()

    def order(self, state: AgentState) -> tuple[Any, ...]:
        """Runtime complexity: O(1)."""
        return (state.last_offer, state.joined)

    def describe(self, agent: Agent, state: AgentState, ticket: Ticket) -> str:
        """Runtime complexity: O(1)."""
        if state.last_offer < 0:
            return "not offered anything yet"
        return f"last offer number {state.last_offer}"

    def __repr__(self) -> str:
        return "RoundRobin()"
