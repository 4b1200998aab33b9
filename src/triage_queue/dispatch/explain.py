"""Explanations: for one ticket, why each agent on the roster did or did
not get it.  A pure function of what it is shown; it changes nothing.

>>> from triage_queue.agents import Agent, Roster
>>> from triage_queue.selection import LongestIdle
>>> from triage_queue.ticket import Ticket
>>> roster = Roster([Agent("ana", skills=["api"]), Agent("bo", status="away")])
>>> ticket = Ticket("T-1", 0.0, skills=["api"])
>>> states = [roster.state(a.id) for a in roster]
>>> [v.reason for v in judge_agents(ticket, ticket.skills, states, chosen=None, how=None, note="", holder=None,
...                                  passed={}, selection=LongestIdle())]
['qualified and free: the ticket will be offered on the next operation', "lacks skill 'api' >= 1 (has 0)"]
"""

from __future__ import annotations

from collections.abc import Container, Iterable

from triage_queue.agents import AgentState, AgentStatus
from triage_queue.dispatch.values import AgentVerdict
from triage_queue.selection import Selection
from triage_queue.ticket import SkillSet, Ticket

__all__ = ["judge_agents"]


def judge_agents(
    ticket: Ticket,
    requirement: SkillSet,
    states: Iterable[AgentState],
    *,
    chosen: str | None,
    how: str | None,
    note: str,
    holder: str | None,
    passed: Container[str],
    selection: Selection,
) -> tuple[AgentVerdict, ...]:
    """A verdict per agent, in roster order: the chosen agent (with ``how``
    and its standing ``note`` when chosen) and, for every other agent, the
    first reason it does not have the ticket: a missing skill, a channel it
    does not take, its status, no room, a pass, a hold for another agent, or
    the strategy preferring the chosen one.  Runtime complexity: O(A·k) for
    k required skills.
    """
    verdicts = []
    for state in states:
        agent = state.agent
        agent_id = agent.id
        if agent_id == chosen:
            verdicts.append(AgentVerdict(agent_id, True, True, f"chosen: {how}; when chosen: {note}"))
            continue
        missing = requirement.missing_from(agent.skills)
        slot = agent.slot_for(ticket.channel)
        qualified = not missing and slot is not None
        if missing:
            reason = "lacks " + ", ".join(f"skill {n!r} >= {need} (has {has})" for n, need, has in missing)
        elif slot is None:
            reason = "takes no tickets without a channel" if ticket.channel is None else f"takes no {ticket.channel!r} tickets"
        elif agent.status is not AgentStatus.AVAILABLE:
            reason = f"status {agent.status.value}"
        elif not state.has_room(ticket.channel):
            reason = f"at capacity {state.load.get(slot, 0)}/{agent.capacity[slot]} for {slot!r}"
        elif agent_id in passed:
            reason = "declined this ticket or let its offer expire"
        elif holder is not None:
            reason = f"the ticket is held for {holder!r} (affinity)"
        elif chosen is not None:
            reason = (
                f"qualified, but {selection.name} preferred {chosen!r} ({note} when chosen); "
                f"this agent now: {selection.describe(agent, state, ticket)}"
            )
        else:
            reason = "qualified and free: the ticket will be offered on the next operation"
        verdicts.append(AgentVerdict(agent_id, False, qualified, reason))
    return tuple(verdicts)
