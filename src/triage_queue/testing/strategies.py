"""Hypothesis strategies for property-testing your own routing policies.

Needs hypothesis (``pip install 'triage-queue[testing]'``).  Every strategy
produces valid values; keyword arguments narrow what is drawn.  Values are
kept small on purpose (a few skill names, tiers and customers, times in
whole seconds most of the time) so that ties and collisions, where ordering
bugs hide, happen often.

==================  =========================================================
:func:`severities`  a :class:`~triage_queue.Severity`
:func:`skills`      a :class:`~triage_queue.SkillSet`
:func:`tickets`     one :class:`~triage_queue.Ticket`
:func:`ticket_lists`  lists of tickets with distinct ids
:func:`agents`      one :class:`~triage_queue.Agent`
:func:`rosters`     lists of agents with distinct ids
:func:`rules`       one built-in rule with drawn parameters
:func:`policies`    a :class:`~triage_queue.Policy` built from the rule set
==================  =========================================================

>>> from hypothesis import given, settings
>>> from triage_queue import Policy, TicketQueue
>>> from triage_queue.testing import FakeClock
>>> @settings(max_examples=25)
... @given(ticket_lists(max_size=10))
... def test_emergencies_first(batch):
...     queue = TicketQueue(Policy.default(), clock=FakeClock(86_400.0))
...     for ticket in batch:
...         queue.push(ticket)
...     served = [queue.pop().severity for _ in batch]
...     critical = [s == Severity.CRITICAL for s in served]
...     assert critical == sorted(critical, reverse=True)
>>> test_emergencies_first()
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

from triage_queue.agents import Agent, AgentStatus
from triage_queue.errors import InvalidArgument
from triage_queue.policy import Composition, Policy
from triage_queue.rules import DEFAULT_TIERS, Aging, Complexity, Emergency, FeedbackOrder, Rule, SlaDeadline, Vip
from triage_queue.ticket import Severity, SkillSet, Ticket

__all__ = [
    "CHANNELS",
    "CUSTOMERS",
    "DAY",
    "RULE_KINDS",
    "SKILL_NAMES",
    "TIERS",
    "agents",
    "policies",
    "rosters",
    "rules",
    "severities",
    "skills",
    "ticket_lists",
    "tickets",
]

SKILL_NAMES: tuple[str, ...] = ("billing", "payments", "api", "german", "mobile")
"""The skill names drawn by default."""

TIERS: tuple[str | None, ...] = (None, "standard", "silver", "gold", "platinum")
"""The customer tiers drawn by default: no tier, and those of :data:`~triage_queue.DEFAULT_TIERS`."""

CHANNELS: tuple[str | None, ...] = (None, "chat", "email", "phone")
"""The channels drawn by default (None: a ticket with no channel)."""

CUSTOMERS: tuple[str | None, ...] = (None, "cust-1", "cust-2", "cust-3")
"""The customer ids drawn by default; repeated, so affinity comes into play."""

DAY = 86_400.0
"""Seconds in a day: the default range of ``created_at`` is ``(0, DAY)``."""

RULE_KINDS: tuple[str, ...] = ("emergency", "vip", "complexity", "feedback_order", "aging", "sla_deadline")
"""The built-in rule kinds :func:`rules` and :func:`policies` draw from."""


def _times(low: float, high: float) -> st.SearchStrategy[float]:
    # Whole seconds most of the time, so equal times (ties) are common.
    whole = st.integers(math.ceil(low), math.floor(high)).map(float) if math.ceil(low) <= high else st.nothing()
    return st.one_of(whole, whole, st.floats(low, high, allow_nan=False, allow_infinity=False))


def severities(allowed: Iterable[Severity | str | int] | None = None) -> st.SearchStrategy[Severity]:
    """A severity, from ``allowed`` (members, names or numbers) or any.

    Runtime complexity: O(1) per draw.

    >>> from hypothesis import find
    >>> find(severities(["high", "critical"]), lambda s: True)
    <Severity.HIGH: 3>
    """
    if allowed is None:
        return st.sampled_from(list(Severity))
    return st.sampled_from(sorted({Severity.parse(s) for s in allowed}))


def skills(
    names: Sequence[str] = SKILL_NAMES, *, min_size: int = 0, max_size: int = 2, min_level: int = 1, max_level: int = 5
) -> st.SearchStrategy[SkillSet]:
    """A :class:`~triage_queue.SkillSet` of ``min_size..max_size`` of the
    ``names``, each at a level in ``min_level..max_level``.

    Runtime complexity: O(size) per draw.

    >>> from hypothesis import find
    >>> find(skills(["billing", "api"], min_size=1, min_level=3), lambda s: "api" in s)
    SkillSet({'api': 3})
    """
    return st.dictionaries(
        st.sampled_from(tuple(names)), st.integers(min_level, max_level), min_size=min_size, max_size=max_size
    ).map(SkillSet)


def tickets(
    *,
    ids: st.SearchStrategy[str] | None = None,
    severity: Iterable[Severity | str | int] | None = None,
    tiers: Sequence[str | None] = TIERS,
    created: tuple[float, float] = (0.0, DAY),
    complexity: tuple[int, int] = (1, 5),
    skill_names: Sequence[str] = SKILL_NAMES,
    max_skills: int = 2,
    channels: Sequence[str | None] = CHANNELS,
    customers: Sequence[str | None] = CUSTOMERS,
    contacts: tuple[int, int] = (1, 3),
    sla: bool = True,
) -> st.SearchStrategy[Ticket]:
    """One valid ticket.

    ``ids`` draws the id (default ``"T-0"`` .. ``"T-999"``); ``severity``
    limits the severities; ``tiers`` the customer tiers (None: no tier);
    ``created`` is the range of ``created_at``; ``complexity`` and
    ``contacts`` are inclusive ranges; the required skills are up to
    ``max_skills`` of ``skill_names`` (0 for tickets anyone can take);
    ``sla=False`` leaves ``sla_due`` unset, otherwise it is unset or up to
    eight hours after creation.

    Runtime complexity: O(skills) per draw.

    >>> from hypothesis import find
    >>> t = find(tickets(severity=["critical"], tiers=["gold"], created=(10, 20)), lambda t: t.complexity > 3)
    >>> t.severity.name, t.customer_tier, t.created_at, t.complexity
    ('CRITICAL', 'gold', 10.0, 4)
    """
    low, high = created
    # Sub-strategies are built once here, not inside each draw: building
    # strategies is far slower than drawing from them.
    id_strategy = ids if ids is not None else st.integers(0, 999).map(lambda n: f"T-{n}")
    created_strategy = _times(low, high)
    due_after = st.one_of(st.none(), st.sampled_from([0.0, 900.0, 3600.0]), st.floats(0, 8 * 3600)) if sla else st.none()
    severity_strategy = severities(severity)
    tier_strategy = st.sampled_from(tuple(tiers))
    complexity_strategy = st.integers(*complexity)
    skill_strategy = skills(skill_names, max_size=max_skills) if max_skills else st.just(SkillSet())
    contact_strategy = st.integers(*contacts)
    customer_strategy = st.sampled_from(tuple(customers))
    channel_strategy = st.sampled_from(tuple(channels))

    @st.composite
    def build(draw: st.DrawFn) -> Ticket:
        created_at = draw(created_strategy)
        offset = draw(due_after)
        return Ticket(
            draw(id_strategy),
            created_at,
            severity=draw(severity_strategy),
            customer_tier=draw(tier_strategy),
            complexity=draw(complexity_strategy),
            skills=draw(skill_strategy),
            contacts=draw(contact_strategy),
            sla_due=None if offset is None else created_at + offset,
            customer_id=draw(customer_strategy),
            channel=draw(channel_strategy),
        )

    return build()


def ticket_lists(*, min_size: int = 0, max_size: int = 20, **fields: Any) -> st.SearchStrategy[list[Ticket]]:
    """Lists of tickets with distinct ids (``fields`` as for :func:`tickets`):
    what you push into one queue.

    Runtime complexity: O(size) per draw.

    >>> from hypothesis import find
    >>> batch = find(ticket_lists(min_size=5, max_size=5), lambda b: True)
    >>> len({t.id for t in batch})
    5
    """
    return st.lists(tickets(**fields), min_size=min_size, max_size=max_size, unique_by=lambda t: t.id)


def agents(
    *,
    ids: st.SearchStrategy[str] | None = None,
    skill_names: Sequence[str] = SKILL_NAMES,
    max_skills: int = 3,
    capacity: tuple[int, int] = (1, 3),
    channels: Sequence[str] | None = None,
    statuses: Collection[AgentStatus | str] = (AgentStatus.AVAILABLE,),
    dedicated: Sequence[str] = (),
) -> st.SearchStrategy[Agent]:
    """One valid agent.

    ``ids`` draws the id (default ``"agent-0"`` .. ``"agent-99"``); the
    agent has up to ``max_skills`` of ``skill_names`` at levels 1..5; its
    capacity is in the inclusive range ``capacity``, for any channel or, with
    ``channels``, per channel (a random non-empty subset of them); its status
    is one of ``statuses`` (available only, by default); it may own some of
    the customer ids in ``dedicated``.

    Runtime complexity: O(skills + channels) per draw.

    >>> from hypothesis import find
    >>> a = find(agents(skill_names=["api"], capacity=(2, 3)), lambda a: "api" in a.skills)
    >>> a.id, dict(a.skills), dict(a.capacity)
    ('agent-0', {'api': 1}, {'*': 2})
    """
    status_choices = sorted({AgentStatus.parse(s) for s in statuses}, key=lambda s: s.value)
    id_strategy = ids if ids is not None else st.integers(0, 99).map(lambda n: f"agent-{n}")
    capacity_strategy = st.integers(*capacity)
    cap_strategy: st.SearchStrategy[int | dict[str, int]]
    if channels:
        cap_strategy = st.dictionaries(st.sampled_from(tuple(channels)), capacity_strategy, min_size=1)
    else:
        cap_strategy = capacity_strategy
    skill_strategy = skills(skill_names, max_size=max_skills) if max_skills else st.just(SkillSet())
    status_strategy = st.sampled_from(status_choices)
    dedicated_strategy = st.frozensets(st.sampled_from(tuple(dedicated))) if dedicated else st.just(frozenset[str]())

    @st.composite
    def build(draw: st.DrawFn) -> Agent:
        return Agent(
            draw(id_strategy),
            skills=draw(skill_strategy),
            capacity=draw(cap_strategy),
            status=draw(status_strategy),
            dedicated_customers=draw(dedicated_strategy),
        )

    return build()


def rosters(*, min_size: int = 1, max_size: int = 8, **fields: Any) -> st.SearchStrategy[list[Agent]]:
    """Lists of agents with distinct ids (``fields`` as for :func:`agents`),
    ready for ``Dispatcher(queue, agents)`` or ``Roster(agents)``.

    Runtime complexity: O(size) per draw.

    >>> from hypothesis import find
    >>> [a.id for a in find(rosters(min_size=3), lambda team: True)]
    ['agent-0', 'agent-1', 'agent-2']
    """
    return st.lists(agents(**fields), min_size=min_size, max_size=max_size, unique_by=lambda a: a.id)


def rules(
    kinds: Iterable[str] = RULE_KINDS, *, tiers: Mapping[str, float] = DEFAULT_TIERS, finite: bool = False
) -> st.SearchStrategy[Rule]:
    """One built-in rule of one of ``kinds`` (see :data:`RULE_KINDS`) with
    drawn parameters.  A ``vip`` rule ranks ``tiers`` and gives unknown
    tiers rank 0; ``finite=True`` gives ``sla_deadline`` a default target so
    that its key is always finite (as a weighted policy needs).

    Runtime complexity: O(1) per draw.

    >>> from hypothesis import find
    >>> find(rules(["complexity", "aging"]), lambda r: r.name == "aging")
    Aging(rate=1.0, name='aging')
    """
    chosen = tuple(kinds)
    unknown = [k for k in chosen if k not in RULE_KINDS]
    if unknown or not chosen:
        raise InvalidArgument("kinds", chosen, f"expected a non-empty selection of {', '.join(RULE_KINDS)}")
    ranks = dict(tiers)
    targets = st.sampled_from([600.0, 3600.0, 4 * 3600.0])
    makers: dict[str, st.SearchStrategy[Rule]] = {
        "emergency": st.builds(Emergency, severities()),
        "vip": st.builds(Vip, st.just(ranks), st.just(0)),
        "complexity": st.builds(Complexity, st.sampled_from(["complex", "simple"])),
        "feedback_order": st.builds(FeedbackOrder, st.sampled_from([0.0, 60.0, 300.0])),
        "aging": st.builds(Aging, st.sampled_from([1.0, 0.5, 1 / 60])),
        "sla_deadline": st.builds(SlaDeadline, targets if finite else st.one_of(st.none(), targets)),
    }
    return st.one_of([makers[k] for k in chosen])


def policies(
    kinds: Iterable[str] = RULE_KINDS,
    *,
    composition: Composition | str | None = None,
    min_rules: int = 1,
    max_rules: int = 4,
    max_wait: bool = True,
    tiers: Mapping[str, float] = DEFAULT_TIERS,
    extra_rules: Sequence[Rule] = (),
) -> st.SearchStrategy[Policy]:
    """A valid :class:`~triage_queue.Policy` of ``min_rules..max_rules``
    distinct rules drawn from ``kinds`` (and from your own ``extra_rules``),
    in a random order, lexicographic or weighted (``composition`` fixes it;
    weights lie in -1000..1000).  ``max_wait=False`` leaves the wait bound
    unset, otherwise it is unset or a few minutes to hours.

    Runtime complexity: O(rules) per draw.

    >>> from hypothesis import find
    >>> p = find(policies(composition="weighted", max_wait=False), lambda p: len(p.rules) == 2)
    >>> p.composition.value, p.max_wait, len(p.weights)
    ('weighted', None, 2)
    """
    fixed = None if composition is None else Composition(getattr(composition, "value", composition))
    pool = tuple(kinds)
    rules(pool)  # validates the kinds now rather than at the first draw
    own = tuple(extra_rules)

    per_kind = {finite: [rules([k], tiers=tiers, finite=finite) for k in pool] for finite in (False, True)}
    bounds = st.one_of(st.none(), st.sampled_from([300.0, 1800.0, 7200.0])) if max_wait else st.none()
    weight_strategy = st.floats(-1000, 1000, allow_nan=False)

    @st.composite
    def build(draw: st.DrawFn) -> Policy:
        weighted = draw(st.booleans()) if fixed is None else fixed is Composition.WEIGHTED
        candidates = [draw(strategy) for strategy in per_kind[weighted]] + list(own)
        chosen = draw(
            st.lists(
                st.sampled_from(candidates),
                min_size=min(min_rules, len(candidates)),
                max_size=min(max_rules, len(candidates)),
                unique_by=lambda r: r.name,
            )
        )
        bound = draw(bounds)
        if weighted:
            weights = [draw(weight_strategy) for _ in chosen]
            return Policy.weighted(list(zip(chosen, weights, strict=True)), max_wait=bound)
        return Policy.lexicographic(*chosen, max_wait=bound)

    return build()
