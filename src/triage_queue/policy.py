"""Policies: how the keys of several rules combine into one service order.

A :class:`Policy` is either **lexicographic** (the first rule decides, later
rules only break its ties) or **weighted** (the weighted sum of the keys
decides).  Either way, :meth:`Policy.sort_key` turns a ticket into a tuple
of numbers in which *smaller is served sooner*; the queue adds its arrival
sequence number last, so exact ties leave in arrival order.

>>> from triage_queue import Ticket
>>> policy = Policy.default()
>>> [r.name for r in policy.rules]
['emergency', 'vip', 'complexity', 'feedback_order']
>>> outage = Ticket("T-1", 10.0, severity="critical")
>>> gold = Ticket("T-2", 0.0, customer_tier="gold")
>>> policy.sort_key(outage, 20.0) < policy.sort_key(gold, 20.0)
True
"""

from __future__ import annotations

import enum
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import attrs

from triage_queue.errors import InvalidArgument, InvalidPolicy, RuleError, _brief, _deprecated_as_dict, _finite
from triage_queue.rules import (
    Aging,
    BaseRule,
    Complexity,
    Contribution,
    Emergency,
    FeedbackOrder,
    Rule,
    SlaDeadline,
    Vip,
)
from triage_queue.ticket import Ticket

__all__ = ["Composition", "Explanation", "Policy"]


class Composition(enum.Enum):
    """How a policy combines its rules."""

    LEXICOGRAPHIC = "lexicographic"
    WEIGHTED = "weighted"


@attrs.frozen(slots=True)
class Explanation:
    """Why a ticket stands where it does: each rule's contribution, the total
    for a weighted policy, and (from a queue) how many tickets are ahead.

    ``str(explanation)`` gives readable text; :meth:`to_dict` plain data for
    logs and audit trails.
    """

    ticket_id: str
    now: float
    composition: Composition
    contributions: tuple[Contribution, ...]
    total: float | None = None
    position: int | None = None
    wait_bound: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data, ready for strict JSON: an infinite score (a ticket with
        no SLA deadline, say), or an infinite or NaN total, becomes None.

        Runtime complexity: O(number of rules).

        >>> from triage_queue import Ticket
        >>> data = Policy.default().explain(Ticket("T", 0.0, customer_tier="gold"), 30.0).to_dict()
        >>> data["composition"], data["contributions"][1]
        ('lexicographic', {'rule': 'vip', 'score': 2, 'reason': "customer tier 'gold': rank 2", 'weight': 1.0})
        """
        return {
            "ticket_id": self.ticket_id,
            "now": self.now,
            "composition": self.composition.value,
            "contributions": [
                {"rule": c.rule, "score": _finite_or_none(c.score), "reason": c.reason, "weight": c.weight}
                for c in self.contributions
            ],
            "total": _finite_or_none(self.total),
            "position": self.position,
            "wait_bound": self.wait_bound,
        }

    def as_dict(self) -> dict[str, Any]:
        """Deprecated alias of :meth:`to_dict` (warns).  Runtime complexity: O(number of rules)."""
        return _deprecated_as_dict(self)

    def __str__(self) -> str:
        head = f"ticket {self.ticket_id!r}"
        if self.position is not None:
            head += f": {self.position} ticket(s) ahead"
        lines = [head]
        if self.wait_bound is not None:
            lines.append(f"  {self.wait_bound}")
        if self.composition is Composition.LEXICOGRAPHIC:
            lines.append("  rules in order of importance (earlier rules dominate):")
            for i, c in enumerate(self.contributions, 1):
                lines.append(f"  {i}. {c.rule}: {c.reason}")
        else:
            lines.append(f"  weighted total {self.total:g}:")
            for c in self.contributions:
                lines.append(f"  - {c.rule}: {c.weight:g} x {c.score:g} = {c.weight * c.score:g} ({c.reason})")
        return "\n".join(lines)


def _finite_or_none(value: Any) -> Any:
    # Explanations give an infinite score as None (strict JSON has no infinity).
    return value if value is None or not isinstance(value, float) or math.isfinite(value) else None


def _as_tuple(field: str, value: Any, reason: str) -> tuple[Any, ...]:
    # An iterable's items (not a string's characters), else InvalidPolicy.
    if isinstance(value, str | bytes):
        raise InvalidPolicy(field, value, reason)
    try:
        return tuple(value)
    except Exception:  # not iterable
        raise InvalidPolicy(field, value, reason) from None


def _to_rules(value: Any) -> tuple[Rule, ...]:
    rules = _as_tuple("rules", value, "expected an iterable of rules")
    if not rules:
        raise InvalidPolicy("rules", rules, "a policy needs at least one rule")
    names: set[str] = set()
    for r in rules:
        if isinstance(r, type):
            # A rule class passes the protocol check but is not a rule.
            raise InvalidPolicy("rules", r, "a rule class, not a rule: instantiate it")
        try:
            is_rule = isinstance(r, Rule)
            name = r.name if is_rule else None
        except Exception:  # an attribute lookup raised
            is_rule = False
        if not is_rule:
            raise InvalidPolicy("rules", r, "not a rule: needs name, key(), next_change() and explain()")
        if not isinstance(name, str) or not name:
            raise InvalidPolicy("rules", r, f"a rule's name must be a non-empty string, not {_brief(name)}")
        if r.name in names:
            raise InvalidPolicy("rules", r.name, "two rules share this name; give one another name")
        names.add(r.name)
    return rules


# Rule classes whose keys are real numbers (never NaN) for any valid ticket.
_TRUSTED = frozenset({Emergency, Vip, Complexity, FeedbackOrder, Aging, SlaDeadline})


def _has_steps(r: Rule) -> bool:
    # A BaseRule that keeps the default next_change() promises no time steps,
    # which spares the queue one call per rule and ticket.
    return not (isinstance(r, BaseRule) and type(r).next_change is BaseRule.next_change)


@attrs.frozen(slots=True, init=False)
class Policy:
    """An ordered set of rules and how they combine.

    Build one with :meth:`lexicographic`, :meth:`weighted` or :meth:`default`.
    Policies are immutable values: share one between queues freely.
    """

    rules: tuple[Rule, ...]
    weights: tuple[float, ...] | None
    max_wait: float | None
    _keys: tuple[Any, ...] = attrs.field(eq=False, repr=False)
    _stepped: tuple[Rule, ...] = attrs.field(eq=False, repr=False)
    _trusted: bool = attrs.field(eq=False, repr=False)
    # sort_key(ticket, now) + (seq,), compiled once (see _compile_key).
    _seq_key: Any = attrs.field(eq=False, repr=False)

    def __init__(
        self,
        rules: Iterable[Rule],
        weights: Sequence[float] | None = None,
        *,
        max_wait: float | None = None,
    ) -> None:
        """Prefer the named constructors; ``weights=None`` means lexicographic.

        ``max_wait`` bounds waiting: a ticket that has waited that many
        seconds since ``created_at`` is served before every ticket that has
        not, whatever the rules say, and such tickets go oldest first.

        Runtime complexity: O(number of rules).
        """
        if max_wait is not None:
            reason = "expected a finite number of seconds >= 0, or None"
            if _finite(InvalidPolicy, "max_wait", max_wait, reason) < 0:
                raise InvalidPolicy("max_wait", max_wait, reason)
        rule_tuple = _to_rules(rules)
        weight_tuple: tuple[float, ...] | None = None
        if weights is not None:
            weight_tuple = _as_tuple("weights", weights, "expected a sequence of numbers, one per rule")
            if len(weight_tuple) != len(rule_tuple):
                raise InvalidPolicy("weights", weight_tuple, f"expected {len(rule_tuple)} weights, one per rule")
            for w in weight_tuple:
                _finite(InvalidPolicy, "weights", w, "each weight must be a finite number")
        self.__attrs_init__(
            rule_tuple,
            weight_tuple,
            None if max_wait is None else float(max_wait),
            tuple(r.key for r in rule_tuple),
            tuple(r for r in rule_tuple if _has_steps(r)),
            weight_tuple is None and all(type(r) in _TRUSTED for r in rule_tuple),
            None,
        )
        object.__setattr__(self, "_seq_key", _compile_key(self))

    def __reduce__(self) -> tuple[Any, ...]:
        # The compiled key function does not pickle: rebuild from the parts.
        return (_rebuild, (self.rules, self.weights, self.max_wait))

    @classmethod
    def lexicographic(cls, *rules: Rule, max_wait: float | None = None) -> Policy:
        """Earlier rules dominate; later ones only break ties.  For
        ``max_wait`` see the constructor.

        Runtime complexity: O(number of rules).

        >>> from triage_queue import Emergency, FeedbackOrder
        >>> Policy.lexicographic(Emergency(), FeedbackOrder()).composition.value
        'lexicographic'
        """
        return cls(rules, max_wait=max_wait)

    @classmethod
    def weighted(
        cls, weights: Mapping[Rule, float] | Iterable[tuple[Rule, float]], *, max_wait: float | None = None
    ) -> Policy:
        """Order by the weighted sum of the rules' keys (every key must be
        finite).  Negative weights invert a rule.  For ``max_wait`` see the
        constructor.

        Runtime complexity: O(number of rules).

        >>> from triage_queue import Vip, Aging
        >>> p = Policy.weighted([(Vip(), 600.0), (Aging(), 1.0)])
        >>> p.weights
        (600.0, 1.0)
        """
        try:
            pairs = list(weights.items() if isinstance(weights, Mapping) else weights)
            rules = [r for r, _ in pairs]
            numbers = [w for _, w in pairs]
        except Exception:  # not iterable, or not pairs
            reason = "expected a mapping of rule to weight, or (rule, weight) pairs"
            raise InvalidPolicy("weights", weights, reason) from None
        return cls(rules, numbers, max_wait=max_wait)

    @classmethod
    def default(
        cls,
        tiers: Mapping[str, float] | None = None,
        *,
        default_rank: float | None = None,
        max_wait: float | None = None,
    ) -> Policy:
        """The four seed rules, lexicographically: Emergency > Vip >
        Complexity (complex first) > FeedbackOrder.  ``tiers`` maps tier names
        to ranks (:data:`DEFAULT_TIERS` if omitted); for ``max_wait`` see the
        constructor.

        Runtime complexity: O(1).

        >>> from triage_queue import Ticket
        >>> bounded = Policy.default(max_wait=600)
        >>> old, vip = Ticket("old", 0.0), Ticket("vip", 500.0, customer_tier="gold")
        >>> bounded.sort_key(vip, 550.0) < bounded.sort_key(old, 550.0)   # old has waited 550 s
        True
        >>> bounded.sort_key(old, 600.0) < bounded.sort_key(vip, 600.0)   # now 600 s: it goes first
        True
        """
        vip = Vip(tiers, default_rank) if tiers is not None else Vip(default_rank=default_rank)
        return cls((Emergency(), vip, Complexity(), FeedbackOrder()), max_wait=max_wait)

    def with_max_wait(self, max_wait: float | None) -> Policy:
        """This policy with another wait bound (None removes it).

        Runtime complexity: O(number of rules).
        """
        return Policy(self.rules, self.weights, max_wait=max_wait)

    @property
    def composition(self) -> Composition:
        """Lexicographic or weighted.  Runtime complexity: O(1)."""
        return Composition.LEXICOGRAPHIC if self.weights is None else Composition.WEIGHTED

    @property
    def time_stepped(self) -> bool:
        """Whether any rule announces time steps (the queue then re-keys
        tickets at those instants).  Runtime complexity: O(1)."""
        return bool(self._stepped) or self.max_wait is not None

    def sort_key(self, ticket: Ticket, now: float) -> tuple[float, ...]:
        """The ticket's place in the order: smaller tuples are served sooner.

        Raises :class:`RuleError` if a rule raises or returns something that
        is not a real number, NaN, or (in a weighted policy) an infinity.

        Runtime complexity: O(number of rules).

        >>> from triage_queue import Ticket
        >>> Policy.default().sort_key(Ticket("T", 5.0, complexity=3), 9.0)
        (0, 0, -3, 5.0)
        """
        max_wait = self.max_wait
        try:
            if max_wait is None:
                return self._rule_key(ticket, now)
            # Overdue tickets share the leading created_at (oldest first); all the
            # others share +inf there and are ordered by the rules as usual.
            # The same sum as next_change(), so the step fires exactly when the
            # ticket becomes overdue, whatever the float rounding.
            created = ticket.created_at
            lead = created if now >= created + max_wait else math.inf
            return (lead,) + self._rule_key(ticket, now)
        except Exception:
            _check_call(ticket, now)  # a bad argument is named, not blamed on a rule
            raise

    def _slow_seq_key(self, ticket: Ticket, now: float, seq: int) -> tuple[float, ...]:
        # The generic path behind a compiled key function: every check, and
        # the same errors as sort_key().
        return self.sort_key(ticket, now) + (seq,)

    def _checked_seq_key(
        self, ticket: Ticket, now: float, seq: int, values: list[Any], exc: Exception | None
    ) -> tuple[float, ...]:
        # The failure path of a compiled key function for rules that are not
        # trusted: ``values`` are the raw keys of the first rules, ``exc``
        # what the next rule raised (None if it returned an irregular value,
        # the last of ``values``).  Raises the RuleError the generic path
        # would, or finishes the key with its checks and coercions.
        try:
            checked = []
            for i, value in enumerate(values):
                checked.append(self._check_value(i, ticket, value))
            i = len(values)
            if exc is not None:
                if isinstance(exc, RuleError):
                    raise exc
                raise RuleError(self.rules[i].name, getattr(ticket, "id", repr(ticket)), f"raised {exc!r}") from exc
            keys = self._keys
            while i < len(keys):
                try:
                    value = keys[i](ticket, now)
                except RuleError:
                    raise
                except Exception as error:
                    raise RuleError(
                        self.rules[i].name, getattr(ticket, "id", repr(ticket)), f"raised {error!r}"
                    ) from error
                checked.append(self._check_value(i, ticket, value))
                i += 1
            key = tuple([-v for v in checked])
            max_wait = self.max_wait
            if max_wait is not None:
                created = ticket.created_at
                key = (created if now >= created + max_wait else math.inf,) + key
            return key + (seq,)
        except Exception:
            _check_call(ticket, now)
            raise

    def _check_value(self, i: int, ticket: Ticket, value: Any) -> Any:
        cls = value.__class__
        if cls is not int and cls is not float:
            value = self._coerce(i, ticket, value)
        if value != value:
            raise RuleError(self.rules[i].name, ticket.id, "returned NaN, which cannot be ordered")
        return value

    def _rule_key(self, ticket: Ticket, now: float) -> tuple[float, ...]:
        if self._trusted:
            # Built-in rules return finite or infinite real numbers, never NaN,
            # for a validated ticket; skip the per-value checks.  Anything
            # unexpected falls through to the checked path, which names the rule.
            try:
                return tuple([-key(ticket, now) for key in self._keys])
            except RuleError:
                raise
            except Exception:
                pass
        values = []
        i = 0
        for key in self._keys:
            try:
                value = key(ticket, now)
            except RuleError:
                raise
            except Exception as exc:
                raise RuleError(self.rules[i].name, getattr(ticket, "id", repr(ticket)), f"raised {exc!r}") from exc
            cls = value.__class__
            if cls is not int and cls is not float:
                value = self._coerce(i, ticket, value)
            if value != value:
                raise RuleError(self.rules[i].name, ticket.id, "returned NaN, which cannot be ordered")
            values.append(value)
            i += 1
        weights = self.weights
        if weights is None:
            return tuple([-v for v in values])
        total = 0.0
        for j, (w, v) in enumerate(zip(weights, values, strict=True)):
            if v in (math.inf, -math.inf):
                raise RuleError(
                    self.rules[j].name, ticket.id, f"returned {v}, but a weighted policy needs finite scores"
                )
            total += w * v
        if not math.isfinite(total):
            raise RuleError("weighted total", ticket.id, f"sum overflowed to {total}")
        return (-total,)

    def _coerce(self, i: int, ticket: Ticket, value: Any) -> float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, bool):
            return int(value)
        raise RuleError(self.rules[i].name, ticket.id, f"returned {value!r}, which is not a real number")

    def next_change(self, ticket: Ticket, now: float) -> float | None:
        """The earliest instant after ``now`` at which a rule's key for this
        ticket steps, or None.  Raises :class:`RuleError` for an instant that is
        not a number later than ``now``.

        Runtime complexity: O(number of rules with time steps).
        """
        try:
            return self._next_change(ticket, now)
        except Exception:
            _check_call(ticket, now)
            raise

    def _next_change(self, ticket: Ticket, now: float) -> float | None:
        earliest: float | None = None
        if self.max_wait is not None:
            due = ticket.created_at + self.max_wait
            if due > now:
                earliest = due
        for r in self._stepped:
            try:
                when = r.next_change(ticket, now)
            except RuleError:
                raise
            except Exception as exc:
                raise RuleError(r.name, ticket.id, f"next_change raised {exc!r}") from exc
            if when is None:
                continue
            if isinstance(when, bool) or not isinstance(when, numbers.Real) or not when > now:
                raise RuleError(
                    r.name, ticket.id, f"next_change returned {_brief(when)}; expected a time after now={now!r} or None"
                )
            if earliest is None or when < earliest:
                earliest = float(when)
        return earliest

    def explain(self, ticket: Ticket, now: float) -> Explanation:
        """Each rule's contribution and reason for ``ticket`` at ``now``.

        Runtime complexity: O(number of rules).

        >>> from triage_queue import Ticket
        >>> e = Policy.default().explain(Ticket("T", 0.0, customer_tier="gold"), 30.0)
        >>> e.contributions[1].reason
        "customer tier 'gold': rank 2"
        """
        self.sort_key(ticket, now)  # surfaces RuleError exactly as the queue would
        contributions = []
        weights = self.weights or (1.0,) * len(self.rules)
        for r, w in zip(self.rules, weights, strict=True):
            try:
                c = r.explain(ticket, now)
            except RuleError:
                raise
            except Exception as exc:
                raise RuleError(r.name, ticket.id, f"explain raised {exc!r}") from exc
            contributions.append(attrs.evolve(c, weight=float(w)))
        total = None
        if self.weights is not None:
            total = math.fsum(c.weight * c.score for c in contributions)
        bound = None
        if self.max_wait is not None:
            waited = now - ticket.created_at
            if now >= ticket.created_at + self.max_wait:
                bound = f"waited {waited:g}s, past the {self.max_wait:g}s bound: served before every ticket within it"
            else:
                bound = f"waited {waited:g}s of the {self.max_wait:g}s bound"
        return Explanation(ticket.id, now, self.composition, tuple(contributions), total, None, bound)


def _rebuild(rules: tuple[Rule, ...], weights: tuple[float, ...] | None, max_wait: float | None) -> Policy:
    return Policy(rules, weights, max_wait=max_wait)


# Lexicographic policies of up to this many rules get a key function of
# their own arity; longer and weighted ones use the generic path.
_MAX_COMPILED = 6


def _compile_key(policy: Policy) -> Callable[[Ticket, float, int], tuple[float, ...]]:
    """``(ticket, now, seq) -> policy.sort_key(ticket, now) + (seq,)``, as a
    function of the policy's arity that builds the flat tuple directly.

    The keys are exactly sort_key's, and so are the errors: trusted (built-in)
    rules are called without per-value checks and any exception re-runs the
    generic checked path (as sort_key does); other rules are called once each,
    in order, a value that is not a plain int or float, or is NaN, or an
    exception, handing over to the checked path at that rule.
    """
    n = len(policy.rules)
    if policy.weights is not None or n > _MAX_COMPILED:
        return policy._slow_seq_key
    names = [f"k{i}" for i in range(n)]
    env: dict[str, Any] = dict(zip(names, policy._keys, strict=True))
    env.update(inf=math.inf, max_wait=policy.max_wait, slow=policy._slow_seq_key, fail=policy._checked_seq_key)
    lines = ["def seq_key(ticket, now, seq):"]
    if policy._trusted:
        lines.append("    try:")
        if policy.max_wait is None:
            lead = ""
        else:
            lines.append("        created = ticket.created_at")
            lead = "created if now >= created + max_wait else inf, "
        values = "".join(f"-{k}(ticket, now), " for k in names)
        lines.append(f"        return ({lead}{values}seq)")
        lines.append("    except Exception:")
        lines.append("        return slow(ticket, now, seq)")
    else:
        if policy.max_wait is not None:
            # Before any rule is called, as in sort_key (a bad now fails here).
            lines += [
                "    try:",
                "        created = ticket.created_at",
                "        lead = created if now >= created + max_wait else inf",
                "    except Exception:",
                "        return slow(ticket, now, seq)",
            ]
        for i, k in enumerate(names):
            done = ", ".join(f"v{j}" for j in range(i))
            lines += [
                "    try:",
                f"        v{i} = {k}(ticket, now)",
                "    except Exception as exc:",
                f"        return fail(ticket, now, seq, [{done}], exc)",
                f"    c = v{i}.__class__",
                f"    if (c is not float and c is not int) or v{i} != v{i}:",
                f"        return fail(ticket, now, seq, [{done}{', ' if done else ''}v{i}], None)",
            ]
        values = "".join(f"-v{i}, " for i in range(n))
        lines.append(f"    return ({'lead, ' if policy.max_wait is not None else ''}{values}seq)")
    exec("\n".join(lines), env)  # generated from the rule count alone: no user text
    return cast(Callable[[Ticket, float, int], tuple[float, ...]], env["seq_key"])


def _check_call(ticket: Any, now: Any) -> None:
    # On the failure path of sort_key() and next_change(): raise
    # InvalidArgument if an argument is what went wrong.
    if not isinstance(ticket, Ticket):
        raise InvalidArgument("ticket", ticket, "expected a triage_queue.Ticket")
    _finite(InvalidArgument, "now", now, "expected clock seconds (a finite number)")
