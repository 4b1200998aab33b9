"""Presence: the agents as the desk routes to them.  Agents alike in skills
and capacity keys share a *profile*; each profile keeps, per capacity key,
a heap of its agents with room there, ordered by the selection strategy.
Routing a ticket looks only at the profiles that qualify and have someone
free, so it costs O(G log A) however many agents there are.

Invariants (``_check``): every agent on the roster is in exactly the profile
of its skills and capacity keys; an agent is in a free heap exactly when it
is available with room in that key and not resting (cooling down, see
:mod:`~triage_queue.dispatch.strain`), at its current selection order; a
profile is in ``free`` exactly when one of its heaps is non-empty.

Determinism: profiles are numbered in the order they first appear and every
choice between them is broken by that number; a custom strategy whose
``order`` ties is broken by the order agents joined; nothing depends on
hashing objects or strings.

>>> from triage_queue.agents import Agent, Roster
>>> from triage_queue.selection import LongestIdle
>>> roster = Roster([Agent("ana", skills=["api"]), Agent("bo")])
>>> presence = Presence(LongestIdle())
>>> for agent in roster: presence.place(roster.state(agent.id))
>>> len(presence.profiles), presence.routable(SkillSet(["api"]), None)
(2, True)
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from triage_queue.agents import ANY_CHANNEL, Agent, AgentState, AgentStatus
from triage_queue.errors import Empty, InvalidArgument, InvalidValue
from triage_queue.heap import IndexedHeap
from triage_queue.selection import LeastLoaded, LongestIdle, MostProficient, RoundRobin, Selection
from triage_queue.ticket import SkillSet, Ticket
from triage_queue.wire import Reader

__all__ = ["Presence", "Profile", "profile_key"]

# Strategies whose order already ends with the agent's join number, so it
# never ties between two agents.
_UNIQUE_ORDER = (LongestIdle, LeastLoaded, MostProficient, RoundRobin)
# Strategies whose fit is () for every agent and ticket: routing compares
# orders alone (the same choice, without a call per profile).
_CONSTANT_FIT = (LongestIdle, LeastLoaded, RoundRobin)


class Profile:
    """Agents alike in skills and capacity keys, with the free ones of each
    capacity key in a heap ordered by the selection strategy."""

    __slots__ = ("agents", "capacity", "default_slot", "free", "number", "only", "sample", "skills")

    def __init__(self, sample: Agent, number: int) -> None:
        """Runtime complexity: O(capacity keys)."""
        self.number = number  # creation order: breaks every tie between profiles
        self.skills = sample.skills
        self.capacity = sample.capacity
        # The capacity key of a ticket on a channel not named (or none).
        self.default_slot = ANY_CHANNEL if ANY_CHANNEL in sample.capacity else None
        self.sample = sample  # for Selection.fit, which reads skills and capacity only
        self.agents: dict[str, None] = {}  # in the order they were placed
        self.free: dict[str, IndexedHeap[str, tuple[Any, ...]]] = {slot: IndexedHeap() for slot in sample.capacity}
        # The one (capacity key, free heap) of a profile with a single key (the
        # usual case): refresh then needs no loop.
        self.only = next(iter(self.free.items())) if len(self.free) == 1 else None

    def slot_for(self, channel: str | None) -> str | None:
        """The capacity key a ticket on ``channel`` counts against, or None.
        Runtime complexity: O(1)."""
        return self.sample.slot_for(channel)  # every agent of the profile has the same keys


def profile_key(agent: Agent) -> tuple[Any, ...]:
    """What makes two agents share a profile.  Runtime complexity: O(C log C)."""
    return (agent.skills, tuple(sorted(agent.capacity.items())))


def first_not_in(heap: IndexedHeap[str, tuple[Any, ...]], excluded: Container[str]) -> tuple[str, tuple[Any, ...]] | None:
    """The best agent in a free heap not in ``excluded``: rare (after a
    decline), so a linear pass is fine.  Runtime complexity: O(heap size)."""
    best = None
    for agent_id in heap:
        if agent_id in excluded:
            continue
        order = heap[agent_id]
        if best is None or order < best[1]:
            best = (agent_id, order)
    return best


class Presence:
    """The profiles of a desk's agents and who among them is free."""

    __slots__ = ("_constant_fit", "_count", "_longest_idle", "_unique_order", "free", "narrowed", "profile_of",
                 "profiles", "profiles_for", "resting", "routable_memo", "selection", "widened")

    def __init__(self, selection: Selection) -> None:
        """Runtime complexity: O(1)."""
        self.selection = selection
        self._unique_order = selection.__class__ in _UNIQUE_ORDER
        self._longest_idle = selection.__class__ is LongestIdle  # its order, inline: (idle_since, joined)
        self._constant_fit = selection.__class__ in _CONSTANT_FIT
        self.profiles: dict[tuple[Any, ...], Profile] = {}
        self.profile_of: dict[str, Profile] = {}
        self.profiles_for: dict[SkillSet, list[Profile]] = {}  # memo: profiles whose skills satisfy a requirement
        # Profiles with at least one agent free in some capacity key, by
        # number: routing a ticket looks at these when they are fewer than
        # the eligible ones.
        self.free: dict[int, Profile] = {}
        self._count = 0
        # Whether a ticket of a (required skills, channel) kind could be
        # taken by someone on the roster, memoised until some profile gains
        # its first agent (``widened``) or loses its last (``narrowed``).
        self.routable_memo: dict[tuple[SkillSet, str | None], bool] = {}
        self.widened = self.narrowed = False
        # Agents cooling down (the strain part's, shared): in no free heap.
        self.resting: dict[str, float] = {}

    def place(self, state: AgentState) -> None:
        """An agent joined or moved to another profile (taken out of its
        old one here).  The strategy's order is computed before anything
        changes, so a strategy that raises leaves the presence as it was.
        Runtime complexity: O(G + C log A) for a new profile, else O(C log A)."""
        agent = state.agent
        order = self.order_of(state)  # first: the only call that can raise
        if agent.id in self.profile_of:
            self.unplace(agent.id)
        key = profile_key(agent)
        profile = self.profiles.get(key)
        if profile is None:
            profile = Profile(agent, self._count)
            self._count += 1
            self.profiles[key] = profile
            for requirement, profiles in self.profiles_for.items():
                if requirement.satisfied_by(agent.skills):
                    profiles.append(profile)
        if not profile.agents:
            self.widened = True
        profile.agents[agent.id] = None
        self.profile_of[agent.id] = profile
        self._file(state, profile, order)

    def order_of(self, state: AgentState) -> tuple[Any, ...] | None:
        """The agent's key in a free heap (the strategy's order, ties broken
        by the order agents joined) if it is free in some capacity key, else
        None.  Calls the strategy and changes nothing.
        Runtime complexity: O(C) plus the strategy's order."""
        agent = state.agent
        if agent.status is not AgentStatus.AVAILABLE or (self.resting and agent.id in self.resting):
            return None
        load = state.load
        if not any(load.get(slot, 0) < limit for slot, limit in agent.capacity.items()):
            return None
        if self._longest_idle:
            return (state.idle_since, state.joined)
        key = self.selection.order(state)
        return key if self._unique_order else (*key, state.joined)  # a custom order may tie

    def _file(self, state: AgentState, profile: Profile, order: tuple[Any, ...] | None) -> None:
        # Put the agent in (or take it out of) each free heap of its profile,
        # at ``order`` (from order_of: None if it is free nowhere).
        agent_id = state.agent.id
        load = state.load
        capacity = state.agent.capacity
        any_free = False
        for slot, heap in profile.free.items():
            if order is not None and load.get(slot, 0) < capacity[slot]:
                heap[agent_id] = order
                any_free = True
            else:
                heap.pop(agent_id, None)
                if heap:
                    any_free = True
        if any_free:
            self.free[profile.number] = profile
        else:
            self.free.pop(profile.number, None)

    def unplace(self, agent_id: str) -> None:
        """An agent left, or is about to move to another profile.
        Runtime complexity: O(C log A)."""
        profile = self.profile_of.pop(agent_id)
        del profile.agents[agent_id]
        if not profile.agents:
            self.narrowed = True
        for heap in profile.free.values():
            heap.pop(agent_id, None)
        if not any(profile.free.values()):
            self.free.pop(profile.number, None)

    def refresh(self, state: AgentState) -> None:
        """Put the agent in the free heap of each capacity key it has room
        in, at its current selection order.  Runtime complexity: O(C log A)."""
        agent = state.agent
        agent_id = agent.id
        profile = self.profile_of.get(agent_id)
        if profile is None:
            return
        only = profile.only
        if only is not None:
            # One capacity key: the loop below, unrolled (twice per ticket).
            slot, heap = only
            if (
                agent.status is AgentStatus.AVAILABLE
                and state.load.get(slot, 0) < agent.capacity[slot]
                and (not self.resting or agent_id not in self.resting)
            ):
                if self._longest_idle:
                    heap[agent_id] = (state.idle_since, state.joined)
                else:
                    key = self.selection.order(state)
                    heap[agent_id] = key if self._unique_order else (*key, state.joined)
                self.free[profile.number] = profile
                return
            heap.pop(agent_id, None)
            if heap:
                self.free[profile.number] = profile
            else:
                self.free.pop(profile.number, None)
            return
        # Several capacity keys: the order first (the strategy may raise),
        # then the heaps.
        self._file(state, profile, self.order_of(state))

    def eligible(self, requirement: SkillSet) -> list[Profile]:
        """The profiles whose skills satisfy ``requirement``, in creation
        order.  Runtime complexity: O(1) memoised, else O(G)."""
        profiles = self.profiles_for.get(requirement)
        if profiles is None:
            if len(self.profiles_for) >= 65_536:
                self.profiles_for.clear()
            profiles = [p for p in self.profiles.values() if requirement.satisfied_by(p.skills)]
            self.profiles_for[requirement] = profiles
        return profiles

    def pick(self, ticket: Ticket, requirement: SkillSet, channel: str | None, passed: dict[str, float] | None) -> str | None:
        """The free agent the strategy prefers for a ticket of this lane (not
        one in ``passed``), or None.  Runtime complexity: O(G log A)."""
        free = self.free
        if not free:
            return None  # every agent busy: the usual state under load, O(1)
        eligible = self.eligible(requirement)
        if len(free) < len(eligible):
            satisfied = requirement.satisfied_by
            eligible = [p for p in free.values() if satisfied(p.skills)]
        best: tuple[Any, ...] | None = None
        best_agent = None
        fit = None if self._constant_fit else self.selection.fit
        for profile in eligible:
            if channel is not None and channel in profile.capacity:
                slot = channel
            elif profile.default_slot is not None:
                slot = profile.default_slot
            else:
                continue
            heap = profile.free[slot]
            try:
                agent_id, order = heap.peekitem()
            except Empty:  # no one free in this capacity key (cheaper than a truth test first)
                continue
            if passed and agent_id in passed:
                found = first_not_in(heap, passed)
                if found is None:
                    continue
                agent_id, order = found
            # Orders never tie between agents, so neither do the keys: the
            # choice does not depend on the order profiles are looked at.
            key = order if fit is None else (fit(profile.sample, ticket), order)
            if best is None or key < best:
                best = key
                best_agent = agent_id
        return best_agent

    def routable(self, skills: SkillSet, channel: str | None) -> bool:
        """Whether some agent on the roster, in any status, could ever take a
        ticket requiring ``skills`` (preferred skills relax away) on
        ``channel``.  Runtime complexity: O(1) memoised, else O(G)."""
        key = (skills, channel)
        known = self.routable_memo.get(key)
        if known is None:
            known = False
            for profile in self.eligible(skills):
                if profile.agents:
                    slot = profile.slot_for(channel)
                    if slot is not None and profile.capacity[slot] > 0:
                        known = True
                        break
            if len(self.routable_memo) >= 4096:
                self.routable_memo.clear()
            self.routable_memo[key] = known
        return known

    def anyone_has(self, skills: SkillSet) -> bool:
        """Whether some agent on the roster has ``skills``.  Runtime complexity: O(G)."""
        return any(p.agents for p in self.eligible(skills))

    def export(self) -> list[dict[str, Any]]:
        """The profiles in the order they were created (their numbers, which
        break ties), as plain data.  Runtime complexity: O(G)."""
        return [{"skills": dict(p.skills.items()), "capacity": dict(sorted(p.capacity.items()))} for p in self.profiles.values()]

    def load(self, data: Reader) -> None:
        """Create the profiles :meth:`export` gave, in order and still empty
        (then :meth:`place` each agent).  Runtime complexity: O(G)."""
        for item in data.items():
            try:
                sample = Agent("profile", skills=item.raw("skills"), capacity=item.raw("capacity"))
            except InvalidValue as exc:
                raise InvalidArgument(item.path, item.data, f"not a profile: {exc}") from None
            key = profile_key(sample)
            if key in self.profiles:
                raise InvalidArgument(item.path, item.data, "a profile listed twice")
            self.profiles[key] = Profile(sample, self._count)
            self._count += 1

    def _check(self, states: dict[str, AgentState]) -> None:
        """Assert the profiles agree with the roster's live ``states``."""
        assert set(self.profile_of) == set(states), "profiles and roster disagree on who is here"
        for agent_id, state in states.items():
            profile = self.profile_of[agent_id]
            assert agent_id in profile.agents and profile is self.profiles[profile_key(state.agent)]
            for slot, heap in profile.free.items():
                should = (
                    state.agent.status is AgentStatus.AVAILABLE
                    and state.load.get(slot, 0) < state.agent.capacity[slot]
                    and agent_id not in self.resting
                )
                assert (agent_id in heap) == should, f"free heap of {agent_id!r} on {slot!r} out of step"
                if should:
                    order = self.selection.order(state)
                    if not self._unique_order:
                        order = (*order, state.joined)
                    assert heap[agent_id] == order, "stale selection order"
        for profile in self.profiles.values():
            for heap in profile.free.values():
                heap._check()
            has_free = any(profile.free.values())
            assert has_free == (self.free.get(profile.number) is profile), "free-profile index out of step"
        assert [p.number for p in self.profiles.values()] == sorted(p.number for p in self.profiles.values())
