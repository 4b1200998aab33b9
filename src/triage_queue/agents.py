"""Agents and the roster: who can handle what, how much at once, and what
each agent is doing now.

An :class:`Agent` is an immutable value (id, skills with proficiency 1..5,
capacity per channel, status, dedicated customers).  The :class:`Roster`
holds the current value of every agent together with its live
:class:`AgentState`: load per channel, when it last became idle, and who it
served recently.  A :class:`~triage_queue.Dispatcher` keeps the roster's
live state up to date; you change agents through the roster (or the
dispatcher), and a dispatcher using the roster reacts at once.

>>> roster = Roster()
>>> roster.add(Agent("ana", skills={"billing": 4, "german": 3}, capacity={"chat": 3, "phone": 1}))
>>> roster["ana"].capacity_for("chat"), roster["ana"].capacity_for("email")
(3, 0)
>>> roster.set_status("ana", "away").status
<AgentStatus.AWAY: 'away'>
"""

from __future__ import annotations

import enum
import sys
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from triage_queue.errors import (
    _MISSING,
    AgentBusy,
    DuplicateAgent,
    InvalidAgent,
    InvalidArgument,
    InvalidTicket,
    UnknownAgent,
    _bad_key,
    _brief,
    _json_data,
    _unknown_field,
    _wire_items,
)
from triage_queue.ticket import SkillSet, SkillsLike
from triage_queue.wire import Reader

__all__ = ["ANY_CHANNEL", "Agent", "AgentState", "AgentStatus", "Roster", "RosterSeam", "Service"]

ANY_CHANNEL = "*"
"""The capacity key that covers every channel not named on its own (and
tickets with no channel)."""

# Far above any real helpdesk's concurrency; catches unit mistakes early.
MAX_CAPACITY = 1000


class AgentStatus(enum.Enum):
    """Whether an agent may receive work.

    Only AVAILABLE agents get offers.  NOT_RESPONDING is set by a dispatcher
    when an agent lets an offer expire (if configured); the agent (or a
    supervisor) sets AVAILABLE again.
    """

    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"
    NOT_RESPONDING = "not_responding"

    @classmethod
    def parse(cls, value: AgentStatus | str) -> AgentStatus:
        """Accept a member or its value/name in any case.

        Runtime complexity: O(1).

        >>> AgentStatus.parse("Offline")
        <AgentStatus.OFFLINE: 'offline'>
        """
        if isinstance(value, AgentStatus):
            return value
        if isinstance(value, str):
            key = value.strip().lower()
            for member in cls:
                if member.value == key:
                    return member
        names = ", ".join(m.value for m in cls)
        raise InvalidAgent("status", value, f"expected one of {names}")


def _to_agent_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidAgent("id", value, "expected a non-empty string")
    return value


def _to_agent_skills(value: Any) -> SkillSet:
    try:
        return SkillSet.of(value if value is not None else ())
    except InvalidTicket as exc:
        raise InvalidAgent("skills", value, exc.reason) from None


def _to_capacity(value: Any) -> Mapping[str, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = {ANY_CHANNEL: value}
    if not isinstance(value, Mapping) or not value:
        raise InvalidAgent("capacity", value, "expected an int, or a non-empty mapping of channel to concurrent tickets")
    try:
        items = sorted(value.items(), key=lambda item: str(item[0]))
    except Exception as exc:  # a mapping whose items() or keys misbehave
        raise InvalidAgent("capacity", value, "expected a mapping of channel to concurrent tickets") from exc
    capacity = {}
    for channel, limit in items:
        if not isinstance(channel, str) or not channel:
            raise InvalidAgent("capacity", value, f"channel {_brief(channel)} must be a non-empty string")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_CAPACITY:
            raise InvalidAgent(
                "capacity", value, f"limit for {_brief(channel)} is {_brief(limit)}; expected an int 0..{MAX_CAPACITY}"
            )
        capacity[channel] = limit
    return MappingProxyType(capacity)


def _to_status(value: Any) -> AgentStatus:
    return AgentStatus.parse(value)


def _to_customers(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidAgent("dedicated_customers", value, "expected an iterable of customer ids")
    try:
        given = list(value)
    except Exception as exc:  # an __iter__ that raises
        raise InvalidAgent("dedicated_customers", value, "expected an iterable of customer ids") from exc
    # Checked in the order given (not the set's, which varies with
    # PYTHONHASHSEED), so the message names the same customer every run.
    for customer in given:
        if not isinstance(customer, str) or not customer:
            raise InvalidAgent("dedicated_customers", value, f"customer id {_brief(customer)} must be a non-empty string")
    try:
        return frozenset(given)
    except Exception as exc:  # a str subclass whose __hash__ or __eq__ raises
        raise InvalidAgent("dedicated_customers", value, "customer ids must be hashable strings") from exc


def _to_agent_attributes(value: Any) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidAgent("attributes", value, "expected a mapping with string keys")
    return MappingProxyType(dict(value))


@attrs.frozen(slots=True)
class Agent:
    """One agent, as an immutable value.

    ===================  =================================================
    id                   non-empty string, unique on a roster
    skills               ``{skill: proficiency 1..5}``, or names (level 1)
    capacity             concurrent tickets: an int for any channel, or
                         ``{"chat": 3, "phone": 1}``; the key ``"*"``
                         (:data:`ANY_CHANNEL`) covers channels not named
    status               :class:`AgentStatus` (or its value)
    dedicated_customers  customer ids this agent owns (VIP accounts)
    attributes           free mapping for your own strategies
    ===================  =================================================

    Each channel's tickets count against that channel's limit; a channel
    with no limit of its own counts against ``"*"``, and an agent with
    neither cannot take it.  Invalid values raise :class:`InvalidAgent`.

    Runtime complexity: construction O(k log k) for k skills and channels.

    >>> Agent("bo", capacity=-1)
    Traceback (most recent call last):
    ...
    triage_queue.errors.InvalidAgent: capacity={'*': -1}: limit for '*' is -1; expected an int 0..1000
    """

    id: str = attrs.field(converter=_to_agent_id)
    skills: SkillSet = attrs.field(factory=SkillSet, converter=_to_agent_skills)
    capacity: Mapping[str, int] = attrs.field(default=1, converter=_to_capacity, hash=False)
    status: AgentStatus = attrs.field(default=AgentStatus.AVAILABLE, converter=_to_status)
    dedicated_customers: frozenset[str] = attrs.field(factory=frozenset, converter=_to_customers)
    attributes: Mapping[str, Any] = attrs.field(factory=dict, converter=_to_agent_attributes, hash=False, repr=False)

    def slot_for(self, channel: str | None) -> str | None:
        """The capacity key a ticket on ``channel`` counts against, or None
        if this agent takes no such tickets.  Runtime complexity: O(1).

        >>> Agent("a", capacity={"chat": 2, "*": 1}).slot_for("email")
        '*'
        """
        capacity = self.capacity
        if channel is not None and channel in capacity:
            return channel
        return ANY_CHANNEL if ANY_CHANNEL in capacity else None

    def capacity_for(self, channel: str | None) -> int:
        """How many tickets on ``channel`` this agent may hold at once.
        Runtime complexity: O(1)."""
        slot = self.slot_for(channel)
        return 0 if slot is None else self.capacity[slot]

    def evolve(self, **changes: Any) -> Agent:
        """A copy with ``changes`` applied and validated; the id cannot change.

        Runtime complexity: O(number of fields + k log k).
        """
        if "id" in changes and _to_agent_id(changes["id"]) != self.id:
            raise InvalidAgent("id", changes["id"], f"an agent's id cannot change (it is {self.id!r})")
        unknown = set(changes) - {a.name for a in attrs.fields(Agent)}
        if unknown:
            name = sorted(unknown)[0]
            raise InvalidAgent(name, changes[name], "no such agent field")
        return attrs.evolve(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The agent as JSON data: ``id``, ``skills`` (``{name: level}``
        sorted by name), ``capacity`` (``{channel: limit}`` sorted by
        channel), ``status`` (its value), ``dedicated_customers`` (a sorted
        list) and ``attributes`` (a copy with every dict's keys sorted).
        The same agent always gives the same dict, and
        ``Agent.from_dict(json.loads(json.dumps(a.to_dict())))`` equals ``a``.

        Raises :class:`InvalidAgent` naming ``attributes`` and the path of
        the first value in them that is not JSON data.

        Runtime complexity: O(k + C + D log D + a log a) for k skills, C
        capacity keys, D dedicated customers and a attribute values.

        >>> Agent("ana", skills={"billing": 4}, capacity={"chat": 3}, dedicated_customers=["c2", "c1"]).to_dict()
        {'id': 'ana', 'skills': {'billing': 4}, 'capacity': {'chat': 3}, 'status': 'available', \
'dedicated_customers': ['c1', 'c2'], 'attributes': {}}
        """
        attributes = self.attributes
        return {
            "id": self.id,
            "skills": dict(self.skills.items()),
            "capacity": dict(self.capacity),
            "status": self.status.value,
            "dedicated_customers": _sorted_customers(self.dedicated_customers),
            "attributes": _json_data(InvalidAgent, "attributes", attributes) if attributes else {},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Agent:
        """The agent :meth:`to_dict` describes, validated as the constructor
        validates.  ``id`` is required; the other fields default as in the
        constructor.  Untrusted data is safe to pass: anything wrong raises
        :class:`InvalidAgent` naming the field, an unknown key (with the
        closest field name) or a missing one, and ``attributes`` must be
        JSON data.

        Runtime complexity: O(len(data) + k log k + C log C + D + a log a).

        >>> Agent.from_dict({"id": "bo", "capacity": {"phone": 1}, "status": "away"}).status
        <AgentStatus.AWAY: 'away'>
        >>> Agent.from_dict({"id": "bo", "skils": ["billing"]})
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidAgent: skils=['billing']: not an agent field; did you mean 'skills'?
        """
        items = _wire_items(InvalidAgent, "agent", data)
        for key, value in items.items():
            if key not in _AGENT_FIELDS:
                _unknown_field(InvalidAgent, key, value, _AGENT_FIELDS, "an agent field")
        if "id" not in items:
            raise InvalidAgent("id", _MISSING, "missing: an agent needs an id")
        attributes = items.get("attributes")
        if attributes is not None:
            items["attributes"] = _json_data(InvalidAgent, "attributes", attributes)
        return cls(**items)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            Agent,
            (self.id, self.skills, dict(self.capacity), self.status, self.dedicated_customers, dict(self.attributes)),
        )


_AGENT_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(Agent))


@attrs.frozen(slots=True)
class Service:
    """One ticket an agent took: for history and affinity."""

    ticket_id: str
    customer_id: str | None
    at: float


class AgentState:
    """The live state of one agent on a roster (read it; the roster and its
    dispatcher change it).

    ``agent`` is the current :class:`Agent` value; ``load`` maps capacity key
    to tickets offered or held; ``idle_since`` is when the agent last
    received an offer, finished or gave back a ticket, or became available;
    ``last_offer`` counts offers across the roster (for round robin);
    ``history`` holds the most recent :class:`Service` records.
    """

    __slots__ = (
        "agent",
        "declined",
        "expired",
        "history",
        "idle_since",
        "joined",
        "last_offer",
        "load",
        "offered",
        "served",
    )

    def __init__(self, agent: Agent, now: float, joined: int, history_size: int) -> None:
        self.agent = agent
        self.load: dict[str, int] = dict.fromkeys(agent.capacity, 0)
        self.idle_since = now
        self.last_offer = -1
        self.joined = joined
        self.offered = 0
        self.declined = 0
        self.expired = 0
        self.served = 0
        self.history: deque[Service] = deque(maxlen=history_size)

    @property
    def total_load(self) -> int:
        """Tickets offered to or held by this agent.  Runtime complexity: O(channels)."""
        return sum(self.load.values())

    @property
    def total_capacity(self) -> int:
        """The sum of this agent's channel limits.  Runtime complexity: O(channels)."""
        return sum(self.agent.capacity.values())

    def has_room(self, channel: str | None) -> bool:
        """Whether one more ticket on ``channel`` fits.  Runtime complexity: O(1)."""
        slot = self.agent.slot_for(channel)
        return slot is not None and self.load.get(slot, 0) < self.agent.capacity[slot]

    def __repr__(self) -> str:
        return f"<AgentState {self.agent.id!r} {self.agent.status.value} load={self.load} idle_since={self.idle_since}>"


def _sorted_customers(customers: frozenset[str]) -> list[str]:
    # Customer ids are strings, so sorted() works; a str subclass with an
    # odd __lt__ falls back to the order of the reprs.
    try:
        return sorted(customers)
    except Exception:
        return sorted(customers, key=_brief)


class Roster:
    """Every agent with its live state, indexed for dispatch.

    Changing an agent's status, skills or capacity is O(1) here plus what a
    dispatcher using the roster does to its indexes, O(log A) per capacity
    key for A agents; nothing is rebuilt.  Customers are indexed to their
    dedicated agent, and to the agent who last served them (the most recent
    ``customers`` customers are remembered).

    ``clock`` stamps when agents join and become idle; a dispatcher given
    this roster replaces it with its own clock and lock.

    Runtime complexity: see each method.
    """

    def __init__(
        self,
        agents: Iterable[Agent] = (),
        *,
        clock: Callable[[], float] | None = None,
        history: int = 20,
        customers: int = 100_000,
    ) -> None:
        """Runtime complexity: O(A) for A agents."""
        if isinstance(history, bool) or not isinstance(history, int) or not 0 <= history <= sys.maxsize:
            raise InvalidArgument("history", history, "expected an int 0..sys.maxsize (services remembered per agent)")
        if isinstance(customers, bool) or not isinstance(customers, int) or customers < 0:
            raise InvalidArgument("customers", customers, "expected an int >= 0 (customers remembered)")
        if clock is not None and not callable(clock):
            raise InvalidArgument("clock", clock, "expected a zero-argument callable returning seconds")
        if agents is None or isinstance(agents, str | bytes | Agent) or not isinstance(agents, Iterable):
            raise InvalidArgument("agents", agents, "expected an iterable of triage_queue.Agent")
        self._clock: Callable[[], float] = clock if clock is not None else (lambda: 0.0)
        self._states: dict[str, AgentState] = {}
        self._dedicated: dict[str, str] = {}
        self._last_agent: OrderedDict[str, str] = OrderedDict()
        self._history_size = history
        self._customers = customers
        self._joined = 0
        self._lock: threading.RLock = threading.RLock()
        # Called with (agent_id, old Agent or None, new Agent or None) after
        # every change, under the lock: the dispatcher's hook.
        self._observers: list[Callable[[str, Agent | None, Agent | None], None]] = []
        self._seam: RosterSeam | None = None  # the seam handed out by attach(), while one is attached
        # One flag per change being told to the observers (changes may nest):
        # whether the observer took it (see _notify).
        self._taken: list[bool] = []
        for agent in agents:
            self.add(agent)

    def attach(self, observer: Callable[[str, Agent | None, Agent | None], None]) -> RosterSeam:
        """Attach a dispatcher to this roster and return the :class:`RosterSeam`
        it drives the roster through; ``observer(agent_id, old, new)`` is
        called under the lock after every change (``old`` None for an agent
        that joined, ``new`` None for one that left); if it raises before
        calling ``seam.take()`` the roster undoes the change, and the error
        goes on to the caller.  A roster serves one
        dispatcher at a time: raises :class:`InvalidArgument` if one is
        attached; ``seam.detach()`` frees the roster again.

        Runtime complexity: O(1).

        >>> r = Roster([Agent("ana")]); seam = r.attach(lambda *change: None)
        >>> r.attach(print)
        Traceback (most recent call last):
        ...
        triage_queue.errors.InvalidArgument: roster=<Roster: 1 agent(s)>: this roster already has a dispatcher
        >>> seam.detach(); r.attach(print).detach()
        """
        if not callable(observer):
            raise InvalidArgument("observer", observer, "expected a callable taking (agent_id, old, new)")
        with self._lock:
            if self._seam is not None:
                raise InvalidArgument("roster", self, "this roster already has a dispatcher")
            seam = self._seam = RosterSeam(self, observer)
            self._observers.append(observer)
            return seam

    # -- reading ------------------------------------------------------------

    def __len__(self) -> int:
        """Number of agents.  Runtime complexity: O(1)."""
        return len(self._states)

    def __contains__(self, agent_id: object) -> bool:
        """Whether an agent with this id is on the roster.

        An id that cannot be looked up raises
        :class:`~triage_queue.errors.InvalidKey` (a ``TypeError``, as
        ``[] in {}`` does).  Runtime complexity: O(1).
        """
        try:
            return agent_id in self._states
        except Exception as exc:
            raise _bad_key("agent_id", agent_id, exc) from exc

    def __iter__(self) -> Iterator[Agent]:
        """A snapshot of the agents, in the order they joined.  Runtime complexity: O(A)."""
        with self._lock:
            return iter([s.agent for s in self._states.values()])

    def __getitem__(self, agent_id: str) -> Agent:
        """The agent with this id; :class:`UnknownAgent` if absent.  Runtime complexity: O(1)."""
        return self._state(agent_id).agent

    def get(self, agent_id: str) -> Agent | None:
        """The agent with this id, or None; :class:`~triage_queue.errors.InvalidKey`
        for an id that cannot be looked up.  Runtime complexity: O(1)."""
        try:
            state = self._states.get(agent_id)
        except Exception as exc:
            raise _bad_key("agent_id", agent_id, exc) from exc
        return None if state is None else state.agent

    def state(self, agent_id: str) -> AgentState:
        """The live state of an agent (load, idle since, history).

        Raises :class:`UnknownAgent`.  Runtime complexity: O(1).
        """
        return self._state(agent_id)

    def _state(self, agent_id: str) -> AgentState:
        # UnknownAgent, or InvalidKey for an id that cannot be looked up (an
        # unhashable one, or one whose __hash__ or __eq__ raises).
        try:
            state = self._states.get(agent_id)
        except Exception as exc:
            raise _bad_key("agent_id", agent_id, exc) from exc
        if state is None:
            raise UnknownAgent(agent_id)
        return state

    def dedicated_agent(self, customer_id: str) -> str | None:
        """The id of the agent who owns this customer, or None;
        :class:`~triage_queue.errors.InvalidKey` for an id that cannot be
        looked up.  Runtime complexity: O(1)."""
        try:
            return self._dedicated.get(customer_id)
        except Exception as exc:
            raise _bad_key("customer_id", customer_id, exc) from exc

    def last_agent(self, customer_id: str) -> str | None:
        """The id of the agent who last took this customer's ticket, or None
        (also None once the agent left); :class:`~triage_queue.errors.InvalidKey`
        for an id that cannot be looked up.  Runtime complexity: O(1)."""
        try:
            agent_id = self._last_agent.get(customer_id)
        except Exception as exc:
            raise _bad_key("customer_id", customer_id, exc) from exc
        return agent_id if agent_id in self._states else None

    def _affinity_agent(self, customer_id: str) -> str | None:
        # The agent a customer's ticket is kept for: dedicated, else the one
        # who last served them (if still here); None if neither.
        agent_id = self._dedicated.get(customer_id)
        if agent_id is None:
            agent_id = self._last_agent.get(customer_id)
            if agent_id not in self._states:
                return None
        return agent_id

    def history(self, agent_id: str) -> list[Service]:
        """The agent's most recent services, oldest first.

        Raises :class:`UnknownAgent`.  Runtime complexity: O(history size).
        """
        with self._lock:
            return list(self._state(agent_id).history)

    # -- changing -----------------------------------------------------------

    def add(self, agent: Agent) -> None:
        """Add an agent (idle from now).

        Raises :class:`DuplicateAgent`, :class:`InvalidArgument` for a
        non-Agent, or :class:`InvalidAgent` if one of its dedicated customers
        already belongs to another agent.  Runtime complexity: O(D + log A)
        for D dedicated customers.

        >>> r = Roster(); r.add(Agent("ana")); len(r)
        1
        """
        if not isinstance(agent, Agent):
            raise InvalidArgument("agent", agent, "expected a triage_queue.Agent")
        with self._lock:
            if agent.id in self._states:
                raise DuplicateAgent(agent.id)
            state = AgentState(agent, self._clock(), self._joined, self._history_size)
            self._claim_customers(agent, None)
            self._states[agent.id] = state
            self._joined += 1

            def undo() -> None:
                if self._states.get(agent.id) is state:
                    del self._states[agent.id]
                for customer in agent.dedicated_customers:
                    if self._dedicated.get(customer) == agent.id:
                        del self._dedicated[customer]
                self._joined -= 1

            self._notify(agent.id, None, agent, undo)

    def remove(self, agent_id: str) -> Agent:
        """Remove an agent who holds no offer or ticket.

        Raises :class:`UnknownAgent` or :class:`AgentBusy`.  Set the agent
        OFFLINE first to take back its pending offers.  Runtime complexity:
        O(D + log A).
        """
        with self._lock:
            state = self._state(agent_id)
            agent_id = state.agent.id  # the key itself, not an object equal to it
            if state.total_load:
                raise AgentBusy(agent_id, f"still has {state.total_load} ticket(s) offered or assigned")
            for customer in state.agent.dedicated_customers:
                self._dedicated.pop(customer, None)
            del self._states[agent_id]
            self._notify(agent_id, state.agent, None, lambda: self._unremove(state))
            return state.agent

    def replace(self, agent: Agent) -> Agent:
        """Put a new value for an agent already on the roster (status,
        skills, capacity, dedicated customers...); return the new value.

        Lowering capacity below the current load is allowed: the agent simply
        gets nothing new until its load drops.  Raises :class:`UnknownAgent`
        or :class:`InvalidAgent`.  Runtime complexity: O(D + log A) here,
        plus O(C log A) in a dispatcher for C capacity keys.
        """
        if not isinstance(agent, Agent):
            raise InvalidArgument("agent", agent, "expected a triage_queue.Agent")
        with self._lock:
            state = self._state(agent.id)
            old = state.agent
            try:
                same = old == agent and old.capacity == agent.capacity and old.attributes == agent.attributes
            except Exception as exc:  # only attributes hold user values
                raise InvalidAgent("attributes", agent.attributes, "cannot be compared with the current attributes") from exc
            if same:
                return old
            idle_since = state.idle_since
            if old.status is not AgentStatus.AVAILABLE and agent.status is AgentStatus.AVAILABLE:
                idle_since = max(idle_since, self._clock())
            self._claim_customers(agent, old)
            for customer in old.dedicated_customers - agent.dedicated_customers:
                self._dedicated.pop(customer, None)
            added = [slot for slot in agent.capacity if slot not in state.load]
            state.agent = agent
            for slot in added:
                state.load[slot] = 0
            state.idle_since, was_idle_since = idle_since, state.idle_since

            def undo() -> None:
                if state.agent is agent:
                    state.agent = old
                    state.idle_since = was_idle_since
                    for slot in added:
                        if not state.load.get(slot):
                            state.load.pop(slot, None)
                for customer in agent.dedicated_customers - old.dedicated_customers:
                    if self._dedicated.get(customer) == agent.id:
                        del self._dedicated[customer]
                for customer in old.dedicated_customers - agent.dedicated_customers:
                    self._dedicated[customer] = agent.id

            self._notify(agent.id, old, agent, undo)
            return agent

    def update(self, agent_id: str, **changes: Any) -> Agent:
        """Change fields of an agent (see :meth:`replace`).

        Runtime complexity: as :meth:`replace`.

        >>> r = Roster([Agent("ana", skills=["billing"])])
        >>> dict(r.update("ana", skills={"billing": 5}).skills)
        {'billing': 5}
        """
        with self._lock:
            return self.replace(self._state(agent_id).agent.evolve(**changes))

    def set_status(self, agent_id: str, status: AgentStatus | str) -> Agent:
        """Set an agent's status.  Runtime complexity: as :meth:`replace`."""
        return self.update(agent_id, status=status)

    def set_skills(self, agent_id: str, skills: SkillsLike) -> Agent:
        """Set an agent's skills.  Runtime complexity: as :meth:`replace`."""
        return self.update(agent_id, skills=skills)

    def set_capacity(self, agent_id: str, capacity: int | Mapping[str, int]) -> Agent:
        """Set an agent's capacity.  Runtime complexity: as :meth:`replace`."""
        return self.update(agent_id, capacity=capacity)

    # -- internals ------------------------------------------------------------

    def _claim_customers(self, agent: Agent, old: Agent | None) -> None:
        for customer in agent.dedicated_customers:
            owner = self._dedicated.get(customer)
            if owner is not None and owner != agent.id:
                # Sorted, not the set's order (which varies with
                # PYTHONHASHSEED): the same customer is named every run.
                customers = _sorted_customers(agent.dedicated_customers)
                taken = next(c for c in customers if self._dedicated.get(c, agent.id) != agent.id)
                raise InvalidAgent(
                    "dedicated_customers",
                    customers,
                    f"customer {_brief(taken)} already belongs to agent {_brief(self._dedicated[taken])}",
                )
        for customer in agent.dedicated_customers:
            self._dedicated[customer] = agent.id

    def _unremove(self, state: AgentState) -> None:
        # Put back an agent just removed, at its place in the order agents
        # joined (the states are kept in that order).  O(A): only when a
        # removal is refused.
        agent = state.agent
        states = self._states
        entries = list(states.items())
        at = next((i for i, (_, other) in enumerate(entries) if other.joined > state.joined), len(entries))
        entries.insert(at, (agent.id, state))
        states.clear()  # the same dict: a dispatcher's seam holds it
        states.update(entries)
        for customer in agent.dedicated_customers:
            self._dedicated[customer] = agent.id

    def _record_service(self, state: AgentState, ticket_id: str, customer_id: str | None, now: float) -> None:
        state.history.append(Service(ticket_id, customer_id, now))
        state.served += 1
        if customer_id is not None and self._customers:
            last = self._last_agent
            last[customer_id] = state.agent.id
            last.move_to_end(customer_id)
            if len(last) > self._customers:
                last.popitem(last=False)

    # -- plain data ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The roster as plain JSON data: every agent in the order it joined,
        with its live state (load per capacity key, idle since, counters,
        recent services), and which agent last served each remembered
        customer, oldest first.  What :meth:`from_dict` reads back.

        Runtime complexity: O(A·H + customers) for H services kept per agent.

        >>> r = Roster([Agent("ana")]); r.to_dict()["agents"][0]["load"]
        {'*': 0}
        """
        with self._lock:
            return {
                "history": self._history_size,
                "customers": self._customers,
                "joined": self._joined,
                "agents": [
                    {
                        "agent": s.agent.to_dict(),
                        "joined": s.joined,
                        "load": dict(sorted(s.load.items())),
                        "idle_since": s.idle_since,
                        "last_offer": s.last_offer,
                        "offered": s.offered,
                        "declined": s.declined,
                        "expired": s.expired,
                        "served": s.served,
                        "services": [[v.ticket_id, v.customer_id, v.at] for v in s.history],
                    }
                    for s in self._states.values()
                ],
                "last_agent": [[customer, agent_id] for customer, agent_id in self._last_agent.items()],
            }

    @classmethod
    def from_dict(cls, data: Any, *, clock: Callable[[], float] | None = None, path: str = "roster") -> Roster:
        """The roster :meth:`to_dict` describes, with every value checked:
        anything wrong raises :class:`InvalidArgument` (or :class:`InvalidAgent`
        for an agent's own fields) naming its path in the data.

        Runtime complexity: O(A·H + customers).

        >>> r = Roster([Agent("ana", dedicated_customers=["acme"])])
        >>> Roster.from_dict(r.to_dict()).dedicated_agent("acme")
        'ana'
        """
        top = Reader(data, path)
        roster = cls((), clock=clock, history=top.integer("history", high=sys.maxsize), customers=top.integer("customers"))
        joined = top.integer("joined")
        for item in top.seq("agents").items():
            agent = Agent.from_dict(item.raw("agent"))
            if agent.id in roster._states:
                raise InvalidArgument(item.path + ".agent.id", agent.id, "an agent listed twice")
            roster._claim_customers(agent, None)
            number = item.integer("joined", high=max(0, joined - 1))
            state = AgentState(agent, item.real("idle_since"), number, roster._history_size)
            load = item.table("load")
            for slot in agent.capacity:
                state.load[slot] = load.integer(slot, high=MAX_CAPACITY)
            # A capacity key removed while tickets on it were out keeps its load.
            for slot in load.data:
                if slot not in agent.capacity:
                    if not isinstance(slot, str) or len(state.load) > 2 * MAX_CAPACITY:
                        raise InvalidArgument(load.path, _brief(slot), "expected a capacity key")
                    state.load[slot] = load.integer(slot, high=MAX_CAPACITY)
            state.last_offer = item.integer("last_offer", low=-1)
            state.offered, state.declined = item.integer("offered"), item.integer("declined")
            state.expired, state.served = item.integer("expired"), item.integer("served")
            for service in item.seq("services").items():
                ticket_id, customer_id, at = service.fields(str, (str, type(None)), float)
                state.history.append(Service(ticket_id, customer_id, at))
            roster._states[agent.id] = state
        roster._joined = joined
        for entry in top.seq("last_agent").items():
            customer_id, agent_id = entry.fields(str, str)
            roster._last_agent[customer_id] = agent_id
        return roster

    def _notify(self, agent_id: str, old: Agent | None, new: Agent | None, undo: Callable[[], None]) -> None:
        # Tell the observers of a change already made.  If one raises before
        # it took the change (RosterSeam.take: a dispatcher whose selection
        # strategy raised, say), undo() puts the roster back as it was; after
        # that, the change stays.  The error goes on unchanged either way.
        taken = self._taken
        taken.append(False)
        try:
            for observer in self._observers:
                observer(agent_id, old, new)
        except BaseException:
            if not taken.pop():
                undo()
            raise
        taken.pop()

    def __repr__(self) -> str:
        return f"<Roster: {len(self)} agent(s)>"

    def _check(self) -> None:
        """Assert every invariant (used by the test suite)."""
        owners = {}
        for agent_id, state in self._states.items():
            assert state.agent.id == agent_id
            for slot, used in state.load.items():
                assert used >= 0, f"negative load for {agent_id!r} on {slot!r}"
            assert set(state.agent.capacity) <= set(state.load)
            for customer in state.agent.dedicated_customers:
                owners[customer] = agent_id
        assert owners == self._dedicated, "dedicated-customer index out of step"


class RosterSeam:
    """The interface a dispatcher uses to drive a :class:`Roster`; not for
    application code.  Get one with :meth:`Roster.attach`.

    It offers what a dispatcher needs beyond the public roster API: the
    live states of every agent (``states``, a read-only view by contract:
    the dispatcher changes the :class:`AgentState` values in it, never the
    mapping), the agent a customer's ticket is kept for, recording a
    service, and the lock and clock the roster uses while attached.

    >>> r = Roster([Agent("ana")]); seam = r.attach(lambda *change: None)
    >>> list(seam.states), seam.affinity_agent("acme")
    (['ana'], None)
    >>> seam.record_service(seam.states["ana"], "T-1", "acme", 5.0); seam.affinity_agent("acme")
    'ana'
    >>> seam.detach()
    """

    __slots__ = ("_clock", "_lock", "_observer", "_roster", "affinity_agent", "record_service", "state", "states")

    def __init__(self, roster: Roster, observer: Callable[[str, Agent | None, Agent | None], None]) -> None:
        """Made by :meth:`Roster.attach`.  Runtime complexity: O(1)."""
        self._roster = roster
        self._observer = observer
        self._clock = roster._clock  # the roster's own clock and lock, given back on detach
        self._lock = roster._lock
        # Bound once: a dispatcher calls these on every offer or acceptance.
        self.states: dict[str, AgentState] = roster._states
        """Agent id -> live state, in the order agents joined (read it; do not change the mapping)."""
        self.state: Callable[[str], AgentState] = roster._state
        """``state(agent_id)``: the live state, or :class:`UnknownAgent` (O(1))."""
        self.affinity_agent: Callable[[str], str | None] = roster._affinity_agent
        """``affinity_agent(customer_id)``: the agent a customer's ticket is kept
        for (dedicated, else the one who last served them, if still here), or None (O(1))."""
        self.record_service: Callable[[AgentState, str, str | None, float], None] = roster._record_service
        """``record_service(state, ticket_id, customer_id, now)``: the agent took
        a ticket (its history, served count and the customer's last agent; O(1))."""

    @property
    def roster(self) -> Roster:
        """The roster this seam drives.  Runtime complexity: O(1)."""
        return self._roster

    def use(self, *, lock: threading.RLock, clock: Callable[[], float]) -> None:
        """Share ``lock`` with the dispatcher and read ``clock`` while attached
        (:meth:`detach` gives the roster its own back).  Runtime complexity: O(1)."""
        self._roster._lock = lock
        self._roster._clock = clock

    def take(self) -> None:
        """Called by the observer during a change: it has taken the change,
        so an error it raises from now on leaves the change made.  (An error
        raised before this undoes the roster's change.)  Runtime complexity: O(1).

        >>> r = Roster(); seam = r.attach(lambda *change: seam.take() or 1 / 0)
        >>> r.add(Agent("ana"))
        Traceback (most recent call last):
        ...
        ZeroDivisionError: division by zero
        >>> "ana" in r
        True
        >>> r = Roster(); seam = r.attach(lambda *change: 1 / 0)
        >>> r.add(Agent("bo"))
        Traceback (most recent call last):
        ...
        ZeroDivisionError: division by zero
        >>> "bo" in r
        False
        """
        taken = self._roster._taken
        if taken:
            taken[-1] = True

    def detach(self) -> None:
        """Free the roster: no more calls to the observer, its own clock and
        lock back.  Raises :class:`InvalidArgument` if this seam is no
        longer attached.  Runtime complexity: O(observers)."""
        roster = self._roster
        with roster._lock:
            if roster._seam is not self:
                raise InvalidArgument("seam", self, "this seam is not attached to its roster any more")
            roster._seam = None
            roster._observers.remove(self._observer)
            roster._lock, roster._clock = self._lock, self._clock

    def __repr__(self) -> str:
        return f"<RosterSeam of {self._roster!r}>"
