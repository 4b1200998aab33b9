"""Scoring rules: small objects that say how urgent a ticket is on one aspect.

A rule gives each ticket a number, its **key**; a higher key means *served
sooner*.  A :class:`~triage_queue.Policy` combines the keys of several rules.
Every rule also explains itself: :meth:`Rule.explain` returns a
:class:`Contribution` holding a human-facing score and a sentence.

Time
----
A queue computes a ticket's key when the ticket arrives or changes, and relies
on it afterwards, so a rule's key may depend on the time in two ways only:

* **Not at all, or through the ticket's own timestamps.**  Linear aging is
  written this way: "waited ``now - created_at`` seconds" orders tickets
  exactly as ``-created_at`` does at every instant, so :class:`Aging` uses
  ``-rate * created_at`` as its key and shows the waiting time only in its
  explanation.  Such keys never go stale.
* **In steps announced in advance.**  A rule whose key jumps at known instants
  (say, "escalate 10 minutes before the SLA runs out") returns the instant of
  the next jump from :meth:`Rule.next_change`; the queue re-keys the ticket
  then, at O(log n) per jump.

A rule whose key drifts differently for different tickets between announced
instants (aging at a per-tier rate, for example) would leave any stored order
stale, and is not supported.

Writing a rule takes a few lines:

>>> @rule("language")
... def language(ticket):
...     return 1.0 if ticket.attributes.get("language") == "de" else 0.0
>>> from triage_queue import Ticket
>>> language.key(Ticket("T-1", 0.0, attributes={"language": "de"}), now=5.0)
1.0
"""

from __future__ import annotations

import abc
import enum
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import attrs

from triage_queue.errors import InvalidPolicy, InvalidTicket, RuleError, _brief, _finite
from triage_queue.ticket import Severity, Ticket

__all__ = [
    "Aging",
    "BaseRule",
    "Complexity",
    "Contribution",
    "DEFAULT_TIERS",
    "Emergency",
    "FeedbackOrder",
    "FunctionRule",
    "Prefer",
    "Rule",
    "SlaDeadline",
    "Vip",
    "rule",
]


@attrs.frozen(slots=True)
class Contribution:
    """What one rule says about one ticket at one instant.

    ``score`` is the rule's human-facing value (higher means served sooner;
    for time-dependent rules it is the value *now*, such as seconds waited),
    ``reason`` a sentence, ``weight`` the rule's weight in a weighted policy
    (1.0 in a lexicographic one).
    """

    rule: str
    score: float
    reason: str
    weight: float = 1.0


@runtime_checkable
class Rule(Protocol):
    """The protocol every scoring rule follows.

    Subclass :class:`BaseRule` (or use the :func:`rule` decorator) to get
    sensible defaults for everything but :meth:`key`.
    """

    @property
    def name(self) -> str:
        """Unique name within a policy, used in explanations."""
        ...

    def key(self, ticket: Ticket, now: float) -> float:
        """The ticket's ordering value: higher is served sooner.  May depend
        on ``now`` only in steps announced by :meth:`next_change`."""
        ...

    def next_change(self, ticket: Ticket, now: float) -> float | None:
        """The next instant after ``now`` at which :meth:`key` changes for
        this ticket, or None if it never will."""
        ...

    def explain(self, ticket: Ticket, now: float) -> Contribution:
        """The rule's score and reason for this ticket at ``now``."""
        ...


class BaseRule(abc.ABC):
    """Base class giving rules their defaults: no time steps, and an
    explanation that reports the key with a generic reason.

    Subclasses set ``name`` and implement :meth:`key`; override
    :meth:`reason` for a better sentence, :meth:`score` for a different
    human-facing value, and :meth:`next_change` for keys that step in time.
    """

    __slots__ = ()

    name: str = "rule"

    @abc.abstractmethod
    def key(self, ticket: Ticket, now: float) -> float:
        """The ticket's ordering value: higher is served sooner."""

    def next_change(self, ticket: Ticket, now: float) -> float | None:
        """No time steps by default.  Runtime complexity: O(1)."""
        return None

    def score(self, ticket: Ticket, now: float) -> float:
        """The human-facing value shown in explanations (the key by default)."""
        return self.key(ticket, now)

    def reason(self, ticket: Ticket, now: float) -> str:
        """A sentence explaining the score."""
        return f"{self.name} = {self.score(ticket, now):g}"

    def explain(self, ticket: Ticket, now: float) -> Contribution:
        """The rule's :class:`Contribution`.  Runtime complexity: O(1)."""
        return Contribution(self.name, self.score(ticket, now), self.reason(ticket, now))


def _non_negative(field: str) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, __: Any, value: Any) -> None:
        if _finite(InvalidPolicy, field, value, "expected a finite number >= 0") < 0:
            raise InvalidPolicy(field, value, "expected a finite number >= 0")

    return check


def _to_severity(value: Any) -> Severity:
    try:
        return Severity.parse(value)
    except InvalidTicket:
        # A bad threshold is a policy mistake, not a ticket's: name the parameter.
        raise InvalidPolicy("threshold", value, "expected a severity: low, normal, high, critical (or 1..4)") from None


@attrs.frozen(slots=True)
class Emergency(BaseRule):
    """Emergencies first: key 1 for tickets at ``threshold`` severity or above
    (CRITICAL by default), else 0.  First in the default policy, so an
    emergency goes ahead of everything else.

    Runtime complexity: O(1).

    >>> from triage_queue import Ticket
    >>> Emergency().key(Ticket("T", 0.0, severity="critical"), 0.0)
    1
    """

    threshold: Severity = attrs.field(default=Severity.CRITICAL, converter=_to_severity)
    name: str = "emergency"

    def key(self, ticket: Ticket, now: float) -> float:
        return 1 if ticket.severity >= self.threshold else 0

    def reason(self, ticket: Ticket, now: float) -> str:
        if ticket.severity >= self.threshold:
            return f"severity {ticket.severity.name} >= {self.threshold.name}: an emergency"
        return f"severity {ticket.severity.name} < {self.threshold.name}: not an emergency"


DEFAULT_TIERS: Mapping[str, int] = MappingProxyType({"standard": 0, "silver": 1, "gold": 2, "platinum": 3})
"""The tier ladder the default policy uses when none is given."""


def _to_ranks(value: Any) -> Mapping[str, float]:
    if not isinstance(value, Mapping):
        raise InvalidPolicy("tiers", value, "expected a mapping of tier name to rank")
    for tier, rank in value.items():
        if not isinstance(tier, str) or not tier:
            raise InvalidPolicy("tiers", value, f"tier name {_brief(tier)} must be a non-empty string")
        try:
            _finite(InvalidPolicy, "tiers", rank, "")
        except InvalidPolicy:
            reason = f"rank of tier {_brief(tier)} is {_brief(rank)}; expected a finite number"
            raise InvalidPolicy("tiers", value, reason) from None
    # Read-only, so a frozen rule stays frozen and its ranks stay validated.
    return MappingProxyType(dict(value))


def _check_default_rank(_: Any, __: Any, value: Any) -> None:
    if value is not None:
        _finite(InvalidPolicy, "default_rank", value, "expected a finite number or None")


@attrs.frozen(slots=True)
class Vip(BaseRule):
    """Higher customer tiers first: key is the tier's rank in ``tiers``.

    A ticket with no tier is a standard customer of rank 0.  The
    explanation adds the ticket's ``tier_reason`` attribute if it has one
    and it was given for the ticket's current tier
    (:meth:`~triage_queue.TierDecision.apply` sets both).  A tier the
    mapping does not know raises :class:`RuleError` (so a typo never silently
    demotes a VIP) unless ``default_rank`` is set.

    Runtime complexity: O(1).

    >>> from triage_queue import Ticket
    >>> Vip({"gold": 2}).key(Ticket("T", 0.0, customer_tier="gold"), 0.0)
    2
    """

    tiers: Mapping[str, float] = attrs.field(default=DEFAULT_TIERS, converter=_to_ranks, hash=False)
    default_rank: float | None = attrs.field(default=None, validator=_check_default_rank)
    name: str = "vip"

    def key(self, ticket: Ticket, now: float) -> float:
        tier = ticket.customer_tier
        if tier is None:
            return 0
        rank = self.tiers.get(tier)
        if rank is None:
            if self.default_rank is None:
                raise RuleError(
                    self.name,
                    ticket.id,
                    f"customer_tier={tier!r} is not a known tier ({', '.join(sorted(self.tiers))}); "
                    "add it to the tiers or set default_rank",
                )
            return self.default_rank
        return rank

    def reason(self, ticket: Ticket, now: float) -> str:
        if ticket.customer_tier is None:
            return "standard customer (no tier): rank 0"
        return _with_why(
            f"customer tier {ticket.customer_tier!r}: rank {self.key(ticket, now):g}", ticket, "tier_reason", ticket.customer_tier
        )


class Prefer(enum.Enum):
    """Which tickets :class:`Complexity` puts first."""

    COMPLEX = "complex"
    SIMPLE = "simple"


def _to_prefer(value: Any) -> Prefer:
    try:
        return Prefer(value.value if isinstance(value, Prefer) else value)
    except Exception:  # ValueError, or whatever a hostile __hash__/__eq__ raises
        raise InvalidPolicy("prefer", value, "expected 'complex' or 'simple'") from None


@attrs.frozen(slots=True)
class Complexity(BaseRule):
    """Order by task complexity (1..5): complex first by default, so long
    tickets start early and do not stall the queue; ``prefer="simple"`` for
    quick wins first.  The explanation adds the ticket's
    ``complexity_reason`` attribute if it has one and it was given for the
    ticket's current complexity (:meth:`~triage_queue.ComplexityDecision.apply`
    sets both).

    Runtime complexity: O(1).

    >>> from triage_queue import Ticket
    >>> Complexity(prefer="simple").key(Ticket("T", 0.0, complexity=4), 0.0)
    -4
    """

    prefer: Prefer = attrs.field(default=Prefer.COMPLEX, converter=_to_prefer)
    name: str = "complexity"

    def key(self, ticket: Ticket, now: float) -> float:
        return ticket.complexity if self.prefer is Prefer.COMPLEX else -ticket.complexity

    def reason(self, ticket: Ticket, now: float) -> str:
        text = f"complexity {ticket.complexity}/5, {self.prefer.value} tickets first"
        return _with_why(text, ticket, "complexity_reason", ticket.complexity)


def _with_why(text: str, ticket: Ticket, key: str, value: object) -> str:
    # The reason a fixed criterion gave (TierDecision.apply and
    # ComplexityDecision.apply keep it in the ticket's attributes, with the
    # value it was given for under ``key + "_for"``), if any, and only while
    # the ticket still has that value: a tier or complexity changed since
    # (evolve, desk.update) drops a reason that would contradict it.
    attributes = ticket.attributes
    why = attributes.get(key) if attributes else None
    if not isinstance(why, str) or not why:
        return text
    if key + "_for" in attributes:
        current = attributes[key + "_for"] == value and type(attributes[key + "_for"]) is type(value)
    else:  # kept before the value was stored with it: the reason starts with the value
        current = why.startswith(f"{value}:" if key == "tier_reason" else f"complexity {value}:")
    return f"{text} ({why})" if current else text


@attrs.frozen(slots=True)
class FeedbackOrder(BaseRule):
    """Earliest first contact first.  A follow-up never moves a ticket back:
    its place comes from ``created_at``, which follow-ups do not change, and
    each contact after the first adds ``follow_up_bonus`` seconds of seniority
    (0 by default).

    The key is ``-created_at + follow_up_bonus * (contacts - 1)``; the score in
    explanations is the effective waiting time ``now - created_at + bonus``,
    which orders tickets identically at every instant.

    Runtime complexity: O(1).

    >>> from triage_queue import Ticket
    >>> r = FeedbackOrder(follow_up_bonus=60)
    >>> r.key(Ticket("T", 100.0, contacts=3), now=400.0)
    20.0
    """

    follow_up_bonus: float = attrs.field(default=0.0, validator=_non_negative("follow_up_bonus"))
    name: str = "feedback_order"

    def key(self, ticket: Ticket, now: float) -> float:
        return self.follow_up_bonus * (ticket.contacts - 1) - ticket.created_at

    def score(self, ticket: Ticket, now: float) -> float:
        return now - ticket.created_at + self.follow_up_bonus * (ticket.contacts - 1)

    def reason(self, ticket: Ticket, now: float) -> str:
        text = f"first contact {now - ticket.created_at:g} s ago"
        if ticket.contacts > 1:
            text += f", {ticket.contacts - 1} follow-up(s)"
            if self.follow_up_bonus:
                text += f" add {self.follow_up_bonus * (ticket.contacts - 1):g} s"
        return text


@attrs.frozen(slots=True)
class Aging(BaseRule):
    """Waiting raises priority at ``rate`` points per second waited.

    Meant for weighted policies ("one point per minute waited" is
    ``Aging(rate=1/60)``).  Every ticket ages at the same rate, so the key
    ``-rate * created_at`` orders tickets as the waiting time does at every
    instant and never needs refreshing; the explanation shows the points
    earned so far.

    Runtime complexity: O(1).

    >>> from triage_queue import Ticket
    >>> Aging(rate=0.5).explain(Ticket("T", 100.0), now=160.0).score
    30.0
    """

    rate: float = attrs.field(default=1.0, validator=_non_negative("rate"))
    name: str = "aging"

    def key(self, ticket: Ticket, now: float) -> float:
        return -self.rate * ticket.created_at

    def score(self, ticket: Ticket, now: float) -> float:
        return self.rate * (now - ticket.created_at)

    def reason(self, ticket: Ticket, now: float) -> str:
        return f"waited {now - ticket.created_at:g} s at {self.rate:g}/s"


def _check_target(_: Any, __: Any, value: Any) -> None:
    if value is not None:
        _non_negative("default_target")(None, None, value)


@attrs.frozen(slots=True)
class SlaDeadline(BaseRule):
    """Earliest SLA deadline first: the closer a ticket is to breach (or the
    longer past it), the more urgent.

    The key is ``-sla_due``; the score is the seconds past due (negative while
    time is left), which orders tickets identically at every instant.  A
    ticket without ``sla_due`` is due ``default_target`` seconds after its
    creation if that is set; otherwise it has no deadline and comes after
    every ticket that has one (key ``-inf``: fine in a lexicographic policy,
    rejected in a weighted one, which needs finite scores).

    Runtime complexity: O(1).

    >>> from triage_queue import Ticket
    >>> SlaDeadline().explain(Ticket("T", 0.0, sla_due=300.0), now=240.0).reason
    'due in 60 s'
    """

    default_target: float | None = attrs.field(default=None, validator=_check_target)
    name: str = "sla_deadline"

    def _due(self, ticket: Ticket) -> float | None:
        if ticket.sla_due is not None:
            return ticket.sla_due
        if self.default_target is not None:
            return ticket.created_at + self.default_target
        return None

    def key(self, ticket: Ticket, now: float) -> float:
        due = self._due(ticket)
        return -math.inf if due is None else -due

    def score(self, ticket: Ticket, now: float) -> float:
        due = self._due(ticket)
        return -math.inf if due is None else now - due

    def reason(self, ticket: Ticket, now: float) -> str:
        due = self._due(ticket)
        if due is None:
            return "no SLA deadline"
        if due <= now:
            return f"SLA breached {now - due:g} s ago"
        return f"due in {due - now:g} s"


@attrs.frozen(slots=True)
class FunctionRule(BaseRule):
    """A rule made from a plain function of the ticket (see :func:`rule`).

    Runtime complexity: that of the function.
    """

    name: str
    function: Callable[[Ticket], float]
    describe: Callable[[Ticket], str] | None = None

    def key(self, ticket: Ticket, now: float) -> float:
        return self.function(ticket)

    def reason(self, ticket: Ticket, now: float) -> str:
        if self.describe is not None:
            return self.describe(ticket)
        return f"{self.name} = {self.key(ticket, now):g}"


def rule(name: str, *, describe: Callable[[Ticket], str] | None = None) -> Callable[[Callable[[Ticket], float]], FunctionRule]:
    """Decorator turning ``def f(ticket) -> float`` into a time-independent
    rule named ``name`` (higher is served sooner).

    >>> @rule("big_account", describe=lambda t: "seats: " + str(t.attributes.get("seats", 0)))
    ... def big_account(ticket):
    ...     return ticket.attributes.get("seats", 0) / 100
    >>> big_account.name
    'big_account'
    """
    if not isinstance(name, str) or not name:
        raise InvalidPolicy("name", name, "a rule needs a non-empty string name")

    def wrap(function: Callable[[Ticket], float]) -> FunctionRule:
        return FunctionRule(name, function, describe)

    return wrap
